"""The demo: its numbers by hand, its recipe and data, its error lines, and (slow) a whole tiny run."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from progrpo_train.config import config_to_dict, load_config
from progrpo_train.config_loader import RECIPES_DIR
from progrpo_train.demo import seeds
from progrpo_train.demo.analysis import answer_spread
from progrpo_train.demo.plan import PRESETS, Layout, Preset, train_command

REPO = Path(__file__).resolve().parents[2]
T_975_2 = 4.302652729911275  # Student t quantile, 2 degrees of freedom


def test_t_interval_by_hand():
    stats = seeds.t_interval([1.0, 2.0, 3.0])
    assert stats["mean"] == 2.0 and stats["sd"] == pytest.approx(1.0) and stats["n"] == 3
    half = T_975_2 / math.sqrt(3)
    assert (stats["low"], stats["high"]) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert seeds.t_interval([5.0, None, float("nan")]) == {"mean": 5.0, "low": None, "high": None, "sd": None, "n": 1}
    assert seeds.t_interval([])["mean"] is None


def test_paired_differences_per_seed():
    def run(pass1, entropy):
        return {"pass_at_k": {"1": pass1, "32": pass1}, "entropy": entropy}

    runs = {
        "grpo": {0: run(0.5, 1.0), 1: run(0.6, 1.0), 2: run(0.7, 2.0)},
        "progrpo": {0: run(0.6, 1.5), 1: run(0.5, 1.5), 2: run(0.9, 2.5)},
    }
    result = seeds.paired(runs, ["pass@1", "entropy"])
    assert result["seeds"] == [0, 1, 2]
    pass1 = result["metrics"]["pass@1"]
    assert pass1["per_seed"] == pytest.approx([0.1, -0.1, 0.2]) and pass1["positive_seeds"] == 2
    assert pass1["mean"] == pytest.approx(0.2 / 3)
    entropy = result["metrics"]["entropy"]
    assert entropy["per_seed"] == [0.5, 0.5, 0.5] and entropy["low"] == pytest.approx(0.5)  # no spread, no width
    aggregated = seeds.aggregate(runs, ["pass@1"])
    assert aggregated["grpo"]["pass@1"]["mean"] == pytest.approx(0.6)


SPREAD_CASES = [  # (probabilities of a prompt's correct answers, total, effective number)
    ([0.25, 0.25], 0.5, 2.0),
    ([0.5, 0.0, 0.0], 0.5, 1.0),
    ([0.3, 0.1], 0.4, math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))),  # 1.7548
    ([0.1] * 5, 0.5, 5.0),
]


def test_the_answer_opening_is_how_the_reference_answer_begins():
    from progrpo_eval.benchmarks.toy import reference_response
    from progrpo_train.demo.analysis import answer_opening

    assert reference_response(7, 35).startswith(answer_opening(35)) and answer_opening(35) == "35 ="


@pytest.mark.parametrize("probabilities, total, effective", SPREAD_CASES)
def test_answer_spread(probabilities, total, effective):
    assert answer_spread(np.array(probabilities)) == (pytest.approx(total), pytest.approx(effective))


def test_headline_table_shows_every_method_and_the_paired_row():
    runs = {
        method: {s: {"pass_at_k": {"1": 0.5 + 0.1 * s, "32": 0.9}, "entropy": 0.3 + s} for s in (0, 1, 2)}
        for method in ("start", "grpo", "progrpo")
    }
    keys = [key for key, *_ in seeds.HEADLINE]
    console = Console(record=True, width=140)
    console.print(seeds.headline_table(seeds.aggregate(runs, keys), seeds.paired(runs, keys), (0, 1, 2), 32))
    text = console.export_text()
    for row in ("warm start", "GRPO", "ProGRPO", "ProGRPO−GRPO", "seeds higher", "60.0±24.8", "0/3"):
        assert row in text


def test_the_two_methods_differ_in_one_key_only(tmp_path):
    layout, preset = Layout(tmp_path), PRESETS["full"]
    configs = {}
    for method in ("grpo", "progrpo"):
        command = train_command(layout, preset, method, 0)
        recipe = command[command.index("--config") + 1]
        overrides = [arg for arg in command if "=" in arg and not arg.startswith("out_dir")]
        configs[method] = config_to_dict(load_config(recipe, overrides))
    grpo, progrpo = configs["grpo"], configs["progrpo"]
    assert grpo["algorithm"].pop("advantage") == "grpo" and progrpo["algorithm"].pop("advantage") == "progrpo"
    grpo.pop("out_dir"), progrpo.pop("out_dir")  # the demo sets it per run
    assert grpo == progrpo
    assert progrpo["algorithm"]["alpha"] == 0.3 and progrpo["data"]["source"] == "toy"
    assert progrpo["data"]["reward"] == "toy" and progrpo["rollout"]["n"] == 8 and progrpo["max_steps"] == 100
    assert "overwrite=true" in train_command(layout, preset, "grpo", 0)  # nothing to resume from yet


def test_training_reads_the_toy_training_split_and_evaluation_the_held_out_one():
    from progrpo_train.config import DataConfig
    from progrpo_train.data import load_prompt_rows

    rows = load_prompt_rows(DataConfig(source="toy", instruction=None))
    assert len(rows) == 4096 and all(problem.problem_id.startswith("toy/train-") for _, problem in rows)
    assert rows[0][0].endswith("put your final answer within \\boxed{}.")  # the evaluation prompt's instruction


def _run(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    environment.pop("PROGRPO_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=REPO, env=environment, timeout=120
    )


@pytest.mark.parametrize(
    "module, args, message",
    [
        ("progrpo_train.demo", ["--jobs", "0"], "--jobs must be at least 1"),
        ("progrpo_train.demo", ["--fast"], "unrecognized arguments: --fast"),
        ("progrpo_train.demo", ["--report", "out.txt"], "must name a .pdf file"),
        ("progrpo_train.demo.real", ["--limit", "0"], "--limit must be at least 1"),
        (
            "progrpo_train.demo.real",
            ["--data-dir", "/nonexistent/benchmarks"],
            "needs the offline benchmark copies math500.jsonl, gpqa_diamond.jsonl in /nonexistent/benchmarks",
        ),
        ("progrpo_train.demo.real", [], "pass --data-dir DIR or set PROGRPO_DATA_DIR"),
        ("progrpo_train.sft", ["--steps", "0"], "steps must be at least 1"),
        ("progrpo_train.sft", ["--lr", "x"], "argument --lr: invalid float value: 'x'"),
    ],
)
def test_bad_options_and_missing_data_give_one_error_line(module, args, message, tmp_path):
    takes_out = module != "progrpo_train.demo"
    result = _run(module, *args, "--out", str(tmp_path / "out")) if takes_out else _run(module, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
    assert not (tmp_path / "out").exists()  # nothing was started


def test_recipe_is_packaged():
    assert (RECIPES_DIR / "demo_toy.yaml").is_file()


@pytest.mark.slow
def test_warm_start_is_seeded_and_cached(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from progrpo_train.sft import SFT_RECORD, SFTConfig, is_cached, run_sft

    config = SFTConfig(seed=1, steps=3, batch_size=4)
    out = run_sft(tmp_path / "sft", config, progress=False)
    record = json.loads((out / SFT_RECORD).read_text())
    assert len(record["loss"]) == 3 and record["settings"]["seed"] == 1
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.chat_template and AutoModelForCausalLM.from_pretrained(out).config.head_dim == 64
    written = (out / "model.safetensors").stat().st_mtime_ns
    assert run_sft(out, config, progress=False) == out and (out / "model.safetensors").stat().st_mtime_ns == written
    assert not is_cached(out, SFTConfig(seed=2, steps=3, batch_size=4))
    again = run_sft(tmp_path / "again", config, progress=False)
    assert (again / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()


@pytest.mark.slow
def test_a_whole_tiny_demo_runs_and_runs_again(tmp_path):
    from progrpo_train.demo.pipeline import run_demo

    preset = Preset("tiny", seeds=(0,), rl_steps=2, eval_prompts=4, eval_backend="hf", k=2, sft_steps=10)
    console = Console(file=open(os.devnull, "w"), width=140)
    report = tmp_path / "reports" / "demo.pdf"
    result = run_demo(preset, tmp_path / "out", report, 2, console)
    assert report.is_file() and json.loads(report.with_suffix(".json").read_text())["seeds"] == [0]
    assert set(result["runs"]) == {"start", "grpo", "progrpo"}
    metrics = result["runs"]["progrpo"]["0"]
    assert set(metrics["pass_at_k"]) == {"1", "2"} and metrics["entropy"] is not None and metrics["steps"] == 2
    assert result["paired"]["seeds"] == [0] and "0" in result["per_seed_compare"]
    again = run_demo(preset, tmp_path / "out", report, 2, console)  # every finished job is skipped
    phase = "warm start and RL"
    assert again["runs"] == result["runs"] and again["seconds"][phase] < result["seconds"][phase]


def test_a_job_waits_for_the_jobs_it_names_and_the_slots_stay_busy(tmp_path):
    from progrpo_train.demo.jobs import Job, run_jobs

    def job(name: str, seconds: float, after: tuple[str, ...] = ()) -> Job:
        code = (
            f"import time, pathlib; pathlib.Path({str(tmp_path)!r}, {name!r} + '.start').write_text(repr(time.time()));"
            f"time.sleep({seconds}); pathlib.Path({str(tmp_path)!r}, {name!r} + '.end').write_text(repr(time.time()))"
        )
        return Job(name, [sys.executable, "-c", code], tmp_path / f"{name}.log", after=after)

    def at(name: str, event: str) -> float:
        return float((tmp_path / f"{name}.{event}").read_text())

    console = Console(file=open(os.devnull, "w"), width=140)
    # b waits for a; c does not, so it takes the free slot before b: a and c run together
    run_jobs([job("a", 1.0), job("b", 0.1, after=("a",)), job("c", 0.1)], parallel=2, console=console)
    assert at("b", "start") >= at("a", "end")
    assert at("c", "start") < at("a", "end")
