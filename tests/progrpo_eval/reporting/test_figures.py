"""Figures and tables from planted run directories: the plotted numbers against hand-computed ones,
labels, fallbacks and errors, deterministic files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from progrpo_eval.metrics.diversity import distinct_n, self_bleu
from progrpo_eval.reporting import figures, rollouts, style, tables, token_figures
from progrpo_eval.reporting.runs import correct_solutions, resolve_runs

# Four rollouts of one problem; average and low-20% probability worked out by hand:
#   0: 4 × 0.5 and 1.0 -> mean 3/5 = 0.6;  k = ceil(0.2·5) = 1 -> 0.5
#   1: 0.9 0.1 0.8 0.2 0.5 0.6 0.7 0.4 0.3 1.0 -> mean 0.55;  k = 2 -> (0.1 + 0.2)/2 = 0.15
#   2: 0.25 -> 0.25, 0.25;   3: 3 × 0.9 -> 0.9, 0.9 (k = ceil(0.6) = 1)
ROLLOUTS = [
    (True, [0.5, 0.5, 0.5, 0.5, 1.0]),
    (False, [0.9, 0.1, 0.8, 0.2, 0.5, 0.6, 0.7, 0.4, 0.3, 1.0]),
    (True, [0.25]),
    (False, [0.9, 0.9, 0.9]),
]
AVERAGE, LOW20 = [0.6, 0.55, 0.25, 0.9], [0.5, 0.15, 0.25, 0.9]


@pytest.fixture
def two_models(tmp_path, write_run):
    """grpo and ours on aime24 (2 problems × 4) and amc23; hand-computed Pass@k in the tests."""
    wrong = [(False, [0.5, 0.5])] * 4
    runs = {}
    for model, first_correct in (("grpo", 1), ("ours", 2)):
        first = [(i < first_correct, [0.8, 0.4]) for i in range(4)]
        runs[(model, "aime24")] = write_run(tmp_path, model, "aime24", {"aime24/0": first, "aime24/1": wrong})
        runs[(model, "amc23")] = write_run(tmp_path, model, "amc23", {"amc23/0": ROLLOUTS, "amc23/1": wrong})
    return runs


def test_rollout_probabilities_plots_hand_computed_bars(tmp_path, write_run):
    run_dir = write_run(tmp_path, "m", "amc23", {"amc23/7": [(False, [0.5])] * 4, "amc23/8": ROLLOUTS})
    assert token_figures.default_problem(run_dir) == "amc23/8"  # the first with mixed results
    figure = token_figures.rollout_probabilities(run_dir)
    for row, expected in enumerate((AVERAGE, LOW20)):
        bars = figure.axes[row].containers[0]
        assert [bar.get_height() for bar in bars] == pytest.approx(expected, abs=1e-6)
        colors = [tuple(bar.get_facecolor()[:3]) for bar in bars]
        assert colors == [style.CORRECT_COLOR if correct else style.WRONG_COLOR for correct, _ in ROLLOUTS]
    assert "2/4 correct" in figure.axes[0].get_title()
    with pytest.raises(ValueError, match="problem 'nope' is not in"):
        token_figures.rollout_probabilities(run_dir, "nope")


def test_passk_curves_plot_the_unbiased_estimates_on_a_log2_axis(two_models):
    figure = figures.passk_curves([two_models[("grpo", "aime24")], two_models[("ours", "aime24")]])
    ax = figure.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    # grpo: 1 of 4 correct on one problem, 0 on the other; ours: 2 of 4
    assert list(lines["grpo"].get_xdata()) == [1, 2, 4] and ax.get_xscale() == "log"
    assert lines["grpo"].get_ydata() == pytest.approx([100 * 0.25 / 2, 100 * 0.5 / 2, 100 * 1 / 2])
    assert lines["ours"].get_ydata() == pytest.approx([100 * 0.5 / 2, 100 * (5 / 6) / 2, 100 * 1 / 2])
    assert len(ax.collections) == 2  # one CI band per run
    assert ax.get_title() == "AIME 2024"


def test_ablation_bars_average_over_shared_benchmarks(two_models):
    figure = figures.ablation_bars(
        {label: [two_models[(label, b)] for b in ("aime24", "amc23")] for label in ("grpo", "ours")}
    )
    heights = {
        container.get_label(): [bar.get_height() for bar in container] for container in figure.axes[0].containers
    }
    # amc23/0 has 2 of 4 correct (ROLLOUTS), amc23/1 none: Pass@1 0.25, Pass@4 0.5 for both models
    assert heights["grpo"] == pytest.approx([100 * (0.125 + 0.25) / 2, 100 * (0.5 + 0.5) / 2])
    assert heights["ours"] == pytest.approx([100 * (0.25 + 0.25) / 2, 100 * (0.5 + 0.5) / 2])


def test_token_probabilities_per_problem_and_the_entropy_panel(two_models, plant_entropy):
    run_dir = two_models[("grpo", "amc23")]
    values = rollouts.problem_token_statistics(run_dir).set_index("problem_id")
    assert values.loc["amc23/0", "mean_token_prob"] == pytest.approx(np.mean(AVERAGE))
    assert values.loc["amc23/0", "low_prob_mean"] == pytest.approx(np.mean(LOW20))
    assert len(token_figures.token_probability_distributions(run_dir).axes) == 4  # no entropy: 2 panels × 2 rows
    plant_entropy(run_dir, {(p, i): [0.5, 1.5] for p in ("amc23/0", "amc23/1") for i in range(4)})
    assert rollouts.problem_token_statistics(run_dir)["mean_entropy"].tolist() == pytest.approx([1.0, 1.0])
    assert len(token_figures.token_probability_distributions(run_dir).axes) == 6


def test_entropy_kde_falls_back_to_labelled_surprisal(two_models, plant_entropy):
    runs = {"grpo": two_models[("grpo", "amc23")], "ours": two_models[("ours", "amc23")]}
    figure = token_figures.entropy_kde(runs)
    assert "NOT entropy" in figure.axes[0].get_xlabel() and "surprisal" in figure.get_suptitle()
    # surprisal mean over every token of the run: −mean(log p) of the planted probabilities
    probabilities = [p for _, ps in ROLLOUTS for p in ps] + [0.5] * 8
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend[0] == f"grpo (mean {-np.mean(np.log(probabilities)):.3f})"
    with pytest.raises(ValueError, match="one stored kind for every run"):
        token_figures.entropy_kde(runs, quantity="entropy")
    for run_dir in runs.values():
        plant_entropy(run_dir, {(p, i): [0.25, 0.75, 2.0] for p in ("amc23/0", "amc23/1") for i in range(4)})
    figure = token_figures.entropy_kde(runs)
    assert figure.axes[0].get_xlabel() == "token entropy at T=1 (nats)"
    assert figure.legends[0].get_texts()[1].get_text() == "ours (mean 1.000)"


def test_training_entropy_reads_metrics_jsonl(tmp_path):
    path = tmp_path / "grpo" / "metrics.jsonl"
    path.parent.mkdir()
    path.write_text(
        "\n".join(
            json.dumps(row)
            for row in [{"step": 2, "entropy": 0.3}, {"step": 1, "entropy": 0.5}, {"step": 3, "accuracy": 0.1}]
        )
        + "\n\n"
    )
    line = figures.training_entropy([path]).axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [1, 2] and list(line.get_ydata()) == [0.5, 0.3]
    path.write_text('{"step": 1, "entropy": 0.5}\nnot json\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        figures.training_entropy([path])
    path.write_text('{"step": 1}\n')
    with pytest.raises(ValueError, match="no entropy field"):
        figures.training_entropy([path])


def test_results_table_cells_average_and_bold(two_models, tmp_path, write_run):
    runs = {label: [two_models[(label, b)] for b in ("aime24", "amc23")] for label in ("grpo", "ours")}
    all_right = {"aime24/0": [(True, [0.5])] * 4, "aime24/1": [(True, [0.5])] * 4}
    runs["a_b"] = [write_run(tmp_path, "a_b", "aime24", all_right)]
    table = tables.results_table(runs)
    assert table.title == "Pass@1 / Pass@4 (%)" and table.columns == ("Model", "AIME 2024", "AMC 23", "Avg")
    rows = {row[0]: row[1:] for row in table.text_rows()}
    assert rows["grpo"] == ["12.5 / 50.0", "25.0 / 50.0", "18.8 / 50.0"]
    assert rows["ours"] == ["25.0 / 50.0", "25.0 / 50.0", "25.0 / 50.0"]
    assert rows["a_b"] == ["100.0 / 100.0", "– / –", "– / –"]
    markdown = table.markdown()
    assert "| a_b | **100.0** / **100.0** | – / – | – / – |" in markdown
    assert "| ours | 25.0 / 50.0 | 25.0 / 50.0 | **25.0** / 50.0 |" in markdown  # a column of ties has no bold
    assert r"a\_b & \textbf{100.0} / \textbf{100.0} & -- / -- & -- / -- \\" in table.latex()


def test_diversity_table_over_correct_solutions(two_models):
    run_dir = two_models[("ours", "amc23")]
    table = tables.diversity_table(run_dir, semantic=False)
    correct = correct_solutions(run_dir)
    assert [len(texts) for texts in correct.values()] == [2, 0]  # amc23/0: rollouts 0 and 2
    [(label, cells)] = table.rows
    assert label == "ours" and table.columns[2:4] == ("Distinct-2", "Self-BLEU")
    assert cells[1][0] == pytest.approx(distinct_n(correct["amc23/0"], 2))
    assert cells[2][0] == pytest.approx(self_bleu(correct["amc23/0"]))
    assert cells[-1] == (1,)  # one problem with at least two correct solutions


def test_run_labels_and_errors(tmp_path, write_run):
    problems = {"aime24/0": [(True, [0.5])] * 2}
    seed0 = write_run(tmp_path / "a", "m", "aime24", problems, seed=0)
    seed1 = write_run(tmp_path / "b", "m", "aime24", problems, seed=1)
    other = write_run(tmp_path / "a", "m", "amc23", {"amc23/0": [(True, [0.5])] * 2})
    assert [ref.label for ref in resolve_runs([seed0, other, seed1])] == ["m (seed=0)", "m (seed=0)", "m (seed=1)"]
    with pytest.raises(ValueError, match="two runs labelled 'x' on aime24"):
        resolve_runs({"x": [seed0, seed1]})
    with pytest.raises(ValueError, match=r"is not a run directory \(no manifest.json\); run directories below it: "):
        resolve_runs([tmp_path / "a"])
    with pytest.raises(ValueError, match="runs on several benchmarks"):
        token_figures.token_probability_distributions([seed0, other])


def test_saved_files_are_deterministic(two_models, tmp_path):
    run_dir = two_models[("grpo", "amc23")]
    first = style.save_figure(token_figures.rollout_probabilities(run_dir), tmp_path / "one" / "fig8")
    second = style.save_figure(token_figures.rollout_probabilities(run_dir), tmp_path / "two" / "fig8")
    assert [path.suffix for path in first] == [".png", ".pdf"]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))
    assert b"CreationDate" not in first[1].read_bytes()


def test_diversity_table_pools_by_default_and_offers_per_problem_and_fair(tmp_path, write_run):
    """Tab. 5 at the dataset level: the pooled value differs from the mean over problems."""
    three_right = [(True, [0.5])] * 3 + [(False, [0.5])]
    ours = write_run(
        tmp_path,
        "ours",
        "aime24",
        {"aime24/0": three_right, "aime24/1": three_right, "aime24/2": [(True, [0.5])] + [(False, [0.5])] * 3},
    )
    grpo = write_run(
        tmp_path,
        "grpo",
        "aime24",
        {
            "aime24/0": three_right,
            "aime24/1": [(False, [0.5])] * 4,
            "aime24/2": [(True, [0.5])] * 2 + [(False, [0.5])] * 2,
        },
    )
    solutions = correct_solutions(ours)
    pooled = tables.diversity_table(ours, semantic=False)
    every_text = [text for texts in solutions.values() for text in texts]
    assert pooled.rows[0][1][1][0] == pytest.approx(distinct_n(every_text))
    assert pooled.rows[0][1][-2:] == ((7,), (3,))  # 7 solutions of 3 problems
    assert "Pooled" in pooled.notes
    per_problem = tables.diversity_table(ours, semantic=False, aggregation="per-problem")
    expected = np.mean([distinct_n(solutions[p]) for p in ("aime24/0", "aime24/1")])  # aime24/2 has one: skipped
    assert per_problem.rows[0][1][1][0] == pytest.approx(expected) != pytest.approx(distinct_n(every_text))
    assert "Per problem" in per_problem.notes
    fair = tables.diversity_table({"grpo": grpo, "ours": ours}, semantic=False, fair=2, seed=3)
    # only aime24/0 has >= 2 correct solutions in both runs (aime24/2: grpo 2, ours 1)
    assert [cells[-2:] for _, cells in fair.rows] == [((2,), (1,)), ((2,), (1,))]
    assert "Fair: only problems every model solves at least 2 times (AIME 2024 1)" in fair.notes


def test_one_temperature_per_figure(two_models, plant_entropy):
    """Fig. 3/4 never put T = 1 probabilities beside entropy at the sampling temperature (0.6 here)."""
    run_dir = two_models[("ours", "amc23")]
    keys = [(p, i) for p in ("amc23/0", "amc23/1") for i in range(4)]
    planted = {key: [0.5, 1.5] for key in keys}
    at_06 = {key: [np.log(0.25)] * 2 for key in keys}  # every token's probability at T = 0.6: 0.25
    plant_entropy(run_dir, planted, temperature=0.6, logprobs=at_06)
    default = token_figures.token_probability_distributions(run_dir)
    assert len(default.axes) == 4  # probabilities at T = 1, and no entropy panel: it is stored at T = 0.6
    assert default.axes[0].get_title() == "Average probability at T=1"
    assert "none stored at T=1 (exact at T=0.6 is" in default.get_suptitle()
    assert rollouts.problem_token_statistics(run_dir).set_index("problem_id").loc["amc23/0", "mean_token_prob"] == (
        pytest.approx(np.mean(AVERAGE))
    )
    at_sampling = token_figures.token_probability_distributions(run_dir, temperature=0.6)
    assert len(at_sampling.axes) == 6 and at_sampling.axes[2].get_title() == "Mean token entropy at T=0.6 (nats)"
    assert at_sampling.axes[0].get_title() == "Average probability at T=0.6"
    values = rollouts.problem_token_statistics(run_dir, temperature=0.6)
    assert values["mean_token_prob"].tolist() == pytest.approx([0.25, 0.25])  # from the T = 0.6 log-probs
    assert "surprisal −log p at T=1" in token_figures.entropy_kde(run_dir).axes[0].get_xlabel()
    assert token_figures.entropy_kde(run_dir, temperature=0.6).axes[0].get_xlabel() == "token entropy at T=0.6 (nats)"
    with pytest.raises(ValueError, match=r"probabilities at T=0.8 need `progrpo-eval rescore .* --temperature 0.8"):
        rollouts.rollout_statistics(run_dir, temperature=0.8)


def test_a_long_report_title_wraps_inside_the_page() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from progrpo_eval.reporting.pages import text_pages

    title = "progrpo demo-real: SmolLM2-135M-Instruct, 3 problems of MATH-500 and GPQA-Diamond, k = 8"
    (page,) = text_pages(title, ["one line of settings"])
    renderer = FigureCanvasAgg(page).get_renderer()
    heading = page.texts[0]
    assert heading.get_text().replace("\n", " ") == title and "\n" in heading.get_text()
    assert heading.get_window_extent(renderer).x1 <= page.bbox.x1
    assert page.texts[1].get_window_extent(renderer).y1 < heading.get_window_extent(renderer).y0  # below the title
