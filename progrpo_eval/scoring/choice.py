"""Multiple-choice letters (GPQA-Diamond: A-D, MMLU-Pro: A-J).

Pure regular expressions: fast, in-process, no time limit needed. Results use the same
`ScoreResult` as math; the statuses here are only "ok" and "no_answer".

The registered "choice" scorer reads a problem's option letters from `metadata["choices"]`
(set by the benchmark's row parser), else the `letters` the benchmark declares. The text it
gets is already cut of reasoning by the caller (`score_samples`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from progrpo_eval.problem import Problem
from progrpo_eval.scoring.answers import ScoreResult, extract_boxed
from progrpo_eval.scoring.base import Scorer, ScorerSettings, register_scorer

DEFAULT_LETTERS = "ABCDEFGHIJ"

_TEXT_WRAPPER = re.compile(r"\\(?:text|textbf|textrm|textit|mathrm|mathbf|mathit|mbox)\s*\{([^{}]*)\}")


@lru_cache(maxsize=16)
def _patterns(letters: str) -> tuple[re.Pattern, re.Pattern, re.Pattern, re.Pattern]:
    """(box content, box content lower-case, "answer is" phrase, bare final line) for `letters`."""
    letter = f"[{''.join(re.escape(char) for char in letters)}]"
    box_letter = re.compile(rf"^[(\[]?\s*({letter})\s*(?:[)\]:.]|\s|$)")
    box_only_letter = re.compile(rf"^[(\[]?\s*({letter})\s*[)\]]?\.?$", re.IGNORECASE)
    answer_phrase = re.compile(
        r"(?i:\banswer(?:\s+is)?|\bcorrect\s+(?:option|choice)(?:\s+is)?)"
        r"[\s:*_$]*(?:(?i:option|choice)\s+)?[(\[]?"
        rf"({letter})[)\]]?(?![A-Za-z0-9])"
    )
    bare_line = re.compile(rf"^[\s*_$(\[]*({letter})[\s*_$)\].:]*$")
    return box_letter, box_only_letter, answer_phrase, bare_line


def _unwrap_text_macros(content: str) -> str:
    """`\\text{(B)}` -> `(B)`, repeatedly, for `\\textbf{\\text{B}}`."""
    while True:
        unwrapped = _TEXT_WRAPPER.sub(r"\1", content)
        if unwrapped == content:
            return content.strip()
        content = unwrapped


def _letter_from_box(answer_text: str, letters: str) -> str | None:
    content = extract_boxed(answer_text)
    if content is None:
        return None
    content = _unwrap_text_macros(content).strip("$ ")
    box_letter, box_only_letter, _, _ = _patterns(letters)
    match = box_letter.match(content) or box_only_letter.match(content)
    return match.group(1).upper() if match else None


def extract_choice(text: str, letters: str = DEFAULT_LETTERS) -> str | None:
    """The chosen letter in `text` (already stripped of reasoning), upper-case, or None.

    Tried in this order, the first that finds a letter wins:
    1. the last box, `\\boxed{B}`, `\\boxed{(B)}`, `\\boxed{\\text{B}}`, `\\boxed{B) text}`,
       `\\fbox{B}` (a lone lower-case letter in a box counts too);
    2. the last "answer is (B)" / "Answer: B" / "**Answer:** B" / "the correct option is B";
    3. a last non-empty line that is only the letter ("B", "(B)", "**B**", "B.").
    Outside a box the letter must be upper-case, so the article in "the answer is a ..." is not
    read as choice A. A box without a letter (`\\boxed{42}`) falls through to 2 and 3.
    """
    letter = _letter_from_box(text, letters)
    if letter is not None:
        return letter
    _, _, answer_phrase, bare_line = _patterns(letters)
    phrases = answer_phrase.findall(text)
    if phrases:
        return phrases[-1]
    lines = [line for line in text.splitlines() if line.strip()]
    if lines:
        match = bare_line.match(lines[-1])
        if match:
            return match.group(1)
    return None


def parse_gold_letter(gold: object, letters: str) -> str:
    """The gold option letter ("b", "(B)" -> "B"); ValueError unless it is one of `letters`."""
    letter = str(gold).strip().strip("()").upper()
    if len(letter) != 1 or letter not in letters:
        raise ValueError(f"answer {gold!r} is not one of the options {letters}")
    return letter


def score_choice_one(answer_text: str, gold: str, *, letters: str = DEFAULT_LETTERS) -> ScoreResult:
    """Judge one answer: the letter from `extract_choice` against the gold, ignoring case."""
    gold_letter = parse_gold_letter(gold, letters)
    letter = extract_choice(answer_text, letters)
    if letter is None:
        return ScoreResult(False, "no_answer", None)
    return ScoreResult(letter == gold_letter, "ok", letter)


def score_choice(
    answer_texts: Sequence[str], golds: Sequence[str], *, letters: str = DEFAULT_LETTERS
) -> list[ScoreResult]:
    """Judge answer_texts[i] against the gold letter golds[i] (see `extract_choice` for the rules).

    `letters` are the options the benchmark offers (GPQA: "ABCD"); a gold outside them raises
    ValueError, an answer naming a letter outside them has no answer.
    """
    if len(answer_texts) != len(golds):
        raise ValueError(f"{len(answer_texts)} responses but {len(golds)} golds")
    letters = letters.upper()
    return [score_choice_one(text, gold, letters=letters) for text, gold in zip(answer_texts, golds)]


@register_scorer
class ChoiceScorer(Scorer):
    """Multiple-choice letters; the options are the problem's `metadata["choices"]`, else `letters`."""

    name = "choice"

    def __init__(self, settings: ScorerSettings | None = None, *, letters: str = DEFAULT_LETTERS) -> None:
        super().__init__(settings)
        self.letters = letters.upper()

    def score_problems(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[list[ScoreResult]]:
        return [
            score_choice(texts, [problem.gold] * len(texts), letters=problem.metadata.get("choices") or self.letters)
            for problem, texts in items
        ]
