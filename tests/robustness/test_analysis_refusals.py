"""report, compare and rescore on run directories a user really has: unfinished, duplicated, empty,
on disjoint benchmarks, with a model that moved. Each case gets a clear `error:` line (exit 2) or
the output the data supports, never a misleading message or a traceback."""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from progrpo_eval import store
from progrpo_eval.cli import app
from progrpo_eval.generation import SamplingSettings
from progrpo_eval.reporting.comparison import compare_runs
from progrpo_eval.reporting.pdf import build_report
from progrpo_eval.reporting.rollouts import read_entropy
from progrpo_eval.runner import RunOptions, run


def _cli(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def _one_error_line(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert message in result.output, result.output


def _records(samples):
    """Sample rows as `store.write_chunk` takes them (None, not NaN, where a value is missing)."""
    return samples.astype(object).where(samples.notna(), None).to_dict("records")


def _problems(counts, benchmark="aime24"):
    return {f"{benchmark}/{i}": [(s < c, [0.9, 0.5, 0.7]) for s in range(4)] for i, c in enumerate(counts)}


# ---- compare and report ------------------------------------------------------------------------


def test_compare_calls_an_unfinished_run_incomplete(write_run, tmp_path):
    finished = write_run(tmp_path, "a", "aime24", _problems([1, 2, 3]))
    killed = write_run(tmp_path, "b", "aime24", _problems([1]), complete=False)  # 1 of 3 problems, no summary
    with pytest.raises(store.IncompleteRunError, match=r"b/aime24 is an incomplete run \(no summary.json; 1 problems"):
        compare_runs(finished, killed)
    _one_error_line(_cli("compare", finished, killed), "is an incomplete run")
    assert "different problems" not in _cli("compare", killed, finished).output


def test_compare_calls_an_unfinished_rerun_incomplete(write_run, tmp_path):
    """A finished run extended by a rerun that was killed: more problems on disk than its summary counts."""
    finished = write_run(tmp_path, "a", "aime24", _problems([1, 2, 3]))
    extended = write_run(tmp_path, "b", "aime24", _problems([1, 2]))
    first = store.load_samples(extended).query("problem_id == 'aime24/0'")
    store.write_chunk(extended, [{**row, "problem_id": "aime24/2"} for row in _records(first)])
    _one_error_line(_cli("compare", finished, extended), "3 problems on disk, its summary.json counts 2")


def test_report_and_compare_refuse_duplicated_samples(write_run, tmp_path):
    good = write_run(tmp_path, "a", "aime24", _problems([1, 2]))
    doubled = write_run(tmp_path, "b", "aime24", _problems([1, 2]))
    store.write_chunk(doubled, _records(store.load_samples(doubled)))  # a second writer's chunk
    _one_error_line(_cli("compare", good, doubled), "duplicate samples")
    result = _cli("report", good, doubled, "--out", tmp_path / "r.pdf", "--no-semantic", "--resamples", 100)
    _one_error_line(result, "repair")
    assert not (tmp_path / "r.pdf").exists()


def test_report_on_disjoint_benchmarks_leaves_out_what_needs_a_shared_one(write_run, tmp_path):
    grpo = write_run(tmp_path, "grpo", "aime24", _problems([1, 2]))
    ours = write_run(tmp_path, "ours", "amc23", _problems([2, 3], "amc23"))
    report = build_report([grpo, ours], tmp_path / "r.pdf", semantic=False, num_resamples=100)
    assert "Fig. 5 (ablation bars) left out: the models share no benchmark." in report.notes
    assert "No comparison pages: they need two models on one benchmark." in report.notes
    assert not any(page.startswith(("Fig. 5", "Comparison")) for page in report.pages)
    assert {"Fig. 1: Pass@k curves", "Fig. 8: one problem's rollouts, AMC 23"} <= set(report.pages)
    shown = _cli("report", grpo, ours, "--out", tmp_path / "cli.pdf", "--no-semantic")
    assert shown.exit_code == 0 and "note: Fig. 5 (ablation bars) left out: the models share no" in shown.output


# ---- rescore ---------------------------------------------------------------------------------------

QUIET = Console(file=open(os.devnull, "w"))


@pytest.fixture(scope="module")
def moved_run(tiny_model_dir, data_dir, tmp_path_factory):
    """A tiny-model run (2 problems x 2, top-3 log-probs) whose model directory was moved afterwards."""
    root = tmp_path_factory.mktemp("moved")
    model = shutil.copytree(tiny_model_dir, root / "model-before")
    options = RunOptions(
        model=str(model),
        benchmarks=["aime24"],
        backend="hf",
        data_dir=str(data_dir),
        settings=SamplingSettings(n=2, max_tokens=8, top_logprobs=3),
        limit=2,
        score_workers=1,
        out=root / "runs",
    )
    [(_, run_dir, _)] = run(options, QUIET)
    moved = model.rename(root / "model-after")
    return run_dir, moved


@pytest.fixture
def moved_copy(moved_run, tmp_path):
    run_dir, model = moved_run
    return shutil.copytree(run_dir, tmp_path / "run"), model


def test_rescore_exact_points_at_a_moved_model_with_model(moved_copy):
    run_dir, model = moved_copy
    _one_error_line(_cli("rescore", run_dir, "--entropy", "exact"), "is not there (moved?); pass --model")
    done = _cli("rescore", run_dir, "--entropy", "exact", "--model", model, "--temperature", 1)
    assert done.exit_code == 0, done.output
    _, provenance = read_entropy(run_dir, "exact")
    assert provenance["model"] == str(model) and provenance["run_model"].endswith("model-before")
    assert provenance["max_abs_logprob_diff_vs_stored"] <= 1e-3  # the same weights, found at their new place
    _one_error_line(_cli("rescore", run_dir, "--model", model.parent / "nowhere"), "model not found")


def test_rescore_topk_needs_no_model_and_no_vocab_size(moved_copy):
    run_dir, model = moved_copy
    vocab_size = json.loads((model / "config.json").read_text())["vocab_size"]
    from_manifest = _cli("rescore", run_dir, "--entropy", "topk")  # run records the output layer's V
    assert f"V={vocab_size} from the run's manifest" in from_manifest.output, from_manifest.output
    manifest_path = run_dir / "manifest.json"  # a run directory written before manifests held V
    manifest_path.write_text(
        json.dumps({k: v for k, v in json.loads(manifest_path.read_text()).items() if k != "vocab_size"})
    )
    lower_only = _cli("rescore", run_dir, "--entropy", "topk")  # the model moved; nothing says V
    assert lower_only.exit_code == 0 and "lower bounds only" in lower_only.output, lower_only.output
    without_v, provenance = read_entropy(run_dir, "topk")
    assert provenance["vocab_size"] is None
    assert _cli("rescore", run_dir, "--entropy", "topk", "--vocab-size", vocab_size).exit_code == 0
    with_v, _ = read_entropy(run_dir, "topk")
    for low, known_v_low, high in zip(without_v["entropy_low"], with_v["entropy_low"], without_v["entropy_high"]):
        np.testing.assert_allclose(low, known_v_low, rtol=1e-6)  # the lower bound does not depend on V
        assert all(math.isnan(value) for value in high)
    # after an exact rescore, V comes from its record; with --model, from the model's config.json
    assert _cli("rescore", run_dir, "--entropy", "exact", "--model", model, "--temperature", 1).exit_code == 0
    from_exact = _cli("rescore", run_dir, "--entropy", "topk")
    assert f"V={vocab_size} from the exact rescore" in from_exact.output, from_exact.output
    (run_dir / "extras" / "entropy.parquet").unlink()
    from_model = _cli("rescore", run_dir, "--entropy", "topk", "--model", model)
    assert f"V={vocab_size} from {model}/config.json" in from_model.output, from_model.output
    bounds, _ = read_entropy(run_dir, "topk")
    for high, known_v_high in zip(bounds["entropy_high"], with_v["entropy_high"]):
        np.testing.assert_allclose(high, known_v_high)


def test_rescore_on_an_empty_run_is_one_error(moved_run, tmp_path):
    run_dir, _ = moved_run
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(run_dir / store.MANIFEST, empty / store.MANIFEST)
    for method in ("exact", "topk"):
        _one_error_line(_cli("rescore", empty, "--entropy", method), "has no samples yet")
    _one_error_line(_cli("rescore", tmp_path / "nowhere"), "is not a run directory")
