"""The demo's presets, where everything goes, and the command line of every job.

Layout under `out` (default demo_out/<preset>):
  sft/seed<s>/                 the warm start of seed s (python -m progrpo_train.sft)
  train/<method>-seed<s>/      progrpo-train's out_dir: metrics.jsonl, checkpoints/
  eval/<label>/<model>/toy/    progrpo-eval run's run directory (+ extras/entropy from rescore); the model is
                               the run's final checkpoint (checkpoints/step-N/hf, so reports find its
                               training run and seed) or the warm start
  logs/<job>.log               each job's output
  start.json, demo.json        the measured start, and every number of the demo
Every job can be run again: the warm start is cached, a finished training run or evaluation is
skipped, a killed one resumes (training from its newest checkpoint, `run` from its chunks on
disk), rescoring is skipped when done.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

METHODS = ("grpo", "progrpo")  # the RL runs; "start" (the warm start) is evaluated too
METHOD_NAMES = {"start": "warm start", "grpo": "GRPO", "progrpo": "ProGRPO"}
RECIPE = (
    "demo_toy"  # ProGRPO; GRPO is its variant below (recipes/variants.yaml: algorithm.advantage grpo, nothing else)
)
GRPO_VARIANT = "grpo_verl"
SFT_STEPS = 300


@dataclass(frozen=True)
class Preset:
    name: str
    seeds: tuple[int, ...]
    rl_steps: int
    eval_prompts: int  # the first N of the toy's 256 evaluation prompts
    eval_backend: str  # progrpo-eval run --backend
    k: int = 32
    report: str = ""  # the PDF, relative to the repository root
    sft_steps: int = SFT_STEPS
    semantic: bool = True  # the report's semantic-cosine column (Tab. 5); loading the encoder costs ~50 s


PRESETS = {
    "quick": Preset(
        "quick",
        seeds=(0, 1, 2),
        rl_steps=30,
        eval_prompts=64,
        eval_backend="hf",
        report="reports/demo-quick.pdf",
        semantic=False,  # Self-BLEU and Distinct-2 stay; the 10-minute budget has no room for the encoder
    ),
    "full": Preset(
        "full", seeds=(0, 1, 2), rl_steps=100, eval_prompts=256, eval_backend="hf", report="reports/demo.pdf"
    ),
}


def label(method: str, seed: int) -> str:
    return f"{method}-seed{seed}"


@dataclass(frozen=True)
class Layout:
    out: Path

    def sft(self, seed: int) -> Path:
        return self.out / "sft" / f"seed{seed}"

    def train(self, method: str, seed: int) -> Path:
        return self.out / "train" / label(method, seed)

    def final_checkpoint(self, method: str, seed: int, steps: int) -> Path:
        return self.train(method, seed) / "checkpoints" / f"step-{steps:06d}" / "hf"

    def model(self, method: str, seed: int, steps: int) -> Path:
        """What is evaluated: the RL run's final checkpoint, or the warm start ("start")."""
        return self.sft(seed) if method == "start" else self.final_checkpoint(method, seed, steps)

    def eval_root(self, method: str, seed: int) -> Path:
        return self.out / "eval" / label(method, seed)

    def run_dir(self, method: str, seed: int, steps: int) -> Path:
        """progrpo-eval run's directory: <eval root>/<model directory's name>/toy."""
        return self.eval_root(method, seed) / self.model(method, seed, steps).name / "toy"

    def log(self, job: str) -> Path:
        return self.out / "logs" / f"{job}.log"


def python_module(module: str) -> list[str]:
    """How a job starts: this interpreter running the module (works without the console scripts on PATH)."""
    return [sys.executable, "-m", module]


def sft_command(layout: Layout, preset: Preset, seed: int) -> list[str]:
    return python_module("progrpo_train.sft") + [
        "--out",
        str(layout.sft(seed)),
        "--seed",
        str(seed),
        "--steps",
        str(preset.sft_steps),
    ]


def has_checkpoint(out_dir: Path) -> bool:
    """Whether a training run left a complete checkpoint to resume from."""
    from progrpo_train.checkpoint import checkpoint_root, complete_checkpoints

    return bool(complete_checkpoints(checkpoint_root(out_dir)))


def train_command(layout: Layout, preset: Preset, method: str, seed: int) -> list[str]:
    """Resume from the run's newest checkpoint, else start over (a run killed before its first one)."""
    out_dir = layout.train(method, seed)
    overrides = [
        f"model.path={layout.sft(seed)}",
        f"seed={seed}",
        f"out_dir={out_dir}",
        f"max_steps={preset.rl_steps}",
        "resume=true" if has_checkpoint(out_dir) else "overwrite=true",
    ]
    recipe = f"{RECIPE}:{GRPO_VARIANT}" if method == "grpo" else RECIPE
    return python_module("progrpo_train.cli") + ["--config", recipe] + overrides


def eval_command(layout: Layout, preset: Preset, method: str, seed: int) -> list[str]:
    return (
        python_module("progrpo_eval.cli")
        + [
            "run",
            "--model",
            str(layout.model(method, seed, preset.rl_steps)),
            "--bench",
            "toy",
            "--k",
            str(preset.k),
            "--limit",
            str(preset.eval_prompts),
            "--max-tokens",
            "32",
            "--backend",
            preset.eval_backend,
            "--dtype",
            "float32",
            "--out",
            str(layout.eval_root(method, seed)),
            "--chunk-samples",
            str(8 * preset.k),
        ]
        + (["--max-model-len", "512"] if preset.eval_backend == "vllm" else [])
    )


def rescore_command(layout: Layout, preset: Preset, method: str, seed: int) -> list[str]:
    return python_module("progrpo_eval.cli") + [
        "rescore",
        str(layout.run_dir(method, seed, preset.rl_steps)),
        "--entropy",
        "exact",
        "--batch-size",
        "64",
        "--device",
        "cpu",
    ]


def report_command(layout: Layout, preset: Preset, report: Path) -> list[str]:
    runs = [str(layout.run_dir(method, seed, preset.rl_steps)) for method in METHODS for seed in preset.seeds]
    metrics = [
        item
        for method in METHODS
        for seed in preset.seeds
        for item in ("--metrics", str(layout.train(method, seed) / "metrics.jsonl"))
    ]
    title = f"progrpo demo ({preset.name}): GRPO vs ProGRPO on the toy task, seeds {', '.join(map(str, preset.seeds))}"
    options = [] if preset.semantic else ["--no-semantic"]
    return python_module("progrpo_eval.cli") + [
        "report",
        *runs,
        *metrics,
        *options,
        "--out",
        str(report),
        "--title",
        title,
    ]


def shown(command: list[str]) -> str:
    """The command as a user would type it (console scripts instead of `python -m`)."""
    names = {
        "progrpo_train.cli": "progrpo-train",
        "progrpo_eval.cli": "progrpo-eval",
        "progrpo_train.sft": "python -m progrpo_train.sft",
    }
    if command[:2] == [sys.executable, "-m"] and command[2] in names:
        command = [names[command[2]]] + command[3:]
    return " ".join(command)
