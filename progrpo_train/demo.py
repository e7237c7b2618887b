"""The offline demo: GRPO vs ProGRPO advantages on real rollouts of a tiny model.

Builds the tiny random model, samples G rollouts per AIME 2024 problem with vLLM at T = 1,
computes c(q) (Eq. 5) from vLLM's prompt log-probs and c(o|q) (Eq. 6) from the sampled
tokens' log-probs, and prints GRPO's advantage (Eq. 3) next to ProGRPO's (Eq. 4) per rollout.
The rewards are MADE UP (a seeded coin per rollout): a random model never solves AIME.

    python -m progrpo_train.demo --data-dir ../shared/data/benchmarks
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

import numpy as np
import torch
from rich.table import Table

from progrpo_eval.benchmarks import load_problems, user_message
from progrpo_eval.generation import SamplingSettings, load_backend
from progrpo_eval.metrics.tokens import low_prob_confidence
from progrpo_eval.prompts import render_prompt
from progrpo_eval.tiny_model import build_tiny_model
from progrpo_eval.ui import wide_console
from progrpo_train.algorithm import grpo_advantages, progrpo_advantages


def _confidence(logprobs: list[float]) -> float:
    values = np.array([logprobs], dtype=np.float64)
    return float(low_prob_confidence(values, np.ones_like(values, dtype=bool))[0])


def _made_up_rewards(num_problems: int, group_size: int, seed: int) -> list[list[float]]:
    coin = random.Random(seed)
    return [[float(coin.random() < 0.5) for _ in range(group_size)] for _ in range(num_problems)]


def run_demo(data_dir: str | None, out_dir: Path, num_problems: int, group_size: int, max_tokens: int, seed: int):
    from transformers import AutoTokenizer

    console = wide_console()
    model_dir = out_dir / "tiny-model"
    if not (model_dir / "model.safetensors").exists():
        console.print(f"building the tiny model in {model_dir}")
        build_tiny_model(model_dir, seed=seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    loaded = load_problems("aime24", data_dir, limit=num_problems)
    prompts = [render_prompt(tokenizer, user_message(p, "math"))[1] for p in loaded.problems]

    backend = load_backend("vllm", str(model_dir), dtype="float32", seed=seed, max_model_len=4096)
    settings = SamplingSettings(n=group_size, temperature=1.0, top_p=1.0, max_tokens=max_tokens, seed=seed)
    completions = backend.generate(prompts, settings)
    prompt_logprobs = backend.prompt_logprobs(prompts)
    backend.close()

    rewards = _made_up_rewards(len(prompts), group_size, seed)
    group_ids = torch.arange(len(prompts)).repeat_interleave(group_size)
    flat_rewards = torch.tensor([r for group in rewards for r in group], dtype=torch.float64)
    c_q = torch.tensor([_confidence(lp) for lp in prompt_logprobs], dtype=torch.float64)[group_ids]
    c_o = torch.tensor([_confidence(c.logprobs) for group in completions for c in group], dtype=torch.float64)
    grpo = grpo_advantages(flat_rewards, group_ids)
    progrpo = progrpo_advantages(flat_rewards, group_ids, c_o, c_q, alpha=0.3)
    _print_table(console, loaded.problems, completions, flat_rewards, c_q, c_o, grpo, progrpo, group_size)


def _print_table(console, problems, completions, rewards, c_q, c_o, grpo, progrpo, group_size):
    table = Table(title="GRPO vs ProGRPO advantages (alpha = 0.3, gate = mixed) on tiny-model rollouts")
    for column in ("problem", "rollout", "tokens", "made-up reward", "c(q)", "c(o|q)", "A GRPO", "A ProGRPO", "change"):
        table.add_column(column, justify="right")
    flat = [c for group in completions for c in group]
    for i, completion in enumerate(flat):
        problem = problems[i // group_size].problem_id
        table.add_row(
            problem if i % group_size == 0 else "",
            str(i % group_size),
            str(len(completion.token_ids)),
            f"{rewards[i]:.0f}",
            f"{c_q[i]:.2e}",
            f"{c_o[i]:.4f}",
            f"{grpo[i]:+.4f}",
            f"{progrpo[i]:+.4f}",
            f"{progrpo[i] - grpo[i]:+.4f}",
            end_section=(i % group_size == group_size - 1),
        )
    console.print(table)
    console.print(
        "Rewards are made up (a seeded coin per rollout): the tiny model is random. "
        "c(q), c(o|q) come from vLLM's log-probs of the real rollouts. Groups whose made-up "
        "rewards are all 0 or all 1 keep GRPO's advantage (Algorithm 1, line 14)."
    )


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="offline benchmark copies (default: PROGRPO_DATA_DIR, else the Hub)")
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="where the tiny model is built")
    parser.add_argument("--problems", type=int, default=3, help="AIME 2024 problems to sample")
    parser.add_argument("--group-size", type=int, default=8, help="rollouts per problem (G)")
    parser.add_argument("--max-tokens", type=int, default=64, help="tokens per rollout")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run_demo(args.data_dir, args.out, args.problems, args.group_size, args.max_tokens, args.seed)


if __name__ == "__main__":
    main()
