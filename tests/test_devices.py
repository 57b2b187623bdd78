"""hetcalc.devices (the named table, TOML files), hetcalc.devices_measure (measured here, the
cache) and ``hetcalc device``. Expected figures are the datasheets' own, converted in the test:
FLOP/s / 2 = MAC/s, a "with sparsity" figure / 2 = dense."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hetcalc import devices_measure
from hetcalc.devices import DEVICES, DeviceModel, device_spec, load_device_file
from hetcalc.errors import InvalidArgument
from hetcalc.render import OutputFormat, render_text, to_string
from hetcalc.render.device import DEVICE_SCHEMA, render_table

ROOT = Path(__file__).parent.parent
T, G = 1e12, 1e9

# key: (float32 FLOP/s, float16 FLOP/s, bfloat16 FLOP/s or None, bandwidth bytes/s), as printed
DATASHEETS = {
    "a100": (19.5 * T, 312 * T, 312 * T, 2039 * G),
    "h100": (67 * T, 1979 * T / 2, 1979 * T / 2, 3.35e12),
    "h200": (67 * T, 1979 * T / 2, 1979 * T / 2, 4.8e12),
    "l4": (30.3 * T, 242 * T / 2, 242 * T / 2, 300 * G),
    "t4": (8.1 * T, 65 * T, None, 320 * G),
    "rtx4090": (82.6 * T, 165.2 * T, 165.2 * T, 1008 * G),
    "orin": (5.3 * T, 170 * T / 2 / 2, 170 * T / 2 / 2, 204.8 * G),
    # 4 cores x 2.4 GHz x 2 FMA pipes x 4 float32 lanes (8 float16) x 2 FLOPs; 4267 MT/s x 4 bytes
    "rpi5": (4 * 2.4e9 * 2 * 4 * 2, 4 * 2.4e9 * 2 * 8 * 2, None, 4267e6 * 4),
}


# --- the named table -------------------------------------------------------------------------

def test_the_table_holds_the_devices_the_issue_names():
    assert set(DEVICES) == set(DATASHEETS)


@pytest.mark.parametrize("key", list(DATASHEETS))
def test_figures_are_the_datasheets_halved_into_macs(key):
    fp32, fp16, bf16, bandwidth = DATASHEETS[key]
    model = DEVICES[key]
    assert model.peak("float32") == pytest.approx(fp32 / 2, rel=1e-12)
    assert model.peak("float16") == pytest.approx(fp16 / 2, rel=1e-12)
    if bf16 is None:
        assert "bfloat16" not in model.peak_macs
    else:
        assert model.peak("bfloat16") == pytest.approx(bf16 / 2, rel=1e-12)
    assert model.bandwidth == pytest.approx(bandwidth, rel=1e-12)
    assert model.balance == pytest.approx(fp32 / 2 / bandwidth, rel=1e-12)
    assert re.search(r"datasheet|technical brief|whitepaper|product brief", model.source)
    assert model.kind == ("cpu" if key == "rpi5" else "gpu")
    assert model.spread == {} and model.environment == {}


def test_spot_checks_a_reader_can_do_by_hand():
    assert DEVICES["h100"].peak("float32") == 67e12 / 2
    assert DEVICES["h100"].balance == pytest.approx(10.0)  # 33.5T MAC/s over 3.35 TB/s
    assert DEVICES["a100"].peak("bfloat16") == 156e12
    assert DEVICES["rpi5"].peak("float32") == pytest.approx(76.8e9)
    assert DEVICES["rpi5"].bandwidth == pytest.approx(17.068e9)


def test_a_missing_dtype_names_the_ones_the_device_has():
    with pytest.raises(InvalidArgument) as caught:
        DEVICES["t4"].peak("bfloat16")
    assert caught.value.argument == "dtype"
    assert str(caught.value) == "dtype 'bfloat16': T4 has no peak for it; it has float32, float16"


@pytest.mark.parametrize(("spec", "key"), [
    ("h100", "h100"), ("H100", "h100"), ("H100 SXM", "h100"), ("a100", "a100"),
    ("A100 SXM 80GB", "a100"), ("rtx-4090", "rtx4090"), ("RTX 4090", "rtx4090"),
    ("rpi5", "rpi5"), ("Raspberry Pi 5", "rpi5"), ("pi5", "rpi5"), ("Jetson AGX Orin", "orin"),
    (" l4 ", "l4"), ("T4", "t4"), ("h200", "h200"),
])
def test_names_and_aliases(spec, key):
    assert device_spec(spec) is DEVICES[key]


@pytest.mark.parametrize(("spec", "suggestion"), [("h10", "h100"), ("a10", "a100"),
                                                  ("rpi4", "rpi5"), ("nosuch", None)])
def test_an_unknown_name_is_one_line_with_close_matches(spec, suggestion):
    with pytest.raises(InvalidArgument) as caught:
        device_spec(spec)
    message = str(caught.value)
    assert caught.value.argument == "device_spec"
    assert message.startswith(f"device_spec: unknown device {spec!r}")
    assert "known: a100, h100, h200, l4, t4, rtx4090, orin, rpi5, or a TOML file" in message
    assert "\n" not in message
    assert (f"did you mean {suggestion}" in message) if suggestion else "did you mean" not in message


# --- a TOML file of one's own ------------------------------------------------------------------

GOOD = 'name = "my board"\nkind = "cpu"\nbandwidth_gbs = 25.6\n[peak_tflops]\nfloat32 = 0.5\n'


def test_a_toml_file(tmp_path):
    path = tmp_path / "board.toml"
    path.write_text(GOOD, encoding="utf-8")
    model = device_spec(str(path))
    assert model == DeviceModel("my board", {"float32": 0.5e12 / 2}, 25.6e9, f"file {path}", "cpu")
    assert model.balance == pytest.approx(0.25e12 / 25.6e9)
    path.write_text(GOOD.replace("[peak", 'source = "rev 3 sheet"\n[peak')
                    + "float16 = 1\nbfloat16 = 2\n", encoding="utf-8")
    model = load_device_file(path)
    assert (model.source, model.peak("float16"), model.peak("bfloat16")) == ("rev 3 sheet", 0.5e12,
                                                                          1e12)


def test_the_toml_example_in_the_docs_loads(tmp_path):
    text = (ROOT / "docs" / "devices.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", text, re.S)[1]
    path = tmp_path / "example.toml"
    path.write_text(example, encoding="utf-8")
    model = load_device_file(path)
    assert (model.name, model.kind, model.bandwidth, model.peak("float32")) == (
        "my board", "cpu", 25.6e9, 0.25e12)


BAD = [
    ("not toml", "name = \n", "not valid TOML ("),
    ("missing name", GOOD.replace('name = "my board"\n', ""), "missing key 'name'"),
    ("missing kind", GOOD.replace('kind = "cpu"\n', ""), "missing key 'kind'"),
    ("missing bandwidth", GOOD.replace("bandwidth_gbs = 25.6\n", ""),
     "missing key 'bandwidth_gbs' (memory bandwidth in GB/s (10^9 bytes/s), a positive number)"),
    ("missing peaks", GOOD.split("[peak")[0], "missing key 'peak_tflops'"),
    ("missing float32", GOOD.replace("float32", "float16"),
     "missing key 'peak_tflops.float32' (dense float32 TFLOPS)"),
    ("unknown key", GOOD.replace("bandwidth_gbs", "bandwith_gbs"),
     "unknown key 'bandwith_gbs'; valid keys: name, kind, bandwidth_gbs, peak_tflops, source"),
    ("string number", GOOD.replace("25.6", '"25.6"'),
     "bandwidth_gbs must be a positive number of GB/s (10^9 bytes/s), got '25.6'"),
    ("boolean", GOOD.replace("25.6", "true"), "bandwidth_gbs must be a positive number"),
    ("negative", GOOD.replace("0.5", "-1"),
     "peak_tflops.float32 must be a positive number of TFLOPS (10^12 FLOP/s), got -1"),
    ("zero", GOOD.replace("25.6", "0"), "bandwidth_gbs must be a positive number"),
    ("nan", GOOD.replace("0.5", "nan"), "peak_tflops.float32 must be a positive number"),
    ("inf", GOOD.replace("25.6", "inf"), "bandwidth_gbs must be a positive number"),
    ("unknown dtype", GOOD + "fp16 = 1.0\n",
     "peak_tflops: unknown dtype 'fp16'; valid: float32, float16, bfloat16"),
    ("kind", GOOD.replace('"cpu"', '"npu"'), "kind must be gpu or cpu, got 'npu'"),
    ("peaks not a table", GOOD.split("[peak")[0] + "peak_tflops = 0.5\n",
     "peak_tflops must be a table"),
    ("empty name", GOOD.replace('"my board"', '""'), "name must be the device's name"),
    ("name not a string", GOOD.replace('"my board"', "3"), "name must be the device's name"),
    ("source not a string", GOOD.replace("[peak", "source = 1\n[peak"),
     "source must be a non-empty string, got 1"),
]


@pytest.mark.parametrize(("content", "expected"), [pytest.param(c, e, id=i) for i, c, e in BAD])
def test_every_mistake_in_a_toml_file_is_one_line(tmp_path, content, expected):
    path = tmp_path / "board.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InvalidArgument) as caught:
        device_spec(str(path))
    message = str(caught.value)
    assert caught.value.argument == "device_spec"
    assert message.startswith(f"device_spec: {path}: "), message
    assert expected in message
    assert "\n" not in message


def test_files_that_cannot_be_read(tmp_path):
    cases = {tmp_path / "missing.toml": "no such file",
             tmp_path: "is a directory, not a device file",
             tmp_path / "latin1.toml": "not UTF-8 text"}
    (tmp_path / "latin1.toml").write_bytes(b'name = "caf\xe9"\n')
    for path, expected in cases.items():
        with pytest.raises(InvalidArgument) as caught:
            device_spec(str(path))
        assert caught.value.argument == "device_spec"
        assert str(caught.value).startswith(f"device_spec: {path}: {expected}"), str(caught.value)


# --- measured here -----------------------------------------------------------------------------

@pytest.fixture
def timed(monkeypatch, tmp_path):
    """A tiny measurement (64x64 matmul, 3x3 conv 8 -> 8 at 8x8, 1 MiB copy) into a cache under
    tmp_path; counts the timings actually run."""
    monkeypatch.setenv(devices_measure.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(devices_measure, "CPU_MATMUL", 64)
    monkeypatch.setattr(devices_measure, "CONV_SHAPE", (8, 8, 8))
    monkeypatch.setattr(devices_measure, "COPY_BYTES", 2**20)
    monkeypatch.setattr(devices_measure, "MIN_RUN_TIME", 0.01)
    calls: list[str] = []
    real = devices_measure._time

    def counting(stmt, *args, **kwargs):
        calls.append(stmt)
        return real(stmt, *args, **kwargs)

    monkeypatch.setattr(devices_measure, "_time", counting)
    return calls


def _finite_positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_measuring_the_cpu_gives_positive_figures_and_fills_the_cache(timed):
    said: list[str] = []
    model = devices_measure.measure_device("cpu", threads=1, on_measure=said.append)
    assert model.kind == "cpu" and model.name.startswith("this machine: ")
    assert list(model.peak_macs) == ["float32"]
    assert _finite_positive(model.peak("float32")) and _finite_positive(model.bandwidth)
    assert set(model.spread) == {"float32", "bandwidth"}
    assert all(math.isfinite(s) and s >= 0 for s in model.spread.values())
    assert model.environment["threads"] == 1 and model.environment["device"] == "cpu"
    assert (model.environment["matmul_size"], model.environment["copy_bytes"]) == (64, 2**20)
    assert model.environment["matmul_sizes"] == {"float32": 64}
    assert model.source.startswith("measured here on ") and "threads 1, torch " in model.source
    assert timed == ["torch.mm(a, b, out=out)", "run(x)", "dst.copy_(src)"]
    assert said == ["float32 peak: 64x64 matmuls on cpu",
                    "float32 peak: a 3x3 conv 8 -> 8 channels at 8x8 on cpu",
                    "bandwidth: copies of 1 MiB on cpu"]
    assert model.environment["peak_kernel"]["float32"] in ("matmul", "conv")
    assert model.environment["conv_shape"] == [1, 8, 8, 8]

    data = json.loads(devices_measure.cache_path().read_text(encoding="utf-8"))
    assert data["schema_version"] == 1
    stored = {r["environment"]["measure"]: r for r in data["measurements"]}
    assert max(stored["matmul"]["value"], stored["conv"]["value"]) == model.peak("float32")
    assert stored["matmul"]["environment"]["dtype"] == "float32"
    assert stored["copy"]["value"] == model.bandwidth
    assert stored["copy"]["unit"] == "bytes/s" and stored["matmul"]["unit"] == "MAC/s"


def test_a_second_call_reads_the_cache_and_refresh_measures_again(timed):
    first = devices_measure.measure_device("cpu", threads=1)
    assert len(timed) == 3  # matmul, conv, copy
    said: list[str] = []
    assert devices_measure.measure_device("cpu", threads=1, on_measure=said.append) == first
    assert len(timed) == 3 and said == []
    devices_measure.measure_device("cpu", threads=1, refresh=True)
    assert len(timed) == 6
    assert len(devices_measure.read_cache(devices_measure.cache_path())) == 3  # replaced, not added
    devices_measure.measure_device("cpu", threads=2)  # another environment: measured, kept beside
    assert len(timed) == 9
    assert len(devices_measure.read_cache(devices_measure.cache_path())) == 6


def test_a_new_dtype_measures_only_that_dtype(timed):
    devices_measure.measure_device("cpu", threads=1)
    model = devices_measure.measure_device("cpu", threads=1, dtypes=("float32", "bfloat16"))
    assert len(timed) == 4 and list(model.peak_macs) == ["float32", "bfloat16"]
    alone = devices_measure.measure_device("cpu", threads=1, dtypes="bfloat16")  # float32 too:
    assert alone.peak_macs == model.peak_macs  # the balance is defined on it
    assert len(timed) == 4


@pytest.mark.parametrize(("conv_seconds", "kernel"), [(1e-3, "conv"), (1.0, "matmul")])
def test_the_float32_peak_is_the_faster_kernels(timed, monkeypatch, conv_seconds, kernel):
    """A roofline's peak is what the fastest kernel attains: the matmul runs 64^3 = 262,144
    MACs in 1 ms (262.144M MAC/s); the conv 1,000,000 MACs in 1 ms (1G MAC/s) or in 1 s."""
    monkeypatch.setattr(devices_measure, "_matmul",
                        lambda *args: (64, float(64 ** 3), 1e-3, 0.0))
    monkeypatch.setattr(devices_measure, "_conv",
                        lambda *args: (1, 1_000_000.0, conv_seconds, 0.0))
    model = devices_measure.measure_device("cpu", threads=1)
    expected = {"conv": 1_000_000 / 1e-3, "matmul": 64 ** 3 / 1e-3}[kernel]
    assert model.peak("float32") == pytest.approx(expected)
    assert model.environment["peak_kernel"] == {"float32": kernel}


def test_a_matmul_too_slow_for_the_budget_is_timed_smaller():
    import torch

    cpu = torch.device("cpu")
    assert devices_measure._fitting_size(torch, cpu, torch.float32, 1024, budget=0.0) == 256
    assert devices_measure._fitting_size(torch, cpu, torch.float32, 1024, budget=1e9) == 1024
    assert devices_measure._fitting_size(torch, cpu, torch.float32, 100, budget=0.0) == 100


@pytest.mark.parametrize("content", ["{not json", "[]", '{"schema_version": 1}',
                                     '{"schema_version": 99, "measurements": []}',
                                     '{"schema_version": 1, "measurements": [{"value": "x"}]}'])
def test_a_corrupt_cache_is_ignored_and_rewritten(timed, content):
    path = devices_measure.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8")
    model = devices_measure.measure_device("cpu", threads=1)
    assert len(timed) == 3 and _finite_positive(model.bandwidth)
    assert len(devices_measure.read_cache(path)) == 3  # matmul, conv, copy


def test_a_cache_that_cannot_be_written_only_costs_measuring_again(timed, monkeypatch, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv(devices_measure.CACHE_ENV, str(blocker))  # its "directory" is a file
    devices_measure.measure_device("cpu", threads=1)
    devices_measure.measure_device("cpu", threads=1)
    assert len(timed) == 6


def test_where_the_cache_lives(monkeypatch, tmp_path):
    monkeypatch.delenv(devices_measure.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert devices_measure.cache_path() == tmp_path / "hetcalc" / "device.json"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored, as XDG says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert devices_measure.cache_path() == tmp_path / "home" / ".cache" / "hetcalc" / "device.json"
    monkeypatch.setenv(devices_measure.CACHE_ENV, str(tmp_path / "mine"))
    assert devices_measure.cache_path() == tmp_path / "mine" / "device.json"


@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"device": "tpu"}, "device"), ({"threads": 0}, "threads"), ({"dtypes": ["float64"]}, "dtype"),
    ({"dtypes": []}, "dtype"), ({"matmul_size": 0}, "matmul_size"),
    ({"min_run_time": float("nan")}, "min_run_time")])
def test_bad_arguments_name_themselves(kwargs, argument, timed):
    with pytest.raises(InvalidArgument) as caught:
        devices_measure.measure_device(**kwargs)
    assert caught.value.argument == argument and str(caught.value).startswith(argument)
    assert timed == []


# --- the command -------------------------------------------------------------------------------

def _hetcalc_without_torch(*args: str) -> tuple[int, str, list[str]]:
    """Run ``hetcalc ARGS`` in a fresh interpreter: (exit code, stdout, heavy modules loaded)."""
    code = textwrap.dedent("""
        import json, sys
        from hetcalc.cli import main
        code = main(sys.argv[1:])
        loaded = [m for m in ("torch", "torchvision", "fvcore") if m in sys.modules]
        print(json.dumps([code, loaded]), file=sys.stderr)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                            timeout=120, env=env, cwd=ROOT)
    exit_code, loaded = json.loads(result.stderr.strip().splitlines()[-1])
    return exit_code, result.stdout, loaded


