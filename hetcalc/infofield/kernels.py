"""The kernels designs are made of, and how designs are written (Sections 2 and 3.2).

:class:`KernelKind` is the one place a kernel kind is named: its token in the design grammar
(``gc``), its name in the paper (``GC``), the one-letter code the design-space reduction writes
designs with (``G``) and its other accepted spellings. :class:`Layer` is one kernel of a
sequence; :func:`parse_design` reads ``'pwg(4)+dw+pwg(4)'`` into layers.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hetcalc.errors import InvalidArgument
from hetcalc.infofield._common import _positive


class KernelKind(enum.Enum):
    """A kind of kernel. The value is the grammar token; every member also carries ``paper_name``
    (Figure 1, Section 3.2), ``code`` (one letter per kernel in the reduction's enumeration,
    ``None`` for the kinds it does not enumerate) and ``aliases`` (other accepted spellings).

    The four kinds with a code are the sparse kernels of the design space (Section 1), declared
    in the paper's order gc, dw, pw, pwg.
    """

    token: str
    paper_name: str
    code: str | None
    aliases: tuple[str, ...]

    CONV = ("conv", "Conv", None, ("standard", "std"))
    GC = ("gc", "GC", "G", ("gconv", "gwc"))
    DW = ("dw", "DW", "D", ("dwc", "depthwise"))
    PW = ("pw", "PW", "P", ("pwc", "pointwise"))
    PWG = ("pwg", "PWG", "Q", ("pwgconv", "pwgc"))
    SHUFFLE = ("shuffle", "Shuffle", None, ("perm",))

    def __new__(cls, token: str, paper_name: str, code: str | None,
                aliases: tuple[str, ...]) -> KernelKind:
        member = object.__new__(cls)
        member._value_ = token
        member.token = token
        member.paper_name = paper_name
        member.code = code
        member.aliases = aliases
        return member

    @property
    def spatial(self) -> bool:
        """Has a K×K kernel: standard conv (2.1), GC (2.2), DW (2.3)."""
        return self in (KernelKind.CONV, KernelKind.GC, KernelKind.DW)

    @property
    def grouped(self) -> bool:
        """A group convolution written with its group number: GC(G) (2.2), PWG(G) (2.5)."""
        return self in (KernelKind.GC, KernelKind.PWG)

    @property
    def pointwise(self) -> bool:
        """A 1×1 convolution: PW (2.4), PWG (2.5)."""
        return self in (KernelKind.PW, KernelKind.PWG)

    @property
    def mixes_channels(self) -> bool:
        """Can change the channel count; DW and the shuffle keep it."""
        return self not in (KernelKind.DW, KernelKind.SHUFFLE)

    @classmethod
    def parse(cls, name: str) -> KernelKind | None:
        """The kind spelt ``name`` (token, paper name or alias, any case); None if none is."""
        return _BY_NAME.get(name.strip().lower())

    @classmethod
    def from_code(cls, code: str) -> KernelKind:
        """The kind whose reduction code is ``code`` (``'G'`` → GC)."""
        return _BY_CODE[code]


_BY_NAME = {name: kind for kind in KernelKind
            for name in (kind.token, kind.paper_name.lower(), *kind.aliases)}
_BY_CODE = {kind.code: kind for kind in KernelKind if kind.code is not None}

SPARSE_KERNELS: tuple[KernelKind, ...] = tuple(k for k in KernelKind if k.code is not None)
"""The four sparse kernels of the design space (Section 1), in the paper's order."""

KERNELS: tuple[str, ...] = tuple(k.token for k in SPARSE_KERNELS)
"""The tokens of the four sparse kernels, in the paper's order: ``('gc', 'dw', 'pw', 'pwg')``."""

PAPER_NAMES = {k.token: k.paper_name for k in KernelKind}
"""How each kernel is written in designs (Figure 1, Section 3.2): ``PWG+DW+PWG``."""

_VALID_KERNELS = ", ".join(KERNELS)
_VALID_LAYERS = "conv, gc(G), dw, pw, pwg(G), shuffle(G) joined by '+', e.g. 'pwg(4)+dw+pwg(4)'"


@dataclass(frozen=True)
class Layer:
    """One kernel of a sequence.

    ``kind`` is the token of a :class:`KernelKind`: ``conv`` (standard K×K), ``gc`` (group conv
    K×K, Section 2.2), ``dw`` (depthwise, 2.3), ``pw`` (pointwise 1×1, 2.4), ``pwg`` (pointwise
    group conv, 2.5) or ``shuffle`` (the channel permutation of ShuffleNet with ``groups``
    groups: reshape ``(G, C/G)``, transpose, flatten). ``out_channels`` is filled in by
    :func:`~hetcalc.infofield.field.plan_channels`; ``kernel`` (spatial size of
    ``conv``/``gc``/``dw``) defaults to the sequence's kernel.
    """

    kind: str
    groups: int = 1
    out_channels: int | None = None
    kernel: int | None = None

    @property
    def kernel_kind(self) -> KernelKind:
        return KernelKind(self.kind)

    @property
    def spatial(self) -> bool:
        return self.kernel_kind.spatial

    @property
    def label(self) -> str:
        """Paper notation: ``GC(4)``, ``DW``, ``PWG(8)``."""
        kind = self.kernel_kind
        if kind.grouped or kind is KernelKind.SHUFFLE or (kind is KernelKind.CONV
                                                          and self.groups > 1):
            return f"{kind.paper_name}({self.groups})"
        return kind.paper_name


def _label(layers: Sequence[Layer]) -> str:
    return "+".join(layer.label for layer in layers)


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
        kind = KernelKind.parse(match[1]) if match else None
        if match is None or kind is None:
            raise InvalidArgument(f"unknown kernel {token.strip()!r} in design {text!r}; "
                                  f"valid: {_VALID_LAYERS}")
        groups = int(match[2]) if match[2] is not None else None
        if kind.grouped or kind is KernelKind.SHUFFLE:
            if groups is None:
                raise InvalidArgument(f"{token.strip()!r} in design {text!r} needs a group "
                                      f"number, e.g. {kind.token}(4)")
            _positive(**{f"groups of {token.strip()}": groups})
            if kind is KernelKind.GC and groups == 1:
                kind = KernelKind.CONV
        elif groups is not None:
            raise InvalidArgument(f"{token.strip()!r} in design {text!r} takes no group number; "
                                  f"valid: {_VALID_LAYERS}")
        layers.append(Layer(kind.token, groups or 1))
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
