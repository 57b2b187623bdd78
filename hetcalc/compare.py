"""Variants side by side on one model: analytic, counted and measured, in one run.

The model is traced once; each variant is then planned and costed from that trace, counted by
fvcore on its own substituted (storage-free) copy, and, unless latency is off, timed together
with the baseline, interleaved in the same process (:func:`hetcalc.latency.measure`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from hetcalc import analysis, models
from hetcalc.infofield import compare_fields
from hetcalc.latency import Latency, LatencySettings, measure
from hetcalc.substitute import DEFAULT_IMPL, Decision, apply, plan
from hetcalc.trace import trace_model
from hetcalc.variants import Kind, Variant, info_field

STANDARD = Variant(Kind.STANDARD)

BASELINE = "baseline"

TABLE1_VARIANTS = "p1,p2,p4,p8,p16,p32,p64,pc,gwc4,dwc"
"""The paper's Table 1 set: the default of ``hetcalc compare``."""


@dataclass(frozen=True)
class VariantResult:
    variant: Variant
    label: str
    flops_analytic: int
    flops_counted: int | None
    params: int
    reduction: float
    params_reduction: float
    speedup_theoretical: float
    sequential_depth: int
    info_field: str
    latency: Latency | None = None
    speedup_measured: float | None = None

    @property
    def realized(self) -> float | None:
        """Share of the theoretical speedup that the measured one reached."""
        if self.speedup_measured is None:
            return None
        gain = self.speedup_theoretical - 1
        return (self.speedup_measured - 1) / gain if gain > 0 else None


@dataclass(frozen=True)
class Comparison:
    model: str
    input_shape: tuple[int, ...]
    baseline_flops: int
    baseline_params: int
    baseline_latency: Latency | None
    variants: list[VariantResult]
    impl: str
    latency_settings: LatencySettings | None


def compare(spec: str, variants: list[Variant], input_shape: tuple[int, ...] | None = None,
            include_first: bool = False, impl: str = DEFAULT_IMPL,
            latency: LatencySettings | None = None, merge_pairs: bool = False,
            fold_bn: bool = False,
            on_block: Callable[[str], None] | None = None) -> Comparison:
    """Compare ``variants`` on model ``spec``; ``latency=None`` skips timing."""
    entry = models.resolve(spec)
    shape = input_shape or entry.input_shape
    trace = trace_model(models.build(entry), shape, name=spec, fold_bn=fold_bn)

    results: list[VariantResult] = []
    plans = {}
    for variant in variants:
        decisions = plan(trace.convs, variant, include_first, merge_pairs)
        report = analysis.report_from_plan(spec, trace, variant, decisions)
        if not variant.is_baseline:
            copy = apply(models.build(entry), decisions, variant, impl)
            counted = trace_model(copy, shape, name=spec, fold_bn=fold_bn).flops_total
        else:
            counted = trace.flops_total
        plans[variant.spec] = (variant, decisions)
        results.append(VariantResult(
            variant=variant, label=variant.spec, flops_analytic=report.flops_analytic,
            flops_counted=counted, params=report.params, reduction=report.reduction,
            params_reduction=report.params_reduction, speedup_theoretical=report.speedup,
            sequential_depth=variant.sequential_depth,
            info_field=info_field_summary(variant, decisions),
        ))

    baseline_latency = None
    if latency is not None:
        latency.validate()
        timed = {BASELINE: models.build(entry, weights="random")}
        for label, (variant, decisions) in plans.items():
            if not variant.is_baseline:
                timed[label] = apply(models.build(entry, weights="random"), decisions, variant,
                                     impl)
        measured = measure(timed, shape, latency, on_block)
        baseline_latency = measured[BASELINE]
        results = [_with_latency(r, measured.get(r.label, baseline_latency), baseline_latency)
                   for r in results]
    return Comparison(spec, tuple(shape), trace.flops_total, trace.params, baseline_latency,
                      results, str(impl), latency)


def info_field_summary(variant: Variant, decisions: list[Decision]) -> str:
    """How the variant's information field compares with the standard conv's, over the layers
    it replaces (second paper, Definition 1): ``same``, or e.g. ``smaller in 3 of 12 layers``."""
    replaced = [d for d in decisions if d.replace and d.merged_into is None]
    if not replaced:
        return "same (nothing replaced)"
    if any(d.shape.dims > 2 for d in replaced):
        return "not defined for 3-D layers (the second paper's fields are 2-D)"
    counts: dict[str, int] = {}
    for d in replaced:
        shape = d.pair or d.shape
        field = info_field(variant, shape)
        reference = info_field(STANDARD, shape)
        relation = compare_fields(field, reference).name.lower()
        counts[relation] = counts.get(relation, 0) + 1
    if set(counts) == {"equal"}:
        return f"same as standard ({len(replaced)} layers)"
    return ", ".join(f"{relation} in {n} of {len(replaced)} layers"
                     for relation, n in sorted(counts.items()))


def _with_latency(result: VariantResult, measured: Latency, baseline: Latency) -> VariantResult:
    return replace(result, latency=measured,
                   speedup_measured=baseline.median_ms / measured.median_ms)

