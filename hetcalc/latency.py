"""Wall-clock latency on ``torch.utils.benchmark`` (which synchronises CUDA for us).

Models are timed in eval mode under ``torch.inference_mode`` after a warm-up, and *interleaved*:
round after round, every model runs one block of iterations, so a machine whose speed drifts
(another job starts, the clock throttles) slows all of them alike and the ratios still hold.
Each block gives one per-iteration time; a model's latency is the median of its blocks, its spread
the interquartile range.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from hetcalc import models
from hetcalc.errors import InvalidArgument
from hetcalc.substitute import DEFAULT_IMPL, apply, plan
from hetcalc.trace import conv_calls
from hetcalc.variants import ConvShape, Variant

DEVICES = ("auto", "cpu", "cuda")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class LatencySettings:
    """How to measure: where, on what input, and for how long (``min_run_time`` seconds per
    model, spread over ``rounds`` interleaved rounds)."""

    device: str = "auto"
    batch_size: int = 1
    threads: int | None = None
    dtype: str = "float32"
    channels_last: bool = False
    min_run_time: float = 1.0
    rounds: int = 10

    def validate(self) -> LatencySettings:
        """Check every field; raise :class:`InvalidArgument` naming the first bad one."""
        if self.device not in DEVICES:
            raise InvalidArgument(f"--device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise InvalidArgument("--device cuda: no CUDA device is available here "
                                  "(use --device cpu, or auto to pick CUDA when present)")
        if self.dtype not in DTYPES:
            raise InvalidArgument(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.batch_size < 1:
            raise InvalidArgument(f"--batch-size must be a positive integer, got {self.batch_size}")
        if self.threads is not None and self.threads < 1:
            raise InvalidArgument(f"--threads must be a positive integer, got {self.threads}")
        if not self.min_run_time > 0:
            raise InvalidArgument(f"--time-budget must be positive seconds, got {self.min_run_time}")
        if self.rounds < 1:
            raise InvalidArgument(f"rounds must be a positive integer, got {self.rounds}")
        return self

    @property
    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


@dataclass(frozen=True)
class Latency:
    """Per-forward time of one model: median and interquartile range over the blocks, in ms."""

    median_ms: float
    iqr_ms: float
    blocks: int
    iterations: int
    device: str


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


def measure(models: Mapping[str, nn.Module], input_shape: tuple[int, ...],
            settings: LatencySettings,
            on_block: Callable[[str], None] | None = None) -> dict[str, Latency]:
    """Time every model in ``models`` on a random input of ``input_shape`` (batch replaced by
    ``settings.batch_size``), interleaved round by round. ``on_block(name)`` is called after each
    timed block (for a progress bar). Models are moved to the device and dtype in place."""
    benchmark = _benchmark()

    settings.validate()
    device = settings.resolved_device
    dtype = DTYPES[settings.dtype]
    memory_format = torch.channels_last if settings.channels_last else torch.contiguous_format
    shape = (settings.batch_size, *input_shape[1:])
    x = torch.randn(shape, device=device).to(dtype=dtype, memory_format=memory_format)
    threads = settings.threads or torch.get_num_threads()

    timers = {}
    for name, model in models.items():
        model.to(device=device, dtype=dtype, memory_format=memory_format).eval()
        timers[name] = benchmark.Timer("model(x)", globals={"model": model, "x": x},
                                       num_threads=threads, label=name)

    block_seconds = settings.min_run_time / settings.rounds
    samples: dict[str, list[float]] = {name: [] for name in timers}
    numbers: dict[str, int] = {}
    with torch.inference_mode():
        for name, timer in timers.items():
            timer.timeit(number=2)  # warm-up: allocator, kernel selection, lazy init
            once = timer.timeit(number=1).median
            numbers[name] = max(1, int(block_seconds / max(once, 1e-6)))
        for _ in range(settings.rounds):
            for name, timer in timers.items():
                samples[name].append(timer.timeit(number=numbers[name]).median)
                if on_block is not None:
                    on_block(name)

    results = {}
    for name, values in samples.items():
        low, high = _quartiles(values)
        results[name] = Latency(
            median_ms=statistics.median(values) * 1e3, iqr_ms=(high - low) * 1e3,
            blocks=len(values), iterations=numbers[name] * len(values), device=str(device),
        )
    return results


def model_latency(spec: str, variant: Variant, input_shape: tuple[int, ...] | None,
                  settings: LatencySettings, include_first: bool = False,
                  impl: str = DEFAULT_IMPL, merge_pairs: bool = False) -> Latency:
    """Measured latency of the model ``spec`` under one variant (built with random weights)."""
    entry = models.resolve(spec)
    shape = input_shape or entry.input_shape
    model = models.build(entry, weights="random")
    if not variant.is_baseline:
        calls = conv_calls(model, shape, name=spec)
        apply(model, plan(calls, variant, include_first, merge_pairs), variant, impl)
    return measure({variant.spec: model}, shape, settings)[variant.spec]


def layer_latencies(shapes: Mapping[str, ConvShape], variant: Variant, settings: LatencySettings,
                    impl: str = DEFAULT_IMPL,
                    on_block: Callable[[str], None] | None = None) -> dict[str, tuple[Latency, Latency]]:
    """Each layer alone on its real input shape: (standard conv, variant layer) latencies,
    the two measured interleaved. Weights are random; ``settings.batch_size`` sets the batch."""
    from hetcalc.nn import build_variant_layer

    results = {}
    for name, s in shapes.items():
        conv = nn.Conv2d(s.in_channels, s.out_channels, s.kernel, s.stride, s.padding,
                         s.dilation, bias=s.bias)
        layer = build_variant_layer(conv, variant, impl)
        timed = measure({"standard": conv, "variant": layer}, (1, s.in_channels, *s.input_size),
                        settings, on_block)
        results[name] = (timed["standard"], timed["variant"])
    return results
