"""The information field of sparse-kernel designs, the design-space reduction and the efficiency
analysis of "Penetrating the Fog: the Path to Efficient CNN Models" (ICLR 2019 submission,
``papers/information-field-iclr2019-submission.txt``).

Notation. This module follows the *second* paper: ``C`` input channels, ``F`` output channels,
``B`` bottleneck (intermediate) channels (the paper's ``K`` in Section 3.2/3.3.3, renamed here
because ``K`` is the kernel size in the HetConv paper), ``M`` and ``N`` the group numbers of the
first and second grouped layer of a design (Section 3.3). ``kernel`` is the spatial size of the
K×K layers (3 in the paper).

Conventions, as in :mod:`hetcalc.formulas`: **FLOPs are multiply-accumulates (MACs)**, bias adds
and BN are not counted, params are weights (no bias, no BN). Every layer of a design runs at the
output resolution (stride 1 with "same" padding, or the stride on the first layer), so a design's
MACs are its weights times ``out_h·out_w``.

Three parts, all pure functions (shapes in, dataclasses out, nothing printed):

1. :class:`InfoField` and :func:`sequence_info_field` (Definition 1, Section 3.1) for a sequence
   of kernels (standard conv, ``gc(G)``, ``dw``, ``pw``, ``pwg(G)``, channel shuffle), computed
   exactly by following every channel dependency; :func:`variant_info_field` for the hetcalc
   variants (HetConv ``P``, GWC+PWC, DWC+PWC).
2. :func:`reduce_design_space` (Section 3.1): composition, performance and efficiency stages.
3. :func:`design_params`, :func:`best_groups`, :func:`greatest_width`, :func:`efficiency_table`
   (Section 3.3, Theorem 1).
"""

from __future__ import annotations

import enum
import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from hetcalc.errors import InvalidArgument
from hetcalc.variants import ConvShape, Kind, Variant

__all__ = [
    "KERNELS",
    "PAPER_NAMES",
    "InfoField",
    "FieldRelation",
    "Layer",
    "parse_design",
    "parse_kernels",
    "plan_channels",
    "sequence_info_field",
    "sequence_field_steps",
    "standard_info_field",
    "variant_info_field",
    "compare_fields",
    "equals_standard",
    "Removal",
    "Stage",
    "Survivor",
    "DesignSpaceReport",
    "reduce_design_space",
    "Design",
    "design_layers",
    "design_params",
    "design_macs",
    "standard_params",
    "GroupChoice",
    "best_groups",
    "WidthChoice",
    "greatest_width",
    "greatest_width_bound",
    "EfficiencyRow",
    "EfficiencyReport",
    "efficiency_table",
]

KERNELS: tuple[str, ...] = ("gc", "dw", "pw", "pwg")
"""The four sparse kernels of the design space (Section 1), in the paper's order."""

PAPER_NAMES = {"conv": "Conv", "gc": "GC", "dw": "DW", "pw": "PW", "pwg": "PWG",
               "shuffle": "Shuffle"}
"""How each kernel is written in designs (Figure 1, Section 3.2): ``PWG+DW+PWG``."""

_SPATIAL = frozenset({"conv", "gc", "dw"})
_GROUPED = frozenset({"gc", "pwg"})
_ALIASES = {
    "conv": "conv", "standard": "conv", "std": "conv",
    "gc": "gc", "gconv": "gc", "gwc": "gc",
    "dw": "dw", "dwc": "dw", "depthwise": "dw",
    "pw": "pw", "pwc": "pw", "pointwise": "pw",
    "pwg": "pwg", "pwgconv": "pwg", "pwgc": "pwg",
    "shuffle": "shuffle", "perm": "shuffle",
}
_VALID_KERNELS = ", ".join(KERNELS)
_VALID_LAYERS = "conv, gc(G), dw, pw, pwg(G), shuffle(G) joined by '+', e.g. 'pwg(4)+dw+pwg(4)'"

MAX_DESIGN_LENGTH = 8
"""Upper bound of ``max_length`` for :func:`reduce_design_space` (4^8 = 65536 designs)."""


def _positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgument(f"{name} must be a positive integer, got {value!r}")


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


# --------------------------------------------------------------------------------------------
# 1. Information field (Definition 1)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=False)
class InfoField:
    """Definition 1 (Section 3.1): the area of the input tensor that one output activation uses.

    ``(height, width, channels)`` is the paper's size vector, e.g. ``(3, 3, C)`` for a standard
    3×3 convolution on ``C`` input channels: the spatial extent of the area and the number of
    input channels it spans. ``volume`` is the number of input activations ``(c, y, x)`` actually
    in the area; it equals ``height·width·channels`` when every channel is seen through the full
    extent and is smaller when some channels are seen through a smaller kernel (HetConv's 1×1
    kernels). ``uniform`` is False when output activations do not all have the same field; the
    three sizes are then the smallest over the output channels (the paper: "sizes of information
    fields for all activations are usually the same").
    """

    height: int
    width: int
    channels: int
    volume: int
    uniform: bool = True

    @property
    def size(self) -> tuple[int, int, int]:
        """The paper's vector ``(height, width, channels)`` (Table 3's InfoSize column)."""
        return (self.height, self.width, self.channels)

    @property
    def full(self) -> bool:
        """True when every channel is seen through the full extent (``volume = h·w·c``)."""
        return self.volume == self.height * self.width * self.channels

    def __str__(self) -> str:
        return f"({self.height}, {self.width}, {self.channels})"


class FieldRelation(enum.Enum):
    """How a field compares with a reference field, dimension by dimension."""

    EQUAL = "equal"
    SMALLER = "smaller"
    LARGER = "larger"
    MIXED = "mixed"


def compare_fields(field: InfoField, reference: InfoField) -> FieldRelation:
    """Compare the size vectors ``(h, w, c)`` of ``field`` and ``reference``.

    ``SMALLER`` when no dimension is larger and one is smaller (the designs the performance stage
    removes, Section 3.1), ``LARGER`` for the converse, ``MIXED`` when one dimension is larger and
    another smaller.
    """
    pairs = list(zip(field.size, reference.size, strict=True))
    smaller = any(a < b for a, b in pairs)
    larger = any(a > b for a, b in pairs)
    if smaller and larger:
        return FieldRelation.MIXED
    if smaller:
        return FieldRelation.SMALLER
    if larger:
        return FieldRelation.LARGER
    return FieldRelation.EQUAL


