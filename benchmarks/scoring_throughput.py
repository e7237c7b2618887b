"""Math scoring throughput: the "math" scorer (verdicts without a parser first) against the math-verify pool alone.

Pairs are built from MATH500 (`../shared/data/benchmarks/math500.jsonl`): for each problem the
reference solution serves as a response, in four variants, cycled until --n pairs:
  1. the solution as written (right: it ends in \\boxed{answer});
  2. the solution with its last box replaced by a perturbed answer (integer + 1, else another
     problem's answer): wrong;
  3. the solution inside <think>...</think>, then "The final answer is $\\boxed{gold}$": right;
  4. the solution with its last box holding a second problem's answer (not the one of 2.): wrong.
With --samples 1 (the default) every pair is distinct unless two problems share a text. A Pass@k
evaluation scores k samples per problem, and a policy's samples repeat their final answers (the
collapse the paper measures), which the scorer exploits by judging a repeated (answer, gold) once:
--samples k gives each problem k responses drawn (seeded, with replacement) from its four
variants, the most repetition four answers can show. Both numbers are worth printing; neither is
a model's real output.
The anchor is the worker pool judging every pair with math-verify (`score_math_without_quick_verdicts`:
the same answer finding and normalisation, no verdict without the parser, verify called on every
parsed pair); the measured path is the registered "math" scorer, which decides plain numbers and
answers written as their gold in the calling process, streams the rest (each distinct pair once)
to the same kind of pool while it goes on, and there skips verify for closed-form numbers that
differ numerically (`math_check._differ_numerically`). Both get the same workers and
per-answer timeout; the script fails unless their verdicts are identical. Pool start-up (until
the workers have warmed up: `wait_until_ready`) is timed apart (a pool is started once and
reused). The pairs are cut into blocks and the two paths take
turns going first, so a change in machine load hits both; CPU seconds (this process plus the
workers, read from /proc) are printed beside wall time because a shared machine can starve
either path.

    python benchmarks/scoring_throughput.py [--n 2000] [--samples 1] [--workers N] [--out results.json]
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

from progrpo_eval.scoring import MathScorer, ScoreResult, ScorerSettings, build_scorer
from progrpo_eval.scoring.math_check import quick_judgement, score_math_without_quick_verdicts
from progrpo_eval.scoring.math_pool import default_worker_count

REPO = Path(__file__).resolve().parents[1]
Pair = tuple[str, str, bool]  # (response, gold, constructed label)
DEFAULT_DATA_DIR = Path(os.environ.get("PROGRPO_DATA_DIR", REPO.parent / "shared" / "data" / "benchmarks"))
MODES = ("math_verify_pool", "math_scorer")
LABELS = {"math_verify_pool": "math-verify pool (anchor)", "math_scorer": "math scorer (fast path + pool)"}


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


def make_pairs(rows: list[dict], n: int, seed: int = 0, samples: int = 1) -> list[Pair]:
    """(response, gold, should_be_correct) triples, cycled to n: each problem's four variants, or
    `samples` responses drawn from them."""
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        for row in rows:
            gold, solution = row["answer"], row["solution"]
            other, second = (rng.choice(rows)["answer"] for _ in range(2))
            variants = [
                (solution, True),
                (with_last_box(solution, perturb(gold, other)), False),
                (f"<think>\n{solution}\n</think>\n\nThe final answer is $\\boxed{{{gold}}}$.", True),
                (with_last_box(solution, second if second not in (gold, other) else gold + "+2"), False),
            ]
            chosen = variants if samples == 1 else rng.choices(variants, k=samples)
            pairs.extend((response, gold, expected) for response, expected in chosen)
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


def timed(score, pids, block: list[Pair]) -> tuple[list[ScoreResult], float, float]:
    """(results, wall seconds, CPU seconds of this process and the workers) of `score` on `block`."""
    cpu_before = time.process_time() + cpu_seconds(pids())
    wall_before = time.perf_counter()
    results = score([pair[0] for pair in block], [pair[1] for pair in block])
    wall = time.perf_counter() - wall_before
    return results, wall, time.process_time() + cpu_seconds(pids()) - cpu_before


def measure(pairs: list[Pair], workers: int, timeout_s: float, blocks: int) -> dict:
    """Both paths over the same blocks of pairs, in alternating order so load drift hits both."""
    totals = {mode: {"results": [], "wall_s": 0.0, "cpu_s": 0.0} for mode in MODES}
    with (
        MathScorer(workers, timeout_s=timeout_s, check=score_math_without_quick_verdicts) as pool,
        build_scorer("math", ScorerSettings(timeout_s=timeout_s, workers=workers)) as scorer,
    ):
        started = time.perf_counter()
        pool.wait_until_ready()
        scorer.wait_until_ready()
        start_s = time.perf_counter() - started
        paths = {
            "math_verify_pool": (pool.score, pool.worker_pids),
            "math_scorer": (scorer.judge_pairs, scorer.worker_pids),
        }
        block_size = -(-len(pairs) // blocks)
        for block_index in range(blocks):
            block = pairs[block_index * block_size : (block_index + 1) * block_size]
            for mode in MODES if block_index % 2 == 0 else MODES[::-1]:
                results, wall, cpu = timed(*paths[mode], block)
                totals[mode]["results"] += results
                totals[mode]["wall_s"] += wall
                totals[mode]["cpu_s"] += cpu
    return {"pools_start_s": start_s, **totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=1, help="responses per problem (1: its four variants)")
    parser.add_argument("--workers", type=int, default=None, help="pool size (default: every CPU)")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-answer timeout in the pools (s)")
    parser.add_argument("--blocks", type=int, default=4, help="alternate the two paths over this many blocks")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    args = parser.parse_args()

    rows = [json.loads(line) for line in (args.data_dir / "math500.jsonl").read_text().splitlines()]
    if args.samples < 1:
        raise SystemExit(f"error: --samples must be >= 1 (got {args.samples})")
    pairs = make_pairs(rows, args.n, samples=args.samples)
    workers = args.workers or default_worker_count()
    workload = "four variants" if args.samples == 1 else f"{args.samples} samples"
    decided = sum(isinstance(quick_judgement(response, gold), ScoreResult) for response, gold, _ in pairs)
    print(
        f"{len(pairs)} pairs from MATH500 ({len(set(pairs))} distinct; {workload} per problem), "
        f"{workers} workers, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} before (other processes skew wall times); "
        f"{decided} ({decided / len(pairs):.0%}) decided without the parser"
    )
    measured = measure(pairs, workers, args.timeout, args.blocks)
    rates = {mode: len(pairs) / measured[mode]["wall_s"] for mode in MODES}
    print(f"pools' start-up: {measured['pools_start_s']:.2f} s; load average after: {os.getloadavg()[0]:.2f}")
    for mode in MODES:
        print(
            f"{LABELS[mode]:<32} {measured[mode]['wall_s']:7.2f} s wall {measured[mode]['cpu_s']:7.2f} s CPU "
            f"{rates[mode]:8.1f} answers/s ({len(pairs) / measured[mode]['cpu_s']:6.1f} per CPU second)"
        )
    ratio = rates["math_scorer"] / rates["math_verify_pool"]
    print(f"math scorer / math-verify pool: {ratio:.2f}x")

    fast, anchor = measured["math_scorer"]["results"], measured["math_verify_pool"]["results"]
    statuses = Counter(result.status for result in fast)
    labelled = sum(result.correct == pair[2] for result, pair in zip(fast, pairs))
    print(
        f"statuses (math scorer): {dict(statuses)}; verdicts equal to the constructed labels: {labelled}/{len(pairs)}"
    )
    mismatched = [i for i, (a, b) in enumerate(zip(fast, anchor)) if a != b]
    timeouts = statuses["timeout"] + Counter(result.status for result in anchor)["timeout"]
    print(f"verdicts equal on both paths: {len(pairs) - len(mismatched)}/{len(pairs)}")
    if mismatched and timeouts == 0:
        raise SystemExit(
            f"the two paths disagree on {len(mismatched)} pairs, e.g. #{mismatched[0]}: "
            f"{fast[mismatched[0]]} vs {anchor[mismatched[0]]}"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        summary = {mode: {key: value for key, value in measured[mode].items() if key != "results"} for mode in MODES}
        args.out.write_text(
            json.dumps(
                {
                    "pairs": len(pairs),
                    "distinct_pairs": len(set(pairs)),
                    "samples_per_problem": args.samples,
                    "workers": workers,
                    "cpus": os.cpu_count(),
                    "machine": platform.processor(),
                    "decided_without_parser": decided,
                    "answers_per_s": rates,
                    "ratio": ratio,
                    "answers_per_cpu_s": {mode: len(pairs) / measured[mode]["cpu_s"] for mode in MODES},
                    "pools_start_s": measured["pools_start_s"],
                    **summary,
                    "equal_verdicts": len(pairs) - len(mismatched),
                    "load_average_after": os.getloadavg()[0],
                    "statuses": dict(statuses),
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
