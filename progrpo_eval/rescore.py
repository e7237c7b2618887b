"""`progrpo-eval rescore`: per-token entropy of a run's samples, stored as extras of its run directory.

Two ways to get entropy, each written to RUN_DIR/extras/ with a provenance file beside it:

- exact (entropy.parquet, entropy.json): the model is re-run teacher-forced with transformers over
  prompt + response, and the full-vocabulary entropy of each response position is computed at
  T = 1 by default, the policy's own distribution (the temperature of Eq. 5–6, and of the stored
  log-probs, so a figure's probabilities and entropy share one temperature), or at `temperature`
  (e.g. the sampling temperature) with each token's log-prob at that temperature beside it
  (`logprobs`), from which the figures take their probabilities at that temperature. Top-p
  truncation is NOT applied: it is the entropy of the temperature-scaled full distribution.
  Memory stays bounded: the backbone gives hidden states [B, T, H]; only the response positions
  are kept, and the output layer is applied `chunk_size` positions by `vocab_chunk_size`
  vocabulary rows at a time, with entropy accumulated over the vocabulary blocks
  (`metrics.entropy.streaming_entropy`). No [B, T, V] tensor exists. The same pass recomputes
  each sampled token's raw T = 1 log-prob; its largest difference from the stored log-probs is
  recorded as a check that model, prompts and tokens are the ones the run used.
- topk (entropy_topk.parquet, entropy_topk.json): lower and upper bounds per token from the stored
  top-k log-probs (a run made with --top-logprobs K), at T = 1 because that is what is stored;
  see `metrics.entropy.topk_entropy_bounds`. Never one number.

Prompts come from the samples' `prompt_token_ids` column when the run stored it; otherwise they
are rebuilt exactly as `progrpo_eval.runner` built them, after checking that the benchmark data
and the chat template are the ones in the manifest (a mismatch fails; nothing is guessed).
Every output file is replaced atomically, so a rerun overwrites and a killed one leaves the
previous result.

Reading them back (and the per-rollout table the figures use) is `progrpo_eval.reporting.rollouts`.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from progrpo_eval import store
from progrpo_eval.devices import resolve_device, resolve_dtype
from progrpo_eval.logprobs import pad_right
from progrpo_eval.metrics.entropy import OutputHead, output_head, streaming_entropy, topk_entropy_bounds
from progrpo_eval.reporting.rollouts import ENTROPY_EXTRAS


@dataclass(frozen=True)
class ExactOptions:
    batch_size: int = 8  # sequences per forward pass
    chunk_size: int = 512  # response positions through the output layer at a time
    vocab_chunk_size: int = 8192  # output-layer rows (vocabulary entries) at a time
    device: str = "auto"  # "auto": cuda when available, else cpu
    dtype: str = "float32"  # the model's dtype: float32, bfloat16, float16, or auto (the checkpoint's)
    temperature: float | None = None  # None: 1.0, the policy's own distribution (Eq. 5–6)
    data_dir: str | None = None  # benchmark data, only when prompts must be rebuilt
    model: str | None = None  # the model's directory when it moved; None: the manifest's
    progress: bool = True


class ScoredSequence(NamedTuple):
    entropy: np.ndarray  # [L] float32, at the requested temperature
    logprobs: np.ndarray  # [L] float32, raw T = 1 log-prob of each response token
    scaled_logprobs: np.ndarray  # [L] float32, each response token's log-prob at the requested temperature


def _score_batch(model, head: OutputHead, prompts, responses, *, temperature, chunk_size, vocab_chunk_size):
    device = head.weight.device
    if not any(responses):
        return [ScoredSequence(*(np.zeros(0, np.float32),) * 3) for _ in responses]
    ids, mask = (t.to(device) for t in pad_right([list(p) + list(r) for p, r in zip(prompts, responses)]))
    hidden = model.base_model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state  # [B, T, H]
    # position P+t-1 predicts response token t
    rows = torch.cat([torch.full((len(r),), i) for i, r in enumerate(responses)]).to(device)  # [N]
    cols = torch.cat([torch.arange(len(p) - 1, len(p) + len(r) - 1) for p, r in zip(prompts, responses)]).to(device)
    positions = hidden[rows, cols]  # [N, H]
    del hidden
    targets = torch.tensor([t for r in responses for t in r], dtype=torch.long, device=device)  # [N]
    entropies, logprobs, scaled = [], [], []
    for start in range(0, len(targets), chunk_size):
        streamed = streaming_entropy(
            head.blocks(positions[start : start + chunk_size], vocab_chunk_size),
            temperature=temperature,
            targets=targets[start : start + chunk_size],
            overwrite_blocks=True,
        )
        entropies.append(streamed.entropy.cpu())
        logprobs.append(streamed.target_logprob.cpu())
        scaled.append(streamed.scaled_target_logprob.cpu())
    lengths = [len(r) for r in responses]
    columns = [torch.cat(parts).split(lengths) for parts in (entropies, logprobs, scaled)]
    return [ScoredSequence(*(values.numpy() for values in row)) for row in zip(*columns)]


@torch.no_grad()
def score_sequences(
    model,
    prompts: list[list[int]],
    responses: list[list[int]],
    *,
    temperature: float,
    batch_size: int = 8,
    chunk_size: int = 512,
    vocab_chunk_size: int = 8192,
    progress: bool = False,
) -> list[ScoredSequence]:
    """Entropy at `temperature` and raw log-prob of every response token, teacher-forced.

    Sequences are batched longest first (padding stays small; running out of memory shows at once).
    """
    from tqdm.auto import tqdm

    for name, value in (("batch_size", batch_size), ("chunk_size", chunk_size), ("vocab_chunk_size", vocab_chunk_size)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token (the first response token is predicted from it)")
    if model.base_model is model:
        raise ValueError(f"exact rescoring needs a model with a separate backbone; {type(model).__name__} has none")
    head = output_head(model)
    order = sorted(range(len(prompts)), key=lambda i: -(len(prompts[i]) + len(responses[i])))
    results: list[ScoredSequence | None] = [None] * len(prompts)
    with tqdm(
        total=sum(map(len, responses)),
        unit="tok",
        unit_scale=True,
        desc="rescore",
        disable=not progress,
        file=sys.stderr,
    ) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            scored = _score_batch(
                model,
                head,
                [prompts[i] for i in batch],
                [responses[i] for i in batch],
                temperature=temperature,
                chunk_size=chunk_size,
                vocab_chunk_size=vocab_chunk_size,
            )
            for index, result in zip(batch, scored):
                results[index] = result
            bar.update(sum(len(responses[i]) for i in batch))
    return results


def load_model(model: str, device: str = "auto", dtype: str = "float32"):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model, dtype=resolve_dtype(dtype)).to(resolve_device(device)).eval()


def model_location(manifest: dict, model: str | None = None) -> str:
    """The model to load: `model` (--model) when given, else the manifest's; a local one that is gone is refused."""
    location = str(manifest["model"]) if model is None else str(Path(model).expanduser())
    local = Path(location).is_absolute() or location.startswith(".") or Path(location).exists()
    if local and not Path(location).exists():
        if model is not None:
            raise ValueError(f"model not found: {model}")
        raise ValueError(f"the run's model {location} is not there (moved?); pass --model with its new place")
    return location


