"""A CodeForces rating estimate from contest standings: CodeElo's method, as DeepCoder computes it.

Per contest (DeepCoder's `calc_elo_rating`, after Qwen's CodeElo):
1. The participants are those in both the standings and the rating changes (a rated contest with
   more than `min_participants`, 200, of them; others are skipped).
2. The model's samples of a problem are its submissions, in sample order. A problem whose first
   passing sample is number i (0-based) scores max(0, points - 50 i) where the problem has points,
   else 1 with a penalty of 10 i; a problem never passed scores nothing.
3. Rank: the number of participants ranked above the model (the index of the first standings row
   with fewer points, or as many points and more penalty).
4. Rating: the largest integer r in [0, max old rating + 100) whose Elo expected rank
   1 + sum_j 1 / (1 + 10^((r - R_j) / 400)) over the participants' old ratings R_j is still at
   least that rank (bisection, as there).
The estimate over contests: the mean of the contest ratings (CodeElo), and, given the rating
distribution of all CodeForces users, DeepCoder's: the mean of the contests' percentiles p (the
share of users rated below), mapped to 800 + 2200 (p / 100)^2.

Inputs (`StandingsDir`, the folder the user gives): `<contest_id>.json` holding
{"standings": the Codeforces API's contest.standings result ({"problems": [...], "rows": [...]}),
"rating_changes": contest.ratingChanges' result ([{"handle", "oldRating"}, ...])}; optional
`problems.json` mapping our problem ids to CodeForces ids ("2024A"): a dict, or a list aligned with
the benchmark's rows (DeepCoder's metadata_cf.json); optional `ratings.json`, the user rating
distribution (a list of ratings, or {rating: count} as CodeElo ships it).
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

MIN_PARTICIPANTS = 200
_CF_PROBLEM = re.compile(r"(\d+)([A-Za-z]\w*)")


def split_problem_id(cf_id: str) -> tuple[int, str]:
    """ "2024A" -> (2024, "A"), "1999B1" -> (1999, "B1"); ValueError otherwise."""
    match = _CF_PROBLEM.fullmatch(str(cf_id).strip())
    if not match:
        raise ValueError(f"not a CodeForces problem id: {cf_id!r} (expected e.g. 2024A)")
    return int(match.group(1)), match.group(2)


def contest_score(
    problems: Sequence[Mapping[str, Any]], submissions: Mapping[str, Sequence[bool]]
) -> tuple[float, int]:
    """(points, penalty) of the model in one contest; `submissions` maps "2024A" to its samples' verdicts."""
    score, penalty = 0.0, 0
    for problem in problems:
        verdicts = submissions.get(f"{problem['contestId']}{problem['index']}")
        if not verdicts or not any(verdicts):
            continue
        first = list(verdicts).index(True)
        if "points" in problem:
            score += max(0.0, float(problem["points"]) - 50 * first)
        else:
            score += 1
            penalty += 10 * first
    return score, penalty


def rank_in(rows: Sequence[Mapping[str, Any]], score: float, penalty: int) -> int:
    """How many standings rows are ranked above (points, penalty)."""
    for index, row in enumerate(rows):
        if row["points"] < score or (row["points"] == score and row["penalty"] > penalty):
            return index
    return len(rows)


def expected_rank(rating: float, old_ratings: Sequence[float]) -> float:
    """Elo's expected rank of a participant rated `rating` among `old_ratings`."""
    return 1 + sum(1 / (1 + 10 ** ((rating - other) / 400)) for other in old_ratings)


def rating_for_rank(rank: float, old_ratings: Sequence[float]) -> int:
    """The bisection of step 4 of the module docstring."""
    low, high = 0, int(max(old_ratings)) + 100
    while high - low > 1:
        middle = (low + high) // 2
        if expected_rank(middle, old_ratings) < rank:
            high = middle
        else:
            low = middle
    return low


def contest_rating(
    contest: Mapping[str, Any], submissions: Mapping[str, Sequence[bool]], *, min_participants: int | None = None
) -> int | None:
    """The model's rating in one contest, or None when it has `min_participants` (default 200) or fewer rated."""
    min_participants = MIN_PARTICIPANTS if min_participants is None else min_participants
    standings, changes = contest["standings"], contest["rating_changes"]
    rated = {change["handle"]: change["oldRating"] for change in changes}
    rows = [row for row in standings["rows"] if row["party"]["members"][0]["handle"] in rated]
    if len(rows) <= min_participants or len(rows) != len({row["party"]["members"][0]["handle"] for row in rows}):
        return None
    old_ratings = [rated[row["party"]["members"][0]["handle"]] for row in rows]
    score, penalty = contest_score(standings["problems"], submissions)
    return rating_for_rank(rank_in(rows, score, penalty), old_ratings)


def percentile(rating: float, sorted_ratings: Sequence[float]) -> float:
    """The share of users (in %) rated below `rating`, rounded to 0.1 as DeepCoder does."""
    return round(bisect.bisect_left(sorted_ratings, float(rating)) / len(sorted_ratings) * 100, 1)


def rating_from_percentile(value: float) -> int:
    """DeepCoder's map from a mean percentile to a rating: 800 + 2200 (p / 100)^2."""
    return round(800 + 2200 * (value / 100.0) ** 2)


class StandingsDir:
    """The user's folder of cached standings (module docstring)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise ValueError(f"CodeForces standings folder not found: {self.path}")

    def _json(self, name: str) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not JSON ({error.msg})") from error

    def problem_map(self) -> dict[str, str] | list[str] | None:
        return self._json("problems.json")

    def contest(self, contest_id: int) -> dict | None:
        return self._json(f"{contest_id}.json")

    def sorted_ratings(self) -> list[float] | None:
        ratings = self._json("ratings.json")
        if isinstance(ratings, dict):
            return sorted(float(rating) for rating, count in ratings.items() for _ in range(int(count)))
        return sorted(float(rating) for rating in ratings) if ratings else None


def estimate_rating(
    submissions: Mapping[str, Sequence[bool]], standings: StandingsDir, *, min_participants: int | None = None
) -> dict[str, Any]:
    """Per-contest ratings and the estimates of the module docstring; `submissions`: CodeForces id -> verdicts."""
    by_contest: dict[int, dict[str, Sequence[bool]]] = {}
    for cf_id, verdicts in submissions.items():
        by_contest.setdefault(split_problem_id(cf_id)[0], {})[cf_id] = verdicts
    ratings, missing, skipped = {}, [], []
    for contest_id in sorted(by_contest):
        contest = standings.contest(contest_id)
        if contest is None:
            missing.append(contest_id)
            continue
        rating = contest_rating(contest, by_contest[contest_id], min_participants=min_participants)
        if rating is None:
            skipped.append(contest_id)
        else:
            ratings[contest_id] = rating
    result: dict[str, Any] = {
        "method": "CodeElo / DeepCoder: Elo inverse of the expected rank in each contest's standings",
        "contest_ratings": {str(contest_id): rating for contest_id, rating in ratings.items()},
        "contests_rated": len(ratings),
        "contests_without_standings": missing,
        "contests_skipped_too_few_participants": skipped,
        "rating": round(sum(ratings.values()) / len(ratings)) if ratings else None,
        "percentile": None,
        "rating_from_percentile": None,
    }
    distribution = standings.sorted_ratings()
    if ratings and distribution:
        mean_percentile = sum(percentile(rating, distribution) for rating in ratings.values()) / len(ratings)
        result.update(percentile=mean_percentile, rating_from_percentile=rating_from_percentile(mean_percentile))
    return result
