"""``hetcalc models [PATTERN]``: what can be analysed."""

from __future__ import annotations

from typing import Annotated

import typer

from hetcalc.cli.options import DebugOption, FormatOption, OutputOption, WideOption, emit
from hetcalc.render import Column, Grid, OutputFormat, Rendered


def models_command(
    pattern: Annotated[str | None, typer.Argument(help="fnmatch pattern, e.g. 'resnet*'.")] = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    wide: WideOption = False,
    debug: DebugOption = False,
) -> None:
    """List registered models with their default input shapes (also: timm:NAME, file.py:fn)."""
    from hetcalc import catalog

    entries = catalog.matching(pattern)
    if entries is None:  # another torchvision than the catalog's: ask the registry itself
        from hetcalc import models

        entries = models.list_models(pattern)
    rows = [{"name": e.name, "input_shape": ",".join(map(str, e.input_shape)), "source": e.source}
            for e in entries]
    grid = Grid(f"{len(rows)} models" + (f" matching {pattern!r}" if pattern else ""), [
        Column("name", "name", justify="left"),
        Column("default input shape", "input_shape", short="input"),
        Column("source", "source", justify="left", prose=True),
    ], rows)
    data = [{"name": e.name, "input_shape": list(e.input_shape), "source": e.source}
            for e in entries]
    notes = [] if rows else [f"no registered model matches {pattern!r}"]
    notes.append("Also accepted: timm:NAME (with timm installed), path/to/file.py:fn, "
                 "package.module:fn.")
    emit(Rendered([grid], data, notes), fmt, output, wide=wide)
