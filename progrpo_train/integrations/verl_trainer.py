"""The trainer hook that hands verl's "progrpo" estimator its log-probs (verl 0.9's RayPPOTrainer).

Where the prompt's log-probs come from: verl 0.9's actor (`engine_workers.ActorRolloutRefWorker.
compute_log_prob`, FSDP and Megatron engines alike) scores every token of prompt + response in one
forward pass and returns the log-probs packed per sequence; the trainer then keeps only the
response's (`verl.workers.utils.padding.no_padding_2_padding`). So no worker subclass is needed
(verl <= 0.6's FlowRL recipe subclassed the actor because its dp_actor scored the response only):
the prompt's log-probs are the other slice of that same tensor, taken on the driver.

Two wrappers, installed by `install_trainer_hook()` (importing `progrpo_train.integrations.verl`
calls it); both run verl's own code unchanged unless algorithm.adv_estimator is "progrpo":
1. `RayPPOTrainer._compute_old_log_prob`: verl's method runs as is; the hook keeps the worker
   group's packed log-probs of that call and adds `prompt_log_probs` [B, P] and
   `prompt_logprob_mask` [B, P] next to `old_log_probs`.
2. `ray_trainer.compute_advantage` (what `RayPPOTrainer.fit` calls): calls the estimator with
   `old_log_probs`, the prompt's log-probs and correctness (`algorithm.progrpo.correct_key`), then
   drops the prompt's log-probs from the batch (the actor update does not use them).
verl's v1 trainer (TransferQueue, `trainer.use_v1=True`) is not hooked: its old-log-prob step keeps
only the response's log-probs, so there the estimator gets no c(q) (see verl.py, Decision 4).
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import torch

ESTIMATOR = "progrpo"
PROMPT_KEYS = ("prompt_log_probs", "prompt_logprob_mask")
_ORIGINALS: dict[str, object] = {}


def _name(estimator) -> str:
    return estimator.value if isinstance(estimator, Enum) else str(estimator)


def _sequence_lengths(data) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt and response lengths [B] of the batch the worker scored, read as `no_padding_2_padding` reads them."""
    prompts, responses = data["prompts"], data["responses"]
    if prompts.is_nested:
        return prompts.offsets().diff(), responses.offsets().diff()
    attention = data["attention_mask"]
    return attention[:, : prompts.shape[1]].sum(dim=1), attention[:, prompts.shape[1] :].sum(dim=1)


