"""progrpo-eval, the command line: one Typer app, its commands registered by the modules below.

progrpo-eval run | score | benchmarks | tiny-model | lm-eval | lm-eval-tasks | rescore | report | compare | repair
"""

# Importing a module registers its commands; `--help` lists them in this order.
from progrpo_eval.cli import evaluate  # noqa: F401, I001
from progrpo_eval.cli import lmeval  # noqa: F401
from progrpo_eval.cli import analysis  # noqa: F401
from progrpo_eval.cli.common import USER_ERRORS, app, fail, main

__all__ = ["USER_ERRORS", "app", "fail", "main"]
