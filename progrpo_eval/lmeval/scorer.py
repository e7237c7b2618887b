"""Every repeated sample judged by the lm-eval task's own filters and metric.

lm-eval scores only what its filter pipeline keeps of a document's repeats (usually the first,
`take_first`). Here each of the N responses goes through the task's filter ensemble on its own
(`[[response]]` in, one filtered answer out) and then through `task.process_results`, so sample
j gets the verdict lm-eval would give it if it were the only response.

Decisions:
- The filter ensemble is the task's first (its `filter_list` order) unless one is named; the
  metric is the task's first in `metric_list` unless one is named.
- Correct means the metric's value is 1 (exact_match, acc, math_verify and the other 0/1
  metrics); the value itself is kept in `score_detail`. A task whose metric is graded (BLEU,
  F1) has no notion of correct here: name a 0/1 metric, or use the value from `score_detail`.
- Filters that look across a document's repeats (majority vote) degenerate to the single
  response: that is what per-sample correctness means.
- A filter or metric that raises gives status "error" for that sample, never a crash.
"""

from __future__ import annotations

from collections.abc import Sequence

from progrpo_eval.problem import Problem
from progrpo_eval.scoring.answers import ScoreResult, one_line
from progrpo_eval.scoring.base import Scorer, ScorerSettings


def _materialise(value):
    """Filters may hand back iterators (map objects); make them lists, recursively at the top."""
    return (
        list(value) if not isinstance(value, (str, bytes, list, tuple, dict)) and hasattr(value, "__iter__") else value
    )


class LmEvalTaskScorer(Scorer):
    """Judges answers to one lm-eval task's documents; `Problem.metadata["doc"]` is the document."""

    name = "lm-eval"

    def __init__(
        self, task, settings: ScorerSettings | None = None, *, filter_name: str | None = None, metric: str | None = None
    ) -> None:
        super().__init__(settings)
        self.task = task
        ensembles = {ensemble.name: ensemble for ensemble in task._filters}
        if filter_name is not None and filter_name not in ensembles:
            raise ValueError(f"task {task.config.task!r} has no filter {filter_name!r}; known: {', '.join(ensembles)}")
        self.ensemble = ensembles[filter_name] if filter_name else task._filters[0]
        metrics = [entry["metric"] for entry in task.config.metric_list or []]
        if metric is not None and metric not in metrics:
            raise ValueError(f"task {task.config.task!r} has no metric {metric!r}; known: {', '.join(metrics)}")
        if not metrics:
            raise ValueError(f"task {task.config.task!r} declares no metric_list")
        self.metric = metric or metrics[0]

    @property
    def options(self) -> dict:
        return {"task": self.task.config.task, "filter": self.ensemble.name, "metric": self.metric}

    def filtered(self, doc: dict, response: str):
        """The task's filter ensemble applied to this one response."""
        responses = [[response]]
        for make_filter in self.ensemble.filters:
            responses = _materialise(make_filter().apply(responses, [doc]))
        return _materialise(responses[0])

    def judge(self, doc: dict, response: str) -> ScoreResult:
        try:
            answer = self.filtered(doc, response)
            values = self.task.process_results(doc, [answer])
        except Exception as error:  # a task's own code failing on one answer is that answer's "error"
            return ScoreResult(False, "error", None, one_line(error))
        if self.metric not in values:
            return ScoreResult(False, "error", None, f"process_results gave no {self.metric!r}")
        value = float(values[self.metric])
        extracted = answer if isinstance(answer, str) else str(answer)
        if extracted in ("", "[invalid]"):
            return ScoreResult(False, "no_answer", None, f"{self.metric}={value:g}")
        return ScoreResult(abs(value - 1.0) < 1e-9, "ok", extracted, f"{self.metric}={value:g}")

    def score_problems(self, items: Sequence[tuple[Problem, Sequence[str]]]) -> list[list[ScoreResult]]:
        return [[self.judge(problem.metadata["doc"], text) for text in texts] for problem, texts in items]
