"""The variant grammar (``std``, ``p4``, ``pc``, ``gwc4``, ``dwc``, and HetConv's successors
``pconv4``, ``ghost2``, ``dual4``; suffix ``-se``) and the one table of variant kinds.

Every kind is declared once, in :data:`KINDS`: its grammar token, its description, whether it
fits a layer, its analytic cost (the paper's equations), its sequential depth, its information
field, the module that realizes it, how that module takes the replaced conv's weights, why it can
cost more than the standard conv, and its series in ``hetcalc curve``. Every consumer (the
parser, the cost model, the planner, the module builder, :func:`hetcalc.substitute.apply`, the
information-field summary, the analyze notes, the curve and its plot) reads that table; adding a
kind is adding one entry (its functions live in :mod:`hetcalc.kinds`). The table is built by
:func:`kind_table`, which refuses a kind declared twice or a grammar token another kind has.
Nothing here imports torch: the builders import :mod:`hetcalc.nn` when they are called.

A :class:`Variant` is parsed once, validated before any model is built, and then asked, layer by
layer, whether it applies (:meth:`Variant.check`) and what the layer costs under it
(:func:`layer_cost`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from hetcalc import formulas, kinds
from hetcalc.errors import InvalidArgument
from hetcalc.kinds import LayerCost, successors
from hetcalc.numbers import number_text, parse_int, shown
from hetcalc.shapes import ConvShape

if TYPE_CHECKING:
    from torch import nn

    from hetcalc.infofield import InfoField

__all__ = ["Kind", "KindSpec", "KINDS", "CurveSeries", "ConvShape", "Variant", "LayerCost",
           "layer_cost", "kind_table", "costlier_reason", "parse_variant", "parse_variants",
           "part_variant", "VALID_FORMS", "SE_SUFFIX", "SE_COSTLIER", "STANDARD",
           "TABLE1_VARIANTS", "info_field"]


class Kind(enum.Enum):
    """The forms a convolution layer can take."""

    STANDARD = "std"
    HETCONV = "hetconv"
    HETCONV_PC = "pc"
    GWC_PWC = "gwc"
    DWC_PWC = "dwc"
    PCONV_PWC = "pconv"
    GHOST = "ghost"
    DUALCONV = "dual"


SE_SUFFIX = "-se"


@dataclass(frozen=True)
class Variant:
    """A parsed variant spec. ``part`` is set for HetConv ``p<P>``, ``groups`` for ``gwc<G>``
    and ``dual<G>``, ``ratio`` for ``pconv<r>`` and ``ghost<s>``."""

    kind: Kind
    part: int | None = None
    groups: int | None = None
    se: bool = False
    ratio: int | None = None

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
class CurveSeries:
    """A kind's series in ``hetcalc curve`` (the paper's Fig. 5): its theoretical speedup over
    the standard conv (Eq. 9) as a function of the part P."""

    key: str
    """Its key in ``hetcalc curve``'s JSON points and CSV columns."""
    name: str
    """Short name for the notes, e.g. ``GWC+PWC``."""
    label: str
    """Table header and plot legend; ``{channels}`` stands for the curve's N."""
    speedup: Callable[[int, tuple[int, ...], int], float]
    """``speedup(P, kernel, N)``: 1/R of the kind at part P for a K×K kernel and N outputs."""


