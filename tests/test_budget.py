"""``hetcalc check`` on valid budget files: verdicts, limits met exactly, output formats, and the
verdict on stderr. Invalid files are in test_budget_schema.py, baselines in
test_budget_baseline.py.

Expected values are the paper's arithmetic, written out below, not what the code under test
computes. The CLI runs in-process; each distinct (model, input shape) is traced once for the
whole module (the ``trace_once`` fixture of conftest.py).
"""

from __future__ import annotations

import json
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from checking import run, write

from hetcalc.cli import main
from hetcalc.cli.check import CheckFormat

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "budgets.toml"

# VGG-16 for CIFAR-10 (hetcalc.models.cifar) on 1x3x32x32: 13 3x3 convolutions without bias,
# each followed by BN; classifier Linear 512->512, BN, Linear 512->10. FLOPs are MACs (Eq. 1 per
# conv: Do² · M · N · K²), as fvcore counts them: BN is 2 per element, max-pooling 0.
VGG_CONV_MACS = (32 * 32 * 9 * (3 * 64 + 64 * 64)  # 39,518,208
                 + 16 * 16 * 9 * (64 * 128 + 128 * 128)  # 56,623,104
                 + 8 * 8 * 9 * (128 * 256 + 2 * 256 * 256)  # 94,371,840
                 + 4 * 4 * 9 * (256 * 512 + 2 * 512 * 512)  # 94,371,840
                 + 2 * 2 * 9 * (3 * 512 * 512))  # 28,311,552
VGG_FIRST_CONV_MACS = 32 * 32 * 9 * 3 * 64  # stays standard
VGG_BN_ELEMENTS = (32 * 32 * 2 * 64 + 16 * 16 * 2 * 128 + 8 * 8 * 3 * 256 + 4 * 4 * 3 * 512
                   + 2 * 2 * 3 * 512 + 512)
VGG_MACS = 314_017_792  # VGG_CONV_MACS + 512 * 512 + 512 * 10 + 2 * VGG_BN_ELEMENTS
# HetConv P=4, K²=9 (Eqs. 2-4): FL_HC = Do²·N·M·(9/4 + 3/4) = FL_S / 3 for every other conv.
VGG_P4_MACS = 106_399_744  # VGG_MACS - (VGG_CONV_MACS - VGG_FIRST_CONV_MACS) * 2 / 3
# P=2: FL_HC = Do²·N·M·(9/2 + 1/2) = FL_S · 5/9.
VGG_P2_MACS = 175_605_760  # VGG_MACS - (VGG_CONV_MACS - VGG_FIRST_CONV_MACS) * 4 / 9
VGG_CONV_WEIGHTS = 9 * (3 * 64 + 64 * 64 + 64 * 128 + 128 * 128 + 128 * 256 + 2 * 256 * 256
                        + 256 * 512 + 5 * 512 * 512)  # 14,710,464
VGG_PARAMS = 14_987_722  # weights + BN 2·(64·2 + 128·2 + 256·3 + 512·6 + 512) + Linears
# The same one third (P=4) for the weights of every conv but the first (9 · 3 · 64).
VGG_P4_PARAMS = 5_181_898  # VGG_PARAMS - (VGG_CONV_WEIGHTS - 9 * 3 * 64) * 2 / 3
VGG_P4_REDUCTION = 1 - VGG_P4_MACS / VGG_MACS  # Eq. 5 on the convs: 207,618,048 MACs removed

# ResNet-56 for CIFAR-10: conv1 3->16, then 3 stages of 9 basic blocks (two 3x3 convs each) of
# 16, 32, 64 channels on 32², 16², 8²; BN after every conv; average pool; Linear 64->10.
RESNET56_MACS = 126_554_752
RESNET56_MACS_SUM = (32 * 32 * 9 * 3 * 16 + 18 * 32 * 32 * 9 * 16 * 16  # conv1, stage 1
                     + 16 * 16 * 9 * 16 * 32 + 17 * 16 * 16 * 9 * 32 * 32  # stage 2
                     + 8 * 8 * 9 * 32 * 64 + 17 * 8 * 8 * 9 * 64 * 64  # stage 3
                     + 2 * (19 * 32 * 32 * 16 + 18 * 16 * 16 * 32 + 18 * 8 * 8 * 64)  # BN
                     + 8 * 8 * 64  # adaptive average pool: 1 per input element (fvcore)
                     + 64 * 10)  # fc


