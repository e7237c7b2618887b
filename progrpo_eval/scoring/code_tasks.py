"""A code problem's tests as one plan (`CodeTask`), and the sandbox batch that runs a program on them.

What a problem carries (`Problem.metadata`, set by `progrpo_eval.benchmarks.code`):
- "judge": "evalplus" (HumanEval+) or "lcb" (LiveCodeBench, CodeForces; the default);
- "mode": "stdio" (a program reading stdin) or "function" (a function to call);
- "function_name": the function (HumanEval+: the entry point; LiveCodeBench: the method of
  `class Solution`, or a module-level function when the program has no such class, as there);
- lcb: "tests", a list of {"input", "output"} (stdio: texts; function: the argument list and the
  return value, already decoded from LiveCodeBench's JSON lines);
- evalplus: "task_id", "reference_program" (prompt + canonical solution), "base_input" (None
  where the source has no base set), "plus_input", "atol".

A problem without "judge" (a training row from a file or the Hub, e.g. DeepCoder's train split)
is judged on the tests in its gold: DeepCoder's `tests` field as JSON (`metadata_from_gold`).

Decisions:
- LiveCodeBench runs every program after its `import_string` (`LCB_PRELUDE`: the usual standard
  library modules star-imported, a recursion limit of 50,000); DeepCoder's reward does the same (it
  is LiveCodeBench's harness), so programs that use `deque` without importing it pass there and
  here. HumanEval+ programs run as written, as in EvalPlus.
- Time limits. lcb: `per_test_timeout_s` per test (LiveCodeBench's and DeepCoder's 6 s; stdio
  limits include the interpreter's start, about 15 ms). evalplus: max(min_time_limit_s,
  gt_time_limit_factor x reference time) per input (EvalPlus's defaults 1.0 s and 4.0), and each
  test set (base, plus) at most min(60, sum of its limits) + 1 s, as EvalPlus's per-set timeout,
  plus gt_time_limit_factor x the reference batch's wall time for the whole program: EvalPlus
  compares in the process, while here values cross the sandbox wall, which for HumanEval+'s
  largest outputs (12 MB) takes seconds that are not the program's.
- `stop_at_first_failure` (default): tests after the first failure are not run and count as not
  passed, as EvalPlus's default fast check and LiveCodeBench do; partial credit then measures how
  far a program got. False runs every test (the share passed, slower on wrong programs).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from progrpo_eval.problem import Problem
from progrpo_eval.sandbox import NOT_CHECKED, TestBatch, TestCase
from progrpo_eval.scoring.code_reference import Reference

# LiveCodeBench's `import_string` (lcb_runner/evaluation/testing_util.py), put before every program it runs.
LCB_PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\nfrom heapq import *\n"
    "from bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\nfrom statistics import *\n"
    "from itertools import *\nfrom functools import *\nfrom operator import *\nfrom io import *\nfrom sys import *\n"
    "from json import *\nfrom builtins import *\nfrom typing import *\nimport string\nimport re\nimport datetime\n"
    "import collections\nimport heapq\nimport bisect\nimport copy\nimport math\nimport random\nimport statistics\n"
    "import itertools\nimport functools\nimport operator\nimport io\nimport sys\nimport json\n"
    "sys.setrecursionlimit(50000)\n"
)
EVALPLUS_SET_TIMEOUT_CAP_S = 60.0  # EvalPlus: EVALPLUS_TIMEOUT_PER_TASK
_STARTER_METHOD = re.compile(r"^[ \t]+def[ \t]+(\w+)[ \t]*\([ \t]*self\b", re.MULTILINE)


class TaskError(ValueError):
    """A problem whose tests cannot be run (malformed metadata, no reference outputs); its samples score "error"."""


@dataclass(frozen=True)
class CodeTask:
    judge: str  # "evalplus" | "lcb"
    mode: str  # "stdio" | "function"
    function_name: str | None
    inputs: tuple[Any, ...]
    expected: tuple[Any, ...]
    time_limits: tuple[float, ...]
    num_base: int | None = None  # evalplus: the first num_base tests are the base set (None: no base set)
    atol: float = 0.0
    batch_timeout_s: float | None = None


def lcb_task(metadata: dict[str, Any], per_test_timeout_s: float) -> CodeTask:
    tests = metadata.get("tests")
    if not tests:
        raise TaskError("the problem has no tests")
    mode = metadata.get("mode", "stdio")
    if mode == "function" and not metadata.get("function_name"):
        raise TaskError("a functional problem without a function name")
    inputs = tuple(test["input"] for test in tests)
    expected = tuple(test["output"] for test in tests)
    return CodeTask("lcb", mode, metadata.get("function_name"), inputs, expected, (per_test_timeout_s,) * len(tests))


def evalplus_task(
    metadata: dict[str, Any], reference: Reference, min_time_limit_s: float, gt_time_limit_factor: float
) -> CodeTask:
    if reference.failure:
        raise TaskError(reference.failure)
    base = metadata.get("base_input")
    num_base = None if base is None else len(base)
    inputs = tuple(base or ()) + tuple(metadata["plus_input"])
    limits = tuple(max(min_time_limit_s, gt_time_limit_factor * seconds) for seconds in reference.seconds)
    sets = [limits[:num_base], limits[num_base:]] if num_base is not None else [limits]
    timeout = sum(min(EVALPLUS_SET_TIMEOUT_CAP_S, sum(part)) + 1.0 for part in sets if part)
    timeout += gt_time_limit_factor * reference.wall_s  # the harness's own time (sandbox start, value transfers)
    return CodeTask(
        "evalplus",
        "function",
        metadata["function_name"],
        inputs,
        reference.outputs,
        limits,
        num_base=num_base,
        atol=float(metadata.get("atol") or 0.0),
        batch_timeout_s=timeout,
    )


def _stdio_tests(inputs: Sequence[Any], outputs: Sequence[Any]) -> list[dict[str, Any]]:
    tests = []
    for test_input, output in zip(inputs, outputs):
        if isinstance(test_input, list):
            test_input = "\n".join(map(str, test_input))
        if isinstance(output, list):
            output = "\n".join(map(str, output))
        tests.append({"input": str(test_input), "output": str(output)})
    return tests


def _function_name_from_question(question: str) -> str | None:
    """The method of the starter code's `class Solution` shown in the question (the last one)."""
    if "class Solution" not in question:
        return None
    names = _STARTER_METHOD.findall(question[question.rfind("class Solution") :])
    return names[-1] if names else None


