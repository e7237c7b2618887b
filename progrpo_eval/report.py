"""The PDF report of run directories (`progrpo-eval report`) and paired comparisons of two runs
(`progrpo-eval compare`, and the report's comparison pages).

Pages, in order (a page the runs cannot support is left out and the title page says why):
  title: runs (model, benchmark, problems × samples, sampling, seed, backend, stored entropy),
  directories, models, data checksums, package versions, notes, the list of pages; tables: Tab. 2's
  layout (Pass@1 / Pass@k, Avg), every run's Pass@k, Tab. 5 (diversity of correct solutions);
  Fig. 1 (Pass@k curves), Fig. 2 (training entropy, with --metrics), Fig. 3 and Fig. 4/7 per
  benchmark, Fig. 5 (two labels or more), Fig. 8 per benchmark; a comparison page per pair of
  labels on a benchmark (paired bootstrap: B − A, 95% CI, p-value, for Pass@k and accuracy).

Determinism: the same inputs give a byte-identical PDF. Pages are drawn under figures.STYLE (fixed
rcParams and PDF compression; fonts × 1.3 on full pages), the PDF has no creation date, nothing
reads the clock, and the bootstrap is seeded (`seed`, default 0). Every page is a CONTENT-sized
figure saved onto a US-letter landscape page (PAGE_BOX adds the margins).

Comparisons (`compare_runs`): per-problem Pass@k (unbiased estimator) and accuracy of two runs of
one benchmark, aligned on problem id (`stats.align_problems`; different problem sets raise,
naming the counts), then `stats.paired_bootstrap` of B − A over problems. Per problem, accuracy
c/n equals Pass@1; both rows are shown because reports quote both names.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import textwrap
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from progrpo_eval.atomic import atomic_write_bytes
from progrpo_eval.figures import (ablation_bars, color_map, current_style, entropy_kde, font_scale, passk_curves,
                                  rollout_probabilities, token_probability_distributions, training_entropy)
from progrpo_eval.stats import PairedComparison, align_problems, default_ks, paired_bootstrap
from progrpo_eval.tables import (RunRef, RunsLike, Table, diversity_table, display_name, labels_of, load_entropy,
                                 ordered_benchmarks, per_problem_metrics, problem_counts, read_run_manifest,
                                 resolve_runs, results_table, summary_of)

PAGE = (11.0, 8.5)  # inches, US letter landscape
MARGIN = 0.45  # inches of blank page around every page's content
CONTENT = (PAGE[0] - 2 * MARGIN, PAGE[1] - 2 * MARGIN)  # the size of every page's figure
PAGE_BOX = Bbox([[-MARGIN, -MARGIN], [CONTENT[0] + MARGIN, CONTENT[1] + MARGIN]])  # saved area: content + margins
MONOSPACE_LINES_PER_PAGE = 54  # 8 pt lines at 1.25 spacing in CONTENT's height
MONOSPACE_WIDTH = 145  # characters per line at 8 pt on the page
REPORT_FONT_SCALE = 1.3  # figures fill a whole page


# --- paired comparison of two runs --------------------------------------------------------------


class Comparison(NamedTuple):
    benchmark: str
    metrics: tuple[str, ...]  # "pass@1", "pass@2", ..., "accuracy"
    results: tuple[PairedComparison, ...]


def compare_runs(run_a: str | Path, run_b: str | Path, *, num_resamples: int = 10_000, seed: int = 0) -> Comparison:
    """Paired bootstrap of B − A for Pass@k (each k both runs support) and accuracy, over problems."""
    run_a, run_b = Path(run_a), Path(run_b)
    bench_a, bench_b = read_run_manifest(run_a)["benchmark"], read_run_manifest(run_b)["benchmark"]
    if bench_a != bench_b:
        raise ValueError(f"the runs are on different benchmarks: {bench_a} ({run_a}) and {bench_b} ({run_b})")
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


def _text_pages(title: str, lines: Sequence[str]) -> list[Figure]:
    """Monospace text pages; the first carries the title, long text is wrapped."""
    wrapped = [piece for line in lines
               for piece in (textwrap.wrap(line, MONOSPACE_WIDTH, subsequent_indent="    ") or [""])]
    first_page_lines = MONOSPACE_LINES_PER_PAGE - 5  # the title's room
    chunks = [wrapped[:first_page_lines]] + [wrapped[i: i + MONOSPACE_LINES_PER_PAGE]
                                            for i in range(first_page_lines, len(wrapped), MONOSPACE_LINES_PER_PAGE)]
    pages = []
    for number, chunk in enumerate(chunks):
        figure = Figure(figsize=CONTENT)
        top = 1.0
        if number == 0:
            figure.text(0.0, top, title, fontsize=18, weight="bold", va="top")
            top -= 0.08
        figure.text(0.0, top, "\n".join(chunk), family="monospace", fontsize=8, va="top", linespacing=1.25)
        pages.append(figure)
    return pages


def _table_widths(table: Table, rows: list[list[str]], fontsize: float, max_width: float) -> list[float]:
    """Column widths in inches from the longest text of each column, shrunk to fit max_width."""
    char = fontsize / 72 * 0.62
    widths = [max(len(text) for text in [header] + [row[j] for row in rows]) * char + 0.22
              for j, header in enumerate(table.header())]
    scale = min(1.0, max_width / sum(widths))
    return [width * scale for width in widths]


def _place_table(figure: Figure, table: Table, top: float, *, fontsize: float = 8, row_height: float = 0.26) -> float:
    """Draw `table` (title, cells, notes) from `top` inches below the figure's top; returns the next free top."""
    page_width, page_height = figure.get_size_inches()
    rows = table.text_rows()
    widths = _table_widths(table, rows, fontsize, page_width)
    left = (page_width - sum(widths)) / 2
    figure.text(left / page_width, 1 - top / page_height, table.title, fontsize=10, weight="bold", va="top")
    top += 0.3
    height = row_height * (len(rows) + 1)
    ax = figure.add_axes([left / page_width, 1 - (top + height) / page_height, sum(widths) / page_width,
                          height / page_height])
    ax.axis("off")
    drawn = ax.table(cellText=rows, colLabels=table.header(), cellLoc="center", bbox=[0, 0, 1, 1],
                     colWidths=[width / sum(widths) for width in widths])
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(fontsize)
    for (row, _), cell in drawn.get_celld().items():
        cell.set_edgecolor("0.75")
        if row == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("0.92")
    top += height + 0.1
    if table.notes:
        notes = textwrap.wrap(table.notes, int(sum(widths) / (7 / 72 * 0.55)))
        figure.text(left / page_width, 1 - top / page_height, "\n".join(notes), fontsize=7, color="0.3", va="top")
        top += 0.14 * len(notes)
    return top + 0.35


