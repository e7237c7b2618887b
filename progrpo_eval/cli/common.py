"""The `progrpo-eval` app and what its commands share: one `error:` line for what a user can fix.

Errors a user can fix print one `error:` line and exit 2 (`PROGRPO_DEBUG=1` shows the
traceback); Ctrl-C prints what is on disk and the command that resumes, and exits 130.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from progrpo_eval.sandbox.isolation import SandboxUnavailable

APP_HELP = """progrpo-eval: Pass@k evaluation, rollout analysis and reports for RL-trained reasoning models.

Every command reads or writes run directories (see `progrpo_eval.store`).
Errors a user can fix print one `error:` line and exit 2.
"""

app = typer.Typer(
    help=APP_HELP,
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


def fail_with(error: Exception) -> None:
    """A user error (bad path, mismatched runs, ...) as one `error:` line; PROGRPO_DEBUG=1 shows the traceback."""
    if os.environ.get("PROGRPO_DEBUG"):
        raise error
    fail(str(error).splitlines()[0] if str(error) else type(error).__name__)


def interrupted(command: str, stop: BaseException) -> None:
    """Ctrl-C: one line saying what is on disk and the command that resumes (without --overwrite); exit 130."""
    import shlex

    args = sys.argv[1:] if sys.argv[1:2] == [command] else [command, "..."]
    resume = shlex.join(["progrpo-eval", *[arg for arg in args if arg != "--overwrite"]])
    typer.echo(f"interrupted: {stop}; resume with: {resume}", err=True)
    raise typer.Exit(130)


def print_results(console, results: list[tuple[str, Path, dict]]) -> None:
    """Each run directory (on stderr) and the summary table of all of them (on stdout)."""
    from progrpo_eval.summary import markdown_table

    for name, run_dir, _ in results:
        console.print(f"{name}: {run_dir}")
    typer.echo(markdown_table([(name, summary) for name, _, summary in results]))


def check_model(model: str) -> None:
    """A missing local model fails here; a Hub id is left to the loader (it may be cached)."""
    from progrpo_eval.model_files import check_model_reference

    try:
        check_model_reference(model)
    except ValueError as error:
        fail(str(error))


def main() -> None:
    app(prog_name="progrpo-eval")