def metadata_from_gold(problem: Problem) -> dict[str, Any]:
    """Code metadata from a training row's gold: DeepCoder's `tests` (JSON, or a Python literal). Supported shapes:

    - a list of {"input", "output", "testtype": "stdin"} (LiveCodeBench rows) or "type": "stdin_stdout"
      (PrimeIntellect rows), or without a type: stdin/stdout tests;
    - a list with "testtype": "functional": LiveCodeBench's JSON-lines arguments; the method name is
      the test's "fn_name", else the metadata's "function_name", else the `class Solution` method of
      the starter code in the question;
    - {"inputs": [...], "outputs": [...]} without "fn_name" (TACO rows): stdin/stdout tests.
    Anything else (PrimeIntellect's function calls, TACO's call-based rows) raises TaskError.
    """
    try:
        tests = json.loads(problem.gold)
    except (json.JSONDecodeError, TypeError):
        try:  # a Hub row whose tests arrived parsed, then written with str(): a Python literal
            tests = ast.literal_eval(problem.gold)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as error:
            raise TaskError(f"the gold is not a JSON (or literal) test list ({type(error).__name__})") from error
    if isinstance(tests, dict):
        if tests.get("fn_name") or not isinstance(tests.get("inputs"), list):
            raise TaskError("unsupported test format: call-based {inputs, outputs, fn_name}")
        return {"judge": "lcb", "mode": "stdio", "tests": _stdio_tests(tests["inputs"], tests.get("outputs", []))}
    if not isinstance(tests, list) or not tests or not all(isinstance(test, dict) for test in tests):
        raise TaskError("the gold is not a non-empty list of tests")
    kinds = {test.get("testtype") or test.get("type") or "stdin" for test in tests}
    if kinds <= {"stdin", "stdin_stdout"}:
        return {
            "judge": "lcb",
            "mode": "stdio",
            "tests": _stdio_tests([t.get("input", "") for t in tests], [t.get("output", "") for t in tests]),
        }
    if kinds == {"functional"}:
        name = (
            tests[0].get("fn_name")
            or problem.metadata.get("function_name")
            or _function_name_from_question(problem.question)
        )
        if not name:
            raise TaskError("functional tests without a function name")
        try:
            decoded = [
                {
                    "input": [json.loads(line) for line in test["input"].split("\n")],
                    "output": json.loads(test["output"]),
                }
                for test in tests
            ]
        except (KeyError, AttributeError, json.JSONDecodeError) as error:
            raise TaskError(f"functional tests that are not JSON lines ({error})") from error
        return {"judge": "lcb", "mode": "function", "function_name": name, "tests": decoded}
    raise TaskError(f"unsupported test types {sorted(kinds)}")


def program_function_name(task: CodeTask, code: str) -> str | None:
    """LiveCodeBench calls `Solution().method` when the program has `class Solution`, else the function."""
    if task.mode != "function":
        return None
    if task.judge == "lcb" and "class Solution" in code:
        return f"Solution.{task.function_name}"
    return task.function_name


def program_batch(task: CodeTask, code: str, *, memory_mb: int, stop_at_first_failure: bool) -> TestBatch:
    """One sandbox call: `code` on every test input, outputs collected for the judge.

    lcb tests also carry their expected output, so the sandbox can stop at the first failure by its
    own (more lenient) comparison; the verdict is the judge's (`code_judge`).
    """
    if task.judge == "lcb":
        tests = [
            TestCase(test_input, expected, limit)
            for test_input, expected, limit in zip(task.inputs, task.expected, task.time_limits)
        ]
        program = LCB_PRELUDE + code
    else:
        tests = [
            TestCase(list(test_input), NOT_CHECKED, limit) for test_input, limit in zip(task.inputs, task.time_limits)
        ]
        program = code
    return TestBatch(
        program,
        tests,
        mode=task.mode,
        function_name=program_function_name(task, code),
        timeout_s=task.batch_timeout_s,
        memory_mb=memory_mb,
        stop_on_first_failure=stop_at_first_failure,
        atol=0.0,
        rtol=0.0,
        tuple_as_list=task.judge == "lcb",
        collect_outputs=True,
    )
