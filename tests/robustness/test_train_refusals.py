"""What `progrpo-train` refuses, and what it recovers from (issue 11, items 3, 4, 7 and 11).

Every refusal is one `error:` line on stderr with exit code 2, and leaves the run directory as
it was. The runs use the CPU toy recipe through the real command line.
"""

import base64
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _env(data_dir, **changes):
    env = {**os.environ, "PROGRPO_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("PROGRPO_DEBUG", None)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _cli(env, *arguments):
    return subprocess.run(
        [sys.executable, "-m", "progrpo_train.cli", "--config", "toy", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _refused(result, fragment):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr[-3000:]
    return lines[0]


def _snapshot(out_dir):
    return {
        str(path.relative_to(out_dir)): path.read_bytes() for path in sorted(Path(out_dir).rglob("*")) if path.is_file()
    }


def _metrics(out_dir):
    return [json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished_run(data_dir, tmp_path_factory):
    """A 2-step toy run with checkpoints at steps 1 and 2; tests work on copies of it."""
    out = tmp_path_factory.mktemp("refusals") / "run"
    result = _cli(_env(data_dir), f"out_dir={out}", "max_steps=2", "checkpoint.save_every=1", "checkpoint.keep_last=0")
    assert result.returncode == 0, result.stderr[-3000:]
    return out


@pytest.fixture
def run_copy(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


# ------------------------------------------------------------------ item 3: a previous run is never overwritten
def test_a_non_empty_out_dir_is_refused_and_left_as_it_was(run_copy, data_dir):
    before = _snapshot(run_copy)
    _refused(_cli(_env(data_dir), f"out_dir={run_copy}", "max_steps=2"), f"out_dir {run_copy} is not empty")
    assert _snapshot(run_copy) == before


def test_overwrite_deletes_the_previous_runs_files_first(run_copy, data_dir):
    (run_copy / "notes.txt").write_text("mine")
    result = _cli(_env(data_dir), f"out_dir={run_copy}", "max_steps=1", "overwrite=true")
    assert result.returncode == 0, result.stderr[-3000:]
    assert [m["step"] for m in _metrics(run_copy)] == [1]
    assert sorted(p.name for p in (run_copy / "checkpoints").iterdir()) == ["step-000001"]
    assert (run_copy / "notes.txt").read_text() == "mine"  # not one of the trainer's files


def test_resume_and_overwrite_together_are_refused(data_dir, tmp_path):
    _refused(
        _cli(_env(data_dir), f"out_dir={tmp_path}", "resume=true", "overwrite=true"),
        "overwrite must be false with resume=true",
    )


# ------------------------------------------------------------------ item 4: resume
def test_resume_with_a_changed_config_names_every_difference(run_copy, data_dir):
    before = _snapshot(run_copy)
    line = _refused(
        _cli(
            _env(data_dir),
            f"out_dir={run_copy}",
            "resume=true",
            "max_steps=3",
            "optim.lr=2e-4",
            "rollout.n=8",
            "algorithm.advantage=grpo",
        ),
        "differs from",
    )
    for change in ("optim.lr: 0.0001 -> 0.0002", "rollout.n: 4 -> 8", "algorithm.advantage: 'progrpo' -> 'grpo'"):
        assert change in line
    assert "max_steps" not in line.split("(only")[0]  # max_steps may change on resume
    assert _snapshot(run_copy) == before


def test_resume_without_a_checkpoint_says_so(data_dir, tmp_path):
    _refused(_cli(_env(data_dir), f"out_dir={tmp_path / 'fresh'}", "resume=true"), "holds no complete checkpoint")


def test_a_torn_last_metrics_line_is_dropped_with_a_warning(run_copy, finished_run, data_dir):
    with (run_copy / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 3, "reward_me')  # killed mid-write
    result = _cli(_env(data_dir), f"out_dir={run_copy}", "resume=true", "max_steps=3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "line 3 is torn" in result.stderr
    assert [m["step"] for m in _metrics(run_copy)] == [1, 2, 3]
    assert _metrics(run_copy)[:2] == _metrics(finished_run)


def test_a_checkpoint_missing_a_file_falls_back_to_the_previous_one(run_copy, finished_run, data_dir):
    (run_copy / "checkpoints" / "step-000002" / "hf" / "model.safetensors").unlink()
    result = _cli(_env(data_dir), f"out_dir={run_copy}", "resume=true", "max_steps=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step-000002 is missing or has changed hf/model.safetensors; falling back" in result.stderr
    assert "resumed from" in result.stdout and "step-000001 (step 1)" in result.stdout
    redone, original = _metrics(run_copy), _metrics(finished_run)
    assert [m["step"] for m in redone] == [1, 2]
    timing = ("time_", "tokens_per_second")
    assert {k: v for k, v in redone[1].items() if not k.startswith(timing)} == pytest.approx(
        {k: v for k, v in original[1].items() if not k.startswith(timing)}, abs=1e-6, nan_ok=True
    )


# ------------------------------------------------------------------ item 7: one error line instead of a traceback
def test_a_benchmark_without_an_offline_copy_says_what_to_set(data_dir, tmp_path):
    env = _env(data_dir, PROGRPO_DATA_DIR=None, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    _refused(_cli(env, f"out_dir={tmp_path / 'run'}"), "set PROGRPO_DATA_DIR (or data.data_dir)")


def test_a_missing_model_path_is_refused(data_dir, tmp_path):
    _refused(
        _cli(_env(data_dir), f"out_dir={tmp_path / 'run'}", f"model.path={tmp_path / 'no-such-model'}"),
        "model.path not found",
    )


def test_empty_data_is_refused(data_dir, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    _refused(_cli(_env(data_dir), f"out_dir={tmp_path / 'run'}", f"data.source={empty}"), "no training prompts")


def test_infinite_learning_rate_is_refused(data_dir, tmp_path):
    _refused(_cli(_env(data_dir), f"out_dir={tmp_path / 'run'}", "optim.lr=inf"), "optim.lr must be a finite number")


def test_a_model_directory_without_a_tokenizer_is_refused(finished_run, data_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(finished_run / "tiny-model", model)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        (model / name).unlink(missing_ok=True)
    _refused(_cli(_env(data_dir), f"out_dir={tmp_path / 'run'}", f"model.path={model}"), "has no tokenizer")


def test_debug_shows_the_traceback(run_copy, data_dir):
    result = _cli(_env(data_dir, PROGRPO_DEBUG="1"), f"out_dir={run_copy}")
    assert result.returncode != 0 and "Traceback" in result.stderr and "SetupError" in result.stderr


# ------------------------------------------------------------------ item 11: nothing is unpickled
def test_rng_states_are_plain_json_numbers(finished_run):
    saved = json.loads((finished_run / "checkpoints" / "step-000002" / "rng-rank0.json").read_text())
    assert set(saved) >= {"python", "numpy", "torch"} and "pickle_b64" not in saved
    assert all(isinstance(byte, int) and 0 <= byte < 256 for byte in saved["torch"])


class _Marker:
    """Unpickling this would create a file: proof that the trainer never unpickles."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_a_pickled_rng_state_is_refused_not_unpickled(run_copy, data_dir, tmp_path):
    marker = tmp_path / "unpickled"
    checkpoint = run_copy / "checkpoints" / "step-000002"
    payload = {"pickle_b64": base64.b64encode(pickle.dumps(_Marker(marker))).decode()}
    (checkpoint / "rng-rank0.json").write_text(json.dumps(payload))
    complete = json.loads((checkpoint / "COMPLETE").read_text())  # keep the checkpoint intact otherwise
    complete["files"]["rng-rank0.json"] = (checkpoint / "rng-rank0.json").stat().st_size
    (checkpoint / "COMPLETE").write_text(json.dumps(complete))
    _refused(_cli(_env(data_dir), f"out_dir={run_copy}", "resume=true"), "holds a pickled RNG state")
    assert not marker.exists()
