"""Options shared by several commands, as ``Annotated`` aliases, their up-front checks, and the
output step.

Nothing here imports torch: ``hetcalc --help`` and ``hetcalc COMMAND --help`` build every
command's options, and must start at once. The choices that the library defines next to torch
code (HetConv realizations, devices, dtypes) are repeated here as plain values;
``tests/test_cli_startup.py`` checks that they match the library's.
"""

from __future__ import annotations

import enum
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hetcalc.cli.interrupts import interrupt_pending
from hetcalc.cli.streams import writing_stdout
from hetcalc.errors import InvalidArgument
from hetcalc.fileio import atomic_write_text, unwritable_reason
from hetcalc.numbers import parse_int, shown
from hetcalc.realizations import IMPL_NAMES
from hetcalc.render import WIDE, OutputFormat, Rendered, render_text, to_string
from hetcalc.settings import DEVICES, DTYPES

ImplChoice = enum.StrEnum("ImplChoice", {name.upper().replace("-", "_"): name
                                          for name in IMPL_NAMES})
"""``--impl``: :data:`hetcalc.realizations.IMPL_NAMES` (the values of ``hetcalc.nn.Impl``),
without importing torch."""

COUNTING_IMPL = "exact"
"""What counts a substituted model unless ``--impl`` pins a realization: Eq. 4 to the MAC
(:data:`hetcalc.substitute.DEFAULT_IMPL`)."""
TIMING_IMPL = "auto"
"""What times one unless ``--impl`` pins a realization: the fastest here, chosen by measurement
(:data:`hetcalc.latency.TIMING_IMPL`)."""


def counting_impl(impl: ImplChoice | None) -> str:
    """The realization a command counts with: the one ``--impl`` pins, else ``exact``."""
    return COUNTING_IMPL if impl is None else impl.value


def timing_impl(impl: ImplChoice | None) -> str:
    """The realization a command times with: the one ``--impl`` pins, else ``auto``."""
    return TIMING_IMPL if impl is None else impl.value


@dataclass
class Invocation:
    """What :func:`hetcalc.cli.main` needs to know about the command line being run; set by
    option callbacks while it is parsed, reset by ``main`` for each run."""

    debug: bool = False
    command: str | None = None


invocation = Invocation()


def _set_debug(value: bool) -> bool:
    if value:
        invocation.debug = True
    return value


def _set_quiet(value: bool) -> bool:
    """``--quiet``: the warnings of libraries and model code are not errors, and go unsaid
    (for this run only: :func:`hetcalc.cli.main` restores the filters)."""
    if value:
        warnings.simplefilter("ignore")
    return value


def _check_output(value: Path | None) -> Path | None:
    """``--output FILE``: fail now, not after minutes of tracing, if FILE cannot be written."""
    if value is not None:
        check_writable(value, "--output")
    return value


def _check_plot(value: Path | None) -> Path | None:
    """``--plot FILE.png``: matplotlib is installed and FILE can be written."""
    if value is not None:
        require_matplotlib()
        check_writable(value, "--plot")
    return value


def check_writable(path: Path, what: str) -> None:
    """Raise :class:`InvalidArgument` (in the words :func:`hetcalc.fileio.atomic_write` uses)
    unless ``path`` can be written: a temporary file can be made beside it (its directory
    exists and is writable), or it is a character device or a FIFO open for writing; a
    directory, a block device or a socket is refused (:func:`hetcalc.fileio.unwritable_reason`).
    Every output path is checked by this before any user code is imported."""
    reason = unwritable_reason(path)
    if reason is not None:
        raise InvalidArgument(f"{what} {path}: cannot write it ({reason})")


