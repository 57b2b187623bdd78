"""Plan files: written, read back equal, and every mistake one line naming file, layer, value;
all without torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hetcalc.errors import InvalidArgument
from hetcalc.plan import Plan, is_plan_path, plan_toml, read_plan
from hetcalc.variants import parse_variant

ROOT = Path(__file__).parent.parent


def _plan(**layers: str) -> dict:
    return {name: parse_variant(spec) for name, spec in layers.items()}


def test_round_trip(tmp_path):
    layers = {"layer1.0.conv2": "p4", "layer2.0.conv2": "std", "odd \"name\"\t\x7fé": "gwc4-se",
              "features.3": "pc", "x": "dwc"}
    plan = Plan({name: parse_variant(spec) for name, spec in layers.items()},
                model="resnet50", input_shape=(1, 3, 224, 224))
    path = tmp_path / "mine.toml"
    path.write_text(plan_toml(plan, header=["made by hand", ""], comments={"x": "a note"}),
                    encoding="utf-8")
    back = read_plan(path)
    assert back == plan and list(back) == list(layers)
    assert {name: v.spec for name, v in back.items()} == layers
    assert back.spec == "mine.toml" and back.where == str(path)
    assert back.model == "resnet50" and back.input_shape == (1, 3, 224, 224)


def test_minimal_file_and_what_a_plan_says(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[layers]\n"a.b" = "p4"\nc = "std"\nd = "P8"\n', encoding="utf-8")
    plan = read_plan(path)
    assert plan.model is None and plan.input_shape is None
    assert not plan.is_baseline and plan.sequential_depth == 0
    assert plan.description == "per-layer plan: 1 x p4, 1 x p8"
    assert list(plan.changed) == ["a.b", "d"]
    assert Plan({"c": parse_variant("std")}).is_baseline
    assert Plan(_plan(a="gwc4")).sequential_depth == 1


BAD = [
    ("unknown top-level key", '[plann]\n', "p.toml: unknown key 'plann'; did you mean 'plan'?"),
    ("unknown plan key", '[plan]\nmodle = "x"\n', "p.toml: [plan]: unknown key 'modle'"),
    ("bad model", '[plan]\nmodel = 3\n', "p.toml: [plan] model: expected a model name"),
    ("bad shape", '[plan]\ninput_shape = [1, 3]\n',
     "p.toml: [plan]: input_shape must be positive integers"),
    ("bad variant", '[layers]\n"layer1.0.conv2" = "p4x"\n',
     "p.toml: layer \"layer1.0.conv2\": unknown variant 'p4x'; valid forms: std,"),
    ("zero part", '[layers]\n"a" = "p0"\n', "p.toml: layer \"a\": variant 'p0': P must be"),
    ("not a string", '[layers]\n"a" = 4\n',
     'p.toml: layer "a": expected a variant string such as "p4", got the integer 4'),
    ("dotted name unquoted", '[layers]\nlayer1.conv = "p4"\n',
     'p.toml: layer "layer1": expected a variant string such as "p4", got a table (quote'),
    ("layers not a table", 'layers = "p4"\n', "p.toml: layers: expected a table [layers]"),
    ("not toml", '[layers\n', "p.toml: not valid TOML"),
]


@pytest.mark.parametrize(("case", "text", "message"), BAD, ids=[c[0] for c in BAD])
def test_mistakes_name_file_layer_and_value(tmp_path, case, text, message):
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidArgument, match="^" + re.escape(message)) as caught:
        read_plan(path, where="p.toml")
    assert "\n" not in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(InvalidArgument, match=r"nope\.toml: no such plan file"):
        read_plan(tmp_path / "nope.toml")


def test_check_model():
    plan = Plan(_plan(a="p4"), model="resnet50", where="r50.toml")
    plan.check_model("resnet50")
    with pytest.raises(InvalidArgument, match=r'^r50.toml: this plan is for model "resnet50", '
                                              r'not "resnet18"'):
        plan.check_model("resnet18")


def test_plan_paths():
    assert is_plan_path("plan.toml") and is_plan_path(" A.TOML") and is_plan_path(Path("x"))
    assert not is_plan_path("p4") and not is_plan_path(parse_variant("p4"))


def test_reading_a_plan_imports_no_torch(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[layers]\n"a" = "p4"\n', encoding="utf-8")
    code = ("import sys, hetcalc.plan, hetcalc.budget; "
            f"hetcalc.plan.read_plan({str(path)!r}); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
