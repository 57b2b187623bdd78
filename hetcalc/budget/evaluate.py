"""Evaluating the entries of a validated budget file: the only place its model code runs.

:func:`preflight` checks, per entry, what the installation knows (a registered model name, a
CUDA device for ``device = "cuda"``) without importing anything the file names; pass it to
:func:`~hetcalc.budget.schema.load_budget_file` as ``check`` to get those problems together with
the syntax ones. :func:`evaluate` then takes the entries one by one: it imports and calls the
entry's model builder (a ``path/to/file.py:fn`` runs here, and not before), traces each distinct
(model, input shape) once, costs the entry's variant (or its per-layer plan) on that trace and,
for ``max_latency_ms``, times it. An entry that cannot be evaluated (its model fails to import,
build, trace or time, its code exits, its ``timeout`` passes) is a result too, holding its
:class:`EntryFailure`: the other entries are evaluated all the same.

torch, the model registry and the timing code are imported inside the functions that use them,
so importing :mod:`hetcalc.budget` stays cheap and free of torch (a budget file can be validated
without it); an entry without ``max_latency_ms`` never loads the timing code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hetcalc.budget.schema import (
    BudgetError,
    BudgetFile,
    Entry,
    Metric,
    duplicate_problem,
    entry_location,
    is_user_spec,
)
from hetcalc.errors import HetcalcError, InvalidArgument, interrupt_in_chain
from hetcalc.plan.file import Plan

if TYPE_CHECKING:
    from hetcalc.report import AnalysisReport
    from hetcalc.settings import LatencySettings
    from hetcalc.trace import Trace


@dataclass(frozen=True)
class Check:
    """One limit of one entry against the value the entry's model has."""

    metric: Metric
    value: float | int
    limit: float | int

    @property
    def passed(self) -> bool:
        """A value exactly on its limit passes, for a ceiling and a floor alike."""
        return self.value >= self.limit if self.metric.is_minimum else self.value <= self.limit

    @property
    def headroom(self) -> float | None:
        """(limit - value) / limit for a ceiling, (value - limit) / limit for a floor;
        negative when over budget. ``None`` for a floor of 0."""
        if not self.limit:
            return None
        margin = self.value - self.limit if self.metric.is_minimum else self.limit - self.value
        return margin / self.limit


@dataclass(frozen=True)
class EntryFailure:
    """Why an entry could not be evaluated: the key its work was about when it failed
    (``model``, ``variant``, ``plan``, ``max_latency_ms`` or ``timeout``) and the error."""

    key: str
    error: HetcalcError

    @property
    def message(self) -> str:
        """``key: message``, as the entry's line shows it after the file and the entry."""
        return f"{self.key}: {self.error}"


@dataclass(frozen=True)
class EntryResult:
    entry: Entry  # with its input shape filled in (None when its failure came first)
    report: AnalysisReport | None  # None exactly when ``failure`` is set
    latency_ms: float | None
    checks: list[Check]
    failure: EntryFailure | None = None
    latency_iqr_ms: float | None = None
    """The timing's interquartile range (with ``max_latency_ms``)."""

    @property
    def evaluated(self) -> bool:
        return self.failure is None

    @property
    def passed(self) -> bool:
        """Every limit met; an entry that could not be evaluated has not passed."""
        return self.failure is None and all(check.passed for check in self.checks)

    @property
    def flops(self) -> int:
        """The MACs that are checked: the variant's analytic MACs (the baseline's for ``std``)."""
        assert self.report is not None, "an entry that was not evaluated has no FLOPs"
        return self.report.flops_analytic

    @property
    def params(self) -> int:
        assert self.report is not None, "an entry that was not evaluated has no params"
        return self.report.params

    def value(self, metric: Metric) -> float | int | None:
        """The entry's value of ``metric``; None when it was not measured (no
        ``max_latency_ms``) or the entry could not be evaluated."""
        if self.report is None:
            return None
        match metric:
            case Metric.FLOPS:
                return self.flops
            case Metric.PARAMS:
                return self.params
            case Metric.REDUCTION:
                return self.report.reduction
            case Metric.LATENCY:
                return self.latency_ms


def latency_settings(entry: Entry) -> LatencySettings:
    """The entry's timing settings, validated (:class:`InvalidArgument` when they cannot be met
    here, e.g. ``device = "cuda"`` without CUDA). Imports the timing code."""
    from hetcalc.settings import LatencySettings

    return LatencySettings(**entry.latency).validate()


