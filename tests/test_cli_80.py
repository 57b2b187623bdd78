"""Every command's table on an 80-column terminal keeps every name and number whole.

Each registered command (the CLI's own registry: a new command must add its invocation here) is
run on a pseudo-terminal 80 columns wide and again on one 400 wide. Every line fits 80 columns,
and every word in the 80-column table's body is a word of the wide table's body (or a footnote
marker ``[n]``): a name or number broken across lines would leave pieces that are not. Words
only wrap where the table marks a column as prose, and then whole.
"""

from __future__ import annotations

import os
import re

import pytest
import typer.main
from terminal import on_a_terminal

from hetcalc.cli.application import app

BUDGET = '[[model]]\nmodel = "ssdlite320_mobilenet_v3_large"\nmax_flops = "1G"\n' \
         '[[model]]\nmodel = "vgg16_cifar"\nvariant = "p4"\nmax_flops = "200M"\n'

INVOCATIONS = {
    "analyze": ["analyze", "vgg16_cifar", "--P", "4"],
    "compare": ["compare", "vgg16_cifar", "--variants", "p4,pconv4,ghost2,dual4,gwc4,dwc",
                "--no-latency"],
    "plan": ["plan", "vgg16_cifar", "--max-flops", "150M"],
    "check": ["check", "{budget}"],
    "models": ["models", "*_mobilenet_v3_large"],
    "curve": ["curve"],
    "designs": ["designs", "--channels", "64", "--out", "128", "--bottleneck-channels", "32",
                "--budget-params", "100000"],
    "device": ["device", "--list"],
    "schema": ["schema", "analyze"],
}
BOX = re.compile(r"[│┃┏┓┗┛┡┩└┘┌┐├┤┬┴┼━─╇╈╋┳┻]")


def test_every_registered_command_has_an_invocation():
    assert set(INVOCATIONS) == set(typer.main.get_command(app).commands)


def _on_a_terminal(args: list[str], columns: int, cwd) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    code, text, err = on_a_terminal(args, {**env, "TERM": "xterm"}, columns, cwd)
    assert code in (0, 1), err  # check: 1 is an entry over budget
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # the styles (bold headers), not the text


def _body_words(text: str) -> list[str]:
    """The words of the tables' body rows (between the column rules), box characters dropped."""
    return [word for line in text.splitlines() if line.startswith("│")
            for word in BOX.sub(" ", line).split()]


@pytest.mark.parametrize("command", sorted(INVOCATIONS))
def test_eighty_columns_keep_names_and_numbers_whole(command, tmp_path):
    (tmp_path / "budgets.toml").write_text(BUDGET, encoding="utf-8")
    args = [a.replace("{budget}", str(tmp_path / "budgets.toml")) for a in INVOCATIONS[command]]
    narrow = _on_a_terminal(args, 80, tmp_path)
    wide = _on_a_terminal(args, 400, tmp_path)
    assert max(len(line) for line in narrow.splitlines()) <= 80, narrow
    whole = set(_body_words(wide))
    pieces = [word for word in _body_words(narrow)
              if word not in whole and not re.fullmatch(r"\[\d+\]", word)]
    assert pieces == [], narrow