def _check_schema(data: dict) -> None:
    """The JSON validates against DEVICE_SCHEMA (the package's ``schemas/device.json``), and
    has exactly the keys it names."""
    import jsonschema

    jsonschema.Draft202012Validator(DEVICE_SCHEMA).validate(data)
    assert set(data) == set(DEVICE_SCHEMA["required"])
    assert data["schema_version"] == DEVICE_SCHEMA["properties"]["schema_version"]["const"]
    item = DEVICE_SCHEMA["properties"]["devices"]["items"]
    for device in data["devices"]:
        assert set(device) == set(item["required"]) == set(item["properties"])
        assert device["kind"] in item["properties"]["kind"]["enum"]
        assert "float32" in device["peak_macs_per_s"]
        assert all(v > 0 for v in device["peak_macs_per_s"].values())


def test_spec_and_list_answer_without_torch():
    code, out, loaded = _hetcalc_without_torch("device", "--spec", "h100", "-f", "json")
    assert (code, loaded) == (0, [])
    data = json.loads(out)
    _check_schema(data)
    (h100,) = data["devices"]
    assert h100["spec"] == "h100" and h100["name"] == "H100 SXM"
    assert h100["peak_macs_per_s"] == {"float32": 67e12 / 2, "float16": 1979e12 / 4,
                                       "bfloat16": 1979e12 / 4}
    assert h100["bandwidth_bytes_per_s"] == 3.35e12
    assert h100["balance_macs_per_byte"] == pytest.approx(10.0)

    code, out, loaded = _hetcalc_without_torch("device", "--list")
    assert (code, loaded) == (0, [])
    for model in DEVICES.values():
        assert model.name.split()[0] in out
    assert "9.75T" in out and "494.75T" in out and "Raspberry Pi 5 product brief" in out


