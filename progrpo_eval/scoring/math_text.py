"""The text stage of math scoring: where the answer is, how it is written, and the verdicts that need no parser.

Everything here is string work (no LaTeX parser, no sympy), so it is cheap and cannot hang;
`progrpo_eval.scoring.math_check` runs math-verify on what this stage leaves undecided.

Decisions:
- Where the answer is (`find_answer`), in this order:
  1. A box: the content of the LAST `\\boxed{}` / `\\fbox{}`, never an earlier one (as Qwen2.5-Math,
     DeepScaleR, lm-eval's minerva and verl read it: reasoning models box intermediate results).
     A last box that never closes (generation stopped mid-answer) or is empty is no answer; we
     never fall back to earlier maths. Two exceptions: an answer marker after the last box wins
     (see 2); and against a gold that lists several answers (OlympiadBench's multi-answer rows,
     `Problem.golds_mode == "all"`, or any gold with top-level commas), a last box holding fewer
     answers than the gold is read together with the boxes math-verify reads with it (boxes
     next to each other or joined by "and", "or", ",", ";"): `\\boxed{69} and \\boxed{84}`.
  2. An answer marker, the last "final answer is" (lm-eval's minerva format: `Final Answer: The
     final answer is $X$. I hope it is correct.`) or "Answer:" opening a line (DAPO's format),
     when no box follows it: the rest of its line, if that is a bare answer (see 3); else the
     text after it is prose (see 4). After a box, only a marked line that looks like maths (a
     digit, a command, `$`, a lone letter) overrides the box: "\\boxed{44}. We may check our
     answer: ..." and "The final answer is correct." keep 44.
  3. A bare answer: one line without prose (no two words in a row, no "answer"), such as
     `x^2 + 2*x + 1`, `$\\dfrac{1}{3}$` or `\\$10`: the whole line is the answer.
  4. Prose: math-verify's own extraction (LaTeX, then the last number).
- How it is written (`normalise_answer`, the same for golds and for answers of kinds 1 to 3):
  math delimiters and a final full stop dropped; `\\$` dropped; `\\dfrac`/`\\tfrac` as `\\frac`;
  `\\left`/`\\right` dropped; thousands separators dropped (`1{,}000`, `1\\,000`, `1,\\!000`,
  and a whole answer `1 000` or `1,000`); scientific notation as a power of ten (Minerva's
  `4.5e33` is 4.5 x 10^33, not 4.5·e·33); numpy spellings (`np.arcsin`, `-1./3`) as LaTeX;
  braces around the whole answer, doubled parentheses `((x))` and trailing backslashes dropped.
  Against a choice gold such as `\\text{(E)}`, an answer that opens with a choice, such as
  `\\textbf{(E)}\\ 1{,}008{,}016`, is that choice.
- Verdicts without a parser (`quick_verdict`): an answer written exactly as its gold is correct;
  two numbers (integers, decimals, fractions) are compared as math-verify compares them
  (integers and fractions exactly; with a decimal, rounded to 6 places, and only where that
  rounding cannot change the outcome). Numbers where one side is a power of ten (Minerva's
  physical quantities) are equal to 1 part in 10^6 (`scientific_verdict`), with or without the
  fast path: math-verify's absolute rounding called 2.88e-18 equal to 2.88e-19 (found by the
  lm-eval cross-check). Everything else goes to math-verify. A test checks on
  every labelled case in `../shared/data/scoring/` that these verdicts equal math-verify's.
- The answer key (`answer_key`): the normalised answer without spaces, and a number (integer,
  decimal, `a\\times 10^{b}`, `\\frac{p}{q}`, `p/q`, a mixed number) as its exact reduced fraction
  ("1/2", "-3"). The math scorer stores it as `ScoreResult.extracted`, so maj@k counts
  `\\frac{1}{2}` and `0.5` as one answer.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import NamedTuple

from latex2sympy2_extended.math_normalization import extract_boxed_content

from progrpo_eval.scoring.answers import BOX_MACRO, last_box, split_top_level

MAX_BARE_CHARACTERS = 1000  # a longer line without a box is read as prose
ANSWER_KINDS = ("box", "marked", "bare")  # found answers read as `\\boxed{answer}`
MAX_SIGNIFICANT_DIGITS = 15  # math-verify's floats carry 15 digits: longer decimals go to it


class FoundAnswer(NamedTuple):
    """Where the answer of a response is.

    kind: "box", "marked" (after "final answer is" or "Answer:") or "bare" (`text` is the
    normalised answer), "prose" (`text` is the response, or what follows its answer marker, for
    math-verify to search), "none" (no answer; `text` says why).
    """

    kind: str
    text: str

    def as_response(self) -> str:
        """A response that `find_answer` reads back as this answer (what the pool workers get)."""
        return f"\\boxed{{{self.text}}}" if self.kind in ANSWER_KINDS else self.text


# --- where the answer is ------------------------------------------------------------------------

_MATH_DELIMITED = re.compile(r"^(?:\$\$(.*)\$\$|\$(.*)\$|\\\((.*)\\\)|\\\[(.*)\\\])\s*\.?$", re.DOTALL)
_PROSE = re.compile(r"[A-Za-z]{2,}[ \t]+[A-Za-z]{2,}|(?i:answer)")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_ANSWER_MARKER = re.compile(r"(?im)final answer is:?|^[ \t]*(?:\*\*)?(?:final[ \t]+)?answer(?:\*\*)?[ \t]*:(?:\*\*)?")
_MATH_LIKE = re.compile(r"[\d\\$]|^\W*[A-Za-z]\W*$")  # a digit, a command, $, or a lone letter
_I_HOPE = re.compile(r"(?i)\s*I hope it is correct.*$")
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
_BROKEN_MATH = re.compile(r"(?<!\\)\$[ \t]+\$")


def strip_math_delimiters(text: str) -> str:
    """`$x$`, `$$x$$`, `\\(x\\)`, `\\[x\\]` (with a full stop after, nested too) -> `x`; anything else as it is."""
    text = text.strip()
    while (match := _MATH_DELIMITED.match(text)) is not None:
        text = next(group for group in match.groups() if group is not None).strip()
    return text


def bare_answer(text: str) -> str | None:
    """The text itself when it is a bare answer (one line, no prose); None when it is prose."""
    stripped = text.strip()
    if not stripped or "\n" in stripped or len(stripped) > MAX_BARE_CHARACTERS:
        return None
    inner = _BROKEN_MATH.sub(" ", strip_math_delimiters(stripped))  # `$x+$ $y$`: one formula in two
    if _UNESCAPED_DOLLAR.search(inner) or _PROSE.search(_COMMAND.sub(" ", inner)):
        return None
    return inner


def _marked_answer(tail: str, *, after_a_box: bool) -> FoundAnswer | None:
    """The answer after "final answer is" or "Answer:": the rest of its line when that is a bare
    answer (`$10,455$. I hope it is correct.` is 10455), else math-verify searches what follows.

    after_a_box: only a bare answer that looks like maths counts (None otherwise: the box does),
    so "\\boxed{44}. The final answer is correct." still answers 44.
    """
    line = _I_HOPE.sub("", tail.strip().split("\n", 1)[0])
    bare = bare_answer(line)
    if after_a_box and (bare is None or not _MATH_LIKE.search(bare)):
        return None
    if bare is None:
        return FoundAnswer("prose", tail)
    bare = normalise_answer(bare)
    return FoundAnswer("marked", bare) if bare else FoundAnswer("none", "nothing after the answer marker")


def find_answer(response: str, *, answers_needed: int = 1) -> FoundAnswer:
    """Where the answer of `response` is (see the module notes), normalised unless it is prose.

    answers_needed: how many answers the gold lists (its top-level commas plus one).
    """
    boxes = list(BOX_MACRO.finditer(response))
    markers = list(_ANSWER_MARKER.finditer(response))
    if markers and (not boxes or markers[-1].start() > boxes[-1].start()):
        marked = _marked_answer(response[markers[-1].end() :], after_a_box=bool(boxes))
        if marked is not None:
            return marked
    has_box, content = last_box(response)
    if has_box:
        if content is None:
            return FoundAnswer("none", "the last \\boxed{ is never closed")
        if len(boxes) > 1 and len(split_top_level(content)) < answers_needed:
            content = extract_boxed_content(response, mode="last")  # math-verify's reading of a list of boxes
        content = normalise_answer(content)
        return FoundAnswer("box", content) if content else FoundAnswer("none", "empty \\boxed{}")
    bare = bare_answer(response)
    if bare is not None:
        bare = normalise_answer(bare)
        return FoundAnswer("bare", bare) if bare else FoundAnswer("none", "")
    return FoundAnswer("prose", response)


# --- how it is written --------------------------------------------------------------------------

_SMALL_FRACTION = re.compile(r"\\[dt]frac(?![A-Za-z])")
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?:\.|(?![A-Za-z]))")
_THOUSANDS_MARK = re.compile(r"(?<=\d)(?:,\\!|\{,\}|\\,|\\ |~|\\;|\\:)(?=\d{3}(?!\d))")
_GROUPED_NUMBERS = (
    re.compile(r"-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?"),
    re.compile(r"-?[1-9]\d{0,2}(?: \d{3})+(?:\.\d+)?"),
)
_SCIENTIFIC = re.compile(r"(?<![\w.\\])(\d+(?:\.\d+)?|\.\d+)[eE]([-+]?\d+)(?![\w.])")
_NUMPY = re.compile(r"(?<![A-Za-z\\])np\.(?=[A-Za-z])")
_DOT_BEFORE_SLASH = re.compile(r"(?<=\d)\.(?=/)")
_CHOICE_GOLD = re.compile(r"\\(?:text|textbf|mathrm|mathbf)\{\s*\(([A-Z])\)\s*\}|\(([A-Z])\)")
_CHOICE_ANSWER = re.compile(r"(?:\\(?:text|textbf|mathrm|mathbf)\s*\{\s*)?\(([A-Z])\)")


def _scientific_to_power(match: re.Match) -> str:
    exponent = match.group(2).lstrip("+")
    return f"{match.group(1)}\\times 10^{{{exponent}}}"


def _matching_closers(text: str) -> tuple[dict[int, int], dict[int, int]]:
    """Where each `{` closes (escaped `\\{` `\\}` not counted, as `balanced_group`) and each `(` closes."""
    braces, parentheses = {}, {}
    open_braces, open_parentheses = [], []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            open_braces.append(index)
        elif char == "}" and open_braces:
            braces[open_braces.pop()] = index
        index += 1
    for index, char in enumerate(text):  # parentheses: every one counts, escaped or not
        if char == "(":
            open_parentheses.append(index)
        elif char == ")" and open_parentheses:
            parentheses[open_parentheses.pop()] = index
    return braces, parentheses


def _without_redundant_groups(text: str) -> str:
    """Braces around the whole answer dropped, and `((x))` as `(x)`: deep nesting costs the parser seconds.

    One pass finds every closer, then the wrappers are peeled as a window [start, end) shrinks, so
    200 000 nested brackets cost linear time, not quadratic.
    """
    braces, parentheses = _matching_closers(text)
    start, end = 0, len(text)
    while start < end:
        if text[start] == "{" and text[end - 1] == "}" and braces.get(start) == end - 1:
            start, end = start + 1, end - 1
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
        elif (
            text.startswith("((", start, end)
            and parentheses.get(start) == end - 1
            and parentheses.get(start + 1) == end - 2
        ):
            start, end = start + 1, end - 1
        else:
            break
    return text[start:end]


def normalise_answer(answer: str) -> str:
    """An answer (or gold) in the one spelling both sides share (see the module notes).

    Repeated until nothing changes (a step can uncover work for an earlier one), so normalising
    twice gives what normalising once gave.
    """
    for _ in range(10):
        normalised = _normalise_once(answer)
        if normalised == answer:
            break
        answer = normalised
    return answer


def _normalise_once(answer: str) -> str:
    answer = strip_math_delimiters(answer)
    answer = answer.replace("\\$", "")
    answer = _SMALL_FRACTION.sub(r"\\frac", answer)
    answer = _LEFT_RIGHT.sub("", answer)
    answer = _THOUSANDS_MARK.sub("", answer)
    if any(pattern.fullmatch(answer.strip()) for pattern in _GROUPED_NUMBERS):
        answer = answer.replace(",", "").replace(" ", "")
    answer = _SCIENTIFIC.sub(_scientific_to_power, answer)
    answer = _NUMPY.sub(r"\\", answer)
    answer = _DOT_BEFORE_SLASH.sub("", answer)
    answer = " ".join(answer.split()).rstrip("\\").rstrip()
    if answer.endswith(".") and not answer.endswith("..") and not answer.endswith("\\."):
        answer = answer[:-1].rstrip()
    return _without_redundant_groups(answer)


def align_choice(answer: str, gold: str) -> tuple[str, str]:
    """Against a choice gold (`\\text{(C)}`, `(C)`), both as `\\text{(X)}`, the answer read from its opening
    choice (`\\textbf{(E)}\\ 1{,}008{,}016` is `\\text{(E)}`); otherwise both as they are."""
    gold_match = _CHOICE_GOLD.fullmatch(gold)
    if gold_match is None:
        return answer, gold
    answer_match = _CHOICE_ANSWER.match(answer)
    if answer_match is not None:
        answer = f"\\text{{({answer_match.group(1)})}}"
    return answer, f"\\text{{({gold_match.group(1) or gold_match.group(2)})}}"


# --- verdicts without a parser, and the answer key ----------------------------------------------

_DECIMAL = re.compile(r"-?\d+(?:\.\d+)?")
_FRACTION = re.compile(r"(-?)(\d*)\\frac\{(\d+)\}\{(\d+)\}|(-?)(\d*)\\frac(\d)(\d)")
_SLASH_FRACTION = re.compile(r"(-?\d+)/(\d+)")
_POWER_OF_TEN = re.compile(r"(-?\d+(?:\.\d+)?)\\(?:times|cdot) ?10\^(?:\{([-+]?\d+)\}|(\d))")


def _significant_digits(number: str) -> int:
    return len(number.lstrip("-").replace(".", "").lstrip("0")) or 1


def quick_verdict(answer: str, gold: str) -> bool | None:
    """math-verify's verdict where the text alone decides it, else None (both sides normalised).

    Numbers here are integers, decimals and fractions (`\\frac{p}{q}`, `\\frac12`, `p/q`, `2\\frac{1}{2}`)
    written without spaces. math-verify reads integers and fractions as exact rationals, and
    compares a decimal (a float) with anything rounded to 6 places.
    """
    if answer == gold:
        return True
    answer_value, gold_value = exact_number(answer, scientific=False), exact_number(gold, scientific=False)
    if answer_value is None or gold_value is None:
        return None
    decimals = [number for number in (answer, gold) if "." in number]
    if not decimals:
        return answer_value == gold_value
    if max(_significant_digits(number) for number in decimals) > MAX_SIGNIFICANT_DIGITS:
        return None
    if answer_value == gold_value:
        return True
    # rounding to 6 places moves each side by at most 5e-7
    return False if abs(answer_value - gold_value) > Fraction(2, 10**6) else None


def scientific_verdict(answer: str, gold: str) -> bool | None:
    """Two numbers, one of them a power of ten (`2.88\\times 10^{-19}`), are equal to 1 part in 10^6;
    None when this rule does not apply. math-verify compares such numbers to 6 decimal places or
    to 15 digits (it judged 2.88e-18 equal to 2.88e-19), which means nothing for Minerva's tiny
    and huge physical quantities."""
    answer, gold = "".join(answer.split()), "".join(gold.split())
    if not (_POWER_OF_TEN.fullmatch(answer) or _POWER_OF_TEN.fullmatch(gold)):
        return None
    answer_value, gold_value = exact_number(answer), exact_number(gold)
    if answer_value is None or gold_value is None:
        return None
    return abs(answer_value - gold_value) <= Fraction(1, 10**6) * max(abs(answer_value), abs(gold_value))


def exact_number(text: str, *, scientific: bool = True) -> Fraction | None:
    """The exact value of a number written without spaces (12, -0.5, \\frac{1}{2}, 7/2, 2\\frac12, and with
    `scientific` 4.5\\times10^{33}), else None."""
    try:
        if _DECIMAL.fullmatch(text):
            return Fraction(Decimal(text))
        if match := _SLASH_FRACTION.fullmatch(text):
            return Fraction(int(match.group(1)), int(match.group(2)))
        if match := _FRACTION.fullmatch(text):
            sign, whole, numerator, denominator = [group for group in match.groups() if group is not None]
            value = int(whole or 0) + Fraction(int(numerator), int(denominator))
            return -value if sign else value
        if scientific and (match := _POWER_OF_TEN.fullmatch(text)):
            return Fraction(Decimal(match.group(1))) * Fraction(10) ** int(match.group(2) or match.group(3))
    except (ZeroDivisionError, InvalidOperation, ValueError):
        return None
    return None


def answer_key(answer: str) -> str:
    """The canonical form maj@k groups by: a number as its reduced fraction, else the normalised text without spaces."""
    compact = "".join(normalise_answer(answer).split())
    value = exact_number(compact)
    return compact if value is None else str(value)
