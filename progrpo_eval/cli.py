"""progrpo-eval: Pass@k evaluation, rollout analysis and reports for RL-trained reasoning models.

Every command reads or writes run directories (see `progrpo_eval.store`).
Errors a user can fix print one `error:` line and exit 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from progrpo_eval.sandbox.isolation import SandboxUnavailable

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def fail(message: str, code: int = 2) -> None:
    """One clear line on stderr and a non-zero exit; no traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# What a user can fix: bad input, missing files, mismatched runs, a machine that cannot run the sandbox.
USER_ERRORS = (ValueError, OSError, SandboxUnavailable)


def _fail_with(error: Exception) -> None:
    """A user error (bad path, mismatched runs, ...) as one `error:` line; PROGRPO_DEBUG=1 shows the traceback."""
    if os.environ.get("PROGRPO_DEBUG"):
        raise error
    fail(str(error).splitlines()[0] if str(error) else type(error).__name__)


def _interrupted(command: str, stop: BaseException) -> None:
    """Ctrl-C: one line saying what is on disk and the command that resumes (without --overwrite); exit 130."""
    import shlex

    args = sys.argv[1:] if sys.argv[1:2] == [command] else [command, "..."]
    resume = shlex.join(["progrpo-eval", *[arg for arg in args if arg != "--overwrite"]])
    typer.echo(f"interrupted: {stop}; resume with: {resume}", err=True)
    raise typer.Exit(130)


def _print_results(console, results: list[tuple[str, Path, dict]]) -> None:
    """Each run directory (on stderr) and the summary table of all of them (on stdout)."""
    from progrpo_eval.summary import markdown_table

    for name, run_dir, _ in results:
        console.print(f"{name}: {run_dir}")
    typer.echo(markdown_table([(name, summary) for name, _, summary in results]))


def _check_model(model: str) -> None:
    """A missing local model fails here; a Hub id is left to the loader (it may be cached)."""
    from progrpo_eval.model_files import check_model_reference

    try:
        check_model_reference(model)
    except ValueError as error:
        fail(str(error))


