"""A table that renders as Markdown, LaTeX and plain text: the one table writer of progrpo_eval.

Cells are tuples of parts (a number, a text, or None), shown joined by " / " ("Pass@1 / Pass@k").
Per column: a number format and a direction (+1 higher is better, −1 lower, 0 neither); the best
value of a column with a direction is bold, unless every value ties. Missing parts show "–".
Rows may be grouped under headings (`groups`), as the paper's tables group rows by base model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Table:
    """Rows of cells; a cell is a tuple of parts (number, text or None), shown joined by " / ".

    `directions[j]` marks column j's best value in bold: +1 highest, −1 lowest, 0 none.
    `formats[j]` formats column j's numbers. `groups` are (heading, number of rows) in row order:
    each heading is drawn as a row of its own above its rows; bold is decided over all rows.
    """

    title: str
    columns: tuple[str, ...]  # the row-label column first
    rows: tuple[tuple[str, tuple], ...]  # (row label, (cell per column after the first))
    formats: tuple[str, ...]
    directions: tuple[int, ...]
    notes: str = ""
    groups: tuple[tuple[str, int], ...] = ()

    def _best(self, column: int, part: int) -> float | None:
        values = [
            cells[column][part]
            for _, cells in self.rows
            if part < len(cells[column])
            and isinstance(cells[column][part], (int, float))
            and not np.isnan(cells[column][part])
        ]
        if not values or not self.directions[column] or min(values) == max(values):
            return None
        return max(values) if self.directions[column] > 0 else min(values)

    def _cell(self, column: int, cell: tuple, bold, escape=str) -> str:
        parts = []
        for part_index, part in enumerate(cell):
            if part is None or (isinstance(part, float) and np.isnan(part)):
                parts.append(escape("–"))
            elif isinstance(part, str):
                parts.append(escape(part))
            else:
                text = format(part, self.formats[column])
                parts.append(bold(text) if part == self._best(column, part_index) else text)
        return " / ".join(parts)

    def header(self, up: str = " ↑", down: str = " ↓") -> list[str]:
        """Column names, marked with `up` / `down` where higher / lower is better."""
        marks = {1: up, -1: down, 0: ""}
        return [self.columns[0]] + [name + marks[d] for name, d in zip(self.columns[1:], self.directions)]

    def text_rows(self) -> list[list[str]]:
        return [[label] + [self._cell(j, cell, str) for j, cell in enumerate(cells)] for label, cells in self.rows]

    def _headings(self) -> dict[int, str]:
        """Row index → the group heading drawn above it."""
        headings, start = {}, 0
        for heading, count in self.groups:
            headings[start] = heading
            start += count
        return headings

    def markdown(self) -> str:
        def escape(text: str) -> str:
            return text.replace("|", "\\|")

        header = [escape(name) for name in self.header()]
        lines = ([f"**{self.title}**", ""] if self.title else []) + [
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        headings = self._headings()
        for index, (label, cells) in enumerate(self.rows):
            if index in headings:
                lines.append("| " + " | ".join([f"*{escape(headings[index])}*"] + [""] * len(cells)) + " |")
            row = [escape(label)] + [
                self._cell(j, cell, lambda text: f"**{text}**", escape) for j, cell in enumerate(cells)
            ]
            lines.append("| " + " | ".join(row) + " |")
        return "\n".join(lines + (["", self.notes] if self.notes else [])) + "\n"

    def latex(self) -> str:
        marks = {1: r" $\uparrow$", -1: r" $\downarrow$", 0: ""}
        header = [latex_escape(self.columns[0])] + [
            latex_escape(name) + marks[d] for name, d in zip(self.columns[1:], self.directions)
        ]
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            rf"\caption{{{latex_escape(self.title)}}}",
            r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}",
            r"\toprule",
            " & ".join(header) + r" \\",
            r"\midrule",
        ]
        headings = self._headings()
        for index, (label, cells) in enumerate(self.rows):
            if index in headings:
                lines += ([r"\midrule"] if index else []) + [
                    rf"\multicolumn{{{len(header)}}}{{l}}{{\textit{{{latex_escape(headings[index])}}}}} \\"
                ]
            row = [latex_escape(label)] + [
                self._cell(j, cell, lambda text: rf"\textbf{{{text}}}", latex_escape) for j, cell in enumerate(cells)
            ]
            lines.append(" & ".join(row) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        if self.notes:
            lines.append(rf"\par\smallskip{{\footnotesize {latex_escape(self.notes)}}}")
        lines.append(r"\end{table}")
        return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    text = text.replace("\\", "\0")
    for plain, escaped in (
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("~", r"\textasciitilde{}"),
        ("^", r"\^{}"),
        ("–", "--"),
        ("−", "$-$"),
        ("·", r"$\cdot$"),
    ):
        text = text.replace(plain, escaped)
    return text.replace("\0", r"\textbackslash{}")
