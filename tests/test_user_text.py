"""User text is shown as typed: rich markup in a path, model spec, pattern, budget entry name or
a builder's exception shows literally (never rich's ``MarkupError``, never a style), and control
characters reach no terminal, log or XML file raw: they are written visibly (``\\x1b``, ``\\n``),
so a name cannot forge a ``hetcalc check: PASS`` line. JSON keeps the exact string.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from hetcalc.render import (
    Column,
    FittedTable,
    Grid,
    OutputFormat,
    Rendered,
    markup_safe,
    render_text,
    to_string,
)
from hetcalc.render.text import one_line, user_text

MODEL = """\
import torch.nn as nn


def build():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1))


def broken():
    raise RuntimeError("bad [/] [red]layer[/red]\\nsecond line\\x1b[31m red\\r")
"""
SHAPE = "1,3,8,8"
NAME = "x [/] \x1b[31m\nhetcalc check: PASS"
FORGED = "hetcalc check: PASS"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A model file in a directory whose name is rich markup."""
    directory = tmp_path / "[red]models[/]"  # the "/" of "[/]" makes it two directories
    directory.mkdir(parents=True)
    (directory / "net.py").write_text(MODEL, encoding="utf-8")
    return directory


def _no_raw_controls(text: str) -> None:
    assert "\x1b" not in text and "\r" not in text and "MarkupError" not in text


def _no_forged_line(text: str) -> None:
    assert not any(line.lstrip("│ -").startswith(FORGED) for line in text.splitlines())


# -- the helper -------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "shown"), [
    ("resnet50 [fast]", "resnet50 [fast]"),
    ("[/]", "[/]"),
    ("a\x1b[31mb", "a\\x1b[31mb"),
    ("one\ntwo\r", "one\\ntwo\\r"),
    ("tab\there", "tab\\there"),
    ("bell\x07del\x7fnel\x85", "bell\\x07del\\x7fnel\\x85"),
    ("rlo\u202eisolate\u2066", "rlo\\u202eisolate\\u2066"),
    ("line\u2028para\u2029", "line\\u2028para\\u2029"),
    ("bad\udcff", "bad\\udcff"),  # a lone surrogate: an undecodable byte of a file name
    ("nonchar\ufffe", "nonchar\\ufffe"),
    ("C:\\models\\net.py", "C:\\models\\net.py"),  # backslashes stay as typed
    ("naïve 模型 👩‍💻", "naïve 模型 👩‍💻"),  # letters and emoji (with its joiner) show
])
def test_user_text_writes_acting_characters_visibly(raw, shown):
    assert user_text(raw) == shown
    assert user_text(shown) == shown  # shown text is shown again as it is
    shown.encode("utf-8")  # always encodable


def test_one_line_strips_and_flattens():
    assert one_line("  first\nsecond\n") == "first\\nsecond"
    assert one_line(ValueError("a\r\nb")) == "a\\r\\nb"


def test_markup_safe_shows_markup_literally_where_rich_parses_it():
    text = Text.from_markup(f"timing {markup_safe('[red]x[/] [bold]' + chr(27) + '[0m')}: 3")
    assert text.plain == "timing [red]x[/] [bold]\\x1b[0m: 3"
    assert not text.spans
    for raw in ("ends with a backslash\\", "\\[red]x", "a\\\\[/]"):
        assert Text.from_markup(f"{markup_safe(raw)}: 3").plain == f"{raw}: 3"


def test_grid_cells_titles_and_notes_show_as_typed_in_every_format():
    grid = Grid(f"title {NAME}", [Column("name", "name", justify="left"),
                                  Column("value", "value")],
                [{"name": NAME, "value": 3}], caption="[bold]caption")
    rendered = Rendered([grid], {"name": NAME}, notes=[f"note {NAME}"])
    table = to_string(render_text(rendered, OutputFormat.TABLE))
    assert "title x [/] \\x1b[31m\\nhetcalc check: PASS" in table
    assert "[bold]caption" in table
    assert "note x [/] \\x1b[31m\\nhetcalc check: PASS" in table
    for fmt in (OutputFormat.TABLE, OutputFormat.MARKDOWN, OutputFormat.CSV):
        text = render_text(rendered, fmt)
        text = text if isinstance(text, str) else to_string(text)
        _no_raw_controls(text)
        _no_forged_line(text)
    rows = list(csv.reader(io.StringIO(render_text(rendered, OutputFormat.CSV))))
    assert rows == [["name", "value"], ["x [/] \\x1b[31m\\nhetcalc check: PASS", "3"]]
    assert json.loads(render_text(rendered, OutputFormat.JSON)) == {"name": NAME}


def test_a_narrow_table_on_a_terminal_shows_markup_and_no_escape_sequence():
    grid = Grid("[/] narrow", [Column("name", "name", justify="left"),
                               Column("a long header here", "a", priority=1),
                               Column("another long header", "b", footnote=True)],
                [{"name": f"[red]{NAME}", "a": 1, "b": f"[/]{NAME}"}])
    out = io.StringIO()
    Console(file=out, width=40, force_terminal=True, color_system="standard").print(
        FittedTable(grid))
    text = out.getvalue()
    # The terminal gets rich's own styling sequences (bold headers), never the name's.
    assert "\x1b[31m" not in text
    assert "[/] narrow" in text
    _no_forged_line(text)


# -- through the CLI ----------------------------------------------------------------------------

