"""The bubblewrap command line: what a sandboxed program sees, which limits hold, who it runs as.

Decisions:
- Namespaces: `--unshare-all` (user, PID, network, IPC, UTS, cgroup), hostname "sandbox",
  `--die-with-parent`, `--new-session` (no terminal to inject into). The network namespace has
  only its own loopback, so nothing outside the sandbox is reachable, not even the host's
  127.0.0.1.
- The file system, all read-only except /tmp: a fresh tmpfs root holding /usr, the host's /bin,
  /sbin, /lib* (as the host has them: symlinks into /usr or read-only binds), the interpreter's
  prefix (`sys.base_prefix`: the standard library; bound at its own path), a minimal /dev
  (`--dev`: null, zero, full, random, urandom, tty, pts, shm; no writable directory), and
  /sandbox (read-only: the program, and the driver's three files for test batches). /tmp is a
  tmpfs of `scratch_mb`, the only writable place, also the working directory and $HOME.
  Not there: /proc, /sys, /etc, /home, /root (beyond the interpreter's prefix when it lives
  there), /work, the caller's venv (unless `site_packages=True`, which binds its site-packages
  read-only and puts them on PYTHONPATH; `-S` means no .pth file runs either way).
- Environment: cleared (`--clearenv`), then PATH=/usr/bin:/bin, HOME=TMPDIR=/tmp, LANG=C.UTF-8.
- Interpreter: the caller's own (`sys._base_executable`, i.e. the venv's base interpreter) run
  as `python -S -B`: no site import (12 ms instead of 32 ms per start here), no bytecode writes.
- Limits: rlimits that the caller sets with prlimit(2) on the sandbox's PID 1 while bubblewrap
  waits on `--block-fd`, before PID 1 starts anything; every process inherits them. RLIMIT_AS =
  memory_mb, RLIMIT_CPU = ceil(cpu seconds) soft and +1 s hard (per process), RLIMIT_NPROC =
  max_processes (processes and threads of the whole sandbox: the kernel counts them per user
  namespace, and each call has its own), RLIMIT_FSIZE = max_file_mb, RLIMIT_NOFILE =
  max_open_files, RLIMIT_CORE = 0.
- Who the program runs as: uid/gid 65534 ("nobody") inside. A caller who is not root gets
  bubblewrap's usual map (65534 inside = the caller outside) and `--disable-userns`. When the caller is root the usual
  map would make the program root outside (kuid 0), and the kernel never enforces RLIMIT_NPROC
  for root: a fork bomb would be bounded only by the machine. So as root bubblewrap starts with
  `--userns-block-fd`, the caller writes the map itself (0→0 for bubblewrap's own set-up,
  65534→65534), and the command drops to uid/gid 65534 with util-linux `setpriv` (granted
  CAP_SETUID/CAP_SETGID inside the user namespace only for that step): the program is then the
  real unprivileged uid 65534 on the host, with no capabilities, and its process limit holds.
  bubblewrap's `--disable-userns` cannot be combined with that start, so as root the program
  can still create nested user namespaces (no privilege outside the sandbox comes with them).
"""

from __future__ import annotations

import functools
import math
import os
import resource
import shutil
import site
import sys
from dataclasses import dataclass

SANDBOX_UID = 65534
SANDBOX_DIR = "/sandbox"
SCRATCH_DIR = "/tmp"
BWRAP_ENV = "PROGRPO_BWRAP"
_HOST_TOP_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(RuntimeError):
    """Untrusted code cannot run here (the one-line message names the cause); nothing was run."""


class SandboxError(RuntimeError):
    """bubblewrap started but could not set the sandbox up (a fault of this machine, not the program's)."""


