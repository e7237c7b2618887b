"""After `VLLMRollout.sync` (`VLLMBackend.load_weights`), the vLLM engine samples from the trainer's updated weights."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM

from progrpo_eval.logprobs import prompt_response_logprobs
from progrpo_train.rollout import VLLMRollout

pytestmark = pytest.mark.slow


def _max_prompt_logprob_gap(rollout, model, prompts):
    engine = rollout.backend.prompt_logprobs(prompts)
    truth = prompt_response_logprobs(model, prompts, [[] for _ in prompts])
    return max(np.max(np.abs(np.array(e) - np.array(t.prompt))) for e, t in zip(engine, truth))


def test_sync_replaces_the_engines_weights_in_place(vllm_backend, tiny_model_dir):
    rollout = VLLMRollout.__new__(VLLMRollout)  # reuse the session's engine instead of starting one
    rollout.backend = vllm_backend
    policy = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    original = {name: tensor.clone() for name, tensor in policy.state_dict().items()}
    prompts = [[5, 17, 99, 3, 250, 8, 41], [7, 7, 300, 12]]
    try:
        with torch.no_grad():
            for parameter in policy.parameters():
                parameter.add_(0.05 * torch.randn_like(parameter))
        updated_model_gap = _max_prompt_logprob_gap(rollout, policy, prompts)
        rollout.sync(policy, zero_stage=0)
        assert updated_model_gap > 1e-2, "the perturbation should change the log-probs"
        assert _max_prompt_logprob_gap(rollout, policy, prompts) < 1e-3
    finally:
        policy.load_state_dict(original)
        rollout.sync(policy, zero_stage=0)
