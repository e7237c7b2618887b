"""The paper's figures and tables, declared once (PLAN): what `progrpo-eval report` draws and
what `analysis/reproduce.py` writes are both made from it (`reporting.plan.plan_items`).

Each `PlanItem` names a paper figure or table (or one of the report's own tables), its caption,
its maker, and where it applies:
- `benchmarks`: the benchmarks the paper shows it on. The report ignores them and uses every
  benchmark of its runs; the reproduction (paper=True) keeps the paper's choice.
- `per_benchmark`: one figure per benchmark (Fig. 3, 4, 7, 8).
- `rows`: which runs make its rows in the paper ("methods": the main comparison, "alpha": the α
  sweep of Tab. 6, "formulation": the ablations of Fig. 5 / Tab. 7, "kl_cov": Fig. 6). The
  report uses every label; the reproduction selects by the roles it found for each label.
- `needs`: what it cannot be drawn without ("metrics": training metrics.jsonl; "two labels").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from progrpo_eval.jsonl import read_jsonl
from progrpo_eval.reporting.figures import ablation_bars, passk_curves, training_curves, training_entropy
from progrpo_eval.reporting.runs import RunRef
from progrpo_eval.reporting.table import Table
from progrpo_eval.reporting.tables import (
    average_ci_table,
    average_table,
    diversity_table,
    results_table,
    run_detail_table,
)
from progrpo_eval.reporting.token_figures import entropy_kde, rollout_probabilities, token_probability_distributions
from progrpo_eval.store import read_run_summary

MATH = ("aime24", "aime25", "amc23", "math500", "minerva", "olympiadbench")
CODE = ("livecodebench", "codeforces", "humaneval_plus")
OOD = ("gpqa_diamond", "mmlu_pro")


@dataclass(frozen=True)
class PlanItem:
    key: str  # file stem of the reproduction ("tab2_math", "fig1_passk"); per-benchmark items add "_<bench>"
    number: str  # the paper's number ("Tab. 2", "Fig. 1"); "" for the report's own tables
    title: str  # the report's page / table title ("{benchmark}" filled for per-benchmark items)
    caption: str  # the paper's caption, shortened
    kind: str  # "table" or "figure"
    make: Callable  # (Context) -> Figure | Table
    benchmarks: tuple[str, ...] = ()  # the paper's benchmarks (empty: whatever the runs have)
    per_benchmark: bool = False
    rows: str = "methods"
    needs: tuple[str, ...] = ()
    warns: tuple[str, ...] = ()  # drawn anyway, with a note: "entropy" (runs without stored entropy)
    in_report: bool = True
    in_paper: bool = True
    k: int | None = None  # the paper's k for Pass@k (None: the largest every run has)


@dataclass(frozen=True)
class PlanOptions:
    semantic: bool = True  # the semantic cosine column of Tab. 5
    diversity: str = "pooled"  # Tab. 5's aggregation: "pooled" (the paper's) or "per-problem"
    diversity_fair: int | None = None  # Tab. 5's fair mode: m correct solutions of the problems all solve m times
    long_texts: str = "truncate"  # how the semantic cosine embeds long solutions: "truncate" (the paper's), "window"
    seed: int = 0  # the fair mode's subsampling
    temperature: float = 1.0  # every token statistic of Fig. 3, 4/7, 8 at this one temperature (Eq. 5–6: 1)
    num_resamples: int = 10_000  # bootstrap resamples of the Avg CIs
    problem: str | None = None  # Fig. 8's problem (default: the first with mixed results)
    colors: Mapping[str, tuple] | None = None  # one colour per label on every figure
    figsize: tuple[float, float] | None = None  # every figure's size (the report: one page)


@dataclass(frozen=True)
class Context:
    """What one item is made from: its runs (label → run directories), benchmark, metrics, options."""

    runs: dict[str, list[Path]]
    refs: tuple[RunRef, ...]
    benchmark: str | None
    metrics: Sequence[Path] | Mapping[str, Path]
    options: PlanOptions
    groups: Mapping[str, str] = field(default_factory=dict)  # label → row-group heading (paper tables)
    k: int | None = None


def _figure_options(context: Context) -> dict:
    return {"colors": context.options.colors, "figsize": context.options.figsize}


def _token_figure_options(context: Context) -> dict:
    return {**_figure_options(context), "temperature": context.options.temperature}


def _k(context: Context) -> int | None:
    """The paper's k where every run of the item reports it, else None (the largest k they share)."""
    if context.k is None:
        return None
    summaries = [read_run_summary(path) for paths in context.runs.values() for path in paths]
    return context.k if all(str(context.k) in summary["pass_at_k"] for summary in summaries) else None


def _results(context: Context) -> Table:
    return results_table(context.runs, _k(context), groups=context.groups)


TRAINING_CURVES = ("reward_mean", "entropy", "response_length")  # progrpo-train's metrics.jsonl keys


def _logged(metrics: Sequence[Path] | Mapping[str, Path], keys: Sequence[str]) -> list[str]:
    """The `keys` every metrics.jsonl logs (files from other trainers may log fewer)."""
    rows = [
        [row for _, row in read_jsonl(Path(path))]
        for path in (metrics.values() if isinstance(metrics, Mapping) else metrics)
    ]
    return [key for key in keys if all(any(key in row for row in file_rows) for file_rows in rows)] or ["entropy"]


