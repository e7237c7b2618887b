"""analysis/reproduce.py: runs found by recipe, labelled as the paper labels them, and written as the
paper's tables and figures; what the runs cannot support is listed as left out."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _checkpoint(root: Path, name: str, seed: int = 0, **algorithm) -> Path:
    """A progrpo-train out_dir with config.yaml, metrics.jsonl and one checkpoint's hf/ directory."""
    out_dir = root / "train" / name
    (out_dir / "checkpoints" / "step-000002" / "hf").mkdir(parents=True)
    config = {
        "seed": seed,
        "model": {"path": "Qwen/Qwen2.5-7B"},
        "algorithm": {"advantage": "progrpo", "reweight": "prompt", "alpha": 0.3, "gate": "mixed", **algorithm},
    }
    (out_dir / "config.yaml").write_text(yaml.safe_dump(config))
    rows = [{"step": step, "entropy": 0.5 - 0.1 * step, "accuracy": 0.1 * step} for step in range(3)]
    (out_dir / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return out_dir / "checkpoints" / "step-000002" / "hf"


def _eval(write_run, root: Path, name: str, model: Path | str, benchmark: str, correct: list[int]) -> Path:
    """An evaluation run of `model`: correct[i] of 4 samples right on problem i."""
    problems = {f"{benchmark}/{i}": [(s < c, [0.9, 0.5, 0.7]) for s in range(4)] for i, c in enumerate(correct)}
    return write_run(root / "evals", name, benchmark, problems, model_path=str(model))


def _rows(markdown: str) -> list[str]:
    return [
        line.split(" | ")[0].removeprefix("| ")
        for line in markdown.splitlines()
        if line.startswith("| ") and "---" not in line
    ][1:]


def test_reproduce_writes_the_paper_items_with_the_paper_labels(write_run, tmp_path):
    models = {
        "grpo": _checkpoint(tmp_path, "grpo", advantage="grpo"),
        "progrpo": _checkpoint(tmp_path, "progrpo"),
        "alpha07": _checkpoint(tmp_path, "alpha07", alpha=0.7),
        "explore": _checkpoint(tmp_path, "explore", reweight="exploratory"),
        "base": "Qwen/Qwen2.5-7B",
    }
    # correct answers out of 4 per problem: (aime24's 2 problems, math500's 2 problems)
    correct = {
        "grpo": ([1, 0], [2, 2]),
        "progrpo": ([2, 0], [4, 2]),
        "alpha07": ([0, 0], [2, 0]),
        "explore": ([1, 1], [3, 3]),
        "base": ([0, 0], [1, 1]),
    }
    for name, model in models.items():
        for benchmark, counts in zip(("aime24", "math500"), correct[name]):
            _eval(write_run, tmp_path, name, model, benchmark, counts)
    script = runpy.run_path(str(REPO / "analysis" / "reproduce.py"))
    out = tmp_path / "paper"
    arguments = ["--runs", str(tmp_path / "evals"), "--out", str(out), "--no-semantic", "--formats", "png"]
    assert script["main"](arguments) == 0

    tab2 = (out / "tab2_math.md").read_text()
    assert tab2.startswith("**Tab. 2: Main results across six mathematical reasoning benchmarks. Pass@1 / Pass@4 (%)**")
    assert "| Model | AIME 2024 ↑ | MATH500 ↑ | Avg ↑ |" in tab2
    assert _rows(tab2) == ["Base", "GRPO", "ProGRPO (Ours)"]  # the sweep and the ablation are not method rows
    # Tab. 6: Pass@1 = mean of c/4 over a benchmark's problems, then the mean over the two benchmarks
    # GRPO (1/8 + 1/2) / 2 = 31.25; α = 0.3 (1/4 + 3/4) / 2 = 50; α = 0.7 (0 + 1/4) / 2 = 12.5
    tab6 = (out / "tab6_alpha.md").read_text()
    assert _rows(tab6) == ["α = 0 (GRPO)", "α = 0.3", "α = 0.7"]
    assert "| α = 0 (GRPO) | 31.2 |" in tab6 and "| α = 0.3 | **50.0** |" in tab6 and "| α = 0.7 | 12.5 |" in tab6
    assert set(_rows((out / "tab7_formulation.md").read_text())) == {"GRPO", "c(q) − c(o)", "1 − c(q) − c(o)"}
    names = {path.name for path in out.iterdir()}
    assert {
        "fig1_passk.png",
        "fig2_training_entropy.png",
        "fig3_token_probs.png",
        "fig4_token_entropy.png",
        "fig5_ablation.png",
        "fig7_token_entropy.png",
        "fig8_rollouts.png",
        "tab5_diversity.md",
        "tab5_diversity.tex",
        "index.md",
    } <= names
    index = (out / "index.md").read_text()
    assert "Tab. 4 left out: no methods runs on GPQA-Diamond, MMLU-Pro" in index
    assert "Fig. 6 left out: no training metrics.jsonl of the kl_cov runs" in index  # no KL-Cov run
    assert "alpha: α = 0.7" in index and "formulation: 1 − c(q) − c(o)" in index
    assert script["main"](["--runs", str(tmp_path / "nothing"), "--out", str(out)]) == 2


def test_reproduce_aggregates_a_method_trained_with_several_seeds(write_run, tmp_path):
    # ProGRPO with seeds 0, 1, 2: Pass@1 on aime24 = 1/4, 2/4, 3/4 (one problem); GRPO with one seed
    for seed in range(3):
        model = _checkpoint(tmp_path, f"progrpo-s{seed}", seed=seed)
        _eval(write_run, tmp_path, f"progrpo-s{seed}", model, "aime24", [seed + 1])
    _eval(write_run, tmp_path, "grpo", _checkpoint(tmp_path, "grpo", advantage="grpo"), "aime24", [1])
    script = runpy.run_path(str(REPO / "analysis" / "reproduce.py"))
    out = tmp_path / "paper"
    assert (
        script["main"](["--runs", str(tmp_path / "evals"), "--out", str(out), "--no-semantic", "--formats", "png"]) == 0
    )
    assert _rows((out / "tab2_math.md").read_text()) == [
        "GRPO",
        "ProGRPO (Ours) (seed 0)",
        "ProGRPO (Ours) (seed 1)",
        "ProGRPO (Ours) (seed 2)",
    ]
    seeds = (out / "tab2_math_seeds.md").read_text()
    assert "| ProGRPO (Ours) · Pass@1 | 50.0 [-12.1, 112.1] |" in seeds  # mean 0.5, t(0.975, 2)·0.25/√3
    assert "Seeds: ProGRPO (Ours): 0, 1, 2" in seeds


def test_baselines_get_their_own_rows():
    recipes = runpy.run_path(str(REPO / "analysis" / "recipes.py"))
    Recipe, roles_of = recipes["Recipe"], recipes["roles_of"]
    grpo = dict(base_model="m", advantage="grpo", reweight="prompt", alpha=0.3, gate="mixed")
    assert roles_of(Recipe(**grpo, loss="flowrl"))["methods"] == "FlowRL"
    assert roles_of(Recipe(**grpo, aggregation="token-mean", clip_low=0.2, clip_high=0.28))["methods"] == "GRPO"
    eq3 = Recipe(**grpo, aggregation="seq-mean-token-mean", clip_low=0.2, clip_high=0.2)
    assert roles_of(eq3) == {"methods": "GRPO (Eq. 3)"}  # not the alpha sweep's GRPO row
