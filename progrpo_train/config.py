"""The training configuration: one tree of frozen dataclasses, loaded from a YAML recipe.

    TrainConfig(out_dir, max_steps, seed, resume, overwrite,
                model, data, rollout, algorithm, optim, deepspeed, logging, checkpoint)

- Defaults are the paper's math setup (Table 1, Sec. 4.1); the packaged recipes spell out every key.
- Recipes are YAML mirroring the tree; `key=value` overrides use dotted keys (`optim.lr=1e-6`).
  Reading, overriding and type coercion live in `config_loader.py`; `load_config` here is its
  entry point for this tree.
- Every numeric key has a range (`NUMERIC_RANGES`) and every float must be finite;
  TrainConfig.__post_init__ checks them and the consistency rules, so every TrainConfig (also one
  from `dataclasses.replace`) is valid. Errors name the dotted key. Configs hold no runtime state.
- The choices of the algorithm's keys are `progrpo_train.choices`' Literals, shared with algorithm.py.
- No knob for tied embeddings: the trainer sends lm_head with every weight sync (STACK.md).
- model.path "tiny" (`TINY_MODEL`): the trainer builds `progrpo_eval.tiny_model`'s random Qwen2
  into `out_dir/tiny-model` (seeded by `seed`) and trains that, so the CPU toy downloads nothing;
  `model_path(cfg)` is the directory or Hub id to load.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from progrpo_train.choices import Aggregation, Gate, KLEstimator, PolicyLoss, Reweight, StdMode
from progrpo_train.config_loader import (  # noqa: F401  (re-exported: the config's public face)
    RECIPES_DIR,
    config_to_dict,
    config_to_yaml,
    dump_config,
    list_recipes,
    load_tree,
    resolve_recipe,
)

TINY_MODEL = "tiny"  # model.path that asks the trainer to build the tiny model
TINY_MODEL_DIR_NAME = "tiny-model"  # where, under out_dir, it is built


@dataclass(frozen=True)
class ModelConfig:
    """The policy. `dtype` is the rollout engine's and the saved checkpoints' dtype; training
    precision is `deepspeed.bf16`, so a CPU run can train in fp32 and still sample in bf16."""

    path: str = "Qwen/Qwen2.5-7B"  # local directory, Hub id, or "tiny"
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"  # rollouts and checkpoints
    gradient_checkpointing: bool = True  # recompute activations in backward to save memory


@dataclass(frozen=True)
class DataConfig:
    """The training prompts and how their responses are rewarded. `source` resolves in order:
    an existing local file (.jsonl, .json, .parquet); a `progrpo_eval` benchmark name ("aime24",
    loaded by `load_problems` from `data_dir`, else $PROGRPO_DATA_DIR, else the Hub; it brings
    its own question and gold); a Hub dataset id, one `load_dataset(source, config, split=split)`
    per entry of `hub_configs`, concatenated. `prompt_field` and `answer_field` may be dotted
    paths into nested rows; a list of chat messages is used as is, a string prompt becomes one
    user message (plus `instruction`)."""

    source: str = "BytedTsinghua-SIA/DAPO-Math-17k"  # local file, benchmark name or Hub id
    hub_configs: tuple[str, ...] = ()  # Hub dataset configs to concatenate; (): the default
    split: str = "train"  # dataset split
    data_dir: str | None = None  # offline benchmark folder; None: $PROGRPO_DATA_DIR, else Hub
    prompt_field: str = "prompt"  # row field (dotted path) holding the prompt
    answer_field: str = "reward_model.ground_truth"  # row field (dotted path) with the gold
    reward: str = "dapo"  # a registered scorer (Table 1: DAPO's +1/-1 "Answer:" rule); math, choice, code, digit, ...
    reasoning: Literal["auto", "on", "off"] = "auto"  # judge only the text after </think>; auto: if the template has it
    partial_credit: bool = False  # reward the scorer's partial credit (code: share of tests passed); false: 1/0
    overlong_buffer: int = 0  # DAPO's overlong shaping: tokens before max_tokens where a penalty ramps in; 0: off
    overlong_penalty: float = 1.0  # DAPO's overlong penalty factor (the penalty reaches -this at max_tokens)
    instruction: str | None = ""  # after a string prompt; "": none; None: the family's default (math)
    apply_chat_template: bool = True  # wrap prompts in the tokenizer's chat template
    max_prompt_length: int = 2048  # prompts longer than this many tokens are dropped
    deduplicate: bool = True  # drop repeated prompts (the Hub's DAPO-Math-17k repeats ~100x)
    shuffle: bool = True  # reshuffle prompts every epoch (seeded by `seed`)
    limit: int | None = None  # keep only the first N prompts (after deduplication)


@dataclass(frozen=True)
class RolloutConfig:
    """Sampling the group of `n` responses per prompt (G in the paper) from the current policy."""

    backend: Literal["vllm", "hf"] = "vllm"  # vLLM engine with weight sync, or HF generate
    n: int = 8  # responses per prompt, the group size G (Table 1)
    temperature: float = 1.0  # sampling temperature (Table 1)
    top_p: float = 1.0  # nucleus sampling; 1.0 = off
    max_tokens: int = 8192  # max response tokens (Table 1 prints 8092, read as 8192)
    gpu_memory_utilization: float = 0.5  # vLLM's share of GPU memory, beside the trainer's
    tensor_parallel_size: int = 1  # vLLM tensor parallelism
    enforce_eager: bool = False  # vLLM without CUDA graphs (slower, less memory)
    hf_batch_size: int = 256  # hf: sequences per generate call; n gives per-prompt seeds


@dataclass(frozen=True)
class AlgorithmConfig:
    """Advantage and loss: the keyword arguments of `progrpo_advantages`, `policy_loss` and
    `flowrl_loss`. advantage "grpo" (Eq. 3, the baseline) ignores the confidence fields; the
    kl_cov_*/clip_cov_*/flowrl_*/log_z_* keys matter only for their `loss` (verl's names and
    defaults for KL-Cov and Clip-Cov; FlowRL's released values)."""

    advantage: Literal["progrpo", "grpo"] = "progrpo"  # ProGRPO (Eq. 4) or plain GRPO (Eq. 3)
    reweight: Reweight = "prompt"  # c(q) - c(o) (Eq. 4), or a Sec. 4.5 / App. A variant
    gate: Gate = "mixed"  # reweight when 0 < #correct < G (Alg. 1) or #correct > 0 (Eq. 4)
    alpha: float = 0.3  # weight of the confidence term (Tab. 6)
    low_prob_fraction: float = 0.2  # share of lowest-probability tokens in c (Eq. 5/6)
    std: StdMode = "unbiased"  # group std: torch.std's (verl, TRL) or population (App. A.1)
    eps: float = 1e-6  # added to the group std
    preserve_sign: bool = False  # clamp A~ to 0 where the term would flip A's sign (App. A.4)
    aggregation: Aggregation = "token-mean"  # loss reduction (see algorithm.py's docstring)
    clip_low: float = 0.2  # ratio lower bound 1 - clip_low (Table 1: 0.8)
    clip_high: float = 0.28  # ratio upper bound 1 + clip_high (Table 1: 1.28)
    loss: PolicyLoss = "ppo_clip"  # Eq. 7, or the baselines: kl_cov, clip_cov (Cui et al.), flowrl (Zhu et al.)
    kl_cov_ratio: float = 0.0002  # kl_cov: share of a mini-batch's tokens, largest Cov(A, log pi), penalised
    ppo_kl_coef: float = 1.0  # kl_cov: weight of |log rho| on those tokens
    clip_cov_ratio: float = 0.0002  # clip_cov: share of tokens whose gradient is dropped ...
    clip_cov_lb: float = 1.0  # ... drawn among tokens with clip_cov_lb < Cov < clip_cov_ub
    clip_cov_ub: float = 5.0
    flowrl_beta: float = 15.0  # flowrl: reward scale beta in the trajectory-balance residual
    flowrl_weight_cap: float = 10.0  # flowrl: cap of the sequence importance weight
    log_z_layers: int = 3  # flowrl: layers of the log Z head (FlowRL's proj_layer)
    log_z_dropout: float = 0.1  # flowrl: dropout in the log Z head (FlowRL's proj_dropout)
    kl_coef: float = 0.0  # KL loss to the frozen initial policy (Table 1: none)
    kl_estimator: KLEstimator = "k3"  # per-token KL estimate, verl's names (k3: its low_var_kl default)
    entropy_coef: float = 0.0  # entropy bonus: loss - entropy_coef x aggregated entropy (Table 1: none)


@dataclass(frozen=True)
class OptimConfig:
    """AdamW and the batch hierarchy: a step samples `batch_size` prompts x `rollout.n`
    responses and makes batch_size / mini_batch_size updates per PPO epoch, each accumulating
    gradients over micro-batches of `micro_batch_size` sequences."""

    lr: float = 1e-6  # learning rate (Table 1)
    weight_decay: float = 0.01  # AdamW weight decay (paper silent; verl's default)
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas (paper silent; torch's default)
    warmup_steps: int = 0  # linear warmup in updates, then constant (paper silent)
    grad_clip: float = 1.0  # max gradient norm; 0: no clipping (paper silent; verl's default)
    batch_size: int = 512  # prompts per step (Table 1 "train batch size")
    mini_batch_size: int = 32  # prompts per update (Table 1 "PPO mini-batch size")
    micro_batch_size: int = 8  # sequences per forward/backward (memory only)
    ppo_epochs: int = 1  # passes over each step's rollouts (verl's default)


@dataclass(frozen=True)
class DeepSpeedConfig:
    """The DeepSpeed engine the trainer builds; its JSON config is derived from these."""

    zero_stage: int = 3  # ZeRO stage 0-3 (paper silent; 3 shards a 7B-32B policy)
    bf16: bool = True  # bf16 mixed precision with fp32 master weights; false: fp32
    offload_optimizer: bool = False  # optimizer states in CPU memory (ZeRO >= 1)
    offload_params: bool = False  # parameters in CPU memory (ZeRO 3 only)


@dataclass(frozen=True)
class LoggingConfig:
    """Where step metrics go besides `out_dir/metrics.jsonl`, which is always written."""

    log_every: int = 1  # steps between console and tracker logs
    tensorboard: bool = False  # also write TensorBoard events to out_dir/tensorboard
    wandb: bool = False  # also log to Weights & Biases, as a run named after out_dir
    wandb_project: str = "progrpo"  # W&B project


@dataclass(frozen=True)
class CheckpointConfig:
    """Hugging Face checkpoints (for `progrpo-eval run --model`) plus the state to resume."""

    save_every: int = 50  # steps between checkpoints; 0: only the final one
    keep_last: int = 2  # checkpoints kept, older ones deleted; 0: keep all


@dataclass(frozen=True)
class TrainConfig:
    """One training run. A step = one batch of prompts: rollouts, rewards, advantages, updates."""

    out_dir: str = "runs/progrpo"  # run directory: metrics.jsonl, config.yaml, checkpoints
    max_steps: int = 500  # steps to run (paper silent)
    seed: int = 0  # seeds data order, sampling and the tiny model
    resume: bool = False  # continue from the newest checkpoint in out_dir (its config must match: run_dir.py)
    overwrite: bool = False  # delete a previous run's files in out_dir first (a non-empty out_dir is refused)
    model: ModelConfig = field(default_factory=ModelConfig)  # the policy
    data: DataConfig = field(default_factory=DataConfig)  # prompts and reward
    rollout: RolloutConfig = field(default_factory=RolloutConfig)  # sampling
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)  # advantage and loss
    optim: OptimConfig = field(default_factory=OptimConfig)  # optimizer and batch sizes
    deepspeed: DeepSpeedConfig = field(default_factory=DeepSpeedConfig)  # the engine
    logging: LoggingConfig = field(default_factory=LoggingConfig)  # metric sinks
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)  # saving

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class Interval:
    """A numeric range, e.g. Interval(0, 1, low_open=True) is (0, 1]."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        if self.low == -math.inf and self.high == math.inf:
            return "be a finite number"
        if self.high == math.inf:
            return f"be {'>' if self.low_open else '>='} {self.low:g}"
        return f"be in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


AT_LEAST_0, AT_LEAST_1, POSITIVE = Interval(0), Interval(1), Interval(0, low_open=True)
FRACTION = Interval(0, 1, low_open=True)  # (0, 1]
NUMERIC_RANGES: dict[str, Interval] = {  # every numeric key (a test checks that none is missing)
    "max_steps": AT_LEAST_1,
    "seed": AT_LEAST_0,
    "data.max_prompt_length": AT_LEAST_1,
    "data.limit": AT_LEAST_1,
    "data.overlong_buffer": AT_LEAST_0,
    "data.overlong_penalty": AT_LEAST_0,
    "rollout.n": Interval(2),
    "rollout.temperature": POSITIVE,
    "rollout.top_p": FRACTION,
    "rollout.max_tokens": AT_LEAST_1,
    "rollout.gpu_memory_utilization": FRACTION,
    "rollout.tensor_parallel_size": AT_LEAST_1,
    "rollout.hf_batch_size": AT_LEAST_1,
    "algorithm.alpha": AT_LEAST_0,
    "algorithm.low_prob_fraction": FRACTION,
    "algorithm.eps": AT_LEAST_0,
    "algorithm.clip_low": Interval(0, 1),
    "algorithm.clip_high": AT_LEAST_0,
    "algorithm.kl_coef": AT_LEAST_0,
    "algorithm.entropy_coef": AT_LEAST_0,
    "algorithm.kl_cov_ratio": FRACTION,
    "algorithm.ppo_kl_coef": AT_LEAST_0,
    "algorithm.clip_cov_ratio": FRACTION,
    "algorithm.clip_cov_lb": Interval(),
    "algorithm.clip_cov_ub": Interval(),
    "algorithm.flowrl_beta": AT_LEAST_0,
    "algorithm.flowrl_weight_cap": POSITIVE,
    "algorithm.log_z_layers": AT_LEAST_1,
    "algorithm.log_z_dropout": Interval(0, 1, high_open=True),
    "optim.lr": POSITIVE,
    "optim.weight_decay": AT_LEAST_0,
    "optim.betas": Interval(0, 1, high_open=True),
    "optim.warmup_steps": AT_LEAST_0,
    "optim.grad_clip": AT_LEAST_0,
    "optim.batch_size": AT_LEAST_1,
    "optim.mini_batch_size": AT_LEAST_1,
    "optim.micro_batch_size": AT_LEAST_1,
    "optim.ppo_epochs": AT_LEAST_1,
    "deepspeed.zero_stage": Interval(0, 3),
    "logging.log_every": AT_LEAST_1,
    "checkpoint.save_every": AT_LEAST_0,
    "checkpoint.keep_last": AT_LEAST_0,
}
REQUIREMENT_NOTES = {"rollout.n": " (GRPO compares the responses to a prompt)"}


def _value_at(cfg: TrainConfig, key: str) -> Any:
    return functools.reduce(getattr, key.split("."), cfg)


def leaf_values(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a config tree by dotted key, in field order."""
    values = {}
    for spec in dataclasses.fields(cfg):
        value = getattr(cfg, spec.name)
        if dataclasses.is_dataclass(value):
            values.update(leaf_values(value, f"{prefix}{spec.name}."))
        else:
            values[prefix + spec.name] = value
    return values


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate(cfg: TrainConfig) -> None:
    """Finite floats, ranges and consistency, run by TrainConfig.__post_init__; errors name the key."""

    def check(key: str, ok: bool, requirement: str) -> None:
        if not ok:
            raise ValueError(f"{key} must {requirement}, got {_value_at(cfg, key)!r}")

    for key, value in leaf_values(cfg).items():
        numbers = [item for item in (value if isinstance(value, tuple) else (value,)) if _is_number(item)]
        check(key, all(math.isfinite(number) for number in numbers), "be finite")
        if key in NUMERIC_RANGES:
            requirement = str(NUMERIC_RANGES[key]) + REQUIREMENT_NOTES.get(key, "")
            check(key, all(number in NUMERIC_RANGES[key] for number in numbers), requirement)
    check("out_dir", bool(cfg.out_dir), "be a directory path")
    check("overwrite", not (cfg.overwrite and cfg.resume), "be false with resume=true (continue, or start over?)")
    check("model.path", bool(cfg.model.path), "be a path, a Hub id or 'tiny'")
    check("data.source", bool(cfg.data.source), "name a file, a benchmark or a Hub dataset")
    from progrpo_eval.scoring import scorer_names  # the registry; imports math-verify (about a second)

    check("data.reward", cfg.data.reward in scorer_names(), f"name a registered scorer ({', '.join(scorer_names())})")
    check(
        "data.overlong_buffer",
        cfg.data.overlong_buffer < cfg.rollout.max_tokens,
        f"be below rollout.max_tokens={cfg.rollout.max_tokens}",
    )
    algorithm = cfg.algorithm
    check(
        "algorithm.clip_cov_ub",
        algorithm.clip_cov_ub > algorithm.clip_cov_lb,
        f"be above algorithm.clip_cov_lb={algorithm.clip_cov_lb}",
    )
    check(
        "algorithm.aggregation",
        algorithm.loss != "flowrl" or algorithm.aggregation == "seq-mean-token-mean",
        "be 'seq-mean-token-mean' with algorithm.loss=flowrl (FlowRL's loss is a mean over sequences)",
    )
    check(
        "optim.batch_size",
        cfg.optim.batch_size % cfg.optim.mini_batch_size == 0,
        f"be a multiple of optim.mini_batch_size={cfg.optim.mini_batch_size}",
    )
    per_update = cfg.optim.mini_batch_size * cfg.rollout.n
    check(
        "optim.micro_batch_size",
        per_update % cfg.optim.micro_batch_size == 0,
        f"divide optim.mini_batch_size * rollout.n = {per_update}",
    )
    zero_stage = cfg.deepspeed.zero_stage
    check(
        "deepspeed.offload_optimizer",
        not cfg.deepspeed.offload_optimizer or zero_stage >= 1,
        "be false with deepspeed.zero_stage=0",
    )
    check(
        "deepspeed.offload_params",
        not cfg.deepspeed.offload_params or zero_stage == 3,
        "be false unless deepspeed.zero_stage=3",
    )


def model_path(cfg: TrainConfig) -> str:
    """The model directory or Hub id the trainer loads (out_dir/tiny-model for "tiny")."""
    if cfg.model.path == TINY_MODEL:
        return str(Path(cfg.out_dir) / TINY_MODEL_DIR_NAME)
    return cfg.model.path


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """A recipe (file or packaged name; None: the defaults) with `key=value` overrides, in order."""
    return load_tree(TrainConfig, path, overrides)
