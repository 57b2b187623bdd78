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

_Pair = int | tuple[int, int] | str


class GroupPointwise(nn.Module):
    """Groupwise K×K conv M→M with ``groups`` groups (the replaced layer's stride, padding and
    dilation), then pointwise 1×1 conv M→N carrying the bias, if any. Sequential depth 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Pair, groups: int,
                 stride: _Pair = 1, padding: _Pair = 0, dilation: _Pair = 1,
                 bias: bool = False) -> None:
        super().__init__()
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f"groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"groups G={groups} does not divide in_channels={in_channels}")
        self.groupwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding,
                                   dilation, groups=groups, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.groupwise(x))


class DepthwisePointwise(nn.Module):
    """Depthwise K×K conv M→M (groups = M; the replaced layer's stride, padding and dilation),
    then pointwise 1×1 conv M→N carrying the bias, if any. Sequential depth 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Pair,
                 stride: _Pair = 1, padding: _Pair = 0, dilation: _Pair = 1,
                 bias: bool = False) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding,
                                   dilation, groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (reduction ``r``, 8 in the paper): global average pool, FC C→C/r,
    ReLU, FC C/r→C, sigmoid, scale the channels. Both FC layers have a bias."""

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
        scale = torch.sigmoid(self.expand(torch.relu(self.reduce(x.mean(dim=(2, 3))))))
        return x * scale.reshape(*scale.shape, 1, 1)
