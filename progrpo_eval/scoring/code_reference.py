"""HumanEval+'s expected outputs and reference times: the canonical solution run on every input.

EvalPlus does not ship expected outputs: its `get_groundtruth` runs each task's canonical solution
(`prompt + canonical_solution`) on the base and the plus inputs, records the return values and the
time of each call, and caches both; a candidate then gets max(min_time_limit,
gt_time_limit_factor * time) per input. We do the same.

Decisions:
- The canonical solutions run in the sandbox's function mode, like the candidates, so a reference
  time and a candidate's time are measured by the same harness (one call, driver side, including
  the value's trip across the sandbox wall: a few microseconds for HumanEval's values).
- Cache: one JSON file per task under `$PROGRPO_CACHE_DIR/evalplus/` (default
  `~/.cache/progrpo/evalplus/`), named by the sha256 of the canonical program, the inputs, the
  entry point and the Python version; outputs as the sandbox's tagged JSON (types kept). Times are
  this machine's: delete the folder to measure again (EvalPlus caches them the same way).
- A canonical solution that fails on one of its inputs leaves the task without a reference; its
  samples are then scored "error" (the judge could not judge), never silently wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from progrpo_eval.atomic import atomic_write_json
from progrpo_eval.problem import Problem
from progrpo_eval.sandbox import NOT_CHECKED, BatchResult, TestBatch, TestCase
from progrpo_eval.sandbox.compare import decode_value, encode_value

CACHE_ENV = "PROGRPO_CACHE_DIR"
CACHE_FORMAT = 2
REFERENCE_TIME_LIMIT_S = 60.0  # per input, for the trusted canonical solutions


@dataclass(frozen=True)
class Reference:
    """Expected outputs and reference seconds per input, base inputs first, then plus; or why there are none."""

    outputs: tuple[Any, ...] = ()
    seconds: tuple[float, ...] = ()
    wall_s: float = 0.0  # the whole reference batch, sandbox start and value transfers included
    failure: str = ""


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "progrpo") / "evalplus"


def reference_inputs(problem: Problem) -> list[list[Any]]:
    """The task's inputs in test order: base, then plus."""
    metadata = problem.metadata
    return list(metadata.get("base_input") or []) + list(metadata["plus_input"])


def cache_key(problem: Problem) -> str:
    metadata = problem.metadata
    identity = [
        CACHE_FORMAT,
        platform.python_version(),
        metadata["reference_program"],
        metadata["function_name"],
        metadata.get("base_input"),
        metadata["plus_input"],
    ]
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=repr).encode("utf-8")).hexdigest()


def _read_cached(path: Path, num_inputs: int) -> Reference | None:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        outputs = tuple(decode_value(value) for value in stored["outputs"])
        seconds = tuple(float(value) for value in stored["seconds"])
        wall_s = float(stored["wall_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or damaged: measure again
    if len(outputs) != num_inputs or len(seconds) != num_inputs:
        return None
    return Reference(outputs, seconds, wall_s)


def reference_batch(problem: Problem, memory_mb: int) -> TestBatch:
    """The canonical solution on every input, outputs collected, no expected value (nothing to check)."""
    tests = [TestCase(list(inputs), NOT_CHECKED, REFERENCE_TIME_LIMIT_S) for inputs in reference_inputs(problem)]
    return TestBatch(
        problem.metadata["reference_program"],
        tests,
        mode="function",
        function_name=problem.metadata["function_name"],
        collect_outputs=True,
        stop_on_first_failure=True,
        memory_mb=memory_mb,
    )


def reference_from_result(problem: Problem, result: BatchResult | Exception) -> Reference:
    """A Reference from the canonical solution's BatchResult; `failure` says which input (or the sandbox) broke it."""
    if isinstance(result, Exception):
        task_id = problem.metadata["task_id"]
        return Reference(failure=f"the sandbox failed on the canonical solution of {task_id}: {result}")
    for index, test in enumerate(result.tests):
        if not test.passed:
            return Reference(
                failure=f"the canonical solution of {problem.metadata['task_id']} failed on input "
                f"{index} ({test.status}: {test.message})"
            )
    return Reference(
        tuple(test.output for test in result.tests), tuple(test.seconds for test in result.tests), result.wall_s
    )


class ReferenceOutputs:
    """Expected outputs per HumanEval+ task: memory, then the disk cache, then the sandbox."""

    def __init__(self, memory_mb: int = 4096, directory: Path | None = None):
        self.memory_mb = memory_mb
        self.directory = directory
        self._known: dict[str, Reference] = {}

    def get(self, problems: Sequence[Problem], run_batches) -> dict[str, Reference]:
        """The reference of every problem; the missing ones are computed with `run_batches(batches)`."""
        directory = self.directory or cache_dir()
        missing: dict[str, Problem] = {}
        for problem in problems:
            if problem.problem_id in self._known or problem.problem_id in missing:
                continue
            cached = _read_cached(directory / f"{cache_key(problem)}.json", len(reference_inputs(problem)))
            if cached is not None:
                self._known[problem.problem_id] = cached
            else:
                missing[problem.problem_id] = problem
        if missing:
            to_run = list(missing.values())
            results = run_batches([reference_batch(problem, self.memory_mb) for problem in to_run])
            for problem, result in zip(to_run, results):
                reference = reference_from_result(problem, result)
                self._known[problem.problem_id] = reference
                if not reference.failure:
                    atomic_write_json(
                        directory / f"{cache_key(problem)}.json",
                        {
                            "task_id": problem.metadata["task_id"],
                            "python": platform.python_version(),
                            "outputs": [encode_value(value) for value in reference.outputs],
                            "seconds": list(reference.seconds),
                            "wall_s": reference.wall_s,
                        },
                    )
        return {problem.problem_id: self._known[problem.problem_id] for problem in problems}
