"""Hostile input files and numbers: every file reader takes only a regular file of a bounded
size (a FIFO, /dev/zero, /dev/urandom, a directory, a huge or deeply nested file are one line
each), numbers are ASCII digits of a bounded size everywhere, every timing option is checked
whether or not anything is timed, and ``hetcalc check`` finds its budget file where git would
find the repository, refuses one another user could have put there, and names the one it uses.

Special files never reach an ``open`` without ``O_NONBLOCK`` (:mod:`hetcalc.readfile` checks
``stat`` first); the FIFO cases still run in a subprocess with a timeout, so a regression fails
instead of hanging the run.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hetcalc import budget
from hetcalc.budget.discover import is_repository_root, unsafe_reason
from hetcalc.budget.values import Bad, parse_count, parse_fraction, parse_positive_number
from hetcalc.devices import load_device_file
from hetcalc.errors import InvalidArgument
from hetcalc.numbers import number_text, parse_float, parse_int
from hetcalc.plan.file import read_plan
from hetcalc.readfile import MAX_BYTES, FileProblem, parse_json, parse_toml, read_text
from hetcalc.settings import LatencySettings
from hetcalc.shapes import parse_input_shape
from hetcalc.variants import parse_variant, part_variant

OK_BUDGET = '[[model]]\nmodel = "vgg16_cifar"\nmax_flops = "1G"\n'
DEVICE = 'name = "b"\nkind = "cpu"\nbandwidth_gbs = 1\n[peak_tflops]\nfloat32 = 1\n'


def _hetcalc(*args: str, cwd: Path | None = None, timeout: float = 60):
    """``python -m hetcalc ARGS`` in a subprocess: (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "hetcalc", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)
    return done.returncode, done.stdout, done.stderr


# ------------------------------------------------------------------ readers and special files

# Every command-line path to a file reader: the file under test replaces FILE; {ok} is a valid
# budget file beside it, for the readers that need one first.
READERS = {
    "budget file": ["check", "FILE"],
    "baseline file": ["check", "{ok}", "--baseline", "FILE"],
    "plan file (analyze --plan)": ["analyze", "vgg16_cifar", "--plan", "FILE"],
    "plan file (compare --variants)": ["compare", "--no-latency", "--variants", "FILE"],
    "device file (device --spec)": ["device", "--spec", "FILE"],
    "device file (analyze --device-spec)": ["analyze", "vgg16_cifar", "--device-spec", "FILE"],
}
def _kind(reader: str) -> str:
    return reader.split(" (")[0]


def _args(reader: str, path: Path, ok: Path) -> list[str]:
    return [str(path) if a == "FILE" else a.replace("{ok}", str(ok)) for a in READERS[reader]]


