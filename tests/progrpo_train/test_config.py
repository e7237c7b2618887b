"""The config tree, its YAML recipes, key=value overrides and the progrpo-train command line."""

import dataclasses
import math
import subprocess
import sys
import types
import typing
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import progrpo_train.choices as choices_module
from progrpo_train.cli import app
from progrpo_train.config import (
    NUMERIC_RANGES,
    RECIPES_DIR,
    AlgorithmConfig,
    TrainConfig,
    config_to_dict,
    config_to_yaml,
    dump_config,
    leaf_values,
    list_recipes,
    load_config,
    model_path,
    resolve_recipe,
)
from progrpo_train.config_loader import base_recipes

RECIPES = ["code_r1_distill_7b", "math_qwen2.5_32b", "math_qwen2.5_7b", "math_r1_distill_1.5b", "toy"]
VARIANTS = [
    "grpo_verl",
    "grpo_eq3",
    "kl_cov",
    "clip_cov",
    "flowrl",
    "alpha_0",
    "alpha_0.7",
    "alpha_1",
    "exploratory",
    "group_mean",
    "absolute",
    "gate_any_correct",
]


def value_at(cfg, dotted_key):
    for name in dotted_key.split("."):
        cfg = getattr(cfg, name)
    return cfg


def leaf_keys(tree, prefix=""):
    keys = set()
    for name, value in tree.items():
        keys |= leaf_keys(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name}
    return keys


# ------------------------------------------------------------------------- recipes
def test_packaged_recipes_are_listed():
    assert set(RECIPES) <= set(base_recipes())
    variants = [f"{recipe}:{variant}" for recipe in base_recipes() for variant in VARIANTS]
    assert list_recipes() == base_recipes() + variants


@pytest.mark.parametrize("recipe", list_recipes())
def test_recipe_loads_and_round_trips(recipe, tmp_path):
    cfg = load_config(recipe)
    assert load_config(dump_config(cfg, tmp_path / "config.yaml")) == cfg
    assert yaml.safe_load(config_to_yaml(cfg)) == config_to_dict(cfg)


def test_awkward_values_round_trip(tmp_path):
    overrides = [
        "model.path=0123",
        "data.instruction=Answer: x",
        "logging.wandb_project=yes",
        "data.hub_configs=[a, '1']",
        "optim.lr=1e-7",
        "data.limit=3",
    ]
    cfg = load_config("toy", overrides)
    assert load_config(dump_config(cfg, tmp_path / "config.yaml")) == cfg
    assert cfg.logging.wandb_project == "yes" and cfg.data.hub_configs == ("a", "1")


@pytest.mark.parametrize("recipe", base_recipes())
def test_recipe_spells_out_every_key(recipe):
    """Every recipe file spells out every key, itself or through the recipe it extends."""
    written = yaml.safe_load(resolve_recipe(recipe).read_text())
    parent = written.pop("extends", None)
    if parent is not None:
        written = yaml.safe_load(resolve_recipe(parent).read_text())
        assert "extends" not in written  # one level: the paper recipe it starts from
    assert leaf_keys(written) == leaf_keys(config_to_dict(TrainConfig()))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_variant_changes_its_keys_and_the_out_dir_only(variant):
    base = config_to_dict(load_config("math_qwen2.5_7b"))
    varied = config_to_dict(load_config(f"math_qwen2.5_7b:{variant}"))
    declared = set(yaml.safe_load((RECIPES_DIR / "variants.yaml").read_text())[variant]["set"])
    changed = {key for key in leaf_keys(base) if value_at_dict(base, key) != value_at_dict(varied, key)}
    assert changed <= declared | {"out_dir"} and changed - {"out_dir"}
    assert varied["out_dir"] == f"runs/math_qwen2.5_7b-{variant}"


def value_at_dict(tree, dotted_key):
    for name in dotted_key.split("."):
        tree = tree[name]
    return tree


