"""Prompt order (resumable), training prompts from a benchmark, DAPO-style and toy rewards."""

import pytest

from progrpo_train.data import PromptOrder
from progrpo_train.rewards import RewardFunction, dapo_reward, normalize_final_answer


def test_prompt_order_resumes_exactly_and_covers_each_epoch():
    uninterrupted = PromptOrder(5, seed=3, shuffle=True)
    first = [uninterrupted.next_batch(2) for _ in range(6)]
    partial = PromptOrder(5, seed=3, shuffle=True)
    head = [partial.next_batch(2) for _ in range(2)]
    resumed = PromptOrder(5, seed=3, shuffle=True, **partial.state())
    assert head + [resumed.next_batch(2) for _ in range(4)] == first
    flat = [i for batch in first for i in batch]
    assert sorted(flat[:5]) == list(range(5)) and sorted(flat[5:10]) == list(range(5))


@pytest.mark.parametrize(
    "raw, normalised",
    [("\\boxed{5}", "5"), ("5 dollars", "5"), ("$\\frac{1}{2}$", "\\frac{1}{2}"), ("1,000", "1000"),
     ("x = 12", "12"), ("\\text{(B)}", "(B)"), ("10^\\circ", "10")],
)
def test_dapo_normalisation(raw, normalised):
    assert normalize_final_answer(raw) == normalised


@pytest.mark.parametrize(
    "response, gold, truncated, value",
    [("so... Answer: 42", "42", False, 1.0), ("Answer: 41", "42", False, -1.0), ("no final line", "42", False, -1.0),
     ("Answer: 42", "42", True, -1.0), ("Answer: $\\frac{1}{2}$", "\\frac{1}{2}", False, 1.0)],
)
def test_dapo_reward(response, gold, truncated, value):
    assert dapo_reward(response, gold, truncated).value == value


def test_math_verify_reward_is_the_evaluators_scorer():
    reward = RewardFunction("math", "math_verify", workers=1)
    try:
        got = reward(["\\boxed{\\frac{1}{2}}", "\\boxed{3}", "nothing"], ["0.5", "4", "1"], [False] * 3)
    finally:
        reward.close()
    assert [r.value for r in got] == [1.0, 0.0, 0.0]
    assert [r.status for r in got] == ["ok", "ok", "no_answer"]


def test_toy_reward_and_code_refusal():
    assert [r.value for r in RewardFunction("toy", "dapo")(["abc", "a1"], ["", ""], [False, False])] == [0.0, 1.0]
    with pytest.raises(ValueError, match="sandbox"):
        RewardFunction("code", "dapo")
