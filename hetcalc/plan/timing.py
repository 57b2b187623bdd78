"""Per-layer latencies for plans: each candidate (layer shape, variant) timed once against its
standard conv, and a plan's substituted layers timed under their own variants.

Both rest on :func:`hetcalc.latency.layer_latencies` (each layer alone on its real input
shape, standard conv and variant interleaved). Layers of one shape share one measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from hetcalc.latency import Latency, LatencySettings, environment, layer_latencies
from hetcalc.variants import ConvShape, Variant

if TYPE_CHECKING:
    from hetcalc.analysis import AnalysisReport

Timed = dict[tuple[ConvShape, str], tuple[Latency, Latency]]
"""(layer shape, variant spec) -> (standard conv, variant layer) latencies, timed together."""


def candidate_latencies(layers: Sequence[tuple[ConvShape, Sequence[Variant]]],
                        settings: LatencySettings, impl: str,
                        on_block: Callable[[str], None] | None = None) -> Timed:
    """Time every distinct (shape, variant) pair among ``layers`` once (``std`` is not timed
    against itself)."""
    wanted: dict[str, tuple[Variant, list[ConvShape]]] = {}
    for shape, variants in layers:
        for variant in variants:
            if variant.is_baseline:
                continue
            shapes = wanted.setdefault(variant.spec, (variant, []))[1]
            if shape not in shapes:
                shapes.append(shape)
    timed: Timed = {}
    for spec, (variant, shapes) in wanted.items():
        by_name = {str(i): shape for i, shape in enumerate(shapes)}
        for name, pair in layer_latencies(by_name, variant, settings, impl, on_block).items():
            timed[(by_name[name], spec)] = pair
    return timed


def pairs_to_time(layers: Sequence[tuple[ConvShape, Sequence[Variant]]]) -> int:
    """How many (standard, variant) pairs :func:`candidate_latencies` will time."""
    return len({(shape, v.spec) for shape, variants in layers for v in variants
                if not v.is_baseline})


def with_plan_layer_latency(report: AnalysisReport, settings: LatencySettings, impl: str,
                            on_block: Callable[[str], None] | None = None) -> AnalysisReport:
    """Time every substituted layer of a report alone against its standard conv, each under its
    own variant (``analyze --plan FILE --latency``)."""
    layers = [(layer.shape, [layer.variant]) for layer in report.substituted
              if layer.flops_analytic > 0]  # a merged pair's pointwise half runs nothing
    timed = candidate_latencies(layers, settings, impl, on_block)
    rows = []
    for layer in report.layers:
        pair = timed.get((layer.shape, layer.variant.spec)) if layer.substituted else None
        rows.append(layer if pair is None else replace(
            layer, latency_standard=pair[0], latency_variant=pair[1]))
    return replace(report, layers=rows, latency_settings=settings,
                   latency_environment=environment(settings), timing_impl=str(impl))
