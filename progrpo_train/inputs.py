"""A run's inputs, checked before anything heavy starts: the model path, its tokenizer, the prompts.

Every problem a user can fix here (a model directory that does not exist or has no tokenizer, a
benchmark that cannot be loaded offline, data with no usable prompt) raises `SetupError` with
one line saying what to change; `progrpo-train` prints it as its `error:` line.
"""

from __future__ import annotations

import os

from progrpo_eval.model_files import check_model_reference
from progrpo_eval.model_files import load_tokenizer as load_model_tokenizer
from progrpo_train.config import TINY_MODEL, DataConfig, TrainConfig
from progrpo_train.run_dir import SetupError


def check_model_path(cfg: TrainConfig) -> None:
    """model.path must be a Hugging Face model directory or look like a Hub id (`model_files`' rule)."""
    if cfg.model.path == TINY_MODEL:
        return
    try:
        check_model_reference(cfg.model.path, "model.path")
    except ValueError as error:
        raise SetupError(str(error)) from error


def load_tokenizer(model_dir: str):
    """The model's tokenizer (`model_files.load_tokenizer`: a directory without one is refused)."""
    try:
        return load_model_tokenizer(model_dir)
    except ValueError as error:
        raise SetupError(f"model.path: {_first_line(error)}") from error


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
                f"offline copy {get_benchmark(config.source).offline_file}"
            ) from error
        raise SetupError(f"data.source {config.source!r}: {_first_line(error)}") from error


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
