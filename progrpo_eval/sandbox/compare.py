"""How a program's output is judged against the expected one, and how values cross the sandbox wall.

This file is STANDALONE (standard library only): the trusted driver imports it inside the sandbox,
and the caller's side imports it as `progrpo_eval.sandbox.compare`. Both test modes judge with it.

Rules (one place, shared by the stdin/stdout and the function modes):
- `numbers_close(got, expected, atol, rtol)`: |got − expected| ≤ atol + rtol·|expected| (numpy's
  `isclose` rule). NaN equals nothing (as in Python and numpy); ±inf equals only itself.
- `values_equal(got, expected, atol, rtol, tuple_as_list)` (function mode): Python `==` on plain
  data first (an exact match always passes, like EvalPlus and LiveCodeBench). Failing that, and
  only where atol or rtol is positive, a numeric comparison: two ints still compare exactly; an
  int/float pair (never a bool) compares with `numbers_close`; lists and tuples element-wise
  (either container type, as `numpy.allclose` accepts), dicts key by key, anything else exactly.
  `tuple_as_list=True` makes tuples equal to lists even in the exact pass (LiveCodeBench converts
  a returned tuple to a list before comparing).
- `stdout_matches(got, expected, atol, rtol)` (stdin/stdout mode): both texts split on any
  whitespace (line breaks and runs of blanks are insignificant); the token counts must agree; two
  tokens match if they are the same string; else if both are integer literals, if their values
  are equal ("+7" = "07" = "7"); else if both parse as numbers and at least one is not an integer
  literal, by `numbers_close` on the floats ("1.0" = "1" always; "0.3000001" = "0.3" only within
  the tolerance).

Values cross the wall as tagged JSON (`encode_value` / `decode_value`), never pickle: None, bool,
int, float (NaN and ±inf included), str, list, tuple, set, frozenset, dict and complex survive
the trip with their types; huge ints travel as hex. Anything else (an object of the program's own
class, a numpy scalar...) is converted to plain data first: integral and real numbers become int
and float (an `numbers.Integral` becomes `int(x)`), other objects become a `{"$repr": ...}`
marker that equals nothing but itself. The decoded value is plain builtin data, so a returned
object with a rigged `__eq__` cannot make a comparison pass.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

_INTEGER = re.compile(r"([+-]?)0*([0-9]+)")
_MAX_DEPTH = 100
_HEX_INT_BITS = 10_000  # ints longer than this travel as hex (json's decimal ints have a digit limit)


def numbers_close(got: float, expected: float, atol: float, rtol: float) -> bool:
    """|got − expected| ≤ atol + rtol·|expected|; NaN equals nothing, ±inf only itself."""
    if math.isnan(got) or math.isnan(expected):
        return False
    if math.isinf(got) or math.isinf(expected):
        return got == expected
    return abs(got - expected) <= atol + rtol * abs(expected)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_list_if_tuple(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_as_list_if_tuple(item) for item in value]
    if isinstance(value, list):
        return [_as_list_if_tuple(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_list_if_tuple(item) for key, item in value.items()}
    return value


def _close(got: Any, expected: Any, atol: float, rtol: float) -> bool:
    if _is_number(got) and _is_number(expected):
        if isinstance(got, int) and isinstance(expected, int):
            return got == expected
        return numbers_close(float(got), float(expected), atol, rtol)
    if isinstance(got, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(got) == len(expected) and all(_close(g, e, atol, rtol) for g, e in zip(got, expected, strict=True))
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(_close(got[k], expected[k], atol, rtol) for k in expected)
    return type(got) is type(expected) and got == expected


def values_equal(got: Any, expected: Any, *, atol: float = 0.0, rtol: float = 0.0, tuple_as_list: bool = False) -> bool:
    """Function-mode verdict on decoded plain values (rules in the module docstring)."""
    if tuple_as_list:
        got, expected = _as_list_if_tuple(got), _as_list_if_tuple(expected)
    if got == expected:
        return True
    return (atol > 0 or rtol > 0) and _close(got, expected, atol, rtol)


def _integer_key(match: re.Match) -> tuple[str, str]:
    """(sign, digits) without leading zeros, "-0" as "0": no int() call, so any length works."""
    sign, digits = match.group(1), match.group(2).lstrip("0") or "0"
    return ("-" if sign == "-" and digits != "0" else "", digits)


def _tokens_match(got: str, expected: str, atol: float, rtol: float) -> bool:
    if got == expected:
        return True
    got_integer, expected_integer = _INTEGER.fullmatch(got), _INTEGER.fullmatch(expected)
    if got_integer and expected_integer:
        return _integer_key(got_integer) == _integer_key(expected_integer)
    try:
        return numbers_close(float(got), float(expected), atol, rtol)
    except ValueError:
        return False


def stdout_matches(got: str, expected: str, *, atol: float = 0.0, rtol: float = 0.0) -> bool:
    """Stdin/stdout verdict: whitespace-normalised tokens, numbers within the tolerance."""
    got_tokens, expected_tokens = got.split(), expected.split()
    if len(got_tokens) != len(expected_tokens):
        return False
    return all(_tokens_match(g, e, atol, rtol) for g, e in zip(got_tokens, expected_tokens, strict=True))


def _encode_int(value: int) -> Any:
    if value.bit_length() > _HEX_INT_BITS:
        return {"$int": hex(value)}
    return value


_TAGGED_CONTAINERS = ((tuple, "$tuple"), (frozenset, "$frozenset"), (set, "$set"))


def encode_value(value: Any, depth: int = 0) -> Any:
    """A JSON-ready form of `value` that keeps the types listed in the module docstring."""
    if depth > _MAX_DEPTH:
        return {"$repr": "<nested too deep>"}
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _encode_int(int.__int__(value))
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list):
        return [encode_value(item, depth + 1) for item in value]
    for container, tag in _TAGGED_CONTAINERS:
        if isinstance(value, container):
            return {tag: [encode_value(item, depth + 1) for item in value]}
    if isinstance(value, dict):
        return {"$dict": [[encode_value(k, depth + 1), encode_value(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, complex):
        return {"$complex": [value.real, value.imag]}
    if isinstance(value, numbers.Integral):
        return _encode_int(int(value))
    if isinstance(value, numbers.Real):
        return float(value)
    return {"$repr": _short_repr(value)}


def _short_repr(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception as error:  # a program's object whose __repr__ raises is still reported
        text = f"<unrepresentable {type(error).__name__}>"
    return text[:limit]


class Unrepresentable:
    """A value the program returned that is not plain data; equal only to an identical marker."""

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unrepresentable) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Unrepresentable({self.text!r})"


def _decode_tagged(tag: str, payload: Any) -> Any:
    if tag == "$tuple":
        return tuple(decode_value(item) for item in payload)
    if tag == "$set":
        return {decode_value(item) for item in payload}
    if tag == "$frozenset":
        return frozenset(decode_value(item) for item in payload)
    if tag == "$dict":
        return {decode_value(k): decode_value(v) for k, v in payload}
    if tag == "$complex":
        return complex(payload[0], payload[1])
    if tag == "$int":
        return int(payload, 16)
    if tag == "$repr":
        return Unrepresentable(str(payload))
    raise ValueError(f"unknown value tag {tag!r}")


def decode_value(data: Any) -> Any:
    """The inverse of `encode_value`: plain builtin data (plus `Unrepresentable` markers)."""
    if isinstance(data, list):
        return [decode_value(item) for item in data]
    if isinstance(data, dict):
        if len(data) != 1:
            raise ValueError("a tagged value has exactly one key")
        ((tag, payload),) = data.items()
        return _decode_tagged(tag, payload)
    return data
