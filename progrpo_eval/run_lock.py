"""One writer per run directory: an exclusive lock held for the whole of `run` or `score`.

    RUN_DIR/run.lock    {"pid": ..., "host": ..., "command": ..., "started": ...} of the holder

Two processes writing one run directory duplicate samples and overwrite each other's chunks, so
the second one is refused with one line naming the holder (`RunLockedError`, a ValueError).

Decisions:
- The exclusion is an `flock` on `run.lock`, which the kernel drops when its process dies
  (`kill -9` included): on one machine a lock left behind by a dead process never blocks. The
  record inside says who holds it, for the error message. A record whose flock is free is stale;
  it is taken over, and a note says whose it was.
- Across machines (a run directory on a shared file system): some file systems pass flocks
  between hosts (NFSv4, Lustre with `flock`), some do not. So a record written by another host
  is honoured even when the flock is free: a pid on another host cannot be checked from here.
  The error says which host and pid hold it and that deleting `run.lock` releases it once that
  process is gone.
- Where the file system refuses flock altogether, the record alone decides: a live pid on this
  host holds the lock, a dead one is stale.
- Releasing unlinks the file while still holding the flock; an acquirer re-checks that the path
  still names the file it locked (same inode), so an unlink between its open and its flock
  cannot give the lock to two processes.
- The file lives inside the run directory (which is created for it), so `--overwrite` clears
  everything in the directory except it.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from pathlib import Path

LOCK_FILE = "run.lock"


class RunLockedError(ValueError):
    """Another process holds the run directory."""


def _this_host() -> str:
    return socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _read_record(fd: int) -> dict | None:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def describe_holder(record: dict | None) -> str:
    if not record:
        return "another process (no record)"
    command = f" ({record['command']})" if record.get("command") else ""
    return f"pid {record.get('pid')} on {record.get('host')}{command}, since {record.get('started')}"


class RunLock:
    """An exclusive lock on `run_dir` (created if missing); a context manager.

    `acquire` raises RunLockedError naming the holder. `note` says whose stale lock was taken
    over, if any (for the caller to print).
    """

    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_FILE
        self.note: str | None = None
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def acquire(self) -> RunLock:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                kernel_locked = self._flock(fd)
                if os.fstat(fd).st_ino != getattr(_stat_or_none(self.path), "st_ino", None):
                    os.close(fd)  # released (unlinked) between our open and our flock: try again
                    continue
                self._check_record(fd, _read_record(fd), kernel_locked)
                self._write_record(fd)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            return self

    def _flock(self, fd: int) -> bool:
        """True when the kernel now holds the lock for us; False where the file system has no flock."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(self._held_message(_read_record(fd))) from None
        except OSError as error:
            if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                return False
            raise
        return True

    def _check_record(self, fd: int, record: dict | None, kernel_locked: bool) -> None:
        if not record or record.get("pid") == os.getpid() and record.get("host") == _this_host():
            return
        if record.get("host") != _this_host():
            raise RunLockedError(
                self._held_message(record) + f"; a process on another host cannot be checked "
                f"from here: if it is gone, delete {self.path}"
            )
        if not kernel_locked and _pid_alive(int(record.get("pid", -1))):
            raise RunLockedError(self._held_message(record))
        self.note = f"took over the stale lock of {describe_holder(record)} (no longer running)"

    def _write_record(self, fd: int) -> None:
        record = {
            "pid": os.getpid(),
            "host": _this_host(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": shlex.join(["progrpo-eval", *sys.argv[1:]]) if sys.argv else "",
        }
        data = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)

    def _held_message(self, record: dict | None) -> str:
        return f"{self.run_dir} is in use by {describe_holder(record)}; wait for it to finish, or use another --out"

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _stat_or_none(path: Path):
    try:
        return path.stat()
    except FileNotFoundError:
        return None
