"""`run_tests`: a program and its tests in ONE sandbox call, judged by the trusted driver inside.

A `TestBatch` is everything about one (program, tests) job; `run_batch` runs it and returns a
`BatchResult` with one `TestResult` per test, in order.

Test statuses (`TEST_STATUSES`): "passed" (ran within its limits and the output matched, or ran
cleanly when the test has no expected output), "failed" (ran, wrong output), "timeout" (its
wall-clock limit, or its CPU rlimit), "error" (an exception, a non-zero exit, a crash, the output
cap, a broken import; `message` says which), "skipped" (not run: after the first failure with
`stop_on_first_failure`, or after the sandbox itself stopped).

Batch statuses (`BATCH_STATUSES`) say how the sandbox call ended: "ok" (the driver reported every
test), "timeout" (the batch's own wall-clock limit; the test then running is "timeout", the rest
"skipped"), "error" (the driver stopped without finishing, e.g. the program killed it; the test
then running is "error", the rest "skipped").

Decisions:
- Per-test limits: `TestCase.time_limit_s`, else the batch's `per_test_timeout_s` (6 s, as
  LiveCodeBench). In stdio mode the limit covers the interpreter's start (about 12 ms here) plus
  the program; in function mode it covers one call (the import has `import_timeout_s`, 10 s).
- The batch's wall-clock limit (`timeout_s`) defaults to the sum of the per-test limits plus 1 s
  per test and 5 s: enough for every test to use its whole limit.
- Tolerances: `atol`/`rtol` None means the mode's default: stdio 1e-6 and 1e-6 (the usual "absolute
  or relative error 1e-6" of contest checkers; integer tokens always compare exactly), function
  0 and 0 (exact, as EvalPlus and LiveCodeBench compare unless a problem gives its own atol).
  The rules themselves are in `progrpo_eval.sandbox.compare`.
- `memory_mb` and the other limits hold for every process of the sandbox (driver included): the
  driver holds the whole batch (inputs and expected outputs) in memory, so a batch must fit in
  `memory_mb` with room to spare; split huge test sets into several batches.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from progrpo_eval.sandbox.compare import decode_value, encode_value
from progrpo_eval.sandbox.execution import SandboxRun, run_sandboxed
from progrpo_eval.sandbox.isolation import SANDBOX_DIR, SandboxConfig, host_layout
from progrpo_eval.sandbox.program import PROGRAM_FILE, encode_source, python_command

TEST_STATUSES = ("passed", "failed", "timeout", "error", "skipped")
BATCH_STATUSES = ("ok", "timeout", "error")
MODES = ("stdio", "function")
_DEFAULT_TOLERANCE = {"stdio": 1e-6, "function": 0.0}
_DRIVER_FILES = ("driver.py", "compare.py", "capture.py")
_FUNCTION_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class _NotChecked:
    def __repr__(self) -> str:
        return "NOT_CHECKED"


NOT_CHECKED = _NotChecked()  # a test with this `expected` only runs the program (see collect_outputs)


@dataclass(frozen=True)
class TestCase:
    """stdio: `input` is the stdin text, `expected` the expected stdout text.
    function: `input` is the list of positional arguments, `expected` the expected return value."""

    __test__ = False  # not a pytest test class

    input: Any
    expected: Any = NOT_CHECKED
    time_limit_s: float | None = None


@dataclass(frozen=True)
class TestResult:
    __test__ = False
    status: str  # one of TEST_STATUSES
    seconds: float | None  # the test's wall time inside the sandbox; None when it did not run
    message: str = ""  # why it did not pass (short)
    output: Any = None  # with collect_outputs: the stdout text (stdio) or the return value (function)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class BatchResult:
    status: str  # one of BATCH_STATUSES
    tests: tuple[TestResult, ...]
    wall_s: float
    message: str = ""

    @property
    def num_passed(self) -> int:
        return sum(result.passed for result in self.tests)

    @property
    def fraction_passed(self) -> float:
        return self.num_passed / len(self.tests)

    @property
    def all_passed(self) -> bool:
        return self.num_passed == len(self.tests)


@dataclass(frozen=True)
class TestBatch:
    """One program and its tests: everything `run_batch` needs (see the module docstring)."""

    __test__ = False

    code: str
    tests: Sequence[TestCase]
    mode: str = "stdio"
    function_name: str | None = None  # function mode: "entry_point" or "Solution.method"
    per_test_timeout_s: float = 6.0
    timeout_s: float | None = None
    import_timeout_s: float = 10.0
    memory_mb: int = 1024
    stop_on_first_failure: bool = False
    atol: float | None = None
    rtol: float | None = None
    tuple_as_list: bool = False
    collect_outputs: bool = False

    def __post_init__(self):
        object.__setattr__(self, "tests", tuple(self.tests))
        if self.mode not in MODES:
            raise ValueError(f"unknown test mode {self.mode!r}; known: {', '.join(MODES)}")
        if not self.tests:
            raise ValueError("a test batch needs at least one test")
        if self.mode == "function" and not (self.function_name and _FUNCTION_NAME.fullmatch(self.function_name)):
            raise ValueError(f"function mode needs function_name like 'f' or 'Solution.f', got {self.function_name!r}")
        for index, test in enumerate(self.tests):
            if self.mode == "stdio" and not isinstance(test.input, str):
                raise ValueError(f"test {index}: stdio input must be a str, got {type(test.input).__name__}")
            if self.mode == "stdio" and test.expected is not NOT_CHECKED and not isinstance(test.expected, str):
                raise ValueError(f"test {index}: stdio expected output must be a str")
            if self.mode == "function" and not isinstance(test.input, (list, tuple)):
                raise ValueError(f"test {index}: function input must be a list of arguments")
        if min(self.limits()) <= 0 or self.memory_mb <= 0:
            raise ValueError("time limits and memory_mb must be positive")

    def limits(self) -> list[float]:
        return [test.time_limit_s or self.per_test_timeout_s for test in self.tests]

    def batch_timeout_s(self) -> float:
        if self.timeout_s is not None:
            return self.timeout_s
        startup = self.import_timeout_s if self.mode == "function" else 0.0
        return sum(self.limits()) + len(self.tests) + startup + 5.0

    def tolerance(self) -> tuple[float, float]:
        default = _DEFAULT_TOLERANCE[self.mode]
        return (default if self.atol is None else self.atol, default if self.rtol is None else self.rtol)


def _test_spec(batch: TestBatch, test: TestCase, limit: float) -> dict:
    if batch.mode == "stdio":
        spec = {"input": test.input, "time_limit_s": limit}
        if test.expected is not NOT_CHECKED:
            spec["expected"] = test.expected
        return spec
    spec = {"input": encode_value(list(test.input)), "time_limit_s": limit}
    if test.expected is not NOT_CHECKED:
        spec["expected"] = encode_value(test.expected)
    return spec


def _driver_spec(batch: TestBatch, config: SandboxConfig, token: str) -> dict:
    atol, rtol = batch.tolerance()
    limits = batch.limits()
    return {
        "token": token,
        "mode": batch.mode,
        "function_name": batch.function_name,
        "python": host_layout().python,
        "program": f"{SANDBOX_DIR}/{PROGRAM_FILE}",
        "tests": [_test_spec(batch, test, limit) for test, limit in zip(batch.tests, limits, strict=True)],
        "stop_on_first_failure": batch.stop_on_first_failure,
        "atol": atol,
        "rtol": rtol,
        "tuple_as_list": batch.tuple_as_list,
        "collect_outputs": batch.collect_outputs,
        "max_output_bytes": config.max_output_bytes,
        "import_timeout_s": batch.import_timeout_s,
        "host_cpu_s": math.ceil(batch.import_timeout_s + sum(limits) + 1),
    }


def _driver_files() -> dict[str, bytes]:
    here = Path(__file__).resolve().parent
    return {name: (here / name).read_bytes() for name in _DRIVER_FILES}


def _parse_channel(run: SandboxRun, token: str, num_tests: int, mode: str) -> tuple[dict[int, TestResult], bool]:
    """Per-test results the driver reported (lines without the token are ignored), and whether it finished."""
    results, done = {}, False
    for line in run.channel.decode("utf-8", "replace").splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or message.get("token") != token:
            continue
        if message.get("done"):
            done = True
            continue
        index = message.get("index")
        if isinstance(index, int) and 0 <= index < num_tests and message.get("status") in TEST_STATUSES:
            output = message.get("output")
            if output is not None and mode == "function":
                output = decode_value(output)
            results[index] = TestResult(message["status"], message.get("seconds"), message.get("message", ""), output)
    return results, done


def run_batch(batch: TestBatch, config: SandboxConfig | None = None) -> BatchResult:
    """Run one TestBatch in one sandbox call. Raises SandboxUnavailable / SandboxError like run_program."""
    config = config or SandboxConfig()
    token = secrets.token_hex(16)
    spec = _driver_spec(batch, config, token)
    per_test_output = 6 * config.max_output_bytes if batch.collect_outputs else 0  # JSON escapes: at most 6x
    channel_cap = len(batch.tests) * (per_test_output + 4096) + 4096
    # "{channel}": run_sandboxed puts the result channel's fd number there.
    command = python_command(f"{SANDBOX_DIR}/driver.py") + ["batch", "{channel}"]
    files = {**_driver_files(), PROGRAM_FILE: encode_source(batch.code)}
    run = run_sandboxed(
        command,
        files=files,
        stdin=json.dumps(spec).encode(),
        timeout_s=batch.batch_timeout_s(),
        memory_mb=batch.memory_mb,
        cpu_s=batch.batch_timeout_s(),
        config=config,
        channel_cap=channel_cap,
    )
    results, done = _parse_channel(run, token, len(batch.tests), batch.mode)
    if done and len(results) == len(batch.tests):
        return BatchResult("ok", tuple(results[i] for i in range(len(batch.tests))), run.wall_s)
    status = "timeout" if run.timed_out else "error"
    stderr = run.stderr.decode("utf-8", "replace").strip().splitlines()
    message = (
        f"the batch's wall-clock limit {batch.batch_timeout_s():g} s"
        if run.timed_out
        else "the test driver stopped early (killed by the program?)" + (f": {stderr[-1]}" if stderr else "")
    )
    tests, first_missing = [], True
    for index in range(len(batch.tests)):
        if index in results:
            tests.append(results[index])
        elif first_missing:
            tests.append(TestResult(status, None, message))
            first_missing = False
        else:
            tests.append(TestResult("skipped", None, "not run: the sandbox stopped"))
    return BatchResult(status, tuple(tests), run.wall_s, message)


def run_tests(
    code: str, tests: Sequence[TestCase], *, config: SandboxConfig | None = None, **batch_options
) -> BatchResult:
    """`run_batch(TestBatch(code, tests, **batch_options), config)`; the options are TestBatch's fields."""
    return run_batch(TestBatch(code, tests, **batch_options), config)
