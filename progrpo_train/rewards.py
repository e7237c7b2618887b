"""Rewards: the evaluator's own scorers, so training and evaluation cannot drift apart.

`data.reward` names a registered scorer (`progrpo_eval.scoring`): "dapo" (Table 1: DAPO's +1/-1
rule on the "Answer:" line, as verl's `math_dapo`), "math" (math-verify, 1/0), "choice",
"code" (tests in the sandbox), "digit" (smoke runs). Responses are judged through
`progrpo_eval.scoring.score_samples`, the path `progrpo-eval run` takes, with reasoning cut as
`data.reasoning` says. When the prompts come from a benchmark whose declared scorer is the
reward, the benchmark's scorer options (option letters, time limits) come along.

The reward of a response: 1 when correct, else the scorer's `wrong_reward` (0; -1 for DAPO);
with `data.partial_credit` a wrong answer scores the scorer's partial credit instead
(`ScoreResult.fraction`, code: the share of tests passed; off by default: DeepCoder's sparse
all-tests-pass reward). DAPO's overlong shaping (`data.overlong_buffer`
L_buf > 0 tokens, `data.overlong_penalty` f, off by default as in the paper) adds
min(0, -(|o| - (L_max - L_buf)) / L_buf * f) to every response, as verl's DAPO reward manager.
"""

from __future__ import annotations

from dataclasses import dataclass

from progrpo_eval.benchmarks import get_benchmark, list_benchmarks
from progrpo_eval.problem import Problem
from progrpo_eval.scoring import ScoreResult, ScorerSettings, build_scorer, score_samples
from progrpo_train.config import DataConfig


@dataclass(frozen=True)
class Reward:
    value: float  # what the advantage sees
    correct: bool  # what accuracy counts
    status: str  # the scorer's status ("ok", "no_answer", "timeout", "error")


def overlong_penalty(length: int, max_tokens: int, buffer: int, factor: float) -> float:
    """DAPO's soft overlong punishment (Eq. 13 of the DAPO paper; verl's DAPO reward manager)."""
    if buffer <= 0:
        return 0.0
    exceed = length - (max_tokens - buffer)
    return min(-exceed / buffer * factor, 0.0)


def scorer_options_for(config: DataConfig) -> dict:
    """The benchmark's declared scorer options when the prompts come from it and it is the reward."""
    if config.source in list_benchmarks():
        benchmark = get_benchmark(config.source)
        if benchmark.scorer == config.reward:
            return dict(benchmark.scorer_options)
    return {}


class RewardFunction:
    """Scores a batch of responses to their problems with the configured scorer."""

    def __init__(
        self,
        config: DataConfig,
        max_tokens: int,
        *,
        reasoning: bool,
        timeout_s: float = 10.0,
        workers: int | None = None,
    ):
        self.config, self.max_tokens, self.reasoning = config, max_tokens, reasoning
        self.scorer = build_scorer(
            config.reward, ScorerSettings(timeout_s=timeout_s, workers=workers), **scorer_options_for(config)
        )

    def _value(self, result: ScoreResult) -> float:
        if result.correct:
            return 1.0
        if self.config.partial_credit and result.fraction is not None:
            return result.fraction
        return self.scorer.wrong_reward

    def __call__(self, problems: list[Problem], responses: list[str], lengths: list[int]) -> list[Reward]:
        """One reward per response; problems[i] is the problem responses[i] answers."""
        scored = score_samples(self.scorer, problems, [[response] for response in responses], reasoning=self.reasoning)
        config = self.config
        rewards = []
        for (sample,), length in zip(scored, lengths):
            shaping = overlong_penalty(length, self.max_tokens, config.overlong_buffer, config.overlong_penalty)
            result = sample.result
            rewards.append(Reward(self._value(result) + shaping, result.correct, result.status))
        return rewards

    def close(self) -> None:
        self.scorer.close()
