"""Per-rollout statistics, with one set of column names for rescore, the figures and summary.json.

Everything about a rollout is computed at ONE temperature T (default 1: the policy's own
distribution, the temperature of Eq. 5–6): its token probabilities and its entropy, so a figure
never sets a probability at T = 1 beside an entropy at the sampling temperature.

`rollout_statistics(run_dir, temperature=T)` has one row per rollout (run order):
    problem_id, sample_index, correct, num_tokens,
    mean_token_prob   Fig. 3's average probability: mean of exp(logp) (`metrics.tokens.mean_token_prob`)
    low_prob_mean     Fig. 3/8's low-20% probability: mean of the ⌈0.2 L⌉ smallest probabilities
    confidence        c(o|q) of Eq. 6: exp(mean of the same ⌈0.2 L⌉ smallest log-probs)
    mean_entropy      the mean exact entropy per token, when `rescore --entropy exact` stored it at T
    entropy_low, entropy_high  the means of the top-k bounds per token (stored at T = 1 only)
    entropy_method    the entropy in the table: "exact:T=1", "topk:k=20,T=1", both joined by "+", or "none"
    temperature       T
At T = 1 the log-prob statistics use the stored sampled-token log-probs (the raw model's, whatever
the sampling temperature); at another T, the log-probs an exact rescore at that T stored (else
ValueError saying which rescore to run). A rollout without tokens has NaN statistics.

`entropy_source(run_dir, temperature)` picks the entropy a figure shows: the exact one at T when
stored, else the top-k LOWER bound (T = 1; never presented as the entropy itself), else none.
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


def same_temperature(a: float, b: float) -> bool:
    return abs(float(a) - float(b)) <= 1e-9


def _exact_at(run_dir: str | Path, temperature: float) -> tuple[pd.DataFrame, dict] | None:
    exact = read_entropy(run_dir, "exact")
    return exact if exact is not None and same_temperature(exact[1]["temperature"], temperature) else None


def stored_elsewhere(run_dir: str | Path, temperature: float) -> str | None:
    """What entropy is stored at another temperature than `temperature` ("exact at T=0.6"), or None."""
    exact = read_entropy(run_dir, "exact")
    if exact is not None and not same_temperature(exact[1]["temperature"], temperature):
        return f"exact at T={exact[1]['temperature']:g}"
    if not same_temperature(temperature, 1.0) and read_entropy(run_dir, "topk") is not None:
        return "top-k bounds at T=1"
    return None


def logprobs_at(run_dir: str | Path, temperature: float = 1.0) -> pd.DataFrame:
    """problem_id, sample_index, correct, num_tokens and every token's log-prob at `temperature`."""
    samples = store.load_samples(run_dir, columns=["problem_id", "sample_index", "correct", "num_tokens", "logprobs"])
    if same_temperature(temperature, 1.0):
        return samples
    exact = _exact_at(run_dir, temperature)
    if exact is None or "logprobs" not in exact[0]:
        raise ValueError(
            f"{run_dir}: token probabilities at T={temperature:g} need `progrpo-eval rescore {run_dir} "
            f"--entropy exact --temperature {temperature:g}` (the stored log-probs are at T=1)"
        )
    scaled = exact[0][["problem_id", "sample_index", "logprobs"]]
    return samples.drop(columns=["logprobs"]).merge(scaled, on=["problem_id", "sample_index"], how="left")


def rollout_statistics(run_dir: str | Path, fraction: float = 0.2, temperature: float = 1.0) -> pd.DataFrame:
    """One row per rollout with the columns of the module docstring, all at `temperature`."""
    samples = logprobs_at(run_dir, temperature)
    table = samples[["problem_id", "sample_index", "correct", "num_tokens"]].copy()
    for name, values in token_statistics(samples["logprobs"], fraction).items():
        table[name] = values
    methods = []
    exact = _exact_at(run_dir, temperature)
    if exact is not None:
        frame, provenance = exact
        table = table.merge(
            frame[["problem_id", "sample_index", "mean_entropy"]], on=["problem_id", "sample_index"], how="left"
        )
        methods.append(f"exact:T={provenance['temperature']:g}")
    topk = read_entropy(run_dir, "topk") if same_temperature(temperature, 1.0) else None
    if topk is not None:
        frame, provenance = topk
        bounds = frame[["problem_id", "sample_index", "mean_entropy_low", "mean_entropy_high"]].rename(
            columns={"mean_entropy_low": "entropy_low", "mean_entropy_high": "entropy_high"}
        )
        table = table.merge(bounds, on=["problem_id", "sample_index"], how="left")
        methods.append(f"topk:k={provenance['k']},T=1")
    table["entropy_method"] = "+".join(methods) or "none"
    table["temperature"] = float(temperature)
    return table


class EntropySource(NamedTuple):
    method: str  # "exact" or "topk"
    column: str  # its per-rollout column in rollout_statistics: "mean_entropy" or "entropy_low"
    per_token: pd.Series  # per sample, the per-token values (exact entropy, or the top-k lower bound)
    axis_label: str


def entropy_source(run_dir: str | Path, temperature: float = 1.0) -> EntropySource | None:
    """The rollout entropy at `temperature` to show (module docstring), or None when none is stored at it."""
    exact = _exact_at(run_dir, temperature)
    if exact is not None:
        frame, provenance = exact
        return EntropySource(
            "exact", "mean_entropy", frame["entropy"], f"token entropy at T={provenance['temperature']:g} (nats)"
        )
    topk = read_entropy(run_dir, "topk") if same_temperature(temperature, 1.0) else None
    if topk is not None:
        frame, provenance = topk
        return EntropySource(
            "topk",
            "entropy_low",
            frame["entropy_low"],
            f"token entropy at T=1, top-{provenance['k']} lower bound (nats)",
        )
    return None


def problem_token_statistics(run_dir: str | Path, temperature: float = 1.0) -> pd.DataFrame:
    """Fig. 3's values: per problem, the mean over its rollouts of each per-rollout statistic at `temperature`."""
    rollouts = rollout_statistics(run_dir, temperature=temperature)
    columns = [c for c in (*TOKEN_STATISTICS, "mean_entropy", "entropy_low", "entropy_high") if c in rollouts]
    return rollouts.groupby("problem_id", sort=False)[columns].mean().reset_index()


def pooled(rows) -> np.ndarray:
    """Per-sample arrays of per-token values as one float64 array."""
    return np.concatenate([np.asarray(row, dtype=np.float64) for row in rows] or [np.empty(0)])


def token_values(run_dir: str | Path, quantity: str, temperature: float = 1.0) -> np.ndarray | None:
    """Every rollout token's entropy at `temperature` (None when none is stored) or surprisal −log p_T, pooled."""
    if quantity == "entropy":
        stored = entropy_source(run_dir, temperature)
        rows = None if stored is None else stored.per_token
    elif quantity == "surprisal":
        rows = [-np.asarray(row, dtype=np.float64) for row in logprobs_at(run_dir, temperature)["logprobs"]]
    else:
        raise ValueError(f"unknown quantity {quantity!r}; known: entropy, surprisal")
    return None if rows is None else pooled(rows)
