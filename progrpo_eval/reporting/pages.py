"""The report's page layout: text pages, tables drawn as pages, comparison pages, captions, footers.

Every page is a CONTENT-sized figure saved onto a US-letter landscape page (PAGE_BOX adds the
margins); text is monospace at 8 pt, tables at 8 pt, shrunk to fit the page's width.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from progrpo_eval.reporting.comparison import Comparison, comparison_table
from progrpo_eval.reporting.table import Table

PAGE = (11.0, 8.5)  # inches, US letter landscape
MARGIN = 0.45  # inches of blank page around every page's content
CONTENT = (PAGE[0] - 2 * MARGIN, PAGE[1] - 2 * MARGIN)  # the size of every page's figure
PAGE_BOX = Bbox([[-MARGIN, -MARGIN], [CONTENT[0] + MARGIN, CONTENT[1] + MARGIN]])  # saved area: content + margins
MONOSPACE_LINES_PER_PAGE = 54  # 8 pt lines at 1.25 spacing in CONTENT's height
MONOSPACE_WIDTH = 145  # characters per line at 8 pt on the page
REPORT_FONT_SCALE = 1.3  # figures fill a whole page
TITLE_WIDTH = int(CONTENT[0] * 72 / (18 * 0.62))  # characters of the 18 pt bold title per line
TITLE_LINE_ROOM = 4  # monospace lines one title line takes


def text_pages(title: str, lines: Sequence[str]) -> list[Figure]:
    """Monospace text pages; the first carries the title, long text is wrapped."""
    wrapped = [
        piece for line in lines for piece in (textwrap.wrap(line, MONOSPACE_WIDTH, subsequent_indent="    ") or [""])
    ]
    title_lines = textwrap.wrap(title, TITLE_WIDTH) or [""]  # a long title wraps instead of leaving the page
    first_page_lines = MONOSPACE_LINES_PER_PAGE - 1 - TITLE_LINE_ROOM * len(title_lines)  # the title's room
    chunks = [wrapped[:first_page_lines]] + [
        wrapped[i : i + MONOSPACE_LINES_PER_PAGE]
        for i in range(first_page_lines, len(wrapped), MONOSPACE_LINES_PER_PAGE)
    ]
    pages = []
    for number, chunk in enumerate(chunks):
        figure = Figure(figsize=CONTENT)
        top = 1.0
        if number == 0:
            figure.text(0.0, top, "\n".join(title_lines), fontsize=18, weight="bold", va="top")
            top -= 0.08 * len(title_lines)
        figure.text(0.0, top, "\n".join(chunk), family="monospace", fontsize=8, va="top", linespacing=1.25)
        pages.append(figure)
    return pages


def table_widths(table: Table, rows: list[list[str]], fontsize: float, max_width: float) -> list[float]:
    """Column widths in inches from the longest text of each column, shrunk to fit max_width."""
    char = fontsize / 72 * 0.62
    widths = [
        max(len(text) for text in [header] + [row[j] for row in rows]) * char + 0.22
        for j, header in enumerate(table.header())
    ]
    scale = min(1.0, max_width / sum(widths))
    return [width * scale for width in widths]


def place_table(figure: Figure, table: Table, top: float, *, fontsize: float = 8, row_height: float = 0.26) -> float:
    """Draw `table` (title, cells, notes) from `top` inches below the figure's top; returns the next free top."""
    page_width, page_height = figure.get_size_inches()
    rows = table.text_rows()
    widths = table_widths(table, rows, fontsize, page_width)
    left = (page_width - sum(widths)) / 2
    figure.text(left / page_width, 1 - top / page_height, table.title, fontsize=10, weight="bold", va="top")
    top += 0.3
    height = row_height * (len(rows) + 1)
    ax = figure.add_axes(
        [left / page_width, 1 - (top + height) / page_height, sum(widths) / page_width, height / page_height]
    )
    ax.axis("off")
    drawn = ax.table(
        cellText=rows,
        colLabels=table.header(),
        cellLoc="center",
        bbox=[0, 0, 1, 1],
        colWidths=[width / sum(widths) for width in widths],
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(fontsize)
    for (row, _), cell in drawn.get_celld().items():
        cell.set_edgecolor("0.75")
        if row == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("0.92")
    top += height + 0.1
    if table.notes:
        notes = textwrap.wrap(table.notes, int(sum(widths) / (7 / 72 * 0.55)))
        figure.text(left / page_width, 1 - top / page_height, "\n".join(notes), fontsize=7, color="0.3", va="top")
        top += 0.14 * len(notes)
    return top + 0.35


def table_height(table: Table, row_height: float = 0.26) -> float:
    notes = len(textwrap.wrap(table.notes, 150)) if table.notes else 0
    return 0.3 + row_height * (len(table.rows) + 1) + 0.1 + 0.14 * notes + 0.35


def table_pages(tables: Sequence[Table]) -> list[Figure]:
    """Tables one under another, a new page when the next one does not fit (a long one is drawn smaller)."""
    pages, top = [Figure(figsize=CONTENT)], 0.0
    for table in tables:
        if top > 0 and top + table_height(table) > CONTENT[1]:
            pages.append(Figure(figsize=CONTENT))
            top = 0.0
        room = CONTENT[1] - top - table_height(table, 0)
        top = place_table(pages[-1], table, top, row_height=min(0.26, max(0.12, room / (len(table.rows) + 1))))
    return pages


def comparison_page(comparison: Comparison, label_a: str, label_b: str) -> Figure:
    """The comparison table, and below it each metric's B − A with its 95% CI."""
    figure = Figure(figsize=CONTENT)
    top = place_table(figure, comparison_table(comparison, label_a, label_b), 0.0)
    left, bottom = 1.2, 0.5
    plot_ax = figure.add_axes(
        [
            left / CONTENT[0],
            bottom / CONTENT[1],
            (CONTENT[0] - left - 0.6) / CONTENT[0],
            (CONTENT[1] - top - bottom - 0.3) / CONTENT[1],
        ]
    )
    names = [name.replace("pass@", "Pass@") for name in comparison.metrics]
    positions = np.arange(len(names))[::-1]
    differences = np.array([100 * result.difference for result in comparison.results])
    errors = np.array(
        [
            [100 * (result.difference - result.low), 100 * (result.high - result.difference)]
            for result in comparison.results
        ]
    ).T
    plot_ax.errorbar(differences, positions, xerr=errors, fmt="o", color="0.2", capsize=3)
    plot_ax.axvline(0, color="0.5", ls="--", lw=1)
    plot_ax.set_yticks(positions, names)
    plot_ax.set_ylim(-0.6, len(names) - 0.4)
    if not np.any(errors) and not np.any(differences):
        plot_ax.set_xlim(-1, 1)
    plot_ax.set(
        xlabel=f"B − A (percentage points), 95% CI        A: {label_a}        B: {label_b}",
        title="Difference per metric (paired bootstrap over problems)",
    )
    return figure


def add_caption(figure: Figure, caption: str) -> Figure:
    """Prefix the figure's title with the paper's figure number, and fix the layout for PAGE_BOX.

    Saving with the padded PAGE_BOX would re-run the constrained layout and re-anchor figure
    legends to the padded page (into the margin): the layout is run once here, then frozen, and
    each legend pinned where it was, in figure coordinates.
    """
    existing = figure.get_suptitle()
    figure.suptitle(f"{caption} — {existing}" if existing else caption, fontsize="large")
    figure.draw_without_rendering()
    figure.set_layout_engine("none")
    for legend in figure.legends:
        box = legend.get_window_extent().transformed(figure.transFigure.inverted())
        legend.set_loc("lower left")
        legend.set_bbox_to_anchor((box.x0, box.y0, box.width, box.height), transform=figure.transFigure)
        legend.borderaxespad = 0
    return figure


def add_footer(figure: Figure, text: str) -> None:
    """`text` in the bottom margin, right-aligned with the content."""
    figure.text(1.0, -0.22 / CONTENT[1], text, ha="right", va="center", fontsize=7, color="0.45")
