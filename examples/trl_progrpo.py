"""ProGRPO with TRL: the paper's math setup (Table 1) on `progrpo_train.integrations.trl.ProGRPOTrainer`.

    # 8 GPUs: Qwen2.5-7B on DAPO-Math-17k, vLLM colocated, ZeRO-3 (TRL's accelerate config)
    accelerate launch --config_file deepspeed_zero3.yaml --num_processes 8 examples/trl_progrpo.py \
        --model Qwen/Qwen2.5-7B --use_vllm --vllm_mode colocate --bf16 --output_dir runs/trl-progrpo

Every GRPOConfig / ProGRPOConfig option is a flag (`--alpha 0.2`, `--gate any_correct`, ...). The
defaults below are the paper's (Table 1): loss_type "dapo" (verl's token-mean), clip range
[0.8, 1.28] (epsilon 0.2, epsilon_high 0.28), no KL (beta 0), 8 rollouts at T = 1.0, lr 1e-6,
8192 response tokens, alpha 0.3. Batch: 512 prompts x 8 = 4096 completions per rollout, updated
in 16 mini-batches of 32 prompts (256 completions). On 8 processes that is
per_device_train_batch_size 8 x gradient_accumulation_steps 4 = 256 per update and
steps_per_generation 64 (4096 per rollout); on N processes keep N x 8 x accumulation = 256 and
N x 8 x steps_per_generation = 4096.

The reward is progrpo's own scorer ("dapo": +1 / -1 on the "Answer:" line, verl's math_dapo rule;
"math": math-verify), so TRL, verl and progrpo-train score alike, and the gate counts the
scorer's correct answers (`correct_fn`), not the shaped reward. Prompts load as progrpo-train's
do: a Hub id, a local .jsonl/.parquet file, or a progrpo-eval benchmark name with --data_dir.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

PAPER_DEFAULTS = dict(
    loss_type="dapo",
    epsilon=0.2,
    epsilon_high=0.28,
    beta=0.0,
    num_generations=8,
    temperature=1.0,
    top_p=1.0,
    learning_rate=1e-6,
    lr_scheduler_type="constant",
    warmup_steps=0,
    max_grad_norm=1.0,
    weight_decay=0.01,
    max_completion_length=8192,
    alpha=0.3,
    reweight="prompt",
    gate="mixed",
    low_prob_fraction=0.2,
    per_device_train_batch_size=8,
    gradient_accumulation_steps=4,
    steps_per_generation=64,
    output_dir="runs/trl-progrpo",
    logging_steps=1,
    report_to="none",
    save_steps=50,
)


@dataclass
class ScriptArguments:
    model: str = field(default="Qwen/Qwen2.5-7B", metadata={"help": "Local path or Hub id of the policy."})
    data: str = field(default="BytedTsinghua-SIA/DAPO-Math-17k", metadata={"help": "Hub id, local file or benchmark."})
    data_dir: str | None = field(default=None, metadata={"help": "Offline benchmark folder (benchmark names)."})
    prompt_field: str = field(default="prompt", metadata={"help": "Row field holding the prompt (dotted path)."})
    answer_field: str = field(default="reward_model.ground_truth", metadata={"help": "Row field with the gold."})
    reward: str = field(default="dapo", metadata={"help": "progrpo scorer: dapo (+1/-1), math (1/0), ..."})
    reasoning: bool = field(default=False, metadata={"help": "Judge only the text after </think> (R1-Distill)."})
    limit: int | None = field(default=None, metadata={"help": "Keep the first N distinct prompts."})


class ScorerReward:
    """progrpo's scorer as a TRL reward function, and the same verdicts as ProGRPOTrainer's `correct_fn`."""

    def __init__(self, data_config, problems, max_tokens: int, reasoning: bool):
        from progrpo_train.rewards import RewardFunction

        self.__name__ = data_config.reward  # TRL logs rewards/<name>/mean
        self.problems, self.scorer = problems, RewardFunction(data_config, max_tokens, reasoning=reasoning)
        self._last: tuple[tuple, list] = ((), [])

    def _score(self, completions, problem_index, completion_ids):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        key = (tuple(texts), tuple(problem_index))
        if key != self._last[0]:  # TRL calls the reward, then correct_fn, on the same completions
            problems = [self.problems[i] for i in problem_index]
            self._last = (key, self.scorer(problems, texts, [len(ids) for ids in completion_ids]))
        return self._last[1]

    def __call__(self, completions, problem_index, completion_ids, **_):
        return [reward.value for reward in self._score(completions, problem_index, completion_ids)]

    def correct(self, completions, problem_index, completion_ids, **_):
        return [reward.correct for reward in self._score(completions, problem_index, completion_ids)]


def training_prompts(script: ScriptArguments):
    """A TRL dataset (chat `prompt`, `problem_index`) and the problems, loaded as progrpo-train loads them."""
    from datasets import Dataset

    from progrpo_train.config import DataConfig
    from progrpo_train.data import load_prompt_rows

    data_config = DataConfig(
        source=script.data,
        data_dir=script.data_dir,
        prompt_field=script.prompt_field,
        answer_field=script.answer_field,
        reward=script.reward,
    )
    messages, problems, seen = [], [], set()
    for message, problem in load_prompt_rows(data_config):
        chat = message if isinstance(message, list) else [{"role": "user", "content": message}]
        key = repr(chat)
        if key in seen:  # the Hub's DAPO-Math-17k repeats each prompt ~100 times
            continue
        seen.add(key)
        messages.append(chat)
        problems.append(problem)
        if script.limit is not None and len(problems) >= script.limit:
            break
    dataset = Dataset.from_dict({"prompt": messages, "problem_index": list(range(len(problems)))})
    return dataset, problems, data_config


def main(argv: list[str] | None = None) -> None:
    from trl import TrlParser

    from progrpo_train.integrations.trl import ProGRPOConfig, ProGRPOTrainer

    parser = TrlParser((ScriptArguments, ProGRPOConfig))
    parser.set_defaults(**PAPER_DEFAULTS)
    try:
        script, config = parser.parse_args_and_config(argv)
        dataset, problems, data_config = training_prompts(script)
        reward = ScorerReward(data_config, problems, config.max_completion_length, script.reasoning)
        trainer = ProGRPOTrainer(
            model=script.model, reward_funcs=[reward], args=config, train_dataset=dataset, correct_fn=reward.correct
        )
    except (ValueError, OSError) as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        sys.exit(2)
    try:
        trainer.train()
        trainer.save_model(config.output_dir)
    finally:
        reward.scorer.close()


if __name__ == "__main__":  # vLLM spawns processes
    main()
