"""Claim: a progrpo-train step is no slower than TRL's GRPOTrainer step on the same work.

Same tiny model, same prompts (AIME 2024 questions with the math instruction, chat template),
2 prompts x 4 rollouts per step, 32 new tokens at T = 1, HF generate for both, one optimizer
step (AdamW) per step, the same toy reward (a digit in the response). Both run in this process,
ours first, then TRL; the first step of each is warm-up and excluded. Prints the median seconds
per step, the ratio (ours / TRL; goal <= 1.0) and our phase breakdown (rollout, reward,
log-probs, update, sync). Needs `pip install -e '.[trl]'`.

    PROGRPO_DATA_DIR=../shared/data/benchmarks python benchmarks/train_step_vs_trl.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path


def ours(out_dir: Path, steps: int) -> tuple[list[float], dict]:
    from progrpo_train.config import load_config
    from progrpo_train.trainer import Trainer

    cfg = load_config(
        "toy",
        [
            f"out_dir={out_dir}",
            f"max_steps={steps}",
            "optim.mini_batch_size=2",
            "optim.micro_batch_size=8",
            "checkpoint.save_every=0",
            "logging.log_every=1000",
        ],
    )
    trainer = Trainer(cfg)
    seconds, phases = [], {}
    for step in range(steps):
        metrics = trainer.train_step(step)
        seconds.append(metrics["time_step"])
        if step > 0:
            for key, value in metrics.items():
                if key.startswith("time_"):
                    phases.setdefault(key[5:], []).append(value)
    trainer.close()
    return seconds[1:], {phase: statistics.median(values) for phase, values in phases.items()}


def trl(model_dir: str, steps: int, out_dir: Path) -> list[float]:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from progrpo_eval.benchmarks import load_problems, user_message

    problems = load_problems("aime24", os.environ.get("PROGRPO_DATA_DIR")).problems
    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": user_message(p, "math")}]} for p in problems])

    def digit_reward(completions, **_):
        return [float(any(ch.isdigit() for ch in c[0]["content"])) for c in completions]

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times, self.started = [], None

        def on_step_begin(self, *args, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, *args, **kwargs):
            self.times.append(time.perf_counter() - self.started)

    timer = StepTimer()
    config = GRPOConfig(
        output_dir=str(out_dir),
        per_device_train_batch_size=8,
        num_generations=4,
        gradient_accumulation_steps=1,
        max_completion_length=32,
        temperature=1.0,
        top_p=1.0,
        learning_rate=1e-4,
        max_steps=steps,
        beta=0.0,
        logging_steps=1000,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        seed=0,
        epsilon=0.2,
        epsilon_high=0.28,
        loss_type="dapo",
    )
    trainer = GRPOTrainer(
        model=model_dir, reward_funcs=digit_reward, args=config, train_dataset=dataset, callbacks=[timer]
    )
    trainer.train()
    return timer.times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "train_step_vs_trl.json")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="train_vs_trl_"))
    our_times, phases = ours(scratch / "ours", args.steps)
    trl_times = trl(str(scratch / "ours" / "tiny-model"), args.steps, scratch / "trl")
    ratio = statistics.median(our_times) / statistics.median(trl_times)
    result = {
        "claim": "progrpo-train step / TRL GRPOTrainer step <= 1.0 (toy, CPU)",
        "ours_seconds": our_times,
        "trl_seconds": trl_times,
        "ratio_of_medians": ratio,
        "our_phase_medians": phases,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"progrpo-train: {statistics.median(our_times):.3f} s/step   TRL GRPOTrainer: "
        f"{statistics.median(trl_times):.3f} s/step   ratio: {ratio:.2f}"
    )
    print("phases (median s): " + ", ".join(f"{k} {v:.3f}" for k, v in phases.items()))


if __name__ == "__main__":
    main()
