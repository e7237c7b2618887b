"""Benchmark declarations, the registry, and loading problems from the Hub or an offline copy.

Decisions:
- A benchmark is one frozen `Benchmark`: where its rows live (Hub id, config, split; offline file
  name) and one row parser that turns a row into a `Problem`. Variants are made with
  `dataclasses.replace`; registering a name twice raises.
- Where rows come from: the `data_dir` argument, else the `PROGRPO_DATA_DIR` environment variable,
  else the Hugging Face Hub (`datasets.load_dataset`, imported only on that path). An offline
  file is `data_dir / benchmark.offline_file`, one JSON object per line, unless the benchmark
  declares `read_rows` (a gzipped JSONL, a JSON list); `fetch_rows` replaces `load_dataset` for
  a Hub source that is not a plain dataset (LiveCodeBench's release files). Either hook may also
  select rows (a contest-date window); the checksum then covers what was selected.
- One row parser per benchmark reads both the Hub's row shape and the offline copy's shape; the
  fields present in the row decide, so a JSONL export of the Hub dataset also works as a data_dir.
- `checksum` identifies the data a run saw: sha256 of the raw file bytes for an offline file
  (it matches `sha256sum`), sha256 of the rows' canonical JSON (sorted keys, compact) for the
  Hub, which is the same on every machine, unlike the cache-dependent dataset fingerprint.
- `num_rows` counts the rows of the source; `limit` keeps the first N problems after every row
  has been parsed, so a malformed row anywhere fails the load with or without `limit`.
- A problem id is "<benchmark>/<source id>" when the row has an id field, else
  "<benchmark>/<0-based row index>"; ids must be unique within a load.
- A malformed row raises ValueError naming the file (or Hub split) and the 1-based line (or row).
  So do a row too deeply nested to parse (a RecursionError of its parser) and a row whose
  question or gold is over its size limit (`MAX_QUESTION_CHARS`, `MAX_GOLD_CHARS`: 40x and 200x
  the longest in the offline copies of our benchmarks; what would go into every prompt and into
  every scorer call). Tests of code problems are not limited here; the sandbox bounds their runs.
- A benchmark may make its rows in code (`generate_rows(split) -> rows`, e.g. the toy task):
  then nothing is read or downloaded, `data_dir` is ignored, the checksum is that of the rows'
  canonical JSON, and `split` chooses among the splits it generates. `train_split` names the
  split a trainer uses when it is given the benchmark as its data (`progrpo_train.data`), so
  training never sees the evaluation rows; None: a trainer uses the declared rows.
- Scoring is declared, not decided by the caller: `scorer` names a registered scorer
  (`progrpo_eval.scoring`) and `scorer_options` holds what the benchmark tells it (option
  letters, time limits); per-problem data (golds, tests) is on each `Problem`. `family` only
  chooses the instruction appended to the question.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from progrpo_eval.jsonl import read_jsonl
from progrpo_eval.problem import Problem
from progrpo_eval.scoring import scorer_class

DATA_DIR_ENV = "PROGRPO_DATA_DIR"
MAX_QUESTION_CHARS = 200_000
MAX_GOLD_CHARS = 50_000

Family = Literal["math", "choice", "code"]

INSTRUCTIONS: dict[str, str] = {
    "math": "Please reason step by step, and put your final answer within \\boxed{}.",
    "choice": (
        "Answer the following multiple choice question. Think step by step, then give the letter "
        "of the correct option in \\boxed{}, e.g. \\boxed{A}."
    ),
    # The paper prompts with the chat template only; a program needs its form stated, so this
    # neutral line asks for one fenced block. How the program gets its input (stdin, a function
    # to complete, starter code) is part of each question (`progrpo_eval.benchmarks.code`).
    "code": "Write a complete Python program that solves the problem, in a single ```python code block.",
}


class RowError(ValueError):
    """A row that cannot be parsed; the loader prefixes the file (or Hub split) and line."""


@dataclass(frozen=True)
class RowContext:
    """What a row parser knows besides the row: whose row it is, its index, the load's seed."""

    benchmark_name: str
    index: int  # 0-based, among the source's rows
    seed: int = 0

    def problem_id(self, row: Mapping[str, Any], *id_fields: str) -> str:
        """ "<benchmark>/<first id field present>", else "<benchmark>/<row index>"."""
        for id_field in id_fields:
            value = row.get(id_field)
            if value is not None and str(value) != "":
                return f"{self.benchmark_name}/{value}"
        return f"{self.benchmark_name}/{self.index}"


RowParser = Callable[[Mapping[str, Any], RowContext], Problem]
RowReader = Callable[[Path], list[tuple[int, dict[str, Any]]]]  # offline file -> (1-based line or item, row)


