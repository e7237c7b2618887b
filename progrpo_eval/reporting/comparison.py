"""Paired comparisons of runs (`progrpo-eval compare`, and the report's comparison pages).

`compare_runs`: per-problem Pass@k (unbiased estimator) and accuracy of two finished runs of one
benchmark (an incomplete or duplicated run is refused as such: `runs.check_finished`), aligned on
problem id (`stats.align_problems`; different problem sets raise, naming the counts), then
`stats.paired_bootstrap` of B − A over problems. Per problem, accuracy c/n equals Pass@1; both
rows are shown because reports quote both names.

`compare_models`: two models on every benchmark they share: one comparison per benchmark and, on
two benchmarks or more, the "Avg" (the mean over benchmarks, as a results table's Avg column) by
`significance.stratified_paired_bootstrap`: problems resampled within each benchmark.

Multiple comparisons: the p-values of the Pass@k rows of all the benchmarks compared together
(k × benchmark tests) get Holm's correction (`significance.holm`, "p (Holm)"); the accuracy row
repeats Pass@1's (the same test); the Avg rows form their own family (one test per k).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from progrpo_eval import store
from progrpo_eval.reporting.runs import (
    check_finished,
    display_name,
    ordered_benchmarks,
    per_problem_metrics,
    problem_counts,
)
from progrpo_eval.reporting.table import Table
from progrpo_eval.significance import holm, stratified_paired_bootstrap
from progrpo_eval.stats import PairedComparison, align_problems, default_ks, paired_bootstrap


class Comparison(NamedTuple):
    benchmark: str  # a benchmark's name, or AVERAGE for the mean over `benchmarks`
    metrics: tuple[str, ...]  # "pass@1", "pass@2", ..., "accuracy"
    results: tuple[PairedComparison, ...]
    p_holm: tuple[float, ...] = ()  # Holm-adjusted p per metric over `family` (empty: not adjusted)
    family: str = ""  # the tests the correction is over
    benchmarks: tuple[str, ...] = ()  # the benchmarks of an AVERAGE comparison


AVERAGE = "avg"


def _checked_counts(run_a: Path, run_b: Path) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The benchmark and both runs' per-problem counts, after every check a paired comparison needs."""
    bench_a, bench_b = store.read_run_manifest(run_a)["benchmark"], store.read_run_manifest(run_b)["benchmark"]
    if bench_a != bench_b:
        raise ValueError(f"the runs are on different benchmarks: {bench_a} ({run_a}) and {bench_b} ({run_b})")
    check_finished(run_a), check_finished(run_b)  # an unfinished or duplicated run is not "other problems"
    counts_a, counts_b = problem_counts(run_a), problem_counts(run_b)
    if counts_a.empty or counts_b.empty:
        raise ValueError(f"{run_a if counts_a.empty else run_b} has no samples")
    common = counts_a.index.intersection(counts_b.index)
    if len(common) != len(counts_a) or len(common) != len(counts_b):
        raise ValueError(
            f"the runs cover different problems: {len(counts_a)} in A, {len(counts_b)} in B, "
            f"{len(common)} in common; compare runs made with the same benchmark data and --limit"
        )
    return bench_a, counts_a, counts_b


def _aligned_metrics(run_a: Path, run_b: Path) -> tuple[str, tuple[str, ...], dict[str, tuple]]:
    """benchmark, metric names and, per metric, the two runs' per-problem values aligned on problem id."""
    benchmark, counts_a, counts_b = _checked_counts(run_a, run_b)
    ks = default_ks(int(min(counts_a["n"].min(), counts_b["n"].min())))
    metrics_a, metrics_b = per_problem_metrics(run_a, ks), per_problem_metrics(run_b, ks)
    names = tuple(f"pass@{k}" for k in ks) + ("accuracy",)
    aligned = {name: align_problems(metrics_a[name], metrics_b[name]) for name in names}
    return benchmark, names, {name: (pair.values_a, pair.values_b) for name, pair in aligned.items()}


