"""Budget files: what each model may cost, checked in CI (``hetcalc check``).

A budget file is TOML (``budgets.toml``, or the same tables under ``[tool.hetcalc]`` in
``pyproject.toml``)::

    [defaults]                      # optional; any entry key except model and name
    variant = "p4"

    [[model]]
    model = "vgg16_cifar"           # any spec `hetcalc analyze` accepts (required)
    name = "cifar-backbone"         # optional label; also the entry's key in a baseline
    input_shape = [1, 3, 32, 32]    # or "1,3,32,32"; default: the model's own
    max_flops = "110M"              # MACs: 2.9G, 850M, 17_000_000, 2.9e9
    max_params = "5.2M"
    min_reduction = "60%"           # or 0.6; share of the baseline MACs the variant removes
    max_latency_ms = 50             # measured median (with device, batch_size, dtype, threads)

The whole file is validated before any model is built; every problem names the file, the entry
(its index and model or name), the key and the bad value, on one line (:class:`BudgetError`).
Then each distinct (model, input shape) is traced once and every entry's variant is costed on
that trace (:func:`evaluate`). Regression mode records flops and params per entry
(:func:`write_baseline`) and compares later runs with them (:func:`compare`).

Nothing here prints; :mod:`hetcalc.render.budget` shapes the results, the CLI writes them.
"""

from __future__ import annotations

import difflib
import enum
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from hetcalc import analysis, models
from hetcalc.analysis import AnalysisReport
from hetcalc.errors import HetcalcError, InvalidArgument
from hetcalc.trace import Trace
from hetcalc.variants import Variant, parse_variant

BUDGETS_TOML = "budgets.toml"
PYPROJECT_TOML = "pyproject.toml"
BASELINE_FORMAT = 1


class BudgetError(HetcalcError, ValueError):
    """A budget or baseline file that cannot be used.

    ``problems`` holds every problem found, one line each, in file order; ``str(error)`` is the
    first one (and how many more there are), so the CLI still prints a single line.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''} in this file)" if more else ""
        super().__init__(self.problems[0] + suffix)


# --------------------------------------------------------------------------------------------
# Values: numbers with suffixes, fractions, shapes. Each parser raises _Bad with the problem.


class _Bad(Exception):
    """A value that does not fit its key; the message says why (the caller adds where)."""


_SUFFIX = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_DIGITS = r"\d+(?:_\d+)*"
_NUMBER = re.compile(rf"(?P<mantissa>{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})"
                     rf"(?:[eE](?P<exp>[+-]?\d+))?\s*(?P<suffix>[KMGTkmgt]?)")
NUMBER_FORMS = "an integer or a number with a K, M, G or T suffix, e.g. 2.9G, 850M, 17_000_000"


def describe(value: Any) -> str:
    """A TOML value as a message shows it: its TOML type and the value."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the float {value!r}"
    if isinstance(value, list):
        return f"the array {json.dumps(value, default=str)}"
    if isinstance(value, dict):
        return "a table"
    return f"the {type(value).__name__} {value}"


def _decimal(text: str) -> Decimal:
    """``2.9G`` -> 2900000000, ``17_000_000`` -> 17000000 (SI suffixes, powers of 1000)."""
    stripped = text.strip()
    if stripped.startswith("-") and _NUMBER.fullmatch(stripped[1:].strip()):
        raise _Bad(f"must be positive, got {describe(text)}")
    match = _NUMBER.fullmatch(stripped)
    if match is None:
        raise _Bad(f"bad number {text!r}; expected {NUMBER_FORMS}")
    number = Decimal(match["mantissa"].replace("_", ""))
    if match["exp"]:
        number = number.scaleb(int(match["exp"]))
    return number * _SUFFIX[match["suffix"].upper()]


