"""Models whose forward takes several inputs, keyword inputs or other values.

A model gives its example inputs (the module's or the builder's ``example_inputs``, or a builder
that returns ``(module, example_inputs)``), or the caller gives one shape per positional tensor
(``--input-shape`` repeated, a budget entry's list of shapes, ``input_shape=[...]``). Counting,
timing and checking all call the forward with the same inputs.

The models: ``Masked`` is a Conv2d 3->8 3x3 (no padding, bias) on 1x3x8x8 whose 1x8x6x6 output
is multiplied by a mask: 8·3·9·6·6 = 7,776 MACs (the mask's product is element-wise, no MAC)
and 8·3·9 + 8 = 224 params. ``Deep`` adds a second conv 8->8 3x3 (padding 1, no bias) after
it, 8·8·9·6·6 = 20,736 MACs more, which p4 (HetConv, Eq. 4) makes
6·6·8·8·(9/4 + 1 - 1/4) = 6,912.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from checking import run, write
from torch import nn

from hetcalc import analyze, parse_variant
from hetcalc.budget.values import parse_input_shape
from hetcalc.errors import InvalidArgument, ModelLoadError, TraceError
from hetcalc.inputs import Inputs
from hetcalc.pipeline import subject
from hetcalc.shapes import TensorShape, input_shapes

MASKED_MACS = 8 * 3 * 9 * 6 * 6
MASKED_PARAMS = 8 * 3 * 9 + 8
DEEP_MACS = MASKED_MACS + 8 * 8 * 9 * 6 * 6
DEEP_P4_MACS = MASKED_MACS + 6 * 6 * 8 * 8 * 3  # 9/4 + 1 - 1/4 = 3

MODELS = """\
import torch
from torch import nn


class Masked(nn.Module):
    def __init__(self, deep=False):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.deep = nn.Conv2d(8, 8, 3, padding=1, bias=False) if deep else nn.Identity()

    def forward(self, x, mask, gain=1.0):
        return self.deep(self.conv(x)) * mask * gain


class Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.embed = nn.Embedding(10, 8)

    def forward(self, x, ids):
        return self.conv(x) + self.embed(ids).transpose(1, 2).reshape(-1, 8, 6, 6)


def plain():
    return Masked()


def pair():
    return Masked(), (torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 6, 6))


def deep():
    return Masked(deep=True), (torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 6, 6))


def attribute():
    model = Masked()
    model.example_inputs = {"x": torch.zeros(1, 3, 8, 8),
                            "mask": torch.ones(1, 1, 6, 6, dtype=torch.bool), "gain": 2.0}
    return model


def on_builder():
    return Masked()


on_builder.example_inputs = ((torch.zeros(1, 3, 8, 8),), {"mask": torch.ones(1, 8, 6, 6)})


def tokens():
    return Tokens()


def none_beside():
    return Masked(), None


def wrong_inputs():
    model = Masked()
    model.example_inputs = "1,3,8,8"
    return model