PLAN: tuple[PlanItem, ...] = (
    PlanItem(
        "tab2_math",
        "Tab. 2",
        "results (Tab. 2 layout)",
        "Main results across six mathematical reasoning benchmarks",
        "table",
        _results,
        benchmarks=MATH,
        k=32,
    ),
    PlanItem(
        "avg_ci",
        "",
        "Avg with 95% CI (stratified)",
        "The Avg column with 95% CIs, stratified by benchmark",
        "table",
        lambda context: average_ci_table(
            context.runs, _k(context), num_resamples=context.options.num_resamples, seed=context.options.seed
        ),
        benchmarks=MATH,
        needs=("two benchmarks", "complete row"),
        k=32,
    ),
    PlanItem(
        "runs",
        "",
        "every run",
        "Every run: Pass@k at every k with 95% CIs",
        "table",
        lambda context: run_detail_table(context.refs),
        in_paper=False,
    ),
    PlanItem(
        "tab3_code",
        "Tab. 3",
        "code results",
        "Code reasoning benchmarks (Avg@16 = Pass@1 over 16 samples)",
        "table",
        _results,
        benchmarks=CODE,
        k=16,
        in_report=False,
    ),
    PlanItem(
        "tab4_ood",
        "Tab. 4",
        "out-of-distribution results",
        "Out-of-distribution general-domain benchmarks",
        "table",
        _results,
        benchmarks=OOD,
        in_report=False,
    ),
    PlanItem(
        "tab5_diversity",
        "Tab. 5",
        "diversity (Tab. 5)",
        "Dataset-level evaluation on AIME 2024: accuracy and diversity of correct solutions",
        "table",
        lambda context: diversity_table(
            context.runs,
            semantic=context.options.semantic,
            aggregation=context.options.diversity,
            fair=context.options.diversity_fair,
            seed=context.options.seed,
            long_texts=context.options.long_texts,
        ),
        benchmarks=("aime24",),
    ),
    PlanItem(
        "tab6_alpha",
        "Tab. 6",
        "α sweep",
        "Impact of α in Eq. 4, averaged over six benchmarks",
        "table",
        lambda context: average_table(context.runs, _k(context)),
        benchmarks=MATH,
        rows="alpha",
        k=32,
        in_report=False,
    ),
    PlanItem(
        "tab7_formulation",
        "Tab. 7",
        "reward formulation ablation",
        "Ablation study on reward formulation (Acc = Pass@1)",
        "table",
        _results,
        benchmarks=MATH,
        rows="formulation",
        k=32,
        in_report=False,
    ),
    PlanItem(
        "fig1_passk",
        "Fig. 1",
        "Fig. 1: Pass@k curves",
        "Pass@k against k, 95% bootstrap bands",
        "figure",
        lambda context: passk_curves(context.runs, **_figure_options(context)),
        benchmarks=("aime24", "aime25", "amc23"),
    ),
    PlanItem(
        "fig2_training_entropy",
        "Fig. 2",
        "Fig. 2: training entropy",
        "entropy during training",
        "figure",
        lambda context: training_entropy(context.metrics, figsize=context.options.figsize),
        needs=("metrics",),
    ),
    PlanItem(
        "training_curves",
        "",
        "training curves: reward, entropy, response length",
        "",
        "figure",
        lambda context: training_curves(
            context.metrics, keys=_logged(context.metrics, TRAINING_CURVES), figsize=context.options.figsize
        ),
        needs=("metrics",),
        in_paper=False,
    ),
    PlanItem(
        "fig3_token_probs",
        "Fig. 3",
        "Fig. 3: per-problem token probabilities, {benchmark}",
        "",
        "figure",
        lambda context: token_probability_distributions(context.runs, **_token_figure_options(context)),
        benchmarks=("aime24",),
        per_benchmark=True,
        warns=("entropy",),
    ),
    PlanItem(
        "fig4_token_entropy",
        "Fig. 4",
        "Fig. 4: rollout token {entropy}, {benchmark}",
        "",
        "figure",
        lambda context: entropy_kde(context.runs, **_token_figure_options(context)),
        benchmarks=("aime24",),
        per_benchmark=True,
        warns=("entropy",),
    ),
    PlanItem(
        "fig5_ablation",
        "Fig. 5",
        "Fig. 5: Pass@1 and Pass@k per model",
        "Pass@1 and Pass@k per model",
        "figure",
        lambda context: ablation_bars(context.runs, _k(context), **_figure_options(context)),
        benchmarks=MATH,
        rows="formulation",
        needs=("two labels", "shared benchmark"),
        k=32,
    ),
    PlanItem(
        "fig6_kl_cov_training",
        "Fig. 6",
        "Fig. 6: KL-Cov training curves",
        "Reproduction of KL-Cov (Cui et al., 2025): accuracy and entropy during training",
        "figure",
        lambda context: training_curves(context.metrics, figsize=context.options.figsize),
        rows="kl_cov",
        needs=("metrics",),
        in_report=False,
    ),
    PlanItem(
        "fig7_token_entropy",
        "Fig. 7",
        "Fig. 7: rollout token {entropy}, {benchmark}",
        "",
        "figure",
        lambda context: entropy_kde(context.runs, **_token_figure_options(context)),
        benchmarks=("math500",),
        per_benchmark=True,
        warns=("entropy",),
        in_report=False,
    ),
    PlanItem(
        "fig8_rollouts",
        "Fig. 8",
        "Fig. 8: one problem's rollouts, {benchmark}",
        "",
        "figure",
        lambda context: rollout_probabilities(
            context.runs,
            context.options.problem,
            temperature=context.options.temperature,
            figsize=context.options.figsize,
        ),
        benchmarks=("aime24",),
        per_benchmark=True,
    ),
)
