"""`progrpo-eval score`: external completions become a run directory that downstream commands read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from progrpo_eval import store
from progrpo_eval.benchmarks import load_problems
from progrpo_eval.cli import app
from progrpo_eval.metrics.passk import pass_at_k

runner = CliRunner()


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def score(*args: str):
    return runner.invoke(app, ["score", *args])


@pytest.fixture
def aime(data_dir):
    return load_problems("aime24", data_dir, limit=3).problems


def test_imported_samples_are_scored_by_the_benchmarks_scorer(tmp_path, data_dir, aime) -> None:
    right = [f"so the answer is \\boxed{{{p.gold}}}" for p in aime]
    rows = []
    for number, problem in enumerate(aime):  # problem i has i + 1 right answers of 3, sample 2 last
        for index in range(3):
            text = right[number] if index <= number else "I give up, \\boxed{1000}"
            rows.append({"problem_id": problem.problem_id, "text": text, "sample_index": 2 - index})
    samples = write_jsonl(tmp_path / "other-tool.jsonl", rows)
    result = score(
        "--bench", "aime24", "--samples", str(samples), "--out", str(tmp_path / "runs"), "--data-dir", str(data_dir)
    )
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "runs" / "other-tool" / "aime24"
    manifest = store.read_manifest(run_dir)
    assert (
        manifest["origin"] == "imported" and manifest["sampling"] == {"n": 3} and manifest["samples_per_problem"] == 3
    )
    frame = store.load_samples(run_dir)
    assert len(frame) == 9 and set(frame.groupby("problem_id").size()) == {3}
    assert frame.groupby("problem_id")["correct"].sum().tolist() == [1, 2, 3]
    summary = store.read_summary(run_dir)
    expected = sum(pass_at_k(3, c, 2) for c in (1, 2, 3)) / 3
    assert summary["pass_at_k"]["2"] == pytest.approx(expected)
    assert summary["response_tokens"] is None and summary["token_stats"] == {}
    again = score(
        "--bench", "aime24", "--samples", str(samples), "--out", str(tmp_path / "runs"), "--data-dir", str(data_dir)
    )
    assert again.exit_code == 0 and len(store.load_samples(run_dir)) == 9  # a rerun adds nothing
    twin = score(
        "--bench",
        "aime24",
        "--samples",
        str(samples),
        "--out",
        str(tmp_path / "runs"),
        "--data-dir",
        str(data_dir),
        "--model",
        "twin",
    )
    assert twin.exit_code == 0, twin.output
    compared = runner.invoke(
        app, ["compare", str(run_dir), str(tmp_path / "runs" / "twin" / "aime24"), "--json", "--resamples", "200"]
    )
    assert compared.exit_code == 0, compared.output
    assert all(row["difference"] == 0.0 for row in json.loads(compared.output)["rows"])


def test_reasoning_auto_follows_the_samples(tmp_path, data_dir, aime) -> None:
    problem = aime[0]
    rows = [
        {"problem_id": problem.problem_id, "text": f"<think>\\boxed{{{problem.gold}}}</think> no idea"},
        {"problem_id": problem.problem_id, "text": f"<think>hmm</think> \\boxed{{{problem.gold}}}"},
    ]
    samples = write_jsonl(tmp_path / "r1.jsonl", rows)
    for reasoning, correct in (("auto", [False, True]), ("off", [True, True])):
        out = tmp_path / reasoning
        result = score(
            "--bench",
            "aime24",
            "--samples",
            str(samples),
            "--out",
            str(out),
            "--data-dir",
            str(data_dir),
            "--reasoning",
            reasoning,
        )
        assert result.exit_code == 0, result.output
        assert store.load_samples(out / "r1" / "aime24")["correct"].tolist() == correct


BAD_FILES = [
    # (lines, the one error line's text)
    (
        ['{"problem_id": "aime24/60", "text": "x"}', '{"problem_id": "aime24/nope", "text": "x"}'],
        "line 2: unknown problem id 'aime24/nope'",
    ),
    (
        [
            '{"problem_id": "aime24/60", "text": "x", "sample_index": 0}',
            '{"problem_id": "aime24/60", "text": "y", "sample_index": 0}',
        ],
        "line 2: duplicate sample 0 of 'aime24/60'",
    ),
    (['{"problem_id": "aime24/60", "text": "x"}', '{"problem_id": '], "line 2 is not JSON"),
    (['{"problem_id": "aime24/60"}'], "line 1: missing field 'text'"),
    (['{"problem_id": "aime24/60", "text": 5}'], "line 1: field 'text' must be str, got int"),
    (
        [
            '{"problem_id": "aime24/60", "text": "a"}',
            '{"problem_id": "aime24/60", "text": "b"}',
            '{"problem_id": "aime24/61", "text": "c"}',
        ],
        "'aime24/61' has samples [0], expected 0..1",
    ),
    ([], "holds no samples"),
]


@pytest.mark.parametrize(("lines", "message"), BAD_FILES)
def test_bad_sample_files_give_one_error_line_and_write_nothing(tmp_path, data_dir, lines, message) -> None:
    samples = write_jsonl(tmp_path / "bad.jsonl", lines)
    result = score(
        "--bench", "aime24", "--samples", str(samples), "--out", str(tmp_path / "runs"), "--data-dir", str(data_dir)
    )
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert not (tmp_path / "runs").exists()


def test_unknown_benchmark_and_missing_file(tmp_path, data_dir) -> None:
    assert "unknown benchmark 'nope'" in score("--bench", "nope", "--samples", "x.jsonl").output
    result = score("--bench", "aime24", "--samples", str(tmp_path / "absent.jsonl"), "--data-dir", str(data_dir))
    assert result.exit_code == 2 and "no such JSONL file" in result.output


def test_code_without_a_working_sandbox_is_refused_in_one_line(tmp_path, data_dir) -> None:
    import subprocess
    import sys

    samples = write_jsonl(
        tmp_path / "code.jsonl",
        [
            {
                "problem_id": "humaneval_plus/HumanEval/0",
                "text": "```python\ndef has_close_elements(a, t):\n    return 0\n```",
            }
        ],
    )
    command = [
        sys.executable,
        "-m",
        "progrpo_eval.cli",
        "score",
        "--bench",
        "humaneval_plus",
        "--samples",
        str(samples),
        "--out",
        str(tmp_path / "runs"),
        "--data-dir",
        str(data_dir),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PROGRPO_BWRAP": str(tmp_path / "no-such-bwrap")},
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "install the Debian package bubblewrap" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