def require(row: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of `names` present (and not None) in `row`; RowError otherwise."""
    for name in names:
        if row.get(name) is not None:
            return row[name]
    raise RowError(f"missing field {names[0]!r}")


@dataclass(frozen=True)
class Benchmark:
    """A benchmark declaration. `version` changes whenever parsing or gold normalisation does."""

    name: str
    family: Family
    hub_id: str
    hub_config: str | None
    split: str
    offline_file: str
    parse_row: RowParser
    scorer: str  # a registered scorer name (progrpo_eval.scoring)
    display_name: str = ""  # as the paper's tables write it; default: the name
    scorer_options: Mapping[str, Any] = field(default_factory=dict, hash=False)  # for the scorer
    version: str = "1"
    description: str = ""
    offline_is_subset: bool = False  # the offline file holds only part of the Hub split
    generate_rows: Callable[[str], list[dict[str, Any]]] | None = None  # split -> rows, made in code (no file)
    train_split: str | None = None  # the split a trainer reads (generated benchmarks); None: `split`
    read_rows: RowReader | None = field(default=None, hash=False)  # offline file reader; None: JSONL
    fetch_rows: Callable[[Benchmark], list[dict[str, Any]]] | None = field(default=None, hash=False)  # Hub rows

    def __post_init__(self) -> None:
        if self.family not in INSTRUCTIONS:
            raise ValueError(
                f"benchmark {self.name!r}: unknown family {self.family!r}; known: {', '.join(INSTRUCTIONS)}"
            )
        scorer_class(self.scorer)  # an unknown scorer name raises here, at declaration
        if not self.display_name:
            object.__setattr__(self, "display_name", self.name)

    @property
    def instruction(self) -> str:
        return INSTRUCTIONS[self.family]

    @property
    def hub_source(self) -> str:
        """ "hub_id@split", with ":config" after the id when there is one."""
        config = f":{self.hub_config}" if self.hub_config else ""
        return f"{self.hub_id}{config}@{self.split}"


@dataclass(frozen=True)
class LoadedBenchmark:
    benchmark: Benchmark
    problems: list[Problem]
    source: str  # the offline file's path, or Benchmark.hub_source
    checksum: str  # sha256 hex digest, see the module docstring
    num_rows: int  # rows in the source, before `limit`


_BENCHMARKS: dict[str, Benchmark] = {}


def register(benchmark: Benchmark) -> Benchmark:
    """Add `benchmark` to the registry and return it; a name already registered raises."""
    if benchmark.name in _BENCHMARKS:
        raise ValueError(f"benchmark {benchmark.name!r} is already registered")
    _BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def get_benchmark(name: str) -> Benchmark:
    try:
        return _BENCHMARKS[name]
    except KeyError as error:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(_BENCHMARKS)}") from error


def list_benchmarks() -> list[str]:
    """Registered names, in registration order."""
    return list(_BENCHMARKS)


def user_message(problem: Problem, family: str, instruction: str | None = None) -> str:
    """The question, a newline, then the family's instruction (or `instruction` when given; "" for none).

    One newline, as in the Qwen2.5-Math and DeepSeek-R1 evaluation prompts.
    """
    if instruction is None:
        if family not in INSTRUCTIONS:
            raise ValueError(f"unknown family {family!r}; known: {', '.join(INSTRUCTIONS)}")
        instruction = INSTRUCTIONS[family]
    return f"{problem.question}\n{instruction}" if instruction else problem.question


def resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    """The argument, else $PROGRPO_DATA_DIR, else None (meaning the Hub)."""
    if data_dir is not None:
        return Path(data_dir)
    from_environment = os.environ.get(DATA_DIR_ENV)
    return Path(from_environment) if from_environment else None


def read_offline_file(path: Path, reader: RowReader | None = None) -> tuple[list[tuple[int, dict[str, Any]]], str]:
    """(1-based line number, row) for every row (`reader`, default JSONL), and the sha256 of the file's bytes."""
    if not path.is_file():
        raise FileNotFoundError(f"no offline benchmark file at {path}")
    return (reader or read_jsonl)(path), hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_hub_rows(benchmark: Benchmark) -> list[dict[str, Any]]:
    """The benchmark's Hub split as plain dicts, through `datasets.load_dataset`."""
    try:
        import datasets
    except ImportError as error:
        raise ImportError(
            f"loading {benchmark.name!r} from the Hub needs the `datasets` package; install it, "
            f"or pass data_dir / set {DATA_DIR_ENV} to a folder of offline copies"
        ) from error
    dataset = datasets.load_dataset(benchmark.hub_id, benchmark.hub_config, split=benchmark.split)
    return [dict(row) for row in dataset]


def canonical_rows_sha256(rows: Iterable[Mapping[str, Any]]) -> str:
    canonical = json.dumps(list(rows), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_rows(
    benchmark: Benchmark, numbered_rows: list[tuple[int, dict[str, Any]]], where: str, seed: int
) -> list[Problem]:
    """Parse every row; `where` prefixes errors, e.g. "math500.jsonl line"."""
    problems: list[Problem] = []
    first_seen_at: dict[str, int] = {}
    for index, (number, row) in enumerate(numbered_rows):
        try:
            problem = benchmark.parse_row(row, RowContext(benchmark.name, index, seed))
        except RowError as error:
            raise ValueError(f"{where} {number}: {error}") from error
        except RecursionError as error:
            raise ValueError(f"{where} {number}: nested too deeply to parse") from error
        _check_sizes(problem, f"{where} {number}")
        if problem.problem_id in first_seen_at:
            raise ValueError(
                f"{where} {number}: duplicate problem id {problem.problem_id!r} "
                f"(first at {where} {first_seen_at[problem.problem_id]})"
            )
        first_seen_at[problem.problem_id] = number
        problems.append(problem)
    return problems


def _check_sizes(problem: Problem, where: str) -> None:
    if len(problem.question) > MAX_QUESTION_CHARS:
        raise ValueError(
            f"{where} ({problem.problem_id}): the question is {len(problem.question):,} characters, "
            f"over the limit of {MAX_QUESTION_CHARS:,}"
        )
    longest = max((len(gold) for gold in problem.golds), default=0)
    if longest > MAX_GOLD_CHARS:
        raise ValueError(
            f"{where} ({problem.problem_id}): the gold answer is {longest:,} characters, over the "
            f"limit of {MAX_GOLD_CHARS:,}"
        )


def load_problems(
    benchmark: Benchmark | str,
    data_dir: str | Path | None = None,
    *,
    seed: int = 0,
    limit: int | None = None,
    split: str | None = None,
) -> LoadedBenchmark:
    """Load a benchmark's problems from `data_dir`, $PROGRPO_DATA_DIR or the Hub, in that order
    (a benchmark that generates its rows makes them, `split` choosing among its splits).

    `seed` only matters where options are shuffled here (the Hub's GPQA); `limit` keeps the first
    `limit` problems.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be non-negative, got {limit}")
    if isinstance(benchmark, str):
        benchmark = get_benchmark(benchmark)
    if split is not None and split != benchmark.split and benchmark.generate_rows is None:
        raise ValueError(f"benchmark {benchmark.name!r} has one split, {benchmark.split!r}; got split={split!r}")
    directory = resolve_data_dir(data_dir)
    if benchmark.generate_rows is not None:
        split = split or benchmark.split
        rows = benchmark.generate_rows(split)
        numbered_rows = list(enumerate(rows, start=1))
        source, checksum = f"{benchmark.hub_id}@{split} (generated)", canonical_rows_sha256(rows)
        where = f"{source} row"
    elif directory is None:
        rows = (benchmark.fetch_rows or fetch_hub_rows)(benchmark)
        numbered_rows = list(enumerate(rows, start=1))
        source, checksum = benchmark.hub_source, canonical_rows_sha256(rows)
        where = f"{source} row"
    else:
        path = directory / benchmark.offline_file
        numbered_rows, checksum = read_offline_file(path, benchmark.read_rows)
        source, where = str(path), f"{path} line"
    problems = parse_rows(benchmark, numbered_rows, where, seed)
    return LoadedBenchmark(
        benchmark=benchmark, problems=problems[:limit], source=source, checksum=checksum, num_rows=len(numbered_rows)
    )


def count_offline_rows(path: Path, reader: RowReader | None = None) -> int | None:
    """Rows of an offline file (JSONL: non-blank lines, not parsed; else `reader`'s rows); None when absent."""
    if not path.is_file():
        return None
    if reader is not None:
        return len(reader(path))
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def describe_benchmarks(data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """One dict per registered benchmark, for `progrpo-eval benchmarks`.

    `size` is counted from the offline file when a data dir is given (argument or environment),
    and None otherwise: describing must not download anything.
    """
    directory = resolve_data_dir(data_dir)
    descriptions = []
    for benchmark in _BENCHMARKS.values():
        if benchmark.generate_rows is not None:
            size = len(benchmark.generate_rows(benchmark.split))
        else:
            size = count_offline_rows(directory / benchmark.offline_file, benchmark.read_rows) if directory else None
        descriptions.append(
            {
                "name": benchmark.name,
                "family": benchmark.family,
                "size": size,
                "source": benchmark.hub_id,
                "hub_config": benchmark.hub_config,
                "split": benchmark.split,
                "offline_file": benchmark.offline_file or "(generated in code)",
                "offline_is_subset": benchmark.offline_is_subset,
                "version": benchmark.version,
                "description": benchmark.description,
            }
        )
    return descriptions
