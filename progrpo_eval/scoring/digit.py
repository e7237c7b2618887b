"""The "digit" scorer, for smoke runs only: correct when the answer text holds a digit.

Not a task. A random tiny model writes a digit in about half of its responses, so a CPU smoke
run on it (the `toy` training recipe) sees mixed groups, re-weighting and clipping at work.
"""

from __future__ import annotations

from collections.abc import Sequence

from progrpo_eval.problem import Problem
from progrpo_eval.scoring.answers import ScoreResult
from progrpo_eval.scoring.base import Scorer, register_scorer


@register_scorer
class DigitScorer(Scorer):
    name = "digit"

    def score_problems(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[list[ScoreResult]]:
        return [[ScoreResult(any(char.isdigit() for char in text), "ok", None) for text in texts] for _, texts in items]
