"""The ProGRPO training loop (Algorithm 1) on a DeepSpeed engine.

A step: sample `batch_size` prompts (split over processes) -> G rollouts each -> rewards (the
evaluator's scorers) -> teacher-forced log-probs at T = 1 (old log-probs, c(q), c(o|q), exact
entropy; the frozen reference's log-probs when the KL loss or FlowRL needs them) -> advantages
(`progrpo_advantages` or `grpo_advantages`) -> `ppo_epochs` passes of updates, one per mini-batch
of prompts, accumulating gradients over micro-batches. The loss of a mini-batch (`objective.py`)
is a weighted sum of per-token (or per-sequence) terms whose weights are normalised over the whole
mini-batch across processes, so micro-batching and data parallelism reduce exactly like one big
batch. A non-finite loss skips its update (learning rate 0 for that optimizer step, so the
weights are untouched) and is counted.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import torch

from progrpo_eval.generation import derived_seed
from progrpo_eval.prompts import TRAINING_PROMPT_FILE, is_reasoning_model, training_prompt_record
from progrpo_train import checkpoint as ckpt
from progrpo_train import run_dir
from progrpo_train.algorithm import grpo_advantages, progrpo_advantages
from progrpo_train.batch import RolloutBatch, pad_rollouts, score_with_policy, sequence_logprobs
from progrpo_train.config import TINY_MODEL, TrainConfig, dump_config, model_path
from progrpo_train.data import PromptOrder, TrainPrompt, training_instruction
from progrpo_train.distributed import all_reduce_sum, barrier, init_distributed
from progrpo_train.engine import build_engine, build_reference, deepspeed_config, load_policy, needs_reference
from progrpo_train.flowrl import LOG_Z_PREFIX
from progrpo_train.inputs import check_model_path, load_prompts, load_tokenizer
from progrpo_train.metrics import MetricsLogger, step_metrics
from progrpo_train.objective import Objective
from progrpo_train.rewards import RewardFunction
from progrpo_train.rollout import build_rollout, rollout_seed, sampling_settings


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    def __init__(self, cfg: TrainConfig):
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # loading/saving bars would break the step progress bar
        self.cfg = cfg
        self.rank, self.world_size = init_distributed()
        _seed_everything(cfg.seed + self.rank)
        self.out_dir = Path(cfg.out_dir)
        self.resume_from = self._prepare_out_dir()
        self.model_dir = model_path(cfg)
        self.tokenizer = load_tokenizer(self.model_dir)
        self.prompts: list[TrainPrompt] = load_prompts(cfg.data, self.tokenizer)
        self.order = PromptOrder(len(self.prompts), cfg.seed, cfg.data.shuffle)
        self.ds_config = deepspeed_config(cfg, self.world_size)
        policy = load_policy(self.model_dir, cfg, self.ds_config)
        self.engine, self.optimizer, self.scheduler = build_engine(policy, cfg, self.ds_config)
        self.reference = build_reference(self.model_dir, self.ds_config) if needs_reference(cfg) else None
        self.objective = Objective(cfg.algorithm, cfg.optim.micro_batch_size)
        self.reward = RewardFunction(
            cfg.data, cfg.rollout.max_tokens, reasoning=is_reasoning_model(self.tokenizer, cfg.data.reasoning)
        )
        self.start_step, self.skipped_updates = 0, 0
        if self.resume_from is not None:
            self._resume(self.resume_from)
        self.rollout = build_rollout(
            cfg.rollout, self.engine.module, self.tokenizer, self.model_dir, cfg.model.dtype, cfg.seed
        )
        if self.start_step > 0:
            self.rollout.sync(self.engine.module, cfg.deepspeed.zero_stage)
        self.logger = MetricsLogger(self.out_dir, cfg.logging, enabled=self.rank == 0, truncate_after=self.start_step)

    def _prepare_out_dir(self) -> Path | None:
        """Refuse what run_dir.py refuses (every rank, before anything is written); then the main
        process clears an overwritten run, records the config and builds the tiny model. Returns
        the checkpoint to resume from."""
        cfg = self.cfg
        run_dir.check_out_dir(cfg)
        check_model_path(cfg)
        checkpoint = ckpt.latest_checkpoint(self.out_dir) if cfg.resume else None
        if cfg.resume:
            run_dir.check_resume(cfg, checkpoint)
            ckpt.read_rng(checkpoint)  # refuses a pickled RNG state now, not after the engine is built
        barrier()
        if self.rank == 0:
            if cfg.overwrite:
                run_dir.remove_previous_run(self.out_dir)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            dump_config(cfg, self.out_dir / "config.yaml")
            if cfg.model.path == TINY_MODEL and not (Path(model_path(cfg)) / "config.json").exists():
                from progrpo_eval.tiny_model import build_tiny_model

                build_tiny_model(model_path(cfg), seed=cfg.seed)
        barrier()
        return checkpoint

    def _resume(self, latest: Path) -> None:
        state = ckpt.load_checkpoint(self.engine, latest)
        self.start_step = state["step"]
        self.skipped_updates = state.get("skipped_updates", 0)
        self.order = PromptOrder(len(self.prompts), self.cfg.seed, self.cfg.data.shuffle, **state["data"])
        if self.rank == 0:
            print(f"resumed from {latest} (step {self.start_step})")

    # ------------------------------------------------------------------ one step
    def _collect(self, step: int) -> tuple[RolloutBatch, list, dict]:
        cfg = self.cfg
        indices = self.order.next_batch(cfg.optim.batch_size)[self.rank :: self.world_size]
        prompts = [self.prompts[i] for i in indices]
        settings = sampling_settings(cfg.rollout, cfg.seed)
        seeds = [rollout_seed(cfg.seed, step, p.prompt_id) for p in prompts]
        started = time.perf_counter()
        groups = self.rollout.generate([list(p.token_ids) for p in prompts], settings, seeds)
        timings = {"rollout": time.perf_counter() - started}
        flat = [(prompt, completion) for prompt, group in zip(prompts, groups) for completion in group]
        started = time.perf_counter()
        truncated = [c.finish_reason == "length" for _, c in flat]
        rewards = self.reward(
            [p.problem for p, _ in flat], [c.text for _, c in flat], [len(c.token_ids) for _, c in flat]
        )
        timings["reward"] = time.perf_counter() - started
        tensors = pad_rollouts(
            [list(p.token_ids) for p, _ in flat], [c.token_ids for _, c in flat], self.tokenizer.pad_token_id or 0
        )
        batch = RolloutBatch(
            *tensors,
            group_ids=torch.arange(len(prompts)).repeat_interleave(cfg.rollout.n),
            rewards=torch.tensor([r.value for r in rewards], dtype=torch.float32),
            correct=torch.tensor([r.correct for r in rewards]),
            truncated=torch.tensor(truncated),
            row_seeds=torch.tensor([derived_seed(seed, sample) for seed in seeds for sample in range(cfg.rollout.n)]),
        )
        return batch, [r.status for r in rewards], timings

    def _advantages(self, batch: RolloutBatch, prompt_conf, response_conf) -> tuple[torch.Tensor, torch.Tensor]:
        algo = self.cfg.algorithm
        base = grpo_advantages(batch.rewards, batch.group_ids, std=algo.std, eps=algo.eps)
        if algo.advantage == "grpo":
            return base, base
        reweighted = progrpo_advantages(
            batch.rewards,
            batch.group_ids,
            response_conf,
            prompt_conf,
            alpha=algo.alpha,
            reweight=algo.reweight,
            gate=algo.gate,
            correct=batch.correct,
            preserve_sign=algo.preserve_sign,
            std=algo.std,
            eps=algo.eps,
        )
        return base, reweighted

    def _update(self, step: int, batch: RolloutBatch, old_logprobs, advantages, ref_logprobs) -> list[dict]:
        """ppo_epochs x (mini-batches of prompts), each one optimizer step; returns loss stats."""
        cfg = self.cfg
        rows_per_update = cfg.optim.mini_batch_size // self.world_size * cfg.rollout.n
        micro = cfg.optim.micro_batch_size
        stats = []
        for epoch in range(cfg.optim.ppo_epochs):
            for update, start in enumerate(range(0, len(batch), rows_per_update)):
                rows = slice(start, start + rows_per_update)
                mini = self.objective.prepare(
                    self.engine,
                    batch.rows(rows),
                    old_logprobs[rows],
                    advantages[rows],
                    None if ref_logprobs is None else ref_logprobs[rows],
                    salt=(step, epoch, update),
                )
                poisoned = False
                offsets = range(0, len(mini.rows), micro)
                for offset in offsets:
                    loss, loss_stats = self.objective.loss(self.engine, mini, slice(offset, offset + micro))
                    if not torch.isfinite(loss):
                        poisoned = True
                        loss = sum(p.reshape(-1)[0] for p in self.engine.module.parameters() if p.requires_grad) * 0.0
                    self.engine.backward(loss * self.world_size, scale_wrt_gas=False)
                    stats.append(loss_stats)
                    # DeepSpeed counts micro-steps and updates at the accumulation boundary (the last one).
                    self._step(poisoned) if offset == offsets[-1] else self.engine.step()
        return stats

    def _step(self, poisoned: bool) -> None:
        if all_reduce_sum(float(poisoned)) > 0:
            warnings.warn("non-finite loss: this update is skipped (learning rate 0 for one step)", stacklevel=2)
            self.skipped_updates += 1
            saved = [group["lr"] for group in self.optimizer.param_groups]
            for group in self.optimizer.param_groups:
                group["lr"] = 0.0
            self.engine.step()
            for group, lr in zip(self.optimizer.param_groups, saved):
                group["lr"] = lr
            return
        self.engine.step()

    def train_step(self, step: int) -> dict:
        cfg = self.cfg
        started = time.perf_counter()
        batch, statuses, timings = self._collect(step)
        phase = time.perf_counter()
        old_logprobs, prompt_conf, response_conf, entropy = score_with_policy(
            self.engine.module, batch, cfg.optim.micro_batch_size, cfg.algorithm.low_prob_fraction
        )
        ref_logprobs = None
        if self.reference is not None:
            ref_logprobs = sequence_logprobs(self.reference, batch, cfg.optim.micro_batch_size)
        timings["logprobs"] = time.perf_counter() - phase
        base, advantages = self._advantages(batch, prompt_conf, response_conf)
        phase = time.perf_counter()
        loss_stats = self._update(step, batch, old_logprobs, advantages, ref_logprobs)
        timings["update"] = time.perf_counter() - phase
        phase = time.perf_counter()
        self.rollout.sync(self.engine.module, cfg.deepspeed.zero_stage)
        timings["sync"] = time.perf_counter() - phase
        timings["step"] = time.perf_counter() - started
        return step_metrics(
            step + 1,
            batch,
            statuses,
            base,
            advantages,
            prompt_conf,
            response_conf,
            entropy,
            loss_stats,
            timings,
            self.skipped_updates,
            self.optimizer.param_groups[0]["lr"],
        )

    def train(self) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        cfg = self.cfg
        columns = (
            TextColumn("step {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, disable=self.rank != 0) as progress:
            task = progress.add_task("train", total=cfg.max_steps, completed=self.start_step, info="")
            for step in range(self.start_step, cfg.max_steps):
                metrics = self.train_step(step)
                self.logger.log(metrics)
                self._maybe_save(step + 1)
                progress.update(
                    task,
                    advance=1,
                    info=f"reward {metrics['reward_mean']:.3f}  "
                    f"entropy {metrics['entropy']:.3f}  {metrics['time_step']:.1f} s/step",
                )
        self.close()

    def _maybe_save(self, done: int) -> None:
        cfg = self.cfg
        if (cfg.checkpoint.save_every and done % cfg.checkpoint.save_every == 0) or done == cfg.max_steps:
            state = {"data": self.order.state(), "skipped_updates": self.skipped_updates}
            prompt = training_prompt_record(
                self.tokenizer,
                instruction=training_instruction(cfg.data),
                apply_chat_template=cfg.data.apply_chat_template,
                reasoning=cfg.data.reasoning,
                source=cfg.data.source,
            )
            ckpt.save_checkpoint(
                self.engine,
                self.tokenizer,
                self.out_dir,
                done,
                state,
                cfg.deepspeed.zero_stage,
                cfg.checkpoint.keep_last,
                exclude_from_hf=LOG_Z_PREFIX if cfg.algorithm.loss == "flowrl" else None,
                hf_files={TRAINING_PROMPT_FILE: prompt},
            )

    def close(self) -> None:
        self.rollout.close()
        self.reward.close()
        self.logger.close()


def train(cfg: TrainConfig) -> None:
    """Run `cfg` to `max_steps` (resuming from the newest checkpoint when cfg.resume)."""
    Trainer(cfg).train()
