"""Wall-clock latency on ``torch.utils.benchmark`` (which synchronises CUDA for us).

Models are timed in eval mode under ``torch.inference_mode`` after a warm-up, and *interleaved*:
round after round, every model runs one block of iterations, so a machine whose speed drifts
(another job starts, the clock throttles) slows all of them alike and the ratios still hold.
Each block gives one per-iteration time; a model's latency is the median of its blocks, its spread
the interquartile range, and a spread over :data:`hetcalc.settings.SPREAD_LIMIT` of the median
marks the figure as unreliable. With ``settings.compile`` every model (baseline and variants
alike) is called once eagerly — HetConv's ``impl="auto"`` makes its choices there — and then
compiled with ``torch.compile``; the warm-up compiles it, before anything is timed.
HetConv layers are timed with ``impl="auto"`` unless a realization is pinned
(:data:`TIMING_IMPL`), on a copy of the model in which consecutive layers hand each other
their channels in residue order (:func:`hetcalc.nn.carry_residue_order`: the same function,
fewer permutation copies); the model passed in is not changed. On CUDA, ``cudnn.benchmark``
picks each convolution's fastest algorithm during the warm-up (restored afterwards) and the
input is made on the device before timing, so no host-device copy is timed.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hetcalc.errors import InvalidArgument, TraceError
from hetcalc.inputs import Inputs, on_first
from hetcalc.nn import Impl
from hetcalc.progress import scope, step
from hetcalc.report import Latency
from hetcalc.settings import DEVICES, DTYPES, LatencySettings
from hetcalc.shapes import InputShapes
from hetcalc.usercode import running_user_code
from hetcalc.variants import ConvShape, Variant

if TYPE_CHECKING:
    from hetcalc.report import AnalysisReport

__all__ = ["DEVICES", "DTYPES", "Latency", "LatencySettings", "measure", "model_latency",
           "LayerTiming", "layer_timings", "layer_latencies", "with_layer_latency", "environment",
           "TORCH_DTYPES", "TIMING_IMPL"]

TIMING_IMPL = Impl.AUTO
"""The HetConv realization models are timed with unless one is pinned: ``auto`` times the
realizations on each layer's first call and runs the fastest (see :mod:`hetcalc.nn.hetconv`)."""

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
MIN_ROUNDS = 3
"""Interleaved rounds kept when one iteration is too slow for the requested number in the time
budget (the time budget bounds the run)."""


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def _benchmark():
    """``torch.utils.benchmark``, imported on first use: it pulls in ``cpp_extension``, whose
    import logs a CUDA_HOME warning on machines without CUDA. That logger is quieted for the
    import only and restored."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from torch.utils import benchmark
    finally:
        logger.setLevel(level)
    return benchmark


def resolved_device(settings: LatencySettings) -> torch.device:
    if settings.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(settings.device)


def environment(settings: LatencySettings) -> dict[str, object]:
    """What a latency figure depends on: device (and its name), threads, dtype, memory format,
    batch size, torch version."""
    device = resolved_device(settings)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {"device": device.type, "device_name": name,
            "threads": settings.threads or torch.get_num_threads(), "dtype": settings.dtype,
            "memory_format": "channels_last" if settings.channels_last else "contiguous",
            "batch_size": settings.batch_size, "compile": settings.compile,
            "torch": torch.__version__}


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return os.uname().machine if hasattr(os, "uname") else "cpu"


def _available_bytes(device: torch.device) -> int | None:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_fits(largest_output: int, traced_batch: int, settings: LatencySettings,
               models: int = 2) -> None:
    """Refuse, before anything is allocated, a timing run whose activations cannot fit.

    ``largest_output`` is the largest tensor (bytes, float32) a module returned when the model
    was counted at batch ``traced_batch``; the run holds about three of them per model at the
    timing batch size and dtype."""
    device = resolved_device(settings)
    scale = settings.batch_size / max(traced_batch, 1)
    width = torch.tensor([], dtype=TORCH_DTYPES[settings.dtype]).element_size() / 4
    needed = int(3 * largest_output * scale * width * models)
    available = _available_bytes(device)
    if available is not None and needed > available:
        raise InvalidArgument(
            f"batch_size {settings.batch_size}: timing would need about {needed / 1024**3:.1f} GiB "
            f"of activations on {device.type}, and {available / 1024**3:.1f} GiB is available; "
            "use a smaller batch size or input shape", argument="batch_size")


def measure(models: Mapping[str, nn.Module], input_shape: Inputs | tuple[int, ...],
            settings: LatencySettings,
            on_block: Callable[[str], None] | None = None) -> dict[str, Latency]:
    """Time every model in ``models`` on random inputs (:class:`~hetcalc.inputs.Inputs`, or
    one shape) whose every tensor has ``settings.batch_size`` as its first size, interleaved
    round by round. ``on_block(name)`` is called after each timed block (for a progress bar).
    Models are moved to the device and dtype in place; a model with HetConv layers is timed as
    a copy with its residue order carried (:func:`_carried`)."""
    benchmark = _benchmark()

    settings.validate()
    device = resolved_device(settings)
    dtype = TORCH_DTYPES[settings.dtype]
    inputs = Inputs.of(input_shape)
    memory_format = _memory_format(settings, len(inputs.input_shape))
    args, kwargs = _input(inputs, settings, device)
    threads = settings.threads or torch.get_num_threads()

    timers = {}
    timed_models: dict[str, nn.Module] = {}
    carried: dict[str, tuple[tuple[str, str], ...]] = {}
    tuned: list[nn.Module] = []
    cudnn = torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = device.type == "cuda"  # tuning and timing alike
        with _models_running(models):
            for name, model in models.items():
                model.to(device=device, dtype=dtype, memory_format=memory_format).eval()
                model, carried[name] = _carried(model)
                timed_models[name] = model
                inner = model
                model, x = on_first(model, args, kwargs)
                tuned += _tuned(model, x, threads, name, _feeders(model, inner, carried[name]))
                if settings.compile:
                    model = _compiled(model, x, threads)
                timers[name] = benchmark.Timer("model(x)", globals={"model": model, "x": x},
                                               num_threads=threads, label=name)
            samples, numbers = _timed(timers, settings, device, on_block)
    finally:
        torch.backends.cudnn.benchmark = cudnn
        for layer in tuned:  # the model's layers choose again next time, as it was built
            layer.impl = "auto"
    return {name: replace(_summary(values, numbers[name], str(device),
                                   ran_realizations(timed_models[name])), carried=carried[name])
            for name, values in samples.items()}


def time_shares(model: nn.Module, input_shape: Inputs | tuple[int, ...], names: list[str],
                settings: LatencySettings, calls: int = 20) -> dict[str, float]:
    """Each named module's share of ``model``'s forward time, from the model's own profile:
    forward hooks read the clock before and after each named module (synchronising CUDA) over
    ``calls`` calls after a warm-up; a module's share is the median of its per-call times over
    the median call. The model is moved to the settings' device and dtype in place, as
    :func:`measure` does; the hooks are removed afterwards."""
    import time

    settings.validate()
    device = resolved_device(settings)
    inputs = Inputs.of(input_shape)
    args, kwargs = _input(inputs, settings, device)
    cuda = device.type == "cuda"

    def now() -> float:
        if cuda:
            torch.cuda.synchronize(device)
        return time.perf_counter()

    spent: dict[str, list[float]] = {name: [] for name in names}
    started: dict[str, float] = {}
    handles = []
    for name in names:
        module = model.get_submodule(name)
        handles.append(module.register_forward_pre_hook(
            lambda m, args, name=name: started.__setitem__(name, now())))
        handles.append(module.register_forward_hook(
            lambda m, args, out, name=name: spent[name].append(now() - started[name])))
    totals = []
    previous = torch.get_num_threads()
    model.to(device=device, dtype=TORCH_DTYPES[settings.dtype],
             memory_format=_memory_format(settings, len(inputs.input_shape))).eval()
    runs, x = on_first(model, args, kwargs)
    try:
        torch.set_num_threads(settings.threads or previous)
        with _models_running({"baseline": model}), torch.inference_mode():
            for _ in range(2):
                runs(x)
            for times in spent.values():
                times.clear()
            for _ in range(calls):
                begin = now()
                runs(x)
                totals.append(now() - begin)
    finally:
        torch.set_num_threads(previous)
        for handle in handles:
            handle.remove()
    whole = statistics.median(totals)
    return {name: statistics.median(times) / whole if times else 0.0
            for name, times in spent.items()}


def _models_running(models: Mapping[str, nn.Module]) -> running_user_code:
    """The models' forward is a model's code: a ``SystemExit`` (or another exception that is
    not an ``Exception``) it raises while timed is a :class:`~hetcalc.errors.TraceError` of one
    line; ordinary exceptions stay as they are."""
    return running_user_code(f"timing {', '.join(map(repr, models))} failed", TraceError,
                             ordinary=False)


def _input(inputs: Inputs, settings: LatencySettings, device: torch.device
           ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Random inputs with the settings' batch size (every tensor's first size), dtype (the
    floating-point ones) and layout."""
    memory_format = _memory_format(settings, len(inputs.input_shape))
    return inputs.with_batch(settings.batch_size).make(
        device, TORCH_DTYPES[settings.dtype], random=True, memory_format=memory_format)


