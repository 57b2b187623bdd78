"""Machine formats: CSV is one table per stream with raw values, and every command accepts
every format its --format lists."""

from __future__ import annotations

import csv
import io
import json
import re
import typing

import pytest

from hetcalc.cli import app

# The formats differ in rendering only: each model and variant is counted once for the module.
pytestmark = pytest.mark.usefixtures("count_once")

COMMANDS = {
    "analyze": ["analyze", "vgg16_cifar", "--P", "4", "--no-count"],
    "compare": ["compare", "vgg16_cifar", "--variants", "p4,dwc", "--no-latency"],
    "check": ["check", "{budgets}"],
    "models": ["models", "vgg*"],
    "curve": ["curve"],
    "designs": ["designs", "--max-length", "3"],
    "device": ["device", "--list"],
    "plan": ["plan", "vgg16_cifar", "--max-flops", "100M"],
}
BUDGETS = '[[model]]\nmodel = "vgg16_cifar"\nvariant = "p4"\nmax_flops = "110M"\n'


def format_choices() -> dict[str, list[str]]:
    """Each command's --format choices: the enum its ``fmt`` parameter is annotated with."""
    choices = {}
    for info in app.registered_commands:
        hints = typing.get_type_hints(info.callback, include_extras=True)
        if "fmt" in hints:
            choices[info.name] = [member.value for member in typing.get_args(hints["fmt"])[0]]
    return choices


def _one_csv_table(text: str) -> list[dict[str, str]]:
    assert "\n\n" not in text.strip(), "CSV holds one table"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows and all(len(row) == len(rows[0]) for row in rows), rows
    for row in rows[1:]:  # raw numbers: no "61.43%", "2.59x", "1.23M"
        for value in row:
            assert not re.fullmatch(r"-?[\d.,]+\s*(%|x|K|M|G|T)", value), (value, row)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_every_command_that_prints_a_table_has_format():
    assert set(format_choices()) == set(COMMANDS)


@pytest.mark.parametrize(("command", "fmt"), [(command, fmt) for command, fmts in
                                              format_choices().items() for fmt in fmts])
def test_every_command_accepts_every_format_it_lists(cli, tmp_path, command, fmt):
    budgets = tmp_path / "budgets.toml"
    budgets.write_text(BUDGETS)
    args = [arg.replace("{budgets}", str(budgets)) for arg in COMMANDS[command]]
    code, out, err = cli(*args, "--format", fmt)
    assert code == 0, err
    assert out.strip()
    if fmt == "json":
        json.loads(out)
    elif fmt == "csv":
        _one_csv_table(out)


def test_analyze_csv_is_the_layer_rows_with_raw_values(cli):
    code, out, _ = cli("analyze", "vgg16_cifar", "--P", "4", "-f", "csv")
    assert code == 0
    rows = _one_csv_table(out)
    code, text, _ = cli("analyze", "vgg16_cifar", "--P", "4", "-f", "json")
    layers = json.loads(text)["layers"]
    assert [row["name"] for row in rows] == [layer["name"] for layer in layers]
    second, layer = rows[1], layers[1]
    assert int(second["flops_standard"]) == 32 * 32 * 64 * 64 * 9 == layer["flops_standard"]
    assert (int(second["in_channels"]), int(second["out_channels"])) == (64, 64)
    assert second["kernel"] == "3x3" and second["output_size"] == "32x32"
    assert float(second["reduction"]) == pytest.approx(1 - layer["flops_analytic"]
                                                       / layer["flops_standard"])
    assert second["flops_difference"] == "0" and second["note"] == ""


def test_analyze_csv_totals_is_one_row(cli):
    code, out, _ = cli("analyze", "vgg16_cifar", "--P", "4", "-f", "csv", "--totals")
    assert code == 0
    (row,) = _one_csv_table(out)
    code, text, _ = cli("analyze", "vgg16_cifar", "--P", "4", "-f", "json")
    data = json.loads(text)
    assert row["model"] == "vgg16_cifar" and row["input_shape"] == "1,3,32,32"
    assert int(row["baseline_flops"]) == data["baseline"]["flops"]
    assert int(row["flops_analytic"]) == data["result"]["flops_analytic"]
    assert int(row["flops_counted"]) == data["result"]["flops_counted"]
    assert float(row["reduction"]) == pytest.approx(data["result"]["reduction"])
    assert float(row["speedup"]) == pytest.approx(data["result"]["speedup"])


def test_analyze_totals_in_the_table_and_markdown(cli):
    for fmt, marker in (("table", "model totals"), ("markdown", "### model totals")):
        code, out, _ = cli("analyze", "vgg16_cifar", "--P", "4", "--no-count", "--totals",
                           "-f", fmt)
        assert code == 0 and marker in out and "features.3" not in out


def test_compare_csv_is_one_table_of_raw_values(cli):
    code, out, _ = cli("compare", "vgg16_cifar", "--variants", "p4,dwc", "--no-latency",
                       "-f", "csv")
    assert code == 0
    rows = _one_csv_table(out)
    assert [row["variant"] for row in rows] == ["baseline", "p4", "dwc"]
    assert float(rows[1]["reduction"]) == pytest.approx(1 - 106_399_744 / 314_017_792)
    assert "latency_ms" not in rows[0]
