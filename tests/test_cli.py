"""The command line end to end: exit codes, the exact error lines, every output format."""

import csv
import io
import json

import pytest

from hetcalc.cli import app
from hetcalc.render import OutputFormat, human


def test_analyze_table(cli):
    code, out, err = cli("analyze", "vgg16_cifar", "--P", "4")
    assert code == 0, err
    assert "std MACs (Eq. 1)" in out and "p4 MACs (analytic)" in out
    assert "features.3" in out and "314,017,792" in out
    assert "first convolution: kept standard" in out
    assert "aten::max_pool2d x5" in out


def test_analyze_json_follows_design(cli):
    code, out, _ = cli("analyze", "vgg16_cifar", "--P", "4", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"schema_version", "model", "input_shape", "unit", "variant", "baseline",
                         "result", "layers", "counter", "kept_standard", "notes"}
    assert data["unit"] == "MAC" and data["variant"] == "p4" and data["input_shape"] == [1, 3, 32, 32]
    assert data["counter"] == "fvcore" and data["kept_standard"] == {"first": 1}
    assert set(data["result"]) == {"flops_analytic", "flops_counted", "flops_counted_torch",
                                   "params", "params_kxk", "reduction", "speedup",
                                   # where the saving goes (docs/roofline.md)
                                   "dtype", "bytes", "bytes_standard", "activation_bytes"}
    assert set(data["layers"][0]) == {
        "name", "in_channels", "out_channels", "kernel", "stride", "output_size", "substituted",
        "flops_standard", "flops_analytic", "flops_counted", "flops_counted_torch",
        "params_standard", "params_variant", "params_kxk", "note",
        "bytes", "bytes_standard", "intensity", "intensity_standard"}
    layers = data["layers"]
    # Rows add up: baseline - replaced standard cost + their variant cost = the variant total.
    delta = sum(r["flops_analytic"] - r["flops_standard"] for r in layers if r["substituted"])
    assert data["baseline"]["flops"] + delta == data["result"]["flops_analytic"]
    assert 0 < data["result"]["reduction"] < 1
    # Table 1's P4 row as hetcalc counts it (docs/cost-model.md)
    assert (data["baseline"]["flops"], data["result"]["flops_analytic"]) == (314_017_792,
                                                                            106_399_744)
    assert data["result"]["speedup"] == pytest.approx(314_017_792 / 106_399_744)


def test_analyze_csv_and_markdown(cli, tmp_path):
    code, out, _ = cli("analyze", "vgg16_cifar", "--variant", "gwc4", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.split("\n\n")[0])))
    assert len(rows) == 13 and rows[1]["flops_standard"] == str(32 * 32 * 64 * 64 * 9)
    target = tmp_path / "report.md"
    code, out, _ = cli("analyze", "vgg16_cifar", "--variant", "dwc", "--format", "markdown",
                       "--output", str(target))
    assert code == 0 and out == ""
    text = target.read_text()
    assert text.startswith("### vgg16_cifar") and "| features.3 |" in text


def test_analyze_table_to_file(cli, tmp_path):
    target = tmp_path / "report.txt"
    code, _, _ = cli("analyze", "resnet56_cifar", "--P", "2", "-o", str(target))
    assert code == 0 and "layer1.0.conv1" in target.read_text()


def test_input_shape_override(cli):
    code, out, _ = cli("analyze", "resnet56_cifar", "--P", "2", "--input-shape", "1,3,64,64",
                       "-f", "json")
    assert code == 0 and json.loads(out)["layers"][1]["output_size"] == [64, 64]


@pytest.mark.parametrize(("args", "message"), [
    (["analyze", "resnet5", "--P", "4"],
     "hetcalc: error: unknown model 'resnet5'; did you mean resnet50"),
    (["analyze", "resnet50", "--P", "0"],
     "hetcalc: error: --P must be a positive integer (1, 2, 4, ...), got '0'"),
    (["analyze", "resnet50", "--P", "-1"],
     "hetcalc: error: --P must be a positive integer (1, 2, 4, ...), got '-1'"),
    (["analyze", "resnet50", "--P", "2.5"],
     "hetcalc: error: --P must be a positive integer (1, 2, 4, ...), got '2.5'"),
    (["analyze", "resnet50", "--variant", "q4"],
     "hetcalc: error: unknown variant 'q4'; valid forms: std, p1, p<P>"),
    (["analyze", "resnet50", "--P", "4", "--variant", "p4"],
     "hetcalc: error: give either --P or --variant, not both"),
    (["analyze", "resnet50", "--input-shape", "1,3"],
     "hetcalc: error: --input-shape must be positive integers N,C,L (1-D), N,C,H,W (2-D) or "
     "N,C,D,H,W (3-D)"),
    (["analyze", "missing/net.py:build"],
     "hetcalc: error: model 'missing/net.py:build': file missing/net.py does not exist"),
    (["analyze", "no_such_pkg.nets:build"],
     "hetcalc: error: model 'no_such_pkg.nets:build': no module named 'no_such_pkg'"),
    (["analyze", "hetcalc.models.cifar:nothing"],
     "hetcalc: error: model 'hetcalc.models.cifar:nothing': hetcalc.models.cifar has no "
     "function 'nothing'"),
    (["analyze", "vgg16_cifar", "--input-shape", "1,3,1,1"],
     "hetcalc: error: model 'vgg16_cifar' failed to trace with input shape 1,3,1,1:"),
    (["analyze", "vgg16_cifar", "--format", "yaml"],
     "hetcalc: error: Invalid value for '--format' / '-f': 'yaml' is not one of"),
    (["analyze"], "hetcalc: error: Missing argument 'model'."),
])
def test_bad_input_is_one_line_and_exit_2(cli, args, message):
    code, out, err = cli(*args)
    assert code == 2
    assert err.startswith(message), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


