"""``hetcalc check``: budget verdicts as grids (table, Markdown), JSON and JUnit XML.

One row per limit of each entry (model, variant, metric, value, limit, headroom, verdict) and, in
regression mode, one row per entry and metric against the baseline (before, after, change).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

from hetcalc.budget import Change, Check, CheckRun, Entry, EntryResult, Metric, Regression
from hetcalc.render import Column, Grid, Rendered, human, percent
from hetcalc.render.text import user_text

PASS, FAIL = "pass", "FAIL"
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
    return {
        "model": _model(result.entry),
        "variant": result.entry.variant.spec,
        "metric": check.metric.label,
        "value": metric_value(check.metric, check.value),
        "limit": ("min " if check.metric.is_minimum else "max ")
                 + metric_value(check.metric, check.limit),
        "headroom": signed_percent(check.headroom),
        "verdict": PASS if check.passed else FAIL,
    }


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


def summary(run: CheckRun) -> list[str]:
    """The lines under the tables: the verdict, what failed and by how much, and the unit."""
    checks = sum(len(r.checks) for r in run.results)
    failed = run.failed_checks
    lines = []
    if failed:
        lines.append(f"FAIL: {len(failed)} of {checks} checks over budget.")
        lines += [f"- {_failure_text(result, check)}" for result, check in failed]
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


def verdict(run: CheckRun) -> list[str]:
    """What ``check`` writes to stderr whatever its format and output: one verdict line, then
    one line per failing check and per growth beyond the tolerance (so a CI log says why).

    Each line is one line of text that only shows (:func:`user_text`): an entry's name or the
    file's path cannot start a forged ``hetcalc check: PASS`` line or colour the log."""
    checks = sum(len(r.checks) for r in run.results)
    failed, grown = run.failed_checks, run.failed_changes
    if failed:
        parts = [f"{len(failed)} of {_plural(checks, 'check', 'checks')} over budget"]
    else:
        parts = [f"{_plural(checks, 'check', 'checks')} of "
                 f"{_plural(len(run.results), 'entry', 'entries')} within budget"]
    if run.regressions is not None:
        if grown:
            parts.append(f"{_plural(len(grown), 'regression', 'regressions')} beyond "
                         f"{percent(run.tolerance)} against {run.baseline}")
        else:
            parts.append(f"no entry grew beyond {percent(run.tolerance)} against {run.baseline}")
    lines = [f"hetcalc check: {'PASS' if run.passed else 'FAIL'}: {run.budget.display}: "
             f"{'; '.join(parts)}."]
    lines += [f"- {_failure_text(result, check)}" for result, check in failed]
    lines += [f"- {_growth_text(regression, change)}" for regression, change in grown]
    return [user_text(line) for line in lines]


def check_grids(run: CheckRun) -> list[Grid]:
    left = {"justify": "left"}
    grids = [Grid(f"budget check: {run.budget.display}", [
        Column("model", "model", **left),
        Column("variant", "variant", **left),
        Column("metric", "metric", **left),
        Column("value", "value"),
        Column("limit", "limit"),
        Column("headroom", "headroom"),
        Column("verdict", "verdict", **left),
    ], [_check_row(r, c) for r in run.results for c in r.checks])]
    if run.regressions is not None:
        grids.append(Grid(
            f"regression against {run.baseline} (tolerance {percent(run.tolerance)})", [
                Column("model", "model", **left),
                Column("variant", "variant", **left),
                Column("metric", "metric", **left),
                Column("before", "before"),
                Column("after", "after"),
                Column("change", "change"),
                Column("verdict", "verdict", **left),
            ], [row for g in run.regressions for row in _change_rows(g)]))
    return grids


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _entry_json(result: EntryResult, regression: Regression | None,
                compared: bool) -> dict[str, Any]:
    entry = result.entry
    passed = result.passed and (regression is None or regression.passed)
    document: dict[str, Any] = {
        "index": entry.index,
        "key": entry.key,
        "name": entry.name,
        "model": entry.model,
        "variant": entry.variant.spec,
        "input_shape": list(entry.input_shape),
        "verdict": "pass" if passed else "fail",
        "checks": {
            check.metric.value: {
                "value": check.value,
                "limit": check.limit,
                "bound": "min" if check.metric.is_minimum else "max",
                "headroom": check.headroom,
                "verdict": "pass" if check.passed else "fail",
            } for check in result.checks
        },
        "regression": None,
    }
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
    """``check --format json``: the file, the verdict, and one object per entry."""
    compared = run.regressions is not None
    regressions = run.regressions or [None] * len(run.results)
    return {
        "file": run.budget.display,
        "unit": "MAC",
        "verdict": "pass" if run.passed else "fail",
        "baseline": {"file": run.baseline, "tolerance": run.tolerance, "stale": run.stale}
                    if compared else None,
        "entries": [_entry_json(result, regression, compared)
                    for result, regression in zip(run.results, regressions, strict=True)],
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


def _count(element: ET.Element) -> None:
    """Set tests/failures/errors/skipped from the testcases below ``element``."""
    cases = element.findall(".//testcase")
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    element.set("errors", "0")
    element.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    element.set("time", "0")


def render_junit(run: CheckRun) -> str:
    """JUnit XML: a testsuite of budget checks (one testcase per limit of each entry, a
    ``<failure>`` when over budget) and, in regression mode, one of baseline comparisons.

    Names and paths go in through :func:`user_text`: XML 1.0 has no way to hold most control
    characters, even escaped, so they are written visibly (``\\x1b``) and the file always
    parses."""
    root = ET.Element("testsuites", name="hetcalc check")
    budgets = _suite(root, f"budgets: {run.budget.display}")
    for result in run.results:
        for check in result.checks:
            case = _case(budgets, _model(result.entry),
                         f"{result.entry.variant.spec} {check.metric.limit_key}")
            if not check.passed:
                _failure(case, _failure_text(result, check), "OverBudget")
    if run.regressions is not None:
        suite = _suite(root, f"regression: {run.baseline} (tolerance {percent(run.tolerance)})")
        for regression in run.regressions:
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
