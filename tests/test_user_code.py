"""User code never decides hetcalc's outcome: a model's module, builder or forward that exits,
raises something odd, parses the command line, hangs, or declares its input shape, always ends
in hetcalc's own words (one line, exit 2), or in a real result.

The tests about the process's own exit code run ``python -m hetcalc`` (the console script's
path, ``sys.exit`` included); the others run the CLI in-process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hetcalc.cli.interrupts import caused_by_interrupt
from hetcalc.errors import InvalidArgument, ModelLoadError
from hetcalc.usercode import ModelTimeout, one_line, running_user_code, time_limit

ROOT = Path(__file__).parent.parent

HEADER = """\
import sys
import time
from torch import nn
"""

SMALL = "nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3))"
"""At 1,3,8,8: 8*3*9*36 + 8*8*9*16 = 7,776 + 9,216 = 16,992 MACs."""


def _model_file(directory: Path, name: str, body: str) -> str:
    (directory / name).write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    return name


def _hetcalc(cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hetcalc", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


def _one_line(stderr: str) -> str:
    assert stderr.startswith("hetcalc: error: ") and stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    return stderr


# --- the process's exit code ----------------------------------------------------------------------

def test_check_with_an_over_budget_entry_and_an_exiting_builder_exits_2(tmp_path):
    """Exit 2, not 1: the second entry's model cannot be evaluated, which makes the run invalid
    (exit 2, as for a model that fails to build); the first is shown all the same. Never 0:
    before, the builder's ``sys.exit(0)`` became the process's exit code, with no output, and
    the gate passed."""
    _model_file(tmp_path, "nets.py", f"""
        def small():
            return {SMALL}
        small.input_shape = (1, 3, 8, 8)

        def quits():
            sys.exit(0)
    """)
    (tmp_path / "budgets.toml").write_text(
        '[[model]]\nmodel = "nets.py:small"\nmax_flops = 1\n\n'
        '[[model]]\nmodel = "nets.py:quits"\nmax_flops = "1G"\n', encoding="utf-8")
    result = _hetcalc(tmp_path, "check", "budgets.toml")
    assert result.returncode == 2, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("hetcalc: error: ")]
    assert "entry 2 (nets.py:quits)" in line and "it called sys.exit(0)" in line
    assert "Traceback" not in result.stderr and "nets.py:small" in result.stdout


@pytest.mark.parametrize("where", ["import", "builder", "forward"])
def test_system_exit_anywhere_in_the_model_is_one_line_and_exit_2(tmp_path, where):
    _model_file(tmp_path, "net.py", f"""
        if {where == "import"}:
            sys.exit(0)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = {SMALL}

            def forward(self, x):
                if {where == "forward"}:
                    sys.exit(0)
                return self.body(x)

        def build():
            if {where == "builder"}:
                sys.exit(0)
            return Net()
    """)
    result = _hetcalc(tmp_path, "analyze", "net.py:build", "--input-shape", "1,3,8,8")
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    line = _one_line(result.stderr)
    assert line.startswith("hetcalc: error: model 'net.py:build'")
    assert line.endswith("it called sys.exit(0)\n")


def test_an_exception_that_only_says_keyboardinterrupt_is_exit_2_not_130(tmp_path):
    _model_file(tmp_path, "net.py", """
        def build():
            raise RuntimeError("KeyboardInterrupt in the words only")
    """)
    result = _hetcalc(tmp_path, "analyze", "net.py:build")
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", "hetcalc: error: model 'net.py:build': building it failed: KeyboardInterrupt in "
               "the words only\n")


def test_a_keyboardinterrupt_raised_in_the_builder_stays_an_interrupt(tmp_path):
    _model_file(tmp_path, "net.py", """
        def build():
            raise KeyboardInterrupt
    """)
    result = _hetcalc(tmp_path, "analyze", "net.py:build")
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "hetcalc: interrupted\n")


def test_argparse_at_import_sees_a_clean_command_line_and_prints_go_to_stderr(tmp_path):
    """The module parses ``sys.argv`` at import and prints: it sees ``[net.py]``, never
    hetcalc's arguments, and what it prints does not spoil the JSON on standard output."""
    _model_file(tmp_path, "net.py", f"""
        import argparse
        import json

        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1)
        parser.parse_args()
        print("training script imported")
        with open("argv.json", "w") as seen:
            json.dump(sys.argv, seen)

        def build():
            print("building")
            return {SMALL}
    """)
    result = _hetcalc(tmp_path, "analyze", "net.py:build", "--input-shape", "1,3,8,8",
                      "--P", "4", "-f", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "argv.json").read_text()) == ["net.py"]
    assert json.loads(result.stdout)["input_shape"] == [1, 3, 8, 8]
    assert "training script imported" in result.stderr and "building" in result.stderr


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="--timeout needs SIGALRM")
def test_timeout_ends_a_sleeping_builder_with_one_line(tmp_path):
    """Timed from the moment the builder starts (torch's import is no part of it): 2 s of limit,
    well under 15 s to the end of the process, where the builder would sleep 60."""
    _model_file(tmp_path, "net.py", """
        def build():
            with open("started", "w") as started:
                started.write(repr(time.time()))
            time.sleep(60)
    """)
    result = _hetcalc(tmp_path, "analyze", "net.py:build", "--timeout", "2")
    ended = time.time()
    started = float((tmp_path / "started").read_text())
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", "hetcalc: error: model 'net.py:build' did not finish in 2 s (--timeout)\n")
    assert ended - started < 15


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="--timeout needs SIGALRM")
def test_a_builder_that_swallows_the_timeout_is_ended_10_s_later(tmp_path):
    """``except BaseException: pass`` in a loop stops neither the alarm nor Ctrl-C: the CLI
    ends the process 10 s (IGNORED_TIMEOUT_GRACE) after the limit, with the timeout's line."""
    _model_file(tmp_path, "net.py", """
        def build():
            with open("started", "w") as started:
                started.write(repr(time.time()))
            while True:
                try:
                    time.sleep(1)
                except BaseException:
                    pass
    """)
    result = _hetcalc(tmp_path, "analyze", "net.py:build", "--timeout", "1")
    ended = time.time()
    started = float((tmp_path / "started").read_text())
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", "hetcalc: error: model 'net.py:build' did not finish in 1 s (--timeout), and its "
               "code went on 10 s more, ignoring it\n")
    assert 1 + 10 <= ended - started < 1 + 10 + 10


