"""The paper's result figures, from run summaries and training metrics.jsonl, as matplotlib Figures.

    Fig. 1    passk_curves       Pass@k vs k (log2 axis), 95% bootstrap bands, per benchmark
    Fig. 2    training_entropy   entropy (or any logged key) over training steps, from metrics.jsonl
    Fig. 5    ablation_bars      Pass@1 and Pass@k per run label, mean over benchmarks

The token-level figures (Fig. 3, 4/7, 8) are in `reporting.token_figures`; the style in
`reporting.style`.

Decisions
- Pass@k bands (Fig. 1) are the 95% percentile bootstrap over problems stored in summary.json
  (`pass_at_k_ci95`, 10,000 resamples, `progrpo_eval.stats`).
- Fig. 5 averages each label's Pass@1 and Pass@k over the benchmarks every label has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from progrpo_eval.jsonl import read_jsonl
from progrpo_eval.reporting.runs import RunsLike, display_name, labels_of, ordered_benchmarks, resolve_runs
from progrpo_eval.reporting.style import add_legend, color_map, new_figure, styled
from progrpo_eval.reporting.tables import common_k
from progrpo_eval.store import read_run_summary

# --- Fig. 1: Pass@k curves -----------------------------------------------------------------------


@styled
def passk_curves(runs: RunsLike, *, colors=None, figsize=None, max_columns: int = 3) -> Figure:
    """Pass@k (%) against k on a log2 axis, one panel per benchmark, 95% bootstrap bands."""
    refs = resolve_runs(runs)
    benchmarks, labels = ordered_benchmarks(ref.benchmark for ref in refs), labels_of(refs)
    colors = color_map(labels, colors)
    ncols = min(len(benchmarks), max_columns)
    nrows = math.ceil(len(benchmarks) / ncols)
    figure, axes = new_figure(figsize or (3.4 * ncols + 0.4, 2.9 * nrows + 0.5), nrows, ncols)
    for ax, benchmark in zip(axes.flat, benchmarks):
        top, all_ks = 0.0, set()
        for ref in (ref for ref in refs if ref.benchmark == benchmark):
            summary = read_run_summary(ref.path)
            ks = sorted(int(k) for k in summary["pass_at_k"])
            values = [100 * summary["pass_at_k"][str(k)] for k in ks]
            ax.plot(ks, values, marker="o", ms=3.5, lw=1.5, color=colors[ref.label], label=ref.label)
            bands = summary.get("pass_at_k_ci95", {})
            if all(str(k) in bands for k in ks):
                low, high = ([100 * bands[str(k)][i] for k in ks] for i in (0, 1))
                ax.fill_between(ks, low, high, color=colors[ref.label], alpha=0.18, lw=0)
                top = max(top, *high)
            top, all_ks = max(top, *values), all_ks | set(ks)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(all_ks), [str(k) for k in sorted(all_ks)])
        ax.minorticks_off()
        ax.set_ylim(0, 101 if top > 92 else max(5.0, top * 1.1 + 1))
        ax.set(title=display_name(benchmark), xlabel="k", ylabel="Pass@k (%)")
    for ax in list(axes.flat)[len(benchmarks) :]:
        ax.set_visible(False)
    add_legend(figure, labels, colors)
    return figure


# --- Fig. 2: training entropy --------------------------------------------------------------------


def read_metrics(path: str | Path, key: str = "entropy") -> pd.DataFrame:
    """metrics.jsonl as a DataFrame sorted by step; rows without `key` are dropped."""
    path = Path(path)
    frame = pd.DataFrame([row for _, row in read_jsonl(path)])
    missing = [column for column in ("step", key) if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} has no {' or '.join(missing)} field in any line")
    return frame.dropna(subset=[key]).sort_values("step", kind="stable")


def metrics_labels(paths: Sequence[str | Path]) -> list[str]:
    """The training run directory's name; the two last folders where names repeat."""
    names = [Path(path).resolve().parent.name for path in paths]
    return [
        f"{Path(path).resolve().parent.parent.name}/{name}" if names.count(name) > 1 else name
        for path, name in zip(paths, names)
    ]


