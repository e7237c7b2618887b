"""Running untrusted generated code: bubblewrap sandboxes, batched tests, a pool.

    from progrpo_eval.sandbox import run_program, run_tests, TestBatch, TestCase, SandboxPool

    run_program("print(input()[::-1])", "abc", timeout_s=2)          # ProgramResult(status="ok", stdout="cba\\n", ...)
    run_tests(code, [TestCase("1 2\\n", "3\\n")])                     # stdin/stdout tests, one sandbox start
    run_tests(code, [TestCase([1, 2], 3)], mode="function", function_name="add")
    run_tests(code, tests, mode="function", function_name="Solution.twoSum", tuple_as_list=True)
    with SandboxPool(progress=True) as pool:                            # hundreds of (program, tests) jobs
        results = pool.run_batches([TestBatch(code, tests, mode="function", function_name="f", atol=1e-6), ...])
    results[0].fraction_passed, results[0].all_passed, results[0].tests[0].status

What a program gets (details in `isolation.py`): uid 65534 in new user, PID, network, IPC, UTS
and cgroup namespaces; no network at all; a read-only file system of /usr, /bin, /lib*, the
interpreter's prefix, a minimal /dev and /sandbox (its own source); /tmp, a `scratch_mb` tmpfs,
as the only writable place; an empty environment (PATH, HOME=/tmp, LANG); rlimits on address
space, CPU time, processes, file size and open files; its output captured up to a cap; and
nothing it starts outlives the call. Where bubblewrap cannot run, every call raises
`SandboxUnavailable` with the cause, and nothing runs: generated code never runs bare.

The API:
- `run_program(code, stdin="", *, timeout_s=10.0, memory_mb=1024, config=None) -> ProgramResult`
  (status in PROGRAM_STATUSES: ok, error, timeout, memory, output_limit; stdout, stderr,
  returncode, wall_s).
- `run_tests(code, tests, *, config=None, **TestBatch fields) -> BatchResult`, or
  `run_batch(TestBatch(...), config)`: the tests run in ONE sandbox start, judged by a trusted
  driver; per-test `TestResult` (status in TEST_STATUSES: passed, failed, timeout, error,
  skipped; seconds; message; output with collect_outputs); the batch's `status` (ok, timeout,
  error), `fraction_passed`, `all_passed`. A `TestCase` without `expected` (NOT_CHECKED) only
  runs, which with `collect_outputs=True` records reference outputs (e.g. a canonical solution's
  return values and `seconds`, from which EvalPlus-style per-input limits follow).
- `SandboxPool(workers=None, *, config=None, progress=False)`: `run_batches`, `run_programs`,
  `map`; results in input order.
- `SandboxConfig`: output cap, process/file/open-file limits, scratch size, `site_packages`,
  the bwrap binary (or $PROGRPO_BWRAP).
- `ensure_available(config)` raises SandboxUnavailable; `sandbox_problem(config)` returns the
  reason or None (both check once and cache).
- `compare.values_equal`, `compare.stdout_matches`: the comparison rules the driver applies.
"""

from progrpo_eval.sandbox.batch import (
    BATCH_STATUSES,
    NOT_CHECKED,
    TEST_STATUSES,
    BatchResult,
    TestBatch,
    TestCase,
    TestResult,
    run_batch,
    run_tests,
)
from progrpo_eval.sandbox.execution import ensure_available, sandbox_problem
from progrpo_eval.sandbox.isolation import SandboxConfig, SandboxError, SandboxUnavailable
from progrpo_eval.sandbox.pool import SandboxPool, default_workers
from progrpo_eval.sandbox.program import PROGRAM_STATUSES, ProgramResult, run_program

__all__ = [
    "BATCH_STATUSES",
    "NOT_CHECKED",
    "PROGRAM_STATUSES",
    "TEST_STATUSES",
    "BatchResult",
    "ProgramResult",
    "SandboxConfig",
    "SandboxError",
    "SandboxPool",
    "SandboxUnavailable",
    "TestBatch",
    "TestCase",
    "TestResult",
    "default_workers",
    "ensure_available",
    "run_batch",
    "run_program",
    "run_tests",
    "sandbox_problem",
]
