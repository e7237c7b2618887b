"""ProGRPOTrainer (TRL): confidences as progrpo-train computes them, Eq. 4 advantages, alpha = 0 is GRPOTrainer."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("trl", reason="TRL is not installed (pip install -e '.[trl]')")

from datasets import Dataset  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

from progrpo_eval.logprobs import prompt_response_logprobs  # noqa: E402
from progrpo_eval.metrics.tokens import low_prob_confidence  # noqa: E402
from progrpo_train.algorithm import grpo_advantages, policy_loss, progrpo_advantages  # noqa: E402
from progrpo_train.integrations.trl import ProGRPOConfig, ProGRPOTrainer, teacher_forced_confidences  # noqa: E402

GROUP = 4


def coin_reward(completion_ids, **_):
    """A reward independent of the policy's skill (a hash of the tokens), so groups stay mixed."""
    return [float(hash(tuple(ids)) % 2) for ids in completion_ids]


def _dataset(num_prompts=4):
    prompts = [[{"role": "user", "content": f"What is {i} + {i + 3}?"}] for i in range(num_prompts)]
    return Dataset.from_dict({"prompt": prompts, "answer": [str(2 * i + 3) for i in range(num_prompts)]})


def _settings(tmp_path, **overrides):
    settings = dict(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=8,
        num_generations=GROUP,
        max_completion_length=10,
        max_steps=2,
        learning_rate=1e-4,
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        seed=0,
        save_strategy="no",
        epsilon=0.2,
        epsilon_high=0.28,
        loss_type="dapo",
        beta=0.0,
        temperature=1.0,
    )
    return {**settings, **overrides}


def _trainer(cls, config, model_dir, **kwargs):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return cls(
        model=model,
        reward_funcs=[coin_reward],
        args=config,
        train_dataset=_dataset(),
        processing_class=tokenizer,
        **kwargs,
    )


def _rows(output):
    """The unpadded prompt and completion token ids of TRL's batch."""
    prompts = [ids[mask.bool()].tolist() for ids, mask in zip(output["prompt_ids"], output["prompt_mask"])]
    lengths = output["completion_mask"].sum(dim=1).tolist()
    return prompts, [ids[:n].tolist() for ids, n in zip(output["completion_ids"], lengths)]


def _unpadded_confidences(model, prompts, completions, fraction=0.2):
    """c(q), c(o|q) scored one sequence at a time, no padding anywhere (the reference)."""
    scored = prompt_response_logprobs(model, prompts, completions, batch_size=1)
    c_q = [
        low_prob_confidence(torch.tensor(s.prompt), torch.ones(len(s.prompt), dtype=torch.bool), fraction)
        for s in scored
    ]
    c_o = [
        low_prob_confidence(torch.tensor(s.response), torch.ones(len(s.response), dtype=torch.bool), fraction)
        for s in scored
    ]
    return torch.cat(c_q).float(), torch.cat(c_o).float()


