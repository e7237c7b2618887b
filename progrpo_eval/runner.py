"""`progrpo-eval run`: generate, score and summarise, one resumable run directory per benchmark.

Problems are processed in chunks; a chunk's samples are generated, scored and written
atomically together (`progrpo_eval.store`), so a killed run resumes with the problems that
have no chunk yet. Each problem samples with its own seed derived from (seed, problem id), so
a resumed run draws what an uninterrupted one would have drawn.

Order of work: every benchmark is planned first (`progrpo_eval.run_plan`: problems loaded,
prompts rendered and checked, token budget resolved), then every run directory is locked
(`progrpo_eval.run_lock`) and prepared (settings and chunk provenance checked), and only then
does the engine start. So a bad row, a prompt that does not fit, a directory held by another
process or holding another run, costs no engine start-up. Ctrl-C ends the run with
`RunInterrupted`, whose message says what is on disk; the chunk being scored is finished first.
An error raised after a Ctrl-C (an engine whose processes the signal reached dies with its own
error) counts as the interruption, not as a failure.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from progrpo_eval import store
from progrpo_eval.benchmarks import Benchmark, LoadedBenchmark, Problem, load_problems
from progrpo_eval.generation import Completion, SamplingSettings, derived_seed, load_backend
from progrpo_eval.generation.base import check_sampling, seed_rule
from progrpo_eval.model_files import context_length, load_tokenizer, output_vocab_size
from progrpo_eval.prompts import is_reasoning_model, prompt_format, read_training_prompt, resolve_instruction
from progrpo_eval.run_lock import RunLock
from progrpo_eval.run_plan import (
    MAX_TOKENS_DEFAULT_RULE,
    MAX_TOKENS_GIVEN,
    BenchmarkPlan,
    check_context,
    check_nonempty,
    progress_on_disk,
    render_prompts,
    resolve_max_tokens,
)
from progrpo_eval.scoring import ScoredSample, Scorer, ScorerSettings, build_scorer, score_samples
from progrpo_eval.summary import markdown_table, summarize


@dataclass
class RunOptions:
    model: str
    benchmarks: list[str]
    settings: SamplingSettings
    backend: str = "vllm"
    out: Path = Path("runs")
    data_dir: str | None = None
    limit: int | None = None
    overwrite: bool = False
    instruction: str | None = None  # overrides the family's standard instruction
    reasoning: str = "auto"  # "auto" | "on" | "off": score only the text after </think>
    chunk_samples: int = 2048  # samples generated, scored and written per chunk
    score_timeout_s: float = 10.0
    score_workers: int | None = None
    backend_options: dict = field(default_factory=dict)
    max_tokens_given: bool = True  # False: the budget follows the model family (`run_plan.resolve_max_tokens`)
    verbose: bool = False  # show the engine's own log lines


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during `run`; the message says what is on disk (every finished chunk)."""


def problem_seed(seed: int, problem_id: str) -> int:
    """A per-problem sampling seed from (seed, problem id), stable across runs and machines."""
    return derived_seed(seed, problem_id)


def model_slug(model: str) -> str:
    path = Path(model)
    return path.resolve().name if path.exists() else model.replace("/", "__")


def benchmark_manifest_fields(loaded: LoadedBenchmark, instruction: str | None) -> dict:
    """What a manifest says about the benchmark and how it is scored (shared by `run` and `score`)."""
    benchmark = loaded.benchmark
    return {
        "benchmark": benchmark.name,
        "benchmark_version": benchmark.version,
        "data_source": loaded.source,
        "data_checksum": loaded.checksum,
        "data_rows": loaded.num_rows,
        "family": benchmark.family,
        "scorer": benchmark.scorer,
        "scorer_options": dict(benchmark.scorer_options),
        "instruction": instruction or benchmark.instruction,
    }


def build_manifest(
    options: RunOptions,
    loaded: LoadedBenchmark,
    tokenizer,
    reasoning: bool,
    settings: SamplingSettings | None = None,
    instruction: str | None = None,
    instruction_source: str = "family",
    training_prompt: dict | None = None,
    vocab_size: int | None = None,
) -> dict:
    return store.run_manifest(
        origin="generated",
        model=str(Path(options.model).resolve()) if Path(options.model).exists() else options.model,
        **benchmark_manifest_fields(loaded, instruction if instruction is not None else options.instruction),
        instruction_source=instruction_source,
        training_prompt=training_prompt,
        vocab_size=vocab_size,
        prompt_format=prompt_format(tokenizer).manifest_fields(),
        reasoning_model=reasoning,
        sampling=asdict(settings or options.settings),
        seed_rule="per problem: " + seed_rule("seed", "problem_id"),
        backend=options.backend,
        backend_options=options.backend_options,
        max_tokens_rule=MAX_TOKENS_GIVEN if options.max_tokens_given else MAX_TOKENS_DEFAULT_RULE,
    )


