"""The paper's figures from run directories (and training metrics.jsonl), as matplotlib Figures.

    Fig. 1    passk_curves                     Pass@k vs k (log2 axis), 95% bootstrap bands, per benchmark
    Fig. 2    training_entropy                 entropy over training steps, from metrics.jsonl files
    Fig. 3    token_probability_distributions  per-problem average / low-20% probability (/ entropy)
    Fig. 4/7  entropy_kde                      KDE and boxplot of rollout token entropy (or surprisal)
    Fig. 5    ablation_bars                    Pass@1 and Pass@k per run label, mean over benchmarks
    Fig. 8    rollout_probabilities            one problem's rollouts: average vs low-20% probability

Decisions
- Figures are `matplotlib.figure.Figure` objects made without pyplot (no global registry, no GUI
  backend) under STYLE: fixed rcParams (seaborn's whitegrid/paper look, DejaVu Sans only, dpi, PDF
  compression, svg hash salt); `save_figure` writes no creation date: same runs, same bytes.
- Colours follow label order (seaborn's colorblind palette) unless a `colors` mapping is passed;
  the report passes one mapping so a model keeps its colour on every page.
- Pass@k bands (Fig. 1) are the 95% percentile bootstrap over problems stored in summary.json
  (`pass_at_k_ci95`, 10,000 resamples, `progrpo_eval.stats`).
- Fig. 3 has one value per PROBLEM: the mean over its rollouts of each rollout's average / low-20%
  probability / mean token entropy (`tables.rollout_statistics`; empty rollouts are left out).
- Entropy needs `progrpo-eval rescore` (`tables.load_entropy`: exact, else the top-k lower bound,
  named so on the axis). Without it Fig. 3 has no entropy panel, and Fig. 4 with quantity="auto"
  shows the SURPRISAL −log p of each sampled token instead, labelled "not entropy" on its axes and
  title: its mean equals the entropy only for samples drawn at T = 1 from the model itself.
- KDEs (Fig. 4) use common_norm=False and cut=0 as in the paper; above `max_points` tokens a run
  is subsampled uniformly with seed 0; boxplots hide outliers (whiskers at 1.5 IQR).
"""

from __future__ import annotations

import functools
import json
import math
from contextlib import contextmanager
from contextvars import ContextVar
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from progrpo_eval import store
from progrpo_eval.tables import (RunRef, RunsLike, common_k, display_name, labels_of, load_entropy,
                                 ordered_benchmarks, pooled, problem_token_statistics, resolve_runs,
                                 rollout_statistics, summary_of, token_values)

PALETTE = [tuple(color) for color in sns.color_palette("colorblind", 10)]
CORRECT_COLOR, WRONG_COLOR = PALETTE[2], PALETTE[3]
STYLE = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("paper"),
    "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"], "font.size": 9, "axes.titlesize": 10,
    "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8,
    "figure.titlesize": 12, "figure.dpi": 100, "savefig.dpi": 150, "axes.prop_cycle": cycler(color=PALETTE),
    "pdf.compression": 6, "svg.hashsalt": "progrpo", "path.simplify": True,
}
SAVE_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {}}
FONT_KEYS = ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize",
             "figure.titlesize")
_font_scale: ContextVar[float] = ContextVar("font_scale", default=1.0)


@contextmanager
def font_scale(scale: float):
    """Figures made inside use fonts `scale` times STYLE's (the report's full pages use 1.3)."""
    token = _font_scale.set(scale)
    try:
        yield
    finally:
        _font_scale.reset(token)


def current_style() -> dict:
    return {**STYLE, **{key: STYLE[key] * _font_scale.get() for key in FONT_KEYS}}


