"""How the command line behaves around its commands: help, version, usage errors, --debug,
completion, and the mapping of every failure to one line and an exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hetcalc
from hetcalc.cli.errors import in_flag_terms
from hetcalc.errors import HetcalcError, InvalidArgument, UnknownModel
from hetcalc.realizations import IMPL_NAMES

ROOT = Path(__file__).parent.parent


def test_bare_hetcalc_prints_the_help_and_exits_0(cli):
    code, out, err = cli()
    assert (code, err) == (0, "")
    assert out.startswith("Usage: hetcalc [OPTIONS] COMMAND [ARGS]...")
    for command in ("analyze", "compare", "check", "models", "curve", "designs"):
        assert f"\n  {command} " in out


def test_version(cli):
    assert cli("--version") == (0, f"hetcalc {hetcalc.__version__}\n", "")
    assert hetcalc.__version__ == "0.1.0"


def test_help_names_completion_and_the_global_options(cli):
    code, out, _ = cli("--help")
    assert code == 0
    for option in ("--version", "--debug", "--install-completion", "--show-completion"):
        assert option in out


@pytest.mark.parametrize(("args", "command"), [
    (["analyze"], "hetcalc analyze"),
    (["analyze", "vgg16_cifar", "--P"], "hetcalc analyze"),
    (["compare", "--frobnicate"], "hetcalc compare"),
    (["curve", "--max-part", "many"], "hetcalc curve"),
    (["models", "a", "b"], "hetcalc models"),
    (["--frobnicate"], "hetcalc"),
    (["frobnicate"], "hetcalc"),
])
def test_a_usage_error_points_to_its_commands_help(cli, args, command):
    code, out, err = cli(*args)
    assert (code, out) == (2, "")
    assert err.startswith("hetcalc: error: ") and err.endswith(f" (see '{command} --help')\n")
    assert err.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["--debug", "analyze", "resnet5"],  # before the command: for every command
    ["analyze", "resnet5", "--debug"],  # after it, as before
])
def test_debug_anywhere_shows_the_traceback(cli, args):
    code, _, err = cli(*args)
    assert code == 2 and "Traceback" in err
    assert err.splitlines()[-1].startswith("hetcalc: error: unknown model 'resnet5'")


def test_debug_is_not_sniffed_from_other_arguments(cli):
    """``--debug`` as the value of another option is that option's value, not the flag."""
    code, _, err = cli("analyze", "resnet5", "--variant", "--debug")
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1


def test_shell_completion_completes_commands_and_choices():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "_HETCALC_COMPLETE": "complete_bash"}
    for words, cword, expected in [("hetcalc ana", "1", "analyze"),
                                   ("hetcalc analyze --impl ", "3",
                                    "\n".join(IMPL_NAMES))]:
        result = subprocess.run([sys.executable, "-m", "hetcalc"], capture_output=True, text=True,
                                timeout=60, env={**env, "COMP_WORDS": words, "COMP_CWORD": cword})
        assert (result.returncode, result.stdout.strip()) == (0, expected), result.stderr


# --- library argument names become flags -----------------------------------------------------

@pytest.mark.parametrize(("command", "argument", "message", "expected"), [
    ("analyze", "min_run_time", "min_run_time must be positive seconds, got -1.0",
     "--time-budget must be positive seconds, got -1.0"),
    ("compare", "min_run_time", "min_run_time must be positive seconds, got nan",
     "--time-budget must be positive seconds, got nan"),
    ("analyze", "part", "part must be a positive integer, got '0'",
     "--P must be a positive integer, got '0'"),
    ("compare", "batch_size", "batch_size must be a positive integer, got 0",
     "--batch-size must be a positive integer, got 0"),
    ("compare", "impl", "impl must be one of exact, fast, got 'slow'",
     "--impl must be one of exact, fast, got 'slow'"),
    ("compare", "input_shape", "input_shape must be positive integers",
     "--input-shape must be positive integers"),
    ("compare", "device", "device cuda: no CUDA device", "--device cuda: no CUDA device"),
    ("compare", "dtype", "dtype must be one of float32", "--dtype must be one of float32"),
    ("compare", "threads", "threads must be positive", "--threads must be positive"),
    ("analyze", "variant", "variant 'q4' is unknown", "--variant 'q4' is unknown"),
    ("compare", "variants", "variants is empty", "--variants is empty"),
    ("designs", "max_length", "max_length must be from 1 to 8, got 0",
     "--max-length must be from 1 to 8, got 0"),
    ("designs", "bottleneck", "bottleneck must be a positive integer, got 0",
     "--bottleneck-channels must be a positive integer, got 0"),
    ("designs", "in_channels", "in_channels must be a positive integer, got 0",
     "--channels must be a positive integer, got 0"),
    ("designs", "out_channels", "out_channels must be a positive integer, got -1",
     "--out must be a positive integer, got -1"),
    ("curve", "kernel", "kernel must be positive, got 0x3", "--kernel must be positive, got 0x3"),
    # Left alone: a budget file's keys are not flags; an unknown name; a message that does not
    # begin with its argument; an error that names no argument.
    ("check", "min_run_time", "min_run_time must be positive", "min_run_time must be positive"),
    ("analyze", "rounds", "rounds must be a positive integer", "rounds must be a positive integer"),
    ("analyze", "part", "the part must be positive", "the part must be positive"),
    ("analyze", None, "part must be positive", "part must be positive"),
    ("analyze", "min_run_time_extra", "min_run_time_extra bad", "min_run_time_extra bad"),
])
def test_library_argument_names_become_flags(command, argument, message, expected):
    assert in_flag_terms(InvalidArgument(message, argument=argument), command) == expected


