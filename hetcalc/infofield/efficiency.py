"""The efficiency analysis of Section 3.3: parameters and MACs of the four designs, the group
numbers that minimise them (Theorem 1), the greatest width for a parameter budget, and the table
that puts them side by side with the standard convolution.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from fractions import Fraction

from hetcalc.errors import InvalidArgument
from hetcalc.infofield._common import _divisors, _positive
from hetcalc.infofield.field import InfoField, sequence_info_field, standard_info_field
from hetcalc.infofield.kernels import KernelKind, Layer, _label


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
    dw, pw, pwg = KernelKind.DW.token, KernelKind.PW.token, KernelKind.PWG.token
    match d:
        case Design.DW_PW:
            return (Layer(dw, 1, c, kernel), Layer(pw, 1, f))
        case Design.GC_PWG:
            gc = (KernelKind.GC if m > 1 else KernelKind.CONV).token
            return (Layer(gc, m, c, kernel), Layer(pwg, n, f))
        case Design.PW_DW_PW:
            return (Layer(pw, 1, b), Layer(dw, 1, b, kernel), Layer(pw, 1, f))
        case Design.PWG_DW_PWG:
            return (Layer(pwg, m, b), Layer(dw, 1, b, kernel), Layer(pwg, n, f))


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