def preflight(entry: Entry) -> tuple[Entry, list[str]]:
    """What the installation says about an entry, without importing or calling code the budget
    file names: a registered (or ``timm:``) model name must exist, and its default input shape
    fills the entry's; the latency settings of an entry with ``max_latency_ms`` must be possible
    here. Returns the entry, completed, and its problems as ``"key: message"`` lines (the
    :data:`~hetcalc.budget.schema.EntryCheck` of :func:`~hetcalc.budget.schema.load_budget_file`).

    A ``file.py:fn`` or ``module:fn`` spec is left alone: importing it would run its code.
    """
    from hetcalc import catalog

    problems = []
    listed = {m.name: m for m in catalog.listed() or ()}
    if entry.spec in listed:  # known without importing torch
        if entry.input_shape is None:
            entry = replace(entry, input_shape=listed[entry.spec].input_shape)
    elif listed and not is_user_spec(entry.spec) and not entry.spec.startswith("timm:"):
        problems.append(f"model: {catalog.unknown_model(entry.spec, list(listed))}")
    elif not is_user_spec(entry.spec):
        from hetcalc import models

        try:
            model = models.resolve(entry.spec)
        except HetcalcError as error:
            problems.append(f"model: {error}")
        else:
            if entry.input_shape is None:
                entry = replace(entry, input_shape=model.input_shape)
    if Metric.LATENCY in entry.limits:
        try:
            latency_settings(entry)
        except HetcalcError as error:
            problems.append(f"max_latency_ms: {error}")
    return entry, problems


def failure_line(budget: BudgetFile, result: EntryResult) -> str:
    """``budgets.toml: entry 2 (net.py:build): model: ...``: a failed entry's line, naming the
    file, the entry and the key its failure is about."""
    assert result.failure is not None
    return (f"{entry_location(budget.display, result.entry.index, vars(result.entry))}: "
            f"{result.failure.message}")


LATENCY_ATTEMPTS = 2
"""How often an entry is timed when its timing's spread straddles its ``max_latency_ms``."""


def straddles(median_ms: float, iqr_ms: float, limit_ms: float) -> bool:
    """Whether ``limit_ms`` lies within the timing's spread (the median ± half its
    interquartile range): which side of the limit the model is on, this timing cannot tell."""
    return median_ms - iqr_ms / 2 <= limit_ms <= median_ms + iqr_ms / 2


def measure_latency(entry: Entry) -> tuple[float, float]:
    """(median, interquartile range) in milliseconds of the entry's model and variant, built
    with random weights. A noisy machine never decides the gate alone: a timing whose spread
    straddles ``max_latency_ms`` is timed again, and one that straddles it every time is an
    :class:`InvalidArgument` (the entry cannot be evaluated here), not a pass or a fail."""
    from hetcalc.latency import model_latency

    limit = entry.limits[Metric.LATENCY]
    for _ in range(LATENCY_ATTEMPTS):
        timed = model_latency(entry.spec, entry.variant, entry.given_inputs,
                              latency_settings(entry), include_first=entry.include_first,
                              merge_pairs=entry.merge_dw_pw)
        if not straddles(timed.median_ms, timed.iqr_ms, limit):
            return timed.median_ms, timed.iqr_ms
    raise InvalidArgument(
        f"timed {LATENCY_ATTEMPTS} times, the latency's spread straddles the limit each time "
        f"(median {timed.median_ms:.3f} ms, interquartile range {timed.iqr_ms:.3f} ms, against "
        f"max {limit:g} ms): this machine cannot tell which side it is on; time it on a "
        "quieter machine, or give it more seconds (min_run_time)")