def require_matplotlib() -> None:
    """Fail before any work when a plot is asked for and matplotlib is missing."""
    if importlib.util.find_spec("matplotlib") is None:
        raise InvalidArgument("--plot needs matplotlib: pip install 'matplotlib>=3.7' into hetcalc's "
                              "environment (pipx: pipx inject hetcalc 'matplotlib>=3.7')")


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people; json, csv or markdown for machines.",
                 case_sensitive=False),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of standard output "
                 "(replaced atomically: a failed run leaves the old file as it was).",
                 dir_okay=False, callback=_check_output, metavar="FILE"),
]
PlotOption = Annotated[
    Path | None,
    typer.Option("--plot", help="Also draw a PNG to this file (needs matplotlib: pip install "
                 "'matplotlib>=3.7').", dir_okay=False, callback=_check_plot, metavar="FILE.png"),
]
InputShapeOption = Annotated[
    list[str] | None,
    typer.Option("--input-shape", help="Input shape N,C,H,W (default: the model's own). "
                 "Repeat it for a forward of several tensors, in order; :dtype for one that is "
                 "not float32 (1,16:int64).", metavar="1,3,H,W"),
]
IncludeFirstOption = Annotated[
    bool,
    typer.Option("--include-first", help="Also replace the model's first convolution "
                 "(the paper keeps it standard)."),
]
ImplOption = Annotated[
    ImplChoice | None,
    typer.Option("--impl", help="Pin the HetConv realization (docs/modules.md): exact, exact-cl, "
                 "gemm, gemm-rows and branches run Eq. 4's MACs, fast and fast-cl a dense 1x1 with "
                 "Do*Do*N*M/P more, dense the masked dense conv; auto times them and runs the "
                 "fastest. Default: counted with exact, timed with auto.",
                 case_sensitive=False, show_default=False),
]
DeviceOption = Annotated[
    str, typer.Option(help=f"{'|'.join(DEVICES)} to time on; auto picks CUDA when present.")]
DeviceSpecOption = Annotated[
    str | None, typer.Option(
        "--device-spec", help="Predict each layer's roofline time on this device: a name from "
        "'hetcalc device --list' (h100, a100, t4, rpi5, ...), a TOML file (docs/devices.md), "
        "or 'here' (this machine, as 'hetcalc device' measures it).", metavar="NAME|FILE|here")]


def device_model(spec: str | None, settings):
    """The device model ``--device-spec`` names: ``here`` is this machine as ``hetcalc device``
    measures it (with the timing's device, threads and dtype; cached), anything else a named
    device or a TOML file (torch-free)."""
    if spec is None:
        return None
    if spec.strip().lower() == "here":
        settings.validate()
        from hetcalc.devices_measure import measure_device

        return measure_device(settings.device, settings.threads, (settings.dtype,))
    from hetcalc.devices import device_spec

    return device_spec(spec)
BatchSizeOption = Annotated[
    int, typer.Option("--batch-size", help="Batch size for timing, 1 to 65536.")]
ThreadsOption = Annotated[
    int | None, typer.Option(help="CPU threads for timing, 1 to 1024 (default: torch's).")]
DtypeOption = Annotated[str, typer.Option(help="|".join(DTYPES))]
ChannelsLastOption = Annotated[
    bool, typer.Option("--channels-last", help="Time in channels_last memory format.")]
MergePairsOption = Annotated[
    bool,
    typer.Option("--merge-dw-pw", help="Replace each depthwise+pointwise pair by one HetConv "
                 "layer (paper Table 4, MobileNet)."),
]
FoldBnOption = Annotated[
    bool,
    typer.Option("--fold-bn", help="Count BatchNorm as folded into the layer before it "
                 "(0 MACs, as deployed) instead of fvcore's 2 per element."),
]
WeightsOption = Annotated[
    Path | None,
    typer.Option("--weights", help="Trained weights (a safetensors file, or a state dict saved "
                 "with torch.save; tensors only, never code): adds what the substitution keeps "
                 "of them (docs/fidelity.md).", dir_okay=False, metavar="FILE"),
]
PretrainedOption = Annotated[
    bool,
    typer.Option("--pretrained", help="Like --weights, with torchvision's default weights for "
                 "the model, from the local torch hub cache only (never downloaded)."),
]
CalibrationOption = Annotated[
    Path | None,
    typer.Option("--calibration", help="The input batch the fidelity figures are measured on: "
                 "one tensor (safetensors or torch.save). Default: 8 seeded random inputs.",
                 dir_okay=False, metavar="FILE"),
]


