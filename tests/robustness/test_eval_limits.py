"""`progrpo-eval run` refuses before the engine starts what the engine would fail on late (settings
the backend cannot draw, prompts that do not fit the model), keeps hf generation's memory flat in
the vocabulary, defaults the token budget by model family, ends a Ctrl-C with one line, and keeps
vLLM's own log lines off the terminal unless `--verbose`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from typer.testing import CliRunner

from progrpo_eval import store
from progrpo_eval.cli import app
from progrpo_eval.generation import SamplingSettings
from progrpo_eval.generation.base import derived_seed
from progrpo_eval.generation.hf_backend import HFBackend
from progrpo_eval.run_plan import MAX_TOKENS_DEFAULT_RULE, REASONING_MATH_MAX_TOKENS

CONTEXT = 4096  # the tiny model's max_position_embeddings


def _cli(*args):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def _one_error_line(result, *messages: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    for message in messages:
        assert message in result.output, result.output


class EngineStarted(ValueError):
    pass


@pytest.fixture
def no_engine(monkeypatch):
    """A tripwire: building a backend raises, so a test sees whether a refusal came before it."""

    def refuse(*args, **kwargs):
        raise EngineStarted("tripwire: the engine would start here")

    monkeypatch.setattr("progrpo_eval.runner.load_backend", refuse)


def _run(model, data_dir, out, *extra, backend="hf", bench="aime24"):
    return _cli(
        "run",
        "--model",
        model,
        "--bench",
        bench,
        "--k",
        2,
        "--limit",
        2,
        "--backend",
        backend,
        "--data-dir",
        data_dir,
        "--out",
        out,
        *extra,
    )


# ---- 5. hf generation keeps only what is stored ------------------------------------------------------


@pytest.fixture(scope="module")
def hf_backend(tiny_model_dir):
    return HFBackend.from_pretrained(str(tiny_model_dir), dtype="float32", device="cpu")


def test_hf_streamed_logprobs_equal_the_full_logits(hf_backend):
    """The step-by-step log-probs and top-k are bit-identical to log_softmax of generate's stacked logits."""
    tokenizer, model = hf_backend.tokenizer, hf_backend.model
    prompts = [tokenizer("what is 1 + 1")["input_ids"], tokenizer("add the primes below ten")["input_ids"]]
    settings = SamplingSettings(n=3, temperature=0.7, top_p=0.9, max_tokens=24, seed=1, top_logprobs=3)
    streamed = [c for group in hf_backend.generate(prompts, settings, seeds=[5, 6], use_tqdm=False) for c in group]

    width = max(map(len, prompts))
    ids = torch.full((2, width), tokenizer.pad_token_id)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :], mask[row, width - len(prompt) :] = torch.tensor(prompt), 1
    torch.manual_seed(derived_seed(5, 6))
    full = model.generate(
        ids,
        attention_mask=mask,
        do_sample=True,
        temperature=0.7,
        top_p=0.9,
        top_k=None,
        max_new_tokens=24,
        num_return_sequences=3,
        eos_token_id=sorted(hf_backend.stop_ids),
        pad_token_id=tokenizer.pad_token_id,
        output_logits=True,
        return_dict_in_generate=True,
    )
    logprobs = torch.log_softmax(torch.stack(full.logits, dim=1).float(), dim=-1)  # [6, L, V]
    tokens = full.sequences[:, width:]
    for row, completion in enumerate(streamed):
        length = len(completion.token_ids)
        assert completion.token_ids == tokens[row, :length].tolist()
        assert completion.logprobs == logprobs[row, :length].gather(-1, tokens[row, :length, None]).squeeze(-1).tolist()
        values, indices = logprobs[row, :length].topk(3, dim=-1)
        assert completion.top_logprobs == [dict(zip(i.tolist(), v.tolist())) for i, v in zip(indices, values)]


def test_hf_stops_at_the_models_context(hf_backend):
    settings = SamplingSettings(n=1, temperature=1.0, top_p=1.0, max_tokens=50)
    [[completion]] = hf_backend.generate([[5] * (CONTEXT - 6)], settings, use_tqdm=False)
    assert len(completion.token_ids) <= 6


# ---- 6. refused before the engine starts --------------------------------------------------------------


def _long_question_data(tmp_path, data_dir, words: int):
    bad = tmp_path / "data"
    bad.mkdir()
    question = " ".join(["seventeen plus twenty"] * words)
    (bad / "aime24.jsonl").write_text(json.dumps({"id": 7, "problem": question, "answer": "1"}) + "\n")
    return bad


