"""``hetcalc curve``: the paper's Fig. 5, theoretical speedup against P."""

from __future__ import annotations

from typing import Annotated

import typer

from hetcalc.cli.options import (
    DebugOption,
    FormatOption,
    OutputOption,
    PlotOption,
    WideOption,
    emit,
    positive_int,
)
from hetcalc.curve import curve_series, default_parts, depth_note, speedup_curve
from hetcalc.errors import InvalidArgument
from hetcalc.render import Column, Grid, OutputFormat, Rendered, times
from hetcalc.schemas import SCHEMA_VERSION

MAX_PART = 2**20
"""The largest --max-part, --channels and kernel size: beyond any layer (P divides channels)."""


def _kernel(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise InvalidArgument(f"--kernel must be K or KHxKW with positive integers, got {text!r}")
    example = "K or KHxKW, e.g. 3 or 1x7"
    size = positive_int(parts[0], "--kernel", example), positive_int(parts[1], "--kernel", example)
    if max(size) > MAX_PART:
        raise InvalidArgument(f"--kernel sizes must be at most {MAX_PART}, got {text!r}")
    return size


def curve_command(
    kernel: Annotated[str, typer.Option(help="Kernel size K or KHxKW.")] = "3",
    max_part: Annotated[int, typer.Option("--max-part", help="Largest P, at most 1048576 (rows "
                                          "are 1, 2, 4, ..., max).")] = 64,
    channels: Annotated[int, typer.Option(help="Output channels N for the DWC+PWC reference "
                                          "(Eq. 7).")] = 256,
    plot: PlotOption = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    wide: WideOption = False,
    debug: DebugOption = False,
) -> None:
    """Theoretical speedup over the standard conv against the part P (paper Fig. 5)."""
    size = _kernel(kernel)
    if max_part < 1 or max_part > MAX_PART:
        raise InvalidArgument(f"--max-part must be a positive integer, at most {MAX_PART}, got "
                              f"{max_part}")
    if channels > MAX_PART:  # below 1 is the library's to refuse
        raise InvalidArgument(f"--channels must be a positive integer, at most {MAX_PART}, got "
                              f"{channels}")
    points = speedup_curve(size, default_parts(max_part), channels)
    rows = [pt.row() for pt in points]
    grid = Grid(f"theoretical speedup over a standard {size[0]}x{size[1]} conv (Eq. 9)", [
        Column("P", "part"),
        *(Column(series.label.format(channels=channels), series.key, times)
          for series in curve_series()),
    ], rows)
    notes = [depth_note()]
    if plot is not None:
        from hetcalc.plot import plot_curve

        plot_curve(points, size, plot, channels)
        notes.append(f"plot written to {plot}")
    data = {"schema_version": SCHEMA_VERSION, "kernel": list(size), "channels": channels, "points": rows}
    emit(Rendered([grid], data, notes), fmt, output, wide=wide)
