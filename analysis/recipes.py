"""Which recipe made which run: evaluation run directories labelled as the paper labels its rows.

An evaluation run's manifest names the model it sampled. When that model is a checkpoint of
`progrpo-train` (OUT_DIR/checkpoints/step-N/hf), OUT_DIR/config.yaml says how it was trained:
the base model (`model.path`), the advantage (`algorithm.advantage`), the re-weighting
(`algorithm.reweight`, `algorithm.alpha`, `algorithm.gate`), the loss (`algorithm.loss`, when the
config has it) and the training seed. A model that is not such a checkpoint is a base model.

Labels and roles (the rows of `progrpo_eval.reporting.catalog.PLAN` items):
- "methods" (Tab. 2–5, Fig. 1–4, 7, 8): Base, GRPO (as verl/DAPO run it, the `grpo_verl` variant),
  GRPO (Eq. 3) (the `grpo_eq3` variant: symmetric clip and Eq. 3's sequence-mean aggregation),
  GRPO w/ KL-Cov, GRPO w/ Clip-Cov, FlowRL, ProGRPO (Ours) = the paper's default re-weighting
  (c(q) − c(o), α = 0.3, mixed gate). Other ProGRPO variants are not methods rows.
- "alpha" (Tab. 6): GRPO as "α = 0 (GRPO)" and every ProGRPO run with the default re-weighting,
  labelled "α = <alpha>".
- "formulation" (Fig. 5, Tab. 7): GRPO and every ProGRPO run at α = 0.3, labelled by its
  re-weighting: "c(q) − c(o)", "1 − c(q) − c(o)", "c̄_G − c(o)", "absolute −c(o)".
- "kl_cov" (Fig. 6): the KL-Cov runs.
With several base models, labels are prefixed by the base model's name and tables group rows by
it. `--label NAME=DIR` gives every run below DIR the label NAME in the methods role (baselines
trained elsewhere, e.g. released FlowRL weights). Runs of one recipe with different training
seeds get "(seed N)" in their label, and the methods trained with several seeds are also
aggregated over their seeds (`PaperRuns.seeds`, `reporting.seeds.aggregate_seeds`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from progrpo_eval import store
from progrpo_eval.reporting.plan import PaperRuns
from progrpo_eval.reporting.runs import RunRef, training_run

PAPER_ALPHA = 0.3
FORMULATIONS = {
    "prompt": "c(q) − c(o)",
    "exploratory": "1 − c(q) − c(o)",
    "group_mean": "c̄_G − c(o)",
    "absolute": "absolute −c(o)",
}
LOSSES = {"kl_cov": "GRPO w/ KL-Cov", "clip_cov": "GRPO w/ Clip-Cov", "flowrl": "FlowRL"}
GRPO_EQ3 = "GRPO (Eq. 3)"  # the `grpo_eq3` variant: symmetric clip, sequence-mean aggregation


@dataclass(frozen=True)
class Recipe:
    """How the evaluated model was made (module docstring); training fields are None for a base model."""

    base_model: str
    advantage: str | None = None  # "grpo", "progrpo"; None: not trained by progrpo-train
    reweight: str | None = None
    alpha: float | None = None
    gate: str | None = None
    loss: str = "ppo_clip"
    aggregation: str | None = None
    clip_low: float | None = None
    clip_high: float | None = None
    seed: int | None = None
    out_dir: Path | None = None
    label: str | None = None  # given with --label

    @property
    def is_default_progrpo(self) -> bool:
        return (
            self.advantage == "progrpo"
            and self.reweight == "prompt"
            and self.alpha == PAPER_ALPHA
            and self.gate in (None, "mixed")
            and self.loss == "ppo_clip"
        )

    @property
    def is_eq3_grpo(self) -> bool:
        """GRPO as Eq. 3 writes it: each response's token mean, and no clip-higher."""
        return (
            self.advantage == "grpo"
            and self.aggregation == "seq-mean-token-mean"
            and self.clip_low is not None
            and self.clip_low == self.clip_high
        )

    @property
    def metrics(self) -> Path | None:
        path = self.out_dir / "metrics.jsonl" if self.out_dir else None
        return path if path and path.is_file() else None


def recipe_of(run_dir: Path, labels: Mapping[Path, str]) -> Recipe:
    manifest = store.read_run_manifest(run_dir)
    model = str(manifest.get("model"))
    given = next((label for root, label in labels.items() if root == run_dir or root in run_dir.parents), None)
    trained = training_run(model)
    if trained is None:
        return Recipe(base_model=Path(model).name or model, label=given)
    out_dir, config = trained
    algorithm = config.get("algorithm", {})
    return Recipe(
        base_model=Path(str(config.get("model", {}).get("path", model))).name,
        advantage=algorithm.get("advantage"),
        reweight=algorithm.get("reweight"),
        alpha=algorithm.get("alpha"),
        gate=algorithm.get("gate"),
        loss=algorithm.get("loss", "ppo_clip"),
        aggregation=algorithm.get("aggregation"),
        clip_low=algorithm.get("clip_low"),
        clip_high=algorithm.get("clip_high"),
        seed=config.get("seed"),
        out_dir=out_dir,
        label=given,
    )


