"""One sandbox call: start bubblewrap, feed and read it under a deadline and caps, leave nothing behind.

Decisions:
- The wall clock starts before bubblewrap does, so a call's `timeout_s` covers the sandbox's
  set-up (a few ms) and the interpreter's start as well as the program.
- On a timeout or a passed output cap the sandbox's PID 1 (bubblewrap's init, whose pid
  `--info-fd` reports) is sent SIGKILL through a pidfd, and so is the bubblewrap process
  outside. The kernel then kills every process in the PID namespace; the call waits (up to
  5 s) until the pidfd says PID 1 is gone, which happens only after the whole namespace is
  empty. On a normal exit bubblewrap returns only after the same has happened. Either way,
  nothing the program started outlives the call.
- Exit codes are bubblewrap's: the program's own, or 128 + N when signal N killed it (as a shell
  reports it); None when the sandbox killed it (timeout, output cap).
- A sandbox that could not be set up (bubblewrap exited without reporting an exit code on
  `--json-status-fd`) raises `SandboxError` with bubblewrap's message: a machine problem is never
  scored as the program's failure.
- Availability is checked once per process and bwrap binary by running `python -S -c pass`
  through the full machinery; the outcome (or the one-line cause) is cached.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from progrpo_eval.sandbox.capture import communicate
from progrpo_eval.sandbox.isolation import (
    SandboxConfig,
    SandboxError,
    SandboxUnavailable,
    apply_rlimits,
    bwrap_command,
    find_bwrap,
    host_layout,
    rlimits,
    runs_as_root,
    write_root_id_maps,
)

_SETUP_TIMEOUT_S = 10.0  # bubblewrap reports its child's pid within milliseconds; this is a safety net
_REAP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class SandboxRun:
    """The raw outcome of one sandbox call (statuses are decided by the callers)."""

    stdout: bytes
    stderr: bytes
    channel: bytes
    returncode: int | None
    timed_out: bool
    over_cap: str | None  # "out" (stdout + stderr) or "channel"
    wall_s: float


class _Fds:
    """Every fd a call opens, closed exactly once whatever happens."""

    def __init__(self):
        self.open: set[int] = set()

    def pipe(self) -> tuple[int, int]:
        read_end, write_end = os.pipe()
        self.open.update((read_end, write_end))
        return read_end, write_end

    def memfd(self, name: str, data: bytes) -> int:
        fd = os.memfd_create(name)  # close-on-exec: only bwrap gets it, through pass_fds
        self.open.add(fd)
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
        return fd

    def hand_over(self, *fds: int) -> None:
        """The fds now belong to someone else (communicate closes them)."""
        self.open.difference_update(fds)

    def close(self, *fds: int) -> None:
        for fd in fds:
            if fd in self.open:
                self.open.discard(fd)
                os.close(fd)

    def close_all(self) -> None:
        self.close(*list(self.open))


def _read_until_eof(fd: int, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline and select.select([fd], [], [], deadline - time.monotonic())[0]:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        data += chunk
    return data


def _wait_gone(pidfd: int | None, timeout_s: float) -> None:
    if pidfd is not None:
        select.select([pidfd], [], [], timeout_s)


def _kill(proc: subprocess.Popen, init_pidfd: int | None) -> None:
    if init_pidfd is not None:
        try:
            signal.pidfd_send_signal(init_pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.kill()
    _wait_gone(init_pidfd, _REAP_TIMEOUT_S)


def _exit_code(status_report: bytes) -> int | None:
    """The program's exit code from bubblewrap's --json-status-fd, None if set-up never finished."""
    for line in status_report.decode("utf-8", "replace").splitlines():
        if '"exit-code"' in line:
            return int(json.loads(line)["exit-code"])
    return None


def run_sandboxed(
    command: list[str],
    *,
    files: dict[str, bytes],
    stdin: bytes,
    timeout_s: float,
    memory_mb: int,
    cpu_s: float,
    config: SandboxConfig,
    channel_cap: int | None = None,
    check_available: bool = True,
) -> SandboxRun:
    """Run `command` in a fresh sandbox. `files` become read-only /sandbox/NAME. With `channel_cap`,
    the command also inherits a result-channel pipe: every "{channel}" argument becomes its fd number."""
    if check_available:
        ensure_available(config)
    fds = _Fds()
    start = time.monotonic()
    deadline = start + timeout_s
    try:
        file_fds = {name: fds.memfd(name, data) for name, data in files.items()}
        info_read, info_write = fds.pipe()
        status_read, status_write = fds.pipe()
        block_read, block_write = fds.pipe()
        channel_read, channel_write = fds.pipe() if channel_cap is not None else (None, None)
        stdin_read, stdin_write = fds.pipe()
        stdout_read, stdout_write = fds.pipe()
        stderr_read, stderr_write = fds.pipe()
        if channel_write is not None:
            command = [str(channel_write) if arg == "{channel}" else arg for arg in command]
        argv = bwrap_command(
            command=command,
            files=file_fds,
            pass_through={"info": info_write, "status": status_write, "block": block_read},
            config=config,
        )
        child_fds = [
            fd for fd in (*file_fds.values(), info_write, status_write, block_read, channel_write) if fd is not None
        ]
        proc = subprocess.Popen(argv, stdin=stdin_read, stdout=stdout_write, stderr=stderr_write, pass_fds=child_fds)
        fds.close(*child_fds, stdin_read, stdout_write, stderr_write)
        limits = rlimits(memory_mb=memory_mb, cpu_s=cpu_s, config=config)
        return _supervise(
            proc,
            fds,
            start=start,
            deadline=deadline,
            stdin=stdin,
            config=config,
            limits=limits,
            channel_cap=channel_cap,
            pipes=(info_read, status_read, block_write, channel_read, stdin_write, stdout_read, stderr_read),
        )
    finally:
        fds.close_all()


def _prepare_init(info_read: int, limits: dict, deadline: float) -> int | None:
    """While bubblewrap waits: find the sandbox's PID 1, write its id maps (as root), set its rlimits.
    Returns a pidfd of PID 1, or None if bubblewrap failed before reporting it."""
    info = _read_until_eof(info_read, min(deadline, time.monotonic() + _SETUP_TIMEOUT_S))
    if not info:
        return None
    init_pid = json.loads(info)["child-pid"]
    init_pidfd = os.pidfd_open(init_pid)
    try:
        if runs_as_root():
            write_root_id_maps(init_pid)
        apply_rlimits(init_pid, limits)
    except BaseException:
        os.close(init_pidfd)
        raise
    return init_pidfd


def _supervise(
    proc: subprocess.Popen,
    fds: _Fds,
    *,
    start: float,
    deadline: float,
    stdin: bytes,
    config: SandboxConfig,
    limits: dict,
    channel_cap: int | None,
    pipes: tuple,
) -> SandboxRun:
    info_read, status_read, block_write, channel_read, stdin_write, stdout_read, stderr_read = pipes
    init_pidfd = monitor_pidfd = None
    try:
        init_pidfd = _prepare_init(info_read, limits, deadline)
        fds.close(block_write)  # bubblewrap goes on: maps and limits are in place
        monitor_pidfd = os.pidfd_open(proc.pid)
        readers = {"stdout": (stdout_read, "out"), "stderr": (stderr_read, "out")}
        caps = {"out": config.max_output_bytes}
        if channel_read is not None:
            readers["channel"] = (channel_read, "channel")
            caps["channel"] = channel_cap
        fds.hand_over(stdin_write, stdout_read, stderr_read, *([channel_read] if channel_read is not None else []))
        captured = communicate(
            readers=readers, caps=caps, deadline=deadline, stdin_fd=stdin_write, stdin_data=stdin, pidfd=monitor_pidfd
        )
        killed = captured.timed_out or captured.over_cap is not None or not captured.exited
        if killed:
            _kill(proc, init_pidfd)
        proc.wait()
        _wait_gone(init_pidfd, _REAP_TIMEOUT_S)
        exit_code = None if killed else _exit_code(_read_until_eof(status_read, time.monotonic() + 1.0))
        if not killed and exit_code is None:
            message = captured.outputs["stderr"].decode("utf-8", "replace").strip().splitlines()
            raise SandboxError(f"bubblewrap could not set up the sandbox: {message[-1] if message else 'no message'}")
        return SandboxRun(
            stdout=captured.outputs["stdout"],
            stderr=captured.outputs["stderr"],
            channel=captured.outputs.get("channel", b""),
            returncode=exit_code,
            timed_out=captured.timed_out,
            over_cap=captured.over_cap,
            wall_s=time.monotonic() - start,
        )
    except BaseException:
        if proc.returncode is None:
            _kill(proc, init_pidfd)
            proc.wait()
        raise
    finally:
        for pidfd in (init_pidfd, monitor_pidfd):
            if pidfd is not None:
                os.close(pidfd)


_availability: dict[tuple[str, bool], str | None] = {}
_availability_lock = threading.Lock()
_NAMESPACE_HINTS = ("namespace", "Operation not permitted", "Permission denied", "uid map", "setns", "clone")


def _classify(message: str) -> str:
    if any(hint in message for hint in _NAMESPACE_HINTS):
        return (
            f"bubblewrap cannot create namespaces here ({message}): unprivileged user namespaces are "
            "disabled, or this is a container that forbids them; code execution is refused"
        )
    return f"the sandbox self-test failed ({message}); code execution is refused"


def sandbox_problem(config: SandboxConfig | None = None) -> str | None:
    """None if programs can run sandboxed here, else the one-line reason (checked once, cached)."""
    config = config or SandboxConfig()
    try:
        key = (find_bwrap(config), runs_as_root())
    except SandboxUnavailable as error:
        return str(error)
    with _availability_lock:
        if key not in _availability:
            _availability[key] = _self_test(config)
        return _availability[key]


def _self_test(config: SandboxConfig) -> str | None:
    try:
        run = run_sandboxed(
            [host_layout().python, "-S", "-c", "pass"],
            files={},
            stdin=b"",
            timeout_s=30.0,
            memory_mb=512,
            cpu_s=30.0,
            config=config,
            check_available=False,
        )
    except SandboxUnavailable as error:
        return str(error)
    except (SandboxError, OSError) as error:
        return _classify(str(error))
    if run.returncode != 0:
        detail = run.stderr.decode("utf-8", "replace").strip().splitlines()
        return _classify(detail[-1] if detail else f"exit code {run.returncode}")
    return None


def ensure_available(config: SandboxConfig | None = None) -> None:
    """Raise SandboxUnavailable (one line naming the cause) unless programs can run sandboxed here."""
    problem = sandbox_problem(config)
    if problem is not None:
        raise SandboxUnavailable(problem)
