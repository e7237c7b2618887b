"""progrpo-eval: Pass@k evaluation, rollout analysis and reports for RL-trained reasoning models.

Every command reads or writes run directories (see `progrpo_eval.store`).
Errors a user can fix print one `error:` line and exit 2.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Optional

import typer

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


USER_ERRORS = (ValueError, OSError)


def _check_model(model: str) -> None:
    """A missing local model fails here; a Hub id is left to the loader (it may be cached)."""
    if Path(model).expanduser().exists():
        return
    if model.startswith((".", "/", "~")) or not re.fullmatch(r"[\w.-]+/[\w.-]+", model):
        fail(f"model not found: {model} (not a local directory, and not a Hub id like org/name)")


@app.command("run")
def run(
    model: str = typer.Option(..., "--model", "-m", help="Model directory (Hugging Face format) or Hub id."),
    bench: str = typer.Option(..., "--bench", "-b", help="Benchmark name(s), comma-separated, e.g. aime24,aime25,amc23."),
    k: int = typer.Option(..., "--k", help="Samples per problem (N); Pass@k is reported for k = 1, 2, 4, ..., N."),
    backend: str = typer.Option("vllm", help="Generation backend: vllm (default) or hf (transformers generate)."),
    temperature: float = typer.Option(0.6, help="Sampling temperature (the paper's evaluation: 0.6)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling threshold (the paper: 0.95)."),
    max_tokens: int = typer.Option(8192, "--max-tokens", help="Maximum new tokens per sample (the paper: 8K; 32K for R1-Distill on math)."),
    seed: int = typer.Option(0, help="Run seed; each problem samples with a seed derived from (seed, problem id)."),
    top_logprobs: int = typer.Option(0, "--top-logprobs", help="Also keep the top-k log-probs per token (0: only the sampled token's)."),
    limit: Optional[int] = typer.Option(None, help="Evaluate only the first N problems of each benchmark (quick runs)."),
    data_dir: Optional[Path] = typer.Option(None, envvar="PROGRPO_DATA_DIR", help="Offline benchmark copies; default: the Hugging Face Hub."),
    out: Path = typer.Option(Path("runs"), help="Root of the run directories: OUT/<model>/<benchmark>."),
    overwrite: bool = typer.Option(False, help="Replace an existing run directory whose settings differ."),
    instruction: Optional[str] = typer.Option(None, help="Replace the task family's standard instruction appended to each question."),
    reasoning: str = typer.Option("auto", help="Score only the text after </think>: auto (if the chat template uses it), on, off."),
    dtype: str = typer.Option("auto", help="Model dtype for the backend (auto, bfloat16, float16, float32)."),
    max_model_len: Optional[int] = typer.Option(None, "--max-model-len", help="vLLM context length (default: the model's)."),
    tensor_parallel_size: int = typer.Option(1, "--tensor-parallel-size", help="vLLM tensor parallelism (GPUs per model copy)."),
    data_parallel_size: int = typer.Option(1, "--data-parallel-size", help="Model copies generating in parallel (one process each)."),
    chunk_samples: int = typer.Option(2048, help="Samples generated, scored and written per atomic chunk."),
    score_timeout: float = typer.Option(10.0, help="Seconds per answer before math-verify is stopped (counted as a timeout)."),
) -> None:
    """Sample N answers per problem, score them, and report Pass@k (resumable; one directory per benchmark)."""
    from progrpo_eval.benchmarks import get_benchmark
    from progrpo_eval.generation import SamplingSettings
    from progrpo_eval.runner import RunOptions
    from progrpo_eval.runner import run as run_benchmarks
    from progrpo_eval.summary import markdown_table
    from progrpo_eval.ui import wide_console

    if k < 1:
        fail(f"--k must be at least 1, got {k}")
    if backend not in ("vllm", "hf"):
        fail(f"unknown backend {backend!r}; known: vllm, hf")
    if reasoning not in ("auto", "on", "off"):
        fail(f"--reasoning must be auto, on or off, got {reasoning!r}")
    names = [name.strip() for name in bench.split(",") if name.strip()]
    try:
        for name in names:
            get_benchmark(name)
        settings = SamplingSettings(n=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed,
                                    top_logprobs=top_logprobs)
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
    )
    console = wide_console(stderr=True)
    try:
        results = run_benchmarks(options, console)
    except USER_ERRORS as error:
        if os.environ.get("PROGRPO_DEBUG"):
            raise
        fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
    for name, run_dir, _ in results:
        console.print(f"{name}: {run_dir}")
    typer.echo(markdown_table([(name, summary) for name, _, summary in results]))


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
