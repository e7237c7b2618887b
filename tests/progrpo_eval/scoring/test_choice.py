"""Multiple-choice letters: the box first, then the documented fallbacks."""

from __future__ import annotations

import pytest

from progrpo_eval.scoring import extract_choice, score_choice

CHOICE_CASES = [
    # (response, gold, expected_correct) -- boxes
    ("so the answer is \\boxed{B}", "B", True),
    ("\\boxed{(B)}", "B", True),
    ("\\boxed{\\text{B}}", "b", True),  # gold compared case-insensitively
    ("\\boxed{\\textbf{(C)}}", "C", True),
    ("$\\boxed{B) 42 meters}$", "B", True),
    ("\\boxed{b}", "B", True),  # a lone letter in a box counts in lower case
    ("\\fbox{D}", "D", True),
    ("\\boxed{A}", "B", False),
    ("The answer is (A). Wait, no. \\boxed{C}", "C", True),  # the box beats the phrase
    ("\\boxed{B} ... on reflection \\boxed{D}", "B", False),  # only the last box counts
    # fallbacks when there is no box with a letter
    ("Therefore, the answer is (B).", "B", True),
    ("The answer is B because ...", "B", True),
    ("Answer: D", "D", True),
    ("**Answer:** **C**", "C", True),
    ("The correct option is E.", "E", True),
    ("I computed \\boxed{42}, which is option... The answer is (J).", "J", True),
    ("The answer is A. Hmm, re-checking, the answer is C.", "C", True),  # last phrase wins
    ("Reasoning...\nB", "B", True),
    ("Reasoning...\n**(B)**\n", "B", True),
    ("the answer is a tricky one\nso I pick nothing", "A", False),  # the article is not choice A
]


@pytest.mark.parametrize(("response", "gold", "expected"), CHOICE_CASES)
def test_score_choice_table(response: str, gold: str, expected: bool) -> None:
    (result,) = score_choice([response], [gold])
    assert result.correct is expected, result


@pytest.mark.parametrize(
    "response",
    [
        "I am not sure.",
        "\\boxed{42}",
        "the answer is a mystery",
    ],
)
def test_no_answer(response: str) -> None:
    (result,) = score_choice([response], ["B"])
    assert (result.correct, result.status, result.extracted) == (False, "no_answer", None)


def test_letters_restrict_what_is_read() -> None:
    assert extract_choice("\\boxed{E}", letters="ABCD") is None
    assert extract_choice("Answer: E", letters="ABCD") is None
    assert score_choice(["Answer: E"], ["E"])[0].correct


def test_extracted_letter_and_bad_gold() -> None:
    assert score_choice(["\\boxed{(c)}"], ["C"])[0].extracted == "C"
    with pytest.raises(ValueError, match="not one of the options ABCD"):
        score_choice(["\\boxed{A}"], ["K"], letters="ABCD")
    with pytest.raises(ValueError, match="2 responses but 1 golds"):
        score_choice(["A", "B"], ["A"])
