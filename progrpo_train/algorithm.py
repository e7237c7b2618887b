"""ProGRPO's advantage and policy loss, as pure tensor functions.

Equations of the paper (arXiv 2602.05281) implemented here:

- GRPO advantage (Eq. 3; Algorithm 1, lines 10-12): A_i = (r_i - mean_g(r)) / (std_g(r) + eps).
- Advantage re-weighting, ARM (Eq. 4; Algorithm 1, lines 13-27):
  A~_i = A_i + alpha * (c(q) - c(o_i|q)), with the confidences c of Eq. 5/6 computed by
  `progrpo_eval.metrics.tokens.low_prob_confidence`.
- The variants the paper compares: the group-mean baseline of App. A (Eq. 10),
  "1 - c(q) - c(o)" (Sec. 4.5) and the absolute penalty "-c(o)" (Tab. 7).
- The clipped surrogate with clip-higher (Eq. 7), with three loss aggregations.
- The baselines' policy losses: KL-Cov and Clip-Cov (Cui et al. 2025, as verl's `core_algos`;
  their token selection is `covariance.py`), and the KL estimators k1/k2/k3 of the KL loss
  (verl's `kl_penalty`). FlowRL's objective is `flowrl.py`.

Choices made where the paper is ambiguous or silent:

1. The all-correct group. Eq. 4 re-weights every group with at least one correct answer;
   Algorithm 1 (line 14) also skips groups where every answer is correct. `gate="mixed"`
   (default) follows Algorithm 1; `gate="any_correct"` follows Eq. 4 as printed.
2. The standard deviation. App. A.1 (Eq. 8) uses the population std; verl and TRL use
   torch.std's unbiased estimate. `std="unbiased"` (default, so numbers match verl/TRL) or
   `std="population"`. A group of one response has advantage 0 under both.
3. Correctness. Algorithm 1 tests sum(r) = 0 / = G, which assumes 0/1 rewards. We count a
   response correct when `reward > 0` (so 0/1 and -1/+1 rewards both work) unless `correct`
   is given explicitly.
4. Missing confidence. A response with no valid token has confidence NaN; it keeps A~ = A.
   A NaN prompt confidence leaves its whole group un-reweighted. The group-mean baseline
   averages only the finite confidences of the group.
5. Sign preservation. App. A.4 argues the term never flips a wrong answer's sign for small
   alpha but nothing enforces it; `preserve_sign=True` clamps A~ to 0 where the term would
   flip the sign of A (off by default, as in the paper).
6. Loss aggregation. Eq. 7 normalises by the group's total response tokens and Algorithm 1
   sums those per-prompt losses over the batch; verl/DAPO pool all tokens of a mini-batch.
   `aggregation="token-mean"` (default, verl's), `"group-token-mean"` (Eq. 7 per group, then
   the mean over groups: Algorithm 1's sum divided by the number of prompts, a constant
   factor absorbed by the learning rate), `"seq-mean-token-mean"` (Eq. 3, GRPO's).
7. The baselines follow their reference code, including where it surprises: KL-Cov clips no
   ratio (its only brake is the |log rho| penalty on the selected tokens); Clip-Cov keeps PPO's
   clip and drops the selected tokens' gradient; neither applies verl's dual-clip (nor does
   ppo_clip). With `token_selection` given, their loss equals verl's for that selection.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from progrpo_train.choices import AGGREGATIONS, GATE_MODES, KL_ESTIMATORS, REWEIGHT_MODES, STD_MODES
from progrpo_train.covariance import clip_cov_selection, kl_cov_selection

PPO_LOSSES = ("ppo_clip", "kl_cov", "clip_cov")  # policy_loss's; FlowRL is its own objective (flowrl.py)


def _check_choice(name: str, value: str, known: tuple[str, ...]) -> None:
    if value not in known:
        raise ValueError(f"unknown {name} {value!r}; known: {', '.join(known)}")


def _group_index(group_ids: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Dense group index per row [B] and the number of groups."""
    _, dense = torch.unique(group_ids, return_inverse=True)
    return dense, int(dense.max().item()) + 1 if dense.numel() else 0


def _group_sum(values: torch.Tensor, dense: torch.Tensor, num_groups: int) -> torch.Tensor:
    """Per-group sum of `values` [B], returned per group [num_groups]."""
    return torch.zeros(num_groups, dtype=values.dtype, device=values.device).index_add_(0, dense, values)


def _as_float(rewards: torch.Tensor) -> torch.Tensor:
    return rewards if rewards.is_floating_point() else rewards.float()