@pytest.mark.parametrize("reader", list(READERS))
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, reader):
    fifo = tmp_path / "pipe.toml"  # .toml: compare --variants takes it for a plan file
    os.mkfifo(fifo)
    (tmp_path / "ok.toml").write_text(OK_BUDGET)
    code, out, err = _hetcalc(*_args(reader, fifo, tmp_path / "ok.toml"), timeout=120)
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert err.startswith("hetcalc: error: ") and "Traceback" not in err
    assert (f"{fifo}: is a FIFO (named pipe), not a regular file; a {_kind(reader)} must be "
            "a regular file") in err


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("reader", list(READERS))
def test_an_endless_device_is_refused(tmp_path, cli, reader, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    link = tmp_path / "device.toml"  # a name compare --variants takes for a plan file
    link.symlink_to(device)
    (tmp_path / "ok.toml").write_text(OK_BUDGET)
    code, out, err = cli(*_args(reader, link, tmp_path / "ok.toml"))
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert (f"{link}: is a character device, not a regular file; a {_kind(reader)} must be a "
            "regular file") in err


@pytest.mark.parametrize("reader", list(READERS))
def test_a_directory_is_refused(tmp_path, cli, reader):
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    (tmp_path / "ok.toml").write_text(OK_BUDGET)
    code, out, err = cli(*_args(reader, folder, tmp_path / "ok.toml"))
    assert (code, out, err.count("\n")) == (2, "", 1), err
    if reader.startswith("plan file (analyze"):  # the option's own check comes first
        assert f"'{folder}' is a directory" in err
    else:
        assert f"{folder}: is a directory, not a {_kind(reader)}" in err


@pytest.mark.parametrize("reader", list(READERS))
def test_a_file_over_the_limit_is_refused_from_its_size(tmp_path, cli, reader):
    big = tmp_path / "big.toml"
    with open(big, "wb") as handle:  # sparse: 2 GiB of size, nothing written
        handle.truncate(2 * 1024**3)
    (tmp_path / "ok.toml").write_text(OK_BUDGET)
    code, out, err = cli(*_args(reader, big, tmp_path / "ok.toml"))
    assert (code, out, err.count("\n")) == (2, "", 1), err
    limit = "16 MiB" if reader == "baseline file" else "1 MiB"
    assert f"{big}: is 2 GiB; a {_kind(reader)} is at most {limit}" in err


@pytest.mark.parametrize("reader", list(READERS))
def test_deep_nesting_is_one_line(tmp_path, cli, reader):
    deep = tmp_path / "deep.toml"
    if reader == "baseline file":
        deep.write_text("[" * 100_000 + "]" * 100_000)
    else:
        deep.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
    (tmp_path / "ok.toml").write_text(OK_BUDGET)
    code, out, err = cli(*_args(reader, deep, tmp_path / "ok.toml"))
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert "nested too deeply to read" in err


def test_a_plan_named_by_a_budget_file_is_read_the_same_way(tmp_path, cli):
    os.mkfifo(tmp_path / "pipe.toml")
    (tmp_path / "budgets.toml").write_text(OK_BUDGET + 'plan = "pipe.toml"\n')
    code, out, err = cli("check", str(tmp_path / "budgets.toml"))
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert ("plan: pipe.toml: is a FIFO (named pipe), not a regular file; a plan file must be "
            "a regular file") in err


def test_the_stated_limit_is_one_mebibyte():
    assert MAX_BYTES == 1024 * 1024


def test_read_text_reads_at_most_the_limit(tmp_path):
    path = tmp_path / "f.toml"
    path.write_text("x" * 10)
    assert read_text(path, "plan file", limit=10) == "x" * 10
    with pytest.raises(FileProblem, match=r"is 11 bytes; a plan file is at most 10 bytes$"):
        path.write_text("x" * 11)
        read_text(path, "plan file", limit=10)


def test_read_text_other_problems(tmp_path):
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    with pytest.raises(FileProblem) as caught:
        read_text(tmp_path / "latin1.toml", "device file")
    assert caught.value.reason == "not UTF-8 text (invalid continuation byte at byte 11)"
    with pytest.raises(FileProblem) as caught:
        read_text(tmp_path / "none.toml", "device file")
    assert caught.value.reason == "no such file"


def test_parsers_name_the_integer_that_is_too_long(tmp_path):
    text = "a = 1\nb = 2\nc = " + "9" * 5000 + "\n"
    with pytest.raises(FileProblem) as caught:
        parse_toml(text, "x.toml")
    assert caught.value.reason == ("not valid TOML: an integer of 5000 digits at line 3; at most "
                                   "4300 are read")
    with pytest.raises(FileProblem) as caught:
        parse_json('{"a":\n' + "1" * 4301 + "}", "x.json")
    assert caught.value.reason == ("not valid JSON: an integer of 4301 digits at line 2; at most "
                                   "4300 are read")


def test_a_huge_integer_in_a_budget_file_is_one_line(tmp_path, cli):
    path = tmp_path / "budgets.toml"
    path.write_text('[[model]]\nmodel = "vgg16_cifar"\nmax_flops = ' + "9" * 5000 + "\n")
    code, out, err = cli("check", str(path))
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: {path}: not valid TOML: an integer of 5000 digits at line "
                   "3; at most 4300 are read\n")


