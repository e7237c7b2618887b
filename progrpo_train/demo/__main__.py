"""python -m progrpo_train.demo [--full] [--out DIR] [--report PDF] [--jobs N]

Bad options and missing files give one `error:` line and exit status 2; a job that fails gives
one `error:` line naming the job, its own error and its log, and exit status 1.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from progrpo_train.demo.args import OneLineParser
from progrpo_train.demo.jobs import ONE_THREAD, QUIET
from progrpo_train.demo.plan import PRESETS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineParser(
        prog="python -m progrpo_train.demo",
        description="GRPO vs ProGRPO on the toy task (progrpo_train/demo/__init__.py has the plan).",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="the full run (3 seeds, 100 RL steps, 256 prompts; what reports/demo.pdf shows) instead "
        "of the quick one (3 seeds, 30 steps, 64 prompts)",
    )
    parser.add_argument("--out", type=Path, default=None, help="working directory (default demo_out/<preset>)")
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        help="the PDF to write (default reports/demo.pdf for --full, else reports/demo-quick.pdf); "
        "the numbers go beside it as .json",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=max(1, min(2, os.cpu_count() or 1)),
        help="jobs at a time, one thread each (default: 2, or 1 on one CPU)",
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.report is not None and args.report.suffix != ".pdf":
        parser.error(f"--report must name a .pdf file, got {args.report}")
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # so that the running jobs are terminated too


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.update(ONE_THREAD | QUIET)  # for the measurements made in this process, before torch loads
    preset = PRESETS["full" if args.full else "quick"]
    out = args.out or Path("demo_out") / preset.name
    report = args.report or Path(preset.report)
    from progrpo_eval.ui import wide_console
    from progrpo_train.demo.jobs import JobFailed
    from progrpo_train.demo.pipeline import run_demo

    try:
        run_demo(preset, out, report, args.jobs, wide_console())
    except JobFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; run the same command again to continue where it stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
