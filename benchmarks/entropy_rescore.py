"""Exact entropy rescoring: throughput and peak memory, streamed (ours) vs full logits.

The model is the tiny Qwen2 of `progrpo_eval.tiny_model` (hidden 128, 2 layers, random weights)
with its vocabulary padded to 65 536, built from a config alone: rescoring needs only token ids.
Input: 2 sequences of 2 048 tokens (256 prompt + 1 792 response tokens), entropy at T = 0.6.

Variants (each teacher-forces the same sequences; outputs are compared with the first):
  - streamed: `progrpo_eval.rescore.score_sequences`, the code `progrpo-eval rescore --entropy
    exact` runs (its defaults): backbone hidden states, then the output layer 512 response positions x 8 192
    vocabulary rows at a time with the entropy accumulated over vocabulary blocks;
  - streamed, full vocab: the same with one vocabulary block (positions chunked only);
  - full logits, chunked entropy: `model(...).logits` [B, T, V] float32, then
    `metrics.tokens.entropy_from_logits(chunk_size=512)`;
  - full logits, unchunked: the same with chunk_size = 10**9 (the whole [B*T, V] at once);
  - backbone only (reference): hidden states and nothing else, what every variant pays first
    (no entropy, so no difference to report).

Peak memory, measured honestly per variant in a fresh subprocess: on CPU the process's peak
resident set (VmHWM of /proc/self/status) is reset (`/proc/self/clear_refs` = 5) after the model
is built and a warm-up call has run; the reported "peak extra" is VmHWM after scoring minus the
resident set before it, i.e. what scoring added at its worst moment. The total peak is reported
too. On a GPU, torch.cuda.max_memory_allocated after reset_peak_memory_stats, minus allocated
before. Time: wall and CPU (process) seconds, each the best of `--repeats` calls after the warm-up
in each of `--rounds` child processes per variant, the variants interleaved round by round, so
that load from other processes on a shared machine disturbs them alike; CPU seconds are the
steadier number there. Children run single-threaded by default (`--threads`), since the
2 cores of the machine that made benchmarks/results/entropy_rescore.json are shared.

    python benchmarks/entropy_rescore.py [--out benchmarks/results/entropy_rescore.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

VOCAB_SIZE = 65_536
PROMPT_TOKENS = 256
RESPONSE_TOKENS = 1_792
NUM_SEQUENCES = 2
TEMPERATURE = 0.6
VARIANTS = {
    "streamed": {"chunk_size": 512, "vocab_chunk_size": 8_192},
    "streamed, full vocab": {"chunk_size": 512, "vocab_chunk_size": VOCAB_SIZE},
    "full logits, chunked entropy": {"chunk_size": 512},
    "full logits, unchunked": {"chunk_size": 10**9},
    "backbone only (reference)": {},
}


def build_model(device: torch.device):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from progrpo_eval.tiny_model import TinyModelSpec

    spec = TinyModelSpec()
    config = Qwen2Config(
        vocab_size=VOCAB_SIZE,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.hidden_size // spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(spec.logit_scale)
    return model.to(device).eval()


def sequences(num: int, prompt_tokens: int, response_tokens: int):
    generator = np.random.default_rng(0)
    prompts = generator.integers(0, VOCAB_SIZE, (num, prompt_tokens)).tolist()
    responses = generator.integers(0, VOCAB_SIZE, (num, response_tokens)).tolist()
    return prompts, responses


@torch.no_grad()
def full_logits_entropy(model, prompts, responses, chunk_size: int) -> list[np.ndarray]:
    from progrpo_eval.metrics.tokens import entropy_from_logits

    device = next(model.parameters()).device
    ids = torch.tensor([p + r for p, r in zip(prompts, responses)], device=device)
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits  # [B, T, V]
    response = logits[:, len(prompts[0]) - 1 : -1]  # [B, L, V], equal lengths here
    mask = torch.ones(response.shape[:2], dtype=torch.bool, device=device)
    entropy = entropy_from_logits(response, mask, temperature=TEMPERATURE, chunk_size=chunk_size)
    return [row.cpu().numpy() for row in entropy]


def score(variant: str, model, prompts, responses) -> list[np.ndarray]:
    from progrpo_eval.rescore import score_sequences

    options = VARIANTS[variant]
    if variant.startswith("backbone"):
        with torch.no_grad():
            ids = torch.tensor([p + r for p, r in zip(prompts, responses)], device=next(model.parameters()).device)
            model.base_model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False)
        return [np.zeros(len(r), np.float32) for r in responses]
    if variant.startswith("streamed"):
        scored = score_sequences(model, prompts, responses, temperature=TEMPERATURE, batch_size=len(prompts), **options)
        return [s.entropy for s in scored]
    return full_logits_entropy(model, prompts, responses, options["chunk_size"])


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure(variant: str, repeats: int, entropy_out: Path, threads: int) -> dict:
    """Runs in the child process: build, warm up, reset the peak, time and measure one variant."""
    torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_model(device)
    prompts, responses = sequences(NUM_SEQUENCES, PROMPT_TOKENS, RESPONSE_TOKENS)
    score(variant, model, *sequences(1, 16, 16))  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kib("VmRSS") * 1024
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        entropy = score(variant, model, prompts, responses)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
    peak = torch.cuda.max_memory_allocated() if device.type == "cuda" else _status_kib("VmHWM") * 1024
    np.save(entropy_out, np.stack(entropy))
    tokens = NUM_SEQUENCES * RESPONSE_TOKENS
    return {
        "seconds": best,
        "cpu_seconds": best_cpu,
        "response_tokens": tokens,
        "tokens_per_second": tokens / best,
        "peak_extra_mib": (peak - before) / 2**20,
        "peak_total_mib": peak / 2**20,
        "memory_measure": "cuda max_memory_allocated" if device.type == "cuda" else "VmHWM (peak RSS) after clear_refs",
        "device": str(device),
    }


def run_child(variant: str, repeats: int, entropy_out: Path, threads: int) -> dict:
    command = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--repeats",
        str(repeats),
        "--entropy-out",
        str(entropy_out),
        "--threads",
        str(threads),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"variant {variant!r} failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def summarize_rounds(rounds: list[dict]) -> dict:
    """Best (lowest) times over the rounds; the highest peak memory, with every round's peak kept."""
    summary = dict(rounds[0])
    summary["seconds"] = min(r["seconds"] for r in rounds)
    summary["cpu_seconds"] = min(r["cpu_seconds"] for r in rounds)
    summary["tokens_per_second"] = summary["response_tokens"] / summary["seconds"]
    summary["peak_extra_mib"] = max(r["peak_extra_mib"] for r in rounds)
    summary["peak_total_mib"] = max(r["peak_total_mib"] for r in rounds)
    summary["peak_extra_mib_per_round"] = [round(r["peak_extra_mib"], 1) for r in rounds]
    differences = [r["max_abs_diff_vs_streamed"] for r in rounds if r["max_abs_diff_vs_streamed"] is not None]
    summary["max_abs_diff_vs_streamed"] = max(differences, default=None)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "entropy_rescore.json")
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per child process")
    parser.add_argument("--rounds", type=int, default=3, help="child processes per variant, interleaved")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads per child (1: steadiest on a shared machine)"
    )
    parser.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--entropy-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.repeats, args.entropy_out, args.threads)))
        return
    rounds: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as scratch:
        for round_number in range(args.rounds):  # interleaved, best of all: fairer on a shared machine
            for index, variant in enumerate(VARIANTS):
                entropy_file = Path(scratch) / f"{index}.npy"
                measured = run_child(variant, args.repeats, entropy_file, args.threads)
                difference = np.abs(np.load(entropy_file) - np.load(Path(scratch) / "0.npy")).max()
                measured["max_abs_diff_vs_streamed"] = None if variant.startswith("backbone") else float(difference)
                rounds[variant].append(measured)
                print(
                    f"round {round_number + 1}: {variant:30s} {measured['tokens_per_second']:7.0f} tok/s "
                    f"({measured['cpu_seconds']:5.1f} CPU s)  peak extra {measured['peak_extra_mib']:6.0f} MiB",
                    flush=True,
                )
    results = {variant: summarize_rounds(measured) for variant, measured in rounds.items()}
    ours, baseline = results["streamed"], results["full logits, unchunked"]
    report = {
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "device": ours["device"],
            "torch_threads": args.threads,
            "cpu_count": os.cpu_count(),
            "processor": platform.machine(),
        },
        "workload": {
            "vocab_size": VOCAB_SIZE,
            "sequences": NUM_SEQUENCES,
            "prompt_tokens": PROMPT_TOKENS,
            "response_tokens": RESPONSE_TOKENS,
            "temperature": TEMPERATURE,
            "model": "tiny Qwen2 (hidden 128, 2 layers)",
        },
        "variants": {name: {**VARIANTS[name], **values} for name, values in results.items()},
        "throughput_ratio_streamed_vs_unchunked": ours["tokens_per_second"] / baseline["tokens_per_second"],
        "cpu_time_ratio_unchunked_vs_streamed": baseline["cpu_seconds"] / ours["cpu_seconds"],
        "peak_extra_memory_ratio_unchunked_vs_streamed": baseline["peak_extra_mib"] / ours["peak_extra_mib"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"throughput streamed / unchunked: {report['throughput_ratio_streamed_vs_unchunked']:.2f}x; "
        f"peak extra memory unchunked / streamed: {report['peak_extra_memory_ratio_unchunked_vs_streamed']:.1f}x"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
