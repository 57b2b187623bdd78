"""Budget files: reading and validating them, without running any code they name (finding
one is :mod:`hetcalc.budget.discover`).

A budget file is TOML (``budgets.toml``, or the same tables under ``[tool.hetcalc]`` in
``pyproject.toml``)::

    [defaults]                      # optional; any entry key except model and name
    variant = "p4"

    [[model]]
    model = "vgg16_cifar"           # any spec `hetcalc analyze` accepts (required)
    name = "cifar-backbone"         # optional label; also the entry's key in a baseline
    input_shape = [1, 3, 32, 32]    # or "1,3,32,32"; default: the model's own; several
                                    # inputs: [[1, 3, 32, 32], "1,16:int64"]
    max_flops = "110M"              # MACs: 2.9G, 850M, 17_000_000, 2.9e9
    max_params = "5.2M"
    min_reduction = "60%"           # or 0.6; share of the baseline MACs the variant removes
    max_latency_ms = 50             # measured median (with device, batch_size, dtype, threads)
    # plan = "plans/r50.toml"       # instead of a variant: a per-layer plan (hetcalc plan),
                                    # read relative to this file
    # weights = "r50.safetensors"   # trained weights: the entry also reports what the
                                    # variant keeps of them (docs/fidelity.md)

The whole file is validated before any model is built; every problem names the file, the entry
(its index and model or name), the key and the bad value, on one line, and all of them are
collected in one :class:`BudgetError`.

Validation is syntax only: a model spec is checked for its form (a ``path/to/file.py:fn`` also
for the file's existence), never imported or called, and nothing here imports torch. What only
the installation knows (is ``resnet5O`` a registered name? is there a CUDA device?) is checked by
the ``check`` callback that :func:`load_budget_file` takes, still without running the file's code
(:func:`hetcalc.budget.evaluate.preflight`). A model builder the file names runs only when its
entry is evaluated (:func:`hetcalc.budget.evaluate.evaluate`).
"""

from __future__ import annotations

import difflib
import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hetcalc.budget import values
from hetcalc.budget.values import Bad, describe
from hetcalc.errors import HetcalcError, InvalidArgument
from hetcalc.plan.file import Plan, read_plan
from hetcalc.readfile import FileProblem, parse_toml, read_text
from hetcalc.settings import DEVICES, DTYPES
from hetcalc.shapes import TensorShape, shapes_text
from hetcalc.usercode import TIMEOUT_MAX, TIMEOUT_MIN
from hetcalc.variants import Variant, parse_variant

BUDGETS_TOML = "budgets.toml"
PYPROJECT_TOML = "pyproject.toml"


class BudgetError(HetcalcError, ValueError):
    """A budget or baseline file that cannot be used.

    ``problems`` holds every problem found, one line each, in file order; ``str(error)`` is the
    first one (and how many more there are), one line for a library caller. ``hetcalc check``
    prints every problem, one line each.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''} in this file)" if more else ""
        super().__init__(self.problems[0] + suffix)


# --------------------------------------------------------------------------------------------
# The schema: every key an entry may hold, its parser, and which keys are limits.

LIMIT_KEYS = ("max_flops", "max_params", "min_reduction", "max_latency_ms")
LATENCY_KEYS = ("device", "batch_size", "dtype", "threads", "channels_last", "min_run_time")

_PARSERS: dict[str, Callable[[Any], Any]] = {
    "input_shape": values.parse_input_shape,
    "variant": values.parse_variant_spec,
    "include_first": values.parse_boolean,
    "merge_dw_pw": values.parse_boolean,
    "allow_unchanged": values.parse_boolean,
    "max_flops": values.parse_count,
    "max_params": values.parse_count,
    "min_reduction": lambda v: values.parse_fraction(v, below_one=True),
    "max_latency_ms": values.parse_positive_number,
    "device": values.choice_parser(DEVICES),
    "batch_size": values.parse_batch_size,
    "dtype": values.choice_parser(DTYPES),
    "threads": values.parse_threads,
    "channels_last": values.parse_boolean,
    "min_run_time": values.parse_seconds,
    "timeout": lambda v: values.parse_positive_number(v, TIMEOUT_MIN, TIMEOUT_MAX, "s"),
}
DEFAULT_KEYS = tuple(_PARSERS)
ENTRY_KEYS = ("model", "name", *DEFAULT_KEYS, "plan", "weights")
"""``plan`` and ``weights`` are an entry's own (made for one model), never in [defaults]."""
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
    # None: the model's own, which only importing the model tells (see Entry.key); filled in
    # by the check callback for registered names and by evaluation for the rest.
    input_shape: tuple[int, ...] | None
    """The first input tensor's shape (the model's main input)."""
    variant: Variant | Plan
    """The variant, or the per-layer plan the entry's ``plan`` key names (which shows its file
    name where a variant shows its spec)."""
    include_first: bool
    limits: dict[Metric, float | int]
    latency: dict[str, Any]  # the LATENCY_KEYS the file sets; LatencySettings has the defaults
    merge_dw_pw: bool = False
    allow_unchanged: bool = False
    """A variant that replaces no layer fails the entry unless this says it is expected."""
    timeout: float | None = None
    """Seconds the entry's model work (import, build, trace, count, timing) may take."""
    weights: Path | None = None
    """Trained weights (``weights = "FILE"``, relative to the budget file): the entry's report
    then has the fidelity figures too."""
    inputs: tuple[TensorShape, ...] | None = None
    """Every input tensor's shape, when ``input_shape`` is a list of them or names a dtype."""
    own_inputs: bool = False
    """``input_shape`` was filled in from the model's own inputs (none was given)."""

    @property
    def label(self) -> str:
        return self.name or self.model

    @property
    def given_inputs(self) -> tuple[int, ...] | tuple[TensorShape, ...] | None:
        """The inputs the file gives (``None``: the model's own), for
        :func:`hetcalc.pipeline.subject`."""
        return None if self.own_inputs else (self.inputs or self.input_shape)

    @property
    def key(self) -> str:
        """The entry's identity in a baseline: its name, else model, variant and input shape."""
        if self.name:
            return self.name
        shape = ("default" if self.input_shape is None else shapes_text(self.inputs)
                 if self.inputs else ",".join(map(str, self.input_shape)))
        return f"{self.model} {self.variant.spec} {shape}"