@app.command("run")
def run(
    model: str = typer.Option(..., "--model", "-m", help="Model directory (Hugging Face format) or Hub id."),
    bench: str = typer.Option(..., "--bench", "-b", help="Benchmark name(s), comma-separated, e.g. aime24,aime25,amc23."),
    k: int = typer.Option(..., "--k", help="Samples per problem (N); Pass@k is reported for k = 1, 2, 4, ..., N."),
    backend: str = typer.Option("vllm", help="Generation backend: vllm (default) or hf (transformers generate)."),
    temperature: float = typer.Option(0.6, help="Sampling temperature (the paper's evaluation: 0.6)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling threshold (the paper: 0.95)."),
    max_tokens: Optional[int] = typer.Option(
        None, "--max-tokens", help="Maximum new tokens per sample; default by model family, as the paper: 32768 for a "
        "reasoning model (chat template with </think>, or --reasoning on) on math, else 8192."),
    seed: int = typer.Option(0, help="Run seed; each problem samples with a seed derived from (seed, problem id)."),
    top_logprobs: int = typer.Option(0, "--top-logprobs", help="Also keep the top-k log-probs per token (0: only the sampled token's)."),
    limit: Optional[int] = typer.Option(None, help="Evaluate only the first N problems of each benchmark (quick runs)."),
    data_dir: Optional[Path] = typer.Option(None, envvar="PROGRPO_DATA_DIR", help="Offline benchmark copies; default: the Hugging Face Hub."),
    out: Path = typer.Option(Path("runs"), help="Root of the run directories: OUT/<model>/<benchmark>."),
    overwrite: bool = typer.Option(False, help="Replace an existing run directory whose settings differ."),
    instruction: Optional[str] = typer.Option(None, help="Replace the task family's standard instruction appended to each question; \"train\": the one the checkpoint was trained with."),
    reasoning: str = typer.Option("auto", help="Score only the text after </think>: auto (if the chat template uses it), on, off."),
    dtype: str = typer.Option("auto", help="Model dtype for the backend (auto, bfloat16, float16, float32)."),
    max_model_len: Optional[int] = typer.Option(None, "--max-model-len", help="vLLM context length (default: the model's)."),
    tensor_parallel_size: int = typer.Option(1, "--tensor-parallel-size", help="vLLM tensor parallelism (GPUs per model copy)."),
    data_parallel_size: int = typer.Option(1, "--data-parallel-size", help="Model copies generating in parallel (one process each)."),
    chunk_samples: int = typer.Option(2048, help="Samples generated, scored and written per atomic chunk."),
    score_timeout: float = typer.Option(10.0, help="Seconds per answer before math-verify is stopped (counted as a timeout)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show vLLM's own INFO and WARNING log lines."),
) -> None:
    """Sample N answers per problem, score them, and report Pass@k (resumable; one directory per benchmark)."""
    from progrpo_eval.benchmarks import get_benchmark
    from progrpo_eval.generation import SamplingSettings
    from progrpo_eval.generation.base import backend_names
    from progrpo_eval.run_plan import DEFAULT_MAX_TOKENS
    from progrpo_eval.runner import RunInterrupted, RunOptions
    from progrpo_eval.runner import run as run_benchmarks
    from progrpo_eval.ui import wide_console

    if k < 1:
        fail(f"--k must be at least 1, got {k}")
    if backend not in backend_names():
        fail(f"unknown backend {backend!r}; known: {', '.join(backend_names())}")
    if reasoning not in ("auto", "on", "off"):
        fail(f"--reasoning must be auto, on or off, got {reasoning!r}")
    names = list(dict.fromkeys(name.strip() for name in bench.split(",") if name.strip()))
    if not names:
        fail(f"--bench {bench!r} names no benchmark; `progrpo-eval benchmarks` lists them")
    if limit is not None and limit < 1:
        fail(f"--limit must be at least 1, got {limit} (leave it out to evaluate every problem)")
    try:
        for name in names:
            get_benchmark(name)
        settings = SamplingSettings(n=k, temperature=temperature, top_p=top_p, seed=seed, top_logprobs=top_logprobs,
                                    max_tokens=DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens)
    except ValueError as error:
        fail(str(error))
    _check_model(model)
    backend_options = {"dtype": dtype}
    if backend == "vllm":
        backend_options.update(max_model_len=max_model_len, tensor_parallel_size=tensor_parallel_size)
    if data_parallel_size > 1:
        backend_options["data_parallel_size"] = data_parallel_size
    options = RunOptions(
        model=model, benchmarks=names, settings=settings, backend=backend, out=out,
        data_dir=str(data_dir) if data_dir else None, limit=limit, overwrite=overwrite, instruction=instruction,
        reasoning=reasoning, chunk_samples=chunk_samples, score_timeout_s=score_timeout, backend_options=backend_options,
        max_tokens_given=max_tokens is not None, verbose=verbose,
    )
    console = wide_console(stderr=True)
    try:
        results = run_benchmarks(options, console)
    except USER_ERRORS as error:
        _fail_with(error)
    except RunInterrupted as stop:
        _interrupted("run", stop)
    _print_results(console, results)


@app.command("score")
def score(
    bench: str = typer.Option(..., "--bench", "-b", help="The benchmark the samples answer, e.g. aime24."),
    samples: Path = typer.Option(..., "--samples", help="JSONL: one {problem_id, text[, sample_index, finish_reason]} per line."),
    out: Path = typer.Option(Path("runs"), help="Root of the run directories: OUT/<model>/<benchmark>."),
    model: Optional[str] = typer.Option(None, help="Name of the model that wrote the samples (default: the file's stem)."),
    data_dir: Optional[Path] = typer.Option(None, envvar="PROGRPO_DATA_DIR", help="Offline benchmark copies; default: the Hugging Face Hub."),
    reasoning: str = typer.Option("auto", help="Score only the text after </think>: auto (if any sample has one), on, off."),
    instruction: Optional[str] = typer.Option(None, help="The instruction the samples were prompted with, for the manifest."),
    overwrite: bool = typer.Option(False, help="Replace an existing run directory made from other samples."),
    score_timeout: float = typer.Option(10.0, help="Seconds per answer before the scorer is stopped (counted as a timeout)."),
) -> None:
    """Score completions made elsewhere with the benchmark's own scorer; writes a normal run directory."""
    from progrpo_eval.benchmarks import get_benchmark
    from progrpo_eval.importer import ImportOptions, import_samples
    from progrpo_eval.runner import RunInterrupted
    from progrpo_eval.summary import markdown_table
    from progrpo_eval.ui import wide_console

    options = ImportOptions(benchmark=bench, samples_file=samples, out=out, model=model,
                            data_dir=str(data_dir) if data_dir else None, reasoning=reasoning,
                            instruction=instruction, overwrite=overwrite, score_timeout_s=score_timeout)
    console = wide_console(stderr=True)
    try:
        get_benchmark(bench)
        run_dir, summary = import_samples(options, console)
    except USER_ERRORS as error:
        _fail_with(error)
    except RunInterrupted as stop:
        _interrupted("score", stop)
    console.print(f"{bench}: {run_dir}")
    typer.echo(markdown_table([(bench, summary)]))


