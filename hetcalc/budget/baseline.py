"""Regression mode: record each entry's flops (MACs) and params in a baseline file, and later
find the entries that grew beyond a tolerance of their record.

A baseline is written atomically (:func:`hetcalc.fileio.atomic_write_text`): a reader sees the
previous file or the new one, never a part, and of two concurrent writers the last to finish
wins. Reading one validates every record; whatever is wrong with the file is a
:class:`~hetcalc.budget.schema.BudgetError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hetcalc.budget.evaluate import Check, EntryResult
from hetcalc.budget.schema import BudgetError, BudgetFile, Entry, Metric
from hetcalc.budget.values import describe
from hetcalc.errors import InvalidArgument
from hetcalc.fileio import atomic_write_text
from hetcalc.readfile import FileProblem, MissingFile, parse_json, read_text

BASELINE_FORMAT = 1
BASELINE_METRICS = (Metric.FLOPS, Metric.PARAMS)
BASELINE_MAX_BYTES = 16 << 20
"""The largest baseline read: 16 MiB, room for the records of the largest budget file (1 MiB)."""


@dataclass(frozen=True)
class BaselineRecord:
    key: str
    model: str
    variant: str
    input_shape: tuple[int, ...]
    values: dict[Metric, int]


def not_evaluated(results: list[EntryResult]) -> str | None:
    """``entry 2 (net.py:build)``, ``entries 2 and 4``: the entries that could not be
    evaluated, or None when every one was."""
    failed = [r.entry for r in results if r.failure is not None]
    if not failed:
        return None
    if len(failed) == 1:
        return f"entry {failed[0].index} ({failed[0].label})"
    indices = [str(entry.index) for entry in failed]
    return f"entries {', '.join(indices[:-1])} and {indices[-1]}"


def baseline_document(results: list[EntryResult]) -> dict[str, Any]:
    """The JSON object a baseline file holds: flops (MACs) and params per entry key. Every
    entry must have been evaluated (:class:`InvalidArgument` otherwise): a baseline without an
    entry's record would let that entry grow unchecked, shown as new."""
    failed = not_evaluated(results)
    if failed is not None:
        raise InvalidArgument(f"results: {failed} could not be evaluated; a baseline records "
                              "every entry", argument="results")
    return {
        "hetcalc_baseline": BASELINE_FORMAT,
        "unit": "MAC",
        "entries": [
            {"key": r.entry.key, "model": r.entry.model, "variant": r.entry.variant.spec,
             "input_shape": list(r.entry.input_shape or ()),
             **{metric.value: r.value(metric) for metric in BASELINE_METRICS}}
            for r in results
        ],
    }


def write_baseline(path: Path, results: list[EntryResult]) -> None:
    """Write the baseline of ``results`` to ``path`` atomically; an error writing it is an
    :class:`~hetcalc.errors.InvalidArgument` naming ``--write-baseline`` and the path."""
    text = json.dumps(baseline_document(results), indent=2) + "\n"
    atomic_write_text(path, text, what="--write-baseline")


def read_baseline(path: Path) -> dict[str, BaselineRecord]:
    """The records of a baseline file by entry key; :class:`BudgetError` when it is unusable."""
    try:  # a regular file of at most BASELINE_MAX_BYTES, JSON (hetcalc.readfile)
        text = read_text(path, "baseline file", BASELINE_MAX_BYTES)
        data = parse_json(text, path)
    except MissingFile:
        raise BudgetError([f"{path}: no such baseline file; write one with "
                           f"hetcalc check --write-baseline {path}"]) from None
    except FileProblem as problem:  # bad JSON or UTF-8, thousands of digits, deep nesting
        reason = problem.reason if problem.detail == problem.reason else \
            f"not a hetcalc baseline file: {problem.detail}"
        raise BudgetError([f"{path}: {reason}"]) from None
    if not isinstance(data, dict) or data.get("hetcalc_baseline") != BASELINE_FORMAT:
        raise BudgetError([f"{path}: not a hetcalc baseline file (no \"hetcalc_baseline\": "
                           f"{BASELINE_FORMAT}); write one with hetcalc check --write-baseline"])
    if "entries" not in data:  # a check against no records would pass whatever grew
        raise BudgetError([f"{path}: no \"entries\" array; a baseline holds the records of "
                           "every entry (write one with hetcalc check --write-baseline)"])
    entries = data["entries"]
    if not isinstance(entries, list):
        raise BudgetError([f"{path}: entries: expected an array of records, "
                           f"got {_describe_json(entries)}"])
    records: dict[str, BaselineRecord] = {}
    problems = []
    for index, item in enumerate(entries, start=1):
        try:
            record = _record(item)
        except ValueError as error:
            problems.append(f"{path}: baseline entry {index}: {error}")
            continue
        if record.key in records:
            problems.append(f"{path}: baseline entry {index}: key {record.key!r} is recorded "
                            "twice")
        records[record.key] = record
    if problems:
        raise BudgetError(problems)
    return records


