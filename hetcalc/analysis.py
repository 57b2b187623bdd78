"""Analytic (and, when counted, fvcore-counted) cost of a model under a variant, layer by layer.

Data flows one way: model spec -> build -> trace -> plan -> formulas -> :class:`AnalysisReport`.
Nothing here prints; :mod:`hetcalc.render` turns reports into tables and JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hetcalc import formulas, models
from hetcalc.errors import InvalidArgument
from hetcalc.latency import LatencySettings, layer_latencies
from hetcalc.substitute import DEFAULT_IMPL, IMPLS, Decision, apply, plan
from hetcalc.trace import Trace, trace_model
from hetcalc.variants import ConvShape, Kind, Variant, layer_cost

STANDARD = Variant(Kind.STANDARD)


@dataclass(frozen=True)
class LayerReport:
    name: str
    shape: ConvShape
    substituted: bool
    flops_standard: int
    flops_analytic: int
    flops_counted: int | None
    params_standard: int
    params_variant: int
    note: str | None
    latency_standard_ms: float | None = None
    latency_variant_ms: float | None = None

    @property
    def speedup_measured(self) -> float | None:
        if self.latency_standard_ms is None or self.latency_variant_ms is None:
            return None
        return self.latency_standard_ms / self.latency_variant_ms

    @property
    def reduction(self) -> float:
        """Share of this layer's standard MACs that the variant removes."""
        return 1 - self.flops_analytic / self.flops_standard


@dataclass(frozen=True)
class AnalysisReport:
    model: str
    input_shape: tuple[int, ...]
    variant: Variant
    baseline_flops: int
    baseline_params: int
    flops_analytic: int
    flops_counted: int | None
    params: int
    layers: list[LayerReport]
    uncounted_ops: dict[str, int]
    impl: str | None = None
    latency_settings: LatencySettings | None = None

    @property
    def reduction(self) -> float:
        """Share of the baseline MACs removed (Table 1's "FLOPs Reduced")."""
        return 1 - self.flops_analytic / self.baseline_flops if self.baseline_flops else 0.0

    @property
    def params_reduction(self) -> float:
        return 1 - self.params / self.baseline_params if self.baseline_params else 0.0

    @property
    def speedup(self) -> float:
        """Eq. 9 over the whole model: baseline MACs / variant MACs."""
        return self.baseline_flops / self.flops_analytic if self.flops_analytic else 1.0

    @property
    def substituted(self) -> list[LayerReport]:
        return [layer for layer in self.layers if layer.substituted]


def layer_reports(decisions: list[Decision], variant: Variant) -> list[LayerReport]:
    """Analytic cost of every planned layer; kept layers cost what they cost (Eq. 1 for groups=1)."""
    reports = []
    for d in decisions:
        s = d.shape
        baseline = layer_cost(STANDARD, s)
        standard, standard_params = baseline.flops, baseline.params
        if d.merged_into is not None:  # the pointwise half of a merged pair: gone
            reports.append(LayerReport(
                name=d.name, shape=s, substituted=True, flops_standard=standard,
                flops_analytic=0, flops_counted=None, params_standard=standard_params,
                params_variant=0, note=f"pointwise conv merged into {d.merged_into}",
            ))
            continue
        if d.pair is not None:
            cost = layer_cost(variant, d.pair)
            reports.append(LayerReport(
                name=d.name, shape=s, substituted=True, flops_standard=standard,
                flops_analytic=cost.flops, flops_counted=None, params_standard=standard_params,
                params_variant=cost.params,
                note=f"depthwise+pointwise pair -> one HetConv {d.pair.in_channels}->"
                     f"{d.pair.out_channels} (paper Table 4)",
            ))
            continue
        cost = layer_cost(variant, s) if d.replace else None
        reports.append(LayerReport(
            name=d.name, shape=s, substituted=d.replace, flops_standard=standard,
            flops_analytic=cost.flops if cost else standard, flops_counted=None,
            params_standard=standard_params,
            params_variant=cost.params if cost else standard_params,
            note=d.reason,
        ))
    return reports


def _require_some_fit(model: str, variant: Variant, decisions: list[Decision]) -> None:
    eligible = [d for d in decisions if d.eligible]
    if variant.is_baseline or not eligible or any(d.replace for d in decisions):
        return
    channels = sorted({d.shape.in_channels for d in eligible})
    listing = ", ".join(map(str, channels))
    if variant.kind is Kind.HETCONV:
        raise InvalidArgument(
            f"variant {variant.spec} (P={variant.part}) fits no eligible layer of {model}: "
            f"P must divide both channel counts of a layer (input channels there: {listing})"
        )
    raise InvalidArgument(
        f"variant {variant.spec} fits no eligible layer of {model} "
        f"({eligible[0].reason}; input channels there: {listing})"
    )


def _removed_between(trace: Trace, decisions: list[Decision]) -> tuple[int, int]:
    """MACs (fvcore's count) and params of the modules between merged DW+PW pairs (their BN),
    which go with the pair."""
    followers = {f.name: f for call in trace.convs for f in call.followed_by}
    names = [name for d in decisions for name in d.removed if name in followers]
    return (sum(trace.flops_of(name) for name in names),
            sum(followers[name].params for name in names))


