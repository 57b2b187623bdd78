"""``hetcalc plan MODEL --max-flops 2.9G -o plan.toml``: the mildest per-layer plan that meets
a budget."""

from __future__ import annotations

import enum
import shlex
from pathlib import Path
from typing import Annotated

import typer

from hetcalc.catalog import check_spec
from hetcalc.cli.options import (
    BatchSizeOption,
    DebugOption,
    DtypeOption,
    FormatOption,
    ImplOption,
    IncludeFirstOption,
    InputShapeOption,
    PretrainedOption,
    ProgressOption,
    QuietOption,
    ThreadsOption,
    TimeoutOption,
    WeightsOption,
    WideOption,
    check_fidelity,
    check_writable,
    emit,
    timing_impl,
)
from hetcalc.errors import InvalidArgument
from hetcalc.render import OutputFormat
from hetcalc.settings import DEVICES, LatencySettings
from hetcalc.shapes import input_shapes
from hetcalc.usercode import time_limit
from hetcalc.variants import VALID_FORMS, parse_variants


def _check_plan_output(value: Path | None) -> Path | None:
    if value is not None:
        check_writable(value, "--output")
    return value


def _count(text: str | None, flag: str) -> int | None:
    if text is None:
        return None
    from hetcalc.budget.values import Bad, parse_count

    try:
        return parse_count(text)
    except Bad as bad:
        raise InvalidArgument(f"{flag}: {bad}") from None


class Keep(enum.StrEnum):
    """``--keep``: what the plan keeps the most of (hetcalc.plan.search.KEEPS)."""

    KXK = "kxk"
    ENERGY = "energy"


def plan_command(
    model: Annotated[str, typer.Argument(help="Model: a registered name (see 'hetcalc models'), "
                                              "timm:NAME, path/to/file.py:fn or package.module:fn.")],
    max_flops: Annotated[str | None, typer.Option(
        "--max-flops", help="Most MACs the planned model may run (2.9G, 850M, 17_000_000).",
        metavar="MACS")] = None,
    max_params: Annotated[str | None, typer.Option(
        "--max-params", help="Most parameters it may have (BN included; 20M, 5.2M).",
        metavar="N")] = None,
    max_latency_ms: Annotated[float | None, typer.Option(
        "--max-latency-ms", help="Most milliseconds it may take, predicted from each layer "
        "timed alone on --device, then checked by timing the whole model.",
        metavar="MS")] = None,
    choices: Annotated[str | None, typer.Option(
        "--choices", help=f"Comma-separated variants a layer may take ({VALID_FORMS}); std is "
        "always one. Default: HetConv P = 2, 4, 8, ... where P divides the layer's M and N.",
        metavar="LIST")] = None,
    keep: Annotated[Keep, typer.Option(
        "--keep", help="What the plan keeps the most of: kxk, the K x K kernel weights; energy, "
        "the weight energy of trained weights (needs --weights or --pretrained).",
        case_sensitive=False)] = Keep.KXK,
    weights: WeightsOption = None,
    pretrained: PretrainedOption = False,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the plan to this TOML file (replaced atomically), for "
        "analyze --plan, compare --variants and budget files.", dir_okay=False,
        callback=_check_plan_output, metavar="FILE.toml")] = None,
    input_shape: InputShapeOption = None,
    include_first: IncludeFirstOption = False,
    impl: ImplOption = None,
    device: Annotated[str, typer.Option(help=f"{'|'.join(DEVICES)}: where --max-latency-ms is "
                                             "timed; auto picks CUDA when present.")] = "auto",
    batch_size: BatchSizeOption = 1,
    threads: ThreadsOption = None,
    dtype: DtypeOption = "float32",
    time_budget: Annotated[float, typer.Option(
        "--time-budget", help="Seconds of timing per layer pair and per whole model "
        "(0.001 to 3600).", metavar="S")] = 0.5,
    fmt: FormatOption = OutputFormat.TABLE,
    wide: WideOption = False,
    progress_shown: ProgressOption = True,
    timeout: TimeoutOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """The mildest per-layer substitution that meets a budget: the plan that keeps the most K x K
    weights (or, --keep energy, weight energy), beside the uniform variants that meet the same
    budget."""
    if keep is Keep.ENERGY and weights is None and not pretrained:
        raise InvalidArgument("--keep energy needs trained weights: --weights FILE or "
                              "--pretrained")
    check_fidelity(weights, pretrained, None)
    _plan(model, max_flops, max_params, max_latency_ms, choices, output, input_shape,
          include_first, timing_impl(impl), device, batch_size, threads, dtype, time_budget, fmt,
          wide, timeout, progress_shown and not quiet, (keep.value, weights, pretrained))


