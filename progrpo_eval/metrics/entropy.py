"""Per-token entropy two ways: exact and streamed over the vocabulary, or bounded from top-k.

`streaming_entropy` — exact full-vocabulary entropy from logits that arrive in vocabulary blocks
(for example `lm_head` applied to one slice of its weight at a time), so no [N, V] tensor is ever
held. Per row it keeps a running max m, s = sum e^(z-m) and u = sum e^(z-m) (z-m) over the
blocks seen (each block's own triple merged into the running one, rescaled to the larger m);
at the end

    H = log s - u / s            (= m + log s - sum p z, the textbook form, without the
                                  cancellation of two numbers near max z)

with z the logits divided by the temperature. The same pass returns the T = 1 log-normaliser
and, given target ids, each target's raw T = 1 log-prob (picked from the block that holds it) and
its log-prob at the temperature, z_target/T − (m + log s).
`OutputHead.blocks` produces such blocks from hidden states: a model's output layer applied to
one slice of its weight at a time, with the logit scaling or soft-capping some architectures add.

`topk_entropy_bounds` — what stored top-k log-probs say about the entropy: an interval, never a
number. Known: probabilities p_1 >= ... >= p_k of the top-k tokens (plus, with vLLM, possibly the
sampled token when it is outside the top-k; it only adds known mass). Unknown: the tail, mass
r = 1 - sum(known) spread over m = V - #known tokens, each at most p_k (the k-th largest). With
H_known = -sum p log p over the known tokens, H = H_known + H_tail, and
  - upper: H_tail <= r log(m / r), the uniform tail (feasible, since r <= m p_k);
  - lower: H_tail >= -n p_k log p_k - rho log rho with n = floor(r / p_k), rho = r - n p_k: the
    most concentrated tail the cap allows (entropy is Schur-concave, and this tail majorizes
    every other). It is never below the simpler bound -r log p_k (as -rho log rho >= -rho log p_k)
    and is attained when the tail really is n tokens at p_k plus one at rho.
r = 0 gives H_known for both. The stored log-probs are the raw T = 1 model's, so the bounds are
at T = 1: the top-k alone do not fix the temperature-scaled distribution (its normaliser needs
the whole tail), so they cannot be moved to the sampling temperature.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch


class StreamedEntropy(NamedTuple):
    entropy: torch.Tensor  # [N] float32, at the requested temperature
    log_normalizer: torch.Tensor  # [N] float32, logsumexp of the raw (T = 1) logits
    target_logprob: torch.Tensor | None  # [N] float32, raw log p(target), when targets were given
    scaled_target_logprob: torch.Tensor | None  # [N] float32, log p_T(target) = z/T − logsumexp(z/T)


# exp(-1e4) is 0 in float32 as exp(-inf) is; clamping there keeps 0 * -inf (NaN) out of sum p z
_FLOOR = -1e4


def _block_statistics(z: torch.Tensor):
    """(m, s, u) of one block, overwriting z [N, Vb]: m = max z (0 where none is finite),
    s = sum e^(z-m), u = sum e^(z-m) (z-m)."""
    block_max = z.amax(dim=-1)  # [N]
    block_max = torch.where(torch.isfinite(block_max), block_max, torch.zeros_like(block_max))
    centred = z.sub_(block_max[:, None]).clamp_(min=_FLOOR)  # [N, Vb]
    weights = torch.exp(centred)
    return block_max, weights.sum(dim=-1), torch.einsum("nv,nv->n", weights, centred)


def _merge(running, block):
    """Combine two (m, s, u) triples, each relative to its own m, into one relative to the larger m."""
    (m_a, s_a, u_a), (m_b, s_b, u_b) = running, block
    m = torch.maximum(m_a, m_b)
    scale_a, scale_b = torch.exp(m_a - m), torch.exp(m_b - m)
    u = scale_a * (u_a + (m_a - m) * s_a) + scale_b * (u_b + (m_b - m) * s_b)
    return m, scale_a * s_a + scale_b * s_b, u


def streaming_entropy(
    logit_blocks: Iterable[torch.Tensor],
    *,
    temperature: float = 1.0,
    targets: torch.Tensor | None = None,
    overwrite_blocks: bool = False,
) -> StreamedEntropy:
    """Exact entropy at `temperature` per row from consecutive vocabulary blocks [N, Vb] of raw logits.

    The blocks must cover the vocabulary in order (block j starts where block j-1 ended). Memory is
    a few [N, Vb] float32 temporaries, whatever V is; with `overwrite_blocks` the blocks (float32)
    are used as scratch space, which saves one. `targets` [N] (token ids) also gives each target's
    raw T = 1 log-prob. A row whose logits are all -inf gives NaN.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive for entropy, got {temperature}")
    running = raw_normalizer = picked = None
    offset = 0
    for block in logit_blocks:
        raw = block.float()
        if targets is not None:
            picked = torch.full((raw.shape[0],), math.nan, device=raw.device) if picked is None else picked
            rows = ((targets >= offset) & (targets < offset + raw.shape[1])).nonzero(as_tuple=True)[0]
            picked[rows] = raw[rows, targets[rows] - offset]
        if temperature != 1.0:
            block_normalizer = torch.logsumexp(raw, dim=-1)
            raw_normalizer = (
                block_normalizer if raw_normalizer is None else torch.logaddexp(raw_normalizer, block_normalizer)
            )
        if raw.data_ptr() == block.data_ptr() and not overwrite_blocks:
            scaled = raw / temperature  # a copy: the caller's logits stay as they are
        else:
            scaled = raw if temperature == 1.0 else raw.div_(temperature)
        statistics = _block_statistics(scaled)
        running = statistics if running is None else _merge(running, statistics)
        offset += raw.shape[1]
    if running is None:
        raise ValueError("no logit blocks given")
    block_max, total, weighted = running
    scaled_normalizer = block_max + torch.log(total)  # logsumexp of the logits at `temperature`
    if temperature == 1.0:
        raw_normalizer = scaled_normalizer
    entropy = torch.log(total) - weighted / total
    if picked is None:
        return StreamedEntropy(entropy, raw_normalizer, None, None)
    return StreamedEntropy(entropy, raw_normalizer, picked - raw_normalizer, picked / temperature - scaled_normalizer)


