"""The paper's token-level figures, from the per-rollout statistics of run directories.

    Fig. 3    token_probability_distributions  per-problem average / low-20% probability (/ entropy)
    Fig. 4/7  entropy_kde                      KDE and boxplot of rollout token entropy (or surprisal)
    Fig. 8    rollout_probabilities            one problem's rollouts: average vs low-20% probability

Decisions
- Every statistic of a figure is at one temperature, `temperature` (default 1: the policy's own
  distribution, as Eq. 5–6), printed on its axes: the probabilities from the stored log-probs at
  T = 1 or an exact rescore's at T, the entropy only when stored at that T (`reporting.rollouts`).
- Fig. 3 has one value per PROBLEM: the mean over its rollouts of each rollout's average / low-20%
  probability / mean token entropy (`rollouts.rollout_statistics`; empty rollouts are left out).
- Entropy needs `progrpo-eval rescore` (`rollouts.entropy_source`: exact, else the top-k lower
  bound, named so on the axis). Without it Fig. 3 has no entropy panel, and Fig. 4 with
  quantity="auto" shows the SURPRISAL −log p of each sampled token instead, labelled "not entropy"
  on its axes and title: its mean equals the entropy only for samples drawn at T = 1 from the model.
- KDEs (Fig. 4) use common_norm=False and cut=0 as in the paper; above `max_points` tokens a run
  is subsampled uniformly with seed 0; boxplots hide outliers (whiskers at 1.5 IQR).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from progrpo_eval import store
from progrpo_eval.reporting.rollouts import (
    entropy_source,
    pooled,
    problem_token_statistics,
    rollout_statistics,
    stored_elsewhere,
    token_values,
)
from progrpo_eval.reporting.runs import RunsLike, display_name, labels_of, resolve_runs, single_benchmark
from progrpo_eval.reporting.style import CORRECT_COLOR, WRONG_COLOR, add_legend, boxplot, color_map, new_figure, styled

# --- Fig. 3: per-problem token probability distributions ------------------------------------------


@styled
def token_probability_distributions(
    runs: RunsLike, benchmark: str | None = None, *, temperature: float = 1.0, colors=None, figsize=None
) -> Figure:
    """Boxplots (top) and histograms (bottom) of per-problem average / low-20% probability (/ entropy),
    every panel at one `temperature` (default 1, Eq. 5–6), printed on its axes."""
    refs, benchmark = single_benchmark(resolve_runs(runs), benchmark)
    labels = labels_of(refs)
    colors = color_map(labels, colors)
    data = pd.concat(
        [problem_token_statistics(ref.path, temperature).assign(label=ref.label) for ref in refs], ignore_index=True
    )
    sources = [entropy_source(ref.path, temperature) for ref in refs]
    methods = {source.method if source else None for source in sources}
    has_entropy = None not in methods and len(methods) == 1
    at = f" at T={temperature:g}"
    panels = [("mean_token_prob", "Average probability" + at), ("low_prob_mean", "Low-20% probability" + at)]
    panels += [(sources[0].column, "Mean " + sources[0].axis_label)] if has_entropy else []
    figure, axes = new_figure(figsize or (3.3 * len(panels) + 0.4, 5.6), 2, len(panels))
    for column, (name, title) in enumerate(panels):
        values = data.dropna(subset=[name])
        box, hist = axes[0, column], axes[1, column]
        boxplot(box, [values.loc[values["label"] == label, name].to_numpy() for label in labels], labels, colors)
        box.set(title=title, ylabel=title if column == 0 else "")
        sns.histplot(
            data=values,
            x=name,
            hue="label",
            hue_order=labels,
            palette=colors,
            element="step",
            stat="density",
            common_norm=False,
            bins=20,
            ax=hist,
            legend=False,
        )
        hist.set(xlabel=title, ylabel="density (problems)" if column == 0 else "")
    elsewhere = sorted({found for found in (stored_elsewhere(ref.path, temperature) for ref in refs) if found})
    note = (
        ""
        if has_entropy
        else "\nno entropy panel: runs store different kinds of entropy"
        if None not in methods
        else f"\nno entropy panel: none stored at T={temperature:g} ({', '.join(elsewhere)} is; `progrpo-eval "
        f"rescore --temperature {temperature:g}` adds it)"
        if elsewhere
        else "\nno entropy panel: no stored entropy (`progrpo-eval rescore` adds it)"
    )
    figure.suptitle(
        f"{display_name(benchmark)}: per-problem token statistics at T={temperature:g}, mean over rollouts{note}",
        fontsize="large",
    )
    add_legend(figure, labels, colors, patches=True)
    return figure


# --- Fig. 4 / 7: token entropy KDE and boxplot ------------------------------------------------------


@styled
def entropy_kde(
    runs: RunsLike,
    benchmark: str | None = None,
    *,
    quantity: str = "auto",
    temperature: float = 1.0,
    max_points: int = 200_000,
    colors=None,
    figsize=None,
) -> Figure:
    """KDE (common_norm=False, cut=0) and boxplot of every rollout token's entropy (or surprisal) at `temperature`."""
    refs, benchmark = single_benchmark(resolve_runs(runs), benchmark)
    labels = labels_of(refs)
    colors = color_map(labels, colors)
    stored = {ref.label: entropy_source(ref.path, temperature) for ref in refs}
    methods = {source.method if source else None for source in stored.values()}
    if quantity == "auto":
        quantity = "entropy" if None not in methods and len(methods) == 1 else "surprisal"
    if quantity == "entropy" and (None in methods or len(methods) > 1):
        found = ", ".join(f"{ref.path}: {stored[ref.label].method if stored[ref.label] else 'none'}" for ref in refs)
        raise ValueError(
            f"entropy needs one stored kind for every run at T={temperature:g} ({found}); see `progrpo-eval rescore`"
        )
    if quantity == "entropy":
        axis_label = stored[labels[0]].axis_label
        title = f"{display_name(benchmark)}: rollout {axis_label.replace(' (nats)', '')}"
    elif quantity == "surprisal":
        axis_label = f"token surprisal −log p at T={temperature:g} (nats), NOT entropy"
        title = (
            f"{display_name(benchmark)}: rollout token surprisal −log p at T={temperature:g} (not entropy: none "
            "stored for every run)"
        )
    else:
        raise ValueError(f"unknown quantity {quantity!r}; known: auto, entropy, surprisal")
    values = {}
    for ref in refs:
        tokens = (
            pooled(stored[ref.label].per_token)
            if quantity == "entropy"
            else token_values(ref.path, "surprisal", temperature)
        )
        if tokens.size > max_points:
            tokens = np.random.default_rng(0).choice(tokens, size=max_points, replace=False)
        values[ref.label] = tokens
    figure, axes = new_figure(figsize or (8.4, 3.6), 1, 2)
    kde, box = axes[0]
    for label in labels:
        if values[label].size > 1 and np.ptp(values[label]) > 0:
            sns.kdeplot(
                x=values[label],
                ax=kde,
                color=colors[label],
                common_norm=False,
                cut=0,
                fill=True,
                alpha=0.15,
                linewidth=1.5,
            )
    kde.set(xlabel=axis_label, ylabel="density (tokens)", title="Kernel density estimate")
    boxplot(box, [values[label] for label in labels], labels, colors, showfliers=False)
    box.set(ylabel=axis_label, title="Boxplot (outliers not drawn)")
    figure.suptitle(title, fontsize="large")
    means = [f"{label} (mean {np.mean(values[label]):.3f})" if values[label].size else label for label in labels]
    add_legend(figure, means, dict(zip(means, colors.values())), patches=True)
    return figure


