"""The training objective of one mini-batch, as a sum of micro-batch losses that reduces exactly.

    loss = policy term (`algorithm.loss`: `policy_loss` for ppo_clip / kl_cov / clip_cov, or
           `flowrl_loss`) + kl_coef * sum_t w_t KL_t(pi || pi_ref) - entropy_coef * sum_t w_t H_t

with w the aggregation weights of the whole mini-batch (normalised over every process's share)
and KL_t `kl_penalty` with `algorithm.kl_estimator` (verl's `use_kl_loss`: a loss term, not a
reward penalty). Whatever needs the whole mini-batch is computed once in `prepare`, before the
first micro-batch: the weights, FlowRL's per-sequence weights, and KL-Cov / Clip-Cov's token
selection, for which the current policy's log-probs of the whole mini-batch are needed first (one
forward pass without gradients), with the covariance's means, token count and top tokens gathered
across processes. Clip-Cov's random draw and tie-breaking use keys derived from (seed, step,
epoch, update, prompt, sample), so resumed and data-parallel runs select the same tokens.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from progrpo_train.algorithm import aggregation_normaliser, aggregation_weights, kl_penalty, masked_mean, policy_loss
from progrpo_train.batch import RolloutBatch, policy_forward, sequence_logprobs
from progrpo_train.config import AlgorithmConfig
from progrpo_train.covariance import clip_cov_selection, kl_cov_selection, mini_batch_means, token_keys
from progrpo_train.distributed import all_gather, all_reduce_sum
from progrpo_train.flowrl import flowrl_loss, prompt_representation


class PreparedMiniBatch(NamedTuple):
    rows: RolloutBatch
    old_logprobs: torch.Tensor  # [b, T-1]
    advantages: torch.Tensor  # [b]
    ref_logprobs: torch.Tensor | None  # [b, T-1]
    token_weights: torch.Tensor  # [b, T-1], summing to 1 over the mini-batch on all processes
    token_selection: torch.Tensor | None  # [b, T-1], KL-Cov / Clip-Cov


def _weighted_sum(values: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, values * weights.to(values.dtype), torch.zeros_like(values)).sum()


class Objective:
    def __init__(self, algorithm: AlgorithmConfig, micro_batch_size: int):
        self.algorithm, self.micro_batch_size = algorithm, micro_batch_size

    def prepare(
        self,
        policy,
        rows: RolloutBatch,
        old_logprobs: torch.Tensor,
        advantages: torch.Tensor,
        ref_logprobs: torch.Tensor | None,
        salt: tuple,
    ) -> PreparedMiniBatch:
        algorithm, mask = self.algorithm, rows.response_mask
        normaliser = all_reduce_sum(aggregation_normaliser(mask, algorithm.aggregation, rows.group_ids))
        weights = aggregation_weights(mask, algorithm.aggregation, rows.group_ids, normaliser=normaliser)
        selection = None
        if algorithm.loss in ("kl_cov", "clip_cov"):
            selection = self._select(policy, rows, old_logprobs, advantages, salt)
        return PreparedMiniBatch(rows, old_logprobs, advantages, ref_logprobs, weights, selection)

    def _select(self, policy, rows: RolloutBatch, old_logprobs, advantages, salt) -> torch.Tensor:
        """Cui et al.'s tokens over the whole mini-batch (covariance.py), from the current policy."""
        algorithm, mask = self.algorithm, rows.response_mask
        current = sequence_logprobs(policy, rows, self.micro_batch_size)
        shared = {
            "num_tokens": int(all_reduce_sum(float(mask.sum()))),
            "gather": all_gather,
            "centre": mini_batch_means(current, advantages, mask, all_reduce_sum),
            "keys": token_keys(rows.row_seeds, mask, algorithm.loss, *salt),
        }
        if algorithm.loss == "kl_cov":
            return kl_cov_selection(current, advantages, mask, kl_cov_ratio=algorithm.kl_cov_ratio, **shared)
        return clip_cov_selection(
            current,
            old_logprobs,
            advantages,
            mask,
            clip_low=algorithm.clip_low,
            clip_high=algorithm.clip_high,
            clip_cov_ratio=algorithm.clip_cov_ratio,
            clip_cov_lb=algorithm.clip_cov_lb,
            clip_cov_ub=algorithm.clip_cov_ub,
            **shared,
        )

    def loss(self, policy, mini: PreparedMiniBatch, part: slice) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of micro-batch `part` of a prepared mini-batch (its gradient adds up to the whole's)."""
        algorithm = self.algorithm
        rows = mini.rows.rows(part)
        outputs = policy_forward(policy, rows, entropy=algorithm.entropy_coef > 0, hidden=algorithm.loss == "flowrl")
        device = outputs.logprobs.device
        mask, weights = rows.response_mask.to(device), mini.token_weights[part].to(device)
        old, advantages = mini.old_logprobs[part].to(device), mini.advantages[part].to(device)
        ref = mini.ref_logprobs[part].to(device) if mini.ref_logprobs is not None else None
        selection = mini.token_selection[part].to(device) if mini.token_selection is not None else None
        is_flowrl = algorithm.loss == "flowrl"
        with torch.set_grad_enabled(not is_flowrl):  # FlowRL: the PPO terms are statistics only
            loss, ppo_stats = policy_loss(
                outputs.logprobs,
                old,
                advantages,
                mask,
                clip_low=algorithm.clip_low,
                clip_high=algorithm.clip_high,
                token_weights=weights,
                loss="ppo_clip" if is_flowrl else algorithm.loss,
                kl_cov_ratio=algorithm.kl_cov_ratio,
                ppo_kl_coef=algorithm.ppo_kl_coef,
                token_selection=selection,
            )
        stats = dict(ppo_stats._asdict())
        if is_flowrl:
            module = getattr(policy, "module", policy)
            log_z = module.log_z_head(prompt_representation(outputs.hidden, rows.prompt_mask.to(device)))
            loss, flow_stats = flowrl_loss(
                outputs.logprobs,
                old,
                ref,
                log_z.float(),
                advantages,
                mask,
                beta=algorithm.flowrl_beta,
                weight_cap=algorithm.flowrl_weight_cap,
                sequence_weights=weights.sum(dim=1),
            )
            zero = torch.zeros((), device=device)  # FlowRL clips no ratio (its weight cap: capped_fraction)
            stats.update(flow_stats._asdict(), clip_fraction=zero, clip_fraction_low=zero, clip_fraction_high=zero)
        if algorithm.kl_coef > 0:
            kl = kl_penalty(outputs.logprobs, ref, algorithm.kl_estimator)
            loss = loss + algorithm.kl_coef * _weighted_sum(kl, weights, mask)
            stats["kl_ref"] = masked_mean(kl.detach(), mask)
        if algorithm.entropy_coef > 0:
            loss = loss - algorithm.entropy_coef * _weighted_sum(outputs.entropy, weights, mask)
        return loss, stats
