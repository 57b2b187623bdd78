"""From a model (a spec or an ``nn.Module``) to counted and runnable models: the one path that
``analyze``, ``compare``, latency and ``check`` share.

    subject(model, input_shape)              a name, how to build the model, its inputs
    Subject.trace(fold_bn)                   the baseline counted (hetcalc.trace.trace_model)
    Subject.count(decisions, impl, ...)      the substituted model, really built, counted
    Subject.runnable(decisions, ...)         a model with real weights, for timing

Each decision carries the variant its layer takes, so one path serves a uniform variant and a
per-layer plan alike.

Counting builds on the meta device (no weight is allocated or initialised); a caller's
``nn.Module`` is copied (to meta for counting, for real for timing) and never changed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from torch import nn

from hetcalc import models
from hetcalc.errors import InvalidArgument
from hetcalc.inputs import Inputs
from hetcalc.shapes import INPUT_SHAPE_FORMS
from hetcalc.substitute import DEFAULT_IMPL, Decision, apply
from hetcalc.tensors import meta_copy
from hetcalc.trace import Trace, trace_model


@dataclass(frozen=True)
class Subject:
    """A model to analyse: its name, the inputs its forward is called with (every count and
    timing alike), and ``build(weights)`` with ``weights`` one of ``"meta"`` (for counting) or
    ``"random"`` (for timing)."""

    name: str
    inputs: Inputs
    build: Callable[[str], nn.Module]
    default_shape: bool = False
    """``inputs`` are hetcalc's default: the model declares none (a failed trace says so)."""

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The first input tensor's shape: the model's main input, whose batch is counted."""
        return self.inputs.input_shape

    def trace(self, fold_bn: bool = False) -> Trace:
        """The baseline model counted (conv calls, fvcore and torch counts)."""
        return trace_model(self.build("meta"), self.inputs, self.name, fold_bn,
                           self.default_shape)

    def count(self, decisions: Sequence[Decision], impl: str | Mapping[str, str] = DEFAULT_IMPL,
              fold_bn: bool = False) -> Trace:
        """The model substituted as ``decisions`` say (each layer by its decision's variant),
        with the ``impl`` realization (or, per layer name, a mapping's), counted."""
        model = apply(self.build("meta"), list(decisions), impl)
        return trace_model(model, self.inputs, self.name, fold_bn)

    def runnable(self, decisions: Sequence[Decision] | None = None,
                 impl: str = DEFAULT_IMPL) -> nn.Module:
        """A model with real weights (random for a registered model, the caller's own for an
        ``nn.Module``), substituted as ``decisions`` say (each carries its own variant)."""
        model = self.build("random")
        if decisions is not None:
            apply(model, list(decisions), impl)
        return model


def _module_builder(module: nn.Module, weights: str) -> nn.Module:
    copied = meta_copy(module) if weights == "meta" else copy.deepcopy(module)
    return copied.eval()


def subject(model: str | nn.Module, input_shape: object = None, name: str | None = None,
            example_inputs: object = None) -> Subject:
    """What to analyse: a model spec (``resnet50``, ``timm:NAME``, ``file.py:fn``,
    ``package.module:fn``) or an ``nn.Module``, and what its forward is called with:
    ``input_shape`` (one shape, or a list of shapes for several positional tensors,
    :func:`hetcalc.shapes.input_shapes`), or ``example_inputs`` (a tensor, a tuple, a dict of
    keyword inputs, or ``(args, kwargs)``: their shapes and dtypes are kept), else the model's
    own (:func:`hetcalc.models.own_inputs`; an ``nn.Module``'s ``example_inputs`` or
    ``input_shape`` attribute). Unknown specs fail here, before anything is built."""
    if input_shape is not None and example_inputs is not None:
        raise InvalidArgument("give input_shape or example_inputs, not both",
                              argument="example_inputs")
    inputs = None if input_shape is None else Inputs.of(input_shape)
    if example_inputs is not None:
        inputs = Inputs.from_example(example_inputs)
    if isinstance(model, nn.Module):
        if inputs is None:
            inputs = _module_inputs(model)
        return Subject(name or type(model).__name__, inputs, partial(_module_builder, model))
    if not isinstance(model, str):
        raise InvalidArgument(f"model must be a model spec (str) or an nn.Module, got "
                              f"{type(model).__name__}", argument="model")
    entry = models.resolve(model)
    default = False
    if inputs is None:  # the model's own: a user's module or builder may declare them
        inputs, default = models.own_inputs(entry)
    return Subject(name or model, inputs, partial(models.build, entry), default)


def _module_inputs(model: nn.Module) -> Inputs:
    """An ``nn.Module``'s own ``example_inputs`` or ``input_shape``: one is required."""
    example = getattr(model, "example_inputs", None)
    if example is not None:
        return Inputs.from_example(example)
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise InvalidArgument(f"input_shape (or example_inputs) is required to analyse an "
                              f"nn.Module ({INPUT_SHAPE_FORMS})", argument="input_shape")
    return Inputs.of(shape)
