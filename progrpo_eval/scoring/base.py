"""How a problem's samples are scored: the `Scorer` interface, its registry, and `score_samples`.

    scorer = build_scorer("math", ScorerSettings(timeout_s=10))
    scored = score_samples(scorer, problems, texts_per_problem, reasoning=False)

Decisions:
- One path for every caller. `progrpo-eval run`, `progrpo-eval score` (external samples) and the
  trainer's reward all call `score_samples`; none of them branches on a benchmark's family. A
  benchmark declares its scorer by registered name and the options that scorer needs
  (`Benchmark.scorer`, `Benchmark.scorer_options`); per-problem data (golds, option letters,
  tests) travels on the `Problem`.
- Reasoning is cut once, here, as the caller says (`reasoning=True`: only the text after the
  last `</think>` is judged, and an unfinished `<think>` is "no_answer" without asking the
  scorer). Scorers never strip reasoning themselves, so `--reasoning off` means what it says.
- Scorers judge batches (the math pool and the sandbox pool are faster on many items at once):
  `Scorer.score_problems` takes (problem, answer texts) pairs and returns one `ScoreResult` per
  text. Run-time knobs (time limits, worker counts, a progress bar) come in one
  `ScorerSettings`; what the benchmark declares comes as keyword options.
- `wrong_reward`: the reward a rule gives a wrong answer (0, or -1 for DAPO's +1/-1 rule); the
  trainer reads it, evaluation ignores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from progrpo_eval.problem import Problem
from progrpo_eval.scoring.answers import ScoreResult, strip_reasoning


@dataclass(frozen=True)
class ScorerSettings:
    """Run-time knobs a scorer may read; each scorer documents which it uses."""

    timeout_s: float = 10.0  # per answer (math-verify) or per program (sandbox), seconds
    workers: int | None = None  # worker processes / concurrent sandboxes; None: every CPU
    progress: bool = False  # a progress bar while judging


class Scorer:
    """Judges answer texts against problems. Subclasses set `name` and register themselves."""

    name: ClassVar[str] = ""
    wrong_reward: ClassVar[float] = 0.0

    def __init__(self, settings: ScorerSettings | None = None) -> None:
        self.settings = settings or ScorerSettings()

    def start(self) -> None:
        """Start workers early (while the caller generates); optional."""

    def score_problems(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[list[ScoreResult]]:
        """One `ScoreResult` per answer text, for every (problem, answer texts) pair."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop workers; safe to call twice."""

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_SCORERS: dict[str, type[Scorer]] = {}


def register_scorer(cls: type[Scorer]) -> type[Scorer]:
    """Class decorator: add a scorer under `cls.name`; a name registered twice raises."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _SCORERS:
        raise ValueError(f"scorer {cls.name!r} is already registered")
    _SCORERS[cls.name] = cls
    return cls


def scorer_names() -> list[str]:
    """Registered scorer names, in registration order."""
    return list(_SCORERS)


def scorer_class(name: str) -> type[Scorer]:
    try:
        return _SCORERS[name]
    except KeyError as error:
        raise ValueError(f"unknown scorer {name!r}; known: {', '.join(_SCORERS)}") from error


def build_scorer(name: str, settings: ScorerSettings | None = None, **options: Any) -> Scorer:
    """The registered scorer `name` with run-time `settings` and the benchmark's declared options."""
    cls = scorer_class(name)
    try:
        return cls(settings, **options)
    except TypeError as error:
        raise ValueError(f"scorer {name!r}: bad options {sorted(options)} ({error})") from error


class ScoredSample(NamedTuple):
    """One judged sample: the result, the text that was judged, whether the thinking was cut off."""

    result: ScoreResult
    answer_text: str
    thinking_cut: bool


UNFINISHED_THINKING = ScoreResult(False, "no_answer", None, "unfinished <think>")


def score_samples(
    scorer: Scorer, problems: Sequence[Problem], texts: Sequence[Sequence[str]], *, reasoning: bool
) -> list[list[ScoredSample]]:
    """Judge every sample of every problem: texts[i][j] is sample j of problems[i].

    reasoning: judge only the text after the last `</think>` (an unfinished `<think>` has no
    answer); False judges the whole text.
    """
    if len(problems) != len(texts):
        raise ValueError(f"{len(problems)} problems but {len(texts)} lists of samples")
    answers = [[strip_reasoning(text) if reasoning else (text, False) for text in group] for group in texts]
    forced: dict[tuple[int, int], ScoreResult] = {}
    items: list[tuple[Problem, list[str]]] = []
    positions: list[list[tuple[int, int]]] = []
    for i, (problem, group) in enumerate(zip(problems, answers)):
        judged, where = [], []
        for j, (answer_text, cut) in enumerate(group):
            if cut:
                forced[i, j] = UNFINISHED_THINKING
            else:
                judged.append(answer_text)
                where.append((i, j))
        if judged:
            items.append((problem, judged))
            positions.append(where)
    results = dict(forced)
    for where, group_results in zip(positions, scorer.score_problems(items) if items else []):
        if len(group_results) != len(where):
            raise RuntimeError(f"scorer {scorer.name!r} returned {len(group_results)} results for {len(where)} answers")
        results.update(zip(where, group_results))
    return [
        [ScoredSample(results[i, j], answer_text, cut) for j, (answer_text, cut) in enumerate(group)]
        for i, group in enumerate(answers)
    ]
