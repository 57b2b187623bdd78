"""``hetcalc designs``: the second paper's design-space reduction and efficiency analysis."""

from __future__ import annotations

from typing import Annotated

import typer

from hetcalc.cli.options import DebugOption, FormatOption, OutputOption, emit
from hetcalc.errors import InvalidArgument
from hetcalc.infofield import KERNELS, efficiency_table, reduce_design_space
from hetcalc.render import OutputFormat
from hetcalc.render.designs import render_efficiency, render_reduction

MAX_CHANNELS = 65536
"""The most channels (--channels, --out, --bottleneck-channels) the efficiency table takes: its
search for the best group numbers grows with them (65536 takes seconds)."""
MAX_BUDGET = 10**11
"""The largest --budget-params: 100 billion parameters, beyond any one layer; the widest-width
search grows with it."""


def designs_command(
    max_length: Annotated[int, typer.Option("--max-length", help="Longest kernel sequence "
                                            "to enumerate.")] = 6,
    kernels: Annotated[str, typer.Option(help="Kernels to compose.")] = ",".join(KERNELS),
    bottleneck_allowance: Annotated[bool, typer.Option(
        "--bottleneck/--no-bottleneck", help="Allow a PW...PW bottleneck (Section 3.2).")] = True,
    channels: Annotated[int | None, typer.Option(help="Input channels C (1 to 65536): show the "
                                                 "efficiency table of the four designs "
                                                 "instead.")] = None,
    out: Annotated[int | None, typer.Option(help="Output channels F (default: C).")] = None,
    bottleneck_channels: Annotated[int | None, typer.Option(
        "--bottleneck-channels", help="Intermediate channels of the bottleneck designs "
        "(default F/4).")] = None,
    budget_params: Annotated[str | None, typer.Option(
        "--budget-params", help="Parameter budget: show the greatest width per design "
        "(e.g. 100000, 1.5M; at most 1e11).")] = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Information-field design-space reduction (Section 3.1), or with --channels the
    parameters, FLOPs, best group numbers and widest budget of the four designs (Section 3.3)."""
    if channels is None:
        if out is not None or budget_params is not None or bottleneck_channels is not None:
            raise InvalidArgument("--out, --bottleneck-channels and --budget-params need "
                                  "--channels C")
        emit(render_reduction(reduce_design_space(max_length, kernels,
                                                  bottleneck=bottleneck_allowance)), fmt, output)
        return
    for flag, value in (("--channels", channels), ("--out", out),
                        ("--bottleneck-channels", bottleneck_channels)):
        if value is not None and value > MAX_CHANNELS:
            raise InvalidArgument(f"{flag} must be a positive integer, at most {MAX_CHANNELS}, "
                                  f"got {value}")
    budget = _count(budget_params) if budget_params is not None else None
    if budget is not None and budget > MAX_BUDGET:
        raise InvalidArgument(f"--budget-params must be at most 1e11 (100 billion parameters), "
                              f"got {budget_params}")
    report = efficiency_table(channels, out if out is not None else channels,
                              bottleneck=bottleneck_channels, budget=budget)
    emit(render_efficiency(report), fmt, output)


def _count(text: str) -> int:
    """``--budget-params``: a count such as 100000, 1.5M or 2.9e6 (the budget files' form)."""
    from hetcalc.budget.values import Bad, parse_count

    try:
        return parse_count(text)
    except Bad as error:
        raise InvalidArgument(f"--budget-params: {error}") from None
