"""Prompt order (resumable), and rewards: the evaluator's scorers by name, DAPO's rule and shaping."""

import pytest

from progrpo_eval.problem import Problem
from progrpo_eval.scoring.dapo import normalize_final_answer
from progrpo_train.config import DataConfig, load_config
from progrpo_train.data import PromptOrder
from progrpo_train.rewards import RewardFunction, overlong_penalty


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
    [
        ("\\boxed{5}", "5"),
        ("5 dollars", "5"),
        ("$\\frac{1}{2}$", "\\frac{1}{2}"),
        ("1,000", "1000"),
        ("x = 12", "12"),
        ("\\text{(B)}", "(B)"),
        ("10^\\circ", "10"),
    ],
)
def test_dapo_normalisation(raw, normalised):
    assert normalize_final_answer(raw) == normalised


def data_config(reward: str, **values) -> DataConfig:
    return DataConfig(source="x.jsonl", reward=reward, **values)


def reward_of(reward: str, responses, golds, lengths=None, *, max_tokens=100, reasoning=False, **values):
    function = RewardFunction(data_config(reward, **values), max_tokens, reasoning=reasoning, workers=1)
    try:
        problems = [Problem(f"t/{i}", "q", gold) for i, gold in enumerate(golds)]
        return function(problems, responses, lengths or [10] * len(responses))
    finally:
        function.close()


@pytest.mark.parametrize(
    "response, gold, value",
    # a response that hit the length limit is judged on its text, as verl's math_dapo does
    [
        ("so... Answer: 42", "42", 1.0),
        ("Answer: 41", "42", -1.0),
        ("no final line", "42", -1.0),
        ("Answer: $\\frac{1}{2}$", "\\frac{1}{2}", 1.0),
    ],
)
def test_dapo_reward(response, gold, value):
    (got,) = reward_of("dapo", [response], [gold])
    assert got.value == value and got.correct is (value > 0)


def test_math_verify_reward_is_the_evaluators_scorer():
    # a one-line response is a bare answer ("odd" answers a MATH problem), so the answerless one is prose
    responses = ["\\boxed{\\frac{1}{2}}", "\\boxed{3}", "nothing", "I could not work this one out."]
    got = reward_of("math", responses, ["0.5", "4", "1", "1"])
    assert [r.value for r in got] == [1.0, 0.0, 0.0, 0.0]
    assert [r.status for r in got] == ["ok", "ok", "ok", "no_answer"]


def test_reasoning_is_cut_as_data_reasoning_says():
    response = "<think>so \\boxed{3}</think> and that is all"
    assert [r.value for r in reward_of("math", [response], ["3"], reasoning=False)] == [1.0]
    assert [r.value for r in reward_of("math", [response], ["3"], reasoning=True)] == [0.0]


def test_dapo_overlong_shaping_by_hand():
    # max 100 tokens, buffer 20, factor 1: no penalty up to 80 tokens, then -(L - 80) / 20
    assert overlong_penalty(80, 100, 20, 1.0) == 0.0
    assert overlong_penalty(90, 100, 20, 1.0) == -0.5
    assert overlong_penalty(100, 100, 20, 0.5) == -0.5
    assert overlong_penalty(100, 100, 0, 1.0) == 0.0  # off by default
    got = reward_of("dapo", ["Answer: 7", "Answer: 7"], ["7", "7"], [70, 95], overlong_buffer=20)
    assert [r.value for r in got] == [1.0, 0.25]


def test_digit_reward_and_unknown_rewards():
    assert [r.value for r in reward_of("digit", ["abc", "a1"], ["", ""])] == [0.0, 1.0]
    with pytest.raises(ValueError, match=r"data.reward must name a registered scorer \(math, .*digit"):
        load_config(None, ["data.reward=nope"])
