"""Variants side by side on one model: analytic, counted and measured, in one run.

A per-layer plan (:class:`hetcalc.plan.Plan`) may stand among the variants, as one more column
under its label (its file's name); it is costed, counted and timed the same way.

The model is counted once; each variant is then planned and costed from that count, counted on
its own substituted copy (:func:`hetcalc.analysis.cross_check`, the same check ``analyze``
makes), and, unless latency is off, timed beside the baseline, interleaved in the same process
(:func:`hetcalc.latency.measure`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from hetcalc import analysis
from hetcalc.errors import InvalidArgument
from hetcalc.infofield import compare_fields
from hetcalc.latency import (
    TIMING_IMPL,
    Latency,
    LatencySettings,
    check_fits,
    combine,
    environment,
    measure,
    time_shares,
)
from hetcalc.pipeline import Subject, subject
from hetcalc.plan.file import Plan
from hetcalc.progress import step
from hetcalc.realizations import AS_TIMED
from hetcalc.report import ModelFidelity
from hetcalc.saving import Saving, saving
from hetcalc.schemas import SCHEMA_VERSION
from hetcalc.settings import SPREAD_LIMIT
from hetcalc.shapes import InputShapes
from hetcalc.substitute import DEFAULT_IMPL, Decision, random_state_kept
from hetcalc.trace import Trace
from hetcalc.traffic import Device
from hetcalc.variants import STANDARD, Variant, info_field

if TYPE_CHECKING:
    from hetcalc.weights import Weights

BASELINE = "baseline"



@dataclass(frozen=True)
class Planned:
    """How one of the compared variants was decided: enough to build it for timing and to
    cost it again as it ran (:func:`hetcalc.analysis.costed`)."""

    variant: Variant | Plan
    decisions: list[Decision]
    include_first: bool
    merge_pairs: bool
    report: analysis.AnalysisReport


@dataclass(frozen=True)
class VariantResult:
    variant: Variant | Plan
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
    flops_counted_torch: int | None = None
    baseline_latency: Latency | None = None
    """The baseline as timed in the same interleaved run as this variant."""
    realizations: dict[str, str] | None = None
    """The HetConv realization each replaced layer ran when timed, by layer name (``auto``'s
    choices, or the pinned one); the counts above are of that model when they differ."""
    counted_note: str | None = None
    """Why ``flops_counted`` differs from ``flops_analytic`` (the realizations that ran), or
    that it does with no known cause."""
    saving: Saving | None = None
    """Where the saving goes: the ceiling, the roofline prediction (:mod:`hetcalc.saving`)."""
    fidelity: ModelFidelity | None = None
    """With trained weights: what the variant keeps of them (:mod:`hetcalc.fidelity`)."""

    @property
    def realized_of_ceiling(self) -> float | None:
        """The measured speedup as a share of the ceiling."""
        bound = None if self.saving is None else self.saving.speedup_ceiling
        if self.speedup_measured is None or bound is None:
            return None
        return self.speedup_measured / bound

    @property
    def realized(self) -> float | None:
        """Share of the theoretical speedup that the measured one reached."""
        if self.speedup_measured is None:
            return None
        gain = self.speedup_theoretical - 1
        return (self.speedup_measured - 1) / gain if gain > 0 else None

    @property
    def speedup_reliable(self) -> bool | None:
        """Whether both timings behind the measured speedup are tight enough to trust it
        (``None`` untimed)."""
        if self.latency is None or self.baseline_latency is None:
            return None
        return self.latency.reliable and self.baseline_latency.reliable


@dataclass(frozen=True)
class Comparison:
    model: str
    input_shape: tuple[int, ...]
    baseline_flops: int
    baseline_params: int
    baseline_latency: Latency | None
    variants: list[VariantResult]
    impl: str
    """The realization the variants were counted with (``auto, as timed``: each layer's own
    choice from timing, where that differs from ``exact``)."""
    latency_settings: LatencySettings | None
    counter: str = "fvcore"
    environment: dict | None = None
    """What the latencies depend on (device, threads, dtype, ...): :func:`latency.environment`."""
    timing_impl: str | None = None
    """The realization the variants were timed with (``auto`` unless one was pinned)."""
    weights: str | None = None
    """Where the trained weights came from, when given."""
    calibration: str | None = None
    """The calibration batch the fidelity figures are of, in words."""
    inputs: str | None = None
    """The forward's inputs in words when ``input_shape`` (the first tensor's) does not say
    them all (:attr:`hetcalc.inputs.Inputs.described`)."""

    def to_dict(self) -> dict:
        """The comparison as ``compare --format json`` writes it (docs/compare.md): plain dicts,
        lists, numbers and strings, for ``json.dumps`` or any other use."""
        return comparison_json(self)


def compare(model: str | nn.Module, variants: list[Variant | Plan],
            input_shape: InputShapes | None = None, include_first: bool = False,
            impl: str | None = None, latency: LatencySettings | None = None,
            merge_pairs: bool = False, fold_bn: bool = False,
            on_block: Callable[[str], None] | None = None,
            device_model: Device | None = None, weights: Weights | None = None,
            calibration: str | Path | None = None,
            example_inputs: object = None) -> Comparison:
    """Compare ``variants`` on ``model`` (a spec, or an ``nn.Module``), called as
    ``input_shape`` or ``example_inputs`` say, else as the model declares
    (:func:`hetcalc.pipeline.subject`); ``latency=None`` skips timing.

    Timing holds at most two models at once: the baseline and one variant, built, timed
    interleaved, and freed before the next is built. The baseline's latency is the median over
    those runs; each variant's measured speedup is against the baseline of its own run.

    ``impl`` pins one HetConv realization for counting and timing alike. Without it, each
    variant is counted with ``exact`` (Eq. 4 to the MAC) and timed with ``auto`` (the fastest
    realization per layer here, :data:`hetcalc.latency.TIMING_IMPL`); where ``auto`` ran a
    realization that executes more MACs than Eq. 4, the variant is counted again as it ran, so
    the counted column is what was timed, and ``counted_note`` says why it differs.

    A plan is refused if it names another model; it takes its layers as they are named
    (``include_first`` and ``merge_pairs`` apply to the variants only).

    Each variant's saving is explained (:mod:`hetcalc.saving`): with timing, its ceiling from
    the baseline's own profile; with ``device_model``, the conv layers' roofline prediction.

    Torch's random state (CPU, and CUDA's where timing uses it) is as it was afterwards,
    although timing draws random weights and inputs (:func:`hetcalc.substitute.random_state_kept`);
    ``model`` is never changed, and its hooks do not fire while it is counted.

    ``weights`` (and ``calibration``) add each variant's fidelity figures, as
    :func:`hetcalc.analysis.analyze` does (:mod:`hetcalc.fidelity`).
    """
    with random_state_kept(cuda=latency is not None and latency.device != "cpu"):
        return _compare(model, variants, (input_shape, example_inputs), include_first, impl,
                        latency, merge_pairs, fold_bn, on_block, device_model, weights,
                        calibration)


def _compare(model: str | nn.Module, variants: list[Variant | Plan],
             inputs: tuple[InputShapes | None, object], include_first: bool, impl: str | None,
             latency: LatencySettings | None, merge_pairs: bool, fold_bn: bool,
             on_block: Callable[[str], None] | None, device_model: Device | None,
             weights: Weights | None = None,
             calibration: str | Path | None = None) -> Comparison:
    count_impl = DEFAULT_IMPL.value if impl is None else impl
    time_impl = TIMING_IMPL.value if impl is None else impl
    if latency is not None:
        latency.validate()
    labels = [variant.spec for variant in variants]
    repeated = sorted({label for label in labels if labels.count(label) > 1
                       and any(isinstance(v, Plan) and v.spec == label for v in variants)})
    if repeated:
        raise InvalidArgument(f"variants: two plans share the label {repeated[0]!r}; give the "
                              "files distinct names", argument="variants")
    for variant in variants:
        if isinstance(variant, Plan) and isinstance(model, str):
            variant.check_model(model)
    source = subject(model, inputs[0], example_inputs=inputs[1])
    loaded = None
    if weights is not None and weights.given:  # a bad file fails before the model is traced
        from hetcalc.fidelity import load_trained

        loaded = load_trained(source, weights, calibration)
    trace = source.trace(fold_bn)
    if latency is not None:
        check_fits(trace.largest_output, source.input_shape[0], latency)

    results: list[VariantResult] = []
    plans: dict[str, Planned] = {}
    for variant in variants:
        merge = merge_pairs and not isinstance(variant, Plan)
        done = analysis.costed(source, trace, variant, include_first, merge, count_impl)
        decisions, report = done.decisions, done.report
        plans[variant.spec] = Planned(variant, decisions, include_first, merge, report)
        results.append(VariantResult(
            variant=variant, label=variant.spec, flops_analytic=report.flops_analytic,
            flops_counted=report.flops_counted, params=report.params,
            reduction=report.reduction, params_reduction=report.params_reduction,
            speedup_theoretical=report.speedup, sequential_depth=variant.sequential_depth,
            info_field=info_field_summary(decisions),
            flops_counted_torch=report.flops_counted_torch,
            fidelity=None if loaded is None else _fidelity(loaded, decisions),
        ))

    baseline_latency = None
    shares = None
    if latency is not None:
        baseline_model = source.runnable()
        baseline_runs: list[Latency] = []
        measured: dict[str, tuple[Latency, Latency]] = {}
        for label, planned in plans.items():
            if planned.variant.is_baseline:
                continue
            candidate = source.runnable(planned.decisions, time_impl)
            timed = measure({BASELINE: baseline_model, label: candidate}, source.inputs,
                            latency, on_block)
            del candidate
            baseline_runs.append(timed[BASELINE])
            measured[label] = (timed[label], timed[BASELINE])
        if not baseline_runs:  # only baseline variants: time the baseline alone
            baseline_runs.append(measure({BASELINE: baseline_model}, source.inputs,
                                         latency, on_block)[BASELINE])
        baseline_latency = combine(baseline_runs)
        step("profiling the baseline's layers (the ceiling's time shares)")
        shares = time_shares(baseline_model, source.inputs,
                             [call.name for call in trace.convs], latency)
        results = [_with_latency(r, *measured.get(r.label, (baseline_latency, baseline_latency)))
                   for r in results]
        results = [_as_timed(r, plans[r.label], source, trace, count_impl) for r in results]
    if device_model is None and latency is not None:  # predict on the device timed here
        from hetcalc.devices_measure import measure_device

        step("this machine's peak MAC/s and bandwidth (measured once, then cached)")
        device_model = measure_device(latency.device, latency.threads, (latency.dtype,))
    name = getattr(device_model, "name", None)
    here = bool(getattr(device_model, "environment", None))  # measured, not from a datasheet
    results = [replace(r, saving=saving(plans[r.label].report, shares, device_model, name, here))
               for r in results]
    counted_with = count_impl
    if any(r.realizations and set(r.realizations.values()) != {count_impl} for r in results):
        counted_with = AS_TIMED
    return Comparison(source.name, tuple(source.input_shape), trace.flops_total, trace.params,
                      baseline_latency, results, str(counted_with), latency,
                      counter=trace.counter,
                      environment=None if latency is None else environment(latency),
                      timing_impl=None if latency is None else str(time_impl),
                      weights=None if loaded is None else loaded.weights,
                      calibration=None if loaded is None else loaded.calibration,
                      inputs=trace.inputs)


def _fidelity(loaded, decisions: list[Decision]) -> ModelFidelity:
    from hetcalc.fidelity import measure

    return measure(loaded.model, decisions, loaded.inputs, loaded.weights,
                   loaded.calibration).model


def _as_timed(result: VariantResult, planned: Planned, source: Subject, trace: Trace,
              count_impl: str) -> VariantResult:
    """The variant with the realization each replaced layer ran when timed, and counted again
    as it ran where that is not what it was counted with."""
    if result.latency is None or planned.variant.is_baseline:
        return result
    ran = _by_layer(result.latency.realizations, planned.decisions)
    if set(ran.values()) <= {count_impl}:  # nothing ran, or only what was counted
        return replace(result, realizations=ran)
    checked = analysis.costed(source, trace, planned.variant, planned.include_first,
                              planned.merge_pairs, impl=ran).report
    return replace(result, realizations=ran, flops_counted=checked.flops_counted,
                   flops_counted_torch=checked.flops_counted_torch,
                   counted_note=_counted_note(result.label, ran, checked))


def _by_layer(ran: tuple[tuple[str, str], ...], decisions: list[Decision]) -> dict[str, str]:
    """Module-name realizations (``features.3``, ``layer1.0.conv2.0`` under an SE wrapper, a
    grouped layer's parts) -> the realization of each replaced layer, by its decision's name."""
    by_layer: dict[str, str] = {}
    for d in decisions:
        if not d.replace or d.merged_into is not None:
            continue
        own = {impl for name, impl in ran if name == d.name or name.startswith(f"{d.name}.")}
        if own:  # one signature, one choice: a grouped layer's parts agree
            by_layer[d.name] = ",".join(sorted(own))
    return by_layer


def _counted_note(label: str, ran: dict[str, str], checked: analysis.AnalysisReport) -> str:
    """Which realizations ran, and whether their MACs beyond Eq. 4 explain the count."""
    tally: dict[str, int] = {}
    for impl in ran.values():
        tally[impl] = tally.get(impl, 0) + 1
    listing = ", ".join(f"{impl} in {n}" for impl, n in sorted(tally.items(),
                                                                key=lambda kv: -kv[1]))
    difference = (checked.flops_counted or 0) - checked.flops_analytic
    unexplained = [layer.name for layer in checked.layers
                   if layer.note and "no known cause" in layer.note]
    if unexplained:
        return (f"{label}: counted as timed ({listing} of {len(ran)} layers) differs from "
                f"analytic by {difference:+,} MACs with no known cause in "
                f"{', '.join(unexplained[:3])}")
    if difference == 0:
        return f"{label}: timed as {listing} of {len(ran)} layers; counted = analytic"
    return (f"{label}: timed as {listing} of {len(ran)} layers (auto's choices); counted is "
            f"that model, {difference:+,} MACs over Eq. 4 from the realizations that run a "
            "dense 1x1 or the masked dense conv (docs/modules.md)")


def info_field_summary(decisions: list[Decision]) -> str:
    """How the information field of each replaced layer (under its decision's variant) compares
    with the standard conv's (second paper, Definition 1): ``same``, or e.g. ``smaller in 3 of
    12 layers``."""
    replaced = [d for d in decisions if d.replace and d.merged_into is None]
    if not replaced:
        return "same (nothing replaced)"
    if any(d.shape.dims > 2 for d in replaced):
        return "not defined for 3-D layers (the second paper's fields are 2-D)"
    counts: dict[str, int] = {}
    for d in replaced:
        shape = d.pair or d.shape
        field = info_field(d.variant, shape)
        reference = info_field(STANDARD, shape)
        relation = compare_fields(field, reference).name.lower()
        counts[relation] = counts.get(relation, 0) + 1
    if set(counts) == {"equal"}:
        return f"same as standard ({len(replaced)} layer{'s' if len(replaced) > 1 else ''})"
    return ", ".join(f"{relation} in {n} of {len(replaced)} layers"
                     for relation, n in sorted(counts.items()))


def _with_latency(result: VariantResult, measured: Latency, baseline: Latency) -> VariantResult:
    """``baseline`` is the baseline as timed beside ``measured``, in the same run."""
    return replace(result, latency=measured, baseline_latency=baseline,
                   speedup_measured=baseline.median_ms / measured.median_ms)



# -- the JSON of compare (docs/compare.md): Comparison.to_dict() -----------------------------

def _spread(latency: Latency | None) -> dict:
    """A latency's interquartile range and whether it is tight enough to trust its ratio."""
    if latency is None:
        return {"latency_iqr_ms": None, "latency_reliable": None}
    return {"latency_iqr_ms": latency.iqr_ms, "latency_reliable": latency.reliable}


def _saving_json(r: VariantResult) -> dict:
    """Where the saving goes (:mod:`hetcalc.saving`): the ceiling, the prediction, the share."""
    found = r.saving
    if found is None:
        return {}
    return {"speedup_ceiling": found.speedup_ceiling,
            "replaced_time_share": found.replaced_time_share,
            "replaced_mac_ratio": found.replaced_mac_ratio,
            "speedup_predicted": found.speedup_predicted,
            "predicted_ms": found.predicted_ms,
            "predicted_standard_ms": found.predicted_standard_ms,
            "realized_of_ceiling": r.realized_of_ceiling,
            "realization_extra_bytes": found.extra_bytes}


def _variant_json(r: VariantResult) -> dict:
    return {
        "variant": r.label,
        "flops_analytic": r.flops_analytic,
        "flops_counted": r.flops_counted,
        "flops_counted_torch": r.flops_counted_torch,
        "params": r.params,
        "reduction": r.reduction,
        "speedup_theoretical": r.speedup_theoretical,
        "sequential_depth": r.sequential_depth,
        "info_field": r.info_field,
        "latency_ms": r.latency.median_ms if r.latency else None,
        "speedup_measured": r.speedup_measured,
        "baseline_latency_ms": r.baseline_latency.median_ms if r.baseline_latency else None,
        **_spread(r.latency),
        "baseline_latency_iqr_ms": r.baseline_latency.iqr_ms if r.baseline_latency else None,
        "speedup_reliable": r.speedup_reliable,
        "realizations": r.realizations,
        "counted_note": r.counted_note,
        "residue_carried": None if r.latency is None else [list(p) for p in r.latency.carried],
        **_saving_json(r),
        **({} if r.fidelity is None else r.fidelity.as_dict()),
    }


def comparison_json(c: Comparison) -> dict:
    """The stable ``compare --format json`` object (docs/compare.md, its schema
    ``hetcalc/schemas/compare.json``); ``device_model`` only with ``--device-spec``."""
    device = next((r.saving.device for r in c.variants
                   if r.saving is not None and r.saving.device), None)
    return {
        "schema_version": SCHEMA_VERSION,
        "model": c.model,
        "input_shape": list(c.input_shape),
        "unit": "MAC",
        "counter": c.counter,
        "baseline": {"flops": c.baseline_flops, "params": c.baseline_params,
                     "latency_ms": c.baseline_latency.median_ms if c.baseline_latency else None,
                     **_spread(c.baseline_latency)},
        "variants": [_variant_json(r) for r in c.variants],
        "counted_impl": c.impl,
        "environment": None if c.environment is None else {
            **c.environment, "impl": c.timing_impl, "spread_limit": SPREAD_LIMIT,
            **({} if c.latency_settings is None else {
                "time_budget_s": c.latency_settings.min_run_time,
                "rounds": c.latency_settings.rounds})},
    } | ({} if device is None else {"device_model": device}) | (
        {} if c.weights is None else {"weights": {"file": c.weights,
                                                  "calibration": c.calibration}})