def check_fidelity(weights: Path | None, pretrained: bool, calibration: Path | None) -> None:
    """``--weights``, ``--pretrained`` and ``--calibration`` before any model is built:
    not both weights, calibration only with weights, each file a regular file."""
    import os
    import stat

    if weights is not None and pretrained:
        raise InvalidArgument("give either --weights or --pretrained, not both")
    if calibration is not None and weights is None and not pretrained:
        raise InvalidArgument("--calibration needs --weights or --pretrained (it is the input "
                              "the trained model's fidelity is measured on)")
    for flag, path in (("--weights", weights), ("--calibration", calibration)):
        if path is None:
            continue
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            raise InvalidArgument(f"{flag} {path}: no such file") from None
        if not stat.S_ISREG(mode):
            raise InvalidArgument(f"{flag} {path}: not a regular file")


ProgressOption = Annotated[
    bool,
    typer.Option("--progress/--no-progress", help="Show on stderr what the timing is doing "
                 "(tuning, warming up, timing) and how far it is; only ever on a terminal."),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Nothing on stderr but errors: no progress, no notes "
                 "(the exit code is the same).", callback=_set_quiet),
]
WideOption = Annotated[
    bool,
    typer.Option("--wide", help="Tables: every column at its full width, even where the "
                 "terminal is narrower (the default fits the terminal)."),
]


def _check_timeout(value: float | None) -> float | None:
    """``--timeout S``: finite and in range before any model's code is imported (torch-free)."""
    from hetcalc.usercode import check_timeout

    return check_timeout(value)


TimeoutOption = Annotated[
    float | None,
    typer.Option("--timeout", help="End the model's work (import, build, trace, count, timing) "
                 "after this many seconds (0.01 to 86400), with one line and exit 2; Unix, and "
                 "a C call that never returns to Python is ended only when it returns.",
                 callback=_check_timeout, metavar="S", show_default=False),
]
DebugOption = Annotated[
    bool,
    typer.Option("--debug", help="Show the full traceback when something fails (also: "
                                 "HETCALC_DEBUG=1 in the environment).",
                 is_eager=True, callback=_set_debug),
]


# --- values the library has no parser for ------------------------------------------------------

def positive_int(text: str, flag: str, example: str = "1, 2, 4, ...") -> int:
    """An ASCII decimal integer >= 1 (:func:`hetcalc.numbers.parse_int`: ``str.isdigit`` would
    also take ``'²'`` and ``'٤'``, ``int`` thousands of digits)."""
    try:
        return parse_int(text, 1)
    except ValueError:
        raise InvalidArgument(f"{flag} must be a positive integer ({example}), got "
                              f"{shown(text)}") from None


def emit(rendered: Rendered, fmt: OutputFormat, output: Path | None, wide: bool = False) -> None:
    """Print ``rendered`` in ``fmt`` to standard output, or write it to ``output`` atomically.

    Tables fit the terminal's width (fewer columns, notes as footnotes); ``wide``, a file or a
    pipe gets every column at its natural width.
    """
    interrupt_pending()  # Ctrl-C during the work: no output, whatever swallowed it
    result = render_text(rendered, fmt)
    if output is not None:
        atomic_write_text(output, to_string(result), what="--output")
        return
    with writing_stdout():  # a full disk, a closed stdout: one line and exit 2
        if isinstance(result, str):
            typer.echo(result, nl=False)
            return
        console = Console()
        if wide or not console.is_terminal:  # never fold a piped table at 80 columns
            console = Console(width=WIDE)
        console.print(result)