@pytest.mark.parametrize("backend", ["hf", "vllm"])
def test_a_prompt_longer_than_the_context_is_refused(backend, no_engine, tiny_model_dir, data_dir, tmp_path):
    bad = _long_question_data(tmp_path, data_dir, words=3000)
    _one_error_line(
        _run(tiny_model_dir, bad, tmp_path / "o", backend=backend),
        "aime24/7: the prompt is",
        f"leaves no room in the model's context of {CONTEXT} tokens",
    )
    assert not (tmp_path / "o").exists()


def test_max_model_len_is_the_context_vllm_is_checked_against(no_engine, tiny_model_dir, data_dir, tmp_path):
    _one_error_line(
        _run(tiny_model_dir, data_dir, tmp_path, "--max-model-len", 32, backend="vllm"),
        "the model's context of 32 tokens",
    )


def test_a_budget_beyond_the_context_is_a_note(no_engine, tiny_model_dir, data_dir, tmp_path):
    result = _run(tiny_model_dir, data_dir, tmp_path, "--max-tokens", 5000)
    assert "tripwire" in result.output  # the run went on to the engine
    assert f"+ max tokens 5000 exceed the context of {CONTEXT}; their samples stop at the context" in result.output


def test_k_above_vllms_limit_is_refused(no_engine, tiny_model_dir, data_dir, tmp_path):
    from vllm import SamplingParams
    from vllm.exceptions import VLLMValidationError

    from progrpo_eval.generation.vllm_backend import sampling_limits

    limit = sampling_limits()["n"]
    with pytest.raises(VLLMValidationError, match=f"at most {limit}"):  # vLLM's own limit, which we check
        SamplingParams(n=limit + 1)
    result = _cli(
        "run",
        "--model",
        tiny_model_dir,
        "--bench",
        "aime24",
        "--k",
        limit + 1,
        "--limit",
        1,
        "--data-dir",
        data_dir,
        "--out",
        tmp_path,
    )
    _one_error_line(result, f"--k {limit + 1} is above vLLM's limit of {limit} samples per prompt")


@pytest.mark.slow
def test_top_logprobs_above_the_engines_limit_is_refused(vllm_backend, no_engine, tiny_model_dir, data_dir, tmp_path):
    limit = vllm_backend.llm.llm_engine.model_config.max_logprobs  # what the engine was built with
    _one_error_line(
        _run(tiny_model_dir, data_dir, tmp_path, "--top-logprobs", limit + 1, backend="vllm"),
        f"--top-logprobs {limit + 1} is above vLLM's limit of {limit} log-probs per token",
    )
    assert "tripwire" in _run(tiny_model_dir, data_dir, tmp_path, "--top-logprobs", limit, backend="vllm").output


@pytest.mark.parametrize("backend", ["hf", "vllm"])
def test_greedy_decoding_with_several_samples_is_refused(backend, no_engine, tiny_model_dir, data_dir, tmp_path):
    _one_error_line(
        _run(tiny_model_dir, data_dir, tmp_path, "--temperature", 0, backend=backend),
        "--temperature 0 is greedy decoding",
        "--k must be 1 (got --k 2)",
    )


# ---- issue 12 B1: the token budget follows the model family --------------------------------------------


def test_a_reasoning_model_on_math_gets_the_papers_32k_budget(no_engine, tiny_model_dir, data_dir, tmp_path):
    """R1-Distill math is evaluated at 32K tokens (the paper); other families and non-reasoning models at 8K."""
    result = _run(tiny_model_dir, data_dir, tmp_path, "--reasoning", "on", bench="aime24,gpqa_diamond")
    assert "tripwire" in result.output, result.output  # manifests are written before the engine starts
    math, choice = (store.read_manifest(tmp_path / tiny_model_dir.name / name) for name in ("aime24", "gpqa_diamond"))
    assert math["sampling"]["max_tokens"] == REASONING_MATH_MAX_TOKENS == 32768
    assert choice["sampling"]["max_tokens"] == 8192
    assert math["max_tokens_rule"] == choice["max_tokens_rule"] == MAX_TOKENS_DEFAULT_RULE
    plain = _run(tiny_model_dir, data_dir, tmp_path / "plain", "--reasoning", "off")
    assert store.read_manifest(tmp_path / "plain" / tiny_model_dir.name / "aime24")["sampling"]["max_tokens"] == 8192
    assert "tripwire" in plain.output
    given = _run(tiny_model_dir, data_dir, tmp_path / "given", "--reasoning", "on", "--max-tokens", 100)
    manifest = store.read_manifest(tmp_path / "given" / tiny_model_dir.name / "aime24")
    assert manifest["sampling"]["max_tokens"] == 100 and manifest["max_tokens_rule"] == "--max-tokens"
    assert "tripwire" in given.output


