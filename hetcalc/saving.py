"""Where a variant's saving goes, for a whole model: the ceiling on its speedup (Amdahl), the
roofline prediction on a device model, and the measured speedup as a share of the ceiling.
Torch-free: it reads reports (:mod:`hetcalc.report`) and shares of measured time.

* The **ceiling**: a variant only changes the layers it replaces. If those take a share ``s`` of
  the baseline's time (its own profile, :func:`hetcalc.latency.time_shares`) and ran exactly as
  many times faster as they have fewer MACs (``r``, the replaced layers' Eq. 9), the model would
  run ``1 / ((1 − s) + s / r)`` times faster, and no faster.
* The **prediction**: each conv layer's roofline time on a device model
  (:func:`hetcalc.traffic.roofline`), summed over the conv layers, baseline against variant:
  what the device could at best do, compute- or memory-bound layer by layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hetcalc.traffic import Device, roofline, row_traffic

if TYPE_CHECKING:
    from hetcalc.report import AnalysisReport

__all__ = ["Saving", "ceiling", "replaced_names", "saving", "where_note"]


@dataclass(frozen=True)
class Saving:
    """One variant's saving, explained. ``None`` where it needs a timing or a device model
    that the run did not have."""

    replaced_mac_ratio: float
    """``r``: the standard MACs of the layers the variant replaces over their MACs under it."""
    replaced_time_share: float | None = None
    """``s``: the share of the baseline's measured time spent in those layers."""
    speedup_ceiling: float | None = None
    predicted_standard_ms: float | None = None
    predicted_ms: float | None = None
    """The conv layers' roofline times summed, baseline and variant (a bound)."""
    replaced_predicted_ms: float | None = None
    """The replaced layers' roofline time under the variant."""
    extra_bytes: int = 0
    """Bytes the HetConv realizations materialize beyond one read of each layer's input and one
    write of its output (their copies)."""
    device: str | None = None
    measured_here: bool = False
    """Whether the device model is the device the model was timed on (measured here), so the
    replaced layers' measured time can be set against their roofline."""

    @property
    def speedup_predicted(self) -> float | None:
        if self.predicted_ms is None or self.predicted_standard_ms is None:
            return None
        return self.predicted_standard_ms / self.predicted_ms if self.predicted_ms else None


def ceiling(share: float, ratio: float) -> float:
    """Amdahl's bound: ``1 / ((1 − s) + s / r)``, the whole model's speedup when a share ``s``
    of its time runs ``r`` times faster."""
    return 1 / ((1 - share) + share / ratio)


def replaced_names(report: AnalysisReport) -> list[str]:
    """The conv layers the variant replaces (a merged pair's pointwise half included)."""
    return [layer.name for layer in report.substituted]


def saving(report: AnalysisReport, shares: Mapping[str, float] | None = None,
           device: Device | None = None, device_name: str | None = None,
           measured_here: bool = False) -> Saving:
    """The saving of the variant ``report`` is of: ``shares`` (each conv layer's share of the
    baseline's measured time) give the ceiling, ``device`` the roofline prediction."""
    replaced = report.substituted
    standard = sum(layer.flops_standard for layer in replaced)
    variant = sum(layer.flops_analytic for layer in replaced)
    ratio = standard / variant if variant else 1.0
    share = None if shares is None else sum(shares.get(layer.name, 0.0) for layer in replaced)
    bound = None if share is None else ceiling(share, ratio)
    extra = 0
    predicted = predicted_standard = replaced_ms = None
    if device is not None:
        predicted = predicted_standard = replaced_ms = 0.0
    for layer in report.layers:
        before, after = row_traffic(layer, report.realization_of(layer), report.dtype)
        if layer.substituted and layer.variant.is_hetconv:
            extra += after.intermediates
        if device is not None:
            ms = roofline(layer.flops_analytic, after.total, device, report.dtype)[0]
            predicted += ms
            predicted_standard += roofline(layer.flops_standard, before.total, device,
                                           report.dtype)[0]
            if layer.substituted:
                replaced_ms += ms
    return Saving(ratio, share, bound, predicted_standard, predicted, replaced_ms, extra,
                  device_name, measured_here)


def where_note(label: str, found: Saving, measured: float | None, baseline_ms: float | None,
               variant_ms: float | None) -> str | None:
    """Where the saving went, in numbers: the untouched layers' share, what the replaced layers
    take as measured against their roofline, and the realizations' extra traffic."""
    if found.replaced_time_share is None or found.speedup_ceiling is None:
        return None
    s = found.replaced_time_share
    parts = [f"{label}: {100 * (1 - s):.1f}% of the baseline's time is in layers it leaves "
             f"alone, so even {found.replaced_mac_ratio:.2f}x faster replaced layers give at "
             f"most {found.speedup_ceiling:.2f}x"]
    if measured is not None:
        parts.append(f"measured {measured:.2f}x is {100 * measured / found.speedup_ceiling:.0f}% "
                     "of that ceiling")
        if measured > found.speedup_ceiling:
            parts.append("above it because the replaced layers gained more than their MAC "
                         "ratio: the standard convs there run further below their roofline "
                         "than their replacements do (per layer: analyze --latency "
                         "--device-spec here)")
    if (baseline_ms is not None and variant_ms is not None and found.measured_here
            and found.replaced_predicted_ms is not None):
        replaced_now = variant_ms - (1 - s) * baseline_ms  # untouched layers assumed unchanged
        if replaced_now > 0:
            parts.append(f"the replaced layers take about {replaced_now:.3f} ms against a "
                         f"roofline of {found.replaced_predicted_ms:.3f} ms on {found.device} "
                         f"({100 * found.replaced_predicted_ms / replaced_now:.0f}% of it)")
    if found.extra_bytes:
        parts.append(f"its HetConv realizations move {found.extra_bytes / 1e6:,.2f} MB of "
                     "copies beyond each layer's input and output")
    return "; ".join(parts) + "."
