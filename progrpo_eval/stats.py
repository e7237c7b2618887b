"""Uncertainty for benchmark scores: bootstrap over problems, and paired comparisons of two runs.

Decisions, so the numbers in reports can be reproduced and read correctly:
- The unit of resampling is the PROBLEM. A benchmark score is a mean over problems of a
  per-problem value (pass@k, accuracy, ...); the samples within a problem already enter that
  value through the unbiased estimator, so they are never resampled. A bootstrap replicate draws
  N problem indices with replacement from the N problems and recomputes the statistic.
- Intervals are plain percentile intervals: the (1 − confidence)/2 and (1 + confidence)/2
  quantiles of the B replicate statistics, with numpy's default "linear" quantile rule.
- Resampling is vectorised: index matrices [chunk, N] are drawn in chunks whose index and
  gathered-value arrays together stay under `_MAX_CHUNK_BYTES` (about 50 MB). All chunks come
  from one `np.random.default_rng(seed)` stream, so results depend only on (values, B, seed),
  not on the chunk size.
- NaN values (a problem with no valid score) raise ValueError by default: dropping problems
  changes what a score means, so the caller must do it knowingly — either beforehand or with
  `nan_policy="omit"` (bootstrap_ci only), which drops the NaN problems before resampling.
- Paired comparisons resample the SAME problem indices for both runs, which is the same as
  resampling the per-problem differences d_i = b_i − a_i. The two-sided p-value is the shifted
  ("null-centred") bootstrap test of Efron & Tibshirani (1993, §16.4), as used for NLP by
  Berg-Kirkpatrick et al. (2012):
      p = (#{ b : |d*_b − d̄| ≥ |d̄| } + 1) / (B + 1),
  where d̄ is the observed mean difference and d*_b the mean difference of replicate b. The +1
  keeps p > 0 for a finite B (the smallest reportable p is 1/(B + 1)).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from progrpo_eval.metrics.passk import pass_at_k

_MAX_CHUNK_BYTES = 50 * 1024 * 1024  # index matrix (int64) + gathered values (float64) per chunk

Statistic = Callable[..., np.ndarray]


class ConfidenceInterval(NamedTuple):
    estimate: float  # the statistic on the observed problems
    low: float
    high: float
    num_resamples: int
    confidence: float
    method: str = "percentile"


class PairedComparison(NamedTuple):
    mean_a: float
    mean_b: float
    difference: float  # mean_b − mean_a
    low: float  # percentile interval of the difference
    high: float
    p_value: float  # two-sided, shifted paired bootstrap (module docstring)
    num_problems: int
    num_resamples: int
    confidence: float


class AlignedProblems(NamedTuple):
    problem_ids: np.ndarray
    values_a: np.ndarray
    values_b: np.ndarray


# --- resampling machinery -------------------------------------------------------------------


def _as_problem_values(values: np.ndarray | Sequence[float], *, name: str = "values") -> np.ndarray:
    """A non-empty 1-D float64 array, one value per problem."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per problem), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: need at least one problem")
    return array


