"""Code benchmarks: HumanEval+, LiveCodeBench and CodeForces, scored by the "code" scorer.

Each row becomes a `Problem` whose metadata holds its tests as `progrpo_eval.scoring.code_tasks`
describes; the gold is the reference program where there is one (HumanEval+), else "".

Decisions:
- Prompts. The paper uses the model's chat template and no task-specific prompt. A program still
  needs its interface stated, so each question ends with one neutral line saying how the program
  is run, by problem type: stdin/stdout ("reads the input from standard input ..."), a LeetCode
  starter code to complete (kept as given), or a HumanEval function to complete (its signature
  and docstring in a ```python block); the family instruction (`INSTRUCTIONS["code"]`) then
  asks for one ```python block.
- HumanEval+ (EvalPlus release v0.1.10 offline; Hub `evalplus/humanevalplus`): function mode on
  the entry point, expected outputs from the canonical solution (`scoring.code_reference`). The
  Hub copy folds base and plus inputs into one `inputs = [...]` literal inside its `test` code:
  read with `ast.literal_eval` (never executed), all counted as plus tests, no base set.
- LiveCodeBench (Hub `livecodebench/code_generation_lite`): `func_name` in the row's metadata
  makes a problem functional (`class Solution`, as LiveCodeBench decides); each functional test
  input is one JSON value per line. Selection: a release (release_vN = test.jsonl ... testN.jsonl)
  and a contest-date window, both ends inclusive. The default, `livecodebench`, is release_v5
  with 2024-08-01 ... 2025-02-01: the window DeepCoder reports as "LiveCodeBench v5" (279
  problems), the code-RL setup the paper's R1-Distill recipe follows (DeepCoder's train split);
  the paper states no window. `livecodebench_v1` ... `_v6` are the whole releases. Other windows:
  `register(livecodebench_benchmark(name, release, start, end))`. Offline, the file
  `livecodebench_<release>.jsonl` holds the release's rows (the Hub files concatenated).
- CodeForces offline is DeepCoder's 408-problem test set (statements with the time and memory
  limits written in, tests as a list or a Python literal string, no contest ids); the Hub source is
  open-r1/codeforces (its test split; statement fields, `official_tests` or else the examples,
  contest id and index).
  Both are judged as DeepCoder judges them, with LiveCodeBench's stdin/stdout harness and its 6 s
  per test, not the statement's limit (kept in metadata); problems that need a special checker
  or interaction are judged by plain output comparison there too.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from typing import Any

from .code_sources import (
    LCB_HUB_ID,
    LCB_RELEASES,
    decode_lcb_tests,
    fetch_lcb_release,
    literal_tests,
    read_gzip_jsonl,
    read_json_list,
    windowed_jsonl_reader,
)
from .registry import Benchmark, Problem, RowContext, RowError, register, require

STDIO_FORMAT = "The program reads the input from standard input and writes the answer to standard output."
STARTER_FORMAT = "Complete this starter code (keep the class and method names):"
FUNCTION_FORMAT = "Complete this Python function:"
LCB_DEFAULT_WINDOW = ("release_v5", "2024-08-01", "2025-02-01")
LCB_OPTIONS = {"per_test_timeout_s": 6.0}
_STATEMENT_LIMIT = re.compile(r"Time Limit:\s*([\d.]+)\s*(ms|s|seconds?)", re.IGNORECASE)
_MEMORY_LIMIT = re.compile(r"Memory Limit:\s*([\d.]+)\s*MB", re.IGNORECASE)


def stdio_question(statement: str) -> str:
    return f"{statement.strip()}\n\n{STDIO_FORMAT}"


def fenced(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


# --- HumanEval+ ----------------------------------------------------------------------------------------------


def literal_assignment(source: str, name: str) -> Any:
    """The literal value assigned to `name` anywhere in `source` (ast.literal_eval; nothing is run)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise RowError(f"test code does not parse ({error.msg})") from error
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except (ValueError, SyntaxError, RecursionError) as error:
                raise RowError(f"`{name}` in the test code is not a literal") from error
    raise RowError(f"no `{name} = ...` in the test code")


