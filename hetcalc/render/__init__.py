"""Reports -> tables for people (rich) and JSON / CSV / Markdown for machines.

A report is first shaped into :class:`Grid` values (columns with a formatter, rows of raw
values); one function per format turns grids into output. Rich tables and Markdown show the
formatted values (``313.74M``), CSV keeps the exact raw values. Only the CLI writes the result.

Whatever a grid holds may be user text (a model spec, a path, a budget entry's name): every
format but JSON shows it through :func:`~hetcalc.render.text.user_text` (control characters
written visibly, one line), and rich gets :class:`~rich.text.Text`, never markup to parse, so
``[red]`` or ``[/]`` in a name shows as typed. JSON keeps the exact string (JSON escapes it).
"""

from __future__ import annotations

import csv
import enum
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from hetcalc.render.text import user_text
from hetcalc.settings import UNRELIABLE_MARK

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


def marked_times(value: tuple[float | None, bool | None] | None) -> str:
    """``(ratio, reliable)`` -> ``'1.44x'``, or ``'1.44x !'`` when its timings are too spread to
    trust (:data:`hetcalc.settings.UNRELIABLE_MARK`)."""
    if value is None or value[0] is None:
        return "-"
    ratio, reliable = value
    return times(ratio) + ("" if reliable is not False else f" {UNRELIABLE_MARK}")


def plain(value: Any) -> str:
    return "-" if value is None else str(value)


@dataclass(frozen=True)
class Column:
    """A column of a :class:`Grid`. The fields after ``raw`` tell a table that must fit a
    narrow terminal what it may do with the column (:class:`FittedTable`)."""

    header: str
    key: str
    fmt: Callable[[Any], str] = plain
    justify: str = "right"
    raw: Callable[[Any], Any] | None = None
    """What CSV writes for a value (default: the value itself)."""
    priority: int = 0
    """0: always shown; otherwise the larger, the sooner it is left out to fit a narrow table."""
    short: str | None = None
    """A shorter header for a narrow table (the paper's ``K`` for kernel); a legend says so."""
    footnote: bool = False
    """Text that a narrow table shows as markers ``[1]``, with the texts listed below it."""
    hide_if_blank: bool = False
    """A narrow table leaves the column out when every value is ``0``, ``-`` or empty."""
    prose: bool = False
    """Words that may wrap onto more lines (never numbers, names or units)."""

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
        """Each cell as shown: formatted, any control character written visibly."""
        return [[user_text(c.fmt(row.get(c.key))) for c in self.columns] for row in self.rows]


_MARKUP_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")
"""What rich's markup parser takes for a tag, with the backslashes before it (rich's own)."""


def markup_safe(text: str) -> str:
    """User text for the one kind of place where rich parses markup: a progress bar's
    description, formatted into a column's template. Shown as typed, control characters
    visible: every tag escaped as :func:`rich.markup.escape` does, without the backslash it
    adds at the end (which shows when no tag follows, as in hetcalc's templates)."""
    return _MARKUP_TAG.sub(lambda m: f"{m[1]}{m[1]}\\{m[2]}", user_text(text))


def _text(text: str | None, style: str = "") -> Text | None:
    """A title, caption, header or cell for rich: shown as typed, never parsed as markup."""
    return None if text is None else Text(user_text(text), style=style)


def _table(grid: Grid) -> Table:
    """A rich table with the grid's title and caption, in rich's own styles for them (which
    rich gives a string, not a :class:`Text`)."""
    return Table(title=_text(grid.title, "table.title"),
                 caption=_text(grid.caption, "table.caption"), title_justify="left",
                 caption_justify="left", header_style="bold")


def to_rich(grid: Grid, formatted: bool = False) -> Table:
    """Every column at its natural width (files, pipes, ``--wide``); ``formatted``: the rows
    hold text already."""
    table = _table(grid)
    for column in grid.columns:
        table.add_column(_text(column.header), justify=column.justify, overflow="fold")
    rows = ([[row.get(c.key, "") for c in grid.columns] for row in grid.rows] if formatted
            else grid.formatted())
    for row in rows:
        table.add_row(*(_text(cell) for cell in row))
    return table


BLANK = frozenset({"", "-", "0"})


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


