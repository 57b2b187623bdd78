"""One translator from library arguments to flags (hetcalc/cli/errors.py): every command has
its table, and a library error naming an argument reaches the terminal naming the flag."""

from __future__ import annotations

from hetcalc.cli.application import COMMANDS
from hetcalc.cli.errors import COMMAND_FLAGS, in_flag_terms
from hetcalc.errors import InvalidArgument


def test_every_registered_command_has_a_flag_table():
    assert set(COMMAND_FLAGS) == set(COMMANDS)


def test_a_library_argument_becomes_the_commands_flag():
    error = InvalidArgument("max_flops must be a count such as 100M, got 'x'",
                            argument="max_flops")
    assert in_flag_terms(error, "plan") == "--max-flops must be a count such as 100M, got 'x'"
    assert in_flag_terms(error, "analyze") == str(error)  # not a flag of analyze


def test_plan_and_check_speak_in_flags(cli, tmp_path, monkeypatch):
    code, _, err = cli("plan", "vgg16_cifar", "--max-latency-ms", "5", "--time-budget", "0")
    assert (code, err.startswith("hetcalc: error: --time-budget must be")) == (2, True), err
    monkeypatch.chdir(tmp_path)
    (tmp_path / "budgets.toml").write_text('[[model]]\nname = "vgg16_cifar"\n'
                                           'max_flops = "1G"\n', encoding="utf-8")
    code, _, err = cli("check", "budgets.toml", "--baseline", "b.json", "--tolerance", "x")
    assert (code, err.startswith("hetcalc: error: --tolerance: ")) == (2, True), err