def parse_humaneval_plus(row: Mapping[str, Any], context: RowContext) -> Problem:
    prompt = str(require(row, "prompt"))
    entry_point = str(require(row, "entry_point"))
    program = prompt + str(require(row, "canonical_solution"))
    if "plus_input" in row:
        base, plus = list(require(row, "base_input")), list(require(row, "plus_input"))
    else:  # the Hub copy: every input in the test code's `inputs` literal
        base, plus = None, list(literal_assignment(str(require(row, "test")), "inputs"))
    if not plus or not all(isinstance(inputs, list) for inputs in plus + (base or [])):
        raise RowError("inputs must be a non-empty list of argument lists")
    metadata = {
        "judge": "evalplus",
        "mode": "function",
        "function_name": entry_point,
        "task_id": str(require(row, "task_id")),
        "reference_program": program,
        "base_input": base,
        "plus_input": plus,
        "atol": float(row.get("atol") or 0.0),
    }
    question = f"{FUNCTION_FORMAT}\n{fenced(prompt)}"
    return Problem(context.problem_id(row, "task_id"), question, program, metadata=metadata)


# --- LiveCodeBench ----------------------------------------------------------------------------------------------


def _json_field(row: Mapping[str, Any], name: str, default: Any) -> Any:
    value = row.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise RowError(f"field {name!r} is not JSON ({error.msg})") from error
    return value


def lcb_tests(row: Mapping[str, Any], functional: bool) -> list[dict[str, Any]]:
    """Public then hidden tests; functional inputs decoded from JSON lines, outputs from JSON."""
    tests = []
    for name in ("public_test_cases", "private_test_cases"):
        field = row.get(name) or "[]"
        try:
            tests.extend(decode_lcb_tests(field) if isinstance(field, str) else list(field))
        except ValueError as error:
            raise RowError(f"{name}: {error}") from error
    if not tests:
        raise RowError("no tests")
    if not functional:
        return [{"input": str(test["input"]), "output": str(test["output"])} for test in tests]
    try:
        return [
            {
                "input": [json.loads(line) for line in str(test["input"]).split("\n")],
                "output": json.loads(test["output"]),
            }
            for test in tests
        ]
    except (KeyError, json.JSONDecodeError) as error:
        raise RowError(f"functional tests are not JSON lines ({error})") from error


def parse_livecodebench(row: Mapping[str, Any], context: RowContext) -> Problem:
    statement = str(require(row, "question_content"))
    function_name = _json_field(row, "metadata", {}).get("func_name")
    starter = str(row.get("starter_code") or "")
    tests = lcb_tests(row, functional=function_name is not None)
    if function_name is not None:
        question = f"{statement.strip()}\n\n{STARTER_FORMAT}\n{fenced(starter)}"
        metadata: dict[str, Any] = {"judge": "lcb", "mode": "function", "function_name": str(function_name)}
    else:
        question = stdio_question(statement)
        metadata = {"judge": "lcb", "mode": "stdio"}
    metadata.update(
        tests=tests,
        difficulty=row.get("difficulty"),
        platform=row.get("platform"),
        contest_id=row.get("contest_id"),
        contest_date=row.get("contest_date"),
        title=row.get("question_title"),
    )
    return Problem(context.problem_id(row, "question_id"), question, "", metadata=metadata)


def livecodebench_benchmark(name: str, release: str, start: str | None, end: str | None) -> Benchmark:
    """A LiveCodeBench declaration: `release` ("release_v1" ... "release_v6"), contest dates in [start, end]."""
    if release not in LCB_RELEASES:
        raise ValueError(f"unknown LiveCodeBench release {release!r}; known: {', '.join(LCB_RELEASES)}")
    window = f"{start or 'start'} .. {end or 'end'}"
    return Benchmark(
        name=name,
        display_name="LiveCodeBench",
        family="code",
        scorer="code",
        hub_id=LCB_HUB_ID,
        hub_config=release,
        split="test",
        offline_file=f"livecodebench_{release}.jsonl",
        parse_row=parse_livecodebench,
        scorer_options=dict(LCB_OPTIONS),
        read_rows=windowed_jsonl_reader(start, end),
        fetch_rows=lambda benchmark: fetch_lcb_release(release, start, end),
        description=f"LiveCodeBench code generation, {release}, contest dates {window} (inclusive)",
    )


# --- CodeForces -------------------------------------------------------------------------------------------------