@dataclass
class _Fit:
    """One column of a fitted table: which header it shows and how wide it is."""

    index: int
    column: Column
    header: str
    width: int
    wrap: bool


class FittedTable:
    """A :class:`Grid` as a rich table that fits the width it is rendered at.

    When the natural table (every column, full headers, one line per row) fits, it is exactly
    :func:`to_rich`'s. Otherwise, in order: columns marked ``hide_if_blank`` whose values are
    all blank go; ``footnote`` columns become markers ``[1]`` with the texts listed under the
    table; ``short`` headers stand in for long ones (a legend says what they mean); the columns
    with the largest ``priority`` go until the rest fit, and a line names them. Cells never
    wrap and are never cut, so a number stays whole and beside its unit, and a name stays one
    token; only ``prose`` columns wrap, at spaces. Only when even the essential columns cannot
    fit does rich fold the widest.
    """

    def __init__(self, grid: Grid) -> None:
        self.grid = grid

    def natural_width(self) -> int:
        cells = self.grid.formatted()
        widths = [max([cell_len(column.header)] + [cell_len(row[i]) for row in cells])
                  for i, column in enumerate(self.grid.columns)]
        return sum(widths) + 3 * len(widths) + 1  # "│ " before each column, "│" at the end

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.natural_width() <= options.max_width:
            yield to_rich(self.grid)
        else:
            yield from self._fitted(options.max_width)

    def _fitted(self, width: int) -> RenderResult:
        grid = self.grid
        cells = grid.formatted()
        notes: list[str] = []

        indices = list(range(len(grid.columns)))
        blank = [i for i in indices if grid.columns[i].hide_if_blank
                 and all(row[i].strip() in BLANK for row in cells)]
        if blank:
            names = ", ".join(grid.columns[i].header for i in blank)
            notes.append(f"Not shown, being 0 or none on every row: {names}.")
        indices = [i for i in indices if i not in blank]

        texts = [list(row) for row in cells]

        def mark(columns: list[int]) -> dict[str, int]:
            """Footnote columns' texts -> markers [1], [2], ... in order of appearance."""
            footnotes: dict[str, int] = {}
            for i in columns:
                if grid.columns[i].footnote:
                    for row, original in zip(cells, texts, strict=True):
                        text = original[i]
                        if text.strip() in BLANK:
                            row[i] = ""
                        else:
                            row[i] = f"[{footnotes.setdefault(text, len(footnotes) + 1)}]"
            return footnotes

        footnotes = mark(indices)

        def minimum(i: int) -> _Fit:
            column = grid.columns[i]
            header = column.short or column.header
            body = max((cell_len(row[i]) for row in cells), default=0)
            if column.prose:
                body = min(body, max(12, max((_longest_word(row[i]) for row in cells),
                                             default=0)))
            return _Fit(i, column, header, max(body, _longest_word(header), 1), column.prose)

        fits = [minimum(i) for i in indices]

        def total(chosen: list[_Fit]) -> int:
            return sum(f.width for f in chosen) + 3 * len(chosen) + 1  # "│ " before, "│" after

        dropped: list[_Fit] = []
        while total(fits) > width:
            candidates = [f for f in fits if f.column.priority > 0]
            if not candidates:
                break
            worst = max(candidates, key=lambda f: (f.column.priority, f.index))
            fits.remove(worst)
            dropped.append(worst)
        if total(fits) > width:  # still too wide: prose down to its longest word, not 12
            for fit in fits:
                if fit.wrap:
                    fit.width = max(max((_longest_word(row[fit.index]) for row in cells),
                                        default=0), _longest_word(fit.header), 1)
        if dropped:
            footnotes = mark([f.index for f in fits])  # only the texts of columns still shown
            names = ", ".join(f.column.header for f in sorted(dropped, key=lambda f: f.index))
            notes.append(f"Left out to fit {width} columns: {names} (--wide shows every "
                         "column).")

        # Room to spare: full headers where they fit on one line, then wider short headers.
        slack = width - total(fits)
        for fit in fits:
            body = max((cell_len(row[fit.index]) for row in cells), default=0)
            for header in (fit.column.header, fit.header):
                wanted = max(body if not fit.wrap else fit.width, cell_len(header))
                if wanted - fit.width <= slack:
                    slack -= max(0, wanted - fit.width)
                    fit.width = max(fit.width, wanted)
                    fit.header = header
                    break
        for fit in fits:  # what is left goes to the prose, which then wraps less
            if fit.wrap and slack > 0:
                body = max((cell_len(row[fit.index]) for row in cells), default=0)
                extra = min(slack, max(0, body - fit.width))
                fit.width += extra
                slack -= extra

        if total(fits) > width:  # even the essential columns are too wide: rich folds them
            yield to_rich(Grid(grid.title, [f.column for f in fits],
                               [dict(zip((f.column.key for f in fits), (row[f.index] for f in fits),
                                         strict=True)) for row in cells], grid.caption),
                          formatted=True)
            yield from self._notes(footnotes, [], notes)
            return
        table = _table(grid)
        for fit in fits:
            table.add_column(Text(user_text(fit.header), no_wrap=False, overflow="fold"),
                             justify=fit.column.justify, width=fit.width, min_width=fit.width,
                             no_wrap=not fit.wrap, overflow="fold" if fit.wrap else "ellipsis")
        for row in cells:
            table.add_row(*(_text(row[fit.index]) for fit in fits))
        yield table
        yield from self._notes(footnotes, fits, notes)

    @staticmethod
    def _notes(footnotes: dict[str, int], fits: list[_Fit], notes: list[str]) -> RenderResult:
        shortened = [f for f in fits if f.header != f.column.header]
        if shortened:
            legend = [f.column.header if f.column.header.startswith(f.header + " ")
                      else f"{f.header} = {f.column.header}" for f in shortened]
            notes.insert(0, "Headers in full: " + "; ".join(legend) + ".")
        for text, number in footnotes.items():
            yield Text(f"[{number}] {text}")
        for note in notes:
            yield Text(user_text(note))


