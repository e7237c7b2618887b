"""Prompts: the model's own chat template around one user message (no system prompt).

The paper uses the model's default chat prompt and no task-specific prompt; the instruction
per task family lives with the benchmarks (`progrpo_eval.benchmarks.INSTRUCTIONS`). A model
without a chat template gets the plain message followed by a newline, and the manifest says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class PromptFormat:
    uses_chat_template: bool
    template: str  # the chat template source, or "" for plain prompts

    @property
    def template_sha256(self) -> str:
        return hashlib.sha256(self.template.encode("utf-8")).hexdigest()

    def manifest_fields(self) -> dict:
        """The manifest's record of the prompt format."""
        return {
            "uses_chat_template": self.uses_chat_template,
            "prompt_template": self.template if self.uses_chat_template else "plain: the user message and a newline",
            "prompt_sha256": self.template_sha256,
        }


def prompt_format(tokenizer) -> PromptFormat:
    template = getattr(tokenizer, "chat_template", None) or ""
    return PromptFormat(uses_chat_template=bool(template), template=template)


REASONING_SETTINGS = ("auto", "on", "off")


def is_reasoning_model(tokenizer, setting: str = "auto") -> bool:
    """Whether only the text after `</think>` is an answer: "on"/"off" as said, "auto" when the
    chat template mentions `</think>` (DeepSeek-R1-Distill, Qwen3)."""
    if setting not in REASONING_SETTINGS:
        raise ValueError(f"reasoning must be one of {', '.join(REASONING_SETTINGS)}, got {setting!r}")
    if setting != "auto":
        return setting == "on"
    return "</think>" in (getattr(tokenizer, "chat_template", None) or "")


def render_prompt(tokenizer, message: str) -> tuple[str, list[int]]:
    """The prompt text and its token ids for one user message."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": message}], add_generation_prompt=True, tokenize=False
        )
    else:
        text = message + "\n"
    # The template already holds any special tokens it wants; add none twice.
    token_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text, list(token_ids)


# --- the prompt a checkpoint was trained with --------------------------------------------------

TRAINING_PROMPT_FILE = "progrpo_prompt.json"  # in a progrpo-train checkpoint's hf/ directory


def training_prompt_record(
    tokenizer, *, instruction: str, apply_chat_template: bool, reasoning: str, source: str
) -> dict:
    """What `progrpo-train` wrote around each training question (saved with every checkpoint)."""
    fmt = prompt_format(tokenizer)
    return {
        "instruction": instruction,
        "apply_chat_template": apply_chat_template,
        "chat_template_sha256": fmt.template_sha256 if fmt.uses_chat_template else None,
        "reasoning": reasoning,
        "data_source": source,
    }


def read_training_prompt(model: str) -> dict | None:
    """The training prompt record of a checkpoint directory, or None (a base model, a Hub id)."""
    import json
    from pathlib import Path

    path = Path(model).expanduser() / TRAINING_PROMPT_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}); delete it or copy it again from the checkpoint"
        ) from error
    if not isinstance(record, dict) or "instruction" not in record:
        raise ValueError(f"{path} holds no training prompt record (no 'instruction')")
    return record


TRAIN_INSTRUCTION = "train"  # `--instruction train`: the instruction the checkpoint was trained with


def resolve_instruction(given: str | None, family_default: str, training: dict | None) -> tuple[str, str, str | None]:
    """(the instruction to use, where it came from, a note for the user or None).

    given None: the family's default ("family"); "train": the checkpoint's training instruction
    ("train"; ValueError when the model has no training prompt record); anything else as given
    ("given"). The note says when the instruction differs from the one the checkpoint was
    trained with, so a checkpoint is not silently evaluated under another prompt.
    """
    if given == TRAIN_INSTRUCTION:
        if training is None:
            raise ValueError(
                f"--instruction {TRAIN_INSTRUCTION}: the model has no {TRAINING_PROMPT_FILE} "
                "(only progrpo-train checkpoints record the prompt they were trained with)"
            )
        return training["instruction"], "train", None
    instruction, source = (family_default, "family") if given is None else (given, "given")
    note = None
    if training is not None and training["instruction"] != instruction:
        note = (
            f"this checkpoint was trained with the instruction {training['instruction']!r}; this run uses "
            f"{instruction!r} ({'the family default' if source == 'family' else '--instruction'}); "
            f"--instruction {TRAIN_INSTRUCTION} reuses the training one"
        )
    return instruction, source, note