def parse_count(value: Any) -> int:
    """A positive count of MACs or parameters: ``2.9G``, ``"850M"``, ``17_000_000``, ``2.9e9``."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"expected {NUMBER_FORMS}, got {describe(value)}")
    if isinstance(value, str):
        number = _decimal(value)
    else:
        if isinstance(value, float) and not math.isfinite(value):
            raise _Bad(f"expected a finite number, got {describe(value)}")
        number = Decimal(value)
    if number <= 0:
        raise _Bad(f"must be positive, got {describe(value)}")
    return int(number.to_integral_value())


def parse_fraction(value: Any, *, below_one: bool) -> float:
    """A share: ``"25%"``, ``0.25`` or ``"0.25"``; never negative, below 1 when ``below_one``."""
    forms = "a fraction such as 0.25 or a percentage such as '25%'"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"expected {forms}, got {describe(value)}")
    text = str(value).strip()
    scale = Decimal(1)
    if isinstance(value, str) and text.endswith("%"):
        text, scale = text[:-1].strip(), Decimal("0.01")
    try:
        number = Decimal(text) * scale
    except InvalidOperation:
        raise _Bad(f"expected {forms}, got {describe(value)}") from None
    if not number.is_finite() or number < 0 or (below_one and number >= 1):
        bound = "below 100% (a fraction under 1)" if below_one else "0 or more"
        raise _Bad(f"must be {bound}, got {describe(value)}")
    return float(number)


def parse_tolerance(text: str) -> float:
    """``--tolerance 1%`` (or ``0.01``): how much growth over the baseline is allowed."""
    try:
        return parse_fraction(text, below_one=False)
    except _Bad as bad:
        raise InvalidArgument(f"--tolerance: {bad}; e.g. --tolerance 1% or 0.01") from None


def _positive_number(value: Any) -> float:
    """Milliseconds or seconds: ``50``, ``12.5``, ``"50"``, ``"50ms"`` (no SI suffixes)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"expected a positive number, got {describe(value)}")
    try:
        number = float(value.strip().removesuffix("ms")) if isinstance(value, str) else value
    except ValueError:
        raise _Bad(f"expected a positive number, got {describe(value)}") from None
    if not math.isfinite(number) or number <= 0:
        raise _Bad(f"must be a positive number, got {describe(value)}")
    return float(number)


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Bad(f"expected a positive integer, got {describe(value)}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {describe(value)}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected a non-empty string, got {describe(value)}")
    return value.strip()


SHAPE_FORMS = "four positive integers N,C,H,W such as [1, 3, 224, 224] or \"1,3,224,224\""


