"""Output that cannot be written, special files and signals, each run as a user runs it: a
``python -m hetcalc`` process with its own standard streams.

- A character device (``/dev/null``, ``/dev/full``) or a FIFO named by ``--output``, ``--plot``
  or ``--write-baseline`` is written in place and is still that device or FIFO afterwards; a FIFO
  that nobody reads is one line and exit 2, at once; ``/dev/stdout`` appends to what stdout is.
- Standard output full or closed, standard error closed or full: exit 2 (one line where stderr
  can take it), never exit 0 with the output lost. A reader that has gone: 141, silent.
- A name too long, a working directory deleted, text that is not valid Unicode: one line, exit 2.
- Every output path is checked before a model file is imported.
- SIGTERM: ``hetcalc: terminated``, exit 143, no temporary file left.
- An error after compare's or plan's timing progress is still exactly one line on stderr.

The model is ``tests/data/fuzz/output_model.py``: a few convolutions, built in milliseconds.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix" or not sys.platform.startswith("linux"),
                                reason="character devices, FIFOs and /proc/self/fd as on Linux")

DATA = Path(__file__).parent / "data" / "fuzz"
MODEL = f"{DATA / 'output_model.py'}:build"
BUDGET = str(DATA / "output_budget.toml")
FULL = "No space left on device"


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("GITHUB_STEP_SUMMARY", "HETCALC_TEST_IMPORT_MARKER",
                          "HETCALC_TEST_SLOW_BUILD", "HETCALC_DEBUG")}
    env.update(extra)
    return env


def hetcalc(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            **kwargs) -> subprocess.CompletedProcess:
    """``python -m hetcalc ARGS`` with its output captured (unless ``kwargs`` say otherwise)."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "hetcalc", *args], env=env or _env(),
                          text=True, timeout=timeout, **kwargs)


def _closing(*fds: int):
    """A ``preexec_fn`` that closes ``fds`` in the child: ``>&-`` in a shell."""
    def close() -> None:
        for fd in fds:
            os.close(fd)
    return close


def _device(path: str) -> tuple[int, int]:
    info = os.stat(path)
    assert stat.S_ISCHR(info.st_mode), f"{path} is no longer a character device"
    return info.st_mode, info.st_rdev


# ------------------------------------------------------------------ special files as --output

@pytest.mark.parametrize("args", [
    ["models", "-o", "/dev/null"],
    ["curve", "-f", "json", "--output", "/dev/null"],
    ["curve", "--plot", "/dev/null", "-o", "/dev/null"],
    ["check", BUDGET, "--write-baseline", "/dev/null", "-o", "/dev/null"],
], ids=["models", "curve", "curve-plot", "check-baseline"])
def test_dev_null_as_output_is_written_in_place_and_stays_a_character_device(args):
    before = _device("/dev/null")
    result = hetcalc(*args)
    assert result.returncode == 0, result.stderr
    assert _device("/dev/null") == before
    assert result.stdout == ""


def test_a_link_to_dev_null_stays_a_link_and_dev_null_a_device(tmp_path):
    before = _device("/dev/null")
    link = tmp_path / "sink.json"
    link.symlink_to("/dev/null")
    result = hetcalc("models", "-f", "json", "-o", str(link))
    assert (result.returncode, result.stderr) == (0, "")
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    assert _device("/dev/null") == before


def test_dev_full_as_output_is_one_line_and_exit_2_and_stays_a_device():
    before = _device("/dev/full")
    result = hetcalc("curve", "-o", "/dev/full")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"hetcalc: error: --output /dev/full: cannot write it ({FULL})\n"
    assert _device("/dev/full") == before


