"""A run's inputs, checked before anything heavy starts: the model path, its tokenizer, the prompts.

Every problem a user can fix here (a model directory that does not exist or has no tokenizer, a
benchmark that cannot be loaded offline, data with no usable prompt) raises `SetupError` with
one line saying what to change; `progrpo-train` prints it as its `error:` line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from progrpo_train.config import TINY_MODEL, DataConfig, TrainConfig
from progrpo_train.run_dir import SetupError

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def check_model_path(cfg: TrainConfig) -> None:
    """A local model.path must be a Hugging Face model directory; anything else must look like a Hub id."""
    text = cfg.model.path
    if text == TINY_MODEL:
        return
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise SetupError(f"model.path {text} has no config.json (not a Hugging Face model directory)")
        return
    if path.exists() or text.startswith((".", "/", "~")) or not HUB_ID.fullmatch(text):
        raise SetupError(f"model.path not found: {text} (not a model directory, and not a Hub id like org/name)")


def load_tokenizer(model_dir: str):
    """The model's tokenizer; a directory without one is refused (transformers would build an empty one)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError) as error:
        raise SetupError(f"cannot load the tokenizer of model.path {model_dir}: {_first_line(error)}") from error
    if len(tokenizer) < 2:
        raise SetupError(f"model.path {model_dir} has no tokenizer (no tokenizer.json, tokenizer.model or vocab.json); "
                         f"copy the base model's tokenizer files into it")
    return tokenizer


def load_prompts(config: DataConfig, tokenizer) -> list:
    """`data.tokenize_prompts`, with loading problems said in one line (and what to set)."""
    from progrpo_eval.benchmarks import get_benchmark, list_benchmarks
    from progrpo_train.data import tokenize_prompts

    try:
        return tokenize_prompts(config, tokenizer)
    except (OSError, ValueError) as error:  # ConnectionError and datasets' not-found errors are OSErrors
        offline = config.data_dir or os.environ.get("PROGRPO_DATA_DIR")
        if config.source in list_benchmarks() and not offline:
            raise SetupError(
                f"data.source {config.source!r} is a benchmark and loading it from the Hugging Face Hub failed "
                f"({_first_line(error)}); set PROGRPO_DATA_DIR (or data.data_dir) to the folder holding its "
                f"offline copy {get_benchmark(config.source).offline_file}") from error
        raise SetupError(f"data.source {config.source!r}: {_first_line(error)}") from error


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
