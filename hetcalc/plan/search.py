"""The mildest per-layer plan that meets a budget (``hetcalc plan``).

Every eligible conv layer (the rules of :mod:`hetcalc.substitute`) offers its candidates:
``std`` and each chosen variant that fits it (by default HetConv with P = 2, 4, 8, ... where P
divides both its input and output channels). Choosing a candidate changes the model's MACs,
params and (when timed) latency by what that layer changes; everything else in the model costs
what it costs, a constant. Of all plans within every budget, the one that keeps the most K×K
kernel weights (the sum of ``params_kxk``) wins: the weights a fine-tune from pretrained weights
starts from (docs/plan.md says why). Ties go to the plan changing fewer layers, then to the one
with the lower costs. :mod:`hetcalc.plan.solve` finds it exactly.

With a latency budget, the baseline model is timed whole, each candidate layer alone against
its standard conv (:mod:`hetcalc.plan.timing`), and a plan's predicted latency is the
baseline's minus what its layers save; the plan is then timed whole beside the baseline, and
both figures are reported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from torch import nn

from hetcalc import analysis
from hetcalc.budget.schema import Metric
from hetcalc.errors import InvalidArgument
from hetcalc.latency import (
    TIMING_IMPL,
    Latency,
    LatencySettings,
    check_fits,
    environment,
    measure,
)
from hetcalc.pipeline import subject
from hetcalc.plan.budget import Budget, objective, show
from hetcalc.plan.file import Plan
from hetcalc.plan.solve import Option, lowest, solve
from hetcalc.plan.timing import candidate_latencies
from hetcalc.schemas import SCHEMA_VERSION
from hetcalc.shapes import InputShapes, TensorShape
from hetcalc.substitute import eligibility, random_state_kept
from hetcalc.variants import STANDARD, ConvShape, Kind, Variant, layer_cost

__all__ = ["Budget", "Candidate", "LayerPlan", "Row", "PlanResult", "default_choices",
           "candidates_for", "find_plan"]

BASELINE = "baseline"


@dataclass(frozen=True)
class Candidate:
    """One variant a layer may take, and what the layer then costs and keeps."""

    variant: Variant
    flops: int
    params: int
    params_kxk: int
    latency_ms: float | None = None
    """The layer alone under this variant (``std``: the standard conv's median over its runs)."""
    standard_ms: float | None = None
    """The standard conv, timed interleaved with this variant's layer."""
    energy: float | None = None
    """With trained weights: the weight energy the layer keeps under this variant,
    ``‖W‖² − ‖W − Ŵ‖²`` (:func:`hetcalc.fidelity.layer_energy`; all of it for ``std``)."""

    @property
    def saving_ms(self) -> float | None:
        """What this variant saves on the layer, from the run that timed both (0 for ``std``)."""
        if self.variant.is_baseline:
            return 0.0
        if self.latency_ms is None or self.standard_ms is None:
            return None
        return self.standard_ms - self.latency_ms


@dataclass(frozen=True)
class LayerPlan:
    """An eligible layer: its candidates (``std`` first) and the one the plan chose."""

    name: str
    shape: ConvShape
    candidates: tuple[Candidate, ...]
    chosen: int = 0

    @property
    def standard(self) -> Candidate:
        return self.candidates[0]

    @property
    def choice(self) -> Candidate:
        return self.candidates[self.chosen]


@dataclass(frozen=True)
class Row:
    """A whole model: the baseline, the plan, or a uniform variant."""

    label: str
    flops: int
    params: int
    params_kxk: int
    layers_changed: int
    predicted_ms: float | None = None
    latency: Latency | None = None
    meets: bool = True
    energy_kept: float | None = None
    """With trained weights: the share of all conv layers' weight energy kept."""


@dataclass(frozen=True)
class PlanResult:
    model: str
    input_shape: tuple[int, ...]
    budget: Budget
    choices: str
    """The candidates offered, as asked (``default``: HetConv P = 2, 4, 8, ...)."""
    plan: Plan
    layers: list[LayerPlan]
    baseline: Row
    planned: Row
    uniform: list[Row]
    frontier: int
    """The most partial plans the solver kept at once."""
    combinations: int
    """How many plans there are to choose from (the product of the candidates per layer)."""
    latency_settings: LatencySettings | None = None
    environment: dict | None = None
    keep: str = "kxk"
    """What the plan keeps the most of: ``kxk`` (K×K weights) or ``energy`` (weight energy)."""
    weights: str | None = None
    """Where the trained weights came from, when given."""
    inputs: str | None = None
    """The forward's inputs in words when ``input_shape`` (the first tensor's) does not say
    them all (:attr:`hetcalc.inputs.Inputs.described`)."""

    def to_dict(self) -> dict:
        """The result as ``plan --format json`` writes it (docs/plan.md): plain dicts, lists,
        numbers and strings, for ``json.dumps`` or any other use."""
        return plan_json(self)


def default_choices(shape: ConvShape) -> list[Variant]:
    """HetConv with P = 2, 4, 8, ... for every P that fits the layer (divides its M and N)."""
    found = []
    part = 2
    while part <= min(shape.in_channels, shape.out_channels):
        variant = Variant(Kind.HETCONV, part=part)
        if variant.check(shape) is None:
            found.append(variant)
        part *= 2
    return found


def candidates_for(shape: ConvShape, choices: Sequence[Variant] | None) -> list[Variant]:
    """``std`` and every variant of ``choices`` (default: :func:`default_choices`) that fits
    the layer, each once."""
    offered = default_choices(shape) if choices is None else [
        v for v in choices if not v.is_baseline and v.check(shape) is None]
    found = [STANDARD]
    for variant in offered:
        if variant.spec not in {v.spec for v in found}:
            found.append(variant)
    return found


def _candidate(variant: Variant, shape: ConvShape) -> Candidate:
    cost = layer_cost(variant, shape)
    return Candidate(variant, cost.flops, cost.params, cost.params_kxk)


def _infeasible(budget: Budget, reachable: dict[Metric, int | float]) -> InvalidArgument:
    """Which budget no plan reaches, and the smallest value any plan reaches there."""
    limits = budget.limits
    for metric, limit in limits.items():
        if reachable[metric] > limit:
            name = metric.limit_key
            return InvalidArgument(f"{name} {show(metric, limit)}: no plan reaches it; the "
                                   f"smallest any plan reaches is {show(metric, reachable[metric])}",
                                   argument=name)
    names = " and ".join(metric.limit_key for metric in limits)
    alone = ", ".join(f"{metric.limit_key} {show(metric, reachable[metric])}"
                      for metric in limits)
    first = next(iter(limits)).limit_key
    return InvalidArgument(f"{first}: no plan meets {names} together; the smallest each reaches "
                           f"alone: {alone}", argument=first)


KEEPS = ("kxk", "energy")
"""What a plan keeps the most of: K×K kernel weights (``params_kxk``), or weight energy."""

ENERGY_SCALE = 10 ** 12
"""Weight energy enters the exact solver as whole millionths of millionths of the model's."""


@dataclass(frozen=True)
class _Energy:
    """The conv layers' weight energy: the total, and what the layers no plan changes keep."""

    total: float
    fixed: float


def _energies(model: nn.Module, trace, layers: list[LayerPlan]) -> tuple[list[LayerPlan], _Energy]:
    """Each candidate's kept weight energy, from the trained ``model``."""
    from hetcalc.fidelity import layer_energy

    eligible = {layer.name for layer in layers}
    total = fixed = 0.0
    for call in trace.convs:
        energy = float(model.get_submodule(call.name).weight.detach().double().square().sum())
        total += energy
        fixed += 0.0 if call.name in eligible else energy
    done = [replace(layer, candidates=tuple(
        replace(c, energy=layer_energy(model.get_submodule(layer.name), c.variant, layer.shape))
        for c in layer.candidates)) for layer in layers]
    return done, _Energy(total, fixed)


def _value(candidate: Candidate, keep: str, energy: _Energy | None) -> tuple[int, int]:
    """What choosing ``candidate`` adds to the solver's value: the K×K weights or the energy
    kept (whole units of 1/:data:`ENERGY_SCALE` of the model's), then one less layer changed."""
    changed = -int(not candidate.variant.is_baseline)
    if keep == "energy" and energy is not None and candidate.energy is not None:
        return round(candidate.energy / energy.total * ENERGY_SCALE) if energy.total else 0, \
            changed
    return candidate.params_kxk, changed


def _row(label: str, report: analysis.AnalysisReport, layers: dict[str, LayerPlan],
         budget: Budget, baseline_ms: float | None, energy: _Energy | None = None) -> Row:
    """A whole model's figures from its report; the predicted latency and the energy kept from
    the layers'."""
    changed = [layer for layer in report.substituted if layer.flops_analytic > 0]
    kept = None
    if energy is not None and energy.total:
        spec = {layer.name: layer.variant.spec for layer in report.layers}
        kept = (energy.fixed + sum(next(c.energy for c in plan.candidates  # type: ignore[misc]
                                        if c.variant.spec == spec.get(name, "std"))
                                   for name, plan in layers.items())) / energy.total
        kept = min(kept, 1.0)  # a share of the whole: a sum rounded past it is all of it
    predicted = None
    if baseline_ms is not None:
        savings = [next(c.saving_ms for c in layers[layer.name].candidates
                        if c.variant.spec == layer.variant.spec) for layer in changed]
        predicted = baseline_ms - sum(savings)  # type: ignore[arg-type]
    row = Row(label, report.flops_analytic, report.params, report.params_kxk, len(changed),
              predicted)
    values = {Metric.FLOPS: row.flops, Metric.PARAMS: row.params, Metric.LATENCY: predicted}
    meets = all(values[metric] is not None and values[metric] <= limit  # type: ignore[operator]
                for metric, limit in budget.limits.items())
    return replace(row, meets=meets, energy_kept=kept)


def find_plan(model: str | nn.Module, budget: Budget, choices: Sequence[Variant] | None = None,
              input_shape: InputShapes | None = None, include_first: bool = False,
              impl: str = TIMING_IMPL, latency: LatencySettings | None = None,
              where: str | None = None,
              on_block: Callable[[str], None] | None = None, keep: str = "kxk",
              weights=None, example_inputs: object = None) -> PlanResult:
    """The plan that meets every limit of ``budget`` and keeps the most K×K weights, beside the
    uniform variants (each of ``choices``, or each HetConv P offered) and the baseline.

    ``impl`` is the HetConv realization layers and models are timed with (``auto``: the
    fastest here). ``latency`` is how to time (only with ``budget.max_latency_ms``; default
    :class:`LatencySettings`); ``where`` is the path the plan will be written to (it names the
    plan). The model is called as ``input_shape`` or ``example_inputs`` say, else as it declares
    (:func:`hetcalc.pipeline.subject`). Raises :class:`InvalidArgument` naming the budget no
    plan meets, with the smallest value any plan reaches.

    Torch's random state (CPU, and CUDA's where timing uses it) is as it was afterwards,
    although timing draws random weights and inputs (:func:`hetcalc.substitute.random_state_kept`).

    ``weights`` (:class:`hetcalc.weights.Weights`: a file, or torchvision's cached weights)
    gives every candidate and every row the weight energy it keeps; ``keep="energy"`` (which
    needs them) makes that the objective instead of the K×K weights: of all plans within the
    budget, the one keeping the most weight energy, still a sum over layers, still exact.
    """
    if keep not in KEEPS:
        raise InvalidArgument(f"keep must be one of {', '.join(KEEPS)}, got {keep!r}",
                              argument="keep")
    if keep == "energy" and (weights is None or not weights.given):
        raise InvalidArgument("keep: energy needs trained weights (--weights FILE or "
                              "--pretrained): the energy kept is of their weights",
                              argument="keep")
    budget.validate()
    timed = budget.max_latency_ms is not None
    device = (latency or LatencySettings()).device if timed else "cpu"
    with random_state_kept(cuda=device != "cpu"):
        return _find_plan(model, budget, choices, (input_shape, example_inputs), include_first,
                          impl, latency, where, on_block, keep, weights)


def _find_plan(model: str | nn.Module, budget: Budget, choices: Sequence[Variant] | None,
               inputs: tuple[InputShapes | None, object], include_first: bool, impl: str,
               latency: LatencySettings | None, where: str | None,
               on_block: Callable[[str], None] | None, keep: str = "kxk",
               weights=None) -> PlanResult:
    timing = None
    if budget.max_latency_ms is not None:
        timing = (latency or LatencySettings()).validate()
    source = subject(model, inputs[0], example_inputs=inputs[1])
    original = None
    if weights is not None and weights.given:  # a bad file fails before the model is traced
        from hetcalc.weights import trained

        original = trained(source, weights)
    trace = source.trace()

    layers: list[LayerPlan] = []
    for index, call in enumerate(trace.convs):
        if eligibility(call, index == 0, include_first) is None:
            offered = candidates_for(call.shape, choices)
            layers.append(LayerPlan(call.name, call.shape,
                                    tuple(_candidate(v, call.shape) for v in offered)))

    energy = None
    if original is not None:
        layers, energy = _energies(original, trace, layers)

    baseline_ms = None
    baseline_model = None
    if timing is not None:
        check_fits(trace.largest_output, source.input_shape[0], timing)
        baseline_model = source.runnable()
        baseline_ms = measure({BASELINE: baseline_model}, source.inputs, timing,
                              on_block)[BASELINE].median_ms
        timed = candidate_latencies([(lp.shape, [c.variant for c in lp.candidates])
                                     for lp in layers], timing, impl, on_block)
        layers = [replace(lp, candidates=tuple(_timed(c, lp.shape, timed)
                                               for c in lp.candidates)) for lp in layers]

    metrics = list(budget.limits)
    groups = [[Option(tuple(_delta(c, layer.standard, metric) for metric in metrics),
                      _value(c, keep, energy))
               for c in layer.candidates] for layer in layers]
    constant = {Metric.FLOPS: trace.flops_total, Metric.PARAMS: trace.params,
                Metric.LATENCY: baseline_ms}
    limits = [budget.limits[metric] - constant[metric] for metric in metrics]  # type: ignore[operator]
    solution = solve(groups, limits)
    if solution is None:
        least = lowest(groups, len(metrics))
        raise _infeasible(budget, {metric: constant[metric] + least[d]  # type: ignore[operator]
                                   for d, metric in enumerate(metrics)})
    layers = [replace(layer, chosen=index) for layer, index in zip(layers, solution.choices,
                                                                   strict=True)]
    chosen = Plan({layer.name: layer.choice.variant for layer in layers},
                  model=model if isinstance(model, str) else None,
                  input_shape=_plan_shape(source.inputs.shapes), where=where)

    by_name = {layer.name: layer for layer in layers}
    baseline_report = analysis.costed(source, trace, STANDARD, include_first).report
    planned = analysis.costed(source, trace, chosen)
    plan_decisions, plan_report = planned.decisions, planned.report
    assert plan_report.flops_analytic == trace.flops_total + sum(
        layer.choice.flops - layer.standard.flops for layer in layers), "plan MACs differ"
    rows = {BASELINE: _row(BASELINE, baseline_report, by_name, budget, baseline_ms, energy),
            chosen.spec: _row(chosen.spec, plan_report, by_name, budget, baseline_ms, energy)}
    uniform_decisions = {}
    for variant in _uniform(layers, choices):
        uniform = analysis.costed(source, trace, variant, include_first)
        rows[variant.spec] = _row(variant.spec, uniform.report, by_name, budget, baseline_ms,
                                  energy)
        uniform_decisions[variant.spec] = uniform.decisions

    settings_used = None
    if timing is not None and baseline_model is not None:
        models = {BASELINE: baseline_model, chosen.spec: source.runnable(plan_decisions, impl)}
        models.update({label: source.runnable(uniform_decisions[label], impl)
                       for label, row in rows.items() if label in uniform_decisions and row.meets})
        check_fits(trace.largest_output, source.input_shape[0], timing, models=len(models))
        measured = measure(models, source.inputs, timing, on_block)
        rows = {label: replace(row, latency=measured.get(label)) for label, row in rows.items()}
        settings_used = timing
    uniform = [row for label, row in rows.items() if label in uniform_decisions]
    return PlanResult(
        model=source.name, input_shape=tuple(source.input_shape), inputs=trace.inputs,
        budget=budget,
        choices="default" if choices is None else ",".join(v.spec for v in choices),
        plan=chosen, layers=layers, baseline=rows[BASELINE], planned=rows[chosen.spec],
        uniform=uniform, frontier=solution.frontier,
        combinations=math.prod(len(layer.candidates) for layer in layers),
        latency_settings=settings_used,
        environment=None if settings_used is None else environment(settings_used),
        keep=keep, weights=None if energy is None else (
            str(weights.file) if weights.file is not None else "pretrained (torch hub cache)"),
    )


def _timed(candidate: Candidate, shape: ConvShape, timed) -> Candidate:
    if candidate.variant.is_baseline:
        runs = [pair[0].median_ms for (s, _), pair in timed.items() if s == shape]
        median = sorted(runs)[len(runs) // 2] if runs else None
        return replace(candidate, latency_ms=median, standard_ms=median)
    standard, mine = timed[(shape, candidate.variant.spec)]
    return replace(candidate, latency_ms=mine.median_ms, standard_ms=standard.median_ms)


def _delta(candidate: Candidate, standard: Candidate, metric: Metric) -> int | float:
    """What choosing ``candidate`` adds to ``metric`` (against the standard conv)."""
    match metric:
        case Metric.FLOPS:
            return candidate.flops - standard.flops
        case Metric.PARAMS:
            return candidate.params - standard.params
    saving = candidate.saving_ms
    assert saving is not None, "latency budget without timed candidates"
    return -saving


def _uniform(layers: list[LayerPlan], choices: Sequence[Variant] | None) -> list[Variant]:
    """The uniform variants to set beside the plan: each choice, or each HetConv P offered."""
    if choices is not None:
        return [v for v in choices if not v.is_baseline]
    parts = sorted({c.variant.part for layer in layers for c in layer.candidates
                    if c.variant.part is not None})
    return [Variant(Kind.HETCONV, part=p) for p in parts]


# -- the JSON of plan (docs/plan.md): PlanResult.to_dict() -----------------------------------

def layer_json(layer: LayerPlan) -> dict:
    s, std, chosen = layer.shape, layer.standard, layer.choice
    return {
        "name": layer.name, "in_channels": s.in_channels, "out_channels": s.out_channels,
        "kernel": list(s.kernel), "output_size": list(s.output_size),
        "choices": [c.variant.spec for c in layer.candidates],
        "variant": chosen.variant.spec,
        "flops_standard": std.flops, "flops": chosen.flops,
        "params_standard": std.params, "params": chosen.params,
        "params_kxk_standard": std.params_kxk, "params_kxk": chosen.params_kxk,
        "latency_standard_ms": std.latency_ms, "latency_ms": chosen.latency_ms,
        "saving_ms": chosen.saving_ms if chosen.latency_ms is not None else None,
    } | ({} if std.energy is None else {
        "energy_kept": min(chosen.energy / std.energy, 1.0) if std.energy else None})


def _latency(latency: Latency | None) -> dict:
    if latency is None:
        return {"latency_ms": None, "latency_iqr_ms": None, "latency_reliable": None}
    return {"latency_ms": latency.median_ms, "latency_iqr_ms": latency.iqr_ms,
            "latency_reliable": latency.reliable}


def row_json(row: Row) -> dict:
    return {"variant": row.label, "flops": row.flops, "params": row.params,
            "params_kxk": row.params_kxk, "layers_changed": row.layers_changed,
            "latency_predicted_ms": row.predicted_ms, **_latency(row.latency),
            "meets_budget": row.meets} | (
                {} if row.energy_kept is None else {"energy_kept": row.energy_kept})


def plan_json(result: PlanResult) -> dict:
    """The stable ``plan --format json`` object (docs/plan.md, its schema
    ``hetcalc/schemas/plan.json``)."""
    b = result.budget
    return {
        "schema_version": SCHEMA_VERSION,
        "model": result.model, "input_shape": list(result.input_shape), "unit": "MAC",
        "objective": objective(result.keep),
        "keep": result.keep,
        "budget": {"max_flops": b.max_flops, "max_params": b.max_params,
                   "max_latency_ms": b.max_latency_ms},
        "choices": result.choices,
        "plan": {"file": result.plan.where,
                 "layers": {name: v.spec for name, v in result.plan.items()}},
        "baseline": row_json(result.baseline),
        "result": row_json(result.planned),
        "uniform": [row_json(row) for row in result.uniform],
        "layers": [layer_json(layer) for layer in result.layers],
        "search": {"combinations": result.combinations, "frontier": result.frontier},
        "environment": result.environment,
    } | ({} if result.weights is None else {"weights": result.weights})
def _plan_shape(shapes: Sequence[TensorShape] | None) -> tuple[int, ...] | None:
    """The input shape a plan file records: the model's one float32 input's; none for a model
    of several inputs (or other than one float tensor), which gives its own again."""
    if shapes is None or len(shapes) != 1 or shapes[0].dtype != "float32":
        return None
    return shapes[0].sizes
