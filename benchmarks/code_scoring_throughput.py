"""Code scoring throughput: programs per second through the "code" scorer against bare subprocess checks.

Two workloads, each timed in interleaved blocks (anchor, scorer, anchor, ...) so that load from
other processes hits both sides alike:

1. HumanEval+: the 164 canonical solutions (trusted code), judged by the code scorer as
   `progrpo-eval run` judges a sample: one sandbox call per program with all of its base and plus
   inputs (~760 on average) in function mode, EvalPlus's comparison on the outputs. The scorer's
   reference outputs are computed first (timed apart: EvalPlus caches them the same way) into a
   temporary cache. Anchor: the same solution in ONE bare `python -S -B` subprocess that execs it
   and calls the function on every input, the outputs judged by the same EvalPlus comparison.
2. CodeForces: the first --codeforces problems of DeepCoder's copy, each with a trusted program
   this script writes (it echoes its input, so it runs every test and fails them; the scorer runs
   with stop_at_first_failure=False so each test runs). Anchor: one bare subprocess per test of the
   program the scorer runs, LiveCodeBench's import prelude included, so the ratio is the isolation
   and the driver alone.

Bare runs exist ONLY for these trusted programs; generated code never runs bare. Every verdict is
checked: the canonical solutions must all pass on both sides, the echo program must fail.

    python benchmarks/code_scoring_throughput.py [--data-dir ../shared/data/benchmarks] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLOCKS = 4
ECHO = "import sys\nsys.stdout.write(sys.stdin.read())\n"
# The anchor's harness: exec the trusted solution, call it on every input, print the outputs as the
# sandbox's tagged JSON (compare.py is standard library only, so it is imported from its folder).
HARNESS = """
import json, sys
sys.path.insert(0, {sandbox_dir!r})
from compare import encode_value
spec = json.loads(sys.stdin.read())
namespace = {{}}
exec(spec["code"], namespace)
function = namespace[spec["entry_point"]]
print(json.dumps([encode_value(function(*arguments)) for arguments in spec["inputs"]]))
"""


def bare_check(harness: str, problem, reference) -> bool:
    from progrpo_eval.sandbox.compare import decode_value
    from progrpo_eval.sandbox.isolation import host_layout
    from progrpo_eval.scoring.code_judge import evalplus_verdicts
    from progrpo_eval.scoring.code_reference import reference_inputs

    inputs = reference_inputs(problem)
    spec = json.dumps({"code": problem.gold, "entry_point": problem.metadata["function_name"], "inputs": inputs})
    completed = subprocess.run(
        [host_layout().python, "-S", "-B", harness], input=spec, capture_output=True, text=True, check=True
    )
    outputs = [decode_value(value) for value in json.loads(completed.stdout)]
    split = len(problem.metadata["base_input"] or [])
    passed = True
    for part in (slice(0, split), slice(split, None)):
        verdicts = evalplus_verdicts(
            outputs[part],
            [True] * len(outputs[part]),
            reference.outputs[part],
            inputs[part],
            problem.metadata["atol"],
            problem.metadata["function_name"],
        )
        passed = passed and all(verdicts)
    return passed


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def humaneval(data_dir: str, workers: int) -> dict:
    from progrpo_eval.benchmarks import load_problems
    from progrpo_eval.scoring import ScorerSettings, build_scorer, score_samples

    loaded = load_problems("humaneval_plus", data_dir)
    problems = loaded.problems
    texts = [[f"```python\n{problem.gold}\n```"] for problem in problems]
    sandbox_dir = str(REPO / "progrpo_eval" / "sandbox")
    with (
        tempfile.TemporaryDirectory() as scratch,
        build_scorer("code", ScorerSettings(workers=workers), **loaded.benchmark.scorer_options) as scorer,
    ):
        harness = Path(scratch) / "harness.py"
        harness.write_text(HARNESS.format(sandbox_dir=sandbox_dir))
        scorer.references.directory = Path(scratch) / "cache"
        reference_s, references = timed(lambda: scorer.references.get(problems, scorer.run_batches))
        failed = [pid for pid, reference in references.items() if reference.failure]
        if failed:
            raise SystemExit(f"error: reference outputs failed for {failed}")
        bare_s = scorer_s = 0.0
        size = -(-len(problems) // BLOCKS)
        with ThreadPoolExecutor(workers) as executor:
            for start in range(0, len(problems), size):
                block = problems[start : start + size]
                seconds, verdicts = timed(
                    lambda: list(executor.map(lambda p: bare_check(str(harness), p, references[p.problem_id]), block))
                )
                bare_s += seconds
                if not all(verdicts):
                    raise SystemExit("error: a canonical solution failed the bare check")
                seconds, scored = timed(
                    lambda: score_samples(scorer, block, texts[start : start + size], reasoning=False)
                )
                scorer_s += seconds
                wrong = [p.problem_id for p, (sample,) in zip(block, scored) if not sample.result.correct]
                if wrong:
                    raise SystemExit(f"error: canonical solutions failed in the scorer: {wrong}")
    num_inputs = sum(len(reference.outputs) for reference in references.values())
    return {
        "programs": len(problems),
        "inputs": num_inputs,
        "workers": workers,
        "reference_s": reference_s,
        "bare_s": bare_s,
        "scorer_s": scorer_s,
        "bare_programs_per_s": len(problems) / bare_s,
        "scorer_programs_per_s": len(problems) / scorer_s,
        "ratio": bare_s / scorer_s,
    }


def codeforces(data_dir: str, workers: int, count: int) -> dict:
    from progrpo_eval.benchmarks import load_problems
    from progrpo_eval.sandbox.isolation import host_layout
    from progrpo_eval.scoring import ScorerSettings, build_scorer, score_samples
    from progrpo_eval.scoring.code_judge import lcb_stdout_matches
    from progrpo_eval.scoring.code_tasks import LCB_PRELUDE

    loaded = load_problems("codeforces", data_dir, limit=count)
    problems = loaded.problems
    tests = [(test["input"], test["output"]) for p in problems for test in p.metadata["tests"]]
    with (
        tempfile.TemporaryDirectory() as scratch,
        build_scorer(
            "code", ScorerSettings(workers=workers), stop_at_first_failure=False, **loaded.benchmark.scorer_options
        ) as scorer,
    ):
        program = Path(scratch) / "echo.py"
        program.write_text(LCB_PRELUDE + ECHO)

        def bare(test):
            completed = subprocess.run(
                [host_layout().python, "-S", "-B", str(program)],
                input=test[0],
                capture_output=True,
                text=True,
                check=True,
            )
            return lcb_stdout_matches(completed.stdout, test[1])

        bare_s, scorer_s = 0.0, 0.0
        with ThreadPoolExecutor(workers) as executor:
            for block in range(BLOCKS):
                chosen = problems[block::BLOCKS]
                chosen_tests = [(t["input"], t["output"]) for p in chosen for t in p.metadata["tests"]]
                seconds, verdicts = timed(lambda: list(executor.map(bare, chosen_tests)))
                bare_s += seconds
                seconds, scored = timed(
                    lambda: score_samples(scorer, chosen, [[f"```python\n{ECHO}```"]] * len(chosen), reasoning=False)
                )
                scorer_s += seconds
                if any(sample.result.correct for (sample,) in scored) or all(verdicts):
                    raise SystemExit("error: the echo program should fail its tests")
    return {
        "programs": len(problems),
        "tests": len(tests),
        "workers": workers,
        "bare_s": bare_s,
        "scorer_s": scorer_s,
        "bare_programs_per_s": len(problems) / bare_s,
        "scorer_programs_per_s": len(problems) / scorer_s,
        "ratio": bare_s / scorer_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "benchmarks"))
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--codeforces", type=int, default=80, help="CodeForces problems in the slice")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "code_scoring_throughput.json"))
    args = parser.parse_args()
    from progrpo_eval.sandbox import ensure_available

    ensure_available()
    load_before = os.getloadavg()[0]
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_before": load_before},
        "humaneval_plus": humaneval(args.data_dir, args.workers),
        "codeforces": codeforces(args.data_dir, args.workers, args.codeforces),
    }
    result["machine"]["load_after"] = os.getloadavg()[0]
    he, cf = result["humaneval_plus"], result["codeforces"]
    lines = [
        f"{os.cpu_count()} CPUs, load average {load_before:.2f} before, {result['machine']['load_after']:.2f} after "
        "(other processes skew wall times)",
        f"HumanEval+ reference outputs (164 canonical solutions, {he['inputs']} inputs): {he['reference_s']:.1f} s",
        f"HumanEval+ canonical solutions, {he['workers']} workers: code scorer {he['scorer_programs_per_s']:.2f} "
        f"programs/s, bare subprocess check {he['bare_programs_per_s']:.2f} programs/s; "
        f"scorer / bare: {he['ratio']:.2f}",
        f"CodeForces slice ({cf['programs']} programs, {cf['tests']} stdin/stdout tests): code scorer "
        f"{cf['scorer_programs_per_s']:.2f} programs/s, bare subprocess per test {cf['bare_programs_per_s']:.2f} "
        f"programs/s; scorer / bare: {cf['ratio']:.2f}",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