# --- in-process: what the one line says ------------------------------------------------------------

@pytest.fixture
def nets(tmp_path, monkeypatch):
    """A model file of misbehaving builders in a fresh directory (the current one)."""
    monkeypatch.chdir(tmp_path)
    _model_file(tmp_path, "nets.py", f"""
        class Odd(BaseException):
            pass

        class Net(nn.Module):
            def __init__(self, action=None):
                super().__init__()
                self.body = {SMALL}
                self.action = action

            def forward(self, x):
                if self.action is not None:
                    self.action()
                return self.body(x)

        def generator_exit():
            raise GeneratorExit

        def recursion():
            return recursion()

        def forward_recursion():
            return Net(recursion)

        def odd():
            raise Odd("what is this")

        def exit_with_text():
            sys.exit("first\\nsecond")

        def multiline():
            raise ValueError("first line\\n  second line\\n\\nlast line")

        def long_message():
            raise ValueError("y" * 5000)

        def sleeps():
            time.sleep(60)

        def module_shape():
            model = Net()
            model.input_shape = (1, 3, 10, 10)
            return model

        def both_shapes():
            model = Net()
            model.input_shape = (1, 3, 12, 12)
            return model
        both_shapes.input_shape = (1, 3, 16, 16)

        def builder_shape():
            return Net()
        builder_shape.input_shape = (1, 3, 14, 14)

        def gray():
            return nn.Conv2d(1, 4, 3)
    """)
    return "nets.py"


@pytest.mark.parametrize(("builder", "line"), [
    ("generator_exit", "hetcalc: error: model 'nets.py:generator_exit': building it failed: it "
                       "raised GeneratorExit\n"),
    ("recursion", "hetcalc: error: model 'nets.py:recursion': building it failed: maximum "
                  "recursion depth exceeded\n"),
    ("forward_recursion", "hetcalc: error: model 'nets.py:forward_recursion' failed to trace "
                          "with input shape 1,3,8,8: maximum recursion depth exceeded\n"),
    ("odd", "hetcalc: error: model 'nets.py:odd': building it failed: it raised Odd: what is "
            "this\n"),
    ("exit_with_text", "hetcalc: error: model 'nets.py:exit_with_text': building it failed: it "
                       "called sys.exit('first\\nsecond')\n"),
    ("multiline", "hetcalc: error: model 'nets.py:multiline': building it failed: first line "
                  "second line last line\n"),
])
def test_what_the_model_raised_is_one_line_naming_it(cli, nets, builder, line):
    assert cli("analyze", f"{nets}:{builder}", "--input-shape", "1,3,8,8") == (2, "", line)