def _holm(comparisons: list[Comparison], family: str) -> list[Comparison]:
    """`comparisons` with Holm-adjusted p-values over all their Pass@k rows (accuracy mirrors Pass@1)."""
    tests = [(i, j) for i, c in enumerate(comparisons) for j, name in enumerate(c.metrics) if name.startswith("pass@")]
    adjusted = dict(zip(tests, holm([comparisons[i].results[j].p_value for i, j in tests]))) if tests else {}
    out = []
    for i, comparison in enumerate(comparisons):
        by_name = {name: adjusted.get((i, j)) for j, name in enumerate(comparison.metrics)}
        p_holm = tuple(by_name["pass@1"] if name == "accuracy" else by_name[name] for name in comparison.metrics)
        out.append(comparison._replace(p_holm=p_holm, family=family))
    return out


def compare_runs(run_a: str | Path, run_b: str | Path, *, num_resamples: int = 10_000, seed: int = 0) -> Comparison:
    """Paired bootstrap of B − A for Pass@k (each k both runs support) and accuracy, over problems;
    Holm's correction over the Pass@k rows."""
    benchmark, names, values = _aligned_metrics(Path(run_a), Path(run_b))
    results = tuple(paired_bootstrap(*values[name], num_resamples=num_resamples, seed=seed) for name in names)
    [comparison] = _holm([Comparison(benchmark, names, results)], f"the {len(names) - 1} Pass@k rows")
    return comparison


def compare_models(
    runs_a: Mapping[str, Path],
    runs_b: Mapping[str, Path],
    *,
    num_resamples: int = 10_000,
    seed: int = 0,
    on_error: str = "raise",
) -> tuple[list[Comparison], list[str]]:
    """Two models (benchmark → run directory each) on every benchmark they share, plus the Avg.

    Returns the comparisons (Holm over k × benchmark, module docstring) and, with on_error="note",
    one note per benchmark that could not be compared (with "raise" the first problem raises).
    """
    shared = ordered_benchmarks(b for b in runs_a if b in runs_b)
    if not shared:
        raise ValueError(f"the models share no benchmark (A: {', '.join(runs_a)}; B: {', '.join(runs_b)})")
    comparisons, values_by_benchmark, notes = [], {}, []
    for benchmark in shared:
        try:
            _, names, values = _aligned_metrics(Path(runs_a[benchmark]), Path(runs_b[benchmark]))
        except ValueError as error:
            if on_error == "raise":
                raise
            notes.append(f"{benchmark} not compared: {error}")
            continue
        values_by_benchmark[benchmark] = (names, values)
        results = tuple(paired_bootstrap(*values[name], num_resamples=num_resamples, seed=seed) for name in names)
        comparisons.append(Comparison(benchmark, names, results))
    tests = sum(name.startswith("pass@") for c in comparisons for name in c.metrics)
    comparisons = _holm(comparisons, f"{tests} tests: Pass@k × {len(comparisons)} benchmark(s)")
    if len(values_by_benchmark) >= 2:
        common = [
            name
            for name in next(iter(values_by_benchmark.values()))[0]
            if all(name in names for names, _ in values_by_benchmark.values())
        ]
        results = tuple(
            stratified_paired_bootstrap(
                [values[name][0] for _, values in values_by_benchmark.values()],
                [values[name][1] for _, values in values_by_benchmark.values()],
                num_resamples=num_resamples,
                seed=seed,
            )
            for name in common
        )
        average = Comparison(AVERAGE, tuple(common), results, benchmarks=tuple(values_by_benchmark))
        comparisons += _holm([average], f"the {len(common) - 1} Pass@k rows of the average")
    return comparisons, notes


def runs_by_benchmark(path: str | Path) -> dict[str, Path]:
    """benchmark → run directory: a run directory itself, or a model's directory (OUT/<model>) of them."""
    path = Path(path)
    if (path / store.MANIFEST).is_file():
        return {store.read_run_manifest(path)["benchmark"]: path}
    below = sorted(child.parent for child in path.glob(f"*/{store.MANIFEST}"))
    if not below:
        store.read_run_manifest(path)  # raises: not a run directory, naming any below it
    return {store.read_run_manifest(run)["benchmark"]: run for run in below}