def test_reference_numbers_are_the_arithmetic():
    assert VGG_CONV_MACS == 313_196_544 and VGG_BN_ELEMENTS == 276_992
    assert VGG_MACS == VGG_CONV_MACS + 512 * 512 + 512 * 10 + 2 * VGG_BN_ELEMENTS
    assert VGG_P4_MACS == VGG_MACS - (VGG_CONV_MACS - VGG_FIRST_CONV_MACS) * 2 // 3
    assert VGG_P2_MACS == VGG_MACS - (VGG_CONV_MACS - VGG_FIRST_CONV_MACS) * 4 // 9
    bn_params = 2 * (64 * 2 + 128 * 2 + 256 * 3 + 512 * 6 + 512)
    linear_params = 512 * 512 + 512 + 512 * 10 + 10
    assert VGG_CONV_WEIGHTS + bn_params + linear_params == VGG_PARAMS
    assert VGG_P4_PARAMS == VGG_PARAMS - (VGG_CONV_WEIGHTS - 9 * 3 * 64) * 2 // 3
    assert RESNET56_MACS == RESNET56_MACS_SUM


pytestmark = pytest.mark.usefixtures("trace_once")  # conftest.py: one trace per model


def headroom(limit: int, value: int) -> str:
    return f"{100 * (limit - value) / limit:+.2f}%"


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


# vgg16_cifar p4 is over 100M MACs and under 5.5M params; resnet56_cifar is under 130M MACs.
MIXED = """
[[model]]
model = "vgg16_cifar"
variant = "p4"
max_flops = "100M"
max_params = "5.5M"

[[model]]
name = "small"
model = "resnet56_cifar"
max_flops = 130_000_000
"""
MIXED_FAILURE = ("- vgg16_cifar p4: FLOPs (MACs) 106.40M is over the max_flops limit 100.00M "
                 "(headroom -6.40%)")


# ------------------------------------------------------------------ verdicts and the table

def test_example_budget_file_passes(capsys):
    code, out, err = run(capsys, str(EXAMPLE))
    assert code == 0
    assert "PASS: 10 checks of 4 entries, all within budget." in out
    assert "vgg16-cifar-p4 (vgg16_cifar)" in out
    assert err == f"hetcalc check: PASS: {EXAMPLE}: 10 checks of 4 entries within budget.\n"


