"""Rewards: the same scorers as `progrpo-eval`, so training and evaluation cannot drift apart.

- "math_verify": `progrpo_eval.scoring.MathScorer` (math-verify in worker processes with a
  per-answer timeout) on the response's last \\boxed{} answer; reward 1 / 0.
- "dapo": DAPO's rule (verl `math_dapo`): the answer after the last "Answer:" in the response's
  final 300 characters, normalised (units, LaTeX spacing, \\boxed{}, trailing dots) and compared
  as a string with the normalised gold; reward +1 / -1. A response that hit the length limit
  counts as wrong, as in DAPO.
- "code": needs the sandbox (`progrpo_eval.sandbox`), which this build does not have yet: refused.
- "toy": 1 if the response contains a digit, else 0. Not a task: a signal that a random tiny
  model hits about half the time, so CPU smoke runs see mixed groups, re-weighting and clipping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from progrpo_eval.scoring import MathScorer, extract_boxed


@dataclass(frozen=True)
class Reward:
    value: float  # what the advantage sees
    correct: bool  # what accuracy counts
    status: str  # the scorer's status ("ok", "no_answer", "timeout", "error")


_SUBSTITUTIONS = [("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), (r"\ ", ""), (" ", ""), ("mbox", "text"),
                  (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}")]
_REMOVED_WORDS = ["square", "ways", "integers", "dollars", "mph", "inches", "hours", "km", "units", "\\ldots", "sue",
                  "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters", "meals",
                  "edges", "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}",
                  "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", r"\mathrm{th}", r"^\circ", r"^{\circ}", r"\;",
                  r",\!", "{,}", '"', "\\dots"]


def normalize_final_answer(answer: str) -> str:
    """DAPO's / Minerva's answer normalisation (verl `math_dapo.normalize_final_answer`)."""
    answer = answer.split("=")[-1]
    for before, after in _SUBSTITUTIONS:
        answer = answer.replace(before, after)
    for word in _REMOVED_WORDS:
        answer = answer.replace(word, "")
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


def dapo_reward(response: str, gold: str, truncated: bool) -> Reward:
    """+1 if the "Answer:" of the response's last 300 characters matches the gold, else -1."""
    tail = response[-300:]
    matches = re.findall(r"(?i)Answer\s*:\s*([^\n]+)", tail)
    if truncated or not matches:
        return Reward(-1.0, False, "no_answer" if not matches else "ok")
    correct = normalize_final_answer(matches[-1]) == normalize_final_answer(gold)
    return Reward(1.0 if correct else -1.0, correct, "ok")


class RewardFunction:
    """Scores a batch of responses against their golds with the configured rule."""

    def __init__(self, kind: str, math_scorer: str, *, timeout_s: float = 10.0, workers: int | None = None):
        if kind == "code":
            raise ValueError("data.reward=code needs the code sandbox, which this build does not have yet")
        self.kind, self.math_scorer = kind, math_scorer
        use_pool = kind == "math" and math_scorer == "math_verify"
        self._pool = MathScorer(workers, timeout_s=timeout_s) if use_pool else None

    def __call__(self, responses: list[str], golds: list[str], truncated: list[bool]) -> list[Reward]:
        if self.kind == "toy":
            return [Reward(float(hit), hit, "ok") for hit in (any(ch.isdigit() for ch in r) for r in responses)]
        if self._pool is None:
            return [dapo_reward(r, g, t) for r, g, t in zip(responses, golds, truncated)]
        results = self._pool.score(responses, golds)
        return [Reward(float(result.correct), result.correct, result.status) for result in results]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


__all__ = ["Reward", "RewardFunction", "dapo_reward", "extract_boxed", "normalize_final_answer"]