def _describe_json(value: Any) -> str:
    """A JSON value as a message shows it (JSON calls a table an object)."""
    if value is None:
        return "null"
    return "an object" if isinstance(value, dict) else describe(value)


def _record(item: Any) -> BaselineRecord:
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {_describe_json(item)}")
    missing = [k for k in ("key", "model", "variant", "input_shape",
                           *(m.value for m in BASELINE_METRICS)) if k not in item]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    for key in ("key", "model", "variant"):
        if not isinstance(item[key], str):
            raise ValueError(f"{key}: expected a string, got {_describe_json(item[key])}")
    shape = item["input_shape"]
    if not isinstance(shape, list) or not all(_is_count(v) for v in shape):
        raise ValueError(f"input_shape: expected an array of integers, "
                         f"got {_describe_json(shape)}")
    for metric in BASELINE_METRICS:
        if not _is_count(item[metric.value]):
            raise ValueError(f"{metric.value}: expected an integer 0 or more, "
                             f"got {_describe_json(item[metric.value])}")
    return BaselineRecord(key=item["key"], model=item["model"], variant=item["variant"],
                          input_shape=tuple(shape),
                          values={m: item[m.value] for m in BASELINE_METRICS})


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Change:
    """One metric of one entry, before (baseline) and after (now)."""

    metric: Metric
    before: int
    after: int
    tolerance: float

    @property
    def change(self) -> float:
        """Relative growth, (after - before) / before."""
        if self.before == 0:
            return 0.0 if self.after == 0 else math.inf
        return (self.after - self.before) / self.before

    @property
    def passed(self) -> bool:
        """Growth exactly at the tolerance passes."""
        return self.change <= self.tolerance


@dataclass(frozen=True)
class Regression:
    """An entry compared with its baseline record (``record`` is None for a new entry)."""

    entry: Entry
    record: BaselineRecord | None
    changes: list[Change] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(change.passed for change in self.changes)


def find_regressions(results: list[EntryResult], baseline: dict[str, BaselineRecord],
                     tolerance: float) -> list[Regression]:
    """Each evaluated entry against its baseline record: growth above ``tolerance`` fails. An
    entry that could not be evaluated has no regression (there is nothing to compare)."""
    regressions = []
    for result in results:
        if result.failure is not None:
            continue
        record = baseline.get(result.entry.key)
        changes = [] if record is None else [
            Change(metric, record.values[metric], int(result.value(metric) or 0), tolerance)
            for metric in BASELINE_METRICS
        ]
        regressions.append(Regression(result.entry, record, changes))
    return regressions


@dataclass(frozen=True)
class CheckRun:
    """Everything ``hetcalc check`` found: the limits, and the baseline comparison if asked."""

    budget: BudgetFile
    results: list[EntryResult]
    baseline: str | None = None  # how to name the baseline file
    tolerance: float | None = None
    regressions: list[Regression] | None = None
    stale: list[str] = field(default_factory=list)  # baseline keys no entry has any more

    @property
    def failed_checks(self) -> list[tuple[EntryResult, Check]]:
        return [(r, c) for r in self.results for c in r.checks if not c.passed]

    @property
    def failed_changes(self) -> list[tuple[Regression, Change]]:
        return [(g, c) for g in self.regressions or [] for c in g.changes if not c.passed]

    @property
    def failed_entries(self) -> list[EntryResult]:
        """The entries that could not be evaluated (exit 2, whatever else the run found)."""
        return [r for r in self.results if r.failure is not None]

    def regression_of(self, result: EntryResult) -> Regression | None:
        """The comparison of ``result``'s entry with the baseline (None without one, or for an
        entry that could not be evaluated)."""
        return next((g for g in self.regressions or [] if g.entry.index == result.entry.index),
                    None)

    @property
    def passed(self) -> bool:
        """Every entry evaluated, within its limits, and grown no more than the tolerance."""
        return not self.failed_entries and not self.failed_checks and not self.failed_changes
