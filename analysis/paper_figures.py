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

from progrpo_eval import figures, tables


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
    refs = tables.resolve_runs(runs)
    benchmarks = tables.ordered_benchmarks(ref.benchmark for ref in refs)
    by_label: dict[str, list[Path]] = {}
    for ref in refs:
        by_label.setdefault(ref.label, []).append(ref.path)
    colors = figures.color_map(tables.labels_of(refs))

    def only(benchmark: str) -> dict[str, list[Path]]:
        return {ref.label: [ref.path] for ref in refs if ref.benchmark == benchmark}

    made = {"fig1_passk": figures.passk_curves(by_label, colors=colors)}
    if metrics:
        made["fig2_training_entropy"] = figures.training_entropy(metrics)
    for benchmark in benchmarks:
        made[f"fig3_token_probs_{benchmark}"] = figures.token_probability_distributions(only(benchmark), colors=colors)
        made[f"fig4_token_entropy_{benchmark}"] = figures.entropy_kde(only(benchmark), colors=colors)
    if len(by_label) > 1:
        made["fig5_ablation"] = figures.ablation_bars(by_label, colors=colors)
    for benchmark in benchmarks:
        made[f"fig8_rollouts_{benchmark}"] = figures.rollout_probabilities(only(benchmark), problem)
    written = [path for name, figure in made.items() for path in figures.save_figure(figure, out / name, formats)]
    for name, table in (("tab2_results", tables.results_table(by_label)),
                        ("tab5_diversity", tables.diversity_table(by_label, semantic=semantic))):
        for suffix, text in ((".md", table.markdown()), (".tex", table.latex())):
            (out / f"{name}{suffix}").write_text(text, encoding="utf-8")
            written.append(out / f"{name}{suffix}")
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
