"""The one rule for a number written as text, wherever hetcalc reads one (options, budget
files, plan files, variant specs, shapes): :func:`number_text`.

A number is ASCII: its digits are ``0`` to ``9`` only. Python's own parsers also read other
scripts' digits (``int("٤")`` is 4, ``float("४")`` 4.0, ``Decimal("２")`` 2) and ``str.isdigit``
takes ``"²"``; hetcalc reads none of them, so ``٤G`` in a budget is refused like ``--P ٤``.
A number is also short (:data:`MAX_NUMBER_CHARS`): thousands of digits are refused in one line
before any conversion, instead of reaching ``int()``'s 4300-digit limit.

:func:`parse_int` and :func:`parse_float` read bounded integers and decimals on that rule; their
:class:`ValueError` says what is valid (the caller names the option or key).
"""

from __future__ import annotations

import math
import re

__all__ = ["MAX_NUMBER_CHARS", "number_text", "shown", "parse_int", "parse_float"]

MAX_NUMBER_CHARS = 100
"""The longest number text read: no count, size or duration hetcalc takes needs more."""

_INTEGER = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def shown(text: object) -> str:
    """A value as a message quotes it: its repr, cut short when long."""
    quoted = repr(text)
    if len(quoted) <= 60:
        return quoted
    return f"{quoted[:40]}... ({len(str(text))} characters)"


def number_text(text: str) -> str | None:
    """``text`` stripped, when it can be a number: ASCII only and at most
    :data:`MAX_NUMBER_CHARS` characters; ``None`` otherwise. Every number parser of hetcalc
    reads its text through this."""
    stripped = text.strip()
    if not stripped.isascii() or len(stripped) > MAX_NUMBER_CHARS:
        return None
    return stripped


def _plain(number: float) -> str:
    """``65536`` -> ``"65536"`` (never ``6.5536e+04``), ``0.001`` -> ``"0.001"``."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _range(low: float, high: float | None) -> str:
    return (f"from {_plain(low)} to {_plain(high)}" if high is not None
            else f"of at least {_plain(low)}")


def parse_int(value: str | int, low: int = 1, high: int | None = None) -> int:
    """An integer ``low`` to ``high`` written in ASCII decimal digits (``"4"``, ``" 16 "``), or
    an ``int`` (not a ``bool``); :class:`ValueError` saying the range otherwise."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    else:
        text = number_text(str(value))
        number = int(text) if text is not None and _INTEGER.fullmatch(text) else None
    if number is None or number < low or (high is not None and number > high):
        raise ValueError(f"must be an integer {_range(low, high)}, got {shown(value)}")
    return number


def parse_float(value: str | float, low: float, high: float | None = None) -> float:
    """A finite decimal number ``low`` to ``high`` (``"0.5"``, ``"2e-3"``; no ``inf``, ``nan``,
    underscores or other scripts' digits), or an ``int``/``float``; :class:`ValueError` saying
    the range otherwise."""
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):  # compared exactly: float() of a huge int overflows
        outside = value < low or value > (high if high is not None else 10**300)
        number = None if outside else float(value)
    elif isinstance(value, float):
        number = value
    else:
        text = number_text(str(value))
        number = float(text) if text is not None and _DECIMAL.fullmatch(text) else None
    if (number is None or not math.isfinite(number) or number < low
            or (high is not None and number > high)):
        raise ValueError(f"must be a number {_range(low, high)}, got {shown(value)}")
    return number
