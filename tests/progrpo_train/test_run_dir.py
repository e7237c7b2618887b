"""The run directory's refusals, without a training run (tests/robustness/ replays them end to end)."""

from pathlib import Path

import pytest
import yaml

from progrpo_train.config import config_to_dict, dump_config, load_config
from progrpo_train.run_dir import (
    SetupError,
    check_out_dir,
    check_resume,
    config_differences,
    may_change_on_resume,
    remove_previous_run,
)


def test_an_empty_or_missing_out_dir_is_fine_and_a_used_one_is_refused(tmp_path):
    check_out_dir(load_config("toy", [f"out_dir={tmp_path / 'missing'}"]))
    check_out_dir(load_config("toy", [f"out_dir={tmp_path}"]))
    (tmp_path / "metrics.jsonl").write_text("{}\n")
    with pytest.raises(SetupError, match="is not empty"):
        check_out_dir(load_config("toy", [f"out_dir={tmp_path}"]))
    for flag in ("resume=true", "overwrite=true"):
        check_out_dir(load_config("toy", [f"out_dir={tmp_path}", flag]))


def test_overwrite_removes_only_the_trainers_files(tmp_path):
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "checkpoints/step-000001/COMPLETE",
        "tiny-model/config.json",
        "notes.txt",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    remove_previous_run(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    "key, allowed",
    [
        ("max_steps", True),
        ("logging.log_every", True),
        ("logging.wandb", True),
        ("checkpoint.save_every", True),
        ("checkpoint.keep_last", True),
        ("out_dir", True),
        ("resume", True),
        ("optim.lr", False),
        ("rollout.n", False),
        ("seed", False),
        ("algorithm.loss", False),
        ("loggingx", False),
    ],
)
def test_what_may_change_on_resume(key, allowed):
    assert may_change_on_resume(key) is allowed


def test_differences_name_every_changed_key_but_the_allowed_ones():
    saved = load_config("toy")
    current = load_config("toy", ["max_steps=9", "optim.lr=2e-4", "algorithm.gate=any_correct", "logging.log_every=5"])
    assert config_differences(saved, current) == [
        "algorithm.gate: 'mixed' -> 'any_correct'",
        "optim.lr: 0.0001 -> 0.0002",
    ]


def _checkpoint(out_dir: Path) -> Path:
    checkpoint = out_dir / "checkpoints" / "step-000001"
    checkpoint.mkdir(parents=True)
    return checkpoint


def test_resume_compares_with_the_runs_config_yaml(tmp_path):
    cfg = load_config("toy", [f"out_dir={tmp_path}", "resume=true"])
    with pytest.raises(SetupError, match="holds no complete checkpoint"):
        check_resume(cfg, None)
    dump_config(load_config("toy", [f"out_dir={tmp_path}", "rollout.n=8"]), tmp_path / "config.yaml")
    with pytest.raises(SetupError, match="rollout.n: 8 -> 4"):
        check_resume(cfg, _checkpoint(tmp_path))


def test_keys_the_runs_config_yaml_lacks_are_not_compared(tmp_path):
    """A run started before a key existed (its config.yaml has no algorithm.kl_cov_ratio) still resumes."""
    tree = config_to_dict(load_config("toy", [f"out_dir={tmp_path}"]))
    del tree["algorithm"]["kl_cov_ratio"]  # the default (0.0002) differs from the toy recipe's (0.002)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tree))
    check_resume(load_config("toy", [f"out_dir={tmp_path}", "resume=true"]), _checkpoint(tmp_path))


def test_an_unreadable_run_config_is_said_so(tmp_path):
    (tmp_path / "config.yaml").write_text("optim: {lrr: 1}\n")
    with pytest.raises(SetupError, match="cannot be read: unknown key 'optim.lrr'"):
        check_resume(load_config("toy", [f"out_dir={tmp_path}", "resume=true"]), _checkpoint(tmp_path))