def grpo_advantages(
    rewards: torch.Tensor, group_ids: torch.Tensor, *, std: str = "unbiased", eps: float = 1e-6
) -> torch.Tensor:
    """GRPO's group-normalised advantage (Eq. 3; Algorithm 1, lines 10-12).

    A_i = (r_i - mean_g) / (std_g + eps) over the responses of each group g. `std` is
    "unbiased" (torch.std's default, as verl and TRL) or "population" (App. A.1, Eq. 8).
    A group of size 1 gets advantage 0.
    """
    _check_choice("std", std, STD_MODES)
    rewards = _as_float(rewards)  # [B]
    dense, num_groups = _group_index(group_ids)
    counts = _group_sum(torch.ones_like(rewards), dense, num_groups)  # [G]
    means = _group_sum(rewards, dense, num_groups) / counts  # [G]
    centred = rewards - means[dense]  # [B]
    squares = _group_sum(centred * centred, dense, num_groups)  # [G]
    dof = counts - 1 if std == "unbiased" else counts
    stds = torch.sqrt(squares / dof.clamp(min=1))  # [G]
    advantages = centred / (stds[dense] + eps)
    # A uniform group (or a group of one) has nothing to normalise: 0, even with eps = 0.
    zero = (counts[dense] < 2) | (centred == 0)
    return torch.where(zero, torch.zeros_like(advantages), advantages)


def _confidence_term(
    reweight: str,
    response_confidence: torch.Tensor,
    prompt_confidence: torch.Tensor | None,
    dense: torch.Tensor,
    num_groups: int,
) -> torch.Tensor:
    """The bracket multiplied by alpha in Eq. 4 and its variants, per response [B]."""
    if reweight in ("prompt", "exploratory") and prompt_confidence is None:
        raise ValueError(f"reweight={reweight!r} needs prompt_confidence (c(q) of Eq. 5)")
    c_o = response_confidence
    if reweight == "prompt":
        return prompt_confidence - c_o  # Eq. 4
    if reweight == "exploratory":
        return 1.0 - prompt_confidence - c_o  # Sec. 4.5
    if reweight == "absolute":
        return -c_o  # Tab. 7
    finite = torch.isfinite(c_o)
    sums = _group_sum(torch.where(finite, c_o, torch.zeros_like(c_o)), dense, num_groups)
    counts = _group_sum(finite.to(c_o.dtype), dense, num_groups)
    return (sums / counts)[dense] - c_o  # App. A, Eq. 10: mean_j c(o_j) - c(o_i)


def progrpo_advantages(
    rewards: torch.Tensor,
    group_ids: torch.Tensor,
    response_confidence: torch.Tensor,
    prompt_confidence: torch.Tensor | None = None,
    *,
    alpha: float = 0.3,
    reweight: str = "prompt",
    gate: str = "mixed",
    correct: torch.Tensor | None = None,
    preserve_sign: bool = False,
    std: str = "unbiased",
    eps: float = 1e-6,
) -> torch.Tensor:
    """ProGRPO's re-weighted advantage (Eq. 4; Algorithm 1, lines 13-27).

    A~_i = A_i + alpha * term_i, where A is `grpo_advantages` and term_i is
    "prompt": c(q) - c(o_i|q) (Eq. 4); "group_mean": mean_j c(o_j|q) - c(o_i|q) (App. A,
    Eq. 10); "exploratory": 1 - c(q) - c(o_i|q) (Sec. 4.5); "absolute": -c(o_i|q) (Tab. 7).
    The term applies to groups with 0 < #correct < G (`gate="mixed"`, Algorithm 1) or with
    #correct > 0 (`gate="any_correct"`, Eq. 4 as printed). Confidences are per row [B];
    `prompt_confidence` repeats c(q) for every response of its prompt. See the module
    docstring for NaN handling and `preserve_sign` (App. A.4).
    """
    _check_choice("reweight", reweight, REWEIGHT_MODES)
    _check_choice("gate", gate, GATE_MODES)
    rewards = _as_float(rewards)  # [B]
    advantages = grpo_advantages(rewards, group_ids, std=std, eps=eps)  # [B]
    dense, num_groups = _group_index(group_ids)
    is_correct = (rewards > 0) if correct is None else correct.to(torch.bool)
    group_size = _group_sum(torch.ones_like(rewards), dense, num_groups)[dense]  # [B]
    num_correct = _group_sum(is_correct.to(rewards.dtype), dense, num_groups)[dense]  # [B]
    gated = num_correct > 0
    if gate == "mixed":
        gated = gated & (num_correct < group_size)

    response_confidence = response_confidence.to(advantages.dtype)
    if prompt_confidence is not None:
        prompt_confidence = prompt_confidence.to(advantages.dtype)
    term = _confidence_term(reweight, response_confidence, prompt_confidence, dense, num_groups)
    apply = gated & torch.isfinite(term)
    reweighted = torch.where(apply, advantages + alpha * torch.nan_to_num(term), advantages)
    if preserve_sign:
        flipped = (advantages * reweighted < 0) & apply
        reweighted = torch.where(flipped, torch.zeros_like(reweighted), reweighted)
    return reweighted


