"""``hetcalc check``: budget verdicts as grids (table, Markdown), JSON and JUnit XML.

One row per limit of each entry (model, variant, metric, value, limit, headroom, verdict) and, in
regression mode, one row per entry and metric against the baseline (before, after, change). An
entry that could not be evaluated is one row (verdict ``ERROR``) holding its error in place of
its values, in every format: ``"verdict": "error"`` and ``"error"`` in JSON, ``<error>`` in JUnit.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

from hetcalc.budget import (
    BASELINE_METRICS,
    Change,
    Check,
    CheckRun,
    Entry,
    EntryResult,
    Metric,
    Regression,
)
from hetcalc.budget.evaluate import failure_line
from hetcalc.render import Column, Grid, Rendered, human, percent
from hetcalc.render.text import one_line, user_text
from hetcalc.schemas import SCHEMA_VERSION

PASS, FAIL, ERROR = "pass", "FAIL", "ERROR"
NEW = "new (not in baseline)"


def metric_value(metric: Metric, value: float | int | None) -> str:
    """A metric's value as people read it: ``106.40M``, ``66.12%``, ``12.34 ms``."""
    if value is None:
        return "-"
    match metric:
        case Metric.FLOPS | Metric.PARAMS:
            return human(value)
        case Metric.REDUCTION:
            return percent(value)
        case Metric.LATENCY:
            return f"{value:.2f} ms"


def signed_percent(value: float | None) -> str:
    if value is None:
        return "-"
    return "+inf" if math.isinf(value) else f"{100 * value:+.2f}%"


def _model(entry: Entry) -> str:
    return f"{entry.name} ({entry.model})" if entry.name else entry.model


def _check_row(result: EntryResult, check: Check) -> dict[str, str]:
    value = metric_value(check.metric, check.value)
    if check.metric is Metric.LATENCY and result.latency_iqr_ms is not None:
        value = f"{check.value:.2f} ± {result.latency_iqr_ms:.2f} ms"  # median ± IQR
    return {
        "model": _model(result.entry),
        "variant": result.entry.variant.spec,
        "metric": check.metric.label,
        "value": value,
        "limit": ("min " if check.metric.is_minimum else "max ")
                 + metric_value(check.metric, check.limit),
        "headroom": signed_percent(check.headroom),
        "verdict": PASS if check.passed else FAIL,
    }


def _error_text(result: EntryResult) -> str:
    """``model: ...``: the key the entry's failure is about and why, on one line."""
    assert result.failure is not None
    return " ".join(result.failure.message.split())


def _error_row(result: EntryResult, columns: tuple[str, ...]) -> dict[str, str]:
    """A failed entry's one row: its error in the first value column, ``-`` in the others."""
    row = {"model": _model(result.entry), "variant": result.entry.variant.spec, "metric": "-",
           "verdict": ERROR}
    first, *rest = columns
    return {**row, first: _error_text(result), **dict.fromkeys(rest, "-")}


def _regression_rows(run: CheckRun, result: EntryResult) -> list[dict[str, str]]:
    regression = run.regression_of(result)
    if regression is None:  # not evaluated, so not compared
        return [_error_row(result, ("before", "after", "change"))]
    return _change_rows(regression)


def _change_rows(regression: Regression) -> list[dict[str, str]]:
    base = {"model": _model(regression.entry), "variant": regression.entry.variant.spec}
    if regression.record is None:
        return [{**base, "metric": "-", "before": "-", "after": "-", "change": "-",
                 "verdict": NEW}]
    return [{**base, "metric": c.metric.label, "before": metric_value(c.metric, c.before),
             "after": metric_value(c.metric, c.after), "change": signed_percent(c.change),
             "verdict": PASS if c.passed else FAIL} for c in regression.changes]


def _failure_text(result: EntryResult, check: Check) -> str:
    relation = "below" if check.metric.is_minimum else "over"
    return (f"{_model(result.entry)} {result.entry.variant.spec}: {check.metric.label} "
            f"{metric_value(check.metric, check.value)} is {relation} the "
            f"{check.metric.limit_key} limit {metric_value(check.metric, check.limit)} "
            f"(headroom {signed_percent(check.headroom)})")