def _plan(model: str, max_flops: str | None, max_params: str | None,
          max_latency_ms: float | None, choices: str | None, output: Path | None,
          input_shape: list[str] | None, include_first: bool, impl: str, device: str,
          batch_size: int, threads: int | None, dtype: str, time_budget: float,
          fmt: OutputFormat, wide: bool, timeout: float | None = None,
          progress_shown: bool = True,
          kept: tuple[str, Path | None, bool] = ("kxk", None, False)) -> None:
    # Validate every argument before torch is even imported, let alone a model built.
    from hetcalc.plan.budget import Budget
    from hetcalc.plan.file import PLAN_SUFFIX

    if max_flops is None and max_params is None and max_latency_ms is None:
        raise InvalidArgument("give at least one budget: --max-flops, --max-params or "
                              "--max-latency-ms")
    flops, params = _count(max_flops, "--max-flops"), _count(max_params, "--max-params")
    budget = Budget(flops, params, max_latency_ms).validate()
    if max_latency_ms is not None:  # a budget file's range: a microsecond to an hour
        from hetcalc.budget.values import Bad, parse_positive_number

        try:
            parse_positive_number(max_latency_ms)
        except Bad as bad:
            raise InvalidArgument(f"--max-latency-ms {bad}") from None
    offered = None
    if choices is not None:
        try:
            offered = parse_variants(choices)
        except InvalidArgument as error:
            raise InvalidArgument(f"--choices: {error}") from None
    if output is not None and not output.name.lower().endswith(PLAN_SUFFIX):
        raise InvalidArgument(f"--output {output}: a plan file's name ends in {PLAN_SUFFIX} "
                              "(that is how compare --variants tells it from a variant)")
    shape = input_shapes(input_shape) if input_shape else None
    timing = LatencySettings(device=device, batch_size=batch_size, threads=threads, dtype=dtype,
                             min_run_time=time_budget)
    if max_latency_ms is not None:
        timing.validate()
    else:  # every timing option is checked either way; CUDA's presence only when timed
        timing.check()

    check_spec(model)  # a misspelt name or a missing file: refused before torch is imported

    from hetcalc import models
    from hetcalc.fileio import atomic_write_text
    from hetcalc.plan.file import plan_toml
    from hetcalc.plan.search import find_plan
    from hetcalc.render.plan import plan_file_comments, plan_file_header, render_plan
    from hetcalc.weights import Weights

    keep, weights = kept[0], Weights(kept[1], kept[2])

    with time_limit(timeout, model):  # the model's work: import, build, trace, count, time
        models.resolve(model)  # unknown names fail here, before the model is built
        where = str(output) if output is not None else None
        if max_latency_ms is None:
            result = find_plan(model, budget, offered, shape, include_first, impl, where=where,
                               keep=keep, weights=weights)
        else:
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

            from hetcalc.cli.streams import progress_bar, saying_steps
            from hetcalc.render import markup_safe

            with progress_bar(TextColumn("{task.description}: {task.completed} blocks"),
                              BarColumn(), TimeElapsedColumn(),
                              shown=progress_shown) as progress:
                task = progress.add_task(markup_safe(f"{model}: building"), total=None)
                with saying_steps(progress, task, model):
                    result = find_plan(model, budget, offered, shape, include_first, impl,
                                       timing, where=where,
                                       on_block=lambda name: progress.advance(task),
                                       keep=keep, weights=weights)
    if output is not None:
        asked = {"--max-flops": max_flops, "--max-params": max_params,
                 "--max-latency-ms": max_latency_ms, "--choices": choices,
                 "--input-shape": input_shape, "--weights": kept[1],
                 "--keep": keep if keep != "kxk" else None}
        if max_latency_ms is not None:
            asked.update({"--device": device, "--threads": threads})
        words = ["hetcalc", "plan", model, *(w for flag, value in asked.items()
                                             if value is not None
                                             for given in (value if isinstance(value, list)
                                                           else [value])
                                             for w in (flag, str(given)))]
        command = shlex.join(words + (["--include-first"] if include_first else [])
                             + (["--pretrained"] if kept[2] else []))
        text = plan_toml(result.plan, plan_file_header(result, command),
                         plan_file_comments(result))
        atomic_write_text(output, text, what="--output")
    emit(render_plan(result), fmt, None, wide=wide)

