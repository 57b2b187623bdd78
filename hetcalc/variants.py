"""The variant grammar (``std``, ``p4``, ``pc``, ``gwc4``, ``dwc``, suffix ``-se``).

A :class:`Variant` is parsed once, validated before any model is built, and then asked, layer by
layer, whether it applies (:meth:`Variant.check`) and what the layer costs under it
(:func:`layer_cost`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from hetcalc import formulas
from hetcalc.errors import InvalidArgument

VALID_FORMS = "std, p1, p<P> (e.g. p4, p64), pc, gwc<G> (e.g. gwc4), dwc, each optionally with -se"


class Kind(enum.Enum):
    """The forms a convolution layer can take."""

    STANDARD = "std"
    HETCONV = "hetconv"
    HETCONV_PC = "pc"
    GWC_PWC = "gwc"
    DWC_PWC = "dwc"


# Extra layers on the critical path (the paper's "latency", Section 3.3 and Fig. 4).
SEQUENTIAL_DEPTH = {
    Kind.STANDARD: 0,
    Kind.HETCONV: 0,
    Kind.HETCONV_PC: 0,
    Kind.GWC_PWC: 1,
    Kind.DWC_PWC: 1,
}


@dataclass(frozen=True)
class ConvShape:
    """What the cost model needs to know about one ``nn.Conv2d`` call."""

    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    bias: bool
    input_size: tuple[int, int]
    output_size: tuple[int, int]


@dataclass(frozen=True)
class Variant:
    """A parsed variant spec. ``part`` is set for HetConv ``p<P>``, ``groups`` for ``gwc<G>``."""

    kind: Kind
    part: int | None = None
    groups: int | None = None
    se: bool = False

    @property
    def spec(self) -> str:
        """The canonical spelling, e.g. ``p4-se``."""
        match self.kind:
            case Kind.STANDARD:
                base = "std"
            case Kind.HETCONV:
                base = f"p{self.part}"
            case Kind.HETCONV_PC:
                base = "pc"
            case Kind.GWC_PWC:
                base = f"gwc{self.groups}"
            case Kind.DWC_PWC:
                base = "dwc"
        return base + ("-se" if self.se else "")

    @property
    def description(self) -> str:
        match self.kind:
            case Kind.STANDARD:
                text = "standard convolution"
            case Kind.HETCONV:
                text = f"HetConv, part P={self.part}"
            case Kind.HETCONV_PC:
                text = "HetConv, P = input channels of each layer"
            case Kind.GWC_PWC:
                text = f"groupwise conv (G={self.groups}) + pointwise conv"
            case Kind.DWC_PWC:
                text = "depthwise conv + pointwise conv"
        return text + (" + squeeze-and-excitation (r=8)" if self.se else "")

    @property
    def sequential_depth(self) -> int:
        return SEQUENTIAL_DEPTH[self.kind]

    @property
    def is_baseline(self) -> bool:
        return self.kind is Kind.STANDARD and not self.se

    def part_for(self, in_channels: int) -> int:
        """HetConv part P for a layer with ``in_channels`` inputs (``pc`` takes P = M)."""
        if self.kind is Kind.HETCONV_PC:
            return in_channels
        if self.kind is Kind.HETCONV:
            assert self.part is not None
            return self.part
        raise ValueError(f"{self.spec} is not a HetConv variant")

    def check(self, shape: ConvShape) -> str | None:
        """Why this variant cannot replace the layer, or ``None`` when it can.

        Eligibility of the layer itself (groups, kernel size, first conv) is decided by the
        planner; this only checks the divisibility the variant needs.
        """
        m, n = shape.in_channels, shape.out_channels
        match self.kind:
            case Kind.STANDARD:
                return None
            case Kind.HETCONV | Kind.HETCONV_PC:
                p = self.part_for(m)
                if m % p:
                    return f"P={p} does not divide M={m} input channels"
                if n % p:
                    return f"P={p} does not divide N={n} output channels"
                return None
            case Kind.GWC_PWC:
                assert self.groups is not None
                if m % self.groups:
                    return f"G={self.groups} does not divide M={m} input channels"
                return None
            case Kind.DWC_PWC:
                return None


@dataclass(frozen=True)
class LayerCost:
    flops: int
    params: int


def layer_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    """Analytic MACs and params of one conv layer under ``variant`` (the paper's Eqs. 1-10).

    The caller has checked :meth:`Variant.check`. SE adds its two FC layers on the layer's output.
    """
    m, n, k, out = shape.in_channels, shape.out_channels, shape.kernel, shape.output_size
    bias = shape.bias
    match variant.kind:
        case Kind.STANDARD:
            cost = LayerCost(formulas.flops_standard(out, m, n, k),
                             formulas.params_standard(m, n, k, bias))
        case Kind.HETCONV | Kind.HETCONV_PC:
            p = variant.part_for(m)
            cost = LayerCost(formulas.flops_hetconv(out, m, n, k, p),
                             formulas.params_hetconv(m, n, k, p, bias))
        case Kind.GWC_PWC:
            assert variant.groups is not None
            g = variant.groups
            cost = LayerCost(formulas.flops_gwc_pwc(out, m, n, k, g),
                             formulas.params_gwc_pwc(m, n, k, g, bias))
        case Kind.DWC_PWC:
            cost = LayerCost(formulas.flops_dwc_pwc(out, m, n, k),
                             formulas.params_dwc_pwc(m, n, k, bias))
    if variant.se:
        cost = LayerCost(cost.flops + formulas.flops_se(n), cost.params + formulas.params_se(n))
    return cost


_SPEC = re.compile(r"^(?:(?P<std>std)|p(?P<part>\d+)|(?P<pc>pc)|gwc(?P<groups>\d+)|(?P<dwc>dwc))"
                   r"(?P<se>-se)?$")


def parse_variant(spec: str) -> Variant:
    """Parse one variant spec; raise :class:`InvalidArgument` naming the valid forms."""
    text = spec.strip().lower()
    match = _SPEC.match(text)
    if match is None:
        raise InvalidArgument(f"unknown variant {spec!r}; valid forms: {VALID_FORMS}")
    se = match["se"] is not None
    if match["std"]:
        return Variant(Kind.STANDARD, se=se)
    if match["part"] is not None:
        part = int(match["part"])
        if part < 1:
            raise InvalidArgument(f"variant {spec!r}: P must be a positive integer, got {part}")
        return Variant(Kind.STANDARD, se=se) if part == 1 else Variant(Kind.HETCONV, part=part, se=se)
    if match["pc"]:
        return Variant(Kind.HETCONV_PC, se=se)
    if match["groups"] is not None:
        groups = int(match["groups"])
        if groups < 1:
            raise InvalidArgument(f"variant {spec!r}: G must be a positive integer, got {groups}")
        return Variant(Kind.GWC_PWC, groups=groups, se=se)
    return Variant(Kind.DWC_PWC, se=se)


def parse_variants(specs: str) -> list[Variant]:
    """Parse a comma-separated list such as ``gwc4,dwc,p64``."""
    items = [item for item in (s.strip() for s in specs.split(",")) if item]
    if not items:
        raise InvalidArgument(f"empty variant list; valid forms: {VALID_FORMS}")
    return [parse_variant(item) for item in items]


def part_variant(part: str | int) -> Variant:
    """The variant of ``--P``: HetConv with part P, validated (``--P 0``, ``-1``, ``2.5`` fail)."""
    text = str(part).strip()
    if not text.isdigit() or int(text) < 1:
        raise InvalidArgument(f"--P must be a positive integer (1, 2, 4, ...), got {part!r}")
    value = int(text)
    return Variant(Kind.STANDARD) if value == 1 else Variant(Kind.HETCONV, part=value)
