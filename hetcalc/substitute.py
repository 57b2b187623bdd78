"""Which conv layers a variant replaces, and why each other layer stays standard.

A layer is *eligible* when it is an ``nn.Conv2d`` with ``groups == 1`` and a kernel larger than
1x1, called once in the forward pass, and is not the model's first convolution (the paper keeps
CONV1 standard; ``include_first=True`` replaces it too). An eligible layer is replaced when the
variant fits it (``Variant.check``: P or G divides its channels); every other layer keeps a
one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from hetcalc.trace import ConvCall
from hetcalc.variants import ConvShape, Variant


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
