"""The training configuration: one tree of frozen dataclasses, loaded from a YAML recipe.

    TrainConfig(out_dir, max_steps, seed, resume, model, data, rollout, algorithm, optim, deepspeed, logging, checkpoint)

- Defaults are the paper's math setup (Table 1, Sec. 4.1); the packaged recipes spell out every key.
- Recipes are YAML mirroring the tree; `key=value` overrides use dotted keys (`optim.lr=1e-6`).
  Values are checked against the field's type: "1e-6" becomes a float (PyYAML 1.1 reads it as a
  string), 512.0 an int; a string field takes an override's text as typed, never as YAML.
- Unknown keys, wrong types and values outside a Literal's choices raise ValueError naming the
  dotted key and what is allowed. TrainConfig.__post_init__ checks ranges and consistency, so
  every TrainConfig (also one from `dataclasses.replace`) is valid. Configs hold no runtime state.
- No knob for tied embeddings: the trainer sends lm_head with every weight sync (STACK.md).
- model.path "tiny" (`TINY_MODEL`): the trainer builds `progrpo_eval.tiny_model`'s random Qwen2
  into `out_dir/tiny-model` (seeded by `seed`) and trains that, so the CPU toy downloads nothing;
  `model_path(cfg)` is the directory or Hub id to load.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import json
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
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
    reward: Literal["math", "code", "toy"] = "math"  # which reward; "toy": a digit in the answer (CPU smoke runs)
    math_scorer: Literal["dapo", "math_verify"] = "dapo"  # "Answer: X" rule, or math-verify
    instruction: str | None = ""  # after a string prompt; "": none; None: the reward's default
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


# These repeat progrpo_train.algorithm's tuples so that the types stay literal;
# tests/progrpo_train/test_config.py checks that the two agree.
Reweight = Literal["prompt", "group_mean", "exploratory", "absolute"]
Gate = Literal["mixed", "any_correct"]
StdMode = Literal["unbiased", "population"]
Aggregation = Literal["token-mean", "group-token-mean", "seq-mean-token-mean"]


@dataclass(frozen=True)
class AlgorithmConfig:
    """Advantage and loss: the keyword arguments of `progrpo_advantages` and `policy_loss`.
    advantage "grpo" (Eq. 3, the baseline) ignores the confidence fields."""

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
    kl_coef: float = 0.0  # KL penalty to the initial policy (Table 1: none)
    entropy_coef: float = 0.0  # entropy bonus (Table 1: none)


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
    resume: bool = False  # continue from the newest checkpoint in out_dir
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


_AT_LEAST_1 = ["max_steps", "data.max_prompt_length", "rollout.max_tokens",
               "rollout.tensor_parallel_size", "rollout.hf_batch_size", "optim.batch_size", "optim.mini_batch_size",
               "optim.micro_batch_size", "optim.ppo_epochs", "logging.log_every"]
_AT_LEAST_0 = ["seed", "algorithm.alpha", "algorithm.eps", "algorithm.clip_high",
               "algorithm.kl_coef", "algorithm.entropy_coef", "optim.weight_decay",
               "optim.warmup_steps", "optim.grad_clip", "checkpoint.save_every",
               "checkpoint.keep_last"]


def _value_at(cfg: TrainConfig, key: str) -> Any:
    return functools.reduce(getattr, key.split("."), cfg)


def _validate(cfg: TrainConfig) -> None:
    """Range and consistency checks, run by TrainConfig.__post_init__; errors name the key."""
    def check(key: str, ok: bool, requirement: str) -> None:
        if not ok:
            raise ValueError(f"{key} must {requirement}, got {_value_at(cfg, key)!r}")
    for key in _AT_LEAST_1:
        check(key, _value_at(cfg, key) >= 1, "be >= 1")
    for key in _AT_LEAST_0:
        check(key, _value_at(cfg, key) >= 0, "be >= 0")
    check("out_dir", bool(cfg.out_dir), "be a directory path")
    check("model.path", bool(cfg.model.path), "be a path, a Hub id or 'tiny'")
    check("data.source", bool(cfg.data.source), "name a file, a benchmark or a Hub dataset")
    check("data.limit", cfg.data.limit is None or cfg.data.limit >= 1, "be null or >= 1")
    check("rollout.n", cfg.rollout.n >= 2, "be >= 2 (GRPO compares the responses to a prompt)")
    check("rollout.temperature", cfg.rollout.temperature > 0, "be > 0")
    check("rollout.top_p", 0 < cfg.rollout.top_p <= 1, "be in (0, 1]")
    check("rollout.gpu_memory_utilization", 0 < cfg.rollout.gpu_memory_utilization <= 1,
          "be in (0, 1]")
    check("algorithm.low_prob_fraction", 0 < cfg.algorithm.low_prob_fraction <= 1, "be in (0, 1]")
    check("algorithm.clip_low", 0 <= cfg.algorithm.clip_low < 1, "be in [0, 1)")
    check("optim.lr", cfg.optim.lr > 0, "be > 0")
    check("optim.betas", all(0 <= beta < 1 for beta in cfg.optim.betas), "be two values in [0, 1)")
    check("optim.batch_size", cfg.optim.batch_size % cfg.optim.mini_batch_size == 0,
          f"be a multiple of optim.mini_batch_size={cfg.optim.mini_batch_size}")
    per_update = cfg.optim.mini_batch_size * cfg.rollout.n
    check("optim.micro_batch_size", per_update % cfg.optim.micro_batch_size == 0,
          f"divide optim.mini_batch_size * rollout.n = {per_update}")
    zero_stage = cfg.deepspeed.zero_stage
    check("deepspeed.zero_stage", zero_stage in (0, 1, 2, 3), "be 0, 1, 2 or 3")
    check("deepspeed.offload_optimizer", not cfg.deepspeed.offload_optimizer or zero_stage >= 1,
          "be false with deepspeed.zero_stage=0")
    check("deepspeed.offload_params", not cfg.deepspeed.offload_params or zero_stage == 3,
          "be false unless deepspeed.zero_stage=3")


def model_path(cfg: TrainConfig) -> str:
    """The model directory or Hub id the trainer loads (out_dir/tiny-model for "tiny")."""
    if cfg.model.path == TINY_MODEL:
        return str(Path(cfg.out_dir) / TINY_MODEL_DIR_NAME)
    return cfg.model.path


def list_recipes() -> list[str]:
    """Names of the packaged recipes (usable as `--config NAME`)."""
    return sorted(path.stem for path in RECIPES_DIR.glob("*.yaml"))


def resolve_recipe(name_or_path: str | Path) -> Path:
    """An existing file as given, else the packaged recipe of that name ("toy", "toy.yaml")."""
    path, text = Path(name_or_path).expanduser(), str(name_or_path)
    if path.is_file():
        return path
    packaged = RECIPES_DIR / (text if text.endswith((".yaml", ".yml")) else f"{text}.yaml")
    if "/" not in text and "\\" not in text and packaged.is_file():
        return packaged
    raise ValueError(f"no config file or packaged recipe named {text!r}; packaged recipes: "
                     f"{', '.join(list_recipes())}")


def _unknown_key(name: str, prefix: str, known: Sequence[str]) -> ValueError:
    """The closest known key (at this level, else this name in a section) and all known here."""
    close = [prefix + match for match in difflib.get_close_matches(name, known, n=1)]
    close += [f"{section}.{name}" for section, annotation in get_type_hints(TrainConfig).items()
              if dataclasses.is_dataclass(annotation) and name in get_type_hints(annotation)]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    level = f"in {prefix[:-1]}" if prefix else "at the top level"
    known_keys = ", ".join(known)
    return ValueError(f"unknown key {prefix + name!r}{hint}; known keys {level}: {known_keys}")


def _type_name(annotation: Any) -> str:
    """How an error message says what a field accepts."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in args)
    if origin in (Union, types.UnionType):
        return " or ".join("null" if arm is type(None) else _type_name(arm) for arm in args)
    if origin is tuple:
        items = f"items: {_type_name(args[0])}" if args[-1] is Ellipsis else f"{len(args)} items"
        return f"a list ({items})"
    return {bool: "true or false", int: "an integer", float: "a number"}.get(annotation, "a string")


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """`value` as the field type `annotation` (bools and numbers never mix), else ValueError."""
    origin, args = get_origin(annotation), get_args(annotation)
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin is Literal:
        if any(value == choice and type(value) is type(choice) for choice in args):
            return value
    elif origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arm in (arm for arm in args if arm is not type(None)):
            with contextlib.suppress(ValueError):
                return _coerce(value, arm, key)
    elif origin is tuple and isinstance(value, (list, tuple)):
        item_types = [args[0]] * len(value) if args[-1] is Ellipsis else list(args)
        if len(value) == len(item_types):
            return tuple(_coerce(item, item_type, f"{key}[{index}]")
                         for index, (item, item_type) in enumerate(zip(value, item_types)))
    elif annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation in (int, float) and (is_number or isinstance(value, str)):
        if isinstance(value, int):
            return annotation(value)
        with contextlib.suppress(ValueError):
            number = float(value)  # "1e-6": YAML 1.1 reads it as a string
            if annotation is float or number.is_integer():
                return annotation(number)
    elif annotation is str and (is_number or isinstance(value, str)):
        return str(value)
    raise ValueError(f"{key} must be {_type_name(annotation)}, got {value!r}")


