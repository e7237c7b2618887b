"""The trusted test driver: runs INSIDE the sandbox, one start per (program, test batch). STANDALONE.

Standard library only, next to `compare.py` and `capture.py` in /sandbox (read-only). The caller
starts `python -S -B /sandbox/driver.py batch FD` with the batch on stdin (JSON: the tests, their expected
outputs, the per-test limits and a random token) and reads one JSON line per test, then a "done"
line, on the result channel: the inherited pipe FD. Every line carries the token.

Why the program cannot forge a result: the driver reads its whole stdin (the only copy of the
tests and the token) before any untrusted code starts, then makes itself non-dumpable, so the
program, running as the same uid, can neither ptrace it nor read its memory (there is no /proc
in the sandbox either). The program's processes never hold fd 3 (children get only their own
pipes), and every verdict is computed here, from plain data the program sent or printed.

- stdio mode: per test, the program runs as a fresh `python -S -B /sandbox/program.py` child
  with the test's stdin, a wall-clock limit (the test's), a CPU rlimit of ceil(limit) seconds,
  and the batch's output cap on stdout + stderr. After each test every other process in the
  sandbox is killed (`kill(-1)`) and /tmp is emptied, so nothing a test left behind reaches the
  next one.
- function mode: one child process (the "host", this file run as `driver.py host ...`) imports
  the program as module `solution` and calls the function for each test's arguments; arguments
  and return values cross as tagged JSON (`compare.encode_value`) over two dedicated pipes (the
  program's print() goes to /dev/null and cannot disturb them). The driver enforces each test's
  wall-clock limit; a host that runs past it, dies or sends garbage is killed, that test is
  "timeout" or "error", and a fresh host (a fresh import, an empty /tmp) serves the next test.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture import communicate  # noqa: E402  (standalone modules beside this file)
from compare import decode_value, encode_value, stdout_matches, values_equal  # noqa: E402

PROGRAM_MODULE = "solution"
_SPAWN_RETRY_S = 2.0  # a fork bomb in the previous test may hold the process limit for a moment


def _short(text: object, limit: int = 160) -> str:
    text = text if isinstance(text, str) else repr(text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _make_undumpable() -> None:
    """prctl(PR_SET_DUMPABLE, 0): same-uid processes can no longer ptrace or read this one."""
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


def _kill_all_others() -> None:
    """SIGKILL every process this uid may signal in the sandbox's PID namespace, except us."""
    try:
        os.kill(-1, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # nothing else left (PID 1 is never a target)
        pass


def _clear_scratch() -> None:
    """Empty /tmp, so no test sees files an earlier one left (or finds it full)."""
    for entry in os.scandir("/tmp"):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _spawn(argv: list[str], **kwargs) -> subprocess.Popen:
    deadline = time.monotonic() + _SPAWN_RETRY_S
    while True:
        try:
            return subprocess.Popen(argv, cwd="/tmp", **kwargs)
        except BlockingIOError:  # EAGAIN: the process limit is still held by killed processes
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _limit_cpu(pid: int, seconds: float) -> None:
    """RLIMIT_CPU of a started child (CPU already spent counts, so setting it after the start is exact)."""
    inherited_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]  # the sandbox's, which a child cannot exceed
    soft = max(1, math.ceil(seconds))
    if inherited_hard != resource.RLIM_INFINITY:
        soft = min(soft, inherited_hard)
    hard = soft + 1 if inherited_hard == resource.RLIM_INFINITY else min(soft + 1, inherited_hard)
    try:
        resource.prlimit(pid, resource.RLIMIT_CPU, (soft, hard))
    except ProcessLookupError:  # already exited
        pass


def _failure_message(returncode: int, stderr: bytes) -> tuple[str, str]:
    if returncode in (-signal.SIGXCPU,):
        return "timeout", "CPU time limit"
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    if lines:
        return "error", _short(lines[-1])
    if returncode < 0:
        return "error", f"killed by signal {-returncode}"
    return "error", f"exit code {returncode}"