def test_confidences_of_left_padded_prompts_equal_unpadded_scoring(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    prompts, completions = [[5, 9, 14], [7, 8, 9, 10, 11], [30, 31]], [[40, 41, 42, 43], [50], [60, 61, 62]]
    prompt_ids = torch.tensor([[0, 0, 5, 9, 14], [7, 8, 9, 10, 11], [0, 0, 0, 30, 31]])  # TRL's left padding
    prompt_mask = (torch.arange(5)[None] >= torch.tensor([2, 0, 3])[:, None]).long()
    completion_ids = torch.tensor([[40, 41, 42, 43], [50, 0, 0, 0], [60, 61, 62, 0]])
    completion_mask = (torch.arange(4)[None] < torch.tensor([4, 1, 3])[:, None]).long()
    loss_mask = completion_mask.clone()
    loss_mask[0, 1] = 0  # a tool-output token: not the policy's, not in c(o|q)
    c_q, c_o = teacher_forced_confidences(
        model, prompt_ids, prompt_mask, completion_ids, completion_mask, loss_mask, pad_id=0, batch_size=2
    )
    ref_q, ref_o = _unpadded_confidences(model, prompts, completions)
    row0 = prompt_response_logprobs(model, prompts[:1], completions[:1])[0].response
    kept = torch.tensor([row0[0], row0[2], row0[3]])
    ref_o[0] = low_prob_confidence(kept, torch.ones(3, dtype=torch.bool))[0]
    torch.testing.assert_close(c_q, ref_q, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(c_o, ref_o, rtol=1e-4, atol=1e-7)

    nothing = torch.zeros_like(loss_mask)
    _, empty = teacher_forced_confidences(
        model, prompt_ids, prompt_mask, completion_ids, completion_mask, nothing, pad_id=0, batch_size=8
    )
    assert torch.isnan(empty).all()  # no scored token: NaN, so progrpo_advantages keeps A~ = A


@pytest.fixture(scope="module")
def progrpo_trainer(tiny_model_dir, tmp_path_factory):
    config = ProGRPOConfig(**_settings(tmp_path_factory.mktemp("trl")), alpha=0.3)
    trainer = _trainer(ProGRPOTrainer, config, tiny_model_dir)
    trainer.model.train()
    return trainer


def _generation_batch(trainer):
    rows = list(_dataset())
    return trainer._generate_and_score_completions([row for row in rows[:2] for _ in range(GROUP)])


def test_advantages_are_eq4_over_the_whole_generation_batch(progrpo_trainer):
    output = _generation_batch(progrpo_trainer)
    prompts, completions = _rows(output)
    rewards = torch.tensor(coin_reward(completions))
    c_q, c_o = _unpadded_confidences(progrpo_trainer.model, prompts, completions)
    group_ids = torch.arange(len(rewards)) // GROUP
    expected = progrpo_advantages(rewards, group_ids, c_o, c_q, alpha=0.3, eps=1e-4)
    torch.testing.assert_close(output["advantages"], expected, rtol=1e-4, atol=1e-6)
    grpo = grpo_advantages(rewards, group_ids, eps=1e-4)
    assert not torch.allclose(expected, grpo), "no mixed group: the test would not see the re-weighting"
    logged = progrpo_trainer._metrics["train"]
    assert {"prompt_confidence_mean", "confidence_correct_mean", "confidence_wrong_mean", "sign_flips"} <= set(logged)
    assert list(progrpo_trainer._logs["advantages"])[-len(expected) :] == pytest.approx(expected.tolist(), abs=1e-6)


def test_correct_fn_gates_on_correctness_not_reward(progrpo_trainer):
    progrpo_trainer.correct_fn = lambda prompts, completions, **_: [False] * len(completions)
    try:
        output = _generation_batch(progrpo_trainer)
    finally:
        progrpo_trainer.correct_fn = None
    rewards = torch.tensor(coin_reward(_rows(output)[1]))
    assert 0 < rewards.sum() < len(rewards)  # rewards are mixed, yet no group has a correct answer ...
    grpo = grpo_advantages(rewards, torch.arange(len(rewards)) // GROUP, eps=1e-4)
    torch.testing.assert_close(output["advantages"], grpo, rtol=0, atol=1e-6)  # ... so Algorithm 1 never re-weights


def test_dapo_loss_type_is_policy_loss_token_mean(progrpo_trainer):
    """The knob mapping the README states: TRL loss_type "dapo" = our aggregation "token-mean"."""
    output = _generation_batch(progrpo_trainer)
    progrpo_trainer.current_gradient_accumulation_steps = 1
    input_ids = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
    attention = torch.cat([output["prompt_mask"], output["completion_mask"]], dim=1)
    with torch.no_grad():
        logps, _, _ = progrpo_trainer._get_per_token_logps_and_entropies(
            progrpo_trainer.model, input_ids, attention, output["completion_ids"].shape[1]
        )
        old = logps + torch.linspace(-0.4, 0.4, logps.numel()).view_as(logps)  # ratios on both sides of the clip
        trl_loss = progrpo_trainer._compute_loss(progrpo_trainer.model, {**output, "old_per_token_logps": old})
    ours, stats = policy_loss(
        logps,
        old,
        output["advantages"],
        output["completion_mask"].bool(),
        clip_low=0.2,
        clip_high=0.28,
        aggregation="token-mean",
    )
    assert stats.clip_fraction > 0
    torch.testing.assert_close(trl_loss, ours.float(), rtol=1e-5, atol=1e-7)


def test_config_rejects_unknown_choices_and_unsupported_baselines(tmp_path, tiny_model_dir):
    with pytest.raises(ValueError, match="unknown gate 'sometimes'"):
        ProGRPOConfig(**_settings(tmp_path), gate="sometimes")
    with pytest.raises(ValueError, match="scale_rewards='group'"):
        _trainer(ProGRPOTrainer, ProGRPOConfig(**_settings(tmp_path), scale_rewards="batch"), tiny_model_dir)
    assert ProGRPOConfig(output_dir=str(tmp_path), use_cpu=True).epsilon_high == 0.28  # Table 1: clip range [0.8, 1.28]


def _train(cls, config, model_dir):
    trainer = _trainer(cls, config, model_dir)
    trainer.train()
    steps = [entry for entry in trainer.state.log_history if "loss" in entry]
    return trainer, steps


@pytest.mark.slow
def test_alpha_zero_trains_exactly_like_grpo_trainer(tiny_model_dir, tmp_path):
    grpo, grpo_steps = _train(GRPOTrainer, GRPOConfig(**_settings(tmp_path / "grpo")), tiny_model_dir)
    ours, our_steps = _train(ProGRPOTrainer, ProGRPOConfig(**_settings(tmp_path / "pro"), alpha=0.0), tiny_model_dir)
    assert len(grpo_steps) == len(our_steps) == 2
    for theirs, mine in zip(grpo_steps, our_steps):
        for key in ("loss", "grad_norm", "reward", "entropy", "clip_ratio/region_mean"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-5, abs=1e-7), key
        assert mine["sign_flips"] == 0
    assert any(step["grad_norm"] > 0 for step in grpo_steps), "no step had a gradient: nothing was compared"
    assert list(ours._logs["advantages"]) == pytest.approx(list(grpo._logs["advantages"]), abs=1e-6)
    theirs = dict(grpo.model.named_parameters())
    for name, value in ours.model.named_parameters():
        torch.testing.assert_close(value, theirs[name], rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_progrpo_trainer_trains_two_steps_on_cpu(tiny_model_dir, tmp_path):
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).state_dict()
    trainer, steps = _train(ProGRPOTrainer, ProGRPOConfig(**_settings(tmp_path), alpha=0.3), tiny_model_dir)
    assert trainer.state.global_step == 2 and len(steps) == 2
    for step in steps:
        assert 0 <= step["prompt_confidence_mean"] <= 1 and step["sign_flips"] >= 0
        assert "advantage_std" in step and "grpo_advantage_std" in step
        assert "confidence_correct_mean" in step or "confidence_wrong_mean" in step
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[name], after[name]) for name in before), "two steps left the weights unchanged"


EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "trl_progrpo.py"


def _run_example(*arguments):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *arguments], env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
def test_example_script_trains_and_saves_on_cpu(tiny_model_dir, tmp_path):
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"What is {i} + 1?", "answer": str(i + 1)}) + "\n" for i in range(4)))
    out = tmp_path / "run"
    result = _run_example(
        "--model",
        str(tiny_model_dir),
        "--data",
        str(data),
        "--answer_field",
        "answer",
        "--reward",
        "math",
        "--max_steps",
        "2",
        "--use_cpu",
        "--bf16",
        "false",
        "--num_generations",
        "4",
        "--per_device_train_batch_size",
        "8",
        "--gradient_accumulation_steps",
        "1",
        "--steps_per_generation",
        "1",
        "--max_completion_length",
        "12",
        "--save_strategy",
        "no",
        "--output_dir",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "model.safetensors").exists()