def _table_height(table: Table, row_height: float = 0.26) -> float:
    notes = len(textwrap.wrap(table.notes, 150)) if table.notes else 0
    return 0.3 + row_height * (len(table.rows) + 1) + 0.1 + 0.14 * notes + 0.35


def _table_pages(tables: Sequence[Table]) -> list[Figure]:
    """Tables one under another, a new page when the next one does not fit (a long one is drawn smaller)."""
    pages, top = [Figure(figsize=CONTENT)], 0.0
    for table in tables:
        if top > 0 and top + _table_height(table) > CONTENT[1]:
            pages.append(Figure(figsize=CONTENT))
            top = 0.0
        room = CONTENT[1] - top - _table_height(table, 0)
        top = _place_table(pages[-1], table, top, row_height=min(0.26, max(0.12, room / (len(table.rows) + 1))))
    return pages


def run_detail_table(refs: Sequence[RunRef]) -> Table:
    """Every run: problems × samples, Pass@1 [95% CI], Pass@k for every k, maj@n, truncation, length."""
    summaries = [summary_of(ref.path) for ref in refs]
    ks = sorted({int(k) for summary in summaries for k in summary["pass_at_k"]} - {1})
    rows = []
    for ref, summary in zip(refs, summaries):
        low, high = summary["pass_at_k_ci95"]["1"]
        counts = summary["counts"]
        cells = ((display_name(ref.benchmark),), (f"{summary['num_problems']} × {summary['num_samples_per_problem']}",),
                 (f"{100 * summary['pass_at_k']['1']:.1f} [{100 * low:.1f}, {100 * high:.1f}]",))
        cells += tuple((100 * summary["pass_at_k"][str(k)] if str(k) in summary["pass_at_k"] else None,) for k in ks)
        cells += ((100 * next(iter(summary["maj_at_k"].values())),),
                  (100 * counts["truncated"] / max(1, counts["samples"]),), (summary["response_tokens"]["mean"],))
        rows.append((ref.label, cells))
    columns = ("Model", "Benchmark", "problems × n", "Pass@1 [95% CI]") + tuple(f"Pass@{k}" for k in ks)
    columns += ("maj@n", "truncated (%)", "mean tokens")
    return Table(title="Every run (%)", columns=columns, rows=tuple(rows),
                 formats=("", "", "") + (".1f",) * len(ks) + (".1f", ".1f", ".0f"), directions=(0,) * (len(columns) - 1),
                 notes="Pass@k: unbiased estimator, mean over problems; 95% CI: percentile bootstrap over problems "
                       "(10,000 resamples). maj@n: majority vote over all n samples.")


