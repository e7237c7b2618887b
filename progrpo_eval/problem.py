"""`Problem`: one question as the model sees it, with what its scorer needs to judge an answer.

Benchmarks make problems (`progrpo_eval.benchmarks`), scorers judge answers against them
(`progrpo_eval.scoring`), and the trainer turns its prompts into them, so this type depends on
nothing else in the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

GoldsMode = Literal["any", "all"]


@dataclass(frozen=True)
class Problem:
    """One question and its normalised gold answer(s).

    `golds` holds every gold when there are several (default `(gold,)`). `golds_mode` "any"
    accepts an answer matching one of them; "all" requires all of them at once (OlympiadBench's
    multi-answer rows), judged against `gold`, which then joins them with ", ". `metadata` holds
    what a benchmark's scorer needs beyond the gold (option letters, tests, time limits) and
    descriptive fields (subject, level).
    """

    problem_id: str
    question: str
    gold: str
    golds: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict, hash=False)
    golds_mode: GoldsMode = "any"

    def __post_init__(self) -> None:
        if not self.golds:
            object.__setattr__(self, "golds", (self.gold,))
        if self.golds_mode not in ("any", "all"):
            raise ValueError(f"golds_mode must be 'any' or 'all', got {self.golds_mode!r}")
