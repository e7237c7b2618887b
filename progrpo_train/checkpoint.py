"""Checkpoints: a Hugging Face model for `progrpo-eval run --model`, plus the state to resume.

    out_dir/checkpoints/step-000002/
      hf/              safetensors + config + tokenizer (what the evaluator loads)
      deepspeed/       engine.save_checkpoint: weights, optimizer, scheduler
      trainer.json     step, data position, RNG states of python/numpy/torch(/cuda)
      COMPLETE         written last

Everything is written into `.step-000002.partial/` and renamed into place only when complete,
so a kill -9 during a write leaves a partial directory that resume ignores and deletes, never
a checkpoint that looks complete but is not.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from progrpo_eval.atomic import atomic_write_json
from progrpo_train.distributed import barrier, is_main, rank

COMPLETE = "COMPLETE"


def checkpoint_root(out_dir: str | Path) -> Path:
    return Path(out_dir) / "checkpoints"


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return {"pickle_b64": base64.b64encode(pickle.dumps(state)).decode("ascii")}


def restore_rng(saved: dict) -> None:
    state = pickle.loads(base64.b64decode(saved["pickle_b64"]))  # our own file, written by rng_state
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(engine, tokenizer, out_dir: str | Path, step: int, trainer_state: dict, zero_stage: int,
                    keep_last: int) -> Path:
    """Write checkpoint `step` atomically (all ranks call this) and prune old ones."""
    root = checkpoint_root(out_dir)
    final = root / f"step-{step:06d}"
    partial = root / f".step-{step:06d}.partial"
    if is_main():
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    barrier()
    engine.save_checkpoint(str(partial / "deepspeed"), tag="state")
    if zero_stage == 3:
        state_dict = engine._zero3_consolidated_16bit_state_dict()
    else:
        state_dict = None
    if is_main():
        engine.module.save_pretrained(partial / "hf", state_dict=state_dict, safe_serialization=True)
        tokenizer.save_pretrained(partial / "hf")
        atomic_write_json(partial / "trainer.json", {**trainer_state, "step": step})
    atomic_write_json(partial / f"rng-rank{rank()}.json", rng_state())
    barrier()
    if is_main():
        (partial / COMPLETE).write_text(f"{step}\n")
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
    return sorted(path for path in root.glob("step-*") if (path / COMPLETE).is_file())


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint; partial leftovers of a killed writer are deleted."""
    root = checkpoint_root(out_dir)
    if is_main():
        for leftover in root.glob(".step-*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)
    found = complete_checkpoints(root)
    return found[-1] if found else None


def load_checkpoint(engine, checkpoint: Path) -> dict:
    """Restore engine (weights, optimizer, scheduler) and RNG; returns the trainer state."""
    engine.load_checkpoint(str(checkpoint / "deepspeed"), tag="state")
    rng_file = checkpoint / f"rng-rank{rank()}.json"
    if rng_file.is_file():
        restore_rng(json.loads(rng_file.read_text()))
    return json.loads((checkpoint / "trainer.json").read_text())
