"""Regression mode of ``hetcalc check`` (``--write-baseline``, ``--baseline``, ``--tolerance``),
reading baselines that are wrong, and writing files (baselines, ``--output``) atomically: a
failed write leaves the previous file whole, and concurrent writers never leave a reader an
unreadable file."""

from __future__ import annotations

import errno
import json
import os
import re
import threading
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from checking import run, write

from hetcalc import budget, fileio
from hetcalc.budget.schema import parse_budgets
from hetcalc.errors import InvalidArgument

# VGG-16-CIFAR, see test_budget.py for the arithmetic: HetConv P=4 and P=2 MACs, P=4 params.
VGG_P4_MACS = 106_399_744
VGG_P2_MACS = 175_605_760
VGG_P4_PARAMS = 5_181_898
VGG_P2_PARAMS = 8_450_506  # VGG_PARAMS - (VGG_CONV_WEIGHTS - 9 * 3 * 64) * 4 / 9


def test_p2_params_are_the_arithmetic():
    assert VGG_P2_PARAMS == 14_987_722 - (14_710_464 - 9 * 3 * 64) * 4 // 9


pytestmark = pytest.mark.usefixtures("trace_once")  # conftest.py: one trace per model


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def _budget(variant: str) -> str:
    return f'[[model]]\nname = "net"\nmodel = "vgg16_cifar"\nvariant = "{variant}"\n' \
           'max_flops = "1G"\n'


def _baseline(flops: int, params: int, key: str = "net") -> str:
    return json.dumps({"hetcalc_baseline": 1, "entries": [
        {"key": key, "model": "vgg16_cifar", "variant": "p4", "input_shape": [1, 3, 32, 32],
         "flops": flops, "params": params}]})


# ------------------------------------------------------------------ recording and comparing