@pytest.mark.slow
def test_example_script_reports_bad_input_in_one_line(tmp_path):
    result = _run_example("--gate", "sometimes", "--use_cpu", "--bf16", "false", "--output_dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: unknown gate 'sometimes'; known: mixed, any_correct"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_group_statistics_span_processes(tiny_model_dir, tmp_path):
    """A group of 8 split 4 + 4 over two processes gets the advantages of the whole group (gathered, not per rank)."""
    worker = Path(__file__).with_name("trl_two_process_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
        str(worker),
        str(tiny_model_dir),
        str(tmp_path),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    prompts, completions = (sum((r[key] for r in ranks), []) for key in ("prompts", "completions"))
    advantages = torch.tensor(sum((r["advantages"] for r in ranks), []))
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    c_q, c_o = _unpadded_confidences(model, prompts, completions)
    rewards, one_group = torch.tensor(coin_reward(completions)), torch.zeros(8, dtype=torch.long)
    expected = progrpo_advantages(rewards, one_group, c_o, c_q, alpha=0.3, eps=1e-4)
    torch.testing.assert_close(advantages, expected, rtol=1e-4, atol=1e-6)
    per_rank = torch.cat(
        [
            progrpo_advantages(rewards[rows], one_group[rows], c_o[rows], c_q[rows], alpha=0.3, eps=1e-4)
            for rows in (slice(0, 4), slice(4, 8))
        ]
    )
    assert not torch.allclose(per_rank, expected, atol=1e-3), "per-rank statistics would pass too: test is vacuous"
