"""The "dapo" scorer: DAPO's rule-based math reward, as verl's `math_dapo.compute_score` computes it.

DAPO (and the paper, Table 1) rewards +1 / -1: the answer after the LAST "Answer:" within the
response's final 300 characters, normalised by Minerva's `normalize_final_answer` (units, LaTeX
spacing, `\\boxed{}`, `\\text{}`, `\\frac12`), equals the normalised gold as a string. Matches
verl (`verl/utils/reward_score/math_dapo.py`, `strict_box_verify=False`) case for case:
- no "Answer:" in the tail: verl compares "[INVALID]" with the gold, which is wrong; here the
  status says "no_answer" so that summaries count it, and the reward is the same -1;
- a response that hit the length limit is judged on what it wrote, as verl does (DAPO's
  overlong reward shaping is the trainer's `data.overlong_buffer`, off by default);
- the gold is normalised the same way (`gt_need_extract=False`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from progrpo_eval.problem import Problem
from progrpo_eval.scoring.answers import ScoreResult
from progrpo_eval.scoring.base import Scorer, register_scorer

ANSWER_PATTERN = re.compile(r"(?i)Answer\s*:\s*([^\n]+)")
TAIL_CHARACTERS = 300  # verl: "The longest answer in MATH-500 has 159 characters"

SUBSTITUTIONS = [
    ("an ", ""),
    ("a ", ""),
    (".$", "$"),
    ("\\$", ""),
    (r"\ ", ""),
    (" ", ""),
    ("mbox", "text"),
    (",\\text{and}", ","),
    ("\\text{and}", ","),
    ("\\text{m}", "\\text{}"),
]
REMOVED_EXPRESSIONS = [
    "square",
    "ways",
    "integers",
    "dollars",
    "mph",
    "inches",
    "hours",
    "km",
    "units",
    "\\ldots",
    "sue",
    "points",
    "feet",
    "minutes",
    "digits",
    "cents",
    "degrees",
    "cm",
    "gm",
    "pounds",
    "meters",
    "meals",
    "edges",
    "students",
    "childrentickets",
    "multiples",
    "\\text{s}",
    "\\text{.}",
    "\\text{\ns}",
    "\\text{}^2",
    "\\text{}^3",
    "\\text{\n}",
    "\\text{}",
    r"\mathrm{th}",
    r"^\circ",
    r"^{\circ}",
    r"\;",
    r",\!",
    "{,}",
    '"',
    "\\dots",
]


def normalize_final_answer(answer: str) -> str:
    """Minerva's / DAPO's answer normalisation (verl `math_dapo.normalize_final_answer`)."""
    answer = answer.split("=")[-1]
    for before, after in SUBSTITUTIONS:
        answer = answer.replace(before, after)
    for expression in REMOVED_EXPRESSIONS:
        answer = answer.replace(expression, "")
    answer = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", answer)
    answer = re.sub(r"(\\text\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\textbf\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\overline\{)(.*?)(\})", "\\2", answer)
    answer = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", answer)
    answer = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", answer)
    answer = re.sub(r"(sqrt)([^{])", "sqrt{\\2}", answer)
    answer = answer.replace("$", "")
    if answer.replace(",", "").isdigit():
        answer = answer.replace(",", "")
    return answer.strip()


def score_dapo_one(answer_text: str, gold: str) -> ScoreResult:
    """DAPO's verdict on one response (see the module docstring)."""
    matches = ANSWER_PATTERN.findall(answer_text[-TAIL_CHARACTERS:])
    if not matches:
        return ScoreResult(False, "no_answer", None)
    prediction = normalize_final_answer(matches[-1])
    return ScoreResult(prediction == normalize_final_answer(str(gold)), "ok", prediction)


@register_scorer
class DapoScorer(Scorer):
    """DAPO's "Answer: X" string rule; reward +1 / -1."""

    name = "dapo"
    wrong_reward = -1.0

    def score_problems(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[list[ScoreResult]]:
        return [[score_dapo_one(text, problem.gold) for text in texts] for problem, texts in items]