def test_library_readers_raise_their_own_errors(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)  # stat first: never opened, so nothing waits
    with pytest.raises(InvalidArgument, match="is a FIFO"):
        read_plan(fifo)
    with pytest.raises(InvalidArgument, match="is a FIFO") as caught:
        load_device_file(fifo)
    assert caught.value.argument == "device_spec"
    with pytest.raises(budget.BudgetError, match="is a FIFO"):
        budget.load_budget_file(fifo)
    with pytest.raises(budget.BudgetError, match="is a FIFO"):
        budget.read_baseline(fifo)
    (tmp_path / "device.toml").write_text(DEVICE)
    assert load_device_file(tmp_path / "device.toml").bandwidth == 1e9


@pytest.mark.parametrize(("line", "message"), [
    ("bandwidth_gbs = 1e308", "bandwidth_gbs must be from 1e-06 to 1e+06 GB/s, got 1e+308"),
    ("bandwidth_gbs = 1e-320", "bandwidth_gbs must be from 1e-06 to 1e+06 GB/s, got 1e-320"),
    ("bandwidth_gbs = 1\n[peak_tflops]\nfloat32 = 1e-320",
     "peak_tflops.float32 must be from 1e-06 to 1e+06 TFLOPS, got 1e-320"),
])
def test_device_file_figures_have_a_range(tmp_path, line, message):
    """A figure a millionth below or a million above any device's makes every roofline time 0
    or infinite (1e-320 GB/s: "inf ms"), so it is refused like a negative one."""
    path = tmp_path / "board.toml"
    tables = "" if "[peak_tflops]" in line else "\n[peak_tflops]\nfloat32 = 1"
    path.write_text(f'name = "b"\nkind = "cpu"\n{line}{tables}\n')
    with pytest.raises(InvalidArgument) as caught:
        load_device_file(path)
    assert str(caught.value) == f"device_spec: {path}: {message}"


def test_a_model_file_that_is_a_fifo_is_not_imported(tmp_path, cli):
    os.mkfifo(tmp_path / "net.py")
    code, out, err = cli("analyze", f"{tmp_path}/net.py:build")
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: model '{tmp_path}/net.py:build': file {tmp_path}/net.py is "
                   "not a regular file\n")
    (tmp_path / "budgets.toml").write_text('[[model]]\nmodel = "net.py:build"\nmax_flops = 1\n')
    code, out, err = cli("check", str(tmp_path / "budgets.toml"))
    assert (code, out, err.count("\n")) == (2, "", 1)
    assert f"model: file net.py is not a regular file (looked for {tmp_path}/net.py)" in err


def test_a_device_cache_that_is_not_a_regular_file_is_no_cache(tmp_path):
    from hetcalc.devices_measure import read_cache

    os.mkfifo(tmp_path / "fifo.json")
    assert read_cache(tmp_path / "fifo.json") == []  # at once: a FIFO is never opened to wait
    assert read_cache(Path("/dev/zero")) == []
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    assert read_cache(tmp_path / "deep.json") == []


# ------------------------------------------------------------------ one rule for digits

OTHER_DIGITS = ["٤", "४", "৪", "４", "²", "𝟒"]  # Arabic-Indic, Devanagari, Bengali, fullwidth, ...


@pytest.mark.parametrize("digit", OTHER_DIGITS)
def test_digits_of_other_scripts_are_no_number_anywhere(digit):
    assert number_text(digit) is None
    with pytest.raises(ValueError):
        parse_int(digit)
    with pytest.raises(ValueError):
        parse_float(digit, 0.001, 10)
    with pytest.raises(Bad):
        parse_count(f"{digit}G")
    with pytest.raises(Bad):
        parse_fraction(f"{digit}%", below_one=True)
    with pytest.raises(Bad):
        parse_positive_number(digit)
    with pytest.raises(InvalidArgument):
        budget.parse_tolerance(f"{digit}%")
    with pytest.raises(InvalidArgument):
        part_variant(digit)
    with pytest.raises(InvalidArgument):
        parse_variant(f"p{digit}")
    with pytest.raises(InvalidArgument):
        parse_input_shape(f"1,3,{digit},32")


