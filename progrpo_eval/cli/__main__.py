"""`python -m progrpo_eval.cli`: the same as the `progrpo-eval` console script."""

import sys

from progrpo_eval.cli import main

if __name__ == "__main__":
    sys.exit(main())