def compare_paths(
    path_a: str | Path, path_b: str | Path, *, num_resamples: int = 10_000, seed: int = 0
) -> list[Comparison]:
    """`compare_runs` of two run directories, or `compare_models` of two models' directories."""
    runs_a, runs_b = runs_by_benchmark(path_a), runs_by_benchmark(path_b)
    if (Path(path_a) / store.MANIFEST).is_file() and (Path(path_b) / store.MANIFEST).is_file():
        return [compare_runs(path_a, path_b, num_resamples=num_resamples, seed=seed)]
    return compare_models(runs_a, runs_b, num_resamples=num_resamples, seed=seed)[0]


def comparison_name(comparison: Comparison) -> str:
    if comparison.benchmark == AVERAGE:
        return "the average over " + ", ".join(display_name(b) for b in comparison.benchmarks)
    return display_name(comparison.benchmark)


def comparison_json(comparison: Comparison | Sequence[Comparison], run_a: str | Path, run_b: str | Path) -> str:
    """The comparison(s) as JSON: fractions in [0, 1], difference = B − A, p_holm over each family."""
    comparisons = [comparison] if isinstance(comparison, Comparison) else list(comparison)

    def rows(item: Comparison) -> list[dict]:
        return [
            {
                "metric": name,
                "a": result.mean_a,
                "b": result.mean_b,
                "difference": result.difference,
                "ci95": [result.low, result.high],
                "p_value": result.p_value,
                "p_holm": item.p_holm[index] if item.p_holm else None,
                "num_problems": result.num_problems,
            }
            for index, (name, result) in enumerate(zip(item.metrics, item.results))
        ]

    first = comparisons[0].results[0]
    payload = {
        "run_a": str(run_a),
        "run_b": str(run_b),
        "num_resamples": first.num_resamples,
        "confidence": first.confidence,
    }
    if isinstance(comparison, Comparison):
        payload.update(benchmark=comparison.benchmark, holm_family=comparison.family, rows=rows(comparison))
    else:
        payload["comparisons"] = [
            {
                "benchmark": item.benchmark,
                "benchmarks": list(item.benchmarks) or None,
                "holm_family": item.family,
                "rows": rows(item),
            }
            for item in comparisons
        ]
    return json.dumps(payload, indent=2)


def difference_row(name: str, result, p_holm: float | None, count: int) -> tuple:
    """One row of a B − A table, in %: A, B, B − A (points), 95% CI, p-value, p (Holm), count.

    `result` has mean_a, mean_b, difference, low, high and p_value (a paired bootstrap over
    problems, or a t test over seeds).
    """
    interval = f"[{100 * result.low:+.1f}, {100 * result.high:+.1f}]"
    cells = (100 * result.mean_a, 100 * result.mean_b, 100 * result.difference, interval, result.p_value, p_holm, count)
    return name, tuple((cell,) for cell in cells)


def difference_table(title: str, label_a: str, label_b: str, rows: Sequence[tuple], count: str, notes: str) -> Table:
    """The B − A table of `compare`, the report's comparison pages and the comparison over seeds."""
    return Table(
        title=title,
        columns=(
            "metric",
            f"A: {label_a} (%)",
            f"B: {label_b} (%)",
            "B − A (points)",
            "95% CI",
            "p-value",
            "p (Holm)",
            count,
        ),
        rows=tuple(rows),
        formats=(".1f", ".1f", "+.1f", "", ".4f", ".4f", "d"),
        directions=(0,) * 7,
        notes=notes,
    )


def comparison_table(comparison: Comparison, label_a: str = "A", label_b: str = "B") -> Table:
    """Metric rows: A, B, B − A (points), 95% CI, p-value, p (Holm), #problems; values in %."""
    rows = [
        difference_row(
            name.replace("pass@", "Pass@"),
            result,
            comparison.p_holm[index] if comparison.p_holm else None,
            result.num_problems,
        )
        for index, (name, result) in enumerate(zip(comparison.metrics, comparison.results))
    ]
    how = (
        "paired bootstrap over problems, resampled within each benchmark"
        if comparison.benchmark == AVERAGE
        else "paired bootstrap over problems"
    )
    title = f"{comparison_name(comparison)[0].upper()}{comparison_name(comparison)[1:]}: B − A, {how}"
    notes = f"p (Holm): Holm's correction over {comparison.family}." if comparison.family else ""
    return difference_table(title, label_a, label_b, rows, "#problems", notes)
