"""ProGRPO inside TRL: `ProGRPOTrainer`, a `trl.GRPOTrainer` whose advantages are Eq. 4's.

`ProGRPOTrainer(model, reward_funcs, args=ProGRPOConfig(...), train_dataset=..., correct_fn=None)`
trains exactly as `GRPOTrainer` does (same generation, rewards, loss_type, clipping, logging),
except that each completion's advantage is `progrpo_advantages` (Eq. 4; Algorithm 1) instead of
TRL's group-normalised reward. With `alpha=0` the advantages, and so the loss, are GRPOTrainer's.

Where it hooks TRL (read against trl 1.16's `grpo_trainer.py`), once per generation batch:
1. `_calculate_rewards`: TRL returns the rewards gathered from every process; we keep them, and
   `correct_fn`'s verdicts, gathered the same way.
2. `_generate_and_score_completions`: after TRL has built the batch, one no-grad teacher-forced
   pass at T = 1 (`progrpo_eval.logprobs.token_logprobs`, as the evaluator and progrpo-train)
   scores every local prompt and completion, and `low_prob_confidence` gives c(q) (Eq. 5) and
   c(o|q) (Eq. 6). TRL left-pads prompts: each row is re-packed prompt-then-completion with
   right padding (`progrpo_train.batch.pad_rollouts`), so positions and masks are exactly
   progrpo-train's. c(q) and c(o|q) are gathered, `progrpo_advantages` runs on the generation
   batch of every process (each group whole, never a micro-batch), and this process's slice
   replaces TRL's advantages. TRL's `_compute_loss` is untouched.

Decisions:
1. Group statistics as TRL computes them: unbiased std and eps = 1e-4 (TRL's constant), so that
   alpha = 0 gives GRPOTrainer's advantages (to float32 rounding: TRL's variance is
   mean * n / (n - 1), `grpo_advantages`' is sum / (n - 1); they differ by at most an ulp).
2. The gate counts correct answers, not shaped reward. `correct_fn` has a TRL reward function's
   signature (`prompts`, `completions`, `completion_ids` and the dataset's columns as lists) and
   returns one bool per completion; without it a completion is correct when its total weighted
   reward is > 0 (0/1 and -1/+1 accuracy rewards). Pass `correct_fn` when a format bonus or a
   length penalty can make a wrong answer's reward positive.
3. Unscorable completions (every reward function returned None) are left out of their group's
   statistics and get advantage 0, as in TRL.
4. c(o|q) covers the tokens TRL's loss covers (completion_mask, times tool_mask with tools); a
   completion with no such token (e.g. masked by `mask_truncated_completions`) has confidence
   NaN and keeps A~ = A (`progrpo_advantages`' rule). c(q) covers every prompt token but the first.
5. Supported: `scale_rewards="group"` and `multi_objective_aggregation="sum_then_normalize"`
   (TRL's defaults; the others change the baseline that ProGRPO re-weights), text-only models.
6. `ProGRPOConfig` defaults to the paper's settings where TRL's differ: epsilon_high = 0.28
   (clip range [0.8, 1.28], Table 1). loss_type "dapo", beta 0, temperature 1 are TRL's defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from trl import GRPOConfig, GRPOTrainer

from progrpo_eval.logprobs import token_logprobs
from progrpo_eval.metrics.tokens import low_prob_confidence
from progrpo_train.algorithm import grpo_advantages, progrpo_advantages
from progrpo_train.batch import pad_rollouts
from progrpo_train.choices import GATE_MODES, REWEIGHT_MODES
from progrpo_train.metrics import value_stats

TRL_ADVANTAGE_EPS = 1e-4  # GRPOTrainer divides by (std + 1e-4)


@dataclass
class ProGRPOConfig(GRPOConfig):
    """`GRPOConfig` plus ProGRPO's knobs (the keyword arguments of `progrpo_advantages`)."""

    alpha: float = field(default=0.3, metadata={"help": "Weight of the confidence term in Eq. 4 (Tab. 6). 0: GRPO."})
    reweight: str = field(
        default="prompt",
        metadata={"help": "c(q) - c(o) (Eq. 4), group_mean (App. A), exploratory (Sec. 4.5) or absolute (Tab. 7)."},
    )
    gate: str = field(
        default="mixed", metadata={"help": "Re-weight groups with 0 < #correct < G (Alg. 1) or #correct > 0 (Eq. 4)."}
    )
    preserve_sign: bool = field(default=False, metadata={"help": "Clamp A~ to 0 where the term flips A (App. A.4)."})
    low_prob_fraction: float = field(
        default=0.2, metadata={"help": "Share of lowest-probability tokens in c (Eq. 5/6)."}
    )
    epsilon_high: float | None = field(
        default=0.28, metadata={"help": "Upper clip: ratio <= 1 + epsilon_high (Tab. 1)."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.reweight not in REWEIGHT_MODES:
            raise ValueError(f"unknown reweight {self.reweight!r}; known: {', '.join(REWEIGHT_MODES)}")
        if self.gate not in GATE_MODES:
            raise ValueError(f"unknown gate {self.gate!r}; known: {', '.join(GATE_MODES)}")
        if not 0 < self.low_prob_fraction <= 1:
            raise ValueError(f"low_prob_fraction must be in (0, 1], got {self.low_prob_fraction}")


CorrectFn = Callable[..., list[bool]]


class ProGRPOTrainer(GRPOTrainer):
    """`trl.GRPOTrainer` with ProGRPO's confidence-reweighted advantages (see the module docstring)."""

    def __init__(
        self,
        model,
        reward_funcs,
        args: ProGRPOConfig | None = None,
        *more,
        correct_fn: CorrectFn | None = None,
        **kwargs,
    ):
        args = ProGRPOConfig() if args is None else args
        if not isinstance(args, ProGRPOConfig):
            raise TypeError(f"ProGRPOTrainer needs a ProGRPOConfig (got {type(args).__name__})")
        if args.scale_rewards != "group" or args.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError(
                "ProGRPOTrainer supports scale_rewards='group' and multi_objective_aggregation='sum_then_normalize' "
                f"(got {args.scale_rewards!r}, {args.multi_objective_aggregation!r})"
            )
        super().__init__(model, reward_funcs, args, *more, **kwargs)
        self.correct_fn = correct_fn
        self._gathered_rewards_per_func: torch.Tensor | None = None
        self._gathered_correct: torch.Tensor | None = None

    # ------------------------------------------------------------------ hooks into GRPOTrainer
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)  # gathered
        self._gathered_rewards_per_func = rewards_per_func
        self._gathered_correct = None
        if self.correct_fn is not None:
            columns = {
                key: [x[key] for x in inputs]
                for key in inputs[0]
                if key not in ("prompt", "completion", "completion_ids")
            }
            verdicts = self.correct_fn(
                prompts=prompts, completions=completions, completion_ids=completion_ids_list, **columns
            )
            if len(verdicts) != len(prompts):
                raise ValueError(f"correct_fn returned {len(verdicts)} verdicts for {len(prompts)} completions")
            local = torch.tensor([bool(v) for v in verdicts], dtype=torch.float32, device=rewards_per_func.device)
            self._gathered_correct = self.accelerator.gather(local) > 0.5
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if "pixel_values" in output:
            raise ValueError("ProGRPOTrainer supports text-only models")
        mode = "train" if self.model.training else "eval"
        num_generations = self.num_generations if mode == "train" else self.num_generations_eval
        prompt_conf, response_conf = self._local_confidences(output, mode)
        prompt_conf, response_conf = self.accelerator.gather(prompt_conf), self.accelerator.gather(response_conf)
        base, advantages, correct = self._advantages(prompt_conf, response_conf, num_generations)

        local_rows = output["advantages"].shape[0]
        start = self.accelerator.process_index * local_rows
        output["advantages"] = advantages[start : start + local_rows]
        logged = self._logs["advantages"]  # TRL logged its own advantages of this batch last
        for _ in range(min(len(advantages), len(logged))):
            logged.pop()
        logged.extend(advantages.tolist())
        self._log_confidences(mode, base, advantages, prompt_conf, response_conf, correct)
        return output

    # ------------------------------------------------------------------ ProGRPO's pieces
    def _local_confidences(self, output: dict, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        loss_mask = output["completion_mask"]
        if "tool_mask" in output:
            loss_mask = loss_mask * output["tool_mask"]
        batch_size = self.args.per_device_train_batch_size if mode == "train" else self.args.per_device_eval_batch_size
        return teacher_forced_confidences(
            self.model,
            output["prompt_ids"],
            output["prompt_mask"],
            output["completion_ids"],
            output["completion_mask"],
            loss_mask,
            pad_id=self._tokenizer.pad_token_id or 0,
            batch_size=batch_size,
            fraction=self.args.low_prob_fraction,
        )

    def _advantages(self, prompt_conf, response_conf, num_generations):
        """GRPO's and ProGRPO's advantages [N] and correctness [N] of the whole (gathered) generation batch."""
        rewards_per_func = self._gathered_rewards_per_func  # [N, F]
        rewards = (rewards_per_func * self.reward_weights.to(rewards_per_func.device).unsqueeze(0)).nansum(dim=1)
        scorable = ~torch.isnan(rewards_per_func).all(dim=1)  # TRL's unscorable rows: no reward at all
        correct = (rewards > 0) if self._gathered_correct is None else self._gathered_correct
        group_ids = torch.arange(len(rewards), device=rewards.device) // num_generations
        base, reweighted = torch.zeros_like(rewards), torch.zeros_like(rewards)
        rows = (rewards[scorable], group_ids[scorable])
        base[scorable] = grpo_advantages(*rows, std="unbiased", eps=TRL_ADVANTAGE_EPS)
        reweighted[scorable] = progrpo_advantages(
            *rows,
            response_conf[scorable],
            prompt_conf[scorable],
            alpha=self.args.alpha,
            reweight=self.args.reweight,
            gate=self.args.gate,
            correct=correct[scorable],
            preserve_sign=self.args.preserve_sign,
            std="unbiased",
            eps=TRL_ADVANTAGE_EPS,
        )
        return base, reweighted, correct

    def _log_confidences(self, mode, base, advantages, prompt_conf, response_conf, correct) -> None:
        """The statistics progrpo-train writes to metrics.jsonl, under the same names."""
        values = {
            "sign_flips": float(((base * advantages) < 0).sum().item()),
            **value_stats("advantage", advantages),
            **value_stats("grpo_advantage", base),
            **value_stats("prompt_confidence", prompt_conf),
            **value_stats("confidence_correct", response_conf[correct]),
            **value_stats("confidence_wrong", response_conf[~correct]),
        }
        for name, value in values.items():
            if value is not None:
                self._metrics[mode][name].append(value)


@torch.no_grad()
def teacher_forced_confidences(
    model,
    prompt_ids: torch.Tensor,
    prompt_mask: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    loss_mask: torch.Tensor,
    *,
    pad_id: int,
    batch_size: int,
    fraction: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """c(q) and c(o|q) [B] (Eq. 5/6) at T = 1 of TRL's batch layout.

    `prompt_ids`/`prompt_mask` [B, P] are left-padded, `completion_ids`/`completion_mask` [B, C]
    right-padded; `loss_mask` [B, C] marks the completion tokens c(o|q) averages over.
    """
    device = prompt_ids.device
    prompt_conf, response_conf = [], []
    for start in range(0, len(prompt_ids), batch_size):
        rows = slice(start, start + batch_size)
        prompts = [ids[mask.bool()].tolist() for ids, mask in zip(prompt_ids[rows], prompt_mask[rows])]
        lengths = completion_mask[rows].sum(dim=1).tolist()
        completions = [ids[:length].tolist() for ids, length in zip(completion_ids[rows], lengths)]
        input_ids, attention, response_positions, prompt_positions = pad_rollouts(prompts, completions, pad_id)
        logprobs = token_logprobs(model, input_ids.to(device), attention.to(device))  # [b, T-1]
        scored = _kept_positions(response_positions, loss_mask[rows], lengths)
        prompt_conf.append(low_prob_confidence(logprobs, prompt_positions.to(device), fraction))
        response_conf.append(low_prob_confidence(logprobs, scored.to(device), fraction))
    return torch.cat(prompt_conf), torch.cat(response_conf)


def _kept_positions(response_positions: torch.Tensor, loss_mask: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """The positions of `response_positions` [b, T-1] whose completion token `loss_mask` [b, C] keeps."""
    kept = torch.zeros_like(response_positions)
    valid = torch.arange(loss_mask.shape[1])[None] < torch.tensor(lengths)[:, None]  # [b, C]
    kept[response_positions] = loss_mask.detach().cpu().bool()[valid]  # both row-major, `lengths[i]` per row
    return kept