def _carried(model: nn.Module) -> tuple[nn.Module, tuple[tuple[str, str], ...]]:
    """``model``, or a copy of it whose HetConv layers hand each other residue order
    (:func:`hetcalc.nn.carry_residue_order`) where that saves a permutation, and what was
    carried. ``model`` itself is never changed; one that cannot be copied is timed as it is."""
    import copy

    from hetcalc.nn import carry_residue_order
    from hetcalc.nn.hetconv import _HetConvNd

    if not any(isinstance(m, _HetConvNd) and m.part > 1 for m in model.modules()):
        return model, ()
    try:
        duplicate = copy.deepcopy(model)
    except Exception:  # noqa: BLE001 - a module holding something deepcopy refuses
        return model, ()
    done = carry_residue_order(duplicate)
    if not done:
        return model, ()
    return duplicate, tuple((c.producer, c.consumer) for c in done)


def _feeders(model: nn.Module, inner: nn.Module, carried: tuple[tuple[str, str], ...]
             ) -> dict[str, nn.Module]:
    """The plain convs that feed a HetConv layer of ``inner`` (:func:`hetcalc.nn.
    feeding_convs`), by the layer's name in ``model`` (``inner`` itself, or the wrapper that
    holds a model's other inputs). ``carried`` is empty unless ``inner`` is the timing's own
    copy, so no model of the caller's has a layout changed."""
    from hetcalc.nn import feeding_convs

    names = {id(m): n for n, m in model.named_modules()}
    return {names[id(inner.get_submodule(layer))]: conv
            for layer, conv in feeding_convs(inner, carried).items()}


