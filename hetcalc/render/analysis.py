"""``hetcalc analyze``: per-layer rows, totals, and the JSON of DESIGN.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hetcalc.render import Column, Grid, Rendered, human, percent, plain, times

if TYPE_CHECKING:  # the report classes live beside torch code; rendering needs no torch
    from hetcalc.analysis import AnalysisReport, LayerReport


def _pair(values: tuple[int, int]) -> str:
    return f"{values[0]}x{values[1]}"


def _layer_row(layer: LayerReport) -> dict:
    s = layer.shape
    counted = layer.flops_counted
    return {
        "name": layer.name,
        "channels": f"{s.in_channels}->{s.out_channels}",
        "kernel": _pair(s.kernel),
        "stride": _pair(s.stride),
        "output_size": _pair(s.output_size),
        "substituted": layer.substituted,
        "flops_standard": layer.flops_standard,
        "flops_analytic": layer.flops_analytic,
        "flops_counted": counted,
        "flops_difference": None if counted is None else counted - layer.flops_analytic,
        "reduction": layer.reduction,
        "params_standard": layer.params_standard,
        "params_variant": layer.params_variant,
        "note": layer.note,
        "latency_standard_ms": layer.latency_standard_ms,
        "latency_variant_ms": layer.latency_variant_ms,
        "speedup_measured": layer.speedup_measured,
    }


# Operators fvcore has no handle for that perform no multiply-accumulates: element-wise
# arithmetic, activations, pooling (adds or comparisons) and data movement.
NO_MAC_OPS = frozenset({
    "aten::add", "aten::add_", "aten::sub", "aten::sub_", "aten::mul", "aten::mul_", "aten::div",
    "aten::div_", "aten::neg", "aten::sigmoid", "aten::sigmoid_", "aten::hardsigmoid",
    "aten::hardsigmoid_", "aten::hardswish", "aten::hardswish_", "aten::silu", "aten::silu_",
    "aten::gelu", "aten::relu6", "aten::hardtanh", "aten::hardtanh_", "aten::softmax",
    "aten::max_pool2d", "aten::avg_pool2d", "aten::adaptive_avg_pool2d", "aten::mean",
    "aten::pad", "aten::as_strided", "aten::mT", "aten::unflatten", "aten::channel_shuffle",
    "aten::stochastic_depth", "aten::clone", "aten::transpose", "aten::scalarimplicit",
})


def uncounted_notes(ops: dict[str, int]) -> list[str]:
    """Say which uncounted operators cost no MACs and which hide real compute."""
    harmless = {op: n for op, n in ops.items() if op in NO_MAC_OPS}
    compute = {op: n for op, n in ops.items() if op not in NO_MAC_OPS}
    notes = []
    if compute:
        listing = ", ".join(f"{op} x{n}" for op, n in compute.items())
        notes.append(f"WARNING: fvcore has no count for {listing}; if these multiply, their MACs "
                     "are missing from every total here.")
    if harmless:
        listing = ", ".join(f"{op} x{n}" for op, n in harmless.items())
        notes.append(f"Not counted by fvcore and no MACs (element-wise, pooling, data movement): "
                     f"{listing}.")
    return notes


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _signed(value: int | None) -> str:
    if value is None:
        return "-"
    return "0" if value == 0 else f"{value:+,}"


def layer_json(layer: LayerReport, timed: bool = False) -> dict:
    s = layer.shape
    data = {
        "name": layer.name,
        "in_channels": s.in_channels,
        "out_channels": s.out_channels,
        "kernel": list(s.kernel),
        "stride": list(s.stride),
        "output_size": list(s.output_size),
        "substituted": layer.substituted,
        "flops_standard": layer.flops_standard,
        "flops_analytic": layer.flops_analytic,
        "flops_counted": layer.flops_counted,
        "params_standard": layer.params_standard,
        "params_variant": layer.params_variant,
        "note": layer.note,
    }
    if timed:  # only with analyze --latency: the stable keys above stay as they are
        data["latency_standard_ms"] = layer.latency_standard_ms
        data["latency_variant_ms"] = layer.latency_variant_ms
    return data


def report_json(report: AnalysisReport) -> dict:
    """The stable ``analyze --format json`` object (DESIGN.md)."""
    return {
        "model": report.model,
        "input_shape": list(report.input_shape),
        "unit": "MAC",
        "variant": report.variant.spec,
        "baseline": {"flops": report.baseline_flops, "params": report.baseline_params},
        "result": {
            "flops_analytic": report.flops_analytic,
            "flops_counted": report.flops_counted,
            "params": report.params,
            "reduction": report.reduction,
            "speedup": report.speedup,
        },
        "layers": [layer_json(layer, report.latency_settings is not None)
                   for layer in report.layers],
    }


def render_analysis(report: AnalysisReport) -> Rendered:
    counted = report.flops_counted is not None
    columns = [
        Column("layer", "name", justify="left"),
        Column("M->N", "channels"),
        Column("kernel", "kernel"),
        Column("stride", "stride"),
        Column("output", "output_size"),
        Column("std MACs (Eq. 1)", "flops_standard", human),
        Column(f"{report.variant.spec} MACs (analytic)", "flops_analytic", human),
    ]
    if counted:
        columns += [Column("counted (fvcore)", "flops_counted", human),
                    Column("counted - analytic", "flops_difference", _signed)]
    if report.latency_settings is not None:
        columns += [Column("std ms", "latency_standard_ms", _ms),
                    Column(f"{report.variant.spec} ms", "latency_variant_ms", _ms),
                    Column("measured speedup", "speedup_measured", times)]
    columns += [
        Column("reduction", "reduction", percent),
        Column("params std", "params_standard", human),
        Column(f"params {report.variant.spec}", "params_variant", human),
        Column("note", "note", plain, justify="left"),
    ]
    layers = Grid(
        f"{report.model} {','.join(map(str, report.input_shape))}: "
        f"{report.variant.spec} ({report.variant.description}), conv layers",
        columns, [_layer_row(layer) for layer in report.layers],
    )
    total_rows = [
        {"quantity": "baseline FLOPs (MACs, fvcore count of the original model)",
         "value": report.baseline_flops, "exact": report.baseline_flops},
        {"quantity": f"{report.variant.spec} FLOPs (MACs, analytic)",
         "value": report.flops_analytic, "exact": report.flops_analytic},
    ]
    if counted:
        total_rows.append({"quantity": f"{report.variant.spec} FLOPs (MACs, fvcore count of the "
                           f"substituted model, {report.impl} HetConv)",
                           "value": report.flops_counted, "exact": report.flops_counted})
        total_rows.append({"quantity": "counted - analytic", "value": _signed(
            report.flops_counted - report.flops_analytic),
            "exact": report.flops_counted - report.flops_analytic})
    total_rows += [
        {"quantity": "baseline params", "value": report.baseline_params,
         "exact": report.baseline_params},
        {"quantity": f"{report.variant.spec} params", "value": report.params,
         "exact": report.params},
        {"quantity": "FLOPs reduction", "value": percent(report.reduction),
         "exact": report.reduction},
        {"quantity": "params reduction", "value": percent(report.params_reduction),
         "exact": report.params_reduction},
        {"quantity": "speedup (Eq. 9, baseline / variant MACs)", "value": times(report.speedup),
         "exact": report.speedup},
    ]
    totals = Grid("model totals", [
        Column("quantity", "quantity", justify="left"),
        Column("value", "value", lambda v: v if isinstance(v, str) else human(v)),
        Column("exact", "exact", lambda v: f"{v:,}" if isinstance(v, int) else f"{v:.6f}"),
    ], total_rows)
    notes = []
    replaced = len(report.substituted)
    notes.append(f"{replaced} of {len(report.layers)} conv layers replaced; FLOPs are "
                 "multiply-accumulates (MACs), bias adds not counted.")
    notes += uncounted_notes(report.uncounted_ops)
    return Rendered([layers, totals], report_json(report), notes)
