"""Run directories as tables: which run is which, per-problem and per-sample statistics, and the
paper's results and diversity tables rendered as Markdown, LaTeX or plain text.

- Which run is which: `resolve_runs` turns what a caller passes (a run directory, a list of them,
  or a mapping label → run directory / list of run directories) into `RunRef(label, benchmark,
  path)` rows, the benchmark read from each manifest. Unlabelled runs of one model (same model,
  temperature, top-p, seed and output root) share a label, so a label names a model and the
  columns name benchmarks. The label is the model directory's name; runs whose names collide get
  the sampling settings that tell them apart ("tm (seed=1)"), else their output root's name.
- `results_table` (Tab. 2–4, 6, 7): rows = labels, columns = benchmarks and Avg, cells
  "Pass@1 / Pass@k" in % from each run's summary.json. Avg (with two benchmarks or more) is the
  plain mean over the row's benchmarks, shown only when the row has every column. The best value
  of a column is bold (nothing is bold where all values tie).
- `diversity_table` (Tab. 5): per run, each problem's CORRECT solutions (the full response text)
  go through `progrpo_eval.metrics.diversity.dataset_diversity` (problems with < 2 correct
  solutions are skipped), macro-averaged over problems; #problems counts those with ≥ 2.
- Token statistics per rollout come from `progrpo_eval.rescore.rollout_statistics`: the stored
  sampled-token log-probs, the raw model's at T = 1 whatever the sampling temperature (average
  probability = mean of exp(logp); low-20% = mean of the ⌈0.2 L⌉ smallest probabilities). Entropy
  only where `progrpo-eval rescore` stored it (`load_entropy`): the exact entropy when there is
  one, else the top-k LOWER bound (never presented as the entropy itself), else none.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from progrpo_eval import store
from progrpo_eval.stats import pass_at_k_table

DISPLAY_NAMES = {
    "aime24": "AIME 2024", "aime25": "AIME 2025", "amc23": "AMC 23", "math500": "MATH500",
    "minerva": "Minerva", "olympiadbench": "OlympiadBench", "gpqa_diamond": "GPQA-Diamond",
    "mmlu_pro": "MMLU-Pro", "humaneval_plus": "HumanEval+", "livecodebench": "LiveCodeBench",
    "codeforces": "CodeForces",
}
BENCHMARK_ORDER = list(DISPLAY_NAMES)

RunsLike = str | Path | Sequence[str | Path] | Mapping[str, Any]


class RunRef(NamedTuple):
    label: str
    benchmark: str
    path: Path


def display_name(benchmark: str) -> str:
    return DISPLAY_NAMES.get(benchmark, benchmark)


def ordered_benchmarks(names) -> list[str]:
    """Benchmarks in the paper's column order, unknown names after, in first-seen order."""
    unique = list(dict.fromkeys(names))
    return sorted(unique, key=lambda name: (BENCHMARK_ORDER.index(name) if name in BENCHMARK_ORDER
                                            else len(BENCHMARK_ORDER) + unique.index(name)))


# --- which run is which ----------------------------------------------------------------------


def _model_identity(manifest: dict, run_dir: Path) -> tuple:
    sampling = manifest.get("sampling", {})
    return (manifest.get("model"), sampling.get("temperature"), sampling.get("top_p"), sampling.get("seed"),
            str(run_dir.resolve().parent.parent))


def _identity_labels(identities: list[tuple]) -> dict[tuple, str]:
    """A readable, unique label per model identity (module docstring)."""
    base = {identity: Path(str(identity[0])).name or str(identity[0]) for identity in identities}
    labels = {}
    for identity in identities:
        clashing = [other for other in identities if base[other] == base[identity]]
        if len(clashing) == 1:
            labels[identity] = base[identity]
            continue
        differing = [(name, position) for name, position in (("T", 1), ("top-p", 2), ("seed", 3))
                     if len({other[position] for other in clashing}) > 1]
        suffix = ", ".join(f"{name}={identity[position]}" for name, position in differing)
        labels[identity] = f"{base[identity]} ({suffix or Path(identity[4]).name})"
    counts, seen = Counter(labels.values()), Counter()
    for identity, label in list(labels.items()):  # last resort: number the labels that still collide
        if counts[label] > 1:
            seen[label] += 1
            labels[identity] = f"{label} #{seen[label]}"
    return labels


