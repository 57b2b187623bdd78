"""What a new user tripped on in the first hour, each pinned: words that fit what ran."""

from __future__ import annotations

import pytest

from hetcalc.settings import unreliable_note


def test_a_run_at_one_thread_is_not_told_to_rerun_at_one_thread():
    assert "--threads 1" in unreliable_note("--time-budget")
    assert "--threads 1" in unreliable_note("--time-budget", threads=2)
    one = unreliable_note("--time-budget", threads=1)
    assert "--threads 1" not in one and "a longer --time-budget" in one


@pytest.mark.parametrize(("variant", "counted_as"), [
    ("gwc4", "fvcore count of the substituted model, as built)"),
    ("dual4", "fvcore count of the substituted model, as built)"),
    ("p4", "fvcore count of the substituted model, exact HetConv)"),
])
def test_the_counted_row_names_a_hetconv_realization_only_where_one_ran(cli, variant,
                                                                         counted_as):
    code, out, _ = cli("analyze", "vgg16_cifar", "--variant", variant, "--totals", "--wide")
    assert code == 0
    assert counted_as in out
    if variant != "p4":
        assert "HetConv" not in out.split("FLOPs are multiply-accumulates")[0]


CONV1D = """
from torch import nn

def build():
    return nn.Sequential(nn.Conv1d(8, 16, 3, padding=1), nn.Conv1d(16, 16, 1),
                         nn.Conv1d(16, 1, 3, padding=1))

build.input_shape = (1, 8, 32)
"""


def test_a_conv1d_model_is_told_in_1d_words(cli, tmp_path):
    (tmp_path / "c1.py").write_text(CONV1D, encoding="utf-8")
    spec = f"{tmp_path / 'c1.py'}:build"
    code, out, _ = cli("analyze", spec, "--P", "4", "--include-first", "--impl", "fast",
                       "-f", "json")
    assert code == 0
    notes = {layer["name"]: layer["note"] for layer in __import__("json").loads(out)["layers"]}
    # 8 -> 16 at P = 4: the dense 1x1 also runs M/P = 2 channels, Lo·N·M/P = 32·16·2 = 1,024
    assert "Lo*N*M/P = 1,024 MACs more than Eq. 4" in notes["0"]
    assert notes["1"] == "kernel of size 1: no spatial kernel to make cheaper"
    # DWC+PWC on 16 -> 1 costs more: the formula is told with its 1-D legend
    code, out, _ = cli("analyze", spec, "--variant", "dwc", "--include-first", "--wide")
    assert "Do*Do stands for the output's positions (Lo for a 1-D conv)" in " ".join(out.split())


TINY = """
from torch import nn

def build():
    return nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))

build.input_shape = (1, 8, 8, 8)
"""


def test_compare_says_which_batch_each_column_is_of(cli, tmp_path):
    (tmp_path / "tiny.py").write_text(TINY, encoding="utf-8")
    spec = f"{tmp_path / 'tiny.py'}:build"
    args = ("compare", spec, "--variants", "p4", "--time-budget", "0.02", "--impl", "exact",
            "--wide")
    code, out, _ = cli(*args, "--batch-size", "8")
    assert code == 0
    assert "1,8,8,8: variants side by side; timed at batch 8" in out
    assert "FLOPs (MACs, analytic, batch 1)" in out and "latency ms at batch 8" in out
    assert "same as standard (1 layer)" in out  # one replaced layer: no plural
    code, out, _ = cli(*args)  # timed at the input's own batch: nothing to tell apart
    assert code == 0 and "timed at batch" not in out and "FLOPs (MACs, analytic)" in out


def test_a_torchvision_that_does_not_load_is_a_broken_install_not_a_bug(tmp_path):
    """A torchvision built for another torch fails at import ('operator torchvision::nms does
    not exist'): one line naming the fix, exit 2, not an internal error."""
    import os
    import subprocess
    import sys

    fake = tmp_path / "torchvision"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        'raise RuntimeError("operator torchvision::nms does not exist")\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "hetcalc", "analyze", "vgg16_cifar"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(
        "hetcalc: error: torchvision fails to load (RuntimeError: operator torchvision::nms "
        "does not exist): the installation is broken")


def test_timing_says_what_it_is_doing(tmp_path):
    """compare's bar is told each step (hetcalc.progress), not only the timed blocks: the
    minutes spent tuning, warming up and profiling are named as they happen."""
    from torch import nn

    from hetcalc.compare import compare
    from hetcalc.progress import listening
    from hetcalc.settings import LatencySettings
    from hetcalc.variants import parse_variant

    model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))
    said: list[str] = []
    with listening(said.append):
        compare(model, [parse_variant("p4")], (1, 8, 8, 8), include_first=True,
                latency=LatencySettings(device="cpu", min_run_time=0.02, rounds=3))
    assert said[:3] == ["tuning p4's HetConv realizations", "warming up baseline and p4",
                        "timing baseline and p4, interleaved"]
    assert "profiling the baseline's layers (the ceiling's time shares)" in said
    # nobody listening: nothing is said, nothing fails
    compare(model, [parse_variant("p4")], (1, 8, 8, 8), include_first=True,
            latency=LatencySettings(device="cpu", min_run_time=0.02, rounds=3))


def test_no_progress_is_accepted_by_the_commands_that_time(cli, tmp_path):
    (tmp_path / "tiny.py").write_text(TINY, encoding="utf-8")
    spec = f"{tmp_path / 'tiny.py'}:build"
    code, out, err = cli("compare", spec, "--variants", "p4", "--time-budget", "0.02",
                         "--no-progress", "-f", "json")
    assert (code, err) == (0, "")


def test_a_report_is_a_dict_and_a_table_without_the_cli(cli, tmp_path):
    """The library gives what the CLI prints: ``report.to_dict()`` is analyze's JSON, and the
    rendered report is rich-renderable (``rich.print(render_analysis(report))``)."""
    import io
    import json

    from rich.console import Console
    from torch import nn

    from hetcalc import analyze, parse_variant
    from hetcalc.render.analysis import render_analysis

    (tmp_path / "tiny.py").write_text(TINY, encoding="utf-8")
    spec = f"{tmp_path / 'tiny.py'}:build"
    report = analyze(spec, parse_variant("p4"), include_first=True)
    code, out, _ = cli("analyze", spec, "--P", "4", "--include-first", "-f", "json")
    assert code == 0 and report.to_dict() == json.loads(out)
    # two 3x3 convs 8 -> 8 on 8x8, P = 4: 2 * 8*8 * 8 * (8*9/4 + 8 - 8/4) = 24,576 MACs (Eq. 4)
    assert report.to_dict()["result"]["flops_analytic"] == 2 * 64 * 8 * (18 + 6) == 24_576
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(render_analysis(report))
    shown = console.file.getvalue()
    assert "24.58K" in shown and max(len(line) for line in shown.splitlines()) <= 80
    model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))
    assert analyze(model, parse_variant("p4"), input_shape=(1, 8, 8, 8),
                   include_first=True).to_dict()["result"]["flops_analytic"] == 24_576
