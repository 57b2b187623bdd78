"""The information field (Definition 1, Section 3.1) of a kernel sequence.

:func:`sequence_info_field` computes a sequence's field exactly, by following which input
channels, and through which spatial extent, every output channel depends on. The field of one
layer under a hetcalc variant is declared with the variant kinds:
:func:`hetcalc.variants.info_field`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from hetcalc.errors import InvalidArgument
from hetcalc.infofield._common import _positive
from hetcalc.infofield.kernels import _VALID_LAYERS, KernelKind, Layer, _label, parse_design
from hetcalc.shapes import ConvShape


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
    mixing = [i for i, layer in enumerate(seq) if layer.kernel_kind.mixes_channels]
    last = mixing[-1] if mixing else None
    reduce_at = (0 if bottleneck is not None and seq[0].kernel_kind.pointwise
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


# A tensor's dependency state: one entry per channel, a dict mapping a spatial extent (h, w) to
# the bitmask of input channels reached through some path with that extent. Outputs of one group
# share the same dict object (they depend on the same inputs).
_State = list[dict[tuple[int, int], int]]


def _initial_state(channels: int) -> _State:
    return [{(1, 1): 1 << c} for c in range(channels)]


def _apply(state: _State, layer: Layer, kernel: int, where: str) -> _State:
    cin = len(state)
    cout = layer.out_channels if layer.out_channels is not None else cin
    kind = layer.kernel_kind
    if kind is KernelKind.SHUFFLE:
        g = layer.groups
        if cin % g:
            raise InvalidArgument(f"{where}: shuffle({g}) needs G to divide the {cin} channels")
        per = cin // g
        return [state[a * per + b] for b in range(per) for a in range(g)]
    if kind is KernelKind.DW:
        g = cin
        if cout != cin:
            raise InvalidArgument(f"{where}: dw keeps the channel count ({cin}), "
                                  f"got out_channels={cout}")
    elif kind in (KernelKind.PW, KernelKind.CONV) and layer.groups == 1:
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
        grouped = layer.groups > 1 and layer.kernel_kind in (KernelKind.GC, KernelKind.PWG,
                                                             KernelKind.CONV)
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if grouped and nxt is not None and nxt.kernel_kind is not KernelKind.SHUFFLE:
            result.append(Layer(KernelKind.SHUFFLE.token, layer.groups, layer.out_channels))
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
        if layer.kernel_kind is not KernelKind.SHUFFLE:
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
