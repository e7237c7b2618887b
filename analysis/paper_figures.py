"""Rebuild the paper's figures (and Tab. 2 / Tab. 5) from run directories.

    python analysis/paper_figures.py RUN_DIR... [--metrics METRICS.jsonl ...] --out figures/

A RUN_DIR may be given as LABEL=RUN_DIR to name its row and legend entry (runs of one model share
a label; by default the label is the model directory's name). Writes, as PNG and PDF, the figures
the data supports (--formats png,pdf by default):
    fig1_passk                    Pass@k curves, one panel per benchmark
    fig2_training_entropy         with --metrics (training metrics.jsonl files)
    fig3_token_probs_<bench>      per-problem average / low-20% probability (/ entropy)
    fig4_token_entropy_<bench>    token entropy KDE + boxplot (the paper's Fig. 7 is this on math500);
                                  surprisal, labelled as such, where no entropy is stored
    fig5_ablation                 two labels or more
    fig8_rollouts_<bench>         one problem's rollouts (--problem ID, default: the first with mixed results)
and tab2_results.{md,tex}, tab5_diversity.{md,tex}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from progrpo_eval.reporting.plan import PlanOptions, plan_items
from progrpo_eval.reporting.runs import labels_of, resolve_runs
from progrpo_eval.reporting.style import color_map, save_figure


def parse_runs(arguments: list[str]) -> dict[str, list[Path]] | list[Path]:
    """LABEL=RUN_DIR arguments become a label mapping; plain run directories are labelled automatically."""
    labelled = [argument.partition("=") for argument in arguments if "=" in argument and not Path(argument).exists()]
    if not labelled:
        return [Path(argument) for argument in arguments]
    if len(labelled) != len(arguments):
        raise SystemExit("error: label every run directory (LABEL=RUN_DIR) or none")
    runs: dict[str, list[Path]] = {}
    for label, _, path in labelled:
        runs.setdefault(label, []).append(Path(path))
    return runs


def write_figures(runs, metrics: list[Path], out: Path, problem: str | None, semantic: bool,
                  formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Every item of the report's plan (`progrpo_eval.reporting.plan`) as files in `out`."""
    refs = resolve_runs(runs)
    options = PlanOptions(semantic=semantic, problem=problem, colors=color_map(labels_of(refs)))
    planned, _ = plan_items(refs, metrics=metrics, options=options)
    written = []
    for item in planned:
        made = item.make()
        if item.kind == "figure":
            written += save_figure(made, out / item.key, formats)
            continue
        for suffix, text in ((".md", made.markdown()), (".tex", made.latex())):
            (out / f"{item.key}{suffix}").parent.mkdir(parents=True, exist_ok=True)
            (out / f"{item.key}{suffix}").write_text(text, encoding="utf-8")
            written.append(out / f"{item.key}{suffix}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run directories, or LABEL=RUN_DIR")
    parser.add_argument("--metrics", nargs="*", type=Path, default=[], help="training metrics.jsonl files (Fig. 2)")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="output directory (default: figures/)")
    parser.add_argument("--problem", help="problem id for Fig. 8 (default: the first with mixed results)")
    parser.add_argument("--no-semantic", action="store_true", help="skip the semantic cosine column of Tab. 5")
    parser.add_argument("--formats", default="png,pdf", help="comma-separated figure formats (default: png,pdf)")
    args = parser.parse_args(argv)
    try:
        written = write_figures(parse_runs(args.runs), args.metrics, args.out, args.problem, not args.no_semantic,
                                tuple(args.formats.split(",")))
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
