"""Benchmarks: one frozen declaration each, registered by name on import.

    from progrpo_eval.benchmarks import load_problems, user_message
    loaded = load_problems("aime24", data_dir="../shared/data/benchmarks", limit=5)
    prompt = user_message(loaded.problems[0], loaded.benchmark.family)

`registry` holds the dataclasses, the registry and loading; `math` and `choice` declare the
benchmarks and their row parsers; `toy` generates its rows in code; `code` declares HumanEval+,
LiveCodeBench and CodeForces.
"""

from . import math  # noqa: I001  (import order is registration order: math, choice, toy, code)
from . import choice
from . import toy
from . import code
from .registry import (
    DATA_DIR_ENV,
    INSTRUCTIONS,
    Benchmark,
    LoadedBenchmark,
    Problem,
    RowContext,
    RowError,
    describe_benchmarks,
    get_benchmark,
    list_benchmarks,
    load_problems,
    register,
    user_message,
)

__all__ = [
    "DATA_DIR_ENV",
    "INSTRUCTIONS",
    "Benchmark",
    "LoadedBenchmark",
    "Problem",
    "RowContext",
    "RowError",
    "choice",
    "code",
    "describe_benchmarks",
    "get_benchmark",
    "list_benchmarks",
    "load_problems",
    "math",
    "register",
    "toy",
    "user_message",
]
