"""The "code" scorer: extraction, the benchmarks' output rules, hand-written right and wrong programs in the sandbox."""

from __future__ import annotations

import json

import pytest

from progrpo_eval.problem import Problem
from progrpo_eval.sandbox import sandbox_problem
from progrpo_eval.scoring import ScorerSettings, build_scorer, score_samples
from progrpo_eval.scoring.code_extract import extract_program
from progrpo_eval.scoring.code_judge import evalplus_verdicts, lcb_stdout_matches, lcb_value_matches
from progrpo_eval.scoring.code_tasks import TaskError, metadata_from_gold


def block(code: str, tag: str = "python") -> str:
    return f"Here it is:\n```{tag}\n{code}\n```\n"


EXTRACTION_CASES = [
    # (text, function name, expected program)
    (block("print(1)"), None, "print(1)"),
    (block("print(1)") + block("print(2)"), None, "print(2)"),  # the last block
    (block("print(1)") + block("int main() {}", "cpp"), None, "print(1)"),  # python beats another language
    (block("print(1)", "") + block("print(2)", "Py"), None, "print(2)"),  # tagged python beats untagged
    (block("print(1)", "") + "and `inline` code", None, "print(1)"),
    (block("int main() {}", "cpp"), None, "int main() {}"),  # only another language: run it (and fail)
    (block("def f(x):\n    return x") + block("print(f(2))"), "f", "def f(x):\n    return x"),  # defining block wins
    (
        block("class Solution:\n    def twoSum(self, a):\n        return a") + block("print(1)"),
        "Solution.twoSum",
        "class Solution:\n    def twoSum(self, a):\n        return a",
    ),
    (block("print(1)") + "```python\nprint(2)\n", None, "print(1)"),  # an unclosed block is skipped
    ("````python\nx = '```'\n````", None, "x = '```'"),  # a longer fence holds a shorter one
    ("no code at all", None, None),
    ("```python\nprint('cut off", None, None),
]


@pytest.mark.parametrize(("text", "function_name", "expected"), EXTRACTION_CASES)
def test_extract_program(text, function_name, expected):
    assert extract_program(text, function_name) == expected


EVALPLUS_CASES = [
    # (outputs, expected, inputs, atol, entry point, verdicts): EvalPlus's unsafe_execute, case by case
    ([3], [3], [[1, 2]], 0.0, "f", [True]),
    ([3.0000001], [3.0], [[1]], 0.0, "f", [True]),  # a float output: atol forced to 1e-6
    ([3.01], [3.0], [[1]], 0.0, "f", [False]),
    ([3], [3.0], [[1]], 0.0, "f", [True]),  # 3 == 3.0 exactly
    ([3.0000001], [3], [[1]], 1e-6, "f", [False]),  # not exact, and float vs int: the type check fails
    ([[1.0, 2.0000001]], [[1.0, 2.0]], [[1]], 0.0, "f", [True]),
    ([[1.0]], [[1.0, 2.0]], [[1]], 1e-6, "f", [False]),  # lengths differ
    (["abc"], [1.0], [[1]], 1e-6, "f", [False]),  # a comparison that raises fails
    # the forced 1e-6 stays for the rest of the set, as in EvalPlus: 5.0000001 vs 5 (ints) then passes
    ([1.0000001, 5.0000001], [1.0, 5.0], [[1], [2]], 0.0, "f", [True, True]),
    ([0.5], [99.0], [[[1.0, -2.0]]], 1e-4, "find_zero", [True]),  # 1 - 2x = 0 at 0.5: the oracle, not the value
    ([0.6], [0.5], [[[1.0, -2.0]]], 1e-4, "find_zero", [False]),
]


@pytest.mark.parametrize(("outputs", "expected", "inputs", "atol", "entry", "verdicts"), EVALPLUS_CASES)
def test_evalplus_rule(outputs, expected, inputs, atol, entry, verdicts):
    assert evalplus_verdicts(outputs, [True] * len(outputs), expected, inputs, atol, entry) == verdicts


def test_evalplus_rule_fails_what_did_not_run():
    assert evalplus_verdicts([3, None], [True, False], [3, 3], [[1], [1]], 0.0, "f") == [True, False]