read_run_manifest = store.read_run_manifest
summary_of = store.read_run_summary


def resolve_runs(runs: RunsLike) -> list[RunRef]:
    """(label, benchmark, path) for every run; a (label, benchmark) pair may occur once."""
    if isinstance(runs, (str, Path)):
        runs = [runs]
    if isinstance(runs, Mapping):
        pairs = []
        for label, value in runs.items():
            paths = value.values() if isinstance(value, Mapping) else [value] if isinstance(value, (str, Path)) else value
            pairs += [(str(label), Path(path)) for path in paths]
    else:
        paths = [Path(path) for path in runs]
        manifests = [read_run_manifest(path) for path in paths]
        identities = [_model_identity(manifest, path) for manifest, path in zip(manifests, paths)]
        labels = _identity_labels(list(dict.fromkeys(identities)))
        pairs = [(labels[identity], path) for identity, path in zip(identities, paths)]
    refs = [RunRef(label, read_run_manifest(path)["benchmark"], path) for label, path in pairs]
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


# --- a table that renders as Markdown, LaTeX and plain text -----------------------------------


@dataclass(frozen=True)
class Table:
    """Rows of cells; a cell is a tuple of parts (number, text or None), shown joined by " / ".

    `directions[j]` marks column j's best value in bold: +1 highest, −1 lowest, 0 none.
    `formats[j]` formats column j's numbers.
    """

    title: str
    columns: tuple[str, ...]  # the row-label column first
    rows: tuple[tuple[str, tuple], ...]  # (row label, (cell per column after the first))
    formats: tuple[str, ...]
    directions: tuple[int, ...]
    notes: str = ""

    def _best(self, column: int, part: int) -> float | None:
        values = [cells[column][part] for _, cells in self.rows
                  if part < len(cells[column]) and isinstance(cells[column][part], (int, float))
                  and not np.isnan(cells[column][part])]
        if not values or not self.directions[column] or min(values) == max(values):
            return None
        return max(values) if self.directions[column] > 0 else min(values)

    def _cell(self, column: int, cell: tuple, bold, escape=str) -> str:
        parts = []
        for part_index, part in enumerate(cell):
            if part is None or (isinstance(part, float) and np.isnan(part)):
                parts.append(escape("–"))
            elif isinstance(part, str):
                parts.append(escape(part))
            else:
                text = format(part, self.formats[column])
                parts.append(bold(text) if part == self._best(column, part_index) else text)
        return " / ".join(parts)

    def header(self, up: str = " ↑", down: str = " ↓") -> list[str]:
        """Column names, marked with `up` / `down` where higher / lower is better."""
        marks = {1: up, -1: down, 0: ""}
        return [self.columns[0]] + [name + marks[d] for name, d in zip(self.columns[1:], self.directions)]

    def text_rows(self) -> list[list[str]]:
        return [[label] + [self._cell(j, cell, str) for j, cell in enumerate(cells)] for label, cells in self.rows]

    def markdown(self) -> str:
        def escape(text: str) -> str:
            return text.replace("|", "\\|")

        header = [escape(name) for name in self.header()]
        lines = [f"**{self.title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for label, cells in self.rows:
            row = [escape(label)] + [self._cell(j, cell, lambda text: f"**{text}**", escape) for j, cell in enumerate(cells)]
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines + (["", self.notes] if self.notes else [])) + "\n"

    def latex(self) -> str:
        marks = {1: r" $\uparrow$", -1: r" $\downarrow$", 0: ""}
        header = [latex_escape(self.columns[0])] + [latex_escape(name) + marks[d]
                                                    for name, d in zip(self.columns[1:], self.directions)]
        lines = [r"\begin{table}[t]", r"\centering", rf"\caption{{{latex_escape(self.title)}}}",
                 r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}", r"\toprule", " & ".join(header) + r" \\",
                 r"\midrule"]
        for label, cells in self.rows:
            row = [latex_escape(label)] + [
                self._cell(j, cell, lambda text: rf"\textbf{{{text}}}", latex_escape) for j, cell in enumerate(cells)
            ]
            lines.append(" & ".join(row) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    text = text.replace("\\", "\0")
    for plain, escaped in (("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"), ("_", r"\_"), ("{", r"\{"),
                           ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}"), ("–", "--"),
                           ("−", "$-$"), ("·", r"$\cdot$")):
        text = text.replace(plain, escaped)
    return text.replace("\0", r"\textbackslash{}")


