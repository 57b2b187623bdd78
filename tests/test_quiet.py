"""``--quiet`` (``-q``): nothing on stderr but errors, the exit code unchanged; and the progress
of timing only ever on an interactive terminal: never in a pipe, a file or a CI log, whatever
``FORCE_COLOR`` asks for (colour, not a bar drawn into the log).

The timed runs use a two-layer model and 0.02 s of timing; stderr is a pipe, or with the helper
of ``tests/terminal.py`` a pseudo-terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import typer.main
from terminal import on_a_terminal

from hetcalc.cli.application import app

MODEL = """
import warnings

from torch import nn


def build():
    warnings.warn("a warning from the model's code")
    return nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))


build.input_shape = (1, 8, 8, 8)
"""

TIMED = {
    "compare": ["compare", "tiny.py:build", "--variants", "p4", "--time-budget", "0.02",
                "--impl", "exact"],
    "plan": ["plan", "tiny.py:build", "--max-latency-ms", "1000", "--time-budget", "0.02",
             "--impl", "exact", "--choices", "p4"],
}
QUIET_COMMANDS = {"analyze", "compare", "plan", "check", "device"}
"""The commands that say anything on stderr besides errors: progress, notes, the verdict, the
warnings of the libraries and model code they run."""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TERM", "COLUMNS")}
    return {**env, "TERM": "xterm-256color", **extra}


def _piped(args: list[str], cwd, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hetcalc", *args], capture_output=True,
                          text=True, cwd=cwd, env=_env(**extra), timeout=300)


@pytest.fixture
def model(tmp_path):
    (tmp_path / "tiny.py").write_text(MODEL, encoding="utf-8")
    return tmp_path


def test_quiet_is_offered_where_stderr_says_more_than_errors():
    commands = typer.main.get_command(app).commands
    offered = {name for name, command in commands.items()
               if any("--quiet" in param.opts and "-q" in param.opts for param in command.params)}
    assert offered == QUIET_COMMANDS


@pytest.mark.parametrize("command", sorted(TIMED))
def test_progress_never_goes_into_a_pipe_even_with_force_color(command, model):
    # a CI log: stderr a pipe, colour forced as CI set-ups do
    done = _piped([*TIMED[command], "-f", "json"], model, FORCE_COLOR="1", TTY_COMPATIBLE="1")
    assert done.returncode == 0, done.stderr
    assert "UserWarning: a warning from the model's code" in done.stderr
    assert "\x1b" not in done.stderr and "tiny.py:build:" not in done.stderr, done.stderr
    quiet = _piped([*TIMED[command], "-q", "-f", "json"], model, FORCE_COLOR="1")
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert json.loads(quiet.stdout)["schema_version"] == 1


def test_progress_with_stdout_on_a_terminal_and_stderr_a_pipe(model):
    code, text, err = on_a_terminal(TIMED["compare"], _env(FORCE_COLOR="1"), cwd=model)
    assert code == 0, err
    assert "variants side by side" in text  # the table, on the terminal
    assert "a warning from the model's code" in err
    assert "tiny.py:build:" not in err and "\x1b" not in err, err


def test_on_a_terminal_progress_shows_and_quiet_or_no_progress_hide_it(model):
    args = [*TIMED["compare"], "-f", "json", "-o", "out.json"]
    code, shown, _ = on_a_terminal(args, _env(), cwd=model, stderr_too=True)
    assert code == 0, shown
    assert "tiny.py:build: " in shown  # the bar's text: what the timing is doing
    code, text, _ = on_a_terminal(args + ["--no-progress"], _env(), cwd=model, stderr_too=True)
    assert code == 0 and "tiny.py:build: " not in text, text
    assert "a warning from the model's code" in text
    code, text, _ = on_a_terminal(args + ["-q"], _env(), cwd=model, stderr_too=True)
    assert (code, text) == (0, "")  # no bar, and the model's warning goes unsaid too


def test_analyze_quiet_keeps_errors_and_exit_codes(model):
    loud = _piped(["analyze", "tiny.py:build", "--P", "4", "-f", "json"], model)
    quiet = _piped(["analyze", "tiny.py:build", "--P", "4", "-f", "json", "-q"], model)
    assert loud.returncode == quiet.returncode == 0
    assert "a warning from the model's code" in loud.stderr and quiet.stderr == ""
    assert loud.stdout == quiet.stdout
    bad = _piped(["analyze", "tiny.py:build", "--P", "0", "-q"], model)
    assert bad.returncode == 2 and bad.stderr.startswith("hetcalc: error: --P")
    assert bad.stderr.count("\n") == 1


BUDGET = """\
[[model]]
model = "tiny.py:build"
variant = "p4"
max_flops = 1000
"""
BROKEN = """
[[model]]
model = "tiny.py:nothing"
max_flops = 1000
"""


@pytest.mark.filterwarnings("ignore:a warning from the model")
def test_check_quiet_says_only_what_could_not_be_evaluated(cli, model, monkeypatch):
    monkeypatch.chdir(model)
    (model / "budgets.toml").write_text(BUDGET, encoding="utf-8")
    code, out, err = cli("check")  # found by searching: says which file it runs
    assert code == 1
    assert err.splitlines()[0] == f"hetcalc check: using {model / 'budgets.toml'}"
    assert err.splitlines()[1].startswith("hetcalc check: FAIL: budgets.toml: 1 of 1 check")
    quiet_code, quiet_out, quiet_err = cli("check", "--quiet")
    assert (quiet_code, quiet_err) == (1, "") and quiet_out == out  # the report is the same

    (model / "budgets.toml").write_text(BUDGET + BROKEN,
                                        encoding="utf-8")
    code, out, err = cli("check", "-q")
    assert code == 2  # an entry not evaluated
    assert err == ("hetcalc: error: budgets.toml: entry 2 (tiny.py:nothing): model: model "
                   f"'{model}/tiny.py:nothing': {model}/tiny.py has no function 'nothing'; "
                   "callables there: build\n")


def test_device_quiet_measures_without_a_word(capsys):
    from hetcalc.cli.device import _MeasuringNote

    note = _MeasuringNote()
    note("float32 matmul")
    note.close()
    assert capsys.readouterr().err == "hetcalc: measuring float32 matmul\n"  # not a terminal
    note = _MeasuringNote(quiet=True)
    note("float32 matmul")
    note.close()
    assert capsys.readouterr().err == ""
