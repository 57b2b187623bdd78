"""``hetcalc check`` shows every entry and names every problem.

An entry that cannot be evaluated (its builder raises or exits, its ``timeout`` passes) is an
error row in every format and one ``hetcalc: error:`` line on stderr; the other entries are
evaluated and shown as usual, and the exit code is 2 whatever they found. A budget or baseline
file with several problems has each on its own line, before torch is imported.

The model is a tiny one of the test's own: two 3x3 convs 8->8 (padding 1, no bias) on 1x8x8x8,
2 · (8·8 · 8·8 · 9) = 73,728 MACs and 2 · (8·8·9) = 1,152 params.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from checking import run, write

ROOT = Path(__file__).parent.parent
TINY_MACS = 73_728  # 2 * (8 * 8 * 8 * 8 * 9)
TINY_PARAMS = 1_152  # 2 * (8 * 8 * 9)

NETS = """\
import sys
import time
from torch import nn


def tiny():
    open("tiny.marker", "a").close()
    return nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False),
                         nn.Conv2d(8, 8, 3, padding=1, bias=False))


def broken():
    raise ValueError("no weights here")


def quits():
    sys.exit(0)


def sleeps():
    time.sleep(60)
    return tiny()


def interrupted():
    raise KeyboardInterrupt


def wrapped():
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as error:
        raise RuntimeError("a library's own words for it") from error
"""


def entry(builder: str, limit: str = 'max_flops = "1M"', name: str = "") -> str:
    named = f'name = "{name}"\n' if name else ""
    return (f'[[model]]\n{named}model = "nets.py:{builder}"\ninput_shape = [1, 8, 8, 8]\n'
            f"{limit}\n\n")


# entry 1 passes, entry 2 cannot be built, entry 3 is over budget (73,728 > 70,000)
THREE = entry("tiny") + entry("broken") + entry("tiny", "max_flops = 70_000", name="over")
OVER = ("- over (nets.py:tiny) std: FLOPs (MACs) 73.73K is over the max_flops limit 70.00K "
        f"(headroom {100 * (70_000 - TINY_MACS) / 70_000:+.2f}%)")


@pytest.fixture
def budget(tmp_path, monkeypatch):
    """The budget file THREE beside nets.py, in the current directory; no step summary."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write(tmp_path, NETS, name="nets.py")
    return write(tmp_path, THREE)


def _error_line(path: Path, index: int, builder: str) -> str:
    return f"hetcalc: error: {path}: entry {index} (nets.py:{builder}): model: model "


def test_headroom_of_the_over_budget_entry_is_the_arithmetic():
    assert OVER.endswith("(headroom -5.33%)")  # (70,000 - 73,728) / 70,000 = -5.326%


# ------------------------------------------------------------------ one failed entry, every format

def test_the_other_entries_are_evaluated_and_the_exit_is_2(budget, capsys):
    code, out, err = run(capsys, str(budget))
    assert code == 2  # not 1: an entry that could not be evaluated makes the run invalid
    lines = err.splitlines()
    assert lines[0].startswith(_error_line(budget, 2, "broken"))
    assert lines[0].endswith("no weights here")
    assert lines[1:] == [
        f"hetcalc check: ERROR: {budget}: 1 of 3 entries could not be evaluated; 1 of 2 checks "
        "over budget.", OVER]
    assert "Traceback" not in err
    assert "ERROR: 1 of 3 entries could not be evaluated." in out
    assert "FAIL: 1 of 2 checks over budget." in out
    # each entry has its row: the one that failed says so where its values would be
    assert out.count("nets.py:tiny") >= 2 and "nets.py:broken" in out
    assert "73.73K" in out and "ERROR" in out and "pass" in out and "FAIL" in out


def test_json_has_an_error_entry_between_the_evaluated_ones(budget, capsys):
    code, out, _ = run(capsys, str(budget), "--format", "json")
    document = json.loads(out)
    assert (code, document["verdict"]) == (2, "error")
    first, second, third = document["entries"]
    assert (first["verdict"], first["error"], first["checks"]["flops"]["value"]) == (
        "pass", None, TINY_MACS)
    assert (third["verdict"], third["error"], third["checks"]["flops"]["value"]) == (
        "fail", None, TINY_MACS)
    assert second["verdict"] == "error"
    assert second["error"].startswith("model: model ")
    assert second["error"].endswith("no weights here") and "\n" not in second["error"]
    assert second["checks"] == {"flops": {"value": None, "limit": 1_000_000, "bound": "max",
                                          "headroom": None, "verdict": "error"}}
    assert (second["index"], second["model"], second["input_shape"], second["regression"]) == (
        2, "nets.py:broken", [1, 8, 8, 8], None)