def prompt_logprobs_from_packed(log_probs: torch.Tensor, data) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(q_t | q_<t) for t = 2..len(q) of each row [B, P] and its mask [B, P], P = longest prompt - 1.

    `log_probs`: verl's packed full-sequence log-probs (nested [B, j] or flat [total tokens]),
    position j of a sequence holding log p(x_{j+1} | x_<=j); `data`: the TensorDict the worker
    scored (after `left_right_2_no_padding`). The response's slice of the same tensor is verl's
    `old_log_probs`.
    """
    values = log_probs.values() if log_probs.is_nested else log_probs
    prompt_lens, response_lens = (lengths.cpu().long() for lengths in _sequence_lengths(data))
    sequence_lens = prompt_lens + response_lens
    if int(sequence_lens.sum()) != values.shape[0]:
        raise ValueError(f"{values.shape[0]} packed log-probs for {int(sequence_lens.sum())} tokens")
    starts = sequence_lens.cumsum(dim=0) - sequence_lens
    width = max(int(prompt_lens.max()) - 1, 1)
    prompt_log_probs = torch.zeros((len(prompt_lens), width), dtype=torch.float32)
    mask = torch.zeros((len(prompt_lens), width), dtype=torch.bool)
    for row, (start, length) in enumerate(zip(starts.tolist(), (prompt_lens - 1).tolist())):
        prompt_log_probs[row, :length] = values[start : start + length].float().cpu()
        mask[row, :length] = True
    return prompt_log_probs, mask


def _uses_progrpo(config) -> bool:
    return _name(config.algorithm.adv_estimator) == ESTIMATOR


def _compute_old_log_prob(self, batch):
    """verl's `_compute_old_log_prob`, plus the prompt's log-probs of the same forward pass."""
    original = _ORIGINALS["_compute_old_log_prob"]
    if not _uses_progrpo(self.config):
        return original(self, batch)
    calls = []
    workers = self.actor_rollout_wg
    compute_log_prob = workers.compute_log_prob

    def recording(batch_td):
        output = compute_log_prob(batch_td)
        calls.append((output, batch_td))
        return output

    workers.compute_log_prob = recording
    try:
        old_log_prob, mfu = original(self, batch)
    finally:
        workers.compute_log_prob = compute_log_prob
    from verl.utils import tensordict_utils

    output, scored = calls[-1]
    prompt_log_probs, prompt_mask = prompt_logprobs_from_packed(tensordict_utils.get(output, "log_probs"), scored)
    old_log_prob.batch["prompt_log_probs"] = prompt_log_probs
    old_log_prob.batch["prompt_logprob_mask"] = prompt_mask
    return old_log_prob, mfu


def _correctness(data, config) -> torch.Tensor | None:
    section = None if config is None else config.get("progrpo", None)
    key = None if section is None else section.get("correct_key", None)
    if key is None:
        return None
    if key not in data.non_tensor_batch:
        raise ValueError(
            f"algorithm.progrpo.correct_key={key!r} is not in the batch's reward_extra_info "
            f"(present: {', '.join(sorted(data.non_tensor_batch)) or 'none'})"
        )
    return torch.tensor([_is_correct(value) for value in data.non_tensor_batch[key]], dtype=torch.bool)


def _is_correct(value) -> bool:
    """A reward_extra_info verdict: a bool as is, a number when > 0 (verl stores a float score as "acc")."""
    return bool(value) if isinstance(value, (bool, np.bool_)) else float(value) > 0


def compute_advantage(data, adv_estimator, gamma=1.0, lam=1.0, num_repeat=1, norm_adv_by_std_in_grpo=True, config=None):
    """verl's `ray_trainer.compute_advantage`; for "progrpo" it also passes the log-probs and correctness."""
    if _name(adv_estimator) != ESTIMATOR:
        return _ORIGINALS["compute_advantage"](
            data, adv_estimator, gamma, lam, num_repeat, norm_adv_by_std_in_grpo, config
        )
    from verl.trainer.ppo import core_algos, ray_trainer

    if not norm_adv_by_std_in_grpo:
        raise ValueError(
            "adv_estimator=progrpo divides by the group std (Eq. 3): norm_adv_by_std_in_grpo=False "
            "(Dr. GRPO) is not supported"
        )
    batch = data.batch
    if "response_mask" not in batch.keys():
        batch["response_mask"] = ray_trainer.compute_response_mask(data)
    present = lambda key: batch[key] if key in batch.keys() else None  # noqa: E731
    advantages, returns = core_algos.get_adv_estimator_fn(ESTIMATOR)(
        token_level_rewards=batch["token_level_rewards"],
        response_mask=batch["response_mask"],
        index=data.non_tensor_batch["uid"],
        config=config,
        old_log_probs=present("old_log_probs"),
        prompt_log_probs=present("prompt_log_probs"),
        prompt_logprob_mask=present("prompt_logprob_mask"),
        correct=_correctness(data, config),
    )
    batch["advantages"], batch["returns"] = advantages, returns
    for key in PROMPT_KEYS:
        if key in batch.keys():
            batch.pop(key)
    return data


def install_trainer_hook() -> None:
    """Wrap RayPPOTrainer's old-log-prob step and ray_trainer.compute_advantage (once per process)."""
    from verl.trainer.ppo import ray_trainer

    if _ORIGINALS:
        return
    _ORIGINALS["compute_advantage"] = ray_trainer.compute_advantage
    _ORIGINALS["_compute_old_log_prob"] = ray_trainer.RayPPOTrainer._compute_old_log_prob
    ray_trainer.compute_advantage = compute_advantage
    ray_trainer.RayPPOTrainer._compute_old_log_prob = _compute_old_log_prob
