"""``hetcalc check``: budget files, verdicts, output formats, regression mode, and every way a
budget file can be wrong (one line on stderr naming the entry, the key and the value; exit 2).

The CLI runs in-process through :func:`hetcalc.cli.main`; each distinct (model, input shape) is
traced once for the whole module (see ``_trace_once``).
"""

from __future__ import annotations

import functools
import json
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hetcalc import analysis, budget
from hetcalc.budget import Check, Metric, parse_count, parse_fraction
from hetcalc.cli import main
from hetcalc.cli.check import CheckFormat
from hetcalc.variants import parse_variant

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "budgets.toml"


@pytest.fixture(scope="module", autouse=True)
def _trace_once():
    """Tracing is the slow part and its result depends only on (model, input shape)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analysis, "trace_spec", functools.lru_cache(maxsize=None)(
            analysis.trace_spec))
        yield


@functools.cache
def costs(model: str, variant: str = "std") -> tuple[int, int]:
    """Analytic MACs and params of ``hetcalc analyze``, to check the budget table against."""
    report = analysis.report_from_trace(model, analysis.trace_spec(model), parse_variant(variant))
    return report.flops_analytic, report.params


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(directory: Path, text: str, name: str = "budgets.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


# vgg16_cifar p4 is 106,399,744 MACs (over 100M) and 5,181,898 params (under 5.5M);
# resnet56_cifar is 126,554,752 MACs (under 130M).
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


# ------------------------------------------------------------------ numbers, fractions, headroom

@pytest.mark.parametrize(("text", "expected"), [
    ("2.9G", 29 * 10**8),
    ("850M", 850 * 10**6),
    ("17_000_000", 17 * 10**6),
    (17_000_000, 17 * 10**6),
    ("1.5K", 1500),
    ("26m", 26 * 10**6),
    ("4.2 G", 42 * 10**8),
    ("2.9e9", 29 * 10**8),
    (2.9e9, 29 * 10**8),
    ("1T", 10**12),
    (".5M", 5 * 10**5),
])
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("25%", 0.25), (0.25, 0.25), ("0.25", 0.25), (0, 0.0), ("66.5%", 0.665),
])
def test_parse_fraction(value, expected):
    assert parse_fraction(value, below_one=True) == pytest.approx(expected)


@pytest.mark.parametrize(("check", "headroom", "passed"), [
    (Check(Metric.FLOPS, 90, 100), (100 - 90) / 100, True),
    (Check(Metric.PARAMS, 120, 100), (100 - 120) / 100, False),
    (Check(Metric.FLOPS, 100, 100), 0.0, True),
    (Check(Metric.REDUCTION, 0.66, 0.60), (0.66 - 0.60) / 0.60, True),
    (Check(Metric.REDUCTION, 0.50, 0.60), (0.50 - 0.60) / 0.60, False),
    (Check(Metric.LATENCY, 12.5, 10.0), (10.0 - 12.5) / 10.0, False),
    (Check(Metric.REDUCTION, 0.1, 0), None, True),
])
def test_check_headroom(check, headroom, passed):
    assert check.headroom == (None if headroom is None else pytest.approx(headroom))
    assert check.passed is passed


# ------------------------------------------------------------------ verdicts and the table

def test_example_budget_file_passes(capsys):
    code, out, err = run(capsys, str(EXAMPLE))
    assert (code, err) == (0, "")
    assert "PASS: 10 checks of 4 entries, all within budget." in out
    assert "vgg16-cifar-p4 (vgg16_cifar)" in out


def test_passing_and_failing_entries_exit_1_and_say_by_how_much(tmp_path, capsys):
    flops, params = costs("vgg16_cifar", "p4")
    code, out, err = run(capsys, str(write(tmp_path, MIXED)), "--format", "table")
    assert (code, err) == (1, "")
    rows = [line for line in out.splitlines() if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    over = f"{100 * (100_000_000 - flops) / 100_000_000:+.2f}%"  # -6.40%
    under = f"{100 * (5_500_000 - params) / 5_500_000:+.2f}%"  # +5.78%
    small = f"{100 * (130_000_000 - costs('resnet56_cifar')[0]) / 130_000_000:+.2f}%"
    assert cells == [
        ["vgg16_cifar", "p4", "FLOPs (MACs)", "106.40M", "max 100.00M", over, "FAIL"],
        ["vgg16_cifar", "p4", "params", "5.18M", "max 5.50M", under, "pass"],
        ["small (resnet56_cifar)", "std", "FLOPs (MACs)", "126.55M", "max 130.00M", small,
         "pass"],
    ]
    assert "FAIL: 1 of 3 checks over budget." in out
    assert (f"- vgg16_cifar p4: FLOPs (MACs) 106.40M is over the max_flops limit 100.00M "
            f"(headroom {over})") in out


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
    assert [(e["variant"], e["checks"]["params"]["limit"]) for e in entries] == [
        ("p4", 6_000_000), ("std", 15_000_000)]
    assert entries[1]["checks"]["params"]["value"] == costs("vgg16_cifar")[1]


def test_min_reduction_is_a_floor(tmp_path, capsys):
    path = write(tmp_path, """
