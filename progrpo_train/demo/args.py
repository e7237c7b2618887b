"""argparse that reports a bad option in one `error:` line (exit status 2), for the demo's entry points."""

from __future__ import annotations

import argparse
import sys


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)
