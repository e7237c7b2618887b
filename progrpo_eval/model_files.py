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

from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "tiktoken.model")
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length",
                "max_target_positions", "max_sequence_length", "max_seq_length")


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else repr(error)


def load_tokenizer(model: str):
    """The model's tokenizer; ValueError when a directory has none or it encodes text as nothing."""
    from transformers import AutoTokenizer

    directory = Path(model).expanduser()
    if directory.is_dir() and not any((directory / name).is_file() for name in TOKENIZER_FILES):
        raise ValueError(f"{model} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); copy the tokenizer "
                         "files of the base model into it (tokenizer.save_pretrained)")
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
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(model)
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"cannot read the config of {model}: {_first_line(error)}") from error
    return config_context_length(config)


def config_context_length(config) -> int | None:
    """The smallest `CONTEXT_KEYS` entry of a transformers config (None: it names none)."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    values = [getattr(text_config, key, None) for key in CONTEXT_KEYS]
    values = [value for value in values if isinstance(value, int) and not isinstance(value, bool) and value > 0]
    return min(values) if values else None
