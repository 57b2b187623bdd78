"""Argument checks and integer helpers shared by the modules of :mod:`hetcalc.infofield`."""

from __future__ import annotations

import math

from hetcalc.errors import InvalidArgument


def _positive(**values: int) -> None:
    """Raise :class:`InvalidArgument` naming the first value that is not a positive integer."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgument(f"{name} must be a positive integer, got {value!r}")


def _divisors(n: int) -> list[int]:
    """The divisors of ``n``, ascending."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))
