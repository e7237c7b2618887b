"""Tests for progrpo_eval.stats: hand-computed cases and exact bootstrap enumerations."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from progrpo_eval import stats
from progrpo_eval.stats import (
    align_problems,
    bootstrap_ci,
    default_ks,
    maj_at_k,
    paired_bootstrap,
    pass_at_k_table,
)


def exact_bootstrap_quantile(values: list[float], statistic, q: float) -> float:
    """Inverse CDF (smallest x with F(x) >= q) of the exact bootstrap distribution.

    Enumerates all N^N equally likely index tuples. Asserts q is not within 0.01 of a jump of F,
    where a finite-B linear-interpolated quantile could land on either side.
    """
    n = len(values)
    replicate_values = np.array(
        [statistic(np.array(values)[list(idx)]) for idx in itertools.product(range(n), repeat=n)]
    )
    atoms, counts = np.unique(np.round(replicate_values, 12), return_counts=True)
    cdf = np.cumsum(counts) / counts.sum()
    assert np.min(np.abs(cdf - q)) > 0.01, "test case sits on a jump of the bootstrap CDF"
    return float(atoms[np.searchsorted(cdf, q)])


# --- bootstrap_ci ----------------------------------------------------------------------------

# (values, statistic, confidence, hand-computed (low, high))
EXACT_CASES = [
    # sums of 3 draws from {0,1,2}: counts 1,3,6,7,6,3,1 of 27 -> q=.1 at sum 1, q=.9 at sum 5
    ([0.0, 1.0, 2.0], np.mean, 0.8, (1 / 3, 5 / 3)),
    # number of draws of the 1 ~ Binomial(3, 1/3): F = 8/27, 20/27, 26/27, 1
    ([0.0, 0.0, 1.0], np.mean, 0.8, (0.0, 2 / 3)),
    # means 1, 3, 5 with probabilities 1/4, 1/2, 1/4
    ([1.0, 5.0], np.mean, 0.4, (3.0, 3.0)),
    ([1.0, 5.0], np.mean, 0.9, (1.0, 5.0)),
    # median of 3 draws: 0 w.p. 7/27, 1 w.p. 13/27, 2 w.p. 7/27
    ([0.0, 1.0, 2.0], np.median, 0.8, (0.0, 2.0)),
]


@pytest.mark.parametrize("values, statistic, confidence, expected", EXACT_CASES)
def test_bootstrap_ci_matches_exact_enumeration(values, statistic, confidence, expected):
    tail = (1 - confidence) / 2
    exact = (
        exact_bootstrap_quantile(values, statistic, tail),
        exact_bootstrap_quantile(values, statistic, 1 - tail),
    )
    assert exact == pytest.approx(expected)
    interval = bootstrap_ci(values, num_resamples=20_000, confidence=confidence, statistic=statistic)
    assert (interval.low, interval.high) == pytest.approx(expected, abs=1e-12)
    assert interval.estimate == pytest.approx(float(statistic(np.array(values))))


@pytest.mark.parametrize("constant", [0.0, 0.375, 1.0])
def test_bootstrap_ci_on_constant_values_is_a_point(constant):
    interval = bootstrap_ci(np.full(17, constant), num_resamples=500)
    assert (interval.estimate, interval.low, interval.high) == (constant, constant, constant)
    assert interval.num_resamples == 500
    assert interval.confidence == 0.95
    assert interval.method == "percentile"


def test_bootstrap_ci_width_matches_normal_approximation():
    values = np.array([0.0, 1.0] * 200)  # mean 0.5, standard error 0.5 / sqrt(400) = 0.025
    interval = bootstrap_ci(values, num_resamples=4_000)
    assert interval.low == pytest.approx(0.5 - 1.96 * 0.025, abs=0.006)
    assert interval.high == pytest.approx(0.5 + 1.96 * 0.025, abs=0.006)


def test_bootstrap_ci_is_deterministic_for_a_seed():
    values = np.random.default_rng(1).random(50)
    first = bootstrap_ci(values, num_resamples=2_000, seed=7)
    assert bootstrap_ci(values, num_resamples=2_000, seed=7) == first
    assert bootstrap_ci(values, num_resamples=2_000, seed=8) != first


def test_bootstrap_ci_does_not_depend_on_chunk_size(monkeypatch):
    values = np.random.default_rng(2).random(40)
    whole = bootstrap_ci(values, num_resamples=1_000, seed=3)
    monkeypatch.setattr(stats, "_MAX_CHUNK_BYTES", 16 * 40 * 7)  # 7 rows per chunk
    assert bootstrap_ci(values, num_resamples=1_000, seed=3) == whole


def test_bootstrap_ci_nan_policy():
    values = np.array([0.0, np.nan, 1.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci(values)
    omitted = bootstrap_ci(values, nan_policy="omit", num_resamples=1_000)
    assert omitted == bootstrap_ci([0.0, 1.0, 1.0], num_resamples=1_000)
    with pytest.raises(ValueError, match="nan_policy"):
        bootstrap_ci(values, nan_policy="ignore")
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([np.nan], nan_policy="omit")


@pytest.mark.parametrize(
    "values, kwargs, message",
    [
        ([], {}, "empty"),
        ([[0.0, 1.0]], {}, "1-D"),
        ([0.0, 1.0], {"confidence": 1.0}, "confidence"),
        ([0.0, 1.0], {"num_resamples": 0}, "num_resamples"),
    ],
)
def test_bootstrap_ci_rejects_bad_input(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(values, **kwargs)


# --- paired_bootstrap ------------------------------------------------------------------------


def test_paired_identical_runs_give_zero_difference_and_p_one():
    values = np.random.default_rng(0).random(30)
    result = paired_bootstrap(values, values.copy(), num_resamples=1_000)
    assert (result.difference, result.low, result.high, result.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert result.num_problems == 30
    assert result.mean_a == result.mean_b == pytest.approx(values.mean())


def test_paired_clearly_better_run_is_significant():
    rng = np.random.default_rng(0)
    values_a = (rng.random(100) < 0.3).astype(float)
    values_b = (rng.random(100) < 0.8).astype(float)
    result = paired_bootstrap(values_a, values_b, num_resamples=5_000)
    assert result.p_value < 0.01
    assert 0.0 < result.low < result.difference < result.high
    assert result.difference == pytest.approx(values_b.mean() - values_a.mean())


def test_paired_symmetric_differences_give_p_one():
    # d = (+1, -1, +1, -1): observed mean 0, so every replicate satisfies |d* - 0| >= 0
    result = paired_bootstrap([0, 1, 0, 1], [1, 0, 1, 0], num_resamples=999)
    assert result.difference == 0.0
    assert result.p_value == 1.0


def test_paired_p_value_matches_exact_enumeration():
    # d = (0, 1): d-bar = 0.5; d* in {0, 0.5, 1} w.p. 1/4, 1/2, 1/4; |d* - 0.5| >= 0.5 w.p. 1/2
    num_resamples = 20_000
    result = paired_bootstrap([0.0, 0.0], [0.0, 1.0], num_resamples=num_resamples)
    assert result.p_value == pytest.approx(0.5, abs=0.02)
    count = result.p_value * (num_resamples + 1) - 1  # p = (count + 1) / (B + 1)
    assert count == pytest.approx(round(count), abs=1e-6)


def test_paired_interval_equals_bootstrap_of_differences():
    rng = np.random.default_rng(4)
    values_a, values_b = rng.random(25), rng.random(25)
    paired = paired_bootstrap(values_a, values_b, num_resamples=2_000, seed=5)
    single = bootstrap_ci(values_b - values_a, num_resamples=2_000, seed=5)
    assert (paired.low, paired.high) == (single.low, single.high)


def test_paired_rejects_mismatched_lengths_and_nan():
    with pytest.raises(ValueError, match="3 problems but values_b has 2"):
        paired_bootstrap([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        paired_bootstrap([0.0, np.nan], [0.0, 1.0])


# --- align_problems --------------------------------------------------------------------------


def test_align_series_follows_order_of_a():
    series_a = pd.Series([0.1, 0.2, 0.3], index=["p1", "p2", "p3"])
    series_b = pd.Series([0.9, 0.7, 0.8], index=["p3", "p1", "p2"])
    aligned = align_problems(series_a, series_b)
    assert list(aligned.problem_ids) == ["p1", "p2", "p3"]
    np.testing.assert_array_equal(aligned.values_a, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(aligned.values_b, [0.7, 0.8, 0.9])


def test_align_dataframes_by_key_column():
    frame_a = pd.DataFrame({"problem_id": [1, 2], "pass@1": [0.0, 1.0]})
    frame_b = pd.DataFrame({"problem_id": [2, 1], "pass@1": [0.5, 0.25]})
    aligned = align_problems(frame_a, frame_b)
    np.testing.assert_array_equal(aligned.values_b, [0.25, 0.5])
    wide_a = frame_a.assign(**{"pass@2": [1.0, 1.0]})
    wide_b = frame_b.assign(**{"pass@2": [0.0, 1.0]})
    with pytest.raises(ValueError, match="column="):
        align_problems(wide_a, wide_b)
    picked = align_problems(wide_a, wide_b, column="pass@2")
    np.testing.assert_array_equal(picked.values_b, [1.0, 0.0])
    with pytest.raises(ValueError, match="no column 'pass@8'"):
        align_problems(wide_a, wide_b, column="pass@8")


def test_align_mismatched_problem_sets():
    series_a = pd.Series([0.1, 0.2, 0.3], index=["p1", "p2", "p3"])
    series_b = pd.Series([0.5, 0.6], index=["p2", "p4"])
    with pytest.raises(ValueError, match=r"2 only in a .*1 only in b"):
        align_problems(series_a, series_b)
    aligned = align_problems(series_a, series_b, on_mismatch="intersect")
    assert list(aligned.problem_ids) == ["p2"]
    assert (aligned.values_a[0], aligned.values_b[0]) == (0.2, 0.5)
    with pytest.raises(ValueError, match="no problem id in common"):
        align_problems(series_a, pd.Series([1.0], index=["x"]), on_mismatch="intersect")


def test_align_rejects_duplicate_ids():
    series_a = pd.Series([0.1, 0.2], index=["p1", "p1"])
    with pytest.raises(ValueError, match="duplicate"):
        align_problems(series_a, pd.Series([0.3], index=["p1"]))


# --- pass@k table and default ks -------------------------------------------------------------


@pytest.mark.parametrize(
    "num_samples, expected",
    [(1, [1]), (2, [1, 2]), (3, [1, 2, 3]), (12, [1, 2, 4, 8, 12]), (16, [1, 2, 4, 8, 16]), (32, [1, 2, 4, 8, 16, 32])],
)
def test_default_ks(num_samples, expected):
    assert default_ks(num_samples) == expected


def test_default_ks_rejects_zero():
    with pytest.raises(ValueError):
        default_ks(0)


def test_pass_at_k_table_hand_computed():
    # k=1: c/n; k=2: 1 - C(n-c, 2)/C(n, 2), e.g. n=4, c=2: 1 - 1/6
    table = pass_at_k_table([4, 4, 2], [0, 2, 2], [1, 2])
    assert list(table) == [1, 2]
    np.testing.assert_allclose(table[1], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(table[2], [0.0, 5 / 6, 1.0])


def test_pass_at_k_table_errors():
    with pytest.raises(ValueError, match="larger than"):
        pass_at_k_table([4, 2], [1, 1], [4])
    with pytest.raises(ValueError, match="equal length"):
        pass_at_k_table([4, 4], [1], [1])


# --- maj@k -----------------------------------------------------------------------------------

# (answers, correct, k, expected)
MAJ_CASES = [
    (["4", "4", "5"], [True, True, False], 3, 1.0),
    (["5", "4", "4"], [False, True, True], 3, 1.0),
    (["5", "4", "4"], [False, True, True], 1, 0.0),  # only the first sample votes
    (["5", "4", "4"], [False, True, True], 2, 0.0),  # 1-1 tie: first occurrence ("5") wins
    (["4", "5"], [True, False], 2, 1.0),  # tie, "4" first
    ([None, None, "4"], [False, False, True], 3, 1.0),  # None casts no vote
    ([None, "5", None, "4", "4"], [False, False, False, True, True], 5, 1.0),
    ([None, None], [False, False], 2, 0.0),  # no votes at all
    (["7", "7", "3", "3", "3"], [False, False, True, True, True], 4, 0.0),
]


@pytest.mark.parametrize("answers, correct, k, expected", MAJ_CASES)
def test_maj_at_k(answers, correct, k, expected):
    assert maj_at_k(answers, correct, k) == expected


@pytest.mark.parametrize(
    "answers, correct, k, message",
    [(["1"], [True], 0, "k must be"), (["1"], [True], 2, "k must be"), (["1", "2"], [True], 1, "2 answers but 1")],
)
def test_maj_at_k_errors(answers, correct, k, message):
    with pytest.raises(ValueError, match=message):
        maj_at_k(answers, correct, k)