@dataclass(frozen=True)
class BudgetFile:
    path: Path
    display: str  # how messages name the file, e.g. "pyproject.toml [tool.hetcalc]"
    entries: list[Entry]


EntryCheck = Callable[[Entry], tuple[Entry, list[str]]]
"""What the installation knows about a syntactically valid entry, found without running code
the file names: the entry completed (a registered model's default input shape filled in) and
its problems as ``"key: message"`` lines. See :func:`hetcalc.budget.evaluate.preflight`."""


# --------------------------------------------------------------------------------------------
# Finding and reading a budget file.


def read_toml(path: Path, display: str) -> dict[str, Any]:
    """A regular file of at most 1 MiB, UTF-8 TOML (:mod:`hetcalc.readfile`)."""
    try:
        return parse_toml(read_text(path, "budget file"), display)
    except FileProblem as problem:
        raise BudgetError([f"{display}: {problem.reason}"]) from None


def load_budget_file(path: Path, display: str | None = None, *,
                     check: EntryCheck | None = None) -> BudgetFile:
    """Read and validate a budget file; raise :class:`BudgetError` listing every problem.

    A file named ``pyproject.toml`` is read from its ``[tool.hetcalc]`` table. ``check`` adds
    what the installation knows (see :data:`EntryCheck`); without it the validation is syntax
    only, and a registered name is looked up, and a default input shape found, at evaluation.
    """
    shown = display or str(path)
    data = read_toml(path, shown)
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
    entries = parse_budgets(data, shown, path.parent, check=check)
    return BudgetFile(path=path, display=shown, entries=entries)


# --------------------------------------------------------------------------------------------
# Validating the tables.


def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r}; {hint}expected one of {', '.join(known)}"


def is_user_spec(model: str) -> bool:
    """``path/to/file.py:fn`` or ``package.module:fn``: code of the user's, imported to build."""
    return ":" in model and not model.startswith("timm:")


def _spec_problem(model: str, base_dir: Path) -> str | None:
    """What is wrong with the form of a model spec, or None. Nothing is imported."""
    if model.startswith("timm:"):
        return None if model.removeprefix("timm:").strip() else "expected timm:NAME, e.g. timm:resnet50"
    if not is_user_spec(model):
        return None  # a registered name; the check callback or evaluation looks it up
    forms = "expected path/to/file.py:fn or package.module:fn"
    target, _, function = model.rpartition(":")
    if not target or not function.isidentifier():
        return f"{forms}, got {describe(model)}"
    if target.endswith(".py") or "/" in target or "\\" in target:
        if not target.endswith(".py"):
            return f"{forms}, got {describe(model)} (a file must end in .py)"
        path = Path(target) if Path(target).is_absolute() else base_dir / target
        if not path.is_file():  # a FIFO or a device is never imported
            what = "is not a regular file" if path.exists() else "does not exist"
            return f"file {target} {what} (looked for {path})"
        return None
    if not all(part.isidentifier() for part in target.split(".")):
        return f"{forms}, got {describe(model)}"
    return None


