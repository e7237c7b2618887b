"""What `progrpo-eval run` will do for one benchmark, decided and checked before any engine starts.

A plan holds the loaded problems, their rendered prompts, the sampling settings (the token
budget resolved by model family), the run directory and its manifest. Making it writes nothing.

Decisions:
- Refused here, each with one line naming the problem and the limit: a benchmark with no
  problems (an empty data file; `--limit 0` is refused by the CLI), a prompt that does not fit
  the model's context (`model_files.context_length`: `--max-model-len`, else the config's), and
  sampling settings the backend cannot draw (`generation.base.check_sampling`). Rows over the
  size limits are refused while loading (`benchmarks.registry`).
- A prompt that fits but leaves less than the token budget gets a note, not a refusal: both
  backends stop such samples at the context (finish reason "length"), and a budget above a
  short-context model's window is the paper's default for some models (8K on a 4K model).
- The token budget (issue 12 B1, DESIGN "Eval"): 32 768 for a reasoning model (a chat template
  with `</think>`, or `--reasoning on`; `prompts.is_reasoning_model`) on the math family, as the
  paper evaluates R1-Distill on math; 8 192 otherwise. `--max-tokens` overrides both. The
  manifest records which rule gave the budget (`max_tokens_rule`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from progrpo_eval import store
from progrpo_eval.benchmarks import LoadedBenchmark, user_message
from progrpo_eval.generation import SamplingSettings
from progrpo_eval.prompts import render_prompt

DEFAULT_MAX_TOKENS = 8192
REASONING_MATH_MAX_TOKENS = 32768
MAX_TOKENS_GIVEN = "--max-tokens"
MAX_TOKENS_DEFAULT_RULE = (
    f"default by model family: {REASONING_MATH_MAX_TOKENS} for a reasoning model on math "
    f"(the paper's R1-Distill setting), else {DEFAULT_MAX_TOKENS}"
)


@dataclass(frozen=True)
class BenchmarkPlan:
    loaded: LoadedBenchmark
    run_dir: Path
    settings: SamplingSettings
    manifest: dict
    prompts: dict[str, list[int]]  # problem id -> rendered prompt token ids

    @property
    def name(self) -> str:
        return self.loaded.benchmark.name


def resolve_max_tokens(settings: SamplingSettings, *, given: bool, reasoning: bool, family: str) -> SamplingSettings:
    """`settings` with the token budget of the rule above (unchanged when `given`)."""
    if given:
        return settings
    budget = REASONING_MATH_MAX_TOKENS if reasoning and family == "math" else DEFAULT_MAX_TOKENS
    return replace(settings, max_tokens=budget)


def render_prompts(tokenizer, loaded: LoadedBenchmark, instruction: str | None) -> dict[str, list[int]]:
    family = loaded.benchmark.family
    return {
        problem.problem_id: render_prompt(tokenizer, user_message(problem, family, instruction))[1]
        for problem in loaded.problems
    }


def check_nonempty(loaded: LoadedBenchmark) -> None:
    if not loaded.problems:
        raise ValueError(
            f"{loaded.benchmark.name}: {loaded.source} holds no problems ({loaded.num_rows} rows); nothing to evaluate"
        )


def check_context(
    name: str, prompts: dict[str, list[int]], settings: SamplingSettings, context: int | None
) -> str | None:
    """ValueError when a prompt does not fit `context`; a note when prompt + budget exceeds it, else None."""
    if context is None or not prompts:
        return None
    longest_id = max(prompts, key=lambda problem_id: len(prompts[problem_id]))
    longest = len(prompts[longest_id])
    too_long = [problem_id for problem_id, ids in prompts.items() if len(ids) >= context]
    if too_long:
        others = f" and {len(too_long) - 1} more" if len(too_long) > 1 else ""
        raise ValueError(
            f"{longest_id}{others}: the prompt is {longest} tokens, which leaves no room in the model's "
            f"context of {context} tokens (its config, or --max-model-len)"
        )
    if longest + settings.max_tokens > context:
        over = sum(len(ids) + settings.max_tokens > context for ids in prompts.values())
        return (
            f"{name}: {over} prompts (up to {longest} tokens) + max tokens {settings.max_tokens} exceed the "
            f"context of {context}; their samples stop at the context (finish reason 'length')"
        )
    return None


def progress_on_disk(plans: list[BenchmarkPlan]) -> str:
    """ "aime24 12 of 30 problems, amc23 none" for the plans' run directories (what an interrupted run keeps)."""
    parts = []
    for plan in plans:
        done = 0
        if (plan.run_dir / store.MANIFEST).is_file():
            done = len(store.completed_problem_ids(plan.run_dir) & set(plan.prompts))
        parts.append(f"{plan.name} {done} of {len(plan.prompts)} problems" if done else f"{plan.name} none")
    return ", ".join(parts)