# --- Tab. 2–4, 6, 7: results --------------------------------------------------------------------


def common_k(summaries: Sequence[dict]) -> int:
    """The largest k that every summary reports."""
    shared = set.intersection(*({int(k) for k in summary["pass_at_k"]} for summary in summaries))
    return max(shared) if shared else 1


def results_table(runs: RunsLike, k: int | None = None) -> Table:
    """Pass@1 / Pass@k (%) per label (rows) and benchmark (columns), with an Avg column.

    `k` defaults to the largest k every run reports; a run without that k shows "–" for it.
    """
    refs = resolve_runs(runs)
    summaries = {(ref.label, ref.benchmark): summary_of(ref.path) for ref in refs}
    k = common_k(list(summaries.values())) if k is None else k
    if not any(str(k) in summary["pass_at_k"] for summary in summaries.values()):
        raise ValueError(f"no run reports Pass@{k}")
    benchmarks = ordered_benchmarks(ref.benchmark for ref in refs)
    rows = []
    for label in labels_of(refs):
        cells = []
        for benchmark in benchmarks:
            summary = summaries.get((label, benchmark))
            cells.append((None, None) if summary is None else
                         tuple(100 * summary["pass_at_k"][str(kk)] if str(kk) in summary["pass_at_k"] else None
                               for kk in (1, k)))
        complete = all(part is not None for cell in cells for part in cell)
        average = tuple(float(np.mean([cell[i] for cell in cells])) if complete else None for i in (0, 1))
        rows.append((label, tuple(cells) + ((average,) if len(benchmarks) > 1 else ())))
    columns = ("Model",) + tuple(display_name(b) for b in benchmarks) + (("Avg",) if len(benchmarks) > 1 else ())
    return Table(title=f"Pass@1 / Pass@{k} (%)", columns=columns, rows=tuple(rows),
                 formats=(".1f",) * (len(columns) - 1), directions=(1,) * (len(columns) - 1))


# --- Tab. 5: diversity of correct solutions -----------------------------------------------------

DIVERSITY_METRICS = (("Distinct-2", "distinct:n=2", ".3f", 1), ("Self-BLEU", "self-bleu", ".1f", -1),
                     ("Semantic cos.", "semantic-cosine", ".3f", -1))


def correct_solutions(run_dir: Path) -> dict[str, list[str]]:
    """Each problem's correct response texts, every problem of the run present (possibly empty)."""
    samples = store.load_samples(run_dir, columns=["problem_id", "sample_index", "text", "correct"])
    samples = samples.sort_values(["problem_id", "sample_index"], kind="stable")
    solutions: dict[str, list[str]] = {pid: [] for pid in dict.fromkeys(samples["problem_id"])}
    for pid, text, correct in zip(samples["problem_id"], samples["text"], samples["correct"]):
        if correct:
            solutions[pid].append(text)
    return solutions


def diversity_table(runs: RunsLike, *, semantic: bool = True, min_texts: int = 2) -> Table:
    """Tab. 5: accuracy and the diversity of correct solutions, one row per run."""
    from progrpo_eval.metrics.diversity import dataset_diversity

    refs = resolve_runs(runs)
    metrics = [metric for metric in DIVERSITY_METRICS if semantic or metric[1] != "semantic-cosine"]
    several = len({ref.benchmark for ref in refs}) > 1
    rows = []
    for ref in refs:
        solutions = correct_solutions(ref.path)
        counted = sum(len(texts) >= min_texts for texts in solutions.values())
        values = [dataset_diversity(solutions, name, min_texts=min_texts)["value"] for _, name, _, _ in metrics]
        label = f"{ref.label} · {display_name(ref.benchmark)}" if several else ref.label
        accuracy = 100 * summary_of(ref.path)["mean_accuracy"]
        rows.append((label, ((accuracy,),) + tuple((value,) for value in values) + ((counted,),)))
    columns = ("Model", "Accuracy (%)") + tuple(title for title, _, _, _ in metrics) + ("#problems",)
    formats = (".1f",) + tuple(fmt for _, _, fmt, _ in metrics) + ("d",)
    directions = (1,) + tuple(direction for _, _, _, direction in metrics) + (0,)
    benchmarks = ", ".join(display_name(b) for b in ordered_benchmarks(ref.benchmark for ref in refs))
    notes = (f"Correct solutions per problem; problems with fewer than {min_texts} are skipped (#problems counts "
             "the rest); macro average over problems. Self-BLEU: sacrebleu, 0–100.")
    return Table(title=f"Diversity of correct solutions ({benchmarks})", columns=columns, rows=tuple(rows),
                 formats=formats, directions=directions, notes=notes)


