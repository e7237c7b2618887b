"""The PDF report of run directories (`progrpo-eval report`).

Pages, in order (a page the runs cannot support is left out and the title page says why):
  title: runs (model, benchmark, problems × samples, sampling, seed, backend, stored entropy),
  directories, models, data checksums, package versions, notes, the list of pages; tables: Tab. 2's
  layout (Pass@1 / Pass@k, Avg), every run's Pass@k, Tab. 5 (diversity of correct solutions);
  Fig. 1 (Pass@k curves), Fig. 2 (training entropy, with --metrics), Fig. 3 and Fig. 4/7 per
  benchmark, Fig. 5 (two labels or more), Fig. 8 per benchmark (all from `reporting.catalog.PLAN`);
  a comparison page per pair of labels on each benchmark they share (paired bootstrap: B − A, 95% CI,
  p-value and its Holm correction over the pair's k × benchmark tests, for Pass@k and accuracy) and,
  on two shared benchmarks or more, on their average (problems resampled within each benchmark).

Determinism: the same inputs give a byte-identical PDF. Pages are drawn under style.STYLE (fixed
rcParams and PDF compression; fonts × 1.3 on full pages), the PDF has no creation date, nothing
reads the clock, and the bootstrap is seeded (`seed`, default 0).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

import matplotlib as mpl
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from progrpo_eval import store
from progrpo_eval.atomic import atomic_write_bytes
from progrpo_eval.reporting.comparison import compare_models, comparison_name
from progrpo_eval.reporting.pages import (
    CONTENT,
    PAGE_BOX,
    REPORT_FONT_SCALE,
    add_caption,
    add_footer,
    comparison_page,
    table_pages,
    text_pages,
)
from progrpo_eval.reporting.plan import PlanOptions, plan_items
from progrpo_eval.reporting.rollouts import entropy_source
from progrpo_eval.reporting.runs import (
    RunRef,
    RunsLike,
    check_finished,
    labels_of,
    resolve_runs,
    sampling_of,
)
from progrpo_eval.reporting.style import color_map, current_style, font_scale


class Report(NamedTuple):
    path: Path
    pages: tuple[str, ...]
    notes: tuple[str, ...]


def _title_lines(
    refs: Sequence[RunRef],
    metrics: Sequence[Path],
    notes: Sequence[str],
    pages: Sequence[str],
    first_number: int,
    temperature: float = 1.0,
) -> list[str]:
    manifests = [store.read_run_manifest(ref.path) for ref in refs]
    summaries = [store.read_run_summary(ref.path) for ref in refs]
    width = max(len(ref.label) for ref in refs)
    lines = [
        f"{len(refs)} runs: {len(labels_of(refs))} model(s) × {len({r.benchmark for r in refs})} benchmark(s)",
        "",
        "RUNS",
        f"  {'model':<{width}}  {'benchmark':<13} {'problems×n':>10} {'T':>5} {'top-p':>5} "
        f"{'max tok':>7} {'seed':>5}  {'backend':<7}  entropy (T={temperature:g})",
    ]
    for ref, manifest, summary in zip(refs, manifests, summaries):
        sampling, entropy = sampling_of(manifest), entropy_source(ref.path, temperature)
        size = f"{summary['num_problems']}×{summary['num_samples_per_problem']}"
        lines.append(
            f"  {ref.label:<{width}}  {ref.benchmark:<13} {size:>10} {sampling.get('temperature', '?'):>5} "
            f"{sampling.get('top_p', '?'):>5} {sampling.get('max_tokens', '?'):>7} "
            f"{sampling.get('seed', '?'):>5}  "
            f"{manifest.get('backend') or '?':<7}  {entropy.method if entropy else 'none'}"
        )
    lines += ["", "RUN DIRECTORIES"] + [f"  {ref.label} · {ref.benchmark}: {ref.path}" for ref in refs]
    models = dict.fromkeys((ref.label, manifest.get("model")) for ref, manifest in zip(refs, manifests))
    lines += ["", "MODELS"] + [f"  {label}: {model}" for label, model in models]
    lines += ["", "BENCHMARK DATA (sha256 of the data the run saw; source)"]
    data = dict.fromkeys(
        (m["benchmark"], str(m.get("data_checksum", "?"))[:16], m.get("data_source", "?")) for m in manifests
    )
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


def _pages(refs: list[RunRef], metrics: list[Path], options: PlanOptions, num_resamples: int, seed: int):
    """(page title, page maker) for every page after the title page, and the notes on what is left out."""
    planned, notes = plan_items(refs, metrics=metrics, options=options)
    tables = [item for item in planned if item.kind == "table"]
    plan: list[tuple[str, Callable[[], Figure]]] = [
        (
            "Tables: " + ", ".join(item.title for item in tables) if number == 0 else "Tables (continued)",
            lambda page=page: page,
        )
        for number, page in enumerate(table_pages([item.make() for item in tables]))
    ]
    plan += [
        (item.title, lambda item=item: add_caption(item.make(), item.caption))
        for item in planned
        if item.kind == "figure"
    ]
    for label_a, label_b in itertools.combinations(labels_of(refs), 2):
        runs_a = {ref.benchmark: ref.path for ref in refs if ref.label == label_a}
        runs_b = {ref.benchmark: ref.path for ref in refs if ref.label == label_b}
        if not set(runs_a) & set(runs_b):
            continue
        comparisons, failed = compare_models(runs_a, runs_b, num_resamples=num_resamples, seed=seed, on_error="note")
        notes += [f"{label_a} vs {label_b} on {note}" for note in failed]
        plan += [
            (
                f"Comparison on {comparison_name(comparison)}: {label_b} − {label_a}",
                partial(comparison_page, comparison, label_a, label_b),
            )
            for comparison in comparisons
        ]
    if not any(title.startswith("Comparison on") for title, _ in plan) and not any(
        " not compared: " in note for note in notes
    ):
        notes.append("No comparison pages: they need two models on one benchmark.")
    return plan, notes


def build_report(
    run_dirs: RunsLike,
    out_pdf: str | Path,
    *,
    metrics_jsonl: str | Path | Sequence[str | Path] | None = None,
    title: str | None = None,
    semantic: bool = True,
    num_resamples: int = 10_000,
    seed: int = 0,
    diversity: str = "pooled",
    diversity_fair: int | None = None,
    long_texts: str = "truncate",
    temperature: float = 1.0,
) -> Report:
    """Write the multi-page PDF report of `run_dirs` (module docstring) atomically to `out_pdf`.

    diversity, diversity_fair and long_texts choose Tab. 5's aggregation, fair mode and semantic
    embedding of long texts (`reporting.tables.diversity_table`); `temperature` is the one temperature
    of every token statistic on Fig. 3, 4 and 8 (default 1, the policy's own distribution).
    """
    if not temperature > 0:
        raise ValueError(f"the figures' temperature must be positive, got {temperature:g}")
    refs = resolve_runs(run_dirs)
    for ref in refs:
        check_finished(ref.path)  # an unfinished or duplicated run fails before any drawing
    metrics_jsonl = [metrics_jsonl] if isinstance(metrics_jsonl, (str, Path)) else metrics_jsonl or []
    metrics = [Path(path) for path in metrics_jsonl]
    for path in metrics:
        if not path.is_file():
            raise ValueError(f"training metrics file not found: {path}")
    title = title or "progrpo-eval report"
    options = PlanOptions(
        semantic=semantic,
        colors=color_map(labels_of(refs)),
        figsize=CONTENT,
        diversity=diversity,
        diversity_fair=diversity_fair,
        long_texts=long_texts,
        seed=seed,
        temperature=temperature,
        num_resamples=num_resamples,
    )
    with font_scale(REPORT_FONT_SCALE), mpl.rc_context(current_style()):
        plan, notes = _pages(refs, metrics, options, num_resamples, seed)
        page_titles = [page for page, _ in plan]
        title_pages = text_pages(title, _title_lines(refs, metrics, notes, page_titles, 2, temperature))
        if len(title_pages) > 1:  # number the pages after a title that takes several
            title_pages = text_pages(
                title, _title_lines(refs, metrics, notes, page_titles, len(title_pages) + 1, temperature)
            )
        total = len(title_pages) + len(plan)
        buffer = io.BytesIO()
        with PdfPages(buffer, metadata={"Title": title, "Creator": "progrpo-eval report", "CreationDate": None}) as pdf:
            makers = [lambda page=page: page for page in title_pages] + [maker for _, maker in plan]
            for number, maker in enumerate(makers, start=1):
                figure = maker()
                add_footer(figure, f"{title} · page {number}/{total}")
                pdf.savefig(figure, bbox_inches=PAGE_BOX)
    out_pdf = Path(out_pdf)
    atomic_write_bytes(out_pdf, buffer.getvalue())  # a report is for sharing: the usual file mode
    return Report(path=out_pdf, pages=("title",) * len(title_pages) + tuple(page_titles), notes=tuple(notes))
