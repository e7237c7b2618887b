"""One math answer judged against one gold by math-verify (the check the math pool runs).

Decisions:
- Gold: normalised to `\\boxed{gold}` before parsing (`gold_to_latex`). On the golds of
  MATH500, AIME, AMC23, OlympiadBench and Minerva this parses every one and is faster than
  `$gold$`; unescaped `$` inside the gold (OlympiadBench's "$69$,$84$") are dropped first, and
  a gold already holding a box is unwrapped. Non-str golds (AMC23's float 27.0) go through
  str(). Golds are parsed once per worker (a cache keyed by the gold text).
- Response: the text the caller passes (reasoning is cut by the caller, see
  `progrpo_eval.scoring.base.score_samples`), `\\fbox` read as `\\boxed`, then math-verify's
  LaTeX and plain-expression extraction with boxed answers matched FIRST
  (`boxed_match_priority=0`, as open-r1 does). Without a box math-verify falls back to "final
  answer is ..." and then the last number in the text; we keep that behaviour. Several boxes
  are read together as one set ("\\boxed{3} ... \\boxed{5}" is {3, 5}), which scores a hedging
  response wrong against a single gold and right against a two-answer gold.
- verify runs with `allow_set_relation_comp=True`, so `(0,\\infty)` matches `x>0`.
- Errors are not swallowed: parse and verify run with `raise_on_error=True`, each (gold,
  prediction) pair separately; any matching pair is correct, otherwise an exception gives
  status "error" (math-verify itself would quietly answer False).
- math-verify's own timeouts use SIGALRM, which only works in the main thread, so they are off
  (`parsing_timeout=None`, `timeout_seconds=None`); `progrpo_eval.scoring.math_pool` bounds
  each answer's time instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from itertools import product

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from progrpo_eval.scoring.answers import ScoreResult, extract_boxed, one_line

GOLD_EXTRACTION = (LatexExtractionConfig(), ExprExtractionConfig())
RESPONSE_EXTRACTION = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())


class _DropDisabledTimeoutWarning(logging.Filter):
    """math-verify warns once per process that its timeout is off; here that is deliberate."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


for _logger_name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_logger_name).addFilter(_DropDisabledTimeoutWarning())


def gold_to_latex(gold: str) -> str:
    """The gold answer as the `\\boxed{...}` text math-verify parses best (see module notes)."""
    gold = str(gold).strip()
    boxed = extract_boxed(gold)
    if boxed is not None:
        gold = boxed
    gold = gold.replace("\\$", "\0").replace("$", "").replace("\0", "\\$")
    return f"\\boxed{{{gold.strip()}}}"


@lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> tuple:
    parsed = parse(gold_to_latex(gold), list(GOLD_EXTRACTION), parsing_timeout=None, raise_on_error=True)
    return tuple(parsed)


def _parse_response(response: str) -> list:
    response = response.replace("\\fbox", "\\boxed")
    return parse(response, list(RESPONSE_EXTRACTION), parsing_timeout=None, raise_on_error=True)


def _verify_pairs(gold_parsed: Sequence, response_parsed: Sequence) -> bool:
    """True if any (gold, prediction) pair matches; raises the first error if none matched."""
    first_error: Exception | None = None
    for gold_item, response_item in product(gold_parsed, response_parsed):
        try:
            if verify(gold_item, response_item, allow_set_relation_comp=True,
                      timeout_seconds=None, raise_on_error=True):
                return True
        except Exception as error:  # judged below: no pair matched, so this is an "error"
            first_error = first_error or error
    if first_error is not None:
        raise first_error
    return False


def score_math_one(response: str, gold: str) -> ScoreResult:
    """Judge one response against one gold, in this process, with no time limit.

    The pool workers run this; call it directly only for trusted inputs (a pathological answer
    such as `\\boxed{9^{9^{9}}}` can keep sympy busy for minutes).
    """
    try:
        gold_parsed = _parse_gold(str(gold))
    except Exception as error:  # a gold math-verify cannot read is reported per item
        return ScoreResult(False, "error", None, f"gold: {one_line(error)}")
    if not gold_parsed:
        return ScoreResult(False, "error", None, f"gold could not be parsed: {str(gold)[:100]!r}")
    try:
        response_parsed = _parse_response(response)
        if not response_parsed:
            return ScoreResult(False, "no_answer", None)
        extracted = next((item for item in response_parsed if isinstance(item, str)), None)
        return ScoreResult(_verify_pairs(gold_parsed, response_parsed), "ok", extracted)
    except Exception as error:  # counted as "error", never as a wrong answer
        return ScoreResult(False, "error", None, one_line(error))
