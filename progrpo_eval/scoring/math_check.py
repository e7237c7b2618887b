"""One math answer judged against one gold: the text stage (`math_text`), then math-verify.

    score_math_one("... so the answer is \\boxed{0.5}.", "\\frac12")  # ScoreResult(True, "ok", "1/2")

Decisions:
- Two stages. `quick_judgement` finds the answer and normalises it and the gold
  (`progrpo_eval.scoring.math_text`); where the text alone decides (no answer, an answer written
  as its gold, two plain numbers) it returns the verdict, and math-verify never runs. Otherwise
  math-verify parses and compares (`judge_with_math_verify`). `score_math_one(..., quick=False)`
  turns off the verdicts without a parser and the numeric shortcut below (the benchmark's anchor
  and the tests of equal verdicts).
- Gold: normalised like an answer, then parsed as `\\boxed{gold}` (faster than `$gold$`, and it
  parses every gold of MATH500, AIME, AMC23, OlympiadBench and Minerva); unescaped `$` are
  dropped first (OlympiadBench's "$69$,$84$"); a gold holding boxes is read as math-verify reads
  a solution (the last box, or the boxes it reads together); non-str golds (AMC23's float 27.0)
  go through str(). Golds are parsed once per process (a cache keyed by the gold text).
- Answer: a boxed, marked or bare answer is parsed exactly as a gold is (`\\boxed{answer}`), so
  both sides are read alike; prose goes to math-verify's extraction (LaTeX, then plain expressions).
- verify runs with `allow_set_relation_comp=True`, so `(0,\\infty)` matches `x>0`.
- Two numbers in closed form (`_differ_numerically`: no variables; only arithmetic, powers,
  pi, e, i and elementary functions; no percent, no unevaluated integral or sum) whose values
  differ by more than `DISTINCT_RELATIVE` of the larger value (at least 1) are not sent to
  verify: its numeric check (floats rounded to 6 places, exact numbers compared exactly) and its
  symbolic one (`simplify(gold - answer) == 0`) can then only say no, and the simplify is most
  of the time a wrong answer costs. Values are computed at 30 digits. With quick=False verify
  judges them.
- Errors are not swallowed: parse and verify run with `raise_on_error=True`, each (gold,
  prediction) pair separately; any matching pair is correct, otherwise an exception gives status
  "error". When math-verify's LaTeX parser gives up on an answer without raising (it then keeps
  only the text: a 2000-term sum, a malformed expression) and the gold did parse, the status is
  "error" too, never a silent "wrong".
- `extracted` is `math_text.answer_key` of the answer judged, so maj@k groups equal answers.
- math-verify's own timeouts use SIGALRM, which only works in the main thread, so they are off
  (`parsing_timeout=None`, `timeout_seconds=None`); `progrpo_eval.scoring.math_pool` bounds
  each answer's time instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from itertools import product

from latex2sympy2_extended.math_normalization import extract_boxed_content
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify
from sympy import Add, Expr, Mul, N, Number, NumberSymbol, Pow, preorder_traversal
from sympy.core.numbers import ImaginaryUnit
from sympy.functions import acos, asin, atan, cos, cot, csc, exp, log, sec, sin, tan

from progrpo_eval.scoring.answers import BOX_MACRO, ScoreResult, one_line, split_top_level
from progrpo_eval.scoring.math_text import (
    FoundAnswer,
    align_choice,
    answer_key,
    find_answer,
    normalise_answer,
    quick_verdict,
    scientific_verdict,
)

GOLD_EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())
PROSE_EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())
# the nodes of a "closed-form number" whose value sympy's evalf computes to the digits asked for
CLOSED_FORM_NODES = (
    (Add, Mul, Pow, Number, NumberSymbol, ImaginaryUnit)
    + (exp, log, sin, cos, tan, cot, sec, csc, asin, acos, atan)  # elementary functions
)
DISTINCT_RELATIVE = 1e-5  # far above the 1e-6 that math-verify's rounding to 6 places can bridge


class _DropDisabledTimeoutWarning(logging.Filter):
    """math-verify warns once per process that its timeout is off; here that is deliberate."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


for _logger_name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_logger_name).addFilter(_DropDisabledTimeoutWarning())


@lru_cache(maxsize=4096)
def gold_answer(gold: str) -> str:
    """The gold as an answer text, normalised like the answers it is compared with."""
    gold = str(gold).strip()
    if BOX_MACRO.search(gold):
        gold = extract_boxed_content(gold, mode="last")
    gold = gold.replace("\\$", "\0").replace("$", "").replace("\0", "\\$")
    return normalise_answer(gold)


def gold_to_latex(gold: str) -> str:
    """The gold answer as the `\\boxed{...}` text math-verify parses (see the module notes)."""
    return f"\\boxed{{{gold_answer(gold)}}}"


@lru_cache(maxsize=4096)
def _parse_boxed(answer: str) -> tuple:
    """An answer or gold text parsed as `\\boxed{answer}` (cached: golds repeat over samples)."""
    parsed = parse(f"\\boxed{{{answer}}}", list(GOLD_EXTRACTION), parsing_timeout=None, raise_on_error=True)
    return tuple(parsed)


