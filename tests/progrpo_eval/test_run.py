"""progrpo-eval run end to end on the tiny model: both backends, every benchmark, resume, errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from progrpo_eval import store
from progrpo_eval.benchmarks import get_benchmark, list_benchmarks, load_problems
from progrpo_eval.cli import app
from progrpo_eval.generation import SamplingSettings
from progrpo_eval.runner import RunOptions, run
from progrpo_eval.stats import default_ks

QUIET = Console(file=open(os.devnull, "w"))
SETTINGS = SamplingSettings(n=2, temperature=1.0, top_p=1.0, max_tokens=12, seed=0)


def _offline(data_dir) -> list[str]:
    """The benchmarks that can run from data_dir: those with their offline copy there, or needing none.

    ../shared has no LiveCodeBench copy; tests/progrpo_eval/test_code_run.py makes one."""
    return [
        name
        for name in list_benchmarks()
        if not get_benchmark(name).offline_file or (Path(data_dir) / get_benchmark(name).offline_file).is_file()
    ]


def _options(model, data_dir, out, **changes):
    values = dict(
        model=str(model),
        benchmarks=_offline(data_dir),
        settings=SETTINGS,
        backend="hf",
        out=out,
        data_dir=str(data_dir),
        limit=2,
        score_workers=1,
    )
    values.update(changes)
    return RunOptions(**values)


def _check_run_dir(run_dir: Path, num_problems: int, num_samples: int):
    samples = store.load_samples(run_dir)
    pairs = list(zip(samples["problem_id"], samples["sample_index"]))
    assert len(pairs) == len(set(pairs)) == num_problems * num_samples
    assert set(samples["finish_reason"]) <= {"stop", "length"}
    assert all(
        len(ids) == len(lp) == n for ids, lp, n in zip(samples["token_ids"], samples["logprobs"], samples["num_tokens"])
    )
    assert set(samples["score_status"]) <= {"ok", "no_answer", "timeout", "error"}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["num_problems"] == num_problems
    assert set(summary["pass_at_k"]) == {str(k) for k in default_ks(num_samples)}
    assert all(0 <= v <= 1 for v in summary["pass_at_k"].values())
    manifest = store.read_manifest(run_dir)
    assert manifest["sampling"]["n"] == num_samples and manifest["data_checksum"]
    return samples, summary


def test_hf_backend_runs_every_benchmark(tiny_model_dir, data_dir, tmp_path):
    results = run(_options(tiny_model_dir, data_dir, tmp_path), QUIET)
    assert [name for name, _, _ in results] == _offline(data_dir)
    for _, run_dir, _ in results:
        _check_run_dir(run_dir, num_problems=2, num_samples=2)


@pytest.mark.slow
def test_vllm_backend_runs_every_benchmark(vllm_backend, tiny_model_dir, data_dir, tmp_path):
    options = _options(
        tiny_model_dir,
        data_dir,
        tmp_path,
        backend="vllm",
        settings=SamplingSettings(n=3, max_tokens=12, top_logprobs=2),
    )
    for _, run_dir, _summary in run(options, QUIET, backend=vllm_backend):
        samples, _ = _check_run_dir(run_dir, num_problems=2, num_samples=3)
        assert all(
            json.loads(top) and len(json.loads(top)) == n
            for top, n in zip(samples["top_logprobs"], samples["num_tokens"])
        )


def test_summary_counts_a_planted_correct_answer(tiny_model_dir, data_dir, tmp_path):
    """Rewrite one stored sample to the gold answer and re-summarise: Pass@k moves as computed by hand."""
    options = _options(
        tiny_model_dir, data_dir, tmp_path, benchmarks=["aime24"], settings=SamplingSettings(n=4, max_tokens=4)
    )
    [(_, run_dir, summary)] = run(options, QUIET)
    samples = store.load_samples(run_dir)
    first = samples["problem_id"].iloc[0]
    samples.loc[(samples["problem_id"] == first) & (samples["sample_index"] == 0), "correct"] = True
    from progrpo_eval.summary import summarize

    redone = summarize(samples, list(dict.fromkeys(samples["problem_id"])), num_samples=4)
    # problem 1: 1 of 4 correct -> pass@1 0.25, pass@2 0.5, pass@4 1; problem 2: 0 -> mean over 2 problems
    assert redone["pass_at_k"] == {"1": 0.125, "2": 0.25, "4": 0.5}
    assert redone["mean_accuracy"] == 0.125


def _cli(*args):
    return CliRunner().invoke(app, list(map(str, args)))


def test_changed_sampling_setting_is_refused_unless_overwrite(tiny_model_dir, data_dir, tmp_path):
    common = [
        "run",
        "--model",
        tiny_model_dir,
        "--bench",
        "aime24",
        "--limit",
        "1",
        "--max-tokens",
        "4",
        "--backend",
        "hf",
        "--out",
        tmp_path,
        "--data-dir",
        data_dir,
    ]
    assert _cli(*common, "--k", "2").exit_code == 0
    refused = _cli(*common, "--k", "2", "--temperature", "0.9")
    assert refused.exit_code == 2
    assert "sampling.temperature: 0.6 -> 0.9" in refused.output and "--overwrite" in refused.output
    replaced = _cli(*common, "--k", "2", "--temperature", "0.9", "--overwrite")
    assert replaced.exit_code == 0
    assert store.read_manifest(tmp_path / tiny_model_dir.name / "aime24")["sampling"]["temperature"] == 0.9


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "/nonexistent/model", "--bench", "aime24", "--k", "2"], "model not found: /nonexistent/model"),
        (["--bench", "aime2024", "--k", "2"], "unknown benchmark 'aime2024'"),
        (["--bench", "aime24", "--k", "0"], "--k must be at least 1"),
        (["--bench", "aime24", "--k", "2", "--backend", "jax"], "unknown backend 'jax'"),
    ],
)
def test_bad_input_gives_one_error_line(tiny_model_dir, data_dir, tmp_path, args, message):
    if "--model" not in args:
        args = ["--model", tiny_model_dir, *args]
    result = _cli("run", *args, "--data-dir", data_dir, "--out", tmp_path)
    assert result.exit_code == 2
    assert message in result.output
    if "unknown benchmark" in message:
        assert "aime24" in result.output and "mmlu_pro" in result.output


def test_malformed_data_row_names_file_and_line(tiny_model_dir, data_dir, tmp_path):
    bad = tmp_path / "data"
    bad.mkdir()
    lines = (data_dir / "aime24.jsonl").read_text().splitlines()
    (bad / "aime24.jsonl").write_text(
        "\n".join(lines[:2] + ['{"id": 3, "problem": "no answer field"}'] + lines[3:]) + "\n"
    )
    result = _cli(
        "run",
        "--model",
        tiny_model_dir,
        "--bench",
        "aime24",
        "--k",
        "1",
        "--backend",
        "hf",
        "--data-dir",
        bad,
        "--out",
        tmp_path / "runs",
    )
    assert result.exit_code == 2
    assert "aime24.jsonl line 3" in result.output and "answer" in result.output


def _run_command(model, data_dir, out, limit):
    return [
        sys.executable,
        "-m",
        "progrpo_eval.cli",
        "run",
        "--model",
        str(model),
        "--bench",
        "amc23",
        "--k",
        "2",
        "--limit",
        str(limit),
        "--max-tokens",
        "24",
        "--backend",
        "hf",
        "--chunk-samples",
        "2",
        "--temperature",
        "1.0",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
    ]


def test_resume_after_sigkill_gives_every_sample_once(tiny_model_dir, data_dir, tmp_path):
    """kill -9 mid-run, run the same command again: the result equals an uninterrupted run."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    killed_out, clean_out, limit = tmp_path / "killed", tmp_path / "clean", 6
    process = subprocess.Popen(
        _run_command(tiny_model_dir, data_dir, killed_out, limit),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    samples_dir = killed_out / tiny_model_dir.name / "amc23" / "samples"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(samples_dir.glob("chunk-*.parquet"))) < 2:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    written = len(list(samples_dir.glob("chunk-*.parquet")))
    assert 2 <= written < limit, "the kill should land mid-run"

    subprocess.run(_run_command(tiny_model_dir, data_dir, killed_out, limit), env=env, check=True, capture_output=True)
    subprocess.run(_run_command(tiny_model_dir, data_dir, clean_out, limit), env=env, check=True, capture_output=True)
    resumed = store.load_samples(killed_out / tiny_model_dir.name / "amc23").sort_values(["problem_id", "sample_index"])
    clean = store.load_samples(clean_out / tiny_model_dir.name / "amc23").sort_values(["problem_id", "sample_index"])
    assert len(resumed) == limit * 2
    assert (
        resumed[["problem_id", "sample_index", "text"]].values.tolist()
        == clean[["problem_id", "sample_index", "text"]].values.tolist()
    )


@pytest.mark.slow
def test_data_parallel_copies_share_the_problems(tiny_model_dir, data_dir, tmp_path):
    """--data-parallel-size 2: two backend processes, prompts split round-robin, one run directory."""
    options = _options(
        tiny_model_dir, data_dir, tmp_path, benchmarks=["math500"], limit=5, backend_options={"data_parallel_size": 2}
    )
    [(_, run_dir, _)] = run(options, QUIET)
    samples, _ = _check_run_dir(run_dir, num_problems=5, num_samples=2)
    expected = [p.problem_id for p in load_problems("math500", data_dir, limit=5).problems]
    assert list(dict.fromkeys(samples["problem_id"])) == expected
