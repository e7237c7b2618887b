"""Reading the code benchmarks' sources: file formats, LiveCodeBench's releases and its hidden tests.

Decisions:
- HumanEval+ ships as gzipped JSONL (`read_gzip_jsonl`); DeepCoder's CodeForces copy as one JSON
  list (`read_json_list`). Both give (1-based line or item number, row) like the JSONL reader.
- LiveCodeBench's hidden tests (`private_test_cases`) are JSON, or base64 -> zlib -> pickle -> JSON.
  The pickle is read by `SafeUnpickler`, whose `find_class` refuses every global: without one, a
  pickle can build only plain values (no callable can reach REDUCE, BUILD or a persistent id), and
  the value must then be a str (the JSON text) or plain data of str, list, dict, int, float, bool
  and None; anything else (bytes, sets, tuples) is refused too. Decompression stops at
  `MAX_DECOMPRESSED_BYTES`, so a zlib bomb cannot fill the memory.
- A release (`release_v1` ... `release_v6`) is the Hub repository's `test.jsonl ... testN.jsonl`,
  as LiveCodeBench's own loader concatenates them (release_vN holds every problem up to vN). The
  Hub rows are read with `huggingface_hub` straight from those files: the dataset's loading script
  needs `trust_remote_code`, which recent `datasets` refuse. Offline, the benchmark's file holds the
  concatenated release; only the contest-date window is applied to it.
- CodeForces tests in DeepCoder's copy are a list, or a Python literal string: read with
  `ast.literal_eval` (literals only, nothing is evaluated).
"""

from __future__ import annotations

import ast
import base64
import binascii
import gzip
import io
import json
import pickle
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from progrpo_eval.jsonl import parse_jsonl

MAX_DECOMPRESSED_BYTES = 2 << 30  # 2 GiB: LiveCodeBench's largest hidden test sets are a few hundred MB
LCB_HUB_ID = "livecodebench/code_generation_lite"
LCB_RELEASES = {
    f"release_v{n}": tuple("test.jsonl" if i == 1 else f"test{i}.jsonl" for i in range(1, n + 1)) for n in range(1, 7)
}
_PLAIN_TYPES = (str, int, float, bool, type(None))


def _rows_from_items(items: Any, path: Path) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(items, list):
        raise ValueError(f"{path} is not a JSON list of objects (got {type(items).__name__})")
    rows = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ValueError(f"{path} item {number} is not a JSON object (got {type(item).__name__})")
        rows.append((number, item))
    return rows


def read_json_list(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(1-based item number, object) for every item of a file holding one JSON list of objects."""
    try:
        items = json.loads(Path(path).read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a UTF-8 JSON file ({error})") from error
    return _rows_from_items(items, Path(path))


def read_gzip_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(1-based line number, object) for every non-blank line of a gzipped JSONL file."""
    try:
        text = gzip.decompress(Path(path).read_bytes()).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not gzipped UTF-8 text ({error})") from error
    return parse_jsonl(text, path)


# --- LiveCodeBench's hidden tests -------------------------------------------------------------------


class UnsafePickle(ValueError):
    """A pickle that asks for a global (a class or a function) or holds something other than plain data."""


class SafeUnpickler(pickle.Unpickler):
    """Refuses every global, so only plain values can be built (see the module docstring)."""

    def find_class(self, module: str, name: str):
        raise UnsafePickle(f"refused pickle global {module}.{name} (only plain data is read)")

    def persistent_load(self, pid):
        raise UnsafePickle("refused a pickle persistent id (only plain data is read)")


def check_plain(value: Any, depth: int = 0) -> Any:
    """`value` when it is str/int/float/bool/None or lists and str-keyed dicts of them; UnsafePickle otherwise."""
    if depth > 100:
        raise UnsafePickle("nested deeper than 100 levels")
    if isinstance(value, _PLAIN_TYPES):
        return value
    if isinstance(value, list):
        for item in value:
            check_plain(item, depth + 1)
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnsafePickle(f"a dict key of type {type(key).__name__}")
            check_plain(item, depth + 1)
        return value
    raise UnsafePickle(f"a value of type {type(value).__name__} (only str, list, dict, int, float, bool, None)")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_DECOMPRESSED_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"the compressed tests inflate past {MAX_DECOMPRESSED_BYTES >> 20} MiB")
    return out + inflater.flush()


