"""Code benchmarks: loading (offline copies, LiveCodeBench files made here), safe decoding, windows, the rating."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zlib
from pathlib import Path

import pandas as pd
import pytest

from progrpo_eval.benchmarks import RowContext, describe_benchmarks, get_benchmark, list_benchmarks, load_problems
from progrpo_eval.benchmarks.cf_rating import (
    StandingsDir,
    contest_rating,
    estimate_rating,
    rating_from_percentile,
    split_problem_id,
)
from progrpo_eval.benchmarks.code import LCB_DEFAULT_WINDOW, livecodebench_benchmark
from progrpo_eval.benchmarks.code_sources import UnsafePickle, decode_lcb_tests, encode_lcb_tests, literal_tests
from progrpo_eval.benchmarks.code_summary import STANDINGS_ENV, benchmark_summary_extra

CODE_BENCHMARKS = ["humaneval_plus", "livecodebench", *(f"livecodebench_v{n}" for n in range(1, 7)), "codeforces"]


def test_code_benchmarks_are_registered_with_the_code_scorer():
    assert [name for name in list_benchmarks() if get_benchmark(name).family == "code"] == CODE_BENCHMARKS
    for name in CODE_BENCHMARKS:
        assert get_benchmark(name).scorer == "code"
    assert get_benchmark("livecodebench").hub_config == LCB_DEFAULT_WINDOW[0] == "release_v5"


def test_offline_copies(data_dir):
    humaneval = load_problems("humaneval_plus", data_dir)
    assert humaneval.num_rows == len(humaneval.problems) == 164
    first = humaneval.problems[0]
    assert first.problem_id == "humaneval_plus/HumanEval/0"
    assert first.metadata["function_name"] == "has_close_elements" and first.metadata["judge"] == "evalplus"
    assert len(first.metadata["base_input"]) == 7 and len(first.metadata["plus_input"]) > 100
    assert "def has_close_elements" in first.question and first.question.startswith("Complete this Python function")
    assert {p.metadata["atol"] for p in humaneval.problems} == {0.0, 1e-6, 1e-4}
    codeforces = load_problems("codeforces", data_dir)
    assert codeforces.num_rows == len(codeforces.problems) == 408
    assert codeforces.problems[0].problem_id == "codeforces/0"
    assert codeforces.problems[0].metadata["tests"][0]["output"].startswith("1 9\n4 8")
    assert codeforces.problems[0].metadata["statement_time_limit_s"] == 1.0
    assert codeforces.problems[0].question.endswith("writes the answer to standard output.")
    sizes = {entry["name"]: entry["size"] for entry in describe_benchmarks(data_dir)}
    assert (sizes["humaneval_plus"], sizes["codeforces"], sizes["livecodebench"]) == (164, 408, None)


def test_codeforces_tests_as_a_literal_string_are_read_without_evaluating():
    assert literal_tests("[{'input': '1\\n', 'output': '2'}]") == [{"input": "1\n", "output": "2"}]
    with pytest.raises(ValueError, match="not a Python literal"):
        literal_tests("[__import__('os').system('touch /tmp/pwned')]")
    row = {"problem": "Add.\n\nTime Limit: 2000 ms\nMemory Limit: 256 MB", "tests": "[{'input': '1 2', 'output': '3'}]"}
    problem = get_benchmark("codeforces").parse_row(row, RowContext("codeforces", 4))
    assert problem.metadata["tests"] == [{"input": "1 2", "output": "3"}]
    assert (problem.metadata["statement_time_limit_s"], problem.metadata["statement_memory_limit_mb"]) == (2.0, 256.0)


def test_hub_shaped_rows():
    humaneval = {
        "task_id": "HumanEval/9",
        "prompt": "def f(x):\n",
        "canonical_solution": "    return x\n",
        "entry_point": "f",
        "test": "def check(candidate):\n    inputs = [[1], [[2, 3]]]\n    results = [1, [2, 3]]\n",
    }
    problem = get_benchmark("humaneval_plus").parse_row(humaneval, RowContext("humaneval_plus", 0))
    assert (problem.metadata["base_input"], problem.metadata["plus_input"]) == (None, [[1], [[2, 3]]])
    codeforces = {
        "id": "2024A",
        "contest_id": 2024,
        "index": "A",
        "title": "T",
        "description": "D",
        "rating": 800,
        "official_tests": [{"input": "1", "output": "2"}],
        "time_limit": 1.0,
        "memory_limit": 256,
    }
    problem = get_benchmark("codeforces").parse_row(codeforces, RowContext("codeforces", 0))
    assert problem.problem_id == "codeforces/2024A"
    assert (problem.metadata["contest_id"], problem.metadata["index"], problem.metadata["rating"]) == (2024, "A", 800)
    assert "Time Limit: 1000 ms" in problem.question


# --- LiveCodeBench, from files made here --------------------------------------------------------------------


def lcb_row(question_id, date, tests, *, func_name=None, encoded=True, difficulty="easy"):
    private = encode_lcb_tests(tests[1:]) if encoded else json.dumps(tests[1:])
    return {
        "question_title": f"Q{question_id}",
        "question_content": f"Problem {question_id}.",
        "platform": "atcoder",
        "question_id": question_id,
        "contest_id": "abc1",
        "contest_date": date,
        "difficulty": difficulty,
        "starter_code": "class Solution:\n    def f(self, x: int) -> int:\n        " if func_name else "",
        "public_test_cases": json.dumps(tests[:1]),
        "private_test_cases": private,
        "metadata": json.dumps({"func_name": func_name} if func_name else {}),
    }


STDIN_TESTS = [
    {"input": "1\n", "output": "2\n", "testtype": "stdin"},
    {"input": "5\n", "output": "6\n", "testtype": "stdin"},
]
FUNCTIONAL_TESTS = [
    {"input": "3", "output": "6", "testtype": "functional"},
    {"input": "[1, 2]", "output": "[2, 4]", "testtype": "functional"},
]


def write_lcb(directory: Path, rows, release="release_v5") -> Path:
    path = directory / f"livecodebench_{release}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_livecodebench_offline_file_window_and_both_problem_types(tmp_path):
    write_lcb(
        tmp_path,
        [
            lcb_row("early", "2024-07-31T00:00:00", STDIN_TESTS),  # before the window
            lcb_row("first", "2024-08-01T00:00:00", STDIN_TESTS, difficulty="medium"),
            lcb_row("func", "2024-12-01T00:00:00", FUNCTIONAL_TESTS, func_name="f", encoded=False),
            lcb_row("last", "2025-02-01T00:00:00", STDIN_TESTS),  # the end is inclusive, as LiveCodeBench's --end_date
            lcb_row("late", "2025-02-02T00:00:00", STDIN_TESTS),
        ],
    )
    loaded = load_problems("livecodebench", tmp_path)
    assert [p.problem_id for p in loaded.problems] == [f"livecodebench/{name}" for name in ("first", "func", "last")]
    stdin, functional, _ = loaded.problems
    assert stdin.metadata["mode"] == "stdio" and stdin.metadata["tests"] == [
        {"input": "1\n", "output": "2\n"},
        {"input": "5\n", "output": "6\n"},
    ]
    assert stdin.metadata["difficulty"] == "medium"
    assert functional.metadata["mode"] == "function" and functional.metadata["function_name"] == "f"
    assert functional.metadata["tests"] == [{"input": [3], "output": 6}, {"input": [[1, 2]], "output": [2, 4]}]
    assert "class Solution" in functional.question
    everything = load_problems("livecodebench_v5", tmp_path)
    assert len(everything.problems) == 5 and everything.checksum == loaded.checksum  # same file, another selection


def test_a_custom_window_is_one_declaration(tmp_path):
    write_lcb(
        tmp_path, [lcb_row("a", "2024-03-01T00:00:00", STDIN_TESTS), lcb_row("b", "2024-05-01T00:00:00", STDIN_TESTS)]
    )
    benchmark = livecodebench_benchmark("lcb_spring", "release_v5", "2024-04-01", None)
    assert [p.problem_id for p in load_problems(benchmark, tmp_path).problems] == ["lcb_spring/b"]
    with pytest.raises(ValueError, match="unknown LiveCodeBench release"):
        livecodebench_benchmark("x", "release_v9", None, None)


def test_hidden_tests_round_trip():
    assert decode_lcb_tests(encode_lcb_tests(STDIN_TESTS)) == STDIN_TESTS
    assert decode_lcb_tests(json.dumps(STDIN_TESTS)) == STDIN_TESTS


class _RunsACommand:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickled(value) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(value))).decode("ascii")


def test_a_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = _RunsACommand()
    payload.marker = marker
    with pytest.raises(UnsafePickle, match="refused pickle global"):
        decode_lcb_tests(pickled(payload))
    row = lcb_row("evil", "2024-09-01T00:00:00", STDIN_TESTS)
    row["private_test_cases"] = pickled(payload)
    write_lcb(tmp_path, [row])
    with pytest.raises(ValueError, match=r"release_v5.jsonl line 1: private_test_cases: refused pickle global"):
        load_problems("livecodebench", tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, (1, 2), [{"input": b"x"}], {1: "a"}])
def test_pickled_values_other_than_plain_data_are_refused(value):
    with pytest.raises(UnsafePickle):
        decode_lcb_tests(pickled(value))


def test_broken_hidden_tests_name_the_cause():
    with pytest.raises(ValueError, match="neither JSON nor base64"):
        decode_lcb_tests("%%% not base64 %%%")
    with pytest.raises(ValueError, match="not a readable pickle"):
        decode_lcb_tests(base64.b64encode(zlib.compress(b"\x80\x04garbage")).decode())


# --- the rating estimate, on contests computed by hand -------------------------------------------------------


def contest(contest_id, rows, problems):
    standings = {
        "problems": problems,
        "rows": [
            {"party": {"members": [{"handle": handle}]}, "points": points, "penalty": penalty}
            for handle, points, penalty in rows
        ],
    }
    changes = [{"handle": handle, "oldRating": 1500} for handle, _, _ in rows]
    return {"standings": standings, "rating_changes": changes}


# Four participants rated 1500. The model finishes with rank 3 (three above it), and Elo's expected rank
# 1 + 4 / (1 + 10^((r - 1500) / 400)) equals 3 at exactly r = 1500: the estimate is 1500.
ICPC = contest(
    1001,
    [("p1", 3, 0), ("p2", 2, 5), ("p3", 2, 30), ("p4", 0, 0)],
    [{"contestId": 1001, "index": index} for index in "ABC"],
)
# A solved at the second sample (penalty 10), B at the fourth (penalty 30): 2 problems, penalty 40, below p3.
ICPC_SUBMISSIONS = {"1001A": [False, True, False, True], "1001B": [False, False, False, True], "1001C": [False] * 4}
# With points: A (500) first passed at sample 1 scores 500 - 50 = 450; p3 has 450 and no more penalty: rank 3 again.
POINTS = contest(
    1002,
    [("p1", 1500, 0), ("p2", 1000, 0), ("p3", 450, 0), ("p4", 300, 0)],
    [{"contestId": 1002, "index": "A", "points": 500}, {"contestId": 1002, "index": "B", "points": 1000}],
)
POINTS_SUBMISSIONS = {"1002A": [False, True, True, True], "1002B": [False] * 4}


def test_contest_rating_by_hand():
    assert contest_rating(ICPC, ICPC_SUBMISSIONS, min_participants=0) == 1500
    assert contest_rating(POINTS, POINTS_SUBMISSIONS, min_participants=0) == 1500
    assert contest_rating(ICPC, ICPC_SUBMISSIONS) is None  # DeepCoder skips contests with 200 or fewer rated
    better = dict(ICPC_SUBMISSIONS, **{"1001C": [True] * 4})  # 3 problems, penalty 40: rank 1 (behind p1 only)
    # expected rank 2: 4 / (1 + 10^x) = 1 -> 10^x = 3 -> r = 1500 + 400 log10(3) = 1690.8, capped below max + 100
    assert contest_rating(ICPC, better, min_participants=0) == 1599
    assert split_problem_id("1999B1") == (1999, "B1")


def test_estimate_over_contests_and_deepcoder_percentile(tmp_path, monkeypatch):
    for data in (ICPC, POINTS):
        contest_id = data["standings"]["problems"][0]["contestId"]
        (tmp_path / f"{contest_id}.json").write_text(json.dumps(data))
    (tmp_path / "ratings.json").write_text(json.dumps({"1000": 1, "1200": 1, "1400": 1, "1600": 1, "1800": 1}))
    monkeypatch.setattr("progrpo_eval.benchmarks.cf_rating.MIN_PARTICIPANTS", 0)
    estimate = estimate_rating(
        {**ICPC_SUBMISSIONS, **POINTS_SUBMISSIONS, "1003A": [True]}, StandingsDir(tmp_path), min_participants=0
    )
    assert estimate["contest_ratings"] == {"1001": 1500, "1002": 1500} and estimate["rating"] == 1500
    assert estimate["contests_without_standings"] == [1003]
    # 3 of 5 users rated below 1500: percentile 60 -> 800 + 2200 * 0.6^2 = 1592
    assert (estimate["percentile"], estimate["rating_from_percentile"]) == (60.0, 1592)
    assert rating_from_percentile(60) == 1592


# --- summary additions ------------------------------------------------------------------------------------------


def samples_frame(rows):
    return pd.DataFrame(
        [
            {"problem_id": pid, "sample_index": i, "correct": correct, "score_detail": detail}
            for pid, i, correct, detail in rows
        ]
    )


def test_humaneval_summary_reports_base_and_plus():
    samples = samples_frame(
        [
            ("humaneval_plus/HumanEval/0", 0, True, "base: pass 7/7; plus: pass 9/9"),
            ("humaneval_plus/HumanEval/0", 1, False, "base: pass 7/7; plus: fail 8/9; plus test 3: wrong answer"),
            ("humaneval_plus/HumanEval/1", 0, False, "base: fail 6/7; plus: fail 0/9"),
            ("humaneval_plus/HumanEval/1", 1, False, "no closed ``` code block"),
        ]
    )
    extra = benchmark_summary_extra(samples, ["humaneval_plus/HumanEval/0", "humaneval_plus/HumanEval/1"], 2)
    assert extra["humaneval_plus"]["plus"]["pass_at_k"] == {"1": 0.25, "2": 0.5}
    assert extra["humaneval_plus"]["base"]["pass_at_k"] == {"1": 0.5, "2": 0.5}
    assert "base tests only (HumanEval): Pass@1 50.0, Pass@2 50.0" in extra["notes"][0]


def test_codeforces_summary_says_why_there_is_no_rating(monkeypatch):
    monkeypatch.delenv(STANDINGS_ENV, raising=False)
    samples = samples_frame([("codeforces/0", 0, True, "pass 1/1"), ("codeforces/0", 1, False, "fail 0/1")])
    extra = benchmark_summary_extra(samples, ["codeforces/0"], 2)
    assert extra["codeforces_rating"]["rating"] is None and STANDINGS_ENV in extra["codeforces_rating"]["reason"]
    assert extra["by_difficulty"] is None and extra["notes"][0].startswith("codeforces: pass rates only")


def test_codeforces_summary_with_standings(tmp_path, monkeypatch):
    (tmp_path / "1001.json").write_text(json.dumps(ICPC))
    (tmp_path / "problems.json").write_text(json.dumps(["1001A", "1001B", "1001C"]))  # aligned with the rows
    monkeypatch.setenv(STANDINGS_ENV, str(tmp_path))
    monkeypatch.setattr("progrpo_eval.benchmarks.cf_rating.MIN_PARTICIPANTS", 0)
    rows = [
        (f"codeforces/{row}", i, correct, "")
        for row, verdicts in enumerate(ICPC_SUBMISSIONS.values())
        for i, correct in enumerate(verdicts)
    ]
    extra = benchmark_summary_extra(samples_frame(rows), [f"codeforces/{row}" for row in range(3)], 4)
    assert extra["codeforces_rating"]["rating"] == 1500
    assert "estimated rating 1500" in extra["notes"][0]