def _build(cls: type, values: Any, prefix: str = "") -> Any:
    """A config dataclass `cls` from a mapping (nested mappings for nested sections)."""
    values = {} if values is None else values  # `optim:` with nothing under it
    if not isinstance(values, Mapping):
        raise ValueError(f"{prefix[:-1] or 'the config'} must be a mapping of keys, got {values!r}")
    hints = get_type_hints(cls)
    arguments = {}
    for name, value in values.items():
        if name not in hints:
            raise _unknown_key(str(name), prefix, list(hints))
        if dataclasses.is_dataclass(hints[name]):
            arguments[name] = _build(hints[name], value, f"{prefix}{name}.")
        else:
            arguments[name] = _coerce(value, hints[name], prefix + name)
    return cls(**arguments)


def _apply_override(tree: dict, override: str) -> None:
    """Set one `dotted.key=value` in the raw tree, checking the key. A string field takes the
    text as typed unless null or ~ (`Answer: x` is no YAML mapping, `0123` no octal number)."""
    key, separator, text = override.partition("=")
    names = key.strip().split(".")
    if not separator or not key.strip():
        raise ValueError(f"override {override!r} is not key=value (e.g. optim.lr=1e-6)")
    cls, node, prefix = TrainConfig, tree, ""
    for depth, name in enumerate(names):
        hints = get_type_hints(cls)
        if name not in hints:
            raise _unknown_key(name, prefix, list(hints))
        annotation, is_section = hints[name], dataclasses.is_dataclass(hints[name])
        if depth == len(names) - 1:
            break
        if not is_section:
            raise ValueError(f"{prefix + name} is a value, not a section: {key!r} means nothing")
        if node.get(name) is None:
            node[name] = {}
        if not isinstance(node[name], dict):
            raise ValueError(f"{prefix + name} must be a mapping of keys, got {node[name]!r}")
        cls, node, prefix = annotation, node[name], f"{prefix}{name}."
    if is_section:
        first_key = next(iter(get_type_hints(annotation)))
        raise ValueError(f"{prefix + name} is a section; set one of its keys, e.g. "
                         f"{prefix}{name}.{first_key}=...")
    takes_text = annotation is str or (get_origin(annotation) in (Union, types.UnionType)
                                       and str in get_args(annotation))
    if takes_text and text.strip() not in ("null", "~"):
        node[name] = text
        return
    try:
        node[name] = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{key.strip()}: cannot read {text!r} as a YAML value") from error


def _read_yaml(path: Path) -> dict:
    """The recipe's top-level mapping (an empty file is an empty one)."""
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: invalid YAML: {' '.join(str(error).split())}") from error
    if not isinstance(tree, (dict, type(None))):
        raise ValueError(f"{path}: expected a mapping of keys, got {type(tree).__name__}")
    return tree or {}


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> TrainConfig:
    """A recipe (file or packaged name; None: the defaults) with `key=value` overrides, in order."""
    tree = _read_yaml(resolve_recipe(path)) if path is not None else {}
    for override in overrides:
        _apply_override(tree, override)
    return _build(TrainConfig, tree)


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """Plain nested dicts in field order, tuples as lists: ready for YAML or JSON."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_to_yaml(cfg: TrainConfig) -> str:
    """The config as YAML that `load_config` reads back to an equal config."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True)


def dump_config(cfg: TrainConfig, path: str | Path) -> Path:
    """Write the config as YAML to `path` (the run record, e.g. out_dir/config.yaml)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_to_yaml(cfg), encoding="utf-8")
    return path
