"""Options shared by several commands, as ``Annotated`` aliases, and the output step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hetcalc.errors import InvalidArgument
from hetcalc.render import OutputFormat, Rendered, render_text, to_string
from hetcalc.substitute import Impl

FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people; json, csv or markdown for machines.",
                 case_sensitive=False),
]
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to this file instead of standard output.",
                 dir_okay=False),
]
InputShapeOption = Annotated[
    str | None,
    typer.Option("--input-shape", help="Input shape N,C,H,W (default: the model's own).",
                 metavar="1,3,H,W"),
]
IncludeFirstOption = Annotated[
    bool,
    typer.Option("--include-first", help="Also replace the model's first convolution "
                 "(the paper keeps it standard)."),
]
ImplOption = Annotated[
    Impl,
    typer.Option("--impl", help="HetConv realization: exact runs Eq. 4's MACs, fast runs a dense "
                 "1x1 with Do*Do*N*M/P more.", case_sensitive=False),
]
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
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Show the full traceback when something fails."),
]


def emit(rendered: Rendered, fmt: OutputFormat, output: Path | None) -> None:
    """Print ``rendered`` in ``fmt`` to standard output or to ``output``."""
    result = render_text(rendered, fmt)
    if output is not None:
        try:
            output.write_text(to_string(result), encoding="utf-8")
        except OSError as error:
            raise InvalidArgument(f"--output {output}: cannot write it ({error.strerror})") from error
        return
    if isinstance(result, str):
        typer.echo(result, nl=False)
    else:
        console = Console()
        if not console.is_terminal:  # piped: tables keep their natural width, never fold at 80
            console = Console(width=1000)
        console.print(result)
