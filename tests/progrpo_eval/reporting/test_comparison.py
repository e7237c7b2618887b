"""Comparisons across benchmarks and seeds: Holm's correction in `compare` and the report, the Avg
by a stratified bootstrap, and GRPO vs ProGRPO over training seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from progrpo_eval.cli import app
from progrpo_eval.reporting.comparison import AVERAGE, compare_models, compare_runs
from progrpo_eval.reporting.pdf import build_report
from progrpo_eval.reporting.runs import per_problem_metrics
from progrpo_eval.reporting.seeds import aggregate_seeds, compare_seeds
from progrpo_eval.reporting.tables import average_ci_table
from progrpo_eval.significance import holm, stratified_bootstrap_ci, stratified_paired_bootstrap

GRPO = {"aime24": [0, 1, 2, 4, 0, 3], "amc23": [1, 0, 2, 2]}  # correct answers of 4 per problem
OURS = {"aime24": [1, 1, 3, 4, 2, 3], "amc23": [3, 1, 2, 4]}


def _problems(counts, benchmark):
    return {f"{benchmark}/{i}": [(s < c, [0.9, 0.5, 0.7]) for s in range(4)] for i, c in enumerate(counts)}


@pytest.fixture
def models(tmp_path, write_run):
    return {
        name: {b: write_run(tmp_path / "runs", name, b, _problems(counts[b], b)) for b in counts}
        for name, counts in (("grpo", GRPO), ("ours", OURS))
    }


def _cli(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def test_compare_runs_corrects_its_pass_at_k_rows_with_holm(models):
    comparison = compare_runs(models["grpo"]["aime24"], models["ours"]["aime24"], num_resamples=2000, seed=3)
    raw = [result.p_value for result in comparison.results]
    assert comparison.metrics == ("pass@1", "pass@2", "pass@4", "accuracy")
    assert list(comparison.p_holm[:3]) == pytest.approx(holm(raw[:3]))
    assert comparison.p_holm[3] == comparison.p_holm[0]  # accuracy is Pass@1's test
    assert comparison.family == "the 3 Pass@k rows"


def test_compare_models_holm_over_k_times_benchmarks_and_the_stratified_avg(models):
    comparisons, notes = compare_models(models["grpo"], models["ours"], num_resamples=2000, seed=0)
    assert [c.benchmark for c in comparisons] == ["aime24", "amc23", AVERAGE] and not notes
    per_benchmark = comparisons[:2]
    raw = [r.p_value for c in per_benchmark for name, r in zip(c.metrics, c.results) if name != "accuracy"]
    adjusted = [p for c in per_benchmark for name, p in zip(c.metrics, c.p_holm) if name != "accuracy"]
    assert adjusted == pytest.approx(holm(raw)) and len(raw) == 6  # Pass@1, 2, 4 on two benchmarks
    average = comparisons[2]
    assert average.benchmarks == ("aime24", "amc23")
    values = {name: {b: per_problem_metrics(models[name][b], [1, 2, 4]) for b in GRPO} for name in models}
    expected = stratified_paired_bootstrap(
        [values["grpo"][b]["pass@1"].to_numpy() for b in GRPO],
        [values["ours"][b]["pass@1"].to_numpy() for b in GRPO],
        num_resamples=2000,
        seed=0,
    )
    assert average.results[0] == expected
    # Avg = mean over the benchmarks of the mean Pass@1: aime24 (10/24 → 14/24), amc23 (5/16 → 10/16)
    assert expected.difference == pytest.approx(((14 - 10) / 24 + (10 - 5) / 16) / 2)


def test_compare_command_on_two_models_directories(models, tmp_path):
    shown = _cli("compare", tmp_path / "runs" / "grpo", tmp_path / "runs" / "ours", "--resamples", 500)
    assert shown.exit_code == 0, shown.output
    assert "p (Holm)" in shown.output and "The average over AIME 2024, AMC 23" in shown.output
    payload = json.loads(
        _cli("compare", tmp_path / "runs" / "grpo", tmp_path / "runs" / "ours", "--json", "--resamples", 500).output
    )
    assert [c["benchmark"] for c in payload["comparisons"]] == ["aime24", "amc23", "avg"]
    assert payload["comparisons"][0]["holm_family"] == "6 tests: Pass@k × 2 benchmark(s)"
    single = json.loads(_cli("compare", models["grpo"]["amc23"], models["ours"]["amc23"], "--json").output)
    assert single["rows"][0]["p_holm"] >= single["rows"][0]["p_value"]


def test_avg_ci_table_and_the_report_pages(models, tmp_path):
    runs = {name: list(models[name].values()) for name in models}
    table = average_ci_table(runs, num_resamples=1000, seed=0)
    pass1 = {name: [per_problem_metrics(models[name][b], [1])["pass@1"].to_numpy() for b in GRPO] for name in models}
    grpo = stratified_bootstrap_ci(pass1["grpo"], num_resamples=1000, seed=0)
    assert table.rows[0][1][0] == (f"{100 * grpo.estimate:.1f} [{100 * grpo.low:.1f}, {100 * grpo.high:.1f}]",)
    report = build_report(runs, tmp_path / "r.pdf", semantic=False, num_resamples=300)
    first_after_title = next(page for page in report.pages if page != "title")
    assert first_after_title == (
        "Tables: results (Tab. 2 layout), Avg with 95% CI (stratified), every run, diversity (Tab. 5)"
    )
    assert "Comparison on the average over AIME 2024, AMC 23: ours − grpo" in report.pages


def _seed_runs(write_run, root: Path, recipe: str, seeds, pass1: dict, **algorithm) -> list[Path]:
    """Evaluation runs of checkpoints of `recipe` trained with `seeds`; pass1[seed][benchmark] = correct of 4."""
    runs = []
    for seed in seeds:
        out_dir = root / "train" / f"{recipe}-s{seed}"
        (out_dir / "checkpoints" / "step-000010" / "hf").mkdir(parents=True)
        config = {
            "seed": seed,
            "out_dir": str(out_dir),
            "model": {"path": "Qwen/Qwen2.5-7B"},
            "algorithm": {"advantage": recipe, "alpha": 0.3, **algorithm},
        }
        (out_dir / "config.yaml").write_text(yaml.safe_dump(config))
        for benchmark, correct in pass1[seed].items():
            runs.append(
                write_run(
                    root / "evals",
                    f"{recipe}-s{seed}",
                    benchmark,
                    _problems(correct, benchmark),
                    model_path=str(out_dir / "checkpoints" / "step-000010" / "hf"),
                )
            )
    return runs


def test_seeds_aggregate_to_a_mean_with_a_t_interval_and_compare_paired(write_run, tmp_path):
    # per seed, aime24 Pass@1 = 1/4, 2/4, 3/4 for GRPO and 2/4, 3/4, 4/4 for ProGRPO (one problem)
    grpo = _seed_runs(write_run, tmp_path, "grpo", (0, 1, 2), {s: {"aime24": [s + 1]} for s in range(3)})
    ours = _seed_runs(write_run, tmp_path, "progrpo", (0, 1, 2), {s: {"aime24": [s + 2]} for s in range(3)})
    aggregate = aggregate_seeds(grpo)
    interval = aggregate.intervals[("aime24", 1)]
    assert aggregate.seeds == ("0", "1", "2") and interval.mean == pytest.approx(0.5)
    assert interval.high - interval.mean == pytest.approx(4.302652729749462 * 0.25 / np.sqrt(3))
    markdown = aggregate.table("GRPO").markdown()
    assert "GRPO: mean over 3 training seeds" in markdown and "| Pass@1 | 50.0 [-12.1, 112.1] |" in markdown
    versus = compare_seeds(grpo, ours)
    result = versus.results[("aime24", 1)]
    assert result.paired and result.difference == pytest.approx(0.25) and result.p_value == 0.0
    assert "paired t test over the same seeds" in versus.table("GRPO", "ProGRPO").title


def test_seeds_of_one_recipe_must_differ_only_in_the_seed(write_run, tmp_path):
    runs = _seed_runs(write_run, tmp_path, "progrpo", (0,), {0: {"aime24": [1]}})
    runs += _seed_runs(write_run, tmp_path / "other", "progrpo", (1,), {1: {"aime24": [2]}}, alpha=0.7)
    with pytest.raises(
        ValueError,
        match=r"seed 1 was trained with another recipe than seed 0 \(algorithm.alpha: 0.3 "
        r"vs 0.7\)",
    ):
        aggregate_seeds(runs)
    mixed = _seed_runs(write_run, tmp_path / "mixed", "grpo", (0, 1), {0: {"aime24": [1]}, 1: {"amc23": [1]}})
    with pytest.raises(ValueError, match="the seeds were evaluated on different benchmarks"):
        aggregate_seeds(mixed)
