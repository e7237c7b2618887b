"""The run directory: the one hand-off between generate, score, analyse and report.

    RUN_DIR/
      manifest.json          model, benchmark (+ data checksum), prompt template and its hash,
                             every sampling setting, seed, backend, package versions
      samples/chunk-*.parquet  one row per (problem, sample): text, token ids, sampled-token
                             log-probs, optional top-k log-probs, finish reason, score, scorer details
      summary.json, summary.md  metrics (written by `progrpo_eval.summary`)
      extras/                per-sample additions by later commands (e.g. exact entropy)

Atomicity: every file is written to a temporary name in the same directory, flushed, fsynced
and renamed into place. A chunk holds every sample of the problems it covers, so a run killed at
any moment leaves whole problems or nothing; the same command resumes with the problems that
have no chunk yet, and no (problem, sample) is ever written twice.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
SAMPLES_DIR = "samples"

# Manifest entries that decide which samples a run draws: a mismatch means another run.
IDENTITY_KEYS = ("model", "benchmark", "data_checksum", "prompt_sha256", "instruction", "sampling", "backend_family")

SAMPLE_SCHEMA = pa.schema(
    [
        ("problem_id", pa.string()),
        ("sample_index", pa.int32()),
        ("text", pa.string()),
        ("answer_text", pa.string()),
        ("prompt_token_ids", pa.list_(pa.int32())),  # the rendered prompt, for teacher-forced rescoring
        ("token_ids", pa.list_(pa.int32())),
        ("logprobs", pa.list_(pa.float32())),
        ("top_logprobs", pa.string()),  # JSON [[token, logprob], ...] per position, or null
        ("finish_reason", pa.string()),
        ("truncated", pa.bool_()),
        ("num_tokens", pa.int32()),
        ("correct", pa.bool_()),
        ("score_status", pa.string()),
        ("extracted", pa.string()),
        ("score_detail", pa.string()),
    ]
)


class RunMismatchError(ValueError):
    """The directory holds a run with other settings."""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def read_manifest(run_dir: str | Path) -> dict:
    path = Path(run_dir) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no {MANIFEST})")
    return json.loads(path.read_text(encoding="utf-8"))


def manifest_differences(old: dict, new: dict) -> list[str]:
    """Human-readable `key: old -> new` lines for every identity entry that differs."""
    lines = []
    for key in IDENTITY_KEYS:
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            for sub in sorted(set(before) | set(after)):
                if before.get(sub) != after.get(sub):
                    lines.append(f"{key}.{sub}: {before.get(sub)!r} -> {after.get(sub)!r}")
        elif before != after:
            lines.append(f"{key}: {before!r} -> {after!r}")
    return lines


def prepare_run_dir(run_dir: str | Path, manifest: dict, *, overwrite: bool = False) -> Path:
    """Create the run directory, or check that an existing one holds the same run.

    A directory with other identity settings is refused (RunMismatchError naming each
    difference) unless `overwrite`, which deletes it first. Leftover temporary files of a
    killed writer are removed.
    """
    run_dir = Path(run_dir)
    if (run_dir / MANIFEST).is_file():
        differences = manifest_differences(read_manifest(run_dir), manifest)
        if differences and not overwrite:
            raise RunMismatchError(
                f"{run_dir} holds a run with other settings ({'; '.join(differences)}); "
                "use another --out, or --overwrite to replace it"
            )
        if differences:
            shutil.rmtree(run_dir)
    elif run_dir.exists() and overwrite:
        shutil.rmtree(run_dir)
    (run_dir / SAMPLES_DIR).mkdir(parents=True, exist_ok=True)
    for leftover in run_dir.rglob(".*.tmp"):
        leftover.unlink(missing_ok=True)
    if not (run_dir / MANIFEST).is_file():
        atomic_write_json(run_dir / MANIFEST, manifest)
    return run_dir


def _chunk_paths(run_dir: Path) -> list[Path]:
    return sorted((run_dir / SAMPLES_DIR).glob("chunk-*.parquet"))


def write_chunk(run_dir: str | Path, records: list[dict]) -> Path:
    """Atomically add one chunk of sample records (every sample of its problems)."""
    run_dir = Path(run_dir)
    existing = _chunk_paths(run_dir)
    number = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
    table = pa.Table.from_pylist(records, schema=SAMPLE_SCHEMA)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    path = run_dir / SAMPLES_DIR / f"chunk-{number:06d}.parquet"
    atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return path


def completed_problem_ids(run_dir: str | Path) -> set[str]:
    """Problems whose samples are all on disk (a chunk is all-or-nothing)."""
    ids: set[str] = set()
    for path in _chunk_paths(Path(run_dir)):
        ids.update(pq.read_table(path, columns=["problem_id"]).column("problem_id").to_pylist())
    return ids


def load_samples(run_dir: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Every sample of a run as a DataFrame, one row per (problem_id, sample_index).

    Columns include problem_id, sample_index, text, correct (bool), num_tokens, finish_reason,
    token_ids, logprobs, score_status. Rows are in (chunk, sample) order; problem order follows
    the benchmark.
    """
    run_dir = Path(run_dir)
    read_manifest(run_dir)
    paths = _chunk_paths(run_dir)
    if not paths:
        return SAMPLE_SCHEMA.empty_table().to_pandas()[columns or SAMPLE_SCHEMA.names]
    frames = [pq.read_table(path, columns=columns).to_pandas() for path in paths]
    return pd.concat(frames, ignore_index=True)


def write_summary(run_dir: str | Path, summary: dict, markdown: str) -> None:
    run_dir = Path(run_dir)
    atomic_write_json(run_dir / SUMMARY, summary)
    atomic_write_bytes(run_dir / "summary.md", markdown.encode("utf-8"))


def read_summary(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / SUMMARY).read_text(encoding="utf-8"))
