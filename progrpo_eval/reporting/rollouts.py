"""Per-rollout statistics, with one set of column names for rescore, the figures and summary.json.

`rollout_statistics(run_dir)` has one row per rollout (run order):
    problem_id, sample_index, correct, num_tokens,
    mean_token_prob   Fig. 3's average probability: mean of exp(logp) (`metrics.tokens.mean_token_prob`)
    low_prob_mean     Fig. 3/8's low-20% probability: mean of the ⌈0.2 L⌉ smallest probabilities
    confidence        c(o|q) of Eq. 6: exp(mean of the same ⌈0.2 L⌉ smallest log-probs)
    mean_entropy      the mean exact entropy per token, when `rescore --entropy exact` stored it
    entropy_low, entropy_high  the means of the top-k bounds per token, when `--entropy topk` stored them
    entropy_method    what is stored: "exact:T=0.6", "topk:k=20,T=1", both joined by "+", or "none"
The log-prob statistics use the stored sampled-token log-probs, the raw model's at T = 1 whatever
the sampling temperature. A rollout without tokens has NaN statistics.

`entropy_source(run_dir)` picks the entropy a figure shows: the exact one when stored, else the
top-k LOWER bound (never presented as the entropy itself), else none.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from progrpo_eval import store
from progrpo_eval.logprobs import pad_right
from progrpo_eval.metrics.tokens import low_prob_confidence, low_prob_mean, mean_token_prob

ENTROPY_EXTRAS = {"exact": "entropy", "topk": "entropy_topk"}  # method → store extra written by `rescore`
TOKEN_STATISTICS = ("mean_token_prob", "low_prob_mean", "confidence")


def token_statistics(logprob_rows, fraction: float = 0.2, rows_per_batch: int = 1024) -> dict[str, np.ndarray]:
    """mean_token_prob, low_prob_mean and confidence per row of log-probs, a padded batch of rows at a time."""
    columns: dict[str, list[np.ndarray]] = {name: [] for name in TOKEN_STATISTICS}
    logprob_rows = list(logprob_rows)
    for start in range(0, len(logprob_rows), rows_per_batch):
        values, mask = pad_right(logprob_rows[start : start + rows_per_batch], dtype=torch.float64)
        mask = mask.bool()
        columns["mean_token_prob"].append(mean_token_prob(values, mask).numpy())
        columns["low_prob_mean"].append(low_prob_mean(values, mask, fraction).numpy())
        columns["confidence"].append(low_prob_confidence(values, mask, fraction).numpy())
    return {name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in columns.items()}


def read_entropy(run_dir: str | Path, method: str = "exact") -> tuple[pd.DataFrame, dict] | None:
    """The entropy table `progrpo-eval rescore` stored for `method` and its provenance, or None."""
    if method not in ENTROPY_EXTRAS:
        raise ValueError(f"unknown entropy method {method!r}; known: {', '.join(ENTROPY_EXTRAS)}")
    return store.read_extra(run_dir, ENTROPY_EXTRAS[method])


def rollout_statistics(run_dir: str | Path, fraction: float = 0.2) -> pd.DataFrame:
    """One row per rollout with the columns of the module docstring."""
    samples = store.load_samples(run_dir, columns=["problem_id", "sample_index", "correct", "num_tokens", "logprobs"])
    table = samples[["problem_id", "sample_index", "correct", "num_tokens"]].copy()
    for name, values in token_statistics(samples["logprobs"], fraction).items():
        table[name] = values
    methods = []
    exact = read_entropy(run_dir, "exact")
    if exact is not None:
        frame, provenance = exact
        table = table.merge(frame[["problem_id", "sample_index", "mean_entropy"]], on=["problem_id", "sample_index"],
                            how="left")
        methods.append(f"exact:T={provenance['temperature']:g}")
    topk = read_entropy(run_dir, "topk")
    if topk is not None:
        frame, provenance = topk
        bounds = frame[["problem_id", "sample_index", "mean_entropy_low", "mean_entropy_high"]].rename(
            columns={"mean_entropy_low": "entropy_low", "mean_entropy_high": "entropy_high"})
        table = table.merge(bounds, on=["problem_id", "sample_index"], how="left")
        methods.append(f"topk:k={provenance['k']},T=1")
    table["entropy_method"] = "+".join(methods) or "none"
    return table


class EntropySource(NamedTuple):
    method: str  # "exact" or "topk"
    column: str  # its per-rollout column in rollout_statistics: "mean_entropy" or "entropy_low"
    per_token: pd.Series  # per sample, the per-token values (exact entropy, or the top-k lower bound)
    axis_label: str


def entropy_source(run_dir: str | Path) -> EntropySource | None:
    """The rollout entropy to show (module docstring), or None when nothing is stored."""
    exact = read_entropy(run_dir, "exact")
    if exact is not None:
        frame, provenance = exact
        return EntropySource("exact", "mean_entropy", frame["entropy"],
                             f"token entropy at T={provenance['temperature']:g} (nats)")
    topk = read_entropy(run_dir, "topk")
    if topk is not None:
        frame, provenance = topk
        return EntropySource("topk", "entropy_low", frame["entropy_low"],
                             f"token entropy, top-{provenance['k']} lower bound (nats)")
    return None


def problem_token_statistics(run_dir: str | Path) -> pd.DataFrame:
    """Fig. 3's values: per problem, the mean over its rollouts of each per-rollout statistic."""
    rollouts = rollout_statistics(run_dir)
    columns = [c for c in (*TOKEN_STATISTICS, "mean_entropy", "entropy_low", "entropy_high") if c in rollouts]
    return rollouts.groupby("problem_id", sort=False)[columns].mean().reset_index()


def pooled(rows) -> np.ndarray:
    """Per-sample arrays of per-token values as one float64 array."""
    return np.concatenate([np.asarray(row, dtype=np.float64) for row in rows] or [np.empty(0)])


def token_values(run_dir: str | Path, quantity: str) -> np.ndarray | None:
    """Every rollout token's stored entropy (None when there is none) or surprisal −log p, pooled."""
    if quantity == "entropy":
        stored = entropy_source(run_dir)
        rows = None if stored is None else stored.per_token
    elif quantity == "surprisal":
        logprobs = store.load_samples(run_dir, columns=["logprobs"])["logprobs"]
        rows = [-np.asarray(row, dtype=np.float64) for row in logprobs]
    else:
        raise ValueError(f"unknown quantity {quantity!r}; known: entropy, surprisal")
    return None if rows is None else pooled(rows)
