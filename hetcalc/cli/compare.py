"""``hetcalc compare [MODEL] --variants LIST``: variants side by side, with measured latency."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hetcalc import models
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
from hetcalc.compare import TABLE1_VARIANTS, compare
from hetcalc.curve import plot_comparison
from hetcalc.errors import InvalidArgument
from hetcalc.latency import DEVICES, DTYPES, LatencySettings
from hetcalc.render import OutputFormat
from hetcalc.render.compare import render_comparison
from hetcalc.substitute import DEFAULT_IMPL
from hetcalc.variants import VALID_FORMS, parse_variants


@app.command("compare")
def compare_command(
    model: Annotated[str, typer.Argument(help="Model spec (default: the paper's VGG-16 on "
                                              "CIFAR-10).")] = "vgg16_cifar",
    variants: Annotated[str, typer.Option("--variants", help=f"Comma-separated variants "
                                          f"({VALID_FORMS}).")] = TABLE1_VARIANTS,
    input_shape: InputShapeOption = None,
    include_first: IncludeFirstOption = False,
    merge_dw_pw: MergePairsOption = False,
    fold_bn: FoldBnOption = False,
    impl: ImplOption = DEFAULT_IMPL,
    latency: Annotated[bool, typer.Option("--latency/--no-latency",
                                          help="Measure wall-clock latency.")] = True,
    device: Annotated[str, typer.Option(help=f"{'|'.join(DEVICES)}; auto picks CUDA when "
                                             "present.")] = "auto",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Batch size for timing.")] = 1,
    threads: Annotated[int | None, typer.Option(help="CPU threads for timing (default: "
                                                     "torch's).")] = None,
    dtype: Annotated[str, typer.Option(help="|".join(DTYPES))] = "float32",
    channels_last: Annotated[bool, typer.Option("--channels-last",
                                                help="Time in channels_last memory format.")] = False,
    plot: Annotated[Path | None, typer.Option(help="Draw FLOPs against measured latency to this "
                                              "PNG (needs hetcalc[plot]).")] = None,
    time_budget: Annotated[float, typer.Option("--time-budget", help="Seconds of timing per "
                                               "model, spread over interleaved rounds.")] = 2.0,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Variants side by side: FLOPs analytic and counted, params, theoretical and measured speedup."""
    chosen = parse_variants(variants)
    shape = models.parse_input_shape(input_shape) if input_shape else None
    models.resolve(model)
    settings = None
    if latency:
        settings = LatencySettings(device=device, batch_size=batch_size, threads=threads,
                                   dtype=dtype, channels_last=channels_last,
                                   min_run_time=time_budget).validate()
    if settings is None:
        result = compare(model, chosen, shape, include_first, impl.value,
                         merge_pairs=merge_dw_pw, fold_bn=fold_bn)
    else:
        timed = 1 + sum(not v.is_baseline for v in chosen)
        with Progress(TextColumn("timing {task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task(model, total=timed * settings.rounds)
            result = compare(model, chosen, shape, include_first, impl.value, settings,
                             merge_pairs=merge_dw_pw, fold_bn=fold_bn,
                             on_block=lambda name: progress.advance(task))
    rendered = render_comparison(result)
    if plot is not None:
        if result.baseline_latency is None:
            raise InvalidArgument("--plot draws measured latency; drop --no-latency")
        rows = [("baseline", result.baseline_flops, result.baseline_latency.median_ms)]
        rows += [(r.label, r.flops_analytic, r.latency.median_ms) for r in result.variants
                 if r.latency is not None]
        labels, flops, times = (list(column) for column in zip(*rows, strict=True))
        plot_comparison(labels, flops, times, f"{model}: FLOPs against latency", str(plot))
        rendered.notes.append(f"plot written to {plot}")
    emit(rendered, fmt, output)
