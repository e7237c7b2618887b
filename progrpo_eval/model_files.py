"""What a model directory (or Hub id) provides before any engine starts: its tokenizer and its context.

Decisions:
- transformers 5 builds an EMPTY tokenizer (every text encodes to no tokens) from a directory
  that has a config but no tokenizer files, and generation then fails deep inside the model. A
  local directory therefore needs one of `TOKENIZER_FILES`, and any tokenizer must encode a
  plain word to at least one token.
- The context length is the smallest of the config keys vLLM reads for it
  (`CONTEXT_KEYS`: max_position_embeddings, n_positions, ...), or `--max-model-len` when given.
  Rope-scaling factors are not applied (vLLM applies some of them); a config without any of the
  keys has no known context (None), and nothing is checked against it.
"""

from __future__ import annotations

import re
from pathlib import Path

HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")  # org/name
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "tiktoken.model")
CONTEXT_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "model_max_length",
    "max_target_positions",
    "max_sequence_length",
    "max_seq_length",
)


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else repr(error)


def check_model_reference(model: str, what: str = "model") -> None:
    """ValueError unless `model` is a Hugging Face model directory (with a config.json) or looks like a Hub id.

    A Hub id is left to the loader (it may be in the local cache); only its shape is checked here.
    `what` names the option in the message ("model.path" for the trainer).
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"{what} {model} has no config.json (not a Hugging Face model directory)")
        return
    if path.exists() or model.startswith((".", "/", "~")) or not HUB_ID.fullmatch(model):
        raise ValueError(f"{what} not found: {model} (not a model directory, and not a Hub id like org/name)")


def load_tokenizer(model: str):
    """The model's tokenizer; ValueError when a directory has none or it encodes text as nothing."""
    from transformers import AutoTokenizer

    directory = Path(model).expanduser()
    if directory.is_dir() and not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise ValueError(
            f"{model} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); copy the tokenizer "
            "files of the base model into it (tokenizer.save_pretrained)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"cannot load the tokenizer of {model}: {_first_line(error)}") from error
    if not tokenizer("answer", add_special_tokens=False)["input_ids"]:
        raise ValueError(f"the tokenizer of {model} encodes text as no tokens (are its tokenizer files missing?)")
    return tokenizer


def context_length(model: str, max_model_len: int | None = None) -> int | None:
    """Tokens the model can attend to (prompt + response): `max_model_len` if given, else its config's."""
    if max_model_len is not None:
        return int(max_model_len)
    return config_context_length(load_model_config(model))


def load_model_config(model: str):
    """The model's transformers config; ValueError naming the model when it cannot be read."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"cannot read the config of {model}: {_first_line(error)}") from error


def output_vocab_size(model: str) -> int | None:
    """Rows of the output layer (the config's vocab_size): what top-k entropy bounds need (V)."""
    config = load_model_config(model)
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    value = getattr(text_config, "vocab_size", None)
    return int(value) if isinstance(value, int) and value > 0 else None


def config_context_length(config) -> int | None:
    """The smallest `CONTEXT_KEYS` entry of a transformers config (None: it names none)."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    values = [getattr(text_config, key, None) for key in CONTEXT_KEYS]
    values = [value for value in values if isinstance(value, int) and not isinstance(value, bool) and value > 0]
    return min(values) if values else None
