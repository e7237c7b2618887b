"""Scoring: registered scorers, and the one function every caller judges samples with.

    from progrpo_eval.scoring import ScorerSettings, build_scorer, score_samples
    with build_scorer("math", ScorerSettings(timeout_s=10)) as scorer:
        scored = score_samples(scorer, problems, texts_per_problem, reasoning=False)

Registered: "math" (math-verify in worker processes), "choice" (option letters), "dapo" (DAPO's
"Answer:" rule, verl's `math_dapo`), "digit" (smoke runs), plus the scorers other modules
register on import ("code", "toy"). This package imports math-verify but neither vLLM nor torch.
"""

# Registration order is the order `scorer_names()` lists.
from progrpo_eval.scoring import math  # noqa: F401, I001
from progrpo_eval.scoring import choice, dapo, digit  # noqa: F401
from progrpo_eval.scoring import code  # noqa: F401
from progrpo_eval.scoring import toy  # noqa: F401
from progrpo_eval.scoring.answers import STATUSES, ScoreResult, extract_boxed, strip_reasoning
from progrpo_eval.scoring.base import (
    ScoredSample,
    Scorer,
    ScorerSettings,
    build_scorer,
    register_scorer,
    score_samples,
    scorer_class,
    scorer_names,
)
from progrpo_eval.scoring.choice import extract_choice, parse_gold_letter, score_choice, score_choice_one
from progrpo_eval.scoring.math_check import score_math_one
from progrpo_eval.scoring.math_pool import MathScorer

__all__ = [
    "STATUSES",
    "MathScorer",
    "ScoreResult",
    "ScoredSample",
    "Scorer",
    "ScorerSettings",
    "build_scorer",
    "extract_boxed",
    "extract_choice",
    "parse_gold_letter",
    "register_scorer",
    "score_choice",
    "score_choice_one",
    "score_math_one",
    "score_samples",
    "scorer_class",
    "scorer_names",
    "strip_reasoning",
]