def test_passing_and_failing_entries_exit_1_and_say_by_how_much(tmp_path, capsys):
    path = write(tmp_path, MIXED)
    code, out, err = run(capsys, str(path), "--format", "table")
    assert code == 1
    rows = [line for line in out.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert headroom(100_000_000, VGG_P4_MACS) == "-6.40%"
    assert cells == [
        ["vgg16_cifar", "p4", "FLOPs (MACs)", "106.40M", "max 100.00M", "-6.40%", "FAIL"],
        ["vgg16_cifar", "p4", "params", "5.18M", "max 5.50M",
         headroom(5_500_000, VGG_P4_PARAMS), "pass"],
        ["small (resnet56_cifar)", "std", "FLOPs (MACs)", "126.55M", "max 130.00M",
         headroom(130_000_000, RESNET56_MACS), "pass"],
    ]
    assert "FAIL: 1 of 3 checks over budget." in out
    assert MIXED_FAILURE in out
    assert err == f"hetcalc check: FAIL: {path}: 1 of 3 checks over budget.\n{MIXED_FAILURE}\n"


def test_defaults_apply_to_every_entry_unless_overridden(tmp_path, capsys):
    path = write(tmp_path, """
[defaults]
variant = "p4"
max_params = "6M"

[[model]]
model = "vgg16_cifar"

[[model]]
model = "vgg16_cifar"
variant = "std"
max_params = "15M"
""")
    code, out, _ = run(capsys, str(path), "--format", "json")
    entries = json.loads(out)["entries"]
    assert code == 0
    assert [(e["variant"], e["checks"]["params"]["limit"], e["checks"]["params"]["value"])
            for e in entries] == [("p4", 6_000_000, VGG_P4_PARAMS),
                                  ("std", 15_000_000, VGG_PARAMS)]


def test_min_reduction_is_a_floor(tmp_path, capsys):
    path = write(tmp_path, '[[model]]\nmodel = "vgg16_cifar"\nvariant = "p4"\n'
                           'min_reduction = "70%"\n')
    code, out, _ = run(capsys, str(path), "--format", "json")
    check = json.loads(out)["entries"][0]["checks"]["reduction"]
    assert code == 1
    assert check == {"value": VGG_P4_REDUCTION, "limit": 0.7, "bound": "min",
                     "headroom": pytest.approx((VGG_P4_REDUCTION - 0.7) / 0.7),
                     "verdict": "fail"}


def _limits(**limits: object) -> str:
    keys = "".join(f"{key} = {value!r}\n" for key, value in limits.items())
    return f'[[model]]\nmodel = "vgg16_cifar"\nvariant = "p4"\n{keys}'


# A limit exactly at the model's value passes; one unit past it fails. For min_reduction the
# unit is one float: the TOML float below is the same double as VGG_P4_REDUCTION.
@pytest.mark.parametrize(("limits", "verdicts"), [
    (_limits(max_flops=VGG_P4_MACS), {"flops": "pass"}),
    (_limits(max_flops=VGG_P4_MACS - 1), {"flops": "fail"}),
    (_limits(max_flops=str(VGG_P4_MACS)), {"flops": "pass"}),
    (_limits(max_params=VGG_P4_PARAMS), {"params": "pass"}),
    (_limits(max_params=VGG_P4_PARAMS - 1), {"params": "fail"}),
    (_limits(min_reduction=VGG_P4_REDUCTION), {"reduction": "pass"}),
    (_limits(min_reduction=VGG_P4_REDUCTION + 2**-53), {"reduction": "fail"}),
    (_limits(max_flops=VGG_P4_MACS, max_params=VGG_P4_PARAMS, min_reduction=VGG_P4_REDUCTION),
     {"flops": "pass", "params": "pass", "reduction": "pass"}),
], ids=["flops-on", "flops-1-under", "flops-on-string", "params-on", "params-1-under",
        "reduction-on", "reduction-1-float-over", "all-on"])
def test_a_value_on_its_limit_passes_and_one_unit_past_fails(tmp_path, capsys, limits,
                                                              verdicts):
    code, out, _ = run(capsys, str(write(tmp_path, limits)), "--format", "json")
    checks = json.loads(out)["entries"][0]["checks"]
    assert {metric: check["verdict"] for metric, check in checks.items()} == verdicts
    assert code == (0 if set(verdicts.values()) == {"pass"} else 1)


def test_max_latency_ms_measures_with_the_entry_settings(tmp_path, capsys, monkeypatch):
    from hetcalc import latency

    calls = []

    def fake_model_latency(spec, variant, input_shape, settings, include_first=False,
                           merge_pairs=False):
        calls.append((spec, variant.spec, input_shape, settings, include_first))
        return types.SimpleNamespace(median_ms=12.5, iqr_ms=0.5)

    monkeypatch.setattr(latency, "model_latency", fake_model_latency)
    path = write(tmp_path, """
[defaults]
device = "cpu"
dtype = "float32"

[[model]]
model = "vgg16_cifar"
variant = "p4"
max_latency_ms = 10
batch_size = 2
threads = 1
""")
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert "│ vgg16_cifar │ p4      │ latency (ms, median) │ 12.50 ± 0.50 ms │ max 10.00 ms │" \
        in out
    [(spec, variant, shape, settings, include_first)] = calls
    assert (spec, variant, shape, include_first) == ("vgg16_cifar", "p4", (1, 3, 32, 32), False)
    assert (settings.device, settings.batch_size, settings.threads, settings.dtype) == (
        "cpu", 2, 1, "float32")


TINY = ("from torch import nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))\n"
        "build.input_shape = (1, 3, 8, 8)\n")


def test_model_file_is_read_relative_to_the_budget_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "nets").mkdir()
    write(tmp_path / "nets", TINY, name="tiny.py")
    path = write(tmp_path, '[[model]]\nmodel = "nets/tiny.py:build"\nmax_flops = 10_000\n')
    monkeypatch.chdir(tmp_path.parent)
    code, out, _ = run(capsys, str(path), "--format", "json")
    entry = json.loads(out)["entries"][0]
    # Eq. 1 for both convs on 8x8 outputs: 8*8*3*8*9 + 8*8*8*8*9 MACs (bias adds not counted).
    assert entry["checks"]["flops"]["value"] == 8 * 8 * 3 * 8 * 9 + 8 * 8 * 8 * 8 * 9
    assert (code, entry["model"], entry["key"]) == (
        1, "nets/tiny.py:build", "nets/tiny.py:build std 1,3,8,8")


