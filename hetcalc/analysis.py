"""Analytic (and, when counted, fvcore-counted) cost of a model under a variant, layer by layer.

Data flows one way: model spec -> build -> trace -> plan -> formulas -> :class:`AnalysisReport`.
Nothing here prints; :mod:`hetcalc.render` turns reports into tables and JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from hetcalc import realizations
from hetcalc.errors import InvalidArgument
from hetcalc.modtree import check_depth, module_tree
from hetcalc.pipeline import Subject, subject
from hetcalc.plan.file import Plan
from hetcalc.report import AnalysisReport, LayerReport
from hetcalc.shapes import POSITIONS, InputShapes
from hetcalc.substitute import (
    DEFAULT_IMPL,
    IMPLS,
    RULES,
    Assignment,
    Decision,
    decide,
    mergeable_pairs,
)
from hetcalc.trace import Trace
from hetcalc.variants import STANDARD, ConvShape, Variant, layer_cost

if TYPE_CHECKING:
    from hetcalc.weights import Weights

__all__ = ["AnalysisReport", "LayerReport", "Costed", "analyze", "costed", "cross_check",
           "explain_difference", "report_from_decisions", "report_from_trace", "trace_spec",
           "with_baseline_counts"]


def layer_reports(decisions: list[Decision]) -> list[LayerReport]:
    """Analytic cost of every planned layer under its decision's variant; kept layers cost what
    they cost (Eq. 1 for groups=1)."""
    reports = []
    for d in decisions:
        s, variant = d.shape, d.variant
        baseline = layer_cost(STANDARD, s)
        standard, standard_params = baseline.flops, baseline.params
        if d.merged_into is not None:  # the pointwise half of a merged pair: gone
            reports.append(LayerReport(
                name=d.name, shape=s, substituted=True, flops_standard=standard,
                flops_analytic=0, flops_counted=None, params_standard=standard_params,
                params_variant=0, note=f"pointwise conv merged into {d.merged_into}",
                variant=variant, merged_into=d.merged_into,
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
                variant=variant, runs=d.pair,
            ))
            continue
        cost = layer_cost(variant, s) if d.replace else baseline
        # a shared conv (kept) costs its first call's MACs times its calls' volume over the first's
        reports.append(LayerReport(
            name=d.name, shape=s, substituted=d.replace, flops_standard=int(standard * d.scale),
            flops_analytic=int(cost.flops * d.scale), flops_counted=None,
            params_standard=standard_params, params_variant=cost.params,
            params_kxk=cost.params_kxk, note=d.reason,
            variant=variant if d.replace else STANDARD,
        ))
    return reports


def kept_by_rule(decisions: list[Decision]) -> dict[str, int]:
    """How many conv layers each rule kept standard (:data:`hetcalc.substitute.RULES`)."""
    counts = Counter(d.rule for d in decisions if not d.replace and d.rule is not None)
    return {rule: counts[rule] for rule in RULES if counts[rule]}


def _nothing_replaced(variant: Variant | Mapping[str, Variant], trace: Trace,
                      decisions: list[Decision], merge_pairs: bool) -> str | None:
    """Why a variant replaced no layer, and what to try, or ``None`` when it replaced some (or
    is a per-layer plan, which replaces what it names)."""
    if (isinstance(variant, Mapping) or variant.is_baseline
            or any(d.replace for d in decisions)):
        return None
    kept = kept_by_rule(decisions)
    rules = ", ".join(f"{n} {RULES[rule]}" for rule, n in kept.items()) or "no conv layers"
    text = f"nothing replaced: {variant.spec} changed no layer of {len(decisions)} convs ({rules})"
    fits = [d for d in decisions if d.rule == "variant"]
    if fits:
        channels = ", ".join(map(str, sorted({d.shape.in_channels for d in fits})))
        text += f"; where it does not fit: {fits[0].reason} (input channels there: {channels})"
    pairs = mergeable_pairs(trace.convs)
    if pairs and not merge_pairs and variant.is_hetconv:
        text += (f"; the model has {pairs} depthwise+pointwise pairs: try --merge-dw-pw "
                 "(one HetConv layer per pair, paper Table 4)")
    elif kept.get("depthwise") and not pairs:
        text += (f"; its {kept['depthwise']} depthwise convs are not followed directly by a "
                 "pointwise conv (a squeeze-and-excitation block or other layers sit between, "
                 "which one HetConv layer has no place for), so --merge-dw-pw has no pair to "
                 "merge either: this model has no layer HetConv can make cheaper")
    return text


def _removed_between(trace: Trace, decisions: list[Decision]) -> tuple[int, int]:
    """MACs (fvcore's count) and params of the modules between merged DW+PW pairs (their BN),
    which go with the pair."""
    followers = {f.name: f for call in trace.convs for f in call.followed_by}
    names = [name for d in decisions for name in d.removed if name in followers]
    return (sum(trace.flops_of(name) for name in names),
            sum(followers[name].params for name in names))


def report_from_trace(model: str, trace: Trace, variant: Assignment,
                      include_first: bool = False) -> AnalysisReport:
    """The analytic report of ``variant`` (or of a per-layer plan) on a traced model."""
    return report_from_decisions(model, trace, variant,
                                 decide(trace.convs, variant, include_first))


def report_from_decisions(model: str, trace: Trace, variant: Assignment, decisions: list[Decision],
                     merge_pairs: bool = False) -> AnalysisReport:
    """The analytic report of ``variant`` on a traced model, from its decisions (each layer
    costed under its own decision's variant). ``variant`` is what was planned: one variant, or
    a per-layer plan (mapping name -> variant), which the report names by its ``spec``."""
    layers = layer_reports(decisions)
    replaced = [layer for layer in layers if layer.substituted]
    removed_flops, removed_params = _removed_between(trace, decisions)
    flops = (trace.flops_total + sum(lr.flops_analytic - lr.flops_standard for lr in replaced)
             - removed_flops)
    params = (trace.params + sum(lr.params_variant - lr.params_standard for lr in replaced)
              - removed_params)
    notes = tuple(n for n in (trace.fvcore_note,
                              _nothing_replaced(variant, trace, decisions, merge_pairs)) if n)
    per_layer = _as_plan(variant) if isinstance(variant, Mapping) else None
    return AnalysisReport(
        model=model, input_shape=trace.input_shape,
        variant=STANDARD if per_layer is not None else variant,
        baseline_flops=trace.flops_total, baseline_params=trace.params,
        flops_analytic=flops, flops_counted=None, params=params, layers=layers,
        uncounted_ops=trace.uncounted_ops, counter=trace.counter, notes=notes,
        activation_bytes=trace.activation_bytes,
        kept=kept_by_rule(decisions), plan=per_layer, inputs=trace.inputs,
    )


def _as_plan(layers: Mapping[str, Variant]) -> Plan:
    return layers if isinstance(layers, Plan) else Plan(layers)


def trace_spec(spec: str | nn.Module, input_shape: InputShapes | None = None,
               fold_bn: bool = False) -> Trace:
    """Resolve, build (without weights) and count the model a spec names."""
    return subject(spec, input_shape).trace(fold_bn)


def explain_difference(layer: LayerReport, variant: Variant, impl: str,
                       chosen_by_auto: bool = False) -> str | None:
    """Why the count of a replaced layer (fvcore's, or torch's where fvcore did not run)
    differs from the formulas, or ``None`` if it does not. A difference with no known cause is
    reported as such: it would be a bug.

    Each HetConv realization states the MACs it runs beyond Eq. 4
    (:func:`hetcalc.realizations.extra_macs`); a difference equal to that of ``impl`` is
    explained by it. ``auto`` runs, per layer, one of the pinned realizations (where nothing
    could be timed — counting on the meta device or under fvcore's trace — the one its cache
    holds for that call, else ``exact``), so its difference is matched against each of them.
    ``chosen_by_auto``: ``impl`` is the realization ``auto`` chose for the layer when it was
    timed (the note says so).
    """
    counted = layer.flops_counted if layer.flops_counted is not None else layer.flops_counted_torch
    if counted is None:
        return None
    difference = counted - layer.flops_analytic
    if difference == 0:
        return None
    s = layer.run_shape
    if variant.is_hetconv and (impl in realizations.REALIZATIONS or impl == realizations.AUTO):
        p = variant.part_for(s.in_channels // s.groups)
        candidates = realizations.PINNED if impl == realizations.AUTO else (impl,)
        for name in candidates:
            extra = realizations.layer_extra_macs(name, s, p)
            if extra and difference == extra:
                return _overhead_note(name, realizations.AUTO if chosen_by_auto else impl,
                                      s, p, difference)
    return f"counted differs from analytic by {difference:+,} MACs with no known cause"


def _overhead_note(name: str, impl: str, s: ConvShape, p: int, overhead: int) -> str:
    """The sentence that names a realization's MACs beyond Eq. 4 as the cause."""
    chosen = f"auto chose {name} here; " if impl == realizations.AUTO else ""
    if name == "dense":
        return (f"{chosen}dense realization: the masked dense conv runs Eq. 1's MACs, "
                f"FL_S - FL_HC = {overhead:,} MACs more than Eq. 4")
    form = "" if name == "fast" else f" ({name})"
    if s.groups > 1:
        return (f"{chosen}fast realization{form}: in each of its {s.groups} groups the dense 1x1 "
                f"weight also multiplies the M/P = {s.in_channels // s.groups // p} channels that have "
                f"K x K kernels, g*{POSITIONS[s.dims]}*(N/g)*(M/g)/P = {overhead:,} MACs more "
                "than Eq. 4")
    return (f"{chosen}fast realization{form}: its dense 1x1 weight also multiplies the M/P = "
            f"{s.in_channels // p} channels that have K x K kernels, "
            f"{POSITIONS[s.dims]}*N*M/P = {overhead:,} MACs more than Eq. 4")


def cross_check(report: AnalysisReport, decisions: list[Decision], source: Subject,
                trace: Trace, impl: str | Mapping[str, str],
                tree: int | None = None) -> AnalysisReport:
    """Build the substituted model with the ``impl`` realization and count it (fvcore and
    torch); every replaced layer's difference from the formulas is explained or flagged.

    ``impl`` may map layer names to the realizations ``auto`` chose for them when the model
    was timed (layers it does not name take ``exact``): the count is then of what ran.
    ``tree``: also the module tree to that depth, both models' counts side by side."""
    chosen = dict(impl) if isinstance(impl, Mapping) else None
    for name in (chosen.values() if chosen is not None else (impl,)):
        if name not in IMPLS:
            raise InvalidArgument(f"impl must be one of {', '.join(IMPLS)}, got {name!r}",
                                  argument="impl")
    counted = source.count(decisions, impl, trace.fold_bn)
    layers = []
    for layer in report.layers:
        origin = counted if layer.substituted else trace
        checked = replace(layer, flops_counted=origin.fvcore_of(layer.name),
                          flops_counted_torch=origin.torch_of(layer.name))
        if layer.substituted:
            own = chosen.get(layer.name, DEFAULT_IMPL) if chosen is not None else str(impl)
            why = explain_difference(checked, layer.variant, own, chosen_by_auto=bool(chosen))
            notes = [n for n in (layer.note, why) if n]
            checked = replace(checked, note="; ".join(notes) or None)
        layers.append(checked)
    return replace(report, layers=layers, flops_counted=counted.fvcore_total,
                   activation_bytes_variant=counted.activation_bytes,
                   impl=realizations.AS_TIMED if chosen is not None else str(impl),
                   flops_counted_torch=counted.torch_total,
                   uncounted_ops_variant=counted.uncounted_ops,
                   tree=None if tree is None else module_tree(trace, counted, tree))


def analyze(model: str | nn.Module, variant: Assignment,
            input_shape: InputShapes | None = None, include_first: bool = False,
            impl: str | Mapping[str, str] | None = DEFAULT_IMPL, merge_pairs: bool = False,
            fold_bn: bool = False,
            timed: Callable[[AnalysisReport], AnalysisReport] | None = None,
            weights: Weights | None = None,
            calibration: str | Path | None = None,
            tree: int | None = None, example_inputs: object = None) -> AnalysisReport:
    """Analyse ``model`` (a spec such as ``"resnet50"``, or an ``nn.Module``) under
    ``variant``, its forward called on zero inputs of ``input_shape`` (one shape, or a list of
    several for several positional tensors) or shaped as ``example_inputs`` (a tensor, a tuple,
    a dict of keyword inputs, or ``(args, kwargs)``), else as the model declares
    (:func:`hetcalc.pipeline.subject`): one count and the paper's formulas, then, unless
    ``impl`` is ``None``, fvcore's and torch's counts of the model substituted with that
    realization (or, per layer, a mapping's: see :func:`cross_check`). ``merge_pairs`` turns
    depthwise+pointwise pairs into one HetConv layer (paper Table 4); ``fold_bn`` counts
    BatchNorm as folded into the layer before it (see :func:`hetcalc.trace.trace_model`). The
    caller's module is never changed.

    ``variant`` may be a per-layer plan (a :class:`~hetcalc.plan.Plan`, or a mapping layer name
    -> variant): each named layer takes its variant, the others stay standard. A plan made for
    another model is refused; without ``input_shape`` the plan's own is used, when it has one.

    ``timed`` (``analyze --latency``: :func:`hetcalc.latency.with_layer_latency`) adds measured
    latencies to the report before anything is counted; the count is then of what ran where
    ``auto`` ran a realization other than ``impl`` (see :func:`cross_check`), from the same trace.

    ``weights`` (a file, or torchvision's cached weights: :class:`hetcalc.weights.Weights`)
    adds the fidelity figures (:mod:`hetcalc.fidelity`) on a calibration batch: seeded random
    inputs, or the tensor in the file ``calibration``. Only then are weights loaded.
    ``tree`` (``analyze --tree --depth N``): the report also carries the module tree to that
    depth (0: the model alone), each module's MACs, params and output shape beside the
    substituted model's at the same name (:mod:`hetcalc.modtree`; not counted with ``impl=None``).
    """
    if tree is not None:
        tree = check_depth(tree)
    if isinstance(variant, Plan):
        if isinstance(model, str):
            variant.check_model(model)
        if input_shape is None and example_inputs is None:
            input_shape = variant.input_shape
    source = subject(model, input_shape, example_inputs=example_inputs)
    loaded = None
    if weights is not None and weights.given:  # a bad file fails before the model is traced
        from hetcalc.fidelity import load_trained

        loaded = load_trained(source, weights, calibration)
    trace = source.trace(fold_bn)
    found = costed(source, trace, variant, include_first, merge_pairs, impl, timed, tree)
    if loaded is None:
        return found.report
    from hetcalc.fidelity import with_fidelity

    return with_fidelity(found.report, found.decisions, loaded)


@dataclass(frozen=True)
class Costed:
    """One variant (or per-layer plan) on one traced model: each conv layer's decision, and
    the report (analytic, and counted where it was asked for)."""

    decisions: list[Decision]
    report: AnalysisReport


def costed(source: Subject, trace: Trace, variant: Assignment, include_first: bool = False,
           merge_pairs: bool = False, impl: str | Mapping[str, str] | None = None,
           timed: Callable[[AnalysisReport], AnalysisReport] | None = None,
           tree: int | None = None) -> Costed:
    """The one path from a traced model to a report, which ``analyze``, ``compare``, the
    planner, budget checks and latency all take: decide every layer
    (:func:`hetcalc.substitute.decide`), cost it by the formulas (:func:`report_from_decisions`),
    time it (``timed``, optional), then, unless ``impl`` is ``None``, count it: the substituted
    model built with ``impl`` and counted (:func:`cross_check`, of what ran where ``timed``
    recorded ``auto``'s choices), or the baseline's own counts where nothing is replaced.
    ``tree``: the report carries the module tree to that depth (the substituted model's column
    ``None`` when it is not counted)."""
    decisions = decide(trace.convs, variant, include_first, merge_pairs)
    report = report_from_decisions(source.name, trace, variant, decisions, merge_pairs)
    if timed is not None:
        report = timed(report)
    if impl is None:
        return Costed(decisions, report if tree is None
                      else replace(report, tree=module_tree(trace, None, tree)))
    if variant.is_baseline if isinstance(variant, Variant) else not any(d.replace
                                                                         for d in decisions):
        return Costed(decisions, with_baseline_counts(report, trace, tree))
    return Costed(decisions, cross_check(report, decisions, source, trace, _as_run(report, impl),
                                         tree))


def _as_run(report: AnalysisReport, impl: str | Mapping[str, str]) -> str | Mapping[str, str]:
    """What to count: ``impl``, or, for a timed report whose layers ran another realization
    (``auto``'s choices), each layer's realization as it ran."""
    ran = {layer.name: layer.realization for layer in report.layers
           if layer.realization in realizations.REALIZATIONS}
    if isinstance(impl, Mapping) or not ran or set(ran.values()) == {impl}:
        return impl
    return ran


def with_baseline_counts(report: AnalysisReport, trace: Trace,
                         tree: int | None = None) -> AnalysisReport:
    """The baseline's own counts as the counted figures (nothing was substituted); ``tree``:
    with the module tree to that depth, the baseline's figures in both columns."""
    layers = [replace(layer, flops_counted=trace.fvcore_of(layer.name),
                      flops_counted_torch=trace.torch_of(layer.name)) for layer in report.layers]
    return replace(report, layers=layers, flops_counted=trace.fvcore_total,
                   flops_counted_torch=trace.torch_total,
                   activation_bytes_variant=trace.activation_bytes,
                   tree=None if tree is None else module_tree(trace, trace, tree))