def test_markdown_has_an_error_row(budget, capsys):
    code, out, _ = run(capsys, str(budget), "--format", "markdown")
    rows = [line for line in out.splitlines() if line.startswith("| nets.py:broken ")]
    assert code == 2 and len(rows) == 1
    assert rows[0].startswith("| nets.py:broken | std | - | model: model ")
    assert rows[0].endswith("no weights here | - | - | ERROR |")


def test_junit_has_an_error_in_the_failed_entrys_testcase(budget, capsys):
    code, out, _ = run(capsys, str(budget), "--format", "junit")
    root = ET.fromstring(out.encode("utf-8"))
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert code == 2
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("nets.py:tiny", "std max_flops"), ("nets.py:broken", "std max_flops"),
        ("over (nets.py:tiny)", "std max_flops")]
    assert [(c.find("failure") is not None, c.find("error") is not None) for c in cases] == [
        (False, False), (False, True), (True, False)]
    error = cases[1].find("error")
    assert error.get("type") == "NotEvaluated"
    assert error.get("message").startswith("model: model ")
    assert error.get("message").endswith("no weights here")
    for element in (root, suite):
        assert (element.get("tests"), element.get("failures"), element.get("errors")) == (
            "3", "1", "1")


def test_the_step_summary_has_the_error_row(budget, capsys, monkeypatch, tmp_path):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, _ = run(capsys, str(budget), "--format", "json")
    text = summary.read_text(encoding="utf-8")
    assert code == 2
    assert "| nets.py:broken | std | - | model: model " in text
    assert "no weights here | - | - | ERROR |" in text
    assert "ERROR: 1 of 3 entries could not be evaluated." in text


@pytest.mark.parametrize(("builder", "extra", "key", "says"), [
    ("quits", "", "model", "it called sys.exit(0)"),
    ("sleeps", "timeout = 0.5\n", "timeout", "did not finish in 0.5 s (timeout = 0.5)"),
])
def test_a_builder_that_exits_or_times_out_is_an_error_row(budget, capsys, builder, extra, key,
                                                           says):
    if key == "timeout" and not hasattr(signal, "setitimer"):
        pytest.skip("timeout needs SIGALRM")
    path = write(budget.parent, entry(builder, 'max_flops = "1M"\n' + extra) + entry("tiny"))
    code, out, err = run(capsys, str(path), "--format", "json")
    first, second = json.loads(out)["entries"]
    assert code == 2
    assert (first["verdict"], first["error"].split(": ")[0]) == ("error", key)
    assert says in first["error"]
    assert (second["verdict"], second["checks"]["flops"]["value"]) == ("pass", TINY_MACS)
    [line, verdict] = err.splitlines()
    assert line.startswith(f"hetcalc: error: {path}: entry 1 (nets.py:{builder}): {key}: ")
    assert verdict == (f"hetcalc check: ERROR: {path}: 1 of 2 entries could not be evaluated; "
                       "1 check of 1 entry within budget.")


def test_every_failed_entry_has_its_line(budget, capsys):
    path = write(budget.parent, entry("broken") + entry("quits") + entry("tiny"))
    code, _, err = run(capsys, str(path))
    lines = err.splitlines()
    assert code == 2
    assert lines[0].startswith(_error_line(path, 1, "broken"))
    assert lines[1].startswith(_error_line(path, 2, "quits"))
    assert lines[2] == (f"hetcalc check: ERROR: {path}: 2 of 3 entries could not be "
                        "evaluated; 1 check of 1 entry within budget.")


def test_no_entry_evaluated_is_exit_2_with_its_row(budget, capsys):
    path = write(budget.parent, entry("broken"))
    code, out, err = run(capsys, str(path))
    assert code == 2
    assert err.splitlines()[1:] == [
        f"hetcalc check: ERROR: {path}: 1 of 1 entry could not be evaluated."]
    assert "nets.py:broken" in out


