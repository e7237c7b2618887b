"""Sandbox overhead: a bubblewrap-isolated program against a bare subprocess of the same program.

The anchor is a small trusted program this script writes itself (it reads n from stdin and prints
the sum of the first n squares); the bare run is `subprocess.run([python, "-S", "-B", file])`
with the same interpreter and flags the sandbox uses, so the difference is the isolation alone:
bubblewrap's namespaces and mounts, setpriv/prlimit, and the supervision. Bare runs exist ONLY
for this anchor program; generated code never runs bare.

Three measurements, each timed in interleaved blocks (bare, sandbox, bare, ...) so a change in
machine load hits both sides:
1. latency: one program at a time, `run_program` vs `subprocess.run` (median and mean per run);
   overhead = sandbox - bare per program. Goal: under 50 ms.
2. throughput: --programs programs through `SandboxPool(workers)` vs the same number of bare runs
   through a thread pool of the same size: programs per second and their ratio.
3. batched tests: one program with --tests stdin/stdout tests in ONE sandbox call (`run_tests`)
   vs --tests bare runs, and a function-mode batch of the same size: time per test.
Every output is checked against the expected one; the script fails on a mismatch.

    python benchmarks/sandbox_overhead.py [--runs 60] [--programs 200] [--tests 100] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from progrpo_eval.sandbox import SandboxPool, TestCase, default_workers, ensure_available, run_program, run_tests
from progrpo_eval.sandbox.isolation import host_layout

ANCHOR = "n = int(input())\nprint(sum(i * i for i in range(n)))\n"
FUNCTION_ANCHOR = "def squares(n):\n    return sum(i * i for i in range(n))\n"
BLOCK = 10
GOAL_MS = 50.0


def expected_output(n: int) -> str:
    return f"{sum(i * i for i in range(n))}\n"


def bare_run(path: str, stdin: str) -> str:
    completed = subprocess.run(
        [host_layout().python, "-S", "-B", path], input=stdin, capture_output=True, text=True, check=True
    )
    return completed.stdout


def sandbox_run(stdin: str) -> str:
    result = run_program(ANCHOR, stdin, timeout_s=30.0)
    if result.status != "ok":
        raise SystemExit(f"error: the anchor failed in the sandbox: {result}")
    return result.stdout


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    output = function(*args, **kwargs)
    return time.perf_counter() - start, output


def latency(path: str, runs: int) -> dict:
    bare, sandboxed = [], []
    for block in range(0, runs, BLOCK):
        for n in range(block, min(block + BLOCK, runs)):
            seconds, output = timed(bare_run, path, f"{n}\n")
            assert output == expected_output(n), (n, output)
            bare.append(seconds)
        for n in range(block, min(block + BLOCK, runs)):
            seconds, output = timed(sandbox_run, f"{n}\n")
            if output != expected_output(n):
                raise SystemExit(f"error: sandboxed output {output!r} != {expected_output(n)!r}")
            sandboxed.append(seconds)
    return {
        "runs": runs,
        "bare_median_ms": 1e3 * statistics.median(bare),
        "bare_mean_ms": 1e3 * statistics.mean(bare),
        "sandbox_median_ms": 1e3 * statistics.median(sandboxed),
        "sandbox_mean_ms": 1e3 * statistics.mean(sandboxed),
        "overhead_median_ms": 1e3 * (statistics.median(sandboxed) - statistics.median(bare)),
        "overhead_mean_ms": 1e3 * (statistics.mean(sandboxed) - statistics.mean(bare)),
        "ratio_median": statistics.median(sandboxed) / statistics.median(bare),
    }


def throughput(path: str, programs: int, workers: int) -> dict:
    stdins = [f"{n % 500}\n" for n in range(programs)]
    bare_s = sandbox_s = 0.0
    with ThreadPoolExecutor(workers) as executor, SandboxPool(workers) as pool:
        for start in range(0, programs, programs // 4):
            chunk = stdins[start : start + programs // 4]
            seconds, outputs = timed(lambda c: list(executor.map(lambda s: bare_run(path, s), c)), chunk)
            bare_s += seconds
            seconds, results = timed(lambda c: pool.run_programs([ANCHOR] * len(c), c, timeout_s=60.0), chunk)
            sandbox_s += seconds
            if [r.stdout for r in results] != outputs or any(r.status != "ok" for r in results):
                raise SystemExit("error: pooled sandbox outputs differ from the bare ones")
    return {
        "programs": programs,
        "workers": workers,
        "bare_programs_per_s": programs / bare_s,
        "sandbox_programs_per_s": programs / sandbox_s,
        "ratio": (programs / sandbox_s) / (programs / bare_s),
    }


def batched(path: str, num_tests: int) -> dict:
    tests = [TestCase(f"{n}\n", expected_output(n)) for n in range(num_tests)]
    bare_s, _ = timed(lambda: [bare_run(path, test.input) for test in tests])
    stdio_s, stdio = timed(run_tests, ANCHOR, tests)
    function_tests = [TestCase([n], sum(i * i for i in range(n))) for n in range(num_tests)]
    function_s, function = timed(run_tests, FUNCTION_ANCHOR, function_tests, mode="function", function_name="squares")
    if not (stdio.all_passed and function.all_passed):
        raise SystemExit(f"error: the anchor failed its own tests: {stdio.status} {function.status}")
    return {
        "tests": num_tests,
        "bare_ms_per_test": 1e3 * bare_s / num_tests,
        "stdio_batch_ms_per_test": 1e3 * stdio_s / num_tests,
        "stdio_batch_s": stdio_s,
        "function_batch_ms_per_test": 1e3 * function_s / num_tests,
        "function_batch_s": function_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--tests", type=int, default=100)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sandbox_overhead.json")
    args = parser.parse_args()
    ensure_available()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as directory:
        path = str(Path(directory) / "anchor.py")
        Path(path).write_text(ANCHOR)
        run_program(ANCHOR, "1\n")  # warm: the availability check and the page cache
        rows = {
            "latency": latency(path, args.runs),
            "throughput": throughput(path, args.programs, args.workers),
            "batched": batched(path, args.tests),
        }
    lat, thr, bat = rows["latency"], rows["throughput"], rows["batched"]
    verdict = "under" if lat["overhead_median_ms"] < GOAL_MS else "OVER"
    lines = [
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after "
        "(other processes skew wall times)",
        f"latency ({lat['runs']} runs each): bare {lat['bare_median_ms']:.1f} ms, "
        f"sandbox {lat['sandbox_median_ms']:.1f} ms (median); overhead {lat['overhead_median_ms']:.1f} ms per program "
        f"(mean {lat['overhead_mean_ms']:.1f} ms), {verdict} the {GOAL_MS:.0f} ms goal; "
        f"sandbox / bare: {lat['ratio_median']:.2f}x",
        f"throughput ({thr['programs']} programs, {thr['workers']} workers): bare {thr['bare_programs_per_s']:.1f}/s, "
        f"sandbox pool {thr['sandbox_programs_per_s']:.1f}/s; sandbox / bare: {thr['ratio']:.2f}",
        f"batched ({bat['tests']} tests, one sandbox call): stdio {bat['stdio_batch_ms_per_test']:.1f} ms/test, "
        f"function {bat['function_batch_ms_per_test']:.2f} ms/test; {bat['tests']} bare runs: "
        f"{bat['bare_ms_per_test']:.1f} ms/test",
    ]
    print("\n".join(lines))
    machine = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "results": rows}, indent=2) + "\n")
    args.out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
