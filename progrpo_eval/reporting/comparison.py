"""Paired comparisons of runs (`progrpo-eval compare`, and the report's comparison pages).

`compare_runs`: per-problem Pass@k (unbiased estimator) and accuracy of two finished runs of one
benchmark (an incomplete or duplicated run is refused as such: `runs.check_finished`), aligned on
problem id (`stats.align_problems`; different problem sets raise, naming the counts), then
`stats.paired_bootstrap` of B − A over problems. Per problem, accuracy c/n equals Pass@1; both
rows are shown because reports quote both names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from progrpo_eval import store
from progrpo_eval.reporting.runs import check_finished, display_name, per_problem_metrics, problem_counts
from progrpo_eval.reporting.table import Table
from progrpo_eval.stats import PairedComparison, align_problems, default_ks, paired_bootstrap


class Comparison(NamedTuple):
    benchmark: str
    metrics: tuple[str, ...]  # "pass@1", "pass@2", ..., "accuracy"
    results: tuple[PairedComparison, ...]


def compare_runs(run_a: str | Path, run_b: str | Path, *, num_resamples: int = 10_000, seed: int = 0) -> Comparison:
    """Paired bootstrap of B − A for Pass@k (each k both runs support) and accuracy, over problems."""
    run_a, run_b = Path(run_a), Path(run_b)
    bench_a, bench_b = store.read_run_manifest(run_a)["benchmark"], store.read_run_manifest(run_b)["benchmark"]
    if bench_a != bench_b:
        raise ValueError(f"the runs are on different benchmarks: {bench_a} ({run_a}) and {bench_b} ({run_b})")
    check_finished(run_a), check_finished(run_b)  # an unfinished or duplicated run is not "other problems"
    counts_a, counts_b = problem_counts(run_a), problem_counts(run_b)
    if counts_a.empty or counts_b.empty:
        raise ValueError(f"{run_a if counts_a.empty else run_b} has no samples")
    common = counts_a.index.intersection(counts_b.index)
    if len(common) != len(counts_a) or len(common) != len(counts_b):
        raise ValueError(f"the runs cover different problems: {len(counts_a)} in A, {len(counts_b)} in B, "
                         f"{len(common)} in common; compare runs made with the same benchmark data and --limit")
    ks = default_ks(int(min(counts_a["n"].min(), counts_b["n"].min())))
    metrics_a, metrics_b = per_problem_metrics(run_a, ks), per_problem_metrics(run_b, ks)
    names = tuple(f"pass@{k}" for k in ks) + ("accuracy",)
    results = []
    for name in names:
        aligned = align_problems(metrics_a[name], metrics_b[name])
        results.append(paired_bootstrap(aligned.values_a, aligned.values_b, num_resamples=num_resamples, seed=seed))
    return Comparison(benchmark=bench_a, metrics=names, results=tuple(results))


def comparison_json(comparison: Comparison, run_a: str | Path, run_b: str | Path) -> str:
    """The comparison as JSON: fractions in [0, 1], difference = B − A."""
    rows = [{"metric": name, "a": result.mean_a, "b": result.mean_b, "difference": result.difference,
             "ci95": [result.low, result.high], "p_value": result.p_value, "num_problems": result.num_problems}
            for name, result in zip(comparison.metrics, comparison.results)]
    first = comparison.results[0]
    payload = {"run_a": str(run_a), "run_b": str(run_b), "benchmark": comparison.benchmark,
               "num_resamples": first.num_resamples, "confidence": first.confidence, "rows": rows}
    return json.dumps(payload, indent=2)


def comparison_table(comparison: Comparison, label_a: str = "A", label_b: str = "B") -> Table:
    """Metric rows: A, B, B − A (points), 95% CI, p-value, #problems; values in %."""
    rows = []
    for name, result in zip(comparison.metrics, comparison.results):
        interval = f"[{100 * result.low:+.1f}, {100 * result.high:+.1f}]"
        cells = ((100 * result.mean_a,), (100 * result.mean_b,), (100 * result.difference,), (interval,),
                 (result.p_value,), (result.num_problems,))
        rows.append((name.replace("pass@", "Pass@"), cells))
    return Table(title=f"{display_name(comparison.benchmark)}: B − A, paired bootstrap over problems",
                 columns=("metric", f"A: {label_a} (%)", f"B: {label_b} (%)", "B − A (points)", "95% CI", "p-value",
                          "#problems"),
                 rows=tuple(rows), formats=(".1f", ".1f", "+.1f", "", ".4f", "d"), directions=(0,) * 6)
