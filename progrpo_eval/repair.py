"""`progrpo-eval repair`: a run directory that holds some (problem, sample) twice, made whole again.

Two processes writing one directory at once (before `run.lock` existed) leave the same problems
in two chunks; `store.load_samples` then refuses the directory. Chunks hold whole problems, so
keeping each problem's samples from the first chunk that holds it keeps every problem complete
and loses nothing that was computed once.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from progrpo_eval import store
from progrpo_eval.atomic import atomic_write_bytes


def repair_duplicates(run_dir: str | Path) -> dict:
    """Keep each problem's samples from the first chunk that holds it; rewrite or delete later chunks.

    Chunks hold whole problems, so every problem keeps all its samples from one chunk. Each
    change is atomic; a repair killed midway leaves duplicates that a second repair removes.
    Returns {"chunks_rewritten", "chunks_deleted", "rows_removed"}.
    """
    run_dir = Path(run_dir)
    store.check_chunks(run_dir, store.read_manifest(run_dir))
    seen: set[str] = set()
    outcome = {"chunks_rewritten": 0, "chunks_deleted": 0, "rows_removed": 0}
    for path in store.chunk_paths(run_dir):
        table = pq.read_table(path)
        ids = table.column("problem_id").to_pylist()
        keep = [problem_id not in seen for problem_id in ids]
        seen.update(ids)
        if all(keep):
            continue
        outcome["rows_removed"] += keep.count(False)
        if not any(keep):
            path.unlink()
            outcome["chunks_deleted"] += 1
            continue
        sink = pa.BufferOutputStream()
        pq.write_table(table.filter(pa.array(keep)), sink, compression="zstd")
        atomic_write_bytes(path, sink.getvalue().to_pybytes())
        outcome["chunks_rewritten"] += 1
    if outcome["rows_removed"]:
        (run_dir / store.SUMMARY).unlink(missing_ok=True)  # it was computed from the duplicated samples, if at all
    return outcome
