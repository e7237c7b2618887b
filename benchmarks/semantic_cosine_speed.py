"""Semantic cosine speed: texts per second for progrpo's semantic_cosine (all-MiniLM-L6-v2).

Two workloads read from the offline MATH-500 copy (../shared/data/benchmarks/math500.jsonl):
  - "solutions": 4 groups of 32 reference solutions (mostly one window each);
  - "long": 8 texts of about 1 500 words, each the concatenation of consecutive solutions
    (several windows each, the windowed path).
The "solutions" workload is also timed as one plain `model.encode` (the model truncates at 256
word pieces), to show what the windowing costs. Model loading is timed once, apart, and a
warm-up call comes first. On CPU the time is the model's forward pass, nearly all of it.

    python benchmarks/semantic_cosine_speed.py [--data-dir DIR] [--out benchmarks/results/semantic_cosine_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from progrpo_eval.metrics.diversity import default_embedding_model, semantic_cosine_details

GROUP_SIZE = 32
NUM_GROUPS = 4
NUM_LONG = 8
LONG_WORDS = 1_500
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks"


def load_solutions(data_dir: Path) -> list[str]:
    with open(data_dir / "math500.jsonl", encoding="utf-8") as file:
        return [json.loads(line)["solution"] for line in file]


def long_texts(solutions: Sequence[str], count: int, words: int) -> list[str]:
    """Concatenations of consecutive solutions, each at least `words` words long."""
    texts, index = [], 0
    for _ in range(count):
        parts: list[str] = []
        while sum(len(part.split()) for part in parts) < words:
            parts.append(solutions[index % len(solutions)])
            index += 1
        texts.append("\n\n".join(parts))
    return texts


def time_groups(groups: Sequence[Sequence[str]], repeats: int = 1) -> dict[str, float | int]:
    """Best-of-`repeats` time to compute semantic_cosine over every group, and texts/s."""
    best, windows, windowed = float("inf"), 0, 0
    for _ in range(repeats):
        start = time.perf_counter()
        details = [semantic_cosine_details(group) for group in groups]
        best = min(best, time.perf_counter() - start)
        windows = sum(d["num_windows"] for d in details)
        windowed = sum(d["num_windowed_texts"] for d in details)
    num_texts = sum(len(group) for group in groups)
    return {
        "num_texts": num_texts,
        "num_windows": windows,
        "num_windowed_texts": windowed,
        "mean_words": round(sum(len(t.split()) for g in groups for t in g) / num_texts, 1),
        "seconds": best,
        "texts_per_second": num_texts / best,
        "windows_per_second": windows / best,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "semantic_cosine_speed.json")
    args = parser.parse_args()
    solutions = load_solutions(args.data_dir)

    start = time.perf_counter()
    model = default_embedding_model()
    load_seconds = time.perf_counter() - start
    semantic_cosine_details(solutions[:2])  # warm-up

    short_groups = [solutions[i * GROUP_SIZE : (i + 1) * GROUP_SIZE] for i in range(NUM_GROUPS)]
    results = {
        "solutions": time_groups(short_groups),
        "long": time_groups([long_texts(solutions, NUM_LONG, LONG_WORDS)]),
    }
    plain_texts = [text for group in short_groups for text in group]
    start = time.perf_counter()
    model.encode(plain_texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    plain_seconds = time.perf_counter() - start
    results["solutions_plain_encode"] = {
        "num_texts": len(plain_texts),
        "seconds": plain_seconds,
        "texts_per_second": len(plain_texts) / plain_seconds,
    }
    for name, row in results.items():
        if "num_windows" not in row:
            print(f"{name}: {row['num_texts']} texts in {row['seconds']:.2f}s -> {row['texts_per_second']:.1f} texts/s")
            continue
        print(
            f"{name}: {row['num_texts']} texts (~{row['mean_words']} words, {row['num_windows']} windows) in "
            f"{row['seconds']:.2f}s -> {row['texts_per_second']:.1f} texts/s, {row['windows_per_second']:.1f} windows/s"
        )
    print(f"model load (import included): {load_seconds:.1f}s")
    machine = {
        "python": platform.python_version(),
        "device": str(model.device),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15min": os.getloadavg(),  # other work on the machine slows every timing
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine, "model_load_s": load_seconds, "results": results}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
