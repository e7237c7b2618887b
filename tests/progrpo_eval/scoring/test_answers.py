"""The shared text helpers, the result type and the scorer registry."""

from __future__ import annotations

import pytest

from progrpo_eval.scoring import ScoreResult, extract_boxed, strip_reasoning
from progrpo_eval.scoring.answers import one_line

BOXED_CASES = [
    # (text, expected content of the last box)
    ("the answer is \\boxed{5}.", "5"),
    ("\\boxed{1} then \\boxed{2}", "2"),
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces do not unbalance the group
    ("$\\boxed{ (0,\\infty) }$", "(0,\\infty)"),
    ("\\fbox{B}", "B"),
    ("\\boxed {7}", "7"),
    ("so \\boxed 5 is it", "5"),
    ("$\\boxed 12$", "12"),
    ("\\boxed5", "5"),
    ("\\boxed{}", ""),
    ("no box at all", None),
    ("\\boxed{3} and then \\boxed{\\frac{1}{", None),  # the last box is cut off: no answer
    ("\\boxedminus{3}", None),  # another macro
]


@pytest.mark.parametrize(("text", "expected"), BOXED_CASES)
def test_extract_boxed(text: str, expected: str | None) -> None:
    assert extract_boxed(text) == expected


REASONING_CASES = [
    # (text, expected answer text, expected truncated)
    ("plain answer \\boxed{1}", "plain answer \\boxed{1}", False),
    ("<think>hmm \\boxed{2}</think>so \\boxed{1}", "so \\boxed{1}", False),
    ("reasoning whose <think> tag was in the prompt</think> final", " final", False),
    ("<think>a</think> draft </think> final", " final", False),
    ("<think>ran out of tokens \\boxed{3}", "", True),
    ("<think>a</think> b <think> again, never closed", "", True),
]


@pytest.mark.parametrize(("text", "answer_text", "truncated"), REASONING_CASES)
def test_strip_reasoning(text: str, answer_text: str, truncated: bool) -> None:
    assert strip_reasoning(text) == (answer_text, truncated)


def test_score_result_is_frozen_and_checks_status() -> None:
    result = ScoreResult(True, "ok", "5")
    with pytest.raises(AttributeError):
        result.correct = False  # type: ignore[misc]
    with pytest.raises(AssertionError):
        ScoreResult(False, "wrong", None)
    with pytest.raises(AssertionError):
        ScoreResult(True, "timeout", None)


def test_one_line_keeps_the_type_and_the_first_line() -> None:
    assert one_line(ValueError("first\nsecond")) == "ValueError: first"
