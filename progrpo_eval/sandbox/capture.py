"""Feed a process's stdin and read its pipes until a deadline, with byte caps. STANDALONE.

Standard library only: the caller's side uses it around the bubblewrap process, and the trusted
driver uses it inside the sandbox around each test's program. One loop (selectors + a pidfd)
does it all: it writes stdin as the process reads it, reads every pipe as data arrives, and stops
at the first of: every pipe at end-of-file and the process exited; the deadline; a cap passed.
"""

from __future__ import annotations

import os
import selectors
import time
from dataclasses import dataclass

_CHUNK = 1 << 16


@dataclass
class Captured:
    """What `communicate` read, and why it stopped early, if it did."""

    outputs: dict[str, bytes]
    timed_out: bool = False
    over_cap: str | None = None  # the cap group that was passed (its bytes are cut at the cap)
    exited: bool = False  # the process exited (its pidfd became readable)


def communicate(
    *,
    readers: dict[str, tuple[int, str]],
    caps: dict[str, int],
    deadline: float,
    stdin_fd: int | None = None,
    stdin_data: bytes = b"",
    pidfd: int | None = None,
) -> Captured:
    """Run the loop. `readers` maps a name to (fd, cap group); `caps` maps a group to its byte cap.

    `deadline` is a `time.monotonic()` value. When `pidfd` reports the process's exit, what its
    pipes hold is read without waiting for end-of-file (a leftover grandchild may keep them
    open), and the loop ends. This function owns the fds in `readers` and `stdin_fd` and closes
    all of them before it returns; `pidfd` stays the caller's.
    """
    chunks: dict[str, list[bytes]] = {name: [] for name in readers}
    group_bytes = dict.fromkeys(caps, 0)
    captured = Captured(outputs={})
    open_readers = {fd: name for name, (fd, _group) in readers.items()}

    def take(fd: int) -> bool:
        """Read one chunk into its stream; False at end-of-file or when its group passed its cap."""
        name = open_readers[fd]
        data = os.read(fd, _CHUNK)
        if not data:
            selector.unregister(fd)
            del open_readers[fd]
            os.close(fd)
            return False
        group = readers[name][1]
        allowed = caps[group] - group_bytes[group]
        chunks[name].append(data[:allowed])
        group_bytes[group] += len(data)
        if len(data) > allowed:
            captured.over_cap = group
            return False
        return True

    pending = memoryview(stdin_data)
    selector = selectors.DefaultSelector()
    try:
        for fd in open_readers:
            selector.register(fd, selectors.EVENT_READ, "<read>")
        if stdin_fd is not None and pending:
            os.set_blocking(stdin_fd, False)
            selector.register(stdin_fd, selectors.EVENT_WRITE, "<stdin>")
        elif stdin_fd is not None:
            os.close(stdin_fd)
            stdin_fd = None
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ, "<exit>")
        while open_readers or (pidfd is not None and not captured.exited):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                captured.timed_out = True
                break
            for key, _mask in selector.select(remaining):
                if key.data == "<exit>":
                    captured.exited = True
                    _drain(open_readers, take)
                    return captured
                if key.data == "<stdin>":
                    pending = _write_some(key.fd, pending)
                    if not pending:
                        selector.unregister(key.fd)
                        os.close(key.fd)
                        stdin_fd = None
                elif key.fd in open_readers and not take(key.fd) and captured.over_cap:
                    return captured
    finally:
        selector.close()
        for fd in open_readers:
            os.close(fd)
        if stdin_fd is not None:
            os.close(stdin_fd)
        captured.outputs = {name: b"".join(parts) for name, parts in chunks.items()}
    return captured


def _drain(open_readers: dict[int, str], take) -> None:
    """Read what every open pipe holds now, without waiting for more."""
    for fd in list(open_readers):
        os.set_blocking(fd, False)
        try:
            while fd in open_readers and take(fd):
                pass
        except BlockingIOError:
            pass


def _write_some(fd: int, pending: memoryview) -> memoryview:
    """Write what the pipe takes now; a closed pipe (the process stopped reading) drops the rest."""
    try:
        return pending[os.write(fd, pending[:_CHUNK]) :]
    except BlockingIOError:
        return pending
    except OSError:  # EPIPE: the process closed its stdin or exited
        return pending[len(pending) :]