def _input_shape(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        try:
            return models.parse_input_shape(value)
        except InvalidArgument:
            raise _Bad(f"expected {SHAPE_FORMS}, got {describe(value)}") from None
    if (isinstance(value, list) and len(value) == 4
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        return tuple(value)
    raise _Bad(f"expected {SHAPE_FORMS}, got {describe(value)}")


def _variant(value: Any) -> Variant:
    if not isinstance(value, str):
        raise _Bad(f"expected a variant string such as \"p4\", got {describe(value)}")
    try:
        return parse_variant(value)
    except InvalidArgument as error:
        raise _Bad(str(error)) from None


DEVICES = ("auto", "cpu", "cuda")  # as hetcalc.latency.LatencySettings takes them
DTYPES = ("float32", "float16", "bfloat16")


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.strip() not in choices:
            raise _Bad(f"expected one of {', '.join(choices)}, got {describe(value)}")
        return value.strip()
    return parse


# --------------------------------------------------------------------------------------------
# The schema: every key an entry may hold, its parser, and which keys are limits.

LIMIT_KEYS = ("max_flops", "max_params", "min_reduction", "max_latency_ms")
LATENCY_KEYS = ("device", "batch_size", "dtype", "threads", "channels_last", "min_run_time")

_PARSERS: dict[str, Callable[[Any], Any]] = {
    "input_shape": _input_shape,
    "variant": _variant,
    "include_first": _boolean,
    "max_flops": parse_count,
    "max_params": parse_count,
    "min_reduction": lambda v: parse_fraction(v, below_one=True),
    "max_latency_ms": _positive_number,
    "device": _one_of(DEVICES),
    "batch_size": _positive_int,
    "dtype": _one_of(DTYPES),
    "threads": _positive_int,
    "channels_last": _boolean,
    "min_run_time": _positive_number,
}
DEFAULT_KEYS = tuple(_PARSERS)
ENTRY_KEYS = ("model", "name", *DEFAULT_KEYS)
TOP_KEYS = ("defaults", "model")


class Metric(enum.StrEnum):
    """What a limit bounds. The value is the metric's key in JSON and baselines."""

    FLOPS = "flops"
    PARAMS = "params"
    REDUCTION = "reduction"
    LATENCY = "latency_ms"

    @property
    def label(self) -> str:
        match self:
            case Metric.FLOPS:
                return "FLOPs (MACs)"
            case Metric.PARAMS:
                return "params"
            case Metric.REDUCTION:
                return "FLOPs reduction"
            case Metric.LATENCY:
                return "latency (ms, median)"

    @property
    def limit_key(self) -> str:
        match self:
            case Metric.FLOPS:
                return "max_flops"
            case Metric.PARAMS:
                return "max_params"
            case Metric.REDUCTION:
                return "min_reduction"
            case Metric.LATENCY:
                return "max_latency_ms"

    @property
    def is_minimum(self) -> bool:
        """``min_reduction`` is a floor; every other limit is a ceiling."""
        return self is Metric.REDUCTION


@dataclass(frozen=True)
class Entry:
    """One validated ``[[model]]`` entry with its defaults applied."""

    index: int  # 1-based, in file order
    model: str  # as written in the file
    spec: str  # what is resolved and traced (a relative file path made absolute)
    name: str | None
    input_shape: tuple[int, ...]
    variant: Variant
    include_first: bool
    limits: dict[Metric, float | int]
    latency: dict[str, Any]  # the LATENCY_KEYS the file sets; LatencySettings has the defaults

    @property
    def label(self) -> str:
        return self.name or self.model

    @property
    def key(self) -> str:
        """The entry's identity in a baseline: its name, else model, variant and input shape."""
        if self.name:
            return self.name
        return f"{self.model} {self.variant.spec} {','.join(map(str, self.input_shape))}"


@dataclass(frozen=True)
class BudgetFile:
    path: Path
    display: str  # how messages name the file, e.g. "pyproject.toml [tool.hetcalc]"
    entries: list[Entry]


# --------------------------------------------------------------------------------------------
# Finding, reading and validating a budget file.


def find_budget_file(start: Path) -> Path:
    """The budget file ``hetcalc check`` uses when none is given.

    From ``start`` upwards, the first directory with a ``budgets.toml``, or with a
    ``pyproject.toml`` that has a ``[tool.hetcalc]`` table, wins; the search stops at the root
    of the git repository (a directory holding ``.git``).
    """
    start = start.resolve()
    for directory in (start, *start.parents):
        candidate = directory / BUDGETS_TOML
        if candidate.is_file():
            return candidate
        pyproject = directory / PYPROJECT_TOML
        if pyproject.is_file():
            tool = _read_toml(pyproject, str(pyproject)).get("tool")
            if isinstance(tool, dict) and "hetcalc" in tool:
                return pyproject
        if (directory / ".git").exists():
            break
    raise BudgetError([
        f"no budget file: found neither {BUDGETS_TOML} nor a {PYPROJECT_TOML} with a "
        f"[tool.hetcalc] table in {start} or its parents; give the file: hetcalc check FILE"
    ])


def _read_toml(path: Path, display: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BudgetError([f"{display}: no such file"]) from None
    except IsADirectoryError:
        raise BudgetError([f"{display}: is a directory, not a budget file"]) from None
    except UnicodeDecodeError as error:
        raise BudgetError([f"{display}: not UTF-8 text ({error.reason})"]) from None
    except OSError as error:
        raise BudgetError([f"{display}: cannot read it: {error.strerror}"]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BudgetError([f"{display}: not valid TOML: {error}"]) from None


def load_budget_file(path: Path, display: str | None = None) -> BudgetFile:
    """Read and validate a budget file; raise :class:`BudgetError` listing every problem.

    A file named ``pyproject.toml`` is read from its ``[tool.hetcalc]`` table.
    """
    shown = display or str(path)
    data = _read_toml(path, shown)
    if path.name == PYPROJECT_TOML:
        table = data.get("tool", {}).get("hetcalc") if isinstance(data.get("tool"), dict) else None
        if table is None:
            raise BudgetError([
                f"{shown}: no [tool.hetcalc] table; add [tool.hetcalc.defaults] and "
                f"[[tool.hetcalc.model]] entries, or keep the budgets in {BUDGETS_TOML}"
            ])
        shown = f"{shown} [tool.hetcalc]"
        if not isinstance(table, dict):
            raise BudgetError([f"{shown}: expected a table, got {describe(table)}"])
        data = table
    entries = parse_budgets(data, shown, path.parent)
    return BudgetFile(path=path, display=shown, entries=entries)


def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r}; {hint}expected one of {', '.join(known)}"


def _spec_for(model: str, base_dir: Path) -> str:
    """A ``path/to/file.py:fn`` spec is read relative to the budget file's directory."""
    if model.startswith("timm:") or ":" not in model:
        return model
    target, _, fn_name = model.rpartition(":")
    looks_like_path = target.endswith(".py") or "/" in target or "\\" in target
    if looks_like_path and not Path(target).is_absolute():
        return f"{base_dir / target}:{fn_name}"
    return model


def _entry_location(display: str, index: int, raw: Mapping[str, Any]) -> str:
    """``budgets.toml: entry 2 "fast" (resnet18)``: the index, then the name and model if any."""
    model, name = raw.get("model"), raw.get("name")
    where = f"{display}: entry {index}"
    if isinstance(name, str) and name.strip():
        where += f" {json.dumps(name.strip())}"
    if isinstance(model, str) and model.strip():
        where += f" ({model.strip()})"
    return where


def _parse_keys(raw: Mapping[str, Any], keys: tuple[str, ...], where: str,
                problems: list[str]) -> dict[str, Any]:
    """Parse every known key of ``raw``; unknown keys and bad values go to ``problems``."""
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in keys:
            problems.append(f"{where}: {_unknown_key(key, keys)}")
        elif key in _PARSERS:
            try:
                parsed[key] = _PARSERS[key](value)
            except _Bad as bad:
                problems.append(f"{where}: {key}: {bad}")
    return parsed


def parse_budgets(data: Mapping[str, Any], display: str, base_dir: Path) -> list[Entry]:
    """Validate the tables of a budget file (``defaults`` and ``model``) into entries."""
    problems: list[str] = []
    for key in data:
        if key not in TOP_KEYS:
            problems.append(f"{display}: {_unknown_key(key, TOP_KEYS)}")

    defaults: dict[str, Any] | None = None
    raw_defaults = data.get("defaults", {})
    if isinstance(raw_defaults, dict):
        before = len(problems)
        parsed = _parse_keys(raw_defaults, DEFAULT_KEYS, f"{display}: [defaults]", problems)
        defaults = parsed if len(problems) == before else None
    else:
        problems.append(f"{display}: defaults: expected a table [defaults], "
                        f"got {describe(raw_defaults)}")

    raw_entries = data.get("model")
    if raw_entries is None or raw_entries == []:
        problems.append(f"{display}: no entries; add at least one [[model]] table with a model "
                        "and a limit (max_flops, max_params, min_reduction or max_latency_ms)")
        raw_entries = []
    elif not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        problems.append(f"{display}: model: expected an array of tables [[model]], "
                        f"got {describe(raw_entries)}")
        raw_entries = []

    entries = []
    for index, raw in enumerate(raw_entries, start=1):
        entry = _parse_entry(index, raw, defaults, display, base_dir, problems)
        if entry is not None:
            entries.append(entry)

    first_with_key: dict[str, Entry] = {}
    for entry in entries:
        other = first_with_key.setdefault(entry.key, entry)
        if other is not entry:
            problems.append(
                f"{_entry_location(display, entry.index, vars(entry))}: "
                f"duplicates entry {other.index} ({entry.key}); give one of them a distinct name"
            )
    if problems:
        raise BudgetError(problems)
    return entries


def _parse_entry(index: int, raw: dict[str, Any], defaults: dict[str, Any] | None, display: str,
                 base_dir: Path, problems: list[str]) -> Entry | None:
    """Validate one entry (``defaults`` is None when they are invalid themselves); problems are
    appended, and None returned, when anything is wrong."""
    where = _entry_location(display, index, raw)
    before = len(problems)
    own = _parse_keys(raw, ENTRY_KEYS, where, problems)
    settings = {**(defaults or {}), **own}

    model_entry = None
    model = raw.get("model")
    if "model" not in raw:
        problems.append(f"{where}: model: missing; every entry names a model, "
                        "e.g. model = \"resnet50\"")
    elif not isinstance(model, str) or not model.strip():
        problems.append(f"{where}: model: expected a model name such as \"resnet50\", "
                        f"got {describe(model)}")
    else:
        model = model.strip()
        try:
            model_entry = models.resolve(_spec_for(model, base_dir))
        except HetcalcError as error:
            problems.append(f"{where}: model: {error}")
    if "name" in raw:
        try:
            own["name"] = _text(raw["name"])
        except _Bad as bad:
            problems.append(f"{where}: name: {bad}")

    if len(problems) > before or model_entry is None or defaults is None:
        return None  # the checks below would only repeat what is already wrong
    limits = {metric: settings[metric.limit_key] for metric in Metric
              if metric.limit_key in settings}
    if not limits:
        problems.append(f"{where}: no limit; give at least one of {', '.join(LIMIT_KEYS)} "
                        "(here or in [defaults])")
    variant = settings.get("variant", parse_variant("std"))
    if Metric.REDUCTION in limits and variant.is_baseline:
        problems.append(f"{where}: min_reduction: needs a variant (e.g. variant = \"p4\"); "
                        f"variant {variant.spec} reduces nothing")
    latency = {key: settings[key] for key in LATENCY_KEYS if key in settings}
    if Metric.LATENCY in limits:
        problem = _latency_problem(latency)
        if problem:
            problems.append(f"{where}: max_latency_ms: {problem}")
    if len(problems) > before:
        return None
    return Entry(
        index=index, model=model, spec=model_entry.name, name=own.get("name"),
        input_shape=settings.get("input_shape", model_entry.input_shape), variant=variant,
        include_first=settings.get("include_first", False), limits=limits, latency=latency,
    )


def _latency_settings(config: dict[str, Any]):
    from hetcalc.latency import LatencySettings

    return LatencySettings(**config)


def _latency_problem(config: dict[str, Any]) -> str | None:
    """Why the entry's latency cannot be measured here (no CUDA, say), or None. Imported lazily:
    entries without ``max_latency_ms`` never need the timing code."""
    try:
        from hetcalc import latency
    except ImportError as error:
        return f"latency measurement is not available in this installation ({error})"
    if not hasattr(latency, "model_latency"):
        return "latency measurement is not available in this installation"
    try:
        _latency_settings(config).validate()
    except HetcalcError as error:
        return str(error)
    return None


# --------------------------------------------------------------------------------------------
# Evaluating entries: one trace per (model, input shape), one report per entry.


@dataclass(frozen=True)
class Check:
    """One limit of one entry against the value the entry's model has."""

    metric: Metric
    value: float | int
    limit: float | int

    @property
    def passed(self) -> bool:
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
class EntryResult:
    entry: Entry
    report: AnalysisReport
    latency_ms: float | None
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def flops(self) -> int:
        """The MACs that are checked: the variant's analytic MACs (the baseline's for ``std``)."""
        return self.report.flops_analytic

    @property
    def params(self) -> int:
        return self.report.params

    def value(self, metric: Metric) -> float | int | None:
        match metric:
            case Metric.FLOPS:
                return self.flops
            case Metric.PARAMS:
                return self.params
            case Metric.REDUCTION:
                return self.report.reduction
            case Metric.LATENCY:
                return self.latency_ms


def _in_entry(budget: BudgetFile, entry: Entry, key: str, error: HetcalcError) -> HetcalcError:
    """The same kind of error, its message prefixed with the entry and key it came from."""
    message = f"{_entry_location(budget.display, entry.index, vars(entry))}: {key}: {error}"
    try:
        return type(error)(message)
    except TypeError:  # an error class with its own constructor
        return HetcalcError(message)


def measure_latency(entry: Entry) -> float:
    """Median milliseconds of the entry's model and variant (imported lazily: timing is
    optional and slow, and entries without ``max_latency_ms`` never need it)."""
    from hetcalc.latency import model_latency

    settings = _latency_settings(entry.latency)
    return model_latency(entry.spec, entry.variant, entry.input_shape, settings,
                         include_first=entry.include_first).median_ms


def evaluate(budget: BudgetFile) -> list[EntryResult]:
    """Cost every entry: each distinct (model, input shape) is traced once."""
    traces: dict[tuple[str, tuple[int, ...]], Trace] = {}
    results = []
    for entry in budget.entries:
        key = "model"
        try:
            trace_key = (entry.spec, entry.input_shape)
            if trace_key not in traces:
                traces[trace_key] = analysis.trace_spec(entry.spec, entry.input_shape)
            key = "variant"
            report = analysis.report_from_trace(entry.model, traces[trace_key], entry.variant,
                                                entry.include_first)
            key = "max_latency_ms"
            latency_ms = measure_latency(entry) if Metric.LATENCY in entry.limits else None
        except HetcalcError as error:
            raise _in_entry(budget, entry, key, error) from error
        result = EntryResult(entry, report, latency_ms, [])
        checks = [Check(metric, result.value(metric), limit)  # type: ignore[arg-type]
                  for metric, limit in entry.limits.items()]
        results.append(replace(result, checks=checks))
    return results


# --------------------------------------------------------------------------------------------
# Regression mode: record flops and params, later compare with a tolerance.

BASELINE_METRICS = (Metric.FLOPS, Metric.PARAMS)


@dataclass(frozen=True)
class BaselineRecord:
    key: str
    model: str
    variant: str
    input_shape: tuple[int, ...]
    values: dict[Metric, int]


def baseline_document(results: list[EntryResult]) -> dict[str, Any]:
    """The JSON object a baseline file holds: flops (MACs) and params per entry key."""
    return {
        "hetcalc_baseline": BASELINE_FORMAT,
        "unit": "MAC",
        "entries": [
            {"key": r.entry.key, "model": r.entry.model, "variant": r.entry.variant.spec,
             "input_shape": list(r.entry.input_shape),
             **{metric.value: r.value(metric) for metric in BASELINE_METRICS}}
            for r in results
        ],
    }


def write_baseline(path: Path, results: list[EntryResult]) -> None:
    try:
        path.write_text(json.dumps(baseline_document(results), indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise BudgetError([f"{path}: cannot write the baseline: {error.strerror}"]) from None


def read_baseline(path: Path) -> dict[str, BaselineRecord]:
    """The records of a baseline file by entry key; :class:`BudgetError` when it is unusable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BudgetError([f"{path}: no such baseline file; write one with "
                           f"hetcalc check --write-baseline {path}"]) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BudgetError([f"{path}: not a hetcalc baseline file: {error}"]) from None
    if not isinstance(data, dict) or data.get("hetcalc_baseline") != BASELINE_FORMAT:
        raise BudgetError([f"{path}: not a hetcalc baseline file (no \"hetcalc_baseline\": "
                           f"{BASELINE_FORMAT}); write one with hetcalc check --write-baseline"])
    records: dict[str, BaselineRecord] = {}
    for index, item in enumerate(data.get("entries", []), start=1):
        try:
            records[item["key"]] = BaselineRecord(
                key=str(item["key"]), model=str(item["model"]), variant=str(item["variant"]),
                input_shape=tuple(int(v) for v in item["input_shape"]),
                values={m: _baseline_int(item[m.value]) for m in BASELINE_METRICS},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BudgetError([f"{path}: baseline entry {index}: missing or bad value "
                               f"({type(error).__name__}: {error})"]) from None
    return records


def _baseline_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


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


def compare(results: list[EntryResult], baseline: dict[str, BaselineRecord],
            tolerance: float) -> list[Regression]:
    """Each entry against its baseline record: growth above ``tolerance`` fails."""
    regressions = []
    for result in results:
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
    def passed(self) -> bool:
        return not self.failed_checks and not self.failed_changes
