"""What the code benchmarks add to summary.json: HumanEval+'s base tests, pass rates by difficulty,
the CodeForces rating estimate. `progrpo_eval.summary` calls `benchmark_summary_extra`.

The summary's own numbers (Pass@k, mean accuracy = Avg@N) count a sample correct when it passed
every test; for HumanEval+ that is EvalPlus's "base + extra" (plus) verdict. The additions:
- humaneval_plus: {"humaneval_plus": {"base": {pass_at_k, mean_accuracy}, "plus": {...}}}: the
  base-tests verdict is read from each sample's score_detail ("base: pass ..."), which the code
  scorer writes; a sample with no program or an error is not correct on either.
- livecodebench*, codeforces: {"by_difficulty": {level: {num_problems, mean_accuracy,
  pass_at_k}}} where the problems carry a difficulty (LiveCodeBench's easy/medium/hard, the Hub
  CodeForces' problem rating); else an explanation.
- codeforces: {"codeforces_rating": ...}: `cf_rating.estimate_rating` when $PROGRPO_CF_STANDINGS
  names a standings folder and every problem has a CodeForces id (the Hub rows' contest id and
  index, or the folder's problems.json); else {"rating": None, "reason": why}.
Each addition also gives one line to `notes`, which the printed table shows under it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from progrpo_eval.problem import Problem
from progrpo_eval.stats import default_ks, pass_at_k_table

from .cf_rating import StandingsDir, estimate_rating

STANDINGS_ENV = "PROGRPO_CF_STANDINGS"
_BASE_VERDICT = re.compile(r"^base: (pass|fail|n/a)\b")


def pass_rates(correct: pd.Series, problem_ids: Sequence[str], num_samples: int) -> dict[str, Any]:
    """Pass@k for k = 1, 2, 4, ..., N and the mean accuracy, over the problems, of per-sample verdicts."""
    frame = pd.DataFrame({"problem_id": correct.index.get_level_values(0), "correct": correct.to_numpy()})
    counts = frame.groupby("problem_id")["correct"].agg(["size", "sum"]).reindex(list(problem_ids))
    ks = default_ks(num_samples)
    table = pass_at_k_table(counts["size"].to_numpy(), counts["sum"].to_numpy(), ks)
    accuracy = (counts["sum"] / counts["size"]).to_numpy(dtype=np.float64)
    return {
        "num_problems": len(counts),
        "pass_at_k": {str(k): float(table[k].mean()) for k in ks},
        "mean_accuracy": float(accuracy.mean()),
    }


def _indexed(samples: pd.DataFrame, values: Sequence[Any]) -> pd.Series:
    return pd.Series(list(values), index=pd.MultiIndex.from_arrays([samples["problem_id"], samples["sample_index"]]))


def humaneval_extra(samples: pd.DataFrame, problem_ids: list[str], num_samples: int) -> dict[str, Any]:
    verdicts = [_BASE_VERDICT.match(detail or "") for detail in samples["score_detail"]]
    plus = pass_rates(_indexed(samples, samples["correct"]), problem_ids, num_samples)
    if any(match is not None and match.group(1) == "n/a" for match in verdicts):
        return {
            "humaneval_plus": {"plus": plus, "base": None, "base_reason": "the data source has no base test set"},
            "notes": ["humaneval_plus: the table counts base + plus tests; this source has no separate base set"],
        }
    base = pass_rates(_indexed(samples, [bool(m and m.group(1) == "pass") for m in verdicts]), problem_ids, num_samples)
    ks = sorted({min(base["pass_at_k"], key=int), max(base["pass_at_k"], key=int)}, key=int)
    rates = ", ".join(f"Pass@{k} {100 * base['pass_at_k'][k]:.1f}" for k in ks)
    note = (
        "humaneval_plus: the table counts base + plus tests (EvalPlus's HumanEval+); base tests only (HumanEval): "
        + rates
    )
    return {"humaneval_plus": {"plus": plus, "base": base}, "notes": [note]}


def by_difficulty(
    samples: pd.DataFrame, problems: Sequence[Problem] | None, num_samples: int, field: str
) -> dict[str, Any]:
    levels = {p.problem_id: p.metadata.get(field) for p in problems or ()}
    if not levels or any(level is None for level in levels.values()):
        return {"by_difficulty": None, "by_difficulty_reason": f"the problems carry no {field!r}"}
    result = {}
    ordered = sorted({str(level) for level in levels.values()}, key=lambda text: (not text.isdigit(), text.zfill(6)))
    for level in ordered:
        ids = [pid for pid, value in levels.items() if str(value) == level]
        chosen = samples[samples["problem_id"].isin(ids)]
        result[level] = pass_rates(_indexed(chosen, chosen["correct"]), ids, num_samples)
    return {"by_difficulty": result}


def codeforces_ids(
    problem_ids: Sequence[str], problems: Sequence[Problem] | None, standings: StandingsDir
) -> tuple[dict[str, str], str | None]:
    """Our problem id -> CodeForces id ("2024A"), and what is missing when not all are known."""
    known = {}
    for problem in problems or ():
        contest, index = problem.metadata.get("contest_id"), problem.metadata.get("index")
        if contest is not None and index:
            known[problem.problem_id] = f"{contest}{index}"
    mapping = standings.problem_map()
    for problem_id in problem_ids:
        if problem_id in known or mapping is None:
            continue
        if isinstance(mapping, dict) and problem_id in mapping:
            known[problem_id] = str(mapping[problem_id])
        elif isinstance(mapping, list) and problem_id.rsplit("/", 1)[-1].isdigit():
            row = int(problem_id.rsplit("/", 1)[-1])
            if row < len(mapping):
                known[problem_id] = str(mapping[row])
    unknown = [pid for pid in problem_ids if pid not in known]
    if unknown:
        return known, (
            f"{len(unknown)} problems have no CodeForces contest id and index (e.g. {unknown[0]}): they "
            "come with the Hub's open-r1/codeforces rows, or from problems.json in the standings folder"
        )
    return known, None


def codeforces_extra(
    samples: pd.DataFrame, problem_ids: list[str], problems: Sequence[Problem] | None, num_samples: int
) -> dict[str, Any]:
    extra = by_difficulty(samples, problems, num_samples, "rating")
    folder = os.environ.get(STANDINGS_ENV)
    reason = None
    if not folder:
        reason = (
            f"no rating: it needs each problem's contest id and index and the contests' standings; set "
            f"{STANDINGS_ENV} to a folder of cached standings (README: Code benchmarks)"
        )
    else:
        standings = StandingsDir(folder)
        cf_ids, reason = codeforces_ids(problem_ids, problems, standings)
        if reason is None:
            ordered = samples.sort_values(["problem_id", "sample_index"])
            submissions = {cf_ids[pid]: list(group["correct"]) for pid, group in ordered.groupby("problem_id")}
            rating = estimate_rating(submissions, standings)
            if rating["rating"] is None:
                reason = "no rating: no contest had cached standings with enough rated participants"
            else:
                extra["codeforces_rating"] = rating
                extra["notes"] = [
                    f"codeforces: estimated rating {rating['rating']} over {rating['contests_rated']} "
                    "contests (CodeElo / DeepCoder method)"
                ]
                return extra
    extra["codeforces_rating"] = {"rating": None, "reason": reason}
    extra["notes"] = [f"codeforces: pass rates only; {reason}"]
    return extra


def benchmark_summary_extra(
    samples: pd.DataFrame, problem_ids: list[str], num_samples: int, problems: Sequence[Problem] | None = None
) -> dict[str, Any]:
    """The additions for the benchmark these problem ids belong to ("<benchmark>/..."); {} for the others."""
    names = {problem_id.split("/", 1)[0] for problem_id in problem_ids}
    if len(names) != 1:
        return {}
    (name,) = names
    samples = samples[samples["problem_id"].isin(problem_ids)]
    if name == "humaneval_plus":
        return humaneval_extra(samples, problem_ids, num_samples)
    if name == "codeforces":
        return codeforces_extra(samples, problem_ids, problems, num_samples)
    if name.startswith("livecodebench"):
        return by_difficulty(samples, problems, num_samples, "difficulty")
    return {}
