"""Training prompts: loading (benchmark, local file or Hub), tokenising, and a resumable order.

The order is a permutation per epoch seeded by (seed, epoch), so the position (epoch, index)
is the whole data state a checkpoint needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from progrpo_eval.benchmarks import INSTRUCTIONS, get_benchmark, list_benchmarks, load_problems, user_message
from progrpo_eval.jsonl import read_jsonl
from progrpo_eval.problem import Problem
from progrpo_eval.prompts import render_prompt
from progrpo_train.config import DataConfig


@dataclass(frozen=True)
class TrainPrompt:
    prompt_id: str
    token_ids: tuple[int, ...]
    problem: Problem  # what the reward judges a response against (gold, and any tests)

    @property
    def gold(self) -> str:
        return self.problem.gold


def _field(row: dict, dotted: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ValueError(f"row has no field {dotted!r} (keys: {sorted(row)})")
        value = value[part]
    return value


def _read_rows(path: Path) -> list[dict]:
    if path.suffix == ".jsonl":
        return [row for _, row in read_jsonl(path)]
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    if path.suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    raise ValueError(f"unsupported data file {path} (use .jsonl, .json or .parquet)")


def _hub_rows(config: DataConfig) -> list[dict]:
    from datasets import load_dataset

    rows: list[dict] = []
    for hub_config in config.hub_configs or (None,):
        rows.extend(load_dataset(config.source, hub_config, split=config.split))
    return rows


def _message(prompt: Any, instruction: str | None) -> Any:
    if isinstance(prompt, list):  # chat messages, used as they are
        return prompt
    return f"{prompt}\n{instruction}" if instruction else str(prompt)


def training_instruction(config: DataConfig) -> str:
    """The instruction after each string prompt ("" for none); saved with every checkpoint.

    A benchmark source uses `data.instruction`, else its family's; a file or Hub source uses
    `data.instruction` as given ("" none), else the family the reward asks for (code or math).
    """
    if config.source in list_benchmarks():
        return config.instruction or INSTRUCTIONS[get_benchmark(config.source).family]
    family = "code" if config.reward == "code" else "math"  # a file or Hub row: the reward says what it asks for
    return INSTRUCTIONS[family] if config.instruction is None else config.instruction


def load_prompt_rows(config: DataConfig) -> list[tuple[Any, Problem]]:
    """(user message or chat messages, problem) for every training prompt.

    A benchmark brings its own problems (golds, option letters, tests); a file or Hub row becomes
    a problem with its prompt as the question and its answer field as the gold.
    """
    instruction = training_instruction(config)
    if config.source in list_benchmarks():
        benchmark = get_benchmark(config.source)  # its training split where it declares one (the toy)
        loaded = load_problems(benchmark, config.data_dir, split=benchmark.train_split)
        return [(user_message(p, benchmark.family, instruction), p) for p in loaded.problems]
    path = Path(config.source)
    rows = _read_rows(path) if path.exists() else _hub_rows(config)
    prompts = []
    for index, row in enumerate(rows):
        prompt = _field(row, config.prompt_field)
        problem = Problem(str(row.get("id", index)), str(prompt), str(_field(row, config.answer_field)))
        prompts.append((_message(prompt, instruction), problem))
    return prompts


def tokenize_prompts(config: DataConfig, tokenizer) -> list[TrainPrompt]:
    """Render and tokenise the prompts; drop repeats (if asked) and prompts over the length limit."""
    prompts, seen = [], set()
    for message, problem in load_prompt_rows(config):
        if isinstance(message, list):
            ids = tokenizer.apply_chat_template(message, add_generation_prompt=True, tokenize=True)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        elif config.apply_chat_template:
            ids = render_prompt(tokenizer, message)[1]
        else:
            ids = tokenizer(message)["input_ids"]
        key = tuple(ids)
        if (config.deduplicate and key in seen) or len(ids) > config.max_prompt_length:
            continue
        seen.add(key)
        prompts.append(TrainPrompt(problem.problem_id, key, problem))
        if config.limit is not None and len(prompts) >= config.limit:
            break
    if not prompts:
        raise ValueError(
            f"no training prompts left from {config.source} (max_prompt_length={config.max_prompt_length})"
        )
    return prompts


class PromptOrder:
    """Batches of prompt indices in a per-epoch permutation seeded by (seed, epoch)."""

    def __init__(self, num_prompts: int, seed: int, shuffle: bool, epoch: int = 0, position: int = 0):
        self.num_prompts, self.seed, self.shuffle = num_prompts, seed, shuffle
        self.epoch, self.position = epoch, position

    def _permutation(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.num_prompts)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.num_prompts)

    def next_batch(self, size: int) -> list[int]:
        batch: list[int] = []
        while len(batch) < size:
            order = self._permutation()
            take = order[self.position : self.position + size - len(batch)]
            batch.extend(int(i) for i in take)
            self.position += len(take)
            if self.position >= self.num_prompts:
                self.epoch, self.position = self.epoch + 1, 0
        return batch

    def state(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}