def test_the_same_numbers_in_ascii_digits_are_read():
    assert parse_int("4") == 4
    assert parse_count("4G") == 4_000_000_000
    assert parse_fraction("25%", below_one=True) == 0.25
    assert parse_positive_number("5") == 5.0
    assert budget.parse_tolerance("5%") == 0.05
    assert part_variant("4").part == 4
    assert parse_variant("p4").part == 4
    assert parse_input_shape("1,3,32,32") == (1, 3, 32, 32)


@pytest.mark.parametrize("args", [
    ["analyze", "vgg16_cifar", "--P", "9" * 5000],
    ["analyze", "vgg16_cifar", "--variant", "p" + "9" * 5000],
    ["analyze", "vgg16_cifar", "--input-shape", "1,3," + "9" * 5000 + ",32"],
    ["plan", "vgg16_cifar", "--max-flops", "9" * 5000],
    ["curve", "--kernel", "9" * 5000],
    ["designs", "--channels", "64", "--budget-params", "9" * 5000],
])
def test_thousands_of_digits_are_one_short_line(cli, args):
    code, out, err = cli(*args)
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert err.startswith("hetcalc: error: ") and len(err) < 400, err


# ------------------------------------------------------------------ ranges

@pytest.mark.parametrize(("field", "value", "message"), [
    ("threads", 1024 + 1, "threads must be a positive integer, at most 1024, got 1025"),
    ("threads", 99999999999, "threads must be a positive integer, at most 1024, "
                             "got 99999999999"),
    ("batch_size", 65536 + 1, "batch_size must be a positive integer, at most 65536, got 65537"),
    ("batch_size", 10**12, "batch_size must be a positive integer, at most 65536, "
                           "got 1000000000000"),
    ("min_run_time", 1e308, "min_run_time must be from 0.001 to 3600 seconds, got 1e+308"),
    ("min_run_time", 3600 + 1, "min_run_time must be from 0.001 to 3600 seconds, got 3601"),
    ("min_run_time", 1e-320, "min_run_time must be from 0.001 to 3600 seconds, got 1e-320"),
    ("min_run_time", float("nan"), "min_run_time must be a finite, positive number of seconds, "
                                   "got nan"),
])
def test_timing_settings_have_ranges(field, value, message):
    with pytest.raises(InvalidArgument) as caught:
        LatencySettings(**{field: value}).check()
    assert (str(caught.value), caught.value.argument) == (message, field)


def test_the_ranges_hold_at_their_ends():
    LatencySettings(threads=1024, batch_size=65536, min_run_time=3600).check()
    LatencySettings(threads=1, batch_size=1, min_run_time=0.001).check()


@pytest.mark.parametrize("command", ["analyze", "compare", "plan", "device"])
def test_help_states_the_ranges(cli, command):
    code, out, _ = cli(command, "--help")
    text = " ".join(out.split())
    assert code == 0 and "1 to 1024" in text  # --threads
    if command != "device":
        assert "1 to 65536" in text and "0.001 to 3600" in text  # --batch-size, --time-budget