@dataclass(frozen=True)
class KindSpec:
    """Everything hetcalc knows about one variant kind. Every field but the last two is
    required: a new kind states each of them (``curve=None`` where it has no curve)."""

    kind: Kind
    token: str
    """Its grammar token (letters only): the spec is the token, followed by a number when
    ``numbered`` (``p4``, ``gwc4``), and by ``-se`` optionally."""
    numbered: bool
    form: str
    """How the grammar's help text shows it."""
    make: Callable[[int | None, bool], Variant]
    spell: Callable[[Variant], str]
    describe: Callable[[Variant], str]
    check: Callable[[Variant, ConvShape], str | None]
    cost: Callable[[Variant, ConvShape], LayerCost]
    """MACs per image, params and K×K params of the layer without SE: the paper's equations."""
    sequential_depth: int
    info_field: Callable[[Variant, ConvShape], InfoField]
    build: Callable[[Variant, Any, str], nn.Module]
    """``build(variant, conv, impl)``: the trainable layer that replaces ``conv``."""
    carry: Callable[[Any, nn.Module], None]
    """``carry(conv, layer)``: give ``layer`` (what ``build`` made, without its SE block) the
    weights and bias of ``conv`` it has a place for (:func:`hetcalc.substitute.apply`)."""
    costlier: Callable[[Variant], str | None]
    """Why a layer under the kind (without SE) can cost more MACs than the standard conv it
    replaces, a clause for the analyze notes; ``None`` where it never does."""
    curve: CurveSeries | None
    """The kind's series in ``hetcalc curve``, or ``None``."""
    intermediates: Callable[[Variant, ConvShape], int]
    """Elements per image of the tensors one step of the kind writes and the next reads
    (:mod:`hetcalc.traffic`), without SE; 0 for a one-step kind (a HetConv realization's own
    copies are :data:`hetcalc.realizations.REALIZATIONS`')."""
    hetconv: bool = False
    grouped: bool = True
    """Whether the kind can replace a grouped conv (HetConv group by group; std copies it)."""


def kind_table(specs: Iterable[KindSpec]) -> dict[Kind, KindSpec]:
    """The table of kinds, one entry per :class:`KindSpec`, in order.

    Like torch's flop registry and torchvision's model registry, it refuses what would make a
    lookup ambiguous: a kind declared twice, and a grammar token another kind has. Tokens are
    letters only (raised otherwise), so a spec's number or ``-se`` suffix starts where its token
    ends and two kinds' specs can only coincide when their tokens do: distinct tokens are
    disjoint grammars.
    """
    table: dict[Kind, KindSpec] = {}
    tokens: dict[str, Kind] = {}
    for spec in specs:
        if spec.kind in table:
            raise ValueError(f"kind {spec.kind.name} is declared twice in the table of kinds")
        if not re.fullmatch("[a-z]+", spec.token):
            raise ValueError(f"kind {spec.kind.name}: grammar token {spec.token!r} must be "
                             "lowercase letters only (a digit or '-' in it would overlap "
                             "another kind's number or the -se suffix)")
        if spec.token in tokens:
            raise ValueError(f"kind {spec.kind.name}: grammar token {spec.token!r} overlaps "
                             f"kind {tokens[spec.token].name}'s")
        table[spec.kind] = spec
        tokens[spec.token] = spec.kind
    return table


def _numbered(kind: Kind, field: str, letter: str):
    def make(number: int | None, se: bool) -> Variant:
        if number is None or number < 1:
            raise InvalidArgument(f"{letter} must be a positive integer, got {number}")
        return Variant(kind, se=se, **{field: number})
    return make


def _make_ghost(number: int | None, se: bool) -> Variant:
    if number == 1:
        raise InvalidArgument("s must be at least 2 (ghost1 would be the standard conv: std)")
    return _numbered(Kind.GHOST, "ratio", "s")(number, se)


def _make_part(number: int | None, se: bool) -> Variant:
    if number == 1:  # p1: every kernel K×K, the standard conv
        return Variant(Kind.STANDARD, se=se)
    return _numbered(Kind.HETCONV, "part", "P")(number, se)


