"""A pool of worker processes that judge (answer, gold) pairs with a per-item timeout.

Decisions:
- math-verify's own timeouts use SIGALRM, which only works in the main thread, so they are off.
  Instead `MathScorer` runs checks in worker PROCESSES started with "spawn" (never fork: the
  caller may hold torch or vLLM threads), streams items to them in small chunks, and kills and
  replaces a worker whose current item runs past `timeout_s`: that item is "timeout", the
  others go on. A worker that dies gives "error". `start_method="forkserver"` makes
  replacements cheaper (see `MathScorer`). As with any spawn start method, the calling script
  needs an `if __name__ == "__main__":` guard.
- A timed-out item's clock starts when its worker is handed it (or finishes the item before
  it), and a worker's start-up (about a second) never counts against an item.
- The check is a picklable module-level function (default: math-verify's `score_math_one`);
  each worker calls it on a small pair and on answers of the usual shapes (`WARM_UP_ANSWERS`,
  about 1.5 s) before it reports ready, so first-call costs (the LaTeX parser and the prediction
  tables ANTLR builds as it meets new shapes) are not an item's time.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from time import monotonic

from tqdm import tqdm

from progrpo_eval.scoring.answers import ScoreResult, one_line
from progrpo_eval.scoring.math_check import score_math_one

CheckFn = Callable[[str, str], ScoreResult]
WARM_UP_PAIR = ("\\boxed{\\frac{1}{2}}", "0.5")  # a pair only math-verify decides (it parses both sides)
# Answers of the usual shapes: ANTLR builds its prediction tables (per process) as it meets new
# shapes, so a worker that has parsed these judges the first real answers about 25 % faster.
WARM_UP_ANSWERS = (
    "\\frac{\\sqrt{3}}{2}",
    "(-\\infty, 2) \\cup (3, \\infty)",
    "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
    "y = 2x^2 + 7x + 10",
    "\\left( 3, \\frac{\\pi}{2} \\right)",
    "\\text{Evelyn}",
    "2\\sqrt{5} - 1",
    "\\{1, 2, 3\\}",
    "[0, 1)",
    "\\cos^2 x + \\sin x",
    "6 - 5i",
    "1 \\pm \\sqrt{19}",
    "x \\in [1, 2]",
    "3^{2/3}",
    "\\log_2 8",
    "90^\\circ",
    "5\\%",
    "(1,2), (3,4)",
    "\\binom{5}{2}",
    "|x| < 1",
)


def checked(response: str, gold: str, check: CheckFn = score_math_one) -> ScoreResult:
    """Run `check`, turning an exception it lets out into an "error" result."""
    try:
        return check(response, gold)
    except Exception as error:  # reported per item as status "error"
        return ScoreResult(False, "error", None, one_line(error))


def _worker_main(connection: Connection, check: CheckFn) -> None:
    """A pool worker: warm up, say "ready", then judge chunks of (index, response, gold).

    One result message per item, sent as soon as it is done, so the parent can time each item.
    Ctrl-C is the parent's to handle (it stops the pool); a worker ignores SIGINT, so a terminal's
    Ctrl-C, sent to every process of the job, prints no traceback per worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    checked(*WARM_UP_PAIR, check)  # first-call costs (the LaTeX parser) are not an item's time
    for answer in WARM_UP_ANSWERS:
        checked(f"\\boxed{{{answer}}}", WARM_UP_ANSWERS[0], check)
    connection.send(("ready", None))
    while True:
        try:
            chunk = connection.recv()
        except EOFError:
            return
        if chunk is None:
            return
        for index, response, gold in chunk:
            connection.send((index, checked(response, gold, check)))


