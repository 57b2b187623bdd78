"""``hetcalc analyze MODEL --P 4`` (or ``--variant SPEC``)."""

from __future__ import annotations

from typing import Annotated

import typer

from hetcalc import analysis, models
from hetcalc.cli import app
from hetcalc.cli.options import (
    DebugOption,
    FoldBnOption,
    FormatOption,
    ImplOption,
    IncludeFirstOption,
    InputShapeOption,
    MergePairsOption,
    OutputOption,
    emit,
)
from hetcalc.errors import InvalidArgument
from hetcalc.latency import LatencySettings, with_layer_latency
from hetcalc.render import OutputFormat
from hetcalc.render.analysis import render_analysis
from hetcalc.substitute import DEFAULT_IMPL
from hetcalc.variants import VALID_FORMS, parse_variant, part_variant


@app.command("analyze")
def analyze_command(
    model: Annotated[str, typer.Argument(help="Model: a registered name (see 'hetcalc models'), "
                                              "timm:NAME, path/to/file.py:fn or package.module:fn.")],
    part: Annotated[str | None, typer.Option("--P", "--part", help="HetConv part P (1, 2, 4, ...).",
                                             metavar="P")] = None,
    variant: Annotated[str | None, typer.Option("--variant", "-v",
                                                help=f"Any variant: {VALID_FORMS}.")] = None,
    input_shape: InputShapeOption = None,
    include_first: IncludeFirstOption = False,
    merge_dw_pw: MergePairsOption = False,
    fold_bn: FoldBnOption = False,
    impl: ImplOption = DEFAULT_IMPL,
    count: Annotated[bool, typer.Option("--count/--no-count",
                                        help="Build the substituted model and count it with "
                                             "fvcore beside the formulas.")] = True,
    latency: Annotated[bool, typer.Option("--latency", help="Also time each substituted layer "
                                          "alone on its input shape against its standard conv "
                                          "(CPU, or CUDA when present).")] = False,
    time_budget: Annotated[float, typer.Option("--time-budget", help="Seconds of timing per "
                                               "layer pair.")] = 0.5,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Per-layer cost of a variant: the paper's formulas beside fvcore's count of the model."""
    # Validate every argument before any model is built.
    if part is not None and variant is not None:
        raise InvalidArgument("give either --P or --variant, not both")
    chosen = part_variant(part) if part is not None else parse_variant(variant or "p4")
    shape = models.parse_input_shape(input_shape) if input_shape else None
    entry_check = models.resolve(model)  # unknown names fail here, in milliseconds
    del entry_check
    settings = LatencySettings(min_run_time=time_budget).validate() if latency else None
    report = analysis.analyze(model, chosen, shape, include_first,
                              impl=impl.value if count else None, merge_pairs=merge_dw_pw,
                              fold_bn=fold_bn)
    if settings is not None:
        report = with_layer_latency(report, settings, impl.value)
    emit(render_analysis(report), fmt, output)
