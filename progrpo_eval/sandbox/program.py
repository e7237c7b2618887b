"""`run_program`: one untrusted Python program, its stdin, one sandbox call, one `ProgramResult`.

Statuses (a closed set, `PROGRAM_STATUSES`):
- "ok": exit code 0.
- "error": any other exit (an exception, a non-zero exit code, a signal such as SIGSEGV).
- "timeout": the wall clock ran out (the sandbox was killed), or the CPU rlimit fired (SIGXCPU).
- "memory": the program died of a MemoryError (its address-space limit); detected from the last
  line of stderr, so a program that prints "MemoryError" there and exits non-zero is counted so.
- "output_limit": stdout + stderr passed `max_output_bytes`; the sandbox was killed and the
  output is cut at the cap.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from progrpo_eval.sandbox.execution import run_sandboxed
from progrpo_eval.sandbox.isolation import SANDBOX_DIR, SandboxConfig, host_layout

PROGRAM_STATUSES = ("ok", "error", "timeout", "memory", "output_limit")
PROGRAM_FILE = "program.py"


@dataclass(frozen=True)
class ProgramResult:
    status: str  # one of PROGRAM_STATUSES
    stdout: str
    stderr: str
    returncode: int | None  # the exit code (128 + N for signal N); None when the sandbox killed it
    wall_s: float  # sandbox start to the last process gone

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def encode_source(code: str) -> bytes:
    return code.encode("utf-8", "surrogatepass")


def python_command(script: str) -> list[str]:
    """How every Python process in the sandbox starts: no site import, no bytecode writes."""
    return [host_layout().python, "-S", "-B", script]


def program_status(returncode: int | None, timed_out: bool, over_cap: bool, stderr: str) -> str:
    if timed_out:
        return "timeout"
    if over_cap:
        return "output_limit"
    if returncode == 0:
        return "ok"
    if returncode == 128 + signal.SIGXCPU:
        return "timeout"
    lines = stderr.strip().splitlines()
    if lines and lines[-1].startswith("MemoryError"):
        return "memory"
    return "error"


def run_program(
    code: str, stdin: str = "", *, timeout_s: float = 10.0, memory_mb: int = 1024, config: SandboxConfig | None = None
) -> ProgramResult:
    """Run `code` as a Python script in a fresh sandbox (see `progrpo_eval.sandbox` for the guarantees).

    `timeout_s` is wall-clock (the CPU rlimit is the same number, rounded up); `memory_mb` is
    the address-space limit of each process. Raises SandboxUnavailable where bubblewrap cannot
    run (nothing runs then) and SandboxError if this machine failed to set a sandbox up.
    """
    if timeout_s <= 0 or memory_mb <= 0:
        raise ValueError(f"timeout_s and memory_mb must be positive, got {timeout_s} and {memory_mb}")
    config = config or SandboxConfig()
    run = run_sandboxed(
        python_command(f"{SANDBOX_DIR}/{PROGRAM_FILE}"),
        files={PROGRAM_FILE: encode_source(code)},
        stdin=stdin.encode("utf-8", "surrogatepass"),
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        cpu_s=timeout_s,
        config=config,
    )
    stdout, stderr = run.stdout.decode("utf-8", "replace"), run.stderr.decode("utf-8", "replace")
    status = program_status(run.returncode, run.timed_out, run.over_cap == "out", stderr)
    return ProgramResult(status, stdout, stderr, run.returncode, run.wall_s)
