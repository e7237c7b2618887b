"""The paper's tables from run directories: results (Tab. 2–4, 6, 7), diversity (Tab. 5), every run.

- `results_table` (Tab. 2–4, 6, 7): rows = labels, columns = benchmarks and Avg, cells
  "Pass@1 / Pass@k" in % from each run's summary.json. Avg (with two benchmarks or more) is the
  plain mean over the row's benchmarks, shown only when the row has every column. The best value
  of a column is bold (nothing is bold where all values tie).
- `diversity_table` (Tab. 5): per run, the CORRECT solutions (the full response text) through
  `progrpo_eval.metrics.diversity.dataset_diversity`: pooled over the benchmark by default (the
  paper's "dataset level"), or per problem; optionally the fair mode (same problems, m solutions
  each). #solutions and #problems count what entered the values; the footnote names the mode.
- `average_ci_table`: the Avg column with 95% CIs of the stratified bootstrap (problems resampled
  within each benchmark, `progrpo_eval.significance`).
- `run_detail_table`: every run's Pass@k at every k with the 95% CI of Pass@1, maj@n, truncation
  and length (the report's second table; not in the paper).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from progrpo_eval.reporting.runs import (
    RunRef,
    RunsLike,
    correct_solutions,
    display_name,
    labels_of,
    ordered_benchmarks,
    per_problem_metrics,
    resolve_runs,
)
from progrpo_eval.reporting.table import Table
from progrpo_eval.store import read_run_summary

# --- Tab. 2–4, 6, 7: results --------------------------------------------------------------------


def common_k(summaries: Sequence[dict]) -> int:
    """The largest k that every summary reports."""
    shared = set.intersection(*({int(k) for k in summary["pass_at_k"]} for summary in summaries))
    return max(shared) if shared else 1


def results_table(runs: RunsLike, k: int | None = None, *, groups: Mapping[str, str] | None = None) -> Table:
    """Pass@1 / Pass@k (%) per label (rows) and benchmark (columns), with an Avg column.

    `k` defaults to the largest k every run reports; a run without that k shows "–" for it.
    `groups` (label → heading) groups the rows under headings, in the order headings first occur.
    """
    refs = resolve_runs(runs)
    summaries = {(ref.label, ref.benchmark): read_run_summary(ref.path) for ref in refs}
    k = common_k(list(summaries.values())) if k is None else k
    if not any(str(k) in summary["pass_at_k"] for summary in summaries.values()):
        raise ValueError(f"no run reports Pass@{k}")
    benchmarks = ordered_benchmarks(ref.benchmark for ref in refs)
    labels, headings = _grouped(labels_of(refs), groups)
    rows = []
    for label in labels:
        cells = []
        for benchmark in benchmarks:
            summary = summaries.get((label, benchmark))
            cells.append(
                (None, None)
                if summary is None
                else tuple(
                    100 * summary["pass_at_k"][str(kk)] if str(kk) in summary["pass_at_k"] else None for kk in (1, k)
                )
            )
        complete = all(part is not None for cell in cells for part in cell)
        average = tuple(float(np.mean([cell[i] for cell in cells])) if complete else None for i in (0, 1))
        rows.append((label, tuple(cells) + ((average,) if len(benchmarks) > 1 else ())))
    columns = ("Model",) + tuple(display_name(b) for b in benchmarks) + (("Avg",) if len(benchmarks) > 1 else ())
    return Table(
        title=f"Pass@1 / Pass@{k} (%)",
        columns=columns,
        rows=tuple(rows),
        formats=(".1f",) * (len(columns) - 1),
        directions=(1,) * (len(columns) - 1),
        groups=headings,
    )


def _grouped(labels: list[str], groups: Mapping[str, str] | None) -> tuple[list[str], tuple[tuple[str, int], ...]]:
    """The labels ordered by group (groups in first-seen order), and (heading, count) per group."""
    if not groups:
        return labels, ()
    order = list(dict.fromkeys(groups.get(label, "") for label in labels))
    ordered = sorted(labels, key=lambda label: order.index(groups.get(label, "")))
    return ordered, tuple((heading, sum(groups.get(label, "") == heading for label in labels)) for heading in order)


def average_table(runs: RunsLike, k: int | None = None) -> Table:
    """Tab. 6's layout: per label, Pass@1 and Pass@k (%) averaged over the benchmarks (results_table's Avg)."""
    k = common_k([read_run_summary(ref.path) for ref in resolve_runs(runs)]) if k is None else k
    results = results_table(runs, k)
    several = results.columns[-1] == "Avg"
    column = len(results.columns) - 2 if several else 0
    rows = tuple((label, ((cells[column][0],), (cells[column][1],))) for label, cells in results.rows)
    benchmarks = ", ".join(results.columns[1:-1] if several else results.columns[1:])
    return Table(
        title=f"Pass@1 and Pass@{k} (%), mean over {benchmarks}",
        columns=("Model", "Pass@1", f"Pass@{k}"),
        rows=rows,
        formats=(".1f", ".1f"),
        directions=(1, 1),
    )


def average_ci_table(runs: RunsLike, k: int | None = None, *, num_resamples: int = 10_000, seed: int = 0) -> Table:
    """The Avg column of `results_table` with 95% CIs: problems resampled within each benchmark.

    Per label with a run on every benchmark: Avg = the mean over benchmarks of each benchmark's
    mean Pass@k over problems, with `significance.stratified_bootstrap_ci`.
    """
    from progrpo_eval.significance import stratified_bootstrap_ci

    refs = resolve_runs(runs)
    k = common_k([read_run_summary(ref.path) for ref in refs]) if k is None else k
    benchmarks = ordered_benchmarks(ref.benchmark for ref in refs)
    rows, left_out = [], []
    for label in labels_of(refs):
        paths = {ref.benchmark: ref.path for ref in refs if ref.label == label}
        if set(paths) != set(benchmarks):
            left_out.append(label)
            continue
        metrics = {b: per_problem_metrics(paths[b], sorted({1, k})) for b in benchmarks}
        cells = []
        for kk in (1, k):
            interval = stratified_bootstrap_ci(
                [metrics[b][f"pass@{kk}"].to_numpy() for b in benchmarks], num_resamples=num_resamples, seed=seed
            )
            cells.append((f"{100 * interval.estimate:.1f} [{100 * interval.low:.1f}, {100 * interval.high:.1f}]",))
        rows.append((label, tuple(cells)))
    notes = (
        f"Avg over {', '.join(display_name(b) for b in benchmarks)}: the mean of the benchmarks' mean Pass@k; "
        f"95% percentile bootstrap with the problems resampled within each benchmark ({num_resamples:,} "
        f"resamples, seed {seed})."
    ) + (f" Left out (not on every benchmark): {', '.join(left_out)}." if left_out else "")
    return Table(
        title=f"Avg Pass@1 and Pass@{k} (%) with 95% CIs, stratified by benchmark",
        columns=("Model", "Avg Pass@1 [95% CI]", f"Avg Pass@{k} [95% CI]"),
        rows=tuple(rows),
        formats=("", ""),
        directions=(0, 0),
        notes=notes,
    )


# --- Tab. 5: diversity of correct solutions -----------------------------------------------------

DIVERSITY_METRICS = (
    ("Distinct-2", "distinct:n=2", ".3f", 1),
    ("Self-BLEU", "self-bleu", ".1f", -1),
    ("Semantic cos.", "semantic-cosine", ".3f", -1),
)
SEMANTIC_NOTES = {
    "truncate": "all-MiniLM-L6-v2, each text truncated at 256 word pieces (the model's encode, as the paper)",
    "window": "all-MiniLM-L6-v2, each text embedded whole in windows of at most 254 word pieces, "
    "their embeddings averaged and renormalised",
}


def diversity_table(
    runs: RunsLike,
    *,
    semantic: bool = True,
    min_texts: int = 2,
    aggregation: str = "pooled",
    fair: int | None = None,
    seed: int = 0,
    long_texts: str = "truncate",
) -> Table:
    """Tab. 5: accuracy and the diversity of correct solutions, one row per run.

    aggregation "pooled" (every correct solution of the benchmark as one set) or "per-problem"
    (`metrics.diversity.dataset_diversity`); `fair` = m keeps, per benchmark, the problems every
    run solves at least m times and m solutions of each (`metrics.diversity.fair_subsample`, seed
    `seed`); `long_texts` is how the semantic cosine embeds long solutions. The footnote says all of it.
    """
    from progrpo_eval.metrics.diversity import dataset_diversity, fair_subsample

    refs = resolve_runs(runs)
    metrics = [metric for metric in DIVERSITY_METRICS if semantic or metric[1] != "semantic-cosine"]
    names = [f"{name}:long_texts={long_texts}" if name == "semantic-cosine" else name for _, name, _, _ in metrics]
    solutions = {ref: correct_solutions(ref.path) for ref in refs}
    fair_counts = {}
    if fair:
        for benchmark in ordered_benchmarks(ref.benchmark for ref in refs):
            on_benchmark = [ref for ref in refs if ref.benchmark == benchmark]
            chosen = fair_subsample({ref.label: solutions[ref] for ref in on_benchmark}, fair, seed)
            for ref in on_benchmark:
                solutions[ref] = chosen[ref.label]
            fair_counts[benchmark] = len(chosen[on_benchmark[0].label])
    several = len({ref.benchmark for ref in refs}) > 1
    rows = []
    for ref in refs:
        outcomes = [
            dataset_diversity(solutions[ref], name, min_texts=min_texts, aggregation=aggregation) for name in names
        ]
        counted = dataset_diversity(solutions[ref], len, min_texts=min_texts, aggregation=aggregation)
        label = f"{ref.label} · {display_name(ref.benchmark)}" if several else ref.label
        accuracy = 100 * read_run_summary(ref.path)["mean_accuracy"]
        rows.append(
            (
                label,
                ((accuracy,),)
                + tuple((outcome["value"],) for outcome in outcomes)
                + ((counted["num_texts"],), (counted["num_problems"],)),
            )
        )
    columns = ("Model", "Accuracy (%)") + tuple(title for title, _, _, _ in metrics) + ("#solutions", "#problems")
    formats = (".1f",) + tuple(fmt for _, _, fmt, _ in metrics) + ("d", "d")
    directions = (1,) + tuple(direction for _, _, _, direction in metrics) + (0, 0)
    benchmarks = ", ".join(display_name(b) for b in ordered_benchmarks(ref.benchmark for ref in refs))
    notes = [
        "Correct solutions only. "
        + (
            'Pooled: all of a benchmark\'s correct solutions as one set (the paper: "computed at the dataset level").'
            if aggregation == "pooled"
            else f"Per problem: each problem's correct solutions (problems with fewer than {min_texts} skipped), "
            "then the mean over problems."
        )
    ]
    if fair:
        kept = ", ".join(f"{display_name(b)} {count}" for b, count in fair_counts.items())
        notes.append(
            f"Fair: only problems every model solves at least {fair} times ({kept}), {fair} correct "
            f"solutions of each drawn at random (seed {seed})."
        )
    notes.append("Self-BLEU: sacrebleu, 0–100.")
    if semantic:
        notes.append(f"Semantic cos.: {SEMANTIC_NOTES[long_texts]}.")
    return Table(
        title=f"Diversity of correct solutions ({benchmarks})",
        columns=columns,
        rows=tuple(rows),
        formats=formats,
        directions=directions,
        notes=" ".join(notes),
    )


# --- every run -------------------------------------------------------------------------------------


def run_detail_table(refs: Sequence[RunRef]) -> Table:
    """Every run: problems × samples, Pass@1 [95% CI], Pass@k for every k, maj@n, truncation, length."""
    summaries = [read_run_summary(ref.path) for ref in refs]
    ks = sorted({int(k) for summary in summaries for k in summary["pass_at_k"]} - {1})
    rows = []
    for ref, summary in zip(refs, summaries):
        low, high = summary["pass_at_k_ci95"]["1"]
        counts = summary["counts"]
        cells = (
            (display_name(ref.benchmark),),
            (f"{summary['num_problems']} × {summary['num_samples_per_problem']}",),
            (f"{100 * summary['pass_at_k']['1']:.1f} [{100 * low:.1f}, {100 * high:.1f}]",),
        )
        cells += tuple((100 * summary["pass_at_k"][str(k)] if str(k) in summary["pass_at_k"] else None,) for k in ks)
        cells += (
            (100 * next(iter(summary["maj_at_k"].values())),),
            (100 * counts["truncated"] / max(1, counts["samples"]),),
            (summary["response_tokens"]["mean"],),
        )
        rows.append((ref.label, cells))
    columns = ("Model", "Benchmark", "problems × n", "Pass@1 [95% CI]") + tuple(f"Pass@{k}" for k in ks)
    columns += ("maj@n", "truncated (%)", "mean tokens")
    return Table(
        title="Every run (%)",
        columns=columns,
        rows=tuple(rows),
        formats=("", "", "") + (".1f",) * len(ks) + (".1f", ".1f", ".0f"),
        directions=(0,) * (len(columns) - 1),
        notes="Pass@k: unbiased estimator, mean over problems; 95% CI: percentile bootstrap over problems "
        "(10,000 resamples). maj@n: majority vote over all n samples.",
    )
