"""Reports -> tables for people (rich) and JSON / CSV / Markdown for machines.

A report is first shaped into :class:`Grid` values (columns with a formatter, rows of raw
values); one function per format turns grids into output. Rich tables and Markdown show the
formatted values (``313.74M``), CSV keeps the exact raw values. Only the CLI writes the result.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

WIDE = 1000
"""Columns given to a table that should keep its natural width (a file, a pipe, ``--wide``)."""


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"


def human(value: float | int | None, unit: str = "") -> str:
    """``313739776 -> '313.74M'``; exact below 1000."""
    if value is None:
        return "-"
    magnitude = abs(value)
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if magnitude >= threshold:
            return f"{value / threshold:.2f}{suffix}{unit}"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def plain(value: Any) -> str:
    return "-" if value is None else str(value)


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    fmt: Callable[[Any], str] = plain
    justify: str = "right"
    raw: Callable[[Any], Any] | None = None
    """What CSV writes for a value (default: the value itself)."""

    def raw_value(self, row: dict[str, Any]) -> Any:
        value = row.get(self.key)
        return self.raw(value) if self.raw is not None else value


@dataclass
class Grid:
    """A titled table of raw values with one formatter per column."""

    title: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None

    def formatted(self) -> list[list[str]]:
        return [[c.fmt(row.get(c.key)) for c in self.columns] for row in self.rows]


def to_rich(grid: Grid) -> Table:
    table = Table(title=grid.title, caption=grid.caption, title_justify="left",
                  caption_justify="left", header_style="bold")
    for column in grid.columns:
        table.add_column(column.header, justify=column.justify, overflow="fold")
    for row in grid.formatted():
        table.add_row(*row)
    return table


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(grids: Sequence[Grid]) -> str:
    parts = []
    for grid in grids:
        lines = [f"### {grid.title}", ""]
        lines.append("| " + " | ".join(_md_cell(c.header) for c in grid.columns) + " |")
        lines.append("|" + "|".join("---:" if c.justify == "right" else "---"
                                    for c in grid.columns) + "|")
        lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in grid.formatted()]
        if grid.caption:
            lines += ["", grid.caption]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def to_csv(grids: Sequence[Grid]) -> str:
    """Raw values, one CSV block per grid (blocks separated by a blank line), keyed by column."""
    out = io.StringIO()
    for index, grid in enumerate(grids):
        if index:
            out.write("\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.key for c in grid.columns])
        for row in grid.rows:
            values = [c.raw_value(row) for c in grid.columns]
            writer.writerow(["" if v is None else v for v in values])
    return out.getvalue()


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


@dataclass
class Rendered:
    """What a command shows: grids (and notes under them) plus the JSON document."""

    grids: list[Grid]
    data: Any
    notes: list[str] = field(default_factory=list)


def render_text(rendered: Rendered, fmt: OutputFormat) -> str | RenderableType:
    """The output for ``fmt``: a string for machine formats, a rich renderable for tables."""
    match fmt:
        case OutputFormat.JSON:
            return to_json(rendered.data)
        case OutputFormat.CSV:
            return to_csv(rendered.grids)
        case OutputFormat.MARKDOWN:
            notes = "".join(f"\n{note}\n" for note in rendered.notes)
            return to_markdown(rendered.grids) + notes
        case OutputFormat.TABLE:
            parts: list[RenderableType] = [to_rich(g) for g in rendered.grids]
            parts += [Text(note) for note in rendered.notes]
            return Group(*parts)
        case _ as unreachable:
            assert_never(unreachable)


def to_string(renderable: str | RenderableType, width: int = WIDE) -> str:
    """Plain text of a renderable (for ``--output FILE`` and tests)."""
    if isinstance(renderable, str):
        return renderable
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.file.getvalue()
