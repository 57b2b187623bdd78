"""What a device can do at most: peak multiply-accumulates per second per dtype and memory
bandwidth, from the vendors' datasheets (:data:`DEVICES`), from a TOML file of your own
(:func:`device_spec`) or measured here (:func:`hetcalc.devices_measure.measure_device`).

Torch-free: ``hetcalc device --list`` and ``--spec`` answer at once.

Units, everywhere: a **MAC** is one multiply-accumulate, two FLOPs, so MAC/s = FLOP/s / 2; peaks
are dense (never the 2:4-sparsity figures datasheets also print); bandwidth is bytes/s (10^9
bytes/s = 1 GB/s); the balance is MACs per byte at the ridge point of the float32 roofline. Each
figure's datasheet is named in its entry's ``source`` and tabulated in ``docs/devices.md``.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

from hetcalc.errors import InvalidArgument
from hetcalc.readfile import FileProblem, MissingFile, parse_toml, read_text
from hetcalc.settings import DTYPES

KINDS = ("gpu", "cpu")
ARGUMENT = "device_spec"
"""The library argument every error of :func:`device_spec` names (the CLI's ``--spec``)."""


@dataclass(frozen=True)
class DeviceModel:
    """A device's ceilings: ``peak_macs`` (dtype -> MAC/s, dense) and ``bandwidth`` (bytes/s)."""

    name: str
    """``"H100 SXM"``, or ``"this machine: <cpu or gpu name>"`` when measured."""
    peak_macs: dict[str, float]
    """dtype (``"float32"``, ``"float16"``, ``"bfloat16"``) -> MAC/s (FLOP/s / 2), dense."""
    bandwidth: float
    """Memory bandwidth, bytes/s."""
    source: str
    """Where the figures come from: a datasheet's title, or ``"measured here on <date>: ..."``."""
    kind: str
    """``"gpu"`` or ``"cpu"``."""
    spread: dict[str, float] = field(default_factory=dict)
    """Measured figures only: each timing's interquartile range over its median, per dtype's
    peak and ``"bandwidth"`` (0.02 is 2%)."""
    environment: dict[str, object] = field(default_factory=dict)
    """Measured figures only: what they depend on (device, device_name, threads, torch, the
    matmul size and the copy's bytes)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}",
                                  argument="kind")
        if "float32" not in self.peak_macs:
            raise InvalidArgument(f"peak_macs of {self.name!r} needs a float32 figure",
                                  argument="peak_macs")
        for dtype, value in self.peak_macs.items():
            if dtype not in DTYPES or not _positive(value):
                raise InvalidArgument(f"peak_macs of {self.name!r}: {dtype!r} -> {value!r}; "
                                      f"dtypes are {', '.join(DTYPES)}, figures positive MAC/s",
                                      argument="peak_macs")
        if not _positive(self.bandwidth):
            raise InvalidArgument(f"bandwidth of {self.name!r} must be positive bytes/s, got "
                                  f"{self.bandwidth!r}", argument="bandwidth")

    def __hash__(self) -> int:  # the dict fields cannot be hashed; equal models share these
        return hash((self.name, self.kind, self.bandwidth, self.source))

    def peak(self, dtype: str) -> float:
        """MAC/s for ``dtype``; :class:`InvalidArgument` naming the dtypes it has otherwise."""
        try:
            return self.peak_macs[dtype]
        except KeyError:
            raise InvalidArgument(f"dtype {dtype!r}: {self.name} has no peak for it; it has "
                                  f"{', '.join(self.peak_macs)}", argument="dtype") from None

    @property
    def balance(self) -> float:
        """MACs per byte at the ridge point of the float32 roofline: ``peak("float32") /
        bandwidth``. A layer that does fewer MACs per byte it moves is bound by memory."""
        return self.peak("float32") / self.bandwidth


def _positive(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def _macs(flops: float) -> float:
    """FLOP/s -> MAC/s: a multiply-accumulate is two FLOPs."""
    return flops / 2


T = 1e12
"""One TFLOPS, in FLOP/s (10^12)."""
G = 1e9
"""One GB/s (10^9 bytes/s), or one GFLOPS."""

# The named table. Each figure is the datasheet's, in the datasheet's unit, converted here: FLOP/s
# to MAC/s by _macs, and a "with sparsity" figure halved to its dense rate where that is all a
# datasheet prints. docs/devices.md tabulates them with their sources.
DEVICES: dict[str, DeviceModel] = {
    "a100": DeviceModel(
        "A100 SXM 80GB",
        {"float32": _macs(19.5 * T), "float16": _macs(312 * T), "bfloat16": _macs(312 * T)},
        2039 * G,
        "NVIDIA A100 Tensor Core GPU datasheet (80GB SXM: FP32 19.5 TFLOPS, FP16/BF16 Tensor "
        "Core 312 TFLOPS dense, 2,039 GB/s)", "gpu"),
    "h100": DeviceModel(
        "H100 SXM",
        {"float32": _macs(67 * T), "float16": _macs(1979 * T / 2),
         "bfloat16": _macs(1979 * T / 2)},
        3.35e12,
        "NVIDIA H100 Tensor Core GPU datasheet (SXM: FP32 67 TFLOPS, FP16/BF16 Tensor Core "
        "1,979 TFLOPS with sparsity, halved to dense; 3.35 TB/s)", "gpu"),
    "h200": DeviceModel(
        "H200 SXM",
        {"float32": _macs(67 * T), "float16": _macs(1979 * T / 2),
         "bfloat16": _macs(1979 * T / 2)},
        4.8e12,
        "NVIDIA H200 Tensor Core GPU datasheet (SXM: FP32 67 TFLOPS, FP16/BF16 Tensor Core "
        "1,979 TFLOPS with sparsity, halved to dense; 4.8 TB/s)", "gpu"),
    "l4": DeviceModel(
        "L4",
        {"float32": _macs(30.3 * T), "float16": _macs(242 * T / 2),
         "bfloat16": _macs(242 * T / 2)},
        300 * G,
        "NVIDIA L4 Tensor Core GPU datasheet (FP32 30.3 TFLOPS, FP16/BF16 Tensor Core 242 "
        "TFLOPS with sparsity, halved to dense; 300 GB/s)", "gpu"),
    "t4": DeviceModel(
        "T4",
        {"float32": _macs(8.1 * T), "float16": _macs(65 * T)},
        320 * G,
        "NVIDIA T4 Tensor Core GPU datasheet (FP32 8.1 TFLOPS, mixed precision FP16/FP32 65 "
        "TFLOPS; no BF16; 320 GB/s)", "gpu"),
    "rtx4090": DeviceModel(
        "RTX 4090",
        {"float32": _macs(82.6 * T), "float16": _macs(165.2 * T),
         "bfloat16": _macs(165.2 * T)},
        1008 * G,
        "NVIDIA Ada Lovelace GPU architecture whitepaper, GeForce RTX 4090 (FP32 82.6 TFLOPS, "
        "FP16/BF16 Tensor with FP32 accumulate 165.2 TFLOPS dense; 1,008 GB/s)", "gpu"),
    "orin": DeviceModel(
        "Jetson AGX Orin 64GB",
        {"float32": _macs(5.3 * T), "float16": _macs(170 * T / 4),
         "bfloat16": _macs(170 * T / 4)},
        204.8 * G,
        "NVIDIA Jetson AGX Orin Series technical brief (64GB, GPU only: FP32 5.3 TFLOPS; "
        "FP16/BF16 Tensor dense derived as 170 sparse INT8 TOPS / 2 (dense) / 2 (FP16); "
        "204.8 GB/s)", "gpu"),
    "rpi5": DeviceModel(
        "Raspberry Pi 5",
        # 4 cores x 2.4 GHz x 2 NEON FMA pipes x 4 float32 lanes (8 float16) x 2 FLOPs per FMA
        {"float32": _macs(4 * 2.4 * G * 2 * 4 * 2), "float16": _macs(4 * 2.4 * G * 2 * 8 * 2)},
        4267e6 * 4,  # LPDDR4X-4267: 4,267 MT/s on a 32-bit (4-byte) bus
        "Raspberry Pi 5 product brief (4 x Cortex-A76 at 2.4 GHz; LPDDR4X-4267, 32-bit) and the "
        "Arm Cortex-A76 Software Optimization Guide (2 x 128-bit FMA pipes); derived", "cpu"),
}

_ALIASES = {
    "a100": ("a100sxm", "a100sxm80gb", "a10080gb", "a10080gbsxm"),
    "h100": ("h100sxm", "h100sxm5", "h100sxm80gb"),
    "h200": ("h200sxm", "h200sxm141gb"),
    "l4": ("nvidial4",),
    "t4": ("teslat4", "nvidiat4"),
    "rtx4090": ("4090", "geforcertx4090"),
    "orin": ("agxorin", "jetsonagxorin", "agxorin64gb", "jetsonagxorin64gb"),
    "rpi5": ("pi5", "raspberrypi5", "raspi5"),
}


def _normal(text: str) -> str:
    """``"RTX 4090"``, ``"rtx-4090"``, ``"Rtx_4090"`` -> ``"rtx4090"``."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


ALIASES: dict[str, str] = {
    **{alias: key for key, aliases in _ALIASES.items() for alias in aliases},
    **{_normal(model.name): key for key, model in DEVICES.items()},
    **{key: key for key in DEVICES},
}
"""Every name :func:`device_spec` takes (lowercase, letters and digits only) -> its key."""


def device_key(spec: str) -> str | None:
    """The key of :data:`DEVICES` that ``spec`` names (an alias, any case, spaces and dashes
    ignored), or ``None``."""
    return ALIASES.get(_normal(spec)) if spec.strip() else None


def device_spec(spec: str) -> DeviceModel:
    """The device ``spec`` names: a key or alias of :data:`DEVICES` (case, spaces and dashes
    ignored: ``"H100"``, ``"h100 sxm"``, ``"rpi5"``) or the path of a TOML file
    (:func:`load_device_file`). Anything else is :class:`InvalidArgument` listing the names
    and suggesting close ones."""
    text = spec.strip()
    key = device_key(text)
    if key is not None:
        return DEVICES[key]
    path = Path(text).expanduser()
    if text and (path.suffix.lower() == ".toml" or path.exists() or "/" in text):
        return load_device_file(path)
    close = difflib.get_close_matches(_normal(text), list(ALIASES), n=3, cutoff=0.6)
    hint = (" (did you mean " + " or ".join(dict.fromkeys(ALIASES[c] for c in close)) + "?)"
            if close else "")
    raise InvalidArgument(f"{ARGUMENT}: unknown device {spec!r}{hint}; known: "
                          f"{', '.join(DEVICES)}, or a TOML file (docs/devices.md)",
                          argument=ARGUMENT)


# --- a device of your own: a TOML file -----------------------------------------------------------

FILE_KEYS = {
    "name": "the device's name, a non-empty string",
    "kind": "gpu or cpu",
    "bandwidth_gbs": "memory bandwidth in GB/s (10^9 bytes/s), a positive number",
    "peak_tflops": "a table of dense peak TFLOPS (10^12 FLOP/s; a MAC is 2 FLOPs) by dtype, "
                   "float32 required",
    "source": "where the figures come from, a string (optional; default: the file)",
}
REQUIRED_KEYS = ("name", "kind", "bandwidth_gbs", "peak_tflops")


def _file_error(path: Path, message: str) -> InvalidArgument:
    return InvalidArgument(f"{ARGUMENT}: {path}: {message}", argument=ARGUMENT)


FILE_RANGE = (1e-6, 1e6)
"""What ``bandwidth_gbs`` and each ``peak_tflops`` figure may be: a millionth to a million (1 kB/s
to 1 PB/s, a MFLOPS to an EFLOPS). Beyond, a roofline time is 0 or infinite, not a prediction."""


def _number(path: Path, key: str, value: object, unit: str) -> float:
    if not _positive(value):
        raise _file_error(path, f"{key} must be a positive number of {unit}, got {value!r}")
    low, high = FILE_RANGE
    if not low <= value <= high:  # type: ignore[operator]
        raise _file_error(path, f"{key} must be from {low:g} to {high:g} {unit.split(' (')[0]}, "
                                f"got {value!r}")
    return float(value)  # type: ignore[arg-type]


def load_device_file(path: Path | str) -> DeviceModel:
    """A :class:`DeviceModel` from a TOML file (the format is in ``docs/devices.md``)::

        name = "my board"
        kind = "cpu"              # or "gpu"
        bandwidth_gbs = 25.6      # GB/s (10^9 bytes/s)
        source = "vendor datasheet, rev 3"   # optional
        [peak_tflops]             # dense FLOP/s in units of 10^12 (a MAC is 2 FLOPs)
        float32 = 0.5

    Every mistake is one :class:`InvalidArgument` line naming the file, the key and what is
    valid."""
    path = Path(path)
    try:  # a regular file of at most 1 MiB, UTF-8 TOML (hetcalc.readfile)
        data = parse_toml(read_text(path, "device file"), path)
    except MissingFile:
        raise _file_error(path, "no such file (a device name or a TOML file; "
                                f"names: {', '.join(DEVICES)})") from None
    except FileProblem as problem:  # a syntax error as "not valid TOML (the parser's words)"
        reason = problem.reason if problem.detail == problem.reason else \
            f"not valid TOML ({problem.detail})"
        raise _file_error(path, reason) from None
    for key in data:
        if key not in FILE_KEYS:
            raise _file_error(path, f"unknown key {key!r}; valid keys: {', '.join(FILE_KEYS)}")
    for key in REQUIRED_KEYS:
        if key not in data:
            raise _file_error(path, f"missing key {key!r} ({FILE_KEYS[key]})")
    name, kind, source = data["name"], data["kind"], data.get("source", f"file {path}")
    if not isinstance(name, str) or not name.strip():
        raise _file_error(path, f"name must be {FILE_KEYS['name']}, got {name!r}")
    if kind not in KINDS:
        raise _file_error(path, f"kind must be gpu or cpu, got {kind!r}")
    if not isinstance(source, str) or not source.strip():
        raise _file_error(path, f"source must be a non-empty string, got {source!r}")
    bandwidth = _number(path, "bandwidth_gbs", data["bandwidth_gbs"], "GB/s (10^9 bytes/s)")
    table = data["peak_tflops"]
    if not isinstance(table, dict):
        raise _file_error(path, f"peak_tflops must be a table ([peak_tflops] with lines such as "
                                f"float32 = 0.5), got {table!r}")
    for dtype in table:
        if dtype not in DTYPES:
            raise _file_error(path, f"peak_tflops: unknown dtype {dtype!r}; valid: "
                                    f"{', '.join(DTYPES)}")
    if "float32" not in table:
        raise _file_error(path, "missing key 'peak_tflops.float32' (dense float32 TFLOPS)")
    peaks = {dtype: _macs(_number(path, f"peak_tflops.{dtype}", value, "TFLOPS (10^12 FLOP/s)")
                          * T)
             for dtype, value in table.items()}
    return DeviceModel(name.strip(), peaks, bandwidth * G, source.strip(), kind)
