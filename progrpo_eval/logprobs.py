"""The one log-prob truth: teacher-forced per-token log-probs from a transformers model.

Every number built on log-probs (c(q) and c(o|q) of Eq. 5/6 at training time, the
re-scored statistics of a run directory) comes from `token_logprobs` here. vLLM's
`prompt_logprobs` and sampled-token log-probs agree with it to 1e-3 (tested), so c(q)
computed at rollout time and at training time is the same number up to that tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def token_logprobs(
    model, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, temperature: float = 1.0
) -> torch.Tensor:
    """log p(x_t | x_<t) for t = 1..T-1 of right-padded sequences, shape [B, T-1].

    Teacher forcing at `temperature` (1.0: the model's own distribution). Entries past a
    row's length are meaningless; mask them with attention_mask[:, 1:]. Keeps the autograd
    graph, so the trainer can call it for the policy's log-probs.
    """
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]  # [B, T-1, V]
    return logprobs_from_logits(logits.float() / temperature, input_ids)


def logprobs_from_logits(shifted_logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """log-softmax of `shifted_logits` [B, T-1, V] (position t predicts token t+1) at input_ids[:, 1:]."""
    targets = input_ids[:, 1:].unsqueeze(-1)  # [B, T-1, 1]
    picked = shifted_logits.gather(-1, targets).squeeze(-1)  # [B, T-1]
    return picked - torch.logsumexp(shifted_logits, dim=-1)


@dataclass
class SequenceLogprobs:
    prompt: list[float]  # log p(q_t | q_<t) for t = 1..len(q)-1 (the first token has none)
    response: list[float]  # log p(o_t | q, o_<t) for every response token


def pad_right(rows, pad_id: int = 0, *, dtype: torch.dtype = torch.long) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded rows [B, T] and their mask [B, T] (1 where a row has a value).

    `rows` are token ids by default; with dtype=torch.float64 any ragged per-token values (the
    stored log-probs of a run's samples), padded with `pad_id`.
    """
    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=dtype)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=dtype)
        mask[i, : len(row)] = 1
    return ids, mask


@torch.no_grad()
def prompt_response_logprobs(
    model,
    prompts: list[list[int]],
    responses: list[list[int]],
    *,
    batch_size: int = 8,
    temperature: float = 1.0,
    pad_id: int = 0,
) -> list[SequenceLogprobs]:
    """Per-token log-probs of each prompt and of its response given the prompt.

    `prompts[i]` and `responses[i]` are token ids; the pair is scored as one sequence.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    device = next(model.parameters()).device
    results: list[SequenceLogprobs] = []
    for start in range(0, len(prompts), batch_size):
        pairs = list(zip(prompts[start : start + batch_size], responses[start : start + batch_size]))
        ids, mask = pad_right([list(p) + list(r) for p, r in pairs], pad_id)
        logprobs = token_logprobs(model, ids.to(device), mask.to(device), temperature=temperature).cpu()
        for row, (prompt, response) in enumerate(pairs):
            values = logprobs[row, : len(prompt) + len(response) - 1].tolist()
            split = len(prompt) - 1
            results.append(SequenceLogprobs(prompt=values[:split], response=values[split:]))
    return results