@app.command("lm-eval")
def lm_eval_command(
    model: str = typer.Option(..., "--model", "-m", help="Model directory (Hugging Face format) or Hub id."),
    tasks: str = typer.Option(..., "--tasks", "-t", help="lm-eval task or group name(s), comma-separated."),
    k: int = typer.Option(..., "--k", help="Samples per document (the task's repeats); Pass@k for k = 1, 2, 4, ..., N."),
    include_path: Optional[Path] = typer.Option(None, "--include-path", help="A folder of custom lm-eval task YAMLs."),
    backend: str = typer.Option("vllm", help="lm-eval's model: vllm (default) or hf."),
    temperature: float = typer.Option(0.6, help="Sampling temperature, passed to every task (the paper: 0.6)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling threshold (the paper: 0.95)."),
    max_tokens: int = typer.Option(8192, "--max-tokens", help="Maximum new tokens per sample (lm-eval's max_gen_toks)."),
    seed: int = typer.Option(0, help="Seed for lm-eval's random, numpy and torch seeds and the vLLM engine."),
    limit: Optional[int] = typer.Option(None, help="Only the first N documents of each task."),
    out: Path = typer.Option(Path("runs"), help="Root of the run directories: OUT/<model>/<task>."),
    chat_template: str = typer.Option("auto", help="Apply the model's chat template: auto (if it has one), on, off."),
    reasoning: str = typer.Option("auto", help="Score only the text after </think>: auto (if the chat template uses it), on, off."),
    filter_name: Optional[str] = typer.Option(None, "--filter", help="The task's filter ensemble to judge with (default: its first)."),
    metric: Optional[str] = typer.Option(None, help="The task's 0/1 metric that decides correct (default: its first)."),
    dtype: str = typer.Option("auto", help="Model dtype (auto, bfloat16, float16, float32)."),
    batch_size: Optional[str] = typer.Option(None, help="lm-eval's batch size: a number, or auto (default: auto on a GPU, 8 on the CPU)."),
    tensor_parallel_size: Optional[int] = typer.Option(None, "--tensor-parallel-size", help="vLLM tensor parallelism."),
    data_parallel_size: Optional[int] = typer.Option(None, "--data-parallel-size", help="vLLM data parallelism."),
    max_model_len: Optional[int] = typer.Option(None, "--max-model-len", help="vLLM context length (default: the model's)."),
    overwrite: bool = typer.Option(False, help="Replace an existing run directory whose settings differ."),
    verbose: bool = typer.Option(False, help="Show lm-eval's and vLLM's own log lines."),
) -> None:
    """Sample lm-evaluation-harness tasks k times; every sample judged by the task's own filters and metric."""
    from progrpo_eval.generation import SamplingSettings
    from progrpo_eval.lmeval.bridge import LmEvalOptions, run_lm_eval
    from progrpo_eval.runner import RunInterrupted
    from progrpo_eval.ui import wide_console

    if k < 1:
        fail(f"--k must be at least 1, got {k}")
    for name, value in (("--chat-template", chat_template), ("--reasoning", reasoning)):
        if value not in ("auto", "on", "off"):
            fail(f"{name} must be auto, on or off, got {value!r}")
    names = [name.strip() for name in tasks.split(",") if name.strip()]
    if not names:
        fail("--tasks names no task")
    _check_model(model)
    try:
        settings = SamplingSettings(n=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed)
        options = LmEvalOptions(
            model=model, tasks=names, settings=settings, backend=backend,
            include_path=str(include_path) if include_path else None, out=out, limit=limit,
            chat_template=chat_template, reasoning=reasoning, filter_name=filter_name, metric=metric,
            batch_size=int(batch_size) if batch_size and batch_size.isdigit() else batch_size, overwrite=overwrite,
            verbose=verbose,
            model_options={"dtype": dtype, "tensor_parallel_size": tensor_parallel_size,
                           "data_parallel_size": data_parallel_size, "max_model_len": max_model_len})
        console = wide_console(stderr=True)
        results = run_lm_eval(options, console)
    except USER_ERRORS as error:
        _fail_with(error)
    except RunInterrupted as stop:
        _interrupted("lm-eval", stop)
    _print_results(console, results)


