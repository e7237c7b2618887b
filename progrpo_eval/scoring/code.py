"""The "code" scorer: extract the program, run it on the problem's tests in the sandbox, judge the outputs.

    scorer = build_scorer("code", ScorerSettings(workers=8), per_test_timeout_s=6.0)
    scored = score_samples(scorer, problems, texts_per_problem, reasoning=True)

One scorer serves `progrpo-eval run`, `progrpo-eval score` and the trainer's `data.reward=code`.
Every program of a `score_problems` call runs through one `SandboxPool` (one sandbox start per
program and its whole test set); the outputs come back as plain data and are judged here by the
benchmark's own rule (`code_judge`): EvalPlus's for HumanEval+, LiveCodeBench's for
LiveCodeBench and CodeForces. What a problem must carry is in `code_tasks`.

Decisions:
- Statuses. "no_answer": no closed fenced code block (`code_extract`). "ok": the program was
  judged, right or wrong; a program that crashes, times out or prints too much is a wrong program
  ("ok", not correct, `detail` says what happened), not a judge failure. "error": the judge could
  not judge (malformed tests, a canonical solution that failed, a sandbox fault on this machine).
  "timeout" is never used: the time limits are the tests' own. Where bubblewrap cannot run, the
  scorer raises `SandboxUnavailable` before anything runs.
- `correct`: every test passed (HumanEval+: base and plus, as EvalPlus's "base + extra").
  `fraction`: the share of the tests passed (HumanEval+: over base and plus together).
- `detail` (stored as the sample's score_detail): "pass 5/5" or "fail 2/5; test 3: <why>";
  HumanEval+ "base: pass 7/7; plus: fail 990/1000; plus test 12: <why>" ("base: n/a" where the
  source has no base set). `progrpo_eval.benchmarks.code_summary` reads the base verdict back
  from it for the base-only Pass@k.
- `extracted` is the program as judged (before LiveCodeBench's prelude).
- Output: up to 32 MiB per test (stdout, or a return value's JSON) is kept, past it the program is
  stopped; EvalPlus and LiveCodeBench set no cap, and HumanEval+'s largest expected value is 12 MB.
- Settings used: `workers` (concurrent sandboxes; None: every core the process may use) and
  `progress`. `timeout_s` is not used: each test has its benchmark's limit (options below).
- Options (a benchmark's `scorer_options`): `per_test_timeout_s` (lcb, 6.0), `min_time_limit_s` and
  `gt_time_limit_factor` (evalplus, 1.0 and 4.0), `memory_mb` (address space per process, 4096 as
  EvalPlus), `stop_at_first_failure` (True).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from progrpo_eval.problem import Problem
from progrpo_eval.sandbox import (
    BatchResult,
    SandboxConfig,
    SandboxError,
    SandboxPool,
    TestBatch,
    ensure_available,
    run_batch,
)
from progrpo_eval.scoring.answers import ScoreResult
from progrpo_eval.scoring.base import Scorer, ScorerSettings, register_scorer
from progrpo_eval.scoring.code_extract import extract_program
from progrpo_eval.scoring.code_judge import evalplus_verdicts, lcb_stdout_matches, lcb_value_matches
from progrpo_eval.scoring.code_reference import Reference, ReferenceOutputs
from progrpo_eval.scoring.code_tasks import (
    CodeTask,
    TaskError,
    evalplus_task,
    lcb_task,
    metadata_from_gold,
    program_batch,
)

NO_PROGRAM = ScoreResult(False, "no_answer", None, "no closed ``` code block")
OUTPUT_CAP_BYTES = 32 << 20  # per test: HumanEval+'s largest expected value is 12 MB of JSON (HumanEval/130)


def _why(result: BatchResult, index: int, verdict_failed: bool) -> str:
    test = result.tests[index]
    if test.passed and verdict_failed:
        return "wrong answer"
    return f"{test.status}: {test.message}" if test.message else test.status


def _first_failure(verdicts: Sequence[bool]) -> int | None:
    return next((index for index, passed in enumerate(verdicts) if not passed), None)


def _summary(label: str, verdicts: Sequence[bool]) -> str:
    return f"{label}{'pass' if all(verdicts) else 'fail'} {sum(verdicts)}/{len(verdicts)}"


def judge_lcb(task: CodeTask, result: BatchResult, stop_at_first_failure: bool) -> list[bool]:
    """LiveCodeBench's verdicts in test order; with `stop_at_first_failure` (its rule) all after a failure fail."""
    verdicts, failed = [], False
    matches = lcb_stdout_matches if task.mode == "stdio" else lcb_value_matches
    for test, expected in zip(result.tests, task.expected):
        passed = not (failed and stop_at_first_failure) and test.passed and matches(test.output, expected)
        failed = failed or not passed
        verdicts.append(passed)
    return verdicts


def judge_evalplus(task: CodeTask, result: BatchResult) -> tuple[list[bool], list[bool] | None]:
    """(plus verdicts, base verdicts or None): EvalPlus's rule on each test set separately."""
    outputs = [test.output for test in result.tests]
    ran = [test.passed for test in result.tests]
    split = task.num_base or 0

    def verdicts(part: slice) -> list[bool]:
        return evalplus_verdicts(
            outputs[part], ran[part], task.expected[part], task.inputs[part], task.atol, task.function_name
        )

    base = verdicts(slice(0, split)) if task.num_base is not None else None
    return verdicts(slice(split, None)), base