def test_a_long_message_is_cut(cli, nets):
    code, out, err = cli("analyze", f"{nets}:long_message")
    # 300 characters kept of the model's own message: 299 and the ellipsis
    assert (code, out, err) == (2, "", "hetcalc: error: model 'nets.py:long_message': building "
                                       "it failed: " + "y" * 299 + "…\n")


def _input_shape(cli, *args: str) -> list[int]:
    code, out, err = cli("analyze", *args, "--P", "4", "-f", "json")
    assert code == 0, err
    return json.loads(out)["input_shape"]


def test_the_module_declares_its_input_shape(cli, nets):
    assert _input_shape(cli, f"{nets}:module_shape") == [1, 3, 10, 10]
    assert _input_shape(cli, f"{nets}:builder_shape") == [1, 3, 14, 14]
    # the module's wins over the builder's, and --input-shape over both
    assert _input_shape(cli, f"{nets}:both_shapes") == [1, 3, 12, 12]
    assert _input_shape(cli, f"{nets}:both_shapes", "--input-shape", "1,3,9,9") == [1, 3, 9, 9]


def test_check_reads_the_modules_input_shape(cli, nets, tmp_path):
    (tmp_path / "budgets.toml").write_text(
        f'[[model]]\nmodel = "{nets}:module_shape"\nmax_params = "1M"\n', encoding="utf-8")
    code, out, err = cli("check", "budgets.toml", "-f", "json")
    assert code == 0, err
    (entry,) = json.loads(out)["entries"]
    assert entry["input_shape"] == [1, 3, 10, 10]


@pytest.mark.parametrize(("shape", "shown"), [
    ("(1, 3, 0, 32)", "(1, 3, 0, 32)"),
    ("'1,3,32,32'", "'1,3,32,32'"),
    ("(1, 3, 32.0, 32)", "(1, 3, 32.0, 32)"),
    ("(3, 32)", "(3, 32)"),
    ("(1, 3, 2, 2, 2, 2)", "(1, 3, 2, 2, 2, 2)"),
    ("(1, True, 32, 32)", "(1, True, 32, 32)"),
    ("224", "224"),
    ("object()", "object"),
])
def test_a_bad_declared_input_shape_is_one_line_naming_the_model(cli, tmp_path, monkeypatch,
                                                                 shape, shown):
    monkeypatch.chdir(tmp_path)
    _model_file(tmp_path, "bad.py", f"""
        def build():
            model = nn.Conv2d(3, 8, 3)
            model.input_shape = {shape}
            return model
    """)
    code, out, err = cli("analyze", "bad.py:build")
    assert (code, out) == (2, "")
    assert _one_line(err).startswith(
        "hetcalc: error: model 'bad.py:build': the input_shape its module declares must be a "
        "tuple or list of 3 to 5 positive integers (N,C,L (1-D), N,C,H,W (2-D) or N,C,D,H,W")
    assert err.endswith(f", got {shown}\n")


def test_a_trace_that_fails_at_the_default_shape_suggests_input_shape(cli, nets):
    code, out, err = cli("analyze", f"{nets}:gray")
    assert (code, out) == (2, "")
    assert _one_line(err).startswith("hetcalc: error: model 'nets.py:gray' failed to trace at the "
                                     "default input shape 1,3,224,224 (the model declares none): ")
    assert err.endswith("; give the model's shape with --input-shape, or set input_shape (or "
                        "example_inputs) on the "
                        "module its builder returns\n")
    # at a shape the user gave, no such advice
    code, out, err = cli("analyze", f"{nets}:gray", "--input-shape", "1,3,8,8")
    assert code == 2 and "default" not in err and "--input-shape" not in err


