"""progrpo-eval: Pass@k evaluation, rollout analysis and reports for RL-trained reasoning models.

Every command reads or writes run directories (see `progrpo_eval.store`).
Errors a user can fix print one `error:` line and exit 2.
"""

from __future__ import annotations

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
