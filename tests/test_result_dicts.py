"""The library's results are what the CLI prints: ``Comparison.to_dict()`` is compare's JSON and
``PlanResult.to_dict()`` plan's, built by the same function the CLI uses, plain values only
(``json.loads`` of the CLI's output equals them, so no tuple or other type hides in them); and
their rendered forms (``render_comparison``, ``render_plan``) print with rich without the CLI.
"""

from __future__ import annotations

import io
import json

from rich.console import Console

TINY = """\
from torch import nn


def build() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1))


build.input_shape = (1, 3, 8, 8)
"""

# Two 3x3 convs 8 -> 8 on 8x8 (the first conv stays standard), at P = 4 (Eq. 4):
# 8*8 * 8 * (8*9/4 + 8 - 8/4) = 12,288 MACs each, against 8*8 * 8 * 8*9 = 36,864 standard.
P4_LAYER = 8 * 8 * 8 * (18 + 6)
STANDARD_LAYER = 8 * 8 * 8 * 8 * 9


def _shown(renderable) -> str:
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def test_a_comparison_is_compare_json(cli, tmp_path):
    from hetcalc.compare import compare
    from hetcalc.render.compare import render_comparison
    from hetcalc.variants import parse_variants

    (tmp_path / "tiny.py").write_text(TINY, encoding="utf-8")
    spec = f"{tmp_path / 'tiny.py'}:build"
    result = compare(spec, list(parse_variants("p4,dwc")))
    code, out, err = cli("compare", spec, "--variants", "p4,dwc", "--no-latency", "-f", "json")
    assert code == 0, err
    assert result.to_dict() == json.loads(out)
    p4 = result.to_dict()["variants"][0]
    assert (p4["variant"], p4["flops_analytic"]) == ("p4", 1728 * 8 + 2 * P4_LAYER)
    assert result.to_dict()["baseline"]["flops"] == 1728 * 8 + 2 * STANDARD_LAYER
    shown = _shown(render_comparison(result))
    assert "variants side by side" in shown and max(map(len, shown.splitlines())) <= 80


def test_a_plan_result_is_plan_json(cli, tmp_path):
    from hetcalc.plan.budget import Budget
    from hetcalc.plan.search import find_plan
    from hetcalc.render.plan import render_plan

    (tmp_path / "tiny.py").write_text(TINY, encoding="utf-8")
    spec = f"{tmp_path / 'tiny.py'}:build"
    # the first conv (3*9*8 = 216 weights, 8*8 * 8 * 27 = 13,824 MACs) stays standard; a
    # budget one P4 layer under the baseline makes the plan change exactly one layer
    budget = 13_824 + STANDARD_LAYER + P4_LAYER
    result = find_plan(spec, Budget(max_flops=budget))
    code, out, err = cli("plan", spec, "--max-flops", str(budget), "-f", "json")
    assert code == 0, err
    assert result.to_dict() == json.loads(out)
    data = result.to_dict()
    assert data["result"]["flops"] <= budget and data["result"]["layers_changed"] == 1
    assert data["baseline"]["flops"] == 13_824 + 2 * STANDARD_LAYER
    shown = _shown(render_plan(result))
    assert "beside the baseline and uniform variants" in shown