def default_worker_count() -> int:
    """The CPUs this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    started_at: float
    ready: bool = False
    in_flight: deque = field(default_factory=deque)  # item indices sent and not yet answered
    deadline: float = float("inf")  # when the item at in_flight[0] times out


class MathScorer:
    """A reusable pool of math-verify worker processes with a per-answer timeout.

    Use as a context manager or call close(). Calls from several threads are serialised.
    `check` replaces the per-item function (a picklable module-level function); it exists so
    tests can inject crashes, and defaults to `score_math_one`. Items go to idle workers in
    chunks of up to `chunk_size` (smaller near the end), and come back one by one.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        timeout_s: float = 5.0,
        check: CheckFn = score_math_one,
        chunk_size: int = 8,
        start_timeout_s: float = 120.0,
        start_method: str = "spawn",
    ) -> None:
        if workers is not None and workers < 1:
            raise ValueError(
                f"MathScorer needs workers >= 1 (got {workers}); "
                "the registered 'math' scorer with workers=0 runs in-process"
            )
        if start_method == "fork":
            raise ValueError("start_method 'fork' is unsafe beside torch/vLLM threads; use 'spawn' or 'forkserver'")
        self.num_workers = workers or default_worker_count()
        self.timeout_s = timeout_s
        self.chunk_size = chunk_size
        self.start_timeout_s = start_timeout_s
        self._check = check
        self._context = get_context(start_method)
        if start_method == "forkserver":
            # Workers then fork from a server that already imported math-verify, so a replacement
            # starts faster. The preload list is process-wide state, which is why "spawn" stays
            # the default.
            self._context.set_forkserver_preload([__name__])
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._owner_pid = os.getpid()
        self._closed = False

    def __enter__(self) -> MathScorer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> MathScorer:
        """Spawn the workers now, so they import math-verify while the caller generates."""
        with self._lock:
            while len(self._workers) < self.num_workers:
                self._workers.append(self._start_worker())
        return self

    def wait_until_ready(self) -> MathScorer:
        """Start the workers and wait until every one has warmed up (benchmarks time scoring apart)."""
        with self._lock:
            while len(self._workers) < self.num_workers:
                self._workers.append(self._start_worker())
            while not all(worker.ready for worker in self._workers):
                waiting = [worker for worker in self._workers if not worker.ready]
                wait(
                    [worker.connection for worker in waiting] + [worker.process.sentinel for worker in waiting],
                    timeout=self._seconds_to_next_deadline(),
                )
                for worker in waiting:
                    exited = worker.process.exitcode is not None
                    self._drain(worker, [], self.timeout_s)
                    if not worker.ready:  # raises if it died or is past the start-up limit
                        self._handle_dead_or_late(worker, exited, [], deque(), tqdm(disable=True))
        return self

    def worker_pids(self) -> list[int]:
        return [worker.process.pid for worker in self._workers]

    def close(self) -> None:
        """Stop the workers. Safe to call twice; does nothing in a forked child."""
        with self._lock:
            self._closed = True
            if os.getpid() == self._owner_pid:
                self._stop_all()

    def score(
        self, responses: Sequence[str], golds: Sequence[str], *, timeout_s: float | None = None, progress: bool = False
    ) -> list[ScoreResult]:
        """Judge responses[i] against golds[i]; `timeout_s` overrides the scorer's default."""
        if len(responses) != len(golds):
            raise ValueError(f"{len(responses)} responses but {len(golds)} golds")
        return self.score_pairs(zip(responses, golds), total=len(responses), timeout_s=timeout_s, progress=progress)

    def score_pairs(
        self,
        pairs: Iterable[tuple[str, str]],
        *,
        total: int | None = None,
        timeout_s: float | None = None,
        progress: bool = False,
    ) -> list[ScoreResult]:
        """Judge each (response, gold) of `pairs`, in order, pulling pairs as the workers need them.

        A generator's own work (the math scorer's text stage) then runs while the workers judge
        the pairs it has already given. No worker starts if `pairs` is empty.
        """
        limit = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            if self._closed:
                raise RuntimeError("this MathScorer is closed")
            with tqdm(total=total, unit="answer", desc="math-verify", disable=not progress) as bar:
                try:
                    return self._score_items(iter(pairs), limit, bar)
                except BaseException:
                    self._stop_all()  # stale in-flight items must not leak into the next call
                    raise

    # --- the scheduling loop -----------------------------------------------------------------

    def _score_items(self, source: Iterator[tuple[str, str]], limit: float, bar: tqdm) -> list[ScoreResult]:
        items: list[tuple[str, str]] = []
        results: list[ScoreResult | None] = []
        todo: deque = deque()
        exhausted = self._pull(source, items, results, todo, bar)
        if not items:
            return []
        while len(self._workers) < self.num_workers:
            self._workers.append(self._start_worker())
        while todo or not exhausted or any(worker.in_flight for worker in self._workers):
            self._dispatch(todo, items, limit, more_coming=not exhausted)
            if not exhausted:  # while the workers judge what they were just given
                exhausted = self._pull(source, items, results, todo, bar)
            handles = [w.connection for w in self._workers] + [w.process.sentinel for w in self._workers]
            wait(handles, timeout=self._seconds_to_next_deadline())
            for position, worker in enumerate(self._workers):
                exited = worker.process.exitcode is not None  # read first: then nothing it sent is missed
                bar.update(self._drain(worker, results, limit))
                replacement = self._handle_dead_or_late(worker, exited, results, todo, bar)
                if replacement is not None:
                    self._workers[position] = replacement
        assert all(result is not None for result in results)
        return results

    def _pull(self, source: Iterator, items: list, results: list, todo: deque, bar: tqdm) -> bool:
        """Top `todo` up to two chunks per worker from `source`; True once `source` is exhausted."""
        while len(todo) < 2 * self.chunk_size * self.num_workers:
            pair = next(source, None)
            if pair is None:
                if bar.total is None:
                    bar.total = len(items)
                    bar.refresh()
                return True
            todo.append(len(items))
            items.append((str(pair[0]), str(pair[1])))
            results.append(None)
        return False

    def _dispatch(self, todo: deque, items: list[tuple[str, str]], limit: float, *, more_coming: bool) -> None:
        """Send a chunk to every ready, idle worker; once no more are coming, chunks shrink to balance."""
        for worker in self._workers:
            if not todo or not worker.ready or worker.in_flight:
                continue
            size = self.chunk_size if more_coming else max(1, min(self.chunk_size, len(todo) // (2 * self.num_workers)))
            chunk = [todo.popleft() for _ in range(min(size, len(todo)))]
            try:
                worker.connection.send([(index, *items[index]) for index in chunk])
            except OSError:  # the worker is gone; its sentinel reports it on this round
                todo.extendleft(reversed(chunk))
                continue
            worker.in_flight.extend(chunk)
            worker.deadline = monotonic() + limit

    def _seconds_to_next_deadline(self) -> float | None:
        deadlines = [w.deadline if w.ready else w.started_at + self.start_timeout_s for w in self._workers]
        next_deadline = min(deadlines)
        return None if next_deadline == float("inf") else max(0.0, next_deadline - monotonic())

    def _drain(self, worker: _Worker, results: list, limit: float) -> int:
        """Read every message waiting from `worker`; returns how many items it finished."""
        finished = 0
        try:
            while worker.connection.poll():
                index, result = worker.connection.recv()
                if index == "ready":
                    worker.ready = True
                    continue
                assert worker.in_flight[0] == index, "a worker answered out of order"
                worker.in_flight.popleft()
                results[index] = result
                worker.deadline = monotonic() + limit if worker.in_flight else float("inf")
                finished += 1
        except (EOFError, OSError):
            pass  # the worker died; _handle_dead_or_late sees its exit code
        return finished

    def _handle_dead_or_late(
        self, worker: _Worker, exited: bool, results: list, todo: deque, bar: tqdm
    ) -> _Worker | None:
        """Replace a worker that died or overran; returns the replacement, or None if it is fine."""
        now = monotonic()
        if exited:
            if not worker.ready:
                raise RuntimeError(
                    f"a math scoring worker exited with code {worker.process.exitcode} before it was "
                    "ready (does the calling script lack an `if __name__ == '__main__':` guard?)"
                )
            status, detail = "error", f"worker process died (exit code {worker.process.exitcode})"
        elif not worker.ready and now > worker.started_at + self.start_timeout_s:
            raise RuntimeError(f"a math scoring worker was not ready after {self.start_timeout_s} s")
        elif worker.in_flight and now >= worker.deadline:
            status, detail = "timeout", "per-answer timeout"
        else:
            return None
        if worker.in_flight:
            results[worker.in_flight.popleft()] = ScoreResult(False, status, None, detail)
            bar.update(1)
            todo.extendleft(reversed(worker.in_flight))
        self._stop(worker)
        return self._start_worker()

    # --- worker processes --------------------------------------------------------------------

    def _start_worker(self) -> _Worker:
        parent_end, child_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_worker_main, args=(child_end, self._check), name="progrpo-math-verify", daemon=True
        )
        process.start()
        child_end.close()
        return _Worker(process, parent_end, started_at=monotonic())

    def _stop(self, worker: _Worker) -> None:
        if worker.process.exitcode is None:
            worker.process.kill()
        worker.process.join()
        worker.connection.close()

    def _stop_all(self) -> None:
        for worker in self._workers:
            self._stop(worker)
        self._workers = []