def _tuned(model: nn.Module, x: torch.Tensor, threads: int, name: str,
           feeders: dict[str, nn.Module] | None = None) -> list[nn.Module]:
    """:func:`hetcalc.nn.tune_realizations` at the timing's thread count, in inference mode
    (what ``auto``'s choices depend on), with the plain convs that feed a layer laid out as
    its realization reads (``feeders``); the HetConv layers it pinned."""
    from hetcalc.nn import tune_realizations

    if any(getattr(m, "impl", None) == "auto" for m in model.modules()):
        step(f"tuning {name}'s HetConv realizations")
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            chosen = tune_realizations(model, x, feeders)
    finally:
        torch.set_num_threads(previous)
    return [model.get_submodule(name) for name in chosen or ()]


def _timed(timers: Mapping[str, object], settings: LatencySettings, device: torch.device,
           on_block: Callable[[str], None] | None
           ) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Warm every timer up, then time them interleaved, round by round: the blocks' per-call
    times and the calls per block, by model."""
    block_seconds = settings.min_run_time / settings.rounds
    samples: dict[str, list[float]] = {name: [] for name in timers}
    numbers: dict[str, int] = {}
    with torch.inference_mode():
        slowest = 0.0
        step(f"warming up {' and '.join(timers)}")
        for name, timer in timers.items():
            timer.timeit(number=2)  # warm-up: allocator, kernel selection, lazy init
            once = timer.timeit(number=1).median
            slowest = max(slowest, once)
            numbers[name] = max(1, int(block_seconds / max(once, 1e-6)))
        rounds = settings.rounds
        if slowest * rounds > settings.min_run_time:  # one iteration per block is too many
            rounds = max(MIN_ROUNDS, min(rounds, int(settings.min_run_time / slowest)))
        step(f"timing {' and '.join(timers)}, interleaved")
        for _ in range(rounds):
            for name, timer in timers.items():
                samples[name].append(timer.timeit(number=numbers[name]).median)
                if on_block is not None:
                    on_block(name)
    return samples, numbers


def ran_realizations(model: nn.Module) -> tuple[tuple[str, str], ...]:
    """``(module name, realization)`` for every HetConv layer of ``model`` that has run eagerly
    (:attr:`~hetcalc.nn.HetConv2d.chosen_impl`; a compiled model's layers made their one eager
    call before compiling)."""
    from hetcalc.nn.hetconv import _HetConvNd

    return tuple((name, module.chosen_impl) for name, module in model.named_modules()
                 if isinstance(module, _HetConvNd) and module.chosen_impl is not None)


def _compiled(model: nn.Module, x: torch.Tensor, threads: int) -> nn.Module:
    """``torch.compile(model)`` after one eager call under ``torch.inference_mode`` with the
    timing's thread count (HetConv ``auto`` layers choose their realization there; a compiled
    graph runs the choice it finds). Compiling itself happens on the first call, the warm-up."""
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            model(x)
    finally:
        torch.set_num_threads(previous)
    return torch.compile(model)


def _memory_format(settings: LatencySettings, rank: int) -> torch.memory_format:
    if not settings.channels_last:
        return torch.contiguous_format
    if rank == 4:
        return torch.channels_last
    if rank == 5:
        return torch.channels_last_3d
    raise InvalidArgument("channels_last needs a 2-D (N,C,H,W) or 3-D (N,C,D,H,W) input",
                          argument="channels_last")


def _summary(values: list[float], number: int, device: str,
             realizations: tuple[tuple[str, str], ...] = ()) -> Latency:
    low, high = _quartiles(values)
    return Latency(median_ms=statistics.median(values) * 1e3, iqr_ms=(high - low) * 1e3,
                   blocks=len(values), iterations=number * len(values), device=device,
                   realizations=realizations)


def combine(latencies: list[Latency]) -> Latency:
    """One model timed in several interleaved runs (the baseline beside each variant in turn):
    the median of the runs' medians, the largest spread, all blocks and iterations."""
    if len(latencies) == 1:
        return latencies[0]
    return Latency(median_ms=statistics.median(lat.median_ms for lat in latencies),
                   iqr_ms=max(lat.iqr_ms for lat in latencies),
                   blocks=sum(lat.blocks for lat in latencies),
                   iterations=sum(lat.iterations for lat in latencies),
                   device=latencies[0].device, realizations=latencies[0].realizations,
                   carried=latencies[0].carried)