class StdioRunner:
    """One fresh program process per test, fed the test's input on stdin."""

    def __init__(self, spec: dict):
        self.spec = spec

    def run(self, test: dict) -> dict:
        limit = test["time_limit_s"]
        start = time.monotonic()
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        try:
            proc = _spawn(
                [self.spec["python"], "-S", "-B", self.spec["program"]],
                stdin=stdin_read,
                stdout=stdout_write,
                stderr=stderr_write,
            )
        except OSError:
            for fd in (stdin_write, stdout_read, stderr_read):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_read, stdout_write, stderr_write):
                os.close(fd)
        pidfd = os.pidfd_open(proc.pid)
        try:
            _limit_cpu(proc.pid, limit)
            captured = communicate(
                readers={"stdout": (stdout_read, "out"), "stderr": (stderr_read, "out")},
                caps={"out": self.spec["max_output_bytes"]},
                deadline=start + limit,
                stdin_fd=stdin_write,
                stdin_data=test["input"].encode(),
                pidfd=pidfd,
            )
        finally:
            os.close(pidfd)
            seconds = time.monotonic() - start
            _kill_all_others()
            proc.wait()
            _clear_scratch()
        return self._verdict(test, captured, proc.returncode, seconds)

    def _verdict(self, test: dict, captured, returncode: int, seconds: float) -> dict:
        result = {"seconds": seconds}
        stdout = captured.outputs["stdout"].decode("utf-8", "replace")
        if self.spec["collect_outputs"]:
            result["output"] = stdout
        if captured.timed_out:
            return {**result, "status": "timeout", "message": f"wall-clock limit {test['time_limit_s']:g} s"}
        if captured.over_cap:
            return {**result, "status": "error", "message": "output limit exceeded"}
        if returncode != 0:
            status, message = _failure_message(returncode, captured.outputs["stderr"])
            return {**result, "status": status, "message": message}
        if "expected" not in test:
            return {**result, "status": "passed", "message": ""}
        if stdout_matches(stdout, test["expected"], atol=self.spec["atol"], rtol=self.spec["rtol"]):
            return {**result, "status": "passed", "message": ""}
        return {
            **result,
            "status": "failed",
            "message": f"expected {_short(test['expected'], 60)!r}, got {_short(stdout, 60)!r}",
        }


class FunctionRunner:
    """One host process per batch (a new one after a timeout or a crash) calling the function."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.host: subprocess.Popen | None = None
        self.import_error: str | None = None

    def _start_host(self) -> None:
        request_read, self.request_write = os.pipe()
        self.response_read, response_write = os.pipe()
        self.host = _spawn(
            [
                self.spec["python"],
                "-S",
                "-B",
                os.path.abspath(__file__),
                "host",
                str(request_read),
                str(response_write),
                self.spec["function_name"],
                self.spec["program"],
            ],
            pass_fds=(request_read, response_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(request_read)
        os.close(response_write)
        _limit_cpu(self.host.pid, self.spec["host_cpu_s"])
        self.buffer = b""
        ready = self._receive(time.monotonic() + self.spec["import_timeout_s"])
        if ready is None or not ready.get("ready"):
            self.import_error = ready.get("error", "import failed") if ready else "import timed out or crashed"
            self._stop_host()

    def _stop_host(self) -> None:
        if self.host is not None:
            _kill_all_others()
            self.host.wait()
            _clear_scratch()
            os.close(self.request_write)
            os.close(self.response_read)
            self.host = None

    def _receive(self, deadline: float) -> dict | None:
        """The host's next JSON line, or None on timeout, end-of-file, garbage or a too-long line."""
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.response_read], [], [], remaining)[0]:
                return None
            data = os.read(self.response_read, 1 << 16)
            if not data or len(self.buffer) + len(data) > self.spec["max_output_bytes"]:
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            message = json.loads(line)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def run(self, test: dict) -> dict:
        if self.host is None and self.import_error is None:
            self._start_host()
        if self.import_error is not None:
            return {"status": "error", "seconds": None, "message": _short(self.import_error)}
        start = time.monotonic()
        try:
            os.write(self.request_write, json.dumps({"args": test["input"]}).encode() + b"\n")
        except BrokenPipeError:
            pass
        response = self._receive(start + test["time_limit_s"])
        seconds = time.monotonic() - start
        if response is None:
            timed_out = time.monotonic() >= start + test["time_limit_s"]
            self._stop_host()
            if timed_out:
                return {
                    "status": "timeout",
                    "seconds": seconds,
                    "message": f"wall-clock limit {test['time_limit_s']:g} s",
                }
            return {"status": "error", "seconds": seconds, "message": "the program exited or broke the protocol"}
        return self._verdict(test, response, seconds)

    def _verdict(self, test: dict, response: dict, seconds: float) -> dict:
        if not response.get("ok"):
            return {"status": "error", "seconds": seconds, "message": _short(response.get("error", "error"))}
        try:
            got = decode_value(response.get("value"))
        except (ValueError, TypeError, KeyError, IndexError) as error:
            return {"status": "error", "seconds": seconds, "message": f"malformed return value: {_short(error)}"}
        result = {"seconds": seconds}
        if self.spec["collect_outputs"]:
            result["output"] = response.get("value")
        if "expected" not in test:
            return {**result, "status": "passed", "message": ""}
        expected = decode_value(test["expected"])
        if values_equal(
            got, expected, atol=self.spec["atol"], rtol=self.spec["rtol"], tuple_as_list=self.spec["tuple_as_list"]
        ):
            return {**result, "status": "passed", "message": ""}
        return {**result, "status": "failed", "message": f"expected {_short(expected, 60)}, got {_short(got, 60)}"}

    def close(self) -> None:
        self._stop_host()


