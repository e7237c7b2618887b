"""Math benchmarks: AIME 2024/2025, AMC 2023, MATH-500, Minerva Math and OlympiadBench.

Gold normalisation, per benchmark (the scorer compares answers with math-verify; these steps
only undo quirks of the sources):
- AIME: leading zeros dropped ("025" -> "25"); answers are integers 0-999.
- AMC 2023: stored as floats ("27.0" or 27.0 -> "27"); real decimals are kept as written.
- MATH-500: the `answer` field, stripped.
- Minerva: the Hub copy's `answer` when present, else the content of the LAST \\boxed{...} in
  `solution`, with balanced braces (escaped braces \\{ \\} do not count). The content is kept as
  written, units included (one gold even has "$ $" inside: a line break of the source).
- OlympiadBench: `final_answer` is a list, or a string holding a JSON or Python list. `$`
  delimiters are removed and the row's `unit` (itself stripped of `$`) is cut off the end of each
  answer and kept in metadata. For `is_multiple_answer` rows each list element is split at
  top-level commas (outside (), [] and {}): "$69$,$84$" gives golds ("69", "84"), all required
  (`golds_mode` "all"), and gold "69, 84". A few prose answers ("f(x)=ax+b, where ...")
  split into fragments; we accept that rather than special-casing rows. A non-empty `context`
  is put before the question. `error` (a numeric tolerance, set on one row) goes to metadata.
Questions come from `problem`, or `question` where a source names it so.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from progrpo_eval.scoring.answers import extract_boxed, split_top_level

from .registry import Benchmark, Problem, RowContext, RowError, register, require

QUESTION_FIELDS = ("problem", "question")


def question_text(row: Mapping[str, Any]) -> str:
    return str(require(row, *QUESTION_FIELDS)).strip()


def strip_leading_zeros(answer: str) -> str:
    """ "025" -> "25", "000" -> "0"; anything that is not digits is returned unchanged."""
    answer = answer.strip()
    return re.sub(r"^0+(?=\d)", "", answer) if answer.isdigit() else answer


def integral_float_to_int(answer: Any) -> str:
    """ "27.0" -> "27", "-1.00" -> "-1"; "0.5" and non-numbers are returned as written."""
    text = str(answer).strip()
    match = re.fullmatch(r"(-?\d+)\.0*", text)
    return match.group(1) if match else text


def strip_dollars(text: str) -> str:
    """Remove unescaped `$` (LaTeX math delimiters); "\\$" (a dollar sign) stays."""
    return re.sub(r"(?<!\\)\$", "", text).strip()


def strip_unit(answer: str, unit: str | None) -> str:
    """Cut `unit` (bare, or in \\text{} / \\mathrm{}) off the end of `answer`, if it is there."""
    if not unit:
        return answer
    for suffix in (f"\\text{{{unit}}}", f"\\text{{ {unit}}}", f"\\mathrm{{{unit}}}", unit):
        if answer.endswith(suffix) and len(answer) > len(suffix):
            return re.sub(r"(\\[,;: ]|~|\s)+$", "", answer[: -len(suffix)])
    return answer


def as_answer_list(value: Any) -> list[str]:
    """OlympiadBench's final_answer: a list, or a string holding a JSON or Python list."""
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    text = str(value).strip()
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(text)
        except (ValueError, SyntaxError):
            continue
        if isinstance(parsed, (list, tuple)):
            return [str(item) for item in parsed]
    return [text]


def parse_aime(row: Mapping[str, Any], context: RowContext) -> Problem:
    gold = strip_leading_zeros(str(require(row, "answer")))
    return Problem(context.problem_id(row, "id"), question_text(row), gold)


def parse_amc(row: Mapping[str, Any], context: RowContext) -> Problem:
    gold = integral_float_to_int(require(row, "answer"))
    return Problem(context.problem_id(row, "id"), question_text(row), gold)