def model_latency(model: str | nn.Module, variant: Variant, input_shape: InputShapes | None,
                  settings: LatencySettings, include_first: bool = False,
                  impl: str = TIMING_IMPL, merge_pairs: bool = False) -> Latency:
    """Measured latency of ``model`` under one variant (random weights for a registered model)."""
    from hetcalc.analysis import costed
    from hetcalc.pipeline import subject

    source = subject(model, input_shape)
    trace = source.trace()
    check_fits(trace.largest_output, source.input_shape[0], settings, models=1)
    decisions = costed(source, trace, variant, include_first, merge_pairs).decisions
    runnable = source.runnable(decisions, impl)
    return measure({variant.spec: runnable}, source.inputs, settings)[variant.spec]


@dataclass(frozen=True)
class LayerTiming:
    """What timing one report row means: the standard conv(s) it replaces, the shape of the
    layer that runs in their place, and the variant that layer takes. A merged DW+PW pair
    replaces two convs (``standard`` is both, run in turn) with one HetConv layer M -> N."""

    standard: tuple[ConvShape, ...]
    runs: ConvShape
    variant: Variant

    def modules(self, impl: str) -> tuple[nn.Module, nn.Module]:
        """(standard, variant) modules, freshly initialised, built from the shapes alone
        (:func:`hetcalc.nn.conv_from_shape`: groups, dimensions, padding honoured)."""
        from hetcalc.layers import layer_from_shape
        from hetcalc.nn import conv_from_shape

        convs = [conv_from_shape(shape) for shape in self.standard]
        standard = convs[0] if len(convs) == 1 else nn.Sequential(*convs)
        return standard, layer_from_shape(self.runs, self.variant, impl)

    @property
    def input_shape(self) -> tuple[int, ...]:
        first = self.standard[0]
        return (first.batch, first.in_channels, *first.input_size)


