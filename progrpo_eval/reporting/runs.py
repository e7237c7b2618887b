"""Which run is which, and a run's samples as per-problem tables: the loading layer of the reports.

- `resolve_runs` turns what a caller passes (a run directory, a list of them, or a mapping label →
  run directory / list of run directories) into `RunRef(label, benchmark, path)` rows, the
  benchmark read from each manifest. Unlabelled runs of one model (same model, temperature, top-p,
  seed and output root) share a label, so a label names a model and the columns name benchmarks.
  The label is the model directory's name; runs whose names collide get the sampling settings
  that tell them apart ("tm (seed=1)"), else their output root's name.
- Benchmarks are shown by their registered display names ("AIME 2024") and ordered as they are
  registered (the paper's column order); names not registered keep their name and come after.
- `check_finished` refuses, before anything is computed, a run that cannot be reported or compared:
  an incomplete run (no summary.json, or more problems on disk than its summary counts: a rerun
  that has not finished) and a run holding a (problem, sample) twice (`store.load_samples` says
  how to repair it).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from progrpo_eval import store
from progrpo_eval.stats import pass_at_k_table

RunsLike = str | Path | Sequence[str | Path] | Mapping[str, Any]


class RunRef(NamedTuple):
    label: str
    benchmark: str
    path: Path


@functools.lru_cache(maxsize=1)
def _registered() -> dict[str, str]:
    """name → display name of every registered benchmark, in registration order."""
    from progrpo_eval.benchmarks import get_benchmark, list_benchmarks

    return {name: get_benchmark(name).display_name or name for name in list_benchmarks()}


def display_name(benchmark: str) -> str:
    return _registered().get(benchmark, benchmark)


def ordered_benchmarks(names) -> list[str]:
    """Benchmarks in registration (the paper's column) order, unknown names after, in first-seen order."""
    unique, order = list(dict.fromkeys(names)), list(_registered())
    return sorted(unique, key=lambda name: order.index(name) if name in order else len(order) + unique.index(name))


def sampling_of(manifest: dict) -> dict:
    """The manifest's sampling settings ({} for a run imported without them)."""
    return manifest.get("sampling") or {}


# --- which run is which ----------------------------------------------------------------------


def _model_identity(manifest: dict, run_dir: Path) -> tuple:
    sampling = sampling_of(manifest)
    return (
        manifest.get("model"),
        sampling.get("temperature"),
        sampling.get("top_p"),
        sampling.get("seed"),
        str(run_dir.resolve().parent.parent),
    )


def _identity_labels(identities: list[tuple]) -> dict[tuple, str]:
    """A readable, unique label per model identity (module docstring)."""
    base = {identity: Path(str(identity[0])).name or str(identity[0]) for identity in identities}
    labels = {}
    for identity in identities:
        clashing = [other for other in identities if base[other] == base[identity]]
        if len(clashing) == 1:
            labels[identity] = base[identity]
            continue
        differing = [
            (name, position)
            for name, position in (("T", 1), ("top-p", 2), ("seed", 3))
            if len({other[position] for other in clashing}) > 1
        ]
        suffix = ", ".join(f"{name}={identity[position]}" for name, position in differing)
        labels[identity] = f"{base[identity]} ({suffix or Path(identity[4]).name})"
    counts, seen = Counter(labels.values()), Counter()
    for identity, label in list(labels.items()):  # last resort: number the labels that still collide
        if counts[label] > 1:
            seen[label] += 1
            labels[identity] = f"{label} #{seen[label]}"
    return labels


def resolve_runs(runs: RunsLike) -> list[RunRef]:
    """(label, benchmark, path) for every run; a (label, benchmark) pair may occur once."""
    if isinstance(runs, (str, Path)):
        runs = [runs]
    if isinstance(runs, Mapping):
        pairs = []
        for label, value in runs.items():
            paths = (
                value.values() if isinstance(value, Mapping) else [value] if isinstance(value, (str, Path)) else value
            )
            pairs += [(str(label), Path(path)) for path in paths]
    else:
        paths = [Path(path) for path in runs]
        manifests = [store.read_run_manifest(path) for path in paths]
        identities = [_model_identity(manifest, path) for manifest, path in zip(manifests, paths)]
        labels = _identity_labels(list(dict.fromkeys(identities)))
        pairs = [(labels[identity], path) for identity, path in zip(identities, paths)]
    refs = [RunRef(label, store.read_run_manifest(path)["benchmark"], path) for label, path in pairs]
    seen = set()
    for ref in refs:
        if (ref.label, ref.benchmark) in seen:
            raise ValueError(f"two runs labelled {ref.label!r} on {ref.benchmark}; give them distinct labels")
        seen.add((ref.label, ref.benchmark))
    if not refs:
        raise ValueError("no run directories given")
    return refs


def labels_of(refs: Sequence[RunRef]) -> list[str]:
    return list(dict.fromkeys(ref.label for ref in refs))


def by_label(refs: Sequence[RunRef], benchmarks: Sequence[str] | None = None) -> dict[str, list[Path]]:
    """label → its run directories (on `benchmarks` only, when given): what the figure and table
    functions take, keeping the labels. Labels without such a run are left out."""
    mapping: dict[str, list[Path]] = {}
    for ref in refs:
        if benchmarks is None or ref.benchmark in benchmarks:
            mapping.setdefault(ref.label, []).append(ref.path)
    return mapping


def single_benchmark(refs: list[RunRef], benchmark: str | None) -> tuple[list[RunRef], str]:
    """The runs on `benchmark` (needed when the runs cover several), and the benchmark."""
    names = ordered_benchmarks(ref.benchmark for ref in refs)
    if benchmark is None and len(names) > 1:
        raise ValueError(f"runs on several benchmarks ({', '.join(names)}); pass benchmark=")
    benchmark = benchmark or names[0]
    chosen = [ref for ref in refs if ref.benchmark == benchmark]
    if not chosen:
        raise ValueError(f"no run on {benchmark}; the runs cover {', '.join(names)}")
    return chosen, benchmark


class TrainingRun(NamedTuple):
    out_dir: Path
    config: dict  # its config.yaml


def training_run(model: str) -> TrainingRun | None:
    """The progrpo-train run whose checkpoint `model` is (OUT_DIR/checkpoints/step-N/hf with
    OUT_DIR/config.yaml), or None for a model that is not such a checkpoint (or not on this machine)."""
    import yaml

    path = Path(str(model))
    for candidate in (path, *list(path.parents)[:4]):
        if (candidate / "config.yaml").is_file() and (candidate / "checkpoints").is_dir():
            return TrainingRun(candidate, yaml.safe_load((candidate / "config.yaml").read_text(encoding="utf-8")) or {})
    return None


# --- a run's samples as tables -----------------------------------------------------------------


def check_finished(run_dir: str | Path) -> dict:
    """The summary of a finished run with no duplicated sample; ValueError saying what is wrong otherwise."""
    summary = store.read_run_summary(run_dir)
    samples = store.load_samples(run_dir, columns=["problem_id", "sample_index"])  # refuses duplicates
    on_disk = samples["problem_id"].nunique()
    if on_disk != summary["num_problems"]:
        raise store.IncompleteRunError(
            f"{run_dir} is an incomplete run ({on_disk} problems on disk, its {store.SUMMARY} counts "
            f"{summary['num_problems']}: a rerun that did not finish?): run the same command again to finish it"
        )
    return summary


def problem_counts(run_dir: Path) -> pd.DataFrame:
    """Per problem (index, in run order): n samples and c correct."""
    samples = store.load_samples(run_dir, columns=["problem_id", "sample_index", "correct"])
    return samples.groupby("problem_id", sort=False)["correct"].agg(n="size", c="sum")


def per_problem_metrics(run_dir: Path, ks: Sequence[int]) -> pd.DataFrame:
    """Per problem: pass@k for each k (columns "pass@k") and accuracy c/n."""
    counts = problem_counts(run_dir)
    table = pass_at_k_table(counts["n"].to_numpy(), counts["c"].to_numpy(), ks)
    frame = pd.DataFrame({f"pass@{k}": table[k] for k in ks}, index=counts.index)
    frame["accuracy"] = counts["c"].to_numpy() / counts["n"].to_numpy()
    return frame


def correct_solutions(run_dir: Path) -> dict[str, list[str]]:
    """Each problem's correct response texts, every problem of the run present (possibly empty)."""
    samples = store.load_samples(run_dir, columns=["problem_id", "sample_index", "text", "correct"])
    samples = samples.sort_values(["problem_id", "sample_index"], kind="stable")
    solutions: dict[str, list[str]] = {pid: [] for pid in dict.fromkeys(samples["problem_id"])}
    for pid, text, correct in zip(samples["problem_id"], samples["text"], samples["correct"]):
        if correct:
            solutions[pid].append(text)
    return solutions