def _require_samples(run_dir: Path, samples: pd.DataFrame) -> None:
    if samples.empty:
        raise ValueError(
            f"{run_dir} has no samples yet (no chunk under {store.SAMPLES_DIR}/): nothing to rescore; "
            "`progrpo-eval run` writes them"
        )


def prompt_ids_by_problem(
    manifest: dict, samples: pd.DataFrame, *, data_dir: str | None = None, tokenizer=None, model: str | None = None
) -> tuple[dict[str, list[int]], str]:
    """Each problem's prompt token ids, and where they came from ("stored" or "rebuilt ...").

    Rebuilding needs the run's tokenizer (`tokenizer`, else loaded from `model` or the manifest's model).
    """
    prompts: dict[str, list[int]] = {}
    if "prompt_token_ids" in samples.columns:
        for problem_id, ids in zip(samples["problem_id"], samples["prompt_token_ids"]):
            if isinstance(ids, (list, np.ndarray)):
                prompts[problem_id] = [int(t) for t in ids]
    missing = set(samples["problem_id"]) - set(prompts)
    if not missing:
        return prompts, "stored"
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_location(manifest, model))
    prompts.update(rebuild_prompts(manifest, missing, tokenizer, data_dir))
    return prompts, "rebuilt from the benchmark data (checksum verified)"


