"""Statistics across benchmarks, comparisons and training seeds (the paper's "Avg" column and claims).

Decisions
- Stratified bootstrap (`stratified_bootstrap_ci`, `stratified_paired_bootstrap`): the "Avg" of a
  results table is the plain mean over benchmarks of each benchmark's mean over its problems. A
  replicate resamples the problems WITHIN each benchmark (with replacement, as many as it has) and
  recomputes that mean of means, so a benchmark keeps its weight and its size: pooling the
  problems of AIME (30) and MATH500 (500) into one resampled set would weigh them by size and mix
  them. One `np.random.default_rng(seed)` stream draws the benchmarks in the order given; the
  interval is percentile, the paired test the shifted two-sided one of `stats.paired_bootstrap`.
- Holm's step-down correction (`holm`) for a family of m tests: sort the p-values ascending,
  p_(i) → max over j ≤ i of min(1, (m − j + 1) p_(j)); it controls the family-wise error rate at
  the nominal level for any dependence between the tests (Holm, 1979).
- Across training seeds (`seed_interval`, `paired_seed_test`): a mean over n seeds with the t
  interval mean ± t_{(1+c)/2, n−1} · s / √n (s the sample standard deviation), and for two recipes
  trained with the same seeds, the paired t test on the per-seed differences (Welch's unpaired t
  test when the seeds do not match). The seed is the unit: each seed's value is its evaluation
  score, so the interval is about what another training seed would give. One seed gives no
  interval (NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as scipy_stats

from progrpo_eval.stats import (
    ConfidenceInterval,
    PairedComparison,
    _as_problem_values,
    _check_resampling_settings,
    _percentile_bounds,
)

_MAX_CHUNK_BYTES = 50 * 1024 * 1024


def _stratum_means(values: np.ndarray, num_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Mean of `values` resampled with replacement, for each of `num_resamples` replicates [B]."""
    rows_per_chunk = max(1, _MAX_CHUNK_BYTES // (16 * values.size))
    means = np.empty(num_resamples, dtype=np.float64)
    for start in range(0, num_resamples, rows_per_chunk):
        rows = min(rows_per_chunk, num_resamples - start)
        means[start : start + rows] = values[rng.integers(0, values.size, size=(rows, values.size))].mean(axis=1)
    return means


def _replicate_averages(strata: Sequence[np.ndarray], num_resamples: int, seed: int) -> np.ndarray:
    """Per replicate, the mean over strata of each stratum's resampled mean [B]."""
    rng = np.random.default_rng(seed)
    return np.mean([_stratum_means(values, num_resamples, rng) for values in strata], axis=0)


def _strata(values_by_stratum: Sequence[Sequence[float]], name: str) -> list[np.ndarray]:
    strata = [_as_problem_values(values, name=f"{name}[{i}]") for i, values in enumerate(values_by_stratum)]
    if not strata:
        raise ValueError(f"{name} is empty: need at least one benchmark")
    if any(np.isnan(values).any() for values in strata):
        raise ValueError(f"{name} has NaN values; drop those problems first")
    return strata


def stratified_bootstrap_ci(
    values_by_stratum: Sequence[Sequence[float]],
    *,
    num_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile interval of the mean over strata (benchmarks) of the per-stratum means, problems
    resampled within each stratum (module docstring)."""
    _check_resampling_settings(num_resamples, confidence)
    strata = _strata(values_by_stratum, "values_by_stratum")
    replicates = _replicate_averages(strata, num_resamples, seed)
    low, high = _percentile_bounds(replicates, confidence)
    estimate = float(np.mean([values.mean() for values in strata]))
    return ConfidenceInterval(
        estimate=estimate,
        low=low,
        high=high,
        num_resamples=num_resamples,
        confidence=confidence,
        method="percentile, stratified by benchmark",
    )


def stratified_paired_bootstrap(
    values_a: Sequence[Sequence[float]],
    values_b: Sequence[Sequence[float]],
    *,
    num_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedComparison:
    """Paired bootstrap of Avg(b) − Avg(a), Avg the mean over strata of the per-stratum means.

    Stratum s of a and b hold the same problems in the same order; the same problem indices are
    drawn for both (the per-problem differences are resampled within each stratum).
    """
    _check_resampling_settings(num_resamples, confidence)
    strata_a, strata_b = _strata(values_a, "values_a"), _strata(values_b, "values_b")
    if [len(s) for s in strata_a] != [len(s) for s in strata_b]:
        raise ValueError(
            f"values_a has {[len(s) for s in strata_a]} problems per benchmark, values_b "
            f"{[len(s) for s in strata_b]}: a paired comparison needs the same problems"
        )
    differences = [b - a for a, b in zip(strata_a, strata_b)]
    observed = float(np.mean([d.mean() for d in differences]))
    replicates = _replicate_averages(differences, num_resamples, seed)
    low, high = _percentile_bounds(replicates, confidence)
    extreme = int(np.count_nonzero(np.abs(replicates - observed) >= abs(observed)))
    return PairedComparison(
        mean_a=float(np.mean([a.mean() for a in strata_a])),
        mean_b=float(np.mean([b.mean() for b in strata_b])),
        difference=observed,
        low=low,
        high=high,
        p_value=(extreme + 1) / (num_resamples + 1),
        num_problems=int(sum(len(a) for a in strata_a)),
        num_resamples=num_resamples,
        confidence=confidence,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given (module docstring)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"holm needs p-values in [0, 1], got {list(p_values)}")
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted.tolist()


class SeedInterval(NamedTuple):
    mean: float
    low: float  # NaN with one seed
    high: float
    std: float  # sample standard deviation (ddof = 1); NaN with one seed
    num_seeds: int
    confidence: float


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> SeedInterval:
    """Mean over seeds with its t interval (module docstring)."""
    array = _as_problem_values(values, name="per-seed values")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    mean = float(array.mean())
    if array.size < 2:
        return SeedInterval(mean, float("nan"), float("nan"), float("nan"), 1, confidence)
    std = float(array.std(ddof=1))
    half = float(scipy_stats.t.ppf((1 + confidence) / 2, array.size - 1)) * std / np.sqrt(array.size)
    return SeedInterval(mean, mean - half, mean + half, std, int(array.size), confidence)


class SeedComparison(NamedTuple):
    mean_a: float
    mean_b: float
    difference: float  # mean_b − mean_a
    low: float  # t interval of the difference
    high: float
    p_value: float  # two-sided t test
    num_seeds: int  # pairs (paired) or the smaller group (unpaired)
    paired: bool
    confidence: float


def paired_seed_test(
    values_a: Sequence[float], values_b: Sequence[float], *, paired: bool = True, confidence: float = 0.95
) -> SeedComparison:
    """b − a over seeds: the paired t test on per-seed differences, or Welch's test (paired=False)."""
    a = _as_problem_values(values_a, name="values_a")
    b = _as_problem_values(values_b, name="values_b")
    if paired:
        if a.size != b.size:
            raise ValueError(f"a paired comparison over seeds needs the same seeds: {a.size} and {b.size} values")
        differences = b - a
        interval = seed_interval(differences, confidence)
        if a.size < 2:
            p_value = float("nan")
        elif np.allclose(differences, differences[0], rtol=1e-12, atol=1e-15):  # the same on every seed: no spread
            interval = interval._replace(low=interval.mean, high=interval.mean, std=0.0)
            p_value = 1.0 if abs(interval.mean) <= 1e-15 else 0.0
        else:
            p_value = float(scipy_stats.ttest_rel(b, a).pvalue)
        return SeedComparison(
            float(a.mean()),
            float(b.mean()),
            interval.mean,
            interval.low,
            interval.high,
            p_value,
            int(a.size),
            True,
            confidence,
        )
    if min(a.size, b.size) < 2:
        raise ValueError("Welch's test needs at least two seeds of each recipe")
    test = scipy_stats.ttest_ind(b, a, equal_var=False)
    low, high = test.confidence_interval(confidence)
    return SeedComparison(
        float(a.mean()),
        float(b.mean()),
        float(b.mean() - a.mean()),
        float(low),
        float(high),
        float(test.pvalue),
        int(min(a.size, b.size)),
        False,
        confidence,
    )
