"""The module tree of ``analyze --tree``: MACs, params and output shape per module, to a depth,
for the original model and the substituted one side by side (torch-free).

As fvcore's ``flop_count_table`` and torchinfo's summary show a model, one row per module of
``named_modules()`` in its order (a parent before its children), the root ``""`` at depth 0 and
``a.b`` at depth 2. A module's MACs are its counter's per-module figure (fvcore's, or torch's
``FlopCounterMode`` where fvcore did not run): every operator that ran inside it, its children's
and its own (a ``torch.flatten`` or ``x @ w`` in its ``forward``), over all its calls; its
params are every parameter below it, each shared tensor once. So a module deeper than the depth
asked for is in its ancestor's row at that depth, and nothing is counted twice.

Substitution replaces a conv by a module at the same qualified name (:mod:`hetcalc.substitute`),
so the substituted model's figures are read at the original's names: a HetConv's own submodules
are in the row of the conv it replaces, and a merged pair's pointwise conv, an ``nn.Identity``
after the merge, shows 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from hetcalc.errors import InvalidArgument
from hetcalc.numbers import parse_int

__all__ = ["DEFAULT_DEPTH", "MAX_DEPTH", "ModuleStats", "TreeRow", "check_depth", "depth_of",
           "module_tree"]

DEFAULT_DEPTH = 3
"""``--tree`` without ``--depth``: fvcore's ``flop_count_table`` default."""
MAX_DEPTH = 100
"""The deepest ``--depth`` taken; a depth beyond a model's deepest module shows every module."""


@dataclass(frozen=True)
class ModuleStats:
    """What one traced forward pass tells about one module besides its MACs."""

    params: int
    """Every parameter of the module and its children, each shared tensor once."""
    output_shapes: tuple[tuple[int, ...], ...] = ()
    """The shape of every tensor its first call returned, in ``tree_leaves`` order; ``()`` when
    it was never called (or returned no tensor)."""


class Counted(Protocol):
    """A counted model (:class:`hetcalc.trace.Trace`): per-module stats and MACs."""

    modules: Mapping[str, ModuleStats]

    def flops_of(self, name: str) -> int: ...


@dataclass(frozen=True)
class TreeRow:
    """One module of the tree: the original model's MACs and params, and the substituted
    model's at the same name (``None`` where it was not counted)."""

    name: str
    depth: int
    macs: int
    params: int
    macs_variant: int | None
    params_variant: int | None
    output_shapes: tuple[tuple[int, ...], ...]

    @property
    def output_shape(self) -> list[int] | list[list[int]] | None:
        """The JSON's ``output_shape``: ``[1, 16, 32, 32]`` for a module that returns one
        tensor, a list of them for one that returns several, ``None`` for one never called."""
        if not self.output_shapes:
            return None
        if len(self.output_shapes) == 1:
            return list(self.output_shapes[0])
        return [list(shape) for shape in self.output_shapes]

    def as_dict(self) -> dict:
        return {"name": self.name, "depth": self.depth, "macs": self.macs,
                "params": self.params, "macs_variant": self.macs_variant,
                "params_variant": self.params_variant, "output_shape": self.output_shape}


def depth_of(name: str) -> int:
    """``""`` (the model) 0, ``features`` 1, ``features.0`` 2."""
    return name.count(".") + 1 if name else 0


def check_depth(depth: object) -> int:
    """A tree depth, 0 (the model alone) to :data:`MAX_DEPTH`, as an ``int`` or ASCII digits;
    :class:`InvalidArgument` about the argument ``tree`` (``--depth``) otherwise."""
    try:
        return parse_int(depth, 0, MAX_DEPTH)  # type: ignore[arg-type]
    except ValueError as error:
        raise InvalidArgument(f"tree {error} (a module tree's depth)", argument="tree") from None


def module_tree(baseline: Counted, variant: Counted | None, depth: int) -> tuple[TreeRow, ...]:
    """The rows of the module tree to ``depth`` (see the module's docstring): every module of
    ``baseline`` no deeper, each with ``variant``'s figures at its name (``None`` without a
    ``variant``, or where ``variant`` has no module of that name)."""
    depth = check_depth(depth)
    rows = []
    for name, stats in baseline.modules.items():
        level = depth_of(name)
        if level > depth:
            continue
        other = variant.modules.get(name) if variant is not None else None
        rows.append(TreeRow(
            name=name, depth=level, macs=baseline.flops_of(name), params=stats.params,
            macs_variant=variant.flops_of(name) if other is not None else None,
            params_variant=other.params if other is not None else None,
            output_shapes=stats.output_shapes))
    return tuple(rows)