@app.command("lm-eval-tasks")
def lm_eval_tasks(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the task YAMLs into (lm-eval's --include_path)."),
    k: int = typer.Option(16, "--k", help="Samples per document (repeats); Pass@j for j = 1, 2, 4, ..., k."),
    bench: Optional[str] = typer.Option(None, "--bench", "-b", help="Benchmark name(s), comma-separated; default: all."),
    temperature: float = typer.Option(0.6, help="Sampling temperature written into every task (the paper: 0.6)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling threshold (the paper: 0.95)."),
    max_tokens: int = typer.Option(8192, "--max-tokens", help="lm-eval's max_gen_toks for every task."),
) -> None:
    """Write progrpo's benchmarks as lm-eval tasks whose metric is Pass@k by progrpo's own scorer."""
    from progrpo_eval.lmeval.export import write_task_folder

    names = [name.strip() for name in bench.split(",") if name.strip()] if bench else None
    try:
        written = write_task_folder(out, k, names, temperature=temperature, top_p=top_p, max_tokens=max_tokens)
    except USER_ERRORS as error:
        _fail_with(error)
    typer.echo(f"wrote {len(written) - 1} lm-eval tasks to {out}: lm_eval ... --include_path {out} "
               f"--tasks {written[1].stem} --apply_chat_template")


@app.command("rescore")
def rescore(
    run_dir: Path = typer.Argument(..., help="A run directory written by `progrpo-eval run`."),
    entropy: str = typer.Option(
        "exact", help="exact: re-run the model teacher-forced for the full-vocabulary entropy at T=1 (or "
        "--temperature; top-p not applied); topk: lower and upper bounds at T=1 from the stored top-k log-probs "
        "(runs made with --top-logprobs K). Writes RUN_DIR/extras/entropy[_topk].parquet and .json."),
    batch_size: int = typer.Option(8, help="exact: sequences per forward pass."),
    chunk_size: int = typer.Option(512, help="exact: response positions through the output layer at a time."),
    vocab_chunk_size: int = typer.Option(
        8192, help="exact: vocabulary rows of the output layer at a time; extra memory ~ chunk-size x this floats."),
    device: str = typer.Option("auto", help="exact: auto (cuda if available, else cpu), cpu, cuda, cuda:1, ..."),
    dtype: str = typer.Option("float32", help="exact: model dtype: float32, bfloat16, float16, auto (the checkpoint's)."),
    temperature: Optional[float] = typer.Option(
        None, help="exact: the temperature of the entropy and of the log-probs stored beside it; default 1, the policy's "
        "own distribution (Eq. 5-6, the figures' default). Pass the sampling temperature for figures at it."),
    data_dir: Optional[Path] = typer.Option(
        None, help="exact, for runs that did not store prompt ids: the benchmark data the run used (default: the "
        "manifest's data file, then PROGRPO_DATA_DIR, then the Hub); its checksum must match the manifest's."),
    vocab_size: Optional[int] = typer.Option(
        None, help="topk: the model's output vocabulary size V, for the upper bounds (default: the manifest, an exact "
        "rescore's record, or the model's config.json; without any, only the lower bounds are computed)."),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="The run's model where it is now, when it moved (default: the manifest's)."),
) -> None:
    """Per-token entropy of a run's samples: exact (teacher-forced model) or top-k bounds (stored log-probs)."""
    if entropy not in ("exact", "topk"):
        fail(f"unknown entropy method {entropy!r}; known: exact, topk")
    from progrpo_eval.rescore import ExactOptions, rescore_exact, rescore_topk

    try:
        if entropy == "topk":
            provenance = rescore_topk(run_dir, vocab_size=vocab_size, model=model)
        else:
            options = ExactOptions(batch_size=batch_size, chunk_size=chunk_size, vocab_chunk_size=vocab_chunk_size,
                                   device=device, dtype=dtype, temperature=temperature,
                                   data_dir=str(data_dir) if data_dir else None, model=model)
            provenance = rescore_exact(run_dir, options)
    except USER_ERRORS as error:
        _fail_with(error)
    if entropy == "topk":
        vocab = (f"V={provenance['vocab_size']} from {provenance['vocab_size_source']}" if provenance["vocab_size"]
                 else "lower bounds only: V unknown, pass --vocab-size or --model for the upper bounds")
        typer.echo(f"wrote {run_dir / 'extras' / 'entropy_topk.parquet'}: entropy bounds at T=1 from "
                   f"top-{provenance['k']} log-probs ({vocab}), {provenance['tokens']} tokens of "
                   f"{provenance['samples']} samples")
        return
    difference = provenance["max_abs_logprob_diff_vs_stored"]
    typer.echo(f"wrote {run_dir / 'extras' / 'entropy.parquet'}: exact entropy at T={provenance['temperature']:g} "
               f"(top-p not applied), {provenance['tokens']} tokens of {provenance['samples']} samples, "
               f"{provenance['seconds']:.1f} s on {provenance['device']}; max |logprob diff| vs stored: {difference:.2g}")
    if difference is not None and difference > 1e-2:
        typer.echo("note: recomputed log-probs differ from the stored ones; check the model and prompts "
                   "(differences near 0.1 are usual when either side ran in bfloat16)", err=True)