STDOUT_CASES = [
    ("3\n", "3", True),
    ("  1 2 \n3\n\n", "1 2\n3", True),  # stripped lines
    ("1.0 2", "1 2.00", True),  # Decimal values
    ("0.30000001", "0.3", False),  # no tolerance in LiveCodeBench's rule
    ("1 2 3", "1 2\n3", False),  # the same tokens on other lines: the line counts differ
    ("YES", "yes", False),
    ("1e2", "100", True),
]


@pytest.mark.parametrize(("got", "expected", "matches"), STDOUT_CASES)
def test_lcb_stdout_rule(got, expected, matches):
    assert lcb_stdout_matches(got, expected) is matches


def test_lcb_value_rule():
    assert lcb_value_matches((1, 2), [1, 2])
    assert not lcb_value_matches([(1, 2)], [[1, 2]])  # only the top level is converted, as there
    assert not lcb_value_matches(1.0000001, 1.0)


GOLD_CASES = [
    (json.dumps([{"input": "1\n", "output": "2\n", "testtype": "stdin"}]), "q", "stdio", None),
    (json.dumps([{"input": "1\n", "output": "2\n", "type": "stdin_stdout"}]), "q", "stdio", None),
    (json.dumps({"inputs": ["1\n"], "outputs": ["2\n"]}), "q", "stdio", None),
    (
        json.dumps([{"input": "[1, 2]\n3", "output": "[4]", "testtype": "functional"}]),
        "Solve.\n```python\nclass Solution:\n    def addAll(self, a: list, b: int) -> list:\n```",
        "function",
        "addAll",
    ),
]


@pytest.mark.parametrize(("gold", "question", "mode", "function_name"), GOLD_CASES)
def test_training_rows_bring_their_tests_in_the_gold(gold, question, mode, function_name):
    metadata = metadata_from_gold(Problem("deepcoder/0", question, gold))
    assert (metadata["mode"], metadata.get("function_name")) == (mode, function_name)
    if mode == "function":
        assert metadata["tests"] == [{"input": [[1, 2], 3], "output": [4]}]


@pytest.mark.parametrize(
    "gold",
    [
        "not json",
        "[]",
        json.dumps({"inputs": [], "outputs": [], "fn_name": "f"}),
        json.dumps([{"input": "1", "output": "2", "testtype": "functional"}]),
    ],
)
def test_unsupported_training_tests_are_refused(gold):
    with pytest.raises(TaskError):
        metadata_from_gold(Problem("deepcoder/0", "no starter code", gold))


# --- in the sandbox -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scorer():
    problem = sandbox_problem()
    if problem is not None:
        pytest.fail(f"the sandbox cannot run here: {problem}")
    with build_scorer("code", ScorerSettings(workers=2), per_test_timeout_s=2.0) as code_scorer:
        yield code_scorer


def lcb_problem(tests, function_name=None):
    mode = "function" if function_name else "stdio"
    metadata = {"judge": "lcb", "mode": mode, "tests": tests}
    if function_name:
        metadata["function_name"] = function_name
    return Problem(f"t/{mode}", "q", "", metadata=metadata)


