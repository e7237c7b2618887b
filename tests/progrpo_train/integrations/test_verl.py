"""verl's "progrpo" advantage estimator: registration, the plugin, Eq. 4 on verl's DataProto, the log-prob hook.

verl lives in its own venv here (its omegaconf pins an ANTLR that math-verify cannot share):
run with `.venv-verl/bin/python -m pytest tests/progrpo_train/integrations/test_verl.py` (`make venv-verl`).
"""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("verl", reason="verl is not importable here: run with .venv-verl/bin/python (make venv-verl)")

from omegaconf import OmegaConf  # noqa: E402
from tensordict import TensorDict  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.trainer.ppo import core_algos, ray_trainer  # noqa: E402
from verl.utils import tensordict_utils  # noqa: E402
from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding  # noqa: E402

import progrpo_train.integrations.verl as progrpo_verl  # noqa: E402
from progrpo_eval.logprobs import prompt_response_logprobs  # noqa: E402
from progrpo_train.algorithm import grpo_advantages, policy_loss, progrpo_advantages  # noqa: E402
from progrpo_train.integrations import verl_trainer  # noqa: E402

# Two groups of three responses: "a" is mixed (1 correct of 3), "b" all correct (Algorithm 1 skips it).
UID = np.array(["a", "a", "a", "b", "b", "b"], dtype=object)
REWARDS = [1.0, -1.0, -1.0, 1.0, 1.0, 1.0]
RESPONSE_LENGTHS = [5, 5, 3, 5, 4, 5]
OLD_LOG_PROBS = [  # k = ceil(0.2 L) = 1 for L = 3..5: c(o|q) = exp(the smallest)
    [-0.1, -0.7, -0.2, -0.3, -0.05],
    [-1.2, -0.4, -0.1, -0.2, -0.3],
    [-0.3, -0.2, -0.9, 0.0, 0.0],
    [-0.5, -0.1, -0.1, -0.1, -0.1],
    [-0.2, -0.6, -0.1, -0.3, 0.0],
    [-0.1, -0.1, -0.1, -0.1, -0.1],
]
PROMPT_LOG_PROBS = [[-2.0, -0.5, -0.1, -0.3]] * 3 + [[-1.0, -0.2, 0.0, 0.0]] * 3  # c(q): exp(-2.0), exp(-1.0)
PROMPT_LENGTHS = [4, 4, 4, 2, 2, 2]


def _mask(lengths, width):
    return torch.arange(width)[None] < torch.tensor(lengths)[:, None]


def _dataproto(acc=None):
    response_mask = _mask(RESPONSE_LENGTHS, 5)
    token_level_rewards = torch.zeros(6, 5)
    token_level_rewards[torch.arange(6), torch.tensor(RESPONSE_LENGTHS) - 1] = torch.tensor(REWARDS)
    tensors = {
        "token_level_rewards": token_level_rewards,
        "response_mask": response_mask.long(),
        "old_log_probs": torch.tensor(OLD_LOG_PROBS),
        "prompt_log_probs": torch.tensor(PROMPT_LOG_PROBS),
        "prompt_logprob_mask": _mask(PROMPT_LENGTHS, 4),
    }
    non_tensors = {"uid": UID.copy()}
    if acc is not None:
        non_tensors["acc"] = np.array(acc)
    return DataProto.from_dict(tensors=tensors, non_tensors=non_tensors)


def _algorithm(**progrpo):
    return OmegaConf.create({"adv_estimator": "progrpo", "norm_adv_by_std_in_grpo": True, "progrpo": progrpo})


def _advantage_per_response(data):
    return data.batch["advantages"][:, 0]


def test_estimator_is_registered_under_progrpo():
    assert core_algos.get_adv_estimator_fn("progrpo") is progrpo_verl.compute_progrpo_outcome_advantage


