"""The two-layer baselines HetConv is compared with (Eqs. 6 and 10) and squeeze-and-excitation.

fvcore counts what these run, to the MAC:

* :class:`GroupPointwise`: ``Do·Do·M·(M/G)·K² + Do·Do·M·N`` (:func:`hetcalc.formulas.flops_gwc_pwc`)
* :class:`DepthwisePointwise`: ``Do·Do·M·K² + Do·Do·M·N`` (:func:`hetcalc.formulas.flops_dwc_pwc`)
* :class:`SqueezeExcite`: ``2·C·(C/r)`` (:func:`hetcalc.formulas.flops_se`); the average pool
  (``aten::mean``), the sigmoid and the channel scaling (``aten::mul``) are operators fvcore has
  no handle for, so they are reported as uncounted, not counted as zero.
"""

from __future__ import annotations

import torch
from torch import nn

from hetcalc.formulas import SE_REDUCTION

_Size = int | tuple[int, ...] | str
_CONV_MODULE = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def _spatial_dims(kernel_size: _Size, dims: int | None) -> int:
    if dims is not None:
        return dims
    return 2 if isinstance(kernel_size, int | str) else len(kernel_size)


def _like(conv: nn.Module) -> dict:
    """The geometry of ``conv`` that the K×K half of a two-layer replacement keeps."""
    return dict(kernel_size=tuple(conv.kernel_size), stride=tuple(conv.stride),
                padding=conv.padding if isinstance(conv.padding, str) else tuple(conv.padding),
                dilation=tuple(conv.dilation), bias=conv.bias is not None,
                padding_mode=conv.padding_mode, dims=len(conv.kernel_size))


def _on_device_of(conv: nn.Module, build):
    weight = conv.weight
    with torch.device(weight.device):
        layer = build()
    return layer.to(dtype=weight.dtype)


class GroupPointwise(nn.Module):
    """Groupwise K×K conv M→M with ``groups`` groups (the replaced layer's stride, padding,
    padding mode and dilation), then pointwise 1×1 conv M→N carrying the bias, if any.
    Sequential depth 1. ``dims`` (1, 2 or 3) follows ``kernel_size`` unless given."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size, groups: int,
                 stride: _Size = 1, padding: _Size = 0, dilation: _Size = 1,
                 bias: bool = False, padding_mode: str = "zeros", dims: int | None = None) -> None:
        super().__init__()
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"groups G={groups} does not divide in_channels={in_channels}")
        conv = _CONV_MODULE[_spatial_dims(kernel_size, dims)]
        self.groupwise = conv(in_channels, in_channels, kernel_size, stride, padding,
                              dilation, groups=groups, bias=False, padding_mode=padding_mode)
        self.pointwise = conv(in_channels, out_channels, 1, bias=bias)

    @classmethod
    def like(cls, conv: nn.Module, groups: int) -> GroupPointwise:
        """Freshly initialised, replacing ``conv`` (its geometry, device and dtype)."""
        return _on_device_of(conv, lambda: cls(conv.in_channels, conv.out_channels,
                                               groups=groups, **_like(conv)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.groupwise(x))


class DepthwisePointwise(nn.Module):
    """Depthwise K×K conv M→M (groups = M; the replaced layer's stride, padding, padding mode
    and dilation), then pointwise 1×1 conv M→N carrying the bias, if any. Sequential depth 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size,
                 stride: _Size = 1, padding: _Size = 0, dilation: _Size = 1,
                 bias: bool = False, padding_mode: str = "zeros", dims: int | None = None) -> None:
        super().__init__()
        conv = _CONV_MODULE[_spatial_dims(kernel_size, dims)]
        self.depthwise = conv(in_channels, in_channels, kernel_size, stride, padding,
                              dilation, groups=in_channels, bias=False, padding_mode=padding_mode)
        self.pointwise = conv(in_channels, out_channels, 1, bias=bias)

    @classmethod
    def like(cls, conv: nn.Module) -> DepthwisePointwise:
        """Freshly initialised, replacing ``conv`` (its geometry, device and dtype)."""
        return _on_device_of(conv, lambda: cls(conv.in_channels, conv.out_channels,
                                               **_like(conv)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (reduction ``r``, 8 in the paper): global average pool, FC C→C/r,
    ReLU, FC C/r→C, sigmoid, scale the channels. Both FC layers have a bias. Works on any number
    of spatial dimensions."""

    def __init__(self, channels: int, reduction: int = SE_REDUCTION) -> None:
        super().__init__()
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive integer, got {channels!r}")
        if not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f"reduction must be a positive integer, got {reduction!r}")
        hidden = max(channels // reduction, 1)
        self.reduce = nn.Linear(channels, hidden)
        self.expand = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # mean, not adaptive_avg_pool2d: fvcore counts the latter's Do·Do·C adds as "flops".
        spatial = tuple(range(2, x.dim()))
        scale = torch.sigmoid(self.expand(torch.relu(self.reduce(x.mean(dim=spatial)))))
        return x * scale.reshape(*scale.shape, *(1,) * len(spatial))
