"""Per-layer latencies for the planner: each candidate (layer shape, variant) timed once against
its standard conv.

It rests on :func:`hetcalc.latency.layer_latencies` (each layer alone on its real input shape,
standard conv and variant interleaved). Layers of one shape share one measurement. A report of a
plan is timed by :func:`hetcalc.latency.with_layer_latency`, each layer under its own variant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hetcalc.latency import Latency, LatencySettings, LayerTiming, layer_latencies
from hetcalc.substitute import random_state_kept
from hetcalc.variants import ConvShape, Variant

Timed = dict[tuple[ConvShape, str], tuple[Latency, Latency]]
"""(layer shape, variant spec) -> (standard conv, variant layer) latencies, timed together."""


def candidate_latencies(layers: Sequence[tuple[ConvShape, Sequence[Variant]]],
                        settings: LatencySettings, impl: str,
                        on_block: Callable[[str], None] | None = None) -> Timed:
    """Time every distinct (shape, variant) pair among ``layers`` once (``std`` is not timed
    against itself). Torch's random state is as it was afterwards."""
    wanted: dict[str, tuple[Variant, list[ConvShape]]] = {}
    for shape, variants in layers:
        for variant in variants:
            if variant.is_baseline:
                continue
            shapes = wanted.setdefault(variant.spec, (variant, []))[1]
            if shape not in shapes:
                shapes.append(shape)
    timed: Timed = {}
    with random_state_kept(cuda=settings.device != "cpu"):
        for spec, (variant, shapes) in wanted.items():
            by_name = {str(i): shape for i, shape in enumerate(shapes)}
            timings = {name: LayerTiming((shape,), shape, variant)
                       for name, shape in by_name.items()}
            for name, pair in layer_latencies(timings, settings, impl, on_block).items():
                timed[(by_name[name], spec)] = pair
    return timed


def pairs_to_time(layers: Sequence[tuple[ConvShape, Sequence[Variant]]]) -> int:
    """How many (standard, variant) pairs :func:`candidate_latencies` will time."""
    return len({(shape, v.spec) for shape, variants in layers for v in variants
                if not v.is_baseline})
