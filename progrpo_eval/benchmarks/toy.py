"""The toy benchmark: "Name a multiple of K between A and B.", generated in code, many right answers.

    progrpo-eval run --model ckpt --bench toy --k 32        # the held-out evaluation split
    progrpo-train --config demo_toy                          # data.source toy: the training split

A task whose answers can be checked exactly and where every prompt has several correct answers
(3 to 21), so that the diversity among correct answers can be measured: which multiples a model
names, and how many different ones, is what GRPO and ProGRPO are compared on (`make demo`).

Decisions:
- Rows are generated, never read: no data file, nothing downloaded. The pool is every (K, A, B)
  with K in 2..9, A in 10..89, B - A in 15..40 and at least 3 multiples of K in [A, B], shuffled
  with `random.Random(TOY_DATA_SEED)`. The first `EVAL_ROWS` (256) are the evaluation split
  "test", the next `TRAIN_ROWS` (4096) the training split "train": disjoint by construction, and
  the same on every machine (the checksum of the rows is in every run's manifest).
- Which split: `toy` declares split "test" and `train_split` "train". `progrpo-eval run --bench
  toy` evaluates "test"; a trainer given `data.source=toy` trains on "train" (the registry's
  `Benchmark.train_split`, read by `progrpo_train.data`), so training never sees an evaluation
  prompt. The data seed is part of the declaration, not of a run: every run, whatever its
  `--seed`, sees the same problems, which is what paired comparisons need.
- A problem's `golds` are all its correct answers ("any" of them is right), `gold` lists them.
  The scorer is `toy` (`progrpo_eval.scoring.toy`): the last \\boxed{} must hold one of them.
- The prompt is the question plus the math family's instruction (the paper's prompt: "Please
  reason step by step, and put your final answer within \\boxed{}."); the reference answer
  (`reference_response`, what the demo's supervised warm start imitates) is a one-line worked
  answer, "35 = 7 x 5, so \\boxed{35}": the choice first, then a check, then the box.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from typing import Any

from .registry import Benchmark, Problem, RowContext, RowError, register, require

TOY_DATA_SEED = 0
EVAL_ROWS = 256
TRAIN_ROWS = 4096
DIVISORS = range(2, 10)
LOWS = range(10, 90)
WIDTHS = range(15, 41)
MIN_ANSWERS = 3


def multiples(k: int, low: int, high: int) -> list[int]:
    """The multiples of k in [low, high], ascending."""
    return [value for value in range(low, high + 1) if value % k == 0]


def question(k: int, low: int, high: int) -> str:
    return f"Name a multiple of {k} between {low} and {high}."


def reference_response(k: int, value: int) -> str:
    """The worked answer the warm start imitates: "35 = 7 x 5, so \\boxed{35}"."""
    return f"{value} = {k} x {value // k}, so \\boxed{{{value}}}"


@functools.lru_cache(maxsize=4)
def _pool(seed: int) -> tuple[tuple[int, int, int], ...]:
    triples = [
        (k, low, low + width)
        for k in DIVISORS
        for low in LOWS
        for width in WIDTHS
        if len(multiples(k, low, low + width)) >= MIN_ANSWERS
    ]
    random.Random(seed).shuffle(triples)
    return tuple(triples)


def generate_rows(split: str, seed: int = TOY_DATA_SEED) -> list[dict[str, Any]]:
    """The rows of `split` ("test": the evaluation split, "train": the training split)."""
    pool = _pool(seed)
    ranges = {"test": (0, EVAL_ROWS), "train": (EVAL_ROWS, EVAL_ROWS + TRAIN_ROWS)}
    if split not in ranges:
        raise ValueError(f"the toy benchmark has splits {', '.join(ranges)}, not {split!r}")
    start, stop = ranges[split]
    return [
        {"id": f"{split}-{index:04d}", "question": question(k, low, high), "k": k, "low": low, "high": high}
        for index, (k, low, high) in enumerate(pool[start:stop])
    ]


def parse_toy(row: Mapping[str, Any], context: RowContext) -> Problem:
    k, low, high = (int(require(row, name)) for name in ("k", "low", "high"))
    answers = multiples(k, low, high) if k > 0 else []
    if not answers:
        raise RowError(f"no multiple of {k} between {low} and {high}")
    golds = tuple(str(value) for value in answers)
    return Problem(
        context.problem_id(row, "id"),
        str(require(row, "question")),
        ", ".join(golds),
        golds,
        metadata={"k": k, "low": low, "high": high},
        golds_mode="any",
    )


TOY = register(
    Benchmark(
        name="toy",
        display_name="Toy (multiples)",
        family="math",
        scorer="toy",
        hub_id="progrpo_eval.benchmarks.toy",
        hub_config=None,
        split="test",
        offline_file="",
        parse_row=parse_toy,
        generate_rows=generate_rows,
        train_split="train",
        description=f"Name a multiple of K between A and B: generated in code (seed {TOY_DATA_SEED}), 3-21 correct "
        f"answers per prompt; {EVAL_ROWS} evaluation prompts, {TRAIN_ROWS} training prompts",
    )
)
