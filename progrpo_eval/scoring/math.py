"""The "math" scorer: math-verify (`math_check`) in a worker pool (`math_pool`) with a per-answer timeout.

One scorer serves `progrpo-eval run`, `progrpo-eval score` and the trainer's reward, so they
cannot drift apart.

Decisions:
- The gold policy lives on the problem: `golds_mode` "any" tries each gold of `Problem.golds`
  and takes the best result (correct beats wrong beats the failure statuses); "all" judges the
  answer once against `Problem.gold`, which joins every required answer with ", "
  (OlympiadBench's multi-answer rows), so the answer must hold all of them.
  A gold that lists answers lets several boxes of one response be read together as that list
  (`math_text`); otherwise only the last box counts.
- The text stage runs here, in the calling process: answers it decides (no answer, an answer
  written as its gold, two plain numbers; most answers on AIME, AMC and MATH-500) never reach a
  worker. The rest go to the pool as the answer alone (`FoundAnswer.as_response`), streamed
  (`MathScorer.score_pairs`: the text stage goes on while the workers judge), each
  (answer, gold) pair once per call: the samples of a problem that end in the same answer (a
  collapsed policy's k samples, mostly) share one verdict, timeouts and errors included.
- Settings used: `timeout_s` per answer (pool only), `workers` (None: every CPU; 0: in this
  process with NO timeout, fine for trusted, small inputs), `progress`.
- The pool starts on first use or on `start()` and is reused across calls until `close()`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from tqdm import tqdm

from progrpo_eval.problem import Problem
from progrpo_eval.scoring.answers import ScoreResult, one_line
from progrpo_eval.scoring.base import Scorer, ScorerSettings, register_scorer
from progrpo_eval.scoring.math_check import quick_judgement
from progrpo_eval.scoring.math_pool import MathScorer, checked

# how good a result is when several golds are tried: correct, then wrong, then the failures
_RANK = {"ok": 1, "no_answer": 0, "timeout": -1, "error": -2}


def _better(new: ScoreResult, old: ScoreResult | None) -> bool:
    if old is None:
        return True
    return (new.correct, _RANK[new.status]) > (old.correct, _RANK[old.status])


def golds_to_try(problem: Problem) -> list[str]:
    """The golds an answer is judged against: all joined ("all"), else each alternative."""
    if problem.golds_mode == "all":
        return [problem.gold]
    return list(problem.golds)


@register_scorer
class MathVerifyScorer(Scorer):
    """Math answers judged by math-verify, the best over a problem's alternative golds."""

    name = "math"

    def __init__(self, settings: ScorerSettings | None = None) -> None:
        super().__init__(settings)
        workers = self.settings.workers
        self._pool = None if workers == 0 else MathScorer(workers, timeout_s=self.settings.timeout_s)

    def start(self) -> None:
        if self._pool is not None:
            self._pool.start()

    def wait_until_ready(self) -> None:
        """Start the pool and wait until its workers have warmed up (nothing to wait for in process)."""
        if self._pool is not None:
            self._pool.wait_until_ready()

    def worker_pids(self) -> list[int]:
        """The pool's worker processes (none in process)."""
        return [] if self._pool is None else self._pool.worker_pids()

    def judge_pairs(self, answers: Sequence[str], golds: Sequence[str]) -> list[ScoreResult]:
        """answers[i] against golds[i]: the text stage here, math-verify in the pool (or in process with workers=0)."""
        results: list[ScoreResult | None] = [None] * len(answers)
        # (the answer alone, gold) -> the indices waiting for math-verify's verdict on it
        pending: dict[tuple[str, str], list[int]] = {}

        def undecided() -> Iterator[tuple[str, str]]:
            """The text stage, pair by pair: its verdicts go to `results`, each new undecided pair out."""
            for index, (answer, gold) in enumerate(zip(answers, golds)):
                try:
                    judgement = quick_judgement(str(answer), str(gold))
                except Exception as error:  # reported per item as status "error"
                    judgement = ScoreResult(False, "error", None, one_line(error))
                if isinstance(judgement, ScoreResult):
                    results[index] = judgement
                    continue
                key = (judgement.as_response(), str(gold))
                first = key not in pending
                pending.setdefault(key, []).append(index)
                if first:
                    yield key

        if self._pool is not None:
            judged = self._pool.score_pairs(undecided(), progress=self.settings.progress)
        else:
            pairs = tqdm(list(undecided()), unit="answer", desc="math-verify", disable=not self.settings.progress)
            judged = [checked(response, gold) for response, gold in pairs]
        for indices, result in zip(pending.values(), judged, strict=True):
            for index in indices:
                results[index] = result
        return results

    def score_problems(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[list[ScoreResult]]:
        answers, golds, owners = [], [], []
        for i, (problem, texts) in enumerate(items):
            for j, text in enumerate(texts):
                for gold in golds_to_try(problem):
                    answers.append(text)
                    golds.append(gold)
                    owners.append((i, j))
        best: dict[tuple[int, int], ScoreResult] = {}
        for owner, result in zip(owners, self.judge_pairs(answers, golds)):
            if _better(result, best.get(owner)):
                best[owner] = result
        return [[best[i, j] for j in range(len(texts))] for i, (_, texts) in enumerate(items)]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
