"""progrpo's "math" scorer against lm-eval's minerva_math checkers, on the same MATH-500 and Minerva completions.

There are no real model completions offline, so the script writes synthetic ones from each
problem's reference solution and gold, covering the answer forms of these benchmarks:
- wrappers: the last box (`... so the answer is $\\boxed{X}$.`), lm-eval's minerva format
  (`Final Answer: The final answer is $X$. I hope it is correct.`), DAPO's `Answer: X`, and a
  box after earlier boxes of intermediate results;
- answers: the gold as written; the same value spelled otherwise ("formatting": units, thousands
  separators, `\\dfrac`, `a/b`, scientific notation as a power of ten); the same value in another
  form ("equivalence": a fraction as a decimal, an integer as `n.0`, a list reordered); and
  wrong answers (an integer plus one, a fraction's numerator plus one, another problem's answer).
Each completion has its label by construction (right or wrong).

lm-eval's side: `lm_eval/tasks/minerva_math/utils.py` `process_results` on a doc built as its
`process_docs` builds it, which gives both metrics of the task: `exact_match` (the answer of the
"Final Answer: The final answer is ..." line, Minerva's normalisation, `is_equiv` with sympy) and
`math_verify` (math-verify on the whole reference solution and the whole completion). That module
needs antlr4 4.11 while our math-verify needs 4.13.2, so lm-eval runs in its own interpreter
(`--lmeval-python`), an overlay venv over `.venv`:

    python3 -m venv .venv-lmeval
    PIP_CONFIG_FILE=/dev/null .venv-lmeval/bin/pip install 'antlr4-python3-runtime==4.11.*'
    echo "import site; site.addsitedir('$PWD/.venv/lib/python3.11/site-packages')" \\
        > .venv-lmeval/lib/python3.11/site-packages/progrpo-main-venv.pth

Disagreements are sorted by kind: "extraction" (the graders read different parts of the text:
lm-eval's exact_match found no "Final Answer" line, or the answer sits behind earlier boxes or an
"Answer:"), "formatting" (the same value spelled otherwise), "equivalence" (the same answer judged
differently); for each the side that matches the constructed label is named right.

    python benchmarks/scorer_vs_lmeval.py [--limit N] [--out benchmarks/results/scorer_vs_lmeval.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = Path(os.environ.get("PROGRPO_DATA_DIR", REPO.parent / "shared" / "data" / "benchmarks"))
METRICS = ("exact_match", "math_verify")
INTEGER = re.compile(r"-?\d+")
FRACTION = re.compile(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}")
SCIENTIFIC = re.compile(r"(-?\d+(?:\.\d+)?)e(-?\d+)")
DECIMAL = re.compile(r"-?\d+\.\d+")
GROUPED = re.compile(r"\d,(?:\\!)?\d{3}\b")  # 10,\!080 is a number, not a list


# --- the synthetic completions ------------------------------------------------------------------


def without_last_box(solution: str) -> str:
    """The solution with its last `\\boxed{X}` written as plain `X` (the reasoning, without an answer box)."""
    start = solution.rfind("\\boxed{")
    if start < 0:
        return solution
    depth, index = 0, start + len("\\boxed")
    for index in range(start + len("\\boxed"), len(solution)):
        depth += {"{": 1, "}": -1}.get(solution[index], 0)
        if depth == 0:
            break
    return solution[:start] + solution[start + len("\\boxed{") : index] + solution[index + 1 :]


def answer_variants(gold: str, other_gold: str) -> list[tuple[str, str, bool]]:
    """(variant class, answer text, right?) for a gold: itself, respellings, other forms, wrong answers."""
    variants = [("same", gold, True)]
    if INTEGER.fullmatch(gold):
        value = int(gold)
        variants += [
            ("formatting", f"{gold} \\text{{ cm}}", True),
            ("equivalence", f"{gold}.0", True),
            ("wrong", str(value + 1), False),
        ]
        if abs(value) >= 1000:
            variants += [("formatting", f"{value:,}".replace(",", "{,}"), True), ("formatting", f"{value:,}", True)]
    elif match := FRACTION.fullmatch(gold):
        sign, numerator, denominator = match.groups()
        value = Fraction(int(numerator), int(denominator)) * (-1 if sign else 1)
        variants += [
            ("formatting", f"{sign}\\dfrac{{{numerator}}}{{{denominator}}}", True),
            ("formatting", f"{sign}{numerator}/{denominator}", True),
            ("wrong", f"{sign}\\frac{{{int(numerator) + 1}}}{{{denominator}}}", False),
        ]
        if len(str(float(value))) <= 8 and Fraction(float(value)).limit_denominator(10**6) == value:
            variants.append(("equivalence", repr(float(value)), True))  # a terminating decimal
    elif match := SCIENTIFIC.fullmatch(gold):
        mantissa, exponent = match.groups()
        variants += [
            ("formatting", f"{mantissa} \\times 10^{{{int(exponent)}}}", True),
            ("wrong", f"{mantissa} \\times 10^{{{int(exponent) + 1}}}", False),
        ]
    elif DECIMAL.fullmatch(gold):
        exact = Fraction(gold)
        variants += [
            ("equivalence", f"\\frac{{{exact.numerator}}}{{{exact.denominator}}}", True),
            ("wrong", gold[:-1] + str((int(gold[-1]) + 1) % 10), False),
        ]  # the last digit changed
    elif "," in gold and not re.search(r"[()\[\]{}]", gold) and not GROUPED.search(gold):
        pieces = [piece.strip() for piece in gold.split(",")]
        if len(set(pieces)) == len(pieces):
            variants.append(("equivalence", ", ".join(reversed(pieces)), True))
    if other_gold.strip() != gold.strip():
        variants.append(("wrong", other_gold, False))
    return variants


def completions_for(row: dict, gold: str, other_gold: str, solution: str) -> list[dict]:
    """Every synthetic completion of one problem, with its form and label."""
    reasoning = without_last_box(solution).rstrip()
    cases = []
    for variant, answer, right in answer_variants(gold, other_gold):
        boxed = f"{reasoning}\nSo the answer is $\\boxed{{{answer}}}$."
        minerva = f"{reasoning}\nFinal Answer: The final answer is ${answer}$. I hope it is correct."
        for wrapper, completion in (("boxed", boxed), ("final_answer", minerva)):
            cases.append(
                {"wrapper": wrapper, "variant": variant, "answer": answer, "right": right, "completion": completion}
            )
    cases.append(
        {
            "wrapper": "answer_colon",
            "variant": "same",
            "answer": gold,
            "right": True,
            "completion": f"{reasoning}\nAnswer: {gold}",
        }
    )
    cases.append(
        {
            "wrapper": "after_intermediate_boxes",
            "variant": "same",
            "answer": gold,
            "right": True,
            "completion": f"First, $\\boxed{{{other_gold}}}$ is not it. {reasoning}\n"
            f"So the answer is $\\boxed{{{gold}}}$.",
        }
    )
    return [{**case, "problem_id": row["problem_id"], "gold": gold, "solution": solution} for case in cases]


def build_cases(data_dir: Path, limit: int | None, seed: int = 0) -> list[dict]:
    from progrpo_eval.benchmarks.registry import load_problems

    rng = random.Random(seed)
    cases = []
    for name in ("math500", "minerva"):
        loaded = load_problems(name, data_dir)
        path = data_dir / loaded.benchmark.offline_file
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        golds = [problem.gold for problem in loaded.problems]
        for index, (problem, row) in enumerate(list(zip(loaded.problems, rows))[:limit]):
            other = golds[(index + rng.randrange(1, len(golds))) % len(golds)]
            for case in completions_for({"problem_id": problem.problem_id}, problem.gold, other, row["solution"]):
                cases.append({**case, "benchmark": name})
    return cases


# --- the two graders ----------------------------------------------------------------------------


def lmeval_worker(in_path: Path, out_path: Path) -> None:
    """Runs under lm-eval's interpreter: lm-eval's minerva_math verdicts for every case."""
    import logging

    logging.disable(logging.WARNING)
    from lm_eval.tasks.minerva_math import utils

    with out_path.open("w") as out:
        for line in in_path.read_text().splitlines():
            case = json.loads(line)
            gold_box = utils.last_boxed_only_string(case["solution"])  # as the task's process_docs reads the gold
            doc = {
                "problem": "",
                "solution": case["solution"],
                "answer": utils.normalize_final_answer(utils.remove_boxed(gold_box)),
            }
            try:
                metrics = utils.process_results(doc, [case["completion"]])
            except Exception as error:  # noqa: BLE001 - reported per case, as lm-eval would crash the run
                metrics = {"exact_match": 0, "math_verify": 0, "error": f"{type(error).__name__}: {error}"[:200]}
            metrics["read"] = utils.get_unnormalized_answer(case["completion"])
            try:
                metrics["math_verify_read"] = [str(item)[:80] for item in utils.parse(case["completion"])]
            except Exception as error:  # noqa: BLE001 - shown, not judged
                metrics["math_verify_read"] = [type(error).__name__]
            out.write(json.dumps(metrics) + "\n")


def lmeval_verdicts(cases: list[dict], python: Path, processes: int) -> list[dict]:
    """lm-eval's verdicts, from `processes` interpreters each judging a contiguous share of the cases."""
    share = -(-len(cases) // processes)
    with tempfile.TemporaryDirectory() as scratch:
        jobs = []
        for part in range(processes):
            in_path, out_path = Path(scratch) / f"cases-{part}.jsonl", Path(scratch) / f"verdicts-{part}.jsonl"
            in_path.write_text("".join(json.dumps(case) + "\n" for case in cases[part * share : (part + 1) * share]))
            jobs.append(
                (subprocess.Popen([str(python), __file__, "--lmeval-worker", str(in_path), str(out_path)]), out_path)
            )
        verdicts = []
        for job, out_path in jobs:
            if job.wait() != 0:
                raise SystemExit(f"error: the lm-eval worker failed (exit code {job.returncode})")
            verdicts += [json.loads(line) for line in out_path.read_text().splitlines()]
        return verdicts


def progrpo_verdicts(cases: list[dict], workers: int | None) -> list[dict]:
    from progrpo_eval.scoring import ScorerSettings, build_scorer

    with build_scorer("math", ScorerSettings(workers=workers, timeout_s=10.0)) as scorer:
        results = scorer.judge_pairs([case["completion"] for case in cases], [case["gold"] for case in cases])
    return [{"correct": result.correct, "status": result.status, "read": result.extracted} for result in results]


# --- the comparison -----------------------------------------------------------------------------


def disagreement_kind(case: dict, lmeval: dict, metric: str) -> str:
    if case["wrapper"] in ("answer_colon", "after_intermediate_boxes"):
        return "extraction"
    if metric == "exact_match" and lmeval["read"] == "[invalidanswer]":
        return "extraction"
    return "formatting" if case["variant"] == "formatting" else "equivalence"


def compare(cases: list[dict], ours: list[dict], theirs: list[dict]) -> dict:
    report = {
        "cases": len(cases),
        "by_benchmark": dict(Counter(case["benchmark"] for case in cases)),
        "progrpo_matches_label": sum(o["correct"] == c["right"] for c, o in zip(cases, ours)),
    }
    for metric in METRICS:
        agree = sum(o["correct"] == bool(t[metric]) for o, t in zip(ours, theirs))
        groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        for index, (case, o, t) in enumerate(zip(cases, ours, theirs)):
            if o["correct"] != bool(t[metric]):
                right_side = "progrpo" if o["correct"] == case["right"] else "lm-eval"
                form = f"{case['wrapper']}/{case['variant']}"
                groups[disagreement_kind(case, t, metric), form, right_side].append(index)
        report[metric] = {
            "agreement": agree / len(cases),
            "agree": agree,
            "lmeval_matches_label": sum(bool(t[metric]) == c["right"] for c, t in zip(cases, theirs)),
            "disagreements": [
                {
                    "kind": kind,
                    "form": form,
                    "right": right_side,
                    "count": len(indices),
                    "example": {key: cases[indices[0]][key] for key in ("benchmark", "problem_id", "gold", "answer")}
                    | {
                        "progrpo": ours[indices[0]],
                        "lmeval_read": theirs[indices[0]]["read" if metric == "exact_match" else "math_verify_read"],
                    },
                }
                for (kind, form, right_side), indices in sorted(groups.items(), key=lambda item: -len(item[1]))
            ],
        }
    return report


def print_report(report: dict) -> None:
    print(
        f"{report['cases']} completions {report['by_benchmark']}; progrpo matches the constructed label on "
        f"{report['progrpo_matches_label']}"
    )
    for metric in METRICS:
        part = report[metric]
        print(
            f"\nlm-eval {metric}: agreement {part['agree']}/{report['cases']} = {part['agreement']:.1%}; "
            f"lm-eval matches the label on {part['lmeval_matches_label']}"
        )
        print(
            f"  {'kind':<11} {'form':<34} {'right':<8} {'count':>5}  "
            "example (gold | answer | progrpo read | lm-eval read)"
        )
        for row in part["disagreements"]:
            example = row["example"]
            print(
                f"  {row['kind']:<11} {row['form']:<34} {row['right']:<8} {row['count']:>5}  "
                f"{example['gold'][:25]!r} | {example['answer'][:25]!r} | {str(example['progrpo']['read'])[:20]!r} | "
                f"{str(example['lmeval_read'])[:20]!r}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N problems of each benchmark")
    parser.add_argument("--workers", type=int, default=None, help="progrpo's math-verify workers (default: every CPU)")
    parser.add_argument("--lmeval-processes", type=int, default=2, help="lm-eval interpreters judging in parallel")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument(
        "--lmeval-python",
        type=Path,
        default=REPO / ".venv-lmeval" / "bin" / "python",
        help="an interpreter with lm-eval and antlr4 4.11 (see the module notes)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the report as JSON")
    args = parser.parse_args()
    if not args.lmeval_python.exists():
        raise SystemExit(f"error: no lm-eval interpreter at {args.lmeval_python} (see this script's notes)")

    cases = build_cases(args.data_dir, args.limit)
    started = time.perf_counter()
    theirs = lmeval_verdicts(cases, args.lmeval_python, args.lmeval_processes)
    lmeval_s = time.perf_counter() - started
    started = time.perf_counter()
    ours = progrpo_verdicts(cases, args.workers)
    progrpo_s = time.perf_counter() - started
    report = compare(cases, ours, theirs)
    report["seconds"] = {"lm-eval": lmeval_s, "progrpo": progrpo_s}
    print_report(report)
    print(f"\ntime: lm-eval {lmeval_s:.0f} s ({args.lmeval_processes} processes), progrpo {progrpo_s:.0f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--lmeval-worker":
        lmeval_worker(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
