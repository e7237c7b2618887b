"""Runs of one recipe that differ only in the training seed: a mean with a CI over seeds, and a
paired comparison of two recipes over the same seeds.

    from progrpo_eval.reporting.seeds import aggregate_seeds, compare_seeds
    grpo = aggregate_seeds(["runs/grpo-s0/aime24", "runs/grpo-s1/aime24", "runs/grpo-s2/aime24", ...])
    print(grpo.table("GRPO").markdown())          # Pass@1 / Pass@k per benchmark and Avg: mean [95% CI]
    versus = compare_seeds(grpo_run_dirs, progrpo_run_dirs)
    print(versus.table("GRPO", "ProGRPO").markdown())   # B − A, t interval, p, p (Holm)

Decisions
- A seed is the training seed in the checkpoint's config.yaml (`runs.training_run`); a model that
  is not a progrpo-train checkpoint counts as its own seed, named by its directory. The runs of a
  recipe must agree on everything else: the evaluation settings of their manifests (benchmark,
  data, prompt, sampling) and the training configs apart from `seed`, `out_dir` and `resume`
  (a difference is refused, naming the key). Every seed needs a run on each benchmark.
- Per seed, the value is its Pass@k (summary.json, mean over problems); "Avg" is the mean over the
  benchmarks. Across seeds: `significance.seed_interval` (t interval over seeds), and for two
  recipes `significance.paired_seed_test`: paired by seed when both have the same seeds, else
  Welch's test. The Pass@k rows of all benchmarks are one Holm family (k × benchmark), the Avg
  rows another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from progrpo_eval import store
from progrpo_eval.reporting.comparison import difference_row, difference_table
from progrpo_eval.reporting.runs import display_name, ordered_benchmarks, sampling_of, training_run
from progrpo_eval.reporting.table import Table
from progrpo_eval.reporting.tables import common_k
from progrpo_eval.significance import SeedComparison, SeedInterval, holm, paired_seed_test, seed_interval

AVG = "Avg"
FREE_TRAINING_KEYS = ("seed", "out_dir", "resume", "overwrite")  # may differ between the seeds of one recipe
EVAL_KEYS = ("benchmark", "data_checksum", "prompt_sha256", "instruction")


@dataclass(frozen=True)
class SeedAggregate:
    """Per (benchmark or "Avg", k): the value of each seed (in `seeds` order) and their interval."""

    seeds: tuple[str, ...]
    benchmarks: tuple[str, ...]
    ks: tuple[int, ...]
    values: dict[tuple[str, int], tuple[float, ...]]
    intervals: dict[tuple[str, int], SeedInterval]

    def table(self, label: str = "") -> Table:
        """Rows Pass@1 and Pass@k, columns the benchmarks and Avg; cells "mean [95% CI]" in %."""
        columns = [*self.benchmarks, AVG] if len(self.benchmarks) > 1 else list(self.benchmarks)
        rows = []
        for k in self.ks:
            cells = []
            for column in columns:
                interval = self.intervals[(column, k)]
                shown = (
                    f"{100 * interval.mean:.1f}"
                    if interval.num_seeds < 2
                    else f"{100 * interval.mean:.1f} [{100 * interval.low:.1f}, {100 * interval.high:.1f}]"
                )
                cells.append((shown,))
            rows.append((f"Pass@{k}", tuple(cells)))
        name = f"{label}: " if label else ""
        return Table(
            title=f"{name}mean over {len(self.seeds)} training seeds (%), 95% CI over seeds",
            columns=("metric", *(display_name(c) if c != AVG else AVG for c in columns)),
            rows=tuple(rows),
            formats=("",) * len(columns),
            directions=(0,) * len(columns),
            notes=f"Seeds: {', '.join(self.seeds)}. t interval over seeds: mean ± t(0.975, n − 1)·s/√n.",
        )


def _seed_name(manifest: dict, run_dir: Path) -> tuple[str, dict | None]:
    trained = training_run(str(manifest.get("model")))
    if trained is None:
        return Path(str(manifest.get("model"))).name or str(run_dir), None
    return str(trained.config.get("seed", trained.out_dir.name)), trained.config


def _differences(first: dict, other: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(first) | set(other))
    lines = []
    for key in keys:
        if not prefix and key in FREE_TRAINING_KEYS:
            continue
        a, b = first.get(key), other.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            lines.append(f"{prefix}{key}: {a!r} vs {b!r}")
    return lines


def _by_seed(run_dirs: Sequence[str | Path]) -> dict[str, dict[str, Path]]:
    """seed → benchmark → run directory, after checking the runs are one recipe (module docstring)."""
    by_seed: dict[str, dict[str, Path]] = {}
    reference: dict[str, tuple[dict, Path]] = {}  # benchmark → (manifest, run) of the first seed
    config_reference: tuple[dict, str] | None = None
    for run_dir in map(Path, run_dirs):
        manifest = store.read_run_manifest(run_dir)
        seed, config = _seed_name(manifest, run_dir)
        benchmark = manifest["benchmark"]
        if benchmark in by_seed.setdefault(seed, {}):
            raise ValueError(f"two runs of seed {seed} on {benchmark}: {by_seed[seed][benchmark]} and {run_dir}")
        by_seed[seed][benchmark] = run_dir
        first, first_run = reference.setdefault(benchmark, (manifest, run_dir))
        evaluation = [
            f"{key}: {first.get(key)!r} vs {manifest.get(key)!r}"
            for key in EVAL_KEYS
            if first.get(key) != manifest.get(key)
        ]
        evaluation += _differences(sampling_of(first), sampling_of(manifest), "sampling.")
        if evaluation:
            raise ValueError(
                f"{run_dir} was evaluated differently from {first_run} ({'; '.join(evaluation)}); "
                "seeds of one recipe need the same evaluation"
            )
        if config is not None:
            config_reference = config_reference or (config, seed)
            if differences := _differences(config_reference[0], config):
                raise ValueError(
                    f"seed {seed} was trained with another recipe than seed {config_reference[1]} "
                    f"({'; '.join(differences[:5])}); aggregate runs that differ only in the seed"
                )
    benchmarks = {frozenset(runs) for runs in by_seed.values()}
    if len(benchmarks) > 1:
        sets = "; ".join(f"seed {seed}: {', '.join(sorted(runs))}" for seed, runs in by_seed.items())
        raise ValueError(f"the seeds were evaluated on different benchmarks ({sets})")
    if not by_seed:
        raise ValueError("no run directories given")
    return by_seed


def _seed_order(seed: str) -> tuple:
    """Numeric seeds in numeric order, then named ones."""
    numeric = seed.lstrip("-").isdigit()
    return (not numeric, int(seed) if numeric else 0, seed)


def aggregate_seeds(run_dirs: Sequence[str | Path], *, k: int | None = None, confidence: float = 0.95) -> SeedAggregate:
    """Mean and t interval over training seeds of Pass@1 and Pass@k per benchmark and their Avg."""
    by_seed = _by_seed(run_dirs)
    seeds = tuple(sorted(by_seed, key=_seed_order))
    benchmarks = tuple(ordered_benchmarks(next(iter(by_seed.values()))))
    summaries = {(seed, b): store.read_run_summary(by_seed[seed][b]) for seed in seeds for b in benchmarks}
    k = common_k(list(summaries.values())) if k is None else k
    missing = [f"seed {seed} on {b}" for (seed, b), summary in summaries.items() if str(k) not in summary["pass_at_k"]]
    if missing:
        raise ValueError(f"Pass@{k} is not reported by {', '.join(missing)}")
    ks = (1, k) if k != 1 else (1,)
    values: dict[tuple[str, int], tuple[float, ...]] = {}
    for kk in ks:
        for b in benchmarks:
            values[(b, kk)] = tuple(summaries[(seed, b)]["pass_at_k"][str(kk)] for seed in seeds)
        values[(AVG, kk)] = tuple(
            sum(values[(b, kk)][i] for b in benchmarks) / len(benchmarks) for i in range(len(seeds))
        )
    intervals = {key: seed_interval(per_seed, confidence) for key, per_seed in values.items()}
    return SeedAggregate(seeds=seeds, benchmarks=benchmarks, ks=ks, values=values, intervals=intervals)


@dataclass(frozen=True)
class SeedComparisons:
    """B − A per (benchmark or "Avg", k) over training seeds, with Holm-adjusted p-values."""

    a: SeedAggregate
    b: SeedAggregate
    results: dict[tuple[str, int], SeedComparison]
    p_holm: dict[tuple[str, int], float]

    def table(self, label_a: str = "A", label_b: str = "B") -> Table:
        rows = [
            difference_row(
                f"{AVG if column == AVG else display_name(column)} · Pass@{k}",
                result,
                self.p_holm[(column, k)],
                result.num_seeds,
            )
            for (column, k), result in self.results.items()
        ]
        paired = next(iter(self.results.values())).paired
        how = "paired t test over the same seeds" if paired else "Welch's t test (the seeds differ)"
        notes = "p (Holm): Holm's correction over the Pass@k × benchmark rows, and apart over the Avg rows."
        return difference_table(f"B − A over training seeds ({how})", label_a, label_b, rows, "#seeds", notes)


def compare_seeds(
    runs_a: Sequence[str | Path], runs_b: Sequence[str | Path], *, k: int | None = None, confidence: float = 0.95
) -> SeedComparisons:
    """Recipe B − recipe A over training seeds, per benchmark and Avg (module docstring)."""
    a = aggregate_seeds(runs_a, k=k, confidence=confidence)
    b = aggregate_seeds(runs_b, k=k if k is not None else max(a.ks), confidence=confidence)
    if a.benchmarks != b.benchmarks or a.ks != b.ks:
        raise ValueError(
            f"the recipes were evaluated differently: A on {', '.join(a.benchmarks)} (Pass@{max(a.ks)}), "
            f"B on {', '.join(b.benchmarks)} (Pass@{max(b.ks)})"
        )
    paired = a.seeds == b.seeds
    results = {
        key: paired_seed_test(a.values[key], b.values[key], paired=paired, confidence=confidence) for key in a.values
    }
    p_holm: dict[tuple[str, int], float] = {}
    for family in ([key for key in results if key[0] != AVG], [key for key in results if key[0] == AVG]):
        p_values = [results[key].p_value for key in family]
        if any(p != p for p in p_values):  # NaN: one seed, no test
            p_holm.update({key: float("nan") for key in family})
            continue
        p_holm.update(zip(family, holm(p_values)))
    return SeedComparisons(a=a, b=b, results=results, p_holm=p_holm)


def seeds_table(aggregates: Mapping[str, SeedAggregate], title: str = "") -> Table:
    """Several recipes' SeedAggregate as one table: rows "label · Pass@k", columns benchmarks and Avg."""
    tables = {label: aggregate.table(label) for label, aggregate in aggregates.items()}
    columns = next(iter(tables.values())).columns
    if any(table.columns != columns for table in tables.values()):
        raise ValueError("the recipes were evaluated on different benchmarks; aggregate them apart")
    rows = tuple((f"{label} · {metric}", cells) for label, table in tables.items() for metric, cells in table.rows)
    seeds = "; ".join(f"{label}: {', '.join(aggregate.seeds)}" for label, aggregate in aggregates.items())
    return Table(
        title=title or "Mean over training seeds (%), 95% CI over seeds",
        columns=columns,
        rows=rows,
        formats=("",) * (len(columns) - 1),
        directions=(0,) * (len(columns) - 1),
        notes=f"Seeds: {seeds}. t interval over seeds: mean ± t(0.975, n − 1)·s/√n.",
    )
