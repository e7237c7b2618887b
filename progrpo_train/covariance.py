"""Cui et al.'s covariance token selection (KL-Cov, Clip-Cov), over a whole mini-batch.

"The Entropy Mechanism of Reinforcement Learning for Reasoning Language Models" (Cui et al. 2025,
arXiv 2505.22617); their reference code is verl's `core_algos.compute_policy_loss_kl_cov` and
`compute_policy_loss_clip_cov`. For every valid token i of the mini-batch:

    Cov_i = (A_i - mean_j A_j) * (log pi(y_i) - mean_j log pi(y_j))      means over the valid tokens

with log pi the current policy's log-prob (detached) and A the advantage broadcast to the tokens.
- KL-Cov selects the k = max(1, floor(kl_cov_ratio * N)) tokens of largest Cov (N valid tokens);
  `policy_loss(loss="kl_cov")` adds ppo_kl_coef * |log rho| to their loss.
- Clip-Cov selects k = max(1, floor(clip_cov_ratio * N)) tokens uniformly at random among those
  with clip_cov_lb < Cov < clip_cov_ub that PPO's clip has not already clipped;
  `policy_loss(loss="clip_cov")` drops their loss (no gradient).

Decisions:
1. The selection is over the whole mini-batch: its valid tokens gathered across micro-batches and
   processes (verl computes it per micro-batch call, so its k and its means depend on the
   micro-batch size; ours do not). `select_top` takes each process's best k candidates, gathers
   them and keeps the global best k, so 1 and P processes select the same tokens.
2. Ties and Clip-Cov's random choice are decided by per-token keys. The trainer derives them from
   (seed, step, update, prompt, sample, position), so a resumed run and a run on more processes
   draw the same tokens; without keys, ties go by position and Clip-Cov draws from `generator`
   (`torch.randperm`, as verl).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Gather = Callable[[torch.Tensor], torch.Tensor]  # every process's tensor, concatenated (distributed.all_gather)


def _local(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def covariance(
    logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, centre: tuple[float, float] | None = None
) -> torch.Tensor:
    """Cov_i [B, T] in float64 (masked positions: 0). `centre` = (mean A, mean log pi) over the
    whole mini-batch; None: this batch's own means (`mini_batch_means`)."""
    mask = mask.to(torch.bool)
    advantages = (advantages[:, None] if advantages.dim() == 1 else advantages).to(torch.float64)
    advantages = advantages.expand_as(logprobs)
    logprobs = logprobs.detach().to(torch.float64)
    mean_advantage, mean_logprob = centre if centre is not None else mini_batch_means(logprobs, advantages, mask)
    products = (advantages - mean_advantage) * (logprobs - mean_logprob)
    return torch.where(mask, products, torch.zeros_like(products))


def mini_batch_means(
    logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, all_reduce: Callable[[float], float] = float
) -> tuple[float, float]:
    """(mean A, mean log pi) over the valid tokens, summed over processes by `all_reduce`."""
    mask = mask.to(torch.bool)
    advantages = (advantages[:, None] if advantages.dim() == 1 else advantages).expand_as(logprobs)
    count = all_reduce(float(mask.sum()))
    sum_advantage = all_reduce(float(torch.where(mask, advantages.double(), 0.0).sum()))
    sum_logprob = all_reduce(float(torch.where(mask, logprobs.detach().double(), 0.0).sum()))
    return sum_advantage / max(count, 1.0), sum_logprob / max(count, 1.0)


def select_top(
    scores: torch.Tensor, eligible: torch.Tensor, k: int, keys: torch.Tensor | None = None, gather: Gather = _local
) -> torch.Tensor:
    """The k eligible tokens of largest score over every process ([B, T] bool, this process's part).

    Ties go to the smaller key (default: the flat position; with several processes the keys must
    be unique across them). Each process offers its own best k (score, key) pairs; `gather`
    concatenates them; the k-th best pair overall is the threshold.
    """
    eligible = eligible.to(torch.bool)
    if keys is None:
        keys = torch.arange(scores.numel(), dtype=torch.float64, device=scores.device).reshape(scores.shape)
    flat_scores = scores.to(torch.float64)[eligible]
    flat_keys = keys.to(torch.float64)[eligible]
    order = torch.argsort(flat_keys, stable=True)
    order = order[torch.argsort(-flat_scores[order], stable=True)]  # by score, then by key
    pairs = torch.full((k, 2), torch.inf, dtype=torch.float64, device=scores.device)
    pairs[:, 0] = -torch.inf
    best = order[:k]
    pairs[: len(best), 0], pairs[: len(best), 1] = flat_scores[best], flat_keys[best]
    total = gather(torch.tensor([float(eligible.sum())], dtype=torch.float64, device=scores.device)).sum()
    if total <= k:
        return eligible.clone()
    offered = gather(pairs)
    offered = offered[torch.isfinite(offered[:, 1])]  # drop the padding
    by_key = offered[torch.argsort(offered[:, 1], stable=True)]
    ranked = by_key[torch.argsort(-by_key[:, 0], stable=True)]
    threshold_score, threshold_key = ranked[k - 1, 0], ranked[k - 1, 1]
    scores, keys = scores.to(torch.float64), keys.to(torch.float64)
    wins = (scores > threshold_score) | ((scores == threshold_score) & (keys <= threshold_key))
    return eligible & wins


