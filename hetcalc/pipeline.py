"""From a model (a spec or an ``nn.Module``) to counted and runnable models: the one path that
``analyze``, ``compare``, latency and ``check`` share.

    subject(model, input_shape)              a name, how to build the model, its input shape
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
from hetcalc.shapes import INPUT_SHAPE_FORMS
from hetcalc.substitute import DEFAULT_IMPL, Decision, apply
from hetcalc.tensors import meta_copy
from hetcalc.trace import Trace, trace_model


@dataclass(frozen=True)
class Subject:
    """A model to analyse: its name, its input shape, and ``build(weights)`` with
    ``weights`` one of ``"meta"`` (for counting) or ``"random"`` (for timing)."""

    name: str
    input_shape: tuple[int, ...]
    build: Callable[[str], nn.Module]
    default_shape: bool = False
    """``input_shape`` is hetcalc's default: the model declares none (a failed trace says so)."""

    def trace(self, fold_bn: bool = False) -> Trace:
        """The baseline model counted (conv calls, fvcore and torch counts)."""
        return trace_model(self.build("meta"), self.input_shape, self.name, fold_bn,
                           self.default_shape)

    def count(self, decisions: Sequence[Decision], impl: str | Mapping[str, str] = DEFAULT_IMPL,
              fold_bn: bool = False) -> Trace:
        """The model substituted as ``decisions`` say (each layer by its decision's variant),
        with the ``impl`` realization (or, per layer name, a mapping's), counted."""
        model = apply(self.build("meta"), list(decisions), impl)
        return trace_model(model, self.input_shape, self.name, fold_bn)

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


def subject(model: str | nn.Module, input_shape: Sequence[int] | None = None,
            name: str | None = None) -> Subject:
    """What to analyse: a model spec (``resnet50``, ``timm:NAME``, ``file.py:fn``,
    ``package.module:fn``) or an ``nn.Module`` (then ``input_shape`` is required). Unknown specs
    fail here, before anything is built."""
    shape = tuple(int(v) for v in input_shape) if input_shape is not None else None
    if shape is not None and not (3 <= len(shape) <= 5 and all(v > 0 for v in shape)):
        raise InvalidArgument(f"input_shape must be positive integers {INPUT_SHAPE_FORMS}; "
                              f"got {shape}", argument="input_shape")
    if isinstance(model, nn.Module):
        if shape is None:
            raise InvalidArgument("input_shape is required to analyse an nn.Module "
                                  f"({INPUT_SHAPE_FORMS})", argument="input_shape")
        return Subject(name or type(model).__name__, shape, partial(_module_builder, model))
    if not isinstance(model, str):
        raise InvalidArgument(f"model must be a model spec (str) or an nn.Module, got "
                              f"{type(model).__name__}", argument="model")
    entry = models.resolve(model)
    default = False
    if shape is None:  # the model's own: a user's module or builder may declare it
        shape, default = models.own_input_shape(entry)
    return Subject(name or model, shape, partial(models.build, entry), default)
