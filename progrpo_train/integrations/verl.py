"""ProGRPO inside verl: the advantage estimator "progrpo" (Eq. 4) on `progrpo_advantages`.

Importing this module registers the estimator with verl's `register_adv_est("progrpo")` and
installs the trainer hook of `verl_trainer.py`, which hands the estimator the log-probs it needs
(verl passes registered estimators only rewards, the response mask and the group index). verl
imports it in every process by itself, in either of two ways:
- the `verl.plugins` entry point this package declares (verl >= 0.9 loads every installed plugin
  on `import verl` unless VERL_USE_EXTERNAL_PLUGINS=none), or
- `VERL_USE_EXTERNAL_MODULES=progrpo_train.integrations.verl`, for an install without entry points.
Then `algorithm.adv_estimator=progrpo` switches it on; its knobs are `+algorithm.progrpo.<key>`
(`ProGRPOSettings`), e.g. `+algorithm.progrpo.alpha=0.3 +algorithm.progrpo.correct_key=acc`.

The estimator computes c(o|q) (Eq. 6) from verl's `old_log_probs` and c(q) (Eq. 5) from the
prompt's log-probs of the same forward pass, both with `low_prob_confidence`; the group index
is verl's `uid`. verl computes advantages on the driver over the whole batch, so every group is
whole whatever the number of nodes.

Decisions:
1. Group statistics as verl's "grpo": unbiased std, epsilon 1e-6; `norm_adv_by_std_in_grpo=False`
   (Dr. GRPO) is refused, since Eq. 3 divides by the std.
2. The gate counts correct answers: `correct_key` names a per-response entry of verl's
   `reward_extra_info` (the DAPO reward manager's "acc": a bool, or a number counted correct when
   > 0); without it a response is correct when its summed token-level reward is > 0 (verl's DAPO
   score is +1 / -1, and an overlong penalty can push a correct answer to <= 0: set
   `correct_key=acc` there).
3. The log-probs are verl's `old_log_probs` and the prompt's from the same `compute_log_prob`
   call: at the temperature verl scores with (1.0 in the paper's setup and the example).
4. Without prompt log-probs (e.g. verl's v1 TransferQueue trainer, which the hook does not
   cover) the estimator raises, except for the reweights that need no c(q) ("group_mean",
   "absolute"); without `old_log_probs` it always raises.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from verl.trainer.ppo import core_algos

from progrpo_eval.metrics.tokens import low_prob_confidence
from progrpo_train.algorithm import progrpo_advantages
from progrpo_train.choices import GATE_MODES, REWEIGHT_MODES, STD_MODES
from progrpo_train.integrations.verl_trainer import ESTIMATOR, install_trainer_hook


@dataclass(frozen=True)
class ProGRPOSettings:
    """`+algorithm.progrpo.<key>`: the keyword arguments of `progrpo_advantages`, plus where correctness lives."""

    alpha: float = 0.3  # weight of the confidence term (Tab. 6)
    reweight: str = "prompt"  # c(q) - c(o) (Eq. 4), group_mean (App. A), exploratory (Sec. 4.5), absolute (Tab. 7)
    gate: str = "mixed"  # re-weight groups with 0 < #correct < G (Alg. 1) or #correct > 0 (Eq. 4)
    preserve_sign: bool = False  # clamp A~ to 0 where the term flips A (App. A.4)
    low_prob_fraction: float = 0.2  # share of lowest-probability tokens in c (Eq. 5/6)
    std: str = "unbiased"  # group std: torch.std's (verl) or population (App. A.1)
    correct_key: str | None = None  # reward_extra_info entry holding correctness (e.g. "acc"); None: reward > 0

    def __post_init__(self):
        for name, value, known in (
            ("reweight", self.reweight, REWEIGHT_MODES),
            ("gate", self.gate, GATE_MODES),
            ("std", self.std, STD_MODES),
        ):
            if value not in known:
                raise ValueError(f"unknown algorithm.progrpo.{name} {value!r}; known: {', '.join(known)}")
        if not 0 < self.low_prob_fraction <= 1:
            raise ValueError(f"algorithm.progrpo.low_prob_fraction must be in (0, 1], got {self.low_prob_fraction}")

    @classmethod
    def from_algorithm_config(cls, config) -> ProGRPOSettings:
        """The settings under `algorithm.progrpo` of verl's config (a DictConfig, a dict or verl's AlgoConfig)."""
        if config is not None and not (config.get("norm_adv_by_std_in_grpo", True)):
            raise ValueError(
                "adv_estimator=progrpo divides by the group std (Eq. 3): norm_adv_by_std_in_grpo=False "
                "(Dr. GRPO) is not supported"
            )
        section = None if config is None else config.get("progrpo", None)
        values = dict(section.items()) if section is not None else {}
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown key(s) algorithm.progrpo.{', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)


def group_ids_from_index(index) -> torch.Tensor:
    """verl's per-response group index (`uid`: strings or ints) as dense int ids [B]."""
    _, dense = np.unique(np.asarray(index), return_inverse=True)
    return torch.as_tensor(dense.reshape(-1), dtype=torch.long)


@core_algos.register_adv_est(ESTIMATOR)
def compute_progrpo_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    epsilon: float = 1e-6,
    config=None,
    old_log_probs: torch.Tensor | None = None,
    prompt_log_probs: torch.Tensor | None = None,
    prompt_logprob_mask: torch.Tensor | None = None,
    correct: torch.Tensor | None = None,
    **_: object,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ProGRPO's advantage (Eq. 4; Algorithm 1) as a verl outcome estimator: (advantages, returns), [B, T] each.

    `token_level_rewards`, `response_mask`, `old_log_probs`: [B, T] over the response;
    `prompt_log_probs`, `prompt_logprob_mask`: [B, P] over prompt tokens 2..len(q); `index`: the
    group of each response; `correct`: bool [B] (None: summed reward > 0). The sequence-level
    advantage is broadcast over the response tokens, as verl's "grpo" does.
    """
    settings = ProGRPOSettings.from_algorithm_config(config)
    if old_log_probs is None:
        raise ValueError(
            "adv_estimator=progrpo needs old_log_probs: run verl's RayPPOTrainer "
            "(trainer.use_v1=False) with progrpo_train.integrations.verl loaded (see its docstring)"
        )
    if prompt_log_probs is None and settings.reweight in ("prompt", "exploratory"):
        raise ValueError(
            f"algorithm.progrpo.reweight={settings.reweight!r} needs the prompt's log-probs, which only "
            "verl's RayPPOTrainer with progrpo_train.integrations.verl loaded provides "
            "(trainer.use_v1=False); reweight=group_mean or absolute need none"
        )
    mask = response_mask.bool()
    rewards = token_level_rewards.sum(dim=-1)  # [B]
    with torch.no_grad():
        response_confidence = low_prob_confidence(old_log_probs.float(), mask, settings.low_prob_fraction)
        prompt_confidence = None
        if prompt_log_probs is not None:
            prompt_confidence = low_prob_confidence(
                prompt_log_probs.float(), prompt_logprob_mask.bool(), settings.low_prob_fraction
            )
        advantages = progrpo_advantages(
            rewards,
            group_ids_from_index(index).to(rewards.device),
            response_confidence,
            prompt_confidence,
            alpha=settings.alpha,
            reweight=settings.reweight,
            gate=settings.gate,
            correct=correct,
            preserve_sign=settings.preserve_sign,
            std=settings.std,
            eps=epsilon,
        )
        scores = advantages.to(token_level_rewards.dtype).unsqueeze(-1) * response_mask
    return scores, scores


install_trainer_hook()
