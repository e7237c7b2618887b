"""Checkpoints: a Hugging Face model for `progrpo-eval run --model`, plus the state to resume.

    out_dir/checkpoints/step-000002/
      hf/              safetensors + config + tokenizer (what the evaluator loads)
      deepspeed/       engine.save_checkpoint: weights, optimizer, scheduler (and extra heads)
      trainer.json     step, data position, skipped updates
      rng-rank{r}.json python/numpy/torch(/cuda) RNG states of rank r, as plain JSON numbers
      COMPLETE         written last: the step and every file of the checkpoint with its size

Everything is written into `.step-000002.partial/` and renamed into place only when complete,
so a kill -9 during a write leaves a partial directory that resume ignores and deletes, never
a checkpoint that looks complete but is not. A checkpoint whose files no longer match its
COMPLETE list (a file deleted or truncated afterwards) is skipped with a warning, and resume
falls back to the previous intact one.

Decisions:
- Nothing here is unpickled: the RNG states are JSON lists (numpy's key as uint32s, torch's
  state as its uint8 bytes). DeepSpeed's own `load_checkpoint` does run `torch.load` with
  `weights_only=False` on `deepspeed/`, so a checkpoint directory is trusted input (README).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch

from progrpo_eval.atomic import atomic_write_json
from progrpo_train.distributed import barrier, is_main, rank
from progrpo_train.run_dir import SetupError

COMPLETE = "COMPLETE"
REQUIRED = ("trainer.json", "hf/config.json", "deepspeed/latest")  # checked where COMPLETE lists no files


class PickledStateError(SetupError):
    """An RNG file in the pickled format of older progrpo versions, which we refuse to load."""


def checkpoint_root(out_dir: str | Path) -> Path:
    return Path(out_dir) / "checkpoints"


def rng_state() -> dict:
    """This process's RNG states as plain JSON data."""
    version, internal, gauss_next = random.getstate()
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss_next],
        "numpy": [name, keys.tolist(), int(position), int(has_gauss), float(cached_gaussian)],
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [device_state.tolist() for device_state in torch.cuda.get_rng_state_all()]
    return state


def restore_rng(saved: dict) -> None:
    """Restore what `rng_state` wrote."""
    version, internal, gauss_next = saved["python"]
    random.setstate((version, tuple(internal), gauss_next))
    name, keys, position, has_gauss, cached_gaussian = saved["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))
    torch.set_rng_state(torch.tensor(saved["torch"], dtype=torch.uint8))
    if "cuda" in saved and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(state, dtype=torch.uint8) for state in saved["cuda"]])


def _file_sizes(directory: Path) -> dict[str, int]:
    return {
        str(path.relative_to(directory)): path.stat().st_size for path in sorted(directory.rglob("*")) if path.is_file()
    }


def save_checkpoint(
    engine,
    tokenizer,
    out_dir: str | Path,
    step: int,
    trainer_state: dict,
    zero_stage: int,
    keep_last: int,
    *,
    exclude_from_hf: str | None = None,
    hf_files: dict[str, dict] | None = None,
) -> Path:
    """Write checkpoint `step` atomically (all ranks call this) and prune old ones.

    `exclude_from_hf`: a parameter-name prefix left out of the Hugging Face export (a training
    head such as FlowRL's log Z, which the evaluator's model has no place for); the DeepSpeed
    state keeps it. `hf_files`: JSON files written beside the export (the training prompt record).
    """
    root = checkpoint_root(out_dir)
    final = root / f"step-{step:06d}"
    partial = root / f".step-{step:06d}.partial"
    if is_main():
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    barrier()
    engine.save_checkpoint(str(partial / "deepspeed"), tag="state")
    state_dict = engine._zero3_consolidated_16bit_state_dict() if zero_stage == 3 else None
    if is_main():
        if exclude_from_hf:
            state_dict = {
                name: tensor
                for name, tensor in (state_dict or engine.module.state_dict()).items()
                if not name.startswith(exclude_from_hf)
            }
        engine.module.save_pretrained(partial / "hf", state_dict=state_dict, safe_serialization=True)
        tokenizer.save_pretrained(partial / "hf")
        for name, payload in (hf_files or {}).items():
            atomic_write_json(partial / "hf" / name, payload)
        atomic_write_json(partial / "trainer.json", {**trainer_state, "step": step})
    atomic_write_json(partial / f"rng-rank{rank()}.json", rng_state())
    barrier()
    if is_main():
        atomic_write_json(partial / COMPLETE, {"step": step, "files": _file_sizes(partial)})
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        _prune(root, keep_last)
    barrier()
    return final


def _prune(root: Path, keep_last: int) -> None:
    if keep_last <= 0:
        return
    for old in complete_checkpoints(root)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


def complete_checkpoints(root: Path) -> list[Path]:
    """Checkpoint directories with a COMPLETE marker, oldest first."""
    return sorted(path for path in Path(root).glob("step-*") if (path / COMPLETE).is_file())


def missing_files(checkpoint: Path) -> list[str]:
    """What the checkpoint's COMPLETE list names that is gone or has another size (empty: intact)."""
    try:
        listed = json.loads((checkpoint / COMPLETE).read_text())
    except (OSError, json.JSONDecodeError):
        return [COMPLETE]
    if not isinstance(listed, dict):  # an older checkpoint: COMPLETE holds only the step
        return [name for name in REQUIRED if not (checkpoint / name).exists()]
    missing = []
    for name, size in listed["files"].items():
        path = checkpoint / name
        if not path.is_file() or path.stat().st_size != size:
            missing.append(name)
    return missing


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest intact checkpoint (newer broken ones are skipped with a warning); partial
    leftovers of a killed writer are deleted."""
    root = checkpoint_root(out_dir)
    if is_main():
        for leftover in root.glob(".step-*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)
    for checkpoint in reversed(complete_checkpoints(root)):
        missing = missing_files(checkpoint)
        if not missing:
            return checkpoint
        if is_main():
            warnings.warn(
                f"checkpoint {checkpoint} is missing or has changed {', '.join(missing[:3])}"
                f"{' ...' if len(missing) > 3 else ''}; falling back to the previous one",
                stacklevel=2,
            )
    return None


def read_rng(checkpoint: Path) -> dict | None:
    """This rank's saved RNG states (None if absent); the pickled format of older versions is refused."""
    rng_file = checkpoint / f"rng-rank{rank()}.json"
    if not rng_file.is_file():
        return None
    saved = json.loads(rng_file.read_text())
    if "pickle_b64" in saved:
        raise PickledStateError(
            f"{rng_file} holds a pickled RNG state (written by an older progrpo), which progrpo "
            "does not unpickle; resume from a newer checkpoint, or start again with overwrite=true"
        )
    return saved


def load_checkpoint(engine, checkpoint: Path) -> dict:
    """Restore engine (weights, optimizer, scheduler, extra heads) and RNG; returns the trainer state."""
    saved_rng = read_rng(checkpoint)
    engine.load_checkpoint(str(checkpoint / "deepspeed"), tag="state")
    if saved_rng is not None:
        restore_rng(saved_rng)
    return json.loads((checkpoint / "trainer.json").read_text())
