"""Run directories written before the reporting package still load, report, compare and rescore, with
the numbers the old code gave (tests/progrpo_eval/reporting/data/README.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from progrpo_eval.cli import app
from progrpo_eval.reporting.comparison import compare_runs, comparison_json
from progrpo_eval.reporting.pdf import build_report
from progrpo_eval.reporting.rollouts import rollout_statistics
from progrpo_eval.reporting.runs import resolve_runs
from progrpo_eval.reporting.tables import results_table, run_detail_table

DATA = Path(__file__).with_name("data")
EXPECTED = DATA / "expected_75d946d"


@pytest.fixture
def old_runs(tmp_path) -> Path:
    return Path(shutil.copytree(DATA / "runs_75d946d", tmp_path / "runs"))


def _dirs(root: Path) -> list[Path]:
    return sorted(path.parent for path in root.glob("*/*/manifest.json"))


def test_old_runs_give_the_old_tables(old_runs):
    table = results_table(_dirs(old_runs))
    assert table.markdown() == (EXPECTED / "tab2.md").read_text()
    assert table.latex() == (EXPECTED / "tab2.tex").read_text()
    assert run_detail_table(resolve_runs(_dirs(old_runs))).markdown() == (EXPECTED / "every_run.md").read_text()


def test_old_runs_give_the_old_comparison_and_rollout_statistics(old_runs):
    comparison = compare_runs(old_runs / "tiny-a" / "aime24", old_runs / "tiny-b" / "aime24", num_resamples=500, seed=0)
    expected = json.loads((EXPECTED / "compare.json").read_text())
    got = json.loads(comparison_json(comparison, "A", "B"))
    for row in got["rows"]:
        row.pop("p_holm", None)  # added since; the old fields are unchanged
    assert {key: got[key] for key in expected} == expected
    table = rollout_statistics(old_runs / "tiny-a" / "aime24")
    old = pd.read_csv(EXPECTED / "rollouts_tiny-a_aime24.csv")
    pd.testing.assert_frame_equal(table[old.columns].reset_index(drop=True), old, check_dtype=False)


def test_old_runs_report_and_compare_from_the_command_line(old_runs, tmp_path):
    report = build_report(_dirs(old_runs), tmp_path / "old.pdf", semantic=False, num_resamples=200)
    expected = json.loads((EXPECTED / "pages.json").read_text())
    # added since: the Avg CI table (issue 12 B5) on the tables page, and a comparison of the average
    expected["pages"][1] = expected["pages"][1].replace(
        "Tab. 2 layout), ", "Tab. 2 layout), Avg with 95% CI (stratified), "
    )
    expected["pages"].insert(2, "Tables (continued)")  # the tables no longer fit one page
    expected["pages"].append("Comparison on the average over AIME 2024, AMC 23: tiny-b − tiny-a")
    expected["notes"].insert(
        1, "Training curves (reward, entropy, response length) left out: no training metrics.jsonl given (--metrics)."
    )  # added since: the training curves page (issue 9)
    assert list(report.pages) == expected["pages"] and list(report.notes) == expected["notes"]
    shown = CliRunner().invoke(
        app,
        [
            "report",
            *map(str, _dirs(old_runs)),
            "--out",
            str(tmp_path / "cli.pdf"),
            "--no-semantic",
            "--resamples",
            "200",
        ],
    )
    assert shown.exit_code == 0, shown.output
    compared = CliRunner().invoke(
        app, ["compare", str(old_runs / "tiny-a" / "amc23"), str(old_runs / "tiny-b" / "amc23"), "--resamples", "200"]
    )
    assert compared.exit_code == 0 and "Pass@4" in compared.output