def _comparison_page(comparison: Comparison, label_a: str, label_b: str) -> Figure:
    """The comparison table, and below it each metric's B − A with its 95% CI."""
    figure = Figure(figsize=CONTENT)
    top = _place_table(figure, comparison_table(comparison, label_a, label_b), 0.0)
    left, bottom = 1.2, 0.5
    plot_ax = figure.add_axes([left / CONTENT[0], bottom / CONTENT[1], (CONTENT[0] - left - 0.6) / CONTENT[0],
                               (CONTENT[1] - top - bottom - 0.3) / CONTENT[1]])
    names = [name.replace("pass@", "Pass@") for name in comparison.metrics]
    positions = np.arange(len(names))[::-1]
    differences = np.array([100 * result.difference for result in comparison.results])
    errors = np.array([[100 * (result.difference - result.low), 100 * (result.high - result.difference)]
                       for result in comparison.results]).T
    plot_ax.errorbar(differences, positions, xerr=errors, fmt="o", color="0.2", capsize=3)
    plot_ax.axvline(0, color="0.5", ls="--", lw=1)
    plot_ax.set_yticks(positions, names)
    plot_ax.set_ylim(-0.6, len(names) - 0.4)
    if not np.any(errors) and not np.any(differences):
        plot_ax.set_xlim(-1, 1)
    plot_ax.set(xlabel=f"B − A (percentage points), 95% CI        A: {label_a}        B: {label_b}",
                title="Difference per metric (paired bootstrap over problems)")
    return figure


def _caption(figure: Figure, caption: str) -> Figure:
    """Prefix the figure's title with the paper's figure number, and fix the layout for PAGE_BOX.

    Saving with the padded PAGE_BOX would re-run the constrained layout and re-anchor figure
    legends to the padded page (into the margin): the layout is run once here, then frozen, and
    each legend pinned where it was, in figure coordinates.
    """
    existing = figure.get_suptitle()
    figure.suptitle(f"{caption} — {existing}" if existing else caption, fontsize="large")
    figure.draw_without_rendering()
    figure.set_layout_engine("none")
    for legend in figure.legends:
        box = legend.get_window_extent().transformed(figure.transFigure.inverted())
        legend.set_loc("lower left")
        legend.set_bbox_to_anchor((box.x0, box.y0, box.width, box.height), transform=figure.transFigure)
        legend.borderaxespad = 0
    return figure


# --- the report --------------------------------------------------------------------------------


class Report(NamedTuple):
    path: Path
    pages: tuple[str, ...]
    notes: tuple[str, ...]


def _mapping(refs: Sequence[RunRef]) -> dict[str, list[Path]]:
    """label → its run directories: what the figure and table functions take, keeping the labels."""
    return {label: [ref.path for ref in refs if ref.label == label] for label in labels_of(refs)}


