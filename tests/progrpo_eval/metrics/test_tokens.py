"""Confidence (Eq. 5/6), token-probability statistics and entropy, by hand."""

import math

import numpy as np
import pytest
import torch

from progrpo_eval.metrics.tokens import (
    entropy_from_logits,
    low_prob_confidence,
    low_prob_count,
    low_prob_mean,
    mean_token_prob,
)

PROBS = [0.9, 0.5, 0.1, 0.8, 0.3]  # L = 5

# (probabilities, fraction, confidence, low-prob mean), worked out by hand
CASES = [
    (PROBS, 0.2, 0.1, 0.1),  # k = 1: the single lowest
    (PROBS, 0.4, math.sqrt(0.1 * 0.3), 0.2),  # k = 2: geometric vs arithmetic mean of {0.1, 0.3}
    (PROBS, 1.0, (0.9 * 0.5 * 0.1 * 0.8 * 0.3) ** 0.2, 0.52),  # all tokens
    ([0.5], 0.2, 0.5, 0.5),  # k = max(1, ceil(0.2)) = 1
    ([0.5] * 14 + [0.25], 0.2, (0.25 * 0.5 * 0.5) ** (1 / 3), (0.25 + 0.5 + 0.5) / 3),  # 0.2 * 15 -> k = 3
]


@pytest.mark.parametrize("probs, fraction, confidence, low_mean", CASES)
def test_confidence_and_low_prob_mean_by_hand(probs, fraction, confidence, low_mean):
    logprobs = torch.log(torch.tensor([probs], dtype=torch.float64))
    mask = torch.ones_like(logprobs, dtype=torch.bool)
    assert low_prob_confidence(logprobs, mask, fraction).item() == pytest.approx(confidence, rel=1e-12)
    assert low_prob_mean(logprobs, mask, fraction).item() == pytest.approx(low_mean, rel=1e-12)


@pytest.mark.parametrize(
    "length, fraction, k",
    [(15, 0.2, 3), (5, 0.2, 1), (6, 0.2, 2), (1, 0.2, 1), (10, 0.3, 3), (100, 0.07, 7), (0, 0.2, 1)],
)
def test_low_prob_count_is_robust_to_float_error(length, fraction, k):
    assert low_prob_count(torch.tensor([length]), fraction).item() == k


def test_masked_positions_are_ignored_even_when_not_finite():
    logprobs = torch.log(torch.tensor([[0.9, 0.5, 0.1, 0.8, 0.3, 1.0]]))
    logprobs[0, 5] = -math.inf
    mask = torch.tensor([[True] * 5 + [False]])
    assert low_prob_confidence(logprobs, mask).item() == pytest.approx(0.1, rel=1e-6)
    assert mean_token_prob(logprobs, mask).item() == pytest.approx(0.52, rel=1e-6)


def test_rows_without_tokens_are_nan_and_batches_are_per_row():
    logprobs = np.log(np.array([[0.5, 0.25, 1.0], [1.0, 1.0, 1.0]]))
    mask = np.array([[True, True, False], [False, False, False]])
    confidence = low_prob_confidence(logprobs, mask)
    assert isinstance(confidence, np.ndarray)
    assert confidence[0] == pytest.approx(0.25)
    assert math.isnan(confidence[1])
    assert math.isnan(mean_token_prob(logprobs, mask)[1])
    assert mean_token_prob(logprobs, mask)[0] == pytest.approx(0.375)


def test_near_certain_tokens_never_enter_t_low():
    """App. A.3: with >= 20% uncertain tokens, changing p ~ 1 tokens leaves c unchanged."""
    uncertain = [0.2, 0.3]
    base = torch.log(torch.tensor([uncertain + [0.99] * 8]))
    other = torch.log(torch.tensor([uncertain + [0.999] * 8]))
    mask = torch.ones_like(base, dtype=torch.bool)
    assert low_prob_confidence(base, mask).item() == pytest.approx(low_prob_confidence(other, mask).item())


ENTROPY_CASES = [
    ([0.0, 0.0], 1.0, math.log(2)),
    ([0.0, math.log(3)], 1.0, -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))),
    ([0.0, 2 * math.log(3)], 2.0, -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))),  # temperature
    ([5.0, 5.0, 5.0, 5.0], 1.0, math.log(4)),
    ([0.0, -1000.0], 1.0, 0.0),
]


@pytest.mark.parametrize("logits, temperature, expected", ENTROPY_CASES)
def test_entropy_by_hand(logits, temperature, expected):
    got = entropy_from_logits(torch.tensor([[logits]]), torch.ones(1, 1, dtype=torch.bool), temperature=temperature)
    assert got.item() == pytest.approx(expected, abs=1e-6)


def test_entropy_chunking_does_not_change_values():
    logits = torch.randn(3, 7, 50) * 3
    mask = torch.rand(3, 7) > 0.2
    whole = entropy_from_logits(logits, mask, chunk_size=10_000)
    chunked = entropy_from_logits(logits, mask, chunk_size=2)
    assert torch.allclose(whole, chunked)
    assert torch.all(whole[~mask] == 0)
