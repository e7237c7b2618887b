"""summary.json of a run directory: Pass@k, accuracy, maj@k, CIs, counts, lengths, token stats.

Metric names carry their parameters (`pass@k:k=8&n=32`, lighteval's style) next to the plain
`pass_at_k` mapping of DESIGN.md. Every mean is over problems; CIs are percentile bootstraps over
problems (`progrpo_eval.stats`), never resampling samples within a problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from progrpo_eval.metrics.diversity import dataset_diversity
from progrpo_eval.reporting.rollouts import token_statistics as rollout_token_statistics
from progrpo_eval.reporting.table import Table
from progrpo_eval.stats import bootstrap_ci, default_ks, maj_at_k, pass_at_k_table

CI_RESAMPLES = 10_000


def token_statistics(samples: pd.DataFrame) -> dict:
    """Sample-level means of Fig. 3's statistics from the stored sampled-token log-probs (T = 1).

    Empty when no sample has log-probs (imported samples carry text only)."""
    if samples.empty or not any(len(row) for row in samples["logprobs"]):
        return {}
    per_rollout = rollout_token_statistics(samples["logprobs"])
    return {
        "mean_token_prob": float(np.nanmean(per_rollout["mean_token_prob"])),
        "low_prob_mean": float(np.nanmean(per_rollout["low_prob_mean"])),
        "confidence": float(np.nanmean(per_rollout["confidence"])),
        "source": "sampled-token log-probs of the raw model (T = 1)",
    }


SUMMARY_DIVERSITY = ("distinct:n=2", "self-bleu:mode=sacrebleu")


def diversity_statistics(samples: pd.DataFrame) -> dict:
    """Tab. 5's lexical diversity of correct solutions: pooled over the benchmark (`value`, the
    paper's "dataset level") and per problem (`per_problem`: problems with >= 2, macro-averaged).

    Semantic cosine needs a sentence-embedding model, so it is left to `progrpo-eval report`.
    """
    correct = samples[samples["correct"]]
    by_problem = {pid: list(group["text"]) for pid, group in correct.groupby("problem_id", sort=False)}
    result = {}
    for metric in SUMMARY_DIVERSITY:
        pooled = dataset_diversity(by_problem, metric, aggregation="pooled")
        per_problem = dataset_diversity(by_problem, metric, aggregation="per-problem")
        result[metric] = {
            "value": None if np.isnan(pooled["value"]) else pooled["value"],
            "aggregation": "pooled",
            "num_texts": pooled["num_texts"],
            "num_problems": pooled["num_problems"],
            "per_problem": None if np.isnan(per_problem["value"]) else per_problem["value"],
            "per_problem_num_problems": per_problem["num_problems"],
        }
    return result


def _ci(values: np.ndarray, seed: int) -> list[float]:
    interval = bootstrap_ci(values, num_resamples=CI_RESAMPLES, seed=seed)
    return [interval.low, interval.high]


def _majority(group: pd.DataFrame, k: int) -> float:
    # Votes go by the scorer's answer key (`extracted`: the math scorer's is canonical, so 0.5 and
    # \frac{1}{2} are one answer), and every answer judged correct equals the gold: they vote as one.
    answers = [None if a is None or a == "" else "".join(str(a).split()) for a in group["extracted"]]
    answers = [
        _CORRECT if answer is not None and correct else answer for answer, correct in zip(answers, group["correct"])
    ]
    return maj_at_k(answers, list(group["correct"]), k)


_CORRECT = "\0correct"  # the key of every correct answer in `_majority` (no answer key holds a NUL)


def summarize(
    samples: pd.DataFrame, problem_ids: list[str], *, num_samples: int, seed: int = 0, problems: list | None = None
) -> dict:
    """The summary of the samples of `problem_ids` (each must have `num_samples` samples).

    A benchmark's own additions (HumanEval+'s base tests, the CodeForces rating; `notes` lines for
    the printed table) come from `benchmarks.code_summary`; `problems` gives it their metadata."""
    samples = samples[samples["problem_id"].isin(problem_ids)]
    groups = samples.groupby("problem_id", sort=False)
    per_problem = groups.agg(n=("correct", "size"), c=("correct", "sum"))
    per_problem = per_problem.reindex([p for p in problem_ids if p in per_problem.index])
    if per_problem.empty:
        raise ValueError("no scored samples to summarise")
    incomplete = per_problem.index[per_problem["n"] != num_samples].tolist()
    if incomplete:
        raise ValueError(f"problems without exactly {num_samples} samples: {incomplete[:5]}")

    ks = default_ks(num_samples)
    table = pass_at_k_table(per_problem["n"].to_numpy(), per_problem["c"].to_numpy(), ks)
    accuracy = (per_problem["c"] / per_problem["n"]).to_numpy(dtype=np.float64)
    majority = np.array([_majority(groups.get_group(p), num_samples) for p in per_problem.index])
    statuses = samples["score_status"].value_counts().to_dict()
    lengths = samples["num_tokens"].dropna().to_numpy()  # imported samples may not know their length
    summary = {
        "num_problems": int(len(per_problem)),
        "num_samples_per_problem": num_samples,
        "pass_at_k": {str(k): float(table[k].mean()) for k in ks},
        "pass_at_k_ci95": {str(k): _ci(table[k], seed) for k in ks},
        "metrics": {f"pass@k:k={k}&n={num_samples}": float(table[k].mean()) for k in ks},
        "mean_accuracy": float(accuracy.mean()),
        "mean_accuracy_ci95": _ci(accuracy, seed),
        "maj_at_k": {str(num_samples): float(majority.mean())},
        "counts": {
            "samples": int(len(samples)),
            "truncated": int(samples["truncated"].sum()),
            "hit_max_tokens": int((samples["finish_reason"] == "length").sum()),
            "scored": int(statuses.get("ok", 0)),
            "no_answer": int(statuses.get("no_answer", 0)),
            "scorer_timeouts": int(statuses.get("timeout", 0)),
            "scorer_errors": int(statuses.get("error", 0)),
        },
        "response_tokens": {
            "mean": float(lengths.mean()),
            "median": float(np.median(lengths)),
            "p90": float(np.percentile(lengths, 90)),
            "max": int(lengths.max()),
        }
        if len(lengths)
        else None,
        "token_stats": token_statistics(samples),
        "diversity_correct": diversity_statistics(samples),
        "bootstrap": {"unit": "problem", "resamples": CI_RESAMPLES, "seed": seed, "method": "percentile"},
    }
    from progrpo_eval.benchmarks.code_summary import benchmark_summary_extra

    summary.update(benchmark_summary_extra(samples, problem_ids, num_samples, problems))
    return summary


def summary_table(rows: list[tuple[str, dict]]) -> Table:
    """One row per (label, summary): Pass@k in %, maj@N, mean accuracy with its CI, counts."""
    ks = sorted({int(k) for _, summary in rows for k in summary["pass_at_k"]})
    columns = (
        ("run", "problems")
        + tuple(f"Pass@{k}" for k in ks)
        + ("maj@N", "mean acc. [95% CI]", "truncated", "timeouts", "errors")
    )
    table_rows = []
    for label, summary in rows:
        low, high = summary["mean_accuracy_ci95"]
        cells = ((summary["num_problems"],),)
        cells += tuple((100 * summary["pass_at_k"][str(k)] if str(k) in summary["pass_at_k"] else None,) for k in ks)
        cells += (
            (100 * next(iter(summary["maj_at_k"].values())),),
            (f"{100 * summary['mean_accuracy']:.1f} [{100 * low:.1f}, {100 * high:.1f}]",),
            (summary["counts"]["truncated"],),
            (summary["counts"]["scorer_timeouts"],),
            (summary["counts"]["scorer_errors"],),
        )
        table_rows.append((label, cells))
    formats = ("d",) + (".1f",) * len(ks) + (".1f", "", "d", "d", "d")
    return Table(title="", columns=columns, rows=tuple(table_rows), formats=formats, directions=(0,) * len(formats))


def markdown_table(rows: list[tuple[str, dict]]) -> str:
    """`summary_table(rows)` as Markdown (what `run` prints and summary.md holds), then the summaries' notes."""
    notes = [note for _, summary in rows for note in summary.get("notes", [])]
    return summary_table(rows).markdown() + "".join(f"\n{note}" for note in notes)