# --- per-problem and per-sample data -----------------------------------------------------------


class EntropySource(NamedTuple):
    method: str  # "exact" or "topk"
    per_token: pd.Series  # per sample, the per-token values (exact entropy, or the top-k lower bound)
    axis_label: str


def load_entropy(run_dir: str | Path) -> EntropySource | None:
    """The rollout entropy `progrpo-eval rescore` stored (exact preferred, else the top-k lower bound), or None."""
    from progrpo_eval import rescore  # torch and the entropy code: only where entropy is read

    exact = rescore.load_entropy(run_dir, "exact")
    if exact is not None:
        frame, provenance = exact
        return EntropySource("exact", frame["entropy"], f"token entropy at T={provenance['temperature']:g} (nats)")
    topk = rescore.load_entropy(run_dir, "topk")
    if topk is not None:
        frame, provenance = topk
        return EntropySource("topk", frame["entropy_low"], f"token entropy, top-{provenance['k']} lower bound (nats)")
    return None


def rollout_statistics(run_dir: str | Path) -> pd.DataFrame:
    """Per rollout (run order): problem_id, sample_index, correct, num_tokens, mean_prob, low_prob, entropy.

    From `rescore.rollout_statistics`: mean_prob = mean_token_prob, low_prob = low_prob_mean (20%),
    entropy = the mean exact entropy per token, else the mean top-k lower bound, else NaN.
    """
    from progrpo_eval import rescore

    table = rescore.rollout_statistics(run_dir).rename(columns={"mean_token_prob": "mean_prob", "low_prob_mean": "low_prob"})
    entropy = table["mean_entropy"] if "mean_entropy" in table else table.get("entropy_low", math.nan)
    return table.assign(entropy=entropy)


def problem_token_statistics(run_dir: str | Path) -> pd.DataFrame:
    """Fig. 3's values: per problem, the mean over its rollouts of mean_prob, low_prob and entropy."""
    rollouts = rollout_statistics(run_dir)
    return rollouts.groupby("problem_id", sort=False)[["mean_prob", "low_prob", "entropy"]].mean().reset_index()


def token_values(run_dir: str | Path, quantity: str) -> np.ndarray | None:
    """Every rollout token's stored entropy (None when there is none) or surprisal −log p, pooled."""
    if quantity == "entropy":
        stored = load_entropy(run_dir)
        rows = None if stored is None else stored.per_token
    elif quantity == "surprisal":
        rows = [-np.asarray(row, dtype=np.float64) for row in store.load_samples(run_dir, columns=["logprobs"])["logprobs"]]
    else:
        raise ValueError(f"unknown quantity {quantity!r}; known: entropy, surprisal")
    return None if rows is None else pooled(rows)


def pooled(rows) -> np.ndarray:
    """Per-sample arrays of per-token values as one float64 array."""
    return np.concatenate([np.asarray(row, dtype=np.float64) for row in rows] or [np.empty(0)])


def problem_counts(run_dir: Path) -> pd.DataFrame:
    """Per problem (index, in run order): n samples and c correct."""
    samples = store.load_samples(run_dir, columns=["problem_id", "correct"])
    return samples.groupby("problem_id", sort=False)["correct"].agg(n="size", c="sum")


def per_problem_metrics(run_dir: Path, ks: Sequence[int]) -> pd.DataFrame:
    """Per problem: pass@k for each k (columns "pass@k") and accuracy c/n."""
    counts = problem_counts(run_dir)
    table = pass_at_k_table(counts["n"].to_numpy(), counts["c"].to_numpy(), ks)
    frame = pd.DataFrame({f"pass@{k}": table[k] for k in ks}, index=counts.index)
    frame["accuracy"] = counts["c"].to_numpy() / counts["n"].to_numpy()
    return frame