def _growth_text(regression: Regression, change: Change) -> str:
    return (f"{_model(regression.entry)} {regression.entry.variant.spec}: "
            f"{change.metric.label} grew from {metric_value(change.metric, change.before)} to "
            f"{metric_value(change.metric, change.after)} ({signed_percent(change.change)}, "
            f"tolerance {percent(change.tolerance)})")


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _evaluated(run: CheckRun) -> list[EntryResult]:
    return [r for r in run.results if r.failure is None]


def _not_evaluated(run: CheckRun) -> str:
    return (f"{len(run.failed_entries)} of {_plural(len(run.results), 'entry', 'entries')} "
            "could not be evaluated")


def summary(run: CheckRun) -> list[str]:
    """The lines under the tables: the entries that could not be evaluated and why, the verdict,
    what failed and by how much, and the unit."""
    checks = sum(len(r.checks) for r in run.results)
    failed, errors = run.failed_checks, run.failed_entries
    lines = []
    if errors:
        lines.append(f"ERROR: {_not_evaluated(run)}.")
        lines += [f"- {_model(r.entry)} {r.entry.variant.spec}: {_error_text(r)}" for r in errors]
    if failed:
        lines.append(f"FAIL: {len(failed)} of {checks} checks over budget.")
        lines += [f"- {_failure_text(result, check)}" for result, check in failed]
    elif errors:
        evaluated = len(_evaluated(run))
        if evaluated:
            lines.append(f"{_plural(checks, 'check', 'checks')} of the "
                         f"{_plural(evaluated, 'entry', 'entries')} evaluated within budget.")
    else:
        lines.append(f"PASS: {_plural(checks, 'check', 'checks')} of "
                     f"{_plural(len(run.results), 'entry', 'entries')}, all within budget.")
    if run.regressions is not None:
        grown = run.failed_changes
        if grown:
            lines.append(f"FAIL: {_plural(len(grown), 'regression', 'regressions')} beyond "
                         f"the tolerance of {percent(run.tolerance)} against {run.baseline}.")
            lines += [f"- {_growth_text(regression, change)}" for regression, change in grown]
        else:
            lines.append(f"PASS: no entry grew beyond {percent(run.tolerance)} "
                         f"against {run.baseline}.")
        new = [g.entry.key for g in run.regressions if g.record is None]
        if new:
            lines.append(f"Not in the baseline (not compared): {', '.join(new)}.")
        if run.stale:
            lines.append(f"In the baseline but not in the budget file (ignored): "
                         f"{', '.join(run.stale)}.")
    lines.append("FLOPs are multiply-accumulates (MACs), bias adds not counted; a variant's "
                 "FLOPs and params are analytic (the paper's formulas) on fvcore's count of "
                 "the model.")
    return lines


def failure_lines(run: CheckRun) -> list[str]:
    """One ``hetcalc: error: `` line per entry that could not be evaluated, naming the file, the
    entry, the key and why (``check`` writes them to stderr as soon as the entries are done)."""
    return [f"hetcalc: error: {one_line(' '.join(failure_line(run.budget, r).split()))}"
            for r in run.failed_entries]


def status(run: CheckRun) -> str:
    """``ERROR`` (an entry could not be evaluated: exit 2), ``FAIL`` (exit 1) or ``PASS``."""
    return ERROR if run.failed_entries else "PASS" if run.passed else "FAIL"


