"""Real, trainable modules for every variant: HetConv, GWC+PWC, DWC+PWC and SE, for 1-D, 2-D and
3-D convolutions.

See ``docs/modules.md`` for the HetConv realizations and what fvcore counts for each. Which
module realizes which variant kind is declared once, in :data:`hetcalc.variants.KINDS`.
"""

from __future__ import annotations

from torch import nn

from hetcalc.nn._auto import auto_choices, clear_auto_choices
from hetcalc.nn._carry import Carried, carry_residue_order
from hetcalc.nn._tune import tune_realizations
from hetcalc.nn.blocks import DepthwisePointwise, GroupPointwise, SqueezeExcite
from hetcalc.nn.hetconv import (
    HETCONV_CLASSES,
    IMPLS,
    PINNED,
    HetConv1d,
    HetConv2d,
    HetConv3d,
    Impl,
    hetconv_like,
    hetconv_mask,
)
from hetcalc.nn.shaped import conv_dims, conv_from_shape, conv_padding
from hetcalc.shapes import ConvShape
from hetcalc.variants import KINDS, Variant

__all__ = [
    "IMPLS",
    "PINNED",
    "Impl",
    "auto_choices",
    "clear_auto_choices",
    "tune_realizations",
    "carry_residue_order",
    "Carried",
    "HetConv1d",
    "HetConv2d",
    "HetConv3d",
    "HETCONV_CLASSES",
    "hetconv_mask",
    "hetconv_like",
    "conv_padding",
    "conv_dims",
    "copy_conv",
    "GroupPointwise",
    "DepthwisePointwise",
    "SqueezeExcite",
    "build_variant_layer",
    "conv_from_shape",
    "layer_from_shape",
]


def copy_conv(conv: nn.Module) -> nn.Module:
    """A new conv like ``conv`` (same class and geometry, on its device and dtype), with
    ``conv``'s values when they exist (a meta conv has none: the copy keeps its own
    initialisation)."""
    weight = conv.weight
    with _device(weight.device):
        copy = type(conv)(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                          conv.padding, conv.dilation, conv.groups, conv.bias is not None,
                          conv.padding_mode, dtype=weight.dtype)
    if weight.device.type != "meta":
        for mine, theirs in zip(copy.parameters(), conv.parameters(), strict=True):
            mine.data.copy_(theirs.data)
    return copy


def _device(device):
    import torch

    return torch.device(device)


def build_variant_layer(conv: nn.Module, variant: Variant, impl: str = "exact") -> nn.Module:
    """The layer that replaces the standard conv ``conv`` (``nn.Conv1d/2d/3d``) under ``variant``.

    HetConv (``p<P>``, ``pc``) builds :class:`HetConv1d`/:class:`HetConv2d`/:class:`HetConv3d`
    with ``P = variant.part_for(M)`` and the realization ``impl``; ``gwc<G>`` builds
    :class:`GroupPointwise`; ``dwc`` :class:`DepthwisePointwise`; ``std`` a copy of ``conv``;
    ``-se`` appends :class:`SqueezeExcite` on the N output channels. New layers are freshly
    initialised on ``conv``'s device (so a meta conv gives a meta layer, without storage);
    nothing depends on data.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(IMPLS)}, got {impl!r}")
    conv_dims(conv)  # raises TypeError for anything but nn.Conv1d/2d/3d
    if conv.groups != 1 and not KINDS[variant.kind].grouped:
        raise ValueError(f"only HetConv replaces a grouped conv, got {variant.spec} for "
                         f"groups={conv.groups}")
    layer = KINDS[variant.kind].build(variant, conv, impl)
    if variant.se:
        weight = conv.weight
        with _device(weight.device):
            se = SqueezeExcite(conv.out_channels).to(dtype=weight.dtype)
        layer = nn.Sequential(layer, se)
    return layer


def layer_from_shape(shape: ConvShape, variant: Variant, impl: str = "exact",
                     device=None, dtype=None) -> nn.Module:
    """The layer ``variant`` puts in the place of the conv ``shape`` describes (groups,
    dimensions and padding honoured: :func:`conv_from_shape`), freshly initialised."""
    return build_variant_layer(conv_from_shape(shape, device, dtype), variant, impl)
