"""The variant grammar (``std``, ``p4``, ``pc``, ``gwc4``, ``dwc``, suffix ``-se``) and the one
table of variant kinds.

Every kind is declared once, in :data:`KINDS`: its grammar, its description, whether it fits a
layer, its analytic cost (the paper's equations), its sequential depth, its information field and
the module that realizes it. Every consumer (the parser, the cost model, the planner, the module
builder, the information-field summary) reads that table; adding a kind is adding one entry.
Nothing here imports torch: the builders import :mod:`hetcalc.nn` when they are called.

A :class:`Variant` is parsed once, validated before any model is built, and then asked, layer by
layer, whether it applies (:meth:`Variant.check`) and what the layer costs under it
(:func:`layer_cost`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hetcalc import formulas
from hetcalc.errors import InvalidArgument
from hetcalc.shapes import ConvShape

if TYPE_CHECKING:
    from torch import nn

    from hetcalc.infofield import InfoField

__all__ = ["Kind", "KindSpec", "KINDS", "ConvShape", "Variant", "LayerCost", "layer_cost",
           "parse_variant", "parse_variants", "part_variant", "VALID_FORMS", "SE_SUFFIX",
           "STANDARD", "TABLE1_VARIANTS", "info_field"]


class Kind(enum.Enum):
    """The forms a convolution layer can take."""

    STANDARD = "std"
    HETCONV = "hetconv"
    HETCONV_PC = "pc"
    GWC_PWC = "gwc"
    DWC_PWC = "dwc"


SE_SUFFIX = "-se"


@dataclass(frozen=True)
class Variant:
    """A parsed variant spec. ``part`` is set for HetConv ``p<P>``, ``groups`` for ``gwc<G>``."""

    kind: Kind
    part: int | None = None
    groups: int | None = None
    se: bool = False

    @property
    def _spec(self) -> KindSpec:
        return KINDS[self.kind]

    @property
    def spec(self) -> str:
        """The canonical spelling, e.g. ``p4-se``."""
        return self._spec.spell(self) + (SE_SUFFIX if self.se else "")

    @property
    def description(self) -> str:
        return self._spec.describe(self) + (" + squeeze-and-excitation (r=8)" if self.se else "")

    @property
    def sequential_depth(self) -> int:
        """Extra layers on the critical path (the paper's "latency", Section 3.3, Fig. 4)."""
        return self._spec.sequential_depth

    @property
    def is_baseline(self) -> bool:
        return self.kind is Kind.STANDARD and not self.se

    @property
    def is_hetconv(self) -> bool:
        """A HetConv kind: one layer of K×K and 1×1 kernels (what a DW+PW pair can merge into)."""
        return self._spec.hetconv

    def part_for(self, in_channels: int) -> int:
        """HetConv part P for a layer with ``in_channels`` inputs (``pc`` takes P = M)."""
        if not self.is_hetconv:
            raise ValueError(f"{self.spec} is not a HetConv variant")
        return in_channels if self.kind is Kind.HETCONV_PC else self.part  # type: ignore[return-value]

    def check(self, shape: ConvShape) -> str | None:
        """Why this variant cannot replace the layer, or ``None`` when it can.

        Eligibility of the layer itself (groups, kernel size, first conv) is decided by the
        planner; this checks what the variant itself needs (divisibility, padding).
        """
        return self._spec.check(self, shape)


@dataclass(frozen=True)
class LayerCost:
    """Analytic cost of one layer: MACs for the whole batch, params, and the weights of the
    kernel-sized (K×K) part."""

    flops: int
    params: int
    params_kxk: int


@dataclass(frozen=True)
class KindSpec:
    """Everything hetcalc knows about one variant kind."""

    kind: Kind
    pattern: str
    """Regular expression for the spec without ``-se``; a group ``n`` captures its number."""
    form: str
    """How the grammar's help text shows it."""
    make: Callable[[int | None, bool], Variant]
    spell: Callable[[Variant], str]
    describe: Callable[[Variant], str]
    check: Callable[[Variant, ConvShape], str | None]
    cost: Callable[[Variant, ConvShape], tuple[int, int, int]]
    """(MACs per image, params, K×K params) of the layer without SE: the paper's equations."""
    sequential_depth: int
    info_field: Callable[[Variant, ConvShape], InfoField]
    build: Callable[[Variant, Any, str], nn.Module]
    """``build(variant, conv, impl)``: the trainable layer that replaces ``conv``."""
    hetconv: bool = False
    grouped: bool = True
    """Whether the kind can replace a grouped conv (HetConv group by group; std copies it)."""


# -- HetConv ---------------------------------------------------------------------------------

def _hetconv_check(variant: Variant, shape: ConvShape) -> str | None:
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


def _hetconv_cost(variant: Variant, shape: ConvShape) -> tuple[int, int, int]:
    """Eqs. 1-4 per group (M/g -> N/g channels), times the groups."""
    g = shape.groups
    m, n, k, out = shape.in_channels // g, shape.out_channels // g, shape.kernel, shape.output_size
    p = variant.part_for(m)
    bias = shape.bias
    return (g * formulas.flops_hetconv(out, m, n, k, p),
            g * formulas.params_hetconv(m, n, k, p, bias),
            g * n * (m // p) * shape.kernel_volume)


def _hetconv_field(variant: Variant, shape: ConvShape) -> InfoField:
    from hetcalc.infofield import InfoField

    standard = _standard_field(variant, shape)
    m = shape.in_channels // shape.groups
    p = variant.part_for(m)
    return InfoField(standard.height, standard.width, m,
                     (m // p) * shape.kernel_volume + (m - m // p))


def _build_hetconv(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import hetconv_like
    from hetcalc.nn.grouped import GroupedHetConv

    part = variant.part_for(conv.in_channels // conv.groups)
    if conv.groups > 1:
        return GroupedHetConv.like(conv, part, impl)
    return hetconv_like(conv, part, impl)


# -- standard --------------------------------------------------------------------------------

def _standard_cost(variant: Variant, shape: ConvShape) -> tuple[int, int, int]:
    m = shape.in_channels // shape.groups
    n, k = shape.out_channels, shape.kernel
    kxk = 0 if shape.pointwise else formulas.params_standard(m, n, k)
    if shape.transposed:
        flops = formulas.flops_standard(shape.input_size, m, n, k)
    else:
        flops = formulas.flops_standard(shape.output_size, m, n, k)
    return flops, formulas.params_standard(m, n, k, shape.bias), kxk


def _standard_field(variant: Variant, shape: ConvShape) -> InfoField:
    from hetcalc.infofield import standard_info_field

    return standard_info_field(shape.in_channels // shape.groups, _kernel_2d(shape.kernel),
                               _kernel_2d(shape.dilation))


def _kernel_2d(size: tuple[int, ...]) -> tuple[int, int]:
    """The second paper's fields are 2-D: a 1-D kernel is a 1×L one."""
    if len(size) == 1:
        return (1, size[0])
    if len(size) != 2:
        raise InvalidArgument(f"the information field is defined for 1-D and 2-D kernels, "
                              f"not for a {len(size)}-D one")
    return (size[0], size[1])


def _build_standard(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import copy_conv

    return copy_conv(conv)


# -- GWC+PWC and DWC+PWC ---------------------------------------------------------------------

def _ungrouped(variant: Variant, shape: ConvShape) -> str | None:
    if shape.groups > 1:
        return (f"grouped conv (groups={shape.groups}): {variant.spec} replaces groups=1 convs "
                "only (a HetConv variant replaces it group by group)")
    return None


def _gwc_check(variant: Variant, shape: ConvShape) -> str | None:
    assert variant.groups is not None
    if shape.groups > 1:
        return _ungrouped(variant, shape)
    if shape.in_channels % variant.groups:
        return f"G={variant.groups} does not divide M={shape.in_channels} input channels"
    return None


def _gwc_cost(variant: Variant, shape: ConvShape) -> tuple[int, int, int]:
    m, n, k, out, g = (shape.in_channels, shape.out_channels, shape.kernel, shape.output_size,
                       variant.groups)
    assert g is not None
    return (formulas.flops_gwc_pwc(out, m, n, k, g), formulas.params_gwc_pwc(m, n, k, g, shape.bias),
            m * (m // g) * shape.kernel_volume)


def _dwc_cost(variant: Variant, shape: ConvShape) -> tuple[int, int, int]:
    m, n, k, out = shape.in_channels, shape.out_channels, shape.kernel, shape.output_size
    return (formulas.flops_dwc_pwc(out, m, n, k), formulas.params_dwc_pwc(m, n, k, shape.bias),
            m * shape.kernel_volume)


def _two_layer_field(variant: Variant, shape: ConvShape) -> InfoField:
    """GC(G) or DW M→M then PW M→N: every output sees all M channels through the K×K extent."""
    from hetcalc.infofield import InfoField

    standard = _standard_field(variant, shape)
    m = shape.in_channels
    return InfoField(standard.height, standard.width, m, shape.kernel_volume * m)


def _build_gwc(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import GroupPointwise

    return GroupPointwise.like(conv, groups=variant.groups)


def _build_dwc(variant: Variant, conv: Any, impl: str) -> nn.Module:
    from hetcalc.nn import DepthwisePointwise

    return DepthwisePointwise.like(conv)


def _fits(variant: Variant, shape: ConvShape) -> None:
    return None


def _numbered(kind: Kind, field: str, letter: str):
    def make(number: int | None, se: bool) -> Variant:
        if number is None or number < 1:
            raise InvalidArgument(f"{letter} must be a positive integer, got {number}")
        return Variant(kind, se=se, **{field: number})
    return make


def _make_part(number: int | None, se: bool) -> Variant:
    if number == 1:  # p1: every kernel K×K, the standard conv
        return Variant(Kind.STANDARD, se=se)
    return _numbered(Kind.HETCONV, "part", "P")(number, se)


KINDS: dict[Kind, KindSpec] = {spec.kind: spec for spec in (
    KindSpec(
        kind=Kind.STANDARD, pattern="std", form="std",
        make=lambda number, se: Variant(Kind.STANDARD, se=se),
        spell=lambda v: "std", describe=lambda v: "standard convolution",
        check=_fits, cost=_standard_cost, sequential_depth=0, info_field=_standard_field,
        build=_build_standard,
    ),
    KindSpec(
        kind=Kind.HETCONV, pattern=r"p(?P<n>\d+)", form="p1, p<P> (e.g. p4, p64)",
        make=_make_part, spell=lambda v: f"p{v.part}",
        describe=lambda v: f"HetConv, part P={v.part}",
        check=_hetconv_check, cost=_hetconv_cost, sequential_depth=0,
        info_field=_hetconv_field, build=_build_hetconv, hetconv=True,
    ),
    KindSpec(
        kind=Kind.HETCONV_PC, pattern="pc", form="pc",
        make=lambda number, se: Variant(Kind.HETCONV_PC, se=se), spell=lambda v: "pc",
        describe=lambda v: "HetConv, P = input channels of each layer",
        check=_hetconv_check, cost=_hetconv_cost, sequential_depth=0,
        info_field=_hetconv_field, build=_build_hetconv, hetconv=True,
    ),
    KindSpec(
        kind=Kind.GWC_PWC, pattern=r"gwc(?P<n>\d+)", form="gwc<G> (e.g. gwc4)",
        make=_numbered(Kind.GWC_PWC, "groups", "G"), spell=lambda v: f"gwc{v.groups}",
        describe=lambda v: f"groupwise conv (G={v.groups}) + pointwise conv",
        check=_gwc_check, cost=_gwc_cost, sequential_depth=1, info_field=_two_layer_field,
        build=_build_gwc, grouped=False,
    ),
    KindSpec(
        kind=Kind.DWC_PWC, pattern="dwc", form="dwc",
        make=lambda number, se: Variant(Kind.DWC_PWC, se=se), spell=lambda v: "dwc",
        describe=lambda v: "depthwise conv + pointwise conv",
        check=_ungrouped, cost=_dwc_cost, sequential_depth=1, info_field=_two_layer_field,
        build=_build_dwc, grouped=False,
    ),
)}

STANDARD = Variant(Kind.STANDARD)
"""The baseline: every layer a standard convolution."""

TABLE1_VARIANTS = "p1,p2,p4,p8,p16,p32,p64,pc,gwc4,dwc"
"""The paper's Table 1 set: the default of ``hetcalc compare``."""

VALID_FORMS = ", ".join(KINDS[kind].form for kind in Kind) + f", each optionally with {SE_SUFFIX}"


def layer_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    """Analytic MACs (for the call's whole batch) and params of one conv layer under ``variant``
    (the paper's Eqs. 1-10). The caller has checked :meth:`Variant.check`. SE adds its two FC
    layers on the layer's output."""
    flops, params, kxk = KINDS[variant.kind].cost(variant, shape)
    if variant.se:
        flops += formulas.flops_se(shape.out_channels)
        params += formulas.params_se(shape.out_channels)
    return LayerCost(flops * shape.batch, params, kxk)


def info_field(variant: Variant, shape: ConvShape) -> InfoField:
    """The information field of one layer under ``variant`` (second paper, Definition 1).

    With ``M`` input channels and a ``kh×kw`` kernel (dilated extent ``eh×ew``; a 1-D kernel is
    read as ``1×L``):

    * standard conv: ``(eh, ew, M/groups)``, volume ``kh·kw·M/groups`` (Figure 1a);
    * GWC+PWC (GC(G) M→M then PW M→N): every GC output sees its group's ``M/G`` channels through
      K×K, the pointwise conv sees all ``M`` GC outputs, so ``(eh, ew, M)``, volume ``kh·kw·M``;
    * DWC+PWC: the same with ``G = M`` (Figure 1b), ``(eh, ew, M)``, volume ``kh·kw·M``;
    * HetConv with part ``P`` (``pc``: ``P = M``): filter ``n`` has K×K kernels on the ``M/P``
      channels ``c ≡ n (mod P)`` and 1×1 kernels on the other ``M − M/P``. Its output activation
      therefore sees all ``M`` channels (through the 1×1 kernels) and the full K×K extent
      (through the K×K ones): the size vector is ``(eh, ew, M)``, the standard one, but only
      ``M/P`` channels are seen spatially: ``volume = (M/P)·kh·kw + (M − M/P)``;
    * ``-se``: squeeze-and-excitation scales each output channel by a function of the globally
      pooled output, so every output activation depends on the whole input: ``(H, W, M)`` with
      the layer's input height and width, volume ``H·W·M``.

    Raises :class:`InvalidArgument` when the variant cannot replace the layer.
    """
    from hetcalc.infofield import InfoField

    reason = variant.check(shape)
    if reason is not None:
        raise InvalidArgument(f"{variant.spec} cannot replace this layer: {reason}")
    field = KINDS[variant.kind].info_field(variant, shape)
    if variant.se:
        h, w = _kernel_2d(shape.input_size)
        height, width = max(h, field.height), max(w, field.width)
        field = InfoField(height, width, field.channels, height * width * field.channels)
    return field


_SPEC = re.compile("^(?:" + "|".join(f"(?P<k{i}>{KINDS[kind].pattern.replace('?P<n>', f'?P<n{i}>')})"
                                     for i, kind in enumerate(Kind))
                   + f")(?P<se>{re.escape(SE_SUFFIX)})?$")


def parse_variant(spec: str) -> Variant:
    """Parse one variant spec; raise :class:`InvalidArgument` naming the valid forms."""
    text = spec.strip().lower()
    match = _SPEC.match(text) if text.isascii() else None
    if match is None:
        raise InvalidArgument(f"unknown variant {spec!r}; valid forms: {VALID_FORMS}",
                              argument="variant")
    se = match["se"] is not None
    for i, kind in enumerate(Kind):
        if match[f"k{i}"] is not None:
            number = match.groupdict().get(f"n{i}")
            try:
                return KINDS[kind].make(int(number) if number is not None else None, se)
            except InvalidArgument as error:
                raise InvalidArgument(f"variant {spec!r}: {error}", argument="variant") from None
    raise AssertionError("unreachable: the pattern matched no kind")


def parse_variants(specs: str) -> list[Variant]:
    """Parse a comma-separated list such as ``gwc4,dwc,p64``."""
    items = [item for item in (s.strip() for s in specs.split(",")) if item]
    if not items:
        raise InvalidArgument(f"variants: empty variant list; valid forms: {VALID_FORMS}",
                              argument="variants")
    return [parse_variant(item) for item in items]


def part_variant(part: str | int) -> Variant:
    """The variant of a HetConv part P given alone (``--P``), validated: 0, -1, 2.5 and non-ASCII
    digits fail."""
    text = str(part).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise InvalidArgument(f"part must be a positive integer (1, 2, 4, ...), got {part!r}",
                              argument="part")
    return _make_part(int(text), False)