def evaluate(budget: BudgetFile, *,
             is_interrupt: Callable[[BaseException], bool] = interrupt_in_chain
             ) -> list[EntryResult]:
    """Cost every entry, in file order; each distinct (model, input shape) is traced once.

    An entry's model is resolved (a user's file imported) when its turn comes, and all its work
    (import, build, trace, count, timing) is bounded by the entry's ``timeout``. An entry that
    fails with a :class:`~hetcalc.errors.HetcalcError` (whatever the model's code raised,
    ``SystemExit`` included: an error, never a pass) is a result whose ``failure`` says which
    key and why, and the next entry is evaluated. An entry whose key turns out, once its default
    input shape is known, to be an earlier entry's is a problem of the file: a
    :class:`BudgetError`, raised. A ``KeyboardInterrupt`` ends the whole evaluation, and so
    does an error that ``is_interrupt`` says came from one (a library that wrapped the Ctrl-C in
    its own error): that error is raised, never made an entry's failure.
    """
    from hetcalc.usercode import ModelTimeout, time_limit

    traces: dict[tuple[str, object], Trace] = {}
    by_key: dict[str, Entry] = {}
    results = []
    for entry in budget.entries:
        step = ["model"]  # the key a failure is about, as the entry's work goes on
        shaped = [entry]  # the entry, its input shape filled in once the model tells it
        source = f"timeout = {entry.timeout:g}" if entry.timeout is not None else ""
        try:
            with time_limit(entry.timeout, entry.spec, source):
                entry, report, latency = _cost(budget, entry, traces, by_key, step, shaped)
        except BudgetError:
            raise  # already names the entry
        except HetcalcError as error:
            if is_interrupt(error):
                raise
            key = "timeout" if isinstance(error, ModelTimeout) else step[-1]
            results.append(EntryResult(shaped[-1], None, None, [], EntryFailure(key, error)))
            continue
        median, iqr = latency if latency is not None else (None, None)
        result = EntryResult(entry, report, median, [], latency_iqr_ms=iqr)
        checks = [Check(metric, _value(result, metric), limit)
                  for metric, limit in entry.limits.items()]
        results.append(replace(result, checks=checks))
    return results


def _cost(budget: BudgetFile, entry: Entry, traces: dict[tuple[str, object], Trace],
          by_key: dict[str, Entry], step: list[str], shaped: list[Entry]
          ) -> tuple[Entry, AnalysisReport, tuple[float, float] | None]:
    """One entry's model traced (once per model and input shape), costed and, for
    ``max_latency_ms``, timed; ``step`` gets the key each stage is about, ``shaped`` the entry
    with its input shape once it is known."""
    from hetcalc import analysis, models
    from hetcalc.errors import TraceError
    from hetcalc.pipeline import subject

    default = False
    given: object = entry.given_inputs
    if entry.input_shape is None:
        given, default = models.own_inputs(models.resolve(entry.spec))
        entry = replace(entry, input_shape=given.input_shape, own_inputs=True)
        shaped.append(entry)
    assert entry.input_shape is not None
    other = by_key.setdefault(entry.key, entry)
    if other is not entry:
        raise BudgetError([duplicate_problem(budget.display, entry, other)])
    trace_key = (entry.spec, given)
    if trace_key not in traces:
        try:
            traces[trace_key] = analysis.trace_spec(entry.spec, given)
        except TraceError as error:
            if not default:
                raise
            raise TraceError(f"{error}; that is hetcalc's default input shape (the model "
                             "declares none): give the model's shape with input_shape in this "
                             "entry") from error
    step.append("plan" if isinstance(entry.variant, Plan) else "variant")
    source = subject(entry.spec, given, name=entry.model)
    done = analysis.costed(source, traces[trace_key], entry.variant, entry.include_first,
                           entry.merge_dw_pw)
    report = done.report
    if entry.weights is not None:  # what the variant keeps of trained weights
        from hetcalc.fidelity import load_trained, with_fidelity
        from hetcalc.weights import Weights

        step.append("weights")
        try:
            loaded = load_trained(source, Weights(entry.weights))
        except InvalidArgument as error:  # named by its key already: "weights: FILE: ..."
            raise InvalidArgument(str(error).removeprefix("weights ")) from None
        report = with_fidelity(report, done.decisions, loaded)
    if not (entry.variant.is_baseline or report.substituted or entry.allow_unchanged):
        why = next((n for n in report.notes if n.startswith("nothing replaced")), "")
        raise InvalidArgument(f"{why}; set allow_unchanged = true in this entry if "
                              "that is expected")
    step.append("max_latency_ms")
    latency = measure_latency(entry) if Metric.LATENCY in entry.limits else None
    return entry, report, latency


def _value(result: EntryResult, metric: Metric) -> Any:
    value = result.value(metric)
    assert value is not None, f"{metric} limit without a measured value"
    return value
