"""The conventions a terminal program is expected to honour: colour (NO_COLOR, FORCE_COLOR,
TERM=dumb), progress only on a terminal, and HETCALC_DEBUG=1 as ``--debug``. Each case runs
hetcalc in a fresh process, its stdout a pipe or a pseudo-terminal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from terminal import on_a_terminal

ESC = "\x1b"
COMMAND = [sys.executable, "-m", "hetcalc", "models", "resnet1*"]  # answers without torch


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "TERM", "HETCALC_DEBUG", "COLUMNS")}
    return {**env, "TERM": "xterm-256color", **extra}


def _on_a_terminal(**extra: str) -> str:
    """stdout of COMMAND written to a pseudo-terminal."""
    code, text, err = on_a_terminal(COMMAND[3:], _env(**extra))
    assert code == 0, err
    return text


def _piped(**extra: str) -> str:
    done = subprocess.run(COMMAND, capture_output=True, text=True, env=_env(**extra), timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_terminal_gets_styles_and_a_pipe_plain_text():
    assert ESC in _on_a_terminal()  # the headers are bold
    assert ESC not in _piped()


def test_term_dumb_and_no_color():
    assert ESC not in _on_a_terminal(TERM="dumb")
    # NO_COLOR removes colours (SGR 30-38, 90-97), not emphasis: the bold headers may stay
    shown = _on_a_terminal(NO_COLOR="1")
    assert not any(f"{ESC}[{code}" in shown for code in (*range(30, 39), *range(90, 98)))


def test_force_color_styles_a_pipe():
    assert ESC in _piped(FORCE_COLOR="1")


@pytest.mark.parametrize("value, traceback", [("1", True), ("yes", True), ("0", False),
                                              ("", False), ("off", False)])
def test_hetcalc_debug_is_the_environments_debug(value, traceback):
    done = subprocess.run([sys.executable, "-m", "hetcalc", "analyze", "resnet50", "--P", "0"],
                          capture_output=True, text=True, env=_env(HETCALC_DEBUG=value),
                          timeout=60)
    assert done.returncode == 2
    assert ("Traceback" in done.stderr) is traceback, done.stderr
    assert done.stderr.rstrip().splitlines()[-1].startswith("hetcalc: error: --P")


MODEL = """
from torch import nn

def build():
    model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))
    return model

build.input_shape = (1, 8, 8, 8)
"""


def test_progress_is_not_shown_when_stderr_is_not_a_terminal(tmp_path):
    (tmp_path / "tiny.py").write_text(MODEL, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "hetcalc", "compare", "tiny.py:build",
                           "--variants", "p4", "--time-budget", "0.02", "--impl", "exact",
                           "-f", "json"], capture_output=True, text=True, cwd=tmp_path,
                          env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
