"""Per-layer plans: which variant each convolution of a model takes, kept in a small TOML file.

::

    [plan]
    model = "resnet50"                  # optional: the model it was made for
    input_shape = [1, 3, 224, 224]      # optional: the input it was made for

    [layers]
    "layer1.0.conv2" = "p4"             # any variant of the grammar, or "std"
    "layer2.0.conv2" = "std"

Layers the file does not name stay standard. Reading a file checks its own form (TOML, known
keys, the variant grammar) without torch; whether every name is a conv layer of the model and
every variant fits its layer is checked when the plan meets the traced model
(:func:`hetcalc.substitute.decide`). Every problem is one line naming the file, the layer and the
value.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hetcalc.errors import InvalidArgument
from hetcalc.readfile import FileProblem, MissingFile, parse_toml, read_text
from hetcalc.shapes import INPUT_SHAPE_FORMS, parse_input_shape, size_note, sizes
from hetcalc.variants import Variant, parse_variant

__all__ = ["Plan", "PLAN_SUFFIX", "is_plan_path", "read_plan", "parse_plan", "plan_toml",
           "as_plan"]

PLAN_SUFFIX = ".toml"
TOP_KEYS = ("plan", "layers")
PLAN_KEYS = ("model", "input_shape")


class Plan(Mapping[str, Variant]):
    """A per-layer plan: conv layer name -> variant, in the order given (layers not named stay
    standard), with the model and input shape it was made for, when known.

    Where a variant is shown, a plan shows its label (``spec``, the file's name), so code that
    lists variants lists a plan beside them; ``where`` (the path as given) prefixes its errors.
    """

    def __init__(self, layers: Mapping[str, Variant], *, model: str | None = None,
                 input_shape: Sequence[int] | None = None, where: str | None = None,
                 label: str | None = None) -> None:
        self._layers = dict(layers)
        self.model = model
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.where = where
        self.spec = label or (Path(where).name if where else "plan")

    def __getitem__(self, name: str) -> Variant:
        return self._layers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Plan):
            return NotImplemented
        return (self._layers, self.model, self.input_shape) == (other._layers, other.model,
                                                                 other.input_shape)

    def __hash__(self) -> int:
        return hash((tuple(self._layers.items()), self.model, self.input_shape))

    def __repr__(self) -> str:
        return f"Plan({self.spec!r}, {len(self)} layers: {self.description})"

    @property
    def is_baseline(self) -> bool:
        """Every layer standard: the plan changes nothing."""
        return all(variant.is_baseline for variant in self.values())

    @property
    def sequential_depth(self) -> int:
        """Extra layers on the critical path: the deepest of the plan's variants."""
        return max((variant.sequential_depth for variant in self.values()), default=0)

    @property
    def changed(self) -> dict[str, Variant]:
        """The layers the plan replaces, with their variants."""
        return {name: v for name, v in self.items() if not v.is_baseline}

    @property
    def description(self) -> str:
        """``per-layer plan: 9 x p4, 4 x p8`` (the variants the plan uses, most used first)."""
        counts = Counter(variant.spec for variant in self.changed.values())
        if not counts:
            return "per-layer plan: every layer standard"
        return "per-layer plan: " + ", ".join(f"{n} x {spec}" for spec, n in counts.most_common())

    def check_model(self, model: str) -> None:
        """Refuse to apply the plan to a model other than the one it names (its layer names
        could match and mean something else)."""
        if self.model is not None and self.model != model:
            raise InvalidArgument(f"{self.where or self.spec}: this plan is for model "
                                  f"{json.dumps(self.model)}, not {json.dumps(model)} (remove "
                                  "its [plan] model key to use it on another model)")


def is_plan_path(value: object) -> bool:
    """A :class:`~pathlib.Path`, or a string ending in ``.toml``: a plan file, not a variant."""
    return isinstance(value, Path) or (isinstance(value, str)
                                       and value.strip().lower().endswith(PLAN_SUFFIX))


def as_plan(value: Plan | Path | str) -> Plan:
    """A plan, read from its file when given a path."""
    return value if isinstance(value, Plan) else read_plan(value)


def _describe(value: Any) -> str:
    from hetcalc.budget.values import describe  # imported here: hetcalc.budget imports this

    return describe(value)


def read_plan(path: Path | str, where: str | None = None) -> Plan:
    """Read and check a plan file; :class:`InvalidArgument` names the file (``where``, default
    the path as given), and the layer and value at fault."""
    shown = where or str(path)
    try:  # a regular file of at most 1 MiB (hetcalc.readfile), TOML
        data = parse_toml(read_text(path, "plan file"), shown)
    except MissingFile:
        raise InvalidArgument(f"{shown}: no such plan file") from None
    except FileProblem as problem:
        raise InvalidArgument(f"{shown}: {problem.reason}") from None
    return parse_plan(data, shown)


def _unknown(key: str, known: tuple[str, ...], where: str) -> InvalidArgument:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return InvalidArgument(f"{where}: unknown key {key!r}; {hint}expected one of "
                           f"{', '.join(known)}")


def _input_shape(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, str):
        try:
            return parse_input_shape(value)
        except InvalidArgument as error:
            raise InvalidArgument(f"{where}: {error}") from None
    shape = sizes(value) if isinstance(value, list) else None
    if shape is not None:
        return shape
    raise InvalidArgument(f"{where}: input_shape must be positive integers {INPUT_SHAPE_FORMS}, "
                          f"got {_describe(value)}{size_note(value)}")


def parse_plan(data: Mapping[str, Any], where: str = "plan") -> Plan:
    """A plan from the tables of a plan file (``where`` names it in messages)."""
    for key in data:
        if key not in TOP_KEYS:
            raise _unknown(key, TOP_KEYS, where)
    head = data.get("plan", {})
    if not isinstance(head, dict):
        raise InvalidArgument(f"{where}: plan: expected a table [plan], got {_describe(head)}")
    for key in head:
        if key not in PLAN_KEYS:
            raise _unknown(key, PLAN_KEYS, f"{where}: [plan]")
    model = head.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise InvalidArgument(f"{where}: [plan] model: expected a model name such as "
                              f"\"resnet50\", got {_describe(model)}")
    shape = _input_shape(head["input_shape"], f"{where}: [plan]") if "input_shape" in head \
        else None
    table = data.get("layers", {})
    if not isinstance(table, dict):
        raise InvalidArgument(f"{where}: layers: expected a table [layers] of \"layer name\" = "
                              f"\"variant\", got {_describe(table)}")
    layers: dict[str, Variant] = {}
    for name, value in table.items():
        named = f"{where}: layer {json.dumps(name)}"
        if isinstance(value, dict):  # a dotted name written without quotes
            raise InvalidArgument(f"{named}: expected a variant string such as \"p4\", got a "
                                  "table (quote names with dots: \"layer1.0.conv2\" = \"p4\")")
        if not isinstance(value, str):
            raise InvalidArgument(f"{named}: expected a variant string such as \"p4\", got "
                                  f"{_describe(value)}")
        try:
            layers[name] = parse_variant(value)
        except InvalidArgument as error:
            raise InvalidArgument(f"{named}: {error}") from None
    return Plan(layers, model=model.strip() if model else None, input_shape=shape, where=where)


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes, less the surrogate pairs TOML refuses."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def plan_toml(plan: Plan, header: Sequence[str] = (),
              comments: Mapping[str, str] | None = None) -> str:
    """The plan as a file :func:`read_plan` reads back to an equal plan. ``header`` lines and
    per-layer ``comments`` are written as TOML comments."""
    lines = [f"# {line}".rstrip() for line in header]
    lines.append("[plan]")
    if plan.model is not None:
        lines.append(f"model = {_toml_string(plan.model)}")
    if plan.input_shape is not None:
        lines.append(f"input_shape = [{', '.join(map(str, plan.input_shape))}]")
    lines += ["", "[layers]"]
    width = max((len(_toml_string(name)) for name in plan), default=0)
    for name, variant in plan.items():
        entry = f"{_toml_string(name).ljust(width)} = {_toml_string(variant.spec)}"
        note = (comments or {}).get(name)
        lines.append(f"{entry.ljust(width + 12)}  # {note}" if note else entry)
    return "\n".join(lines) + "\n"
