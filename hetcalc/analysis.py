"""Analytic (and, when counted, fvcore-counted) cost of a model under a variant, layer by layer.

Data flows one way: model spec -> build -> trace -> plan -> formulas -> :class:`AnalysisReport`.
Nothing here prints; :mod:`hetcalc.render` turns reports into tables and JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from torch import nn

from hetcalc import realizations
from hetcalc.errors import InvalidArgument
from hetcalc.pipeline import Subject, subject
from hetcalc.substitute import DEFAULT_IMPL, IMPLS, Decision, plan
from hetcalc.trace import Trace
from hetcalc.variants import STANDARD, ConvShape, Variant, layer_cost

if TYPE_CHECKING:
    from hetcalc.settings import LatencySettings



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
    flops_counted_torch: int | None = None
    """torch's ``FlopCounterMode`` count of the layer (fvcore's is ``flops_counted``)."""
    params_kxk: int = 0
    """Weights of the layer's kernel-sized part as it runs (0 for a 1×1 conv)."""

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
    flops_counted_torch: int | None = None
    counter: str = "fvcore"
    """Which counter the baseline figures come from: fvcore, or torch when fvcore did not run."""
    notes: tuple[str, ...] = ()
    """Model-level remarks (why fvcore did not run, why nothing was replaced, ...)."""

    @property
    def params_kxk(self) -> int:
        """K×K weights over the conv layers (kept and replaced)."""
        return sum(layer.params_kxk for layer in self.layers)

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
                params_variant=cost.params, params_kxk=cost.params_kxk,
                note=f"depthwise+pointwise pair -> one HetConv {d.pair.in_channels}->"
                     f"{d.pair.out_channels} (paper Table 4)",
            ))
            continue
        cost = layer_cost(variant, s) if d.replace else baseline
        reports.append(LayerReport(
            name=d.name, shape=s, substituted=d.replace, flops_standard=standard,
            flops_analytic=cost.flops, flops_counted=None, params_standard=standard_params,
            params_variant=cost.params, params_kxk=cost.params_kxk, note=d.reason,
        ))
    return reports


def _require_some_fit(model: str, variant: Variant, decisions: list[Decision]) -> None:
    eligible = [d for d in decisions if d.eligible]
    if variant.is_baseline or not eligible or any(d.replace for d in decisions):
        return
    channels = sorted({d.shape.in_channels for d in eligible})
    listing = ", ".join(map(str, channels))
    if variant.part is not None:  # p<P>: the same P for every layer
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
    notes = (trace.fvcore_note,) if trace.fvcore_note else ()
    return AnalysisReport(
        model=model, input_shape=trace.input_shape, variant=variant,
        baseline_flops=trace.flops_total, baseline_params=trace.params,
        flops_analytic=flops, flops_counted=None, params=params, layers=layers,
        uncounted_ops=trace.uncounted_ops, counter=trace.counter, notes=notes,
    )


def trace_spec(spec: str | nn.Module, input_shape: tuple[int, ...] | None = None,
               fold_bn: bool = False) -> Trace:
    """Resolve, build (without weights) and count the model a spec names."""
    return subject(spec, input_shape).trace(fold_bn)


def explain_difference(layer: LayerReport, variant: Variant, impl: str) -> str | None:
    """Why the count of a replaced layer (fvcore's, or torch's where fvcore did not run)
    differs from the formulas, or ``None`` if it does not. A difference with no known cause is
    reported as such: it would be a bug.

    Each HetConv realization states the MACs it runs beyond Eq. 4
    (:func:`hetcalc.realizations.extra_macs`); a difference equal to that of ``impl`` is
    explained by it. ``auto`` runs, per layer, one of the pinned realizations (where nothing
    could be timed — counting on the meta device or under fvcore's trace — the one its cache
    holds for that call, else ``exact``), so its difference is matched against each of them.
    """
    counted = layer.flops_counted if layer.flops_counted is not None else layer.flops_counted_torch
    if counted is None:
        return None
    difference = counted - layer.flops_analytic
    if difference == 0:
        return None
    s = layer.shape
    if variant.is_hetconv and (impl in realizations.REALIZATIONS or impl == realizations.AUTO):
        p = variant.part_for(s.in_channels)
        candidates = realizations.PINNED if impl == realizations.AUTO else (impl,)
        for name in candidates:
            per_image = realizations.extra_macs(name, s.output_size, s.in_channels,
                                                s.out_channels, s.kernel, p)
            if per_image and difference == s.batch * per_image:
                return _overhead_note(name, impl, s, p, difference)
    return f"counted differs from analytic by {difference:+,} MACs with no known cause"