def styled(function):
    """Run `function` under the current style (figure functions and anything that draws)."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(current_style()):
            return function(*args, **kwargs)
    return wrapper


@styled
def save_figure(figure: Figure, path: str | Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write `figure` as path.<format> for each format, deterministically; returns the paths."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        figure.savefig(Path(path).with_suffix(f".{fmt}"), format=fmt, metadata=SAVE_METADATA.get(fmt, {}))
    return [Path(path).with_suffix(f".{fmt}") for fmt in formats]


def _new_figure(figsize, nrows: int = 1, ncols: int = 1, **subplot_options):
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.subplots(nrows, ncols, squeeze=False, **subplot_options)


def color_map(labels: Sequence[str], colors: Mapping[str, tuple] | None = None) -> dict[str, tuple]:
    colors = dict(colors or {})
    return {label: colors.get(label, PALETTE[i % len(PALETTE)]) for i, label in enumerate(labels)}


def _legend(figure: Figure, labels: Sequence[str], colors: Mapping[str, tuple], *, patches: bool = False,
            marker: str = "o") -> None:
    handles = [Patch(color=colors[label]) if patches else Line2D([], [], color=colors[label], marker=marker, ms=4)
               for label in labels]
    figure.legend(handles, labels, loc="outside lower center", ncols=_legend_columns(figure, labels), frameon=False)


def _legend_columns(figure: Figure, labels: Sequence[str]) -> int:
    """As many columns (up to 4) as fit the figure's width, at about 0.6 em per character."""
    characters_per_row = figure.get_figwidth() * 72 / (0.6 * mpl.rcParams["legend.fontsize"])
    widest = max(len(label) for label in labels) + 6  # the handle and the gap
    return max(1, min(len(labels), 4, int(characters_per_row // widest)))


def _label_ticks(axes, labels: Sequence[str]) -> None:
    if sum(len(label) for label in labels) > 36:
        axes.tick_params(axis="x", labelrotation=25)
        for text in axes.get_xticklabels():
            text.set_horizontalalignment("right")


def _boxplot(ax, groups: Sequence[np.ndarray], labels: Sequence[str], colors, *, showfliers: bool = True) -> None:
    """One box per label in its colour (matplotlib's bxp: seaborn 0.13's boxplot warns on matplotlib 3.11)."""
    boxes = ax.boxplot([group if group.size else [np.nan] for group in groups], tick_labels=labels, widths=0.6,
                       patch_artist=True, showfliers=showfliers, medianprops={"color": "0.15"},
                       flierprops={"markersize": 2.5, "markerfacecolor": "0.4", "markeredgecolor": "none"})
    for patch, label in zip(boxes["boxes"], labels):
        patch.set(facecolor=colors[label], alpha=0.8, edgecolor="0.25")
    _label_ticks(ax, labels)


def _single_benchmark(refs: list[RunRef], benchmark: str | None) -> tuple[list[RunRef], str]:
    names = ordered_benchmarks(ref.benchmark for ref in refs)
    if benchmark is None and len(names) > 1:
        raise ValueError(f"runs on several benchmarks ({', '.join(names)}); pass benchmark=")
    benchmark = benchmark or names[0]
    chosen = [ref for ref in refs if ref.benchmark == benchmark]
    if not chosen:
        raise ValueError(f"no run on {benchmark}; the runs cover {', '.join(names)}")
    return chosen, benchmark


# --- Fig. 1: Pass@k curves -----------------------------------------------------------------------


@styled
def passk_curves(runs: RunsLike, *, colors=None, figsize=None, max_columns: int = 3) -> Figure:
    """Pass@k (%) against k on a log2 axis, one panel per benchmark, 95% bootstrap bands."""
    refs = resolve_runs(runs)
    benchmarks, labels = ordered_benchmarks(ref.benchmark for ref in refs), labels_of(refs)
    colors = color_map(labels, colors)
    ncols = min(len(benchmarks), max_columns)
    nrows = math.ceil(len(benchmarks) / ncols)
    figure, axes = _new_figure(figsize or (3.4 * ncols + 0.4, 2.9 * nrows + 0.5), nrows, ncols)
    for ax, benchmark in zip(axes.flat, benchmarks):
        top, all_ks = 0.0, set()
        for ref in (ref for ref in refs if ref.benchmark == benchmark):
            summary = summary_of(ref.path)
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
    for ax in list(axes.flat)[len(benchmarks):]:
        ax.set_visible(False)
    _legend(figure, labels, colors)
    return figure


# --- Fig. 2: training entropy --------------------------------------------------------------------


def read_metrics(path: str | Path, key: str = "entropy") -> pd.DataFrame:
    """metrics.jsonl as a DataFrame sorted by step; rows without `key` are dropped."""
    path = Path(path)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            rows += [json.loads(line)] if line.strip() else []
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} line {number} is not JSON: {e.msg}") from e
    frame = pd.DataFrame(rows)
    missing = [column for column in ("step", key) if column not in frame.columns]
    if missing:
        raise ValueError(f"{path} has no {' or '.join(missing)} field in any line")
    return frame.dropna(subset=[key]).sort_values("step", kind="stable")


def metrics_labels(paths: Sequence[str | Path]) -> list[str]:
    """The training run directory's name; the two last folders where names repeat."""
    names = [Path(path).resolve().parent.name for path in paths]
    return [f"{Path(path).resolve().parent.parent.name}/{name}" if names.count(name) > 1 else name
            for path, name in zip(paths, names)]


@styled
def training_entropy(metrics, *, key: str = "entropy", smooth: int = 1, colors=None, figsize=None) -> Figure:
    """`key` (default entropy) over training steps for each metrics.jsonl; `smooth` > 1 adds a rolling mean."""
    metrics = [metrics] if isinstance(metrics, (str, Path)) else metrics
    sources = dict(metrics) if isinstance(metrics, Mapping) else dict(zip(metrics_labels(metrics), metrics))
    colors = color_map(list(sources), colors)
    figure, [[ax]] = _new_figure(figsize or (5.2, 3.4))
    for label, path in sources.items():
        frame = read_metrics(path, key)
        ax.plot(frame["step"], frame[key], color=colors[label], lw=1.4 if smooth <= 1 else 0.8,
                alpha=1.0 if smooth <= 1 else 0.3)
        if smooth > 1:
            ax.plot(frame["step"], frame[key].rolling(smooth, min_periods=1, center=True).mean(), color=colors[label], lw=1.6)
    ax.set(xlabel="training step", ylabel="mean token entropy (nats)" if key == "entropy" else key,
           title="Training entropy" if key == "entropy" else key)
    _legend(figure, list(sources), colors, marker="")
    return figure


# --- Fig. 3: per-problem token probability distributions ------------------------------------------


@styled
def token_probability_distributions(runs: RunsLike, benchmark: str | None = None, *, colors=None,
                                    figsize=None) -> Figure:
    """Boxplots (top) and histograms (bottom) of per-problem average / low-20% probability (/ entropy)."""
    refs, benchmark = _single_benchmark(resolve_runs(runs), benchmark)
    labels = labels_of(refs)
    colors = color_map(labels, colors)
    data = pd.concat([problem_token_statistics(ref.path).assign(label=ref.label) for ref in refs], ignore_index=True)
    sources = [load_entropy(ref.path) for ref in refs]
    methods = {source.method if source else None for source in sources}
    has_entropy = None not in methods and len(methods) == 1
    panels = [("mean_prob", "Average probability"), ("low_prob", "Low-20% probability")]
    panels += [("entropy", "Mean " + sources[0].axis_label)] if has_entropy else []
    figure, axes = _new_figure(figsize or (3.3 * len(panels) + 0.4, 5.6), 2, len(panels))
    for column, (name, title) in enumerate(panels):
        values = data.dropna(subset=[name])
        box, hist = axes[0, column], axes[1, column]
        _boxplot(box, [values.loc[values["label"] == label, name].to_numpy() for label in labels], labels, colors)
        box.set(title=title, ylabel=title if column == 0 else "")
        sns.histplot(data=values, x=name, hue="label", hue_order=labels, palette=colors, element="step",
                     stat="density", common_norm=False, bins=20, ax=hist, legend=False)
        hist.set(xlabel=title, ylabel="density (problems)" if column == 0 else "")
    note = ("" if has_entropy else "\nno entropy panel: runs store different kinds of entropy" if None not in methods
            else "\nno entropy panel: no stored entropy (`progrpo-eval rescore` adds it)")
    figure.suptitle(f"{display_name(benchmark)}: per-problem token probabilities, mean over rollouts{note}",
                    fontsize="large")
    _legend(figure, labels, colors, patches=True)
    return figure


# --- Fig. 4 / 7: token entropy KDE and boxplot ------------------------------------------------------


@styled
def entropy_kde(runs: RunsLike, benchmark: str | None = None, *, quantity: str = "auto",
                max_points: int = 200_000, colors=None, figsize=None) -> Figure:
    """KDE (common_norm=False, cut=0) and boxplot of every rollout token's entropy (or surprisal)."""
    refs, benchmark = _single_benchmark(resolve_runs(runs), benchmark)
    labels = labels_of(refs)
    colors = color_map(labels, colors)
    stored = {ref.label: load_entropy(ref.path) for ref in refs}
    methods = {source.method if source else None for source in stored.values()}
    if quantity == "auto":
        quantity = "entropy" if None not in methods and len(methods) == 1 else "surprisal"
    if quantity == "entropy" and (None in methods or len(methods) > 1):
        found = ", ".join(f"{ref.path}: {stored[ref.label].method if stored[ref.label] else 'none'}" for ref in refs)
        raise ValueError(f"entropy needs one stored kind for every run ({found}); see `progrpo-eval rescore`")
    if quantity == "entropy":
        axis_label = stored[labels[0]].axis_label
        title = f"{display_name(benchmark)}: rollout {axis_label.replace(' (nats)', '')}"
    elif quantity == "surprisal":
        axis_label = "token surprisal −log p (nats), NOT entropy"
        title = f"{display_name(benchmark)}: rollout token surprisal −log p (not entropy: none stored for every run)"
    else:
        raise ValueError(f"unknown quantity {quantity!r}; known: auto, entropy, surprisal")
    values = {}
    for ref in refs:
        tokens = (pooled(stored[ref.label].per_token) if quantity == "entropy"
                  else token_values(ref.path, "surprisal"))
        if tokens.size > max_points:
            tokens = np.random.default_rng(0).choice(tokens, size=max_points, replace=False)
        values[ref.label] = tokens
    figure, axes = _new_figure(figsize or (8.4, 3.6), 1, 2)
    kde, box = axes[0]
    for label in labels:
        if values[label].size > 1 and np.ptp(values[label]) > 0:
            sns.kdeplot(x=values[label], ax=kde, color=colors[label], common_norm=False, cut=0, fill=True,
                        alpha=0.15, linewidth=1.5)
    kde.set(xlabel=axis_label, ylabel="density (tokens)", title="Kernel density estimate")
    _boxplot(box, [values[label] for label in labels], labels, colors, showfliers=False)
    box.set(ylabel=axis_label, title="Boxplot (outliers not drawn)")
    figure.suptitle(title, fontsize="large")
    means = [f"{label} (mean {np.mean(values[label]):.3f})" if values[label].size else label for label in labels]
    _legend(figure, means, dict(zip(means, colors.values())), patches=True)
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
    summaries = {(ref.label, ref.benchmark): summary_of(ref.path) for ref in refs if ref.benchmark in shared}
    k = common_k(list(summaries.values())) if k is None else k
    ks = [1] if k == 1 else [1, k]
    benchmarks = ordered_benchmarks(ref.benchmark for ref in refs if ref.benchmark in shared)
    figure, [[ax]] = _new_figure(figsize or (max(4.0, 1.2 + 0.9 * len(labels) * len(ks)), 3.6))
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        heights = []
        for kk in ks:
            if any(str(kk) not in summaries[(label, b)]["pass_at_k"] for b in benchmarks):
                raise ValueError(f"{label} does not report Pass@{kk} on every benchmark")
            heights.append(100 * float(np.mean([summaries[(label, b)]["pass_at_k"][str(kk)] for b in benchmarks])))
        bars = ax.bar(np.arange(len(ks)) + (i - (len(labels) - 1) / 2) * width, heights, width * 0.92,
                      color=colors[label], label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize="small", padding=1)
    ax.set_xticks(np.arange(len(ks)), [f"Pass@{kk}" for kk in ks])
    ax.set_ylim(0, max(5.0, ax.get_ylim()[1] * 1.08))
    ax.set(ylabel="mean over benchmarks (%)",
           title=f"Mean over {len(benchmarks)} benchmark(s): " + ", ".join(display_name(b) for b in benchmarks))
    _legend(figure, labels, colors, patches=True)
    return figure


# --- Fig. 8: one problem's rollouts ----------------------------------------------------------------


def default_problem(run_dir: str | Path) -> str:
    """The first problem (run order) whose rollouts are partly correct, else the first problem."""
    samples = store.load_samples(run_dir, columns=["problem_id", "correct"])
    if samples.empty:
        raise ValueError(f"{run_dir} has no samples")
    share = samples.groupby("problem_id", sort=False)["correct"].mean()
    mixed = share[(share > 0) & (share < 1)]
    return str((mixed if len(mixed) else share).index[0])


def rollout_probability_table(run_dir: str | Path, problem_id: str) -> pd.DataFrame:
    """Fig. 8's values: one problem's rollouts by sample_index with correct, mean_prob, low_prob."""
    rollouts = rollout_statistics(run_dir)
    table = rollouts[rollouts["problem_id"] == problem_id].sort_values("sample_index")
    if table.empty:
        raise ValueError(f"problem {problem_id!r} is not in {run_dir}")
    return table.reset_index(drop=True)


@styled
def rollout_probabilities(runs: RunsLike, problem_id: str | None = None, *, figsize=None) -> Figure:
    """Bars per rollout of one problem: average (top) and low-20% (bottom) probability, by correctness."""
    refs, benchmark = _single_benchmark(resolve_runs(runs), None)
    problem_id = problem_id or default_problem(refs[0].path)
    tables = [rollout_probability_table(ref.path, problem_id) for ref in refs]
    panels = (("mean_prob", "average probability"), ("low_prob", "low-20% probability"))
    tops = {name: 1.22 * max(1e-3, max(float(np.nan_to_num(table[name].max())) for table in tables)) for name, _ in panels}
    figure, axes = _new_figure(figsize or (max(4.6, 3.2 * len(refs) + 1.0), 4.8), 2, len(refs), sharey="row")
    for column, (ref, table) in enumerate(zip(refs, tables)):
        bar_colors = [CORRECT_COLOR if correct else WRONG_COLOR for correct in table["correct"]]
        for row, (name, title) in enumerate(panels):
            ax = axes[row, column]
            ax.bar(table["sample_index"], table[name], color=bar_colors, width=0.8)
            mean = float(table[name].mean())
            ax.axhline(mean, color="0.25", ls="--", lw=1)
            ax.text(0.01, 0.98, f"mean {mean:.3f} (dashed)", transform=ax.transAxes, ha="left", va="top",
                    fontsize="small", color="0.25", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
            ax.set_ylim(0, tops[name])
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set(ylabel=title if column == 0 else "", xlabel="rollout" if row == 1 else "")
        fits = int(figure.get_figwidth() / len(refs) * 72 / (0.6 * mpl.rcParams["font.size"]))
        label = ref.label if len(ref.label) <= fits else ref.label[: fits - 1] + "…"
        axes[0, column].set_title(f"{label}\n{int(table['correct'].sum())}/{len(table)} correct", fontsize="medium")
    figure.suptitle(f"{display_name(benchmark)} · {problem_id}: token probabilities per rollout", fontsize="large")
    figure.legend([Patch(color=CORRECT_COLOR), Patch(color=WRONG_COLOR)], ["correct", "wrong"],
                  loc="outside lower center", ncols=2, frameon=False)
    return figure
