"""The kinds that came after HetConv, one group of functions per kind, as in :mod:`hetcalc.kinds`:
PConv then a pointwise conv (``pconv<r>``, FasterNet), the Ghost module (``ghost<s>``, GhostNet)
and DualConv (``dual<G>``). ``r`` and ``s`` are a variant's ``ratio``, ``G`` its ``groups``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hetcalc import formulas
from hetcalc.kinds import LayerCost, Variant, _speedup, standard_field, ungrouped
from hetcalc.shapes import ConvShape

if TYPE_CHECKING:
    from torch import nn

    from hetcalc.infofield import InfoField


def _spatial(shape: ConvShape) -> int:
    pixels = 1
    for size in shape.output_size:
        pixels *= size
    return pixels


def pconv_check(variant: Variant, shape: ConvShape) -> str | None:
    r = variant.ratio
    assert r is not None
    if shape.groups > 1:
        return ungrouped(variant, shape)
    if shape.in_channels % r:
        return f"r={r} does not divide M={shape.in_channels} input channels"
    if any(s != 1 for s in shape.stride):
        return (f"stride {'x'.join(map(str, shape.stride))}: PConv's untouched channels keep "
                "the input's size (FasterNet downsamples in layers of their own)")
    if shape.output_size != shape.input_size or any(k % 2 == 0 for k in shape.kernel):
        return ("the output is not the input's size: PConv's untouched channels keep it, so it "
                "needs 'same' padding and an odd kernel")
    return None


def pconv_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    m, n, k, r = shape.in_channels, shape.out_channels, shape.kernel, variant.ratio
    assert r is not None
    return LayerCost(formulas.flops_pconv_pwc(shape.output_size, m, n, k, r),
                     formulas.params_pconv_pwc(m, n, k, r, shape.bias),
                     (m // r) ** 2 * shape.kernel_volume)


def _field(shape: ConvShape, block: int) -> InfoField:
    """``block`` channels seen through K×K, the others at one tap: every output sees all M
    channels, ``volume = block·K² + (M − block)`` (HetConv's field with ``block = M/P``)."""
    from hetcalc.infofield import InfoField

    standard = standard_field(None, shape)  # type: ignore[arg-type]
    m = shape.in_channels
    return InfoField(standard.height, standard.width, m,
                     block * shape.kernel_volume + (m - block))


def pconv_field(variant: Variant, shape: ConvShape) -> InfoField:
    """The partial conv's ``M/r`` channels through K×K, the others through the pointwise conv
    alone."""
    return _field(shape, shape.in_channels // variant.ratio)  # type: ignore[operator]


def pconv_intermediates(variant: Variant, shape: ConvShape) -> int:
    """The partial conv's ``M/r`` channels written then read by the concatenation, and the
    concatenated M channels written then read by the pointwise conv: ``2·Do²·(M/r + M)``."""
    m = shape.in_channels
    return 2 * _spatial(shape) * (m // variant.ratio + m)  # type: ignore[operator]


def build_pconv(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import PartialPointwise

    return PartialPointwise.like(conv, variant.ratio)  # type: ignore[arg-type]


def carry_pconv(conv: Any, layer: nn.Module) -> None:
    """The best (least-squares, Eckart-Young) rank-``M/r`` factors of ``conv``'s kernels on the
    first ``M/r`` channels into the partial conv and the pointwise conv's first ``M/r``
    columns, the centre taps of the others into its other columns, the bias to it."""
    import torch

    from hetcalc.nn.init import decompose

    block = layer.conv_channels
    weight = conv.weight
    partial, pointwise = decompose(weight[:, :block], 1)
    centre = tuple(k // 2 for k in weight.shape[2:])
    with torch.no_grad():
        layer.partial.weight.copy_(partial)
        layer.pointwise.weight[:, :block].copy_(pointwise)
        layer.pointwise.weight[:, block:].copy_(weight[(slice(None), slice(block, None), *centre)]
                                                .reshape(layer.pointwise.weight[:, block:].shape))
        if conv.bias is not None:
            layer.pointwise.bias.copy_(conv.bias)


def pconv_costlier(variant: Variant) -> str:
    return (f"PConv+PWC with r={variant.ratio} runs Do*Do*(K*K*(M/r)^2 + M*N) MACs: its "
            "R = M/(r*r*N) + 1/K^2 is above 1 for these layers' shapes")


def pconv_curve(part: int, kernel: tuple[int, ...], channels: int) -> float:
    """``1 / (1/r² + 1/K²)`` at r = P, M = N."""
    return _speedup(formulas.reduction_pconv_pwc(part, kernel, channels, channels))


def ghost_check(variant: Variant, shape: ConvShape) -> str | None:
    s = variant.ratio
    assert s is not None
    if shape.groups > 1:
        return ungrouped(variant, shape)
    if shape.out_channels % s:
        return f"s={s} does not divide N={shape.out_channels} output channels"
    return None


def ghost_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    m, n, k, s = shape.in_channels, shape.out_channels, shape.kernel, variant.ratio
    assert s is not None
    cheap = formulas.GHOST_CHEAP_KERNEL ** shape.dims * (s - 1) * (n // s)
    return LayerCost(formulas.flops_ghost(shape.output_size, m, n, k, s),
                     formulas.params_ghost(m, n, k, s, shape.bias),
                     (n // s) * m * shape.kernel_volume + cheap)


def ghost_field(variant: Variant, shape: ConvShape) -> InfoField:
    """Not uniform: the intrinsic channels see the standard field (``(K, K, M)``), the ghost
    channels a d×d neighbourhood of it (wider by ``(d − 1)·stride``). As Definition 1 asks of
    a layer whose outputs differ, the sizes are the smallest: the standard field's."""
    from hetcalc.infofield import InfoField

    standard = standard_field(variant, shape)
    return InfoField(standard.height, standard.width, standard.channels, standard.volume,
                     uniform=False)


def ghost_intermediates(variant: Variant, shape: ConvShape) -> int:
    """The ``N/s`` intrinsic channels written once and read twice (by the cheap conv and the
    concatenation), the ``(s − 1)·N/s`` ghost channels written and read once:
    ``Do²·(3·N/s + 2·(s − 1)·N/s)``."""
    s = variant.ratio
    intrinsic = shape.out_channels // s  # type: ignore[operator]
    return _spatial(shape) * (3 * intrinsic + 2 * (s - 1) * intrinsic)  # type: ignore[operator]


def build_ghost(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import GhostModule

    return GhostModule.like(conv, variant.ratio)  # type: ignore[arg-type]


def carry_ghost(conv: Any, layer: nn.Module) -> None:
    """The first ``N/s`` filters of ``conv`` (and their biases) as the primary conv; each other
    filter the cheap kernel that, applied to its intrinsic channel, comes closest to it (least
    squares over the composed kernel), and the bias that, added to that kernel's sum times
    the intrinsic channel's bias, gives the filter's (exact away from the borders, where the
    cheap conv's zero padding drops taps)."""
    import torch

    from hetcalc.nn.init import ghost_cheap_kernels

    weight, intrinsic = conv.weight, layer.primary.out_channels
    if weight.is_meta:  # a model built for counting has no values to fit (nor lstsq a meta kernel)
        return
    cheap = ghost_cheap_kernels(weight, intrinsic, layer.cheap.kernel_size,
                                tuple(conv.dilation), tuple(conv.stride))
    with torch.no_grad():
        layer.primary.weight.copy_(weight[:intrinsic])
        layer.cheap.weight.copy_(cheap)
        if conv.bias is not None:
            per = layer.ratio - 1
            passed = conv.bias[:intrinsic].repeat_interleave(per)  # ghost j's intrinsic bias
            layer.primary.bias.copy_(conv.bias[:intrinsic])
            layer.cheap.bias.copy_(conv.bias[intrinsic:] - cheap.flatten(1).sum(1) * passed)


def ghost_costlier(variant: Variant) -> str:
    return (f"a Ghost module with s={variant.ratio} runs Do*Do*(K*K*M*N/s + d*d*(s-1)*N/s) "
            "MACs: its cheap d x d depthwise conv (d = 3) costs more than the K x K kernels it "
            "saves where d*d > K*K*M")


def ghost_curve(part: int, kernel: tuple[int, ...], channels: int) -> float:
    """``1 / (1/s + d²·(s − 1)/(s·K²·M))`` at s = P, M = N, d = 3."""
    return _speedup(formulas.reduction_ghost(part, kernel, channels))


def dual_check(variant: Variant, shape: ConvShape) -> str | None:
    g = variant.groups
    assert g is not None
    if shape.groups > 1:
        return ungrouped(variant, shape)
    if shape.in_channels % g:
        return f"G={g} does not divide M={shape.in_channels} input channels"
    if shape.out_channels % g:
        return f"G={g} does not divide N={shape.out_channels} output channels"
    if any(k % 2 == 0 for k in shape.kernel):
        return "even kernel: DualConv's 1x1 conv reads the K x K window's centre, which it lacks"
    return None


def dual_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    m, n, k, g = shape.in_channels, shape.out_channels, shape.kernel, variant.groups
    assert g is not None
    return LayerCost(formulas.flops_dualconv(shape.output_size, m, n, k, g),
                     formulas.params_dualconv(m, n, k, g, shape.bias),
                     (m // g) * n * shape.kernel_volume)


def dual_field(variant: Variant, shape: ConvShape) -> InfoField:
    """Each filter's group of ``M/G`` channels through K×K, the others through the 1×1 conv."""
    return _field(shape, shape.in_channels // variant.groups)  # type: ignore[operator]


def dual_intermediates(variant: Variant, shape: ConvShape) -> int:
    """The 1×1 conv's N-channel output, written then read by the sum: ``2·N·Do²``."""
    return 2 * shape.out_channels * _spatial(shape)


def build_dual(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import DualConv

    return DualConv.like(conv, variant.groups)  # type: ignore[arg-type]


def carry_dual(conv: Any, layer: nn.Module) -> None:
    """Each filter's K×K kernels on its group's channels into the group conv, the centre taps
    of its other channels into the 1×1 conv (zero where the group conv has the channel), the
    bias to the group conv: the closest DualConv to ``conv`` (the kernels it has room for)."""
    import torch

    weight, groups = conv.weight, layer.group.groups
    n, m = weight.shape[:2]
    per_in, per_out = m // groups, n // groups
    centre = tuple(k // 2 for k in weight.shape[2:])
    taps = weight[(slice(None), slice(None), *centre)].clone()
    with torch.no_grad():
        for g in range(groups):
            rows, cols = slice(g * per_out, (g + 1) * per_out), slice(g * per_in, (g + 1) * per_in)
            layer.group.weight[rows].copy_(weight[rows, cols])
            taps[rows, cols] = 0
        layer.pointwise.weight.copy_(taps.reshape(layer.pointwise.weight.shape))
        if conv.bias is not None:
            layer.group.bias.copy_(conv.bias)


def dual_costlier(variant: Variant) -> str:
    return (f"DualConv with G={variant.groups} runs Do*Do*N*(K*K*M/G + M) MACs: its R = 1/G + "
            "1/K^2 is above 1 when G = 1")


def dual_curve(part: int, kernel: tuple[int, ...], channels: int) -> float:
    """``1 / (1/G + 1/K²)`` at G = P (Eq. 11's figure)."""
    return _speedup(formulas.reduction_dualconv(part, kernel))
