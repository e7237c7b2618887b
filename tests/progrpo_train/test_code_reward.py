"""data.reward=code: the evaluator's code scorer in the trainer (all-pass or partial credit), and the code recipe."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from progrpo_eval.benchmarks import INSTRUCTIONS, load_problems
from progrpo_eval.problem import Problem
from progrpo_train.config import DataConfig
from progrpo_train.data import load_prompt_rows
from progrpo_train.rewards import RewardFunction, scorer_options_for

SUM_TESTS = json.dumps(
    [{"input": f"{a} {b}\n", "output": f"{a + b}\n", "testtype": "stdin"} for a, b in ((1, 2), (3, 4), (1, 5), (2, 2))]
)
RIGHT = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
HALF = "```python\na, b = map(int, input().split())\nprint(a + b if a > 1 else 0)\n```"  # passes 2 of 4 tests


def rewards(responses, *, partial_credit, source="deepcoder.jsonl", problem=None):
    config = DataConfig(source=source, reward="code", partial_credit=partial_credit)
    function = RewardFunction(config, 100, reasoning=True, workers=2)
    problem = problem or Problem("deepcoder/0", "Add two numbers.", SUM_TESTS)
    try:
        return function([problem] * len(responses), responses, [10] * len(responses))
    finally:
        function.close()


def test_sparse_reward_is_deepcoders_all_tests_pass():
    right, half, none, thinking = rewards([RIGHT, HALF, "no code", f"<think>{RIGHT}"], partial_credit=False)
    assert [(r.value, r.correct, r.status) for r in (right, half, none, thinking)] == [
        (1.0, True, "ok"),
        (0.0, False, "ok"),
        (0.0, False, "no_answer"),
        (0.0, False, "no_answer"),
    ]


def test_partial_credit_is_the_share_of_tests_passed():
    with_stop = rewards([RIGHT, HALF], partial_credit=True)
    # the default scorer stops at the first failure (test 0 here: 1 + 2 prints 0), so HALF gets no credit
    assert [r.value for r in with_stop] == [1.0, 0.0]
    late = "```python\na, b = map(int, input().split())\nprint(a + b if a != 2 else 0)\n```"  # fails test 3 only
    assert [r.value for r in rewards([late], partial_credit=True)] == [0.75]


def test_benchmark_source_brings_its_scorer_options(data_dir):
    config = DataConfig(source="codeforces", reward="code", data_dir=str(data_dir))
    assert scorer_options_for(config) == {"per_test_timeout_s": 6.0}
    problem = load_problems("codeforces", data_dir, limit=1).problems[0]
    right = (
        "```python\nfor _ in range(int(input())):\n    x, y = map(int, input().split())\n"
        "    print(min(x, y), max(x, y))\n```"
    )
    (reward,) = rewards([right], partial_credit=False, source="codeforces", problem=problem)
    assert reward.correct and reward.value == 1.0


def test_deepcoder_rows_from_a_file_ask_for_code_and_are_judged_on_their_tests(tmp_path):
    rows = tmp_path / "deepcoder.jsonl"
    rows.write_text(json.dumps({"problem": "Add two numbers.", "tests": SUM_TESTS}) + "\n")
    config = DataConfig(source=str(rows), reward="code", prompt_field="problem", answer_field="tests", instruction=None)
    [(message, problem)] = load_prompt_rows(config)
    assert message == f"Add two numbers.\n{INSTRUCTIONS['code']}"
    (reward,) = rewards([RIGHT], partial_credit=False, problem=problem)
    assert reward.correct


@pytest.mark.slow
def test_code_recipe_trains_two_steps_on_cpu(data_dir, tmp_path):
    out = tmp_path / "code"
    overrides = [
        "model.path=tiny",
        "model.dtype=float32",
        "model.gradient_checkpointing=false",
        "data.source=codeforces",
        "rollout.backend=hf",
        "rollout.n=2",
        "rollout.max_tokens=32",
        "rollout.enforce_eager=true",
        "optim.batch_size=2",
        "optim.mini_batch_size=1",
        "optim.micro_batch_size=2",
        "deepspeed.zero_stage=0",
        "deepspeed.bf16=false",
        "logging.tensorboard=false",
        "max_steps=2",
        "checkpoint.save_every=2",
    ]
    env = {**os.environ, "PROGRPO_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "progrpo_train.cli", "--config", "code_r1_distill_7b", f"out_dir={out}", *overrides],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    metrics = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(m["reward_mean"] == 0.0 for m in metrics)  # a random tiny model writes no program
