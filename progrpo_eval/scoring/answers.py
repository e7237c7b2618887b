"""The scoring result type and the text helpers every scorer shares.

Decisions:
- A score is never just a bool. `ScoreResult.status` separates "the answer was judged"
  ("ok", right or wrong) from the three ways it was not: nothing to judge ("no_answer"), the
  judge ran out of time ("timeout"), the judge crashed ("error"). Run summaries count the last
  two apart, so a slow or broken scorer can never pass for a wrong model.
- Reasoning models write `<think> ... </think> answer`. Only the text after the LAST
  `</think>` is scored, so a box inside the reasoning does not count. A `<think>` that is
  never closed means the model ran out of tokens while thinking: there is no answer.
- `extract_boxed` follows LaTeX: `\\boxed{...}` (or `\\fbox{...}`) with balanced braces, or
  `\\boxed 5` with one space-separated token. Only the LAST box counts; if that last box is cut
  off (unbalanced, as when generation stops mid-answer) there is no answer, rather than
  falling back to an earlier box the model went on to revise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STATUSES = ("ok", "no_answer", "timeout", "error")

BOX_MACRO = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"


@dataclass(frozen=True)
class ScoreResult:
    """The judgement of one response.

    correct: True only when status is "ok" and the answer matches the gold.
    status: "ok" (judged, right or wrong), "no_answer" (nothing extracted), "timeout" (the
        per-answer time limit hit), "error" (the scorer crashed; `detail` says why).
    extracted: the answer the scorer judged, or None when there was none. A scorer that has a
        canonical form writes that (math: `\\frac{1}{2}` and `0.5` are both "1/2"), so maj@k,
        which groups samples by `extracted`, counts equal answers as one.
    detail: a one-line explanation for the non-"ok" statuses ("" otherwise).
    fraction: partial credit in [0, 1] where the scorer measures it (code: the share of tests
        passed), else None.
    """

    correct: bool
    status: str
    extracted: str | None
    detail: str = ""
    fraction: float | None = None

    def __post_init__(self) -> None:
        assert self.status in STATUSES, f"unknown status {self.status!r}"
        assert not (self.correct and self.status != "ok"), "only an 'ok' result can be correct"


def one_line(exception: BaseException) -> str:
    """`TypeName: first line of the message`, for `ScoreResult.detail`."""
    message = str(exception).strip().splitlines()
    first_line = message[0] if message else ""
    return f"{type(exception).__name__}: {first_line}"[:300]


def strip_reasoning(text: str) -> tuple[str, bool]:
    """Split off the reasoning: returns (the text to score, whether the thinking was cut off).

    - `... </think> answer` (with or without the opening tag, which chat templates often put in
      the prompt): the text after the last `</think>`, and False.
    - `<think> ...` with no `</think>` after the last `<think>`: ("", True), no answer.
    - no tags at all: the whole text, and False.
    """
    last_close = text.rfind(_THINK_CLOSE)
    last_open = text.rfind(_THINK_OPEN)
    if last_open > last_close:
        return "", True
    if last_close >= 0:
        return text[last_close + len(_THINK_CLOSE) :], False
    return text, False


def balanced_group(text: str, open_brace: int) -> str | None:
    """The content of the `{...}` group opening at `open_brace`; None if it never closes.

    `\\{` and `\\}` are escaped literal braces and do not count.
    """
    depth = 0
    index = open_brace
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[open_brace + 1 : index]
        index += 1
    return None


def _box_argument(text: str, after_macro: int) -> str | None:
    """The argument of a box macro ending at `after_macro`: `{group}` or ` token`."""
    rest = text[after_macro:]
    stripped = rest.lstrip()
    skipped_space = len(rest) - len(stripped)
    if stripped.startswith("{"):
        return balanced_group(text, after_macro + skipped_space)
    token = re.match(r"[^\s$]+", stripped)
    if token is None or (skipped_space == 0 and not token.group()[0].isdigit()):
        # `\boxed` glued to a non-digit (`\boxedx`) is some other macro, not a box.
        return None
    return token.group()


def last_box(text: str) -> tuple[bool, str | None]:
    """(whether the text holds a box macro, the content of the LAST box or None when it is cut off).

    `(True, None)` is a final box that never closes, as when generation stops mid-answer.
    """
    matches = list(BOX_MACRO.finditer(text))
    if not matches:
        return False, None
    argument = _box_argument(text, matches[-1].end())
    return True, None if argument is None else argument.strip()


def extract_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` / `\\fbox{...}` (or `\\boxed 5`), else None.

    The content is returned as written (stripped of surrounding spaces); an empty box gives "".
    """
    return last_box(text)[1]


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split at `separator` outside (), [], {} and \\{ \\} ("[0, 1)" counts as a pair too)."""
    pieces, current, depth = [], [], 0
    position = 0
    while position < len(text):
        # a backslash and the character after it are one token: "\{" opens a set, "\," is a space
        token = text[position : position + 2] if text[position] == "\\" else text[position]
        if token[-1] in "([{":
            depth += 1
        elif token[-1] in ")]}":
            depth -= 1
        if token == separator and depth == 0:
            pieces.append("".join(current).strip())
            current = []
        else:
            current.append(token)
        position += len(token)
    pieces.append("".join(current).strip())
    return [piece for piece in pieces if piece]