"""


@pytest.fixture
def nets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nets.py").write_text(MODELS, encoding="utf-8")
    return "nets.py"


class Masked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x, mask):
        return self.conv(x) * mask


def _json(cli, *args):
    code, out, err = cli(*args, "--format", "json")
    assert (code, err) == (0, ""), err
    return json.loads(out)


@pytest.mark.parametrize("builder", ["pair", "attribute", "on_builder"])
def test_a_model_gives_its_example_inputs(cli, nets, builder):
    data = _json(cli, "analyze", f"{nets}:{builder}", "--P", "1")
    assert data["baseline"] == {"flops": MASKED_MACS, "params": MASKED_PARAMS}
    assert data["input_shape"] == [1, 3, 8, 8]  # the first input tensor's


def test_input_shape_repeated_gives_each_positional_tensor(cli, nets):
    data = _json(cli, "analyze", f"{nets}:plain", "--P", "1",
                 "--input-shape", "1,3,8,8", "--input-shape", "1,1,6,6")
    assert data["baseline"] == {"flops": MASKED_MACS, "params": MASKED_PARAMS}
    assert data["result"]["flops_counted_torch"] == MASKED_MACS


def test_an_integer_input_keeps_its_dtype_on_the_meta_device(cli, nets):
    """Token ids index an embedding: as float they could not (on meta or on the CPU)."""
    data = _json(cli, "analyze", f"{nets}:tokens", "--P", "1",
                 "--input-shape", "1,3,8,8", "--input-shape", "1,36:int64")
    assert data["baseline"]["flops"] == MASKED_MACS  # an embedding is a lookup: no MAC
    assert data["baseline"]["params"] == MASKED_PARAMS + 10 * 8


def test_a_forward_missing_an_input_says_how_to_give_it(cli, nets):
    code, out, err = cli("analyze", f"{nets}:plain", "--input-shape", "1,3,8,8")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("hetcalc: error: model 'nets.py:plain' failed to trace with input "
                          "shape 1,3,8,8: Masked.forward() missing 1 required positional "
                          "argument: 'mask'; its forward(x, mask, gain=1.0) may take other "
                          "inputs than 1,3,8,8: give them as example_inputs")
    assert "repeat --input-shape once per input tensor" in err


@pytest.mark.parametrize(("builder", "expected"), [
    ("none_beside", "model 'nets.py:none_beside': the builder returned (module, None)"),
    ("wrong_inputs", "model 'nets.py:wrong_inputs': example_inputs must be a tensor, a tuple "
                     "of positional inputs, a dict of keyword inputs, or a pair (args tuple, "
                     "kwargs dict); got str (its module)"),
])
def test_example_inputs_that_are_none_of_the_forms_are_refused(cli, nets, builder, expected):
    code, out, err = cli("analyze", f"{nets}:{builder}")
    assert (code, out) == (2, "")
    assert err.startswith(f"hetcalc: error: {expected}")


def test_a_second_input_shape_that_is_wrong_is_named(cli):
    code, out, err = cli("analyze", "vgg16_cifar", "--input-shape", "1,3,32,32",
                         "--input-shape", "1,x")
    assert (code, out) == (2, "")
    assert err.startswith("hetcalc: error: --input-shape 2 must be 1 to 5 positive integers, "
                          "optionally :dtype (float32, ")


def test_the_library_takes_a_module_with_example_inputs_or_keyword_inputs():
    model = Masked()
    model.example_inputs = (torch.randn(1, 3, 8, 8), torch.ones(1, 1, 6, 6))
    report = analyze(model, parse_variant("std"))
    assert report.to_dict()["baseline"] == {"flops": MASKED_MACS, "params": MASKED_PARAMS}
    keywords = {"x": torch.zeros(1, 3, 8, 8), "mask": torch.zeros(1, 8, 6, 6, dtype=torch.bool)}
    report = analyze(Masked(), parse_variant("std"), example_inputs=keywords)
    assert report.flops_analytic == MASKED_MACS
    report = analyze(Masked(), parse_variant("std"), input_shape=[(1, 3, 8, 8), (1, 1, 6, 6)])
    assert report.flops_analytic == MASKED_MACS
    with pytest.raises(TraceError, match=r"its forward\(x, mask\) may take other inputs"):
        analyze(Masked(), parse_variant("std"), input_shape=(1, 3, 8, 8))
    with pytest.raises(InvalidArgument, match="input_shape or example_inputs, not both"):
        analyze(Masked(), parse_variant("std"), input_shape=(1, 3, 8, 8), example_inputs=keywords)


def test_inputs_keep_structure_dtypes_and_other_values():
    inputs = Inputs.from_example(((torch.zeros(2, 3, 8, 8), [torch.ones(2, 5, dtype=torch.int64)]),
                                  {"mask": torch.ones(2, 1, 6, 6, dtype=torch.bool), "gain": 0.5}))
    assert inputs.input_shape == (2, 3, 8, 8)
    assert inputs.shapes is None  # not positional tensors alone
    args, kwargs = inputs.with_batch(4).make("meta", torch.float16)
    (x, (ids,)) = args
    assert (x.shape, x.dtype, x.device.type) == ((4, 3, 8, 8), torch.float16, "meta")
    assert (ids.shape, ids.dtype) == ((4, 5), torch.int64)
    assert (kwargs["mask"].shape, kwargs["mask"].dtype) == ((4, 1, 6, 6), torch.bool)
    assert kwargs["gain"] == 0.5
    assert str(inputs) == "2,3,8,8, [2,5:int64], mask=2,1,6,6:bool, gain=0.5"
    with pytest.raises(InvalidArgument, match="a tensor of one dimension or more first"):
        Inputs.from_example((torch.tensor(1.0), torch.zeros(1, 3, 8, 8)))
    with pytest.raises(InvalidArgument, match="a tensor of one dimension or more first"):
        Inputs.from_example((1.0, "no tensor"))


def test_shapes_for_several_inputs():
    assert input_shapes("1,3,8,8") == (TensorShape((1, 3, 8, 8)),)
    assert input_shapes([(1, 3, 8, 8), "1,16:int64"]) == (
        TensorShape((1, 3, 8, 8)), TensorShape((1, 16), "int64"))
    with pytest.raises(InvalidArgument, match="^input_shape must be positive integers N,C,L"):
        input_shapes(["1,16", "1,3,8,8"])  # the first is the model's main input: 3 to 5 sizes
    with pytest.raises(InvalidArgument, match="^input_shape 2 must be 1 to 5 positive"):
        input_shapes(["1,3,8,8", "1,16:int128"])


@pytest.mark.parametrize(("value", "expected"), [
    ([[1, 3, 8, 8], "1,1,6,6"], (TensorShape((1, 3, 8, 8)), TensorShape((1, 1, 6, 6)))),
    ("1,16,8:float16", (TensorShape((1, 16, 8), "float16"),)),
    ([1, 3, 8, 8], (1, 3, 8, 8)),
])
def test_a_budget_input_shape_may_be_several(value, expected):
    assert parse_input_shape(value) == expected


def test_check_evaluates_an_entry_of_several_input_shapes(capsys, nets, tmp_path):
    path = write(tmp_path, textwrap.dedent(f"""\
        [[model]]
        model = "{nets}:plain"
        input_shape = [[1, 3, 8, 8], "1,1,6,6"]
        max_flops = {MASKED_MACS}

        [[model]]
        model = "{nets}:deep"
        variant = "p4"
        max_flops = {DEEP_P4_MACS}
        """))
    code, out, err = run(capsys, str(path), "--format", "json")
    assert code == 0, err
    first, second = json.loads(out)["entries"]
    assert (first["key"], first["input_shape"], first["checks"]["flops"]["value"]) == (
        "nets.py:plain std 1,3,8,8 + 1,1,6,6", [1, 3, 8, 8], MASKED_MACS)
    assert (second["key"], second["checks"]["flops"]["value"]) == (
        "nets.py:deep p4 1,3,8,8", DEEP_P4_MACS)


def test_check_names_a_wrong_shape_among_several(capsys, nets, tmp_path):
    write(tmp_path, f'[[model]]\nmodel = "{nets}:plain"\n'
                    'input_shape = [[1, 3, 8, 8], [1, 0, 6]]\nmax_flops = 1\n')
    code, out, err = run(capsys, "budgets.toml")
    assert (code, out) == (2, "")
    assert err == ("hetcalc: error: budgets.toml: entry 1 (nets.py:plain): input_shape: shape 2 "
                   "of 2: expected 1 to 5 positive integers, optionally :dtype (float32, "
                   "float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool), e.g. "
                   "1,1,224,224 or 1,16:int64, got the array [1, 0, 6]\n")


def test_compare_times_a_model_of_several_inputs(cli, nets):
    """Timed on the CPU, briefly: every input tensor takes the batch size."""
    data = _json(cli, "compare", f"{nets}:deep", "--variants", "std,p4", "--threads", "1",
                 "--time-budget", "0.05", "--batch-size", "2")
    assert data["baseline"]["flops"] == DEEP_MACS
    p4 = next(row for row in data["variants"] if row["variant"] == "p4")
    assert p4["flops_analytic"] == DEEP_P4_MACS
    assert data["baseline"]["latency_ms"] > 0 and p4["latency_ms"] > 0


def test_the_subject_of_a_model_file_uses_its_own_inputs(nets):
    source = subject(f"{nets}:attribute")
    assert str(source.inputs) == "x=1,3,8,8, mask=1,1,6,6:bool, gain=2.0"
    assert source.trace().flops_total == MASKED_MACS


def test_a_builder_attribute_of_the_wrong_kind_is_a_load_error(nets, tmp_path):
    (tmp_path / "bad.py").write_text("from torch import nn\n\ndef build():\n    return "
                                     "nn.Conv2d(3, 8, 3)\n\nbuild.example_inputs = 7\n")
    with pytest.raises(ModelLoadError, match=r"example_inputs must be .*; got int \(its builder\)"):
        subject("bad.py:build")


def test_substitute_and_plan_take_a_model_of_several_inputs(nets):
    from hetcalc.plan.budget import Budget
    from hetcalc.plan.search import find_plan
    from hetcalc.substitute import substitute

    model = Masked()
    model.example_inputs = (torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 6, 6))
    converted, decisions = substitute(model, "p1", include_first=True)
    assert [d.name for d in decisions] == ["conv"]
    result = find_plan(f"{nets}:deep", Budget(max_flops=DEEP_MACS))
    assert result.baseline.flops == DEEP_MACS
    assert result.plan.input_shape is None  # a plan of several inputs takes the model's own


def test_a_title_states_every_input(cli, nets):
    code, out, err = cli("analyze", f"{nets}:plain", "--P", "1", "--input-shape", "1,3,8,8",
                         "--input-shape", "1,1,6,6", "--format", "markdown")
    assert code == 0, err
    assert "nets.py:plain 1,3,8,8 + 1,1,6,6: std" in out
    code, out, err = cli("compare", f"{nets}:attribute", "--variants", "std", "--no-latency",
                         "--format", "markdown")
    assert code == 0, err
    assert "nets.py:attribute x=1,3,8,8, mask=1,1,6,6:bool, gain=2.0: variants side by side" in out


def test_check_says_how_to_give_the_inputs_an_entry_lacks(capsys, nets, tmp_path):
    write(tmp_path, f'[[model]]\nmodel = "{nets}:plain"\ninput_shape = [1, 3, 8, 8]\n'
                    f'max_flops = {MASKED_MACS}\n')
    code, out, err = run(capsys, "budgets.toml")
    assert code == 2
    assert err.startswith("hetcalc: error: budgets.toml: entry 1 (nets.py:plain): model: model "
                          "'nets.py:plain' failed to trace with input shape 1,3,8,8: ")
    assert ("its forward(x, mask, gain=1.0) may take other inputs than 1,3,8,8: give them as "
            "example_inputs on the module or its builder, return (module, example_inputs) from "
            "the builder, or repeat --input-shape once per input tensor (a budget entry: a list "
            "of shapes)") in err