def _reader(fifo: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(fifo, "rb") as handle:  # blocks until a writer opens the FIFO
            into.append(handle.read())
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_a_fifo_with_a_reader_gets_the_whole_output_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    thread = _reader(fifo, received)
    result = hetcalc("models", "-f", "json", "-o", str(fifo))
    thread.join(timeout=30)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    names = [model["name"] for model in json.loads(received[0])]
    assert "resnet50" in names and "vgg16_cifar" in names
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_fifo_nobody_reads_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    started = time.monotonic()
    result = hetcalc("models", "-o", str(fifo), timeout=60)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"hetcalc: error: --output {fifo}: cannot write it (a FIFO that "
                             "nobody reads; start its reader first)\n")
    assert time.monotonic() - started < 30
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_dev_stdout_appends_to_what_stdout_is_and_stays_a_link(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("first line\n")
    with open(log, "a") as stdout:  # ``hetcalc ... -o /dev/stdout >> log.txt``
        result = hetcalc("curve", "-f", "json", "-o", "/dev/stdout", stdout=stdout)
    assert (result.returncode, result.stderr) == (0, "")
    text = log.read_text()
    assert text.startswith("first line\n{")
    assert json.loads(text[len("first line\n"):])["kernel"] == [3, 3]
    assert os.path.islink("/dev/stdout")


def test_dev_stdout_to_a_pipe(tmp_path):
    result = hetcalc("curve", "-f", "json", "-o", "/dev/stdout")
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["channels"] == 256


# ------------------------------------------------------------------ standard output and error

@pytest.mark.parametrize("args", [["models"], ["curve", "-f", "csv"], ["device", "--list",
                                                                       "-f", "json"]],
                         ids=["table", "csv", "json"])
def test_stdout_on_a_full_device_is_one_line_and_exit_2(args):
    with open("/dev/full", "w") as full:
        result = hetcalc(*args, stdout=full)
    assert result.returncode == 2
    assert result.stderr == f"hetcalc: error: standard output: cannot write to it ({FULL})\n"


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["models", "--help"]],
                         ids=["help", "version", "command-help"])
def test_help_and_version_to_a_full_or_closed_stdout_are_one_line_and_exit_2(args):
    with open("/dev/full", "w") as full:
        result = hetcalc(*args, stdout=full)
    assert (result.returncode, result.stderr) == (
        2, f"hetcalc: error: standard output: cannot write to it ({FULL})\n")
    result = hetcalc(*args, stdout=subprocess.DEVNULL, preexec_fn=_closing(1))
    assert (result.returncode, result.stderr) == (
        2, "hetcalc: error: standard output: cannot write to it (it was closed when hetcalc "
           "started)\n")


def test_a_closed_stdout_is_one_line_and_exit_2():
    result = hetcalc("models", stdout=subprocess.DEVNULL, preexec_fn=_closing(1))
    assert result.returncode == 2
    assert result.stderr == ("hetcalc: error: standard output: cannot write to it (it was closed "
                             "when hetcalc started)\n")


def test_a_closed_stdout_is_no_error_when_nothing_goes_to_it(tmp_path):
    target = tmp_path / "models.json"
    result = hetcalc("models", "-f", "json", "-o", str(target), stdout=subprocess.DEVNULL,
                     preexec_fn=_closing(1))
    assert (result.returncode, result.stderr) == (0, "")
    assert any(m["name"] == "resnet50" for m in json.loads(target.read_text()))


def test_an_error_with_stderr_closed_exits_2_and_never_reaches_stdout():
    result = hetcalc("analyze", "resnet50", "--P", "0", stderr=subprocess.DEVNULL,
                     preexec_fn=_closing(2))
    assert (result.returncode, result.stdout) == (2, "")


def test_a_success_with_stderr_closed_is_a_success():
    result = hetcalc("curve", "-f", "csv", stderr=subprocess.DEVNULL, preexec_fn=_closing(2))
    assert result.returncode == 0
    assert result.stdout.splitlines()[0].startswith("part,hetconv,")


def test_a_verdict_that_cannot_reach_a_closed_stderr_is_exit_2_not_a_silent_pass(tmp_path):
    # check's verdict always goes to stderr; losing it is a failed write like any other
    result = hetcalc("check", BUDGET, "-f", "json", "-o", str(tmp_path / "report.json"),
                     stderr=subprocess.DEVNULL, preexec_fn=_closing(2))
    assert (result.returncode, result.stdout) == (2, "")


def test_an_error_with_stderr_full_exits_2_with_nothing_on_stdout():
    with open("/dev/full", "w") as full:
        result = hetcalc("curve", "--kernel", "0", stderr=full)
    assert (result.returncode, result.stdout) == (2, "")


