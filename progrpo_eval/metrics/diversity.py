"""Diversity of a set of texts, as in the paper's Tab. 5: Distinct-n, Self-BLEU, semantic cosine.

    distinct_n, expected_distinct_n   here
    self_bleu, self_bleu_scores       `metrics.bleu` (with the 13a `tokenize` both count)
    semantic_cosine                   `metrics.semantic`
    dataset_diversity                 here: Tab. 5's aggregation over a benchmark's problems

Decisions
- Tokens: sacrebleu's 13a tokens (`metrics.bleu.tokenize`), as BLEU sees them.
- `distinct_n` (Li et al., 2016): unique / total n-grams pooled over the texts; none gives NaN.
- `expected_distinct_n` (Liu et al., 2022, "Rethinking and Refining the Distinct Metric", EAD):
  unique / (V · (1 − ((V − 1)/V)^C)), C = total n-grams, V = the size of the n-gram vocabulary:
  the denominator is the expected number of distinct n-grams among C uniform draws from V.
  Liu et al. fix V for all the systems they compare: pass `vocab_size` for that. Without it,
  V = U^n, all n-grams over the U distinct tokens of the pooled texts (for n = 1, V = U makes
  EAD ≈ 1 whatever the texts: pass `vocab_size` there). Computed as −V·expm1(C·log1p(−1/V)).
- `dataset_diversity`: Tab. 5's aggregation of a benchmark's correct solutions. "pooled" (the
  default, as the paper words it: "computed at the dataset level for correct solutions") takes
  every correct solution of every problem as one set; "per-problem" computes each problem's
  value (problems with fewer than `min_texts` are skipped, NaN values left out), then the mean.
- `fair_subsample`: the fair mode: only problems every compared model solves at least m times,
  m correct solutions subsampled (seeded) from each, so that a model that solves more problems
  is not compared on other texts.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from progrpo_eval.generation.base import derived_seed
from progrpo_eval.metrics.bleu import Tokenizer, self_bleu, self_bleu_scores, tokenize
from progrpo_eval.metrics.semantic import default_embedding_model, semantic_cosine, semantic_cosine_details

__all__ = [
    "dataset_diversity",
    "default_embedding_model",
    "distinct_n",
    "expected_distinct_n",
    "fair_subsample",
    "resolve_metric",
    "self_bleu",
    "self_bleu_scores",
    "semantic_cosine",
    "semantic_cosine_details",
    "tokenize",
]


# ---------------------------------------------------------------- Distinct-n


def _pooled_ngram_counts(texts: Sequence[str], n: int, tokenizer: Tokenizer) -> tuple[int, int, int]:
    """(unique n-grams, total n-grams, unique tokens), pooled over the texts."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    unique_ngrams: set[tuple[str, ...]] = set()
    unique_tokens: set[str] = set()
    total = 0
    for text in texts:
        tokens = tokenizer(text)
        ngrams = list(zip(*(tokens[i:] for i in range(n))))
        unique_ngrams.update(ngrams)
        unique_tokens.update(tokens)
        total += len(ngrams)
    return len(unique_ngrams), total, len(unique_tokens)


def distinct_n(texts: Sequence[str], n: int = 2, *, tokenize: Tokenizer = tokenize) -> float:
    """Distinct-n: unique n-grams / total n-grams pooled over the texts; NaN without n-grams."""
    unique, total, _ = _pooled_ngram_counts(texts, n, tokenize)
    return unique / total if total else math.nan


def expected_distinct_n(
    texts: Sequence[str], n: int = 2, *, vocab_size: int | None = None, tokenize: Tokenizer = tokenize
) -> float:
    """EAD of Liu et al. (2022): unique / (V·(1 − ((V−1)/V)^C)); V defaults to U^n (module doc)."""
    unique, total, unique_tokens = _pooled_ngram_counts(texts, n, tokenize)
    if total == 0:
        return math.nan
    vocab = float(unique_tokens) ** n if vocab_size is None else float(vocab_size)
    if vocab < 1:
        raise ValueError(f"vocab_size must be at least 1, got {vocab_size}")
    if vocab == 1:  # log1p(-1) is a domain error; one possible n-gram is always drawn
        return unique / 1.0
    expected_unique = -vocab * math.expm1(total * math.log1p(-1.0 / vocab))
    return unique / expected_unique


# ---------------------------------------------------------------- Tab. 5 aggregation

