"""Advantages and policy loss against values computed by hand, and App. A as properties."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from progrpo_train.algorithm import (
    aggregation_normaliser,
    aggregation_weights,
    grpo_advantages,
    policy_loss,
    progrpo_advantages,
)

T = torch.tensor

# ---------------------------------------------------------------- GRPO advantage (Eq. 3)
GRPO_CASES = [
    # rewards, group_ids, std, expected (eps = 0)
    ([1, 0, 0, 1], [0, 0, 0, 0], "population", [1, -1, -1, 1]),
    ([1, 0, 0, 1], [0, 0, 0, 0], "unbiased", [x * 0.5 / math.sqrt(1 / 3) for x in (1, -1, -1, 1)]),
    ([0, 1, 2], [7, 7, 7], "unbiased", [-1, 0, 1]),
    ([0, 1, 2], [7, 7, 7], "population", [-1 / math.sqrt(2 / 3), 0, 1 / math.sqrt(2 / 3)]),
    ([1, 1, 0, 0, 0], [3, 3, 9, 9, 9], "unbiased", [0, 0, 0, 0, 0]),  # uniform groups
    ([5.0], [0], "unbiased", [0.0]),  # a group of one
    ([1, -1, 5.0], [0, 0, 1], "population", [1, -1, 0]),  # +-1 rewards, and a single
]


@pytest.mark.parametrize("rewards, groups, std, expected", GRPO_CASES)
def test_grpo_advantages_by_hand(rewards, groups, std, expected):
    got = grpo_advantages(T(rewards, dtype=torch.float64), T(groups), std=std, eps=0.0)
    assert torch.allclose(got, T(expected, dtype=torch.float64), atol=1e-12)


def test_grpo_eps_is_added_to_std():
    got = grpo_advantages(T([1.0, 0.0]), T([0, 0]), std="population", eps=1e-6)
    assert got[0].item() == pytest.approx(0.5 / (0.5 + 1e-6), rel=1e-7)


def test_grpo_rejects_unknown_std():
    with pytest.raises(ValueError, match="unknown std 'sample'.*unbiased, population"):
        grpo_advantages(T([1.0, 0.0]), T([0, 0]), std="sample")


# ------------------------------------------------------------- ProGRPO advantage (Eq. 4)
# One mixed group: rewards [1, 0, 0, 1], population std, eps 0 -> A = [1, -1, -1, 1];
# c(q) = 0.6, c(o) = [0.9, 0.2, 0.4, 0.6], alpha = 0.3. Terms worked out by hand:
#   prompt       c(q) - c(o)        = [-0.3, 0.4, 0.2, 0.0]
#   group_mean   mean c(o) = 0.525  = [-0.375, 0.325, 0.125, -0.075]
#   exploratory  1 - c(q) - c(o)    = [-0.5, 0.2, 0.0, -0.2]
#   absolute     -c(o)              = [-0.9, -0.2, -0.4, -0.6]
REWEIGHT_CASES = [
    ("prompt", [0.91, -0.88, -0.94, 1.0]),
    ("group_mean", [0.8875, -0.9025, -0.9625, 0.9775]),
    ("exploratory", [0.85, -0.94, -1.0, 0.94]),
    ("absolute", [0.73, -1.06, -1.12, 0.82]),
]


@pytest.mark.parametrize("reweight, expected", REWEIGHT_CASES)
def test_progrpo_reweight_variants_by_hand(reweight, expected):
    got = progrpo_advantages(
        T([1.0, 0, 0, 1]),
        T([0, 0, 0, 0]),
        T([0.9, 0.2, 0.4, 0.6]),
        T([0.6] * 4),
        alpha=0.3,
        reweight=reweight,
        std="population",
        eps=0.0,
    )
    assert torch.allclose(got, T(expected), atol=1e-6)


# Three groups: mixed [1, 0], all correct [1, 1], all wrong [0, 0]; c(q) = 0.6 everywhere.
GATE_REWARDS = T([1.0, 0, 1, 1, 0, 0])
GATE_GROUPS = T([0, 0, 1, 1, 2, 2])
GATE_CONF = T([0.9, 0.2, 0.1, 0.9, 0.3, 0.7])


@pytest.mark.parametrize(
    "gate, expected",
    [
        # mixed group: A = [1, -1] + 0.3 * [-0.3, 0.4]; the others stay 0 (Algorithm 1)
        ("mixed", [0.91, -0.88, 0.0, 0.0, 0.0, 0.0]),
        # Eq. 4 as printed re-weights the all-correct group too: 0.3 * [0.5, -0.3]
        ("any_correct", [0.91, -0.88, 0.15, -0.09, 0.0, 0.0]),
    ],
)
def test_progrpo_gates_by_hand(gate, expected):
    got = progrpo_advantages(GATE_REWARDS, GATE_GROUPS, GATE_CONF, T([0.6] * 6), gate=gate, std="population", eps=0.0)
    assert torch.allclose(got, T(expected), atol=1e-6)


def test_progrpo_plus_minus_one_rewards_count_positive_as_correct():
    got = progrpo_advantages(T([1.0, -1.0]), T([0, 0]), T([0.9, 0.2]), T([0.6, 0.6]), std="population", eps=0.0)
    assert torch.allclose(got, T([0.91, -0.88]), atol=1e-6)


def test_progrpo_explicit_correct_overrides_rewards():
    # rewards 0.5 / 0.2 are both "> 0", but the caller says only the first is correct
    got = progrpo_advantages(
        T([0.5, 0.2]),
        T([0, 0]),
        T([0.9, 0.2]),
        T([0.6, 0.6]),
        correct=T([True, False]),
        std="population",
        eps=0.0,
    )
    assert torch.allclose(got, T([1 - 0.09, -1 + 0.12]), atol=1e-6)


def test_progrpo_nan_confidence_keeps_grpo_advantage():
    got = progrpo_advantages(
        T([1.0, 0, 0, 1]), T([0] * 4), T([math.nan, 0.2, 0.4, 0.6]), T([0.6] * 4), std="population", eps=0.0
    )
    assert torch.allclose(got, T([1.0, -0.88, -0.94, 1.0]), atol=1e-6)


def test_progrpo_nan_prompt_confidence_leaves_group_alone():
    got = progrpo_advantages(T([1.0, 0]), T([0, 0]), T([0.9, 0.2]), T([math.nan] * 2), std="population", eps=0.0)
    assert torch.allclose(got, T([1.0, -1.0]))


def test_progrpo_group_mean_ignores_nan_in_the_baseline():
    # baseline = mean(0.2, 0.6) = 0.4; terms [nan -> keep, 0.2, -0.2] * 0.3
    got = progrpo_advantages(
        T([1.0, 0, 1]), T([0] * 3), T([math.nan, 0.2, 0.6]), reweight="group_mean", std="population", eps=0.0
    )
    base = grpo_advantages(T([1.0, 0, 1]), T([0] * 3), std="population", eps=0.0)
    assert torch.allclose(got, base + T([0.0, 0.06, -0.06]), atol=1e-6)


def test_preserve_sign_clamps_a_flip_to_zero():
    # A = [1, -1]; alpha 2: the wrong answer's term 2 * (0.9 - 0.05) = 1.7 would make it +0.7
    args = (T([1.0, 0]), T([0, 0]), T([0.95, 0.05]), T([0.9, 0.9]))
    free = progrpo_advantages(*args, alpha=2.0, std="population", eps=0.0)
    kept = progrpo_advantages(*args, alpha=2.0, std="population", eps=0.0, preserve_sign=True)
    assert torch.allclose(free, T([0.9, 0.7]), atol=1e-6)
    assert torch.allclose(kept, T([0.9, 0.0]), atol=1e-6)


def test_progrpo_needs_prompt_confidence_for_prompt_reweight():
    with pytest.raises(ValueError, match="needs prompt_confidence"):
        progrpo_advantages(T([1.0, 0]), T([0, 0]), T([0.5, 0.5]))


def test_progrpo_alpha_zero_is_grpo():
    rewards, groups = T([1.0, 0, 0, 1, 1, 0]), T([0, 0, 0, 1, 1, 1])
    got = progrpo_advantages(rewards, groups, torch.rand(6), torch.rand(6), alpha=0.0)
    assert torch.equal(got, grpo_advantages(rewards, groups))


# ---------------------------------------------------------------- App. A as properties
@st.composite
def groups_of_responses(draw, mixed=True):
    size = draw(st.integers(2, 10))
    rewards = draw(st.lists(st.integers(0, 1), min_size=size, max_size=size))
    if mixed and (sum(rewards) in (0, size)):
        rewards[0] = 1 - rewards[0]
    confidences = draw(st.lists(st.floats(0.0, 1.0), min_size=size, max_size=size))
    prompt_conf = draw(st.floats(0.0, 1.0))
    return T(rewards, dtype=torch.float64), T(confidences, dtype=torch.float64), prompt_conf


@settings(deadline=None)  # timing varies on a shared machine; the property does not
@given(groups_of_responses(mixed=False), st.sampled_from(["unbiased", "population"]))
def test_a1_grpo_gives_all_correct_responses_one_advantage(group, std):
    rewards, _, _ = group
    advantages = grpo_advantages(rewards, torch.zeros(len(rewards), dtype=torch.long), std=std)
    correct = advantages[rewards > 0]
    assert torch.all(correct == correct[0]) if len(correct) else True


@settings(deadline=None)  # timing varies on a shared machine; the property does not
@given(groups_of_responses(), st.sampled_from(["prompt", "group_mean", "exploratory", "absolute"]))
def test_a2_higher_confidence_among_correct_gets_lower_advantage(group, reweight):
    rewards, confidences, prompt_conf = group
    ids = torch.zeros(len(rewards), dtype=torch.long)
    got = progrpo_advantages(rewards, ids, confidences, torch.full_like(rewards, prompt_conf), reweight=reweight)
    correct = (rewards > 0).nonzero().flatten().tolist()
    for i in correct:
        for j in correct:
            if confidences[i] > confidences[j] + 1e-9:
                assert got[i] < got[j]


@settings(deadline=None)  # timing varies on a shared machine; the property does not
@given(groups_of_responses(), st.floats(-0.5, 0.5))
def test_a2_group_mean_baseline_cancels_a_per_prompt_shift(group, shift):
    rewards, confidences, _ = group
    ids = torch.zeros(len(rewards), dtype=torch.long)
    plain = progrpo_advantages(rewards, ids, confidences, reweight="group_mean")
    shifted = progrpo_advantages(rewards, ids, confidences + shift, reweight="group_mean")
    assert torch.allclose(plain, shifted, atol=1e-9)


@settings(deadline=None)  # timing varies on a shared machine; the property does not
@given(groups_of_responses(), st.floats(0.0, 0.999))
def test_a4_below_the_alpha_bound_wrong_answers_stay_negative(group, fraction_of_bound):
    rewards, confidences, _ = group
    ids = torch.zeros(len(rewards), dtype=torch.long)
    advantages = grpo_advantages(rewards, ids)
    deviation = (confidences.mean() - confidences).abs().max().item()
    a_neg = advantages[rewards == 0].abs().min().item()
    alpha = fraction_of_bound * a_neg / deviation if deviation > 0 else 10.0
    got = progrpo_advantages(rewards, ids, confidences, alpha=alpha, reweight="group_mean")
    assert torch.all(got[rewards == 0] < 0)


@settings(max_examples=200, deadline=None)
@given(
    groups_of_responses(), st.floats(0.0, 50.0), st.sampled_from(["prompt", "group_mean", "exploratory", "absolute"])
)
def test_preserve_sign_never_flips_an_advantage(group, alpha, reweight):
    rewards, confidences, prompt_conf = group
    ids = torch.zeros(len(rewards), dtype=torch.long)
    base = grpo_advantages(rewards, ids)
    got = progrpo_advantages(
        rewards,
        ids,
        confidences,
        torch.full_like(rewards, prompt_conf),
        alpha=alpha,
        reweight=reweight,
        preserve_sign=True,
    )
    assert torch.all(base * got >= 0)


# ------------------------------------------------------------------ policy loss (Eq. 7)
# Row 0 (A = 1):  ratios [1, 1.5, 0.5]      -> min terms [1, 1.28 (clipped), 0.5]
# Row 1 (A = -2): ratios [0.7, 1.1, masked] -> min terms [-1.6 (clipped), -2.2]
# Row 2 (A = 0.5): ratio [1, masked, masked] -> [0.5]
LOG_RATIOS = T(
    [[0.0, math.log(1.5), math.log(0.5)], [math.log(0.7), math.log(1.1), 123.0], [0.0, math.inf, math.nan]],
    dtype=torch.float64,
)
LOSS_MASK = T([[1, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=torch.bool)
LOSS_ADV = T([1.0, -2.0, 0.5])


@pytest.mark.parametrize(
    "aggregation, expected",
    [
        ("token-mean", -(2.78 - 3.8 + 0.5) / 6),
        ("seq-mean-token-mean", -(2.78 / 3 - 3.8 / 2 + 0.5) / 3),
        ("group-token-mean", -((2.78 - 3.8) / 5 + 0.5) / 2),  # groups [0, 0, 1]
    ],
)
def test_policy_loss_aggregations_by_hand(aggregation, expected):
    old = torch.zeros(3, 3, dtype=torch.float64)
    loss, stats = policy_loss(LOG_RATIOS, old, LOSS_ADV, LOSS_MASK, aggregation=aggregation, group_ids=T([0, 0, 1]))
    assert loss.item() == pytest.approx(expected, abs=1e-12)
    assert stats.clip_fraction.item() == pytest.approx(2 / 6)
    assert stats.clip_fraction_high.item() == pytest.approx(1 / 6)
    assert stats.clip_fraction_low.item() == pytest.approx(1 / 6)
    assert stats.num_tokens.item() == 6


def test_policy_loss_accepts_per_token_advantages():
    logprobs, old = torch.randn(2, 4), torch.randn(2, 4)
    mask = torch.ones(2, 4, dtype=torch.bool)
    per_row, _ = policy_loss(logprobs, old, T([0.3, -0.7]), mask)
    per_token, _ = policy_loss(logprobs, old, T([0.3, -0.7])[:, None].expand(2, 4), mask)
    assert torch.allclose(per_row, per_token)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_policy_loss_gradient_is_minus_a_rho_over_n_or_zero_when_clipped(seed):
    generator = torch.Generator().manual_seed(seed)
    old = torch.randn(3, 5, generator=generator, dtype=torch.float64)
    logprobs = (old + 0.4 * torch.randn(3, 5, generator=generator, dtype=torch.float64)).requires_grad_()
    advantages = torch.randn(3, generator=generator, dtype=torch.float64)
    mask = torch.rand(3, 5, generator=generator) > 0.3
    mask[0, 0] = True
    loss, _ = policy_loss(logprobs, old, advantages, mask)
    loss.backward()
    rho = torch.exp(logprobs.detach() - old)
    a = advantages[:, None].expand(3, 5)
    clipped = ((a > 0) & (rho > 1.28)) | ((a < 0) & (rho < 0.8))
    expected = torch.where(mask & ~clipped, -a * rho / mask.sum(), torch.zeros_like(rho))
    assert torch.allclose(logprobs.grad, expected, atol=1e-12)


def test_policy_loss_rejects_unknown_aggregation():
    with pytest.raises(ValueError, match="unknown aggregation 'sum'.*token-mean"):
        policy_loss(
            torch.zeros(1, 1), torch.zeros(1, 1), T([1.0]), torch.ones(1, 1, dtype=torch.bool), aggregation="sum"
        )


@pytest.mark.parametrize("aggregation", ["token-mean", "group-token-mean", "seq-mean-token-mean"])
def test_micro_batches_with_mini_batch_weights_reduce_like_one_batch(aggregation):
    """The trainer's gradient accumulation: slices of aggregation_weights give the same loss and grad."""
    from progrpo_train.algorithm import aggregation_weights

    generator = torch.Generator().manual_seed(0)
    old = torch.randn(6, 7, generator=generator, dtype=torch.float64)
    advantages = torch.randn(6, generator=generator, dtype=torch.float64)
    mask = torch.rand(6, 7, generator=generator) > 0.3
    groups = T([0, 0, 1, 1, 2, 2])
    logprobs = (old + 0.3 * torch.randn(6, 7, generator=generator, dtype=torch.float64)).requires_grad_()
    whole, _ = policy_loss(logprobs, old, advantages, mask, aggregation=aggregation, group_ids=groups)
    whole_grad = torch.autograd.grad(whole, logprobs)[0]
    weights = aggregation_weights(mask, aggregation, groups)
    assert weights.sum().item() == pytest.approx(1.0)
    parts = [
        policy_loss(logprobs[s], old[s], advantages[s], mask[s], token_weights=weights[s])[0]
        for s in (slice(0, 3), slice(3, 5), slice(5, 6))
    ]
    accumulated = sum(parts)
    assert accumulated.item() == pytest.approx(whole.item(), abs=1e-12)
    assert torch.allclose(torch.autograd.grad(accumulated, logprobs)[0], whole_grad, atol=1e-12)


