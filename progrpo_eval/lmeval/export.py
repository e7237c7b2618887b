"""`progrpo-eval lm-eval-tasks`: progrpo's benchmarks as an lm-evaluation-harness task folder.

    progrpo-eval lm-eval-tasks --out my_tasks --k 16
    lm_eval --model vllm --model_args pretrained=ckpt --tasks progrpo_aime24 --include_path my_tasks \\
        --apply_chat_template --metadata '{"data_dir": "/path/to/offline/copies"}'

Each benchmark becomes `progrpo_<name>.yaml`; one `progrpo_tasks.py` beside them holds the
functions the YAMLs name. The documents are progrpo's problems (`load_problems`: the Hub, or the
offline copies in `data_dir` from lm-eval's `--metadata`, else $PROGRPO_DATA_DIR), the prompt is
the user message `progrpo-eval run` sends (question plus the family's instruction; lm-eval's
`--apply_chat_template` puts it in the model's chat template, as `run` does), every document is
sampled k times (`repeats`, `take_first_k`), and `process_results` judges all k samples with the
benchmark's own progrpo scorer and reports the unbiased Pass@j for j = 1, 2, 4, ..., k (the same
estimator and the same verdicts as `progrpo-eval run`), so lm-eval users get Pass@k from their
harness. Generation settings are the paper's evaluation settings (T 0.6, top-p 0.95, 8192
tokens), written out so that lm-eval cannot fall back to greedy decoding.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from progrpo_eval.benchmarks import get_benchmark, list_benchmarks
from progrpo_eval.stats import default_ks

MODULE = "progrpo_tasks"

FUNCTIONS = '''"""Functions of the progrpo task YAMLs beside this file (written by `progrpo-eval lm-eval-tasks`)."""

import datasets

from progrpo_eval.lmeval.export import load_docs, pass_at_k_results


def docs_for(benchmark):
    def load(**metadata):
        return {"test": datasets.Dataset.from_list(load_docs(benchmark, metadata.get("data_dir")))}
    return load


def process_results(doc, results):
    return pass_at_k_results(doc, results[0])

'''


def load_docs(benchmark: str, data_dir: str | None = None) -> list[dict]:
    """The benchmark's problems as lm-eval documents (JSON-safe fields)."""
    import json

    from progrpo_eval.benchmarks import load_problems, user_message

    loaded = load_problems(benchmark, data_dir)
    family = loaded.benchmark.family
    return [
        {
            "benchmark": benchmark,
            "problem_id": problem.problem_id,
            "prompt": user_message(problem, family),
            "gold": problem.gold,
            "golds": list(problem.golds),
            "golds_mode": problem.golds_mode,
            "metadata": json.dumps(problem.metadata, default=str),
        }
        for problem in loaded.problems
    ]


_scorers: dict[str, object] = {}


def pass_at_k_results(doc: dict, responses: list[str]) -> dict[str, float]:
    """Pass@j for j = 1, 2, 4, ..., len(responses) of one document, judged by progrpo's scorer."""
    import json

    from progrpo_eval.metrics.passk import pass_at_k
    from progrpo_eval.problem import Problem
    from progrpo_eval.scoring import ScorerSettings, build_scorer, score_samples

    benchmark = get_benchmark(doc["benchmark"])
    if benchmark.name not in _scorers:
        _scorers[benchmark.name] = build_scorer(benchmark.scorer, ScorerSettings(), **benchmark.scorer_options)
    problem = Problem(
        doc["problem_id"],
        doc["prompt"],
        doc["gold"],
        tuple(doc["golds"]),
        json.loads(doc["metadata"]),
        golds_mode=doc["golds_mode"],
    )
    reasoning = any("</think>" in response for response in responses)
    (scored,) = score_samples(_scorers[benchmark.name], [problem], [list(responses)], reasoning=reasoning)
    correct = sum(sample.result.correct for sample in scored)
    return {f"pass@{k}": pass_at_k(len(responses), correct, k) for k in default_ks(len(responses))}


def task_config(
    benchmark: str, k: int, *, temperature: float = 0.6, top_p: float = 0.95, max_tokens: int = 8192
) -> dict:
    """The lm-eval task config of one progrpo benchmark (YAML-ready; `!function` tags added on writing)."""
    return {
        "task": f"progrpo_{benchmark}",
        "custom_dataset": f"!function {MODULE}.{benchmark}_docs",
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{prompt}}",
        "doc_to_target": "{{gold}}",
        "repeats": k,
        "generation_kwargs": {
            "until": [],
            "do_sample": temperature > 0,
            "temperature": temperature,
            "top_p": top_p,
            "max_gen_toks": max_tokens,
        },
        "filter_list": [{"name": "all_samples", "filter": [{"function": "take_first_k", "k": k}]}],
        "process_results": f"!function {MODULE}.process_results",
        "metric_list": [
            {"metric": f"pass@{j}", "aggregation": "mean", "higher_is_better": True} for j in default_ks(k)
        ],
        "metadata": {
            "version": get_benchmark(benchmark).version,
            "description": f"progrpo's {get_benchmark(benchmark).display_name}, Pass@k by progrpo's scorer",
        },
    }


def _yaml(config: dict) -> str:
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return (
        text.replace("'!function ", "!function ")
        .replace("_docs'", "_docs")
        .replace("process_results'", "process_results")
    )


def write_task_folder(out: str | Path, k: int, benchmarks: list[str] | None = None, **sampling) -> list[Path]:
    """Write the YAMLs and their functions module into `out`; returns the files written."""
    names = benchmarks or list_benchmarks()
    for name in names:
        get_benchmark(name)  # an unknown name raises with the known ones listed
    if k < 1:
        raise ValueError(f"--k must be at least 1, got {k}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    module = FUNCTIONS + "".join(f"{name}_docs = docs_for({name!r})\n" for name in names)
    written = [out / f"{MODULE}.py"]
    written[0].write_text(module, encoding="utf-8")
    for name in names:
        path = out / f"progrpo_{name}.yaml"
        path.write_text(_yaml(task_config(name, k, **sampling)), encoding="utf-8")
        written.append(path)
    return written