def test_only_invalid_argument_is_rewritten():
    assert in_flag_terms(UnknownModel("part of it"), "analyze") == "part of it"


def test_a_library_error_naming_its_argument_reaches_the_user_as_the_flag(cli):
    # hetcalc.settings.LatencySettings says "min_run_time ..."; analyze's flag is --time-budget
    assert cli("analyze", "vgg16_cifar", "--time-budget", "inf") == (
        2, "", "hetcalc: error: --time-budget must be a finite, positive number of seconds, "
               "got inf\n")
    assert cli("analyze", "vgg16_cifar", "--P", "0") == (
        2, "", "hetcalc: error: --P must be a positive integer (1, 2, 4, ...), got '0'\n")


# --- interrupts and bugs ------------------------------------------------------------------------

def _raise_in_analyze(monkeypatch, error: BaseException) -> None:
    from hetcalc.cli import analyze

    def fail(value):
        raise error

    monkeypatch.setattr(analyze, "parse_variant", fail)


def test_ctrl_c_in_a_command_is_one_line_and_130(cli, monkeypatch):
    _raise_in_analyze(monkeypatch, KeyboardInterrupt())
    assert cli("analyze", "vgg16_cifar") == (130, "", "hetcalc: interrupted\n")
    assert cli("--debug", "analyze", "vgg16_cifar") == (130, "", "hetcalc: interrupted\n")


def test_a_bug_is_exit_3_with_one_line(cli, monkeypatch):
    _raise_in_analyze(monkeypatch, RuntimeError("boom"))
    assert cli("analyze", "vgg16_cifar") == (
        3, "", "hetcalc: internal error: RuntimeError: boom (run again with --debug for the "
               "traceback)\n")
    with pytest.raises(RuntimeError, match="boom"):
        cli("analyze", "vgg16_cifar", "--debug")


def test_a_hetcalc_error_is_exit_2(cli, monkeypatch):
    _raise_in_analyze(monkeypatch, HetcalcError("model 'x' failed to trace"))
    assert cli("analyze", "vgg16_cifar") == (
        2, "", "hetcalc: error: model 'x' failed to trace\n")


# --- --output -----------------------------------------------------------------------------------

def test_output_replaces_the_file_and_leaves_no_temporary_file(cli, tmp_path):
    target = tmp_path / "curve.json"
    target.write_text("old")
    code, out, err = cli("curve", "-f", "json", "-o", str(target))
    assert (code, out, err) == (0, "", "")
    assert target.read_text().startswith("{") and os.listdir(tmp_path) == ["curve.json"]


@pytest.mark.parametrize(("target", "reason"), [
    ("missing/out.txt", "No such file or directory"),
    ("file.txt/out.txt", "Not a directory"),
])
def test_output_is_checked_before_any_work(cli, tmp_path, monkeypatch, target, reason):
    from hetcalc.cli import analyze

    (tmp_path / "file.txt").write_text("")
    monkeypatch.setattr(analyze, "parse_variant", lambda value: pytest.fail("ran the command"))
    path = tmp_path / target
    assert cli("analyze", "vgg16_cifar", "-o", str(path)) == (
        2, "", f"hetcalc: error: --output {path}: cannot write it ({reason})\n")


def test_plot_without_matplotlib_fails_before_any_work(cli, monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    for args in (["curve"], ["compare", "no_such_model"]):
        code, out, err = cli(*args, "--plot", str(tmp_path / "p.png"))
        assert (code, out) == (2, "")
        assert err == ("hetcalc: error: --plot needs matplotlib: pip install 'matplotlib>=3.7' into "
                       "hetcalc's environment (pipx: pipx inject hetcalc 'matplotlib>=3.7')\n")