class PolicyLossStats(NamedTuple):
    clip_fraction: torch.Tensor  # share of valid tokens whose gradient the clip removed
    clip_fraction_low: torch.Tensor  # ... with ratio < 1 - clip_low (A < 0)
    clip_fraction_high: torch.Tensor  # ... with ratio > 1 + clip_high (A > 0)
    ratio_mean: torch.Tensor
    ratio_max: torch.Tensor
    approx_kl: torch.Tensor  # mean of old_logprob - logprob over valid tokens (k1)
    num_tokens: torch.Tensor
    selected_fraction: torch.Tensor = torch.tensor(0.0)  # KL-Cov / Clip-Cov: share of valid tokens selected


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, values, torch.zeros_like(values)).sum() / mask.sum().clamp(min=1)


def aggregation_normaliser(mask: torch.Tensor, aggregation: str, group_ids: torch.Tensor | None = None) -> int:
    """What `aggregation` divides by: the valid tokens ("token-mean"), the sequences with tokens
    ("seq-mean-token-mean") or the groups with tokens ("group-token-mean") of the batch."""
    _check_choice("aggregation", aggregation, AGGREGATIONS)
    mask = mask.to(torch.bool)
    if aggregation == "token-mean":
        return int(mask.sum().item())
    row_tokens = mask.sum(dim=1)  # [B]
    if aggregation == "seq-mean-token-mean":
        return int((row_tokens > 0).sum().item())
    if group_ids is None:
        raise ValueError("aggregation='group-token-mean' needs group_ids")
    dense, num_groups = _group_index(group_ids)
    return int((_group_sum(row_tokens.to(torch.float64), dense, num_groups) > 0).sum().item())


def aggregation_weights(
    mask: torch.Tensor, aggregation: str, group_ids: torch.Tensor | None = None, *, normaliser: float | None = None
) -> torch.Tensor:
    """Per-token weights [B, T] whose weighted sum is the aggregation (they sum to 1).

    "token-mean": 1 / N, N = valid tokens of the batch; "seq-mean-token-mean": 1 / (N x the
    row's tokens), N = sequences with tokens; "group-token-mean": 1 / (N x the group's tokens),
    N = groups with tokens. N is `aggregation_normaliser(mask, ...)` unless `normaliser` is given:
    a trainer that splits a mini-batch into micro-batches slices these weights, and one that
    splits it across processes passes the sum of every process's normaliser, so the loss reduces
    exactly as if the mini-batch were one batch (a group's rows must stay on one process).
    """
    if normaliser is None:
        normaliser = aggregation_normaliser(mask, aggregation, group_ids)
    _check_choice("aggregation", aggregation, AGGREGATIONS)
    valid = mask.to(torch.bool).to(torch.float64)
    normaliser = max(float(normaliser), 1.0)
    if aggregation == "token-mean":
        return valid / normaliser
    row_tokens = valid.sum(dim=1, keepdim=True)  # [B, 1]
    if aggregation == "seq-mean-token-mean":
        return valid / row_tokens.clamp(min=1) / normaliser
    dense, num_groups = _group_index(group_ids)
    group_tokens = _group_sum(row_tokens[:, 0], dense, num_groups)  # [G]
    return valid / group_tokens[dense][:, None].clamp(min=1) / normaliser


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
    aggregation: str = "token-mean",
    group_ids: torch.Tensor | None = None,
    token_weights: torch.Tensor | None = None,
    loss: str = "ppo_clip",
    kl_cov_ratio: float = 0.0002,
    ppo_kl_coef: float = 1.0,
    clip_cov_ratio: float = 0.0002,
    clip_cov_lb: float = 1.0,
    clip_cov_ub: float = 5.0,
    token_selection: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, PolicyLossStats]:
    """The policy-gradient surrogate, negated for minimisation: loss = -sum_t w_t * J_t.

    rho_t = exp(logprobs - old_logprobs) per token; w_t the aggregation's weights (module docstring;
    `token_weights` [B, T] replaces them: a trainer passes a micro-batch's slice of the weights of
    its whole mini-batch, see `aggregation_weights`). J_t by `loss`:
    - "ppo_clip", the clipped surrogate with clip-higher (Eq. 7):
          J_t = min(rho_t A, clip(rho_t, 1 - clip_low, 1 + clip_high) A)
    - "kl_cov" (Cui et al. 2025, verl's `compute_policy_loss_kl_cov`; no clip):
          J_t = rho_t A - ppo_kl_coef * |log rho_t| * [t in S]
    - "clip_cov" (Cui et al. 2025, verl's `compute_policy_loss_clip_cov`): J_t = PPO's J_t * [t not in S]
    S is `token_selection` [B, T], the covariance-selected tokens (`progrpo_train.covariance`), which a
    trainer computes once per mini-batch; None: selected from this call's tensors with
    `kl_cov_ratio` or `clip_cov_ratio`, `clip_cov_lb`, `clip_cov_ub` (Clip-Cov's random draw from
    `generator`), so one batch given as one call gives verl's loss. `logprobs`, `old_logprobs`,
    `mask`: [B, T]; `advantages`: [B] (one per response) or [B, T]. Masked positions never
    contribute, even if they hold inf or NaN.
    """
    _check_choice("loss", loss, PPO_LOSSES)
    mask = mask.to(torch.bool)
    if token_weights is None:
        token_weights = aggregation_weights(mask, aggregation, group_ids)
    if advantages.dim() == 1:
        advantages = advantages[:, None]  # [B, 1]
    advantages = advantages.to(logprobs.dtype)
    log_ratio = torch.where(mask, logprobs - old_logprobs, torch.zeros_like(logprobs))  # [B, T]
    ratio = torch.exp(log_ratio)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * advantages
    if loss != "ppo_clip" and token_selection is None:
        token_selection = _select_tokens(
            logprobs,
            torch.where(mask, old_logprobs, logprobs),
            advantages,
            mask,
            loss=loss,
            clip_low=clip_low,
            clip_high=clip_high,
            kl_cov_ratio=kl_cov_ratio,
            clip_cov_ratio=clip_cov_ratio,
            clip_cov_lb=clip_cov_lb,
            clip_cov_ub=clip_cov_ub,
            generator=generator,
        )
    selected = torch.zeros_like(mask) if token_selection is None else token_selection.to(torch.bool) & mask
    if loss == "kl_cov":
        objective = unclipped - ppo_kl_coef * log_ratio.abs() * selected
        was_clipped = torch.zeros_like(mask)
    else:
        objective = torch.minimum(unclipped, clipped)  # [B, T]
        objective = torch.where(selected, torch.zeros_like(objective), objective)  # clip_cov: no gradient
        was_clipped = mask & (clipped < unclipped)
    weighted = torch.where(mask, objective * token_weights.to(objective.dtype), torch.zeros_like(objective))

    with torch.no_grad():
        stats = PolicyLossStats(
            clip_fraction=masked_mean(was_clipped.float(), mask),
            clip_fraction_low=masked_mean((was_clipped & (ratio < 1)).float(), mask),
            clip_fraction_high=masked_mean((was_clipped & (ratio > 1)).float(), mask),
            ratio_mean=masked_mean(ratio, mask),
            ratio_max=torch.where(mask, ratio, torch.zeros_like(ratio)).max(),
            approx_kl=masked_mean(-log_ratio, mask),
            num_tokens=mask.sum(),
            selected_fraction=masked_mean(selected.float(), mask),
        )
    return -weighted.sum(), stats