def test_debug_shows_the_traceback(cli):
    code, _, err = cli("analyze", "resnet5", "--debug")
    assert code == 2 and "Traceback" in err
    assert err.splitlines()[-1].startswith("hetcalc: error: unknown model 'resnet5'")


def test_models_lists_with_shapes(cli):
    code, out, _ = cli("models", "resnet*", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert {"name": "resnet50", "input_shape": [1, 3, 224, 224], "source": "torchvision"} in data
    code, out, _ = cli("models", "vgg16_c*")
    assert code == 0 and "vgg16_cifar" in out and "1,3,32,32" in out


def test_every_command_has_help(cli):
    for command in app.registered_commands:
        name = command.name or command.callback.__name__
        code, out, _ = cli(name, "--help")
        assert code == 0 and "Usage" in out and len(out) > 200, name


def test_output_to_a_missing_directory_is_exit_2(cli, tmp_path):
    code, _, err = cli("models", "--output", str(tmp_path / "no" / "such.txt"))
    assert code == 2
    assert err.startswith(f"hetcalc: error: --output {tmp_path / 'no' / 'such.txt'}: cannot write it")


def test_timm_without_timm_is_exit_2(cli):
    try:
        import timm  # noqa: F401
    except ImportError:
        code, _, err = cli("analyze", "timm:resnet18")
        assert code == 2
        assert err == ("hetcalc: error: timm:resnet18: timm is not installed: pip install 'timm>=1.0' "
                       "into hetcalc's environment (pipx: pipx inject hetcalc 'timm>=1.0')\n")
    else:
        pytest.skip("timm is installed here")


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_output_format_renders(fmt):
    from hetcalc.render import Column, Grid, Rendered, render_text, to_string

    grid = Grid("t", [Column("name", "name", justify="left"), Column("MACs", "macs", human)],
                [{"name": "conv", "macs": 1_234_567}])
    text = to_string(render_text(Rendered([grid], {"macs": 1_234_567}, ["a note"]), fmt))
    expected = {OutputFormat.TABLE: "1.23M", OutputFormat.MARKDOWN: "| conv | 1.23M |",
                OutputFormat.CSV: "conv,1234567", OutputFormat.JSON: '"macs": 1234567'}
    assert expected[fmt] in text


def test_uncounted_operators_are_split_by_whether_they_multiply():
    from hetcalc.render.ops import uncounted_notes

    notes = uncounted_notes({"aten::max_pool2d": 5, "aten::scaled_dot_product_attention": 12})
    assert notes[0].startswith("WARNING: fvcore has no count for "
                               "aten::scaled_dot_product_attention x12")
    assert notes[1].endswith("(element-wise, pooling, data movement): aten::max_pool2d x5 "
                             "(max pooling (comparisons)).")
    assert uncounted_notes({}) == []


def test_uncounted_operators_say_which_model_runs_them():
    from hetcalc.render.ops import uncounted_notes

    original = {"aten::add_": 16, "aten::max_pool2d": 1}
    variant = {"aten::add_": 16, "aten::max_pool2d": 1, "aten::unfold": 16, "aten::mT": 6}
    notes = uncounted_notes(original, variant, "p4")
    assert notes == [
        "Not counted by fvcore and no MACs (element-wise, pooling, data movement): "
        "aten::add_ x16 (in-place add (a residual)), aten::max_pool2d x1 (max pooling "
        "(comparisons)).",
        "The model as p4 runs it adds, also without MACs: aten::unfold x16 (sliding windows "
        "(a view: HetConv's centre taps or im2col)), aten::mT x6 (a matrix transpose (a view, "
        "for a batched matmul)).",
    ]
    # an operator only the substituted model runs and fvcore cannot count is a warning of its own
    warned = uncounted_notes({}, {"aten::bogus_matmul": 2}, "p4")
    assert warned == ["WARNING: fvcore has no count for aten::bogus_matmul x2 (only in the model "
                      "as p4 runs it); if these multiply, their MACs are missing from every "
                      "total here."]