def sample_records(
    problems: list[Problem],
    prompts: list[list[int]] | None,
    completions: list[list[Completion]],
    scored: list[list[ScoredSample]],
) -> list[dict]:
    """The stored rows of judged samples, problem by problem (prompts None: not known)."""
    rows = []
    for number, (problem, group, judged) in enumerate(zip(problems, completions, scored)):
        prompt = prompts[number] if prompts is not None else None
        for index, (completion, sample) in enumerate(zip(group, judged)):
            rows.append(_record(problem, prompt, index, completion, sample))
    return rows


class ScorerCache:
    """One scorer per (name, options), built on first need and closed together."""

    def __init__(self, settings: ScorerSettings):
        self.settings = settings
        self._scorers: dict[str, Scorer] = {}

    def get(self, benchmark: Benchmark) -> Scorer:
        key = json.dumps([benchmark.scorer, dict(benchmark.scorer_options)], sort_keys=True, default=str)
        if key not in self._scorers:
            self._scorers[key] = build_scorer(benchmark.scorer, self.settings, **benchmark.scorer_options)
        return self._scorers[key]

    def close(self) -> None:
        for scorer in self._scorers.values():
            scorer.close()
        self._scorers = {}


class Evaluator:
    """Runs benchmarks against one loaded model (the backend is built once, on first need)."""

    def __init__(self, options: RunOptions, console, backend=None):
        self.options = options
        self.console = console
        self._engine_options = {}
        if options.backend == "vllm":
            from progrpo_eval.generation.vllm_backend import quiet_logs

            quiet_logs(options.verbose)  # before anything imports vLLM (the limit checks do)
            self._engine_options["verbose"] = options.verbose
        self.tokenizer = load_tokenizer(options.model)
        self.reasoning = is_reasoning_model(self.tokenizer, options.reasoning)
        self.training_prompt = read_training_prompt(options.model)  # None unless a progrpo-train checkpoint
        self.context = context_length(options.model, options.backend_options.get("max_model_len"))
        self.vocab_size = output_vocab_size(options.model)  # V, for entropy bounds from top-k log-probs
        self._backend = backend
        self._owns_backend = backend is None
        self.scorers = ScorerCache(ScorerSettings(timeout_s=options.score_timeout_s, workers=options.score_workers))

    @property
    def backend(self):
        if self._backend is None:
            self._backend = load_backend(
                self.options.backend,
                self.options.model,
                seed=self.options.settings.seed,
                **self.options.backend_options,
                **self._engine_options,
            )
        return self._backend

    def close(self, *, abort: bool = False) -> None:
        """Stop the backend (at once when `abort`: after Ctrl-C) and the scorers."""
        if self._backend is not None and self._owns_backend:
            if abort and hasattr(self._backend, "abort"):
                self._backend.abort()
            else:
                self._backend.close()
        self.scorers.close()

    def run_dir(self, benchmark: str) -> Path:
        return self.options.out / model_slug(self.options.model) / benchmark

    def plan(self, benchmark: str) -> BenchmarkPlan:
        """Load, render and check one benchmark (nothing is written; see `progrpo_eval.run_plan`)."""
        options = self.options
        loaded = load_problems(benchmark, options.data_dir, seed=options.settings.seed, limit=options.limit)
        check_nonempty(loaded)
        settings = resolve_max_tokens(
            options.settings, given=options.max_tokens_given, reasoning=self.reasoning, family=loaded.benchmark.family
        )
        check_sampling(options.backend, settings)
        instruction, source, instruction_note = resolve_instruction(
            options.instruction, loaded.benchmark.instruction, self.training_prompt
        )
        if instruction_note:
            self.console.print(f"note: {benchmark}: {instruction_note}", soft_wrap=True)
        prompts = render_prompts(self.tokenizer, loaded, instruction)
        note = check_context(benchmark, prompts, settings, self.context)
        if note:
            self.console.print(f"note: {note}", soft_wrap=True)
        manifest = build_manifest(
            options,
            loaded,
            self.tokenizer,
            self.reasoning,
            settings,
            instruction,
            source,
            self.training_prompt,
            self.vocab_size,
        )
        return BenchmarkPlan(
            loaded=loaded, run_dir=self.run_dir(benchmark), settings=settings, manifest=manifest, prompts=prompts
        )

    def evaluate(self, plan: BenchmarkPlan) -> tuple[Path, dict]:
        """Generate, score and write the problems of a prepared plan that have no chunk yet; then summarise."""
        options, loaded, run_dir, settings = self.options, plan.loaded, plan.run_dir, plan.settings
        done = store.completed_problem_ids(run_dir)
        todo = [p for p in loaded.problems if p.problem_id not in done]
        if done:
            self.console.print(
                f"{plan.name}: resuming, {len(loaded.problems) - len(todo)} of {len(loaded.problems)} problems on disk"
            )
        scorer = self.scorers.get(loaded.benchmark)
        if todo:
            scorer.start()  # workers start up while the first chunk generates
        problems_per_chunk = max(1, options.chunk_samples // settings.n)
        # Chunk i is scored and written in a background thread while chunk i + 1 generates.
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending = None
            for start in range(0, len(todo), problems_per_chunk):
                chunk = todo[start : start + problems_per_chunk]
                prompts, completions = self._generate(plan, chunk, start, len(todo))
                if pending is not None:
                    pending.result()
                pending = writer.submit(self._score_and_write, run_dir, chunk, prompts, completions, scorer)
            if pending is not None:
                pending.result()
        samples = store.load_samples(run_dir)
        summary = summarize(
            samples,
            [p.problem_id for p in loaded.problems],
            num_samples=settings.n,
            seed=settings.seed,
            problems=loaded.problems,
        )
        summary.update(benchmark=plan.name, model=options.model, run_dir=str(run_dir))
        store.write_summary(run_dir, summary, markdown_table([(plan.name, summary)]))
        return run_dir, summary

    def _generate(self, plan: BenchmarkPlan, problems: list[Problem], offset: int, total: int):
        prompts = [plan.prompts[p.problem_id] for p in problems]
        seeds = [problem_seed(plan.settings.seed, p.problem_id) for p in problems]
        backend = self.backend  # built on first use; not part of the samples/s below
        started = time.perf_counter()
        completions = backend.generate(prompts, plan.settings, seeds=seeds)
        elapsed = time.perf_counter() - started
        num_samples = sum(len(group) for group in completions)
        self.console.print(
            f"{plan.name}: generated problems {offset + 1}-{offset + len(problems)} of {total} "
            f"({num_samples} samples, {num_samples / max(elapsed, 1e-9):.1f} samples/s)"
        )
        return prompts, completions

    def _score_and_write(
        self,
        run_dir: Path,
        problems: list[Problem],
        prompts: list[list[int]],
        completions: list[list[Completion]],
        scorer: Scorer,
    ) -> None:
        started = time.perf_counter()
        scored = score_samples(
            scorer, problems, [[c.text for c in group] for group in completions], reasoning=self.reasoning
        )
        records = sample_records(problems, prompts, completions, scored)
        store.write_chunk(run_dir, records)
        elapsed = time.perf_counter() - started
        self.console.print(
            f"  scored and wrote {len(records)} samples ({len(records) / max(elapsed, 1e-9):.0f} samples/s)"
        )


def _record(
    problem: Problem, prompt: list[int] | None, index: int, completion: Completion, sample: ScoredSample
) -> dict:
    top = None
    if completion.top_logprobs is not None:
        top = json.dumps([[[int(t), float(v)] for t, v in position.items()] for position in completion.top_logprobs])
    result = sample.result
    return {
        "problem_id": problem.problem_id,
        "sample_index": index,
        "text": completion.text,
        "answer_text": sample.answer_text,
        "prompt_token_ids": prompt,
        "token_ids": completion.token_ids,
        "logprobs": completion.logprobs,
        "top_logprobs": top,
        "finish_reason": completion.finish_reason,
        "truncated": completion.finish_reason == "length" or sample.thinking_cut,
        "num_tokens": len(completion.token_ids),
        "correct": result.correct,
        "score_status": result.status,
        "extracted": result.extracted,
        "score_detail": result.detail,
    }


@contextmanager
def _noticing_interrupts():
    """Yields a list that holds True once SIGINT arrived (main thread only; elsewhere nothing is noticed)."""
    noticed: list[bool] = []
    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if previous is None or previous == signal.SIG_IGN:  # not ours to handle (a thread; a job started ignoring it)
        yield noticed
        return

    def notice(signum, frame):
        noticed.append(True)
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, notice)
    try:
        yield noticed
    finally:
        signal.signal(signal.SIGINT, previous)