@pytest.mark.parametrize(("args", "message"), [
    (["analyze", "vgg16_cifar", "--threads", "-3"], "--threads must be a positive integer, got -3"),
    (["analyze", "vgg16_cifar", "--batch-size", "0"],
     "--batch-size must be a positive integer, got 0"),
    (["analyze", "vgg16_cifar", "--dtype", "int8"],
     "--dtype must be one of float32, float16, bfloat16, got 'int8'"),
    (["analyze", "vgg16_cifar", "--device", "tpu"],
     "--device must be one of auto, cpu, cuda, got 'tpu'"),
    (["analyze", "vgg16_cifar", "--time-budget", "nan"],
     "--time-budget must be a finite, positive number of seconds, got nan"),
    (["compare", "--no-latency", "--threads", "99999999999"],
     "--threads must be a positive integer, at most 1024, got 99999999999"),
    (["compare", "--no-latency", "--time-budget", "1e308"],
     "--time-budget must be from 0.001 to 3600 seconds, got 1e+308"),
    (["plan", "vgg16_cifar", "--max-flops", "1G", "--batch-size", "1000000000000"],
     "--batch-size must be a positive integer, at most 65536, got 1000000000000"),
    (["plan", "vgg16_cifar", "--max-latency-ms", "1e-320"],
     "--max-latency-ms must be from 0.001 to 3600000 ms, got the float 1e-320"),
    (["device", "--threads", "99999999999"],
     "--threads must be a positive integer, at most 1024, got 99999999999"),
    (["curve", "--max-part", str(2**20 + 1)],
     "--max-part must be a positive integer, at most 1048576, got 1048577"),
    (["designs", "--channels", str(65536 + 1)],
     "--channels must be a positive integer, at most 65536, got 65537"),
    (["designs", "--channels", "64", "--budget-params", "1e12"],
     "--budget-params must be at most 1e11 (100 billion parameters), got 1e12"),
])
def test_options_are_checked_whether_or_not_they_are_used(cli, args, message):
    code, out, err = cli(*args)
    assert (code, out, err) == (2, "", f"hetcalc: error: {message}\n")


@pytest.mark.parametrize(("line", "message"), [
    ("max_latency_ms = 1e-320", "max_latency_ms: must be from 0.001 to 3600000 ms, got the "
                                "float 1e-320"),
    ("max_latency_ms = 0", "max_latency_ms: must be a positive number, got the integer 0"),
    ("max_latency_ms = 5\nthreads = 99999999999", "threads: too large: at most 1024, got the "
                                                  "integer 99999999999"),
    ("max_latency_ms = 5\nbatch_size = 65537", "batch_size: too large: at most 65536, got the "
                                               "integer 65537"),
    ("max_latency_ms = 5\nmin_run_time = 1e308", "min_run_time: must be from 0.001 to 3600 s, "
                                                 "got the float 1e+308"),
    ('max_flops = "1G"\ninput_shape = [1, 3, 2147483648, 32]', "each size is at most "
                                                               "2147483647"),
    ('max_flops = "\u0664G"', "max_flops: bad number '\u0664G'"),
])
def test_budget_file_values_have_ranges(tmp_path, cli, line, message):
    path = tmp_path / "budgets.toml"
    path.write_text(f'[[model]]\nmodel = "vgg16_cifar"\n{line}\n', encoding="utf-8")
    code, out, err = cli("check", str(path))
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert message in err


def test_a_batch_whose_activations_cannot_fit_is_refused_before_timing(cli):
    # resnet18's layer1 convs at 4096x4096 hold 64 x 1024 x 1024 x 4 bytes = 256 MiB an image;
    # 65536 images of it are 16 TiB, more than any machine has.
    code, out, err = cli("analyze", "resnet18", "--latency", "--input-shape",
                         "1,3,4096,4096", "--batch-size", "65536", "--no-count")
    assert (code, out, err.count("\n")) == (2, "", 1), err
    assert err.startswith("hetcalc: error: --batch-size 65536: timing would need about ")


# ------------------------------------------------------------------ baselines

def test_a_baseline_without_entries_is_refused(tmp_path):
    path = tmp_path / "base.json"
    path.write_text('{"hetcalc_baseline": 1, "unit": "MAC"}')
    with pytest.raises(budget.BudgetError) as caught:
        budget.read_baseline(path)
    assert str(caught.value) == (f"{path}: no \"entries\" array; a baseline holds the records of "
                                 "every entry (write one with hetcalc check --write-baseline)")
    path.write_text('{"hetcalc_baseline": 1, "entries": []}')
    assert budget.read_baseline(path) == {}


# ------------------------------------------------------------------ discovery