def test_estimator_on_a_dataproto_equals_progrpo_advantages_on_the_same_numbers():
    data = ray_trainer.compute_advantage(_dataproto(), adv_estimator="progrpo", config=_algorithm(alpha=0.3))
    advantages = data.batch["advantages"]  # [B, T], the sequence advantage on every response token
    assert torch.equal(advantages, advantages[:, :1] * data.batch["response_mask"])

    c_o = torch.tensor([math.exp(min(row[:n])) for row, n in zip(OLD_LOG_PROBS, RESPONSE_LENGTHS)])
    c_q = torch.tensor([math.exp(-2.0)] * 3 + [math.exp(-1.0)] * 3)
    expected = progrpo_advantages(torch.tensor(REWARDS), torch.tensor([0, 0, 0, 1, 1, 1]), c_o, c_q, alpha=0.3)
    assert torch.equal(_advantage_per_response(data), expected)

    # By hand: group "a" has mean -1/3 and unbiased std sqrt(4/3); group "b" is uniform (A = 0, not re-weighted).
    std = math.sqrt(4 / 3) + 1e-6
    by_hand = [4 / 3 / std, -2 / 3 / std, -2 / 3 / std]
    by_hand = [a + 0.3 * (math.exp(-2.0) - c) for a, c in zip(by_hand, c_o[:3].tolist())] + [0.0, 0.0, 0.0]
    torch.testing.assert_close(_advantage_per_response(data), torch.tensor(by_hand), rtol=1e-6, atol=1e-6)
    assert not set(verl_trainer.PROMPT_KEYS) & set(data.batch.keys()), "the prompt's log-probs went on to the actor"