def report_from_trace(model: str, trace: Trace, variant: Variant,
                      include_first: bool = False) -> AnalysisReport:
    """The analytic report of ``variant`` on a traced model."""
    return report_from_plan(model, trace, variant, plan(trace.convs, variant, include_first))


def report_from_plan(model: str, trace: Trace, variant: Variant,
                     decisions: list[Decision]) -> AnalysisReport:
    """The analytic report of ``variant`` on a traced model, from its per-layer plan."""
    _require_some_fit(model, variant, decisions)
    layers = layer_reports(decisions, variant)
    replaced = [layer for layer in layers if layer.substituted]
    removed_flops, removed_params = _removed_between(trace, decisions)
    flops = (trace.flops_total + sum(lr.flops_analytic - lr.flops_standard for lr in replaced)
             - removed_flops)
    params = (trace.params + sum(lr.params_variant - lr.params_standard for lr in replaced)
              - removed_params)
    return AnalysisReport(
        model=model, input_shape=trace.input_shape, variant=variant,
        baseline_flops=trace.flops_total, baseline_params=trace.params,
        flops_analytic=flops, flops_counted=None, params=params, layers=layers,
        uncounted_ops=trace.uncounted_ops,
    )


def trace_spec(spec: str, input_shape: tuple[int, ...] | None = None,
               fold_bn: bool = False) -> Trace:
    """Resolve, build (without weights) and trace the model a spec names."""
    entry = models.resolve(spec)
    shape = input_shape or entry.input_shape
    return trace_model(models.build(entry), shape, name=spec, fold_bn=fold_bn)


def explain_difference(layer: LayerReport, variant: Variant, impl: str) -> str | None:
    """Why fvcore's count of a replaced layer differs from the formulas, or ``None`` if it
    does not. A difference with no known cause is reported as such: it would be a bug."""
    assert layer.flops_counted is not None
    difference = layer.flops_counted - layer.flops_analytic
    if difference == 0:
        return None
    s = layer.shape
    if impl == "fast" and variant.is_hetconv:
        p = variant.part_for(s.in_channels)
        overhead = s.batch * formulas.fast_hetconv_overhead(s.output_size, s.in_channels,
                                                             s.out_channels, p)
        if difference == overhead:
            return (f"fast realization: its dense 1x1 conv also runs the M/P = "
                    f"{s.in_channels // p} channels that have K x K kernels, "
                    f"Do*Do*N*M/P = {overhead:,} MACs more than Eq. 4")
    return f"counted differs from analytic by {difference:+,} MACs with no known cause"


def cross_check(report: AnalysisReport, decisions: list[Decision], model, trace: Trace,
                impl: str) -> AnalysisReport:
    """Build the substituted model from ``model`` (in place) and let fvcore count it."""
    if impl not in IMPLS:
        raise InvalidArgument(f"--impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    apply(model, decisions, report.variant, impl)
    counted = trace_model(model, report.input_shape, name=report.model, fold_bn=trace.fold_bn)
    layers = []
    for layer in report.layers:
        source = counted if layer.substituted else trace
        checked = replace(layer, flops_counted=source.flops_of(layer.name))
        if layer.substituted:
            notes = [n for n in (layer.note, explain_difference(checked, report.variant, impl)) if n]
            checked = replace(checked, note="; ".join(notes) or None)
        layers.append(checked)
    return replace(report, layers=layers, flops_counted=counted.flops_total, impl=impl,
                   uncounted_ops=counted.uncounted_ops)


def analyze(spec: str, variant: Variant, input_shape: tuple[int, ...] | None = None,
            include_first: bool = False, impl: str | None = DEFAULT_IMPL,
            merge_pairs: bool = False, fold_bn: bool = False) -> AnalysisReport:
    """Analyse the model ``spec`` under ``variant``: one trace and the paper's formulas, then,
    unless ``impl`` is ``None``, fvcore's count of the model substituted with that realization.
    ``merge_pairs`` turns depthwise+pointwise pairs into one HetConv layer (paper Table 4);
    ``fold_bn`` counts BatchNorm as folded into the layer before it (see :func:`trace_model`)."""
    entry = models.resolve(spec)
    shape = input_shape or entry.input_shape
    model = models.build(entry)
    trace = trace_model(model, shape, name=spec, fold_bn=fold_bn)
    decisions = plan(trace.convs, variant, include_first, merge_pairs)
    report = report_from_plan(spec, trace, variant, decisions)
    if impl is None or variant.is_baseline:
        return report
    return cross_check(report, decisions, model, trace, impl)


def with_layer_latency(report: AnalysisReport, settings: LatencySettings, impl: str,
                       on_block=None) -> AnalysisReport:
    """Time every substituted layer alone against its standard conv (``analyze --latency``)."""
    shapes = {layer.name: layer.shape for layer in report.substituted}
    timed = layer_latencies(shapes, report.variant, settings, impl, on_block)
    layers = [replace(layer, latency_standard_ms=timed[layer.name][0].median_ms,
                      latency_variant_ms=timed[layer.name][1].median_ms)
              if layer.name in timed else layer for layer in report.layers]
    return replace(report, layers=layers, latency_settings=settings)