def _md_cell(text: str) -> str:
    return user_text(text).replace("|", "\\|")


def to_markdown(grids: Sequence[Grid]) -> str:
    parts = []
    for grid in grids:
        lines = [f"### {user_text(grid.title)}", ""]
        lines.append("| " + " | ".join(_md_cell(c.header) for c in grid.columns) + " |")
        lines.append("|" + "|".join("---:" if c.justify == "right" else "---"
                                    for c in grid.columns) + "|")
        lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in grid.formatted()]
        if grid.caption:
            lines += ["", user_text(grid.caption)]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def to_csv(grid: Grid | None) -> str:
    """One table: a header row of column keys, then the raw values (exact counts, fractions
    0..1, ratios; never ``61.43%`` or ``2.59x``), an empty field for none. Text is shown through
    :func:`user_text`: CSV has no escape for a control character, and a file read on a terminal
    would run it."""
    out = io.StringIO()
    if grid is None:
        return ""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.key for c in grid.columns])
    for row in grid.rows:
        values = [c.raw_value(row) for c in grid.columns]
        writer.writerow(["" if v is None else user_text(v) if isinstance(v, str) else v
                         for v in values])
    return out.getvalue()


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


@dataclass
class Rendered:
    """What a command shows: grids (and notes under them) plus the JSON document."""

    grids: list[Grid]
    data: Any
    notes: list[str] = field(default_factory=list)
    csv: Grid | None = None
    """The one table CSV writes, raw values under machine keys (default: the first grid)."""

    def csv_grid(self) -> Grid | None:
        return self.csv if self.csv is not None else (self.grids[0] if self.grids else None)

    def __rich__(self) -> RenderableType:
        """What the terminal shows (``rich.print(render_analysis(report))``): the tables fitted
        to the console's width, then the notes."""
        return render_text(self, OutputFormat.TABLE)  # type: ignore[return-value]


def render_text(rendered: Rendered, fmt: OutputFormat) -> str | RenderableType:
    """The output for ``fmt``: a string for machine formats, a rich renderable for tables."""
    match fmt:
        case OutputFormat.JSON:
            return to_json(rendered.data)
        case OutputFormat.CSV:
            return to_csv(rendered.csv_grid())
        case OutputFormat.MARKDOWN:
            notes = "".join(f"\n{user_text(note)}\n" for note in rendered.notes)
            return to_markdown(rendered.grids) + notes
        case OutputFormat.TABLE:
            parts: list[RenderableType] = [FittedTable(g) for g in rendered.grids]
            parts += [Text(user_text(note)) for note in rendered.notes]
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
