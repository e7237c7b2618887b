"""progrpo-train: run one ProGRPO (or GRPO) training from a YAML recipe and key=value overrides.

One command, no subcommands: `progrpo-train --config RECIPE [key=value ...]`. What the user can
fix (an unknown key, a bad value, a missing recipe, and what the trainer refuses before its first
step: `run_dir.SetupError`, e.g. a non-empty out_dir, a changed config on resume, a missing model
or tokenizer, data that cannot be loaded) prints one `error:` line on stderr and exits 2, without
a traceback; PROGRPO_DEBUG=1 shows the traceback. Errors during training are not caught (they are
bugs or the machine's, and their traceback is the report). The trainer is imported only when
training starts, so `--print-config` and `--help` need neither torch nor DeepSpeed.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from progrpo_train.config import config_to_yaml, list_recipes, load_config
from progrpo_train.config_loader import base_recipes, describe_recipe, variants
from progrpo_train.run_dir import SetupError


def describe_recipes(names: list[str]) -> str:
    """One line per recipe: its name and what it is."""
    return "\n".join(f"  {name}: {describe_recipe(name)}" for name in names)


HELP = f"""Train a policy with ProGRPO (or GRPO) from a YAML recipe.

\b
RECIPE is a YAML file or the name of a packaged recipe:
{describe_recipes(base_recipes())}
or NAME:VARIANT, a packaged recipe with one of the paper's comparisons
({", ".join(variants())}); --list-recipes prints all of them.

Overrides are KEY=VALUE with dotted keys, applied in order after the recipe, e.g.
optim.lr=1e-6 rollout.n=8 algorithm.advantage=grpo out_dir=runs/x max_steps=10 resume=true.
Every key, its meaning and its default: progrpo_train/config.py; print the resolved config
with --print-config. The run writes out_dir/metrics.jsonl (one line per step), the resolved
config and Hugging Face checkpoints that `progrpo-eval run --model` loads.
"""

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command(help=HELP)
def train_command(
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            "-c",
            metavar="RECIPE",
            help=f"A YAML file, or a packaged recipe name ({', '.join(base_recipes())}, or NAME:VARIANT).",
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="KEY=VALUE",
            show_default=False,
            help="Dotted-key overrides applied after the recipe, e.g. optim.lr=1e-6.",
        ),
    ] = None,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="Print the resolved config as YAML and exit without training.")
    ] = False,
    list_all: Annotated[
        bool, typer.Option("--list-recipes", help="Print every packaged recipe and variant, one line each, and exit.")
    ] = False,
) -> None:
    if list_all:
        typer.echo(describe_recipes(list_recipes()))
        return
    if config is None:
        _fail_with(ValueError("missing option --config RECIPE (or --list-recipes)"))
    try:
        cfg = load_config(config, overrides or [])
    except (ValueError, OSError) as error:
        _fail_with(error)
    if print_config:
        typer.echo(config_to_yaml(cfg), nl=False)
        return
    from progrpo_train.trainer import train  # torch, DeepSpeed and vLLM only from here on

    try:
        train(cfg)
    except SetupError as error:
        _fail_with(error)


def _fail_with(error: Exception) -> None:
    """One `error:` line on stderr (so scripts can grep it) and exit 2; PROGRPO_DEBUG=1 re-raises."""
    if os.environ.get("PROGRPO_DEBUG"):
        raise error
    message = " ".join(str(error).split())
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2) from None


def main() -> None:
    """Console-script entry point (`progrpo-train`)."""
    app()


if __name__ == "__main__":
    main()
