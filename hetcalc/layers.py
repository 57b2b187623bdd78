"""From a conv, or a conv's shape, to the trainable layer a variant puts in its place.

The one consumer of the table of kinds' builders (:data:`hetcalc.variants.KINDS`) that yields
modules: :func:`build_variant_layer` builds from a conv module (its geometry, device and
dtype), :func:`layer_from_shape` from a :class:`~hetcalc.shapes.ConvShape` alone, through
:func:`hetcalc.nn.conv_from_shape`. It sits above both :mod:`hetcalc.nn` and
:mod:`hetcalc.variants`, so neither imports the other.
"""

from __future__ import annotations

import torch
from torch import nn

from hetcalc.nn import IMPLS, SqueezeExcite, conv_dims, conv_from_shape
from hetcalc.shapes import ConvShape
from hetcalc.variants import KINDS, Variant

__all__ = ["build_variant_layer", "layer_from_shape"]


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
        with torch.device(weight.device):
            se = SqueezeExcite(conv.out_channels).to(dtype=weight.dtype)
        layer = nn.Sequential(layer, se)
    return layer


def layer_from_shape(shape: ConvShape, variant: Variant, impl: str = "exact",
                     device=None, dtype=None) -> nn.Module:
    """The layer ``variant`` puts in the place of the conv ``shape`` describes (groups,
    dimensions and padding honoured: :func:`conv_from_shape`), freshly initialised."""
    return build_variant_layer(conv_from_shape(shape, device, dtype), variant, impl)