def _parse_answer(found: FoundAnswer) -> Sequence:
    if found.kind == "prose":
        return parse(found.text, list(PROSE_EXTRACTION), parsing_timeout=None, raise_on_error=True)
    return _parse_boxed(found.text)


def _closed_form(item: object) -> bool:
    return isinstance(item, Expr) and all(isinstance(node, CLOSED_FORM_NODES) for node in preorder_traversal(item))


def _differ_numerically(gold_item: object, response_item: object) -> bool:
    """True if both are closed-form numbers whose values differ by more than DISTINCT_RELATIVE.

    |gold - answer| > DISTINCT_RELATIVE * max(1, |gold|, |answer|), each side evaluated at 30
    digits; False (undecided) when either is not a closed-form number or a value is not finite.
    """
    if not (_closed_form(gold_item) and _closed_form(response_item)):
        return False
    try:
        gold_value, response_value, gap = (
            abs(complex(N(value, 30))) for value in (gold_item, response_item, gold_item - response_item)
        )
    except (TypeError, ValueError, OverflowError):  # not a number after all, or beyond a float's range
        return False
    if not all(math.isfinite(value) for value in (gold_value, response_value, gap)):
        return False
    return gap > DISTINCT_RELATIVE * max(1.0, gold_value, response_value)


def _verify_pairs(gold_parsed: Sequence, response_parsed: Sequence, *, quick: bool = True) -> bool:
    """True if any (gold, prediction) pair matches; raises the first error if none matched.

    With `quick`, pairs of closed-form numbers that differ numerically are not matched without
    calling verify (`_differ_numerically`).
    """
    first_error: Exception | None = None
    for gold_item, response_item in product(gold_parsed, response_parsed):
        if quick and _differ_numerically(gold_item, response_item):
            continue
        try:
            if verify(
                gold_item, response_item, allow_set_relation_comp=True, timeout_seconds=None, raise_on_error=True
            ):
                return True
        except Exception as error:  # judged below: no pair matched, so this is an "error"
            first_error = first_error or error
    if first_error is not None:
        raise first_error
    return False


def _has_expression(parsed: Sequence) -> bool:
    return any(not isinstance(item, str) for item in parsed)


def quick_judgement(response: str, gold: str, *, quick: bool = True) -> ScoreResult | FoundAnswer:
    """The result where the text alone decides it, else the answer math-verify must judge.

    quick=False leaves every verdict to math-verify but the rule for powers of ten (finding and
    normalising the answer still happen here).
    """
    gold_text = gold_answer(str(gold))
    if not gold_text:
        return ScoreResult(False, "error", None, f"gold could not be parsed: {str(gold)[:100]!r}")
    found = find_answer(response, answers_needed=len(split_top_level(gold_text)))
    if found.kind == "none":
        return ScoreResult(False, "no_answer", None, found.text)
    if found.kind == "prose":
        return found
    answer, gold_text = align_choice(found.text, gold_text)
    verdict = scientific_verdict(answer, gold_text)
    if verdict is None and quick:
        verdict = quick_verdict(answer, gold_text)
    if verdict is None:
        return found._replace(text=answer)
    return ScoreResult(verdict, "ok", answer_key(answer))


def judge_with_math_verify(found: FoundAnswer, gold: str, *, quick: bool = True) -> ScoreResult:
    """math-verify's verdict on an answer `quick_judgement` left undecided (no time limit).

    quick=False calls verify on every pair, numerically distinct closed forms included.
    """
    try:
        gold_parsed = _parse_boxed(align_choice(found.text, gold_answer(str(gold)))[1])
    except Exception as error:  # a gold math-verify cannot read is reported per item
        return ScoreResult(False, "error", None, f"gold: {one_line(error)}")
    if not gold_parsed:
        return ScoreResult(False, "error", None, f"gold could not be parsed: {str(gold)[:100]!r}")
    try:
        response_parsed = _parse_answer(found)
        if not response_parsed:
            return ScoreResult(False, "no_answer", None)
        if found.kind == "prose":
            written = next((item for item in response_parsed if isinstance(item, str)), None)
            key = None if written is None else answer_key(written)
        else:
            key = answer_key(found.text)
        if _verify_pairs(gold_parsed, response_parsed, quick=quick):
            return ScoreResult(True, "ok", key)
        if _has_expression(gold_parsed) and not _has_expression(response_parsed):
            return ScoreResult(False, "error", key, f"math-verify could not parse the answer {str(key)[:80]!r}")
        return ScoreResult(False, "ok", key)
    except Exception as error:  # counted as "error", never as a wrong answer
        return ScoreResult(False, "error", None, one_line(error))


def score_math_one(response: str, gold: str, *, quick: bool = True) -> ScoreResult:
    """Judge one response against one gold, in this process, with no time limit.

    The pool workers run this; call it directly only for trusted inputs (a pathological answer
    such as `\\boxed{9^{9^{9}}}` can keep sympy busy for minutes).
    """
    judgement = quick_judgement(response, gold, quick=quick)
    if isinstance(judgement, ScoreResult):
        return judgement
    return judge_with_math_verify(judgement, gold, quick=quick)


def score_math_without_quick_verdicts(response: str, gold: str) -> ScoreResult:
    """`score_math_one(..., quick=False)` as a picklable pool check (the anchor the fast path is measured against)."""
    return score_math_one(response, gold, quick=False)