@app.command("report")
def report(
    run_dirs: list[Path] = typer.Argument(..., help="Run directories (OUT/<model>/<benchmark>); runs of one model share a row."),
    out: Path = typer.Option(..., "--out", "-o", help="PDF file to write, e.g. reports/NAME.pdf (written atomically)."),
    metrics: Optional[list[Path]] = typer.Option(
        None, "--metrics", help="Training metrics.jsonl (one JSON per step with step and entropy) for Fig. 2; repeatable."
    ),
    title: Optional[str] = typer.Option(None, help="Title of the first page and the page footers (default: progrpo-eval report)."),
    semantic: bool = typer.Option(
        True, "--semantic/--no-semantic", help="Semantic cosine (all-MiniLM-L6-v2) in the diversity table (Tab. 5)."
    ),
    resamples: int = typer.Option(10_000, help="Bootstrap resamples over problems for the comparison pages."),
    temperature: float = typer.Option(
        1.0, help="The one temperature of every token statistic on Fig. 3, 4 and 8 (default 1: the policy's own "
        "distribution, Eq. 5-6); another needs `rescore --entropy exact --temperature T`."),
    diversity: str = typer.Option(
        "pooled", help="Tab. 5: pooled (all of a benchmark's correct solutions as one set, the paper's \"dataset level\") "
        "or per-problem (each problem's, then the mean)."),
    diversity_fair: int = typer.Option(
        0, "--diversity-fair", help="Tab. 5 fair mode: only problems every model solves at least M times, M correct "
        "solutions drawn from each (seeded); 0: off."),
    semantic_long_texts: str = typer.Option(
        "truncate", "--semantic-long-texts", help="Semantic cosine of long solutions: truncate (the model's encode, "
        "256 word pieces, as the paper) or window (the mean of 254-piece windows)."),
) -> None:
    """Write a deterministic PDF report: settings, results tables, the paper's figures, paired comparisons."""
    from progrpo_eval.reporting.pdf import build_report

    if diversity not in ("pooled", "per-problem"):
        fail(f"--diversity must be pooled or per-problem, got {diversity!r}")
    if semantic_long_texts not in ("truncate", "window"):
        fail(f"--semantic-long-texts must be truncate or window, got {semantic_long_texts!r}")
    if diversity_fair < 0:
        fail(f"--diversity-fair must be 0 (off) or a number of solutions, got {diversity_fair}")
    try:
        result = build_report(run_dirs, out, metrics_jsonl=metrics, title=title, semantic=semantic, num_resamples=resamples,
                              diversity=diversity, diversity_fair=diversity_fair or None, long_texts=semantic_long_texts,
                              temperature=temperature)
    except USER_ERRORS as error:
        _fail_with(error)
    typer.echo(f"wrote {result.path} ({len(result.pages)} pages)")
    for note in result.notes:
        typer.echo(f"note: {note}")


