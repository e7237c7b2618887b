"""Answer extraction for code: the program in a response's fenced code blocks.

Decisions:
- A block is a line opening with three or more backticks (an optional language tag after them),
  up to the next line that is only a fence of at least as many backticks. A block the response
  never closes (generation cut off) is not a program: it is skipped.
- Language-aware: blocks tagged `python`, `py`, `python3` (any case) are preferred; untagged
  blocks come next; a block in another language only when there is nothing else (it will then
  fail its tests, which is the model's doing).
- Among the preferred blocks the LAST one is the answer, as LiveCodeBench and DeepCoder take it;
  for a functional problem, the last preferred block that defines the function (`def name(`,
  also as a method of `class Solution`) wins over later blocks that do not (a usage example
  after the solution is common).
- No closed block at all: no program (`None`), which the scorer counts as "no_answer".
"""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*(`{3,})[ \t]*([^\s`]*)[^\n`]*$")
_PYTHON_TAGS = {"python", "py", "python3", "py3"}


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, lower-case; "" when untagged, code) for every closed fenced block, in order."""
    blocks, lines = [], text.split("\n")
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        ticks, tag = opening.group(1), opening.group(2).lower()
        for end in range(index + 1, len(lines)):
            closing = lines[end].strip()
            if closing.startswith(ticks) and set(closing) == {"`"}:
                blocks.append((tag, "\n".join(lines[index + 1 : end])))
                index = end + 1
                break
        else:
            return blocks  # an unclosed block runs to the end of the text
    return blocks


def defines(code: str, function_name: str) -> bool:
    """Whether `code` has `def function_name(` (at any indentation, so methods count)."""
    pattern = rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(function_name)}[ \t]*\("
    return re.search(pattern, code, re.MULTILINE) is not None


def extract_program(text: str, function_name: str | None = None) -> str | None:
    """The program a response gives (see the module docstring); None when it has no closed block.

    `function_name`: for functional problems, the function (or "Solution.method": its method) the
    program must define.
    """
    blocks = fenced_blocks(text)
    if not blocks:
        return None
    python = [code for tag, code in blocks if tag in _PYTHON_TAGS]
    untagged = [code for tag, code in blocks if tag == ""]
    candidates = python or untagged or [code for _, code in blocks]
    if function_name:
        name = function_name.rsplit(".", 1)[-1]
        defining = [code for code in candidates if defines(code, name)]
        if defining:
            return defining[-1]
    return candidates[-1]
