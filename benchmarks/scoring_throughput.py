"""Math scoring throughput: the math-verify worker pool against scoring in-process.

Pairs are built from MATH500 (`../shared/data/benchmarks/math500.jsonl`): for each problem the
reference solution serves as a response, in four variants, cycled until --n pairs:
  1. the solution as written (right: it ends in \\boxed{answer});
  2. the solution with its last box replaced by a perturbed answer (integer + 1, else another
     problem's answer): wrong;
  3. the solution inside <think>...</think>, then "The final answer is $\\boxed{gold}$": right;
  4. the solution with its last box holding another problem's answer: wrong.
Both paths score the same pairs with the same `score_math_one`; the script fails if they
disagree. Pool start-up is timed apart from scoring (a pool is started once and reused). The
pairs are cut into blocks and the two paths take turns going first, so a change in machine load
during the run hits both; CPU seconds (this process, plus the workers read from /proc) are
printed beside wall time because a shared machine can starve either path.

    python benchmarks/scoring_throughput.py [--n 2000] [--workers N] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import time
from collections import Counter
from pathlib import Path

from progrpo_eval.scoring import MathScorer, ScoreResult, score_math
from progrpo_eval.scoring.math import default_worker_count

REPO = Path(__file__).resolve().parents[1]
Pair = tuple[str, str, bool]  # (response, gold, constructed label)
DEFAULT_DATA_DIR = Path(os.environ.get("PROGRPO_DATA_DIR", REPO.parent / "shared" / "data" / "benchmarks"))


def perturb(answer: str, other_answer: str) -> str:
    """A wrong answer: an integer plus one, else another problem's answer."""
    if re.fullmatch(r"-?\d+", answer.strip()):
        return str(int(answer) + 1)
    return other_answer if other_answer != answer else answer + "+1"


def with_last_box(solution: str, content: str) -> str:
    """The solution cut at its last \\boxed, ending with \\boxed{content} instead."""
    cut = solution.rfind("\\boxed")
    head = solution[:cut] if cut >= 0 else solution + "\nSo the answer is "
    return f"{head}\\boxed{{{content}}}."


def make_pairs(rows: list[dict], n: int, seed: int = 0) -> list[Pair]:
    """(response, gold, should_be_correct) triples, four variants per problem, cycled to n."""
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        for row in rows:
            gold, solution = row["answer"], row["solution"]
            other = rng.choice(rows)["answer"]
            variants = [
                (solution, True),
                (with_last_box(solution, perturb(gold, other)), False),
                (f"<think>\n{solution}\n</think>\n\nThe final answer is $\\boxed{{{gold}}}$.", True),
                (with_last_box(solution, other if other != gold else gold + "+1"), False),
            ]
            pairs.extend((response, gold, expected) for response, expected in variants)
    return pairs[:n]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of live processes, from /proc (Linux); NaN elsewhere."""
    total = 0.0
    for pid in pids:
        stat_path = Path(f"/proc/{pid}/stat")
        if not stat_path.exists():
            return float("nan")
        fields = stat_path.read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def score_in_process(block: list[Pair]) -> tuple[list[ScoreResult], float, float]:
    """(results, wall seconds, CPU seconds) of scoring `block` in this process."""
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    results = score_math([pair[0] for pair in block], [pair[1] for pair in block], workers=0)
    return results, time.perf_counter() - wall_before, time.process_time() - cpu_before


def score_in_pool(scorer: MathScorer, block: list[Pair]) -> tuple[list[ScoreResult], float, float]:
    """(results, wall seconds, CPU seconds of the workers and this process) in the pool."""
    cpu_before = time.process_time() + cpu_seconds(scorer.worker_pids())
    wall_before = time.perf_counter()
    results = scorer.score([pair[0] for pair in block], [pair[1] for pair in block])
    wall = time.perf_counter() - wall_before
    return results, wall, time.process_time() + cpu_seconds(scorer.worker_pids()) - cpu_before


def measure(pairs: list[Pair], workers: int, timeout_s: float, blocks: int) -> dict:
    """Both paths over the same blocks of pairs, in alternating order so load drift hits both."""
    totals = {"in_process": {"results": [], "wall_s": 0.0, "cpu_s": 0.0},
              "pool": {"results": [], "wall_s": 0.0, "cpu_s": 0.0}}
    score_math(["\\boxed{1}"], ["1"], workers=0)  # in-process warm-up, as each worker does at start
    with MathScorer(workers, timeout_s=timeout_s) as scorer:
        started = time.perf_counter()
        scorer.score(["\\boxed{1}"] * workers, ["1"] * workers)
        start_s = time.perf_counter() - started
        block_size = -(-len(pairs) // blocks)
        for block_index in range(blocks):
            block = pairs[block_index * block_size:(block_index + 1) * block_size]
            order = ("in_process", "pool") if block_index % 2 == 0 else ("pool", "in_process")
            for mode in order:
                run = score_in_process(block) if mode == "in_process" else score_in_pool(scorer, block)
                results, wall, cpu = run
                totals[mode]["results"] += results
                totals[mode]["wall_s"] += wall
                totals[mode]["cpu_s"] += cpu
    return {"pool_start_s": start_s, **totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: every CPU)")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-answer timeout in the pool (s)")
    parser.add_argument("--blocks", type=int, default=4, help="alternate the two paths over this many blocks")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    args = parser.parse_args()

    rows = [json.loads(line) for line in (args.data_dir / "math500.jsonl").read_text().splitlines()]
    pairs = make_pairs(rows, args.n)
    workers = args.workers or default_worker_count()
    print(f"{len(pairs)} pairs from MATH500, {workers} workers, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} before (other processes skew wall times)")
    measured = measure(pairs, workers, args.timeout, args.blocks)
    pooled, in_process = measured["pool"], measured["in_process"]
    rates = {mode: len(pairs) / measured[mode]["wall_s"] for mode in ("in_process", "pool")}
    print(f"pool start-up: {measured['pool_start_s']:.2f} s; load average after: {os.getloadavg()[0]:.2f}")
    for mode, label in (("in_process", "in-process"), ("pool", f"pool ({workers} workers)")):
        print(f"{label:<20} {measured[mode]['wall_s']:7.2f} s wall {measured[mode]['cpu_s']:7.2f} s CPU "
              f"{rates[mode]:8.1f} answers/s")
    print(f"pool / in-process: {rates['pool'] / rates['in_process']:.2f}x")

    statuses = Counter(result.status for result in pooled["results"])
    labelled = sum(result.correct == pair[2] for result, pair in zip(pooled["results"], pairs))
    print(f"statuses (pool): {dict(statuses)}; "
          f"verdicts equal to the constructed labels: {labelled}/{len(pairs)}")
    mismatched = [i for i, (a, b) in enumerate(zip(pooled["results"], in_process["results"])) if a != b]
    if mismatched and statuses["timeout"] == 0:
        raise SystemExit(f"pool and in-process disagree on {len(mismatched)} pairs, e.g. #{mismatched[0]}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        summary = {mode: {key: value for key, value in measured[mode].items() if key != "results"}
                   for mode in ("in_process", "pool")}
        args.out.write_text(json.dumps({
            "pairs": len(pairs), "workers": workers, "cpus": os.cpu_count(),
            "machine": platform.processor(),
            "answers_per_s": rates, "pool_start_s": measured["pool_start_s"], **summary,
            "load_average_after": os.getloadavg()[0], "statuses": dict(statuses)}, indent=2))


if __name__ == "__main__":
    main()
