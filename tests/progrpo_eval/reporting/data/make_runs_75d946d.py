"""Write run directories with the code of commit 75d946d (the format before the reporting package)."""

import os
import shutil
import sys
from pathlib import Path

from rich.console import Console

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from progrpo_eval.generation import SamplingSettings
from progrpo_eval.rescore import ExactOptions, rescore_exact, rescore_topk
from progrpo_eval.runner import RunOptions, run
from progrpo_eval.tiny_model import build_tiny_model

if __name__ == "__main__":
    out = Path(sys.argv[1])
    shutil.rmtree(out, ignore_errors=True)
    data = "/work/shared/data/benchmarks"
    quiet = Console(file=open(os.devnull, "w"))
    for name, seed in (("tiny-a", 0), ("tiny-b", 1)):
        model = build_tiny_model(Path("/tmp/oldfmt/models") / name, seed=seed)
        for bench in ("aime24", "amc23"):
            options = RunOptions(
                model=str(model),
                benchmarks=[bench],
                backend="hf",
                data_dir=data,
                settings=SamplingSettings(n=4, temperature=1.0, top_p=1.0, max_tokens=6, top_logprobs=3, seed=0),
                limit=3,
                score_workers=1,
                out=out,
            )
            [(_, d, _)] = run(options, quiet)
            rescore_topk(d)
            if name == "tiny-a" and bench == "aime24":
                rescore_exact(d, ExactOptions(progress=False))
    print(sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()))