def _title_lines(refs: Sequence[RunRef], metrics: Sequence[Path], notes: Sequence[str], pages: Sequence[str],
                 first_number: int) -> list[str]:
    manifests = [read_run_manifest(ref.path) for ref in refs]
    summaries = [summary_of(ref.path) for ref in refs]
    width = max(len(ref.label) for ref in refs)
    lines = [f"{len(refs)} runs: {len(labels_of(refs))} model(s) × {len({r.benchmark for r in refs})} benchmark(s)", "",
             "RUNS", f"  {'model':<{width}}  {'benchmark':<13} {'problems×n':>10} {'T':>5} {'top-p':>5} "
                     f"{'max tok':>7} {'seed':>5}  {'backend':<7}  entropy"]
    for ref, manifest, summary in zip(refs, manifests, summaries):
        sampling, entropy = manifest.get("sampling", {}), load_entropy(ref.path)
        size = f"{summary['num_problems']}×{summary['num_samples_per_problem']}"
        lines.append(f"  {ref.label:<{width}}  {ref.benchmark:<13} {size:>10} {sampling.get('temperature', '?'):>5} "
                     f"{sampling.get('top_p', '?'):>5} {sampling.get('max_tokens', '?'):>7} {sampling.get('seed', '?'):>5}  "
                     f"{manifest.get('backend', '?'):<7}  {entropy.method if entropy else 'none'}")
    lines += ["", "RUN DIRECTORIES"] + [f"  {ref.label} · {ref.benchmark}: {ref.path}" for ref in refs]
    lines += ["", "MODELS"] + [f"  {label}: {model}" for label, model in
                               dict.fromkeys((ref.label, manifest.get("model")) for ref, manifest in zip(refs, manifests))]
    lines += ["", "BENCHMARK DATA (sha256 of the data the run saw; source)"]
    data = dict.fromkeys((m["benchmark"], str(m.get("data_checksum", "?"))[:16], m.get("data_source", "?"))
                         for m in manifests)
    lines += [f"  {name:<13} {checksum}  {source}" for name, checksum, source in data]
    versions: dict[str, dict[str, list[str]]] = {}
    for ref, manifest in zip(refs, manifests):
        for package, version in sorted(manifest.get("versions", {}).items()):
            versions.setdefault(package, {}).setdefault(version, []).append(f"{ref.label}/{ref.benchmark}")
    shared = [f"{package} {next(iter(by_version))}" for package, by_version in versions.items() if len(by_version) == 1]
    lines += ["", "PACKAGE VERSIONS (from the manifests)", "  " + ", ".join(shared or ["none recorded"])]
    for package, by_version in versions.items():
        if len(by_version) > 1:  # runs made with different versions: each version with its runs
            shown = "; ".join(f"{version} ({', '.join(users)})" for version, users in by_version.items())
            lines.append(f"  {package}: {shown}")
    lines += ["", "TRAINING METRICS"] + ([f"  {path}" for path in metrics] or ["  none given (--metrics)"])
    lines += ["", "NOTES"] + [f"  - {note}" for note in notes]
    lines += ["", "PAGES", f"  {'1' if first_number == 2 else f'1-{first_number - 1}':>3}. title, runs and settings"]
    lines += [f"  {number:>3}. {page}" for number, page in enumerate(pages, start=first_number)]
    return lines


def _figure_page(make: Callable[[], Figure], caption: str) -> Callable[[], Figure]:
    return lambda: _caption(make(), caption)


def _plan(refs: list[RunRef], metrics: list[Path], colors, semantic: bool, num_resamples: int, seed: int):
    """(page title, page maker) for every page after the title page, and the notes on what is left out."""
    benchmarks, labels, everything = ordered_benchmarks(ref.benchmark for ref in refs), labels_of(refs), _mapping(refs)
    per_benchmark = {b: _mapping([ref for ref in refs if ref.benchmark == b]) for b in benchmarks}
    entropy = {ref: load_entropy(ref.path) for ref in refs}
    tables = [results_table(everything), run_detail_table(refs), diversity_table(everything, semantic=semantic)]
    plan: list[tuple[str, Callable[[], Figure]]] = [
        ("Tables: results (Tab. 2 layout), every run, diversity (Tab. 5)" if number == 0 else "Tables (continued)",
         lambda page=page: page) for number, page in enumerate(_table_pages(tables))
    ]
    plan.append(("Fig. 1: Pass@k curves", _figure_page(partial(passk_curves, everything, colors=colors, figsize=CONTENT),
                                                       "Fig. 1 — Pass@k against k, 95% bootstrap bands")))
    notes = []
    if metrics:
        plan.append(("Fig. 2: training entropy", _figure_page(partial(training_entropy, metrics, figsize=CONTENT),
                                                              "Fig. 2 — entropy during training")))
    else:
        notes.append("Fig. 2 (training entropy) left out: no training metrics.jsonl given (--metrics).")
    if missing := [f"{ref.label}/{ref.benchmark}" for ref in refs if entropy[ref] is None]:
        notes.append(f"No stored entropy for {', '.join(missing)}: Fig. 3 has no entropy panel and Fig. 4 shows the "
                     "sampled tokens' surprisal -log p, NOT entropy. `progrpo-eval rescore RUN_DIR --entropy exact` adds it.")
    for b in benchmarks:
        plan.append((f"Fig. 3: per-problem token probabilities, {display_name(b)}", _figure_page(
            partial(token_probability_distributions, per_benchmark[b], colors=colors, figsize=CONTENT), "Fig. 3")))
    for b in benchmarks:
        kinds = {entropy[ref].method if entropy[ref] else None for ref in refs if ref.benchmark == b}
        shown = "entropy" if None not in kinds and len(kinds) == 1 else "surprisal (no stored entropy)"
        plan.append((f"Fig. 4: rollout token {shown}, {display_name(b)}", _figure_page(
            partial(entropy_kde, per_benchmark[b], colors=colors, figsize=CONTENT), "Fig. 4")))
    if len(labels) > 1:
        plan.append(("Fig. 5: Pass@1 and Pass@k per model", _figure_page(
            partial(ablation_bars, everything, colors=colors, figsize=CONTENT), "Fig. 5 — Pass@1 and Pass@k per model")))
    else:
        notes.append("Fig. 5 (ablation bars) left out: it compares two or more models.")
    for b in benchmarks:
        plan.append((f"Fig. 8: one problem's rollouts, {display_name(b)}",
                     _figure_page(partial(rollout_probabilities, per_benchmark[b], figsize=CONTENT), "Fig. 8")))
    for b in benchmarks:
        for ref_a, ref_b in itertools.combinations([ref for ref in refs if ref.benchmark == b], 2):
            try:
                comparison = compare_runs(ref_a.path, ref_b.path, num_resamples=num_resamples, seed=seed)
            except ValueError as error:
                notes.append(f"{ref_a.label} vs {ref_b.label} on {b} not compared: {error}")
                continue
            plan.append((f"Comparison on {display_name(b)}: {ref_b.label} − {ref_a.label}",
                         partial(_comparison_page, comparison, ref_a.label, ref_b.label)))
    if len(labels) < 2:
        notes.append("No comparison pages: they need two models on one benchmark.")
    return plan, notes


