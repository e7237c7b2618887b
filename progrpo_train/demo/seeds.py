"""Numbers over training seeds: each method's mean with a 95 % t-interval, paired differences, the table.

Decisions:
- The unit is the training seed: one number per (method, seed), e.g. that run's Pass@32 over the
  evaluation prompts. A method's value is the mean over seeds with the 95 % Student t-interval
  mean ± t(0.975, n − 1) · s / √n (`progrpo_eval.significance.seed_interval`); a bootstrap over
  three to five seeds would understate the uncertainty.
- Paired: GRPO and ProGRPO of one seed share the warm start, the data order and the rollout
  seeds, so the comparison is over the per-seed differences d_s = ProGRPO_s − GRPO_s
  (`significance.paired_seed_test`: their mean, t-interval and paired t test), with the number of
  seeds where d_s > 0. Per seed, `progrpo-eval compare`'s paired bootstrap over prompts
  (`reporting.comparison.compare_runs`) is kept as well. These are the demo's own metrics beyond
  Pass@k; `progrpo_eval.reporting.seeds` aggregates a recipe's Pass@k the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from rich.table import Table

from progrpo_train.demo.plan import METHOD_NAMES

# (key, column title, scale for display, digits, which way is better: 1 higher, -1 lower)
HEADLINE = (
    ("pass@1", "Pass@1\n(%)", 100, 1, 1),
    ("pass@32", "Pass@32\n(%)", 100, 1, 1),
    ("distinct_correct", "distinct right\nanswers", 1, 2, 1),
    ("effective_answers", "effective\n# answers", 1, 2, 1),
    ("entropy", "rollout\nentropy", 1, 3, 1),
    ("self_bleu", "Self-BLEU\n(lower: diverse)", 1, 1, -1),
    ("distinct_2", "Distinct-2", 1, 3, 1),
)
CAPTION = (
    "mean ± half-width of the 95% t-interval over seeds. Held-out prompts, {k} samples each at T = 0.6, "
    "top-p 0.95. distinct right answers: different correct numbers among a prompt's {k} samples; effective # "
    "answers: exp(entropy) of the exact probabilities of the correct answers (1 = all on one); entropy: "
    "rollout token entropy at T = 1 (nats); Self-BLEU, Distinct-2: over a prompt's correct samples. Last row: "
    "per-seed differences (same warm start), and in how many seeds ProGRPO is higher."
)


def value(metrics: dict, key: str) -> float | None:
    """One headline number of a run: "pass@K" reads the run's Pass@K, anything else its field."""
    if key.startswith("pass@"):
        return metrics["pass_at_k"].get(key.split("@")[1])
    return metrics.get(key)


def t_interval(values: Sequence[float | None], confidence: float = 0.95) -> dict:
    """`significance.seed_interval` of the values that exist, as JSON: mean, low, high, sd, n."""
    from progrpo_eval.significance import seed_interval

    values = [float(v) for v in values if v is not None and not math.isnan(v)]
    if not values:
        return {"mean": None, "low": None, "high": None, "sd": None, "n": 0}
    interval = seed_interval(values, confidence)
    finite = interval.num_seeds > 1
    return {
        "mean": interval.mean,
        "low": interval.low if finite else None,
        "high": interval.high if finite else None,
        "sd": interval.std if finite else None,
        "n": interval.num_seeds,
    }


def aggregate(runs: dict[str, dict[int, dict]], keys: Sequence[str]) -> dict[str, dict[str, dict]]:
    """method → key → t_interval over that method's seeds."""
    return {
        method: {key: t_interval([value(metrics, key) for metrics in by_seed.values()]) for key in keys}
        for method, by_seed in runs.items()
    }


