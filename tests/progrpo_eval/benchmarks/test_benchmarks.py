"""Benchmarks: offline loading of the shared copies, gold normalisation, shuffling, errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import types
from pathlib import Path

import pytest

from progrpo_eval.benchmarks import (
    DATA_DIR_ENV,
    INSTRUCTIONS,
    Problem,
    RowContext,
    describe_benchmarks,
    get_benchmark,
    list_benchmarks,
    load_problems,
    register,
    registry,
    user_message,
)
from progrpo_eval.benchmarks.choice import option_permutation
from progrpo_eval.benchmarks.math import split_top_level
from progrpo_eval.scoring.answers import extract_boxed as last_boxed

SHARED_DATA_DIR = Path(__file__).resolve().parents[4] / "shared" / "data" / "benchmarks"

EXPECTED_ROWS = {
    "aime24": 30,
    "aime25": 30,
    "amc23": 40,
    "math500": 500,
    "minerva": 272,
    "olympiadbench": 675,
    "gpqa_diamond": 198,
    "mmlu_pro": 300,
}


@pytest.fixture(autouse=True)
def no_data_dir_from_environment(monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)


@pytest.fixture(scope="module")
def data_dir() -> Path:
    if not SHARED_DATA_DIR.is_dir():
        pytest.skip(f"offline benchmark copies not found at {SHARED_DATA_DIR}")
    return SHARED_DATA_DIR


@pytest.fixture(scope="module")
def loaded(data_dir):
    return {name: load_problems(name, data_dir) for name in EXPECTED_ROWS}


@pytest.fixture
def isolated_registry(monkeypatch):
    monkeypatch.setattr(registry, "_BENCHMARKS", dict(registry._BENCHMARKS))


def parse(name: str, row: dict, seed: int = 0) -> Problem:
    return get_benchmark(name).parse_row(row, RowContext(name, index=3, seed=seed))


def test_registered_names():
    assert list_benchmarks()[: len(EXPECTED_ROWS)] == list(EXPECTED_ROWS)  # then toy and the code benchmarks


@pytest.mark.parametrize("name", EXPECTED_ROWS)
def test_offline_load(loaded, data_dir, name):
    result = loaded[name]
    assert result.num_rows == len(result.problems) == EXPECTED_ROWS[name]
    assert result.source == str(data_dir / get_benchmark(name).offline_file)
    problem_ids = [problem.problem_id for problem in result.problems]
    assert len(set(problem_ids)) == len(problem_ids)
    assert all(problem_id.startswith(f"{name}/") for problem_id in problem_ids)
    for problem in result.problems:
        assert problem.question and problem.gold
        assert problem.golds and all(problem.golds)


@pytest.mark.parametrize("name", EXPECTED_ROWS)
def test_checksum_is_file_sha256_and_matches_sha256sums(loaded, data_dir, name):
    offline_file = get_benchmark(name).offline_file
    expected = dict(
        reversed(line.split()) for line in (data_dir / "SHA256SUMS").read_text().splitlines() if line.strip()
    )
    file_digest = hashlib.sha256((data_dir / offline_file).read_bytes()).hexdigest()
    assert loaded[name].checksum == file_digest == expected[offline_file]


def test_problem_ids_use_source_ids_or_row_index(loaded):
    assert loaded["aime24"].problems[0].problem_id == "aime24/60"
    assert loaded["aime25"].problems[0].problem_id == "aime25/0"
    assert loaded["math500"].problems[0].problem_id == "math500/test/precalculus/807.json"
    assert loaded["olympiadbench"].problems[0].problem_id == "olympiadbench/1606"


GOLD_CASES = [
    # (case id, benchmark, raw row, expected gold, expected golds or None for (gold,))
    ("aime_leading_zeros", "aime24", {"problem": "q", "answer": "025"}, "25", None),
    ("aime_all_zeros", "aime24", {"problem": "q", "answer": "000"}, "0", None),
    ("aime_integer", "aime25", {"problem": "q", "answer": 204}, "204", None),
    ("amc_float", "amc23", {"question": "q", "answer": 27.0}, "27", None),
    ("amc_float_string", "amc23", {"problem": "q", "answer": "27.0"}, "27", None),
    ("amc_negative", "amc23", {"problem": "q", "answer": -1.0}, "-1", None),
    ("amc_real_decimal", "amc23", {"problem": "q", "answer": "2.50"}, "2.50", None),
    ("math500_answer", "math500", {"problem": "q", "answer": " \\frac{\\pi}{2} "}, "\\frac{\\pi}{2}", None),
    (
        "minerva_last_boxed",
        "minerva",
        {"problem": "q", "solution": "first \\boxed{1} then $\\boxed{2.5} \\mathrm{~cm}$"},
        "2.5",
        None,
    ),
    (
        "minerva_nested_braces",
        "minerva",
        {"problem": "q", "solution": "so \\boxed{\\frac{e^{-2 t}}{15}+C_{1}}$."},
        "\\frac{e^{-2 t}}{15}+C_{1}",
        None,
    ),
    (
        "minerva_escaped_braces",
        "minerva",
        {"problem": "q", "solution": "\\boxed {\\{1, \\}2\\}}"},
        "\\{1, \\}2\\}",
        None,
    ),
    ("minerva_hub_answer", "minerva", {"question": "q", "answer": "4e33"}, "4e33", None),
    ("olympiad_list", "olympiadbench", {"question": "q", "final_answer": ["$2^{1009}$"]}, "2^{1009}", None),
    (
        "olympiad_python_list_string",
        "olympiadbench",
        {"question": "q", "final_answer": "['$\\\\frac{1}{2}$']"},
        "\\frac{1}{2}",
        None,
    ),
    ("olympiad_json_list_string", "olympiadbench", {"question": "q", "final_answer": '["$8$"]'}, "8", None),
    (
        "olympiad_unit",
        "olympiadbench",
        {"question": "q", "final_answer": ["$45$ minutes"], "unit": "minutes"},
        "45",
        None,
    ),
    (
        "olympiad_unit_in_text",
        "olympiadbench",
        {"question": "q", "final_answer": ["$166 \\text{cm^2}$"], "unit": "$cm^2$"},
        "166",
        None,
    ),
    (
        "olympiad_multi_dollars",
        "olympiadbench",
        {"question": "q", "final_answer": ["$69$,$84$"], "is_multiple_answer": True},
        "69, 84",
        ("69", "84"),
    ),
    (
        "olympiad_multi_tuples",
        "olympiadbench",
        {"question": "q", "final_answer": "['$(1,8,19), (2,7,13)$']", "is_multiple_answer": True},
        "(1,8,19), (2,7,13)",
        ("(1,8,19)", "(2,7,13)"),
    ),
    (
        "olympiad_multi_not_split_when_single",
        "olympiadbench",
        {"question": "q", "final_answer": ["$1,3$"], "is_multiple_answer": False},
        "1,3",
        None,
    ),
    ("gpqa_offline", "gpqa_diamond", {"question": "q?\n\nA) 1\nB) 2\nC) 3\n\nD) 4", "answer": "c"}, "C", None),
    (
        "mmlu_pro_offline",
        "mmlu_pro",
        {"question": "I. first\nII. second\n Options are:\nA. x\nB. y\nC. z", "answer": "B"},
        "B",
        None,
    ),
]


@pytest.mark.parametrize(
    ("benchmark", "row", "gold", "golds"), [case[1:] for case in GOLD_CASES], ids=[case[0] for case in GOLD_CASES]
)
def test_gold_normalisation(benchmark, row, gold, golds):
    problem = parse(benchmark, row)
    assert problem.gold == gold
    assert problem.golds == (golds or (gold,))


def test_last_boxed_edge_cases():
    assert last_boxed("no box") is None
    assert last_boxed("\\boxed{unbalanced") is None
    assert last_boxed("\\boxed{a}\\boxed{b{c}d}") == "b{c}d"


def test_split_top_level():
    pieces = split_top_level("(1,2), [0, 1), \\{3,4\\}, \\left(5,6\\right), x")
    assert pieces == ["(1,2)", "[0, 1)", "\\{3,4\\}", "\\left(5,6\\right)", "x"]


def test_minerva_gold_is_last_boxed_of_solution(loaded):
    first = loaded["minerva"].problems[0]
    assert first.gold == "1.6" and first.metadata["type"].startswith("Introduction to Astronomy")
    golds = [problem.gold for problem in loaded["minerva"].problems]
    assert all(gold.count("{") == gold.count("}") for gold in golds)


def test_olympiadbench_multi_answer_rows(loaded):
    problems = {problem.problem_id: problem for problem in loaded["olympiadbench"].problems}
    multi = [problem for problem in problems.values() if problem.metadata["is_multiple_answer"]]
    assert len(multi) == 94
    assert all(problem.golds_mode == "all" for problem in multi)
    assert problems["olympiadbench/1664"].golds == ("69", "84")
    assert problems["olympiadbench/1664"].gold == "69, 84"
    assert problems["olympiadbench/1618"].golds == ("(1,8,19)", "(2,7,13)", "(4,5,7)")
    assert problems["olympiadbench/2349"].golds == ("221", "8")  # source has "$221,$8$"
    assert problems["olympiadbench/2419"].metadata["unit"] == "cm^2"
    assert problems["olympiadbench/2592"].metadata["error"] == "1e-1"
    assert problems["olympiadbench/1606"].golds_mode == "any"


def test_offline_choice_rows_are_shuffled_by_source(loaded):
    for name, letters in (("gpqa_diamond", {"ABCD"}), ("mmlu_pro", None)):
        for problem in loaded[name].problems:
            assert problem.metadata["permutation"] is None
            assert problem.metadata["shuffled_by"] == "source"
            assert problem.gold in problem.metadata["choices"]
            assert problem.gold == problem.metadata["gold_letter"]
        if letters:
            assert {problem.metadata["choices"] for problem in loaded[name].problems} == letters
    assert max(len(problem.metadata["choices"]) for problem in loaded["mmlu_pro"].problems) == 10


def hub_gpqa_row(record_id: str = "recA1") -> dict:
    return {
        "Question": "Which is right?",
        "Correct Answer": " right\n",
        "Incorrect Answer 1": "wrong one",
        "Incorrect Answer 2": "wrong two",
        "Incorrect Answer 3": "wrong three",
        "Record ID": record_id,
        "High-level domain": "Physics",
        "Subdomain": "Optics",
    }


def test_hub_gpqa_row_is_shuffled_and_rendered():
    problem = parse("gpqa_diamond", hub_gpqa_row(), seed=7)
    permutation = problem.metadata["permutation"]
    assert problem.problem_id == "gpqa_diamond/recA1"
    assert sorted(permutation) == [0, 1, 2, 3]
    assert permutation == option_permutation(7, "gpqa_diamond/recA1", 4)
    assert problem.metadata["shuffled_by"] == "seed"
    assert problem.metadata["gold_letter"] == problem.gold == "ABCD"[permutation.index(0)]
    assert f"\n{problem.gold}) right\n" in problem.question + "\n"
    option_lines = problem.question.split("\n\n", 1)[1].splitlines()
    assert [line[:3] for line in option_lines] == ["A) ", "B) ", "C) ", "D) "]
    assert problem.metadata["subdomain"] == "Optics"


def test_permutation_is_deterministic_per_seed_and_id_and_varies():
    problem_id = "gpqa_diamond/recA1"
    assert option_permutation(3, problem_id, 4) == option_permutation(3, problem_id, 4)
    over_seeds = {tuple(option_permutation(seed, problem_id, 4)) for seed in range(12)}
    over_ids = {tuple(option_permutation(0, f"gpqa_diamond/rec{i}", 4)) for i in range(12)}
    assert len(over_seeds) > 1 and len(over_ids) > 1
    assert parse("gpqa_diamond", hub_gpqa_row(), 1) == parse("gpqa_diamond", hub_gpqa_row(), 1)


def test_hub_mmlu_pro_row_keeps_published_order():
    row = {
        "question_id": 70,
        "question": "Pick c.",
        "options": ["a", "b", "c", "d", "e"],
        "answer": "C",
        "answer_index": 2,
        "category": "math",
        "src": "ori_mmlu",
    }
    problem = parse("mmlu_pro", row)
    assert problem.problem_id == "mmlu_pro/70" and problem.gold == "C"
    assert problem.question == "Pick c.\n\nA) a\nB) b\nC) c\nD) d\nE) e"
    assert problem.metadata["choices"] == "ABCDE" and problem.metadata["permutation"] is None
    assert problem.metadata["category"] == "math"
    with pytest.raises(ValueError, match="not one of the options ABCDE"):
        parse("mmlu_pro", {**row, "answer": "F"})


def test_load_from_hub_uses_datasets(monkeypatch):
    calls = []
    rows = [hub_gpqa_row("recB"), hub_gpqa_row("recC")]

    def load_dataset(path, name=None, *, split):
        calls.append((path, name, split))
        return rows

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    result = load_problems("gpqa_diamond", seed=5)
    assert calls == [("Idavidrein/gpqa", "gpqa_diamond", "train")]
    assert result.source == "Idavidrein/gpqa:gpqa_diamond@train" and result.num_rows == 2
    canonical = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert result.checksum == hashlib.sha256(canonical.encode()).hexdigest()
    assert [problem.problem_id for problem in result.problems] == ["gpqa_diamond/recB", "gpqa_diamond/recC"]


def test_hub_without_datasets_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=DATA_DIR_ENV):
        load_problems("aime24")


def test_data_dir_from_environment(monkeypatch, data_dir):
    monkeypatch.setenv(DATA_DIR_ENV, str(data_dir))
    assert load_problems("aime25").source == str(data_dir / "aime25.jsonl")


def test_limit_keeps_first_problems(loaded, data_dir):
    limited = load_problems("math500", data_dir, limit=5)
    assert limited.problems == loaded["math500"].problems[:5]
    assert limited.num_rows == 500 and limited.checksum == loaded["math500"].checksum
    with pytest.raises(ValueError, match="non-negative"):
        load_problems("math500", data_dir, limit=-1)


MALFORMED_CASES = [
    # (case id, benchmark, file lines, error message)
    (
        "missing_answer",
        "math500",
        ['{"problem": "p", "answer": "1"}', "", '{"problem": "p2"}'],
        "math500.jsonl line 3: missing field 'answer'",
    ),
    ("invalid_json", "aime24", ['{"problem": "p", "answer": "1"}', '{"problem": '], "aime24.jsonl line 2 is not JSON"),
    ("not_an_object", "amc23", ["[1, 2]"], "amc23.jsonl line 1 is not a JSON object"),
    ("no_boxed", "minerva", ['{"problem": "p", "solution": "x = 3"}'], "minerva.jsonl line 1: no balanced"),
    (
        "bad_letter",
        "gpqa_diamond",
        ['{"question": "q\\nA) 1\\nB) 2", "answer": "E"}'],
        "gpqa_diamond.jsonl line 1: answer 'E' is not one of the options AB",
    ),
    (
        "duplicate_id",
        "aime24",
        ['{"id": 1, "problem": "p", "answer": "1"}', '{"id": 1, "problem": "q", "answer": "2"}'],
        "aime24.jsonl line 2: duplicate problem id 'aime24/1'",
    ),
]


@pytest.mark.parametrize(
    ("benchmark", "lines", "message"), [case[1:] for case in MALFORMED_CASES], ids=[case[0] for case in MALFORMED_CASES]
)
def test_malformed_rows_name_file_and_line(tmp_path, benchmark, lines, message):
    (tmp_path / get_benchmark(benchmark).offline_file).write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as error:
        load_problems(benchmark, tmp_path)
    assert str(error.value).startswith(f"{tmp_path}/{message}")  # the whole path of the file, then the line


def test_missing_offline_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="aime24.jsonl"):
        load_problems("aime24", tmp_path)


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="unknown benchmark 'aime26'") as error:
        get_benchmark("aime26")
    assert all(name in str(error.value) for name in EXPECTED_ROWS)


def test_duplicate_registration_raises_and_variants_register(isolated_registry):
    aime24 = get_benchmark("aime24")
    with pytest.raises(ValueError, match="already registered"):
        register(aime24)
    variant = register(dataclasses.replace(aime24, name="aime24_v2", version="2"))
    assert get_benchmark("aime24_v2") is variant and variant.parse_row is aime24.parse_row
    with pytest.raises(ValueError, match="unknown family"):
        dataclasses.replace(aime24, name="aime24_poetry", family="poetry")


def test_user_message():
    problem = Problem("x/0", "What is 1+1?", "2")
    assert user_message(problem, "math") == f"What is 1+1?\n{INSTRUCTIONS['math']}"
    assert user_message(problem, "choice").endswith("e.g. \\boxed{A}.")
    assert user_message(problem, "math", instruction="Answer.") == "What is 1+1?\nAnswer."
    assert get_benchmark("mmlu_pro").instruction == INSTRUCTIONS["choice"]
    with pytest.raises(ValueError, match="known: math, choice, code"):
        user_message(problem, "poetry")


def test_describe_benchmarks(data_dir):
    with_sizes = {entry["name"]: entry for entry in describe_benchmarks(data_dir)}
    assert {name: with_sizes[name]["size"] for name in EXPECTED_ROWS} == EXPECTED_ROWS
    assert with_sizes["mmlu_pro"]["source"] == "TIGER-Lab/MMLU-Pro"
    assert with_sizes["mmlu_pro"]["offline_is_subset"] is True
    assert with_sizes["gpqa_diamond"]["family"] == "choice"
    assert all(entry["size"] is None for entry in describe_benchmarks() if entry["name"] in EXPECTED_ROWS)
