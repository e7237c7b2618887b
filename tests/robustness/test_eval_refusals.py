"""`progrpo-eval run` and `score` as a hostile user drives them: two writers on one directory, a
deleted or broken manifest, duplicated chunks, settings the backend cannot draw, prompts that do
not fit, hostile rows, empty selections. Each case gets one `error:` line (exit 2) or keeps the
run directory intact; nothing computed is lost or relabelled."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from progrpo_eval import store
from progrpo_eval.benchmarks import registry
from progrpo_eval.cli import app
from progrpo_eval.run_lock import LOCK_FILE, RunLock

RUN = ["run", "--k", "2", "--max-tokens", "4", "--backend", "hf", "--bench", "aime24"]


def _cli(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def _one_error_line(result, *messages: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    for message in messages:
        assert message in result.output, result.output


def _run(model, data_dir, out, *extra):
    return _cli(*RUN, "--model", model, "--data-dir", data_dir, "--out", out, "--limit", 2, *extra)


@pytest.fixture(scope="module")
def finished(tiny_model_dir, data_dir, tmp_path_factory):
    """A finished aime24 run (2 problems x 2 samples at T = 0.6) to copy from."""
    out = tmp_path_factory.mktemp("finished")
    result = _run(tiny_model_dir, data_dir, out)
    assert result.exit_code == 0, result.output
    return out / tiny_model_dir.name / "aime24"


@pytest.fixture
def run_copy(finished, tmp_path):
    """(out root, run directory): a copy of the finished run that a test may damage."""
    out = tmp_path / "out"
    return out, shutil.copytree(finished, out / finished.parent.name / finished.name)


def _texts(run_dir):
    samples = store.load_samples(run_dir).sort_values(["problem_id", "sample_index"])
    return samples[["problem_id", "sample_index", "text"]].values.tolist()


# ---- 1. one writer per run directory -----------------------------------------------------------------

HOLD_LOCK = (
    "import sys, time; from progrpo_eval.run_lock import RunLock; RunLock(sys.argv[1]).acquire(); "
    "print('held', flush=True); time.sleep(600)"
)


@pytest.fixture
def held_lock(run_copy):
    """Another process holding the run directory's lock (a real subprocess)."""
    _, run_dir = run_copy
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    yield holder
    holder.kill()
    holder.wait()


def test_a_second_writer_is_refused_naming_the_holder(held_lock, run_copy, tiny_model_dir, data_dir, tmp_path):
    out, run_dir = run_copy
    before = _texts(run_dir)
    holder = f"is in use by pid {held_lock.pid} on {socket.gethostname()}"
    _one_error_line(_run(tiny_model_dir, data_dir, out), holder)
    _one_error_line(_run(tiny_model_dir, data_dir, out, "--overwrite"), holder)
    samples = tmp_path / "theirs.jsonl"
    samples.write_text(json.dumps({"problem_id": "aime24/60", "text": "\\boxed{204}"}) + "\n")
    _one_error_line(
        _cli(
            "score",
            "--bench",
            "aime24",
            "--samples",
            samples,
            "--model",
            tiny_model_dir.name,
            "--data-dir",
            data_dir,
            "--out",
            out,
        ),
        holder,
    )
    assert _texts(run_dir) == before
    held_lock.kill()
    held_lock.wait()  # the kernel drops a dead holder's lock: the next run goes ahead
    assert _run(tiny_model_dir, data_dir, out).exit_code == 0


def test_a_lock_left_by_a_dead_process_is_taken_over(run_copy, tiny_model_dir, data_dir):
    out, run_dir = run_copy
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record = {"pid": int(dead.stdout), "host": socket.gethostname(), "started": "yesterday", "command": "killed"}
    (run_dir / LOCK_FILE).write_text(json.dumps(record))
    result = _run(tiny_model_dir, data_dir, out)
    assert result.exit_code == 0, result.output
    assert f"took over the stale lock of pid {record['pid']}" in result.output
    assert not (run_dir / LOCK_FILE).exists()  # released at the end


