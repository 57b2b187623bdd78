"""This machine's ceilings, measured: peak MAC/s from a large matmul per dtype (float32: the
faster of it and a large 3x3 convolution), bandwidth from a large copy,
each timed with ``torch.utils.benchmark`` (median and interquartile range of timed
blocks; it synchronises CUDA), and kept in a cache so that a second call answers at once.

- Peak: ``torch.mm`` of two n x n matrices runs n^3 MACs; MAC/s = n^3 / median seconds. On CUDA,
  float32 is timed at ``torch.set_float32_matmul_precision("highest")`` (no TF32), as the
  datasheets' FP32 figures assume. Where one run would outlast half the timing budget (float16
  on most CPUs), a smaller n is timed (:func:`_fitting_size`), so that several blocks give a
  spread.
- A roofline's peak is what the fastest kernel attains, or measured layers would beat their
  own bound: on CPUs oneDNN's convolutions run faster than the BLAS matmul (on the 2-core
  machine this project is built on, about 109 against 87 GMAC/s). float32's peak is therefore
  the larger of the matmul's and a 3x3 conv's, 256 -> 256 channels on 56x56 (32 images on a
  GPU): ``256·256·9·56·56`` MACs an image; ``environment["peak_kernel"]`` says which won.
- Bandwidth: ``dst.copy_(src)`` of ``copy_bytes`` reads and writes them: 2 x ``copy_bytes`` per
  copy; bytes/s = 2 x copy_bytes / median seconds.
- Competition: a figure measured while other processes kept the cores busy is low. Where
  ``/proc/stat`` exists (Linux), each record keeps ``others_busy``: the share of the machine's
  CPU time spent outside this process while it measured (all cores' busy time from
  ``/proc/stat``, less this process's own from ``resource.getrusage``), and ``hetcalc device``
  says when it was over :data:`hetcalc.settings.BUSY_LIMIT`.
- The cache is ``$HETCALC_CACHE_DIR/device.json`` when that is set, else
  ``$XDG_CACHE_HOME/hetcalc/device.json``, else ``~/.cache/hetcalc/device.json``. Each
  measurement is kept under the environment it was taken in (device type and name, threads,
  torch version, dtype, size); a corrupt or unreadable file is ignored and rewritten, and one
  that cannot be written costs only the next call's measuring again.

Torch is imported inside :func:`measure_device` only.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hetcalc.devices import DeviceModel
from hetcalc.errors import InvalidArgument, require_positive
from hetcalc.fileio import atomic_write_text
from hetcalc.readfile import FileProblem, parse_json, read_text
from hetcalc.settings import DEVICES, DTYPES, MAX_THREADS

CACHE_ENV = "HETCALC_CACHE_DIR"
CACHE_FILE = "device.json"
CACHE_VERSION = 1
CPU_MATMUL = 2048
"""n of the n x n matmul on a CPU: 2048^3 = 8.6G MACs, a tenth of a second on a few cores."""
CUDA_MATMUL = 8192
"""n on a GPU: 8192^3 = 550G MACs, milliseconds on a datacenter GPU."""
COPY_BYTES = 256 * 2**20
"""The copied tensor: 256 MiB, far beyond any cache; 512 MiB move per copy."""
CONV_SHAPE = (256, 56, 56)
"""Channels, height, width of the 3x3 conv float32's peak is also timed on (ResNet-50's
layer1 width at 56x56: 1.85G MACs an image)."""
CUDA_CONV_BATCH = 32
MIN_RUN_TIME = 1.0
"""Seconds of timed blocks per figure."""


def cache_path() -> Path:
    """Where measurements are kept (see the module's docstring)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser() / CACHE_FILE
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path("~/.cache").expanduser()  # XDG: absolute
    return base / "hetcalc" / CACHE_FILE


def _valid_record(record: object) -> bool:
    if not isinstance(record, dict) or not isinstance(record.get("environment"), dict):
        return False
    value, spread = record.get("value"), record.get("spread")
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                  for v in (value, spread))
    return numbers and value > 0 and spread >= 0 and isinstance(record.get("measured_on"), str)


def read_cache(path: Path) -> list[dict[str, Any]]:
    """The measurements kept at ``path``; none where the file is missing, unreadable, not
    JSON or of another layout (it is rewritten on the next measurement)."""
    try:  # a regular file of at most 1 MiB (hetcalc.readfile): a FIFO or a device is no cache
        data = parse_json(read_text(path, "device cache"), path)
    except FileProblem:
        return []
    if not isinstance(data, dict) or data.get("schema_version") != CACHE_VERSION:
        return []
    records = data.get("measurements")
    return [r for r in records if _valid_record(r)] if isinstance(records, list) else []