@dataclass(frozen=True)
class SandboxConfig:
    """Limits and options that hold for every program of a run (time and memory are per call)."""

    max_output_bytes: int = 1 << 20  # stdout + stderr kept per program (per test in batches); past it, killed
    max_processes: int = 64  # RLIMIT_NPROC: processes + threads in the whole sandbox
    max_file_mb: int = 16  # RLIMIT_FSIZE: the largest file the program may write
    max_open_files: int = 256  # RLIMIT_NOFILE
    scratch_mb: int = 64  # size of the /tmp tmpfs, the only writable place
    site_packages: bool = False  # let programs import the caller's venv packages (read-only)
    bwrap: str | None = None  # the bwrap binary; None: $PROGRPO_BWRAP, else "bwrap" on PATH

    def __post_init__(self):
        for name in ("max_output_bytes", "max_processes", "max_file_mb", "max_open_files", "scratch_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"SandboxConfig.{name} must be positive, got {getattr(self, name)}")

    @property
    def bwrap_name(self) -> str:
        return self.bwrap or os.environ.get(BWRAP_ENV) or "bwrap"


@dataclass(frozen=True)
class HostLayout:
    """What of the host goes into the sandbox (computed once per process)."""

    python: str  # the interpreter, at the same path inside
    read_only_binds: tuple[str, ...]
    symlinks: tuple[tuple[str, str], ...]  # (target, link)
    site_packages: tuple[str, ...]


def _covered(path: str, binds: list[str]) -> bool:
    return any(path == bind or path.startswith(bind.rstrip("/") + "/") for bind in binds)


@functools.lru_cache(maxsize=1)
def host_layout() -> HostLayout:
    python = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    binds, symlinks = ["/usr"], []
    for top in _HOST_TOP_DIRS:
        if os.path.islink(top):
            symlinks.append((os.readlink(top), top))
        elif os.path.isdir(top):
            binds.append(top)
    for prefix in (sys.base_prefix, sys.base_exec_prefix, os.path.dirname(python)):
        prefix = os.path.realpath(prefix)
        if prefix != "/" and not _covered(prefix, binds):
            binds.append(prefix)
    venv_sites = [os.path.realpath(path) for path in site.getsitepackages() if os.path.isdir(path)]
    return HostLayout(python, tuple(binds), tuple(symlinks), tuple(p for p in venv_sites if not _covered(p, binds)))


def find_bwrap(config: SandboxConfig) -> str:
    """The bwrap binary's path, or SandboxUnavailable naming the package to install."""
    name = config.bwrap_name
    path = shutil.which(name) if os.sep not in name else (name if os.access(name, os.X_OK) else None)
    if path is None:
        raise SandboxUnavailable(
            f"bubblewrap ({name}) not found: install the Debian package bubblewrap (apt-get install bubblewrap)"
        )
    return path


def find_helper(name: str) -> str:
    path = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if path is None:
        raise SandboxUnavailable(f"{name} not found: install the Debian package util-linux")
    return path


def runs_as_root() -> bool:
    return os.geteuid() == 0


def _directories_for(path: str) -> list[str]:
    """bwrap creates a bind's missing parents with the host's modes (/root is 0700): make them 0755."""
    parts, current = [], os.path.dirname(path)
    while current not in ("/", ""):
        parts.append(current)
        current = os.path.dirname(current)
    return [arg for directory in reversed(parts) for arg in ("--perms", "0755", "--dir", directory)]


def rlimits(*, memory_mb: int, cpu_s: float, config: SandboxConfig) -> dict[int, tuple[int, int]]:
    """The sandbox's rlimits, set on its PID 1 before it starts anything (all processes inherit them)."""
    cpu = max(1, math.ceil(cpu_s))
    return {
        resource.RLIMIT_AS: (memory_mb << 20,) * 2,
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_NPROC: (config.max_processes,) * 2,
        resource.RLIMIT_FSIZE: (config.max_file_mb << 20,) * 2,
        resource.RLIMIT_NOFILE: (config.max_open_files,) * 2,
        resource.RLIMIT_CORE: (0, 0),
    }


def apply_rlimits(pid: int, limits: dict[int, tuple[int, int]]) -> None:
    for which, (soft, hard) in limits.items():
        resource.prlimit(pid, which, (soft, hard))


def bwrap_command(
    *, command: list[str], files: dict[str, int], pass_through: dict[str, int], config: SandboxConfig
) -> list[str]:
    """The full argv. `files` maps a name under /sandbox to a readable fd holding its bytes;
    `pass_through` holds bwrap's own fds: "info" and "status" (reports) and "block" (bwrap waits
    on it, before its set-up as root, and in any case before PID 1 starts the command, until the
    caller has written the id maps and set the rlimits on PID 1 and closed the pipe)."""
    layout = host_layout()
    argv = [
        find_bwrap(config),
        "--unshare-all",
        "--hostname",
        "sandbox",
        "--die-with-parent",
        "--new-session",
        "--info-fd",
        str(pass_through["info"]),
        "--json-status-fd",
        str(pass_through["status"]),
        "--block-fd",
        str(pass_through["block"]),
    ]
    if runs_as_root():
        argv += [
            "--unshare-user",
            "--userns-block-fd",
            str(pass_through["block"]),
            "--cap-add",
            "CAP_SETUID",
            "--cap-add",
            "CAP_SETGID",
        ]
    else:
        argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns"]
    for bind in layout.read_only_binds + (layout.site_packages if config.site_packages else ()):
        argv += _directories_for(bind) + ["--ro-bind", bind, bind]
    for target, link in layout.symlinks:
        argv += ["--symlink", target, link]
    argv += ["--dev", "/dev", "--perms", "0755", "--dir", SANDBOX_DIR]
    for name, fd in files.items():
        argv += ["--perms", "0444", "--ro-bind-data", str(fd), f"{SANDBOX_DIR}/{name}"]
    argv += [
        "--size",
        str(config.scratch_mb << 20),
        "--perms",
        "1777",
        "--tmpfs",
        SCRATCH_DIR,
        "--chdir",
        SCRATCH_DIR,
        "--remount-ro",
        "/",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        SCRATCH_DIR,
        "--setenv",
        "TMPDIR",
        SCRATCH_DIR,
        "--setenv",
        "LANG",
        "C.UTF-8",
    ]
    if config.site_packages and layout.site_packages:
        argv += ["--setenv", "PYTHONPATH", ":".join(layout.site_packages)]
    argv.append("--")
    if runs_as_root():
        argv += [
            find_helper("setpriv"),
            f"--reuid={SANDBOX_UID}",
            f"--regid={SANDBOX_UID}",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ]
    return argv + command


def write_root_id_maps(child_pid: int) -> None:
    """As root: map 0→0 (bubblewrap's own set-up inside) and 65534→65534 (the program)."""
    mapping = f"0 0 1\n{SANDBOX_UID} {SANDBOX_UID} 1\n".encode()
    for name in ("uid_map", "gid_map"):
        fd = os.open(f"/proc/{child_pid}/{name}", os.O_WRONLY)
        try:
            os.write(fd, mapping)  # one write(2): the kernel takes a map in a single write only
        finally:
            os.close(fd)
