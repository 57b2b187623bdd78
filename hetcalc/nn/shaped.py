"""Between shapes and conv modules: the one way back from a :class:`~hetcalc.shapes.ConvShape`
to a module that runs it, and what a conv module's geometry says (:func:`conv_dims`,
:func:`conv_padding`).

A report row, a planner's candidate or a budget entry knows a layer only by its shape; whatever
is timed or rebuilt from that shape goes through :func:`conv_from_shape` (the standard conv the
shape describes: its class by dimension and direction, groups, stride, padding, padding mode,
dilation and bias); :func:`hetcalc.layers.layer_from_shape` builds the layer that replaces it
under a variant from that conv. Weights are freshly initialised: a shape carries none.
"""

from __future__ import annotations

import torch
from torch import nn

from hetcalc.shapes import ConvShape, resolve_padding

__all__ = ["conv_dims", "conv_from_shape", "conv_padding", "output_padding"]

_FORWARD = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_TRANSPOSED = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


def output_padding(shape: ConvShape) -> tuple[int, ...]:
    """The ``output_padding`` a transposed conv needs to give ``shape.output_size``: its output
    is ``(in − 1)·stride − 2·padding + dilation·(k − 1) + 1 + output_padding`` per dimension."""
    sizes = zip(shape.input_size, shape.output_size, shape.kernel, shape.stride, shape.padding,
                shape.dilation, strict=True)
    return tuple(out - ((i - 1) * s - 2 * p + d * (k - 1) + 1)
                 for i, out, k, s, p, d in sizes)


def conv_from_shape(shape: ConvShape, device: torch.device | str | None = None,
                    dtype: torch.dtype | None = None) -> nn.Module:
    """The standard conv ``shape`` describes: ``nn.Conv1d/2d/3d`` or, for a transposed shape,
    ``nn.ConvTranspose1d/2d/3d``, with its groups, stride, padding (``"same"`` where the shape
    pads one more after than before), padding mode, dilation and bias. Called on a tensor of
    ``shape.batch × shape.in_channels × shape.input_size`` it returns
    ``shape.out_channels × shape.output_size`` per image."""
    padding: tuple[int, ...] | str = shape.padding if shape.padding_symmetric else "same"
    common = dict(stride=shape.stride, dilation=shape.dilation, groups=shape.groups,
                  bias=shape.bias, padding_mode=shape.padding_mode, device=device, dtype=dtype)
    if shape.transposed:
        return _TRANSPOSED[shape.dims](shape.in_channels, shape.out_channels, shape.kernel,
                                       padding=shape.padding,
                                       output_padding=output_padding(shape), **common)
    return _FORWARD[shape.dims](shape.in_channels, shape.out_channels, shape.kernel,
                                padding=padding, **common)


def conv_dims(conv: nn.Module) -> int:
    """Spatial dimensions of an ``nn.Conv1d/2d/3d``."""
    for dims, cls in _FORWARD.items():
        if isinstance(conv, cls):
            return dims
    raise TypeError(f"expected nn.Conv1d, nn.Conv2d or nn.Conv3d, got {type(conv).__name__}")


def conv_padding(conv: nn.Module) -> tuple[int, ...]:
    """``conv``'s zero padding, one int per dimension; ``"same"`` only when it is symmetric."""
    if conv.padding_mode != "zeros":
        raise ValueError(f"only zero padding is supported, got padding_mode={conv.padding_mode!r}")
    sides = resolve_padding(conv.padding, tuple(conv.kernel_size), tuple(conv.dilation))
    if any(before != after for before, after in sides):
        raise ValueError(f"padding={conv.padding!r} with kernel {tuple(conv.kernel_size)} and "
                         f"dilation {tuple(conv.dilation)} pads asymmetrically; HetConv needs "
                         "symmetric")
    return tuple(before for before, _ in sides)