def equals_standard(field: InfoField, standard: InfoField | ConvShape) -> bool:
    """True when ``field`` has the size of the standard convolution's (Section 3.1, performance).

    ``standard`` is the standard field itself or the :class:`ConvShape` of the layer. Only the
    size vector is compared, as the paper does; ``volume`` is not.
    """
    if isinstance(standard, ConvShape):
        standard = standard_info_field(standard.in_channels // standard.groups, standard.kernel,
                                       standard.dilation)
    return field.size == standard.size


def _extent(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


def standard_info_field(in_channels: int, kernel: int | tuple[int, int] = 3,
                        dilation: int | tuple[int, int] = 1) -> InfoField:
    """The standard convolution's field (Section 3.1, Figure 1a): ``(K, K, C)``.

    Each output activation depends on all ``C`` input channels inside a K×K window (the dilated
    extent ``d·(K−1)+1`` with dilation ``d``); ``volume = K·K·C``.
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    _positive(in_channels=in_channels, kernel_height=kh, kernel_width=kw, dilation_height=dh,
              dilation_width=dw)
    return InfoField(_extent(kh, dh), _extent(kw, dw), in_channels, kh * kw * in_channels)


@dataclass(frozen=True)
class Layer:
    """One kernel of a sequence.

    ``kind`` is ``conv`` (standard K×K), ``gc`` (group conv K×K, Section 2.2), ``dw`` (depthwise,
    2.3), ``pw`` (pointwise 1×1, 2.4), ``pwg`` (pointwise group conv, 2.5) or ``shuffle`` (the
    channel permutation of ShuffleNet with ``groups`` groups: reshape ``(G, C/G)``, transpose,
    flatten). ``out_channels`` is filled in by :func:`plan_channels`; ``kernel`` (spatial size of
    ``conv``/``gc``/``dw``) defaults to the sequence's kernel.
    """

    kind: str
    groups: int = 1
    out_channels: int | None = None
    kernel: int | None = None

    @property
    def spatial(self) -> bool:
        return self.kind in _SPATIAL

    @property
    def label(self) -> str:
        """Paper notation: ``GC(4)``, ``DW``, ``PWG(8)``."""
        name = PAPER_NAMES[self.kind]
        if self.kind in _GROUPED or self.kind == "shuffle" or (self.kind == "conv"
                                                                 and self.groups > 1):
            return f"{name}({self.groups})"
        return name


_TOKEN = re.compile(r"^\s*([a-z]+)\s*(?:\(\s*(\d+)\s*\))?\s*$")


def parse_design(text: str) -> tuple[Layer, ...]:
    """Parse ``'pwg(4)+dw+pwg(4)'`` or the paper's ``'PWGConv(4)+DW+PWGConv(4)'``.

    Names (case-insensitive): ``conv``/``std``, ``gc``/``GConv`` (``GConv(1)`` is a standard
    conv, as in Table 2), ``dw``, ``pw``, ``pwg``/``PWGConv``, ``shuffle``. ``gc``, ``pwg`` and
    ``shuffle`` need a group number in parentheses.
    """
    tokens = [t for t in text.split("+")]
    if not text.strip() or any(not t.strip() for t in tokens):
        raise InvalidArgument(f"empty kernel in design {text!r}; valid: {_VALID_LAYERS}")
    layers = []
    for token in tokens:
        match = _TOKEN.match(token.lower())
        kind = _ALIASES.get(match[1]) if match else None
        if kind is None:
            raise InvalidArgument(f"unknown kernel {token.strip()!r} in design {text!r}; "
                                  f"valid: {_VALID_LAYERS}")
        groups = int(match[2]) if match[2] is not None else None
        if kind in _GROUPED or kind == "shuffle":
            if groups is None:
                raise InvalidArgument(f"{token.strip()!r} in design {text!r} needs a group "
                                      f"number, e.g. {kind}(4)")
            _positive(**{f"groups of {token.strip()}": groups})
            if kind == "gc" and groups == 1:
                kind = "conv"
        elif groups is not None:
            raise InvalidArgument(f"{token.strip()!r} in design {text!r} takes no group number; "
                                  f"valid: {_VALID_LAYERS}")
        layers.append(Layer(kind, groups or 1))
    return tuple(layers)


def parse_kernels(text: str | Iterable[str]) -> tuple[str, ...]:
    """Parse ``'gc,dw,pw,pwg'`` (or a list of names) into kernel names, in the paper's order."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = [str(item).strip().lower() for item in items if str(item).strip()]
    if not names:
        raise InvalidArgument(f"empty kernel list; valid kernels: {_VALID_KERNELS}")
    for name in names:
        if name not in KERNELS:
            raise InvalidArgument(f"unknown kernel {name!r}; valid kernels: {_VALID_KERNELS}")
    return tuple(k for k in KERNELS if k in names)


def _as_layers(layers: str | Sequence[Layer]) -> tuple[Layer, ...]:
    result = parse_design(layers) if isinstance(layers, str) else tuple(layers)
    if not result:
        raise InvalidArgument(f"a design needs at least one kernel; valid: {_VALID_LAYERS}")
    return result


def plan_channels(layers: str | Sequence[Layer], in_channels: int,
                  out_channels: int | None = None, bottleneck: int | None = None,
                  ) -> tuple[Layer, ...]:
    """Fill in every layer's ``out_channels``.

    A layer with ``out_channels`` set keeps it. Otherwise the last channel-mixing layer (``conv``,
    ``gc``, ``pw``, ``pwg``) produces ``out_channels`` (default ``in_channels``); when
    ``bottleneck`` is given, the first layer of a design that begins with a pointwise kernel
    (``pw``/``pwg``) and has another channel-mixing layer after it reduces to ``bottleneck``
    channels (the bottleneck structure of Section 3.2); every other layer keeps its input's
    channel count (``dw`` and ``shuffle`` always do).
    """
    seq = _as_layers(layers)
    _positive(in_channels=in_channels)
    target = in_channels if out_channels is None else out_channels
    _positive(out_channels=target)
    if bottleneck is not None:
        _positive(bottleneck=bottleneck)
    mixing = [i for i, layer in enumerate(seq) if layer.kind not in ("dw", "shuffle")]
    last = mixing[-1] if mixing else None
    reduce_at = (0 if bottleneck is not None and seq[0].kind in ("pw", "pwg")
                 and len(mixing) >= 2 else None)
    planned, channels = [], in_channels
    for i, layer in enumerate(seq):
        if layer.out_channels is not None:
            out = layer.out_channels
        elif i == reduce_at:
            out = bottleneck
        elif i == last:
            out = target
        else:
            out = channels
        planned.append(Layer(layer.kind, layer.groups, out, layer.kernel))
        channels = out
    if out_channels is not None and channels != target:
        raise InvalidArgument(f"design {_label(seq)} ends with {channels} channels, not "
                              f"out_channels={target}: dw and shuffle keep the channel count")
    return tuple(planned)


def _label(layers: Sequence[Layer]) -> str:
    return "+".join(layer.label for layer in layers)


# A tensor's dependency state: one entry per channel, a dict mapping a spatial extent (h, w) to
# the bitmask of input channels reached through some path with that extent. Outputs of one group
# share the same dict object (they depend on the same inputs).
_State = list[dict[tuple[int, int], int]]


def _initial_state(channels: int) -> _State:
    return [{(1, 1): 1 << c} for c in range(channels)]


def _apply(state: _State, layer: Layer, kernel: int, where: str) -> _State:
    cin = len(state)
    cout = layer.out_channels if layer.out_channels is not None else cin
    if layer.kind == "shuffle":
        g = layer.groups
        if cin % g:
            raise InvalidArgument(f"{where}: shuffle({g}) needs G to divide the {cin} channels")
        per = cin // g
        return [state[a * per + b] for b in range(per) for a in range(g)]
    if layer.kind == "dw":
        g = cin
        if cout != cin:
            raise InvalidArgument(f"{where}: dw keeps the channel count ({cin}), "
                                  f"got out_channels={cout}")
    elif layer.kind in ("pw", "conv") and layer.groups == 1:
        g = 1
    else:
        g = layer.groups
    if cin % g or cout % g:
        raise InvalidArgument(f"{where}: {layer.label} needs G={g} to divide its {cin} input "
                              f"and {cout} output channels")
    k = (layer.kernel or kernel) if layer.spatial else 1
    grow = k - 1
    per_in, per_out = cin // g, cout // g
    out: _State = []
    for a in range(g):
        merged: dict[tuple[int, int], int] = {}
        for j in range(a * per_in, (a + 1) * per_in):
            for (h, w), mask in state[j].items():
                key = (h + grow, w + grow)
                merged[key] = merged.get(key, 0) | mask
        out.extend([merged] * per_out)
    return out


def _channel_field(deps: dict[tuple[int, int], int]) -> tuple[int, int, int, int]:
    height = max(h for h, _ in deps)
    width = max(w for _, w in deps)
    seen = volume = 0
    for (h, w), mask in sorted(deps.items(), key=lambda item: -item[0][0] * item[0][1]):
        new = mask & ~seen
        volume += h * w * new.bit_count()
        seen |= mask
    return height, width, seen.bit_count(), volume


def _field_of(state: _State) -> InfoField:
    cache: dict[int, tuple[int, int, int, int]] = {}
    values = set()
    for deps in state:
        key = id(deps)
        if key not in cache:
            cache[key] = _channel_field(deps)
        values.add(cache[key])
    if len(values) == 1:
        return InfoField(*values.pop())
    h, w, c, v = (min(column) for column in zip(*values, strict=True))
    return InfoField(h, w, c, v, uniform=False)


def _with_shuffles(layers: Sequence[Layer]) -> tuple[Layer, ...]:
    """Insert ShuffleNet's channel shuffle after every grouped layer that is not already followed
    by one and is followed by a layer that mixes channels across groups."""
    result: list[Layer] = []
    for i, layer in enumerate(layers):
        result.append(layer)
        grouped = layer.groups > 1 and layer.kind in ("gc", "pwg", "conv")
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if grouped and nxt is not None and nxt.kind != "shuffle":
            result.append(Layer("shuffle", layer.groups, layer.out_channels))
    return tuple(result)


def sequence_field_steps(layers: str | Sequence[Layer], in_channels: int,
                         out_channels: int | None = None, *, bottleneck: int | None = None,
                         kernel: int = 3, shuffle: bool = True) -> tuple[InfoField, ...]:
    """The field after each kernel of the sequence (Section 3.1: "adding up it sequentially from
    the leftmost kernel to the rightmost one"), starting from one input activation ``(1, 1, 1)``.

    Channels are planned by :func:`plan_channels`. With ``shuffle=True`` (the paper's footnote 1:
    "we allow channel permutation within the designs") a channel shuffle with the layer's group
    number follows every grouped layer (GC, PWG) unless one is written explicitly; shuffles are
    not reported as steps. The computation is exact: it follows which input channels, and through
    which spatial extent, every output channel depends on.
    """
    _positive(kernel=kernel)
    planned = plan_channels(layers, in_channels, out_channels, bottleneck)
    if shuffle:
        planned = _with_shuffles(planned)
    state = _initial_state(in_channels)
    steps = []
    where = _label(planned)
    for layer in planned:
        state = _apply(state, layer, kernel, f"design {where}")
        if layer.kind != "shuffle":
            steps.append(_field_of(state))
    return tuple(steps)


def sequence_info_field(layers: str | Sequence[Layer], in_channels: int,
                        out_channels: int | None = None, *, bottleneck: int | None = None,
                        kernel: int = 3, shuffle: bool = True) -> InfoField:
    """The information field (Definition 1) of a kernel sequence on ``in_channels`` inputs.

    ``layers`` is a design string (:func:`parse_design`) or a sequence of :class:`Layer`. For
    example ``sequence_info_field('gc(4)+pwg(32)', 128)`` is ``(3, 3, 128)`` (Table 3), and
    ``(3, 3, 32)`` with ``shuffle=False``: without the permutation each PWG group only sees one
    GC group (Section 3.2, "channel permutation should be added between the two layers").
    """
    steps = sequence_field_steps(layers, in_channels, out_channels, bottleneck=bottleneck,
                                 kernel=kernel, shuffle=shuffle)
    if not steps:
        raise InvalidArgument(f"design {layers!r} has no kernel besides shuffles; "
                              f"valid: {_VALID_LAYERS}")
    return steps[-1]


def variant_info_field(variant: Variant, shape: ConvShape) -> InfoField:
    """The information field of one layer under a hetcalc variant.

    With ``M`` input channels and a ``kh×kw`` kernel (dilated extent ``eh×ew``):

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
    reason = variant.check(shape)
    if reason is not None:
        raise InvalidArgument(f"{variant.spec} cannot replace this layer: {reason}")
    m = shape.in_channels
    kh, kw = shape.kernel
    standard = standard_info_field(m // shape.groups, shape.kernel, shape.dilation)
    match variant.kind:
        case Kind.STANDARD:
            field = standard
        case Kind.GWC_PWC | Kind.DWC_PWC:
            field = InfoField(standard.height, standard.width, m, kh * kw * m)
        case Kind.HETCONV | Kind.HETCONV_PC:
            p = variant.part_for(m)
            field = InfoField(standard.height, standard.width, m,
                              (m // p) * kh * kw + (m - m // p))
    if variant.se:
        h, w = shape.input_size
        field = InfoField(max(h, field.height), max(w, field.width), field.channels,
                          max(h, field.height) * max(w, field.width) * field.channels)
    return field


# --------------------------------------------------------------------------------------------
# 2. Design-space reduction (Section 3.1)
# --------------------------------------------------------------------------------------------

_CODE = {"gc": "G", "dw": "D", "pw": "P", "pwg": "Q"}
_NAME = {code: name for name, code in _CODE.items()}
_ORDER = {code: i for i, code in enumerate("GDPQ")}
REPEAT_PATTERN = re.compile(r"(.+?)\1+")
"""Section 3.1, composition: the paper's regular expression for designs with repeated patterns,
applied with ``search`` to a design written one character per kernel."""


@dataclass(frozen=True)
class Removal:
    """A design a stage removed, with the rule and a one-line reason."""

    design: str
    rule: str
    reason: str


@dataclass(frozen=True)
class Stage:
    """One stage of the reduction: how many designs entered, which left and why, which stayed.

    ``name`` is ``composition``, ``performance`` or ``efficiency``. Rules: composition ``repeat``
    (the paper's regex) and ``rotation``; performance ``field``; efficiency ``rule1``, ``rule2``
    and ``same-design``.
    """

    name: str
    before: int
    removed: tuple[Removal, ...]
    kept: tuple[str, ...]

    @property
    def removed_count(self) -> int:
        return len(self.removed)

    @property
    def kept_count(self) -> int:
        return len(self.kept)

    def removed_by(self, rule: str) -> tuple[Removal, ...]:
        return tuple(r for r in self.removed if r.rule == rule)


@dataclass(frozen=True)
class Survivor:
    """A design that passes all three stages.

    ``groups`` lists every choice of group numbers (one per GC/PWG, in order) that passes, for the
    enumeration's ``channels`` (footnote 1: they are all the same design); it is ``((),)`` for a
    design without grouped kernels. ``steps`` is the field after each kernel.
    """

    design: str
    kernels: tuple[str, ...]
    groups: tuple[tuple[int, ...], ...]
    steps: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class DesignSpaceReport:
    """Result of :func:`reduce_design_space`. ``total = Σ_{L=1..max_length} k^L`` designs for
    ``k`` kernels; ``stages`` are composition, performance, efficiency in that order."""

    max_length: int
    kernels: tuple[str, ...]
    bottleneck: bool
    channels: int
    kernel: int
    total: int
    stages: tuple[Stage, ...]
    survivors: tuple[Survivor, ...]

    @property
    def survivor_names(self) -> tuple[str, ...]:
        return tuple(s.design for s in self.survivors)


def _design_name(code: str) -> str:
    return "+".join(PAPER_NAMES[_NAME[c]] for c in code)


class _Reducer:
    """The field computations of the reduction, memoized per design code."""

    def __init__(self, channels: int, kernel: int, bottleneck: bool):
        self.channels = channels
        self.kernel = kernel
        self.bottleneck = bottleneck
        self.group_choices = [d for d in _divisors(channels) if 1 < d < channels]
        self.standard = (kernel, kernel, channels)
        self._outcomes: dict[str, dict] = {}
        self._efficiency: dict[str, tuple] = {}

    def _layers(self, code: str, groups: Sequence[int]) -> list[Layer]:
        it = iter(groups)
        layers = []
        for c in code:
            kind = _NAME[c]
            g = next(it) if kind in _GROUPED else 1
            layers.append(Layer(kind, g, self.channels))
            if kind in _GROUPED:
                layers.append(Layer("shuffle", g, self.channels))
        return layers

    def outcomes(self, code: str) -> dict[tuple[tuple[int, int, int], ...],
                                          tuple[tuple[int, ...], ...]]:
        """Every distinct field history ``(field after kernel 1, ..., after kernel L)`` over all
        group numbers (footnote 1), each with the group choices that produce it."""
        if code not in self._outcomes:
            self._outcomes[code] = self._compute_outcomes(code)
        return self._outcomes[code]

    def _compute_outcomes(self, code: str) -> dict:
        start = _initial_state(self.channels)
        frontier = {(self._key(start), ()): (start, [()])}
        for c in code:
            kind = _NAME[c]
            choices = self.group_choices if kind in _GROUPED else [1]
            nxt: dict = {}
            for (_, history), (state, group_lists) in frontier.items():
                for g in choices:
                    new = state
                    for layer in self._layers(c, [g]):
                        new = _apply(new, layer, self.kernel, "enumeration")
                    field = _field_of(new).size
                    key = (self._key(new), history + (field,))
                    extra = [gs + (g,) for gs in group_lists] if kind in _GROUPED else group_lists
                    if key in nxt:
                        nxt[key][1].extend(extra)
                    else:
                        nxt[key] = (new, list(extra))
            frontier = nxt
        result: dict = {}
        for (_, history), (_, group_lists) in frontier.items():
            result.setdefault(history, []).extend(group_lists)
        return {h: tuple(sorted(set(g))) for h, g in result.items()}

    @staticmethod
    def _key(state: _State) -> tuple:
        return tuple(tuple(sorted(d.items())) for d in state)

    def reaches(self, history: tuple[tuple[int, int, int], ...]) -> bool:
        h, w, c = history[-1]
        kh, kw, kc = self.standard
        return h >= kh and w >= kw and c >= kc

    def reaching(self, code: str) -> bool:
        return any(self.reaches(h) for h in self.outcomes(code))

    def is_bottleneck(self, code: str) -> bool:
        return self.bottleneck and len(code) >= 3 and code[0] == "P" and code[-1] == "P"

    def early_stop(self, code: str, history) -> tuple[int, str] | None:
        """The two early-stop rules (Section 3.1, efficiency): the first kernel that stops the
        pass and the rule, or None when the design passes."""
        prev = (1, 1, 1)
        exempt = len(code) - 1 if self.is_bottleneck(code) else None
        for i, field in enumerate(history):
            if field == prev and i != exempt:
                return i, "rule1"
            if any(a > b for a, b in zip(field, self.standard, strict=True)):
                return i, "rule2"
            prev = field
        return None

    def efficiency(self, code: str) -> tuple[bool, str, str, tuple[tuple[int, ...], ...],
                                             tuple[tuple[int, int, int], ...]]:
        """(passes, rule, reason, passing group choices, field history) for the efficiency
        stage, before the same-design merge."""
        if code not in self._efficiency:
            self._efficiency[code] = self._compute_efficiency(code)
        return self._efficiency[code]

    def _compute_efficiency(self, code: str) -> tuple:
        reaching = [(h, g) for h, g in self.outcomes(code).items() if self.reaches(h)]
        if not reaching:
            return False, "field", "no group numbers reach the standard field", (), ()
        stops, passing = [], []
        for history, group_lists in reaching:
            stop = self.early_stop(code, history)
            if stop is None:
                passing.append((history, group_lists))
            else:
                stops.append((stop, history))
        if not passing:
            (index, rule), history = max(stops, key=lambda s: (s[0][0], s[0][1] == "rule2"))
            kernel = PAPER_NAMES[_NAME[code[index]]]
            before = history[index - 1] if index else (1, 1, 1)
            if rule == "rule1":
                reason = (f"rule 1: kernel {index + 1} ({kernel}) leaves the field at "
                          f"{_fmt(before)}")
            else:
                reason = (f"rule 2: kernel {index + 1} ({kernel}) takes the field to "
                          f"{_fmt(history[index])}, beyond the standard {_fmt(self.standard)}")
            return False, rule, reason, (), ()
        # Rule 2, second case: "the same size of information field with the standard convolution
        # is already retained by a fraction of sparse kernels in a design".
        n = len(code)
        keep_ends = self.is_bottleneck(code)
        for r in range(1, n):
            for idx in itertools.combinations(range(n), r):
                if keep_ends and (idx[0] != 0 or idx[-1] != n - 1):
                    continue
                sub = "".join(code[i] for i in idx)
                if self.reaching(sub):
                    return (False, "rule2", f"rule 2: its kernels {_design_name(sub)} already "
                            f"reach the standard field {_fmt(self.standard)}", (), ())
        groups = tuple(sorted({g for _, group_lists in passing for g in group_lists}))
        return True, "", "", groups, passing[0][0]


def _fmt(size: tuple[int, int, int]) -> str:
    return "(" + ", ".join(str(v) for v in size) + ")"


def reduce_design_space(max_length: int = 6, kernels: str | Iterable[str] = KERNELS, *,
                        bottleneck: bool = True, channels: int = 16,
                        kernel: int = 3) -> DesignSpaceReport:
    """Enumerate every sequence of 1..``max_length`` kernels and reduce the space (Section 3.1).

    1. **Composition.** Remove designs with a repeated pattern: the paper's regular expression
       ``(.+?)\\1+`` found anywhere in the design (one character per kernel), so ``PW+PW+DW`` and
       ``DW+PW+DW+PW`` go. Designs are used block after block, so a design and its rotations
       (``DW+PW`` and ``PW+DW``) repeat into the same pattern; one rotation is kept, the first in
       the paper's kernel order gc, dw, pw, pwg.
    2. **Performance.** Remove designs whose field is smaller than the standard convolution's
       ``(kernel, kernel, channels)`` for every choice of group numbers (footnote 1: all divisors
       ``1 < G < channels`` are tried, channel permutation after every grouped kernel).
    3. **Efficiency.** Among the group choices that pass, the two early-stop rules:
       rule 1, a kernel that leaves the field unchanged; rule 2, a field beyond the standard's,
       or a fraction of the kernels (a sub-sequence) that already reaches the standard field.
       Finally a design with a GC whose replacement by DW (GC with G = channels, the most
       parameter-efficient group number, Section 4.2) also passes is the same design as that one
       (footnote 1: designs differing in group numbers are the same design).

    ``bottleneck`` is the paper's allowance ("we also consider the bottleneck structure"): in a
    design that begins and ends with a dense PW, the PWs are a bottleneck's reduction and
    expansion, so the final PW is exempt from rule 1 and the sub-sequences of rule 2 must keep
    both PWs. With it the survivors at ``max_length >= 3`` are the paper's four: DW+PW, GC+PWG,
    PW+DW+PW and PWG+DW+PWG; without it, PW+DW+PW goes.

    All layers keep ``channels`` channels (16 by default; the survivors do not depend on it once
    it has group numbers to try).
    """
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not (
            1 <= max_length <= MAX_DESIGN_LENGTH):
        raise InvalidArgument(f"max_length must be an integer from 1 to {MAX_DESIGN_LENGTH}, "
                              f"got {max_length!r}")
    names = parse_kernels(kernels)
    _positive(kernel=kernel, channels=channels)
    if channels < 4:
        raise InvalidArgument(f"channels must be at least 4 so that group numbers 1 < G < C "
                              f"exist, got {channels}")
    reducer = _Reducer(channels, kernel, bottleneck)
    alphabet = [_CODE[k] for k in names]
    codes = ["".join(t) for length in range(1, max_length + 1)
             for t in itertools.product(alphabet, repeat=length)]

    # Composition
    removed: list[Removal] = []
    kept: list[str] = []
    for code in codes:
        match = REPEAT_PATTERN.search(code)
        if match:
            removed.append(Removal(_design_name(code), "repeat",
                                   f"repeated pattern {_design_name(match[0])}"))
    square_free = [c for c in codes if not REPEAT_PATTERN.search(c)]
    square_free_set = set(square_free)
    for code in square_free:
        rotations = [code[i:] + code[:i] for i in range(1, len(code))]
        first = min((r for r in rotations if r in square_free_set),
                    key=lambda s: [_ORDER[c] for c in s], default=None)
        if first is not None and [_ORDER[c] for c in first] < [_ORDER[c] for c in code]:
            removed.append(Removal(_design_name(code), "rotation",
                                   f"rotation of {_design_name(first)}: repeated block after "
                                   f"block they form the same pattern"))
        else:
            kept.append(code)
    composition = Stage("composition", len(codes), tuple(removed),
                        tuple(_design_name(c) for c in kept))

    # Performance
    before, removed, survivors = len(kept), [], []
    for code in kept:
        if reducer.reaching(code):
            survivors.append(code)
        else:
            best = max((h[-1] for h in reducer.outcomes(code)),
                       key=lambda f: (f[2], -abs(f[0] - kernel), -abs(f[1] - kernel)))
            removed.append(Removal(_design_name(code), "field",
                                   f"no group numbers reach the standard field "
                                   f"{_fmt(reducer.standard)}; closest {_fmt(best)}"))
    performance = Stage("performance", before, tuple(removed),
                        tuple(_design_name(c) for c in survivors))

    # Efficiency
    before, removed, final = len(survivors), [], []
    for code in survivors:
        ok, rule, reason, groups, history = reducer.efficiency(code)
        if not ok:
            removed.append(Removal(_design_name(code), rule, reason))
            continue
        if "G" in code and "D" in alphabet:
            target = code.replace("G", "D")
            if not REPEAT_PATTERN.search(target) and reducer.efficiency(target)[0]:
                removed.append(Removal(
                    _design_name(code), "same-design",
                    f"same design as {_design_name(target)}: DW is GC with G = channels, "
                    f"the most parameter-efficient group number"))
                continue
        final.append(Survivor(_design_name(code), tuple(_NAME[c] for c in code), groups,
                              history))
    # The paper's order (Figure 1, Section 3.2): shorter first, dense before grouped.
    final.sort(key=lambda s: (len(s.kernels), sum(k in _GROUPED for k in s.kernels),
                              [KERNELS.index(k) for k in s.kernels]))
    efficiency = Stage("efficiency", before, tuple(removed), tuple(s.design for s in final))
    return DesignSpaceReport(max_length, names, bottleneck, channels, kernel, len(codes),
                             (composition, performance, efficiency), tuple(final))


# --------------------------------------------------------------------------------------------
# 3. Efficiency analysis (Section 3.3)
# --------------------------------------------------------------------------------------------


class Design(enum.Enum):
    """The four designs of Section 3.2, with the Section 3.3 subsection that analyses each."""

    DW_PW = "DW+PW"
    GC_PWG = "GC+PWG"
    PW_DW_PW = "PW+DW+PW"
    PWG_DW_PWG = "PWG+DW+PWG"

    @property
    def section(self) -> str:
        return {"DW+PW": "3.3.1", "GC+PWG": "3.3.2", "PW+DW+PW": "3.3.3",
                "PWG+DW+PWG": "3.3.4"}[self.value]

    @property
    def grouped(self) -> bool:
        return self in (Design.GC_PWG, Design.PWG_DW_PWG)

    @property
    def has_bottleneck(self) -> bool:
        return self in (Design.PW_DW_PW, Design.PWG_DW_PWG)

    @classmethod
    def parse(cls, value: Design | str) -> Design:
        if isinstance(value, Design):
            return value
        text = str(value).strip().upper().replace(" ", "")
        for design in cls:
            if text in (design.value, design.name):
                return design
        valid = ", ".join(d.value for d in cls)
        raise InvalidArgument(f"unknown design {value!r}; valid designs: {valid}")


BOTTLENECK_RATIO = 4
"""Section 3.2: "we set bottleneck ratio to 1 : 4", bottleneck channels B = F/4."""


def _resolve(design: Design | str, c: int, f: int, groups: tuple[int, int] | None,
             bottleneck: int | None, kernel: int) -> tuple[Design, int, int, int | None]:
    d = Design.parse(design)
    _positive(in_channels=c, out_channels=f, kernel=kernel)
    b = None
    if d.has_bottleneck:
        if bottleneck is None:
            if f % BOTTLENECK_RATIO:
                raise InvalidArgument(
                    f"{d.value}: bottleneck channels default to F/{BOTTLENECK_RATIO} but "
                    f"F={f} is not a multiple of {BOTTLENECK_RATIO}; pass bottleneck channels")
            bottleneck = f // BOTTLENECK_RATIO
        _positive(bottleneck=bottleneck)
        b = bottleneck
    elif bottleneck is not None:
        raise InvalidArgument(f"{d.value} has no bottleneck; bottleneck channels apply to "
                              f"PW+DW+PW and PWG+DW+PWG")
    if not d.grouped:
        if groups is not None and tuple(groups) != (1, 1):
            raise InvalidArgument(f"{d.value} has no group numbers, got groups={groups}; "
                                  f"groups apply to GC+PWG and PWG+DW+PWG")
        return d, 1, 1, b
    if groups is None:
        raise InvalidArgument(f"{d.value} needs group numbers groups=(M, N); "
                              f"best_groups() finds the best")
    m, n = groups
    _positive(M=m, N=n)
    mid = c if d is Design.GC_PWG else b
    assert mid is not None
    first_in, first_out = (c, c) if d is Design.GC_PWG else (c, b)
    if first_in % m or first_out % m:
        raise InvalidArgument(f"{d.value}: M={m} must divide the first layer's {first_in} input "
                              f"and {first_out} output channels")
    if mid % n or f % n:
        raise InvalidArgument(f"{d.value}: N={n} must divide the second grouped layer's {mid} "
                              f"input and {f} output channels")
    if m * n > mid:
        raise InvalidArgument(f"{d.value}: M·N = {m * n} exceeds the {mid} intermediate "
                              f"channels, so the field is smaller than the standard "
                              f"convolution's (Section 3.3.2: M·N ≤ C)")
    return d, m, n, b


def design_layers(design: Design | str, in_channels: int, out_channels: int, *,
                  groups: tuple[int, int] | None = None, bottleneck: int | None = None,
                  kernel: int = 3) -> tuple[Layer, ...]:
    """The concrete layers of a design (channels filled in), for :func:`sequence_info_field`."""
    d, m, n, b = _resolve(design, in_channels, out_channels, groups, bottleneck, kernel)
    c, f = in_channels, out_channels
    match d:
        case Design.DW_PW:
            return (Layer("dw", 1, c, kernel), Layer("pw", 1, f))
        case Design.GC_PWG:
            return (Layer("gc" if m > 1 else "conv", m, c, kernel), Layer("pwg", n, f))
        case Design.PW_DW_PW:
            return (Layer("pw", 1, b), Layer("dw", 1, b, kernel), Layer("pw", 1, f))
        case Design.PWG_DW_PWG:
            return (Layer("pwg", m, b), Layer("dw", 1, b, kernel), Layer("pwg", n, f))


def design_params(design: Design | str, in_channels: int, out_channels: int, *,
                  groups: tuple[int, int] | None = None, bottleneck: int | None = None,
                  kernel: int = 3) -> int:
    """Weights of a design replacing a K×K convolution ``C → F`` (Section 3.3, ``kernel`` = K).

    * DW+PW (3.3.1): ``K²·C + C·F`` (the paper's ``9C + CF``);
    * GC(M)+PWG(N) (3.3.2): ``K²·C·C/M + C·F/N`` (``9C²/M + CF/N``); needs ``M | C``,
      ``N | C``, ``N | F`` and ``M·N ≤ C`` (otherwise the field is smaller than standard);
    * PW+DW+PW (3.3.3): ``C·B + K²·B + B·F = B(C + F + K²)``, ``B = F/4`` by default;
    * PWG(M)+DW+PWG(N) (3.3.4): ``C·B/M + K²·B + B·F/N = B(C/M + F/N + K²)``; needs
      ``M | C``, ``M | B``, ``N | B``, ``N | F`` and ``M·N ≤ B``.

    ``groups=(M, N)`` is required for the grouped designs and refused for the others.
    """
    d, m, n, b = _resolve(design, in_channels, out_channels, groups, bottleneck, kernel)
    c, f, k2 = in_channels, out_channels, kernel * kernel
    match d:
        case Design.DW_PW:
            return k2 * c + c * f
        case Design.GC_PWG:
            return k2 * c * (c // m) + (c // n) * f
        case Design.PW_DW_PW:
            assert b is not None
            return c * b + k2 * b + b * f
        case Design.PWG_DW_PWG:
            assert b is not None
            return (c // m) * b + k2 * b + (b // n) * f


def design_macs(design: Design | str, in_channels: int, out_channels: int, *,
                out_hw: tuple[int, int] = (1, 1), groups: tuple[int, int] | None = None,
                bottleneck: int | None = None, kernel: int = 3) -> int:
    """MACs of a design at an ``out_h × out_w`` output: every layer runs at the output
    resolution, so each weight is used once per output position: ``params · out_h · out_w``."""
    h, w = out_hw
    _positive(out_height=h, out_width=w)
    return design_params(design, in_channels, out_channels, groups=groups,
                         bottleneck=bottleneck, kernel=kernel) * h * w


def standard_params(in_channels: int, out_channels: int, kernel: int = 3) -> int:
    """Weights of the standard K×K convolution the designs replace: ``K²·C·F`` (``9CF``)."""
    _positive(in_channels=in_channels, out_channels=out_channels, kernel=kernel)
    return kernel * kernel * in_channels * out_channels


@dataclass(frozen=True)
class GroupChoice:
    """The best integer group numbers ``(M, N)`` of a grouped design for given ``C, F, B``.

    ``intermediate`` is the channel count between the two grouped layers (``C`` for GC+PWG,
    ``B`` for PWG+DW+PWG); ``theorem1`` says whether ``M·N`` equals it (Theorem 1: the best
    parameter efficiency needs it). ``optimum`` is the closed-form real optimum ``(M*, N*)``
    on Theorem 1's curve, ``optimal_params`` the real lower bound it gives.
    """

    design: Design
    groups: tuple[int, int]
    params: int
    intermediate: int
    theorem1: bool
    optimum: tuple[float, float]
    optimal_params: float


def best_groups(design: Design | str, in_channels: int, out_channels: int, *,
                bottleneck: int | None = None, kernel: int = 3) -> GroupChoice:
    """The group numbers that minimise the parameters of GC+PWG or PWG+DW+PWG (Section 3.3).

    Closed forms (real, on Theorem 1's curve ``M·N = intermediate``):

    * GC+PWG (3.3.2): params ``K²·C·N + C·F/N``, minimal at ``N* = √F / K`` (``√F/3``),
      ``M* = C/N*``, where they are ``2·K·C·√F``;
    * PWG+DW+PWG (3.3.4): params ``B(C/M + K² + F·M/B)``, minimal at ``M* = √(B·C/F)``
      (``√C/2`` for ``B = F/4``), ``N* = B/M*``, where they are ``B(K² + 2√(C·F/B))``.

    The returned ``groups`` are the exact integer optimum over every valid pair (divisibility
    and ``M·N ≤ intermediate``); ties prefer Theorem 1's pairs, then the smaller ``N``. Group
    numbers 1 are allowed (GC(C)+PWG(1) is DW+PW, PWG(1)+DW+PWG(1) is PW+DW+PW).
    """
    d = Design.parse(design)
    if not d.grouped:
        raise InvalidArgument(f"{d.value} has no group numbers; best_groups applies to "
                              f"GC+PWG and PWG+DW+PWG")
    _, _, _, b = _resolve(d, in_channels, out_channels, (1, 1), bottleneck, kernel)
    c, f, k = in_channels, out_channels, kernel
    if d is Design.GC_PWG:
        mid = c
        first = _divisors(c)
        second = _divisors(math.gcd(c, f))
        n_star = math.sqrt(f) / k
        optimum = (c / n_star, n_star)
        bound = 2 * k * c * math.sqrt(f)
    else:
        assert b is not None
        mid = b
        first = _divisors(math.gcd(c, b))
        second = _divisors(math.gcd(b, f))
        m_star = math.sqrt(b * c / f)
        optimum = (m_star, b / m_star)
        bound = b * (k * k + 2 * math.sqrt(c * f / b))
    best = None
    for m in first:
        for n in second:
            if m * n > mid:
                continue
            params = design_params(d, c, f, groups=(m, n), bottleneck=b, kernel=k)
            key = (params, m * n != mid, n)
            if best is None or key < best[0]:
                best = (key, (m, n))
    assert best is not None  # (1, 1) is always valid
    (params, _, _), (m, n) = best
    return GroupChoice(d, (m, n), params, mid, m * n == mid, optimum, bound)


@dataclass(frozen=True)
class WidthChoice:
    """The greatest width ``C`` (input channels) of a design for a parameter budget, with
    ``F = α·C`` and ``B = F/ratio``: the integer width reachable with integer group numbers, the
    paper's real closed-form bound ``width_bound``, and the configuration that reaches it."""

    design: Design
    budget: int
    width: int
    width_bound: float
    out_channels: int
    bottleneck: int | None
    groups: tuple[int, int] | None
    params: int


def greatest_width_bound(design: Design | str, budget: int, *, alpha: Fraction | int = 1,
                         ratio: Fraction | int = BOTTLENECK_RATIO, kernel: int = 3) -> float:
    """The paper's greatest width ``G`` for ``P`` parameters, ``F = α·C`` (Section 3.3):

    * DW+PW: ``K²C + αC² = P`` → ``(−K² + √(K⁴ + 4αP)) / 2α`` (``(−9 + √(81 + 4αP))/2α``);
    * GC+PWG: ``P ≥ 2K√α·C^{3/2}`` (``6√α·C^{3/2}``, equality at ``K²N = αM``) →
      ``(P / 2K√α)^{2/3}``;
    * PW+DW+PW, ``B = αC/r``: ``((α+α²)C² + K²αC)/r = P`` →
      ``(−K²α + √(K⁴α² + 4r(α+α²)P)) / 2(α+α²)`` (the paper's ``r = 4``, ``K = 3``);
    * PWG+DW+PWG: ``P ≥ (αC/r)(K² + 2√(rC))`` (``αC(9 + 4√C)/4``, equality at ``N = αM``),
      solved for ``C`` numerically.

    A real number; :func:`greatest_width` gives the integer width.
    """
    d = Design.parse(design)
    _positive(budget=budget, kernel=kernel)
    a, r = Fraction(alpha), Fraction(ratio)
    if a <= 0 or r <= 0:
        raise InvalidArgument(f"alpha and ratio must be positive, got alpha={alpha}, "
                              f"ratio={ratio}")
    k2, p = kernel * kernel, budget
    af, rf = float(a), float(r)
    match d:
        case Design.DW_PW:
            return (-k2 + math.sqrt(k2 * k2 + 4 * af * p)) / (2 * af)
        case Design.GC_PWG:
            return (p / (2 * kernel * math.sqrt(af))) ** (2 / 3)
        case Design.PW_DW_PW:
            q = af + af * af
            return (-k2 * af + math.sqrt(k2 * k2 * af * af + 4 * rf * q * p)) / (2 * q)
        case Design.PWG_DW_PWG:
            def cost(width: float) -> float:
                return af * width / rf * (k2 + 2 * math.sqrt(rf * width))
            lo, hi = 0.0, 1.0
            while cost(hi) < p:
                hi *= 2
            for _ in range(200):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if cost(mid) <= p else (lo, mid)
            return lo


def greatest_width(design: Design | str, budget: int, *, alpha: Fraction | int = 1,
                   ratio: Fraction | int = BOTTLENECK_RATIO,
                   kernel: int = 3) -> WidthChoice | None:
    """The greatest integer width ``C`` whose design fits ``budget`` parameters (Section 3.3,
    "efficiency given the total amount of parameters"), with ``F = α·C`` and ``B = F/ratio``
    integers and, for grouped designs, the best integer group numbers (:func:`best_groups`).

    The real bound of :func:`greatest_width_bound` is an upper bound (the paper's inequalities
    hold for every valid ``M, N``), so the search goes down from it. ``None`` when not even
    ``C = 1`` fits.
    """
    d = Design.parse(design)
    bound = greatest_width_bound(d, budget, alpha=alpha, ratio=ratio, kernel=kernel)
    a, r = Fraction(alpha), Fraction(ratio)
    for width in range(math.floor(bound) + 1, 0, -1):
        f = a * width
        if f.denominator != 1:
            continue
        b = f / r if d.has_bottleneck else None
        if b is not None and (b.denominator != 1 or b < 1):
            continue
        f_int, b_int = int(f), (int(b) if b is not None else None)
        if d.grouped:
            choice = best_groups(d, width, f_int, bottleneck=b_int, kernel=kernel)
            groups, params = choice.groups, choice.params
        else:
            groups, params = None, design_params(d, width, f_int, bottleneck=b_int,
                                                  kernel=kernel)
        if params <= budget:
            return WidthChoice(d, budget, width, bound, f_int, b_int, groups, params)
    return None


@dataclass(frozen=True)
class EfficiencyRow:
    """One design of :func:`efficiency_table`: its best configuration for ``C → F`` and, when a
    budget is given, its greatest width for that budget."""

    design: Design
    layers: str
    groups: tuple[int, int] | None
    bottleneck: int | None
    params: int
    macs: int
    ratio: Fraction
    optimum: tuple[float, float] | None
    theorem1: bool | None
    field: InfoField
    width: WidthChoice | None


@dataclass(frozen=True)
class EfficiencyReport:
    """Section 3.3 for one layer ``C → F``: the standard convolution and the four designs."""

    in_channels: int
    out_channels: int
    bottleneck: int
    kernel: int
    out_hw: tuple[int, int]
    standard_params: int
    standard_macs: int
    standard_field: InfoField
    budget: int | None
    rows: tuple[EfficiencyRow, ...]


def efficiency_table(in_channels: int, out_channels: int, *, bottleneck: int | None = None,
                     budget: int | None = None, out_hw: tuple[int, int] = (1, 1),
                     kernel: int = 3) -> EfficiencyReport:
    """Params, MACs (at ``out_hw``), parameter ratio to the standard conv, best group numbers
    and the field of each of the four designs for ``C → F`` with ``B`` bottleneck channels
    (default ``F/4``); with ``budget``, the greatest width for that many parameters keeping
    ``α = F/C`` and ``F/B``.
    """
    c, f = in_channels, out_channels
    _positive(in_channels=c, out_channels=f, kernel=kernel)
    if budget is not None:
        _positive(budget=budget)
    if bottleneck is None:
        if f % BOTTLENECK_RATIO:
            raise InvalidArgument(f"bottleneck channels default to F/{BOTTLENECK_RATIO} but "
                                  f"F={f} is not a multiple of {BOTTLENECK_RATIO}; "
                                  f"pass bottleneck channels")
        bottleneck = f // BOTTLENECK_RATIO
    _positive(bottleneck=bottleneck)
    h, w = out_hw
    _positive(out_height=h, out_width=w)
    std = standard_params(c, f, kernel)
    rows = []
    for d in Design:
        b = bottleneck if d.has_bottleneck else None
        groups = optimum = theorem1 = None
        if d.grouped:
            choice = best_groups(d, c, f, bottleneck=b, kernel=kernel)
            groups, optimum, theorem1 = choice.groups, choice.optimum, choice.theorem1
        params = design_params(d, c, f, groups=groups, bottleneck=b, kernel=kernel)
        layers = design_layers(d, c, f, groups=groups, bottleneck=b, kernel=kernel)
        field = sequence_info_field(layers, c, f, kernel=kernel)
        width = (greatest_width(d, budget, alpha=Fraction(f, c), ratio=Fraction(f, bottleneck),
                                kernel=kernel) if budget is not None else None)
        rows.append(EfficiencyRow(d, _label(layers), groups, b, params, params * h * w,
                                  Fraction(params, std), optimum, theorem1, field, width))
    return EfficiencyReport(c, f, bottleneck, kernel, (h, w), std, std * h * w,
                            standard_info_field(c, kernel), budget, tuple(rows))
