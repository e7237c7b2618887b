"""analysis/paper_figures.py writes the plan's figures and tables as files."""

from __future__ import annotations

import runpy
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_paper_figures_script_writes_what_the_data_supports(write_run, tmp_path):
    script = runpy.run_path(str(REPO / "analysis" / "paper_figures.py"))
    rollouts = [(True, [0.5, 0.9]), (False, [0.2, 0.4]), (True, [0.6]), (False, [0.3, 0.3])]
    arguments = [f"{label}={write_run(tmp_path, label, 'amc23', {'amc23/0': rollouts, 'amc23/1': rollouts[::-1]})}"
                 for label in ("grpo", "ours")]
    assert script["main"]([*arguments, "--out", str(tmp_path / "figs"), "--no-semantic", "--formats", "png"]) == 0
    names = {path.name for path in (tmp_path / "figs").iterdir()}
    assert names == {"fig1_passk.png", "fig3_token_probs_amc23.png", "fig4_token_entropy_amc23.png",
                     "fig5_ablation.png", "fig8_rollouts_amc23.png", "tab2_math.md", "tab2_math.tex",
                     "runs.md", "runs.tex", "tab5_diversity.md", "tab5_diversity.tex"}
    assert not any(name.startswith("fig2") for name in names)  # no --metrics
    assert script["main"]([str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
