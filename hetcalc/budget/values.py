"""The values a budget file holds: counts with SI suffixes, shares, milliseconds, shapes, choices.

Each parser takes a TOML value and returns the parsed one or raises :class:`Bad` saying what is
wrong with it; the caller adds where it was (file, entry, key). Nothing here imports torch, so a
budget file can be validated before any model code is loaded.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from hetcalc.errors import InvalidArgument
from hetcalc.numbers import MAX_NUMBER_CHARS, number_text, shown
from hetcalc.settings import MAX_BATCH_SIZE, MAX_RUN_TIME, MAX_THREADS, MIN_RUN_TIME
from hetcalc.shapes import MORE_INPUT_FORMS, TensorShape, size_note, sizes, tensor_shape
from hetcalc.variants import Variant, parse_variant


class Bad(Exception):
    """A value that does not fit its key; the message says why (the caller adds where)."""


_SUFFIX_POWER = {"": 0, "K": 3, "M": 6, "G": 9, "T": 12}  # SI: powers of 1000, not 1024
_DIGITS = r"[0-9]+(?:_[0-9]+)*"  # ASCII digits only (hetcalc.numbers), never \d
_NUMBER = re.compile(rf"(?P<mantissa>{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})"
                     rf"(?:[eE](?P<exp>[+-]?[0-9]+))?\s*(?P<suffix>[KMGTkmgt]?)")
NUMBER_FORMS = "an integer or a number with a K, M, G or T suffix, e.g. 2.9G, 850M, 17_000_000"

# The largest count a limit may be: far above any model (ViT-H/14 is 1.7e11 MACs), and small
# enough to stay an exact integer in every JSON reader that uses 64-bit integers.
MAX_COUNT = 10**18
# An exponent beyond this many digits is clamped before Decimal sees it (Decimal refuses
# exponents over 10**18, and int() refuses strings over 4300 digits); either way such a number
# is far outside [1, MAX_COUNT], which is all that matters here.
_MAX_EXPONENT_DIGITS = 6
# The largest share: a --tolerance of 10**9 (100 billion percent) already allows any growth.
_MAX_FRACTION = Decimal(10**9)


def describe(value: Any) -> str:
    """A TOML value as a message shows it: its TOML type and the value."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {shown(value)}"
    if isinstance(value, int):
        return f"the integer {shown(value)}"
    if isinstance(value, float):
        return f"the float {value!r}"
    if isinstance(value, list):
        text = json.dumps(value, default=str)
        return f"the array {text if len(text) <= 60 else text[:40] + '...'}"
    if isinstance(value, dict):
        return "a table"
    return f"the {type(value).__name__} {value}"


def _decimal(text: str) -> Decimal:
    """``"2.9G"`` -> 2.9E+9, ``"17_000_000"`` -> 17000000, exactly.

    The result may be of any size, or 0; :func:`parse_count` bounds it.
    """
    stripped = text.strip()
    if stripped.startswith("-") and _NUMBER.fullmatch(stripped[1:].strip()):
        raise Bad(f"must be positive, got {describe(text)}")
    match = _NUMBER.fullmatch(stripped)
    if match is None:
        raise Bad(f"bad number {text!r}; expected {NUMBER_FORMS}")
    exponent = match["exp"] or "0"
    sign, digits = ("-", exponent[1:]) if exponent.startswith("-") else ("", exponent.lstrip("+"))
    digits = digits.lstrip("0") or "0"
    if len(digits) > _MAX_EXPONENT_DIGITS:
        digits = "9" * _MAX_EXPONENT_DIGITS
    power = int(sign + digits) + _SUFFIX_POWER[match["suffix"].upper()]
    # Built from text, a Decimal is exact: no rounding and no overflow (arithmetic could have).
    return Decimal(f"{match['mantissa'].replace('_', '')}e{power}")