def _resolve(module, function_name: str):
    """`f` → module.f; `Solution.method` → a fresh Solution().method."""
    head, *rest = function_name.split(".")
    target = getattr(module, head)
    for part in rest:
        if isinstance(target, type):
            target = target()
        target = getattr(target, part)
    return target


def host_main(request_fd: int, response_fd: int, function_name: str, program: str) -> None:
    """The untrusted side of function mode: import the program, then answer call requests."""
    responses = os.fdopen(response_fd, "wb", buffering=0)

    def send(message: dict) -> None:
        responses.write(json.dumps(message).encode() + b"\n")

    try:
        spec = importlib.util.spec_from_file_location(PROGRAM_MODULE, program)
        module = importlib.util.module_from_spec(spec)
        sys.modules[PROGRAM_MODULE] = module
        spec.loader.exec_module(module)
        _resolve(module, function_name)
    except BaseException as error:  # the program's import failing is a verdict, not a crash
        send({"ready": False, "error": f"{type(error).__name__}: {error}"})
        return
    send({"ready": True})
    for line in os.fdopen(request_fd, "rb"):
        try:
            value = _resolve(module, function_name)(*decode_value(json.loads(line)["args"]))
            message = json.dumps({"ok": True, "value": encode_value(value)})
        except BaseException as error:  # any exception (SystemExit too) is this test's error
            message = json.dumps({"ok": False, "error": f"{type(error).__name__}: {_short(str(error), 300)}"})
        responses.write(message.encode() + b"\n")


def batch_main(channel_fd: int) -> None:
    spec = json.loads(sys.stdin.buffer.read())
    _make_undumpable()
    os.set_inheritable(channel_fd, False)  # no child ever holds the channel
    channel = os.fdopen(channel_fd, "w", buffering=1)
    runner = StdioRunner(spec) if spec["mode"] == "stdio" else FunctionRunner(spec)
    stopped = False
    for index, test in enumerate(spec["tests"]):
        if stopped:
            result = {"status": "skipped", "seconds": None, "message": "stopped at the first failure"}
        else:
            try:
                result = runner.run(test)
            except Exception as error:  # a driver bug must show up as this test's error, not a hang
                result = {"status": "error", "seconds": None, "message": f"driver: {_short(repr(error))}"}
            stopped = spec["stop_on_first_failure"] and result["status"] != "passed"
        channel.write(json.dumps({"token": spec["token"], "index": index, **result}) + "\n")
    if isinstance(runner, FunctionRunner):
        runner.close()
    channel.write(json.dumps({"token": spec["token"], "done": True}) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "host":
        host_main(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        batch_main(int(sys.argv[2]))
