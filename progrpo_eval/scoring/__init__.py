"""Scorers shared by `progrpo-eval run` and the trainer's reward, chosen by family name.

A scorer takes (responses, golds) and returns one `ScoreResult` per response. This package
imports math-verify but neither vLLM nor torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from progrpo_eval.scoring.answers import STATUSES, ScoreResult, extract_boxed, strip_reasoning
from progrpo_eval.scoring.choice import extract_choice, score_choice, score_choice_one
from progrpo_eval.scoring.math import MathScorer, score_math, score_math_one

Scorer = Callable[[Sequence[str], Sequence[str]], list[ScoreResult]]

SCORERS: dict[str, Scorer] = {"math": score_math, "choice": score_choice}


def get_scorer(name: str) -> Scorer:
    """The scoring function of a family ("math", "choice"); unknown names raise ValueError."""
    try:
        return SCORERS[name]
    except KeyError as error:
        raise ValueError(f"unknown scorer {name!r}; known: {', '.join(sorted(SCORERS))}") from error


__all__ = [
    "SCORERS", "STATUSES", "MathScorer", "ScoreResult", "Scorer", "extract_boxed", "extract_choice",
    "get_scorer", "score_choice", "score_choice_one", "score_math", "score_math_one", "strip_reasoning",
]
