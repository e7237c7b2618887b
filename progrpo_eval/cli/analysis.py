"""`progrpo-eval rescore`, `report`, `compare` and `repair`: reading run directories."""

from __future__ import annotations

from pathlib import Path

import typer

from progrpo_eval.cli.common import USER_ERRORS, app, fail, fail_with


@app.command("rescore")
def rescore(
    run_dir: Path = typer.Argument(..., help="A run directory written by `progrpo-eval run`."),
    entropy: str = typer.Option(
        "exact",
        help="exact: re-run the model teacher-forced for the full-vocabulary entropy at T=1 (or "
        "--temperature; top-p not applied); topk: lower and upper bounds at T=1 from the stored top-k log-probs "
        "(runs made with --top-logprobs K). Writes RUN_DIR/extras/entropy[_topk].parquet and .json.",
    ),
    batch_size: int = typer.Option(8, help="exact: sequences per forward pass."),
    chunk_size: int = typer.Option(512, help="exact: response positions through the output layer at a time."),
    vocab_chunk_size: int = typer.Option(
        8192, help="exact: vocabulary rows of the output layer at a time; extra memory ~ chunk-size x this floats."
    ),
    device: str = typer.Option("auto", help="exact: auto (cuda if available, else cpu), cpu, cuda, cuda:1, ..."),
    dtype: str = typer.Option(
        "float32", help="exact: model dtype: float32, bfloat16, float16, auto (the checkpoint's)."
    ),
    temperature: float | None = typer.Option(
        None,
        help="exact: the temperature of the entropy and of the log-probs stored beside it; default 1, the policy's "
        "own distribution (Eq. 5-6, the figures' default). Pass the sampling temperature for figures at it.",
    ),
    data_dir: Path | None = typer.Option(
        None,
        help="exact, for runs that did not store prompt ids: the benchmark data the run used (default: the "
        "manifest's data file, then PROGRPO_DATA_DIR, then the Hub); its checksum must match the manifest's.",
    ),
    vocab_size: int | None = typer.Option(
        None,
        help="topk: the model's output vocabulary size V, for the upper bounds (default: the manifest, an exact "
        "rescore's record, or the model's config.json; without any, only the lower bounds are computed).",
    ),
    model: str | None = typer.Option(
        None, "--model", "-m", help="The run's model where it is now, when it moved (default: the manifest's)."
    ),
) -> None:
    """Per-token entropy of a run's samples: exact (teacher-forced model) or top-k bounds (stored log-probs)."""
    if entropy not in ("exact", "topk"):
        fail(f"unknown entropy method {entropy!r}; known: exact, topk")
    from progrpo_eval.rescore import ExactOptions, rescore_exact, rescore_topk

    try:
        if entropy == "topk":
            provenance = rescore_topk(run_dir, vocab_size=vocab_size, model=model)
        else:
            options = ExactOptions(
                batch_size=batch_size,
                chunk_size=chunk_size,
                vocab_chunk_size=vocab_chunk_size,
                device=device,
                dtype=dtype,
                temperature=temperature,
                data_dir=str(data_dir) if data_dir else None,
                model=model,
            )
            provenance = rescore_exact(run_dir, options)
    except USER_ERRORS as error:
        fail_with(error)
    if entropy == "topk":
        vocab = (
            f"V={provenance['vocab_size']} from {provenance['vocab_size_source']}"
            if provenance["vocab_size"]
            else "lower bounds only: V unknown, pass --vocab-size or --model for the upper bounds"
        )
        typer.echo(
            f"wrote {run_dir / 'extras' / 'entropy_topk.parquet'}: entropy bounds at T=1 from "
            f"top-{provenance['k']} log-probs ({vocab}), {provenance['tokens']} tokens of "
            f"{provenance['samples']} samples"
        )
        return
    difference = provenance["max_abs_logprob_diff_vs_stored"]
    typer.echo(
        f"wrote {run_dir / 'extras' / 'entropy.parquet'}: exact entropy at T={provenance['temperature']:g} "
        f"(top-p not applied), {provenance['tokens']} tokens of {provenance['samples']} samples, "
        f"{provenance['seconds']:.1f} s on {provenance['device']}; max |logprob diff| vs stored: {difference:.2g}"
    )
    if difference is not None and difference > 1e-2:
        typer.echo(
            "note: recomputed log-probs differ from the stored ones; check the model and prompts "
            "(differences near 0.1 are usual when either side ran in bfloat16)",
            err=True,
        )