# ------------------------------------------------------------------ baselines

def test_write_baseline_refuses_when_an_entry_failed(budget, capsys, tmp_path):
    target = tmp_path / "base.json"
    code, out, err = run(capsys, str(budget), "--write-baseline", str(target))
    assert code == 2
    assert not target.exists()
    assert err.splitlines()[-1] == (
        f"hetcalc: error: --write-baseline {target}: not written, since entry 2 "
        "(nets.py:broken) could not be evaluated; a baseline records every entry")
    assert f"Baseline not written to {target}: entry 2 (nets.py:broken) could not be " \
           "evaluated." in out


def test_baseline_comparison_shows_the_failed_entry_as_an_error(budget, capsys, tmp_path):
    target = tmp_path / "base.json"
    good = write(tmp_path, entry("tiny") + entry("tiny", "max_flops = 70_000", name="over"),
                 name="good.toml")
    assert run(capsys, str(good), "--write-baseline", str(target))[0] == 1  # "over" is over
    records = json.loads(target.read_text(encoding="utf-8"))["entries"]
    assert [(r["key"], r["flops"], r["params"]) for r in records] == [
        ("nets.py:tiny std 1,8,8,8", TINY_MACS, TINY_PARAMS), ("over", TINY_MACS, TINY_PARAMS)]

    code, out, err = run(capsys, str(budget), "--baseline", str(target), "--format", "json")
    document = json.loads(out)
    first, second, third = document["entries"]
    assert code == 2
    assert document["baseline"]["stale"] == []
    assert first["regression"]["changes"]["flops"]["change"] == 0.0
    assert second["regression"] is None and second["verdict"] == "error"
    assert third["regression"]["in_baseline"] is True
    assert "no entry grew beyond 0.00%" in err.splitlines()[1]


def test_library_refuses_a_baseline_document_of_failed_results(budget):
    from hetcalc import budget as budgets
    from hetcalc.budget.baseline import baseline_document
    from hetcalc.errors import InvalidArgument, ModelLoadError

    results = budgets.evaluate(budgets.load_budget_file(budget))
    assert [r.evaluated for r in results] == [True, False, True]
    failure = results[1].failure
    assert failure is not None and failure.key == "model"
    assert isinstance(failure.error, ModelLoadError)
    assert (results[1].report, results[1].value(budgets.Metric.FLOPS)) == (None, None)
    with pytest.raises(InvalidArgument, match=r"^results: entry 2 \(nets\.py:broken\) could "
                                              r"not be evaluated"):
        baseline_document(results)


# ------------------------------------------------------------------ Ctrl-C ends the whole run

@pytest.mark.parametrize("builder", ["interrupted", "wrapped"])
def test_ctrl_c_in_an_entry_ends_the_run(budget, capsys, tmp_path, builder):
    """A KeyboardInterrupt (or a library's error caused by one) is no entry's failure: the run
    ends with 130 and the next entry is never built."""
    path = write(tmp_path, entry(builder) + entry("tiny"))
    code, out, err = run(capsys, str(path))
    assert (code, out, err) == (130, "", "hetcalc: interrupted\n")
    assert not (tmp_path / "tiny.marker").exists()


# ------------------------------------------------------------------ every problem of a file

