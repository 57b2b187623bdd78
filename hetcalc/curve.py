"""The paper's Fig. 5: theoretical speedup over the standard conv against the part P.

One series per kind that has one in the table of kinds (:attr:`hetcalc.variants.KindSpec.curve`),
in the table's order: HetConv (Eqs. 5 and 9), GWC+PWC with G = P (Eqs. 11 and 9, exact when
M = N) and, for reference, DWC+PWC for a layer of N output channels (Eqs. 7 and 9), which does
not depend on P. A new kind with a curve appears here, in ``hetcalc curve``'s table, JSON and
CSV, and in the plot. Pure arithmetic, no torch; :mod:`hetcalc.plot` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hetcalc.errors import InvalidArgument
from hetcalc.variants import KINDS, CurveSeries, KindSpec

__all__ = ["CurvePoint", "curve_kinds", "curve_series", "default_parts", "depth_note",
           "speedup_curve"]


@dataclass(frozen=True)
class CurvePoint:
    """The speedups at one part P, by series key (``point.hetconv`` reads ``speedups["hetconv"]``)."""

    part: int
    speedups: dict[str, float]

    def __getattr__(self, name: str) -> float:
        if name == "speedups":  # not yet set (copy, unpickling): no recursion
            raise AttributeError(name)
        try:
            return self.speedups[name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no series {name!r}") from None

    def row(self) -> dict[str, int | float]:
        """``{"part": P, <series key>: speedup, ...}``: a JSON point, a CSV row."""
        return {"part": self.part, **self.speedups}


def curve_kinds() -> list[KindSpec]:
    """The kinds with a series, in the table's order."""
    return [spec for spec in KINDS.values() if spec.curve is not None]


def curve_series() -> list[CurveSeries]:
    """Every series of the curve, in the table's order."""
    return [spec.curve for spec in curve_kinds() if spec.curve is not None]


def depth_note() -> str:
    """What each series adds to the critical path, e.g. ``HetConv has sequential depth 0;
    GWC+PWC and DWC+PWC add one layer (depth 1).``"""
    by_depth: dict[int, list[str]] = {}
    for spec in curve_kinds():
        assert spec.curve is not None
        by_depth.setdefault(spec.sequential_depth, []).append(spec.curve.name)
    clauses = []
    for depth, names in sorted(by_depth.items()):
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        if depth == 0:
            clauses.append(f"{who} {'has' if len(names) == 1 else 'have'} sequential depth 0")
        else:
            layers = "one layer" if depth == 1 else f"{depth} layers"
            clauses.append(f"{who} add{'s' if len(names) == 1 else ''} {layers} (depth {depth})")
    return "; ".join(clauses) + "."


def default_parts(max_part: int) -> list[int]:
    """1, 2, 4, ... up to ``max_part`` (and ``max_part`` itself)."""
    parts, p = [], 1
    while p < max_part:
        parts.append(p)
        p *= 2
    return [*parts, max_part]


def speedup_curve(kernel: tuple[int, int] = (3, 3), parts: list[int] | None = None,
                  channels: int = 256) -> list[CurvePoint]:
    """Theoretical speedups of every series for each part P (default 1, 2, 4, ..., 64)."""
    if kernel[0] < 1 or kernel[1] < 1:
        raise InvalidArgument(f"kernel must be positive, got {kernel[0]}x{kernel[1]}",
                              argument="kernel")
    if channels < 1:
        raise InvalidArgument(f"channels must be a positive integer, got {channels}",
                              argument="channels")
    chosen = parts or default_parts(64)
    if any(p < 1 for p in chosen):
        raise InvalidArgument(f"parts must be positive integers, got {chosen}", argument="parts")
    series = curve_series()
    return [CurvePoint(p, {s.key: s.speedup(p, kernel, channels) for s in series})
            for p in chosen]
