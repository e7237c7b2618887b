"""One step's rollouts as padded tensors, and the teacher-forced pass over them.

Rows are (prompt + response) sequences, right-padded. Log-probs come from
`progrpo_eval.logprobs.token_logprobs` (the one log-prob truth, T = 1), so c(q) and c(o|q) are
computed exactly as the evaluator computes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from progrpo_eval.logprobs import logprobs_from_logits, pad_right, token_logprobs
from progrpo_eval.metrics.tokens import entropy_from_logits, low_prob_confidence


@dataclass
class RolloutBatch:
    input_ids: torch.Tensor  # [B, T] prompt + response, right-padded
    attention_mask: torch.Tensor  # [B, T]
    response_mask: torch.Tensor  # [B, T-1] True where position t predicts a response token
    prompt_mask: torch.Tensor  # [B, T-1] True where position t predicts a prompt token
    group_ids: torch.Tensor  # [B] one id per prompt
    rewards: torch.Tensor  # [B]
    correct: torch.Tensor  # [B] bool
    truncated: torch.Tensor  # [B] bool
    row_seeds: torch.Tensor  # [B] int64, derived from (seed, step, prompt, sample): names a row on any process

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def rows(self, index: torch.Tensor | slice) -> RolloutBatch:
        return RolloutBatch(*(getattr(self, name)[index] for name in self.__dataclass_fields__))


def pad_rollouts(prompts: list[list[int]], responses: list[list[int]], pad_id: int) -> tuple[torch.Tensor, ...]:
    """input_ids, attention_mask, response_mask, prompt_mask for (prompt, response) pairs."""
    input_ids, attention = pad_right([list(p) + list(r) for p, r in zip(prompts, responses)], pad_id)
    response_mask = torch.zeros((len(prompts), input_ids.shape[1] - 1), dtype=torch.bool)
    prompt_mask = torch.zeros_like(response_mask)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        length = len(prompt) + len(response)
        prompt_mask[row, : len(prompt) - 1] = True  # position t predicts token t + 1
        response_mask[row, len(prompt) - 1 : length - 1] = True
    return input_ids, attention, response_mask, prompt_mask


@torch.no_grad()
def score_with_policy(model, batch: RolloutBatch, micro_batch_size: int, low_prob_fraction: float):
    """Old log-probs [B, T-1], c(q) [B], c(o|q) [B] and per-token entropy [B, T-1] at T = 1."""
    device = next(model.parameters()).device
    logprobs, entropies = [], []
    for start in range(0, len(batch), micro_batch_size):
        ids = batch.input_ids[start : start + micro_batch_size].to(device)
        mask = batch.attention_mask[start : start + micro_batch_size].to(device)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()  # [b, T-1, V]
        logprobs.append(logprobs_from_logits(logits, ids).cpu())
        entropies.append(entropy_from_logits(logits, mask[:, 1:].bool()).cpu())
        del logits
    logprobs = torch.cat(logprobs)
    prompt_confidence = low_prob_confidence(logprobs, batch.prompt_mask, low_prob_fraction)
    response_confidence = low_prob_confidence(logprobs, batch.response_mask, low_prob_fraction)
    return logprobs, prompt_confidence, response_confidence, torch.cat(entropies)


@torch.no_grad()
def sequence_logprobs(model, batch: RolloutBatch, micro_batch_size: int) -> torch.Tensor:
    """Log-probs [B, T-1] at T = 1 without gradients (the reference model's, or the policy's now)."""
    device = next(model.parameters()).device
    parts = [
        token_logprobs(
            model,
            batch.input_ids[start : start + micro_batch_size].to(device),
            batch.attention_mask[start : start + micro_batch_size].to(device),
        ).cpu()
        for start in range(0, len(batch), micro_batch_size)
    ]
    return torch.cat(parts)


class PolicyOutputs(NamedTuple):
    logprobs: torch.Tensor  # [b, T-1]
    entropy: torch.Tensor | None  # [b, T-1], exact over the vocabulary, with gradients
    hidden: torch.Tensor | None  # [b, T, H], the last hidden state


def policy_forward(model, batch: RolloutBatch, *, entropy: bool = False, hidden: bool = False) -> PolicyOutputs:
    """A micro-batch under the current policy, with gradients: log-probs, and on request the
    per-token entropy (the entropy bonus) and the last hidden state (FlowRL's log Z)."""
    device = next(model.parameters()).device
    ids, mask = batch.input_ids.to(device), batch.attention_mask.to(device)
    if not (entropy or hidden):
        return PolicyOutputs(token_logprobs(model, ids, mask), None, None)
    output = model(input_ids=ids, attention_mask=mask, output_hidden_states=hidden)
    logits = output.logits[:, :-1].float()  # [b, T-1, V]
    entropies = entropy_from_logits(logits, mask[:, 1:].bool()) if entropy else None
    return PolicyOutputs(logprobs_from_logits(logits, ids), entropies, output.hidden_states[-1] if hidden else None)


def policy_logprobs(model, batch: RolloutBatch) -> torch.Tensor:
    """Log-probs [b, T-1] of a micro-batch under the current policy, with gradients."""
    return policy_forward(model, batch).logprobs