def test_grpo_baselines_are_the_papers_eq3_and_verls():
    eq3, verl = load_config("math_qwen2.5_7b:grpo_eq3").algorithm, load_config("math_qwen2.5_7b:grpo_verl").algorithm
    assert (eq3.advantage, eq3.clip_low, eq3.clip_high, eq3.aggregation) == ("grpo", 0.2, 0.2, "seq-mean-token-mean")
    assert (verl.advantage, verl.clip_low, verl.clip_high, verl.aggregation) == ("grpo", 0.2, 0.28, "token-mean")


def test_an_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown recipe variant 'klcov'; variants: grpo_verl, grpo_eq3, kl_cov"):
        load_config("toy:klcov")


def test_a_recipe_extends_another_section_by_section(tmp_path):
    (tmp_path / "mine.yaml").write_text("extends: toy\nmax_steps: 9\noptim:\n  lr: 2.0e-5\n")
    (tmp_path / "child.yaml").write_text("extends: mine.yaml\nrollout:\n  n: 8\n")  # relative to the file
    cfg, toy = load_config(tmp_path / "child.yaml"), load_config("toy")
    assert (cfg.max_steps, cfg.optim.lr, cfg.rollout.n) == (9, 2e-5, 8)
    assert cfg.optim.batch_size == toy.optim.batch_size and cfg.model == toy.model
    (tmp_path / "mine.yaml").write_text("extends: child.yaml\n")
    with pytest.raises(ValueError, match="loops back"):
        load_config(tmp_path / "child.yaml")