[[model]]
model = "vgg16_cifar"
variant = "p4"
min_reduction = "70%"
""")
    code, out, _ = run(capsys, str(path), "--format", "json")
    check = json.loads(out)["entries"][0]["checks"]["reduction"]
    reduction = 1 - costs("vgg16_cifar", "p4")[0] / costs("vgg16_cifar")[0]
    assert code == 1
    assert check == {"value": pytest.approx(reduction), "limit": 0.7, "bound": "min",
                     "headroom": pytest.approx((reduction - 0.7) / 0.7), "verdict": "fail"}


def test_max_latency_ms_measures_with_the_entry_settings(tmp_path, capsys, monkeypatch):
    from hetcalc import latency

    calls = []

    def fake_model_latency(spec, variant, input_shape, settings, include_first=False):
        calls.append((spec, variant.spec, input_shape, settings, include_first))
        return types.SimpleNamespace(median_ms=12.5, iqr_ms=0.5)

    monkeypatch.setattr(latency, "model_latency", fake_model_latency, raising=False)
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
    assert "│ vgg16_cifar │ p4      │ latency (ms, median) │ 12.50 ms │ max 10.00 ms │" in out
    [(spec, variant, shape, settings, include_first)] = calls
    assert (spec, variant, shape, include_first) == ("vgg16_cifar", "p4", (1, 3, 32, 32), False)
    assert (settings.device, settings.batch_size, settings.threads, settings.dtype) == (
        "cpu", 2, 1, "float32")


def test_model_file_is_read_relative_to_the_budget_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "tiny.py").write_text(
        "from torch import nn\n"
        "def build():\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1))\n"
        "build.input_shape = (1, 3, 8, 8)\n")
    path = write(tmp_path, """