@app.command("compare")
def compare(
    run_a: Path = typer.Argument(..., help="Run directory A (the baseline), or a model's directory of runs (OUT/<model>)."),
    run_b: Path = typer.Argument(..., help="Run directory B on the same problems (or a model's directory); B − A."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (values as fractions in [0, 1]) instead of a table."),
    resamples: int = typer.Option(10_000, help="Bootstrap resamples over problems."),
    seed: int = typer.Option(0, help="Bootstrap seed (same seed, same numbers)."),
) -> None:
    """Paired bootstrap over problems: Pass@k for each k and accuracy, B − A, 95% CI, p-value and Holm's p.

    Two models' directories compare every benchmark they share, and their average (problems
    resampled within each benchmark), Holm's correction over the k × benchmark tests."""
    from rich.table import Table

    from progrpo_eval.reporting.comparison import compare_paths, comparison_json, comparison_table
    from progrpo_eval.reporting.runs import resolve_runs
    from progrpo_eval.ui import wide_console

    try:
        comparisons = compare_paths(run_a, run_b, num_resamples=resamples, seed=seed)
        single = (run_a / "manifest.json").is_file() and (run_b / "manifest.json").is_file()
        label_a, label_b = (ref.label for ref in resolve_runs([run_a, run_b])) if single else (run_a.name, run_b.name)
    except USER_ERRORS as error:
        _fail_with(error)
    if as_json:
        typer.echo(comparison_json(comparisons[0] if single else comparisons, run_a, run_b))
        return
    for comparison in comparisons:
        table = comparison_table(comparison, label_a, label_b)
        shown = Table(title=table.title, caption=f"A: {run_a}\nB: {run_b}\n{table.notes}")
        for number, column in enumerate(table.header()):
            shown.add_column(column, justify="left" if number == 0 else "right")
        for row in table.text_rows():
            shown.add_row(*row)
        wide_console().print(shown)


@app.command("repair")
def repair(
    run_dir: Path = typer.Argument(..., help="A run directory that holds some (problem, sample) twice."),
) -> None:
    """Drop duplicated samples (two writers at once): each problem keeps the samples of its first chunk."""
    from progrpo_eval.run_lock import RunLock
    from progrpo_eval.repair import repair_duplicates

    try:
        if not (run_dir / "manifest.json").is_file():
            raise ValueError(f"{run_dir} is not a run directory (no manifest.json)")
        with RunLock(run_dir):
            outcome = repair_duplicates(run_dir)
    except USER_ERRORS as error:
        _fail_with(error)
    if not outcome["rows_removed"]:
        typer.echo(f"{run_dir}: no duplicate samples; nothing changed")
        return
    typer.echo(f"{run_dir}: removed {outcome['rows_removed']} duplicate samples ({outcome['chunks_rewritten']} "
               f"chunks rewritten, {outcome['chunks_deleted']} deleted); run the same `progrpo-eval run` to rewrite "
               "the summary")


@app.command("tiny-model")
def tiny_model(
    out_dir: Path = typer.Argument(..., help="Directory to write the model into (created if missing)."),
    seed: int = typer.Option(0, help="Seed for the random weights; the same seed gives the same files."),
    text: Optional[list[Path]] = typer.Option(
        None, help="Text file(s) to train the BPE tokenizer on (repeatable); default: a built-in math corpus."
    ),
    vocab_size: int = typer.Option(1024, help="Tokenizer vocabulary size, special tokens included."),
) -> None:
    """Build a tiny random Qwen2 chat model offline (for tests, demos and smoke runs)."""
    from progrpo_eval.tiny_model import TinyModelSpec, build_tiny_model

    for path in text or []:
        if not path.is_file():
            fail(f"text file not found: {path}")
    directory = build_tiny_model(out_dir, seed=seed, text_files=text, spec=TinyModelSpec(vocab_size=vocab_size))
    typer.echo(f"wrote {directory}")


@app.command("benchmarks")
def benchmarks(
    data_dir: Optional[Path] = typer.Option(
        None, envvar="PROGRPO_DATA_DIR", help="Offline benchmark copies; sizes are counted from them when given."
    ),
) -> None:
    """List the registered benchmarks with their sizes and sources."""
    from rich.table import Table

    from progrpo_eval.benchmarks import describe_benchmarks
    from progrpo_eval.ui import wide_console

    table = Table(title="progrpo-eval benchmarks")
    for column in ("name", "family", "problems", "Hub source", "offline file"):
        table.add_column(column)
    for row in describe_benchmarks(data_dir):
        size = "?" if row["size"] is None else str(row["size"])
        if row.get("offline_is_subset"):
            size += " (subset)"
        source = row["source"] + (f":{row['hub_config']}" if row.get("hub_config") else "") + f"@{row['split']}"
        table.add_row(row["name"], row["family"], size, source, row["offline_file"])
    wide_console().print(table)


def main() -> None:
    app(prog_name="progrpo-eval")


if __name__ == "__main__":
    sys.exit(main())
