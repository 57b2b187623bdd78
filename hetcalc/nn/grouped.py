"""HetConv inside a grouped convolution (ResNeXt, RegNet).

A K×K conv with ``g`` groups is ``g`` independent convs of M/g → N/g channels; HetConv applies
within each group, so the paper's formulas apply per group (Eqs. 1-4 with M/g and N/g, times g)
and each group's filters follow the pattern of Fig. 3 among that group's channels. Since
``P | M/g`` and ``P | N/g``, filter ``n`` and channel ``c`` of one group have a K×K kernel
exactly when ``c ≡ n (mod P)``: the grouped layer's mask is the ungrouped one restricted to the
block diagonal.
"""

from __future__ import annotations

import torch
from torch import nn

from hetcalc.nn.hetconv import HETCONV_CLASSES
from hetcalc.nn.shaped import conv_dims, conv_padding


class GroupedHetConv(nn.Module):
    """``groups`` HetConv layers of ``M/g → N/g`` channels side by side, each with part ``P``
    and the realization ``impl``; input channels ``[i·M/g, (i+1)·M/g)`` feed group ``i``, whose
    output is channels ``[i·N/g, (i+1)·N/g)``. Requires ``P | M/g`` and ``P | N/g``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, part: int, groups: int,
                 stride=1, padding=0, dilation=1, bias: bool = False, impl: str = "exact",
                 dims: int = 2) -> None:
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(f"groups={groups} does not divide {name}={value}")
        self.in_channels, self.out_channels, self.part, self.groups = (in_channels, out_channels,
                                                                      part, groups)
        cls = HETCONV_CLASSES[dims]
        self.branches = nn.ModuleList(
            cls(in_channels // groups, out_channels // groups, kernel_size, part, stride=stride,
                padding=padding, dilation=dilation, bias=bias, impl=impl)
            for _ in range(groups))

    @classmethod
    def like(cls, conv: nn.Module, part: int, impl: str = "exact") -> GroupedHetConv:
        """Freshly initialised, replacing the grouped ``conv`` (its geometry, device and dtype)."""
        weight = conv.weight
        with torch.device(weight.device):
            layer = cls(conv.in_channels, conv.out_channels, tuple(conv.kernel_size), part,
                        conv.groups, stride=tuple(conv.stride), padding=conv_padding(conv),
                        dilation=tuple(conv.dilation), bias=conv.bias is not None, impl=impl,
                        dims=conv_dims(conv))
        return layer.to(dtype=weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chunks = x.split(self.in_channels // self.groups, dim=1)
        return torch.cat([branch(chunk) for branch, chunk in zip(self.branches, chunks,
                                                                  strict=True)], dim=1)

    @torch.no_grad()
    def load_dense(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> GroupedHetConv:
        """Keep, group by group, what each HetConv has a place for in the grouped conv's
        ``N×(M/g)×k...`` weight."""
        per = self.out_channels // self.groups
        for i, branch in enumerate(self.branches):
            rows = slice(i * per, (i + 1) * per)
            branch.load_dense(weight[rows], None if bias is None else bias[rows])
        return self

    def to_dense(self) -> torch.Tensor:
        """The grouped conv's ``N×(M/g)×k...`` weight this layer equals."""
        return torch.cat([branch.to_dense() for branch in self.branches])
