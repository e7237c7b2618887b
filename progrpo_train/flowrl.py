"""FlowRL (Zhu et al. 2025, "FlowRL: Matching Reward Distributions for LLM Reasoning", arXiv 2509.15207)
as a training objective: trajectory balance with a learned log-partition function.

For a prompt q_i and its response y_i (|y_i| tokens), the squared trajectory-balance residual

    delta_i = log Z(q_i) + (1/|y_i|) sum_t log pi_theta(y_it) - beta * r_i - (1/|y_i|) sum_t log pi_ref(y_it)
    L       = sum_i s_i * w_i * delta_i^2,   w_i = min(exp(sum_t (log pi_theta - log pi_old)(y_it)), weight_cap)

with w_i detached (the importance weight of the off-policy update), s_i = 1 / (number of sequences)
(a mean over the mini-batch's sequences), pi_ref the frozen initial policy.

Decisions, following the authors' released recipe (github.com/Xuekai-Zhu/FlowRL, verl_FlowRL
`dp_actor.compute_flowrl_objective`; verl's `recipe/flowrl`):
1. The reward r_i is the group-normalised reward, i.e. the GRPO advantage (the release passes
   verl's GRPO advantages as `reward`); beta = 15 (`algorithm.flowrl_beta`).
2. Length normalisation: both log-likelihood terms are means over the response tokens.
3. The importance weight is capped at 10 (`algorithm.flowrl_weight_cap`), as in the release.
4. log Z(q) = the head's output on the mean of the policy's last hidden state over the prompt's
   tokens except its last (the release slices the prompt that way). The head is FlowRL's
   `ProjZModule`: (Linear, GELU, LayerNorm, Dropout) x (layers - 1), then Linear to one number;
   3 layers, dropout 0.1. Gradients flow into the policy through the hidden state, as released.
   It is attached to the policy as `log_z_head`, so DeepSpeed trains, shards and checkpoints it
   with the policy; the Hugging Face export and the vLLM weight sync leave it out.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

LOG_Z_PREFIX = "log_z_head."  # parameter names of the head inside the policy


class LogZHead(torch.nn.Module):
    """log Z(q) from a prompt representation [B, H] -> [B]."""

    def __init__(self, hidden_size: int, layers: int = 3, dropout: float = 0.1):
        super().__init__()
        blocks: list[torch.nn.Module] = []
        for _ in range(layers - 1):
            blocks += [
                torch.nn.Linear(hidden_size, hidden_size),
                torch.nn.GELU(),
                torch.nn.LayerNorm(hidden_size),
                torch.nn.Dropout(dropout),
            ]
        blocks.append(torch.nn.Linear(hidden_size, 1))
        self.net = torch.nn.Sequential(*blocks)

    def forward(self, prompt_representation: torch.Tensor) -> torch.Tensor:
        return self.net(prompt_representation).squeeze(-1)


def attach_log_z_head(policy, layers: int, dropout: float, seed: int) -> None:
    """Give `policy` its log Z head, initialised from `seed` (the same weights on every process)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = LogZHead(policy.config.hidden_size, layers, dropout)
    policy.log_z_head = head.to(next(policy.parameters()).dtype)


def prompt_representation(hidden: torch.Tensor, prompt_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the last hidden state [B, T, H] over positions t where `prompt_mask` [B, T-1] is true
    (the prompt's tokens except its last) -> [B, H]."""
    weights = prompt_mask.to(hidden.dtype)[:, :, None]  # [B, T-1, 1]
    return (hidden[:, :-1] * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)


class FlowRLStats(NamedTuple):
    log_z_mean: torch.Tensor
    residual_mean: torch.Tensor  # mean delta_i
    importance_weight_mean: torch.Tensor  # mean w_i after the cap
    capped_fraction: torch.Tensor  # share of sequences whose weight hit the cap
    ref_kl: torch.Tensor  # mean over valid tokens of log pi_ref - log pi (k1 to the reference)


def _row_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, values, torch.zeros_like(values)).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def flowrl_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor,
    log_z: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    beta: float = 15.0,
    weight_cap: float = 10.0,
    sequence_weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, FlowRLStats]:
    """FlowRL's weighted trajectory-balance loss (module docstring). logprobs, old_logprobs,
    ref_logprobs, mask: [B, T]; log_z, advantages: [B]. `sequence_weights` [B] replace 1/B (a
    trainer passes 1 / the mini-batch's sequences, summed over processes)."""
    mask = mask.to(torch.bool)
    if sequence_weights is None:
        sequence_weights = torch.full_like(log_z, 1.0 / max(len(log_z), 1))
    residual = (
        log_z + _row_mean(logprobs, mask) - beta * advantages.to(logprobs.dtype) - _row_mean(ref_logprobs, mask)
    )  # [B]
    log_weight = torch.where(mask, logprobs - old_logprobs, torch.zeros_like(logprobs)).sum(dim=1).detach()
    raw_weight = torch.exp(log_weight)
    weight = torch.clamp(raw_weight, max=weight_cap)
    loss = (sequence_weights.to(residual.dtype) * weight * residual.square()).sum()
    with torch.no_grad():
        valid = mask.sum().clamp(min=1)
        stats = FlowRLStats(
            log_z_mean=log_z.mean(),
            residual_mean=residual.mean(),
            importance_weight_mean=weight.mean(),
            capped_fraction=(raw_weight > weight_cap).float().mean(),
            ref_kl=torch.where(mask, ref_logprobs - logprobs, torch.zeros_like(logprobs)).sum() / valid,
        )
    return loss, stats