KINDS: dict[Kind, KindSpec] = kind_table((
    KindSpec(
        kind=Kind.STANDARD, token="std", numbered=False, form="std",
        make=lambda number, se: Variant(Kind.STANDARD, se=se),
        spell=lambda v: "std", describe=lambda v: "standard convolution",
        check=kinds.fits, cost=kinds.standard_cost, sequential_depth=0,
        info_field=kinds.standard_field, build=kinds.build_standard,
        carry=kinds.carry_standard, costlier=lambda v: None, curve=None,
        intermediates=kinds.one_step,
    ),
    KindSpec(
        kind=Kind.HETCONV, token="p", numbered=True, form="p1, p<P> (e.g. p4, p64)",
        make=_make_part, spell=lambda v: f"p{v.part}",
        describe=lambda v: f"HetConv, part P={v.part}",
        check=kinds.hetconv_check, cost=kinds.hetconv_cost, sequential_depth=0,
        info_field=kinds.hetconv_field, build=kinds.build_hetconv, carry=kinds.carry_hetconv,
        costlier=lambda v: None,  # R = 1/P + (1 - 1/P)/K^2 (Eq. 5) is at most 1
        curve=CurveSeries("hetconv", "HetConv", "HetConv (Eq. 5)", kinds.hetconv_curve),
        intermediates=kinds.one_step, hetconv=True,
    ),
    KindSpec(
        kind=Kind.HETCONV_PC, token="pc", numbered=False, form="pc",
        make=lambda number, se: Variant(Kind.HETCONV_PC, se=se), spell=lambda v: "pc",
        describe=lambda v: "HetConv, P = input channels of each layer",
        check=kinds.hetconv_check, cost=kinds.hetconv_cost, sequential_depth=0,
        info_field=kinds.hetconv_field, build=kinds.build_hetconv, carry=kinds.carry_hetconv,
        costlier=lambda v: None, curve=None, intermediates=kinds.one_step, hetconv=True,
    ),
    KindSpec(
        kind=Kind.GWC_PWC, token="gwc", numbered=True, form="gwc<G> (e.g. gwc4)",
        make=_numbered(Kind.GWC_PWC, "groups", "G"), spell=lambda v: f"gwc{v.groups}",
        describe=lambda v: f"groupwise conv (G={v.groups}) + pointwise conv",
        check=kinds.gwc_check, cost=kinds.gwc_cost, sequential_depth=1,
        info_field=kinds.two_layer_field, build=kinds.build_gwc, carry=kinds.carry_gwc,
        costlier=kinds.gwc_costlier,
        curve=CurveSeries("gwc_pwc", "GWC+PWC", "GWC(G=P)+PWC (Eq. 11)", kinds.gwc_curve),
        intermediates=kinds.two_step, grouped=False,
    ),
    KindSpec(
        kind=Kind.DWC_PWC, token="dwc", numbered=False, form="dwc",
        make=lambda number, se: Variant(Kind.DWC_PWC, se=se), spell=lambda v: "dwc",
        describe=lambda v: "depthwise conv + pointwise conv",
        check=kinds.ungrouped, cost=kinds.dwc_cost, sequential_depth=1,
        info_field=kinds.two_layer_field, build=kinds.build_dwc, carry=kinds.carry_dwc,
        costlier=kinds.dwc_costlier,
        curve=CurveSeries("dwc_pwc", "DWC+PWC", "DWC+PWC, N={channels} (Eq. 7)", kinds.dwc_curve),
        intermediates=kinds.two_step, grouped=False,
    ),
    KindSpec(
        kind=Kind.PCONV_PWC, token="pconv", numbered=True, form="pconv<r> (e.g. pconv4)",
        make=_numbered(Kind.PCONV_PWC, "ratio", "r"), spell=lambda v: f"pconv{v.ratio}",
        describe=lambda v: f"PConv on M/{v.ratio} channels + pointwise conv (FasterNet)",
        check=successors.pconv_check, cost=successors.pconv_cost, sequential_depth=1,
        info_field=successors.pconv_field, build=successors.build_pconv,
        carry=successors.carry_pconv, costlier=successors.pconv_costlier,
        curve=CurveSeries("pconv_pwc", "PConv+PWC", "PConv+PWC (r=P), M=N", successors.pconv_curve),
        intermediates=successors.pconv_intermediates, grouped=False,
    ),
    KindSpec(
        kind=Kind.GHOST, token="ghost", numbered=True, form="ghost<s> (e.g. ghost2)",
        make=_make_ghost, spell=lambda v: f"ghost{v.ratio}",
        describe=lambda v: f"Ghost module, s={v.ratio}, cheap depthwise "
                           f"{formulas.GHOST_CHEAP_KERNEL}x{formulas.GHOST_CHEAP_KERNEL} (GhostNet)",
        check=successors.ghost_check, cost=successors.ghost_cost, sequential_depth=1,
        info_field=successors.ghost_field, build=successors.build_ghost,
        carry=successors.carry_ghost, costlier=successors.ghost_costlier,
        curve=CurveSeries("ghost", "Ghost", "Ghost (s=P), M=N={channels}", successors.ghost_curve),
        intermediates=successors.ghost_intermediates, grouped=False,
    ),
    KindSpec(
        kind=Kind.DUALCONV, token="dual", numbered=True, form="dual<G> (e.g. dual4)",
        make=_numbered(Kind.DUALCONV, "groups", "G"), spell=lambda v: f"dual{v.groups}",
        describe=lambda v: f"DualConv: group conv (G={v.groups}) + parallel pointwise conv",
        check=successors.dual_check, cost=successors.dual_cost, sequential_depth=0,
        info_field=successors.dual_field, build=successors.build_dual,
        carry=successors.carry_dual, costlier=successors.dual_costlier,
        curve=CurveSeries("dualconv", "DualConv", "DualConv (G=P)", successors.dual_curve),
        intermediates=successors.dual_intermediates, grouped=False,
    ),
))
if set(KINDS) != set(Kind):
    raise RuntimeError(f"no entry in the table of kinds for {set(Kind) - set(KINDS)}")

