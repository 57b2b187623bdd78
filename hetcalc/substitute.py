"""Which conv layers a variant replaces, and why each other layer stays standard.

A layer is *eligible* when it is an ``nn.Conv2d`` with ``groups == 1`` and a kernel larger than
1x1, called once in the forward pass, and is not the model's first convolution (the paper keeps
CONV1 standard; ``include_first=True`` replaces it too). An eligible layer is replaced when the
variant fits it (``Variant.check``: P or G divides its channels); every other layer keeps a
one-line reason.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torch
from torch import nn

from hetcalc.models import materialize_zero
from hetcalc.trace import ConvCall, conv_calls
from hetcalc.variants import ConvShape, Variant, parse_variant


class Impl(enum.StrEnum):
    """HetConv realizations (``hetcalc.nn.HetConv2d(impl=...)``)."""

    EXACT = "exact"  # executes exactly Eq. 4's MACs
    FAST = "fast"  # grouped K x K + dense 1x1: Do*Do*N*M/P MACs more


IMPLS = tuple(impl.value for impl in Impl)
DEFAULT_IMPL = Impl.EXACT
"""HetConv realization used unless ``impl`` says otherwise (see docs/modules.md for why)."""


@dataclass(frozen=True)
class Decision:
    """The plan for one conv layer: replaced, or kept with the reason."""

    name: str
    shape: ConvShape
    replace: bool
    reason: str | None
    eligible: bool


def eligibility(call: ConvCall, first: bool, include_first: bool) -> str | None:
    """Why a conv layer is not a candidate for any variant, or ``None`` when it is."""
    shape = call.shape
    kh, kw = shape.kernel
    if shape.groups == shape.in_channels and shape.groups > 1:
        return f"depthwise conv (groups={shape.groups}): already cheaper than any variant"
    if shape.groups > 1:
        return f"grouped conv (groups={shape.groups}): only groups=1 convs are replaced"
    if kh * kw == 1:
        return "1x1 kernel: no spatial kernel to make cheaper"
    if call.calls > 1:
        return f"called {call.calls} times (shared weights): kept standard"
    if first and not include_first:
        return "first convolution: kept standard as in the paper (--include-first replaces it)"
    return None


def plan(convs: list[ConvCall], variant: Variant, include_first: bool = False) -> list[Decision]:
    """A :class:`Decision` for every conv layer in ``convs`` (in call order)."""
    decisions = []
    for index, call in enumerate(convs):
        reason = eligibility(call, index == 0, include_first)
        eligible = reason is None
        if eligible:
            reason = "baseline variant: nothing replaced" if variant.is_baseline else variant.check(
                call.shape)
        decisions.append(Decision(call.name, call.shape, reason is None, reason, eligible))
    return decisions


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` where the submodule ``name`` (dotted path) was."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def apply(model: nn.Module, decisions: list[Decision], variant: Variant,
          impl: str = DEFAULT_IMPL) -> nn.Module:
    """Replace, in place, every conv that ``decisions`` marks for replacement.

    New layers are built on the device of the conv they replace. On a model whose weights are
    storage-free zeros (:func:`hetcalc.models.build` for counting) the new layers get the same
    kind of weights; otherwise they are initialised as their modules initialise themselves.
    """
    from hetcalc.nn import build_variant_layer

    for decision in decisions:
        if not decision.replace:
            continue
        conv = model.get_submodule(decision.name)
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"{decision.name} is {type(conv).__name__}, not nn.Conv2d")
        weight = conv.weight
        zero = weight.numel() > 1 and weight.stride() == (0,) * weight.dim()
        if zero:
            with torch.device("meta"):
                layer = build_variant_layer(conv, variant, impl)
            materialize_zero(layer)
        else:
            with torch.device(weight.device):
                layer = build_variant_layer(conv, variant, impl)
            layer.to(dtype=weight.dtype)
        replace_module(model, decision.name, layer.train(conv.training))
    return model


def substitute(model: nn.Module, variant: Variant | str, input_shape: tuple[int, ...],
               include_first: bool = False, impl: str = DEFAULT_IMPL
               ) -> tuple[nn.Module, list[Decision]]:
    """Convert ``model`` (in place) to ``variant`` and return it with the per-layer plan.

    One plain forward pass on a zero input of ``input_shape`` finds the conv layers and their
    output sizes; :func:`plan` decides, :func:`apply` replaces.
    """
    chosen = parse_variant(variant) if isinstance(variant, str) else variant
    decisions = plan(conv_calls(model, input_shape), chosen, include_first)
    return apply(model, decisions, chosen, impl), decisions