def layer_timings(report: AnalysisReport) -> dict[str, LayerTiming]:
    """A :class:`LayerTiming` for every replaced layer of ``report`` that runs something, each
    under its own variant (a per-layer plan's or the report's): a merged pair's depthwise row
    times the pair against its one HetConv layer; its pointwise row runs nothing."""
    partners = {layer.merged_into: layer.shape for layer in report.layers
                if layer.merged_into is not None}
    timings = {}
    for layer in report.substituted:
        if layer.merged_into is not None:
            continue
        pair = partners.get(layer.name)
        standard = (layer.shape,) if pair is None else (layer.shape, pair)
        timings[layer.name] = LayerTiming(standard, layer.run_shape, layer.variant)
    return timings


def layer_latencies(layers: Mapping[str, LayerTiming], settings: LatencySettings,
                    impl: str = TIMING_IMPL, on_block: Callable[[str], None] | None = None
                    ) -> dict[str, tuple[Latency, Latency]]:
    """Each layer alone on its real input shape: (standard, variant layer) latencies, the two
    measured interleaved. Weights are random; ``settings.batch_size`` sets the batch. Layers
    with the same timing share one measurement."""
    measured: dict[LayerTiming, tuple[Latency, Latency]] = {}
    results = {}
    for name, timing in layers.items():
        if timing not in measured:
            standard, variant = timing.modules(impl)
            with scope(f"layer {name}: "):
                timed = measure({"standard": standard, "variant": variant}, timing.input_shape,
                                settings, on_block)
            measured[timing] = (timed["standard"], timed["variant"])
        results[name] = measured[timing]
    return results


def with_layer_latency(report: AnalysisReport, settings: LatencySettings, impl: str,
                       on_block: Callable[[str], None] | None = None) -> AnalysisReport:
    """Time every substituted layer alone against the standard conv(s) it replaces, each under
    its own variant (``analyze --latency``, with a variant or a per-layer plan)."""
    timings = layer_timings(report)
    # Before anything is allocated: the largest input or output of one image (float32 bytes)
    # of any layer timed, at the timing's batch size, must fit beside its standard conv's.
    per_image = [channels * math.prod(size) * 4 for timing in timings.values()
                 for shape in timing.standard
                 for channels, size in ((shape.in_channels, shape.input_size),
                                        (shape.out_channels, shape.output_size))]
    check_fits(max(per_image, default=0), 1, settings)
    timed = layer_latencies(timings, settings, impl, on_block)
    layers = [replace(layer, latency_standard=timed[layer.name][0],
                      latency_variant=timed[layer.name][1])
              if layer.name in timed else layer for layer in report.layers]
    return replace(report, layers=layers, latency_settings=settings,
                   latency_environment=environment(settings), timing_impl=str(impl))
