"""The comparison rules and the value codec the test driver uses (pure functions, no sandbox)."""

from __future__ import annotations

import math

import pytest

from progrpo_eval.sandbox.compare import (
    Unrepresentable,
    decode_value,
    encode_value,
    numbers_close,
    stdout_matches,
    values_equal,
)

STDOUT_CASES = [  # (got, expected, atol, rtol, match)
    ("3\n", "3", 0, 0, True),
    ("1 2\n3  4\n\n", " 1 2 3\t4 ", 0, 0, True),  # whitespace and line breaks are insignificant
    ("1 2 3", "1 2", 0, 0, False),  # token counts differ
    ("+7 007 -0", "7 7 0", 0, 0, True),  # integer literals by value
    ("1000000001", "1000000000", 1e-6, 1e-6, False),  # integers never get a tolerance
    ("9" * 5000, "9" * 5000, 0, 0, True),  # any length (no int() digit limit)
    ("9" * 4999 + "8", "9" * 5000, 1e-6, 1e-6, False),
    ("1.0", "1", 0, 0, True),  # numbers: "1.0" = "1" always
    ("0.3000001", "0.3", 0, 0, False),
    ("0.3000001", "0.3", 1e-6, 1e-6, True),
    ("0.31", "0.3", 1e-6, 1e-6, False),
    ("1e3", "1000", 0, 0, True),
    ("YES", "yes", 0, 0, False),  # words are case-sensitive
    ("nan", "nan", 0, 0, True),  # the same token
    ("nan", "NaN", 1e-6, 1e-6, False),  # NaN equals nothing numerically
    ("inf", "inf", 0, 0, True),
    ("", "", 0, 0, True),
    ("", "0", 0, 0, False),
]


@pytest.mark.parametrize("got, expected, atol, rtol, match", STDOUT_CASES)
def test_stdout_matches(got, expected, atol, rtol, match):
    assert stdout_matches(got, expected, atol=atol, rtol=rtol) is match


VALUE_CASES = [  # (got, expected, options, equal)
    (3, 3, {}, True),
    (3, 3.0, {}, True),  # Python ==, as EvalPlus and LiveCodeBench
    (True, 1, {}, True),
    (0.1 + 0.2, 0.3, {}, False),  # exact unless a tolerance is given
    (0.1 + 0.2, 0.3, {"atol": 1e-6}, True),
    ([1.0, 2.0000001], (1, 2), {"atol": 1e-6}, True),  # numeric pass: list vs tuple element-wise
    ([1, 2], (1, 2), {}, False),  # exact pass: a list is not a tuple ...
    ([1, 2], (1, 2), {"tuple_as_list": True}, True),  # ... unless asked (LiveCodeBench)
    ({"a": [1.0]}, {"a": [1.0000001]}, {"atol": 1e-6}, True),
    ({1, 2}, {2, 1}, {}, True),
    ("abc", "abd", {"atol": 1.0}, False),
    (1000000001, 1000000000, {"atol": 1e-6, "rtol": 1e-6}, False),  # two ints: exact
    (1.000001e9, 1e9, {"rtol": 1e-6}, True),
    (float("nan"), float("nan"), {"atol": 1.0}, False),
    (None, None, {}, True),
    (None, 0, {"atol": 1.0}, False),
]


@pytest.mark.parametrize("got, expected, options, equal", VALUE_CASES)
def test_values_equal(got, expected, options, equal):
    assert values_equal(got, expected, **options) is equal


def test_numbers_close_is_numpys_rule():
    assert numbers_close(1.0 + 1.9e-6, 1.0, atol=1e-6, rtol=1e-6)  # |d| <= atol + rtol * |expected| = 2e-6
    assert not numbers_close(1.0 + 2.1e-6, 1.0, atol=1e-6, rtol=1e-6)
    assert numbers_close(1000.0009, 1000.0, atol=1e-6, rtol=1e-6)  # relative: 9e-4 <= 1e-6 + 1e-3
    assert numbers_close(math.inf, math.inf, 0, 0) and not numbers_close(math.inf, 1e308, 1, 1)


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -5,
        2**100000,
        1.5,
        float("inf"),
        "text",
        [1, [2, (3,)]],
        (1, "a"),
        {1, 2},
        frozenset({3}),
        {"k": (1, 2), 3: [None]},
        2 + 3j,
        [],
    ],
    ids=lambda value: type(value).__name__,
)
def test_codec_round_trips_plain_values(value):
    decoded = decode_value(encode_value(value))
    assert decoded == value and type(decoded) is type(value)


def test_codec_turns_program_objects_into_plain_data():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    class SneakyInt(int):
        def __eq__(self, other):
            return True

    assert isinstance(decode_value(encode_value(AlwaysEqual())), Unrepresentable)
    assert not values_equal(decode_value(encode_value(AlwaysEqual())), 42)
    decoded = decode_value(encode_value(SneakyInt(5)))
    assert type(decoded) is int and decoded == 5 and not values_equal(decoded, 6)
    deep = []
    for _ in range(500):
        deep = [deep]
    assert decode_value(encode_value(deep)) != deep  # cut at the depth limit, not a RecursionError


def test_decode_refuses_unknown_tags():
    with pytest.raises(ValueError, match="unknown value tag"):
        decode_value({"$pickle": "..."})