def test_a_lock_written_on_another_host_is_honoured(run_copy, tiny_model_dir, data_dir):
    out, run_dir = run_copy
    (run_dir / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "node17", "started": "now", "command": "run"}))
    _one_error_line(
        _run(tiny_model_dir, data_dir, out), "in use by pid 1 on node17", f"if it is gone, delete {run_dir / LOCK_FILE}"
    )
    (run_dir / LOCK_FILE).unlink()
    assert _run(tiny_model_dir, data_dir, out).exit_code == 0


def test_one_process_cannot_lock_a_directory_twice(tmp_path):
    with RunLock(tmp_path / "run"):
        with pytest.raises(ValueError, match=f"in use by pid {os.getpid()}"):
            RunLock(tmp_path / "run").acquire()
    with RunLock(tmp_path / "run"):  # released
        pass


def _run_command(model, data_dir, out, limit):
    return [
        sys.executable,
        "-m",
        "progrpo_eval.cli",
        "run",
        "--model",
        str(model),
        "--bench",
        "math500",
        "--k",
        "2",
        "--limit",
        str(limit),
        "--max-tokens",
        "32",
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


@pytest.mark.slow
def test_two_concurrent_runs_write_every_sample_once(tiny_model_dir, data_dir, tmp_path):
    """Two real `progrpo-eval run` processes on one --out: the second is refused while the first writes."""
    first = subprocess.Popen(
        _run_command(tiny_model_dir, data_dir, tmp_path, limit=200),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_dir = tmp_path / tiny_model_dir.name / "math500"
    deadline = time.time() + 600
    while not list(run_dir.glob("samples/chunk-*.parquet")) and time.time() < deadline and first.poll() is None:
        time.sleep(0.1)
    second = subprocess.run(_run_command(tiny_model_dir, data_dir, tmp_path, limit=200), capture_output=True, text=True)
    assert first.poll() is None, "the first run should still be writing"
    first.kill()
    first.wait()
    assert second.returncode == 2 and f"is in use by pid {first.pid}" in second.stderr, second.stderr
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    samples = store.load_samples(run_dir)  # what the first wrote, each sample once
    assert len(samples) >= 2 and not samples.duplicated(["problem_id", "sample_index"]).any()
    resumed = subprocess.run(_run_command(tiny_model_dir, data_dir, tmp_path, limit=3), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr  # the killed holder's lock does not block


def test_duplicated_samples_are_refused_and_repaired(run_copy, tiny_model_dir, data_dir):
    """A chunk written twice (two writers before the lock existed): refused with the repair; repair keeps the first."""
    out, run_dir = run_copy
    before = _texts(run_dir)
    chunk = run_dir / "samples" / "chunk-000000.parquet"
    shutil.copy(chunk, run_dir / "samples" / "chunk-000001.parquet")
    with pytest.raises(store.DuplicateSamplesError, match="holds 4 duplicate samples"):
        store.load_samples(run_dir)
    _one_error_line(
        _run(tiny_model_dir, data_dir, out), "duplicate samples", f"progrpo-eval repair {run_dir}", "--overwrite"
    )
    repaired = _cli("repair", run_dir)
    assert repaired.exit_code == 0 and "removed 4 duplicate samples (0 chunks rewritten, 1 deleted)" in repaired.output
    assert _texts(run_dir) == before
    assert _cli("repair", run_dir).output.endswith("no duplicate samples; nothing changed\n")
    assert _run(tiny_model_dir, data_dir, out).exit_code == 0 and (run_dir / "summary.json").is_file()


def test_overwrite_always_starts_afresh(run_copy, tiny_model_dir, data_dir):
    """A directory damaged every way at once: duplicated and unreadable chunks, a manifest holding []."""
    out, run_dir = run_copy
    before = _texts(run_dir)
    shutil.copy(run_dir / "samples" / "chunk-000000.parquet", run_dir / "samples" / "chunk-000001.parquet")
    (run_dir / "samples" / "chunk-000002.parquet").write_bytes(b"not parquet")
    (run_dir / store.MANIFEST).write_text("[]")
    _one_error_line(
        _run(tiny_model_dir, data_dir, out),
        f"{run_dir / store.MANIFEST} holds a JSON list, not an object",
        "--overwrite",
    )
    result = _run(tiny_model_dir, data_dir, out, "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in (run_dir / "samples").iterdir()) == ["chunk-000000.parquet"]
    assert _texts(run_dir) == before  # the same seeds draw the same samples


# ---- 2. chunks carry the identity of the settings that made them ---------------------------------------


def test_a_deleted_manifest_does_not_relabel_old_samples(run_copy, tiny_model_dir, data_dir):
    out, run_dir = run_copy
    before = _texts(run_dir)
    (run_dir / store.MANIFEST).unlink()
    _one_error_line(
        _run(tiny_model_dir, data_dir, out, "--temperature", "1.0"),
        "chunk-000000.parquet",
        "was sampled with other settings (manifest.json is missing)",
        "sampling.temperature: 0.6 -> 1.0",
    )
    assert not (run_dir / store.MANIFEST).exists()
    resumed = _run(tiny_model_dir, data_dir, out)  # the settings that made the chunk: it is adopted again
    assert resumed.exit_code == 0, resumed.output
    assert "generated problems" not in resumed.output and _texts(run_dir) == before
    assert store.read_manifest(run_dir)["sampling"]["temperature"] == 0.6


def test_a_replaced_manifest_is_caught_when_loading(run_copy, tiny_model_dir, data_dir, tmp_path):
    """Another run's manifest copied over this one's: readers (report, compare) refuse the chunks."""
    _, run_dir = run_copy
    other = tmp_path / "other"
    assert _run(tiny_model_dir, data_dir, other, "--top-p", "0.5").exit_code == 0
    shutil.copy(other / tiny_model_dir.name / "aime24" / store.MANIFEST, run_dir / store.MANIFEST)
    with pytest.raises(store.RunMismatchError, match="sampling.top_p: 0.95 -> 0.5"):
        store.load_samples(run_dir)


# ---- 7/8. one clear line for broken input ----------------------------------------------------------------


def test_broken_manifest_json_names_the_file(run_copy, tiny_model_dir, data_dir):
    out, run_dir = run_copy
    (run_dir / store.MANIFEST).write_text("{bad")
    _one_error_line(_run(tiny_model_dir, data_dir, out), f"{run_dir / store.MANIFEST} is not valid JSON")
    (run_dir / store.MANIFEST).write_bytes(b'{"model": "\xff"}')
    _one_error_line(_run(tiny_model_dir, data_dir, out), f"{run_dir / store.MANIFEST} is not UTF-8")


def test_a_model_directory_without_a_tokenizer_is_refused(tiny_model_dir, data_dir, tmp_path):
    model = tmp_path / "weights-only"
    model.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(tiny_model_dir / name, model / name)
    _one_error_line(_run(model, data_dir, tmp_path / "out"), f"{model} has no tokenizer")
    assert not (tmp_path / "out").exists()


def _data_dir_with(tmp_path, data_dir, name, lines):
    bad = tmp_path / "data"
    bad.mkdir(exist_ok=True)
    (bad / name).write_bytes(lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode())
    return bad


def test_nested_brackets_in_a_gold_are_one_error_line(tiny_model_dir, data_dir, tmp_path):
    """OlympiadBench's final_answer is a string holding a list: 200 000 nested brackets overflow its parser."""
    row = json.loads((data_dir / "olympiadbench.jsonl").read_text().splitlines()[0])
    row["final_answer"] = "[" * 200_000 + "1" + "]" * 200_000
    bad = _data_dir_with(tmp_path, data_dir, "olympiadbench.jsonl", [json.dumps(row)])
    result = _cli(*RUN[:-1], "olympiadbench", "--model", tiny_model_dir, "--data-dir", bad, "--out", tmp_path / "o")
    _one_error_line(result, "olympiadbench.jsonl line 1: nested too deeply to parse")
    row["final_answer"] = ["$" + "(" * 30_000 + "1" + ")" * 30_000 + "$"]  # parses, but is over the size limit
    bad = _data_dir_with(tmp_path, data_dir, "olympiadbench.jsonl", [json.dumps(row)])
    result = _cli(*RUN[:-1], "olympiadbench", "--model", tiny_model_dir, "--data-dir", bad, "--out", tmp_path / "o")
    _one_error_line(
        result,
        "olympiadbench.jsonl line 1 (olympiadbench/1606): the gold answer is 60,001 characters, "
        f"over the limit of {registry.MAX_GOLD_CHARS:,}",
    )
    assert not (tmp_path / "o").exists()


def test_a_json_line_nested_too_deeply_is_one_error_line(tiny_model_dir, data_dir, tmp_path):
    line = '{"id": 1, "problem": ' + "[" * 100_000 + "]" * 100_000 + "}"
    bad = _data_dir_with(tmp_path, data_dir, "aime24.jsonl", [line])
    _one_error_line(_run(tiny_model_dir, bad, tmp_path / "o"), "aime24.jsonl line 1 is nested too deeply to read")


@pytest.mark.parametrize("brackets", ["()", "{}"])
def test_nested_brackets_in_a_completion_are_judged_not_hung(data_dir, tmp_path, brackets):
    """A completion nesting 200 000 brackets: judged (wrong), or a timeout or error, never a hang (in a subprocess,
    so that a hang fails the test)."""
    samples = tmp_path / "nested.jsonl"
    nested = "\\boxed{" + brackets[0] * 200_000 + "1" + brackets[1] * 200_000 + "}"
    samples.write_text(json.dumps({"problem_id": "aime24/60", "text": nested}) + "\n")
    command = [
        sys.executable,
        "-m",
        "progrpo_eval.cli",
        "score",
        "--bench",
        "aime24",
        "--samples",
        str(samples),
        "--data-dir",
        str(data_dir),
        "--out",
        str(tmp_path / "o"),
        "--score-timeout",
        "3",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    [sample] = store.load_samples(tmp_path / "o" / "nested" / "aime24").to_dict("records")
    assert sample["score_status"] in ("ok", "timeout", "error") and not sample["correct"]


def test_an_oversized_question_is_refused(tiny_model_dir, data_dir, tmp_path):
    question = "x" * (registry.MAX_QUESTION_CHARS + 1)
    row = json.dumps({"id": 7, "problem": question, "answer": "1"})
    bad = _data_dir_with(tmp_path, data_dir, "aime24.jsonl", [row])
    limit = registry.MAX_QUESTION_CHARS
    _one_error_line(
        _run(tiny_model_dir, bad, tmp_path / "o"),
        f"aime24.jsonl line 1 (aime24/7): the question is {limit + 1:,} characters, over the limit of {limit:,}",
    )


def test_nothing_to_evaluate_leaves_no_directory(tiny_model_dir, data_dir, tmp_path):
    out = tmp_path / "out"
    _one_error_line(_run(tiny_model_dir, data_dir, out, "--limit", 0), "--limit must be at least 1, got 0")
    empty = _data_dir_with(tmp_path, data_dir, "aime24.jsonl", b"\n")
    _one_error_line(
        _cli(*RUN, "--model", tiny_model_dir, "--data-dir", empty, "--out", out),
        f"aime24: {empty / 'aime24.jsonl'} holds no problems",
    )
    assert not out.exists()


def test_non_utf8_data_names_the_file(tiny_model_dir, data_dir, tmp_path):
    bad = _data_dir_with(tmp_path, data_dir, "aime24.jsonl", b'{"id": 1, "problem": "caf\xe9", "answer": "1"}\n')
    _one_error_line(_run(tiny_model_dir, bad, tmp_path / "o"), f"{bad / 'aime24.jsonl'} is not UTF-8 text")
    samples = tmp_path / "theirs.jsonl"
    samples.write_bytes(b'{"problem_id": "aime24/60", "text": "\xff"}\n')
    _one_error_line(
        _cli("score", "--bench", "aime24", "--samples", samples, "--data-dir", data_dir, "--out", tmp_path / "o"),
        f"{samples} is not UTF-8 text",
    )


@pytest.mark.parametrize("bench", [",", " , ,"])
def test_a_benchmark_list_naming_nothing_is_refused(tiny_model_dir, data_dir, tmp_path, bench):
    result = _cli(
        "run", "--model", tiny_model_dir, "--bench", bench, "--k", 2, "--data-dir", data_dir, "--out", tmp_path
    )
    _one_error_line(result, "names no benchmark")