[[model]]
model = "nets/tiny.py:build"
max_flops = 10_000
""")
    monkeypatch.chdir(tmp_path.parent)
    code, out, _ = run(capsys, str(path), "--format", "json")
    entry = json.loads(out)["entries"][0]
    # Eq. 1 for both convs on 8x8 outputs: 8*8*3*8*9 + 8*8*8*8*9 MACs (bias adds not counted).
    assert entry["checks"]["flops"]["value"] == 8 * 8 * 3 * 8 * 9 + 8 * 8 * 8 * 8 * 9
    assert (code, entry["model"]) == (1, "nets/tiny.py:build")


# ------------------------------------------------------------------ output formats

def test_json_is_one_object_per_entry_with_value_limit_and_verdict(tmp_path, capsys):
    code, out, _ = run(capsys, str(write(tmp_path, MIXED)), "--format", "json")
    document = json.loads(out)
    flops, params = costs("vgg16_cifar", "p4")
    assert code == 1
    assert (document["file"].endswith("budgets.toml"), document["unit"],
            document["verdict"]) == (True, "MAC", "fail")
    first, second = document["entries"]
    assert first["checks"] == {
        "flops": {"value": flops, "limit": 100_000_000, "bound": "max",
                  "headroom": pytest.approx((100_000_000 - flops) / 100_000_000),
                  "verdict": "fail"},
        "params": {"value": params, "limit": 5_500_000, "bound": "max",
                   "headroom": pytest.approx((5_500_000 - params) / 5_500_000),
                   "verdict": "pass"},
    }
    assert (first["model"], first["variant"], first["input_shape"], first["verdict"]) == (
        "vgg16_cifar", "p4", [1, 3, 32, 32], "fail")
    assert (second["name"], second["key"], second["verdict"]) == ("small", "small", "pass")
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


def test_output_file_and_github_step_summary(tmp_path, capsys, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    report = tmp_path / "report.xml"
    code, out, err = run(capsys, str(write(tmp_path, MIXED)), "--format", "junit",
                         "--output", str(report))
    assert (code, out, err) == (1, "", "")
    assert ET.parse(report).getroot().get("failures") == "1"
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### budget check: ")
    assert "| model | variant | metric | value | limit | headroom | verdict |" in text


# ------------------------------------------------------------------ discovery

def test_finds_tool_hetcalc_in_pyproject_from_a_subdirectory(tmp_path, capsys, monkeypatch):
    (tmp_path / ".git").mkdir()
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


def test_no_budget_file_found(tmp_path, capsys, monkeypatch):
    (tmp_path / ".git").mkdir()
    write(tmp_path, '[project]\nname = "mine"\n', name="pyproject.toml")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys)
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: no budget file: found neither budgets.toml nor a "
                   f"pyproject.toml with a [tool.hetcalc] table in {tmp_path.resolve()} or its "
                   "parents; give the file: hetcalc check FILE\n")


# ------------------------------------------------------------------ invalid files: exit 2

ENTRY = '[[model]]\nmodel = "vgg16_cifar"\n'
NUMBER_FORMS = "an integer or a number with a K, M, G or T suffix, e.g. 2.9G, 850M, 17_000_000"
SHAPE_FORMS = 'four positive integers N,C,H,W such as [1, 3, 224, 224] or "1,3,224,224"'

INVALID = [
    ("unknown-top-level-key", 'tolerance = 1\n' + ENTRY + 'max_flops = "1G"\n',
     "unknown key 'tolerance'; expected one of defaults, model"),
    ("unknown-key-in-entry", ENTRY + 'max_flop = "1G"\n',
     "entry 1 (vgg16_cifar): unknown key 'max_flop'; did you mean 'max_flops'? expected one "
     "of model, name, input_shape, variant,"),
    ("unknown-key-in-defaults", '[defaults]\nvarient = "p4"\n' + ENTRY + 'max_flops = "1G"\n',
     "[defaults]: unknown key 'varient'; did you mean 'variant'?"),
    ("wrong-type", ENTRY + 'max_params = true\n',
     f"entry 1 (vgg16_cifar): max_params: expected {NUMBER_FORMS}, got the boolean true"),
    ("wrong-type-shape", ENTRY + 'input_shape = 32\nmax_flops = "1G"\n',
     f"entry 1 (vgg16_cifar): input_shape: expected {SHAPE_FORMS}, got the integer 32"),
    ("missing-model", '[[model]]\nname = "fast"\nmax_flops = "1G"\n',
     'entry 1 "fast": model: missing; every entry names a model, e.g. model = "resnet50"'),
    ("model-not-a-string", '[[model]]\nmodel = 16\nmax_flops = "1G"\n',
     'entry 1: model: expected a model name such as "resnet50", got the integer 16'),
    ("unknown-model", '[[model]]\nmodel = "resnet5O"\nmax_flops = "1G"\n',
     "entry 1 (resnet5O): model: unknown model 'resnet5O'; did you mean resnet50"),
    ("bad-number", ENTRY + 'max_flops = "2.9X"\n',
     f"entry 1 (vgg16_cifar): max_flops: bad number '2.9X'; expected {NUMBER_FORMS}"),
    ("negative-limit", ENTRY + 'max_flops = -5\n',
     "entry 1 (vgg16_cifar): max_flops: must be positive, got the integer -5"),
    ("negative-limit-suffix", ENTRY + 'max_params = "-5M"\n',
     "entry 1 (vgg16_cifar): max_params: must be positive, got the string '-5M'"),
    ("zero-latency", ENTRY + 'max_latency_ms = 0\n',
     "entry 1 (vgg16_cifar): max_latency_ms: must be a positive number, got the integer 0"),
    ("bad-input-shape", ENTRY + 'input_shape = "1,3,32"\nmax_flops = "1G"\n',
     f"entry 1 (vgg16_cifar): input_shape: expected {SHAPE_FORMS}, got the string '1,3,32'"),
    ("bad-input-shape-array", ENTRY + 'input_shape = [1, 3, 0, 32]\nmax_flops = "1G"\n',
     f"entry 1 (vgg16_cifar): input_shape: expected {SHAPE_FORMS}, got the array [1, 3, 0, 32]"),
    ("bad-variant", ENTRY + 'variant = "p4x"\nmax_flops = "1G"\n',
     "entry 1 (vgg16_cifar): variant: unknown variant 'p4x'; valid forms: std, p1,"),
    ("min-reduction-out-of-range", ENTRY + 'variant = "p4"\nmin_reduction = "125%"\n',
     "entry 1 (vgg16_cifar): min_reduction: must be below 100% (a fraction under 1), "
     "got the string '125%'"),
    ("min-reduction-without-variant", ENTRY + 'min_reduction = 0.5\n',
     'entry 1 (vgg16_cifar): min_reduction: needs a variant (e.g. variant = "p4"); '
     "variant std reduces nothing"),
    ("bad-device", ENTRY + 'max_latency_ms = 5\ndevice = "tpu"\n',
     "entry 1 (vgg16_cifar): device: expected one of auto, cpu, cuda, got the string 'tpu'"),
    ("bad-batch-size", ENTRY + 'max_latency_ms = 5\nbatch_size = 1.5\n',
     "entry 1 (vgg16_cifar): batch_size: expected a positive integer, got the float 1.5"),
    ("empty-name", '[[model]]\nname = ""\nmodel = "vgg16_cifar"\nmax_flops = 1\n',
     "entry 1 (vgg16_cifar): name: expected a non-empty string, got the string ''"),
    ("toml-syntax-error", '[[model]\nmodel = "vgg16_cifar"\n',
     "not valid TOML: Expected ']]' at the end of an array declaration (at line 1, column 8)"),
    ("no-entries", '[defaults]\nvariant = "p4"\n',
     "no entries; add at least one [[model]] table with a model and a limit"),
    ("model-not-an-array", 'model = "resnet18"\n',
     "model: expected an array of tables [[model]], got the string 'resnet18'"),
    ("defaults-not-a-table", 'defaults = 3\n' + ENTRY + 'max_flops = 1\n',
     "defaults: expected a table [defaults], got the integer 3"),
    ("no-limit", ENTRY + 'variant = "p4"\n',
     "entry 1 (vgg16_cifar): no limit; give at least one of max_flops, max_params, "
     "min_reduction, max_latency_ms (here or in [defaults])"),
    ("duplicate-entry", ENTRY + 'max_flops = "1G"\n' + ENTRY + 'max_params = "1G"\n',
     "entry 2 (vgg16_cifar): duplicates entry 1 (vgg16_cifar std 1,3,32,32); give one of them "
     "a distinct name"),
    ("several-problems", ENTRY + 'max_flops = "2.9X"\nmax_params = "x"\nvariant = 4\n',
     f"entry 1 (vgg16_cifar): max_flops: bad number '2.9X'; expected {NUMBER_FORMS} "
     "(and 2 more problems in this file)"),
]


@pytest.fixture
def no_tracing(monkeypatch):
    """Validation happens before any model is built or traced."""
    def fail(*args, **kwargs):
        raise AssertionError("a model was traced before the budget file was validated")
    monkeypatch.setattr(analysis, "trace_spec", fail)


@pytest.mark.parametrize(("text", "message"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_budget_file_exits_2_naming_entry_key_and_value(tmp_path, capsys, no_tracing,
                                                                 text, message):
    path = write(tmp_path, text)
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"hetcalc: error: {path}: {message}")
    assert err.count("\n") == 1


def test_invalid_file_raises_budget_error_with_every_problem(tmp_path):
    path = write(tmp_path, ENTRY + 'max_flops = "2.9X"\nmax_params = "x"\nvariant = 4\n')
    with pytest.raises(budget.BudgetError, match=r"max_flops: bad number '2\.9X'") as info:
        budget.load_budget_file(path, "budgets.toml")
    assert [p.split(": ")[2] for p in info.value.problems] == [
        "max_flops", "max_params", "variant"]


@pytest.mark.parametrize(("args", "message"), [
    (["missing.toml"], "missing.toml: no such file"),
    (["pyproject.toml"], "pyproject.toml: no [tool.hetcalc] table; add "
                         "[tool.hetcalc.defaults] and [[tool.hetcalc.model]] entries, or keep "
                         "the budgets in budgets.toml"),
    (["budgets.toml", "--baseline", "base.json", "--tolerance", "1x"],
     "--tolerance: expected a fraction such as 0.25 or a percentage such as '25%', got the "
     "string '1x'; e.g. --tolerance 1% or 0.01"),
    (["budgets.toml", "--baseline", "base.json", "--tolerance", "-1%"],
     "--tolerance: must be 0 or more, got the string '-1%'"),
    (["budgets.toml", "--tolerance", "1%"], "--tolerance needs --baseline FILE to compare with"),
    (["budgets.toml", "--baseline", "nope.json"],
     "nope.json: no such baseline file; write one with hetcalc check --write-baseline "
     "nope.json"),
    (["budgets.toml", "--baseline", "budgets.toml"],
     "budgets.toml: not a hetcalc baseline file: Expecting value: line 1 column 3 (char 2)"),
    (["budgets.toml", "--format", "xml"], "Invalid value for '--format' / '-f'"),
])
def test_invalid_file_or_argument_exits_2(tmp_path, capsys, monkeypatch, no_tracing, args,
                                          message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, '[project]\nname = "mine"\n', name="pyproject.toml")
    write(tmp_path, ENTRY + 'max_flops = "1G"\n')
    write(tmp_path, '{"hetcalc_baseline": 1, "entries": []}', name="base.json")
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"hetcalc: error: {message}")
    assert err.count("\n") == 1


def test_variant_that_fits_no_layer_names_the_entry(tmp_path, capsys):
    path = write(tmp_path, '[[model]]\nname = "odd"\nmodel = "vgg16_cifar"\nvariant = "p3"\n'
                           'max_flops = "1G"\n')
    code, _, err = run(capsys, str(path))
    assert code == 2
    assert err.startswith(f'hetcalc: error: {path}: entry 1 "odd" (vgg16_cifar): variant: '
                          "variant p3 (P=3) fits no eligible layer of vgg16_cifar")


# ------------------------------------------------------------------ regression mode

def _budget(variant: str) -> str:
    return f'[[model]]\nname = "net"\nmodel = "vgg16_cifar"\nvariant = "{variant}"\n' \
           'max_flops = "1G"\n'


def test_write_baseline_records_flops_and_params(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    code, out, _ = run(capsys, str(write(tmp_path, _budget("p4"))), "--write-baseline",
                       str(baseline))
    flops, params = costs("vgg16_cifar", "p4")
    assert code == 0
    assert f"Baseline written to {baseline} (1 entry)." in out
    assert json.loads(baseline.read_text()) == {
        "hetcalc_baseline": 1, "unit": "MAC",
        "entries": [{"key": "net", "model": "vgg16_cifar", "variant": "p4",
                     "input_shape": [1, 3, 32, 32], "flops": flops, "params": params}],
    }


def test_regression_catches_growth_beyond_tolerance_and_passes_the_rest(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    assert run(capsys, str(write(tmp_path, _budget("p4"))), "--write-baseline",
               str(baseline))[0] == 0

    # Unchanged: no growth.
    code, out, _ = run(capsys, str(write(tmp_path, _budget("p4"))), "--baseline", str(baseline),
                       "--tolerance", "1%", "--format", "markdown")
    assert code == 0
    assert "PASS: no entry grew beyond 1.00% against" in out

    # The model grew: P=4 -> P=2 (more K x K kernels) is far beyond 1%.
    (before, _), (after, _) = costs("vgg16_cifar", "p4"), costs("vgg16_cifar", "p2")
    code, out, _ = run(capsys, str(write(tmp_path, _budget("p2"))), "--baseline", str(baseline),
                       "--tolerance", "1%", "--format", "markdown")
    change = f"{100 * (after - before) / before:+.2f}%"
    assert code == 1
    assert f"| net (vgg16_cifar) | p2 | FLOPs (MACs) | 106.40M | 175.61M | {change} | FAIL |" in out
    assert "FAIL: 2 regressions beyond the tolerance of 1.00% against" in out


@pytest.mark.parametrize(("tolerance", "code"), [("1%", 1), ("3%", 0), ("0.03", 0), ("0", 1)])
def test_tolerance_is_relative_growth(tmp_path, capsys, tolerance, code):
    """A baseline 2% below today's numbers: a growth of 2%, caught at 1%, passed at 3%."""
    flops, params = costs("vgg16_cifar", "p4")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"hetcalc_baseline": 1, "entries": [
        {"key": "net", "model": "vgg16_cifar", "variant": "p4", "input_shape": [1, 3, 32, 32],
         "flops": round(flops / 1.02), "params": params}]}))
    result, out, _ = run(capsys, str(write(tmp_path, _budget("p4"))), "--baseline",
                         str(baseline), "--tolerance", tolerance, "--format", "json")
    changes = json.loads(out)["entries"][0]["regression"]["changes"]
    assert result == code
    assert changes["flops"]["change"] == pytest.approx(0.02, abs=1e-6)
    assert changes["params"] == {"before": params, "after": params, "change": 0.0,
                                 "tolerance": pytest.approx(float(tolerance.strip("%")) / (
                                     100 if "%" in tolerance else 1)), "verdict": "pass"}


