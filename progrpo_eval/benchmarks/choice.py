"""Multiple-choice benchmarks: GPQA-Diamond and MMLU-Pro. The gold is an option letter.

Decisions:
- Rows whose options are already in the question text with an answer letter (both offline
  copies) are used as they are: the option letters are read from the last "A) ..." / "A. ..." run
  of lines, and metadata records `"permutation": None, "shuffled_by": "source"`.
- The Hub's GPQA is unshuffled ("Correct Answer", "Incorrect Answer 1..3"). Its options are
  shuffled with numpy's default_rng seeded by sha256(f"{seed}:{problem_id}"), so the order depends
  only on (seed, problem id): stable across machines, runs and `limit`, and different across
  seeds. metadata["permutation"][i] is the source index (0 = correct, 1..3 = incorrect 1..3) of
  the option shown as letter i; metadata["shuffled_by"] is "seed".
- The Hub's MMLU-Pro options are kept in the published order (its `answer` letter refers to it).
- Options are rendered as "A) option" lines after a blank line, as in the offline GPQA copy. The
  offline MMLU-Pro copy writes "A. option" after " Options are:"; its text is kept verbatim.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from progrpo_eval.scoring.choice import parse_gold_letter

from .registry import Benchmark, Problem, RowContext, RowError, register, require

LETTERS = string.ascii_uppercase
OPTION_LINE = re.compile(r"^[ \t]*([A-Z])[).][ \t]", re.MULTILINE)
GPQA_OPTION_FIELDS = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


def option_permutation(seed: int, problem_id: str, num_options: int) -> list[int]:
    """A permutation of range(num_options) determined by (seed, problem_id) alone."""
    digest = hashlib.sha256(f"{seed}:{problem_id}".encode()).digest()
    generator = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    return [int(index) for index in generator.permutation(num_options)]


def render_options(question: str, options: Sequence[str]) -> str:
    """The question, a blank line, then one "A) option" line per option."""
    lines = [f"{letter}) {option}" for letter, option in zip(LETTERS, options)]
    return f"{question.strip()}\n\n" + "\n".join(lines)


def option_letters_in_text(question: str) -> str:
    """Letters of the last run of option lines "A) ..", "B) .." (or "A. ..") in the text.

    Starting from the last "A" line skips numbered statements earlier in a question.
    """
    letters = [match.group(1) for match in OPTION_LINE.finditer(question)]
    if "A" not in letters:
        return ""
    run = letters[len(letters) - 1 - letters[::-1].index("A") :]
    found = ""
    for letter in run:
        if letter != LETTERS[len(found)]:
            break
        found += letter
    return found


def gold_letter(answer: Any, choices: str) -> str:
    """The row's gold letter (`parse_gold_letter`, the scorer's own rule); RowError otherwise."""
    try:
        return parse_gold_letter(answer, choices)
    except ValueError as error:
        raise RowError(str(error)) from error


def choice_metadata(choices: str, gold: str, permutation: list[int] | None, **extra: Any) -> dict[str, Any]:
    return {
        "choices": choices,
        "gold_letter": gold,
        "permutation": permutation,
        "shuffled_by": "source" if permutation is None else "seed",
        **extra,
    }


def parse_prerendered(row: Mapping[str, Any], context: RowContext) -> Problem:
    """A row whose `question` already lists the options and whose `answer` is their letter."""
    question = str(require(row, "question")).strip()
    choices = option_letters_in_text(question)
    if len(choices) < 2:
        raise RowError("no option lines ('A) ...' or 'A. ...') in field 'question'")
    gold = gold_letter(require(row, "answer"), choices)
    return Problem(
        context.problem_id(row, "id", "question_id"), question, gold, metadata=choice_metadata(choices, gold, None)
    )


def parse_gpqa_hub(row: Mapping[str, Any], context: RowContext) -> Problem:
    """The Hub's GPQA columns; options shuffled by (seed, problem id)."""
    problem_id = context.problem_id(row, "Record ID")
    source_options = [str(require(row, name)).strip() for name in GPQA_OPTION_FIELDS]
    permutation = option_permutation(context.seed, problem_id, len(source_options))
    shown_options = [source_options[index] for index in permutation]
    gold = LETTERS[permutation.index(0)]
    question = render_options(str(require(row, "Question")), shown_options)
    metadata = choice_metadata(
        LETTERS[: len(shown_options)],
        gold,
        permutation,
        domain=row.get("High-level domain"),
        subdomain=row.get("Subdomain"),
    )
    return Problem(problem_id, question, gold, metadata=metadata)


def parse_mmlu_pro_hub(row: Mapping[str, Any], context: RowContext) -> Problem:
    """The Hub's MMLU-Pro columns: question, options (list), answer (letter), question_id."""
    options = [str(option).strip() for option in require(row, "options")]
    choices = LETTERS[: len(options)]
    gold = gold_letter(require(row, "answer"), choices)
    question = render_options(str(require(row, "question")), options)
    metadata = choice_metadata(choices, gold, None, category=row.get("category"), src=row.get("src"))
    return Problem(context.problem_id(row, "question_id"), question, gold, metadata=metadata)


def parse_gpqa(row: Mapping[str, Any], context: RowContext) -> Problem:
    if "Correct Answer" in row:
        return parse_gpqa_hub(row, context)
    return parse_prerendered(row, context)


def parse_mmlu_pro(row: Mapping[str, Any], context: RowContext) -> Problem:
    if "options" in row:
        return parse_mmlu_pro_hub(row, context)
    return parse_prerendered(row, context)


GPQA_DIAMOND = register(
    Benchmark(
        name="gpqa_diamond",
        display_name="GPQA-Diamond",
        family="choice",
        scorer="choice",
        hub_id="Idavidrein/gpqa",
        hub_config="gpqa_diamond",
        split="train",
        offline_file="gpqa_diamond.jsonl",
        parse_row=parse_gpqa,
        scorer_options={"letters": "ABCD"},
        description="GPQA-Diamond, 198 graduate-level science questions, options A-D "
        "(gated on the Hub: accept its terms and set HF_TOKEN)",
    )
)
MMLU_PRO = register(
    Benchmark(
        name="mmlu_pro",
        display_name="MMLU-Pro",
        family="choice",
        scorer="choice",
        hub_id="TIGER-Lab/MMLU-Pro",
        hub_config=None,
        split="test",
        offline_file="mmlu_pro_300.jsonl",
        parse_row=parse_mmlu_pro,
        offline_is_subset=True,
        scorer_options={"letters": "ABCDEFGHIJ"},
        description="MMLU-Pro, up to 10 options A-J; the Hub split has 12,032 questions, the offline "
        "copy a 300-question subset",
    )
)
