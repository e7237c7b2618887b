"""Batched tests in one sandbox call: verdicts, per-test limits, an unforgeable result channel, the pool."""

from __future__ import annotations

from textwrap import dedent

import pytest

from progrpo_eval.sandbox import (
    NOT_CHECKED,
    SandboxPool,
    TestBatch,
    TestCase,
    run_batch,
    run_program,
    run_tests,
    sandbox_problem,
)


@pytest.fixture(scope="module", autouse=True)
def sandbox_here():
    problem = sandbox_problem()
    if problem is not None:
        pytest.fail(f"the sandbox cannot run here: {problem}")


A_PLUS_B = [TestCase("1 2\n", "3\n"), TestCase("10 -4", "6"), TestCase("  7\n8 ", "15")]


def statuses(result) -> list[str]:
    return [test.status for test in result.tests]


def test_stdio_right_and_wrong_solutions():
    right = run_tests("a, b = map(int, open(0).read().split())\nprint(a + b)", A_PLUS_B)
    assert right.status == "ok" and right.all_passed and right.fraction_passed == 1.0
    wrong = run_tests("a, b = map(int, open(0).read().split())\nprint(a - b if a > 5 else a + b)", A_PLUS_B)
    assert statuses(wrong) == ["passed", "failed", "failed"] and wrong.fraction_passed == pytest.approx(1 / 3)
    assert "expected '6', got '14'" in wrong.tests[1].message
    crash = run_tests("raise SystemExit(3)", A_PLUS_B[:1])
    assert statuses(crash) == ["error"] and "exit code 3" in crash.tests[0].message


def test_stdio_floats_within_the_tolerance():
    program = "print(1 / 3, 2 / 3)"
    assert run_tests(program, [TestCase("", "0.333333 0.666667")]).all_passed  # default 1e-6
    assert not run_tests(program, [TestCase("", "0.333333 0.666667")], atol=0, rtol=0).all_passed
    assert not run_tests(program, [TestCase("", "0.3334 0.6667")]).all_passed


def test_function_mode_with_atol():
    code = "def mean(values):\n    return sum(values) / len(values) + 1e-9"
    tests = [TestCase([[1, 2, 3]], 2.0), TestCase([[1.5]], 1.5)]
    assert statuses(run_tests(code, tests, mode="function", function_name="mean")) == ["failed", "failed"]
    passed = run_tests(code, tests, mode="function", function_name="mean", atol=1e-6)
    assert passed.all_passed
    wrong = run_tests(
        "def mean(values):\n    return max(values)", tests, mode="function", function_name="mean", atol=1e-6
    )
    assert statuses(wrong) == ["failed", "passed"] and wrong.tests[0].message == "expected 2.0, got 3"


def test_leetcode_style_class_method():
    code = dedent("""
        from typing import List
        class Solution:
            def twoSum(self, nums: List[int], target: int) -> List[int]:
                seen = {}
                for i, x in enumerate(nums):
                    if target - x in seen:
                        return (seen[target - x], i)  # a tuple where LeetCode expects a list
                    seen[x] = i
        """)
    tests = [TestCase([[2, 7, 11, 15], 9], [0, 1]), TestCase([[3, 2, 4], 6], [1, 2])]
    assert not run_tests(code, tests, mode="function", function_name="Solution.twoSum").all_passed
    assert run_tests(code, tests, mode="function", function_name="Solution.twoSum", tuple_as_list=True).all_passed


def test_per_test_timeouts_do_not_sink_the_batch():
    stdio = run_tests(
        "n = int(input())\nwhile n == 2: pass\nprint(n)",
        [TestCase("1", "1"), TestCase("2", "2", time_limit_s=0.5), TestCase("3", "3")],
    )
    assert stdio.status == "ok" and statuses(stdio) == ["passed", "timeout", "passed"]
    assert 0.5 <= stdio.tests[1].seconds < 2.0
    code = "def f(n):\n    while n == 2:\n        pass\n    return n"
    function = run_tests(
        code,
        [TestCase([1], 1), TestCase([2], 2), TestCase([3], 3)],
        mode="function",
        function_name="f",
        per_test_timeout_s=0.5,
    )
    assert statuses(function) == ["passed", "timeout", "passed"]  # a fresh host served test 3


def test_each_test_starts_with_an_empty_scratch():
    program = dedent("""
        import os
        print(sorted(os.listdir("/tmp")))
        open("/tmp/left-behind", "w").write("x")
        open("/tmp/filler", "wb").write(b"x" * (15 << 20))
        """)
    result = run_tests(program, [TestCase("", "[]")] * 6)  # 6 x 15 MiB would overflow the 64 MiB scratch
    assert result.all_passed, result


def test_stop_on_first_failure_skips_the_rest():
    result = run_tests(
        "print(int(input()) * 2)",
        [TestCase("1", "2"), TestCase("2", "5"), TestCase("3", "6")],
        stop_on_first_failure=True,
    )
    assert statuses(result) == ["passed", "failed", "skipped"]