def _check_in_a_fresh_process(cwd: Path, *args: str) -> tuple[int, str, str, str]:
    """``hetcalc check ARGS`` in a new interpreter: (exit code, stdout, stderr, whether torch
    was imported)."""
    code = textwrap.dedent(f"""
        import sys
        from hetcalc.cli import main
        code = main(["check", *{list(args)!r}])
        print("torch imported:", "torch" in sys.modules, file=sys.stderr)
        sys.exit(code)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GITHUB_STEP_SUMMARY", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, env=env, cwd=cwd)
    *lines, torch_line = result.stderr.splitlines()
    return result.returncode, result.stdout, "\n".join(lines), torch_line


MISTAKES = """
[[model]]
model = "vgg16_cifar"
max_flop = "1G"

[[model]]
model = "resnet5O"
max_params = "x"

[[model]]
model = "resnet18"
variant = "std"
min_reduction = "50%"
max_flops = "2.9X"
"""


def test_every_problem_is_its_own_line_before_torch_is_imported(tmp_path):
    write(tmp_path, MISTAKES)
    code, out, err, torch = _check_in_a_fresh_process(tmp_path, "budgets.toml")
    assert (code, out, torch) == (2, "", "torch imported: False")
    lines = err.splitlines()
    assert len(lines) == 5, err
    assert all(line.startswith("hetcalc: error: budgets.toml: entry ") for line in lines)
    assert lines[0].startswith("hetcalc: error: budgets.toml: entry 1 (vgg16_cifar): unknown "
                               "key 'max_flop'; did you mean 'max_flops'?")
    # entry 2: a bad value and an unknown model name, both named
    assert lines[1].startswith("hetcalc: error: budgets.toml: entry 2 (resnet5O): max_params: ")
    assert lines[2].startswith("hetcalc: error: budgets.toml: entry 2 (resnet5O): model: "
                               "unknown model 'resnet5O'")
    # entry 3: a bad number, and a floor on a variant that reduces nothing
    assert lines[3].startswith("hetcalc: error: budgets.toml: entry 3 (resnet18): max_flops: "
                               "bad number '2.9X'")
    assert lines[4] == ('hetcalc: error: budgets.toml: entry 3 (resnet18): min_reduction: needs '
                        'a variant (e.g. variant = "p4"); variant std reduces nothing')
    assert "more problem" not in err


def test_a_baseline_with_several_problems_names_each(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    path = write(tmp_path, '[[model]]\nmodel = "vgg16_cifar"\nmax_flops = "1G"\n')
    base = write(tmp_path, json.dumps({"hetcalc_baseline": 1, "entries": [
        {"key": "a"}, 3]}), name="base.json")
    code, out, err = run(capsys, str(path), "--baseline", str(base))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"hetcalc: error: {base}: baseline entry 1: missing model, variant, input_shape, flops, "
        "params",
        f"hetcalc: error: {base}: baseline entry 2: expected an object, got the integer 3"]


# ------------------------------------------------------------------ models that misbehave

DATA = Path(__file__).parent / "data" / "fuzz"


@pytest.mark.parametrize(("name", "fmt", "failed"), [
    # entry 1 is over budget (max_flops = 1), entry 2's builder calls sys.exit(0): exit 2
    ("uc_budget_exit.toml", "table", "entry 2 (uc_models.py:exit0): model: "),
    ("uc_budget_exit.toml", "json", "entry 2 (uc_models.py:exit0): model: "),
    ("uc_budget_forward.toml", "table", "entry 1 (uc_models.py:forward_exits): model: "),
    ("uc_budget_timeout.toml", "table", "entry 1 (uc_models.py:sleeps): timeout: "),
    ("uc_budget_shape.toml", "table", "entry 1 (uc_models.py:shape_zero): model: "),
    ("uc_budget_default_shape.toml", "table", "entry 1 (uc_models.py:gray): model: "),
    ("uc_budget_import.toml", "table", "entry 1 (uc_import_exit.py:build): model: "),
    ("uc_budget_strange.toml", "junit", "entry 1 (uc_models.py:strange): model: "),
])
def test_a_model_that_misbehaves_is_an_error_row_and_exit_2(capsys, monkeypatch, name, fmt,
                                                            failed):
    if "timeout" in name and not hasattr(signal, "setitimer"):
        pytest.skip("timeout needs SIGALRM")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    path = DATA / name
    code, out, err = run(capsys, str(path), "--format", fmt)
    assert code == 2
    assert "Traceback" not in err
    [line] = [x for x in err.splitlines() if x.startswith("hetcalc: error: ")]
    assert line.startswith(f"hetcalc: error: {path}: {failed}")
    assert err.splitlines()[1].startswith(f"hetcalc check: ERROR: {path}: 1 of ")
    assert out  # the report, its error row included


def test_a_failed_entry_keeps_the_input_shape_it_was_tried_at(capsys, monkeypatch):
    """gray() declares no shape and fails to trace at hetcalc's default, 1,3,224,224: the error
    entry says which shape failed, and its key is the one a baseline would use."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code, out, _ = run(capsys, str(DATA / "uc_budget_default_shape.toml"), "--format", "json")
    [only] = json.loads(out)["entries"]
    assert code == 2
    assert (only["verdict"], only["input_shape"], only["key"]) == (
        "error", [1, 3, 224, 224], "uc_models.py:gray std 1,3,224,224")