def test_a_duplicate_found_only_once_the_model_is_loaded_is_exit_2(tmp_path, capsys):
    """The default input shape of a model file is known once it is imported: an entry that
    then turns out to repeat an earlier one is reported at its evaluation."""
    write(tmp_path, TINY, name="tiny.py")
    path = write(tmp_path, '[[model]]\nmodel = "tiny.py:build"\ninput_shape = [1, 3, 8, 8]\n'
                           'max_flops = "1G"\n[[model]]\nmodel = "tiny.py:build"\n'
                           'max_flops = "2G"\n')
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: {path}: entry 2 (tiny.py:build): duplicates entry 1 "
                   "(tiny.py:build std 1,3,8,8); give one of them a distinct name\n")


def test_variant_that_fits_no_layer_names_the_entry(tmp_path, capsys):
    path = write(tmp_path, '[[model]]\nname = "odd"\nmodel = "vgg16_cifar"\nvariant = "p3"\n'
                           'max_flops = "1G"\n')
    code, _, err = run(capsys, str(path))
    assert code == 2
    assert err.startswith(f'hetcalc: error: {path}: entry 1 "odd" (vgg16_cifar): variant: '
                          "nothing replaced: p3 changed no layer of 13 convs (1 first conv (kept "
                          "as in the paper), 12 layers the variant does not fit); where it does "
                          "not fit: P=3 does not divide M=64 input channels (input channels "
                          "there: 64, 128, 256, 512); set allow_unchanged = true in this entry")


def test_a_no_op_passes_when_the_entry_expects_it(tmp_path, capsys):
    path = write(tmp_path, '[[model]]\nmodel = "mobilenet_cifar"\nvariant = "p4"\n'
                           'allow_unchanged = true\nmax_flops = "1G"\n')
    code, _, err = run(capsys, str(path))
    assert code == 0, err


def test_merge_dw_pw_in_an_entry_replaces_the_pairs(tmp_path, capsys):
    path = write(tmp_path, '[[model]]\nmodel = "mobilenet_cifar"\nvariant = "p32"\n'
                           'merge_dw_pw = true\nmax_flops = "1G"\n')
    code, out, err = run(capsys, str(path), "--format", "json")
    assert code == 0, err
    # the check costs what analyze --merge-dw-pw costs (each DW+PW pair -> one HetConv M -> N)
    from hetcalc.analysis import analyze
    from hetcalc.variants import parse_variant

    merged = analyze("mobilenet_cifar", parse_variant("p32"), merge_pairs=True, impl=None)
    assert merged.substituted
    assert json.loads(out)["entries"][0]["checks"]["flops"]["value"] == merged.flops_analytic