@app.command("report")
def report(
    run_dirs: list[Path] = typer.Argument(
        ..., help="Run directories (OUT/<model>/<benchmark>); runs of one model share a row."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="PDF file to write, e.g. reports/NAME.pdf (written atomically)."),
    metrics: list[Path] | None = typer.Option(
        None,
        "--metrics",
        help="Training metrics.jsonl (one JSON per step with step and entropy) for Fig. 2; repeatable.",
    ),
    title: str | None = typer.Option(
        None, help="Title of the first page and the page footers (default: progrpo-eval report)."
    ),
    semantic: bool = typer.Option(
        True, "--semantic/--no-semantic", help="Semantic cosine (all-MiniLM-L6-v2) in the diversity table (Tab. 5)."
    ),
    resamples: int = typer.Option(10_000, help="Bootstrap resamples over problems for the comparison pages."),
    temperature: float = typer.Option(
        1.0,
        help="The one temperature of every token statistic on Fig. 3, 4 and 8 (default 1: the policy's own "
        "distribution, Eq. 5-6); another needs `rescore --entropy exact --temperature T`.",
    ),
    diversity: str = typer.Option(
        "pooled",
        help="Tab. 5: pooled (all of a benchmark's correct solutions as one set, the paper's \"dataset level\") "
        "or per-problem (each problem's, then the mean).",
    ),
    diversity_fair: int = typer.Option(
        0,
        "--diversity-fair",
        help="Tab. 5 fair mode: only problems every model solves at least M times, M correct "
        "solutions drawn from each (seeded); 0: off.",
    ),
    semantic_long_texts: str = typer.Option(
        "truncate",
        "--semantic-long-texts",
        help="Semantic cosine of long solutions: truncate (the model's encode, "
        "256 word pieces, as the paper) or window (the mean of 254-piece windows).",
    ),
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
        result = build_report(
            run_dirs,
            out,
            metrics_jsonl=metrics,
            title=title,
            semantic=semantic,
            num_resamples=resamples,
            diversity=diversity,
            diversity_fair=diversity_fair or None,
            long_texts=semantic_long_texts,
            temperature=temperature,
        )
    except USER_ERRORS as error:
        fail_with(error)
    typer.echo(f"wrote {result.path} ({len(result.pages)} pages)")
    for note in result.notes:
        typer.echo(f"note: {note}")


@app.command("compare")
def compare(
    run_a: Path = typer.Argument(
        ..., help="Run directory A (the baseline), or a model's directory of runs (OUT/<model>)."
    ),
    run_b: Path = typer.Argument(..., help="Run directory B on the same problems (or a model's directory); B − A."),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON (values as fractions in [0, 1]) instead of a table."
    ),
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
        fail_with(error)
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
    from progrpo_eval.repair import repair_duplicates
    from progrpo_eval.run_lock import RunLock

    try:
        if not (run_dir / "manifest.json").is_file():
            raise ValueError(f"{run_dir} is not a run directory (no manifest.json)")
        with RunLock(run_dir):
            outcome = repair_duplicates(run_dir)
    except USER_ERRORS as error:
        fail_with(error)
    if not outcome["rows_removed"]:
        typer.echo(f"{run_dir}: no duplicate samples; nothing changed")
        return
    typer.echo(
        f"{run_dir}: removed {outcome['rows_removed']} duplicate samples ({outcome['chunks_rewritten']} "
        f"chunks rewritten, {outcome['chunks_deleted']} deleted); run the same `progrpo-eval run` to rewrite "
        "the summary"
    )