def roles_of(recipe: Recipe) -> dict[str, str]:
    """role → the run's label in that role (module docstring)."""
    if recipe.label is not None:
        return {"methods": recipe.label}
    if recipe.advantage is None:
        return {"methods": "Base"}
    if recipe.loss in LOSSES:
        return {"methods": LOSSES[recipe.loss], "kl_cov": LOSSES[recipe.loss]}
    if recipe.is_eq3_grpo:
        return {"methods": GRPO_EQ3}
    if recipe.advantage == "grpo":
        return {"methods": "GRPO", "alpha": "α = 0 (GRPO)", "formulation": "GRPO"}
    roles = {}
    if recipe.is_default_progrpo:
        roles["methods"] = "ProGRPO (Ours)"
    if recipe.reweight == "prompt" and recipe.gate in (None, "mixed"):
        roles["alpha"] = f"α = {recipe.alpha:g}"
    if recipe.alpha == PAPER_ALPHA:
        roles["formulation"] = FORMULATIONS.get(recipe.reweight, str(recipe.reweight))
    return roles


def _row_order(role: str, recipe: Recipe) -> tuple:
    """The paper's row order: baselines first and ProGRPO last; the α sweep by α; GRPO before the formulations."""
    if role == "alpha":
        return (0.0 if recipe.advantage == "grpo" else float(recipe.alpha or 0.0),)
    if role == "formulation":
        return (
            -1
            if recipe.advantage == "grpo"
            else list(FORMULATIONS).index(recipe.reweight)
            if recipe.reweight in FORMULATIONS
            else len(FORMULATIONS),
        )
    label = roles_of(recipe).get(role, "")
    order = ["Base", "GRPO", GRPO_EQ3, *LOSSES.values()]
    return (order.index(label) if label in order else len(order) + (label == "ProGRPO (Ours)"),)


def find_runs(roots: Sequence[Path]) -> list[Path]:
    runs = sorted({path.parent for root in roots for path in Path(root).glob(f"**/{store.MANIFEST}")})
    if not runs:
        raise ValueError(f"no run directories (with {store.MANIFEST}) below {', '.join(map(str, roots))}")
    return runs


def paper_runs(roots: Sequence[Path], labels: Mapping[Path, str] | None = None) -> tuple[PaperRuns, list[str]]:
    """The runs below `roots` by role and paper label, and one line per run saying how it was labelled."""
    recipes = {
        run: recipe_of(run, {Path(k).resolve(): v for k, v in (labels or {}).items()})
        for run in (path.resolve() for path in find_runs(roots))
    }
    several_bases = len({recipe.base_model for recipe in recipes.values() if recipe.label is None}) > 1
    entries = []  # (role, label, benchmark, run, recipe)
    for run, recipe in recipes.items():
        benchmark = store.read_run_manifest(run)["benchmark"]
        for role, label in roles_of(recipe).items():
            label = f"{recipe.base_model} · {label}" if several_bases and recipe.label is None else label
            entries.append((role, label, benchmark, run, recipe))
    entries.sort(key=lambda entry: (entry[0], _row_order(entry[0], entry[4]), entry[1], entry[4].seed or 0))
    seeds: dict[tuple, set] = {}
    for role, label, benchmark, _, recipe in entries:
        seeds.setdefault((role, label, benchmark), set()).add(recipe.seed)
    by_role: dict[str, list[RunRef]] = {}
    metrics: dict[str, dict[str, Path]] = {}
    groups = {}
    by_seed: dict[str, list[RunRef]] = {}  # a methods label trained with several seeds → its runs
    for role, label, benchmark, run, recipe in entries:
        if len(seeds[(role, label, benchmark)]) > 1:
            if role == "methods":
                by_seed.setdefault(label, []).append(RunRef(label, benchmark, run))
            label = f"{label} (seed {recipe.seed})"
        by_role.setdefault(role, []).append(RunRef(label, benchmark, run))
        groups[label] = recipe.base_model
        if recipe.metrics is not None:
            metrics.setdefault(role, {})[label] = recipe.metrics
    lines = [
        f"{run}: {recipe.base_model}; "
        + (", ".join(f"{role}: {label}" for role, label in roles_of(recipe).items()) or "no paper row")
        for run, recipe in recipes.items()
    ]
    return PaperRuns(by_role=by_role, groups=groups if several_bases else {}, metrics=metrics, seeds=by_seed), lines