def verdict(run: CheckRun) -> list[str]:
    """What ``check`` writes to stderr whatever its format and output: one verdict line, then
    one line per failing check and per growth beyond the tolerance (so a CI log says why). The
    entries that could not be evaluated have their own lines (:func:`failure_lines`).

    Each line is one line of text that only shows (:func:`user_text`): an entry's name or the
    file's path cannot start a forged ``hetcalc check: PASS`` line or colour the log."""
    checks = sum(len(r.checks) for r in run.results)
    failed, grown = run.failed_checks, run.failed_changes
    evaluated = len(_evaluated(run))
    parts = [_not_evaluated(run)] if run.failed_entries else []
    if failed:
        parts.append(f"{len(failed)} of {_plural(checks, 'check', 'checks')} over budget")
    elif evaluated:
        parts.append(f"{_plural(checks, 'check', 'checks')} of "
                     f"{_plural(evaluated, 'entry', 'entries')} within budget")
    if run.regressions is not None:
        if grown:
            parts.append(f"{_plural(len(grown), 'regression', 'regressions')} beyond "
                         f"{percent(run.tolerance)} against {run.baseline}")
        else:
            parts.append(f"no entry grew beyond {percent(run.tolerance)} against {run.baseline}")
    lines = [f"hetcalc check: {status(run)}: {run.budget.display}: "
             f"{'; '.join(parts)}."]
    lines += [f"- {_failure_text(result, check)}" for result, check in failed]
    lines += [f"- {_growth_text(regression, change)}" for regression, change in grown]
    return [user_text(line) for line in lines]


def check_grids(run: CheckRun) -> list[Grid]:
    left = {"justify": "left"}
    # at 80 columns the names stay whole: words wrap (a metric's, a limit's, an error's), never
    # a model's name or a number, and the headroom goes first (its sign is in the verdict)
    grids = [Grid(f"budget check: {run.budget.display}", [
        Column("model", "model", **left),
        Column("variant", "variant", **left, short="var."),
        Column("metric", "metric", **left, prose=True),
        Column("value", "value", prose=True),
        Column("limit", "limit", prose=True),
        Column("headroom", "headroom", priority=1),
        Column("verdict", "verdict", **left),
    ], [row for r in run.results for row in (
        [_check_row(r, c) for c in r.checks] if r.failure is None
        else [_error_row(r, ("value", "limit", "headroom"))])])]
    if run.regressions is not None:
        grids.append(Grid(
            f"regression against {run.baseline} (tolerance {percent(run.tolerance)})", [
                Column("model", "model", **left),
                Column("variant", "variant", **left),
                Column("metric", "metric", **left, prose=True),
                Column("before", "before", prose=True),
                Column("after", "after", prose=True),
                Column("change", "change", priority=1),
                Column("verdict", "verdict", **left),
            ], [row for r in run.results for row in _regression_rows(run, r)]))
    return grids


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _failed_entry_json(result: EntryResult) -> dict[str, Any]:
    """An entry that could not be evaluated: its limits without values, and its error."""
    entry = result.entry
    return {
        "index": entry.index,
        "key": entry.key,
        "name": entry.name,
        "model": entry.model,
        "variant": entry.variant.spec,
        "input_shape": list(entry.input_shape) if entry.input_shape is not None else None,
        "verdict": "error",
        "error": _error_text(result),
        "checks": {
            metric.value: {"value": None, "limit": limit,
                           "bound": "min" if metric.is_minimum else "max",
                           "headroom": None, "verdict": "error"}
            for metric, limit in entry.limits.items()
        },
        "regression": None,
    }


def _entry_json(result: EntryResult, regression: Regression | None,
                compared: bool) -> dict[str, Any]:
    if result.failure is not None:
        return _failed_entry_json(result)
    entry = result.entry
    assert entry.input_shape is not None
    passed = result.passed and (regression is None or regression.passed)
    document: dict[str, Any] = {
        "index": entry.index,
        "key": entry.key,
        "name": entry.name,
        "model": entry.model,
        "variant": entry.variant.spec,
        "input_shape": list(entry.input_shape),
        "verdict": "pass" if passed else "fail",
        "error": None,
        "checks": {
            check.metric.value: {
                "value": check.value,
                "limit": check.limit,
                "bound": "min" if check.metric.is_minimum else "max",
                "headroom": check.headroom,
                "verdict": "pass" if check.passed else "fail",
                **({"iqr": result.latency_iqr_ms} if check.metric is Metric.LATENCY else {}),
            } for check in result.checks
        },
        "regression": None,
    }
    fidelity = None if result.report is None else result.report.fidelity
    if fidelity is not None:  # only for an entry with weights
        document["fidelity"] = {**fidelity.as_dict(), "weights": fidelity.weights}
    if compared:
        assert regression is not None
        document["regression"] = {
            "in_baseline": regression.record is not None,
            "changes": {
                change.metric.value: {
                    "before": change.before,
                    "after": change.after,
                    "change": _finite(change.change),
                    "tolerance": change.tolerance,
                    "verdict": "pass" if change.passed else "fail",
                } for change in regression.changes
            },
        }
    return document