def parse_math500(row: Mapping[str, Any], context: RowContext) -> Problem:
    metadata = {"subject": row.get("subject"), "level": row.get("level"), "unique_id": row.get("unique_id")}
    return Problem(
        context.problem_id(row, "unique_id"), question_text(row), str(require(row, "answer")).strip(), metadata=metadata
    )


def parse_minerva(row: Mapping[str, Any], context: RowContext) -> Problem:
    if row.get("answer") is not None:
        gold = str(row["answer"]).strip()
    else:
        gold = extract_boxed(str(require(row, "solution")))
        if not gold:
            raise RowError("no balanced, non-empty \\boxed{} in field 'solution'")
    return Problem(context.problem_id(row, "idx", "id"), question_text(row), gold, metadata={"type": row.get("type")})


def parse_olympiadbench(row: Mapping[str, Any], context: RowContext) -> Problem:
    unit = strip_dollars(str(row["unit"])) if row.get("unit") else None
    is_multiple_answer = bool(row.get("is_multiple_answer"))
    answers = [strip_dollars(answer) for answer in as_answer_list(require(row, "final_answer"))]
    if is_multiple_answer:
        answers = [piece for answer in answers for piece in split_top_level(answer)]
    golds = tuple(strip_unit(answer, unit) for answer in answers if answer)
    if not golds:
        raise RowError("empty field 'final_answer'")
    question = str(require(row, "question")).strip()
    if row.get("context"):
        question = f"{str(row['context']).strip()}\n{question}"
    metadata = {
        "unit": unit,
        "answer_type": row.get("answer_type"),
        "subfield": row.get("subfield"),
        "is_multiple_answer": is_multiple_answer,
        "error": row.get("error"),
    }
    return Problem(
        context.problem_id(row, "id"),
        question,
        ", ".join(golds),
        golds,
        metadata,
        golds_mode="all" if is_multiple_answer else "any",
    )


AIME24 = register(
    Benchmark(
        name="aime24",
        display_name="AIME 2024",
        family="math",
        scorer="math",
        hub_id="HuggingFaceH4/aime_2024",
        hub_config=None,
        split="train",
        offline_file="aime24.jsonl",
        parse_row=parse_aime,
        description="AIME 2024, 30 integer-answer problems",
    )
)
AIME25 = register(
    replace(
        AIME24,
        name="aime25",
        display_name="AIME 2025",
        hub_id="math-ai/aime25",
        split="test",
        offline_file="aime25.jsonl",
        description="AIME 2025 (I and II), 30 integer-answer problems",
    )
)
AMC23 = register(
    Benchmark(
        name="amc23",
        display_name="AMC 23",
        family="math",
        scorer="math",
        hub_id="math-ai/amc23",
        hub_config=None,
        split="test",
        offline_file="amc23.jsonl",
        parse_row=parse_amc,
        description="AMC 2023, 40 problems with numeric answers",
    )
)
MATH500 = register(
    Benchmark(
        name="math500",
        display_name="MATH500",
        family="math",
        scorer="math",
        hub_id="HuggingFaceH4/MATH-500",
        hub_config=None,
        split="test",
        offline_file="math500.jsonl",
        parse_row=parse_math500,
        description="MATH-500, the 500-problem MATH test subset of 'Let's Verify Step by Step'",
    )
)
MINERVA = register(
    Benchmark(
        name="minerva",
        display_name="Minerva",
        family="math",
        scorer="math",
        hub_id="math-ai/minervamath",
        hub_config=None,
        split="test",
        offline_file="minerva.jsonl",
        parse_row=parse_minerva,
        description="Minerva Math, 272 MIT OCW science and engineering problems",
    )
)
OLYMPIADBENCH = register(
    Benchmark(
        name="olympiadbench",
        display_name="OlympiadBench",
        family="math",
        scorer="math",
        hub_id="Hothan/OlympiadBench",
        hub_config="OE_TO_maths_en_COMP",
        split="train",
        offline_file="olympiadbench.jsonl",
        parse_row=parse_olympiadbench,
        description="OlympiadBench, 675 open-ended text-only English competition maths problems",
    )
)