def decode_lcb_tests(field: str) -> list[dict[str, Any]]:
    """LiveCodeBench's test field as a list of dicts: JSON, or base64 -> zlib -> (safe) pickle -> JSON.

    Raises ValueError (UnsafePickle for a pickle that wants more than plain data).
    """
    try:
        value = json.loads(field)
    except json.JSONDecodeError:
        try:
            compressed = base64.b64decode(field.encode("ascii"), validate=True)
            raw = _inflate(compressed)
        except (binascii.Error, UnicodeEncodeError, zlib.error) as error:
            raise ValueError(f"tests are neither JSON nor base64/zlib data ({error})") from error
        try:
            value = check_plain(SafeUnpickler(io.BytesIO(raw)).load())
        except UnsafePickle:
            raise
        except Exception as error:  # a truncated or malformed pickle: any of pickle's many error types
            raise ValueError(f"tests are not a readable pickle ({type(error).__name__}: {error})") from error
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"the unpickled tests are not JSON ({error.msg})") from error
    if not isinstance(value, list) or not all(isinstance(test, dict) for test in value):
        raise ValueError("tests are not a list of objects")
    return value


def encode_lcb_tests(tests: list[dict[str, Any]]) -> str:
    """The Hub's encoding of hidden tests (base64(zlib(pickle(json)))), for building test files."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode("ascii")


# --- LiveCodeBench's releases and date windows ---------------------------------------------------------


def contest_date(row: dict[str, Any]) -> datetime:
    """The row's `contest_date` (ISO 8601), as LiveCodeBench parses it; ValueError when absent or malformed."""
    value = row.get("contest_date")
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as error:
        raise ValueError(f"contest_date {value!r} is not an ISO date") from error


def in_window(row: dict[str, Any], start: str | None, end: str | None) -> bool:
    """start <= contest_date <= end (both inclusive, dates "YYYY-MM-DD"), as LiveCodeBench's --start_date/--end_date."""
    date = contest_date(row)
    if start is not None and date < datetime.fromisoformat(start):
        return False
    return end is None or date <= datetime.fromisoformat(end)


def windowed_jsonl_reader(start: str | None, end: str | None) -> Callable[[Path], list[tuple[int, dict[str, Any]]]]:
    """An offline reader: the JSONL rows whose contest date is in [start, end] (line numbers kept)."""
    from progrpo_eval.jsonl import read_jsonl

    def read(path: Path) -> list[tuple[int, dict[str, Any]]]:
        selected = []
        for number, row in read_jsonl(path):
            try:
                keep = in_window(row, start, end)
            except ValueError as error:
                raise ValueError(f"{path} line {number}: {error}") from error
            if keep:
                selected.append((number, row))
        return selected

    return read


def fetch_lcb_release(release: str, start: str | None, end: str | None) -> list[dict[str, Any]]:
    """The Hub rows of a LiveCodeBench release inside the date window (needs `huggingface_hub`)."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as error:
        raise ImportError(
            "loading LiveCodeBench from the Hub needs `huggingface_hub`; install it, or pass "
            "data_dir to a folder holding the release as one JSONL file"
        ) from error
    rows = []
    for filename in LCB_RELEASES[release]:
        path = hf_hub_download(LCB_HUB_ID, filename, repo_type="dataset")
        for line in Path(path).read_text(encoding="utf-8").split("\n"):
            if line.strip():
                row = json.loads(line)
                if in_window(row, start, end):
                    rows.append(row)
    return rows


# --- CodeForces (DeepCoder's copy) -------------------------------------------------------------------------


def literal_tests(value: Any) -> list[dict[str, Any]]:
    """DeepCoder's `tests`: a list of {input, output}, or that list as a Python literal string (ast.literal_eval)."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as error:
            raise ValueError(f"tests are not a Python literal ({type(error).__name__})") from error
    if not isinstance(value, list) or not all(isinstance(test, dict) for test in value):
        raise ValueError("tests are not a list of {input, output} objects")
    return value