DiversityMetric = Callable[[Sequence[str]], float]
METRICS: dict[str, Callable[..., float]] = {
    "distinct": distinct_n,
    "expected-distinct": expected_distinct_n,
    "self-bleu": self_bleu,
    "semantic-cosine": semantic_cosine,
}


def resolve_metric(name: str) -> DiversityMetric:
    """A metric from its name with parameters: "distinct:n=2", "self-bleu:mode=nltk", "semantic-cosine"."""
    base, _, query = name.partition(":")
    if base not in METRICS:
        raise ValueError(f"unknown diversity metric {base!r}; known: {sorted(METRICS)}")
    function = METRICS[base]
    accepted = inspect.signature(function).parameters
    params: dict[str, Any] = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        if key not in accepted or key in ("texts", "tokenize", "model"):
            raise ValueError(f"{base} takes no parameter {key!r} in a metric name")
        params[key] = int(value) if value.lstrip("-").isdigit() else value
    return functools.partial(function, **params)


AGGREGATIONS = ("pooled", "per-problem")


def dataset_diversity(
    problems: Mapping[Hashable, Sequence[str]],
    metric: str | DiversityMetric,
    min_texts: int = 2,
    aggregation: str = "pooled",
) -> dict[str, Any]:
    """A diversity metric over a benchmark's texts (Tab. 5), pooled or per problem.

    - "pooled" (the default; the paper's Tab. 5 "computed at the dataset level"): the metric of all
      problems' texts together, one set (NaN with fewer than `min_texts` texts in all).
    - "per-problem": the metric of each problem's texts, then the plain mean over problems.
      Problems with fewer than `min_texts` texts are skipped; a NaN value (no n-gram, ...) is
      left out of the mean and counted in num_undefined.
    num_problems counts the problems that enter the value, num_texts their texts.
    """
    if min_texts < 1:
        raise ValueError(f"min_texts must be at least 1, got {min_texts}")
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; known: {', '.join(AGGREGATIONS)}")
    function = resolve_metric(metric) if isinstance(metric, str) else metric
    name = metric if isinstance(metric, str) else getattr(metric, "__name__", repr(metric))
    if aggregation == "pooled":
        texts = [text for group in problems.values() for text in group]
        value = float(function(texts)) if len(texts) >= min_texts else math.nan
        contributing = sum(len(group) > 0 for group in problems.values())
        return {
            "metric": name,
            "aggregation": aggregation,
            "value": value,
            "num_problems": contributing if not math.isnan(value) else 0,
            "num_texts": len(texts),
            "num_skipped": len(problems) - contributing,
            "num_undefined": int(math.isnan(value) and bool(texts)),
        }
    per_problem = {
        problem_id: float(function(list(texts))) for problem_id, texts in problems.items() if len(texts) >= min_texts
    }
    defined = [problem_id for problem_id, value in per_problem.items() if not math.isnan(value)]
    return {
        "metric": name,
        "aggregation": aggregation,
        "value": math.fsum(per_problem[p] for p in defined) / len(defined) if defined else math.nan,
        "num_problems": len(defined),
        "num_texts": sum(len(problems[p]) for p in defined),
        "num_skipped": len(problems) - len(per_problem),
        "num_undefined": len(per_problem) - len(defined),
        "per_problem": per_problem,
    }


def fair_subsample(
    solutions: Mapping[str, Mapping[str, Sequence[str]]], m: int, seed: int = 0
) -> dict[str, dict[str, list[str]]]:
    """Tab. 5's fair comparison: the same problems and as many texts of each, for every run.

    `solutions` is run → problem → correct texts. Kept: the problems every run solves at least `m`
    times; from each run's texts of such a problem, `m` drawn without replacement by
    `np.random.default_rng(derived_seed(seed, run, problem))` and kept in their original order.
    A model that solves more problems is then not compared on other problems or more texts.
    """
    if m < 1:
        raise ValueError(f"the fair comparison needs m >= 1 correct solutions per problem, got {m}")
    runs = list(solutions)
    common = [
        problem
        for problem in (solutions[runs[0]] if runs else {})
        if all(len(solutions[run].get(problem, ())) >= m for run in runs)
    ]
    chosen: dict[str, dict[str, list[str]]] = {}
    for run in runs:
        chosen[run] = {}
        for problem in common:
            texts = list(solutions[run][problem])
            picked = np.random.default_rng(derived_seed(seed, run, problem)).choice(len(texts), m, replace=False)
            chosen[run][problem] = [texts[i] for i in sorted(picked)]
    return chosen