def _footer(figure: Figure, text: str) -> None:
    """`text` in the bottom margin, right-aligned with the content."""
    figure.text(1.0, -0.22 / CONTENT[1], text, ha="right", va="center", fontsize=7, color="0.45")


def build_report(run_dirs: RunsLike, out_pdf: str | Path, *,
                 metrics_jsonl: str | Path | Sequence[str | Path] | None = None, title: str | None = None,
                 semantic: bool = True, num_resamples: int = 10_000, seed: int = 0) -> Report:
    """Write the multi-page PDF report of `run_dirs` (module docstring) atomically to `out_pdf`."""
    refs = resolve_runs(run_dirs)
    for ref in refs:
        summary_of(ref.path)  # an unfinished run fails before any drawing
    metrics_jsonl = [metrics_jsonl] if isinstance(metrics_jsonl, (str, Path)) else metrics_jsonl or []
    metrics = [Path(path) for path in metrics_jsonl]
    for path in metrics:
        if not path.is_file():
            raise ValueError(f"training metrics file not found: {path}")
    title = title or "progrpo-eval report"
    colors = color_map(labels_of(refs))
    with font_scale(REPORT_FONT_SCALE), mpl.rc_context(current_style()):
        plan, notes = _plan(refs, metrics, colors, semantic, num_resamples, seed)
        page_titles = [page for page, _ in plan]
        title_pages = _text_pages(title, _title_lines(refs, metrics, notes, page_titles, 2))
        if len(title_pages) > 1:  # number the pages after a title that takes several
            title_pages = _text_pages(title, _title_lines(refs, metrics, notes, page_titles, len(title_pages) + 1))
        total = len(title_pages) + len(plan)
        buffer = io.BytesIO()
        with PdfPages(buffer, metadata={"Title": title, "Creator": "progrpo-eval report", "CreationDate": None}) as pdf:
            makers = [lambda page=page: page for page in title_pages] + [maker for _, maker in plan]
            for number, maker in enumerate(makers, start=1):
                figure = maker()
                _footer(figure, f"{title} · page {number}/{total}")
                pdf.savefig(figure, bbox_inches=PAGE_BOX)
    out_pdf = Path(out_pdf)
    atomic_write_bytes(out_pdf, buffer.getvalue())
    umask = os.umask(0)
    os.umask(umask)
    out_pdf.chmod(0o666 & ~umask)  # a report is for sharing: the usual file mode, not the temporary file's 0600
    return Report(path=out_pdf, pages=("title",) * len(title_pages) + tuple(page_titles), notes=tuple(notes))