def paired(runs: dict[str, dict[int, dict]], keys: Sequence[str], a: str = "grpo", b: str = "progrpo") -> dict:
    """key → the per-seed differences b − a: `significance.paired_seed_test` (t interval, p) and how many are > 0."""
    from progrpo_eval.significance import paired_seed_test

    seeds = sorted(set(runs[a]) & set(runs[b]))
    result = {}
    for key in keys:
        pairs = [(value(runs[a][s], key), value(runs[b][s], key)) for s in seeds]
        pairs = [(va, vb) for va, vb in pairs if va is not None and vb is not None]
        differences = [vb - va for va, vb in pairs]
        entry = {"mean": None, "low": None, "high": None, "p_value": None, "n": len(pairs)}
        if pairs:
            test = paired_seed_test([va for va, _ in pairs], [vb for _, vb in pairs])
            finite = len(pairs) > 1
            entry = {
                "mean": test.difference,
                "low": test.low if finite else None,
                "high": test.high if finite else None,
                "p_value": test.p_value if finite else None,
                "n": len(pairs),
            }
        result[key] = {**entry, "per_seed": differences, "positive_seeds": sum(d > 0 for d in differences)}
    return {
        "a": a,
        "b": b,
        "seeds": seeds,
        "test": "paired t test over seeds (progrpo_eval.significance)",
        "metrics": result,
    }


def per_seed_comparisons(
    run_dirs: dict[str, dict[int, str]],
    seeds: Sequence[int],
    a: str = "grpo",
    b: str = "progrpo",
    num_resamples: int = 10_000,
) -> dict[int, dict]:
    """Per seed: `progrpo-eval compare A B --json` (paired bootstrap over prompts) as a dict."""
    from progrpo_eval.reporting.comparison import compare_runs, comparison_json

    return {
        seed: json.loads(
            comparison_json(
                compare_runs(run_dirs[a][seed], run_dirs[b][seed], num_resamples=num_resamples),
                run_dirs[a][seed],
                run_dirs[b][seed],
            )
        )
        for seed in seeds
    }


def _cell(stats: dict, scale: float, digits: int, signed: bool = False) -> str:
    if stats["mean"] is None:
        return "–"
    text = f"{scale * stats['mean']:{'+' if signed else ''}.{digits}f}"
    if stats["low"] is not None:
        text += f"±{scale * (stats['high'] - stats['mean']):.{digits}f}"
    return text


def headline_table(aggregated: dict, differences: dict, seeds: Sequence[int], k: int) -> Table:
    """Rows: each method (mean ± 95 % t half-width over seeds), then ProGRPO − GRPO paired."""
    columns = [
        (key.replace("32", str(k)), title.replace("32", str(k)), scale, digits)
        for key, title, scale, digits, _ in HEADLINE
    ]
    table = Table(
        title=f"GRPO vs ProGRPO (α = 0.3) on the toy task, seeds {', '.join(map(str, seeds))}",
        caption=CAPTION.format(k=k),
        caption_justify="left",
    )
    table.add_column("method", no_wrap=True)
    for _, title, _, _ in columns:
        table.add_column(title, justify="right")
    for method in ("start", "grpo", "progrpo"):
        if method in aggregated:
            table.add_row(
                METHOD_NAMES[method],
                *(_cell(aggregated[method][key], scale, digits) for key, _, scale, digits in columns),
            )
    metrics = differences["metrics"]
    table.add_row(
        "ProGRPO−GRPO",
        *(_cell(metrics[key], scale, digits, signed=True) for key, _, scale, digits in columns),
        style="bold",
    )
    table.add_row(
        "  seeds higher",
        *(f"{metrics[key]['positive_seeds']}/{len(metrics[key]['per_seed'])}" for key, _, _, _ in columns),
    )
    return table


def start_table(start: dict[int, dict]) -> Table:
    """The start of RL, per seed: what issue 9 asks of the warm start, measured."""
    table = Table(title="The start of RL (each seed's warm start; 64 training prompts, G = 8 at T = 1)")
    for column in (
        "seed",
        "accuracy (%)",
        "mixed groups (%)",
        "distinct correct of 8",
        "correct answers / prompt",
        "P(correct answers) (%)",
        "effective # correct answers",
    ):
        table.add_column(column, justify="right")
    for seed, state in sorted(start.items()):
        table.add_row(
            str(seed),
            f"{100 * state['accuracy']:.1f}",
            f"{100 * state['mixed_groups']:.0f}",
            f"{state['distinct_correct_of_8']:.2f}",
            f"{state['answers_per_prompt']:.1f}",
            f"{100 * state['correct_mass']:.1f}",
            f"{state['effective_answers']:.2f}",
        )
    return table
