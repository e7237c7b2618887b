"""Reading JSON Lines files: one JSON object per line, errors naming the file and the line.

Lines are split on "\\n" only (str.splitlines would also break at U+2028 inside strings); blank
lines are skipped. Used for training metrics.jsonl (figures) and available to every reader of
JSONL files (benchmark data, imported samples).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_jsonl(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(1-based line number, object) for every non-blank line of `path`.

    ValueError names the file and the line for a line that is not JSON or not a JSON object, and
    the file for bytes that are not UTF-8; FileNotFoundError when there is no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such JSONL file: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason})") from error
    return parse_jsonl(text, path)


def parse_jsonl(text: str, path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """(1-based line number, object) for every non-blank line of `text`, read from `path` (for errors)."""
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} line {number} is not JSON ({error.msg})") from error
        except RecursionError as error:
            raise ValueError(f"{path} line {number} is nested too deeply to read") from error
        if not isinstance(row, dict):
            raise ValueError(f"{path} line {number} is not a JSON object (got {type(row).__name__})")
        rows.append((number, row))
    return rows