def run(options: RunOptions, console, backend=None) -> list[tuple[str, Path, dict]]:
    """Evaluate every benchmark of `options` with one loaded model; returns (name, dir, summary).

    `backend` lets a caller share an engine it already holds (it is not closed here).
    """
    plans: list[BenchmarkPlan] = []
    evaluator = None
    aborted = False
    with _noticing_interrupts() as interrupted:
        try:
            evaluator = Evaluator(options, console, backend)
            plans = [evaluator.plan(benchmark) for benchmark in dict.fromkeys(options.benchmarks)]
            return _evaluate_locked(evaluator, plans, options, console)
        except BaseException as error:
            aborted = bool(interrupted) or isinstance(error, KeyboardInterrupt)
            if not aborted:
                raise
            raise RunInterrupted(f"on disk: {progress_on_disk(plans)}" if plans else "nothing was written") from None
        finally:
            if evaluator is not None:
                try:
                    evaluator.close(abort=aborted)
                except Exception:
                    if not aborted:  # an engine the signal reached may fail to close; the interruption counts
                        raise


def _evaluate_locked(evaluator: Evaluator, plans: list[BenchmarkPlan], options: RunOptions, console):
    """Lock every run directory, prepare each, then evaluate them in turn (locks released at the end)."""
    with ExitStack() as locks:
        for plan in plans:
            lock = locks.enter_context(RunLock(plan.run_dir))
            if lock.note:
                console.print(f"note: {plan.run_dir}: {lock.note}", soft_wrap=True)
        for plan in plans:
            store.prepare_run_dir(plan.run_dir, plan.manifest, overwrite=options.overwrite)
        return [(plan.name, *evaluator.evaluate(plan)) for plan in plans]