@dataclass(frozen=True)
class OutputHead:
    """The output layer as (weight, bias) plus the logit transforms some architectures add."""

    weight: torch.Tensor  # [V, H]
    bias: torch.Tensor | None
    scale: float = 1.0  # Cohere's logit_scale; 1 / Granite's logits_scaling
    softcap: float | None = None  # Gemma 2's final_logit_softcapping: cap * tanh(z / cap)

    def blocks(self, hidden: torch.Tensor, block_size: int) -> Iterable[torch.Tensor]:
        """Raw float32 logits [N, Vb] of `hidden` [N, H], one vocabulary block at a time.

        float32 blocks share one reused buffer (fresh large allocations cost page faults on CPU):
        use each block before asking for the next; the consumer may overwrite it.
        """
        vocab_size, rows = self.weight.shape[0], hidden.shape[0]
        buffer = (
            torch.empty(rows * min(block_size, vocab_size), device=hidden.device)
            if hidden.dtype == torch.float32
            else None
        )
        for start in range(0, vocab_size, block_size):
            weight = self.weight[start : start + block_size]  # [Vb, H]
            if buffer is None:
                logits = (hidden @ weight.t()).float()
            else:
                logits = torch.mm(hidden, weight.t(), out=buffer[: rows * weight.shape[0]].view(rows, weight.shape[0]))
            if self.bias is not None:
                logits.add_(self.bias[start : start + block_size].float())
            if self.scale != 1.0:
                logits.mul_(self.scale)
            if self.softcap:
                logits.div_(self.softcap).tanh_().mul_(self.softcap)
            yield logits


def output_head(model) -> OutputHead:
    head = model.get_output_embeddings()
    if not isinstance(head, torch.nn.Linear):
        raise ValueError(
            f"exact rescoring needs a linear output layer; {type(model).__name__} has {type(head).__name__}"
        )
    config = model.config.get_text_config()
    scale = float(getattr(config, "logit_scale", None) or 1.0) / float(getattr(config, "logits_scaling", None) or 1.0)
    return OutputHead(head.weight, head.bias, scale, getattr(config, "final_logit_softcapping", None))


class EntropyBounds(NamedTuple):
    low: np.ndarray  # [L] float64
    high: np.ndarray  # [L] float64


def topk_entropy_bounds(top_logprobs, k: int, vocab_size: int | None) -> EntropyBounds:
    """Lower and upper bounds of each position's T = 1 entropy from its stored top-k log-probs.

    `top_logprobs` [L, K'] holds each position's known raw log-probs in any order, -inf (or NaN)
    where a row has fewer: the top-k, possibly with one extra token below them (vLLM adds the
    sampled token when it is not in the top-k). `k` is the run's top-k setting and `vocab_size`
    V the model's output vocabulary. See the module docstring for the derivation.

    Without V (`vocab_size=None`) the lower bound is the same (the most concentrated tail needs
    ⌊r/p_k⌋ + 1 tail tokens, which any vocabulary consistent with the stored values has) and the
    upper bound is NaN: the uniform tail r·log(m/r) grows without limit in m.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    logprobs = np.nan_to_num(np.asarray(top_logprobs, dtype=np.float64), nan=-np.inf, posinf=0.0, neginf=-np.inf)
    if logprobs.ndim != 2:
        raise ValueError(f"top_logprobs must be [positions, entries], got shape {logprobs.shape}")
    probs = np.exp(-np.sort(-logprobs, axis=1))  # [L, K'] descending, 0 where missing
    known = np.isfinite(logprobs).sum(axis=1)  # [L]
    known_entropy = -np.sum(_xlogx(probs), axis=1)
    tail_mass = np.clip(1.0 - probs.sum(axis=1), 0.0, 1.0)
    tail_count = np.full(len(probs), np.inf) if vocab_size is None else np.maximum(vocab_size - known, 0)
    cap_index = np.clip(np.minimum(k, known) - 1, 0, None)
    cap = probs[np.arange(len(probs)), cap_index] if len(probs) else np.zeros(0)  # p_k
    has_tail = (tail_mass > 0) & (tail_count > 0) & (cap > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.where(has_tail, np.minimum(np.floor(tail_mass / cap), tail_count), 0.0)
        remainder = np.clip(tail_mass - full * cap, 0.0, None)
        concentrated = np.where(has_tail, -full * _xlogx(cap) - _xlogx(remainder), 0.0)
        if vocab_size is None:
            return EntropyBounds(known_entropy + concentrated, np.where(has_tail, np.nan, known_entropy))
        uniform = np.where(has_tail, -tail_count * _xlogx(tail_mass / tail_count), 0.0)
    # Rounded stored log-probs can make r >= m * p_k: then only the uniform tail fits the cap.
    concentrated = np.where(tail_mass >= tail_count * cap, uniform, np.minimum(concentrated, uniform))
    return EntropyBounds(known_entropy + concentrated, known_entropy + uniform)


def _xlogx(values: np.ndarray) -> np.ndarray:
    """x log x with 0 log 0 = 0."""
    return np.where(values > 0, values * np.log(np.where(values > 0, values, 1.0)), 0.0)
