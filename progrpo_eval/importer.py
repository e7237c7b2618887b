"""`progrpo-eval score`: completions made elsewhere become a normal run directory, scored by us.

    progrpo-eval score --bench aime24 --samples theirs.jsonl --out runs

One JSON object per line: `problem_id` (as `run` writes it, e.g. "aime24/60"), `text`, and
optionally `sample_index` (0-based; default: the order of the problem's lines) and
`finish_reason` ("stop" or "length"; default "stop"). The directory differs from one written by
`run` only in what the manifest says: origin "imported", the samples file's sha256, sampling
settings that hold only the number of samples (`{"n": N}`), no backend. Samples carry text only
(no token ids or log-probs), so analyses
that need those (`rescore`, token statistics) have nothing to work on; Pass@k, CIs, diversity,
`report` and `compare` work as for any run.

Decisions:
- Every problem in the file must have the same number of samples N (Pass@k needs it), with
  sample indices 0..N-1 when given. Problems of the benchmark that the file does not mention are
  left out of the run, as `--limit` would; the manifest records how many there are.
- Bad input fails before anything is written, naming the file and line: invalid JSON, a missing
  or mistyped field, an unknown problem id, a repeated (problem, sample), uneven sample counts.
- `reasoning` "auto" judges only the text after `</think>` when any sample contains one.
- The run directory is locked for the whole import (`progrpo_eval.run_lock`), as for `run`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from progrpo_eval import store
from progrpo_eval.benchmarks import Problem, load_problems
from progrpo_eval.generation import Completion
from progrpo_eval.jsonl import read_jsonl
from progrpo_eval.prompts import REASONING_SETTINGS
from progrpo_eval.run_lock import RunLock
from progrpo_eval.run_plan import check_nonempty
from progrpo_eval.runner import RunInterrupted, benchmark_manifest_fields, model_slug, sample_records
from progrpo_eval.scoring import ScorerSettings, build_scorer, score_samples
from progrpo_eval.summary import markdown_table, summarize

FINISH_REASONS = ("stop", "length")
PROBLEMS_PER_CHUNK = 256


@dataclass(frozen=True)
class ImportOptions:
    benchmark: str
    samples_file: Path
    out: Path = Path("runs")
    model: str | None = None  # the label of the model that wrote the samples; default: the file's stem
    data_dir: str | None = None
    reasoning: str = "auto"
    instruction: str | None = None  # the instruction the samples were prompted with, if not the family's
    overwrite: bool = False
    score_timeout_s: float = 10.0
    score_workers: int | None = None


def _field(row: dict, name: str, kind: type, where: str, *, required: bool = True):
    value = row.get(name)
    if value is None and not required:
        return None
    if value is None:
        raise ValueError(f"{where}: missing field {name!r}")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{where}: field {name!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def read_samples(path: Path, problems: dict[str, Problem]) -> dict[str, list[tuple[str, str]]]:
    """(text, finish reason) per sample index for each problem in the file; ValueError names the line."""
    by_problem: dict[str, dict[int, tuple[str, str]]] = defaultdict(dict)
    first_line: dict[tuple[str, int], int] = {}
    for number, row in read_jsonl(path):
        where = f"{path} line {number}"
        problem_id = _field(row, "problem_id", str, where)
        if problem_id not in problems:
            known = ", ".join(list(problems)[:3])
            raise ValueError(f"{where}: unknown problem id {problem_id!r} (this benchmark's ids look like {known})")
        text = _field(row, "text", str, where)
        index = _field(row, "sample_index", int, where, required=False)
        index = len(by_problem[problem_id]) if index is None else index
        if index < 0:
            raise ValueError(f"{where}: sample_index must be >= 0, got {index}")
        finish_reason = _field(row, "finish_reason", str, where, required=False) or "stop"
        if finish_reason not in FINISH_REASONS:
            raise ValueError(
                f"{where}: finish_reason must be one of {', '.join(FINISH_REASONS)}, got {finish_reason!r}"
            )
        if (problem_id, index) in first_line:
            raise ValueError(
                f"{where}: duplicate sample {index} of {problem_id!r} (first at line {first_line[problem_id, index]})"
            )
        first_line[problem_id, index] = number
        by_problem[problem_id][index] = (text, finish_reason)
    if not by_problem:
        raise ValueError(f"{path} holds no samples")
    counts = {problem_id: len(samples) for problem_id, samples in by_problem.items()}
    n = max(counts.values())
    for problem_id, samples in by_problem.items():
        if sorted(samples) != list(range(n)):
            raise ValueError(
                f"{path}: {problem_id!r} has samples {sorted(samples)[:8]}, expected 0..{n - 1} "
                f"(every problem needs the same number of samples)"
            )
    order = [problem_id for problem_id in problems if problem_id in by_problem]
    return {problem_id: [by_problem[problem_id][i] for i in range(n)] for problem_id in order}


def import_samples(options: ImportOptions, console) -> tuple[Path, dict]:
    """Score the samples file against the benchmark and write its run directory; (run dir, summary)."""
    if options.reasoning not in REASONING_SETTINGS:
        raise ValueError(f"--reasoning must be one of {', '.join(REASONING_SETTINGS)}, got {options.reasoning!r}")
    loaded = load_problems(options.benchmark, options.data_dir)
    check_nonempty(loaded)
    problems = {problem.problem_id: problem for problem in loaded.problems}
    samples = read_samples(options.samples_file, problems)
    n = len(next(iter(samples.values())))
    texts = {problem_id: [text for text, _ in group] for problem_id, group in samples.items()}
    reasoning = (
        options.reasoning == "on"
        or options.reasoning == "auto"
        and any("</think>" in text for group in texts.values() for text in group)
    )
    model = options.model or options.samples_file.stem
    manifest = store.run_manifest(
        origin="imported",
        model=model,
        **benchmark_manifest_fields(loaded, options.instruction),
        prompt_format={"uses_chat_template": None, "prompt_template": "unknown: made elsewhere", "prompt_sha256": None},
        reasoning_model=reasoning,
        sampling={"n": n},
        seed_rule=None,
        backend=None,
        backend_options=None,
        samples_sha256=hashlib.sha256(options.samples_file.read_bytes()).hexdigest(),
        imported_from=str(options.samples_file.resolve()),
        samples_per_problem=n,
        problems_in_file=len(samples),
    )
    run_dir = options.out / model_slug(model) / loaded.benchmark.name
    try:
        with RunLock(run_dir) as lock:
            if lock.note:
                console.print(f"note: {run_dir}: {lock.note}", soft_wrap=True)
            return _import_into(run_dir, manifest, loaded, samples, reasoning, options, console)
    except KeyboardInterrupt:
        done = len(store.completed_problem_ids(run_dir)) if (run_dir / store.MANIFEST).is_file() else 0
        raise RunInterrupted(f"on disk: {loaded.benchmark.name} {done} of {len(samples)} problems") from None


def _import_into(
    run_dir: Path,
    manifest: dict,
    loaded,
    samples: dict[str, list[tuple[str, str]]],
    reasoning: bool,
    options: ImportOptions,
    console,
) -> tuple[Path, dict]:
    store.prepare_run_dir(run_dir, manifest, overwrite=options.overwrite)
    problems = {problem.problem_id: problem for problem in loaded.problems}
    n = len(next(iter(samples.values())))
    texts = {problem_id: [text for text, _ in group] for problem_id, group in samples.items()}
    done = store.completed_problem_ids(run_dir)
    todo = [problems[problem_id] for problem_id in samples if problem_id not in done]
    settings = ScorerSettings(timeout_s=options.score_timeout_s, workers=options.score_workers, progress=True)
    with build_scorer(loaded.benchmark.scorer, settings, **loaded.benchmark.scorer_options) as scorer:
        if todo:
            scorer.start()  # a scorer that cannot work here (no sandbox) says so before any scoring
        for start in range(0, len(todo), PROBLEMS_PER_CHUNK):
            chunk = todo[start : start + PROBLEMS_PER_CHUNK]
            completions = [
                [Completion([], text, [], finish_reason) for text, finish_reason in samples[p.problem_id]]
                for p in chunk
            ]
            scored = score_samples(scorer, chunk, [texts[p.problem_id] for p in chunk], reasoning=reasoning)
            records = sample_records(chunk, None, completions, scored)
            for record in records:
                record["num_tokens"] = None  # the text came without its tokens
            store.write_chunk(run_dir, records)
            console.print(f"{loaded.benchmark.name}: scored problems {start + 1}-{start + len(chunk)} of {len(todo)}")
    summary = summarize(
        store.load_samples(run_dir),
        list(samples),
        num_samples=n,
        seed=0,
        problems=[problems[problem_id] for problem_id in samples],
    )
    summary.update(benchmark=loaded.benchmark.name, model=manifest["model"], run_dir=str(run_dir))
    store.write_summary(run_dir, summary, markdown_table([(loaded.benchmark.name, summary)]))
    return run_dir, summary