@styled
def training_entropy(metrics, *, key: str = "entropy", smooth: int = 1, colors=None, figsize=None) -> Figure:
    """`key` (default entropy) over training steps for each metrics.jsonl; `smooth` > 1 adds a rolling mean."""
    metrics = [metrics] if isinstance(metrics, (str, Path)) else metrics
    sources = dict(metrics) if isinstance(metrics, Mapping) else dict(zip(metrics_labels(metrics), metrics))
    colors = color_map(list(sources), colors)
    figure, [[ax]] = new_figure(figsize or (5.2, 3.4))
    for label, path in sources.items():
        frame = read_metrics(path, key)
        ax.plot(
            frame["step"],
            frame[key],
            color=colors[label],
            lw=1.4 if smooth <= 1 else 0.8,
            alpha=1.0 if smooth <= 1 else 0.3,
        )
        if smooth > 1:
            smoothed = frame[key].rolling(smooth, min_periods=1, center=True).mean()
            ax.plot(frame["step"], smoothed, color=colors[label], lw=1.6)
    ax.set(
        xlabel="training step",
        ylabel="mean token entropy (nats)" if key == "entropy" else key,
        title="Training entropy" if key == "entropy" else key,
    )
    add_legend(figure, list(sources), colors, marker="")
    return figure


@styled
def training_curves(metrics, *, keys: Sequence[str] = ("accuracy", "entropy"), colors=None, figsize=None) -> Figure:
    """One panel per logged key over training steps (Fig. 6: accuracy and entropy of KL-Cov runs)."""
    metrics = [metrics] if isinstance(metrics, (str, Path)) else metrics
    sources = dict(metrics) if isinstance(metrics, Mapping) else dict(zip(metrics_labels(metrics), metrics))
    colors = color_map(list(sources), colors)
    figure, axes = new_figure(figsize or (4.2 * len(keys) + 0.4, 3.4), 1, len(keys))
    for ax, key in zip(axes[0], keys):
        for label, path in sources.items():
            frame = read_metrics(path, key)
            ax.plot(frame["step"], frame[key], color=colors[label], lw=1.4)
        ax.set(xlabel="training step", ylabel=key, title=key)
    add_legend(figure, list(sources), colors, marker="")
    return figure


# --- Fig. 5: formulation ablation --------------------------------------------------------------------


@styled
def ablation_bars(runs: RunsLike, k: int | None = None, *, colors=None, figsize=None) -> Figure:
    """Grouped bars: Pass@1 and Pass@k (%) per run label, each the mean over the benchmarks all labels share."""
    refs = resolve_runs(runs)
    labels = labels_of(refs)
    colors = color_map(labels, colors)
    shared = set.intersection(*({ref.benchmark for ref in refs if ref.label == label} for label in labels))
    if not shared:
        raise ValueError("the labels share no benchmark; an ablation compares runs on the same benchmarks")
    summaries = {(ref.label, ref.benchmark): read_run_summary(ref.path) for ref in refs if ref.benchmark in shared}
    k = common_k(list(summaries.values())) if k is None else k
    ks = [1] if k == 1 else [1, k]
    benchmarks = ordered_benchmarks(ref.benchmark for ref in refs if ref.benchmark in shared)
    figure, [[ax]] = new_figure(figsize or (max(4.0, 1.2 + 0.9 * len(labels) * len(ks)), 3.6))
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        heights = []
        for kk in ks:
            if any(str(kk) not in summaries[(label, b)]["pass_at_k"] for b in benchmarks):
                raise ValueError(f"{label} does not report Pass@{kk} on every benchmark")
            heights.append(100 * float(np.mean([summaries[(label, b)]["pass_at_k"][str(kk)] for b in benchmarks])))
        bars = ax.bar(
            np.arange(len(ks)) + (i - (len(labels) - 1) / 2) * width,
            heights,
            width * 0.92,
            color=colors[label],
            label=label,
        )
        ax.bar_label(bars, fmt="%.1f", fontsize="small", padding=1)
    ax.set_xticks(np.arange(len(ks)), [f"Pass@{kk}" for kk in ks])
    ax.set_ylim(0, max(5.0, ax.get_ylim()[1] * 1.08))
    ax.set(
        ylabel="mean over benchmarks (%)",
        title=f"Mean over {len(benchmarks)} benchmark(s): " + ", ".join(display_name(b) for b in benchmarks),
    )
    add_legend(figure, labels, colors, patches=True)
    return figure
