"""Token-level statistics of a rollout: confidence, token probabilities, entropy.

- `low_prob_confidence`: the confidence c of Eq. 5 (prompt, c(q)) and Eq. 6 (response,
  c(o|q)): exp of the mean log-prob over T_low, the k = max(1, ceil(fraction * L)) valid
  positions with the lowest sampled-token probability (Sec. 3.2; App. A.3, Eq. 12).
- `mean_token_prob`: Fig. 3's "average probability", the arithmetic mean of exp(log-prob).
- `low_prob_mean`: Fig. 3/8's "low-20% probability", the arithmetic mean of the k smallest
  token probabilities (the same T_low as the confidence).
- `entropy_from_logits`: exact full-vocabulary entropy per position, chunked over positions.

Inputs are [B, T] log-probs with a [B, T] mask of valid tokens, as torch tensors or numpy
arrays; outputs come back as the same kind ([B], float64 for numpy). A row with no valid
token gives NaN.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _to_torch(values, mask) -> tuple[torch.Tensor, torch.Tensor, bool]:
    is_numpy = not isinstance(values, torch.Tensor)
    values = torch.as_tensor(np.asarray(values, dtype=np.float64)) if is_numpy else values
    if not values.is_floating_point() or values.dtype in (torch.float16, torch.bfloat16):
        values = values.float()
    mask = torch.as_tensor(np.asarray(mask)) if not isinstance(mask, torch.Tensor) else mask
    if values.dim() == 1:
        values, mask = values[None], mask[None]
    return values, mask.to(device=values.device, dtype=torch.bool), is_numpy


def _back(result: torch.Tensor, is_numpy: bool):
    return result.cpu().numpy().astype(np.float64) if is_numpy else result


def low_prob_count(length: torch.Tensor, fraction: float = 0.2) -> torch.Tensor:
    """|T_low| = max(1, ceil(fraction * L)) per row, robust to float error.

    fraction * L is rounded to 9 decimals before the ceiling, so 0.2 * 15 gives 3 (not 4)
    even where the product is not exact in binary floating point.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    scaled = torch.round(length.to(torch.float64) * fraction * 1e9) / 1e9
    return torch.ceil(scaled).clamp(min=1).to(torch.long)


def _lowest_k(logprobs: torch.Tensor, mask: torch.Tensor, fraction: float):
    """Sorted ascending valid log-probs [B, T] (invalid at the end) and k per row [B]."""
    lengths = mask.sum(dim=1)  # [B]
    filled = torch.where(mask, logprobs, torch.full_like(logprobs, math.inf))
    ascending = torch.sort(filled, dim=1).values  # [B, T], valid values first
    k = torch.minimum(low_prob_count(lengths, fraction), lengths.clamp(min=1))  # [B]
    return ascending, k, lengths


def _mean_of_first_k(values: torch.Tensor, k: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    positions = torch.arange(values.shape[1], device=values.device)[None]  # [1, T]
    selected = positions < k[:, None]  # [B, T]
    total = torch.where(selected, values, torch.zeros_like(values)).sum(dim=1)
    mean = total / k.to(values.dtype)
    return torch.where(lengths > 0, mean, torch.full_like(mean, math.nan))


def low_prob_confidence(logprobs, mask, fraction: float = 0.2):
    """Confidence c of Eq. 5/6: exp(mean of the k smallest valid log-probs) per row.

    k = max(1, ceil(fraction * L)) for L valid tokens; L = 0 gives NaN.
    """
    logprobs, mask, is_numpy = _to_torch(logprobs, mask)
    ascending, k, lengths = _lowest_k(logprobs, mask, fraction)
    return _back(torch.exp(_mean_of_first_k(ascending, k, lengths)), is_numpy)


def low_prob_mean(logprobs, mask, fraction: float = 0.2):
    """Arithmetic mean of the k smallest token probabilities (Fig. 3/8 "low-20%")."""
    logprobs, mask, is_numpy = _to_torch(logprobs, mask)
    ascending, k, lengths = _lowest_k(logprobs, mask, fraction)
    return _back(_mean_of_first_k(torch.exp(ascending), k, lengths), is_numpy)


def mean_token_prob(logprobs, mask):
    """Arithmetic mean of exp(log-prob) over the valid tokens (Fig. 3 "average probability")."""
    logprobs, mask, is_numpy = _to_torch(logprobs, mask)
    probs = torch.where(mask, torch.exp(logprobs), torch.zeros_like(logprobs))
    lengths = mask.sum(dim=1)
    mean = probs.sum(dim=1) / lengths.clamp(min=1).to(probs.dtype)
    return _back(torch.where(lengths > 0, mean, torch.full_like(mean, math.nan)), is_numpy)


def entropy_from_logits(logits, mask, *, temperature: float = 1.0, chunk_size: int = 1024):
    """Exact full-vocabulary entropy H = logsumexp(z) - sum softmax(z) * z per position.

    `logits` [B, T, V] are divided by `temperature` first (the sampling temperature for
    rollout entropy). Positions are processed `chunk_size` at a time in float32, so the
    extra memory is bounded by chunk_size * V floats. Invalid positions give 0. Returns [B, T].
    """
    is_numpy = not isinstance(logits, torch.Tensor)
    logits = torch.as_tensor(logits) if is_numpy else logits
    mask = torch.as_tensor(np.asarray(mask)) if not isinstance(mask, torch.Tensor) else mask
    batch, length, vocab = logits.shape
    flat = logits.reshape(batch * length, vocab)
    entropies = torch.empty(batch * length, dtype=torch.float32, device=logits.device)
    for start in range(0, flat.shape[0], chunk_size):
        z = flat[start : start + chunk_size].float() / temperature  # [C, V]
        log_norm = torch.logsumexp(z, dim=-1)  # [C]
        probs = torch.softmax(z, dim=-1)
        entropies[start : start + chunk_size] = log_norm - (probs * z).sum(dim=-1)
    entropies = entropies.reshape(batch, length)
    mask = mask.to(device=entropies.device, dtype=torch.bool)
    entropies = torch.where(mask, entropies, torch.zeros_like(entropies))
    return entropies.cpu().numpy().astype(np.float64) if is_numpy else entropies
