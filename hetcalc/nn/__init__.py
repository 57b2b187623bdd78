"""Real, trainable modules for every variant: HetConv, GWC+PWC, DWC+PWC and SE.

See ``docs/modules.md`` for the two HetConv realizations and what fvcore counts for each.
"""

from __future__ import annotations

import typing

from torch import nn

from hetcalc.nn.blocks import DepthwisePointwise, GroupPointwise, SqueezeExcite
from hetcalc.nn.hetconv import IMPLS, HetConv2d, Impl, conv_padding, hetconv_mask
from hetcalc.variants import Kind, Variant

__all__ = [
    "IMPLS",
    "Impl",
    "HetConv2d",
    "hetconv_mask",
    "conv_padding",
    "GroupPointwise",
    "DepthwisePointwise",
    "SqueezeExcite",
    "build_variant_layer",
]


def _copy_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """A new ``nn.Conv2d`` like ``conv`` on the default device, with ``conv``'s values when they
    exist (a meta conv has none: the copy keeps its own initialisation)."""
    copy = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                     conv.padding, conv.dilation, conv.groups, conv.bias is not None,
                     conv.padding_mode, dtype=conv.weight.dtype)
    if conv.weight.device.type != "meta":
        for mine, theirs in zip(copy.parameters(), conv.parameters(), strict=True):
            mine.data.copy_(theirs.data)
    return copy


def build_variant_layer(conv: nn.Conv2d, variant: Variant, impl: str = "exact") -> nn.Module:
    """The layer that replaces the standard conv ``conv`` under ``variant``.

    HetConv (``p<P>``, ``pc``) builds :class:`HetConv2d` with ``P = variant.part_for(M)`` and the
    realization ``impl``; ``gwc<G>`` builds :class:`GroupPointwise`; ``dwc``
    :class:`DepthwisePointwise`; ``std`` a copy of ``conv``; ``-se`` appends
    :class:`SqueezeExcite` on the N output channels. New layers are freshly initialised on the
    default device (so ``with torch.device("meta"):`` builds them without storage); nothing
    depends on data.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"build_variant_layer replaces an nn.Conv2d, got {type(conv).__name__}")
    if variant.kind is not Kind.STANDARD:
        if conv.groups != 1:
            raise ValueError(f"only groups=1 convs can be replaced, got groups={conv.groups}")
        if conv.padding_mode != "zeros":
            raise ValueError(f"only zero-padded convs can be replaced, got "
                             f"padding_mode={conv.padding_mode!r}")
    m, n = conv.in_channels, conv.out_channels
    shape = dict(kernel_size=conv.kernel_size, stride=conv.stride, dilation=conv.dilation,
                 bias=conv.bias is not None)
    layer: nn.Module
    match variant.kind:
        case Kind.STANDARD:
            layer = _copy_conv(conv)
        case Kind.HETCONV | Kind.HETCONV_PC:
            layer = HetConv2d(m, n, part=variant.part_for(m), padding=conv_padding(conv),
                              impl=impl, **shape)
        case Kind.GWC_PWC:
            assert variant.groups is not None
            layer = GroupPointwise(m, n, groups=variant.groups, padding=conv.padding, **shape)
        case Kind.DWC_PWC:
            layer = DepthwisePointwise(m, n, padding=conv.padding, **shape)
        case _:
            typing.assert_never(variant.kind)
    if variant.se:
        layer = nn.Sequential(layer, SqueezeExcite(n))
    return layer