def test_alpha_zero_equals_verls_grpo_estimator():
    ours = ray_trainer.compute_advantage(_dataproto(), adv_estimator="progrpo", config=_algorithm(alpha=0.0))
    grpo = ray_trainer.compute_advantage(_dataproto(), adv_estimator="grpo", config=_algorithm())
    torch.testing.assert_close(ours.batch["advantages"], grpo.batch["advantages"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("acc", [[False] * 6, [-1.0] * 6], ids=["bools", "scores"])
def test_correct_key_gates_on_correctness_not_on_reward(acc):
    # No response of group "a" is correct, whatever its reward says: Algorithm 1 re-weights nothing.
    data = ray_trainer.compute_advantage(
        _dataproto(acc), adv_estimator="progrpo", config=_algorithm(alpha=0.3, correct_key="acc")
    )
    expected = grpo_advantages(torch.tensor(REWARDS), torch.tensor([0, 0, 0, 1, 1, 1]))
    assert torch.equal(_advantage_per_response(data), expected)
    with pytest.raises(ValueError, match="correct_key='score'"):
        ray_trainer.compute_advantage(_dataproto(acc), adv_estimator="progrpo", config=_algorithm(correct_key="score"))


def test_bad_settings_and_missing_logprobs_are_explained():
    with pytest.raises(ValueError, match="unknown key.*algorithm.progrpo.alhpa"):
        ray_trainer.compute_advantage(_dataproto(), adv_estimator="progrpo", config=_algorithm(alhpa=0.3))
    with pytest.raises(ValueError, match="unknown algorithm.progrpo.gate 'often'"):
        ray_trainer.compute_advantage(_dataproto(), adv_estimator="progrpo", config=_algorithm(gate="often"))
    dr_grpo = OmegaConf.merge(_algorithm(), {"norm_adv_by_std_in_grpo": False})
    with pytest.raises(ValueError, match="Dr. GRPO"):
        ray_trainer.compute_advantage(
            _dataproto(), adv_estimator="progrpo", norm_adv_by_std_in_grpo=False, config=dr_grpo
        )
    data = _dataproto()
    for key in verl_trainer.PROMPT_KEYS:
        data.batch.pop(key)
    with pytest.raises(ValueError, match="needs the prompt's log-probs"):
        ray_trainer.compute_advantage(data, adv_estimator="progrpo", config=_algorithm())
    data = ray_trainer.compute_advantage(data, adv_estimator="progrpo", config=_algorithm(reweight="group_mean"))
    assert torch.isfinite(data.batch["advantages"]).all()  # App. A's baseline needs no c(q)


def test_other_estimators_run_verls_code_unchanged():
    hooked = ray_trainer.compute_advantage(_dataproto(), adv_estimator="rloo", config=_algorithm())
    original = verl_trainer._ORIGINALS["compute_advantage"](_dataproto(), adv_estimator="rloo", config=_algorithm())
    assert torch.equal(hooked.batch["advantages"], original.batch["advantages"])


@pytest.mark.parametrize("aggregation", ["token-mean", "seq-mean-token-mean"])
def test_verls_clipped_loss_is_policy_loss_with_the_same_knobs(aggregation):
    """The knob mapping the README states: clip_ratio_low/high = clip_low/high, loss_agg_mode = aggregation."""
    generator = torch.Generator().manual_seed(0)
    mask = _mask(RESPONSE_LENGTHS, 5)
    old = torch.tensor(OLD_LOG_PROBS)
    new = old + 0.4 * torch.randn(old.shape, generator=generator)  # ratios on both sides of the clip
    advantages = torch.randn(6, generator=generator)[:, None] * mask
    actor = OmegaConf.create(
        {
            "clip_ratio": 0.2,
            "clip_ratio_low": 0.2,
            "clip_ratio_high": 0.28,
            "clip_ratio_c": 10.0,
            "global_batch_info": {},
        }
    )
    theirs, metrics = core_algos.compute_policy_loss_vanilla(old, new, advantages, mask.float(), aggregation, actor)
    ours, stats = policy_loss(new, old, advantages, mask, clip_low=0.2, clip_high=0.28, aggregation=aggregation)
    assert metrics["actor/pg_clipfrac"] > 0
    torch.testing.assert_close(ours.float(), theirs, rtol=1e-6, atol=1e-7)
    assert stats.clip_fraction.item() == pytest.approx(metrics["actor/pg_clipfrac"])


def _left_right_padded(prompts, responses, pad_id=0):
    """verl's rollout layout: prompts left-padded to P, responses right-padded to R."""
    width_p, width_r = max(map(len, prompts)), max(map(len, responses))
    prompt_ids = torch.full((len(prompts), width_p), pad_id)
    response_ids = torch.full((len(prompts), width_r), pad_id)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        prompt_ids[row, width_p - len(prompt) :] = torch.tensor(prompt)
        response_ids[row, : len(response)] = torch.tensor(response)
    prompt_attention = torch.arange(width_p)[None] >= torch.tensor([width_p - len(p) for p in prompts])[:, None]
    attention = torch.cat([prompt_attention, _mask([len(r) for r in responses], width_r)], dim=1).long()
    position_ids = (attention.cumsum(dim=1) - 1).clamp(min=0)
    return {
        "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
        "attention_mask": attention,
        "position_ids": position_ids,
        "prompts": prompt_ids,
        "responses": response_ids,
        "response_mask": attention[:, width_p:],
    }


PROMPTS, RESPONSES = [[5, 9, 14], [7, 8, 9, 10, 11], [30, 31]], [[40, 41, 42, 43], [50], [60, 61, 62]]


def test_prompt_slice_is_the_complement_of_verls_response_slice():
    scored = left_right_2_no_padding(TensorDict(_left_right_padded(PROMPTS, RESPONSES), batch_size=[3]))
    lengths = [len(p) + len(r) for p, r in zip(PROMPTS, RESPONSES)]
    codes = [torch.arange(n, dtype=torch.float32) + 100 * row for row, n in enumerate(lengths)]  # row, position
    packed = torch.nested.as_nested_tensor(codes, layout=torch.jagged)
    prompt_part, prompt_mask = verl_trainer.prompt_logprobs_from_packed(packed, scored)
    response_part = no_padding_2_padding(packed, scored)
    for row, (prompt, response) in enumerate(zip(PROMPTS, RESPONSES)):
        both = torch.cat([prompt_part[row][prompt_mask[row]], response_part[row, : len(response)]])
        assert both.tolist() == codes[row][: len(prompt) + len(response) - 1].tolist()  # every prediction, once


class _ActorGroup:
    """Stands in for the Ray actor group (GPU-only): scores the packed sequences with a real model."""

    def __init__(self, model):
        self.model = model

    def compute_log_prob(self, batch_td):
        sequences = batch_td["input_ids"].unbind()
        scored = prompt_response_logprobs(self.model, [s.tolist() for s in sequences], [[]] * len(sequences))
        packed = [torch.tensor(s.prompt + [0.0]) for s in scored]  # the last position predicts nothing
        log_probs = torch.nested.as_nested_tensor(packed, layout=torch.jagged)
        return tensordict_utils.get_tensordict(
            {"log_probs": log_probs, "entropy": log_probs.clone()}, non_tensor_dict={"metrics": {"mfu": 0.0}}
        )


def test_old_log_prob_hook_adds_the_prompts_logprobs_of_the_same_pass(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    trainer = ray_trainer.RayPPOTrainer.__new__(ray_trainer.RayPPOTrainer)
    trainer.config = OmegaConf.create({"algorithm": {"adv_estimator": "progrpo"}, "actor_rollout_ref": {"actor": {}}})
    trainer.actor_rollout_wg = _ActorGroup(model)
    batch = DataProto.from_dict(tensors=_left_right_padded(PROMPTS, RESPONSES))
    old_log_prob, _ = trainer._compute_old_log_prob(batch)

    truth = prompt_response_logprobs(model, PROMPTS, RESPONSES)
    for row, (sequence, response) in enumerate(zip(truth, RESPONSES)):
        mask = old_log_prob.batch["prompt_logprob_mask"][row]
        torch.testing.assert_close(
            old_log_prob.batch["prompt_log_probs"][row][mask], torch.tensor(sequence.prompt), rtol=1e-5, atol=1e-5
        )
        torch.testing.assert_close(
            old_log_prob.batch["old_log_probs"][row, : len(response)],
            torch.tensor(sequence.response),
            rtol=1e-5,
            atol=1e-5,
        )
    assert trainer.actor_rollout_wg.compute_log_prob.__func__ is _ActorGroup.compute_log_prob  # restored

    trainer.config.algorithm.adv_estimator = "grpo"
    assert "prompt_log_probs" not in trainer._compute_old_log_prob(batch)[0].batch.keys()  # verl's own path


def _import_verl_and_resolve(env_overrides):
    code = "import verl; from verl.trainer.ppo.core_algos import get_adv_estimator_fn; get_adv_estimator_fn('progrpo')"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **env_overrides}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["entry point", "VERL_USE_EXTERNAL_MODULES"])
def test_verl_loads_the_plugin_by_itself(how):
    env = (
        {"VERL_USE_EXTERNAL_PLUGINS": "auto"}
        if how == "entry point"
        else {"VERL_USE_EXTERNAL_PLUGINS": "none", "VERL_USE_EXTERNAL_MODULES": "progrpo_train.integrations.verl"}
    )
    result = _import_verl_and_resolve(env)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_without_the_plugin_verl_does_not_know_progrpo():
    result = _import_verl_and_resolve({"VERL_USE_EXTERNAL_PLUGINS": "none", "VERL_USE_EXTERNAL_MODULES": ""})
    assert result.returncode != 0 and "Unknown advantage estimator" in result.stderr


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "verl_progrpo.sh"


@pytest.mark.parametrize("nodes", ["1", "4"])
def test_example_script_overrides_compose_and_validate_with_verls_own_config(nodes):
    from hydra import compose, initialize_config_dir
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    env = {**os.environ, "PROGRPO_PRINT_OVERRIDES": "1", "NNODES": nodes}
    printed = subprocess.run(["bash", str(EXAMPLE)], env=env, capture_output=True, text=True, check=True)
    config_dir = Path(ray_trainer.__file__).resolve().parents[1] / "config"
    with initialize_config_dir(str(config_dir), version_base=None):
        config = compose("ppo_trainer", overrides=printed.stdout.splitlines())
    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    assert config.trainer.use_v1 is False and config.trainer.nnodes == int(nodes)
    assert config.algorithm.adv_estimator == "progrpo"
    settings = progrpo_verl.ProGRPOSettings.from_algorithm_config(config.algorithm)
    assert settings == progrpo_verl.ProGRPOSettings(alpha=0.3, correct_key="acc")  # the paper's knobs
    actor = config.actor_rollout_ref.actor
    assert (actor.clip_ratio_low, actor.clip_ratio_high, actor.loss_agg_mode) == (0.2, 0.28, "token-mean")
