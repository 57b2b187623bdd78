"""What each variant kind does, one group of functions per kind: its fit check, analytic cost,
information field, module builder, weight carrying, "why it costs more" clause and curve.

:data:`hetcalc.variants.KINDS` puts them together, one :class:`~hetcalc.variants.KindSpec` per
kind; nothing else calls them. Nothing here imports torch at import time: the builders import
:mod:`hetcalc.nn`, the weight carriers torch, when they are called. Nothing here imports
:mod:`hetcalc.variants` either (it imports this module): a variant is only read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hetcalc import formulas
from hetcalc.errors import InvalidArgument
from hetcalc.shapes import ConvShape

if TYPE_CHECKING:
    from torch import nn

    from hetcalc.infofield import InfoField

__all__ = ["LayerCost", "Variant", "kernel_2d"]
# The kinds that came after HetConv (PConv+PWC, Ghost, DualConv) are in :mod:`.successors`.


class Variant(Protocol):
    """What a kind's functions read of a variant (:class:`hetcalc.variants.Variant` is one):
    declared here, so this module needs nothing of the grammar that assembles the table."""

    part: int | None
    groups: int | None
    ratio: int | None
    se: bool

    @property
    def spec(self) -> str: ...

    def part_for(self, in_channels: int) -> int: ...


@dataclass(frozen=True)
class LayerCost:
    """Analytic cost of one layer: MACs (per image from a kind's ``cost``, for the whole batch
    from :func:`hetcalc.variants.layer_cost`), params, and the weights of the kernel-sized (K×K)
    part."""

    flops: int
    params: int
    params_kxk: int


def kernel_2d(size: tuple[int, ...]) -> tuple[int, int]:
    """The second paper's fields are 2-D: a 1-D kernel is a 1×L one."""
    if len(size) == 1:
        return (1, size[0])
    if len(size) != 2:
        raise InvalidArgument(f"the information field is defined for 1-D and 2-D kernels, "
                              f"not for a {len(size)}-D one")
    return (size[0], size[1])


def _speedup(reduction) -> float:
    return float(formulas.speedup(reduction))


# -- standard --------------------------------------------------------------------------------

def fits(variant: Variant, shape: ConvShape) -> None:
    return None


def standard_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    m = shape.in_channels // shape.groups
    n, k = shape.out_channels, shape.kernel
    kxk = 0 if shape.pointwise else formulas.params_standard(m, n, k)
    if shape.transposed:
        flops = formulas.flops_standard(shape.input_size, m, n, k)
    else:
        flops = formulas.flops_standard(shape.output_size, m, n, k)
    return LayerCost(flops, formulas.params_standard(m, n, k, shape.bias), kxk)


def standard_field(variant: Variant, shape: ConvShape) -> InfoField:
    from hetcalc.infofield import standard_info_field

    return standard_info_field(shape.in_channels // shape.groups, kernel_2d(shape.kernel),
                               kernel_2d(shape.dilation))