def test_check_says_where_the_default_shape_goes(cli, nets, tmp_path):
    (tmp_path / "budgets.toml").write_text(
        f'[[model]]\nmodel = "{nets}:gray"\nmax_flops = "1G"\n', encoding="utf-8")
    code, out, err = cli("check", "budgets.toml")
    assert code == 2  # the entry is an error row of the report, and its line on stderr
    assert err.splitlines()[0].endswith("that is hetcalc's default input shape (the model "
                                        "declares none): give the model's shape with "
                                        "input_shape in this entry")


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e9", "0.001"])
def test_timeout_out_of_range_is_refused_before_the_model_is_imported(cli, tmp_path,
                                                                      monkeypatch, value):
    monkeypatch.chdir(tmp_path)
    _model_file(tmp_path, "net.py", """
        open("imported", "w").close()

        def build():
            return nn.Conv2d(3, 8, 3)
    """)
    code, out, err = cli("analyze", "net.py:build", "--timeout", value)
    assert (code, out) == (2, "")
    assert _one_line(err).startswith("hetcalc: error: --timeout must be a number of seconds "
                                     "from 0.01 to 86400 (one day), got ")
    assert not (tmp_path / "imported").exists()


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="--timeout needs SIGALRM")
def test_a_budget_entrys_timeout_ends_its_model(cli, nets, tmp_path):
    (tmp_path / "budgets.toml").write_text(
        f'[[model]]\nmodel = "{nets}:sleeps"\nmax_flops = "1G"\ntimeout = 0.5\n',
        encoding="utf-8")
    began = time.monotonic()
    code, out, err = cli("check", "budgets.toml")
    assert time.monotonic() - began < 15
    assert code == 2  # the entry is an error row of the report, and its line on stderr
    assert err.splitlines()[0].endswith(
        "entry 1 (nets.py:sleeps): timeout: model 'nets.py:sleeps' did not finish in 0.5 s "
        "(timeout = 0.5)")


# --- the last line of defence ----------------------------------------------------------------------

@pytest.mark.parametrize("raised", [SystemExit(0), SystemExit("bye"), GeneratorExit()])
def test_a_stray_exit_out_of_a_command_is_one_line_and_exit_2(cli, monkeypatch, raised):
    """Whatever a model's code raises where no guard stands: never its own exit code."""
    from hetcalc.cli import analyze

    def stray(value):
        raise raised

    monkeypatch.setattr(analyze, "parse_variant", stray)
    code, out, err = cli("analyze", "vgg16_cifar")
    assert (code, out) == (2, "")
    assert _one_line(err).startswith("hetcalc: error: code a model runs ended the command: it ")


def test_click_exits_are_not_system_exit(cli):
    """--help and --version end through Click's Exit, an Exception under make_context and
    invoke: they keep exit 0 and are not taken for a model's exit."""
    assert cli("analyze", "--help")[0] == 0
    assert cli("--version") == (0, "hetcalc 0.1.0\n", "")


# --- the library ---------------------------------------------------------------------------------

def test_only_a_real_keyboardinterrupt_is_an_interrupt():
    assert not caused_by_interrupt(RuntimeError("KeyboardInterrupt"))
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("wrapped") from None  # the context is kept
    except RuntimeError as wrapped:
        assert caused_by_interrupt(wrapped)
    cause = RuntimeError("outer")
    cause.__cause__ = KeyboardInterrupt()
    assert caused_by_interrupt(cause)


def test_running_user_code_puts_everything_back():
    argv, stdout = sys.argv, sys.stdout
    with pytest.raises(ModelLoadError, match=r"^model 'm': building it failed: it called "
                                             r"sys\.exit\(5\)$") as caught, \
            running_user_code("model 'm': building it failed", argv0="m.py"):
        assert sys.argv == ["m.py"] and sys.stdout is sys.stderr
        sys.argv = ["changed"]
        sys.exit(5)
    assert isinstance(caught.value.__cause__, SystemExit)
    assert (sys.argv, sys.stdout) == (argv, stdout)
    with pytest.raises(KeyboardInterrupt), running_user_code("x"):
        raise KeyboardInterrupt


def test_one_line_collapses_and_cuts():
    assert one_line("a\n b\t\tc\r\n") == "a b c"
    assert one_line("z" * 10, limit=5) == "zzzz…"


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="SIGALRM")
def test_time_limit_restores_the_handler_and_a_running_timer():
    def mine(signum, frame):
        raise AssertionError("not expected to fire")

    previous = signal.signal(signal.SIGALRM, mine)
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        with pytest.raises(ModelTimeout, match=r"^model 'm' did not finish in 0\.2 s "
                                               r"\(--timeout\)$"), time_limit(0.2, "m"):
            while True:  # code that swallows the first alarm is stopped at the next
                with contextlib.suppress(BaseException):  # the misbehaviour under test
                    time.sleep(5)
                with running_user_code("model 'm': building it failed"):
                    pass
        assert signal.getsignal(signal.SIGALRM) is mine
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < left <= 100
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_time_limit_checks_its_value():
    with pytest.raises(InvalidArgument, match="timeout must be a number of seconds from 0.01 to "
                                              "86400"):
        time_limit(float("inf"), "m")
    with time_limit(None, "m"):  # no limit
        pass