def _repository(path: Path) -> Path:
    (path / ".git").mkdir(parents=True)
    (path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return path


def test_what_git_takes_for_a_repository(tmp_path):
    assert is_repository_root(_repository(tmp_path / "real"))
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    assert not is_repository_root(tmp_path / "empty")
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere" / ".git").write_text("gitdir: /no/such/dir\n")
    assert not is_repository_root(tmp_path / "nowhere")
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / ".git").write_text("not a gitdir line\n")
    assert not is_repository_root(tmp_path / "garbage")
    (tmp_path / "worktree").mkdir()
    (tmp_path / "worktree" / ".git").write_text("gitdir: ../real/.git\n")
    assert is_repository_root(tmp_path / "worktree")
    (tmp_path / "fifo").mkdir()
    os.mkfifo(tmp_path / "fifo" / ".git")
    assert not is_repository_root(tmp_path / "fifo")


@pytest.mark.parametrize("fake", ["empty directory", "gitdir pointing nowhere"])
def test_a_fake_git_does_not_widen_the_search(tmp_path, fake):
    """A stranger's .git above the project does not make its budgets.toml the project's."""
    (tmp_path / "budgets.toml").write_text(OK_BUDGET)
    if fake == "empty directory":
        (tmp_path / ".git").mkdir()
    else:
        (tmp_path / ".git").write_text("gitdir: /no/such/dir\n")
    (tmp_path / "project").mkdir()
    with pytest.raises(budget.BudgetError, match=r"\(not in a git repository, so its parents "
                                                  r"were not searched\)"):
        budget.find_budget_file(tmp_path / "project")


def test_a_directory_anyone_may_write_without_the_sticky_bit_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    found = shared / "budgets.toml"
    found.write_text(OK_BUDGET)
    shared.chmod(0o777)
    try:
        assert unsafe_reason(found) == (f"its directory {shared} is writable by anyone, without "
                                        "the sticky bit, so anyone may replace it")
        with pytest.raises(budget.BudgetError) as caught:
            budget.find_budget_file(shared)
        assert str(caught.value) == (
            f"{found}: not used, since its directory {shared} is writable by anyone, without "
            "the sticky bit, so anyone may replace it; a budget file runs the model code it "
            f"names; if it is yours to run, name it: hetcalc check {found}")
        shared.chmod(0o777 | stat.S_ISVTX)  # /tmp's mode: others cannot replace our file
        assert budget.find_budget_file(shared) == found
    finally:
        shared.chmod(0o755)


def test_a_file_anyone_may_write_is_refused(tmp_path):
    found = tmp_path / "budgets.toml"
    found.write_text(OK_BUDGET)
    found.chmod(0o666)
    assert unsafe_reason(found) == "anyone may write it (mode o+w)"
    with pytest.raises(budget.BudgetError, match=r"not used, since anyone may write it"):
        budget.find_budget_file(tmp_path)
    found.chmod(0o644)
    assert unsafe_reason(found) is None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a file to another user needs root")
def test_a_file_of_another_user_is_refused(tmp_path):
    found = tmp_path / "budgets.toml"
    found.write_text(OK_BUDGET)
    os.chown(found, 54321, -1)
    assert unsafe_reason(found) == "it is owned by another user (uid 54321)"
    with pytest.raises(budget.BudgetError, match=r"owned by another user \(uid 54321\)"):
        budget.find_budget_file(tmp_path)


TINY_MODEL = '''
from torch import nn


def build():
    return nn.Conv2d(3, 4, 3)


build.input_shape = (1, 3, 8, 8)
'''


def test_the_file_used_is_named_on_stderr(tmp_path):
    project = _repository(tmp_path / "project")
    (project / "tiny.py").write_text(TINY_MODEL)
    (project / "budgets.toml").write_text('[[model]]\nmodel = "tiny.py:build"\n'
                                          'max_flops = "1M"\n')
    (project / "src").mkdir()
    code, out, err = _hetcalc("check", "--format", "json", cwd=project / "src", timeout=300)
    assert code == 0, err
    assert err.splitlines()[0] == f"hetcalc check: using {(project / 'budgets.toml').resolve()}"
    assert out.lstrip().startswith("{")  # JSON on stdout stays clean
