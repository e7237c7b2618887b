"""Rollout engines for training: the policy's own `generate`, or a vLLM engine kept in sync.

- "hf": transformers `generate` on the trainer's policy module itself; no weights to sync.
- "vllm": an in-process vLLM engine (`VLLM_ENABLE_V1_MULTIPROCESSING=0`), colocated with the
  trainer, whose weights are replaced in place after every update (`VLLMBackend.load_weights`:
  the workers' `reload_weights`, lm_head included when tied). Under ZeRO-3 the full parameters
  are gathered for the sync.
Both sample each prompt with a seed derived from (seed, step, prompt), so a resumed run draws
the same rollouts as an uninterrupted one.
"""

from __future__ import annotations

import os

import torch

from progrpo_eval.generation import Completion, SamplingSettings, derived_seed
from progrpo_eval.generation.hf_backend import HFBackend
from progrpo_train.config import RolloutConfig
from progrpo_train.flowrl import LOG_Z_PREFIX


def rollout_seed(seed: int, step: int, prompt_id: str) -> int:
    return derived_seed(seed, step, prompt_id)


def sampling_settings(config: RolloutConfig, seed: int) -> SamplingSettings:
    return SamplingSettings(
        n=config.n, temperature=config.temperature, top_p=config.top_p, max_tokens=config.max_tokens, seed=seed
    )


class HFRollout:
    def __init__(self, policy, tokenizer, batch_sequences: int):
        self.backend = HFBackend(policy, tokenizer)
        self.backend.max_batch_sequences = batch_sequences

    def generate(
        self, prompts: list[list[int]], settings: SamplingSettings, seeds: list[int]
    ) -> list[list[Completion]]:
        return self.backend.generate(prompts, settings, seeds=seeds, use_tqdm=False)

    def sync(self, policy, zero_stage: int) -> None:
        """Nothing to do: the policy samples for itself."""

    def close(self) -> None:
        self.backend = None


def full_state_dict(policy, zero_stage: int) -> dict[str, torch.Tensor]:
    """Every parameter of the policy, gathered under ZeRO-3, detached, on the CPU if needed."""
    if zero_stage == 3:
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(policy.parameters())):
            return {name: tensor.detach().clone() for name, tensor in policy.state_dict().items()}
    return {name: tensor.detach() for name, tensor in policy.state_dict().items()}


class VLLMRollout:
    def __init__(self, model_dir: str, config: RolloutConfig, dtype: str, seed: int):
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # in-process: weights sync by reference
        from progrpo_eval.generation.vllm_backend import VLLMBackend

        self.backend = VLLMBackend(
            model_dir,
            dtype=dtype,
            seed=seed,
            tensor_parallel_size=config.tensor_parallel_size,
            gpu_memory_utilization=config.gpu_memory_utilization,
            enforce_eager=config.enforce_eager or None,
        )

    def generate(
        self, prompts: list[list[int]], settings: SamplingSettings, seeds: list[int]
    ) -> list[list[Completion]]:
        return self.backend.generate(prompts, settings, seeds=seeds, use_tqdm=False)

    def sync(self, policy, zero_stage: int) -> None:
        """Replace the engine's weights with the policy's (`VLLMBackend.load_weights`); training
        heads such as FlowRL's log Z are not part of the model vLLM serves."""
        state = full_state_dict(policy, zero_stage)
        self.backend.load_weights({name: tensor for name, tensor in state.items() if not name.startswith(LOG_Z_PREFIX)})

    def close(self) -> None:
        self.backend.close()


def build_rollout(config: RolloutConfig, policy, tokenizer, model_dir: str, dtype: str, seed: int):
    if config.backend == "hf":
        return HFRollout(policy, tokenizer, config.hf_batch_size)
    return VLLMRollout(model_dir, config, dtype, seed)
