"""`SandboxPool`: many sandbox calls at once, results in input order, an optional progress bar.

Threads are enough: each worker thread only waits on its bubblewrap process's pipes, so
`workers` sandboxes run in parallel (default: the CPU cores this process may use). The first
exception (SandboxUnavailable, SandboxError, a bad TestBatch) cancels the jobs not yet started
and is raised.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

from tqdm import tqdm

from progrpo_eval.sandbox.batch import BatchResult, TestBatch, run_batch
from progrpo_eval.sandbox.execution import ensure_available
from progrpo_eval.sandbox.isolation import SandboxConfig
from progrpo_eval.sandbox.program import ProgramResult, run_program

Item = TypeVar("Item")
Result = TypeVar("Result")


def default_workers() -> int:
    return len(os.sched_getaffinity(0))


class SandboxPool:
    """`SandboxPool(workers=None, config=None, progress=False)`; use as a context manager or call close()."""

    def __init__(self, workers: int | None = None, *, config: SandboxConfig | None = None, progress: bool = False):
        self.workers = workers or default_workers()
        if self.workers < 1:
            raise ValueError(f"workers must be positive, got {self.workers}")
        self.config = config or SandboxConfig()
        self.progress = progress
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sandbox")

    def map(self, function: Callable[[Item], Result], items: Sequence[Item], *, desc: str = "sandbox") -> list[Result]:
        """`[function(item) for item in items]`, `workers` at a time, in input order."""
        ensure_available(self.config)  # one clear error before any job starts
        futures = [self._executor.submit(function, item) for item in items]
        index_of = {future: index for index, future in enumerate(futures)}
        results: list = [None] * len(futures)
        pending = set(futures)
        with tqdm(total=len(futures), desc=desc, disable=not self.progress, leave=False) as bar:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    if future.exception() is not None:
                        for other in pending:
                            other.cancel()
                        wait(pending)
                        raise future.exception()
                    results[index_of[future]] = future.result()
                bar.update(len(done))
        return results

    def run_batches(self, batches: Sequence[TestBatch], *, desc: str = "running tests") -> list[BatchResult]:
        """One sandbox call per TestBatch (a program and its tests)."""
        return self.map(lambda batch: run_batch(batch, self.config), batches, desc=desc)

    def run_programs(
        self,
        codes: Sequence[str],
        stdins: Sequence[str] | None = None,
        *,
        timeout_s: float = 10.0,
        memory_mb: int = 1024,
        desc: str = "running programs",
    ) -> list[ProgramResult]:
        """`run_program` for each code (with the matching stdin), all with the same limits."""
        stdins = [""] * len(codes) if stdins is None else list(stdins)
        if len(stdins) != len(codes):
            raise ValueError(f"{len(codes)} programs but {len(stdins)} stdins")
        return self.map(
            lambda pair: run_program(pair[0], pair[1], timeout_s=timeout_s, memory_mb=memory_mb, config=self.config),
            list(zip(codes, stdins, strict=True)),
            desc=desc,
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