def _overhead_note(name: str, impl: str, s: ConvShape, p: int, overhead: int) -> str:
    """The sentence that names a realization's MACs beyond Eq. 4 as the cause."""
    chosen = f"auto chose {name} here; " if impl == realizations.AUTO else ""
    if name == "dense":
        return (f"{chosen}dense realization: the masked dense conv runs Eq. 1's MACs, "
                f"FL_S - FL_HC = {overhead:,} MACs more than Eq. 4")
    form = "" if name == "fast" else f" ({name})"
    return (f"{chosen}fast realization{form}: its dense 1x1 conv also runs the M/P = "
            f"{s.in_channels // p} channels that have K x K kernels, "
            f"Do*Do*N*M/P = {overhead:,} MACs more than Eq. 4")


def cross_check(report: AnalysisReport, decisions: list[Decision], source: Subject,
                trace: Trace, impl: str) -> AnalysisReport:
    """Build the substituted model with the ``impl`` realization and count it (fvcore and
    torch); every replaced layer's difference from the formulas is explained or flagged."""
    if impl not in IMPLS:
        raise InvalidArgument(f"impl must be one of {', '.join(IMPLS)}, got {impl!r}",
                              argument="impl")
    counted = source.count(decisions, report.variant, impl, trace.fold_bn)
    layers = []
    for layer in report.layers:
        origin = counted if layer.substituted else trace
        checked = replace(layer, flops_counted=origin.fvcore_of(layer.name),
                          flops_counted_torch=origin.torch_of(layer.name))
        if layer.substituted:
            notes = [n for n in (layer.note, explain_difference(checked, report.variant, impl)) if n]
            checked = replace(checked, note="; ".join(notes) or None)
        layers.append(checked)
    return replace(report, layers=layers, flops_counted=counted.fvcore_total, impl=str(impl),
                   flops_counted_torch=counted.torch_total, uncounted_ops=counted.uncounted_ops)


def analyze(model: str | nn.Module, variant: Variant, input_shape: tuple[int, ...] | None = None,
            include_first: bool = False, impl: str | None = DEFAULT_IMPL,
            merge_pairs: bool = False, fold_bn: bool = False) -> AnalysisReport:
    """Analyse ``model`` (a spec such as ``"resnet50"``, or an ``nn.Module`` with its
    ``input_shape``) under ``variant``: one count and the paper's formulas, then, unless
    ``impl`` is ``None``, fvcore's and torch's counts of the model substituted with that
    realization. ``merge_pairs`` turns depthwise+pointwise pairs into one HetConv layer (paper
    Table 4); ``fold_bn`` counts BatchNorm as folded into the layer before it (see
    :func:`hetcalc.trace.trace_model`). The caller's module is never changed."""
    source = subject(model, input_shape)
    trace = source.trace(fold_bn)
    decisions = plan(trace.convs, variant, include_first, merge_pairs)
    report = report_from_plan(source.name, trace, variant, decisions)
    if impl is None:
        return report
    if variant.is_baseline:
        return with_baseline_counts(report, trace)
    return cross_check(report, decisions, source, trace, impl)


def with_baseline_counts(report: AnalysisReport, trace: Trace) -> AnalysisReport:
    """The baseline's own counts as the counted figures (nothing was substituted)."""
    layers = [replace(layer, flops_counted=trace.fvcore_of(layer.name),
                      flops_counted_torch=trace.torch_of(layer.name)) for layer in report.layers]
    return replace(report, layers=layers, flops_counted=trace.fvcore_total,
                   flops_counted_torch=trace.torch_total)
