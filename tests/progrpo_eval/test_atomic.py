"""Atomic writes leave the usual file mode, so that a shared run directory can be read by others."""

from __future__ import annotations

import os
import stat

from progrpo_eval.atomic import atomic_write_bytes, atomic_write_json


def test_written_files_get_the_umasks_mode_not_the_temporary_files(tmp_path):
    previous = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "summary.json", {"pass_at_k": {"1": 0.5}})
        os.umask(0o027)
        atomic_write_bytes(tmp_path / "r.pdf", b"%PDF")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "summary.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "r.pdf").stat().st_mode) == 0o640
    assert sorted(path.name for path in tmp_path.iterdir()) == ["r.pdf", "summary.json"]  # no temporary left