def _spec_for(model: str, base_dir: Path) -> str:
    """A ``path/to/file.py:fn`` spec is read relative to the budget file's directory."""
    if not is_user_spec(model):
        return model
    target, _, fn_name = model.rpartition(":")
    looks_like_path = target.endswith(".py") or "/" in target or "\\" in target
    if looks_like_path and not Path(target).is_absolute():
        return f"{base_dir / target}:{fn_name}"
    return model


def entry_location(display: str, index: int, raw: Mapping[str, Any]) -> str:
    """``budgets.toml: entry 2 "fast" (resnet18)``: the index, then the name and model if any."""
    model, name = raw.get("model"), raw.get("name")
    where = f"{display}: entry {index}"
    if isinstance(name, str) and name.strip():
        where += f" {json.dumps(name.strip())}"
    if isinstance(model, str) and model.strip():
        where += f" ({model.strip()})"
    return where


def _parse_keys(raw: Mapping[str, Any], keys: tuple[str, ...], where: str,
                problems: list[str], wrong: set[str]) -> dict[str, Any]:
    """Parse every known key of ``raw``; unknown keys and bad values go to ``problems``, and
    their keys to ``wrong``."""
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in keys:
            problems.append(f"{where}: {_unknown_key(key, keys)}")
            wrong.add(key)
        elif key in _PARSERS:
            try:
                parsed[key] = _PARSERS[key](value)
            except Bad as bad:
                problems.append(f"{where}: {key}: {bad}")
                wrong.add(key)
    return parsed


def parse_budgets(data: Mapping[str, Any], display: str, base_dir: Path, *,
                  check: EntryCheck | None = None) -> list[Entry]:
    """Validate the tables of a budget file (``defaults`` and ``model``) into entries.

    Every problem is named, each once: a check whose answer a problem already named may decide
    is left out (no "no limit" for an entry whose misspelt or bad key may be its limit, no
    "no entries" beside an unknown top-level key, which may be a misspelt ``model``)."""
    problems: list[str] = []
    unknown_top = [key for key in data if key not in TOP_KEYS]
    problems += [f"{display}: {_unknown_key(key, TOP_KEYS)}" for key in unknown_top]

    defaults: dict[str, Any] = {}
    doubtful: set[str] | None = set()  # [defaults] keys named as wrong; None: no table to read
    raw_defaults = data.get("defaults", {})
    if isinstance(raw_defaults, dict):
        defaults = _parse_keys(raw_defaults, DEFAULT_KEYS, f"{display}: [defaults]", problems,
                               doubtful)
    else:
        problems.append(f"{display}: defaults: expected a table [defaults], "
                        f"got {describe(raw_defaults)}")
        doubtful = None

    raw_entries = data.get("model")
    if (raw_entries is None or raw_entries == []) and unknown_top:
        raw_entries = []  # the unknown key may be the entries, misspelt: named already
    elif raw_entries is None or raw_entries == []:
        problems.append(f"{display}: no entries; add at least one [[model]] table with a model "
                        "and a limit (max_flops, max_params, min_reduction or max_latency_ms)")
        raw_entries = []
    elif not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        problems.append(f"{display}: model: expected an array of tables [[model]], "
                        f"got {describe(raw_entries)}")
        raw_entries = []

    entries = []
    for index, raw in enumerate(raw_entries, start=1):
        before = len(problems)
        entry = _parse_entry(index, raw, defaults, doubtful, display, base_dir, problems)
        if entry is not None and check is not None:  # even beside other problems: all named
            entry, found = check(entry)
            problems += [f"{entry_location(display, index, raw)}: {line}" for line in found]
        if entry is not None and len(problems) == before:
            entries.append(entry)

    first_with_key: dict[str, Entry] = {}
    for entry in entries:
        other = first_with_key.setdefault(entry.key, entry)
        if other is not entry:
            problems.append(duplicate_problem(display, entry, other))
    if problems:
        raise BudgetError(problems)
    return entries


def duplicate_problem(display: str, entry: Entry, other: Entry) -> str:
    return (f"{entry_location(display, entry.index, vars(entry))}: duplicates entry "
            f"{other.index} ({entry.key}); give one of them a distinct name")