# ------------------------------------------------------------------ output formats

def test_json_is_one_object_per_entry_with_value_limit_and_verdict(tmp_path, capsys):
    code, out, _ = run(capsys, str(write(tmp_path, MIXED)), "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert (document["file"].endswith("budgets.toml"), document["unit"],
            document["verdict"]) == (True, "MAC", "fail")
    first, second = document["entries"]
    assert first["checks"] == {
        "flops": {"value": VGG_P4_MACS, "limit": 100_000_000, "bound": "max",
                  "headroom": pytest.approx((100_000_000 - VGG_P4_MACS) / 100_000_000),
                  "verdict": "fail"},
        "params": {"value": VGG_P4_PARAMS, "limit": 5_500_000, "bound": "max",
                   "headroom": pytest.approx((5_500_000 - VGG_P4_PARAMS) / 5_500_000),
                   "verdict": "pass"},
    }
    assert (first["model"], first["variant"], first["input_shape"], first["verdict"]) == (
        "vgg16_cifar", "p4", [1, 3, 32, 32], "fail")
    assert (second["name"], second["key"], second["verdict"]) == ("small", "small", "pass")
    assert second["checks"]["flops"]["value"] == RESNET56_MACS
    assert first["regression"] is None


def test_markdown_is_a_table(tmp_path, capsys):
    code, out, _ = run(capsys, str(write(tmp_path, MIXED)), "--format", "markdown")
    lines = out.splitlines()
    header = lines.index("| model | variant | metric | value | limit | headroom | verdict |")
    assert code == 1
    assert lines[header + 1] == "|---|---|---|---:|---:|---:|---|"
    rows = lines[header + 2:header + 5]
    assert all(row.startswith("| ") and row.count(" | ") == 6 for row in rows)
    assert rows[0].endswith("| FAIL |") and lines[header + 5] == ""


def test_junit_is_valid_junit_xml(tmp_path, capsys):
    code, out, _ = run(capsys, str(write(tmp_path, MIXED)), "--format", "junit")
    root = ET.fromstring(out.encode("utf-8"))
    assert code == 1
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("vgg16_cifar", "p4 max_flops"), ("vgg16_cifar", "p4 max_params"),
        ("small (resnet56_cifar)", "std max_flops")]
    failures = [c.find("failure") for c in cases]
    assert [f is not None for f in failures] == [True, False, False]
    assert failures[0].get("type") == "OverBudget"
    assert "106.40M is over the max_flops limit 100.00M" in failures[0].get("message")
    for element in (root, suite):
        assert (element.get("tests"), element.get("failures"), element.get("errors"),
                element.get("skipped")) == ("3", "1", "0", "0")
    assert all(c.get("time") == "0" for c in cases)


@pytest.mark.parametrize("fmt", list(CheckFormat))
@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "output-file"])
def test_the_verdict_and_every_failure_go_to_stderr_whatever_the_format(tmp_path, capsys, fmt,
                                                                         to_file):
    """A CI log shows why the job failed even when the report is JSON or goes to a file."""
    path = write(tmp_path, MIXED)
    output = ["--output", str(tmp_path / "report")] if to_file else []
    code, out, err = run(capsys, str(path), "--format", fmt.value, *output)
    assert code == 1
    assert err == f"hetcalc check: FAIL: {path}: 1 of 3 checks over budget.\n{MIXED_FAILURE}\n"
    assert (out == "") is to_file