def _select_tokens(
    logprobs,
    old_logprobs,
    advantages,
    mask,
    *,
    loss,
    clip_low,
    clip_high,
    kl_cov_ratio,
    clip_cov_ratio,
    clip_cov_lb,
    clip_cov_ub,
    generator,
) -> torch.Tensor:
    """One call's own covariance selection (the trainer selects over the whole mini-batch instead)."""
    advantages = advantages.expand_as(logprobs)
    if loss == "kl_cov":
        return kl_cov_selection(logprobs, advantages, mask, kl_cov_ratio=kl_cov_ratio)
    return clip_cov_selection(
        logprobs,
        old_logprobs,
        advantages,
        mask,
        clip_low=clip_low,
        clip_high=clip_high,
        clip_cov_ratio=clip_cov_ratio,
        clip_cov_lb=clip_cov_lb,
        clip_cov_ub=clip_cov_ub,
        generator=generator,
    )


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k3") -> torch.Tensor:
    """Per-token KL estimate to the reference policy [B, T], with verl's names (`core_algos.kl_penalty`):
    "k1": log pi - log pi_ref; "abs": |log pi - log pi_ref|; "k2": (log pi - log pi_ref)^2 / 2;
    "k3" (low-variance): exp(d) - d - 1 with d = log pi_ref - log pi clamped to [-20, 20], the result
    clamped to [-10, 10] (verl's `low_var_kl`, its default for the KL loss)."""
    _check_choice("KL estimator", estimator, KL_ESTIMATORS)
    difference = logprobs - ref_logprobs
    if estimator == "k1":
        return difference
    if estimator == "abs":
        return difference.abs()
    if estimator == "k2":
        return 0.5 * difference.square()
    reverse = torch.clamp(-difference, min=-20, max=20)
    return torch.clamp(torch.exp(reverse) - reverse - 1, min=-10, max=10)