def test_regression_new_and_stale_entries(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"hetcalc_baseline": 1, "entries": [
        {"key": "gone", "model": "resnet18", "variant": "std", "input_shape": [1, 3, 224, 224],
         "flops": 1, "params": 1}]}))
    code, out, _ = run(capsys, str(write(tmp_path, _budget("p4"))), "--baseline",
                       str(baseline), "--format", "junit")
    root = ET.fromstring(out)
    suite = root.findall("testsuite")[1]
    assert code == 0
    assert suite.get("name") == f"regression: {baseline} (tolerance 0.00%)"
    assert (suite.get("tests"), suite.get("skipped"), root.get("skipped")) == ("1", "1", "1")
    code, out, _ = run(capsys, str(write(tmp_path, _budget("p4"))), "--baseline",
                       str(baseline), "--format", "markdown")
    assert "| net (vgg16_cifar) | p4 | - | - | - | - | new (not in baseline) |" in out
    assert "In the baseline but not in the budget file (ignored): gone." in out


def test_check_help():
    assert main(["check", "--help"]) == 0


def test_budget_files_in_docs_are_valid(tmp_path, monkeypatch, no_tracing):
    """Every ```toml block of docs/ci.md validates (its first line names the file it shows)."""
    from hetcalc import latency

    monkeypatch.setattr(latency, "model_latency", lambda *args: None, raising=False)
    text = (EXAMPLE.parent.parent / "docs" / "ci.md").read_text(encoding="utf-8")
    blocks = [block.split("```")[0] for block in text.split("```toml\n")[1:]]
    assert [block.splitlines()[0] for block in blocks] == ["# budgets.toml", "# pyproject.toml"]
    for block in blocks:
        name = block.splitlines()[0].removeprefix("# ")
        loaded = budget.load_budget_file(write(tmp_path, block, name=name))
        assert loaded.entries and all(entry.limits for entry in loaded.entries)


@pytest.mark.parametrize("fmt", list(CheckFormat))
def test_every_format_writes_the_example(tmp_path, capsys, fmt):
    output = tmp_path / f"out.{fmt.value}"
    code, out, err = run(capsys, str(EXAMPLE), "--format", fmt.value, "--output", str(output))
    text = output.read_text(encoding="utf-8")
    assert (code, out, err) == (0, "", "")
    assert "vgg16-cifar-p4" in text and "resnet56_cifar" in text
