"""``hetcalc device``: devices' ceilings as a table and as JSON (:data:`DEVICE_SCHEMA`).

Peaks are MAC/s (FLOP/s / 2, dense), bandwidth bytes/s (shown in GB/s, 10^9 bytes/s), the
balance MACs per byte at the float32 ridge point. CSV keeps the raw figures under keys that
name their units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hetcalc.devices import DeviceModel
from hetcalc.render import Column, Grid, Rendered, human, percent
from hetcalc.schemas import SCHEMA_VERSION, schema
from hetcalc.settings import BUSY_LIMIT, DTYPES, SPREAD_LIMIT, UNRELIABLE_MARK

SHORT = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}

DEVICE_SCHEMA: dict[str, Any] = schema("device")
"""The JSON Schema of ``hetcalc device --format json`` (draft 2020-12): the package's
``hetcalc/schemas/device.json``."""


def device_data(model: DeviceModel, spec: str | None = None) -> dict[str, Any]:
    """One device as :data:`DEVICE_SCHEMA` describes it."""
    return {"name": model.name, "spec": spec, "kind": model.kind,
            "peak_macs_per_s": dict(model.peak_macs), "bandwidth_bytes_per_s": model.bandwidth,
            "balance_macs_per_byte": model.balance, "source": model.source,
            "spread": dict(model.spread), "environment": dict(model.environment)}


def _gbs(value: float | None) -> str:
    if value is None:
        return "-"
    gbs = value / 1e9
    return f"{gbs:.0f}" if gbs >= 100 and abs(gbs - round(gbs)) < 0.05 else f"{gbs:.1f}"


def _balance(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def device_grid(title: str, models: Sequence[DeviceModel]) -> Grid:
    dtypes = [d for d in DTYPES if any(d in m.peak_macs for m in models)]
    rows = [{"name": m.name, "kind": m.kind,
             **{f"peak_macs_{d}": m.peak_macs.get(d) for d in dtypes},
             "bandwidth_bytes_per_s": m.bandwidth, "balance_macs_per_byte": m.balance,
             "source": m.source} for m in models]
    return Grid(title, [
        Column("device", "name", justify="left", prose=True),
        Column("kind", "kind", justify="left"),
        *(Column(f"{d} peak (MAC/s)", f"peak_macs_{d}", human, short=SHORT[d]) for d in dtypes),
        Column("bandwidth (GB/s)", "bandwidth_bytes_per_s", _gbs, short="GB/s"),
        Column("balance (MAC/byte, fp32)", "balance_macs_per_byte", _balance, short="MAC/B"),
        Column("source", "source", justify="left", footnote=True),
    ], rows)


UNITS_NOTE = ("MAC/s = FLOP/s / 2 (a multiply-accumulate is two FLOPs), dense (no 2:4 "
              "sparsity); GB/s = 10^9 bytes/s; balance = float32 peak / bandwidth, the MACs per "
              "byte above which a layer is bound by compute rather than memory.")


def render_table(models: dict[str, DeviceModel]) -> Rendered:
    """``--list``: the named table, keyed by the names ``--spec`` takes."""
    grid = device_grid(f"{len(models)} devices, from their datasheets", list(models.values()))
    data = {"schema_version": SCHEMA_VERSION,
            "devices": [device_data(model, key) for key, model in models.items()]}
    notes = [UNITS_NOTE,
             f"--spec takes {', '.join(models)} (any case; 'h100 sxm', 'rtx-4090', 'pi5' too) "
             "or a TOML file of your own (docs/devices.md)."]
    return Rendered([grid], data, notes)


def render_spec(model: DeviceModel, spec: str | None) -> Rendered:
    """``--spec NAME|FILE``: one device."""
    grid = device_grid(model.name, [model])
    data = {"schema_version": SCHEMA_VERSION, "devices": [device_data(model, spec)]}
    return Rendered([grid], data, [UNITS_NOTE])


def _spread(value: float | None) -> str:
    if value is None:
        return "-"
    return percent(value) + (f" {UNRELIABLE_MARK}" if value > SPREAD_LIMIT else "")


def _matmul_how(size: object, asked: object) -> str:
    if not isinstance(size, int):
        return "torch.mm"
    how = f"torch.mm of two {size}x{size}: {size}^3 = {human(size ** 3)} MACs a run"
    if size != asked:
        how += f" ({asked}x{asked} would take over half the timing budget a run)"
    return how


def _conv_how(shape: object) -> str:
    """How a conv peak was measured, from ``environment["conv_shape"]`` (N, C, H, W)."""
    if not (isinstance(shape, list) and len(shape) == 4):
        return "3x3 conv"
    n, c, h, w = shape
    return (f"3x3 conv {c} -> {c} channels at {h}x{w}, {n} image{'s' if n > 1 else ''}: "
            f"{human(n * c * c * 9 * h * w)} MACs a run (faster here than the matmul)")


def render_measured(model: DeviceModel, cache: str) -> Rendered:
    """This machine, measured (or read from the cache): its figures, then how each was
    measured with its spread, then the environment."""
    env = model.environment
    asked, copied = env.get("matmul_size"), env.get("copy_bytes")
    sizes = env.get("matmul_sizes") if isinstance(env.get("matmul_sizes"), dict) else {}
    kernels = env.get("peak_kernel") if isinstance(env.get("peak_kernel"), dict) else {}
    rows = [{"figure": f"{d} peak", "value": f"{human(v)} MAC/s", "spread": model.spread.get(d),
             "how": _conv_how(env.get("conv_shape")) if kernels.get(d) == "conv"
             else _matmul_how(sizes.get(d, asked), asked)}
            for d, v in model.peak_macs.items()]
    rows.append({"figure": "bandwidth", "value": f"{_gbs(model.bandwidth)} GB/s",
                 "spread": model.spread.get("bandwidth"),
                 "how": f"copy of {copied / 2**20:g} MiB: {2 * copied / 2**20:g} MiB read + "
                        "written a run" if isinstance(copied, int) else "copy"})
    how = Grid("how it was measured: the median of timed blocks (torch.utils.benchmark); spread: "
               "their interquartile range / median", [
        Column("figure", "figure", justify="left"),
        Column("value", "value"),
        Column("spread", "spread", _spread),
        Column("how", "how", justify="left", prose=True),
    ], rows)
    data = {"schema_version": SCHEMA_VERSION, "devices": [device_data(model)]}
    notes = [UNITS_NOTE,
             f"Measured on {env.get('device')} ({env.get('device_name')}), threads "
             f"{env.get('threads')}, torch {env.get('torch')}; kept in {cache}, which later runs "
             "read (--refresh measures again). Datasheet figures: hetcalc device --list."]
    if any(value > SPREAD_LIMIT for value in model.spread.values()):
        notes.append(f"{UNRELIABLE_MARK}: the spread is over {SPREAD_LIMIT:.0%} of the median: "
                     "another process competes for the machine; rerun with --refresh.")
    busy = env.get("others_busy")
    if isinstance(busy, int | float) and busy > BUSY_LIMIT:
        notes.append(f"Other processes took {busy:.0%} of this machine's CPU time while it was "
                     "measured: the figures are likely low. Rerun with --refresh when it is idle.")
    return Rendered([device_grid(model.name, [model]), how], data, notes)
