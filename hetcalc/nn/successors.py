"""Three convolutions that came after HetConv, each a drop-in for a standard K×K conv M→N (1-D,
2-D or 3-D), counted by fvcore to the MAC of :mod:`hetcalc.formulas`:

* :class:`PartialPointwise`: PConv (FasterNet, Chen et al., CVPR 2023) then a pointwise conv. A
  K×K conv over the first ``M/r`` input channels (a contiguous block), the other ``M − M/r``
  passed through untouched, then a 1×1 conv M→N: ``Do²·(K²·(M/r)² + M·N)``
  (:func:`~hetcalc.formulas.flops_pconv_pwc`). Stride 1 and "same" padding only: the untouched
  channels keep the input's size (FasterNet downsamples in layers of their own).
* :class:`GhostModule` (GhostNet, Han et al., CVPR 2020): a primary K×K conv M → N/s (the
  replaced conv's stride, padding and dilation) makes the "intrinsic" channels, a cheap
  depthwise d×d conv (stride 1, padding d//2, ``s − 1`` outputs per intrinsic channel) the other
  ``(s − 1)·N/s``, and the two are concatenated: ``Do²·(K²·M·N/s + d²·(s − 1)·N/s)``
  (:func:`~hetcalc.formulas.flops_ghost`). No BatchNorm or ReLU inside: the formula has none,
  and no other variant adds them.
* :class:`DualConv` (Zhong et al., TNNLS 2022): a K×K group conv M→N with ``G`` groups and a 1×1
  conv M→N over all input channels, run in parallel on the same input and summed:
  ``Do²·N·(K²·M/G + M)`` (:func:`~hetcalc.formulas.flops_dualconv`). The 1×1 conv reads what the
  K×K window's centre tap reads (the input shifted by ``padding − (K//2)·dilation``, cropped
  where that is negative), so the kernel must be odd.

The replaced conv's bias goes to the last conv of each (PConv: the pointwise conv; Ghost: the
intrinsic channels' on the primary conv, the others' on the cheap one; DualConv: the group
conv). Weights carried from a trained conv are :mod:`hetcalc.kinds`' business.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hetcalc.formulas import GHOST_CHEAP_KERNEL
from hetcalc.nn.blocks import _CONV_MODULE, _like, _on_device_of
from hetcalc.shapes import resolve_padding

_Size = int | tuple[int, ...]

__all__ = ["PartialPointwise", "GhostModule", "DualConv"]


def _tuple(value: _Size, dims: int, name: str) -> tuple[int, ...]:
    values = (value,) * dims if isinstance(value, int) else tuple(value)
    if len(values) != dims or any(not isinstance(v, int) or v < 0 for v in values):
        raise ValueError(f"{name} must be {dims} non-negative integers, got {value!r}")
    return values


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


class PartialPointwise(nn.Module):
    """PConv over the first ``M/ratio`` input channels (K×K, stride 1, "same" padding), the
    others passed through, then a pointwise conv M→N carrying the bias. Sequential depth 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size, ratio: int,
                 dilation: _Size = 1, bias: bool = False, padding_mode: str = "zeros",
                 dims: int = 2) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, out_channels=out_channels, ratio=ratio)
        if in_channels % ratio:
            raise ValueError(f"ratio r={ratio} does not divide in_channels={in_channels}")
        kernel = _tuple(kernel_size, dims, "kernel_size")
        dilation = _tuple(dilation, dims, "dilation")
        if any(k % 2 == 0 for k in kernel):
            raise ValueError(f"kernel {kernel}: PConv keeps the input's size, which needs an odd "
                             "kernel")
        conv = _CONV_MODULE[dims]
        self.ratio = ratio
        self.conv_channels = in_channels // ratio
        self.split = (self.conv_channels, in_channels - self.conv_channels)
        padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
        self.partial = conv(self.conv_channels, self.conv_channels, kernel, 1, padding, dilation,
                            bias=False, padding_mode=padding_mode)
        self.pointwise = conv(in_channels, out_channels, 1, bias=bias)

    @classmethod
    def like(cls, conv: nn.Module, ratio: int) -> PartialPointwise:
        """Freshly initialised, replacing ``conv`` (its kernel, dilation, padding mode, bias,
        device and dtype); the caller has checked that ``conv`` keeps its input's size."""
        return _on_device_of(conv, lambda: cls(
            conv.in_channels, conv.out_channels, tuple(conv.kernel_size), ratio,
            tuple(conv.dilation), conv.bias is not None, conv.padding_mode,
            len(conv.kernel_size)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        convolved, untouched = x.split(self.split, 1)
        return self.pointwise(torch.cat([self.partial(convolved), untouched], 1))


class GhostModule(nn.Module):
    """A primary K×K conv M → N/ratio, then a cheap depthwise ``cheap_kernel``-sized conv making
    ``ratio − 1`` channels from each intrinsic one; their concatenation has N channels.
    Sequential depth 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size, ratio: int,
                 stride: _Size = 1, padding: _Size | str = 0, dilation: _Size = 1,
                 bias: bool = False, padding_mode: str = "zeros", dims: int = 2,
                 cheap_kernel: int = GHOST_CHEAP_KERNEL) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, out_channels=out_channels,
                        cheap_kernel=cheap_kernel)
        if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 2:
            raise ValueError(f"ratio s must be an integer of at least 2, got {ratio!r}")
        if out_channels % ratio:
            raise ValueError(f"ratio s={ratio} does not divide out_channels={out_channels}")
        conv = _CONV_MODULE[dims]
        self.ratio = ratio
        intrinsic = out_channels // ratio
        self.primary = conv(in_channels, intrinsic, kernel_size, stride, padding, dilation,
                            bias=bias, padding_mode=padding_mode)
        self.cheap = conv(intrinsic, intrinsic * (ratio - 1), cheap_kernel, 1, cheap_kernel // 2,
                          groups=intrinsic, bias=bias)

    @classmethod
    def like(cls, conv: nn.Module, ratio: int) -> GhostModule:
        """Freshly initialised, replacing ``conv`` (its geometry, device and dtype)."""
        return _on_device_of(conv, lambda: cls(conv.in_channels, conv.out_channels,
                                               ratio=ratio, **_like(conv)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        intrinsic = self.primary(x)
        return torch.cat([intrinsic, self.cheap(intrinsic)], 1)


class DualConv(nn.Module):
    """A K×K group conv M→N with ``groups`` groups (carrying the bias) plus a 1×1 conv M→N on
    what the K×K window's centre tap reads, summed. Sequential depth 0."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size, groups: int,
                 stride: _Size = 1, padding: _Size = 0, dilation: _Size = 1,
                 bias: bool = False, padding_mode: str = "zeros", dims: int = 2) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, out_channels=out_channels, groups=groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups G={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        kernel = _tuple(kernel_size, dims, "kernel_size")
        stride, padding = _tuple(stride, dims, "stride"), _tuple(padding, dims, "padding")
        dilation = _tuple(dilation, dims, "dilation")
        if any(k % 2 == 0 for k in kernel):
            raise ValueError(f"kernel {kernel}: an even kernel has no centre tap for the 1x1 conv")
        conv = _CONV_MODULE[dims]
        self.group = conv(in_channels, out_channels, kernel, stride, padding, dilation,
                          groups=groups, bias=bias, padding_mode=padding_mode)
        # the centre tap sits padding - (K//2)·dilation from the output grid: padded where that
        # is positive (the same padding mode), cropped where it is negative
        shift = tuple(p - (k // 2) * d for k, p, d in zip(kernel, padding, dilation, strict=True))
        self.crop = tuple(max(-s, 0) for s in shift)
        self.pointwise = conv(in_channels, out_channels, 1, stride, tuple(max(s, 0) for s in shift),
                              bias=False, padding_mode=padding_mode)

    @classmethod
    def like(cls, conv: nn.Module, groups: int) -> DualConv:
        """Freshly initialised, replacing ``conv`` (its geometry, device and dtype)."""
        # the 1x1 conv's shift needs numbers: "same"/"valid" resolved (odd kernels: symmetric)
        sides = resolve_padding(conv.padding, tuple(conv.kernel_size), tuple(conv.dilation))
        geometry = {**_like(conv), "padding": tuple(before for before, _ in sides)}
        return _on_device_of(conv, lambda: cls(conv.in_channels, conv.out_channels,
                                               groups=groups, **geometry))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tap = x
        if any(self.crop):
            pads = [side for c in reversed(self.crop) for side in (-c, -c)]
            tap = F.pad(x, pads)  # negative padding crops
        return self.group(x) + self.pointwise(tap)
