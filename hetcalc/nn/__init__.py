"""Real, trainable modules for every variant: HetConv, GWC+PWC, DWC+PWC, PConv+PWC, Ghost,
DualConv and SE, for 1-D, 2-D and 3-D convolutions.

See ``docs/modules.md`` for the HetConv realizations and what fvcore counts for each. Which
module realizes which variant kind is declared once, in :data:`hetcalc.variants.KINDS`.
"""

from __future__ import annotations

from torch import nn

from hetcalc.nn._auto import auto_choices, clear_auto_choices
from hetcalc.nn._carry import Carried, carry_residue_order, feeding_convs
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
from hetcalc.nn.successors import DualConv, GhostModule, PartialPointwise

__all__ = [
    "IMPLS",
    "PINNED",
    "Impl",
    "auto_choices",
    "clear_auto_choices",
    "tune_realizations",
    "carry_residue_order",
    "feeding_convs",
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
    "PartialPointwise",
    "GhostModule",
    "DualConv",
    "conv_from_shape",
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
