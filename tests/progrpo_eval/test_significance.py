"""Statistics across benchmarks and seeds: the stratified bootstrap of the Avg column, Holm's
correction and the t intervals over training seeds, against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from progrpo_eval.significance import (
    holm,
    paired_seed_test,
    seed_interval,
    stratified_bootstrap_ci,
    stratified_paired_bootstrap,
)
from progrpo_eval.stats import bootstrap_ci, paired_bootstrap

T_975_DF2 = 4.302652729749462  # the 0.975 quantile of Student's t with 2 degrees of freedom


@pytest.mark.parametrize(
    "p_values, expected",
    [
        # sorted 0.01, 0.03, 0.04, 0.5 -> 4·0.01, 3·0.03, max(2·0.04, 0.09), max(0.5, 0.09)
        ([0.01, 0.04, 0.03, 0.5], [0.04, 0.09, 0.09, 0.5]),
        ([0.2, 0.6], [0.4, 0.6]),
        ([0.3, 0.4], [0.6, 0.6]),  # monotone: the second never below the first
        ([0.9, 0.8, 0.7], [1.0, 1.0, 1.0]),  # capped at 1
        ([0.02], [0.02]),
    ],
)
def test_holm_by_hand(p_values, expected):
    assert holm(p_values) == pytest.approx(expected)


def test_holm_rejects_what_is_not_a_p_value():
    with pytest.raises(ValueError, match=r"p-values in \[0, 1\]"):
        holm([0.1, 1.5])


def test_stratified_bootstrap_resamples_within_each_benchmark():
    """Every problem of benchmark 1 scores 0, every problem of benchmark 2 scores 1: whatever problems
    are drawn within each benchmark, the Avg is 0.5. Pooling the problems would move it."""
    strata = [np.zeros(30), np.ones(500)]
    interval = stratified_bootstrap_ci(strata, num_resamples=2000, seed=0)
    assert (interval.estimate, interval.low, interval.high) == (0.5, 0.5, 0.5)
    pooled = bootstrap_ci(np.concatenate(strata), num_resamples=2000, seed=0)
    assert pooled.estimate == pytest.approx(500 / 530) and pooled.high - pooled.low > 0.01


def test_stratified_bootstrap_is_the_mean_of_benchmark_means_and_seeded():
    strata = [np.array([0.0, 1.0]), np.array([0.0, 0.0, 1.0, 1.0, 1.0, 1.0])]
    interval = stratified_bootstrap_ci(strata, num_resamples=5000, seed=1)
    assert interval.estimate == pytest.approx((0.5 + 4 / 6) / 2)
    assert interval == stratified_bootstrap_ci(strata, num_resamples=5000, seed=1)
    # the replicate Avg is (a + b) / 2, a ∈ {0, ½, 1} with P = ¼, ½, ¼ (2 draws of 2): its 2.5% quantile
    # needs a = 0 and b at most 2/6 or so, its 97.5% a = 1 and b high: the bounds sit near those
    assert 0.1 < interval.low < 0.35 and 0.8 < interval.high <= 1.0


def test_one_benchmark_stratified_equals_the_plain_bootstrap():
    values = np.random.default_rng(3).random(40)
    single = stratified_bootstrap_ci([values], num_resamples=3000, seed=7)
    plain = bootstrap_ci(values, num_resamples=3000, seed=7)
    assert (single.estimate, single.low, single.high) == pytest.approx((plain.estimate, plain.low, plain.high))
    a, b = np.random.default_rng(4).random(40), np.random.default_rng(5).random(40)
    assert stratified_paired_bootstrap([a], [b], num_resamples=3000, seed=7) == paired_bootstrap(
        a, b, num_resamples=3000, seed=7
    )


def test_stratified_paired_bootstrap_of_the_avg():
    a = [np.array([0.0, 0.5, 0.5]), np.array([0.25, 0.25])]
    same = stratified_paired_bootstrap(a, a, num_resamples=1000)
    assert (same.difference, same.p_value, same.num_problems) == (0.0, 1.0, 5)
    better = [np.array([1.0, 1.0, 1.0]), np.array([1.0, 1.0])]
    result = stratified_paired_bootstrap(a, better, num_resamples=1000)
    assert result.difference == pytest.approx((1 - 1 / 3 + 1 - 0.25) / 2)
    assert result.mean_a == pytest.approx((1 / 3 + 0.25) / 2) and result.p_value < 0.01
    with pytest.raises(ValueError, match="needs the same problems"):
        stratified_paired_bootstrap(a, [np.zeros(3), np.zeros(3)])


def test_seed_interval_by_hand():
    interval = seed_interval([0.25, 0.5, 0.75])
    half = T_975_DF2 * 0.25 / math.sqrt(3)  # s = 0.25
    assert (interval.mean, interval.std, interval.num_seeds) == (0.5, pytest.approx(0.25), 3)
    assert (interval.low, interval.high) == pytest.approx((0.5 - half, 0.5 + half))
    one = seed_interval([0.4])
    assert one.mean == 0.4 and math.isnan(one.low) and math.isnan(one.high)


def test_paired_seed_test_by_hand():
    # differences 0.1, 0.2, 0.3: mean 0.2, s = 0.1, t = 0.2 / (0.1 / √3) = 3.4641, two-sided p (2 dof) = 0.07418
    result = paired_seed_test([0.3, 0.3, 0.3], [0.4, 0.5, 0.6])
    assert result.difference == pytest.approx(0.2) and result.paired and result.num_seeds == 3
    assert result.p_value == pytest.approx(0.0741799, abs=1e-6)
    assert (result.low, result.high) == pytest.approx(
        (0.2 - T_975_DF2 * 0.1 / math.sqrt(3), 0.2 + T_975_DF2 * 0.1 / math.sqrt(3))
    )
    assert paired_seed_test([0.3, 0.4], [0.5, 0.6]).p_value == 0.0  # the same gain on every seed
    welch = paired_seed_test([0.3, 0.3, 0.4], [0.5, 0.6], paired=False)
    assert not welch.paired and welch.difference == pytest.approx(0.55 - 1 / 3)
    with pytest.raises(ValueError, match="needs the same seeds"):
        paired_seed_test([0.3, 0.4], [0.5])
