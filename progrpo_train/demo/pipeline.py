"""The demo's phases, in order: warm start, the start of RL, RL, evaluation, rescoring, numbers, report.

Each phase prints one line saying what it does and how much of it there is, then a progress bar
per job (or per model, for the in-process measurements).
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from rich.progress import track

from progrpo_eval import store
from progrpo_eval.atomic import atomic_write_json
from progrpo_train.checkpoint import COMPLETE
from progrpo_train.demo import analysis, seeds
from progrpo_train.demo.jobs import Job, count_lines, run_jobs
from progrpo_train.demo.plan import (
    METHOD_NAMES,
    METHODS,
    RECIPE,
    Layout,
    Preset,
    eval_command,
    label,
    report_command,
    rescore_command,
    sft_command,
    shown,
    train_command,
)
from progrpo_train.sft import SFT_PROGRESS

PHASES = 5
EVALUATED = ("start",) + METHODS  # the warm starts are evaluated like the RL runs


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and every finished job: on an idle machine with
    `parallel` CPUs the wall time is about this over `parallel`, whatever else shares the CPUs now."""
    return sum(
        getattr(resource.getrusage(who), field)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for field in ("ru_utime", "ru_stime")
    )


class Phases:
    """Prints "[i/7] title: detail" and keeps each phase's wall and CPU seconds."""

    def __init__(self, console):
        self.console, self.seconds, self.cpu, self.number = console, {}, {}, 0
        self._name, self._started, self._cpu = None, 0.0, 0.0

    def start(self, name: str, detail: str) -> None:
        self.finish()
        self.number += 1
        self._name, self._started, self._cpu = name, time.perf_counter(), cpu_seconds()
        self.console.print(f"\n[bold][{self.number}/{PHASES}] {name}[/bold]: {detail}")

    def finish(self) -> None:
        if self._name is not None:
            self.seconds[self._name] = round(time.perf_counter() - self._started, 1)
            self.cpu[self._name] = round(cpu_seconds() - self._cpu, 1)
            self._name = None


def _eval_job(layout: Layout, preset: Preset, method: str, seed: int) -> Job:
    chunks = layout.run_dir(method, seed, preset.rl_steps) / "samples"
    job = Job(
        f"evaluate {label(method, seed)}",
        eval_command(layout, preset, method, seed),
        layout.log(f"eval-{label(method, seed)}"),
        total=preset.eval_prompts,
        done=lambda: 8 * len(list(chunks.glob("chunk-*.parquet"))) if chunks.is_dir() else 0,
        unit="prompts",
    )
    if preset.eval_backend == "vllm":
        job.env = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}  # vLLM binds its own threads
    return job


def _example(jobs: list[Job]) -> str:
    return f"e.g.\n  {shown(jobs[0].command)}" if jobs else "all done before"


def _evaluated(run_dir: Path, preset: Preset) -> bool:
    """A finished evaluation with the preset's prompts and samples (anything else goes to `run`, which resumes)."""
    if not (run_dir / "summary.json").is_file():
        return False
    summary = store.read_run_summary(run_dir)
    return (summary["num_problems"], summary["num_samples_per_problem"]) == (preset.eval_prompts, preset.k)


def _warm_start_jobs(layout: Layout, preset: Preset) -> list[Job]:
    """One per seed (a cached warm start returns at once)."""
    return [
        Job(
            f"warm start seed {seed}",
            sft_command(layout, preset, seed),
            layout.log(f"sft-seed{seed}"),
            total=preset.sft_steps,
            done=lambda seed=seed: 10 * count_lines(layout.sft(seed) / SFT_PROGRESS),
            unit="steps",
        )
        for seed in preset.seeds
    ]


def _start_of_rl(layout: Layout, preset: Preset, console) -> dict[int, dict]:
    start = {
        seed: analysis.start_state(layout.sft(seed), seed)
        for seed in track(preset.seeds, description="  measuring", console=console)
    }
    atomic_write_json(layout.out / "start.json", {str(seed): state for seed, state in start.items()})
    console.print(seeds.start_table(start))
    return start


def _training_jobs(layout: Layout, preset: Preset) -> list[Job]:
    """The RL runs without a final checkpoint yet."""
    return [
        Job(
            f"train {label(method, seed)}",
            train_command(layout, preset, method, seed),
            layout.log(f"train-{label(method, seed)}"),
            total=preset.rl_steps,
            done=lambda m=method, s=seed: count_lines(layout.train(m, s) / "metrics.jsonl"),
            unit="steps",
            after=(f"warm start seed {seed}",),
        )
        for seed in preset.seeds
        for method in METHODS
        if not (layout.final_checkpoint(method, seed, preset.rl_steps).parent / COMPLETE).is_file()
    ]


def _rescore_jobs(layout: Layout, preset: Preset) -> list[Job]:
    """The evaluations without a stored exact entropy yet."""
    return [
        Job(
            f"rescore {label(method, seed)}",
            rescore_command(layout, preset, method, seed),
            layout.log(f"rescore-{label(method, seed)}"),
            after=(f"evaluate {label(method, seed)}",),
        )
        for seed in preset.seeds
        for method in EVALUATED
        if analysis.rollout_entropy(layout.run_dir(method, seed, preset.rl_steps)) is None
    ]


