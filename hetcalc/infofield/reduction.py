"""The design-space reduction of Section 3.1: enumerate every sequence of sparse kernels, then
remove designs in three stages (composition, performance, efficiency) until the paper's four
remain.

A design is written here one letter per kernel (:attr:`KernelKind.code`: ``G`` GC, ``D`` DW,
``P`` PW, ``Q`` PWG), the form the paper's regular expression is applied to; reports name designs
the paper's way (``DW+PW``). :func:`reduce_design_space` is the composition of
:func:`enumerate_designs`, :func:`composition_stage`, :func:`performance_stage` and
:func:`efficiency_stage`; :class:`DesignFields` computes and remembers the fields the last two
need.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hetcalc.errors import InvalidArgument
from hetcalc.infofield._common import _divisors, _positive
from hetcalc.infofield.field import _apply, _field_of, _initial_state, _State
from hetcalc.infofield.kernels import KERNELS, SPARSE_KERNELS, KernelKind, Layer, parse_kernels

MAX_DESIGN_LENGTH = 8
"""Upper bound of ``max_length`` for :func:`reduce_design_space` (4^8 = 65536 designs)."""

REPEAT_PATTERN = re.compile(r"(.+?)\1+")
"""Section 3.1, composition: the paper's regular expression for designs with repeated patterns,
applied with ``search`` to a design written one character per kernel."""


def _code(kind: KernelKind) -> str:
    assert kind.code is not None, f"{kind} is not a kernel of the design space"
    return kind.code


_GC, _DW, _PW = _code(KernelKind.GC), _code(KernelKind.DW), _code(KernelKind.PW)
_PAPER_ORDER = "".join(_code(kind) for kind in SPARSE_KERNELS)


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
    return "+".join(KernelKind.from_code(c).paper_name for c in code)


def _paper_rank(code: str) -> list[int]:
    """Sort key of a code in the paper's kernel order gc, dw, pw, pwg."""
    return [_PAPER_ORDER.index(c) for c in code]


def _fmt(size: tuple[int, int, int]) -> str:
    return "(" + ", ".join(str(v) for v in size) + ")"


class DesignFields:
    """The field computations of the reduction for ``channels`` channels and ``kernel``×``kernel``
    spatial kernels, memoized per design code. ``bottleneck`` is the bottleneck allowance of
    :func:`reduce_design_space`."""

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
            kind = KernelKind.from_code(c)
            g = next(it) if kind.grouped else 1
            layers.append(Layer(kind.token, g, self.channels))
            if kind.grouped:
                layers.append(Layer(KernelKind.SHUFFLE.token, g, self.channels))
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
            kind = KernelKind.from_code(c)
            choices = self.group_choices if kind.grouped else [1]
            nxt: dict = {}
            for (_, history), (state, group_lists) in frontier.items():
                for g in choices:
                    new = state
                    for layer in self._layers(c, [g]):
                        new = _apply(new, layer, self.kernel, "enumeration")
                    field = _field_of(new).size
                    key = (self._key(new), history + (field,))
                    extra = [gs + (g,) for gs in group_lists] if kind.grouped else group_lists
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
        return self.bottleneck and len(code) >= 3 and code[0] == _PW and code[-1] == _PW

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
            kernel = KernelKind.from_code(code[index]).paper_name
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


def enumerate_designs(kernels: Sequence[str], max_length: int) -> tuple[str, ...]:
    """Every sequence of 1 to ``max_length`` of ``kernels`` (tokens), one letter per kernel:
    ``Σ_{L=1..max_length} k^L`` codes for ``k`` kernels, shorter first, each length in the
    order of ``kernels``."""
    alphabet = [_code(KernelKind(k)) for k in kernels]
    return tuple("".join(t) for length in range(1, max_length + 1)
                 for t in itertools.product(alphabet, repeat=length))


