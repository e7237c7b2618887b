"""The toy benchmark (generated in code, held-out split) and its scorer."""

from __future__ import annotations

import pytest

from progrpo_eval.benchmarks import DATA_DIR_ENV, describe_benchmarks, get_benchmark, load_problems
from progrpo_eval.benchmarks.toy import EVAL_ROWS, TRAIN_ROWS, multiples, reference_response
from progrpo_eval.problem import Problem
from progrpo_eval.scoring import build_scorer, score_samples
from progrpo_eval.scoring.toy import score_toy_one


@pytest.fixture(autouse=True)
def no_data_dir(monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)


def test_splits_are_generated_disjoint_and_the_same_every_time(tmp_path):
    test, train = load_problems("toy"), load_problems("toy", split="train")
    assert (test.num_rows, train.num_rows) == (EVAL_ROWS, TRAIN_ROWS)
    assert {p.question for p in test.problems}.isdisjoint({p.question for p in train.problems})
    assert all(p.problem_id.startswith("toy/test-") for p in test.problems)
    assert all(p.problem_id.startswith("toy/train-") for p in train.problems)
    again = load_problems("toy", tmp_path / "no such folder")  # a data dir is not read
    assert again.checksum == test.checksum and again.problems == test.problems
    assert test.source == "progrpo_eval.benchmarks.toy@test (generated)"
    assert load_problems("toy", limit=5).problems == test.problems[:5]


def test_every_problem_lists_exactly_its_multiples():
    problems = load_problems("toy").problems + load_problems("toy", split="train").problems
    for problem in problems:
        k, low, high = (problem.metadata[name] for name in ("k", "low", "high"))
        assert problem.question == f"Name a multiple of {k} between {low} and {high}."
        expected = [str(v) for v in range(low, high + 1) if v % k == 0]
        assert list(problem.golds) == expected and len(expected) >= 3
    assert multiples(7, 20, 50) == [21, 28, 35, 42, 49]
    counts = {len(problem.golds) for problem in problems}
    assert min(counts) == 3 and max(counts) >= 15


def test_a_trainer_reads_the_training_split_and_others_have_one_split():
    toy = get_benchmark("toy")
    assert (toy.split, toy.train_split, toy.scorer) == ("test", "train", "toy")
    with pytest.raises(ValueError, match="splits test, train"):
        load_problems("toy", split="validation")
    with pytest.raises(ValueError, match="benchmark 'aime24' has one split"):
        load_problems("aime24", split="test")


def test_described_without_data():
    (toy,) = [entry for entry in describe_benchmarks() if entry["name"] == "toy"]
    assert toy["size"] == EVAL_ROWS and toy["source"] == "progrpo_eval.benchmarks.toy"
    assert toy["offline_file"] == "(generated in code)"


PROBLEM = Problem(
    "toy/x",
    "Name a multiple of 7 between 20 and 50.",
    "21, 28, 35, 42, 49",
    ("21", "28", "35", "42", "49"),
    {"k": 7, "low": 20, "high": 50},
)

SCORER_CASES = [  # (text, correct, status, extracted)
    (reference_response(7, 35), True, "ok", "35"),
    ("35 = 7 x 5, so \\boxed{36}", False, "ok", "36"),  # the box decides, not the worked line
    ("\\boxed{049}", True, "ok", "49"),
    ("\\boxed{+21}", True, "ok", "21"),
    ("\\boxed{14}", False, "ok", "14"),  # a multiple of 7, out of range
    ("\\boxed{56}", False, "ok", "56"),
    ("\\boxed{35} no, \\boxed{30}", False, "ok", "30"),  # the last box counts
    ("\\boxed{3.5}", False, "ok", "3.5"),
    ("\\boxed{thirty-five}", False, "ok", "thirty-five"),
    ("35 = 7 x 5", False, "no_answer", None),
    ("\\boxed{}", False, "no_answer", None),
    ("\\boxed{35", False, "no_answer", None),  # cut off
]


@pytest.mark.parametrize("text, correct, status, extracted", SCORER_CASES)
def test_toy_scorer(text, correct, status, extracted):
    result = score_toy_one(PROBLEM, text)
    assert (result.correct, result.status, result.extracted) == (correct, status, extracted)


def test_registered_scorer_through_score_samples():
    scorer = build_scorer("toy")
    scored = score_samples(scorer, [PROBLEM], [["\\boxed{28}", "\\boxed{27}"]], reasoning=False)
    assert [sample.result.correct for sample in scored[0]] == [True, False]