def check_json(run: CheckRun) -> dict[str, Any]:
    """``check --format json``: the file, the verdict (``error`` when an entry could not be
    evaluated), and one object per entry (its schema: ``hetcalc/schemas/check.json``)."""
    compared = run.regressions is not None
    return {
        "schema_version": SCHEMA_VERSION,
        "file": run.budget.display,
        "unit": "MAC",
        "verdict": status(run).lower(),
        "baseline": {"file": run.baseline, "tolerance": run.tolerance, "stale": run.stale}
                    if compared else None,
        "entries": [_entry_json(result, run.regression_of(result), compared)
                    for result in run.results],
    }


def render_check(run: CheckRun) -> Rendered:
    return Rendered(check_grids(run), check_json(run), summary(run))


def _suite(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, "testsuite", name=user_text(name))


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=user_text(classname),
                         name=user_text(name), time="0")


def _failure(case: ET.Element, text: str, kind: str) -> None:
    text = user_text(text)
    ET.SubElement(case, "failure", message=text, type=kind).text = text


def _error(case: ET.Element, result: EntryResult) -> None:
    text = user_text(_error_text(result))
    ET.SubElement(case, "error", message=text, type="NotEvaluated").text = text


def _count(element: ET.Element) -> None:
    """Set tests/failures/errors/skipped from the testcases below ``element``."""
    cases = element.findall(".//testcase")
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    element.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    element.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    element.set("time", "0")


def render_junit(run: CheckRun) -> str:
    """JUnit XML: a testsuite of budget checks (one testcase per limit of each entry, a
    ``<failure>`` when over budget, an ``<error>`` in each of an entry's testcases when it could
    not be evaluated) and, in regression mode, one of baseline comparisons.

    Names and paths go in through :func:`user_text`: XML 1.0 has no way to hold most control
    characters, even escaped, so they are written visibly (``\\x1b``) and the file always
    parses."""
    root = ET.Element("testsuites", name="hetcalc check")
    budgets = _suite(root, f"budgets: {run.budget.display}")
    for result in run.results:
        if result.failure is not None:  # the same testcases as when it is evaluated
            for metric in result.entry.limits:
                _error(_case(budgets, _model(result.entry),
                             f"{result.entry.variant.spec} {metric.limit_key}"), result)
        for check in result.checks:
            case = _case(budgets, _model(result.entry),
                         f"{result.entry.variant.spec} {check.metric.limit_key}")
            if not check.passed:
                _failure(case, _failure_text(result, check), "OverBudget")
    if run.regressions is not None:
        suite = _suite(root, f"regression: {run.baseline} (tolerance {percent(run.tolerance)})")
        for result in run.results:
            regression = run.regression_of(result)
            if regression is None:  # not evaluated: its growth cases hold the error
                for metric in BASELINE_METRICS:
                    _error(_case(suite, _model(result.entry),
                                 f"{result.entry.variant.spec} {metric.value} growth"), result)
                continue
            label = _model(regression.entry)
            if regression.record is None:
                case = _case(suite, label, f"{regression.entry.variant.spec} baseline")
                ET.SubElement(case, "skipped", message="not in the baseline file")
            for change in regression.changes:
                case = _case(suite, label,
                             f"{regression.entry.variant.spec} {change.metric.value} growth")
                if not change.passed:
                    _failure(case, _growth_text(regression, change), "Regression")
    for suite in root.findall("testsuite"):
        _count(suite)
    _count(root)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