@pytest.mark.parametrize(
    "aggregation, expected", [("token-mean", 6), ("seq-mean-token-mean", 3), ("group-token-mean", 2)]
)
def test_aggregation_normaliser_counts_tokens_sequences_or_groups(aggregation, expected):
    mask = torch.cat([LOSS_MASK, torch.zeros(1, 3, dtype=torch.bool)])  # a 4th row without tokens
    assert aggregation_normaliser(mask, aggregation, T([0, 0, 1, 2])) == expected


@pytest.mark.parametrize("aggregation", ["token-mean", "group-token-mean", "seq-mean-token-mean"])
def test_ranks_with_the_summed_normaliser_reduce_like_one_batch(aggregation):
    """Data parallelism: each rank weights its rows with the normaliser summed over ranks."""
    generator = torch.Generator().manual_seed(1)
    old = torch.randn(6, 5, generator=generator, dtype=torch.float64)
    logprobs = old + 0.3 * torch.randn(6, 5, generator=generator, dtype=torch.float64)
    advantages = torch.randn(6, generator=generator, dtype=torch.float64)
    mask = torch.rand(6, 5, generator=generator) > 0.3
    groups = T([0, 0, 1, 1, 2, 2])
    whole, _ = policy_loss(logprobs, old, advantages, mask, aggregation=aggregation, group_ids=groups)
    ranks = (slice(0, 2), slice(2, 6))  # groups stay on one rank
    total = sum(aggregation_normaliser(mask[r], aggregation, groups[r]) for r in ranks)
    parts = [
        policy_loss(
            logprobs[r],
            old[r],
            advantages[r],
            mask[r],
            token_weights=aggregation_weights(mask[r], aggregation, groups[r], normaliser=total),
        )[0]
        for r in ranks
    ]
    assert sum(parts).item() == pytest.approx(whole.item(), abs=1e-12)