# ---- 9. Ctrl-C: one line, what is on disk, the command that resumes -------------------------------------


def _interrupt_after_chunks(command, samples_dir, chunks: int, timeout_s: float = 900):
    """Start `command` in its own session (as a terminal job), Ctrl-C the whole job once `chunks` are on disk."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("VLLM_LOGGING_LEVEL", None)
    # A suite started in the background (`make test &`) inherits SIGINT ignored, and so would the
    # job (an ignored signal survives exec), rightly deaf to this Ctrl-C. A handler installed for
    # the moment of the start is reset to the default in the job instead.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        job = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.time() + timeout_s
    while time.time() < deadline and len(list(samples_dir.glob("chunk-*.parquet"))) < chunks and job.poll() is None:
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: every process of the job
    out, err = job.communicate(timeout=300)
    return job.returncode, out, err


def _interrupted_run_command(model, data_dir, out, backend):
    return [
        sys.executable,
        "-m",
        "progrpo_eval.cli",
        "run",
        "--model",
        str(model),
        "--bench",
        "math500",
        "--k",
        "2",
        "--limit",
        "12",
        "--max-tokens",
        "24",
        "--backend",
        backend,
        "--chunk-samples",
        "4",
        "--temperature",
        "1.0",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
    ]


def _check_one_interrupted_line(code, err, run_dir):
    assert code == 130, err
    assert "Traceback" not in err and "Error" not in err, err
    last = err.strip().splitlines()[-1]
    done = len(store.completed_problem_ids(run_dir))
    assert last.startswith(f"interrupted: on disk: math500 {done} of 12 problems; resume with: progrpo-eval run "), err
    assert 1 <= done < 12
    return last.split("resume with: ", 1)[1]


@pytest.mark.slow
def test_ctrl_c_prints_one_line_and_the_resume_command(tiny_model_dir, data_dir, tmp_path):
    run_dir = tmp_path / tiny_model_dir.name / "math500"
    command = _interrupted_run_command(tiny_model_dir, data_dir, tmp_path, "hf")
    code, _, err = _interrupt_after_chunks(command + ["--overwrite"], run_dir / "samples", chunks=1)
    resume = _check_one_interrupted_line(code, err, run_dir)
    assert "--overwrite" not in resume  # resuming must not start afresh
    args = resume.split()[1:]
    assert args == command[3:]
    finished = subprocess.run([sys.executable, "-m", "progrpo_eval.cli", *args], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    samples = store.load_samples(run_dir)
    assert len(samples) == 24 and (run_dir / "summary.json").is_file()


@pytest.mark.slow
def test_ctrl_c_with_vllm_and_scorer_workers_prints_one_line(tiny_model_dir, data_dir, tmp_path):
    """vLLM's engine processes and math-verify's workers get the terminal's SIGINT too; none of them may print."""
    run_dir = tmp_path / tiny_model_dir.name / "math500"
    code, out, err = _interrupt_after_chunks(
        _interrupted_run_command(tiny_model_dir, data_dir, tmp_path, "vllm"), run_dir / "samples", chunks=1
    )
    _check_one_interrupted_line(code, err, run_dir)
    for noise in (" INFO ", " WARNING ", "Warning:", "ERROR"):  # 10: vLLM's own lines are off by default
        assert noise not in out + err, out + err
    assert not store.load_samples(run_dir).duplicated(["problem_id", "sample_index"]).any()


# ---- 10. vLLM's log lines: off by default, on with --verbose ------------------------------------------

SHOW_LOGS = """
import sys
from progrpo_eval.generation.vllm_backend import quiet_logs
quiet_logs(verbose=sys.argv[1] == "verbose")
import vllm
from vllm.logger import init_logger
init_logger("vllm.engine.probe").info("probe-info")
init_logger("vllm.engine.probe").warning("probe-warning")
"""


@pytest.mark.slow
@pytest.mark.parametrize("verbose", [False, True])
def test_vllm_log_lines_are_off_unless_verbose(verbose):
    env = {key: value for key, value in os.environ.items() if key not in ("VLLM_LOGGING_LEVEL", "PYTHONWARNINGS")}
    shown = subprocess.run(
        [sys.executable, "-c", SHOW_LOGS, "verbose" if verbose else "quiet"], capture_output=True, text=True, env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert ("probe-warning" in shown.stderr) == verbose, shown.stderr
    assert "Triton is installed" not in shown.stderr or verbose, shown.stderr
