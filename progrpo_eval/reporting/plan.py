"""Planning a report or a reproduction: which of the paper's figures and tables (`catalog.PLAN`)
a set of runs supports.

`plan_items` turns PLAN and a set of runs into `Planned` items, each with a `make()` that returns
a matplotlib Figure or a `Table`, and notes for every item left out and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from matplotlib.figure import Figure

from progrpo_eval.reporting.catalog import CODE, MATH, OOD, PLAN, Context, PlanItem, PlanOptions
from progrpo_eval.reporting.rollouts import entropy_source
from progrpo_eval.reporting.runs import RunRef, by_label, display_name, labels_of, ordered_benchmarks
from progrpo_eval.reporting.table import Table

__all__ = ["CODE", "MATH", "OOD", "PLAN", "PaperRuns", "PlanItem", "PlanOptions", "Planned", "plan_items"]


LEFT_OUT = {  # the report's notes for an item its runs cannot support (kept word for word)
    (
        "fig2_training_entropy",
        "metrics",
    ): "Fig. 2 (training entropy) left out: no training metrics.jsonl given (--metrics).",
    (
        "training_curves",
        "metrics",
    ): "Training curves (reward, entropy, response length) left out: no training metrics.jsonl given (--metrics).",
    ("fig5_ablation", "two labels"): "Fig. 5 (ablation bars) left out: it compares two or more models.",
    ("fig5_ablation", "shared benchmark"): "Fig. 5 (ablation bars) left out: the models share no benchmark.",
    ("avg_ci", "complete row"): "Avg with 95% CI left out: no model has a run on every benchmark.",
}


@dataclass(frozen=True)
class Planned:
    key: str
    number: str
    title: str
    caption: str  # the figure's caption prefix in the report ("Fig. 1 — ..."), or the table's number
    kind: str
    make: Callable[[], Figure | Table]
    description: str = ""  # the paper's caption (PlanItem.caption)


def _entropy_shown(refs: Sequence[RunRef], temperature: float) -> str:
    kinds = {source.method if source else None for source in (entropy_source(ref.path, temperature) for ref in refs)}
    return "entropy" if None not in kinds and len(kinds) == 1 else "surprisal (no stored entropy)"


def _entropy_note(refs: Sequence[RunRef], temperature: float) -> str | None:
    missing = [f"{ref.label}/{ref.benchmark}" for ref in refs if entropy_source(ref.path, temperature) is None]
    if not missing:
        return None
    at = "" if temperature == 1.0 else f" at T={temperature:g}"
    return (
        f"No stored entropy{at} for {', '.join(missing)}: Fig. 3 has no entropy panel and Fig. 4 shows the "
        "sampled tokens' surprisal -log p, NOT entropy. `progrpo-eval rescore RUN_DIR --entropy exact"
        + ("" if temperature == 1.0 else f" --temperature {temperature:g}")
        + "` adds it."
    )


def _missing(item: PlanItem, refs: Sequence[RunRef], metrics) -> str | None:
    """The first of the item's needs that `refs` and `metrics` do not meet, or None."""
    labels = labels_of(refs)
    for need in item.needs:
        if need == "metrics" and not metrics:
            return need
        if need == "two labels" and len(labels) < 2:
            return need
        if need == "two benchmarks" and len({ref.benchmark for ref in refs}) < 2:
            return need
        benchmarks = {ref.benchmark for ref in refs}
        if need == "complete row" and not any(
            {ref.benchmark for ref in refs if ref.label == label} == benchmarks for label in labels
        ):
            return need
        if (
            need == "shared benchmark"
            and labels
            and not set.intersection(*({ref.benchmark for ref in refs if ref.label == label} for label in labels))
        ):
            return need
    return None


@dataclass(frozen=True)
class PaperRuns:
    """The reproduction's runs: for each role (PlanItem.rows) the runs, labelled as the paper labels them."""

    by_role: Mapping[str, Sequence[RunRef]]
    groups: Mapping[str, str] = field(default_factory=dict)  # label → row-group heading (the base model)
    metrics: Mapping[str, Mapping[str, Path]] = field(default_factory=dict)  # role → label → metrics.jsonl
    seeds: Mapping[str, Sequence[RunRef]] = field(default_factory=dict)  # methods label → its runs over several seeds


def plan_items(
    refs: Sequence[RunRef] = (),
    *,
    metrics: Sequence[Path] | Mapping[str, Path] = (),
    options: PlanOptions = PlanOptions(),
    paper: PaperRuns | None = None,
) -> tuple[list[Planned], list[str]]:
    """PLAN's items: the report's for `refs` and `metrics`, or (with `paper`) the paper's reproduction.

    The report uses every item marked in_report, on every benchmark of its runs, with every label.
    The reproduction uses every item marked in_paper, on the paper's benchmarks, with the runs of
    the item's role. Returns the items and a note for each one left out, saying why.
    """
    planned, notes = [], []
    for item in PLAN:
        if not (item.in_paper if paper else item.in_report):
            continue
        candidates = list(paper.by_role.get(item.rows, ())) if paper else list(refs)
        present = ordered_benchmarks(ref.benchmark for ref in candidates)
        benchmarks = [b for b in present if b in item.benchmarks] if paper and item.benchmarks else present
        chosen = [ref for ref in candidates if ref.benchmark in benchmarks]
        item_metrics = paper.metrics.get(item.rows, {}) if paper else metrics
        name = item.number or item.title
        if not chosen and "metrics" not in item.needs:
            wanted = ", ".join(map(display_name, item.benchmarks)) if paper and item.benchmarks else "any benchmark"
            notes.append(f"{name} left out: no {item.rows} runs on {wanted}" if paper else f"{name} left out: no runs")
            continue
        missing = _missing(item, chosen, item_metrics)
        if missing == "two benchmarks":  # an average over one benchmark is that benchmark: nothing to say
            continue
        if missing:
            needed = {
                "metrics": f"no training metrics.jsonl of the {item.rows} runs",
                "two labels": f"it compares two or more {item.rows} runs",
                "shared benchmark": f"the {item.rows} runs share no benchmark",
                "complete row": f"no {item.rows} run on every benchmark",
            }[missing]
            notes.append(
                LEFT_OUT.get((item.key, missing), f"{name} left out: {needed}")
                if not paper
                else f"{name} left out: {needed}"
            )
            continue
        if "entropy" in item.warns and (note := _entropy_note(chosen, options.temperature)) and note not in notes:
            notes.append(note)
        for benchmark in ordered_benchmarks(ref.benchmark for ref in chosen) if item.per_benchmark else [None]:
            subset = [ref for ref in chosen if benchmark is None or ref.benchmark == benchmark]
            context = Context(
                runs=by_label(subset),
                refs=tuple(subset),
                benchmark=benchmark,
                metrics=item_metrics,
                options=options,
                groups=dict(paper.groups) if paper else {},
                k=item.k if paper else None,
            )
            title = item.title.format(
                benchmark=display_name(benchmark) if benchmark else "",
                entropy=_entropy_shown(subset, options.temperature) if "{entropy}" in item.title else "",
            )
            caption = f"{item.number} — {item.caption}" if item.caption and item.kind == "figure" else item.number
            key = f"{item.key}_{benchmark}" if item.per_benchmark and not paper else item.key
            planned.append(
                Planned(
                    key=key,
                    number=item.number,
                    title=title,
                    caption=caption or item.caption,
                    kind=item.kind,
                    make=partial(item.make, context),
                    description=item.caption,
                )
            )
    return planned, notes
