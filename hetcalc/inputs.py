"""What a model's forward is called with: one tensor, several, keyword inputs, other values.

:class:`Inputs` keeps the structure of ``forward``'s positional and keyword arguments, the shape
and dtype of every tensor in it (not its values) and every other value as it is. It comes from
input shapes (``--input-shape``, repeated for several tensors) or from a model's example inputs
(:meth:`Inputs.from_example`: a tensor, a tuple, a dict of keyword inputs or an
``(args, kwargs)`` pair), and :meth:`Inputs.make` makes the tensors wherever a forward runs:
on the meta device for counting, storage-backed zeros for fvcore's traced pass, random values for
timing. A floating-point input takes the model's dtype; an integer or bool input (token ids, a
mask) keeps its own and is made of zeros. ``--batch-size`` is :meth:`Inputs.with_batch`: the
first size of every input tensor.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils import _pytree as pytree

from hetcalc.errors import HetcalcError, InvalidArgument
from hetcalc.shapes import TensorShape, input_shapes, shapes_text

EXAMPLE_FORMS = ("a tensor, a tuple of positional inputs, a dict of keyword inputs, or a pair "
                 "(args tuple, kwargs dict)")


@dataclass(frozen=True, eq=False)
class Inputs:
    """A forward's arguments: ``leaves`` (a :class:`~hetcalc.shapes.TensorShape` for each
    tensor, any other value as it is) in the structure ``tree`` of ``(args, kwargs)``."""

    leaves: tuple[Any, ...]
    tree: pytree.TreeSpec

    @classmethod
    def from_shapes(cls, shapes: Sequence[TensorShape]) -> Inputs:
        """Positional tensors, one per shape."""
        leaves, tree = pytree.tree_flatten((tuple(shapes), {}))
        return cls(tuple(leaves), tree)

    @classmethod
    def of(cls, value: object) -> Inputs:
        """``value`` if it is :class:`Inputs`, else input shapes (:func:`hetcalc.shapes.
        input_shapes`: one shape, or a list of several)."""
        return value if isinstance(value, Inputs) else cls.from_shapes(input_shapes(value))

    @classmethod
    def from_example(cls, value: object, fail: Callable[[str], HetcalcError] = InvalidArgument
                     ) -> Inputs:
        """A model's example inputs (:data:`EXAMPLE_FORMS`); ``fail(message)`` is raised for
        anything else, or for inputs without a tensor of one dimension or more first."""
        if isinstance(value, torch.Tensor):
            args, kwargs = (value,), {}
        elif isinstance(value, dict):
            args, kwargs = (), value
        elif (isinstance(value, tuple | list) and len(value) == 2
              and isinstance(value[0], tuple | list) and isinstance(value[1], dict)):
            args, kwargs = tuple(value[0]), value[1]
        elif isinstance(value, tuple | list):
            args, kwargs = tuple(value), {}
        else:
            raise fail(f"example_inputs must be {EXAMPLE_FORMS}; got {type(value).__name__}")
        if not all(isinstance(key, str) for key in kwargs):
            raise fail("example_inputs: the keyword inputs' names must be strings")
        leaves, tree = pytree.tree_flatten((args, dict(kwargs)))
        leaves = [TensorShape(tuple(int(v) for v in leaf.shape), str(leaf.dtype).removeprefix(
            "torch.")) if isinstance(leaf, torch.Tensor) else leaf for leaf in leaves]
        inputs = cls(tuple(leaves), tree)
        if not inputs.tensors or not inputs.tensors[0].sizes:
            raise fail(f"example_inputs must hold a tensor of one dimension or more first "
                       f"({EXAMPLE_FORMS}); got {inputs}")
        return inputs

    @property
    def tensors(self) -> list[TensorShape]:
        return [leaf for leaf in self.leaves if isinstance(leaf, TensorShape)]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The first tensor's sizes: the model's main input, whose batch the counts are of."""
        return self.tensors[0].sizes

    @property
    def shapes(self) -> tuple[TensorShape, ...] | None:
        """The shapes, when the inputs are positional tensors and nothing else (what
        ``--input-shape`` can say); ``None`` otherwise."""
        if Inputs.from_shapes(self.tensors).tree != self.tree:
            return None
        return tuple(self.tensors)

    @property
    def described(self) -> str | None:
        """The inputs in words (``1,3,8,8 + 1,16:int64``, ``x=1,3,8,8, mask=...``) for a report's
        title, or ``None`` for one float32 tensor (its shape says it all)."""
        shapes = self.shapes
        return None if shapes is not None and [s.dtype for s in shapes] == ["float32"] \
            else str(self)

    def with_batch(self, batch: int) -> Inputs:
        """Every input tensor with ``batch`` as its first size (a 0-d tensor as it is)."""
        leaves = tuple(TensorShape((batch, *leaf.sizes[1:]), leaf.dtype)
                       if isinstance(leaf, TensorShape) and leaf.sizes else leaf
                       for leaf in self.leaves)
        return Inputs(leaves, self.tree)

    def make(self, device: torch.device | str, float_dtype: torch.dtype | None = None,
             random: bool = False,
             memory_format: torch.memory_format = torch.contiguous_format
             ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` on ``device``: each floating-point tensor zeros (random values
        with ``random``) in ``float_dtype`` (its own when ``None``), in ``memory_format`` when
        its rank fits it; every other tensor zeros of its own dtype."""
        rank = {torch.channels_last: 4, torch.channels_last_3d: 5}.get(memory_format)

        def tensor(leaf: TensorShape) -> torch.Tensor:
            dtype = getattr(torch, leaf.dtype)
            if not dtype.is_floating_point:
                return torch.zeros(leaf.sizes, dtype=dtype, device=device)
            dtype = float_dtype or dtype
            made = (torch.randn(leaf.sizes, device=device).to(dtype) if random
                    else torch.zeros(leaf.sizes, dtype=dtype, device=device))
            return made.contiguous(memory_format=memory_format) if made.dim() == rank else made

        leaves = [tensor(leaf) if isinstance(leaf, TensorShape) else leaf for leaf in self.leaves]
        args, kwargs = pytree.tree_unflatten(leaves, self.tree)
        return tuple(args), dict(kwargs)

    def for_model(self, model: nn.Module, random: bool = False
                  ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """:meth:`make` on the device and in the floating dtype of ``model``'s parameters."""
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
        dtype = first.dtype if first is not None and first.is_floating_point() else None
        return self.make(device, dtype, random)

    def __str__(self) -> str:
        shapes = self.shapes
        if shapes is not None:
            return shapes_text(shapes)
        args, kwargs = pytree.tree_unflatten([_Shown(leaf) for leaf in self.leaves], self.tree)
        return ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])

    def _key(self) -> tuple[str, ...]:
        return (str(self.tree), *(repr(leaf) for leaf in self.leaves))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Inputs) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class _Shown:
    """A leaf as :meth:`Inputs.__str__` shows it: a tensor by its shape, a value by its type."""

    def __init__(self, leaf: Any) -> None:
        self.text = str(leaf) if isinstance(leaf, TensorShape) else (
            repr(leaf) if isinstance(leaf, int | float | bool | str | None) else
            type(leaf).__name__)[:40]

    def __repr__(self) -> str:
        return self.text


class _Flat(nn.Module):
    """A model called with some of its input tensors alone, positionally (``where``: their
    places among the leaves): the other values and the structure are put back before its
    forward runs."""

    def __init__(self, model: nn.Module, leaves: list[Any], tree: pytree.TreeSpec,
                 where: list[int]) -> None:
        super().__init__()
        self.model = model
        self._leaves = leaves
        self._tree = tree
        self._where = where

    def forward(self, *tensors: torch.Tensor) -> Any:
        leaves = list(self._leaves)
        for index, tensor in zip(self._where, tensors, strict=True):
            leaves[index] = tensor
        args, kwargs = pytree.tree_unflatten(leaves, self._tree)
        return self.model(*args, **kwargs)


def positional(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
               ) -> tuple[nn.Module, tuple[torch.Tensor, ...], str]:
    """``(module, tensors, prefix)`` for a tracer that takes positional tensors only: ``model``
    itself when its inputs are such, else a wrapper whose module names start with ``prefix``."""
    if not kwargs and all(type(a) is torch.Tensor for a in args):  # noqa: E721 - no subclass
        return model, args, ""
    leaves, tree = pytree.tree_flatten((args, kwargs))
    where = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]
    return _Flat(model, leaves, tree, where), tuple(leaves[i] for i in where), "model."


def on_first(model: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
             ) -> tuple[nn.Module, torch.Tensor]:
    """``(module, x)``: ``module(x)`` runs ``model(*args, **kwargs)`` with ``x`` the first
    input tensor (what a timer, ``torch.compile`` and realization tuning call); ``model``
    itself when ``x`` is its one input, else a wrapper holding the other inputs."""
    if not kwargs and len(args) == 1 and type(args[0]) is torch.Tensor:  # noqa: E721
        return model, args[0]
    leaves, tree = pytree.tree_flatten((args, kwargs))
    first = next(i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor))
    return _Flat(model, leaves, tree, [first]), leaves[first]


def signature(model: nn.Module) -> str:
    """``forward(x, mask)``: how the model's forward is called, for a message."""
    try:
        return f"forward{inspect.signature(model.forward)}"
    except (TypeError, ValueError):
        return "forward(...)"


def argument_error(error: BaseException) -> bool:
    """Whether ``error`` (or one it was raised from) is Python's refusal of a call's
    arguments: a ``TypeError`` saying a positional or keyword argument is missing or
    unexpected."""
    words = ("required positional argument", "positional argument", "keyword argument",
             "positional arguments but")
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TypeError) and any(w in str(seen) for w in words):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
