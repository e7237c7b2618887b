"""The PDF report (byte-identical rebuilds, its pages) and paired comparisons (`compare_runs`, the
`report` and `compare` commands): hand-computed differences, stats.paired_bootstrap's p-values,
and one `error:` line for bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from progrpo_eval import stats
from progrpo_eval.cli import app
from progrpo_eval.reporting.comparison import compare_runs
from progrpo_eval.reporting.pdf import build_report

# correct answers out of 4 per problem; Pass@1 = c/4, Pass@2 = 1 − C(4−c, 2)/C(4, 2) = 0, 1/2, 5/6, 1, 1
GRPO, OURS = [0, 1, 2, 4, 0, 3], [1, 1, 3, 4, 2, 3]
PASS2 = {0: 0.0, 1: 0.5, 2: 5 / 6, 3: 1.0, 4: 1.0}


def _problems(counts, benchmark="aime24"):
    return {f"{benchmark}/{i}": [(s < c, [0.9, 0.5, 0.7]) for s in range(4)] for i, c in enumerate(counts)}


@pytest.fixture
def pair(tmp_path, write_run):
    return {
        "grpo": write_run(tmp_path, "grpo", "aime24", _problems(GRPO)),
        "ours": write_run(tmp_path, "ours", "aime24", _problems(OURS)),
    }


def _cli(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def test_compare_runs_matches_hand_computed_differences_and_paired_bootstrap(pair):
    comparison = compare_runs(pair["grpo"], pair["ours"], num_resamples=2000, seed=3)
    assert comparison.metrics == ("pass@1", "pass@2", "pass@4", "accuracy")
    results = dict(zip(comparison.metrics, comparison.results))
    assert results["pass@1"].difference == pytest.approx(np.mean(np.subtract(OURS, GRPO)) / 4)  # 1/6
    expected_pass2 = np.mean([PASS2[b] - PASS2[a] for a, b in zip(GRPO, OURS)])  # 1/4
    assert results["pass@2"].difference == pytest.approx(expected_pass2)
    expected = stats.paired_bootstrap(np.array(GRPO) / 4, np.array(OURS) / 4, num_resamples=2000, seed=3)
    assert results["pass@1"] == expected and results["accuracy"] == expected
    assert results["pass@4"].num_problems == 6


def test_compare_refuses_other_benchmarks_and_problem_sets(pair, tmp_path, write_run):
    other = write_run(tmp_path, "ours", "amc23", _problems(OURS, "amc23"))
    with pytest.raises(ValueError, match="different benchmarks: aime24 .* and amc23"):
        compare_runs(pair["grpo"], other)
    fewer = write_run(tmp_path / "fewer", "ours", "aime24", _problems(OURS[:5]))
    with pytest.raises(ValueError, match="different problems: 6 in A, 5 in B, 5 in common"):
        compare_runs(pair["grpo"], fewer)


def test_compare_command_table_and_json(pair, tmp_path):
    shown = _cli("compare", pair["grpo"], pair["ours"], "--resamples", 500)
    assert shown.exit_code == 0, shown.output
    assert "B − A" in shown.output and "grpo" in shown.output
    assert re.search(r"Pass@1\s*│\s*41\.7\s*│\s*58\.3\s*│\s*\+16\.7", shown.output)
    printed = _cli("compare", pair["grpo"], pair["ours"], "--json", "--resamples", 500, "--seed", 1)
    payload = json.loads(printed.output)
    first = payload["rows"][0]
    expected = stats.paired_bootstrap(np.array(GRPO) / 4, np.array(OURS) / 4, num_resamples=500, seed=1)
    assert (first["metric"], first["difference"], first["p_value"]) == ("pass@1", expected.difference, expected.p_value)
    assert first["ci95"] == [expected.low, expected.high] and payload["benchmark"] == "aime24"


@pytest.mark.parametrize(
    "case, message",
    [
        ("not_a_run", "is not a run directory (no manifest.json)"),
        ("other_benchmark", "the runs are on different benchmarks"),
        ("other_problems", "the runs cover different problems: 6 in A, 2 in B, 2 in common"),
    ],
)
def test_compare_command_errors_are_one_line(pair, tmp_path, case, message, write_run):
    other = {
        "not_a_run": tmp_path / "nothing",
        "other_benchmark": write_run(tmp_path, "x", "amc23", _problems([1], "amc23")),
        "other_problems": write_run(tmp_path, "x", "aime24", _problems([1, 2])),
    }[case]
    result = _cli("compare", pair["grpo"], other)
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and message in result.output and result.output.count("\n") == 1


@pytest.fixture
def metrics_file(tmp_path):
    path = tmp_path / "train" / "metrics.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps({"step": step, "entropy": 1 / (1 + step)}) + "\n" for step in range(5)))
    return path


def _page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


def test_report_is_byte_identical_and_has_the_planned_pages(pair, metrics_file, tmp_path):
    first = build_report(pair, tmp_path / "one.pdf", metrics_jsonl=metrics_file, semantic=False, num_resamples=500)
    second = build_report(pair, tmp_path / "two.pdf", metrics_jsonl=metrics_file, semantic=False, num_resamples=500)
    data = first.path.read_bytes()
    assert data == second.path.read_bytes()
    assert data.startswith(b"%PDF") and b"CreationDate" not in data
    assert first.pages == (
        "title",
        "Tables: results (Tab. 2 layout), every run, diversity (Tab. 5)",
        "Fig. 1: Pass@k curves",
        "Fig. 2: training entropy",
        "training curves: reward, entropy, response length",
        "Fig. 3: per-problem token probabilities, AIME 2024",
        "Fig. 4: rollout token surprisal (no stored entropy), AIME 2024",
        "Fig. 5: Pass@1 and Pass@k per model",
        "Fig. 8: one problem's rollouts, AIME 2024",
        "Comparison on AIME 2024: ours − grpo",
    )
    assert _page_count(data) == len(first.pages)
    assert any("No stored entropy" in note for note in first.notes)


def test_report_command_writes_the_pdf_and_notes(pair, tmp_path):
    out = tmp_path / "reports" / "demo.pdf"
    result = _cli("report", pair["grpo"], "--out", out, "--no-semantic", "--title", "demo")
    assert result.exit_code == 0, result.output
    assert f"wrote {out} (6 pages)" in result.output
    assert "note: Fig. 2 (training entropy) left out" in result.output
    assert "Fig. 5 (ablation bars) left out" in result.output
    assert _page_count(out.read_bytes()) == 6
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler's pdftoppm is not installed: pages not rendered")
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(out), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == 6


@pytest.mark.parametrize(
    "args, message",
    [
        (["{missing}", "--out", "{tmp}/r.pdf"], "is not a run directory (no manifest.json)"),
        (["{run}", "--out", "{tmp}/r.pdf", "--metrics", "{tmp}/none.jsonl"], "training metrics file not found"),
    ],
)
def test_report_command_errors_are_one_line(pair, tmp_path, args, message):
    values = {"missing": tmp_path / "missing", "tmp": tmp_path, "run": pair["grpo"]}
    result = _cli("report", *[arg.format(**values) for arg in args])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and message in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "r.pdf").exists()


@pytest.mark.slow
def test_report_of_a_real_tiny_model_run(tiny_model_dir, data_dir, tmp_path):
    from progrpo_eval.generation import SamplingSettings
    from progrpo_eval.runner import RunOptions, run

    options = RunOptions(
        model=str(tiny_model_dir),
        benchmarks=["amc23"],
        backend="hf",
        out=tmp_path / "runs",
        settings=SamplingSettings(n=2, temperature=1.0, top_p=1.0, max_tokens=8, seed=0),
        data_dir=str(data_dir),
        limit=2,
        score_workers=1,
    )
    [(_, run_dir, _)] = run(options, Console(file=open(os.devnull, "w")))
    result = _cli("report", run_dir, "--out", tmp_path / "real.pdf", "--no-semantic")
    assert result.exit_code == 0, result.output
    assert _page_count((tmp_path / "real.pdf").read_bytes()) == 6
