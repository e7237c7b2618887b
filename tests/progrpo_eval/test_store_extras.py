"""The run directory's extras (store.write_extra / read_extra) and the user-facing readers."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from progrpo_eval import store
from progrpo_eval.atomic import atomic_write_json


def _table(values):
    return pa.table({"problem_id": ["p"] * len(values), "value": values})


def test_extras_round_trip_and_a_torn_pair_is_refused(tmp_path):
    assert store.read_extra(tmp_path, "entropy") is None
    written = store.write_extra(tmp_path, "entropy", _table([1.0, 2.0]), {"method": "exact"})
    frame, provenance = store.read_extra(tmp_path, "entropy")
    assert frame["value"].tolist() == [1.0, 2.0] and provenance == written and len(written["data_sha256"]) == 64
    # a writer killed after the data but before its provenance: the checksums disagree
    pq.write_table(_table([3.0]), tmp_path / store.EXTRAS_DIR / "entropy.parquet")
    with pytest.raises(ValueError, match="disagree .*rerun `progrpo-eval rescore`"):
        store.read_extra(tmp_path, "entropy")


def test_extras_written_before_checksums_still_load(tmp_path):
    (tmp_path / store.EXTRAS_DIR).mkdir()
    pq.write_table(_table([0.5]), tmp_path / store.EXTRAS_DIR / "entropy_topk.parquet")
    atomic_write_json(tmp_path / store.EXTRAS_DIR / "entropy_topk.json", {"method": "topk", "k": 3})
    frame, provenance = store.read_extra(tmp_path, "entropy_topk")
    assert frame["value"].tolist() == [0.5] and provenance == {"method": "topk", "k": 3}
    (tmp_path / store.EXTRAS_DIR / "entropy_topk.json").unlink()
    with pytest.raises(ValueError, match="no provenance file entropy_topk.json"):
        store.read_extra(tmp_path, "entropy_topk")


def test_run_readers_name_the_problem(tmp_path):
    run_dir = tmp_path / "runs" / "m" / "aime24"
    run_dir.mkdir(parents=True)
    (run_dir / store.MANIFEST).write_text(json.dumps({"model": "m", "benchmark": "aime24"}))
    with pytest.raises(ValueError, match=r"runs is not a run directory \(no manifest.json\); run directories below"):
        store.read_run_manifest(tmp_path / "runs")
    with pytest.raises(store.IncompleteRunError, match=r"is an incomplete run \(no summary.json; 0 problems on disk\)"):
        store.read_run_summary(run_dir)