def test_write_baseline_records_flops_and_params(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    code, out, _ = run(capsys, str(write(tmp_path, _budget("p4"))), "--write-baseline",
                       str(baseline))
    assert code == 0
    assert f"Baseline written to {baseline} (1 entry)." in out
    assert json.loads(baseline.read_text()) == {
        "hetcalc_baseline": 1, "unit": "MAC",
        "entries": [{"key": "net", "model": "vgg16_cifar", "variant": "p4",
                     "input_shape": [1, 3, 32, 32], "flops": VGG_P4_MACS,
                     "params": VGG_P4_PARAMS}],
    }


def test_regression_catches_growth_beyond_tolerance_and_passes_the_rest(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    assert run(capsys, str(write(tmp_path, _budget("p4"))), "--write-baseline",
               str(baseline))[0] == 0

    # Unchanged: no growth.
    code, out, err = run(capsys, str(write(tmp_path, _budget("p4"))), "--baseline",
                         str(baseline), "--tolerance", "1%", "--format", "markdown")
    assert code == 0
    assert "PASS: no entry grew beyond 1.00% against" in out
    assert err.endswith(f"1 check of 1 entry within budget; no entry grew beyond 1.00% "
                        f"against {baseline}.\n")

    # The model grew: P=4 -> P=2 (more K x K kernels) is far beyond 1%.
    path = write(tmp_path, _budget("p2"))
    code, out, err = run(capsys, str(path), "--baseline", str(baseline), "--tolerance", "1%",
                         "--format", "markdown")
    change = (VGG_P2_MACS - VGG_P4_MACS) / VGG_P4_MACS
    assert f"{100 * change:+.2f}%" == "+65.04%"
    assert f"{100 * (VGG_P2_PARAMS - VGG_P4_PARAMS) / VGG_P4_PARAMS:+.2f}%" == "+63.08%"
    assert code == 1
    assert "| net (vgg16_cifar) | p2 | FLOPs (MACs) | 106.40M | 175.61M | +65.04% | FAIL |" in out
    assert "FAIL: 2 regressions beyond the tolerance of 1.00% against" in out
    assert err.splitlines() == [
        f"hetcalc check: FAIL: {path}: 1 check of 1 entry within budget; 2 regressions beyond "
        f"1.00% against {baseline}.",
        "- net (vgg16_cifar) p2: FLOPs (MACs) grew from 106.40M to 175.61M (+65.04%, "
        "tolerance 1.00%)",
        "- net (vgg16_cifar) p2: params grew from 5.18M to 8.45M (+63.08%, tolerance 1.00%)",
    ]


@pytest.mark.parametrize(("tolerance", "code"), [("1%", 1), ("3%", 0), ("0.03", 0), ("0", 1)])
def test_tolerance_is_relative_growth(tmp_path, capsys, tolerance, code):
    """A baseline 2% below today's numbers: a growth of 2%, caught at 1%, passed at 3%."""
    before = VGG_P4_MACS * 100 // 102  # 104,313,474: today's value grew by 2.000000...%
    baseline = write(tmp_path, _baseline(before, VGG_P4_PARAMS), name="baseline.json")
    result, out, _ = run(capsys, str(write(tmp_path, _budget("p4"))), "--baseline",
                         str(baseline), "--tolerance", tolerance, "--format", "json")
    changes = json.loads(out)["entries"][0]["regression"]["changes"]
    assert result == code
    assert changes["flops"] == {"before": before, "after": VGG_P4_MACS,
                                "change": pytest.approx(0.02, abs=1e-7),
                                "tolerance": pytest.approx(float(tolerance.strip("%")) / (
                                    100 if "%" in tolerance else 1)),
                                "verdict": "fail" if code else "pass"}
    assert changes["params"] == {"before": VGG_P4_PARAMS, "after": VGG_P4_PARAMS, "change": 0.0,
                                 "tolerance": changes["flops"]["tolerance"], "verdict": "pass"}


@pytest.mark.parametrize(("tolerance", "verdict"), [("100%", "pass"), ("99.99%", "fail")])
def test_growth_exactly_at_the_tolerance_passes(tmp_path, capsys, tolerance, verdict):
    """Half today's MACs in the baseline: a growth of exactly 1.0 (100%)."""
    baseline = write(tmp_path, _baseline(VGG_P4_MACS // 2, VGG_P4_PARAMS), name="base.json")
    code, out, _ = run(capsys, str(write(tmp_path, _budget("p4"))), "--baseline",
                       str(baseline), "--tolerance", tolerance, "--format", "json")
    flops = json.loads(out)["entries"][0]["regression"]["changes"]["flops"]
    assert (flops["change"], flops["verdict"], code) == (1.0, verdict, int(verdict == "fail"))


def test_regression_new_and_stale_entries(tmp_path, capsys):
    baseline = write(tmp_path, json.dumps({"hetcalc_baseline": 1, "entries": [
        {"key": "gone", "model": "resnet18", "variant": "std", "input_shape": [1, 3, 224, 224],
         "flops": 1, "params": 1}]}), name="baseline.json")
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


# ------------------------------------------------------------------ baselines that are wrong

RECORD = {"key": "net", "model": "vgg16_cifar", "variant": "p4", "input_shape": [1, 3, 32, 32],
          "flops": 1, "params": 1}


@pytest.mark.parametrize(("document", "message"), [
    ({"hetcalc_baseline": 1, "entries": 5},
     "entries: expected an array of records, got the integer 5"),
    ({"hetcalc_baseline": 1, "entries": None}, "entries: expected an array of records, got null"),
    ({"hetcalc_baseline": 1, "entries": {"net": RECORD}},
     "entries: expected an array of records, got an object"),
    ({"hetcalc_baseline": 1, "entries": [5]},
     "baseline entry 1: expected an object, got the integer 5"),
    ({"hetcalc_baseline": 1, "entries": [None]}, "baseline entry 1: expected an object, got null"),
    ({"hetcalc_baseline": 1, "entries": [{**RECORD, "flops": "1G"}]},
     "baseline entry 1: flops: expected an integer 0 or more, got the string '1G'"),
    ({"hetcalc_baseline": 1, "entries": [{**RECORD, "flops": 1.5}]},
     "baseline entry 1: flops: expected an integer 0 or more, got the float 1.5"),
    ({"hetcalc_baseline": 1, "entries": [{**RECORD, "params": -1}]},
     "baseline entry 1: params: expected an integer 0 or more, got the integer -1"),
    ({"hetcalc_baseline": 1, "entries": [{**RECORD, "params": True}]},
     "baseline entry 1: params: expected an integer 0 or more, got the boolean true"),
    ({"hetcalc_baseline": 1, "entries": [{**RECORD, "params": None}]},
     "baseline entry 1: params: expected an integer 0 or more, got null"),
    ({"hetcalc_baseline": 1, "entries": [{**RECORD, "key": 7}]},
     "baseline entry 1: key: expected a string, got the integer 7"),
    ({"hetcalc_baseline": 1, "entries": [{**RECORD, "input_shape": 32}]},
     "baseline entry 1: input_shape: expected an array of integers, got the integer 32"),
    ({"hetcalc_baseline": 1, "entries": [{k: v for k, v in RECORD.items() if k != "flops"}]},
     "baseline entry 1: missing flops"),
    ({"hetcalc_baseline": 1, "entries": [RECORD, RECORD]},
     "baseline entry 2: key 'net' is recorded twice"),
    ({"entries": []}, 'not a hetcalc baseline file (no "hetcalc_baseline": 1)'),
    ([], 'not a hetcalc baseline file (no "hetcalc_baseline": 1)'),
])
def test_a_bad_baseline_is_one_budget_error_line(tmp_path, capsys, document, message):
    path = write(tmp_path, json.dumps(document), name="base.json")
    with pytest.raises(budget.BudgetError, match="^" + re.escape(f"{path}: {message}")):
        budget.read_baseline(path)
    code, out, err = run(capsys, str(write(tmp_path, _budget("p4"))), "--baseline", str(path))
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert err.startswith(f"hetcalc: error: {path}: {message}")


@pytest.mark.parametrize(("text", "message"), [
    ("", "not a hetcalc baseline file: Expecting value"),
    ('{"hetcalc_baseline": 1, "entries": [{"flops": ' + "9" * 5000 + "}]}",
     "not a hetcalc baseline file: an integer of 5000 digits at line 1; at most 4300 are read"),
    ("[" * 100_000 + "]" * 100_000,
     "not a hetcalc baseline file: arrays or tables nested too deeply to read"),
])
def test_a_baseline_that_is_not_json_is_one_budget_error_line(tmp_path, text, message):
    path = write(tmp_path, text, name="base.json")
    with pytest.raises(budget.BudgetError, match="^" + re.escape(f"{path}: {message}")):
        budget.read_baseline(path)


# ------------------------------------------------------------------ atomic writes

def _results(flops: int, params: int, key: str = "net") -> list[budget.EntryResult]:
    """A result as evaluate makes it, without tracing: only what a baseline records."""
    [entry] = parse_budgets({"model": [{"name": key, "model": "vgg16_cifar",
                                        "input_shape": [1, 3, 32, 32], "max_flops": 1}]},
                            "budgets.toml", Path("."))
    report = types.SimpleNamespace(flops_analytic=flops, params=params, reduction=0.0)
    return [budget.EntryResult(entry, report, None, [])]  # type: ignore[arg-type]


class _FailingHalfWay:
    """A file handle that writes half of what it is given, then finds the disk full."""

    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        self._handle.write(data[:len(data) // 2])
        self._handle.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._handle.__exit__(*exc)


def _fail_half_way(monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(fileio.os, "fdopen", lambda *a, **k: _FailingHalfWay(real_fdopen(*a, **k)))


def _fail_rename(monkeypatch):
    def replace(src, dst):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
    monkeypatch.setattr(fileio.os, "replace", replace)


@pytest.mark.parametrize("failure", [_fail_half_way, _fail_rename], ids=["disk-full", "rename"])
def test_a_failed_baseline_write_keeps_the_previous_baseline(tmp_path, monkeypatch, failure):
    path = tmp_path / "baseline.json"
    budget.write_baseline(path, _results(100, 10))
    before = path.read_bytes()
    failure(monkeypatch)
    with pytest.raises(InvalidArgument, match=f"^--write-baseline {re.escape(str(path))}: "
                                              "cannot write it"):
        budget.write_baseline(path, _results(200, 20))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.json"]  # no temporary file left
    assert budget.read_baseline(path)["net"].values[budget.Metric.FLOPS] == 100


@pytest.mark.parametrize("option", ["--write-baseline", "--output"])
def test_a_failed_write_is_exit_2_with_one_line_and_the_old_file_intact(tmp_path, capsys,
                                                                         monkeypatch, option):
    target = write(tmp_path, "previous content\n", name="target")
    path = write(tmp_path, _budget("p4"))
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst).name == "target":
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        real_replace(src, dst)
    monkeypatch.setattr(fileio.os, "replace", replace)
    code, out, err = run(capsys, str(path), option, str(target), "--format", "json")
    assert (code, out) == (2, "")
    assert err == f"hetcalc: error: {option} {target}: cannot write it (Permission denied)\n"
    assert target.read_text() == "previous content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["budgets.toml", "target"]


def test_output_into_a_missing_directory_is_exit_2(tmp_path, capsys):
    report = tmp_path / "missing" / "report.xml"
    code, out, err = run(capsys, str(write(tmp_path, _budget("p4"))), "--format", "junit",
                         "--output", str(report))
    assert (code, out) == (2, "")
    assert err == f"hetcalc: error: --output {report}: cannot write it (No such file or directory)\n"


def test_concurrent_writers_never_leave_a_reader_a_broken_baseline(tmp_path):
    """Two writers, 300 baselines each, into one file while a reader reads it in a loop:
    every read is a whole baseline of one writer or the other, and the last rename wins."""
    path = tmp_path / "baseline.json"
    budget.write_baseline(path, _results(1, 1))
    count = 300
    done = threading.Event()
    reads: list[int] = []
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for i in range(count):
                budget.write_baseline(path, _results(offset + i, 1, key=f"writer{offset}"))
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    def reader() -> None:
        try:
            while not done.is_set():
                [record] = budget.read_baseline(path).values()  # BudgetError if not whole
                reads.append(record.values[budget.Metric.FLOPS])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(offset,)) for offset in (10_000, 20_000)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()

    assert errors == []
    assert len(reads) > 10
    assert all(flops == 1 or 10_000 <= flops < 10_000 + count or 20_000 <= flops < 20_000 + count
               for flops in reads)
    [record] = budget.read_baseline(path).values()
    assert record.values[budget.Metric.FLOPS] in (10_000 + count - 1, 20_000 + count - 1)
    assert [p.name for p in tmp_path.iterdir()] == ["baseline.json"]
