"""``hetcalc compare [MODEL] --variants LIST``: variants side by side, with measured latency."""

from __future__ import annotations

from typing import Annotated

import typer

from hetcalc.catalog import check_spec
from hetcalc.cli.options import (
    BatchSizeOption,
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
    PlotOption,
    PretrainedOption,
    ProgressOption,
    QuietOption,
    ThreadsOption,
    TimeoutOption,
    WeightsOption,
    WideOption,
    check_fidelity,
    device_model,
    emit,
)
from hetcalc.errors import InvalidArgument
from hetcalc.plan.file import Plan, is_plan_path, read_plan
from hetcalc.render import OutputFormat
from hetcalc.settings import LatencySettings
from hetcalc.shapes import input_shapes
from hetcalc.usercode import time_limit
from hetcalc.variants import TABLE1_VARIANTS, VALID_FORMS, Variant, parse_variants


def _variants_and_plans(specs: str, model: str) -> list[Variant | Plan]:
    """``--variants p4,plan.toml``: variants, and per-layer plans read (and checked to be for
    ``model``) from the items that name ``.toml`` files."""
    items = [item.strip() for item in specs.split(",") if item.strip()]
    if not any(is_plan_path(item) for item in items):
        return list(parse_variants(specs))
    chosen: list[Variant | Plan] = []
    for item in items:
        if is_plan_path(item):
            plan = read_plan(item)
            plan.check_model(model)
            chosen.append(plan)
        else:
            chosen.extend(parse_variants(item))
    return chosen


def compare_command(
    model: Annotated[str, typer.Argument(help="Model spec (default: the paper's VGG-16 on "
                                              "CIFAR-10).")] = "vgg16_cifar",
    variants: Annotated[str, typer.Option("--variants", help=f"Comma-separated variants "
                                          f"({VALID_FORMS}), and plan files (FILE.toml, "
                                          "one column each, labelled by the file's name).")
                        ] = TABLE1_VARIANTS,
    input_shape: InputShapeOption = None,
    include_first: IncludeFirstOption = False,
    merge_dw_pw: MergePairsOption = False,
    fold_bn: FoldBnOption = False,
    impl: ImplOption = None,
    weights: WeightsOption = None,
    pretrained: PretrainedOption = False,
    calibration: CalibrationOption = None,
    latency: Annotated[bool, typer.Option("--latency/--no-latency",
                                          help="Measure wall-clock latency.")] = True,
    device: DeviceOption = "auto",
    device_spec: DeviceSpecOption = None,
    batch_size: BatchSizeOption = 1,
    threads: ThreadsOption = None,
    dtype: DtypeOption = "float32",
    channels_last: ChannelsLastOption = False,
    compile_models: Annotated[bool, typer.Option(
        "--compile", help="Time every model (baseline and variants alike) after "
                          "torch.compile, as deployed that way.")] = False,
    plot: PlotOption = None,
    time_budget: Annotated[float, typer.Option("--time-budget", help="Seconds of timing per "
                                               "model, spread over interleaved rounds "
                                               "(0.001 to 3600).", metavar="S")] = 2.0,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    wide: WideOption = False,
    progress_shown: ProgressOption = True,
    timeout: TimeoutOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Variants side by side: FLOPs analytic and counted, params, theoretical and measured speedup.

    With --plot, FLOPs against measured latency, one point per variant.
    """
    # Validate every argument before torch is even imported, let alone a model built.
    chosen = _variants_and_plans(variants, model)
    shape = input_shapes(input_shape) if input_shape else None
    timing = LatencySettings(device=device, batch_size=batch_size, threads=threads, dtype=dtype,
                             channels_last=channels_last, min_run_time=time_budget,
                             compile=compile_models)
    if latency:
        timing.validate()
    else:  # every timing option is checked either way; CUDA's presence only when timed
        timing.check()
    if not latency and plot is not None:
        raise InvalidArgument("--plot draws measured latency; drop --no-latency")

    check_fidelity(weights, pretrained, calibration)
    check_spec(model)  # a misspelt name or a missing file: refused before torch is imported
    target = device_model(device_spec, timing)

    from hetcalc import models
    from hetcalc.compare import compare
    from hetcalc.render.compare import render_comparison
    from hetcalc.weights import Weights

    trained = {"weights": Weights(weights, pretrained), "calibration": calibration}

    with time_limit(timeout, model):  # the model's work: import, build, trace, count, time
        models.resolve(model)
        settings = timing if latency else None
        if settings is None:
            result = compare(model, chosen, shape, include_first, impl and impl.value,
                             merge_pairs=merge_dw_pw, fold_bn=fold_bn, device_model=target,
                             **trained)
        else:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            from hetcalc.cli.streams import progress_bar, saying_steps
            from hetcalc.render import markup_safe

            # each variant is timed beside the baseline: two models a round per variant
            pairs = sum(not v.is_baseline for v in chosen)
            timed = 2 * pairs if pairs else 1
            with progress_bar(TextColumn("{task.description}"), BarColumn(),
                              MofNCompleteColumn(), TimeElapsedColumn(),
                              shown=progress_shown and not quiet) as progress:
                task = progress.add_task(markup_safe(f"{model}: building"),
                                         total=timed * settings.rounds)
                with saying_steps(progress, task, model):
                    result = compare(model, chosen, shape, include_first, impl and impl.value,
                                     settings, merge_pairs=merge_dw_pw, fold_bn=fold_bn,
                                     on_block=lambda name: progress.advance(task),
                                     device_model=target, **trained)
    rendered = render_comparison(result)
    if plot is not None and result.baseline_latency is not None:
        from hetcalc.plot import plot_comparison

        rows = [("baseline", result.baseline_flops, result.baseline_latency.median_ms)]
        rows += [(r.label, r.flops_analytic, r.latency.median_ms) for r in result.variants
                 if r.latency is not None]
        labels, flops, times = (list(column) for column in zip(*rows, strict=True))
        plot_comparison(labels, flops, times, f"{model}: FLOPs against latency", plot)
        rendered.notes.append(f"plot written to {plot}")
    emit(rendered, fmt, output, wide=wide)
