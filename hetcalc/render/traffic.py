"""Where the saving goes, for ``analyze``: each row's bytes, intensity and roofline times, their
totals over the conv layers, and the notes that say them (:mod:`hetcalc.traffic`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hetcalc.traffic import ELEMENT_BYTES, roofline, row_traffic

if TYPE_CHECKING:
    from hetcalc.report import AnalysisReport, LayerReport


def where_it_goes(report: AnalysisReport, layer: LayerReport) -> dict:
    """A row's bytes (standard and as it runs), arithmetic intensity (MACs per byte) and, on
    the report's device model, roofline times and bounds (:mod:`hetcalc.traffic`)."""
    standard, variant = row_traffic(layer, report.realization_of(layer), report.dtype)
    macs = layer.flops_counted if layer.flops_counted is not None else layer.flops_analytic
    data: dict = {"bytes": variant.as_dict(), "bytes_standard": standard.as_dict(),
                  "intensity": macs / variant.total if variant.total else None,
                  "intensity_standard": layer.flops_standard / standard.total}
    device = report.device_model
    if device is not None:
        ms, bound = roofline(macs, variant.total, device, report.dtype)
        std_ms, std_bound = roofline(layer.flops_standard, standard.total, device, report.dtype)
        data.update(predicted_ms=ms, bound=bound if variant.total else None,
                    predicted_standard_ms=std_ms, bound_standard=std_bound)
        if getattr(device, "environment", None):  # measured here: how close each run came
            timed = layer.latency_variant_ms, layer.latency_standard_ms
            data.update(
                roofline_share=ms / timed[0] if timed[0] and variant.total else None,
                roofline_share_standard=std_ms / timed[1] if timed[1] else None)
    return data


def totals_where_it_goes(report: AnalysisReport, layers: list[dict]) -> dict:
    """The conv layers' bytes summed, standard and as they run, in the run's dtype, and on a
    device model their roofline times summed: a bound the device cannot beat, not a promise."""
    keys = ("weights", "inputs", "outputs", "intermediates", "total")
    data: dict = {"dtype": report.dtype,
                  "bytes": {k: sum(layer["bytes"][k] for layer in layers) for k in keys},
                  "bytes_standard": {k: sum(layer["bytes_standard"][k] for layer in layers)
                                     for k in keys}}
    scale = ELEMENT_BYTES[report.dtype] / ELEMENT_BYTES["float32"]  # traced in float32
    variant = report.activation_bytes_variant
    data["activation_bytes"] = {
        "baseline": int(report.activation_bytes * scale),
        "variant": None if variant is None else int(variant * scale)}
    device = report.device_model
    if device is not None:
        data["device"] = {"name": device.name, "source": device.source}
        data["predicted_ms"] = sum(layer["predicted_ms"] for layer in layers)
        data["predicted_standard_ms"] = sum(layer["predicted_standard_ms"] for layer in layers)
    return data


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