def test_analyze_a_model_file_in_a_markup_directory(cli, model_dir):
    spec = f"{model_dir}/net.py:build"
    code, out, err = cli("analyze", spec, "--input-shape", SHAPE)
    assert (code, err) == (0, "")
    assert f"{spec} {SHAPE}" in out  # the title, as typed
    _no_raw_controls(out)
    code, out, err = cli("analyze", spec, "--input-shape", SHAPE, "--format", "json")
    assert code == 0 and json.loads(out)["model"] == spec
    code, out, _ = cli("analyze", spec, "--input-shape", SHAPE, "--format", "markdown")
    assert code == 0 and spec in out
    code, out, _ = cli("analyze", spec, "--input-shape", SHAPE, "--format", "csv")
    assert code == 0 and "MarkupError" not in out


def test_models_pattern_with_markup(cli):
    code, out, err = cli("models", "[/]")
    assert (code, err) == (0, "")
    assert "0 models matching '[/]'" in out
    assert "no registered model matches '[/]'" in out
    code, out, _ = cli("models", "[red]resnet50[/red]")
    assert code == 0 and "'[red]resnet50[/red]'" in out


def test_a_builders_exception_is_one_line(cli, model_dir):
    code, out, err = cli("analyze", f"{model_dir}/net.py:broken", "--input-shape", SHAPE)
    assert (code, out) == (2, "")
    assert err.startswith("hetcalc: error: ") and err.count("\n") == 1, err
    assert "bad [/] [red]layer[/red]" in err
    _no_raw_controls(err)


def _budget(tmp_path: Path, model_dir: Path) -> Path:
    path = tmp_path / "budget.toml"
    path.write_text(
        "[[model]]\n"
        f"name = {json.dumps(NAME)}\n"
        f"model = {json.dumps(f'{model_dir}/net.py:build')}\n"
        f'input_shape = "{SHAPE}"\n'
        "max_flops = 1\n", encoding="utf-8")
    return path


def test_check_a_name_cannot_forge_a_pass_line(cli, tmp_path, model_dir):
    budget = _budget(tmp_path, model_dir)
    code, out, err = cli("check", str(budget))
    assert code == 1  # over budget: 8·3·9·64 + 8·8·9·64 MACs are far over 1
    for text in (out, err):
        _no_raw_controls(text)
        _no_forged_line(text)
    assert err.splitlines()[0].startswith("hetcalc check: FAIL: ")
    assert "x [/] \\x1b[31m\\nhetcalc check: PASS" in out
    assert "x [/] \\x1b[31m\\nhetcalc check: PASS" in err


def test_check_json_keeps_the_exact_name(cli, tmp_path, model_dir):
    code, out, err = cli("check", str(_budget(tmp_path, model_dir)), "--format", "json")
    assert code == 1
    assert json.loads(out)["entries"][0]["name"] == NAME
    _no_forged_line(err)


def test_check_markdown_shows_the_name_visibly(cli, tmp_path, model_dir):
    code, out, _ = cli("check", str(_budget(tmp_path, model_dir)), "--format", "markdown")
    assert code == 1
    assert "x [/] \\x1b[31m\\nhetcalc check: PASS" in out
    _no_raw_controls(out)
    _no_forged_line(out)


def test_check_junit_is_valid_xml_for_any_name(cli, tmp_path, model_dir):
    report = tmp_path / "report.xml"
    code, out, _ = cli("check", str(_budget(tmp_path, model_dir)), "--format", "junit",
                       "--output", str(report))
    assert (code, out) == (1, "")
    text = report.read_text(encoding="utf-8")
    assert "\x1b" not in text
    root = ET.fromstring(text)
    case = root.find(".//testcase")
    assert case is not None
    assert case.get("classname", "").startswith("x [/] \\x1b[31m\\nhetcalc check: PASS")
    failure = case.find("failure")
    assert failure is not None and "\n" not in failure.get("message", "")
    code, out, _ = cli("check", str(_budget(tmp_path, model_dir)), "--format", "junit")
    assert code == 1
    ET.fromstring(out)


def test_plan_file_comments_stay_comments(cli, tmp_path):
    directory = tmp_path / "a\nb [/]"
    directory.mkdir(parents=True)
    (directory / "net.py").write_text(MODEL, encoding="utf-8")
    spec = f"{directory}/net.py:build"
    written = tmp_path / "plan.toml"
    # standard: 3·8·9·64 + 8·8·9·64 = 13824 + 36864 MACs; p2 on the second conv:
    # 8·(8/2)·9·64 + 8·(8 - 8/2)·64 = 18432 + 2048 MACs, within a budget of 40000
    code, out, err = cli("plan", spec, "--input-shape", SHAPE, "--max-flops", "40000",
                         "--output", str(written))
    assert code == 0, err
    plan = tomllib.loads(written.read_text(encoding="utf-8"))
    assert plan["plan"]["model"] == spec  # the exact spec, as a TOML string
    header = [line for line in written.read_text(encoding="utf-8").splitlines()
              if line.startswith("#")]
    assert any("a\\nb [/]" in line for line in header)


def test_check_names_a_discovered_file_on_one_line(cli, tmp_path, model_dir, monkeypatch):
    directory = tmp_path / "ci\nhetcalc check: PASS"
    directory.mkdir()
    _budget(tmp_path, model_dir).rename(directory / "budgets.toml")
    monkeypatch.chdir(directory)
    code, _, err = cli("check")
    assert code == 1, err
    assert "ci\\nhetcalc check: PASS/budgets.toml" in err.splitlines()[0]
    _no_forged_line(err)
