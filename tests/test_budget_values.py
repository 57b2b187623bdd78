"""The values of a budget file (counts, shares, shapes), the comparison of a value with its
limit, and the promise that validating a budget file loads no torch. No model is built here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hetcalc.budget import (
    MAX_COUNT,
    NUMBER_FORMS,
    Change,
    Check,
    Metric,
    parse_count,
    parse_fraction,
    parse_tolerance,
)
from hetcalc.budget.values import Bad, parse_input_shape
from hetcalc.errors import InvalidArgument

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("text", "expected"), [
    ("2.9G", 29 * 10**8),
    ("850M", 850 * 10**6),
    ("17_000_000", 17 * 10**6),
    (17_000_000, 17 * 10**6),
    ("1.5K", 1500),
    ("26m", 26 * 10**6),
    ("4.2 G", 42 * 10**8),
    ("2.9e9", 29 * 10**8),
    (2.9e9, 29 * 10**8),
    ("1T", 10**12),
    (".5M", 5 * 10**5),
    ("1e-3M", 1000),
    ("1.6", 2),  # a fraction is rounded to the nearest whole count
    ("1", 1),  # the smallest count
    ("1e18", MAX_COUNT),  # the largest
    (10**18, MAX_COUNT),
    ("1000000T", MAX_COUNT),
])
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("1e400", "too large, got the string '1e400'; a count is at most 1e18"),
    ("1e1000000", "too large, got the string '1e1000000'"),
    ("1e99999999999999999999999", "too large"),  # more exponent digits than int() or Decimal take
    ("1000000000000000001", "too large"),  # MAX_COUNT + 1
    (10**18 + 1, "too large, got the integer 1000000000000000001"),
    (1e300, "too large, got the float 1e+300"),
    ("1e-400", "rounds to 0, got the string '1e-400'; a count is a whole number, at least 1"),
    ("1e-99999999999999999999", "rounds to 0"),
    (0.4, "rounds to 0, got the float 0.4"),
    ("0.5", "rounds to 0"),  # ties to even
    (0, "must be positive, got the integer 0"),
    (-5, "must be positive, got the integer -5"),
    ("-5M", "must be positive, got the string '-5M'"),
    ("0M", "must be positive"),
    (float("inf"), "expected a finite number, got the float inf"),
    (float("nan"), "expected a finite number, got the float nan"),
    ("2.9X", f"bad number '2.9X'; expected {NUMBER_FORMS}"),
    ("1e", "bad number '1e'"),
    ("x" * 1000, "bad number of 1000 characters"),
    (True, f"expected {NUMBER_FORMS}, got the boolean true"),
    ([1], f"expected {NUMBER_FORMS}, got the array [1]"),
])
def test_parse_count_rejects(value, message):
    with pytest.raises(Bad, match="^" + re.escape(message)):
        parse_count(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("25%", 0.25), (0.25, 0.25), ("0.25", 0.25), (0, 0.0), ("66.5%", 0.665), ("-0%", 0.0),
    ("1e-400", 0.0),
])
def test_parse_fraction(value, expected):
    assert parse_fraction(value, below_one=True) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "below_one", "message"), [
    ("125%", True, "must be below 100% (a fraction under 1), got the string '125%'"),
    (1, True, "must be below 100% (a fraction under 1), got the integer 1"),
    ("-1%", False, "must be 0 or more, got the string '-1%'"),
    ("1e400", False, "too large, got the string '1e400'"),
    ("1e999999999999999999%", False, "too large"),  # checked before the % scaling
    ("nan", False, "expected a finite number, got the string 'nan'"),
    ("1x", False, "expected a fraction such as 0.25 or a percentage such as '25%', "
                  "got the string '1x'"),
])
def test_parse_fraction_rejects(value, below_one, message):
    with pytest.raises(Bad, match="^" + re.escape(message)):
        parse_fraction(value, below_one=below_one)


def test_parse_tolerance_names_the_argument():
    """The library names its argument; the CLI turns it into --tolerance (cli/errors.py)."""
    assert parse_tolerance("1%") == pytest.approx(0.01)
    with pytest.raises(InvalidArgument, match=r"^tolerance: too large, got the string "
                                              r"'1e400'; e\.g\. 1% or 0\.01$") as raised:
        parse_tolerance("1e400")
    assert raised.value.argument == "tolerance"


@pytest.mark.parametrize(("value", "expected"), [
    ([1, 3, 32, 32], (1, 3, 32, 32)), ("1,3,32,32", (1, 3, 32, 32)),
    ("1x3x224x224", (1, 3, 224, 224)), (" 2, 3, 8, 8 ", (2, 3, 8, 8)),
    ("1,1,16000", (1, 1, 16000)), ([1, 3, 16, 112, 112], (1, 3, 16, 112, 112)),
])
def test_parse_input_shape(value, expected):
    assert parse_input_shape(value) == expected


@pytest.mark.parametrize("value", ["1,3", "1,3,0,32", "1,3,²,3", "9" * 5000 + ",1,1,1",
                                   [1, 3], [1, 3, True, 32], 32, [1, 1, 1, 1, 1, 1]])
def test_parse_input_shape_rejects(value):
    with pytest.raises(Bad, match="^expected positive integers N,C,L, N,C,H,W or N,C,D,H,W"):
        parse_input_shape(value)


# ------------------------------------------------------------------ a value against its limit

NEXT_BELOW_0_6 = 0.6 - 2**-53  # the float just below 0.6 (0.6 is in [0.5, 1): spacing 2**-53)


@pytest.mark.parametrize(("check", "headroom", "passed"), [
    (Check(Metric.FLOPS, 90, 100), (100 - 90) / 100, True),
    (Check(Metric.PARAMS, 120, 100), (100 - 120) / 100, False),
    (Check(Metric.REDUCTION, 0.66, 0.60), (0.66 - 0.60) / 0.60, True),
    (Check(Metric.REDUCTION, 0.50, 0.60), (0.50 - 0.60) / 0.60, False),
    (Check(Metric.LATENCY, 12.5, 10.0), (10.0 - 12.5) / 10.0, False),
    (Check(Metric.REDUCTION, 0.1, 0), None, True),
    # On the limit passes, one unit past it fails: for each bound and kind of value.
    (Check(Metric.FLOPS, 100, 100), 0.0, True),
    (Check(Metric.FLOPS, 101, 100), -1 / 100, False),
    (Check(Metric.PARAMS, 5_181_898, 5_181_898), 0.0, True),
    (Check(Metric.PARAMS, 5_181_898, 5_181_897), -1 / 5_181_897, False),
    (Check(Metric.LATENCY, 10.0, 10.0), 0.0, True),
    (Check(Metric.REDUCTION, 0.6, 0.6), 0.0, True),
    (Check(Metric.REDUCTION, NEXT_BELOW_0_6, 0.6), (NEXT_BELOW_0_6 - 0.6) / 0.6, False),
])
def test_check_headroom_and_verdict(check, headroom, passed):
    assert check.headroom == (None if headroom is None else pytest.approx(headroom))
    assert check.passed is passed


def test_next_below_is_the_next_float_below():
    assert NEXT_BELOW_0_6 < 0.6 and (NEXT_BELOW_0_6 + 0.6) / 2 in (NEXT_BELOW_0_6, 0.6)


@pytest.mark.parametrize(("before", "after", "tolerance", "change", "passed"), [
    (100, 100, 0.0, 0.0, True),
    (100, 101, 0.0, 1 / 100, False),  # any growth fails at tolerance 0
    (100, 101, 0.01, 1 / 100, True),  # growth exactly at the tolerance passes
    (100, 102, 0.01, 2 / 100, False),
    (100, 50, 0.0, -50 / 100, True),  # shrinking always passes
    (0, 0, 0.0, 0.0, True),
    (0, 1, 0.5, float("inf"), False),
])
def test_change_is_relative_growth(before, after, tolerance, change, passed):
    result = Change(Metric.FLOPS, before, after, tolerance)
    assert (result.change, result.passed) == (change, passed)


# ------------------------------------------------------------------ validating needs no torch

def test_validating_a_budget_file_imports_no_torch(tmp_path):
    """The CLI will validate a budget file before it loads torch (seconds): the parsing and
    validating modules, and the package itself, must not import it."""
    (tmp_path / "nets.py").write_text("import torch\ndef build(): ...\n")
    (tmp_path / "budgets.toml").write_text(
        '[[model]]\nmodel = "vgg16_cifar"\nmax_flops = "1G"\n'
        '[[model]]\nmodel = "nets.py:build"\nmax_params = 10\nmax_latency_ms = 5\n')
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "import hetcalc.budget.values, hetcalc.budget.schema\n"
        "assert 'torch' not in sys.modules, 'importing the schema imported torch'\n"
        "import hetcalc.budget\n"
        "assert 'torch' not in sys.modules, 'importing hetcalc.budget imported torch'\n"
        f"budget = hetcalc.budget.load_budget_file(Path({str(tmp_path / 'budgets.toml')!r}))\n"
        "assert len(budget.entries) == 2\n"
        "assert 'torch' not in sys.modules, 'validating a budget file imported torch'\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
