"""Golden files: the JSON that ``analyze``, ``compare --no-latency`` and ``check`` print for a
fixed set of models and variants, saved before the code was restructured.

Every key and value in a golden file must appear, unchanged, in today's output: the machine
formats are stable (new keys may be added, existing ones keep their meaning). Regenerate with
``pytest tests/test_golden.py --regen-golden`` only for a change of behaviour that is intended,
and say why in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).parent.parent / "examples"

CASES = {
    "analyze-vgg16_cifar-p4": ["analyze", "vgg16_cifar", "--P", "4"],
    "analyze-vgg16_cifar-p2-fast": ["analyze", "vgg16_cifar", "--P", "2", "--impl", "fast"],
    "analyze-vgg16_cifar-gwc4": ["analyze", "vgg16_cifar", "--variant", "gwc4"],
    "analyze-vgg16_cifar-dwc": ["analyze", "vgg16_cifar", "--variant", "dwc"],
    "analyze-vgg16_cifar-pc-se": ["analyze", "vgg16_cifar", "--variant", "pc-se"],
    "analyze-resnet56_cifar-p4-fold": ["analyze", "resnet56_cifar", "--P", "4", "--fold-bn"],
    "analyze-resnet18-p4": ["analyze", "resnet18", "--P", "4"],
    "analyze-mobilenet_cifar-p32-merge": ["analyze", "mobilenet_cifar", "--P", "32",
                                          "--merge-dw-pw"],
    "compare-vgg16_cifar": ["compare", "vgg16_cifar", "--no-latency"],
    "compare-resnet56_cifar": ["compare", "resnet56_cifar", "--variants", "p2,gwc4,dwc-se",
                               "--no-latency"],
    "check-examples": ["check", str(EXAMPLES / "budgets.toml")],
}


def _subset_mismatch(expected, actual, path: str = "$") -> str | None:
    """Where ``expected`` is not contained in ``actual`` (dicts may gain keys), or ``None``."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if key not in actual:
                return f"{path}.{key}: missing"
            found = _subset_mismatch(value, actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{path}: expected a list of {len(expected)}, got {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = _subset_mismatch(e, a, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if expected == actual else f"{path}: expected {expected!r}, got {actual!r}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case, cli, request, count_once):
    # count_once: vgg16_cifar (p4 too) is in most cases; each model is counted once for them all
    args = CASES[case]
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    actual = json.loads(out)
    if actual.get("file"):  # check: the budget file's path as given on the command line
        actual["file"] = Path(actual["file"]).name
    target = GOLDEN / f"{case}.json"
    if request.config.getoption("--regen-golden"):
        target.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(target.read_text(encoding="utf-8"))
    assert _subset_mismatch(expected, actual) is None, _subset_mismatch(expected, actual)


def test_subset_mismatch_finds_changed_values():
    assert _subset_mismatch({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2, "c": 3}], "d": 4}) is None
    assert _subset_mismatch({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == "$.a[1].b: expected 2, got 3"
    assert _subset_mismatch({"a": 1}, {}) == "$.a: missing"
    assert _subset_mismatch({"a": [1]}, {"a": [1, 2]}).startswith("$.a: expected a list of 1")
