import json
import sys
from pathlib import Path

from progrpo_eval import report, rescore, tables

if __name__ == "__main__":
    runs = Path(sys.argv[1])
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    dirs = sorted(p.parent for p in runs.glob("*/*/manifest.json"))
    res = tables.results_table(dirs)
    (out / "tab2.md").write_text(res.markdown())
    (out / "tab2.tex").write_text(res.latex())
    refs = tables.resolve_runs(dirs)
    (out / "every_run.md").write_text(report.run_detail_table(refs).markdown())
    c = report.compare_runs(runs / "tiny-a/aime24", runs / "tiny-b/aime24", num_resamples=500, seed=0)
    (out / "compare.json").write_text(report.comparison_json(c, "A", "B"))
    rescore.rollout_statistics(runs / "tiny-a/aime24").to_csv(out / "rollouts_tiny-a_aime24.csv", index=False)
    r = report.build_report(dirs, out / "report.pdf", semantic=False, num_resamples=200)
    (out / "pages.json").write_text(json.dumps({"pages": r.pages, "notes": r.notes}, indent=1))
    print(res.markdown())
