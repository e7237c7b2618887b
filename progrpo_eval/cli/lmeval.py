"""`progrpo-eval lm-eval` and `lm-eval-tasks`: the bridge to lm-evaluation-harness, both ways."""

from __future__ import annotations

from pathlib import Path

import typer

from progrpo_eval.cli.common import USER_ERRORS, app, check_model, fail, fail_with, interrupted, print_results


@app.command("lm-eval")
def lm_eval_command(
    model: str = typer.Option(..., "--model", "-m", help="Model directory (Hugging Face format) or Hub id."),
    tasks: str = typer.Option(..., "--tasks", "-t", help="lm-eval task or group name(s), comma-separated."),
    k: int = typer.Option(
        ..., "--k", help="Samples per document (the task's repeats); Pass@k for k = 1, 2, 4, ..., N."
    ),
    include_path: Path | None = typer.Option(None, "--include-path", help="A folder of custom lm-eval task YAMLs."),
    backend: str = typer.Option("vllm", help="lm-eval's model: vllm (default) or hf."),
    temperature: float = typer.Option(0.6, help="Sampling temperature, passed to every task (the paper: 0.6)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling threshold (the paper: 0.95)."),
    max_tokens: int = typer.Option(
        8192, "--max-tokens", help="Maximum new tokens per sample (lm-eval's max_gen_toks)."
    ),
    seed: int = typer.Option(0, help="Seed for lm-eval's random, numpy and torch seeds and the vLLM engine."),
    limit: int | None = typer.Option(None, help="Only the first N documents of each task."),
    out: Path = typer.Option(Path("runs"), help="Root of the run directories: OUT/<model>/<task>."),
    chat_template: str = typer.Option("auto", help="Apply the model's chat template: auto (if it has one), on, off."),
    reasoning: str = typer.Option(
        "auto", help="Score only the text after </think>: auto (if the chat template uses it), on, off."
    ),
    filter_name: str | None = typer.Option(
        None, "--filter", help="The task's filter ensemble to judge with (default: its first)."
    ),
    metric: str | None = typer.Option(None, help="The task's 0/1 metric that decides correct (default: its first)."),
    dtype: str = typer.Option("auto", help="Model dtype (auto, bfloat16, float16, float32)."),
    batch_size: str | None = typer.Option(
        None, help="lm-eval's batch size: a number, or auto (default: auto on a GPU, 8 on the CPU)."
    ),
    tensor_parallel_size: int | None = typer.Option(None, "--tensor-parallel-size", help="vLLM tensor parallelism."),
    data_parallel_size: int | None = typer.Option(None, "--data-parallel-size", help="vLLM data parallelism."),
    max_model_len: int | None = typer.Option(
        None, "--max-model-len", help="vLLM context length (default: the model's)."
    ),
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
    check_model(model)
    try:
        settings = SamplingSettings(n=k, temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed)
        options = LmEvalOptions(
            model=model,
            tasks=names,
            settings=settings,
            backend=backend,
            include_path=str(include_path) if include_path else None,
            out=out,
            limit=limit,
            chat_template=chat_template,
            reasoning=reasoning,
            filter_name=filter_name,
            metric=metric,
            batch_size=int(batch_size) if batch_size and batch_size.isdigit() else batch_size,
            overwrite=overwrite,
            verbose=verbose,
            model_options={
                "dtype": dtype,
                "tensor_parallel_size": tensor_parallel_size,
                "data_parallel_size": data_parallel_size,
                "max_model_len": max_model_len,
            },
        )
        console = wide_console(stderr=True)
        results = run_lm_eval(options, console)
    except USER_ERRORS as error:
        fail_with(error)
    except RunInterrupted as stop:
        interrupted("lm-eval", stop)
    print_results(console, results)


@app.command("lm-eval-tasks")
def lm_eval_tasks(
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder to write the task YAMLs into (lm-eval's --include_path)."
    ),
    k: int = typer.Option(16, "--k", help="Samples per document (repeats); Pass@j for j = 1, 2, 4, ..., k."),
    bench: str | None = typer.Option(None, "--bench", "-b", help="Benchmark name(s), comma-separated; default: all."),
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
        fail_with(error)
    typer.echo(
        f"wrote {len(written) - 1} lm-eval tasks to {out}: lm_eval ... --include_path {out} "
        f"--tasks {written[1].stem} --apply_chat_template"
    )
