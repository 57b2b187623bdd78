"""The paper's Fig. 5: theoretical speedup over the standard conv against the part P.

For each P: HetConv (Eqs. 5 and 9), GWC+PWC with G = P (Eqs. 11 and 9, exact when M = N) and,
for reference, DWC+PWC for a layer of N output channels (Eqs. 7 and 9), which does not depend on P.
Pure arithmetic; :mod:`hetcalc.plot` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hetcalc import formulas
from hetcalc.errors import InvalidArgument


@dataclass(frozen=True)
class CurvePoint:
    part: int
    hetconv: float
    gwc_pwc: float
    dwc_pwc: float


def default_parts(max_part: int) -> list[int]:
    """1, 2, 4, ... up to ``max_part`` (and ``max_part`` itself)."""
    parts, p = [], 1
    while p < max_part:
        parts.append(p)
        p *= 2
    return [*parts, max_part]


def speedup_curve(kernel: tuple[int, int] = (3, 3), parts: list[int] | None = None,
                  channels: int = 256) -> list[CurvePoint]:
    """Theoretical speedups for each part P (default 1, 2, 4, ..., 64)."""
    if kernel[0] < 1 or kernel[1] < 1:
        raise InvalidArgument(f"--kernel must be positive, got {kernel[0]}x{kernel[1]}")
    if channels < 1:
        raise InvalidArgument(f"--channels must be a positive integer, got {channels}")
    chosen = parts or default_parts(64)
    if any(p < 1 for p in chosen):
        raise InvalidArgument(f"parts must be positive integers, got {chosen}")
    dwc = float(formulas.speedup(formulas.reduction_dwc_pwc(channels, kernel)))
    return [CurvePoint(p, float(formulas.speedup(formulas.reduction_hetconv(p, kernel))),
                       float(formulas.speedup(formulas.reduction_gwc_pwc(p, kernel))), dwc)
            for p in chosen]
