"""Plots (the ``plot`` extra): drawn on their own figure, never through pyplot or a change of
the host program's matplotlib backend, and written atomically."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


def test_curve_plot_draws_a_png(cli, tmp_path):
    target = tmp_path / "curve.png"
    code, out, err = cli("curve", "--plot", str(target))
    assert code == 0, err
    assert target.read_bytes().startswith(PNG) and f"plot written to {target}" in out
    assert sorted(os.listdir(tmp_path)) == ["curve.png"]  # no temporary file left


def test_plots_leave_the_backend_and_pyplot_alone(tmp_path):
    code = f"""
        import sys
        import matplotlib
        from hetcalc.curve import speedup_curve
        from hetcalc.plot import plot_comparison, plot_curve

        plot_curve(speedup_curve(), (3, 3), {str(tmp_path / 'curve.png')!r})
        plot_comparison(["baseline", "p4"], [314_017_792, 106_399_744], [4.1, 2.2], "vgg",
                        {str(tmp_path / 'compare.png')!r})
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        assert "matplotlib.pyplot" not in sys.modules
    """
    env = {**os.environ, "MPLBACKEND": "svg",
           "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    for name in ("curve.png", "compare.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG)


def test_a_plot_that_cannot_be_written_is_exit_2_before_any_work(cli, tmp_path):
    target = tmp_path / "missing" / "curve.png"
    assert cli("curve", "--plot", str(target)) == (
        2, "", f"hetcalc: error: --plot {target}: cannot write it (No such file or directory)\n")
