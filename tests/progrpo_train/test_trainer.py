"""The toy recipe trains for real (DeepSpeed on CPU, HF and vLLM rollouts); resume is exact."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from progrpo_eval.benchmarks import INSTRUCTIONS
from progrpo_eval.prompts import read_training_prompt
from progrpo_train.checkpoint import COMPLETE, latest_checkpoint

pytestmark = pytest.mark.slow

# Everything but wall-clock timings must repeat exactly across a resume.
TIMING_KEYS = ("time_", "tokens_per_second")


def _env(data_dir):
    return {**os.environ, "PROGRPO_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _train(data_dir, out_dir, *overrides, launcher=()):
    command = [*launcher, "-m", "progrpo_train.cli"] if launcher else [sys.executable, "-m", "progrpo_train.cli"]
    result = subprocess.run(
        [*command, "--config", "toy", f"out_dir={out_dir}", *overrides],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines()]


def _comparable(metrics):
    return {k: v for k, v in metrics.items() if not k.startswith(TIMING_KEYS)}


def _weights(checkpoint_dir):
    return load_file(str(Path(checkpoint_dir) / "hf" / "model.safetensors"))


@pytest.fixture(scope="module")
def uninterrupted(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "uninterrupted"
    return out, _train(data_dir, out, "max_steps=4", "checkpoint.save_every=2")


def test_toy_recipe_trains_with_hf_rollouts(uninterrupted):
    out, metrics = uninterrupted
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    for m in metrics:
        assert 0 <= m["accuracy"] <= 1 and m["entropy"] > 0 and m["response_length"] > 0
        assert {"clip_fraction", "kl_old_policy", "advantage_mean", "sign_flips", "time_rollout"} <= set(m)
    assert any(m["clip_fraction"] > 0 for m in metrics), "the policy never moved far enough to clip"
    assert latest_checkpoint(out).name == "step-000004"
    first, last = _weights(out / "checkpoints" / "step-000002"), _weights(out / "checkpoints" / "step-000004")
    assert any(not torch.equal(first[name], last[name]) for name in first)
    record = read_training_prompt(out / "checkpoints" / "step-000004" / "hf")  # the prompt it was trained with
    assert record["instruction"] == INSTRUCTIONS["math"] and record["apply_chat_template"] is True
    assert record["data_source"] == "aime24" and record["chat_template_sha256"]


def test_resume_after_step_2_logs_the_same_steps_3_and_4(uninterrupted, data_dir, tmp_path):
    out, reference = uninterrupted
    resumed_dir = tmp_path / "resumed"
    _train(data_dir, resumed_dir, "max_steps=2", "checkpoint.save_every=2")
    resumed = _train(data_dir, resumed_dir, "max_steps=4", "checkpoint.save_every=2", "resume=true")
    assert [m["step"] for m in resumed] == [1, 2, 3, 4]
    for got, expected in zip(resumed[2:], reference[2:]):
        got, expected = _comparable(got), _comparable(expected)
        assert got.keys() == expected.keys()
        for key in expected:
            assert got[key] == pytest.approx(expected[key], abs=1e-6, nan_ok=True), key
    final = _weights(resumed_dir / "checkpoints" / "step-000004")
    reference_final = _weights(out / "checkpoints" / "step-000004")
    assert all(torch.allclose(final[name], reference_final[name], atol=1e-6) for name in final)


def test_checkpoint_round_trips_through_progrpo_eval(uninterrupted, data_dir, tmp_path):
    out, _ = uninterrupted
    model = out / "checkpoints" / "step-000004" / "hf"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "progrpo_eval.cli",
            "run",
            "--model",
            str(model),
            "--bench",
            "aime24",
            "--k",
            "2",
            "--limit",
            "1",
            "--max-tokens",
            "8",
            "--backend",
            "hf",
            "--data-dir",
            str(data_dir),
            "--out",
            str(tmp_path),
        ],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| aime24 | 1 |" in result.stdout


def _update(run_dir, step):
    initial = load_file(str(Path(run_dir) / "tiny-model" / "model.safetensors"))
    final = _weights(Path(run_dir) / "checkpoints" / f"step-{step:06d}")
    return torch.cat([(final[name] - initial[name]).flatten() for name in initial])


def test_gradient_accumulation_and_two_gloo_processes_reduce_like_one_batch(data_dir, tmp_path):
    """One update of 8 sequences: 1 micro-batch, 2 accumulated micro-batches, and 2 torchrun
    processes under ZeRO-2 make the same AdamW step (up to float summation order)."""
    # rollout.hf_batch_size=4 (= n): one prompt per generate call, seeded per prompt, so both
    # processes draw what the single process draws.
    common = ["max_steps=1", "checkpoint.save_every=1", "optim.mini_batch_size=2", "rollout.hf_batch_size=4"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533"]
    _train(data_dir, tmp_path / "whole", *common, "optim.micro_batch_size=8")
    _train(data_dir, tmp_path / "accumulated", *common, "optim.micro_batch_size=4")
    _train(data_dir, tmp_path / "two", *common, "optim.micro_batch_size=4", "deepspeed.zero_stage=2", launcher=launcher)
    whole = _update(tmp_path / "whole", 1)
    assert whole.abs().max() > 5e-5  # AdamW's first step moves every weight with a gradient by ~lr
    for other in ("accumulated", "two"):
        update = _update(tmp_path / other, 1)
        assert torch.nn.functional.cosine_similarity(update, whole, dim=0) > 0.999, other
        assert (update - whole).abs().max() < 2e-5, other


def test_toy_recipe_trains_with_vllm_rollouts(data_dir, tmp_path):
    metrics = _train(data_dir, tmp_path / "vllm", "max_steps=2", "checkpoint.save_every=0", "rollout.backend=vllm")
    assert [m["step"] for m in metrics] == [1, 2]
    assert metrics[1]["time_sync"] > 0


NAN_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    import progrpo_train.objective as objective_module
    import progrpo_train.trainer as trainer_module
    from progrpo_train.config import load_config
    cfg = load_config("toy", [f"out_dir={sys.argv[1]}", "max_steps=1"])
    trainer = trainer_module.Trainer(cfg)
    before = {k: v.clone() for k, v in trainer.engine.module.state_dict().items()}
    real_loss = objective_module.policy_loss
    def nan_loss(*args, **kwargs):
        loss, stats = real_loss(*args, **kwargs)
        return loss * float("nan"), stats
    objective_module.policy_loss = nan_loss
    metrics = trainer.train_step(0)
    after = trainer.engine.module.state_dict()
    assert metrics["skipped_updates"] == 2, metrics["skipped_updates"]
    assert all(torch.isfinite(v).all() and torch.equal(v, before[k]) for k, v in after.items())
    print("weights untouched")
    """
)


