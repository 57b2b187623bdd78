"""``hetcalc analyze MODEL --P 4`` (or ``--variant SPEC``, or ``--plan FILE.toml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hetcalc.catalog import check_spec
from hetcalc.cli.options import (
    CalibrationOption,
    ChannelsLastOption,
    DebugOption,
    DeviceOption,
    DeviceSpecOption,
    DtypeOption,
    FoldBnOption,
    FormatOption,
    ImplOption,
    IncludeFirstOption,
    InputShapeOption,
    MergePairsOption,
    OutputOption,
    PretrainedOption,
    QuietOption,
    ThreadsOption,
    TimeoutOption,
    WeightsOption,
    WideOption,
    check_fidelity,
    counting_impl,
    device_model,
    emit,
    timing_impl,
)
from hetcalc.errors import InvalidArgument
from hetcalc.modtree import DEFAULT_DEPTH, MAX_DEPTH, check_depth
from hetcalc.plan.file import Plan, read_plan
from hetcalc.render import OutputFormat
from hetcalc.settings import LatencySettings
from hetcalc.shapes import input_shapes
from hetcalc.usercode import time_limit
from hetcalc.variants import VALID_FORMS, Variant, parse_variant, part_variant


def analyze_command(
    model: Annotated[str, typer.Argument(help="Model: a registered name (see 'hetcalc models'), "
                                              "timm:NAME, path/to/file.py:fn or package.module:fn.")],
    part: Annotated[str | None, typer.Option("--P", "--part", help="HetConv part P (1, 2, 4, ...).",
                                             metavar="P")] = None,
    variant: Annotated[str | None, typer.Option("--variant", "-v",
                                                help=f"Any variant: {VALID_FORMS}.")] = None,
    plan_file: Annotated[Path | None, typer.Option(
        "--plan", help="A per-layer plan (TOML, e.g. written by 'hetcalc plan'): each layer it "
        "names takes its variant, the others stay standard.", dir_okay=False,
        metavar="FILE.toml")] = None,
    input_shape: InputShapeOption = None,
    include_first: IncludeFirstOption = False,
    merge_dw_pw: MergePairsOption = False,
    fold_bn: FoldBnOption = False,
    impl: ImplOption = None,
    weights: WeightsOption = None,
    pretrained: PretrainedOption = False,
    calibration: CalibrationOption = None,
    count: Annotated[bool, typer.Option("--count/--no-count",
                                        help="Build the substituted model and count it with "
                                             "fvcore beside the formulas.")] = True,
    latency: Annotated[bool, typer.Option("--latency", help="Also time each substituted layer "
                                          "alone on its input shape against its standard conv "
                                          "(CPU, or CUDA when present).")] = False,
    device: DeviceOption = "auto",
    device_spec: DeviceSpecOption = None,
    batch_size: Annotated[int | None, typer.Option(
        "--batch-size", help="Batch size for timing, 1 to 65536 (default: the input "
        "shape's).")] = None,
    threads: ThreadsOption = None,
    dtype: DtypeOption = "float32",
    channels_last: ChannelsLastOption = False,
    time_budget: Annotated[float, typer.Option("--time-budget", help="Seconds of timing per "
                                               "layer pair, 0.001 to 3600.",
                                               metavar="S")] = 0.5,
    totals: Annotated[bool, typer.Option("--totals", help="Only the model totals, not the "
                                         "per-layer rows (table, markdown, csv; JSON always "
                                         "has both).")] = False,
    tree: Annotated[bool, typer.Option("--tree", help="A module tree in place of the per-layer "
                                       "rows: MACs, params and output shape per module, the "
                                       "variant's beside the original's (as fvcore's "
                                       "flop_count_table).")] = False,
    depth: Annotated[str | None, typer.Option(
        "--depth", help=f"How deep the module tree goes, 0 (the model alone) to {MAX_DEPTH}; "
        f"deeper modules are in their parent's row. Implies --tree (default "
        f"{DEFAULT_DEPTH}).", metavar="N", show_default=False)] = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    wide: WideOption = False,
    timeout: TimeoutOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Per-layer cost of a variant: the paper's formulas beside fvcore's count of the model."""
    # Validate every argument before torch is even imported, let alone a model built.
    if part is not None and variant is not None:
        raise InvalidArgument("give either --P or --variant, not both")
    if plan_file is not None and (part is not None or variant is not None):
        raise InvalidArgument(f"give either --plan or {'--P' if part is not None else '--variant'}"
                              ", not both (a plan names each layer's variant)")
    chosen: Variant | Plan
    if plan_file is not None:
        if include_first or merge_dw_pw:
            raise InvalidArgument(f"--plan names its layers itself; drop "
                                  f"{'--include-first' if include_first else '--merge-dw-pw'}")
        chosen = read_plan(plan_file)
        chosen.check_model(model)
    else:
        chosen = part_variant(part) if part is not None else parse_variant(
            variant if variant is not None else "p4")
    tree_depth = (check_depth(depth) if depth is not None
                  else DEFAULT_DEPTH if tree else None)
    if tree_depth is not None and totals:
        raise InvalidArgument(f"give either {'--tree' if tree else '--depth'} or --totals, not "
                              "both (the module tree takes the per-layer rows' place; --totals "
                              "shows neither)")
    shape = input_shapes(input_shape) if input_shape else None
    if batch_size is None:  # each layer is timed at the run's own input shape, batch included
        given = shape[0].sizes if shape else getattr(chosen, "input_shape", None)
        batch_size = given[0] if given and latency else 1
    settings = LatencySettings(device=device, batch_size=batch_size, threads=threads,
                               dtype=dtype, channels_last=channels_last,
                               min_run_time=time_budget)
    if latency:
        settings.validate()
    else:  # every timing option is checked either way; CUDA's presence only when timed
        settings.check()

    check_fidelity(weights, pretrained, calibration)
    check_spec(model)  # a misspelt name or a missing file: refused before torch is imported
    target = device_model(device_spec, settings)

    from dataclasses import replace

    from hetcalc import analysis, models
    from hetcalc.latency import with_layer_latency
    from hetcalc.render.analysis import render_analysis
    from hetcalc.weights import Weights

    settings = settings if latency else None
    timed = None
    if settings is not None:  # timed first, so the counted column is what ran when timed
        def timed(report):
            return with_layer_latency(report, settings, timing_impl(impl))
    with time_limit(timeout, model):  # the model's work: import, build, trace, count, time
        models.resolve(model)  # unknown names fail here, before the model is built
        report = analysis.analyze(model, chosen, shape, include_first,
                                  impl=counting_impl(impl) if count else None,
                                  merge_pairs=merge_dw_pw, fold_bn=fold_bn, timed=timed,
                                  weights=Weights(weights, pretrained), calibration=calibration,
                                  tree=tree_depth)
    if target is not None:
        report = replace(report, device_model=target)
    emit(render_analysis(report, totals_only=totals), fmt, output, wide=wide)