TABLE_1 = [  # the paper's Table 1 and Sec. 4.1, in both paper recipes
    ("algorithm.kl_coef", 0.0),
    ("algorithm.entropy_coef", 0.0),
    ("optim.batch_size", 512),
    ("rollout.max_tokens", 8192),
    ("optim.mini_batch_size", 32),
    ("algorithm.clip_low", 0.2),
    ("algorithm.clip_high", 0.28),
    ("optim.lr", 1e-6),
    ("rollout.temperature", 1.0),
    ("rollout.n", 8),
    ("algorithm.alpha", 0.3),
    ("algorithm.low_prob_fraction", 0.2),
    ("algorithm.advantage", "progrpo"),
    ("algorithm.reweight", "prompt"),
    ("algorithm.gate", "mixed"),
    ("algorithm.aggregation", "token-mean"),
    ("deepspeed.zero_stage", 3),
    ("deepspeed.bf16", True),
]
PAPER_RECIPES = {
    "math_qwen2.5_32b": [
        ("model.path", "Qwen/Qwen2.5-32B"),
        ("data.source", "BytedTsinghua-SIA/DAPO-Math-17k"),
        ("algorithm.kl_cov_ratio", 0.0002),
    ],
    "math_r1_distill_1.5b": [
        ("model.path", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"),
        ("data.source", "BytedTsinghua-SIA/DAPO-Math-17k"),
        ("algorithm.kl_cov_ratio", 0.002),
    ],
    "math_qwen2.5_7b": [
        ("model.path", "Qwen/Qwen2.5-7B"),
        ("data.reward", "dapo"),
        ("data.source", "BytedTsinghua-SIA/DAPO-Math-17k"),
    ],
    "code_r1_distill_7b": [
        ("model.path", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"),
        ("data.reward", "code"),
        ("data.split", "train"),
        ("data.source", "agentica-org/DeepCoder-Preview-Dataset"),
    ],
}


@pytest.mark.parametrize(
    "recipe, key, expected",
    [(recipe, key, expected) for recipe, own in PAPER_RECIPES.items() for key, expected in TABLE_1 + own],
)
def test_paper_recipes_follow_table_1(recipe, key, expected):
    assert value_at(load_config(recipe), key) == expected


@pytest.mark.parametrize("section", ["model", "data", "rollout", "algorithm", "optim", "deepspeed"])
def test_defaults_are_the_paper_math_recipe(section):
    recipe = getattr(load_config("math_qwen2.5_7b"), section)
    if section == "algorithm":  # the default is verl's 0.0002; the recipe takes Cui et al.'s 7B value
        assert AlgorithmConfig().kl_cov_ratio == 0.0002 and recipe.kl_cov_ratio == 0.002
        recipe = dataclasses.replace(recipe, kl_cov_ratio=0.0002)
    assert getattr(load_config(None), section) == recipe


TOY = [
    ("model.path", "tiny"),
    ("data.source", "aime24"),
    ("optim.batch_size", 2),
    ("optim.mini_batch_size", 1),
    ("optim.micro_batch_size", 4),
    ("rollout.n", 4),
    ("rollout.max_tokens", 32),
    ("rollout.backend", "hf"),
    ("deepspeed.zero_stage", 0),
    ("deepspeed.bf16", False),
    ("optim.lr", 1e-4),
    ("max_steps", 4),
    ("checkpoint.save_every", 2),
]


@pytest.mark.parametrize("key, expected", TOY)
def test_toy_recipe(key, expected):
    assert value_at(load_config("toy"), key) == expected


def test_tiny_model_lives_in_out_dir():
    assert model_path(load_config("toy", ["out_dir=/tmp/run"])) == str(Path("/tmp/run/tiny-model"))
    assert model_path(load_config("math_qwen2.5_7b")) == "Qwen/Qwen2.5-7B"


@pytest.mark.parametrize(
    "field_name, constant",
    [
        ("reweight", "REWEIGHT_MODES"),
        ("gate", "GATE_MODES"),
        ("std", "STD_MODES"),
        ("aggregation", "AGGREGATIONS"),
        ("kl_estimator", "KL_ESTIMATORS"),
    ],
)
def test_literal_choices_are_the_algorithms(field_name, constant):
    """The config's choices and the tuples algorithm.py checks against are one definition."""
    import progrpo_train.algorithm as algorithm

    choices = typing.get_args(typing.get_type_hints(AlgorithmConfig)[field_name])
    assert choices == getattr(algorithm, constant) and getattr(algorithm, constant) is getattr(choices_module, constant)


def test_loading_a_config_does_not_import_torch():
    code = "import sys; from progrpo_train.config import load_config; load_config('toy'); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# ------------------------------------------------------------------------ resolving
def test_recipe_resolution(tmp_path, monkeypatch):
    for name in ("toy", "toy.yaml", str(RECIPES_DIR / "toy.yaml")):
        assert resolve_recipe(name) == RECIPES_DIR / "toy.yaml"
    local = tmp_path / "toy"  # an existing file wins over the packaged recipe of that name
    local.write_text("max_steps: 9\n")
    monkeypatch.chdir(tmp_path)
    assert resolve_recipe("toy") == Path("toy") and load_config("toy").max_steps == 9
    with pytest.raises(ValueError, match=f"recipes: {', '.join(base_recipes())} \\(each also as NAME:VARIANT"):
        resolve_recipe("tyo")
    with pytest.raises(ValueError, match="no config file"):
        resolve_recipe("missing/dir/toy.yaml")


# ------------------------------------------------------------------------ overrides
COERCIONS = [  # override, key, expected value (compared with its type)
    ("optim.lr=1e-6", "optim.lr", 1e-6),
    ("optim.lr=3", "optim.lr", 3.0),
    ("optim.lr=.5e-4", "optim.lr", 5e-5),
    ("rollout.n=16", "rollout.n", 16),
    ("optim.batch_size=4.0", "optim.batch_size", 4),
    ("max_steps=10", "max_steps", 10),
    ("seed=7", "seed", 7),
    ("resume=true", "resume", True),
    ("resume=false", "resume", False),
    ("out_dir=runs/x", "out_dir", "runs/x"),
    ("model.path=0123", "model.path", "0123"),  # as typed, not YAML's octal 83
    ("data.instruction=Answer: x", "data.instruction", "Answer: x"),  # not a YAML mapping
    ("data.instruction=", "data.instruction", ""),
    ("data.instruction=null", "data.instruction", None),
    ("data.limit=5", "data.limit", 5),
    ("data.limit=null", "data.limit", None),
    ("algorithm.advantage=grpo", "algorithm.advantage", "grpo"),
    ("algorithm.alpha=0", "algorithm.alpha", 0.0),
    ("deepspeed.zero_stage=3", "deepspeed.zero_stage", 3),
    ("optim.betas=[0.8, 0.99]", "optim.betas", (0.8, 0.99)),
    ("data.hub_configs=[taco, lcbv5]", "data.hub_configs", ("taco", "lcbv5")),
    (" rollout.temperature =0.6", "rollout.temperature", 0.6),
]


@pytest.mark.parametrize("override, key, expected", COERCIONS)
def test_override_coercion(override, key, expected):
    value = value_at(load_config("toy", [override]), key)
    assert value == expected and type(value) is type(expected)


def test_later_override_wins():
    assert load_config("toy", ["rollout.n=6", "rollout.n=8"]).rollout.n == 8


BAD_VALUES = [  # override, error fragment
    ("optim.lr=abc", "optim.lr must be a finite number, got 'abc'"),
    ("optim.lr=inf", "optim.lr must be a finite number, got 'inf'"),
    ("algorithm.alpha=nan", "algorithm.alpha must be a finite number, got 'nan'"),
    ("optim.betas=[0.9, .inf]", "optim.betas[1] must be a finite number, got inf"),
    ("rollout.n=2.5", "rollout.n must be an integer, got 2.5"),
    ("rollout.n=true", "rollout.n must be an integer, got True"),
    ("resume=maybe", "resume must be true or false, got 'maybe'"),
    ("resume=1", "resume must be true or false, got 1"),
    ("algorithm.advantage=ppo", "algorithm.advantage must be one of 'progrpo', 'grpo', got 'ppo'"),
    ("algorithm.aggregation=mean", "must be one of 'token-mean', 'group-token-mean', 'seq-mean-token-mean'"),
    ("rollout.backend=sglang", "rollout.backend must be one of 'vllm', 'hf'"),
    ("optim.betas=[0.9]", "optim.betas must be a list (2 items), got [0.9]"),
    ("data.hub_configs=taco", "data.hub_configs must be a list (items: a string), got 'taco'"),
    ("optim.betas=[0.9, x]", "optim.betas[1] must be a finite number"),
    ("data.limit=many", "data.limit must be an integer or null"),
    ("model.dtype=fp8", "model.dtype must be one of 'bfloat16', 'float16', 'float32'"),
    ("optim=3", "optim is a section; set one of its keys, e.g. optim.lr=..."),
    ("optim.lr.x=3", "optim.lr is a value, not a section"),
    ("max_steps", "override 'max_steps' is not key=value"),
    ("=3", "is not key=value"),
    ("rollout.n=[1", "rollout.n: cannot read '[1' as a YAML value"),
]


@pytest.mark.parametrize("override, fragment", BAD_VALUES)
def test_bad_override_value(override, fragment):
    with pytest.raises(ValueError) as error:
        load_config("toy", [override])
    assert fragment in str(error.value) and "\n" not in str(error.value)


UNKNOWN_KEYS = [  # recipe text or override, the unknown key, suggestion, known keys listed
    ("optim.lrr=1", "optim.lrr", "optim.lr", "known keys in optim: lr, weight_decay, betas"),
    ("max_step=3", "max_step", "max_steps", "known keys at the top level: out_dir, max_steps"),
    ("lr=1e-6", "lr", "optim.lr", "known keys at the top level: out_dir"),
    ("rollout.group_size=8", "rollout.group_size", None, "known keys in rollout: backend, n,"),
    ("optim:\n  learning_rate: 1.0e-6\n", "optim.learning_rate", None, "known keys in optim: lr"),
    ("rollouts:\n  n: 4\n", "rollouts", "rollout", "known keys at the top level: out_dir"),
    ("model:\n  pth: x\n", "model.pth", "model.path", "known keys in model: path, dtype"),
]


@pytest.mark.parametrize("source, key, suggestion, known", UNKNOWN_KEYS)
def test_unknown_key_is_refused_with_known_keys(source, key, suggestion, known, tmp_path):
    if "\n" in source:
        recipe, overrides = tmp_path / "recipe.yaml", []
        recipe.write_text(source)
    else:
        recipe, overrides = "toy", [source]
    with pytest.raises(ValueError) as error:
        load_config(recipe, overrides)
    message = str(error.value)
    assert f"unknown key {key!r}" in message and known in message
    if suggestion:
        assert f"did you mean {suggestion!r}?" in message
    else:
        assert "did you mean" not in message


VALIDATION = [  # overrides on the toy recipe, error fragment naming the key
    (
        ["optim.mini_batch_size=3", "optim.batch_size=4"],
        "optim.batch_size must be a multiple of optim.mini_batch_size=3, got 4",
    ),
    (["rollout.n=1"], "rollout.n must be >= 2"),
    (["algorithm.alpha=-0.1"], "algorithm.alpha must be >= 0, got -0.1"),
    (["algorithm.clip_low=1.5"], "algorithm.clip_low must be in [0, 1], got 1.5"),
    (
        ["algorithm.clip_cov_lb=2", "algorithm.clip_cov_ub=2"],
        "algorithm.clip_cov_ub must be above algorithm.clip_cov_lb=2.0",
    ),
    (["algorithm.loss=flowrl"], "algorithm.aggregation must be 'seq-mean-token-mean' with algorithm.loss=flowrl"),
    (["algorithm.kl_cov_ratio=0"], "algorithm.kl_cov_ratio must be in (0, 1]"),
    (["algorithm.log_z_dropout=1"], "algorithm.log_z_dropout must be in [0, 1)"),
    (["algorithm.clip_high=-0.1"], "algorithm.clip_high must be >= 0"),
    (["algorithm.low_prob_fraction=0"], "algorithm.low_prob_fraction must be in (0, 1]"),
    (["algorithm.kl_coef=-1"], "algorithm.kl_coef must be >= 0"),
    (["deepspeed.zero_stage=4"], "deepspeed.zero_stage must be in [0, 3], got 4"),
    (["deepspeed.offload_params=true"], "deepspeed.offload_params must be false unless"),
    (["deepspeed.offload_optimizer=true"], "deepspeed.offload_optimizer must be false with"),
    (["optim.micro_batch_size=3"], "optim.micro_batch_size must divide optim.mini_batch_size * rollout.n = 4, got 3"),
    (["optim.lr=0"], "optim.lr must be > 0"),
    (["optim.mini_batch_size=0"], "optim.mini_batch_size must be >= 1, got 0"),
    (["optim.betas=[0.9, 1.0]"], "optim.betas must be in [0, 1), got (0.9, 1.0)"),
    (["rollout.top_p=0"], "rollout.top_p must be in (0, 1]"),
    (["rollout.temperature=0"], "rollout.temperature must be > 0"),
    (["max_steps=0"], "max_steps must be >= 1, got 0"),
    (["model.path="], "model.path must be a path, a Hub id or 'tiny'"),
    (["data.limit=0"], "data.limit must be >= 1, got 0"),
    (["checkpoint.keep_last=-1"], "checkpoint.keep_last must be >= 0"),
]


@pytest.mark.parametrize("overrides, fragment", VALIDATION)
def test_validation_names_the_key(overrides, fragment):
    with pytest.raises(ValueError) as error:
        load_config("toy", overrides)
    assert fragment in str(error.value)


def test_config_is_frozen_and_replace_validates():
    cfg = load_config("toy")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.optim.lr = 1.0
    with pytest.raises(ValueError, match="rollout.n must be >= 2"):
        dataclasses.replace(cfg, rollout=dataclasses.replace(cfg.rollout, n=1))


def test_every_numeric_key_has_a_range():
    numeric = {
        key
        for key, value in leaf_values(TrainConfig()).items()
        if any(
            isinstance(annotation_arm, type) and annotation_arm in (int, float)
            for annotation_arm in typing.get_args(_annotation(key)) + (_annotation(key),)
        )
    }
    assert numeric == set(NUMERIC_RANGES)


def _annotation(dotted_key):
    cls = TrainConfig
    *sections, name = dotted_key.split(".")
    for section in sections:
        cls = typing.get_type_hints(cls)[section]
    return typing.get_type_hints(cls)[name]


@pytest.mark.parametrize("key", ["optim.lr", "algorithm.clip_high", "rollout.temperature"])
def test_non_finite_floats_are_refused_also_through_replace(key):
    cfg = load_config("toy")
    section, name = key.split(".")
    with pytest.raises(ValueError, match=f"{key} must be finite, got inf"):
        dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **{name: math.inf})})