def test_the_list_fits_80_columns():
    text = to_string(render_text(render_table(DEVICES), OutputFormat.TABLE), width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "fp32" in text and "Headers in full" in text and "Left out" not in text


def test_list_as_json_and_csv(cli):
    code, out, _ = cli("device", "--list", "-f", "json")
    data = json.loads(out)
    _check_schema(data)
    assert [d["spec"] for d in data["devices"]] == list(DEVICES)
    code, out, _ = cli("device", "--list", "-f", "csv")
    lines = out.splitlines()
    assert lines[0] == ("name,kind,peak_macs_float32,peak_macs_float16,peak_macs_bfloat16,"
                        "bandwidth_bytes_per_s,balance_macs_per_byte,source")
    assert len(lines) == 1 + len(DEVICES)
    assert lines[5].startswith("T4,gpu,4050000000000.0,32500000000000.0,,320000000000.0,")


@pytest.mark.parametrize(("args", "start"), [
    (("--spec", "nosuch"), "hetcalc: error: --spec: unknown device 'nosuch'; known: a100"),
    (("--spec", "h10"), "hetcalc: error: --spec: unknown device 'h10' (did you mean h100?)"),
    (("--spec", "h100", "--list"), "hetcalc: error: --spec and --list: give one of them"),
    (("--spec", "h100", "--refresh"),
     "hetcalc: error: --refresh (how to measure this machine) cannot go with --spec"),
    (("--list", "--threads", "2"),
     "hetcalc: error: --threads (how to measure this machine) cannot go with --list"),
    (("--spec", "missing.toml"), "hetcalc: error: --spec: missing.toml: no such file"),
    (("--dtype", "float64"), "hetcalc: error: --dtype must be one of float32, float16, bfloat16"),
    (("--threads", "0"), "hetcalc: error: --threads must be a positive integer, got 0"),
    (("--device", "tpu"), "hetcalc: error: --device must be one of auto, cpu, cuda, got 'tpu'"),
])
def test_errors_are_one_line_and_exit_2(cli, args, start):
    code, out, err = cli("device", *args)
    assert (code, out) == (2, "")
    assert err.startswith(start) and err.count("\n") == 1, err


def test_the_library_bounds_threads_as_the_commands_do():
    # 1025 threads would be measured and cached under an environment no command can ask for
    with pytest.raises(InvalidArgument) as caught:
        devices_measure.measure_device("cpu", threads=1024 + 1)
    assert str(caught.value) == "threads must be a positive integer, at most 1024, got 1025"
    assert caught.value.argument == "threads"


def test_a_file_through_the_command(cli, tmp_path):
    path = tmp_path / "board.toml"
    path.write_text(GOOD, encoding="utf-8")
    code, out, _ = cli("device", "--spec", str(path), "-f", "json")
    (board,) = json.loads(out)["devices"]
    assert (code, board["spec"], board["peak_macs_per_s"]) == (0, None, {"float32": 0.25e12})
    path.write_text(GOOD.replace("25.6", "-1"), encoding="utf-8")
    code, out, err = cli("device", "--spec", str(path))
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: --spec: {path}: bandwidth_gbs must be a positive number of "
                   "GB/s (10^9 bytes/s), got -1\n")


