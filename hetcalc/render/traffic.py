"""Where the saving goes, for ``analyze``: the notes that say it. Each row's bytes, intensity
and roofline times and their totals are the report's own JSON (:func:`hetcalc.report.where_it_goes`,
from :mod:`hetcalc.traffic`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hetcalc.report import AnalysisReport


def _megabytes(count: int) -> str:
    return f"{count / 1e6:,.2f} MB"


def traffic_notes(report: AnalysisReport, result: dict) -> list[str]:
    """Where the saving goes: the conv layers' bytes, standard and as they run, and on a device
    model their roofline times (a bound, not a promise)."""
    ran, std = result["bytes"], result["bytes_standard"]
    notes = [f"Bytes the conv layers move ({report.dtype}; docs/roofline.md): "
             f"{_megabytes(std['total'])} standard (weights {_megabytes(std['weights'])}), "
             f"{_megabytes(ran['total'])} as {report.label} runs (weights "
             f"{_megabytes(ran['weights'])}, intermediates {_megabytes(ran['intermediates'])}); "
             "per layer in the JSON: bytes, intensity."]
    activations = result["activation_bytes"]
    if activations["variant"] is not None:
        notes.append(f"Activation memory of the forward pass (every module's output, summed): "
                     f"{_megabytes(activations['baseline'])} baseline, "
                     f"{_megabytes(activations['variant'])} as {report.label} runs.")
    if report.device_model is not None:
        device = report.device_model
        std_ms, ms = result["predicted_standard_ms"], result["predicted_ms"]
        notes.append(f"Roofline on {device.name} (docs/devices.md): the conv layers take at "
                     f"least {std_ms:.3f} ms standard and {ms:.3f} ms as {report.label} "
                     f"({std_ms / ms:.2f}x), a bound the device cannot beat, not a promise; "
                     "per layer in the JSON: predicted_ms, bound.")
    return notes