def _numbers(layout: Layout, preset: Preset, start: dict[int, dict], console) -> dict:
    """Every measured number, per run, over seeds and paired: what demo.json holds (less the timings)."""
    runs: dict[str, dict[int, dict]] = {method: {} for method in EVALUATED}
    pairs = [(method, seed) for method in EVALUATED for seed in preset.seeds]
    for method, seed in track(pairs, description="  measuring", console=console):
        metrics = analysis.run_metrics(
            layout.run_dir(method, seed, preset.rl_steps),
            layout.model(method, seed, preset.rl_steps),
            preset.eval_prompts,
        )
        if method != "start":
            metrics.update(analysis.training_tail(layout.train(method, seed) / "metrics.jsonl"))
        runs[method][seed] = metrics
    keys = [key.replace("32", str(preset.k)) for key, *_ in seeds.HEADLINE]
    run_dirs = {
        method: {seed: str(layout.run_dir(method, seed, preset.rl_steps)) for seed in preset.seeds}
        for method in EVALUATED
    }
    return {
        "preset": preset.name,
        "seeds": list(preset.seeds),
        "methods": {m: METHOD_NAMES[m] for m in EVALUATED},
        "plan": {
            "recipe": RECIPE,
            "sft_steps": preset.sft_steps,
            "rl_steps": preset.rl_steps,
            "eval_prompts": preset.eval_prompts,
            "k": preset.k,
            "eval_temperature": 0.6,
            "eval_top_p": 0.95,
            "eval_backend": preset.eval_backend,
        },
        "start": {str(seed): state for seed, state in start.items()},
        "runs": {method: {str(seed): metrics for seed, metrics in by_seed.items()} for method, by_seed in runs.items()},
        "aggregate": seeds.aggregate(runs, keys),
        "paired": seeds.paired(runs, keys),
        "per_seed_compare": {
            str(seed): comparison for seed, comparison in seeds.per_seed_comparisons(run_dirs, preset.seeds).items()
        },
        "run_dirs": {
            method: {str(seed): path for seed, path in by_seed.items()} for method, by_seed in run_dirs.items()
        },
    }


def run_demo(preset: Preset, out: Path, report: Path, parallel: int, console) -> dict:
    """Every phase of the demo; writes demo.json (in `out` and beside `report`) and returns it."""
    layout, phases = Layout(out), Phases(console)
    load_at_start, started = os.getloadavg(), time.perf_counter()
    seed_list = ", ".join(map(str, preset.seeds))
    jobs = _warm_start_jobs(layout, preset) + _training_jobs(layout, preset)
    phases.start(
        "warm start and RL",
        f"{len(preset.seeds)} tiny models (seeds {seed_list}), {preset.sft_steps} supervised steps each on the toy's "
        f"training prompts (cached in {layout.out / 'sft'}); from each, GRPO and ProGRPO with {RECIPE}, "
        f"{preset.rl_steps} steps; {parallel} jobs at a time, a run starting once its warm start is done, "
        f"{_example(jobs[len(preset.seeds) :])}",
    )
    run_jobs(jobs, parallel=parallel, console=console)
    phases.start(
        "start of RL", "sampling each warm start (64 training prompts x 8 at T = 1) and the exact answer distribution"
    )
    start = _start_of_rl(layout, preset, console)
    jobs = [
        _eval_job(layout, preset, method, seed)
        for seed in preset.seeds
        for method in EVALUATED
        if not _evaluated(layout.run_dir(method, seed, preset.rl_steps), preset)
    ]
    rescoring = _rescore_jobs(layout, preset)
    phases.start(
        "evaluate and rescore",
        f"{len(jobs)} models (warm start, GRPO, ProGRPO x seeds {seed_list}) on {preset.eval_prompts} "
        f"held-out prompts x {preset.k} samples ({preset.eval_backend}), then the exact rollout entropy of "
        f"{len(rescoring)} runs (progrpo-eval rescore --entropy exact), {_example(jobs)}",
    )
    run_jobs(jobs + rescoring, parallel=1 if preset.eval_backend == "vllm" else parallel, console=console)
    phases.start("numbers", "per run, over seeds (t-intervals), paired per seed (progrpo-eval compare)")
    result = _numbers(layout, preset, start, console)
    phases.start(
        "report",
        f"progrpo-eval report of the {len(METHODS) * len(preset.seeds)} RL runs and their training curves -> {report}",
    )
    report.parent.mkdir(parents=True, exist_ok=True)
    run_jobs([Job("report", report_command(layout, preset, report), layout.log("report"))], parallel=1, console=console)
    phases.finish()
    result["seconds"] = {**phases.seconds, "total": round(time.perf_counter() - started, 1)}
    result["cpu_seconds"] = {**phases.cpu, "total": round(sum(phases.cpu.values()), 1)}
    result["load_average"] = {
        "start": [round(x, 2) for x in load_at_start],
        "end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    for path in (layout.out / "demo.json", report.with_suffix(".json")):
        atomic_write_json(path, result)
    _print_result(console, result, report, preset)
    return result


def _print_result(console, result: dict, report: Path, preset: Preset) -> None:
    console.print()
    console.print(seeds.headline_table(result["aggregate"], result["paired"], preset.seeds, preset.k))
    console.print(
        f"wrote {report} and {report.with_suffix('.json')} in {result['seconds']['total'] / 60:.1f} min, "
        f"{result['cpu_seconds']['total'] / 60:.1f} CPU-min (load average {result['load_average']['start'][0]:.1f} "
        f"at the start, {os.cpu_count()} CPUs)"
    )