def test_output_file_and_github_step_summary(tmp_path, capsys, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    report = tmp_path / "report.xml"
    code, out, err = run(capsys, str(write(tmp_path, MIXED)), "--format", "junit",
                         "--output", str(report))
    assert (code, out) == (1, "")
    assert err.startswith("hetcalc check: FAIL: ")
    assert ET.parse(report).getroot().get("failures") == "1"
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### budget check: ")
    assert "| model | variant | metric | value | limit | headroom | verdict |" in text


def test_step_summary_that_cannot_be_written_is_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a directory
    code, _, err = run(capsys, str(write(tmp_path, MIXED)), "--format", "json")
    assert code == 2
    assert err == (f"hetcalc: error: $GITHUB_STEP_SUMMARY {tmp_path}: cannot append the "
                   "summary to it (Is a directory)\n")


@pytest.mark.parametrize("fmt", list(CheckFormat))
def test_every_format_writes_the_example(tmp_path, capsys, fmt):
    output = tmp_path / f"out.{fmt.value}"
    code, out, err = run(capsys, str(EXAMPLE), "--format", fmt.value, "--output", str(output))
    text = output.read_text(encoding="utf-8")
    assert (code, out) == (0, "")
    assert err.startswith("hetcalc check: PASS: ") and err.count("\n") == 1
    assert "vgg16-cifar-p4" in text and "resnet56_cifar" in text


# ------------------------------------------------------------------ discovery

def test_finds_tool_hetcalc_in_pyproject_from_a_subdirectory(tmp_path, capsys, monkeypatch):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")  # a repository to git
    write(tmp_path, """
[project]
name = "mine"

[tool.hetcalc.defaults]
variant = "p4"

[[tool.hetcalc.model]]
model = "vgg16_cifar"
max_flops = "110M"
""", name="pyproject.toml")
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "src" / "pkg")
    code, out, _ = run(capsys, "--format", "markdown")
    assert code == 0
    assert "### budget check: " in out and "pyproject.toml [tool.hetcalc]" in out


def test_budgets_toml_wins_over_pyproject(tmp_path, capsys, monkeypatch):
    write(tmp_path, '[[tool.hetcalc.model]]\nmodel = "vgg16_cifar"\nmax_flops = 1\n',
          name="pyproject.toml")
    write(tmp_path, '[[model]]\nmodel = "vgg16_cifar"\nmax_flops = "1G"\n')
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "--format", "markdown")
    assert code == 0 and "### budget check: budgets.toml" in out


def test_check_help():
    assert main(["check", "--help"]) == 0


def test_a_batch_of_two_costs_two_images(tmp_path, capsys):
    path = write(tmp_path, '[[model]]\nmodel = "vgg16_cifar"\nvariant = "p4"\n'
                           'input_shape = [2, 3, 32, 32]\nmax_flops = "1G"\n')
    code, out, err = run(capsys, str(path), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["entries"][0]["checks"]["flops"]["value"] == 2 * 106_399_744


@pytest.mark.parametrize(("timings", "code", "calls", "says"), [
    # 10 ms limit; a timing 12.5 ± 0.5 (12.25 to 12.75) is clearly over it: one timing, exit 1
    ([(12.5, 0.5)], 1, 1, "12.50 ± 0.50 ms"),
    # 10.2 ± 1.0 (9.7 to 10.7) straddles 10: timed again, 9.0 ± 0.4 (8.8 to 9.2) is under it
    ([(10.2, 1.0), (9.0, 0.4)], 0, 2, "9.00 ± 0.40 ms"),
    # straddling twice: the machine cannot decide; the entry is not evaluated, exit 2
    ([(10.2, 1.0), (9.9, 0.6)], 2, 2, "the latency's spread straddles the limit each time"),
])
def test_a_latency_whose_spread_straddles_the_limit_is_timed_again_then_refused(
        tmp_path, capsys, monkeypatch, timings, code, calls, says):
    from hetcalc import latency

    given = iter(timings)
    made = []

    def fake_model_latency(*args, **kwargs):
        median, iqr = next(given)
        made.append(median)
        return types.SimpleNamespace(median_ms=median, iqr_ms=iqr)

    monkeypatch.setattr(latency, "model_latency", fake_model_latency)
    path = write(tmp_path, '[[model]]\nmodel = "vgg16_cifar"\nvariant = "p4"\n'
                           'max_latency_ms = 10\ndevice = "cpu"\n')
    got, out, err = run(capsys, str(path))
    assert (got, len(made)) == (code, calls)
    assert says in out + err