def _check_resampling_settings(num_resamples: int, confidence: float) -> None:
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be at least 1, got {num_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _resampled_statistics(values: np.ndarray, statistic: Statistic, num_resamples: int, seed: int) -> np.ndarray:
    """statistic(values[idx_b], axis=1) for B index rows idx_b drawn uniformly with replacement."""
    num_problems = values.size
    rows_per_chunk = max(1, _MAX_CHUNK_BYTES // (16 * num_problems))
    rng = np.random.default_rng(seed)
    replicate_statistics = np.empty(num_resamples, dtype=np.float64)
    for start in range(0, num_resamples, rows_per_chunk):
        rows = min(rows_per_chunk, num_resamples - start)
        indices = rng.integers(0, num_problems, size=(rows, num_problems), dtype=np.int64)  # [R, N]
        replicate_statistics[start : start + rows] = statistic(values[indices], axis=1)  # [R]
    return replicate_statistics


def _percentile_bounds(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return float(low), float(high)


# --- public API -----------------------------------------------------------------------------


def bootstrap_ci(
    per_problem_values: np.ndarray | Sequence[float],
    *,
    num_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    statistic: Statistic = np.mean,
    nan_policy: Literal["raise", "omit"] = "raise",
) -> ConfidenceInterval:
    """Percentile bootstrap interval of `statistic` over problems.

    `statistic` must accept an `axis` keyword (np.mean, np.median, ...); it is applied to the
    observed values for the estimate and row-wise to the [B, N] resampled matrix. NaN values
    raise ValueError unless nan_policy="omit", which drops those problems first.
    """
    _check_resampling_settings(num_resamples, confidence)
    values = _as_problem_values(per_problem_values, name="per_problem_values")
    is_nan = np.isnan(values)
    if is_nan.any():
        if nan_policy == "raise":
            raise ValueError(
                f"{int(is_nan.sum())} of {values.size} problem values are NaN; drop those "
                "problems explicitly or pass nan_policy='omit'"
            )
        if nan_policy != "omit":
            raise ValueError(f"unknown nan_policy {nan_policy!r}; known: 'raise', 'omit'")
        values = _as_problem_values(values[~is_nan], name="non-NaN per_problem_values")
    replicates = _resampled_statistics(values, statistic, num_resamples, seed)
    low, high = _percentile_bounds(replicates, confidence)
    return ConfidenceInterval(
        estimate=float(statistic(values)),
        low=low,
        high=high,
        num_resamples=num_resamples,
        confidence=confidence,
    )


def paired_bootstrap(
    values_a: np.ndarray | Sequence[float],
    values_b: np.ndarray | Sequence[float],
    *,
    num_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedComparison:
    """Paired bootstrap of mean(b) − mean(a) over problems aligned by position.

    Both runs are resampled with the same problem indices (so: the differences d_i = b_i − a_i
    are resampled). Interval: percentile interval of the replicate mean differences d*.
    p-value: (#{|d* − d̄| ≥ |d̄|} + 1) / (B + 1), the shifted two-sided test. Use
    `align_problems` first when the runs are keyed by problem id.
    """
    _check_resampling_settings(num_resamples, confidence)
    a = _as_problem_values(values_a, name="values_a")
    b = _as_problem_values(values_b, name="values_b")
    if a.size != b.size:
        raise ValueError(
            f"values_a has {a.size} problems but values_b has {b.size}; a paired comparison "
            "needs the same problems in the same order (see align_problems)"
        )
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("paired_bootstrap got NaN values; drop those problems from both runs first")
    differences = b - a  # [N]
    observed = float(differences.mean())
    replicates = _resampled_statistics(differences, np.mean, num_resamples, seed)  # [B]
    low, high = _percentile_bounds(replicates, confidence)
    extreme_count = int(np.count_nonzero(np.abs(replicates - observed) >= abs(observed)))
    return PairedComparison(
        mean_a=float(a.mean()),
        mean_b=float(b.mean()),
        difference=observed,
        low=low,
        high=high,
        p_value=(extreme_count + 1) / (num_resamples + 1),
        num_problems=int(a.size),
        num_resamples=num_resamples,
        confidence=confidence,
    )


def _as_series(values: pd.Series | pd.DataFrame, key: str, column: str | None, name: str) -> pd.Series:
    """One value per problem id: a Series indexed by id, or one column of a DataFrame."""
    if isinstance(values, pd.Series):
        series = values
    elif isinstance(values, pd.DataFrame):
        frame = values.set_index(key) if key in values.columns else values
        if column is None:
            if frame.shape[1] != 1:
                raise ValueError(f"{name} has columns {list(frame.columns)}; pass column= to pick the values")
            column = frame.columns[0]
        if column not in frame.columns:
            raise ValueError(f"{name} has no column {column!r}; known: {list(frame.columns)}")
        series = frame[column]
    else:
        raise ValueError(f"{name} must be a pandas Series or DataFrame, got {type(values).__name__}")
    if series.index.has_duplicates:
        duplicates = list(series.index[series.index.duplicated()].unique()[:5])
        raise ValueError(f"{name} has duplicate problem ids, e.g. {duplicates}")
    return series


def align_problems(
    values_a: pd.Series | pd.DataFrame,
    values_b: pd.Series | pd.DataFrame,
    key: str = "problem_id",
    *,
    column: str | None = None,
    on_mismatch: Literal["raise", "intersect"] = "raise",
) -> AlignedProblems:
    """Per-problem values of two runs, aligned by problem id, in the order of run a.

    Inputs are Series indexed by problem id, or DataFrames with the id in column `key` (or as the
    index) and the values in `column` (optional when there is a single value column). Differing
    id sets raise ValueError unless on_mismatch="intersect", which keeps the common ids.
    """
    if on_mismatch not in ("raise", "intersect"):
        raise ValueError(f"unknown on_mismatch {on_mismatch!r}; known: 'raise', 'intersect'")
    series_a = _as_series(values_a, key, column, "values_a")
    series_b = _as_series(values_b, key, column, "values_b")
    in_b = series_a.index.isin(series_b.index)
    only_a = series_a.index[~in_b]
    only_b = series_b.index[~series_b.index.isin(series_a.index)]
    if (len(only_a) or len(only_b)) and on_mismatch == "raise":
        raise ValueError(
            f"the runs cover different problems: {len(only_a)} only in a "
            f"(e.g. {list(only_a[:5])}), "
            f"{len(only_b)} only in b (e.g. {list(only_b[:5])}); pass on_mismatch='intersect' "
            "to compare the common problems"
        )
    common_ids = series_a.index[in_b]
    if len(common_ids) == 0:
        raise ValueError("the runs have no problem id in common")
    return AlignedProblems(
        problem_ids=common_ids.to_numpy(),
        values_a=series_a.loc[common_ids].to_numpy(dtype=np.float64),
        values_b=series_b.loc[common_ids].to_numpy(dtype=np.float64),
    )


def default_ks(num_samples: int) -> list[int]:
    """k = 1, 2, 4, ... up to num_samples, plus num_samples itself when it is not a power of two."""
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    ks = [1 << exponent for exponent in range(num_samples.bit_length())]  # all ≤ num_samples
    if ks[-1] != num_samples:
        ks.append(num_samples)
    return ks


def pass_at_k_table(
    num_samples: np.ndarray | Sequence[int],
    num_correct: np.ndarray | Sequence[int],
    ks: Sequence[int],
) -> dict[int, np.ndarray]:
    """{k: per-problem pass@k} with the unbiased estimator; k larger than a problem's n raises."""
    samples = np.asarray(num_samples)
    corrects = np.asarray(num_correct)
    if samples.ndim != 1 or samples.shape != corrects.shape:
        raise ValueError(
            f"num_samples and num_correct must be 1-D of equal length, got shapes {samples.shape} and {corrects.shape}"
        )
    return {
        int(k): np.array([pass_at_k(int(n), int(c), int(k)) for n, c in zip(samples, corrects)], dtype=np.float64)
        for k in ks
    }


def maj_at_k(answers: Sequence[str | None], correct: Sequence[bool], k: int) -> float:
    """Correctness (1.0 or 0.0) of the majority answer among the first k samples.

    None answers (nothing extracted) cast no vote; if all k are None the result is 0.0. Ties
    go to the answer that occurs first. The majority answer's correctness is `correct` of its
    first occurrence (samples with equal answers are expected to share correctness).
    """
    if len(answers) != len(correct):
        raise ValueError(f"got {len(answers)} answers but {len(correct)} correctness flags")
    if not 1 <= k <= len(answers):
        raise ValueError(f"k must be in [1, {len(answers)}], got {k}")
    votes: Counter[str] = Counter()
    first_correct: dict[str, bool] = {}
    for answer, is_correct in zip(answers[:k], correct[:k]):
        if answer is None:
            continue
        votes[answer] += 1
        first_correct.setdefault(answer, bool(is_correct))
    if not votes:
        return 0.0
    top_count = max(votes.values())
    winner = next(answer for answer in first_correct if votes[answer] == top_count)
    return 1.0 if first_correct[winner] else 0.0