SUM = lcb_problem(
    [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10\n"}, {"input": "-1 1\n", "output": "0\n"}]
)
TWO_SUM = lcb_problem(
    [{"input": [[2, 7, 11, 15], 9], "output": [0, 1]}, {"input": [[3, 2, 4], 6], "output": [1, 2]}],
    function_name="twoSum",
)
TWO_SUM_RIGHT = """
class Solution:
    def twoSum(self, nums, target):
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return (seen[target - x], i)   # a tuple: LiveCodeBench compares it as a list
            seen[x] = i
"""


def judge(scorer, problem, *texts):
    return [sample.result for sample in score_samples(scorer, [problem], [list(texts)], reasoning=False)[0]]


def test_stdio_programs_right_wrong_and_broken(scorer):
    right, wrong, crash, slow, none = judge(
        scorer,
        SUM,
        block("a, b = map(int, input().split())\nprint(a + b)"),
        block("a, b = map(int, input().split())\nprint(a + b if a != 5 else 11)"),
        block("raise SystemExit(3)"),
        block("while True:\n    pass"),
        "I would add the numbers.",
    )
    assert (right.correct, right.status, right.fraction, right.detail) == (True, "ok", 1.0, "pass 3/3")
    assert (wrong.correct, wrong.status, wrong.fraction) == (False, "ok", 1 / 3)
    assert wrong.detail.startswith("fail 1/3; test 1:")
    assert (crash.correct, crash.status) == (False, "ok") and "error" in crash.detail
    assert (slow.correct, slow.status) == (False, "ok") and "timeout" in slow.detail  # the program's fault
    assert (none.correct, none.status, none.extracted) == (False, "no_answer", None)


def test_lcb_prelude_star_imports_like_livecodebench(scorer):
    (result,) = judge(scorer, SUM, block("q = deque(map(int, input().split()))\nprint(sum(q))"))
    assert result.correct, result.detail


def test_functional_programs(scorer):
    right, plain_function, wrong = judge(
        scorer,
        TWO_SUM,
        block(TWO_SUM_RIGHT),
        block("def twoSum(nums, target):\n    return [0, 1]"),  # no class: LiveCodeBench calls the function
        block("class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]"),
    )
    assert right.correct, right.detail
    assert (plain_function.correct, plain_function.fraction) == (False, 0.5)
    assert (wrong.correct, wrong.fraction) == (False, 0.5)
    assert wrong.detail.startswith("fail 1/2; test 1: failed")  # the sandbox's own check stopped it


def test_tests_that_cannot_run_are_an_error_not_a_wrong_answer(scorer):
    metadata = {"judge": "lcb", "mode": "function", "tests": [{"input": [1], "output": 1}]}  # no function name
    broken = Problem("t/broken", "q", "", metadata=metadata)
    (result,) = judge(scorer, broken, block("def f(x):\n    return x"))
    assert (result.correct, result.status) == (False, "error") and "function name" in result.detail


def test_training_problem_judged_from_its_gold(scorer):
    gold = json.dumps([{"input": "2 3\n", "output": "5\n", "testtype": "stdin"}])
    problem = Problem("deepcoder/7", "Add two numbers.", gold)
    right, wrong = judge(scorer, problem, block("print(sum(map(int, input().split())))"), block("print(6)"))
    assert (right.correct, wrong.correct) == (True, False)


def test_stop_at_first_failure_off_measures_the_share_passed():
    with build_scorer("code", ScorerSettings(workers=2), per_test_timeout_s=2.0, stop_at_first_failure=False) as scorer:
        (result,) = judge(scorer, SUM, block("a, b = map(int, input().split())\nprint(a + b if a != 1 else 0)"))
    assert (result.correct, result.fraction) == (False, 2 / 3)


# --- real problems, hand-written solutions ----------------------------------------------------------------------

CODEFORCES_CASES = {
    # problem index in DeepCoder's copy: (a right solution, a wrong one)
    0: (
        "t = int(input())\nfor _ in range(t):\n    x, y = map(int, input().split())\n    print(min(x, y), max(x, y))",
        "t = int(input())\nfor _ in range(t):\n    x, y = map(int, input().split())\n    print(x, y)",
    ),
    3: (
        "for _ in range(int(input())):\n    s = input().strip()\n"
        "    changes = sum(a != b for a, b in zip(s, s[1:]))\n    print(changes + 1 - ('01' in s))",
        "for _ in range(int(input())):\n    s = input().strip()\n    print(sum(a != b for a, b in zip(s, s[1:])) + 1)",
    ),
    5: (
        "import math\nfor _ in range(int(input())):\n    r = int(input())\n    total = 0\n"
        "    for x in range(r + 1):  # points with x >= 0, y >= 1; four rotations cover the ring\n"
        "        need = r * r - x * x\n        y_lo = max(1, math.isqrt(need - 1) + 1 if need > 0 else 0)\n"
        "        y_hi = math.isqrt((r + 1) ** 2 - x * x - 1)\n        total += max(0, y_hi - y_lo + 1)\n"
        "    print(4 * total)",
        "import math\nfor _ in range(int(input())):\n    r = int(input())\n    total = 0\n"
        "    for x in range(r):  # off by one: misses x = r\n"
        "        need = r * r - x * x\n        y_lo = max(1, math.isqrt(need - 1) + 1 if need > 0 else 0)\n"
        "        y_hi = math.isqrt((r + 1) ** 2 - x * x - 1)\n        total += max(0, y_hi - y_lo + 1)\n"
        "    print(4 * total)",
    ),
}


@pytest.mark.parametrize("index", sorted(CODEFORCES_CASES))
def test_codeforces_right_and_wrong(scorer, data_dir, index):
    from progrpo_eval.benchmarks import load_problems

    loaded = load_problems("codeforces", data_dir)
    problem = loaded.problems[index]
    right_code, wrong_code = CODEFORCES_CASES[index]
    with build_scorer("code", ScorerSettings(workers=2), **loaded.benchmark.scorer_options) as benchmark_scorer:
        right, wrong = judge(benchmark_scorer, problem, block(right_code), block(wrong_code))
    assert right.correct, right.detail
    assert not wrong.correct and wrong.status == "ok"


FIND_ZERO_BISECTION = """
import math


def poly(xs, x):
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def find_zero(xs):
    low, high = -1.0, 1.0
    while poly(xs, low) * poly(xs, high) > 0:
        low, high = low * 2.0, high * 2.0
    while high - low > 1e-10:
        middle = (low + high) / 2.0
        if poly(xs, middle) * poly(xs, low) > 0:
            low = middle
        else:
            high = middle
    return low
"""
FIND_ZERO_NEWTON = (
    FIND_ZERO_BISECTION.split("def find_zero")[0]
    + """def find_zero(xs):
    slope = [xs[i] * i for i in range(1, len(xs))]
    x = 0
    for _ in range(1000):
        value = poly(xs, x)
        if abs(value) < 1e-5:
            break
        x = x - value / poly(slope, x)
    return x
"""
)
HUMANEVAL_CASES = {
    # task: [(a complete program, whether EvalPlus counts it correct)]
    "HumanEval/2": [
        ("def truncate_number(number):\n    return number - int(number) + 1e-9", True),  # atol 1e-6
        ("def truncate_number(number):\n    return number - int(number) + 1e-3", False),
    ],
    # find_zero is judged by |poly(xs, root)| <= 1e-4 (EvalPlus's oracle), not by the canonical root. On steep
    # polynomials that is strict: a bisection root 1e-11 from the canonical Newton one fails plus input 104
    # (9450000 + 9x - ... - x^11 near x = 5.9), in EvalPlus as here; the canonical's Newton iteration, retyped, passes.
    "HumanEval/32": [
        (FIND_ZERO_NEWTON, True),
        (FIND_ZERO_BISECTION, False),
        (FIND_ZERO_NEWTON.replace("return x", "return x + 0.01"), False),
    ],
    "HumanEval/53": [
        ("def add(x, y):\n    return x + y", True),
        ("def add(x, y):\n    return float(x + y) + 0.5", False),
    ],
}


def test_humaneval_plus_follows_evalplus_in_the_sandbox(data_dir, tmp_path, monkeypatch):
    from progrpo_eval.benchmarks import load_problems

    monkeypatch.setenv("PROGRPO_CACHE_DIR", str(tmp_path))
    loaded = load_problems("humaneval_plus", data_dir)
    problems = [p for p in loaded.problems if p.metadata["task_id"] in HUMANEVAL_CASES]
    texts = [[block(p.gold)] + [block(code) for code, _ in HUMANEVAL_CASES[p.metadata["task_id"]]] for p in problems]
    with build_scorer("code", ScorerSettings(workers=2), **loaded.benchmark.scorer_options) as humaneval_scorer:
        scored = score_samples(humaneval_scorer, problems, texts, reasoning=False)
    for problem, group in zip(problems, scored):
        expected = [True] + [correct for _, correct in HUMANEVAL_CASES[problem.metadata["task_id"]]]
        assert [s.result.correct for s in group] == expected, [s.result.detail for s in group]
        assert group[0].result.detail.startswith("base: pass") and group[0].result.fraction == 1.0
    assert len(list(tmp_path.glob("evalplus/*.json"))) == 3  # the references are cached
