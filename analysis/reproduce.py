"""The paper's reproduction: Tab. 2–7 and Fig. 1–8 from the run directories of the recipes.

    python analysis/reproduce.py --runs RUNS_DIR [--runs MORE ...] --out paper/ [--label FlowRL=runs/flowrl]

Finds every evaluation run directory below --runs, works out from each run's model which recipe
trained it (`analysis/recipes.py`: GRPO, ProGRPO, its α sweep and formulation ablations, KL-Cov;
untrained models are "Base"), labels the rows as the paper does, and writes every item of the
paper's plan (`progrpo_eval.reporting.catalog.PLAN`, the same declarations the report draws) that
the runs support, on the paper's benchmarks:

    tab2_math.{md,tex}          Tab. 2: six math benchmarks, Pass@1 / Pass@32, rows grouped by base model
    tab3_code.{md,tex}          Tab. 3: code benchmarks, Pass@1 / Pass@16
    tab4_ood.{md,tex}           Tab. 4: GPQA-Diamond, MMLU-Pro
    tab5_diversity.{md,tex}     Tab. 5: AIME 2024 accuracy and diversity of correct solutions
    tab6_alpha.{md,tex}         Tab. 6: the α sweep, averaged over the six math benchmarks
    tab7_formulation.{md,tex}   Tab. 7: the formulation ablation
    fig1_passk                  Fig. 1: Pass@k on AIME 2024, AIME 2025, AMC 23
    fig2_training_entropy       Fig. 2: training entropy of the methods (their metrics.jsonl)
    fig3_token_probs            Fig. 3: AIME 2024 per-problem token probabilities
    fig4_token_entropy          Fig. 4: AIME 2024 rollout token entropy
    fig5_ablation               Fig. 5: Pass@1 / Pass@32 per formulation
    fig6_kl_cov_training        Fig. 6: KL-Cov training curves
    fig7_token_entropy          Fig. 7: MATH500 rollout token entropy
    fig8_rollouts               Fig. 8: one AIME 2024 problem's rollouts

plus tab2_math_seeds.{md,tex} (the methods trained with several seeds: mean [95% CI] over seeds)
and index.md: what was written, what was left out and why, and which run got which label. Pass@32
(Pass@16 for code) is used where every run of an item has 32 (16) samples; else the largest k
they share, as each table's title says.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `analysis` importable from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.recipes import paper_runs  # noqa: E402
from progrpo_eval.reporting.plan import MATH, PlanOptions, plan_items  # noqa: E402
from progrpo_eval.reporting.runs import labels_of  # noqa: E402
from progrpo_eval.reporting.seeds import aggregate_seeds, seeds_table  # noqa: E402
from progrpo_eval.reporting.style import color_map, save_figure  # noqa: E402


def reproduce(
    roots: list[Path],
    out: Path,
    *,
    labels: dict[Path, str] | None = None,
    semantic: bool = True,
    problem: str | None = None,
    formats: tuple[str, ...] = ("png", "pdf"),
) -> tuple[list[Path], list[str]]:
    """Write the paper's tables and figures for the runs below `roots` into `out`; returns (files, notes)."""
    paper, run_lines = paper_runs(roots, labels)
    everyone = [ref for refs in paper.by_role.values() for ref in refs]
    options = PlanOptions(semantic=semantic, problem=problem, colors=color_map(labels_of(everyone)))
    planned, notes = plan_items(options=options, paper=paper)
    out.mkdir(parents=True, exist_ok=True)
    written, index = [], ["# The paper's tables and figures, reproduced", ""]
    for item in planned:
        made = item.make()
        if item.kind == "figure":
            paths = save_figure(made, out / item.key, formats)
        else:
            made = dataclasses.replace(made, title=f"{item.number}: {item.description}. {made.title}")
            paths = [out / f"{item.key}.md", out / f"{item.key}.tex"]
            paths[0].write_text(made.markdown(), encoding="utf-8")
            paths[1].write_text(made.latex(), encoding="utf-8")
        written += paths
        index.append(f"- {item.number}: {item.description or item.title} — " + ", ".join(p.name for p in paths))
    if paper.seeds:  # the methods trained with several seeds: Tab. 2's benchmarks, mean [95% CI] over seeds
        aggregates = {
            label: aggregate_seeds([ref.path for ref in refs if ref.benchmark in MATH])
            for label, refs in paper.seeds.items()
            if any(ref.benchmark in MATH for ref in refs)
        }
        if aggregates:
            made = seeds_table(aggregates, "Tab. 2 over training seeds: mean [95% CI] (%)")
            paths = [out / "tab2_math_seeds.md", out / "tab2_math_seeds.tex"]
            paths[0].write_text(made.markdown(), encoding="utf-8")
            paths[1].write_text(made.latex(), encoding="utf-8")
            written += paths
            index.append("- Tab. 2 over training seeds: " + ", ".join(path.name for path in paths))
    index += ["", "## Left out", ""] + [f"- {note}" for note in notes or ["nothing"]]
    index += ["", "## Runs and their labels", ""] + [f"- {line}" for line in run_lines]
    (out / "index.md").write_text("\n".join(index) + "\n", encoding="utf-8")
    return written + [out / "index.md"], notes


def _labels(arguments: list[str]) -> dict[Path, str]:
    labels = {}
    for argument in arguments:
        label, separator, path = argument.partition("=")
        if not separator or not label or not path:
            raise ValueError(f"--label takes NAME=RUN_DIR, got {argument!r}")
        labels[Path(path)] = label
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--runs", type=Path, action="append", required=True, help="a directory holding run directories (repeatable)"
    )
    parser.add_argument("--out", type=Path, default=Path("paper"), help="output directory (default: paper/)")
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        help="NAME=DIR: label every run below DIR as NAME in the methods rows (repeatable)",
    )
    parser.add_argument("--problem", help="problem id for Fig. 8 (default: the first with mixed results)")
    parser.add_argument("--no-semantic", action="store_true", help="skip the semantic cosine column of Tab. 5")
    parser.add_argument("--formats", default="png,pdf", help="comma-separated figure formats (default: png,pdf)")
    args = parser.parse_args(argv)
    try:
        written, notes = reproduce(
            args.runs,
            args.out,
            labels=_labels(args.label),
            semantic=not args.no_semantic,
            problem=args.problem,
            formats=tuple(args.formats.split(",")),
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
