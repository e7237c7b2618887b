"""Run directories as tables, figures, comparisons and PDF reports (`progrpo-eval report`, `compare`).

    runs.py           which run is which (labels, benchmarks), a run's samples per problem
    table.py          Table: the one Markdown / LaTeX / text table writer
    tables.py         the paper's tables: results (Tab. 2–4, 6, 7), diversity (Tab. 5), every run
    rollouts.py       per-rollout statistics (one set of column names) and the stored entropy
    style.py          how figures look and are saved (deterministic files)
    figures.py        Fig. 1 (Pass@k), Fig. 2/6 (training curves), Fig. 5 (ablation bars)
    token_figures.py  Fig. 3 (token probabilities), Fig. 4/7 (token entropy), Fig. 8 (one problem)
    comparison.py     paired comparisons: two runs, two models (Holm, the stratified Avg)
    seeds.py          runs of one recipe over training seeds: mean and CI, paired comparison
    catalog.py        the paper's figures and tables, declared once (PLAN)
    plan.py           which of them a set of runs supports (the report and analysis/ use it)
    pages.py          the report's page layout
    pdf.py            the PDF report

Nothing is imported here, so `progrpo_eval.reporting.table` stays as light as it is.
"""
