"""Running the demo's jobs: subprocesses, a few at a time, one progress bar each, output to logs.

Decisions:
- Every job is a real command line (progrpo-train, progrpo-eval, the warm start), run as a
  subprocess of this interpreter; its output goes to its own log, the screen shows one bar per job.
- Tiny models are faster on one thread each, so jobs run `parallel` at a time with
  OMP_NUM_THREADS=1 (a job may set its own environment: vLLM binds its own threads).
- A job may wait for others of its phase (`after`: an RL run for its warm start, a rescoring for
  its evaluation), so that a phase keeps every slot busy instead of idling one CPU at its tail.
- A job that fails stops the phase: the others are terminated and `JobFailed` carries the job's
  own `error:` line (or its exit status) and the log's path. Ctrl-C terminates every job.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from progrpo_train.demo.plan import shown

ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
QUIET = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_LOGGING_LEVEL": "WARNING",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "PYTHONWARNINGS": "ignore",
}


class JobFailed(RuntimeError):
    """A job exited with a non-zero status; the message is one line."""


@dataclass
class Job:
    name: str
    command: list[str]
    log: Path
    total: int | None = None  # progress units (steps, prompts); None: a bar without a total
    done: Callable[[], int] | None = None  # units done so far, polled
    env: dict[str, str] = field(default_factory=lambda: dict(ONE_THREAD))
    after: tuple[str, ...] = ()  # names of jobs of the same run_jobs call that must finish first
    unit: str = ""  # what `total` counts, shown beside the bar


def count_lines(path: Path) -> int:
    """Non-empty lines of a file (0 when it does not exist yet): a training run's steps so far."""
    try:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return 0


def error_line(log: Path) -> str | None:
    """The last `error:` line a job wrote, without the prefix."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    errors = [line for line in lines if line.startswith("error:")]
    return errors[-1][len("error:") :].strip() if errors else None


def _start(job: Job) -> subprocess.Popen:
    job.log.parent.mkdir(parents=True, exist_ok=True)
    with job.log.open("w", encoding="utf-8") as handle:  # the child keeps its own copy of the descriptor
        handle.write(f"$ {shown(job.command)}\n")
        handle.flush()
        environment = {**os.environ, **QUIET, **job.env}
        return subprocess.Popen(
            job.command, stdout=handle, stderr=subprocess.STDOUT, env=environment, stdin=subprocess.DEVNULL
        )


def _progress(console) -> Progress:
    return Progress(
        TextColumn("  {task.description:<28}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(),
        console=console,
        refresh_per_second=4,
    )


def run_jobs(jobs: list[Job], *, parallel: int, console, unit: str = "") -> dict[str, float]:
    """Run every job, `parallel` at a time, in order but each after the jobs it waits for
    (`Job.after`; names not among `jobs` count as done); returns each job's seconds. Raises JobFailed."""
    waiting = list(jobs)
    pending = {job.name for job in jobs}
    running: dict[str, tuple[Job, subprocess.Popen, float]] = {}
    seconds: dict[str, float] = {}
    with _progress(console) as progress:
        tasks = {
            job.name: progress.add_task(job.name, total=job.total, unit=job.unit or unit, start=False) for job in jobs
        }
        try:
            while waiting or running:
                while len(running) < parallel:
                    job = next((job for job in waiting if not pending.intersection(job.after)), None)
                    if job is None:
                        break
                    waiting.remove(job)
                    running[job.name] = (job, _start(job), time.perf_counter())
                    progress.start_task(tasks[job.name])
                for name, (job, process, started) in list(running.items()):
                    if job.done is not None:
                        progress.update(tasks[name], completed=min(job.done(), job.total or 10**9))
                    if process.poll() is None:
                        continue
                    del running[name]
                    if process.returncode != 0:
                        reason = error_line(job.log) or f"exit status {process.returncode}"
                        raise JobFailed(f"{name}: {reason} (log: {job.log})")
                    seconds[name] = time.perf_counter() - started
                    pending.discard(name)
                    progress.update(tasks[name], completed=job.total or 1, total=job.total or 1)
                    progress.stop_task(tasks[name])
                time.sleep(0.25)
        finally:
            for _, process, _ in running.values():
                process.terminate()
            for _, process, _ in running.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
    return seconds
