"""Terminal output shared by the commands: a console wide enough for result tables."""

from __future__ import annotations

from rich.console import Console


def wide_console(min_width: int = 120, **options) -> Console:
    """A rich Console at least `min_width` columns wide, even when piped to a file or CI log."""
    return Console(width=max(Console().width, min_width), **options)