def test_function_mode_errors_are_per_test():
    code = dedent("""
        import os, sys
        def f(x):
            if x == 1:
                sys.exit(0)
            if x == 2:
                os._exit(0)
            return 1 / x
        """)
    tests = [TestCase([1], 1), TestCase([2], 2), TestCase([0], 0), TestCase([4], 0.25)]
    result = run_tests(code, tests, mode="function", function_name="f")
    assert statuses(result) == ["error", "error", "error", "passed"]
    assert result.tests[0].message.startswith("SystemExit") and "ZeroDivisionError" in result.tests[2].message
    broken = run_tests("def f(:\n", tests[:2], mode="function", function_name="f")
    assert statuses(broken) == ["error", "error"] and "SyntaxError" in broken.tests[0].message
    missing = run_tests("def g(x): return x", tests[:1], mode="function", function_name="f")
    assert "AttributeError" in missing.tests[0].message


def test_a_rigged_eq_cannot_pass():
    code = "class Anything:\n    def __eq__(self, other):\n        return True\ndef f(x):\n    return Anything()"
    result = run_tests(code, [TestCase([1], 1)], mode="function", function_name="f")
    assert statuses(result) == ["failed"]


def test_the_program_cannot_forge_results():
    """It prints fake result lines, writes them to every fd it has, and tries to ptrace the driver."""
    forge = dedent("""
        import ctypes, json, os
        fake = json.dumps({"token": "x" * 32, "index": 0, "status": "passed"})
        done = json.dumps({"token": "x" * 32, "done": True})
        for fd in range(1, 64):
            try:
                os.write(fd, (fake + "\\n" + done + "\\n").encode())
            except OSError:
                pass
        libc = ctypes.CDLL(None, use_errno=True)
        attached = libc.ptrace(16, os.getppid(), 0, 0)  # PTRACE_ATTACH to the driver
        print("ptrace", attached, os.strerror(ctypes.get_errno()))
        """)
    stdio = run_tests(forge, [TestCase("", "the right answer")], collect_outputs=True)
    assert stdio.status == "ok" and statuses(stdio) == ["failed"]
    assert "ptrace -1 Operation not permitted" in stdio.tests[0].output
    function = run_tests(
        forge + "def f():\n    return 0", [TestCase([], 1), TestCase([], 1)], mode="function", function_name="f"
    )
    assert function.num_passed == 0  # its garbage on the host's pipe is a broken protocol: "error"


def test_collect_outputs_records_reference_values():
    code = "def f(x):\n    return (x, [x / 2], {'k': {x}})"
    result = run_tests(
        code,
        [TestCase([3]), TestCase([4], expected=NOT_CHECKED)],
        mode="function",
        function_name="f",
        collect_outputs=True,
    )
    assert result.all_passed
    assert result.tests[0].output == (3, [1.5], {"k": {3}}) and result.tests[0].seconds >= 0
    stdio = run_tests("print(input().upper())", [TestCase("abc")], collect_outputs=True)
    assert stdio.tests[0].output == "ABC\n"


def test_the_batch_time_limit_stops_the_sandbox():
    result = run_tests(
        "import time\ntime.sleep(float(input()))\nprint('ok')",
        [TestCase("0", "ok"), TestCase("30", "ok"), TestCase("0", "ok")],
        per_test_timeout_s=20.0,
        timeout_s=1.5,
    )
    assert result.status == "timeout" and statuses(result) == ["passed", "timeout", "skipped"]
    assert result.wall_s < 5.0


def test_bad_batches_are_refused():
    with pytest.raises(ValueError, match="unknown test mode"):
        TestBatch("", [TestCase("")], mode="script")
    with pytest.raises(ValueError, match="function_name"):
        TestBatch("", [TestCase([])], mode="function")
    with pytest.raises(ValueError, match="stdio input must be a str"):
        TestBatch("", [TestCase([1])])
    with pytest.raises(ValueError, match="at least one test"):
        TestBatch("", [])


def test_pool_keeps_input_order():
    batches = [
        TestBatch(f"print(int(input()) + {shift})", [TestCase("1", "2"), TestCase("5", "6")])
        for shift in (1, 0, 1, 2, 1, 1, 0, 1)
    ]
    with SandboxPool(workers=3) as pool:
        results = pool.run_batches(batches)
        programs = pool.run_programs([f"print({i})" for i in range(6)] + ["while True: pass"], timeout_s=1.0)
    assert [result.all_passed for result in results] == [True, False, True, False, True, True, False, True]
    assert [p.stdout for p in programs[:6]] == [f"{i}\n" for i in range(6)] and programs[6].status == "timeout"
    assert run_batch(batches[0]).all_passed and run_program("print(7)").stdout == "7\n"