def _parse_entry(index: int, raw: dict[str, Any], defaults: dict[str, Any],
                 doubtful: set[str] | None, display: str, base_dir: Path,
                 problems: list[str]) -> Entry | None:
    """Validate one entry; every problem it has is appended. ``defaults`` holds the [defaults]
    keys that parsed, ``doubtful`` the ones named as wrong there (None: [defaults] is not a
    table). Returns the entry, built from its keys that parsed, whenever its model is usable
    (the installation's check still has something to say about it), else None: the caller keeps
    it only when no problem was appended."""
    where = entry_location(display, index, raw)
    wrong: set[str] = set()
    own = _parse_keys(raw, ENTRY_KEYS, where, problems, wrong)
    settings = {**defaults, **own}
    if doubtful is not None:
        wrong |= doubtful - set(own)  # a wrong default the entry does not override

    model = raw.get("model")
    usable = False  # a model spec of a valid form: the entry can be built and checked
    if "model" not in raw:
        problems.append(f"{where}: model: missing; every entry names a model, "
                        "e.g. model = \"resnet50\"")
    elif not isinstance(model, str) or not model.strip():
        problems.append(f"{where}: model: expected a model name such as \"resnet50\", "
                        f"got {describe(model)}")
    else:
        model = model.strip()
        problem = _spec_problem(model, base_dir)
        if problem:
            problems.append(f"{where}: model: {problem}")
        usable = not problem
    if "name" in raw:
        try:
            own["name"] = values.parse_text(raw["name"])
        except Bad as bad:
            problems.append(f"{where}: name: {bad}")

    # The checks below are of keys that parsed; a key named as wrong (here or in [defaults])
    # or a [defaults] that is no table may hold what they look for, so they leave it alone.
    limits = {metric: settings[metric.limit_key] for metric in Metric
              if metric.limit_key in settings}
    if not limits and not wrong and doubtful is not None:
        problems.append(f"{where}: no limit; give at least one of {', '.join(LIMIT_KEYS)} "
                        "(here or in [defaults])")
    variant: Variant | Plan = settings.get("variant", parse_variant("std"))
    variant_known = "variant" not in wrong
    if "plan" in raw:
        plan = None
        if isinstance(model, str) and model.strip():  # a plan is checked against its model
            plan = _entry_plan(raw, own, settings, model, base_dir, f"{where}: plan", problems)
        variant_known = plan is not None
        if plan is not None:
            variant = plan
            if "input_shape" not in settings and plan.input_shape is not None:
                settings["input_shape"] = plan.input_shape
    if Metric.REDUCTION in limits and variant_known and variant.is_baseline:
        problems.append(f"{where}: min_reduction: needs a variant (e.g. variant = \"p4\"); "
                        f"variant {variant.spec} reduces nothing")
    weights = _entry_weights(raw["weights"], base_dir, f"{where}: weights", problems) \
        if "weights" in raw else None
    if not usable:
        return None
    shape = settings.get("input_shape")
    inputs = shape if shape and isinstance(shape[0], TensorShape) else None
    return Entry(
        index=index, model=model, spec=_spec_for(model, base_dir), name=own.get("name"),
        input_shape=inputs[0].sizes if inputs else shape, inputs=inputs, variant=variant,
        include_first=settings.get("include_first", False), limits=limits,
        latency={key: settings[key] for key in LATENCY_KEYS if key in settings},
        merge_dw_pw=settings.get("merge_dw_pw", False),
        allow_unchanged=settings.get("allow_unchanged", False),
        timeout=settings.get("timeout"), weights=weights,
    )


def _entry_weights(value: Any, base_dir: Path, where: str, problems: list[str]) -> Path | None:
    """The regular file an entry's ``weights`` names (relative to the budget file); read only
    when the entry is evaluated, as ``--weights`` reads it (tensors only)."""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: expected the path of a weights file such as "
                        f"\"r50.safetensors\", got {describe(value)}")
        return None
    path = Path(value.strip()) if Path(value.strip()).is_absolute() else base_dir / value.strip()
    if not path.is_file():
        problems.append(f"{where}: {json.dumps(value)}: no such file (read relative to the "
                        "budget file)")
        return None
    return path


def _entry_plan(raw: dict[str, Any], own: dict[str, Any], settings: dict[str, Any], model: str,
                base_dir: Path, where: str, problems: list[str]) -> Plan | None:
    """The plan an entry's ``plan`` key names, read (relative to the budget file) and checked
    without torch; its problems are appended, and None returned, when anything is wrong. The
    entry's own ``variant`` may not be given with it (one from [defaults] gives way)."""
    value = raw["plan"]
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: expected the path of a plan file such as \"plan.toml\", "
                        f"got {describe(value)}")
        return None
    if "variant" in own:
        problems.append(f"{where}: give variant or plan, not both (a plan names each "
                        "layer's variant)")
        return None
    if settings.get("merge_dw_pw"):
        problems.append(f"{where}: a per-layer plan does not merge depthwise+pointwise pairs; "
                        "drop merge_dw_pw")
        return None
    text = value.strip()
    path = Path(text) if Path(text).is_absolute() else base_dir / text
    try:
        plan = read_plan(path, where=text)
        plan.check_model(model)
    except InvalidArgument as error:
        problems.append(f"{where}: {error}")
        return None
    return plan
