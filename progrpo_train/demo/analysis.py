"""What the demo measures on a model and on a run directory: the start of RL, and every final run.

Decisions:
- The answer distribution is exact, not sampled: for every correct answer v of a prompt, the
  probability that a response opens with "v =" (it names v first, then checks it and boxes it),
  teacher-forced at T = 1 (`progrpo_eval.logprobs`): the probability of naming v, whatever the
  check that follows (the warm start often writes a wrong factor in "v = K x m", which the scorer
  ignores). Per prompt: `correct_mass`, the sum over v, and `effective_answers`, exp(entropy) of
  the distribution normalised over the correct answers: 1 when one answer has it all, the number
  of answers when they share it equally (App. A.5's entropy on the success manifold). Means over
  prompts.
- Distinct correct answers: per prompt, how many different numbers the correct samples name
  (the `toy` scorer's `extracted`, so "035" and "35" are one); a prompt with none counts 0.
- Rollout entropy: `progrpo-eval rescore --entropy exact` (its default T = 1: the policy's own
  full-vocabulary entropy at every token of the T = 0.6 samples); the mean over samples of each
  sample's mean token entropy.
- Self-BLEU and Distinct-2 are the run summary's (correct samples per prompt, prompts with two or
  more, macro average; `progrpo_eval.summary`).
- The start of RL is measured the way the trainer samples: G = 8 rollouts at T = 1 on the first
  64 training prompts.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from progrpo_eval import store
from progrpo_eval.benchmarks import load_problems, user_message
from progrpo_eval.problem import Problem

START_PROMPTS, START_GROUP = 64, 8


def _load(model_dir: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return model, tokenizer


def answer_opening(value: int) -> str:
    """How a response that names `value` begins: "35 =" (`toy.reference_response`'s first words)."""
    return f"{value} ="


def answer_distribution(model, tokenizer, problems: list[Problem], batch_size: int = 64) -> dict[str, float]:
    """Mean over prompts of the correct answers' total probability and effective number (module docstring)."""
    from progrpo_eval.logprobs import prompt_response_logprobs
    from progrpo_eval.prompts import render_prompt

    prompts, responses, owner = [], [], []
    for number, problem in enumerate(problems):
        prompt = render_prompt(tokenizer, user_message(problem, "math"))[1]
        for gold in problem.golds:
            prompts.append(prompt)
            responses.append(tokenizer(answer_opening(int(gold)), add_special_tokens=False)["input_ids"])
            owner.append(number)
    scored = prompt_response_logprobs(
        model, prompts, responses, batch_size=batch_size, pad_id=tokenizer.pad_token_id or 0
    )
    log_probability = np.array([sum(item.response) for item in scored])
    owner = np.array(owner)
    spreads = [answer_spread(np.exp(log_probability[owner == number])) for number in range(len(problems))]
    return {
        "correct_mass": float(np.mean([mass for mass, _ in spreads])),
        "effective_answers": float(np.mean([effective for _, effective in spreads])),
        "answers_per_prompt": float(np.mean([len(problem.golds) for problem in problems])),
    }


def answer_spread(probabilities: np.ndarray) -> tuple[float, float]:
    """(total, exp(entropy) of the normalised shares) of one prompt's correct-answer probabilities;
    shares 0 add nothing to the entropy; a total of 0 counts as an even spread."""
    total = float(np.sum(probabilities))
    if total <= 0:
        return total, float(len(probabilities))
    shares = probabilities[probabilities > 0] / total
    return total, float(math.exp(-np.sum(shares * np.log(shares))))


def start_state(model_dir: Path, seed: int) -> dict:
    """Sampled accuracy, mixed groups and distinct correct answers at T = 1, and the exact distribution."""
    from progrpo_eval.generation import SamplingSettings
    from progrpo_eval.generation.hf_backend import HFBackend
    from progrpo_eval.prompts import render_prompt
    from progrpo_eval.scoring.toy import score_toy_one

    model, tokenizer = _load(model_dir)
    problems = load_problems("toy", split="train", limit=START_PROMPTS).problems
    prompts = [render_prompt(tokenizer, user_message(problem, "math"))[1] for problem in problems]
    settings = SamplingSettings(n=START_GROUP, temperature=1.0, top_p=1.0, max_tokens=32, seed=seed)
    groups = HFBackend(model, tokenizer).generate(prompts, settings, use_tqdm=False)
    accuracy, mixed, distinct = [], 0, []
    for problem, group in zip(problems, groups):
        results = [score_toy_one(problem, completion.text) for completion in group]
        correct = sum(result.correct for result in results)
        accuracy.append(correct / len(group))
        mixed += 0 < correct < len(group)
        distinct.append(len({result.extracted for result in results if result.correct}))
    return {
        "accuracy": float(np.mean(accuracy)),
        "mixed_groups": mixed / len(problems),
        "distinct_correct_of_8": float(np.mean(distinct)),
        "prompts": len(problems),
        **answer_distribution(model, tokenizer, problems),
    }


def distinct_correct_answers(run_dir: Path) -> float:
    """Mean over the run's prompts of the number of different correct answers among its samples."""
    samples = store.load_samples(run_dir, columns=["problem_id", "correct", "extracted"])
    problems = samples["problem_id"].unique()
    counts = samples[samples["correct"]].groupby("problem_id")["extracted"].nunique()
    return float(counts.reindex(problems, fill_value=0).mean())


def rollout_entropy(run_dir: Path) -> float | None:
    from progrpo_eval.reporting.rollouts import read_entropy

    stored = read_entropy(run_dir, "exact")
    return None if stored is None else float(stored[0]["mean_entropy"].mean())


def training_tail(metrics_jsonl: Path, last: int = 10) -> dict:
    """Means of the last `last` training steps (reward, entropy, length) and the first step's entropy."""
    from progrpo_eval.jsonl import read_jsonl

    rows = [row for _, row in read_jsonl(metrics_jsonl)]
    tail = rows[-last:]
    return {
        "train_reward_last10": float(np.mean([row["reward_mean"] for row in tail])),
        "train_entropy_first": float(rows[0]["entropy"]),
        "train_entropy_last10": float(np.mean([row["entropy"] for row in tail])),
        "train_length_last10": float(np.mean([row["response_length"] for row in tail])),
        "steps": len(rows),
    }


def run_metrics(run_dir: Path, model_dir: Path, num_prompts: int) -> dict:
    """Every number of one evaluated model (module docstring)."""
    summary = store.read_run_summary(run_dir)
    diversity = summary.get("diversity_correct", {})
    model, tokenizer = _load(model_dir)
    problems = load_problems("toy", limit=num_prompts).problems
    return {
        "pass_at_k": {k: float(v) for k, v in summary["pass_at_k"].items()},
        "accuracy": float(summary["mean_accuracy"]),
        "distinct_correct": distinct_correct_answers(run_dir),
        "entropy": rollout_entropy(run_dir),
        "self_bleu": (diversity.get("self-bleu:mode=sacrebleu") or {}).get("value"),
        "distinct_2": (diversity.get("distinct:n=2") or {}).get("value"),
        **answer_distribution(model, tokenizer, problems),
    }