def rebuild_prompts(
    manifest: dict, problem_ids: set[str], tokenizer, data_dir: str | None = None
) -> dict[str, list[int]]:
    """Render the prompts as `progrpo_eval.runner` did; data and template must match the manifest."""
    from progrpo_eval.benchmarks import load_problems, user_message
    from progrpo_eval.prompts import prompt_format, render_prompt

    source = str(manifest.get("data_source") or "")
    if data_dir is None and source and Path(source).is_file():
        data_dir = str(Path(source).parent)
    loaded = load_problems(manifest["benchmark"], data_dir, seed=manifest["sampling"]["seed"])
    if loaded.checksum != manifest["data_checksum"]:
        raise ValueError(
            f"cannot rebuild the prompts: the benchmark data at {loaded.source} has checksum {loaded.checksum[:12]}, "
            f"the run used {source} with checksum {manifest['data_checksum'][:12]}; "
            "pass --data-dir with the data the run used"
        )
    if prompt_format(tokenizer).template_sha256 != manifest["prompt_sha256"]:
        raise ValueError(f"cannot rebuild the prompts: the chat template of {manifest['model']} differs from the run's")
    problems = {problem.problem_id: problem for problem in loaded.problems}
    unknown = sorted(problem_ids - set(problems))
    if unknown:
        raise ValueError(
            f"cannot rebuild the prompts: {len(unknown)} problem(s) not in {loaded.source}, e.g. {unknown[0]}"
        )
    family = loaded.benchmark.family
    return {
        pid: render_prompt(tokenizer, user_message(problems[pid], family, manifest.get("instruction")))[1]
        for pid in problem_ids
    }


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values, dtype=np.float64)) if len(values) else math.nan


def _device_name(device: torch.device) -> str:
    return f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)


