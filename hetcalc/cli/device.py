"""``hetcalc device``: what a device can do at most (peak MAC/s, bandwidth), measured here, from
a datasheet (``--spec``, ``--list``) or from a TOML file of your own. ``--spec`` and ``--list``
never import torch."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from hetcalc.cli.options import (
    DebugOption,
    DeviceOption,
    FormatOption,
    OutputOption,
    QuietOption,
    ThreadsOption,
    WideOption,
    emit,
)
from hetcalc.cli.streams import stderr_is_terminal
from hetcalc.devices import DEVICES, device_key, device_spec
from hetcalc.errors import InvalidArgument
from hetcalc.render import OutputFormat
from hetcalc.render.device import render_measured, render_spec, render_table
from hetcalc.settings import DTYPES, LatencySettings


class _MeasuringNote:
    """What stderr says while figures are measured: a spinner on a terminal, a line per figure
    otherwise. Nothing when every figure comes from the cache."""

    def __init__(self, quiet: bool = False) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.status = None
        self.quiet = quiet

    def __call__(self, what: str) -> None:
        text = Text(f"measuring {what}")  # shown as it is, never parsed as markup
        if self.quiet:
            return
        if not stderr_is_terminal():
            self.console.print(Text("hetcalc: ") + text, soft_wrap=True)
        elif self.status is None:
            self.status = self.console.status(text)
            self.status.start()
        else:
            self.status.update(text)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()


def _dtypes(values: list[str] | None) -> tuple[str, ...] | None:
    """``--dtype float16 --dtype bfloat16`` or ``--dtype float16,bfloat16``."""
    if not values:
        return None
    return tuple(dict.fromkeys(part.strip() for value in values for part in value.split(",")))


def device_command(
    spec: Annotated[str | None, typer.Option(
        "--spec", help=f"A named device ({', '.join(DEVICES)}; any case) or a TOML file of your "
        "own (docs/devices.md): print its datasheet figures, without measuring.",
        metavar="NAME|FILE")] = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="Print the named devices' datasheet figures.")] = False,
    device: DeviceOption = "auto",
    threads: ThreadsOption = None,
    dtype: Annotated[list[str] | None, typer.Option(
        "--dtype", help=f"{'|'.join(DTYPES)}, repeated or comma-separated: the matmul dtypes to "
        "measure (default: float32 on a CPU, all three on CUDA; float32 always).", show_default=False,
        metavar="DTYPE")] = None,
    refresh: Annotated[bool, typer.Option(
        "--refresh", help="Measure again, even where the cache holds this environment's "
        "figures.")] = False,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    wide: WideOption = False,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Peak MAC/s per dtype, memory bandwidth and balance: this machine's, measured (and
    cached), or a named device's or a file's with --spec, or the named table with --list."""
    if spec is not None or list_:
        if spec is not None and list_:
            raise InvalidArgument("--spec and --list: give one of them")
        measuring = [flag for flag, given in (("--device", device != "auto"),
                                              ("--threads", threads is not None),
                                              ("--dtype", bool(dtype)), ("--refresh", refresh))
                     if given]
        if measuring:
            raise InvalidArgument(f"{', '.join(measuring)} (how to measure this machine) cannot "
                                  f"go with {'--list' if list_ else '--spec'}")
        rendered = render_table(DEVICES) if list_ else render_spec(device_spec(spec),
                                                                 device_key(spec))
        emit(rendered, fmt, output, wide=wide)
        return

    if threads is not None and threads > 0:  # the timing's bound, before torch is asked for
        LatencySettings(threads=threads).check()  # that many (below 1: measure_device's line)
    from hetcalc.devices_measure import cache_path, measure_device

    note = _MeasuringNote(quiet)
    try:
        model = measure_device(device, threads, _dtypes(dtype), refresh, on_measure=note)
    finally:
        note.close()
    emit(render_measured(model, str(cache_path())), fmt, output, wide=wide)