STANDARD = Variant(Kind.STANDARD)
"""The baseline: every layer a standard convolution."""

TABLE1_VARIANTS = "p1,p2,p4,p8,p16,p32,p64,pc,gwc4,dwc"
"""The paper's Table 1 set: the default of ``hetcalc compare``."""

VALID_FORMS = ", ".join(KINDS[kind].form for kind in Kind) + f", each optionally with {SE_SUFFIX}"


def layer_cost(variant: Variant, shape: ConvShape) -> LayerCost:
    """Analytic MACs (for the call's whole batch) and params of one conv layer under ``variant``
    (the paper's Eqs. 1-10). The caller has checked :meth:`Variant.check`. SE adds its two FC
    layers on the layer's output."""
    cost = KINDS[variant.kind].cost(variant, shape)
    flops, params = cost.flops, cost.params
    if variant.se:
        flops += formulas.flops_se(shape.out_channels)
        params += formulas.params_se(shape.out_channels)
    return LayerCost(flops * shape.batch, params, cost.params_kxk)


SE_COSTLIER = ("the squeeze-and-excitation block adds 2*N*N/8 MACs per layer, more than the "
               "substitution removes there")
"""Why an ``-se`` variant costs more where its kind alone does not."""


def costlier_reason(variant: Variant, shape: ConvShape) -> str:
    """Why the layer ``shape`` costs more MACs under ``variant`` than as the standard conv: its
    kind's clause (:attr:`KindSpec.costlier`) where the kind alone costs more, else the SE
    block's (:data:`SE_COSTLIER`)."""
    bare = replace(variant, se=False)
    if not variant.se or layer_cost(bare, shape).flops > layer_cost(STANDARD, shape).flops:
        reason = KINDS[variant.kind].costlier(bare)
        if reason is not None:
            return reason
    if variant.se:
        return SE_COSTLIER
    return f"{variant.spec}'s analytic MACs are above the standard conv's for these layers' shapes"


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
        h, w = kinds.kernel_2d(shape.input_size)
        height, width = max(h, field.height), max(w, field.width)
        field = InfoField(height, width, field.channels, height * width * field.channels)
    return field


_SPEC = re.compile(f"(?P<token>[a-z]+)(?P<n>[0-9]+)?(?P<se>{re.escape(SE_SUFFIX)})?")
"""A spec: a kind's token (letters only, :func:`kind_table`), its number, the suffix."""

_BY_TOKEN = {spec.token: spec for spec in KINDS.values()}


def parse_variant(spec: str) -> Variant:
    """Parse one variant spec; raise :class:`InvalidArgument` naming the valid forms."""
    text = spec.strip().lower()
    match = _SPEC.fullmatch(text) if number_text(text) is not None else None  # ASCII, short
    kind = None if match is None else _BY_TOKEN.get(match["token"])
    if match is None or kind is None or kind.numbered != (match["n"] is not None):
        raise InvalidArgument(f"unknown variant {shown(spec)}; valid forms: {VALID_FORMS}",
                              argument="variant")
    try:
        return kind.make(None if match["n"] is None else int(match["n"]), match["se"] is not None)
    except InvalidArgument as error:
        raise InvalidArgument(f"variant {spec!r}: {error}", argument="variant") from None


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
    try:
        number = parse_int(part if isinstance(part, int) else str(part), 1)
    except ValueError:
        raise InvalidArgument(f"part must be a positive integer (1, 2, 4, ...), got "
                              f"{shown(part)}", argument="part") from None
    return _make_part(number, False)