def rescore_exact(run_dir: str | Path, options: ExactOptions = ExactOptions()) -> dict:
    """Exact per-token entropy of every sample (see the module docstring); returns the provenance."""
    run_dir = Path(run_dir)
    manifest = store.read_run_manifest(run_dir)
    temperature = 1.0 if options.temperature is None else float(options.temperature)
    if not temperature > 0:
        raise ValueError(f"entropy needs a positive temperature, got --temperature {temperature:g}")
    resolve_device(options.device), resolve_dtype(options.dtype)  # fail before any loading
    samples = store.load_samples(run_dir)
    _require_samples(run_dir, samples)
    location = model_location(manifest, options.model)
    started = time.perf_counter()
    prompts, prompt_source = prompt_ids_by_problem(manifest, samples, data_dir=options.data_dir, model=location)
    model = load_model(location, options.device, options.dtype)
    load_seconds = time.perf_counter() - started
    responses = [[int(t) for t in ids] for ids in samples["token_ids"]]
    started = time.perf_counter()
    scored = score_sequences(
        model,
        [prompts[pid] for pid in samples["problem_id"]],
        responses,
        temperature=temperature,
        batch_size=options.batch_size,
        chunk_size=options.chunk_size,
        vocab_chunk_size=options.vocab_chunk_size,
        progress=options.progress,
    )
    seconds = time.perf_counter() - started
    differences = [
        np.abs(s.logprobs - np.asarray(stored, np.float32)) for s, stored in zip(scored, samples["logprobs"])
    ]
    differences = np.concatenate(differences) if differences else np.zeros(0)
    table = pa.table(
        {
            "problem_id": pa.array(samples["problem_id"], pa.string()),
            "sample_index": pa.array(samples["sample_index"], pa.int32()),
            "entropy": pa.array([s.entropy for s in scored], pa.list_(pa.float32())),
            "mean_entropy": pa.array([_mean(s.entropy) for s in scored], pa.float64()),
            "logprobs": pa.array([s.scaled_logprobs for s in scored], pa.list_(pa.float32())),
        }
    )
    num_tokens = int(sum(map(len, responses)))
    provenance = {
        "method": "exact",
        "temperature": temperature,
        "temperature_source": "default: T = 1, the policy's own distribution"
        if options.temperature is None
        else "given",
        "sampling_temperature": (manifest.get("sampling") or {}).get("temperature"),
        "top_p_applied": False,
        "note": "entropy of the temperature-scaled full-vocabulary distribution; top-p truncation not applied",
        "model": location,
        "run_model": manifest["model"],
        "vocab_size": int(model.get_output_embeddings().weight.shape[0]),
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "device": _device_name(next(model.parameters()).device),
        "prompts": prompt_source,
        "samples": len(samples),
        "tokens": num_tokens,
        "seconds": seconds,
        "load_seconds": load_seconds,
        "tokens_per_second": num_tokens / seconds if seconds > 0 else None,
        "max_abs_logprob_diff_vs_stored": float(differences.max()) if len(differences) else None,
        "mean_abs_logprob_diff_vs_stored": float(differences.mean()) if len(differences) else None,
        "options": {k: v for k, v in asdict(options).items() if k in ("batch_size", "chunk_size", "vocab_chunk_size")},
        "versions": {"torch": torch.__version__, "transformers": importlib.metadata.version("transformers")},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return store.write_extra(run_dir, ENTROPY_EXTRAS["exact"], table, provenance)


def top_logprobs_matrix(encoded: str) -> np.ndarray:
    """[L, K'] raw log-probs from one sample's stored top-k JSON, -inf where a position has fewer."""
    positions = json.loads(encoded)
    width = max((len(entries) for entries in positions), default=0)
    matrix = np.full((len(positions), width), -np.inf)
    for row, entries in enumerate(positions):
        if entries:
            matrix[row, : len(entries)] = np.asarray(entries, dtype=np.float64)[:, 1]
    return matrix


def vocab_size_of(
    run_dir: Path, manifest: dict, *, vocab_size: int | None = None, model: str | None = None
) -> tuple[int | None, str]:
    """The model's output vocabulary size V for the top-k bounds, and where it came from.

    In order: `vocab_size` (--vocab-size); the manifest's "vocab_size"; the exact rescore's record
    (extras/entropy.json); the config.json of `model` (--model) or of the run's model when it is on
    this machine. None when none of them has it: then only the lower bounds are computed.
    """
    if vocab_size is not None:
        return vocab_size, "given (--vocab-size)"
    if manifest.get("vocab_size"):
        return int(manifest["vocab_size"]), "the run's manifest"
    exact = store.read_extra(run_dir, ENTROPY_EXTRAS["exact"])
    if exact is not None and exact[1].get("vocab_size"):
        return int(exact[1]["vocab_size"]), "the exact rescore (extras/entropy.json)"
    location = str(Path(model).expanduser()) if model else str(manifest.get("model"))
    if (Path(location) / "config.json").is_file():
        from transformers import AutoConfig

        return int(AutoConfig.from_pretrained(location).get_text_config().vocab_size), f"{location}/config.json"
    if model:
        raise ValueError(f"no config.json in {model}: pass --vocab-size, or --model with the model's directory")
    return None, "unknown (no --vocab-size, no model on this machine): upper bounds not computed"


def rescore_topk(run_dir: str | Path, vocab_size: int | None = None, *, model: str | None = None) -> dict:
    """Per-token entropy bounds at T = 1 from the stored top-k log-probs; returns the provenance.

    Needs no model: V only enters the upper bound (`vocab_size_of` says where it comes from; without
    it the upper bounds are NaN and the lower bounds are exact as they are).
    """
    run_dir = Path(run_dir)
    manifest = store.read_run_manifest(run_dir)
    k = int((manifest.get("sampling") or {}).get("top_logprobs") or 0)
    samples = store.load_samples(run_dir, columns=["problem_id", "sample_index", "num_tokens", "top_logprobs"])
    _require_samples(run_dir, samples)
    if k < 1 or samples["top_logprobs"].isna().all():
        raise ValueError(
            f"{run_dir} has no stored top-k log-probs; run with --top-logprobs K to keep them (or use --entropy exact)"
        )
    if samples["top_logprobs"].isna().any():
        raise ValueError(f"{run_dir}: {int(samples['top_logprobs'].isna().sum())} samples lack top-k log-probs")
    vocab_size, vocab_source = vocab_size_of(run_dir, manifest, vocab_size=vocab_size, model=model)
    lows, highs = [], []
    for encoded, num_tokens in zip(samples["top_logprobs"], samples["num_tokens"]):
        matrix = top_logprobs_matrix(encoded)
        if len(matrix) != num_tokens:
            raise ValueError(f"{run_dir}: a sample has {len(matrix)} top-k positions for {num_tokens} tokens")
        bounds = topk_entropy_bounds(matrix, k, vocab_size)
        lows.append(bounds.low.astype(np.float32))
        highs.append(bounds.high.astype(np.float32))
    table = pa.table(
        {
            "problem_id": pa.array(samples["problem_id"], pa.string()),
            "sample_index": pa.array(samples["sample_index"], pa.int32()),
            "entropy_low": pa.array(lows, pa.list_(pa.float32())),
            "entropy_high": pa.array(highs, pa.list_(pa.float32())),
            "mean_entropy_low": pa.array([_mean(v) for v in lows], pa.float64()),
            "mean_entropy_high": pa.array([_mean(v) for v in highs], pa.float64()),
        }
    )
    provenance = {
        "method": "topk",
        "k": k,
        "vocab_size": vocab_size,
        "vocab_size_source": vocab_source,
        "temperature": "1.0 (raw log-probs as stored)",
        "bounds": "H_known + [most concentrated tail under the cap p_k, uniform tail r log((V - known) / r)]; "
        "see progrpo_eval.metrics.entropy",
        "model": manifest["model"],
        "samples": len(samples),
        "tokens": int(samples["num_tokens"].sum()),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return store.write_extra(run_dir, ENTROPY_EXTRAS["topk"], table, provenance)
