"""The "toy" scorer: the last \\boxed{} must hold one of the problem's golds, as an integer.

For the toy benchmark (`progrpo_eval.benchmarks.toy`), whose problems list every correct answer
in `golds` (golds_mode "any"). The answer is the content of the last \\boxed{}; "035" and "+35"
are read as 35. No box, or an empty one, is "no_answer"; a box that holds no integer is judged
wrong ("ok"). `extracted` is the integer as written without sign or leading zeros, so counting
distinct correct answers counts distinct numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from progrpo_eval.problem import Problem
from progrpo_eval.scoring.answers import ScoreResult, extract_boxed
from progrpo_eval.scoring.base import Scorer, register_scorer

_INTEGER = re.compile(r"[+-]?\d+")


def score_toy_one(problem: Problem, text: str) -> ScoreResult:
    """Judge one answer text against the problem's golds (module docstring)."""
    boxed = extract_boxed(text)
    if not boxed:
        return ScoreResult(False, "no_answer", None, "no \\boxed{} answer" if boxed is None else "empty \\boxed{}")
    if not _INTEGER.fullmatch(boxed):
        return ScoreResult(False, "ok", boxed)
    value = str(int(boxed))
    return ScoreResult(value in problem.golds, "ok", value)


@register_scorer
class ToyScorer(Scorer):
    name = "toy"

    def score_problems(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[list[ScoreResult]]:
        return [[score_toy_one(problem, text) for text in texts] for problem, texts in items]