def build_standard(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import copy_conv

    return copy_conv(conv)


def carry_standard(conv: Any, layer: nn.Module) -> None:
    """The copy :func:`build_standard` made already holds ``conv``'s weights and bias."""


# -- HetConv (p<P>, pc) ----------------------------------------------------------------------

def hetconv_check(variant: Variant, shape: ConvShape) -> str | None:
    g = shape.groups
    m, n = shape.in_channels // g, shape.out_channels // g
    p = variant.part_for(m)
    within = f" per group (groups={g})" if g > 1 else ""
    if m % p:
        return f"P={p} does not divide M={m} input channels{within}"
    if n % p:
        return f"P={p} does not divide N={n} output channels{within}"
    if shape.padding_mode != "zeros":
        return (f"padding_mode={shape.padding_mode!r}: HetConv's 1x1 kernels read the centre "
                "tap of zero padding only")
    if not shape.padding_symmetric:
        return "padding='same' with an even kernel pads asymmetrically; HetConv needs symmetric"
    return None


def hetconv_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    """Eqs. 1-4 per group (M/g -> N/g channels), times the groups."""
    g = shape.groups
    m, n, k, out = shape.in_channels // g, shape.out_channels // g, shape.kernel, shape.output_size
    p = variant.part_for(m)
    return LayerCost(g * formulas.flops_hetconv(out, m, n, k, p),
                     g * formulas.params_hetconv(m, n, k, p, shape.bias),
                     g * n * (m // p) * shape.kernel_volume)


def hetconv_field(variant: Variant, shape: ConvShape) -> InfoField:
    from hetcalc.infofield import InfoField

    standard = standard_field(variant, shape)
    m = shape.in_channels // shape.groups
    p = variant.part_for(m)
    return InfoField(standard.height, standard.width, m,
                     (m // p) * shape.kernel_volume + (m - m // p))


def build_hetconv(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import hetconv_like
    from hetcalc.nn.grouped import GroupedHetConv

    part = variant.part_for(conv.in_channels // conv.groups)
    if conv.groups > 1:
        return GroupedHetConv.like(conv, part, impl)
    return hetconv_like(conv, part, impl)


def carry_hetconv(conv: Any, layer: nn.Module) -> None:
    """The K×K kernels where the pattern has them, the centre taps elsewhere, the bias
    (:meth:`HetConv2d.load_dense`; a grouped HetConv group by group)."""
    layer.load_dense(conv.weight, conv.bias)


def hetconv_curve(part: int, kernel: tuple[int, ...], channels: int) -> float:
    """Eqs. 5 and 9: ``1 / (1/P + (1 − 1/P)/K²)``."""
    return _speedup(formulas.reduction_hetconv(part, kernel))


# -- GWC+PWC and DWC+PWC ---------------------------------------------------------------------

def ungrouped(variant: Variant, shape: ConvShape) -> str | None:
    if shape.groups > 1:
        return (f"grouped conv (groups={shape.groups}): {variant.spec} replaces groups=1 convs "
                "only (a HetConv variant replaces it group by group)")
    return None


def gwc_check(variant: Variant, shape: ConvShape) -> str | None:
    assert variant.groups is not None
    if shape.groups > 1:
        return ungrouped(variant, shape)
    if shape.in_channels % variant.groups:
        return f"G={variant.groups} does not divide M={shape.in_channels} input channels"
    return None


def gwc_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    m, n, k, out, g = (shape.in_channels, shape.out_channels, shape.kernel, shape.output_size,
                       variant.groups)
    assert g is not None
    return LayerCost(formulas.flops_gwc_pwc(out, m, n, k, g),
                     formulas.params_gwc_pwc(m, n, k, g, shape.bias),
                     m * (m // g) * shape.kernel_volume)


def dwc_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    m, n, k, out = shape.in_channels, shape.out_channels, shape.kernel, shape.output_size
    return LayerCost(formulas.flops_dwc_pwc(out, m, n, k),
                     formulas.params_dwc_pwc(m, n, k, shape.bias),
                     m * shape.kernel_volume)


def one_step(variant: Variant, shape: ConvShape) -> int:
    """A one-layer kind writes nothing that it reads again."""
    return 0


def two_step(variant: Variant, shape: ConvShape) -> int:
    """GC(G) or DW M→M, then PW M→N: the M-channel output of the first conv, written once and
    read once by the second: ``2·M·Do²`` elements per image."""
    pixels = 1
    for size in shape.output_size:
        pixels *= size
    return 2 * shape.in_channels * pixels


def two_layer_field(variant: Variant, shape: ConvShape) -> InfoField:
    """GC(G) or DW M→M then PW M→N: every output sees all M channels through the K×K extent."""
    from hetcalc.infofield import InfoField

    standard = standard_field(variant, shape)
    m = shape.in_channels
    return InfoField(standard.height, standard.width, m, shape.kernel_volume * m)


def build_gwc(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import GroupPointwise

    return GroupPointwise.like(conv, groups=variant.groups)


def build_dwc(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import DepthwisePointwise

    return DepthwisePointwise.like(conv)


def _carry_decomposed(first: nn.Module, pointwise: nn.Module, conv: Any) -> None:
    """The least-squares groupwise (or depthwise) + pointwise factors of ``conv``'s weight
    (:func:`hetcalc.nn.init.decompose`); the bias goes to the pointwise conv."""
    import torch

    from hetcalc.nn.init import decompose

    gw, pw = decompose(conv.weight, first.groups)
    with torch.no_grad():
        first.weight.copy_(gw)
        pointwise.weight.copy_(pw)
        if conv.bias is not None:
            pointwise.bias.copy_(conv.bias)


def carry_gwc(conv: Any, layer: nn.Module) -> None:
    _carry_decomposed(layer.groupwise, layer.pointwise, conv)


def carry_dwc(conv: Any, layer: nn.Module) -> None:
    _carry_decomposed(layer.depthwise, layer.pointwise, conv)


def gwc_costlier(variant: Variant) -> str:
    if variant.groups == 1:
        return (f"GWC+PWC with G={variant.groups} runs the whole K x K conv and a pointwise "
                "conv after it: Eq. 11's R = 1/G + 1/K^2 is above 1")
    return (f"GWC+PWC with G={variant.groups} runs Do*Do*M*(M*K*K/G + N) MACs (Eq. 10): its R "
            "= M/(N*G) + 1/K^2 (Eq. 11 when M = N) is above 1 for these layers' shapes")


def dwc_costlier(variant: Variant) -> str:
    return ("DWC+PWC runs Do*Do*M*(K*K + N) MACs (Eq. 6): its R = 1/N + 1/K^2 (Eq. 7) is above 1 "
            "for these layers' shapes")


def gwc_curve(part: int, kernel: tuple[int, ...], channels: int) -> float:
    """Eqs. 11 and 9 with G = P: ``1 / (1/G + 1/K²)`` (exact when M = N)."""
    return _speedup(formulas.reduction_gwc_pwc(part, kernel))


def dwc_curve(part: int, kernel: tuple[int, ...], channels: int) -> float:
    """Eqs. 7 and 9 for N output channels: ``1 / (1/N + 1/K²)``, the same for every P."""
    return _speedup(formulas.reduction_dwc_pwc(channels, kernel))

