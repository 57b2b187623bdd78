"""Argument checks and integer helpers shared by the modules of :mod:`hetcalc.infofield`."""

from __future__ import annotations

import math

from hetcalc.errors import require_positive as _positive

__all__ = ["_positive", "_divisors"]


def _divisors(n: int) -> list[int]:
    """The divisors of ``n``, ascending."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))
