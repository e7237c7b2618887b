"""The training run directory: what a run may find in `out_dir` before it starts.

    out_dir/config.yaml   the resolved config of the latest start
    out_dir/metrics.jsonl one line per step
    out_dir/checkpoints/  see checkpoint.py
    out_dir/tensorboard/  with logging.tensorboard=true
    out_dir/tiny-model/   model.path=tiny builds its random model here

Decisions:
- A run refuses a non-empty out_dir unless `resume=true` (continue it) or `overwrite=true`
  (delete the files listed above first; anything else in out_dir is left alone), so a finished
  run is never truncated or mixed with a new one by accident.
- A resume must use the config the run started with. Only the keys in `MAY_CHANGE_ON_RESUME`
  may differ (how long to run, where metrics go, how often to save, and where the directory now
  lives); any other difference is refused, naming every changed key. Keys the run's config.yaml
  does not have (added to progrpo after the run started) are not compared.
- `resume=true` without a complete checkpoint is refused rather than silently starting at step 0.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from progrpo_train.config import TrainConfig, leaf_values, load_config

OUTPUTS = ("config.yaml", "metrics.jsonl", "checkpoints", "tensorboard", "tiny-model")
MAY_CHANGE_ON_RESUME = (
    "out_dir",
    "max_steps",
    "resume",
    "overwrite",
    "logging.*",
    "checkpoint.save_every",
    "checkpoint.keep_last",
)


class SetupError(ValueError):
    """Something the user can fix that stops training before the first step (one `error:` line)."""


def may_change_on_resume(key: str) -> bool:
    return any(
        key == allowed or (allowed.endswith(".*") and key.startswith(allowed[:-1])) for allowed in MAY_CHANGE_ON_RESUME
    )


def check_out_dir(cfg: TrainConfig) -> None:
    """Refuse a non-empty out_dir unless resuming or overwriting (read-only: every rank may call it)."""
    out_dir = Path(cfg.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SetupError(f"out_dir {out_dir} is a file, not a directory")
    if cfg.resume or cfg.overwrite or not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    raise SetupError(
        f"out_dir {out_dir} is not empty (a previous run?); continue it with resume=true, "
        f"replace it with overwrite=true, or choose another out_dir"
    )


def remove_previous_run(out_dir: Path) -> None:
    """overwrite=true: delete the files a previous run wrote (main process only)."""
    for name in OUTPUTS:
        path = Path(out_dir) / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def config_differences(saved: TrainConfig, current: TrainConfig, compared: set[str] | None = None) -> list[str]:
    """'key: old -> new' for every key that differs and may not change on resume; `compared`: only
    these keys (those the run's config.yaml spells out; a key added to progrpo since has no old value)."""
    old, new = leaf_values(saved), leaf_values(current)
    return [
        f"{key}: {old[key]!r} -> {new[key]!r}"
        for key in new
        if (compared is None or key in compared) and old.get(key) != new[key] and not may_change_on_resume(key)
    ]


def _written_keys(tree: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in tree.items():
        keys |= _written_keys(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name}
    return keys


def check_resume(cfg: TrainConfig, checkpoint: Path | None) -> None:
    """Refuse resume=true without a checkpoint, or with a config that differs from the run's."""
    out_dir = Path(cfg.out_dir)
    if checkpoint is None:
        raise SetupError(
            f"resume=true but {out_dir / 'checkpoints'} holds no complete checkpoint; start without "
            f"resume=true (add overwrite=true if {out_dir} is not empty)"
        )
    saved_path = out_dir / "config.yaml"
    try:
        saved = load_config(saved_path)
        written = _written_keys(yaml.safe_load(saved_path.read_text(encoding="utf-8")) or {})
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise SetupError(f"resume=true but the run's {saved_path} cannot be read: {error}") from error
    changed = config_differences(saved, cfg, written)
    if changed:
        allowed = ", ".join(MAY_CHANGE_ON_RESUME)
        raise SetupError(
            f"resume=true with a config that differs from {saved_path}: {'; '.join(changed)} "
            f"(only {allowed} may change on resume; use another out_dir for a new run)"
        )
