"""The generation interface every backend implements, and the backend registry."""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass, field
from typing import Protocol

# The registered backends: name -> "module:factory" of a callable (model, **options) -> Backend. Each is
# imported only when used, so vLLM stays inside its backend. `backend_names()` is what the CLI offers.
BACKENDS: dict[str, str] = {
    "vllm": "progrpo_eval.generation.vllm_backend:VLLMBackend",
    "hf": "progrpo_eval.generation.hf_backend:HFBackend.from_pretrained",
}


def backend_names() -> list[str]:
    return list(BACKENDS)


def register_backend(name: str, factory: str) -> None:
    """Add a backend as "module:attribute[.attribute]" (a callable (model, **options) -> Backend)."""
    if name in BACKENDS:
        raise ValueError(f"backend {name!r} is already registered")
    BACKENDS[name] = factory


SEED_BYTES, SEED_MASK = 4, 0x7FFFFFFF


def derived_seed(*parts: object) -> int:
    """A 31-bit seed from sha256 of the parts joined by ':', stable across runs and machines."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:SEED_BYTES], "little") & SEED_MASK


def seed_rule(*part_names: str) -> str:
    """How `derived_seed` turns the named parts into a seed, in words (for manifests)."""
    joined = ":".join("{" + name + "}" for name in part_names)
    return f"sha256(f'{joined}')[:{SEED_BYTES}] little-endian & {SEED_MASK:#x}"


@dataclass(frozen=True)
class SamplingSettings:
    """Everything that decides which samples a run draws (recorded in the manifest)."""

    n: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 8192
    seed: int = 0
    top_logprobs: int = 0  # 0: only the sampled token's log-prob is kept

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"the number of samples per problem must be at least 1, got {self.n}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")


@dataclass
class Completion:
    """One sampled response: token ids, the sampled tokens' log-probs, why it stopped."""

    token_ids: list[int]
    text: str
    logprobs: list[float]  # log p(token_t | prompt, token_<t) of the raw model (T = 1)
    finish_reason: str  # "stop" (EOS or stop string) or "length" (max_tokens reached)
    top_logprobs: list[dict[int, float]] | None = field(default=None)


class Backend(Protocol):
    name: str

    def generate(
        self,
        prompts: list[list[int]],
        settings: SamplingSettings,
        *,
        seeds: list[int] | None = None,
        use_tqdm: bool = True,
    ) -> list[list[Completion]]:
        """settings.n completions for each tokenised prompt, in prompt order; seeds[i] seeds prompt i."""
        ...

    def prompt_logprobs(self, prompts: list[list[int]]) -> list[list[float]]:
        """log p(q_t | q_<t) for t = 1..len(q)-1 of each prompt (the first token has none)."""
        ...

    def close(self) -> None: ...


def check_sampling(name: str, settings: SamplingSettings) -> None:
    """ValueError naming the setting and the limit when backend `name` cannot draw `settings`.

    Called before any engine starts. Greedy decoding (temperature 0) draws one sample per
    problem on both backends; vLLM also bounds n and the top-k log-probs (`vllm_backend.sampling_limits`).
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    if settings.temperature == 0 and settings.n > 1:
        raise ValueError(
            f"--temperature 0 is greedy decoding: every sample would be the same, so --k must be 1 "
            f"(got --k {settings.n})"
        )
    if name == "vllm":
        from progrpo_eval.generation.vllm_backend import sampling_limits

        limits = sampling_limits()
        if settings.n > limits["n"]:
            raise ValueError(
                f"--k {settings.n} is above vLLM's limit of {limits['n']} samples per prompt "
                "(VLLM_MAX_N_SEQUENCES raises it)"
            )
        if settings.top_logprobs > limits["logprobs"]:
            raise ValueError(
                f"--top-logprobs {settings.top_logprobs} is above vLLM's limit of {limits['logprobs']} "
                "log-probs per token"
            )


def load_backend(name: str, model: str, *, data_parallel_size: int = 1, **options) -> Backend:
    """Build a registered backend by name ("vllm", "hf", ...) for a local path or Hub id.

    data_parallel_size > 1 runs that many copies in worker processes (`parallel.py`).
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    if data_parallel_size > 1:
        from progrpo_eval.generation.parallel import DataParallelBackend

        return DataParallelBackend(name, model, data_parallel_size=data_parallel_size, **options)
    module_name, _, attributes = BACKENDS[name].partition(":")
    factory = importlib.import_module(module_name)
    for attribute in attributes.split("."):
        factory = getattr(factory, attribute)
    return factory(model, **options)
