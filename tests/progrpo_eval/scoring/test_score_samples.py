"""The one scoring path: the registry, `score_samples` (reasoning cut once, by the caller), DAPO's rule."""

from __future__ import annotations

import pytest

from progrpo_eval.benchmarks import get_benchmark, list_benchmarks
from progrpo_eval.problem import Problem
from progrpo_eval.scoring import ScoreResult, ScorerSettings, build_scorer, score_samples, scorer_names
from progrpo_eval.scoring.dapo import normalize_final_answer, score_dapo_one

MATH = Problem("t/0", "q", "5")
CHOICE = Problem("t/1", "q", "B", metadata={"choices": "ABCD"})


@pytest.fixture(scope="module")
def math_scorer():
    with build_scorer("math", ScorerSettings(workers=0)) as scorer:
        yield scorer


def test_the_registry_names_every_scorer_and_every_benchmark_declares_one() -> None:
    assert {"math", "choice", "dapo", "digit"} <= set(scorer_names())
    with pytest.raises(ValueError, match="unknown scorer 'nope'; known: math"):
        build_scorer("nope")
    with pytest.raises(ValueError, match="scorer 'math': bad options"):
        build_scorer("math", colour="red")
    for name in list_benchmarks():
        assert get_benchmark(name).scorer in scorer_names()


REASONING_CASES = [
    # (problem, text, reasoning, expected correct, expected status)
    (MATH, "<think>maybe \\boxed{3}</think> The answer is \\boxed{5}.", True, True, "ok"),
    (MATH, "<think>so \\boxed{5}</think> The answer is \\boxed{3}.", True, False, "ok"),
    (MATH, "<think>long reasoning, cut off \\boxed{5}", True, False, "no_answer"),
    (CHOICE, "<think>the answer is B</think>The answer is C", True, False, "ok"),
    (CHOICE, "<think>the answer is B but let me check", True, False, "no_answer"),
    # --reasoning off: the whole text is the answer, tags and all (issue 8's case)
    (CHOICE, "<think>the options... \\boxed{B}</think>", False, True, "ok"),
    (MATH, "<think>long reasoning, cut off \\boxed{5}", False, True, "ok"),
]


@pytest.mark.parametrize(("problem", "text", "reasoning", "correct", "status"), REASONING_CASES)
def test_reasoning_is_cut_once_as_the_caller_says(math_scorer, problem, text, reasoning, correct, status) -> None:
    scorer = math_scorer if problem is MATH else build_scorer("choice")
    ((sample,),) = score_samples(scorer, [problem], [[text]], reasoning=reasoning)
    assert (sample.result.correct, sample.result.status) == (correct, status)
    assert sample.thinking_cut is (status == "no_answer" and reasoning)


def test_score_samples_keeps_the_order_of_problems_and_samples(math_scorer) -> None:
    problems = [Problem("t/a", "q", "1"), Problem("t/b", "q", "2")]
    texts = [["\\boxed{1}", "<think>x", "\\boxed{2}"], ["\\boxed{2}"]]
    scored = score_samples(math_scorer, problems, texts, reasoning=True)
    assert [[sample.result.correct for sample in group] for group in scored] == [[True, False, False], [True]]
    assert scored[0][1].result == ScoreResult(False, "no_answer", None, "unfinished <think>")
    assert scored[0][2].answer_text == "\\boxed{2}"


def test_choice_letters_come_from_the_problem_else_the_declaration() -> None:
    ten_options = Problem("t/2", "q", "J", metadata={"choices": "ABCDEFGHIJ"})
    scorer = build_scorer("choice", letters="ABCD")
    (results,) = scorer.score_problems([(ten_options, ["\\boxed{J}"])])
    assert results[0].correct
    (results,) = scorer.score_problems([(Problem("t/3", "q", "D"), ["\\boxed{J}", "\\boxed{D}"])])
    assert [result.status for result in results] == ["no_answer", "ok"] and results[1].correct


DAPO_CASES = [
    # (response, gold, correct, status): verl math_dapo.compute_score's verdicts, worked by hand
    ("so the total is 12.\nAnswer: 12", "12", True, "ok"),
    ("Answer: $\\frac{1}{2}$", "\\frac12", True, "ok"),  # \frac12 -> \frac{1}{2}
    ("Answer: 1,000 dollars", "1000", True, "ok"),  # "dollars" removed, then the comma of a number
    ("Answer: x = 7", "7", True, "ok"),  # only what follows the last "="
    ("answer : 3\nAnswer: 4", "3", False, "ok"),  # the LAST "Answer:" counts
    ("\\boxed{12}", "12", False, "no_answer"),  # no "Answer:": verl compares "[INVALID]"
    ("Answer: 5" + " padding" * 60, "5", False, "no_answer"),  # "Answer:" is not in the last 300 chars
    # more, each worked through verl's normalize_final_answer by hand (issue 12 B6)
    ("Answer: \\boxed{\\frac{3}{4}}", "\\frac34", True, "ok"),  # box removed; gold \frac34 -> \frac{3}{4}
    ("Answer: 90^\\circ", "90", True, "ok"),  # "^\circ" removed
    ("Answer: 5 cm", "5", True, "ok"),  # spaces go first ("5cm"), then "cm"
    ("Answer: 4 \\text{ meters}", "4", True, "ok"),  # "4\text{meters}" -> "4\text{}" -> "4"
    ("Answer: $x = 3$", "3", True, "ok"),  # after the last "=": " 3$" -> "3"
    ("Answer: \\$18.90", "18.90", True, "ok"),  # "\$" removed
    ("Answer: \\sqrt2", "\\sqrt{2}", True, "ok"),  # \sqrt2 -> \sqrt{2}
    ("ANSWER: 12", "12", True, "ok"),  # the pattern ignores case
    ("Answer: 0.5", "\\frac{1}{2}", False, "ok"),  # a string rule: equal values, different strings
    ("Answer: \\text{(B)}", "B", False, "ok"),  # "\text{(B)}" -> "(B)", not "B"
    ("Answer: 3. Final Answer: 4", "4", False, "ok"),  # one match runs to the end of the line: "3.FinalAnswer:4"
]


@pytest.mark.parametrize(("response", "gold", "correct", "status"), DAPO_CASES)
def test_dapo_rule(response: str, gold: str, correct: bool, status: str) -> None:
    result = score_dapo_one(response, gold)
    assert (result.correct, result.status) == (correct, status)


def test_dapo_normalisation_and_reward() -> None:
    assert normalize_final_answer("\\boxed{\\text{(B)}}") == "(B)"
    assert normalize_final_answer("90^\\circ") == "90"
    assert (
        build_scorer("dapo").wrong_reward == -1.0 and build_scorer("math", ScorerSettings(workers=0)).wrong_reward == 0
    )
