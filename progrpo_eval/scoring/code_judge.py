"""The code benchmarks' own output rules, applied on the caller's side to what the sandbox collected.

The sandbox runs a program on every test input and hands back plain data (a function's decoded
return value, or the stdout text; `progrpo_eval.sandbox`). Whether that output is right is
decided here, by the rule of the benchmark the numbers are compared with:

- `evalplus_verdicts` (HumanEval+), EvalPlus's `unsafe_execute`: `out == exp` passes; the
  `find_zero` task (HumanEval/32) passes when |poly(xs, out)| <= atol instead; else, where atol is
  0 and the expected value is a float or a non-empty list/tuple of floats, atol becomes 1e-6 (and,
  as in EvalPlus, stays so for the rest of that test set), and with atol != 0 the output passes
  when its type equals the expected one, lists/tuples have the same length and
  `numpy.allclose(out, exp, rtol=1e-07, atol=atol)` holds.
- `lcb_stdout_matches` (LiveCodeBench and CodeForces, stdin/stdout), LiveCodeBench's
  `grade_stdio`: both texts stripped and split into lines, each line stripped; the line counts must
  agree; a line passes when it equals the expected line, or when both lines are whitespace-separated
  numbers (`decimal.Decimal`) with equal values.
- `lcb_value_matches` (LiveCodeBench, functional): a returned tuple becomes a list (top level, as
  LiveCodeBench does), then `==` against the expected JSON value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

FLOAT_ATOL = 1e-6  # EvalPlus: the tolerance forced for float outputs when the task gives none


def is_floats(value: Any) -> bool:
    """EvalPlus's `is_floats`: a float, or a non-empty list/tuple of floats."""
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)) and value:
        return all(isinstance(item, float) for item in value)
    return False


def _poly(coefficients: Sequence[float], x: float) -> float:
    """EvalPlus's oracle for find_zero: sum of coefficient_i * x**i (math.pow, as there)."""
    return sum(coefficient * math.pow(x, i) for i, coefficient in enumerate(coefficients))


def evalplus_output_passes(
    out: Any, expected: Any, inputs: Sequence[Any], atol: float, entry_point: str
) -> tuple[bool, float]:
    """(whether `out` passes for this input, the atol the next input of the set starts with)."""
    try:
        exact_match = out == expected
        if entry_point == "find_zero":
            return bool(abs(_poly(*inputs, out)) <= atol), atol
        if atol == 0 and is_floats(expected):
            atol = FLOAT_ATOL
        if not exact_match and atol != 0:
            if type(out) is not type(expected):
                return False, atol
            if isinstance(expected, (list, tuple)) and len(out) != len(expected):
                return False, atol
            return bool(np.allclose(out, expected, rtol=1e-07, atol=atol)), atol
        return bool(exact_match), atol
    except Exception:  # EvalPlus: any exception in the comparison fails the input (a str vs a float, ...)
        return False, atol


def evalplus_verdicts(
    outputs: Sequence[Any],
    ran: Sequence[bool],
    expected: Sequence[Any],
    inputs: Sequence[Sequence[Any]],
    atol: float,
    entry_point: str,
) -> list[bool]:
    """One verdict per input of ONE test set (base, or plus): ran cleanly and the output passes."""
    verdicts = []
    for out, did_run, exp, inp in zip(outputs, ran, expected, inputs):
        if not did_run:
            verdicts.append(False)
            continue
        passed, atol = evalplus_output_passes(out, exp, inp, atol, entry_point)
        verdicts.append(passed)
    return verdicts


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(token) for token in line.split()]
    except InvalidOperation:
        return None


def lcb_stdout_matches(got: str, expected: str) -> bool:
    """LiveCodeBench's stdin/stdout rule (module docstring)."""
    got_lines, expected_lines = _stripped_lines(got), _stripped_lines(expected)
    if len(got_lines) != len(expected_lines):
        return False
    for got_line, expected_line in zip(got_lines, expected_lines):
        if got_line == expected_line:
            continue
        got_numbers, expected_numbers = _decimals(got_line), _decimals(expected_line)
        if got_numbers is None or expected_numbers is None or got_numbers != expected_numbers:
            return False
    return True


def lcb_value_matches(got: Any, expected: Any) -> bool:
    """LiveCodeBench's functional rule: a tuple result compares as a list; then `==`."""
    if isinstance(got, tuple):
        got = list(got)
    try:
        return bool(got == expected)
    except Exception:  # a comparison that raises is a wrong answer
        return False