def test_measuring_through_the_command(cli, timed):
    code, out, err = cli("device", "--device", "cpu", "--threads", "1", "-f", "json")
    assert code == 0, err
    assert "measuring float32 peak: 64x64 matmuls on cpu" in err
    data = json.loads(out)
    _check_schema(data)
    (here,) = data["devices"]
    assert here["spec"] is None and here["kind"] == "cpu"
    assert set(here["spread"]) == {"float32", "bandwidth"}
    assert here["environment"]["threads"] == 1
    code, again, err = cli("device", "--device", "cpu", "--threads", "1", "-f", "json")
    assert (code, err, json.loads(again)) == (0, "", data)  # from the cache: nothing on stderr
    code, out, err = cli("device", "--device", "cpu", "--threads", "1", "--wide")
    assert code == 0 and "how it was measured" in out
    assert "torch.mm of two 64x64: 64^3 = 262.14K MACs a run" in out
    assert str(devices_measure.cache_path()) in out.replace("\n", "")


def test_others_busy_is_the_cpu_time_outside_this_process():
    from hetcalc.devices_measure import others_busy

    # 2 cores for 10 s = 20 CPU-seconds; the machine was busy 12 s of them, this process 8 s:
    # others took 4 s, 4 / 20 = 0.2.
    assert others_busy((100.0, 5.0), (112.0, 13.0), 10.0, 2) == 0.2
    # this process alone: nothing for the others, never below 0
    assert others_busy((100.0, 5.0), (108.0, 13.5), 10.0, 2) == 0.0
    assert others_busy(None, (1.0, 1.0), 10.0, 2) is None


def test_a_measurement_on_a_busy_machine_says_so():
    from hetcalc.devices import DeviceModel
    from hetcalc.render.device import render_measured

    model = DeviceModel(name="this machine: x", peak_macs={"float32": 1e11}, bandwidth=5e10,
                        source="measured here", kind="cpu", spread={"float32": 0.01},
                        environment={"device": "cpu", "others_busy": 0.37})
    notes = " ".join(render_measured(model, "/c/device.json").notes)
    assert "Other processes took 37% of this machine's CPU time" in notes
    quiet = DeviceModel(**{**model.__dict__, "environment": {"device": "cpu",
                                                               "others_busy": 0.05}})
    assert "Other processes" not in " ".join(render_measured(quiet, "/c/device.json").notes)
