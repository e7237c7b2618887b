"""pass_at_k against brute-force enumeration of every k-subset."""

from itertools import combinations

import pytest

from progrpo_eval.metrics.passk import pass_at_k


def brute_force(n: int, c: int, k: int) -> float:
    samples = [True] * c + [False] * (n - c)
    subsets = list(combinations(samples, k))
    return sum(any(subset) for subset in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_equals_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12)


@pytest.mark.parametrize(
    "n, c, k, expected",
    [(32, 0, 32, 0.0), (32, 1, 1, 1 / 32), (32, 1, 32, 1.0), (4, 2, 2, 5 / 6), (100, 3, 1, 0.03)],
)
def test_pass_at_k_by_hand(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_large_n_does_not_overflow():
    assert 0.0 < pass_at_k(2048, 5, 1024) <= 1.0


@pytest.mark.parametrize(
    "n, c, k, message", [(4, 1, 5, "larger than"), (4, 5, 1, "0 <= c <= n"), (4, 1, 0, "at least 1")]
)
def test_pass_at_k_rejects_bad_arguments(n, c, k, message):
    with pytest.raises(ValueError, match=message):
        pass_at_k(n, c, k)
