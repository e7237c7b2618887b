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

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from progrpo_eval.atomic import atomic_write_bytes, atomic_write_json

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
SAMPLES_DIR = "samples"
EXTRAS_DIR = "extras"

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


# --- readers for commands that only read run directories (report, compare, rescore) ---------------


def read_run_manifest(run_dir: str | Path) -> dict:
    """The manifest; ValueError naming the path (and any run directories below it) when there is none."""
    try:
        return read_manifest(run_dir)
    except FileNotFoundError as e:
        below = sorted(str(found.parent) for found in Path(run_dir).glob(f"**/{MANIFEST}"))[:6]
        hint = f"; run directories below it: {', '.join(below)}" if below else ""
        raise ValueError(f"{run_dir} is not a run directory (no {MANIFEST}){hint}") from e


def read_run_summary(run_dir: str | Path) -> dict:
    """summary.json; ValueError calling the run incomplete (with what is on disk) when there is none."""
    try:
        return read_summary(run_dir)
    except FileNotFoundError as e:
        raise IncompleteRunError(f"{run_dir} is an incomplete run (no {SUMMARY}; {len(completed_problem_ids(run_dir))} "
                                 "problems on disk): run the same command again to finish it") from e


class IncompleteRunError(ValueError):
    """A run directory whose run has not finished (no summary yet)."""


# --- extras: per-sample additions by later commands -------------------------------------------------
# extras/<name>.parquet (one row per sample) + extras/<name>.json (its provenance, with the
# parquet's sha256). Known names: "entropy" (exact, `rescore --entropy exact`) and "entropy_topk".


def write_extra(run_dir: str | Path, name: str, table: pa.Table, provenance: dict) -> dict:
    """Write extras/<name>.parquet, then its provenance (plus the data's sha256), each atomically.

    Returns the provenance as written. A rerun replaces both; a writer killed between the two
    files leaves a pair whose checksums disagree, which `read_extra` refuses.
    """
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data = sink.getvalue().to_pybytes()
    directory = Path(run_dir) / EXTRAS_DIR
    atomic_write_bytes(directory / f"{name}.parquet", data)
    written = {**provenance, "data_sha256": hashlib.sha256(data).hexdigest()}
    atomic_write_json(directory / f"{name}.json", written)
    return written


def read_extra(run_dir: str | Path, name: str) -> tuple[pd.DataFrame, dict] | None:
    """extras/<name> as (table, provenance), or None when it was never written.

    The provenance's data_sha256 must match the data (extras written before it was recorded have
    none and are read as they are).
    """
    directory = Path(run_dir) / EXTRAS_DIR
    data_path, provenance_path = directory / f"{name}.parquet", directory / f"{name}.json"
    if not data_path.is_file():
        return None
    if not provenance_path.is_file():
        raise ValueError(f"{data_path} has no provenance file {provenance_path.name}; rerun `progrpo-eval rescore`")
    provenance = json.loads(provenance_path.read_text(encoding="utf-8"))
    data = data_path.read_bytes()
    recorded = provenance.get("data_sha256")
    if recorded is not None and recorded != hashlib.sha256(data).hexdigest():
        raise ValueError(f"{data_path} and {provenance_path.name} disagree (an interrupted rescore?); "
                         "rerun `progrpo-eval rescore` to rewrite them")
    return pq.read_table(pa.BufferReader(data)).to_pandas(), provenance
