"""How the figures look and are saved: one style, deterministic files, shared drawing helpers.

Decisions
- Figures are `matplotlib.figure.Figure` objects made without pyplot (no global registry, no GUI
  backend) under STYLE: fixed rcParams (seaborn's whitegrid/paper look, DejaVu Sans only, dpi, PDF
  compression, svg hash salt); `save_figure` writes no creation date: same runs, same bytes.
- Colours follow label order (seaborn's colorblind palette) unless a `colors` mapping is passed;
  the report passes one mapping so a model keeps its colour on every page.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import matplotlib as mpl
import numpy as np
import seaborn as sns
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

PALETTE = [tuple(color) for color in sns.color_palette("colorblind", 10)]
CORRECT_COLOR, WRONG_COLOR = PALETTE[2], PALETTE[3]
STYLE = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("paper"),
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 12,
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.prop_cycle": cycler(color=PALETTE),
    "pdf.compression": 6,
    "svg.hashsalt": "progrpo",
    "path.simplify": True,
}
SAVE_METADATA = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {}}
FONT_KEYS = (
    "font.size",
    "axes.titlesize",
    "axes.labelsize",
    "xtick.labelsize",
    "ytick.labelsize",
    "legend.fontsize",
    "figure.titlesize",
)
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


def new_figure(figsize, nrows: int = 1, ncols: int = 1, **subplot_options):
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.subplots(nrows, ncols, squeeze=False, **subplot_options)


def color_map(labels: Sequence[str], colors: Mapping[str, tuple] | None = None) -> dict[str, tuple]:
    colors = dict(colors or {})
    return {label: colors.get(label, PALETTE[i % len(PALETTE)]) for i, label in enumerate(labels)}


def add_legend(
    figure: Figure, labels: Sequence[str], colors: Mapping[str, tuple], *, patches: bool = False, marker: str = "o"
) -> None:
    handles = [
        Patch(color=colors[label]) if patches else Line2D([], [], color=colors[label], marker=marker, ms=4)
        for label in labels
    ]
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


def boxplot(ax, groups: Sequence[np.ndarray], labels: Sequence[str], colors, *, showfliers: bool = True) -> None:
    """One box per label in its colour (matplotlib's bxp: seaborn 0.13's boxplot warns on matplotlib 3.11)."""
    boxes = ax.boxplot(
        [group if group.size else [np.nan] for group in groups],
        tick_labels=labels,
        widths=0.6,
        patch_artist=True,
        showfliers=showfliers,
        medianprops={"color": "0.15"},
        flierprops={"markersize": 2.5, "markerfacecolor": "0.4", "markeredgecolor": "none"},
    )
    for patch, label in zip(boxes["boxes"], labels):
        patch.set(facecolor=colors[label], alpha=0.8, edgecolor="0.25")
    _label_ticks(ax, labels)