def _write_cache(path: Path, records: list[dict[str, Any]]) -> None:
    data = {"schema_version": CACHE_VERSION,
            "about": "hetcalc device: measured peaks (MAC/s) and bandwidth (bytes/s), by the "
                     "environment they were measured in; safe to delete",
            "measurements": records}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data, indent=2) + "\n", what="device cache")
    except (OSError, InvalidArgument):
        pass  # a cache that cannot be written: the next call measures again


def _benchmark():
    """``torch.utils.benchmark``, its import's CUDA_HOME warning (no CUDA here) quieted."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from torch.utils import benchmark
    finally:
        logger.setLevel(level)
    return benchmark


def _time(stmt: str, values: dict[str, Any], threads: int,
          min_run_time: float) -> tuple[float, float]:
    """Median and interquartile range, in seconds, of one run of ``stmt``."""
    timer = _benchmark().Timer(stmt, globals=values, num_threads=threads)
    measurement = timer.blocked_autorange(min_run_time=min_run_time)
    return measurement.median, measurement.iqr


def _cpu_seconds() -> tuple[float, float] | None:
    """(busy seconds of all cores since boot, this process's CPU seconds), or None where
    ``/proc/stat`` cannot be read."""
    import resource

    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 5:
        return None
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait
    values = [int(v) for v in fields[1:9] if v.isdigit()]
    busy = sum(values) - values[3] - (values[4] if len(values) > 4 else 0)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return busy / ticks, own.ru_utime + own.ru_stime


def others_busy(before: tuple[float, float] | None, after: tuple[float, float] | None,
                elapsed: float, cores: int) -> float | None:
    """The share of ``cores`` x ``elapsed`` CPU seconds that other processes used between two
    :func:`_cpu_seconds` readings (0 to 1; None where either reading is missing)."""
    if before is None or after is None or elapsed <= 0 or cores < 1:
        return None
    others = (after[0] - before[0]) - (after[1] - before[1])
    return min(1.0, max(0.0, others / (elapsed * cores)))


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith(("model name", "Model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "cpu"


def _check(device: str, threads: int | None, dtypes: Sequence[str], matmul_size: int | None,
           copy_bytes: int | None, min_run_time: float) -> None:
    """Every argument, before torch is imported."""
    if device not in DEVICES:
        raise InvalidArgument(f"device must be one of {', '.join(DEVICES)}, got {device!r}",
                              argument="device")
    if threads is not None:
        require_positive(threads=threads)
        if threads > MAX_THREADS:  # as every timing command bounds it (LatencySettings)
            raise InvalidArgument(f"threads must be a positive integer, at most {MAX_THREADS}, "
                                  f"got {threads}", argument="threads")
    if not dtypes:
        raise InvalidArgument(f"dtype: give one or more of {', '.join(DTYPES)}, got {dtypes!r}",
                              argument="dtype")
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise InvalidArgument(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}",
                                  argument="dtype")
    if matmul_size is not None:
        require_positive(matmul_size=matmul_size)
    if copy_bytes is not None:
        require_positive(copy_bytes=copy_bytes)
    if (isinstance(min_run_time, bool) or not isinstance(min_run_time, int | float)
            or not math.isfinite(min_run_time) or min_run_time <= 0):
        raise InvalidArgument(f"min_run_time must be a finite, positive number of seconds, got "
                              f"{min_run_time!r}", argument="min_run_time")


def measure_device(device: str = "auto", threads: int | None = None,
                   dtypes: Sequence[str] | None = None, refresh: bool = False, *,
                   matmul_size: int | None = None, copy_bytes: int | None = None,
                   min_run_time: float | None = None,
                   on_measure: Callable[[str], None] | None = None) -> DeviceModel:
    """This machine's peak MAC/s for each of ``dtypes`` and its memory bandwidth, from the cache
    when it holds them for this environment (unless ``refresh``), else measured now and cached.

    ``device``: ``auto`` (CUDA when present), ``cpu`` or ``cuda``; ``threads``: CPU threads
    (default: torch's); ``dtypes``: default ``float32`` on a CPU (float16 and bfloat16 matmuls
    are slow on most CPUs: only if asked), all of float32, float16 and bfloat16 on CUDA; float32
    always, the balance being defined on it.
    ``matmul_size`` (default :data:`CPU_MATMUL` or :data:`CUDA_MATMUL`), ``copy_bytes`` (default
    :data:`COPY_BYTES`) and ``min_run_time`` (seconds of timed blocks per figure, default
    :data:`MIN_RUN_TIME`) size the work. ``on_measure(what)`` is called before
    each figure that is measured rather than read from the cache. The result's ``spread`` holds
    each timing's interquartile range over its median, its ``environment`` what it depends on.
    """
    wanted = ((dtypes,) if isinstance(dtypes, str)  # one dtype, not its letters
              else tuple(dtypes) if dtypes is not None else None)
    min_run_time = MIN_RUN_TIME if min_run_time is None else min_run_time
    _check(device, threads, wanted if wanted is not None else ("float32",), matmul_size,
           copy_bytes, min_run_time)
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument("device cuda: no CUDA device is available here (use cpu, or auto "
                              "to pick CUDA when present)", argument="device")
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    target = torch.device("cuda" if cuda else "cpu")
    wanted = tuple(dict.fromkeys(("float32", *(wanted or (DTYPES if cuda else ())))))
    size = matmul_size or (CUDA_MATMUL if cuda else CPU_MATMUL)
    copied = copy_bytes or COPY_BYTES
    used_threads = threads or torch.get_num_threads()
    base = {"device": target.type,
            "device_name": torch.cuda.get_device_name(target) if cuda else _cpu_name(),
            "threads": used_threads, "torch": torch.__version__}

    path = cache_path()
    records = read_cache(path)
    found: dict[str, dict[str, Any]] = {}
    fresh: list[dict[str, Any]] = []

    def figure(key: str, environment: dict[str, Any], what: str, unit: str,
               run: Callable[[], tuple[int, float, float, float]]) -> None:
        record = next((r for r in records if r["environment"] == environment), None)
        if record is None or refresh:
            if on_measure is not None:
                on_measure(what)
            before, start = _cpu_seconds(), time.perf_counter()
            ran, work, median, iqr = run()
            busy = others_busy(before, _cpu_seconds(), time.perf_counter() - start,
                               os.cpu_count() or 1)
            record = {"environment": environment, "value": work / median,
                      "spread": iqr / median, "unit": unit, "ran": ran,
                      "measured_on": datetime.date.today().isoformat()}
            if busy is not None:
                record["others_busy"] = busy
            fresh.append(record)
        found[key] = record

    for dtype in wanted:
        environment = {**base, "measure": "matmul", "dtype": dtype, "size": size}
        figure(dtype, environment, f"{dtype} peak: {size}x{size} matmuls on {target.type}",
               "MAC/s", lambda dtype=dtype: _matmul(torch, target, dtype, size, used_threads,
                                                    min_run_time))
    batch = CUDA_CONV_BATCH if cuda else 1
    environment = {**base, "measure": "conv", "dtype": "float32", "shape": [batch, *CONV_SHAPE]}
    figure("float32 conv", environment, f"float32 peak: a 3x3 conv {CONV_SHAPE[0]} -> "
           f"{CONV_SHAPE[0]} channels at {CONV_SHAPE[1]}x{CONV_SHAPE[2]} on {target.type}",
           "MAC/s", lambda: _conv(torch, target, batch, used_threads, min_run_time))
    environment = {**base, "measure": "copy", "bytes": copied}
    figure("bandwidth", environment, f"bandwidth: copies of {copied / 2**20:g} MiB on "
           f"{target.type}", "bytes/s",
           lambda: _copy(torch, target, copied, used_threads, min_run_time))

    if fresh:
        kept = [r for r in records if all(r["environment"] != f["environment"] for f in fresh)]
        _write_cache(path, kept + fresh)
    days = sorted({r["measured_on"] for r in found.values()})
    when = days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
    conv = found.pop("float32 conv")
    winner = "conv" if conv["value"] > found["float32"]["value"] else "matmul"
    if winner == "conv":
        found["float32"] = conv
    return DeviceModel(
        name=f"this machine: {base['device_name']}",
        peak_macs={dtype: found[dtype]["value"] for dtype in wanted},
        bandwidth=found["bandwidth"]["value"],
        source=f"measured here on {when}: threads {used_threads}, torch {torch.__version__}",
        kind="gpu" if cuda else "cpu",
        spread={key: record["spread"] for key, record in found.items()},
        environment={**base, "matmul_size": size,
                     "matmul_sizes": {dtype: _ran(found[dtype], size) for dtype in wanted},
                     "copy_bytes": copied, "peak_kernel": {"float32": winner},
                     "conv_shape": [batch, *CONV_SHAPE], **_busiest([*found.values(), conv])},
    )


def _busiest(records) -> dict[str, float]:
    """``others_busy``: the largest share of CPU time other processes took while any of the
    figures was measured (absent where none was recorded)."""
    shares = [r["others_busy"] for r in records if isinstance(r.get("others_busy"), int | float)
              and not isinstance(r.get("others_busy"), bool)]
    return {"others_busy": max(shares)} if shares else {}


def _ran(record: dict[str, Any], default: int) -> int:
    """The size a cached measurement ran at (older entries: the one asked for)."""
    ran = record.get("ran")
    return ran if isinstance(ran, int) and not isinstance(ran, bool) and ran > 0 else default


def _fitting_size(torch, target, kind, size: int, budget: float) -> int:
    """The matmul size to time: ``size``, unless one run of it would outlast ``budget``
    seconds; then the largest of 256, 512, ... that does not, judged from the one before it
    (twice the size, eight times the MACs). A float16 matmul runs at a few hundredth of the
    float32 rate on CPUs without native support: it is timed at a smaller size, not for
    minutes. Each size is run once untimed first (library and kernel set-up)."""
    n = min(size, 256)
    while True:
        a = torch.randn(n, n, device=target, dtype=kind)
        seconds = float("inf")
        for _ in range(2):  # the second run is timed
            if target.type == "cuda":
                torch.cuda.synchronize(target)
            start = time.perf_counter()
            torch.mm(a, a)
            if target.type == "cuda":
                torch.cuda.synchronize(target)
            seconds = time.perf_counter() - start
        following = min(2 * n, size)
        if n >= size or seconds * (following / n) ** 3 > budget:
            return n
        n = following


def _matmul(torch, target, dtype: str, size: int, threads: int,
            min_run_time: float) -> tuple[int, float, float, float]:
    """(n, MACs per run, median seconds, IQR seconds) of an n x n by n x n matmul, n = ``size``
    or smaller (:func:`_fitting_size`)."""
    kind = getattr(torch, dtype)
    precision, previous = torch.get_float32_matmul_precision(), torch.get_num_threads()
    torch.set_float32_matmul_precision("highest")  # float32 on CUDA cores: no TF32
    torch.set_num_threads(threads)
    try:
        n = _fitting_size(torch, target, kind, size, min_run_time / 2)
        a = torch.randn(n, n, device=target, dtype=kind)
        b = torch.randn(n, n, device=target, dtype=kind)
        out = torch.empty(n, n, device=target, dtype=kind)
        median, iqr = _time("torch.mm(a, b, out=out)",
                            {"torch": torch, "a": a, "b": b, "out": out}, threads, min_run_time)
    finally:
        torch.set_float32_matmul_precision(precision)
        torch.set_num_threads(previous)
    return n, float(n) ** 3, median, iqr


def _conv(torch, target, batch: int, threads: int,
          min_run_time: float) -> tuple[int, float, float, float]:
    """(images, MACs per run, median seconds, IQR seconds) of a 3x3 conv (float32, no bias,
    eval, no autograd) of :data:`CONV_SHAPE` on ``batch`` images."""
    channels, height, width = CONV_SHAPE
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(target).eval()
        x = torch.randn(batch, channels, height, width, device=target)
        with torch.no_grad():
            conv(x)  # set-up: the backend picks its algorithm
        median, iqr = _time("run(x)", {"run": torch.no_grad()(conv), "x": x}, threads,
                            min_run_time)
    finally:
        torch.set_num_threads(previous)
    return batch, float(batch * channels * channels * 9 * height * width), median, iqr


def _copy(torch, target, nbytes: int, threads: int,
          min_run_time: float) -> tuple[int, float, float, float]:
    """(bytes, bytes moved per run, median seconds, IQR seconds) of a copy of ``nbytes``."""
    count = max(nbytes // 4, 1)
    src = torch.ones(count, device=target, dtype=torch.float32)
    dst = torch.zeros(count, device=target, dtype=torch.float32)  # pages touched before timing
    median, iqr = _time("dst.copy_(src)", {"src": src, "dst": dst}, threads, min_run_time)
    return count * 4, 2.0 * count * 4, median, iqr
