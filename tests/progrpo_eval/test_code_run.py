"""Code benchmarks end to end: `progrpo-eval run` on the tiny model (both backends), and `progrpo-eval score`
on HumanEval+'s 164 canonical solutions (all pass) beside mutated ones (all fail)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from progrpo_eval import store
from progrpo_eval.benchmarks import load_problems
from progrpo_eval.benchmarks.code_sources import encode_lcb_tests
from progrpo_eval.cli import app
from progrpo_eval.generation import SamplingSettings
from progrpo_eval.runner import RunOptions, run

BENCHES = ["humaneval_plus", "livecodebench", "codeforces"]
QUIET = Console(file=open(os.devnull, "w"))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PROGRPO_CACHE_DIR", str(tmp_path / "cache"))  # HumanEval+ references measured afresh


@pytest.fixture
def code_data_dir(data_dir, tmp_path) -> Path:
    """The shared HumanEval+ and CodeForces copies beside a small LiveCodeBench release made here."""
    directory = tmp_path / "data"
    directory.mkdir()
    for name in ("humanevalplus.jsonl.gz", "codeforces_deepcoder.json"):
        (directory / name).symlink_to(data_dir / name)
    tests = [
        {"input": "1 2\n", "output": "3\n", "testtype": "stdin"},
        {"input": "4 5\n", "output": "9\n", "testtype": "stdin"},
    ]
    functional = [{"input": "[1, 2]", "output": "3", "testtype": "functional"}]
    rows = [
        {
            "question_title": "Sum",
            "question_content": "Print a + b.",
            "platform": "atcoder",
            "question_id": "abc999_a",
            "contest_id": "abc999",
            "contest_date": "2024-09-07T00:00:00",
            "starter_code": "",
            "difficulty": "easy",
            "public_test_cases": json.dumps(tests[:1]),
            "private_test_cases": encode_lcb_tests(tests[1:]),
            "metadata": "{}",
        },
        {
            "question_title": "Total",
            "question_content": "Return the sum of nums.",
            "platform": "leetcode",
            "question_id": "3999",
            "contest_id": "weekly-contest-999",
            "contest_date": "2024-10-05T00:00:00",
            "starter_code": "class Solution:\n    def total(self, nums: List[int]) -> int:\n        ",
            "difficulty": "medium",
            "public_test_cases": json.dumps(functional),
            "private_test_cases": encode_lcb_tests(functional),
            "metadata": json.dumps({"func_name": "total"}),
        },
    ]
    (directory / "livecodebench_release_v5.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return directory


def _check_runs(results, limit: int):
    assert [name for name, _, _ in results] == BENCHES
    for _name, run_dir, summary in results:
        samples = store.load_samples(run_dir)
        assert summary["num_problems"] == limit and set(samples["score_status"]) <= {"ok", "no_answer", "error"}
        assert summary["counts"]["scorer_errors"] == 0
    summaries = {name: summary for name, _, summary in results}
    assert summaries["humaneval_plus"]["humaneval_plus"]["base"]["num_problems"] == limit
    assert summaries["codeforces"]["codeforces_rating"]["rating"] is None
    assert "PROGRPO_CF_STANDINGS" in summaries["codeforces"]["codeforces_rating"]["reason"]
    assert set(summaries["livecodebench"]["by_difficulty"]) == {"easy", "medium"}


def test_run_code_benchmarks_hf_backend_cli(tiny_model_dir, code_data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("PROGRPO_CF_STANDINGS", raising=False)
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--model",
            str(tiny_model_dir),
            "--bench",
            ",".join(BENCHES),
            "--k",
            "2",
            "--limit",
            "2",
            "--backend",
            "hf",
            "--max-tokens",
            "16",
            "--data-dir",
            str(code_data_dir),
            "--out",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "codeforces: pass rates only; no rating" in result.output
    assert "base tests only (HumanEval)" in result.output
    runs = tmp_path / "runs" / tiny_model_dir.name
    _check_runs([(name, runs / name, store.read_summary(runs / name)) for name in BENCHES], limit=2)


@pytest.mark.slow
def test_run_code_benchmarks_vllm_backend(vllm_backend, tiny_model_dir, code_data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("PROGRPO_CF_STANDINGS", raising=False)
    options = RunOptions(
        model=str(tiny_model_dir),
        benchmarks=BENCHES,
        settings=SamplingSettings(n=2, max_tokens=16),
        backend="vllm",
        out=tmp_path / "runs",
        data_dir=str(code_data_dir),
        limit=2,
        score_workers=2,
    )
    _check_runs(run(options, QUIET, backend=vllm_backend), limit=2)


def _mutated(program: str, entry_point: str) -> str:
    """The canonical program with its function's results changed (a different value of the same kind)."""
    return (
        program
        + f"""

_reference_{entry_point} = {entry_point}


def {entry_point}(*args):
    out = _reference_{entry_point}(*args)
    if isinstance(out, bool):
        return not out
    if isinstance(out, (int, float)):
        return out + 1
    if isinstance(out, str):
        return out + "x"
    if isinstance(out, (list, tuple)):
        return type(out)(list(out) + [None])
    return 0
"""
    )


@pytest.mark.slow
def test_canonical_solutions_pass_and_mutated_ones_fail_through_score(data_dir, tmp_path):
    problems = load_problems("humaneval_plus", data_dir).problems
    rows = []
    for problem in problems:
        for index, program in enumerate((problem.gold, _mutated(problem.gold, problem.metadata["function_name"]))):
            rows.append({"problem_id": problem.problem_id, "sample_index": index, "text": f"```python\n{program}\n```"})
    samples = tmp_path / "canonical.jsonl"
    samples.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--bench",
            "humaneval_plus",
            "--samples",
            str(samples),
            "--data-dir",
            str(data_dir),
            "--out",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 0, result.output
    frame = store.load_samples(tmp_path / "runs" / "canonical" / "humaneval_plus")
    canonical, mutated = frame[frame["sample_index"] == 0], frame[frame["sample_index"] == 1]
    assert len(canonical) == len(mutated) == 164
    assert canonical["correct"].all(), canonical.loc[~canonical["correct"], ["problem_id", "score_detail"]].to_string()
    assert not mutated["correct"].any(), mutated.loc[mutated["correct"], ["problem_id", "score_detail"]].to_string()
    assert set(canonical["score_status"]) == set(mutated["score_status"]) == {"ok"}
    summary = store.read_summary(tmp_path / "runs" / "canonical" / "humaneval_plus")
    assert summary["pass_at_k"]["1"] == 0.5 and summary["humaneval_plus"]["base"]["pass_at_k"]["1"] == 0.5