def kl_cov_selection(
    logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    kl_cov_ratio: float = 0.0002,
    num_tokens: int | None = None,
    centre: tuple[float, float] | None = None,
    keys: torch.Tensor | None = None,
    gather: Gather = _local,
) -> torch.Tensor:
    """KL-Cov's tokens [B, T]: the top max(1, floor(kl_cov_ratio * N)) by Cov. `num_tokens` = N of
    the whole mini-batch (default: this batch's valid tokens); `centre`, `gather`: over processes."""
    mask = mask.to(torch.bool)
    total = int(mask.sum()) if num_tokens is None else num_tokens
    scores = covariance(logprobs, advantages, mask, centre)
    return select_top(scores, mask, max(1, int(total * kl_cov_ratio)), keys, gather)


def clipped_by_ppo(
    logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, clip_low: float, clip_high: float
) -> torch.Tensor:
    """Where PPO's clip removes the gradient: -A clip(rho) > -A rho (verl's `clip_by_origin`)."""
    advantages = (advantages[:, None] if advantages.dim() == 1 else advantages).to(logprobs.dtype)
    ratio = torch.exp(logprobs.detach() - old_logprobs)
    return -advantages * torch.clamp(ratio, 1 - clip_low, 1 + clip_high) > -advantages * ratio


def clip_cov_selection(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
    clip_cov_ratio: float = 0.0002,
    clip_cov_lb: float = 1.0,
    clip_cov_ub: float = 5.0,
    num_tokens: int | None = None,
    centre: tuple[float, float] | None = None,
    keys: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    gather: Gather = _local,
) -> torch.Tensor:
    """Clip-Cov's tokens [B, T]: max(1, floor(clip_cov_ratio * N)) drawn uniformly among the valid,
    not PPO-clipped tokens with clip_cov_lb < Cov < clip_cov_ub (all of them if fewer). Without
    `keys` the draw is `torch.randperm(generator=generator)` over the candidates, as verl's."""
    mask = mask.to(torch.bool)
    total = int(mask.sum()) if num_tokens is None else num_tokens
    scores = covariance(logprobs, advantages, mask, centre)
    candidates = (
        mask
        & ~clipped_by_ppo(logprobs, old_logprobs, advantages, clip_low, clip_high)
        & (scores > clip_cov_lb)
        & (scores < clip_cov_ub)
    )
    k = max(1, int(total * clip_cov_ratio))
    if keys is None:
        positions = torch.nonzero(candidates)
        chosen = positions[torch.randperm(len(positions), generator=generator)[:k]]
        selection = torch.zeros_like(candidates)
        selection[chosen[:, 0], chosen[:, 1]] = True
        return selection
    return select_top(torch.zeros_like(scores), candidates, k, keys, gather)  # all tie: the k smallest keys


def token_keys(row_seeds: torch.Tensor, mask: torch.Tensor, *salt: object) -> torch.Tensor:
    """Per-token keys [B, T] in [0, 1) for `select_top`: row b's valid tokens get, in order, the
    draws of a generator seeded by derived_seed(row_seeds[b], *salt). A row's keys depend on its
    seed and its valid tokens only (not on padding, batch composition or process), so they make
    the selection partition-invariant and reproducible; masked positions get 2 (never chosen)."""
    from progrpo_eval.generation import derived_seed

    mask = mask.to(torch.bool)
    keys = torch.full(mask.shape, 2.0, dtype=torch.float64)
    for row, seed in enumerate(row_seeds.tolist()):
        generator = torch.Generator().manual_seed(derived_seed(seed, *salt))
        keys[row, mask[row].cpu()] = torch.rand(int(mask[row].sum()), generator=generator, dtype=torch.float64)
    return keys.to(mask.device)