def parse_count(value: Any) -> int:
    """A count of MACs or parameters, 1 to :data:`MAX_COUNT`: ``"2.9G"``, ``"850M"``,
    ``17_000_000``, ``2.9e9``. A fraction is rounded to the nearest whole number (ties to even),
    and must not round to 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Bad(f"expected {NUMBER_FORMS}, got {describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise Bad(f"expected a finite number, got {describe(value)}")
    if isinstance(value, str):
        if number_text(value) is None:  # longer than any count needs, or not ASCII
            long = len(value.strip()) > MAX_NUMBER_CHARS
            raise Bad(f"bad number of {len(value)} characters; expected {NUMBER_FORMS}" if long
                      else f"bad number {value!r}; expected {NUMBER_FORMS} (ASCII digits 0-9)")
        number = _decimal(value)
    else:
        number = Decimal(value)  # exact for int and float alike
    if number <= 0:
        raise Bad(f"must be positive, got {describe(value)}")
    if number > MAX_COUNT:
        raise Bad(f"too large, got {describe(value)}; a count is at most 1e18")
    count = int(number.to_integral_value())
    if count == 0:
        raise Bad(f"rounds to 0, got {describe(value)}; a count is a whole number, at least 1")
    return count


def parse_fraction(value: Any, *, below_one: bool) -> float:
    """A share: ``"25%"``, ``0.25`` or ``"0.25"``; never negative, below 1 when ``below_one``."""
    forms = "a fraction such as 0.25 or a percentage such as '25%'"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Bad(f"expected {forms}, got {describe(value)}")
    text = number_text(str(value))
    if text is None:  # not ASCII ('٤٠%'), or longer than any share needs
        raise Bad(f"expected {forms} (ASCII digits 0-9), got {describe(value)}")
    percent = isinstance(value, str) and text.endswith("%")
    if percent:
        text = text[:-1].strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Bad(f"expected {forms}, got {describe(value)}") from None
    if not number.is_finite():
        raise Bad(f"expected a finite number, got {describe(value)}")
    if number > _MAX_FRACTION:  # compared before any arithmetic, which could overflow
        raise Bad(f"too large, got {describe(value)}")
    if percent:
        number = number.scaleb(-2)
    if number < 0 or (below_one and number >= 1):
        bound = "below 100% (a fraction under 1)" if below_one else "0 or more"
        raise Bad(f"must be {bound}, got {describe(value)}")
    return float(number) or 0.0  # "-0%" is 0


def parse_tolerance(text: str) -> float:
    """``--tolerance 1%`` (or ``0.01``): how much growth over the baseline is allowed."""
    try:
        return parse_fraction(text, below_one=False)
    except Bad as bad:
        raise InvalidArgument(f"tolerance: {bad}; e.g. 1% or 0.01",
                              argument="tolerance") from None


MIN_LATENCY_MS = 0.001
MAX_LATENCY_MS = 3_600_000.0
"""A latency limit (``max_latency_ms``): a microsecond to an hour. Below, a limit is no
figure a timer resolves (a subnormal 1e-320 would make its headroom infinite)."""


def parse_positive_number(value: Any, low: float = MIN_LATENCY_MS,
                          high: float = MAX_LATENCY_MS, unit: str = "ms") -> float:
    """Milliseconds or seconds, ``low`` to ``high``: ``50``, ``12.5``, ``"50"``, ``"50ms"`` (no
    SI suffixes; ASCII digits)."""
    forms = f"a number of {'milliseconds' if unit == 'ms' else 'seconds'}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Bad(f"expected {forms}, got {describe(value)}")
    try:
        if isinstance(value, str):
            text = number_text(value.strip().removesuffix("ms"))
            if text is None:  # not ASCII ('٥'), or longer than any duration needs
                raise Bad(f"expected {forms} (ASCII digits 0-9), got {describe(value)}")
            number = float(text)
        else:
            number = float(value)
    except (ValueError, OverflowError):
        raise Bad(f"expected {forms}, got {describe(value)}") from None
    if not 0 < number < math.inf:  # nan compares False
        raise Bad(f"must be a positive number, got {describe(value)}")
    if not low <= number <= high:
        raise Bad(f"must be from {low:g} to {high:.0f} {unit}, got {describe(value)}")
    return number


def parse_seconds(value: Any) -> float:
    """``min_run_time``: seconds of timing per model, as ``--time-budget`` takes them."""
    return parse_positive_number(value, MIN_RUN_TIME, MAX_RUN_TIME, "s")


def bounded_int(high: int) -> Callable[[Any], int]:
    """A parser of integers 1 to ``high`` (``batch_size``, ``threads``)."""
    def parse(value: Any) -> int:
        value = parse_positive_int(value)
        if value > high:
            raise Bad(f"too large: at most {high}, got {describe(value)}")
        return value
    return parse


parse_batch_size = bounded_int(MAX_BATCH_SIZE)
parse_threads = bounded_int(MAX_THREADS)


def parse_positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Bad(f"expected a positive integer, got {describe(value)}")
    return value


def parse_boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Bad(f"expected true or false, got {describe(value)}")
    return value


def parse_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Bad(f"expected a non-empty string, got {describe(value)}")
    return value.strip()


SHAPE_FORMS = ("positive integers N,C,L, N,C,H,W or N,C,D,H,W such as [1, 3, 224, 224] or "
               "\"1,3,224,224\" (a list of shapes for several inputs)")


def parse_input_shape(value: Any) -> tuple[int, ...] | tuple[TensorShape, ...]:
    """``[1, 3, 32, 32]``, ``"1,3,32,32"`` or ``"1x3x32x32"``, as ``--input-shape`` reads it
    (:func:`hetcalc.shapes.sizes`: ASCII digits, each size 1 to ``MAX_SIZE``): its sizes. A
    list of several (``[[1, 3, 32, 32], "1,1,32,32"]``, one per positional input tensor, as
    ``--input-shape`` repeated) or one with a dtype (``"1,16:int64"``): their
    :class:`~hetcalc.shapes.TensorShape`."""
    if isinstance(value, list) and value and all(isinstance(v, list | str) for v in value):
        shapes = []
        for index, item in enumerate(value):
            shape = tensor_shape(item, first=index == 0)
            if shape is None:
                forms = SHAPE_FORMS if index == 0 else MORE_INPUT_FORMS
                raise Bad(f"shape {index + 1} of {len(value)}: expected {forms}, got "
                          f"{describe(item)}{size_note(item)}")
            shapes.append(shape)
        return tuple(shapes)
    shape = sizes(value)
    if shape is None and isinstance(value, str) and ":" in value:
        typed = tensor_shape(value)
        if typed is not None:
            return (typed,)
    if shape is None:
        raise Bad(f"expected {SHAPE_FORMS}, got {describe(value)}{size_note(value)}")
    return shape


def parse_variant_spec(value: Any) -> Variant:
    if not isinstance(value, str):
        raise Bad(f"expected a variant string such as \"p4\", got {describe(value)}")
    try:
        return parse_variant(value)
    except InvalidArgument as error:
        raise Bad(str(error)) from None


def choice_parser(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value.strip() not in choices:
            raise Bad(f"expected one of {', '.join(choices)}, got {describe(value)}")
        return value.strip()
    return parse