def test_non_finite_loss_skips_the_update_and_keeps_the_weights(data_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", NAN_SCRIPT, str(tmp_path / "nan")],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "weights untouched" in result.stdout
    assert "non-finite loss" in result.stderr


def _fake_checkpoint(root, step, files):
    checkpoint = root / f"step-{step:06d}"
    for name in files:
        (checkpoint / name).parent.mkdir(parents=True, exist_ok=True)
        (checkpoint / name).write_text(name)
    listed = {name: (checkpoint / name).stat().st_size for name in files}
    (checkpoint / COMPLETE).write_text(json.dumps({"step": step, "files": listed}))
    return checkpoint


def test_partial_and_broken_checkpoints_are_never_taken_for_complete(tmp_path):
    root = tmp_path / "checkpoints"
    _fake_checkpoint(root, 2, ["trainer.json", "hf/config.json"])
    (root / ".step-000004.partial" / "hf").mkdir(parents=True)  # killed mid-write
    (root / "step-000006").mkdir()  # a directory without the marker
    broken = _fake_checkpoint(root, 8, ["trainer.json", "hf/config.json"])
    (broken / "hf" / "config.json").unlink()  # deleted after it was complete
    truncated = _fake_checkpoint(root, 10, ["trainer.json"])
    (truncated / "trainer.json").write_text("{")
    with pytest.warns(UserWarning, match="step-000010 is missing or has changed trainer.json"):
        assert latest_checkpoint(tmp_path).name == "step-000002"
    assert not (root / ".step-000004.partial").exists()


def test_zero3_trains_like_zero0_and_saves_consolidated_weights(uninterrupted, data_dir, tmp_path):
    """The paper recipe's ZeRO-3: partitioned loading, gathered weight export, the same updates."""
    out, _ = uninterrupted
    _train(data_dir, tmp_path / "zero3", "max_steps=2", "checkpoint.save_every=2", "deepspeed.zero_stage=3")
    zero3 = _weights(tmp_path / "zero3" / "checkpoints" / "step-000002")
    zero0 = _weights(out / "checkpoints" / "step-000002")
    assert sorted(zero3) == sorted(zero0)
    assert all(torch.allclose(zero3[name], zero0[name], atol=2e-5) for name in zero0)
