"""Per-step training metrics: out_dir/metrics.jsonl (always), TensorBoard and W&B (on request).

Entropy is the exact full-vocabulary policy entropy at T = 1, token-mean over the response
tokens of the step (Fig. 2). Statistics of this process's share of the batch (rank 0 logs); loss
statistics are means over the step's micro-batches, with the baselines' own where they apply
(selected_fraction for KL-Cov / Clip-Cov, kl_ref for the KL loss, log Z and the importance
weights for FlowRL).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from progrpo_eval.atomic import atomic_write_bytes
from progrpo_train.config import LoggingConfig
from progrpo_train.flowrl import FlowRLStats


def value_stats(prefix: str, values: torch.Tensor) -> dict:
    values = values[torch.isfinite(values)].double()
    if values.numel() == 0:
        return {f"{prefix}_mean": None}
    return {
        f"{prefix}_mean": values.mean().item(),
        f"{prefix}_std": values.std(unbiased=False).item(),
        f"{prefix}_min": values.min().item(),
        f"{prefix}_max": values.max().item(),
    }


def _group_fractions(batch) -> dict:
    fractions = {"all_correct": 0, "all_wrong": 0}
    groups = torch.unique(batch.group_ids)
    for group in groups:
        correct = batch.correct[batch.group_ids == group]
        fractions["all_correct"] += int(correct.all())
        fractions["all_wrong"] += int((~correct).all())
    return {f"{key}_group_fraction": value / len(groups) for key, value in fractions.items()}


def step_metrics(
    step,
    batch,
    statuses,
    base,
    advantages,
    prompt_conf,
    response_conf,
    entropy,
    loss_stats,
    timings,
    skipped_updates,
    lr,
) -> dict:
    response_tokens = batch.response_mask.sum()
    lengths = batch.response_mask.sum(dim=1).double()
    mean = lambda name: torch.stack([torch.as_tensor(s[name]).double() for s in loss_stats]).mean().item()  # noqa: E731
    extra = {
        name: mean(name) for name in ("selected_fraction", "kl_ref", *FlowRLStats._fields) if name in loss_stats[0]
    }
    metrics = {
        "step": step,
        "reward_mean": batch.rewards.double().mean().item(),
        "accuracy": batch.correct.double().mean().item(),
        "entropy": (entropy * batch.response_mask).sum().item() / max(response_tokens.item(), 1),
        "response_length": lengths.mean().item(),
        "response_length_max": lengths.max().item(),
        "truncated_fraction": batch.truncated.double().mean().item(),
        "clip_fraction": mean("clip_fraction"),
        "clip_fraction_low": mean("clip_fraction_low"),
        "clip_fraction_high": mean("clip_fraction_high"),
        "kl_old_policy": mean("approx_kl"),
        "ratio_max": max(float(s["ratio_max"]) for s in loss_stats),
        **extra,
        "sign_flips": int(((base * advantages) < 0).sum().item()),
        "skipped_updates": skipped_updates,
        "scorer_timeouts": statuses.count("timeout"),
        "scorer_errors": statuses.count("error"),
        "lr": lr,
        "tokens_per_second": response_tokens.item() / max(timings["step"], 1e-9),
        **{f"time_{phase}": seconds for phase, seconds in timings.items()},
        **value_stats("advantage", advantages),
        **value_stats("grpo_advantage", base),
        **value_stats("prompt_confidence", prompt_conf),
        **value_stats("confidence_correct", response_conf[batch.correct]),
        **value_stats("confidence_wrong", response_conf[~batch.correct]),
        **_group_fractions(batch),
    }
    return metrics


class MetricsLogger:
    """Appends one JSON line per step; on resume, drops lines past the checkpoint's step."""

    def __init__(self, out_dir: Path, config: LoggingConfig, *, enabled: bool, truncate_after: int):
        self.enabled, self.config = enabled, config
        self.path = Path(out_dir) / "metrics.jsonl"
        self.tensorboard = self.wandb = None
        if not enabled:
            return
        self._truncate(truncate_after)
        if config.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(Path(out_dir) / "tensorboard"))
        if config.wandb:
            import wandb

            self.wandb = wandb.init(project=config.wandb_project, name=Path(out_dir).name, resume="allow")

    def _truncate(self, last_step: int) -> None:
        """Keep the lines up to the checkpoint's step; a torn line (a kill mid-write) is dropped with a warning."""
        if not self.path.exists():
            return
        kept = []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            try:
                step = json.loads(line)["step"] if line.strip() else None
            except (json.JSONDecodeError, TypeError, KeyError):
                warnings.warn(f"{self.path} line {number} is torn or not a metrics line; dropped", stacklevel=2)
                continue
            if step is not None and step <= last_step:
                kept.append(line)
        atomic_write_bytes(self.path, "".join(line + "\n" for line in kept).encode())

    def log(self, metrics: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as handle:
            handle.write(json.dumps(metrics) + "\n")
        if metrics["step"] % self.config.log_every == 0:
            print(
                f"step {metrics['step']}: reward {metrics['reward_mean']:.3f} acc {metrics['accuracy']:.3f} "
                f"entropy {metrics['entropy']:.3f} len {metrics['response_length']:.1f} "
                f"clip {metrics['clip_fraction']:.3f} flips {metrics['sign_flips']} {metrics['time_step']:.2f}s",
                flush=True,
            )
            scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and k != "step"}
            if self.tensorboard is not None:
                for key, value in scalars.items():
                    self.tensorboard.add_scalar(key, value, metrics["step"])
            if self.wandb is not None:
                self.wandb.log(scalars, step=metrics["step"])

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.finish()
