"""The command line starts at once: help, version, curve and designs never import torch; the
choices repeated in the CLI to keep it torch-free match the library's; Ctrl-C is one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
HEAVY = ("torch", "torchvision", "fvcore")


def _python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def _registered_commands() -> list[str]:
    """Every command of the CLI, from its registry (the Typer application); importing the
    application is itself torch-free, which the subprocess below checks too."""
    from hetcalc.cli.application import app

    return [info.name or info.callback.__name__ for info in app.registered_commands]


def test_help_version_curve_and_designs_never_import_torch():
    commands = _registered_commands()
    assert {"analyze", "compare", "plan", "check", "models", "curve", "designs"} <= set(commands)
    invocations = [["--help"], ["--version"], [], ["curve"], ["curve", "-f", "json"],
                   ["designs", "--max-length", "3"], ["designs", "--channels", "64"],
                   # These fail before anything is imported:
                   ["analyze", "vgg16_cifar", "--P", "²"],
                   ["analyze", "vgg16_cifar", "-o", "/nonexistent/report.txt"],
                   ["compare", "--plot", "/nonexistent/plot.png"],
                   ["compare", "--time-budget", "nan"],
                   *([name, "--help"] for name in commands)]
    result = _python(f"""
        import sys
        from hetcalc.cli import main
        for args in {invocations!r}:
            code = main(args)
            loaded = [name for name in {HEAVY!r} if name in sys.modules]
            assert not loaded, (args, loaded)
            print("exit", code, args, file=sys.stderr)
    """)
    assert result.returncode == 0, result.stderr
    codes = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("exit ")]
    assert codes == ["0"] * 7 + ["2"] * 4 + ["0"] * len(commands), result.stderr


def test_python_dash_m_hetcalc_prints_the_version():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for module in ("hetcalc", "hetcalc.cli"):
        result = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True,
                                text=True, timeout=60, env=env)
        assert (result.returncode, result.stdout, result.stderr) == (0, "hetcalc 0.1.0\n", "")


def test_cli_choices_match_the_library():
    from hetcalc import latency, nn, substitute
    from hetcalc.cli import options

    assert [c.value for c in options.ImplChoice] == [i.value for i in nn.Impl]
    assert options.COUNTING_IMPL == substitute.DEFAULT_IMPL.value == "exact"
    assert options.TIMING_IMPL == latency.TIMING_IMPL.value == "auto"
    assert tuple(latency.TORCH_DTYPES) == latency.DTYPES


def test_ctrl_c_while_torch_is_imported_is_one_line_and_130():
    result = _python("""
        import sys

        class Interrupt:
            def find_spec(self, name, path=None, target=None):
                if name == "torch":
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, Interrupt())
        from hetcalc.cli import main
        sys.exit(main(["analyze", "vgg16_cifar", "--P", "4"]))
    """)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "hetcalc: interrupted\n")


def test_ctrl_c_while_building_the_application_is_one_line_and_130(cli, monkeypatch):
    import typer.main

    def interrupted(app):
        raise KeyboardInterrupt

    monkeypatch.setattr(typer.main, "get_command", interrupted)
    assert cli("--help") == (130, "", "hetcalc: interrupted\n")


@pytest.mark.skipif(os.name != "posix", reason="SIGINT as a terminal sends it")
def test_sigint_to_a_running_analysis_is_one_line_and_130():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # As from a terminal's foreground: SIGINT not ignored, even where the tests themselves were
    # started in the background of a shell without job control (which ignores it).
    process = subprocess.Popen([sys.executable, "-m", "hetcalc", "analyze", "resnet50", "--P", "4"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.0)  # inside main by now: importing torch or tracing
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out, err) == (130, "", "hetcalc: interrupted\n")


@pytest.mark.skipif(os.name != "posix", reason="sends itself SIGINT")
def test_ctrl_c_that_a_library_swallows_still_ends_the_run(cli, monkeypatch):
    import hetcalc.render.analysis as rendering

    real = rendering.render_analysis

    def swallowing(*args, **kwargs):
        try:  # what a finalizer or a careless library does with the KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)
        except KeyboardInterrupt:
            pass
        return real(*args, **kwargs)

    monkeypatch.setattr(rendering, "render_analysis", swallowing)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        assert cli("analyze", "vgg16_cifar", "--no-count") == (130, "", "hetcalc: interrupted\n")
        # and the next run in the same process is not taken for interrupted
        monkeypatch.setattr(rendering, "render_analysis", real)
        assert cli("analyze", "vgg16_cifar", "--no-count", "--totals")[0] == 0
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT dispositions are POSIX")
def test_an_ignored_sigint_stays_ignored():
    """Under nohup, or in the background of a shell without job control, SIGINT is ignored;
    hetcalc does not take it back."""
    code = """
        import os, signal, sys
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        from hetcalc.cli import main
        import hetcalc.cli.options as options
        real = options.emit
        def emit(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGINT)  # ignored: the run goes on
            return real(*args, **kwargs)
        options.emit = emit
        import hetcalc.cli.curve as curve
        curve.emit = emit
        sys.exit(main(["curve", "--max-part", "2", "-f", "json"]))
    """
    result = _python(code)
    assert result.returncode == 0 and result.stderr == "" and '"points"' in result.stdout