def test_a_reader_that_has_gone_is_141_and_silent():
    process = subprocess.Popen([sys.executable, "-m", "hetcalc", "models", "-f", "json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    process.stdout.close()  # ``| head -0``: nobody reads what hetcalc writes
    _, err = process.communicate(timeout=120)
    assert (process.returncode, err) == (141, b"")


def test_text_stdout_cannot_encode_is_one_line_and_exit_2():
    result = hetcalc("models", "é*", env=_env(PYTHONIOENCODING="ascii"))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == ("hetcalc: error: standard output: cannot write to it (the text "
                             "holds '\\xe9', which its encoding (ascii) cannot hold; set "
                             "PYTHONIOENCODING=utf-8)\n")


# ------------------------------------------------------------------ paths that cannot be written

def test_a_name_too_long_is_one_line_and_exit_2(tmp_path):
    target = tmp_path / ("n" * 300 + ".json")
    result = hetcalc("analyze", "vgg16_cifar", "-f", "json", "-o", str(target))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"hetcalc: error: --output {target}: cannot write it (File name " \
                            "too long)\n"


def test_a_name_that_fits_is_written_though_its_temporary_name_would_not(tmp_path):
    target = tmp_path / ("n" * 250)  # 250 bytes fit; "." + 250 + ".XXXXXXXX.tmp" would not
    result = hetcalc("curve", "-f", "json", "-o", str(target))
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(target.read_text())["kernel"] == [3, 3]
    assert os.listdir(tmp_path) == [target.name]


def _in_deleted_directory(path: Path):
    def enter() -> None:
        os.chdir(path)
        os.rmdir(path)
    return enter


@pytest.mark.parametrize("args, message", [
    (["analyze", "vgg16_cifar", "-f", "json", "-o", "out.json"],
     "--output out.json: cannot write it (No such file or directory)"),
    (["check"], "the current directory cannot be read (No such file or directory; was it "
                "deleted?): give the budget file's path"),
], ids=["analyze-output", "check-discovery"])
def test_a_deleted_working_directory_is_one_line_and_exit_2(tmp_path, args, message):
    gone = tmp_path / "gone"
    gone.mkdir()
    result = hetcalc(*args, preexec_fn=_in_deleted_directory(gone))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"hetcalc: error: {message}\n"


def test_a_baseline_key_that_is_not_valid_unicode_is_shown_escaped(tmp_path):
    baseline = tmp_path / "base.json"  # "\udc80": a lone surrogate, as JSON may spell one
    baseline.write_text('{"hetcalc_baseline": 1, "entries": [{"key": "\\udc80", "model": "x", '
                        '"variant": "std", "input_shape": [1], "flops": 1, "params": 1}]}')
    report = tmp_path / "report.md"
    result = hetcalc("check", BUDGET, "--baseline", str(baseline), "-f", "markdown",
                     "-o", str(report))
    assert result.returncode == 0, result.stderr
    assert "\\udc80" in report.read_text(encoding="utf-8")
    result = hetcalc("check", BUDGET, "--baseline", str(baseline))
    assert result.returncode == 0 and "\\udc80" in result.stdout


def test_a_baseline_key_that_is_not_valid_unicode_is_written_and_read_back(tmp_path):
    from types import SimpleNamespace

    from hetcalc.budget.baseline import read_baseline, write_baseline

    entry = SimpleNamespace(key="net \udc80", model="m\udcff.py:build",
                            variant=SimpleNamespace(spec="std"), input_shape=(1, 3, 8, 8))
    path = tmp_path / "base.json"
    write_baseline(path, [SimpleNamespace(entry=entry, value=lambda metric: 7, failure=None)])
    assert "\\udc80" in path.read_text(encoding="ascii")  # JSON's escape, valid UTF-8 (ASCII)
    record = read_baseline(path)["net \udc80"]
    assert (record.model, record.input_shape) == ("m\udcff.py:build", (1, 3, 8, 8))
    assert set(record.values.values()) == {7}


# ------------------------------------------------------------------ checked before user code

@pytest.mark.parametrize("args, env", [
    (["check", BUDGET, "--write-baseline", "{tmp}/missing/dir/b.json"], {}),
    (["check", BUDGET], {"GITHUB_STEP_SUMMARY": "{tmp}/missing/summary.md"}),
    (["check", BUDGET], {"GITHUB_STEP_SUMMARY": "{tmp}"}),
    (["check", BUDGET, "-o", "{tmp}/missing/report.txt"], {}),
    (["analyze", MODEL, "-o", "{tmp}/missing/out.json"], {}),
    (["compare", MODEL, "--plot", "{tmp}/missing/plot.png"], {}),
    (["compare", MODEL, "--no-latency", "-o", "/dev/fd/987"], {}),
    (["plan", MODEL, "--max-flops", "1G", "-o", "{tmp}/missing/plan.toml"], {}),
], ids=["write-baseline", "step-summary-missing", "step-summary-directory", "check-output",
        "analyze-output", "compare-plot", "compare-closed-fd", "plan-output"])
def test_an_output_path_is_checked_before_the_model_file_is_imported(tmp_path, args, env):
    marker = tmp_path / "imported.marker"
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    env = {key: value.replace("{tmp}", str(tmp_path)) for key, value in env.items()}
    result = hetcalc(*args, env=_env(HETCALC_TEST_IMPORT_MARKER=str(marker), **env))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("hetcalc: error: ") and result.stderr.count("\n") == 1
    assert "cannot" in result.stderr, result.stderr
    assert not marker.exists(), "the model file was imported before the output path was checked"


def test_the_import_marker_works(tmp_path):
    """The control for the test above: a run that does import the model leaves the marker."""
    marker = tmp_path / "imported.marker"
    result = hetcalc("check", BUDGET, "-f", "json",
                     env=_env(HETCALC_TEST_IMPORT_MARKER=str(marker)))
    assert result.returncode == 0, result.stderr
    assert marker.read_text() == "imported\n"


# ------------------------------------------------------------------ SIGTERM

def _wait_for(path: Path, process: subprocess.Popen, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never got under way"
        time.sleep(0.05)


def test_sigterm_during_a_run_is_one_line_and_143(tmp_path):
    building = tmp_path / "building.marker"
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "hetcalc", "analyze", MODEL, "-f", "json", "-o",
         str(out / "report.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(HETCALC_TEST_SLOW_BUILD=str(building)))
    _wait_for(building, process)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert (process.returncode, stdout, stderr) == (143, "", "hetcalc: terminated\n")
    assert os.listdir(out) == []


SLOW_WRITE = """
import pathlib, sys, time
from hetcalc.cli.interrupts import terminated, watching_ctrl_c
from hetcalc.fileio import atomic_write

def slow(handle):
    handle.write(b"half of the new content")
    handle.flush()
    pathlib.Path(sys.argv[2]).write_text("writing")
    time.sleep(60)

try:
    with watching_ctrl_c():
        atomic_write(sys.argv[1], slow)
except KeyboardInterrupt:
    print("terminated" if terminated() else "interrupted")
"""


def test_sigterm_during_a_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "report.txt"
    target.write_text("old content\n")
    writing = tmp_path / "writing.marker"
    process = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, str(target), str(writing)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_env())
    _wait_for(writing, process)
    assert len(os.listdir(out)) == 2  # the target and its temporary file, under way
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert (process.returncode, stdout, stderr) == (0, "terminated\n", "")
    assert os.listdir(out) == ["report.txt"]
    assert target.read_text() == "old content\n"


# ------------------------------------------------------------------ errors after progress

def test_an_error_after_compare_timing_is_exactly_one_line():
    result = hetcalc("compare", MODEL, "--variants", "p2", "--time-budget", "0.05",
                     "-f", "json", "-o", "/dev/full")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"hetcalc: error: --output /dev/full: cannot write it ({FULL})\n"


def test_an_error_after_plan_timing_is_exactly_one_line():
    with open("/dev/full", "w") as full:
        result = hetcalc("plan", MODEL, "--max-latency-ms", "1000", "--time-budget", "0.05",
                         "-f", "json", stdout=full)
    assert result.returncode == 2
    assert result.stderr == f"hetcalc: error: standard output: cannot write to it ({FULL})\n"


def test_compare_timing_leaves_nothing_on_a_stderr_that_is_not_a_terminal():
    result = hetcalc("compare", MODEL, "--variants", "p2", "--time-budget", "0.05",
                     "-f", "json")
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["variants"][0]["variant"] == "p2"