def statement_limits(statement: str) -> tuple[float | None, float | None]:
    """(time limit in seconds, memory limit in MB) as written in a DeepCoder statement, else None."""
    time_match, memory_match = _STATEMENT_LIMIT.search(statement), _MEMORY_LIMIT.search(statement)
    seconds = None
    if time_match:
        seconds = float(time_match.group(1)) / (1000.0 if time_match.group(2).lower() == "ms" else 1.0)
    return seconds, float(memory_match.group(1)) if memory_match else None


def _stdio_tests(tests: list[dict[str, Any]]) -> list[dict[str, str]]:
    try:
        return [{"input": str(test["input"]), "output": str(test["output"])} for test in tests]
    except KeyError as error:
        raise RowError(f"a test without {error}") from error


def codeforces_hub_statement(row: Mapping[str, Any]) -> str:
    """open-r1/codeforces' fields in DeepCoder's statement layout."""
    parts = [str(row.get("title") or ""), str(row.get("description") or "")]
    for label, field in (("Input Format", "input_format"), ("Output Format", "output_format"), ("Note", "note")):
        if row.get(field):
            parts.append(f"{label}:\n{row[field]}")
    for number, example in enumerate(row.get("examples") or [], start=1):
        parts.append(f"Example {number} input:\n{example['input']}\nExample {number} output:\n{example['output']}")
    if row.get("time_limit"):
        parts.append(f"Time Limit: {float(row['time_limit']) * 1000:g} ms")
    if row.get("memory_limit"):
        parts.append(f"Memory Limit: {float(row['memory_limit']):g} MB")
    return "\n\n".join(part for part in parts if part)


def parse_codeforces(row: Mapping[str, Any], context: RowContext) -> Problem:
    if "official_tests" in row:  # open-r1/codeforces
        statement = codeforces_hub_statement(row)
        tests = _stdio_tests(list(row.get("official_tests") or row.get("examples") or []))  # examples: no official
        contest = {
            "contest_id": row.get("contest_id"),
            "index": row.get("index"),
            "rating": row.get("rating"),
            "tags": list(row.get("tags") or []),
        }
    else:  # DeepCoder's copy
        statement = str(require(row, "problem"))
        try:
            tests = _stdio_tests(literal_tests(require(row, "tests")))
        except ValueError as error:
            raise RowError(str(error)) from error
        contest = {"contest_id": row.get("contest_id"), "index": row.get("index"), "rating": row.get("rating")}
    if not tests:
        raise RowError("no tests")
    seconds, megabytes = statement_limits(statement)
    metadata = {
        "judge": "lcb",
        "mode": "stdio",
        "tests": tests,
        "statement_time_limit_s": seconds,
        "statement_memory_limit_mb": megabytes,
        **contest,
    }
    return Problem(context.problem_id(row, "id"), stdio_question(statement), "", metadata=metadata)


HUMANEVAL_PLUS = register(
    Benchmark(
        name="humaneval_plus",
        display_name="HumanEval+",
        family="code",
        scorer="code",
        hub_id="evalplus/humanevalplus",
        hub_config=None,
        split="test",
        offline_file="humanevalplus.jsonl.gz",
        parse_row=parse_humaneval_plus,
        read_rows=read_gzip_jsonl,
        scorer_options={"min_time_limit_s": 1.0, "gt_time_limit_factor": 4.0},
        description="HumanEval+ (EvalPlus v0.1.10), 164 functions; base and plus tests, EvalPlus's time limits",
    )
)
LIVECODEBENCH = register(livecodebench_benchmark("livecodebench", *LCB_DEFAULT_WINDOW))
LIVECODEBENCH_RELEASES = [
    register(livecodebench_benchmark(f"livecodebench_v{n}", f"release_v{n}", None, None)) for n in range(1, 7)
]
CODEFORCES = register(
    Benchmark(
        name="codeforces",
        display_name="CodeForces",
        family="code",
        scorer="code",
        hub_id="open-r1/codeforces",
        hub_config=None,
        split="test",
        offline_file="codeforces_deepcoder.json",
        parse_row=parse_codeforces,
        read_rows=read_json_list,
        scorer_options=dict(LCB_OPTIONS),
        description="CodeForces stdin/stdout problems (offline: DeepCoder's 408-problem test set); pass rates, and a "
        "rating estimate given contest standings (PROGRPO_CF_STANDINGS)",
    )
)