def composition_stage(codes: Sequence[str]) -> tuple[Stage, tuple[str, ...]]:
    """Stage 1, composition: remove designs with a repeated pattern (rule ``repeat``, the paper's
    :data:`REPEAT_PATTERN` found anywhere), then every rotation of a kept design but the first in
    the paper's kernel order (rule ``rotation``: repeated block after block, a design and its
    rotations form the same pattern). Returns the stage and the kept codes."""
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
        first = min((r for r in rotations if r in square_free_set), key=_paper_rank, default=None)
        if first is not None and _paper_rank(first) < _paper_rank(code):
            removed.append(Removal(_design_name(code), "rotation",
                                   f"rotation of {_design_name(first)}: repeated block after "
                                   f"block they form the same pattern"))
        else:
            kept.append(code)
    stage = Stage("composition", len(codes), tuple(removed), tuple(_design_name(c) for c in kept))
    return stage, tuple(kept)


def performance_stage(codes: Sequence[str],
                      fields: DesignFields) -> tuple[Stage, tuple[str, ...]]:
    """Stage 2, performance: remove designs whose field stays smaller than the standard
    convolution's for every choice of group numbers (rule ``field``; the reason names the
    closest field reached). Returns the stage and the kept codes."""
    removed: list[Removal] = []
    kept: list[str] = []
    kernel = fields.kernel
    for code in codes:
        if fields.reaching(code):
            kept.append(code)
        else:
            best = max((h[-1] for h in fields.outcomes(code)),
                       key=lambda f: (f[2], -abs(f[0] - kernel), -abs(f[1] - kernel)))
            removed.append(Removal(_design_name(code), "field",
                                   f"no group numbers reach the standard field "
                                   f"{_fmt(fields.standard)}; closest {_fmt(best)}"))
    stage = Stage("performance", len(codes), tuple(removed), tuple(_design_name(c) for c in kept))
    return stage, tuple(kept)


def efficiency_stage(codes: Sequence[str], fields: DesignFields, *,
                     merge_gc_into_dw: bool) -> tuple[Stage, tuple[Survivor, ...]]:
    """Stage 3, efficiency: remove designs that break an early-stop rule (``rule1``, ``rule2``)
    and, with ``merge_gc_into_dw`` (DW is one of the kernels), a design with a GC whose
    replacement by DW also passes (``same-design``). Returns the stage and the survivors in the
    paper's order (Figure 1, Section 3.2): shorter first, dense before grouped."""
    removed: list[Removal] = []
    survivors: list[Survivor] = []
    for code in codes:
        ok, rule, reason, groups, history = fields.efficiency(code)
        if not ok:
            removed.append(Removal(_design_name(code), rule, reason))
            continue
        if _GC in code and merge_gc_into_dw:
            target = code.replace(_GC, _DW)
            if not REPEAT_PATTERN.search(target) and fields.efficiency(target)[0]:
                removed.append(Removal(
                    _design_name(code), "same-design",
                    f"same design as {_design_name(target)}: DW is GC with G = channels, "
                    f"the most parameter-efficient group number"))
                continue
        survivors.append(Survivor(_design_name(code),
                                  tuple(KernelKind.from_code(c).token for c in code), groups,
                                  history))
    survivors.sort(key=lambda s: (len(s.kernels), sum(KernelKind(k).grouped for k in s.kernels),
                                  [KERNELS.index(k) for k in s.kernels]))
    stage = Stage("efficiency", len(codes), tuple(removed), tuple(s.design for s in survivors))
    return stage, tuple(survivors)


def _check_arguments(max_length: int, kernels: str | Iterable[str], channels: int,
                     kernel: int) -> tuple[str, ...]:
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not (
            1 <= max_length <= MAX_DESIGN_LENGTH):
        raise InvalidArgument(f"max_length must be an integer from 1 to {MAX_DESIGN_LENGTH}, "
                              f"got {max_length!r}")
    names = parse_kernels(kernels)
    _positive(kernel=kernel, channels=channels)
    if channels < 4:
        raise InvalidArgument(f"channels must be at least 4 so that group numbers 1 < G < C "
                              f"exist, got {channels}")
    return names


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
    names = _check_arguments(max_length, kernels, channels, kernel)
    fields = DesignFields(channels, kernel, bottleneck)
    codes = enumerate_designs(names, max_length)
    composition, composed = composition_stage(codes)
    performance, performing = performance_stage(composed, fields)
    efficiency, survivors = efficiency_stage(performing, fields,
                                             merge_gc_into_dw=KernelKind.DW.token in names)
    return DesignSpaceReport(max_length, names, bottleneck, channels, kernel, len(codes),
                             (composition, performance, efficiency), survivors)
