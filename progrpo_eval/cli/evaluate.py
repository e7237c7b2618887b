"""`progrpo-eval run`, `score`, `benchmarks` and `tiny-model`: making run directories."""

from __future__ import annotations

from pathlib import Path

import typer

from progrpo_eval.cli.common import USER_ERRORS, app, check_model, fail, fail_with, interrupted, print_results


@app.command("run")
def run(
    model: str = typer.Option(..., "--model", "-m", help="Model directory (Hugging Face format) or Hub id."),
    bench: str = typer.Option(
        ..., "--bench", "-b", help="Benchmark name(s), comma-separated, e.g. aime24,aime25,amc23."
    ),
    k: int = typer.Option(..., "--k", help="Samples per problem (N); Pass@k is reported for k = 1, 2, 4, ..., N."),
    backend: str = typer.Option("vllm", help="Generation backend: vllm (default) or hf (transformers generate)."),
    temperature: float = typer.Option(0.6, help="Sampling temperature (the paper's evaluation: 0.6)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling threshold (the paper: 0.95)."),
    max_tokens: int | None = typer.Option(
        None,
        "--max-tokens",
        help="Maximum new tokens per sample; default by model family, as the paper: 32768 for a "
        "reasoning model (chat template with </think>, or --reasoning on) on math, else 8192.",
    ),
    seed: int = typer.Option(0, help="Run seed; each problem samples with a seed derived from (seed, problem id)."),
    top_logprobs: int = typer.Option(
        0, "--top-logprobs", help="Also keep the top-k log-probs per token (0: only the sampled token's)."
    ),
    limit: int | None = typer.Option(None, help="Evaluate only the first N problems of each benchmark (quick runs)."),
    data_dir: Path | None = typer.Option(
        None, envvar="PROGRPO_DATA_DIR", help="Offline benchmark copies; default: the Hugging Face Hub."
    ),
    out: Path = typer.Option(Path("runs"), help="Root of the run directories: OUT/<model>/<benchmark>."),
    overwrite: bool = typer.Option(False, help="Replace an existing run directory whose settings differ."),
    instruction: str | None = typer.Option(
        None,
        help="Replace the task family's standard instruction appended to each question; "
        '"train": the one the checkpoint was trained with.',
    ),
    reasoning: str = typer.Option(
        "auto", help="Score only the text after </think>: auto (if the chat template uses it), on, off."
    ),
    dtype: str = typer.Option("auto", help="Model dtype for the backend (auto, bfloat16, float16, float32)."),
    max_model_len: int | None = typer.Option(
        None, "--max-model-len", help="vLLM context length (default: the model's)."
    ),
    tensor_parallel_size: int = typer.Option(
        1, "--tensor-parallel-size", help="vLLM tensor parallelism (GPUs per model copy)."
    ),
    data_parallel_size: int = typer.Option(
        1, "--data-parallel-size", help="Model copies generating in parallel (one process each)."
    ),
    chunk_samples: int = typer.Option(2048, help="Samples generated, scored and written per atomic chunk."),
    score_timeout: float = typer.Option(
        10.0, help="Seconds per answer before math-verify is stopped (counted as a timeout)."
    ),
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
        settings = SamplingSettings(
            n=k,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            top_logprobs=top_logprobs,
            max_tokens=DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens,
        )
    except ValueError as error:
        fail(str(error))
    check_model(model)
    backend_options = {"dtype": dtype}
    if backend == "vllm":
        backend_options.update(max_model_len=max_model_len, tensor_parallel_size=tensor_parallel_size)
    if data_parallel_size > 1:
        backend_options["data_parallel_size"] = data_parallel_size
    options = RunOptions(
        model=model,
        benchmarks=names,
        settings=settings,
        backend=backend,
        out=out,
        data_dir=str(data_dir) if data_dir else None,
        limit=limit,
        overwrite=overwrite,
        instruction=instruction,
        reasoning=reasoning,
        chunk_samples=chunk_samples,
        score_timeout_s=score_timeout,
        backend_options=backend_options,
        max_tokens_given=max_tokens is not None,
        verbose=verbose,
    )
    console = wide_console(stderr=True)
    try:
        results = run_benchmarks(options, console)
    except USER_ERRORS as error:
        fail_with(error)
    except RunInterrupted as stop:
        interrupted("run", stop)
    print_results(console, results)


@app.command("score")
def score(
    bench: str = typer.Option(..., "--bench", "-b", help="The benchmark the samples answer, e.g. aime24."),
    samples: Path = typer.Option(
        ..., "--samples", help="JSONL: one {problem_id, text[, sample_index, finish_reason]} per line."
    ),
    out: Path = typer.Option(Path("runs"), help="Root of the run directories: OUT/<model>/<benchmark>."),
    model: str | None = typer.Option(None, help="Name of the model that wrote the samples (default: the file's stem)."),
    data_dir: Path | None = typer.Option(
        None, envvar="PROGRPO_DATA_DIR", help="Offline benchmark copies; default: the Hugging Face Hub."
    ),
    reasoning: str = typer.Option(
        "auto", help="Score only the text after </think>: auto (if any sample has one), on, off."
    ),
    instruction: str | None = typer.Option(
        None, help="The instruction the samples were prompted with, for the manifest."
    ),
    overwrite: bool = typer.Option(False, help="Replace an existing run directory made from other samples."),
    score_timeout: float = typer.Option(
        10.0, help="Seconds per answer before the scorer is stopped (counted as a timeout)."
    ),
) -> None:
    """Score completions made elsewhere with the benchmark's own scorer; writes a normal run directory."""
    from progrpo_eval.benchmarks import get_benchmark
    from progrpo_eval.importer import ImportOptions, import_samples
    from progrpo_eval.runner import RunInterrupted
    from progrpo_eval.summary import markdown_table
    from progrpo_eval.ui import wide_console

    options = ImportOptions(
        benchmark=bench,
        samples_file=samples,
        out=out,
        model=model,
        data_dir=str(data_dir) if data_dir else None,
        reasoning=reasoning,
        instruction=instruction,
        overwrite=overwrite,
        score_timeout_s=score_timeout,
    )
    console = wide_console(stderr=True)
    try:
        get_benchmark(bench)
        run_dir, summary = import_samples(options, console)
    except USER_ERRORS as error:
        fail_with(error)
    except RunInterrupted as stop:
        interrupted("score", stop)
    console.print(f"{bench}: {run_dir}")
    typer.echo(markdown_table([(bench, summary)]))


@app.command("benchmarks")
def benchmarks(
    data_dir: Path | None = typer.Option(
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


@app.command("tiny-model")
def tiny_model(
    out_dir: Path = typer.Argument(..., help="Directory to write the model into (created if missing)."),
    seed: int = typer.Option(0, help="Seed for the random weights; the same seed gives the same files."),
    text: list[Path] | None = typer.Option(
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