# --- Fig. 8: one problem's rollouts ----------------------------------------------------------------


def default_problem(run_dir: str | Path) -> str:
    """The first problem (run order) whose rollouts are partly correct, else the first problem."""
    samples = store.load_samples(run_dir, columns=["problem_id", "sample_index", "correct"])
    if samples.empty:
        raise ValueError(f"{run_dir} has no samples")
    share = samples.groupby("problem_id", sort=False)["correct"].mean()
    mixed = share[(share > 0) & (share < 1)]
    return str((mixed if len(mixed) else share).index[0])


def rollout_probability_table(run_dir: str | Path, problem_id: str, temperature: float = 1.0) -> pd.DataFrame:
    """Fig. 8's values: one problem's rollouts by sample_index (rollout_statistics' columns at `temperature`)."""
    rollouts = rollout_statistics(run_dir, temperature=temperature)
    table = rollouts[rollouts["problem_id"] == problem_id].sort_values("sample_index")
    if table.empty:
        raise ValueError(f"problem {problem_id!r} is not in {run_dir}")
    return table.reset_index(drop=True)


@styled
def rollout_probabilities(
    runs: RunsLike, problem_id: str | None = None, *, temperature: float = 1.0, figsize=None
) -> Figure:
    """Bars per rollout of one problem: average (top) and low-20% (bottom) probability at `temperature`."""
    refs, benchmark = single_benchmark(resolve_runs(runs), None)
    problem_id = problem_id or default_problem(refs[0].path)
    tables = [rollout_probability_table(ref.path, problem_id, temperature) for ref in refs]
    panels = (
        ("mean_token_prob", f"average probability (T={temperature:g})"),
        ("low_prob_mean", f"low-20% probability (T={temperature:g})"),
    )
    tops = {
        name: 1.22 * max(1e-3, max(float(np.nan_to_num(table[name].max())) for table in tables)) for name, _ in panels
    }
    figure, axes = new_figure(figsize or (max(4.6, 3.2 * len(refs) + 1.0), 4.8), 2, len(refs), sharey="row")
    for column, (ref, table) in enumerate(zip(refs, tables)):
        bar_colors = [CORRECT_COLOR if correct else WRONG_COLOR for correct in table["correct"]]
        for row, (name, title) in enumerate(panels):
            ax = axes[row, column]
            ax.bar(table["sample_index"], table[name], color=bar_colors, width=0.8)
            mean = float(table[name].mean())
            ax.axhline(mean, color="0.25", ls="--", lw=1)
            ax.text(
                0.01,
                0.98,
                f"mean {mean:.3f} (dashed)",
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize="small",
                color="0.25",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1},
            )
            ax.set_ylim(0, tops[name])
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set(ylabel=title if column == 0 else "", xlabel="rollout" if row == 1 else "")
        fits = int(figure.get_figwidth() / len(refs) * 72 / (0.6 * mpl.rcParams["font.size"]))
        label = ref.label if len(ref.label) <= fits else ref.label[: fits - 1] + "…"
        axes[0, column].set_title(f"{label}\n{int(table['correct'].sum())}/{len(table)} correct", fontsize="medium")
    figure.suptitle(f"{display_name(benchmark)} · {problem_id}: token probabilities per rollout", fontsize="large")
    figure.legend(
        [Patch(color=CORRECT_COLOR), Patch(color=WRONG_COLOR)],
        ["correct", "wrong"],
        loc="outside lower center",
        ncols=2,
        frameon=False,
    )
    return figure
