"""Train and eval prompts (issue 12 B7): a checkpoint's training instruction is reused or its difference said."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from progrpo_eval import store
from progrpo_eval.benchmarks import INSTRUCTIONS
from progrpo_eval.cli import app
from progrpo_eval.prompts import TRAINING_PROMPT_FILE, read_training_prompt, resolve_instruction

TRAINED = {
    "instruction": "Answer in one line.",
    "apply_chat_template": True,
    "chat_template_sha256": "x",
    "reasoning": "auto",
    "data_source": "my_data.jsonl",
}
MATH = INSTRUCTIONS["math"]


@pytest.mark.parametrize(
    "given, training, expected, source, noted",
    [
        (None, None, MATH, "family", False),  # a base model: the family's instruction, nothing to say
        (None, TRAINED, MATH, "family", True),  # a checkpoint trained otherwise: said, not silently used
        ("train", TRAINED, "Answer in one line.", "train", False),
        ("Answer in one line.", TRAINED, "Answer in one line.", "given", False),
        ("Be brief.", None, "Be brief.", "given", False),
        (None, {**TRAINED, "instruction": MATH}, MATH, "family", False),  # trained with the family's: same prompt
    ],
)
def test_resolve_instruction(given, training, expected, source, noted):
    instruction, where, note = resolve_instruction(given, MATH, training)
    assert (instruction, where, note is not None) == (expected, source, noted)
    if noted:
        assert "'Answer in one line.'" in note and "--instruction train" in note


def test_train_without_a_record_is_refused():
    with pytest.raises(ValueError, match="--instruction train: the model has no progrpo_prompt.json"):
        resolve_instruction("train", MATH, None)


def test_run_reuses_the_training_instruction(tiny_model_dir, data_dir, tmp_path):
    model = tmp_path / "checkpoint"
    shutil.copytree(tiny_model_dir, model)
    (model / TRAINING_PROMPT_FILE).write_text(json.dumps(TRAINED))
    assert read_training_prompt(str(model)) == TRAINED
    common = [
        "run",
        "--model",
        str(model),
        "--bench",
        "aime24",
        "--k",
        "1",
        "--limit",
        "1",
        "--max-tokens",
        "4",
        "--backend",
        "hf",
        "--data-dir",
        str(data_dir),
    ]
    default = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "a")])
    assert default.exit_code == 0, default.output
    assert "trained with the instruction 'Answer in one line.'" in " ".join(default.output.split())
    reused = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "b"), "--instruction", "train"])
    assert reused.exit_code == 0, reused.output
    manifest = store.read_manifest(tmp_path / "b" / "checkpoint" / "aime24")
    assert manifest["instruction"] == "Answer in one line." and manifest["instruction_source"] == "train"
    assert manifest["training_prompt"] == TRAINED
    assert store.read_manifest(tmp_path / "a" / "checkpoint" / "aime24")["instruction"] == MATH
