"""The DeepSpeed engine around the policy: ZeRO config, AdamW and warmup.

The process group is `distributed.py`'s. The optimizer is torch's AdamW handed to DeepSpeed (no
op to compile), and the learning-rate schedule is a linear warmup to `optim.lr`, then constant.
"""

from __future__ import annotations

import torch

from progrpo_train.config import TrainConfig
from progrpo_train.flowrl import attach_log_z_head


def micro_batches_per_update(cfg: TrainConfig, world_size: int) -> int:
    """Gradient-accumulation steps: one update covers mini_batch_size prompts x n responses."""
    sequences = cfg.optim.mini_batch_size * cfg.rollout.n
    if cfg.optim.batch_size % world_size or cfg.optim.mini_batch_size % world_size:
        raise ValueError(
            f"optim.batch_size={cfg.optim.batch_size} and optim.mini_batch_size={cfg.optim.mini_batch_size} "
            f"must be multiples of the number of processes ({world_size})"
        )
    per_rank = sequences // world_size
    if per_rank % cfg.optim.micro_batch_size:
        raise ValueError(
            f"optim.micro_batch_size={cfg.optim.micro_batch_size} must divide the {per_rank} "
            f"sequences each process handles per update"
        )
    return per_rank // cfg.optim.micro_batch_size


def deepspeed_config(cfg: TrainConfig, world_size: int) -> dict:
    accumulation = micro_batches_per_update(cfg, world_size)
    zero: dict = {"stage": cfg.deepspeed.zero_stage}
    if cfg.deepspeed.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu"}
    if cfg.deepspeed.offload_params:
        zero["offload_param"] = {"device": "cpu"}
    if cfg.deepspeed.zero_stage == 3:
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_micro_batch_size_per_gpu": cfg.optim.micro_batch_size,
        "gradient_accumulation_steps": accumulation,
        "train_batch_size": cfg.optim.micro_batch_size * accumulation * world_size,
        "gradient_clipping": cfg.optim.grad_clip,
        "zero_optimization": zero,
        "bf16": {"enabled": cfg.deepspeed.bf16},
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }


def _load_model(model_dir: str, ds_config: dict):
    """A model in fp32 (ZeRO-3: partitioned while loading)."""
    from transformers import AutoModelForCausalLM

    keep_alive = None
    if ds_config["zero_optimization"]["stage"] == 3:
        from transformers.integrations import HfDeepSpeedConfig

        keep_alive = HfDeepSpeedConfig(ds_config)  # must live while the model loads
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    del keep_alive
    model.config.use_cache = False
    return model


def load_policy(model_dir: str, cfg: TrainConfig, ds_config: dict):
    """The policy in fp32 master weights; with algorithm.loss=flowrl it carries FlowRL's log Z head."""
    model = _load_model(model_dir, ds_config)
    if cfg.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    if cfg.algorithm.loss == "flowrl":
        attach_log_z_head(model, cfg.algorithm.log_z_layers, cfg.algorithm.log_z_dropout, cfg.seed)
    return model


def needs_reference(cfg: TrainConfig) -> bool:
    """The KL loss and FlowRL compare with the frozen initial policy."""
    return cfg.algorithm.kl_coef > 0 or cfg.algorithm.loss == "flowrl"


def build_reference(model_dir: str, ds_config: dict):
    """The frozen initial policy, held by DeepSpeed like the policy but without an optimizer:
    ZeRO-3 shards it across processes; under ZeRO 0-2 each process keeps a full copy (stage 0)."""
    import deepspeed

    stage = ds_config["zero_optimization"]["stage"]
    config = {**ds_config, "zero_optimization": {"stage": 3 if stage == 3 else 0}}
    model = _load_model(model_dir, config).eval().requires_grad_(False)
    engine, *_ = deepspeed.initialize(model=model, config=config)
    engine.eval()
    return engine


def build_engine(model, cfg: TrainConfig, ds_config: dict):
    import deepspeed

    optimizer = torch.optim.AdamW(
        model.parameters(), lr=cfg.optim.lr, betas=tuple(cfg.optim.betas), weight_decay=cfg.optim.weight_decay
    )
    warmup = cfg.optim.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda update: min(1.0, (update + 1) / warmup) if warmup else 1.0
    )
    engine, optimizer, _, scheduler = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config
    )
    return engine, optimizer, scheduler