def score_program(task: CodeTask, code: str, result: BatchResult, stop_at_first_failure: bool = True) -> ScoreResult:
    """The ScoreResult of one program from its sandbox result (see the module docstring)."""
    if task.judge == "lcb":
        verdicts = judge_lcb(task, result, stop_at_first_failure)
        failure = _first_failure(verdicts)
        detail = _summary("", verdicts)
        if failure is not None:
            detail += f"; test {failure}: {_why(result, failure, True)}"
        return ScoreResult(all(verdicts), "ok", code, detail, sum(verdicts) / len(verdicts))
    plus, base = judge_evalplus(task, result)
    every = (base or []) + plus
    detail = (_summary("base: ", base) if base is not None else "base: n/a") + "; " + _summary("plus: ", plus)
    for label, verdicts, offset in (("base", base or [], 0), ("plus", plus, len(base or []))):
        failure = _first_failure(verdicts)
        if failure is not None:
            detail += f"; {label} test {failure}: {_why(result, offset + failure, True)}"
            break
    return ScoreResult(all(every), "ok", code, detail, sum(every) / len(every))


@register_scorer
class CodeScorer(Scorer):
    """Programs judged on their problem's tests in the sandbox (module docstring)."""

    name = "code"

    def __init__(
        self,
        settings: ScorerSettings | None = None,
        *,
        per_test_timeout_s: float = 6.0,
        min_time_limit_s: float = 1.0,
        gt_time_limit_factor: float = 4.0,
        memory_mb: int = 4096,
        stop_at_first_failure: bool = True,
    ) -> None:
        super().__init__(settings)
        if min(per_test_timeout_s, min_time_limit_s, gt_time_limit_factor, memory_mb) <= 0:
            raise ValueError("time limits, the time-limit factor and memory_mb must be positive")
        self.per_test_timeout_s, self.memory_mb = per_test_timeout_s, memory_mb
        self.min_time_limit_s, self.gt_time_limit_factor = min_time_limit_s, gt_time_limit_factor
        self.stop_at_first_failure = stop_at_first_failure
        self.references = ReferenceOutputs(memory_mb)
        self._pool: SandboxPool | None = None

    def start(self) -> None:
        """Check the sandbox (SandboxUnavailable names the cause) and start the pool."""
        ensure_available()
        self._ensure_pool()

    def _ensure_pool(self) -> SandboxPool:
        if self._pool is None:
            self._pool = SandboxPool(
                self.settings.workers,
                config=SandboxConfig(max_output_bytes=OUTPUT_CAP_BYTES),
                progress=self.settings.progress,
            )
        return self._pool

    def run_batches(
        self, batches: Sequence[TestBatch], desc: str = "running programs"
    ) -> list[BatchResult | SandboxError]:
        """One sandbox call per batch; a batch the sandbox itself failed on gives its SandboxError."""
        pool = self._ensure_pool()

        def run_one(batch: TestBatch) -> BatchResult | SandboxError:
            try:
                return run_batch(batch, pool.config)
            except SandboxError as error:
                return error

        return pool.map(run_one, batches, desc=desc) if batches else []

    def _task(self, problem: Problem, metadata: dict[str, Any], references: dict[str, Reference]) -> CodeTask:
        """The problem's CodeTask; TaskError when its tests cannot run."""
        try:
            if metadata["judge"] == "evalplus":
                return evalplus_task(
                    metadata, references[problem.problem_id], self.min_time_limit_s, self.gt_time_limit_factor
                )
            return lcb_task(metadata, self.per_test_timeout_s)
        except (KeyError, TypeError) as error:
            raise TaskError(f"malformed code metadata ({error!r})") from error

    def _tasks(self, problems: Sequence[Problem], needed: Sequence[bool]) -> list[CodeTask | TaskError | None]:
        """Each needed problem's CodeTask (or the TaskError saying why there is none); None where nothing is needed.

        HumanEval+ references are computed here, in one pool call, for the problems that need them."""
        metadata: list[dict[str, Any] | TaskError] = []
        for problem in problems:
            try:
                metadata.append(problem.metadata if "judge" in problem.metadata else metadata_from_gold(problem))
            except TaskError as error:
                metadata.append(error)
        evalplus = [
            problem
            for problem, meta, need in zip(problems, metadata, needed)
            if need and isinstance(meta, dict) and meta.get("judge") == "evalplus"
        ]
        references = self.references.get(evalplus, lambda batches: self.run_batches(batches, "reference outputs"))
        tasks: list[CodeTask | TaskError | None] = []
        for problem, meta, need in zip(problems, metadata, needed):
            if not need or isinstance(meta, TaskError):
                tasks.append(meta if need else None)
                continue
            try:
                tasks.append(self._task(problem, meta, references))
            except TaskError as error:
                tasks.append(error)
        return tasks

    def score_problems(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[list[ScoreResult]]:
        problems = [problem for problem, _ in items]
        programs = [
            [extract_program(text, problem.metadata.get("function_name")) for text in texts] for problem, texts in items
        ]
        tasks = self._tasks(problems, [any(code is not None for code in group) for group in programs])
        results = [[NO_PROGRAM] * len(group) for group in programs]
        batches, owners = [], []
        for i, (task, group) in enumerate(zip(tasks, programs)):
            for j, code in enumerate(group):
                if code is None:
                    continue
                if isinstance(task, TaskError):
                    results[i][j] = ScoreResult(False, "error", code, str(task))
                    continue
                batches.append(
                    program_batch(
                        task, code, memory_mb=self.memory_mb, stop_at_first_failure=self.stop_at_first_failure
                    )
                )
                owners.append((i, j, task, code))
        for (i, j, task, code), outcome in zip(owners, self.run_batches(batches)):
            if isinstance(outcome, SandboxError):
                results[i][j] = ScoreResult(False, "error", code, f"sandbox: {outcome}")
            else:
                results[i][j] = score_program(task, code, outcome, self.stop_at_first_failure)
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