BAD_FILES = [  # recipe text, error fragment
    ("optim: [1, 2]\n", "optim must be a mapping of keys"),
    ("- 1\n- 2\n", "expected a mapping of keys, got list"),
    ("optim:\n  lr: [\n", "invalid YAML: while parsing a flow"),
]


@pytest.mark.parametrize("text, fragment", BAD_FILES)
def test_bad_recipe_file(text, fragment, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    with pytest.raises(ValueError) as error:
        load_config(recipe)
    assert fragment in str(error.value)


def test_empty_sections_and_files_take_defaults(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("optim:\n")
    assert load_config(recipe) == TrainConfig()
    recipe.write_text("")
    assert load_config(recipe, ["optim.lr=2e-6"]).optim.lr == 2e-6


# ----------------------------------------------------------------------------- CLI
runner = CliRunner()


def test_cli_print_config_round_trips(tmp_path):
    overrides = ["optim.lr=1e-5", "rollout.n=8"]
    result = runner.invoke(app, ["--config", "toy", *overrides, "--print-config"])
    assert result.exit_code == 0, result.output
    printed = tmp_path / "printed.yaml"
    printed.write_text(result.stdout)
    assert load_config(printed) == load_config("toy", overrides)


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        (["--config", "toy", "optim.lrr=1"], "error: unknown key 'optim.lrr' (did you mean 'optim.lr"),
        (["--config", "toy", "rollout.n=1"], "error: rollout.n must be >= 2"),
        (["--config", "nope"], "error: no config file or packaged recipe named 'nope'"),
        (["-c", "toy", "algorithm.gate=all"], "error: algorithm.gate must be one of"),
    ],
)
def test_cli_bad_config_exits_2_with_one_error_line(arguments, fragment):
    result = runner.invoke(app, arguments + ["--print-config"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(fragment) and result.stdout == ""
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_help_lists_recipes_and_options():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for text in RECIPES + VARIANTS + ["--config", "--print-config", "--list-recipes", "KEY=VALUE", "optim.lr=1e-6"]:
        assert text in result.stdout


def test_cli_lists_every_recipe_one_line_each():
    result = runner.invoke(app, ["--list-recipes"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == len(list_recipes())
    assert all(line.startswith(f"  {name}: ") for line, name in zip(lines, list_recipes()))
    assert "  math_qwen2.5_7b:kl_cov: GRPO + KL-Cov (Cui et al. 2025)" in result.stdout


def test_cli_trains_with_the_resolved_config(monkeypatch):
    seen = []
    fake_trainer = types.ModuleType("progrpo_train.trainer")
    fake_trainer.train = seen.append
    monkeypatch.setitem(sys.modules, "progrpo_train.trainer", fake_trainer)
    result = runner.invoke(app, ["-c", "toy", "max_steps=2", "out_dir=runs/t"])
    assert result.exit_code == 0, result.output
    assert seen == [load_config("toy", ["max_steps=2", "out_dir=runs/t"])]
