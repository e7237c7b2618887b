"""Self-BLEU speed: progrpo's vectorised self_bleu against the nltk and sacrebleu reference loops.

k = 32 texts of about 1 500 and 6 000 words, generated deterministically: half of each text's
sentences come from a pool shared by all texts (so texts overlap like samples of one problem), the
rest are fresh; words are drawn from a Zipf law over 4 000 words plus punctuation. Each method
starts from the raw strings (tokenisation included). The results must be bit-identical (==) per
text and in the mean; the script fails otherwise. Goal: >= 30x faster than the nltk loop.
Both wall time and this process's CPU time are reported (best of 5 runs for ours, one run of each
loop): on a shared machine the CPU-time ratio is the steadier one; everything is single-threaded.

    python benchmarks/self_bleu_speed.py [--out benchmarks/results/self_bleu_speed.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import sacrebleu
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from progrpo_eval.metrics.diversity import self_bleu_scores

NUM_TEXTS = 32
WORDS_PER_TEXT = (1_500, 6_000)
VOCABULARY_SIZE = 4_000
ZIPF_EXPONENT = 1.1
PUNCTUATION = [",", ".", "=", "$", "(", ")", "+", "-", "2", "3.5", "x^2"]


def make_texts(num_texts: int, words_per_text: int, seed: int = 0) -> list[str]:
    """Deterministic texts: Zipf words in sentences of 8-24 words, half drawn from a shared pool."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(VOCABULARY_SIZE)] + PUNCTUATION
    ranks = np.arange(1, len(words) + 1, dtype=np.float64)
    probabilities = ranks**-ZIPF_EXPONENT / np.sum(ranks**-ZIPF_EXPONENT)

    def sentence() -> str:
        return " ".join(rng.choice(words, size=int(rng.integers(8, 25)), p=probabilities)) + " ."

    shared_pool = [sentence() for _ in range(400)]
    texts = []
    for _ in range(num_texts):
        sentences, length = [], 0
        while length < words_per_text:
            text = shared_pool[int(rng.integers(len(shared_pool)))] if rng.random() < 0.5 else sentence()
            sentences.append(text)
            length += text.count(" ") + 1
        texts.append(" ".join(sentences))
    return texts


def sacrebleu_loop(texts: Sequence[str]) -> list[float]:
    return [sacrebleu.sentence_bleu(text, [*texts[:i], *texts[i + 1 :]]).score for i, text in enumerate(texts)]


def nltk_loop(texts: Sequence[str]) -> list[float]:
    tokenizer = Tokenizer13a()
    tokens = [tokenizer(text.rstrip()).split() for text in texts]
    smoothing = SmoothingFunction().method1
    return [
        float(sentence_bleu([*tokens[:i], *tokens[i + 1 :]], hyp, weights=(0.25,) * 4, smoothing_function=smoothing))
        for i, hyp in enumerate(tokens)
    ]


def timed(function: Callable[[], list[float]], repeats: int) -> tuple[float, float, list[float]]:
    """Best wall time and best process CPU time over repeats, and the result."""
    best_wall, best_cpu, result = math.inf, math.inf, []
    for _ in range(repeats):
        Tokenizer13a.__call__.cache_clear()  # sacrebleu's tokenizer caches keep no advantage between runs
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        best_wall = min(best_wall, time.perf_counter() - start_wall)
    return best_wall, best_cpu, result


def run_one(words_per_text: int) -> dict[str, float | int | bool]:
    texts = make_texts(NUM_TEXTS, words_per_text)
    ours_sacrebleu_s, ours_sacrebleu_cpu, ours_sacrebleu = timed(lambda: self_bleu_scores(texts, "sacrebleu"), 5)
    ours_nltk_s, ours_nltk_cpu, ours_nltk = timed(lambda: self_bleu_scores(texts, "nltk"), 5)
    sacrebleu_s, sacrebleu_cpu, reference_sacrebleu = timed(lambda: sacrebleu_loop(texts), 1)
    nltk_s, nltk_cpu, reference_nltk = timed(lambda: nltk_loop(texts), 1)
    identical = ours_sacrebleu == reference_sacrebleu and ours_nltk == reference_nltk
    if not identical:
        raise AssertionError(f"self_bleu differs from the reference loops at {words_per_text} words per text")
    return {
        "num_texts": NUM_TEXTS,
        "words_per_text": words_per_text,
        "tokens_per_text_13a": int(np.mean([len(Tokenizer13a()(t).split()) for t in texts])),
        "self_bleu_sacrebleu": math.fsum(ours_sacrebleu) / NUM_TEXTS,
        "self_bleu_nltk": math.fsum(ours_nltk) / NUM_TEXTS,
        "ours_sacrebleu_mode_s": ours_sacrebleu_s,
        "ours_nltk_mode_s": ours_nltk_s,
        "sacrebleu_loop_s": sacrebleu_s,
        "nltk_loop_s": nltk_s,
        "ours_sacrebleu_mode_cpu_s": ours_sacrebleu_cpu,
        "ours_nltk_mode_cpu_s": ours_nltk_cpu,
        "sacrebleu_loop_cpu_s": sacrebleu_cpu,
        "nltk_loop_cpu_s": nltk_cpu,
        "speedup_vs_sacrebleu_loop": sacrebleu_s / ours_sacrebleu_s,
        "speedup_vs_nltk_loop": nltk_s / ours_nltk_s,
        "cpu_speedup_vs_sacrebleu_loop": sacrebleu_cpu / ours_sacrebleu_cpu,
        "cpu_speedup_vs_nltk_loop": nltk_cpu / ours_nltk_cpu,
        "bit_identical": identical,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "self_bleu_speed.json")
    args = parser.parse_args()
    rows = [run_one(words) for words in WORDS_PER_TEXT]
    for row in rows:
        print(
            f"k={row['num_texts']} ~{row['words_per_text']} words ({row['tokens_per_text_13a']} 13a tokens): "
            f"ours {row['ours_sacrebleu_mode_s']:.3f}s vs sacrebleu loop {row['sacrebleu_loop_s']:.2f}s "
            f"-> {row['speedup_vs_sacrebleu_loop']:.0f}x; ours(nltk) {row['ours_nltk_mode_s']:.3f}s vs nltk loop "
            f"{row['nltk_loop_s']:.2f}s -> {row['speedup_vs_nltk_loop']:.0f}x; bit-identical: {row['bit_identical']}\n"
            f"    CPU time: ours {row['ours_sacrebleu_mode_cpu_s']:.3f}s vs sacrebleu loop "
            f"{row['sacrebleu_loop_cpu_s']:.2f}s -> {row['cpu_speedup_vs_sacrebleu_loop']:.0f}x; ours(nltk) "
            f"{row['ours_nltk_mode_cpu_s']:.3f}s vs nltk loop {row['nltk_loop_cpu_s']:.2f}s -> "
            f"{row['cpu_speedup_vs_nltk_loop']:.0f}x"
        )
    machine = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15min": os.getloadavg(),  # other work on the machine slows every timing
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "results": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
