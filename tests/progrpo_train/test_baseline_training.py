"""Every baseline trains on the CPU toy and resumes exactly; FlowRL's log Z head goes through the
checkpoint; Clip-Cov's covariance is global, so 2 gloo processes update like one."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytestmark = pytest.mark.slow

TIMING_KEYS = ("time_", "tokens_per_second")
# The toy's few tokens would give KL-Cov / Clip-Cov one selected token; larger shares and wide bounds select more.
BASELINES = {
    "grpo_verl": ["--config", "toy:grpo_verl"],
    "grpo_eq3": ["--config", "toy:grpo_eq3"],
    "kl_cov": ["--config", "toy:kl_cov", "algorithm.kl_cov_ratio=0.05"],
    "clip_cov": [
        "--config",
        "toy:clip_cov",
        "algorithm.clip_cov_ratio=0.05",
        "algorithm.clip_cov_lb=-100",
        "algorithm.clip_cov_ub=100",
    ],
    "flowrl": ["--config", "toy:flowrl"],
    "kl_loss_and_entropy_bonus": ["--config", "toy", "algorithm.kl_coef=0.05", "algorithm.entropy_coef=0.01"],
}
OWN_METRICS = {
    "kl_cov": "selected_fraction",
    "clip_cov": "selected_fraction",
    "flowrl": "log_z_mean",
    "kl_loss_and_entropy_bonus": "kl_ref",
}


def _train(data_dir, out_dir, arguments, *overrides, launcher=None):
    env = {**os.environ, "PROGRPO_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    command = launcher or [sys.executable]
    result = subprocess.run(
        [*command, "-m", "progrpo_train.cli", *arguments, f"out_dir={out_dir}", *overrides],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [json.loads(line) for line in (Path(out_dir) / "metrics.jsonl").read_text().splitlines()]


def _comparable(metrics):
    return {key: value for key, value in metrics.items() if not key.startswith(TIMING_KEYS)}


def _module_states(checkpoint):
    """The DeepSpeed checkpoint's module weights (our own file, written by this test's run)."""
    return torch.load(checkpoint / "deepspeed" / "state" / "mp_rank_00_model_states.pt", weights_only=False)["module"]


@pytest.mark.parametrize("baseline", BASELINES)
def test_baseline_trains_two_steps_and_resumes_exactly(baseline, data_dir, tmp_path):
    arguments = BASELINES[baseline]
    uninterrupted = _train(
        data_dir, tmp_path / "whole", arguments, "max_steps=2", "checkpoint.save_every=1", "checkpoint.keep_last=0"
    )
    assert [m["step"] for m in uninterrupted] == [1, 2]
    if baseline in OWN_METRICS:
        assert all(m[OWN_METRICS[baseline]] is not None for m in uninterrupted)
    if baseline in ("kl_cov", "clip_cov"):
        assert any(m["selected_fraction"] > 0 for m in uninterrupted)
    shutil.copytree(tmp_path / "whole", tmp_path / "resumed")
    shutil.rmtree(tmp_path / "resumed" / "checkpoints" / "step-000002")  # resume from step 1
    resumed = _train(data_dir, tmp_path / "resumed", arguments, "max_steps=2", "resume=true")
    assert [m["step"] for m in resumed] == [1, 2]
    got, expected = _comparable(resumed[1]), _comparable(uninterrupted[1])
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == pytest.approx(expected[key], abs=1e-6, nan_ok=True), key
    final = load_file(str(tmp_path / "resumed" / "checkpoints" / "step-000002" / "hf" / "model.safetensors"))
    reference = load_file(str(tmp_path / "whole" / "checkpoints" / "step-000002" / "hf" / "model.safetensors"))
    assert sorted(final) == sorted(reference)
    assert all(torch.allclose(final[name], reference[name], atol=1e-6) for name in reference)
    if baseline == "flowrl":  # the log Z head is trained, checkpointed and resumed, and kept out of the HF model
        assert not any(name.startswith("log_z_head.") for name in reference)
        states = {run: _module_states(tmp_path / run / "checkpoints" / "step-000002") for run in ("whole", "resumed")}
        initial = _module_states(tmp_path / "whole" / "checkpoints" / "step-000001")
        heads = [name for name in states["whole"] if name.startswith("log_z_head.")]
        assert len(heads) == 10  # 3 linear layers (weight, bias) and 2 layer norms
        assert all(torch.allclose(states["resumed"][name], states["whole"][name], atol=1e-6) for name in heads)
        assert any(not torch.equal(states["whole"][name], initial[name]) for name in heads)


def _update(run_dir):
    initial = load_file(str(Path(run_dir) / "tiny-model" / "model.safetensors"))
    final = load_file(str(Path(run_dir) / "checkpoints" / "step-000001" / "hf" / "model.safetensors"))
    return torch.cat([(final[name] - initial[name]).flatten() for name in initial])


def test_clip_cov_on_two_gloo_processes_updates_like_one(data_dir, tmp_path):
    """The covariance, its token count and the random draw are over the whole mini-batch, whether it is one
    batch, accumulated micro-batches or split over 2 torchrun processes under ZeRO-2."""
    arguments = [
        *BASELINES["clip_cov"],
        "max_steps=1",
        "checkpoint.save_every=1",
        "optim.mini_batch_size=2",
        "rollout.hf_batch_size=4",
        "algorithm.clip_cov_ratio=0.2",
    ]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29537"]
    whole = _train(data_dir, tmp_path / "whole", arguments, "optim.micro_batch_size=8")
    _train(data_dir, tmp_path / "accumulated", arguments, "optim.micro_batch_size=4")
    _train(
        data_dir, tmp_path / "two", arguments, "optim.micro_batch_size=4", "deepspeed.zero_stage=2", launcher=launcher
    )
    assert whole[0]["selected_fraction"] > 0.1
    reference = _update(tmp_path / "whole")
    assert reference.abs().max() > 5e-5
    for other in ("accumulated", "two"):
        update = _update(tmp_path / other)
        assert torch.nn.functional.cosine_similarity(update, reference, dim=0) > 0.999, other
        assert (update - reference).abs().max() < 2e-5, other
