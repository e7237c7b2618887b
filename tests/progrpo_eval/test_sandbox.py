"""The hostile suite: programs that attack the sandbox, each contained, nothing left running.

Every hostile program re-executes itself with a unique marker in its argv, so every process it
(or its children) starts carries the marker; after each call the test scans /proc for it.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from textwrap import dedent

import pytest

from progrpo_eval.sandbox import (
    SandboxConfig,
    SandboxPool,
    SandboxUnavailable,
    TestCase,
    ensure_available,
    run_program,
    run_tests,
    sandbox_problem,
)
from progrpo_eval.sandbox.isolation import SANDBOX_UID


@pytest.fixture(scope="module", autouse=True)
def sandbox_here():
    problem = sandbox_problem()
    if problem is not None:
        pytest.fail(f"the sandbox cannot run here: {problem}")


def _cmdlines() -> dict[int, bytes]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                found[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
    return found


def processes_with(marker: str) -> list[int]:
    return [pid for pid, cmdline in _cmdlines().items() if marker.encode() in cmdline]


def bwrap_children() -> list[int]:
    children = []
    for pid in _cmdlines():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        if comm == "bwrap" and int(rest[1]) == os.getpid():
            children.append(pid)
    return children


@pytest.fixture(autouse=True)
def nothing_left_running():
    yield
    assert bwrap_children() == [], "a bubblewrap process outlived its call"


@pytest.fixture
def marker() -> str:
    return f"progrpo-hostile-{uuid.uuid4().hex}"


def marked(body: str, marker: str) -> str:
    """A program that re-executes `body` with `marker` in argv (so all its processes carry it)."""
    return (
        f"import os, sys\nif {marker!r} not in sys.argv:\n"
        f"    os.execv(sys.executable, [sys.executable, '-S', '-B', '-c', {body!r}, {marker!r}])\n"
    )


def assert_contained(marker: str) -> None:
    assert processes_with(marker) == [], "a process of the program outlived the call"


def test_the_configured_limits_are_in_force():
    config = SandboxConfig(max_processes=40, max_file_mb=3, max_open_files=50)
    program = dedent("""
        import resource
        names = ["RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE"]
        print([resource.getrlimit(getattr(resource, name)) for name in names])
        open("/tmp/big", "wb").write(b"x" * (4 << 20))  # past RLIMIT_FSIZE (Python ignores SIGXFSZ: EFBIG)
        """)
    result = run_program(program, timeout_s=2.5, memory_mb=300, config=config)
    limits = [(300 << 20,) * 2, (3, 4), (40, 40), (3 << 20,) * 2, (50, 50), (0, 0)]
    assert result.stdout.strip() == str(limits)
    assert result.status == "error" and "File too large" in result.stderr


def test_infinite_loop_times_out(marker):
    result = run_program(marked("while True: pass", marker), timeout_s=1.0)
    assert result.status == "timeout" and result.returncode is None
    assert 1.0 <= result.wall_s < 3.0
    assert_contained(marker)


@pytest.mark.parametrize(
    "body", ["blocks = []\nwhile True: blocks.append(bytearray(1 << 24))", "x = bytearray(1 << 34)"]
)
def test_memory_bomb_hits_the_address_space_limit(marker, body):
    result = run_program(marked(body, marker), timeout_s=10.0, memory_mb=256)
    assert result.status == "memory", result
    assert "MemoryError" in result.stderr
    assert_contained(marker)


def test_fork_bomb_is_bounded_and_killed(marker):
    bomb = dedent("""
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """)
    result = run_program(marked(bomb, marker), timeout_s=1.5, config=SandboxConfig(max_processes=32))
    assert result.status == "timeout"
    assert_contained(marker)


def test_process_limit_counts_the_whole_sandbox(marker):
    body = dedent("""
        import os, time
        forked = 0
        for _ in range(100):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            forked += 1
        print(forked)
        """)
    result = run_program(marked(body, marker), timeout_s=10.0, config=SandboxConfig(max_processes=20))
    assert result.status == "ok", result
    assert 10 <= int(result.stdout) < 20  # the limit held (bwrap's init may count too)
    assert_contained(marker)  # the sleeping children died with the program


def test_no_network_not_even_the_hosts_loopback():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    program = dedent(f"""
        import socket
        for address in [("127.0.0.1", {port}), ("1.1.1.1", 53), ("10.0.0.1", 80)]:
            try:
                socket.create_connection(address, timeout=1).close()
                print("connected", address)
            except OSError as error:
                print("refused", type(error).__name__)
        """)
    try:
        result = run_program(program, timeout_s=10.0)
        with pytest.raises(socket.timeout):
            listener.accept()
    finally:
        listener.close()
    assert result.status == "ok" and "connected" not in result.stdout, result
    assert result.stdout.count("refused") == 3


def test_writes_outside_scratch_fail_and_leave_no_file(tmp_path):
    home = Path(os.path.expanduser("~"))
    name = f"progrpo-escape-{uuid.uuid4().hex}"
    targets = [
        home / name,
        tmp_path / name,
        Path(__file__).parent / name,
        Path("/") / name,
        Path("/usr") / name,
        Path("/sandbox") / name,
        Path("/dev/shm") / name,
        Path("/dev") / name,
    ]
    program = dedent(f"""
        import sys
        for path in sys.stdin.read().split():
            try:
                open(path, "w").write("x")
                print("WROTE", path)
            except OSError as error:
                print("refused", path, error.strerror)
        open("/tmp/{name}", "w").write("scratch is writable")
        print(open("/tmp/{name}").read())
        """)
    result = run_program(program, "\n".join(map(str, targets)), timeout_s=10.0)
    assert result.status == "ok", result
    assert "WROTE" not in result.stdout and result.stdout.count("refused") == len(targets)
    assert "scratch is writable" in result.stdout
    for target in targets + [Path("/tmp") / name]:  # the sandbox's /tmp is private: nothing on the host's
        assert not target.exists(), target


@pytest.mark.slow  # walks the whole visible file system (several seconds)
def test_scratch_is_the_only_writable_directory():
    program = dedent("""
        import os
        writable = []
        for root, dirs, files in os.walk("/"):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
            probe = os.path.join(root, ".probe")
            try:
                open(probe, "w").close()
                writable.append(root)
                os.unlink(probe)
            except OSError:
                pass
        print(writable)
        """)
    result = run_program(program, timeout_s=60.0)
    assert result.status == "ok", result
    assert result.stdout.strip() == "['/tmp']"


def test_secrets_of_the_caller_are_invisible(tmp_path, monkeypatch):
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("PROGRPO_TEST_SECRET", secret)
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(secret)
    secret_file.chmod(0o600)
    program = dedent(f"""
        import os
        print(sorted(os.environ))
        print(os.environ.get("PROGRPO_TEST_SECRET"))
        try:
            print(open({str(secret_file)!r}).read())
        except OSError as error:
            print("unreadable", type(error).__name__)
        print(os.getuid(), os.getgid(), os.getgroups())
        """)
    result = run_program(program, timeout_s=10.0)
    assert result.status == "ok", result
    assert secret not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert set(eval(lines[0])) <= {"PATH", "HOME", "TMPDIR", "LANG", "PWD", "LC_CTYPE"}
    assert lines[1] == "None" and lines[2].startswith("unreadable")
    assert lines[3] == f"{SANDBOX_UID} {SANDBOX_UID} []"


@pytest.mark.parametrize("target", ["os.getppid()", "1", "-1"])
def test_killing_the_parent_leaves_the_harness_alive(target):
    result = run_program(f"import os\nprint('before', flush=True)\nos.kill({target}, 9)\nprint('after')", timeout_s=5.0)
    assert result.stdout.startswith("before") and result.status in ("ok", "error")


def test_killing_the_test_driver_fails_the_batch(marker):
    tests = [TestCase("1", "1"), TestCase("2", "2"), TestCase("3", "3")]
    body = "import os\nline = input()\nif line == '2':\n    os.kill(os.getppid(), 9)\nprint(line)"
    result = run_tests(marked(body, marker), tests, per_test_timeout_s=5.0)
    assert result.status == "error"
    assert [test.status for test in result.tests] == ["passed", "error", "skipped"]
    assert_contained(marker)


def test_output_flood_is_capped_and_killed(marker):
    config = SandboxConfig(max_output_bytes=4096)
    result = run_program(marked("while True: print('y' * 1000)", marker), timeout_s=10.0, config=config)
    assert result.status == "output_limit" and result.returncode is None
    assert len(result.stdout.encode()) + len(result.stderr.encode()) == 4096
    assert result.wall_s < 5.0
    assert_contained(marker)
    flood = run_tests(
        marked("import sys\nwhile True: sys.stderr.write('z' * 1000)", marker),
        [TestCase("", "")],
        config=config,
        per_test_timeout_s=5.0,
    )
    assert flood.tests[0].status == "error" and "output limit" in flood.tests[0].message
    assert_contained(marker)


def _sleeper(marker: str) -> str:
    grandchild = "import time; time.sleep(60)"
    return marked(
        dedent(f"""
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-S", "-c", {grandchild!r}, {marker!r}])
            os._exit(0)
        print("parent exits")
        """),
        marker,
    )


def test_a_sleeping_grandchild_dies_with_the_call(marker):
    start = time.monotonic()
    result = run_program(_sleeper(marker), timeout_s=10.0)
    assert result.status == "ok" and result.stdout == "parent exits\n"
    assert time.monotonic() - start < 5.0  # the call did not wait for the sleeper either
    assert_contained(marker)


def test_a_grandchild_does_not_survive_into_the_next_test(marker):
    result = run_tests(_sleeper(marker), [TestCase("", "parent exits")] * 3, per_test_timeout_s=5.0)
    assert result.all_passed, result
    assert_contained(marker)


def test_a_program_that_closes_its_pipes_and_stays_is_killed(marker):
    result = run_program(marked("import os, time\nos.close(1)\nos.close(2)\ntime.sleep(60)", marker), timeout_s=1.0)
    assert result.status == "timeout"
    assert_contained(marker)


def test_unavailable_bwrap_raises_and_runs_nothing(tmp_path, monkeypatch):
    missing = SandboxConfig(bwrap=str(tmp_path / "no-such-bwrap"))
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        run_program("print(1)", config=missing)
    monkeypatch.setenv("PROGRPO_BWRAP", str(tmp_path / "also-missing"))
    with pytest.raises(SandboxUnavailable, match="install the Debian package bubblewrap"):
        run_tests("print(1)", [TestCase("", "1")])
    with pytest.raises(SandboxUnavailable):
        SandboxPool(workers=2).run_programs(["print(1)"] * 3)


def test_bwrap_without_namespaces_raises_and_runs_nothing(tmp_path):
    log = tmp_path / "calls.log"
    fake = tmp_path / "bwrap"
    fake.write_text(
        f'#!/bin/sh\necho "$@" >> {log}\n'
        "echo 'bwrap: No permissions to create a new namespace, likely because the kernel does not "
        "allow non-privileged user namespaces.' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    config = SandboxConfig(bwrap=str(fake))
    for _ in range(2):
        with pytest.raises(SandboxUnavailable, match="cannot create namespaces"):
            run_program("print('ran')", config=config)
    calls = log.read_text().splitlines()
    assert len(calls) == 1 and calls[0].endswith("-S -c pass")  # the cached self-test, never the program
    with pytest.raises(SandboxUnavailable):
        ensure_available(config)


@pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/bin/python3").exists(),
    reason="needs root (to become uid 65534) and a system /usr/bin/python3",
)
def test_a_caller_that_is_not_root_gets_the_same_sandbox(tmp_path):
    """Without root, bubblewrap maps 65534 to the caller itself; limits and isolation still hold."""
    import subprocess

    import tqdm

    repo = Path(__file__).resolve().parents[2]
    # Children exit at once but stay unreaped (zombies count against the process limit too).
    code = dedent("""
        import os
        n = 0
        for _ in range(50):
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                os._exit(0)
            n += 1
        print(n, os.getuid())
        """)
    script = (
        "from progrpo_eval.sandbox import run_program, SandboxConfig\n"
        f"print(run_program({code!r}, config=SandboxConfig(max_processes=16)).stdout.strip())\n"
    )
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{repo}:{Path(tqdm.__file__).parents[1]}"}
    completed = subprocess.run(
        ["/usr/bin/python3", "-c", script],
        env=environment,
        cwd=tmp_path,
        user=SANDBOX_UID,
        group=SANDBOX_UID,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    forked, uid = completed.stdout.split()
    assert int(forked) < 16 and int(uid) == SANDBOX_UID
