"""``hetcalc analyze``: per-layer rows, totals, and the JSON of docs/analyze.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hetcalc.realizations import AS_TIMED
from hetcalc.render import Column, Grid, Rendered, human, marked_times, percent, plain, times
from hetcalc.render.ops import uncounted_notes
from hetcalc.render.text import input_words
from hetcalc.render.traffic import traffic_notes
from hetcalc.render.tree import tree_csv, tree_grid, tree_note
from hetcalc.settings import UNRELIABLE_MARK, unreliable_note
from hetcalc.shapes import POSITIONS
from hetcalc.variants import costlier_reason

if TYPE_CHECKING:  # the report classes live beside torch code; rendering needs no torch
    from hetcalc.report import AnalysisReport, LayerReport


def _pair(values: tuple[int, ...]) -> str:
    """``(3, 3)`` -> ``3x3``; one entry per spatial dimension (``9`` for Conv1d)."""
    return "x".join(map(str, values))


PAIR_NOTE = ("depthwise+pointwise pair -> one HetConv layer (paper Table 4): its MACs here, "
             "its reduction against the pair's")
MERGED_NOTE = "pointwise half of the pair above, merged into its HetConv layer"


def merged_pairs(report: AnalysisReport) -> dict[str, str]:
    """``{depthwise layer: pointwise layer}`` for each DW+PW pair merged into one HetConv
    (``--merge-dw-pw``)."""
    return {layer.merged_into: layer.name for layer in report.layers
            if layer.merged_into is not None}


def _table_note(note: str | None, replacement: str | None) -> str | None:
    """A layer's note for the tables: a merged pair's first clause said once for all pairs."""
    if note is None or replacement is None:
        return note
    return "; ".join([replacement, *note.split("; ")[1:]])


def _layer_row(layer: LayerReport, pair_standard: int | None = None,
               merged: bool = False) -> dict:
    """One table row. ``pair_standard``: the standard MACs of the DW+PW pair this depthwise
    layer heads (its reduction is against the pair); ``merged``: the pair's pointwise half,
    whose cost is in the row above."""
    s = layer.shape
    counted = layer.flops_counted
    if merged:
        reduction, note = None, _table_note(layer.note, MERGED_NOTE)
    elif pair_standard is not None:
        reduction = 1 - layer.flops_analytic / pair_standard
        note = _table_note(layer.note, PAIR_NOTE)
    else:
        reduction, note = layer.reduction, layer.note
    return {
        "name": layer.name,
        "variant": layer.variant.spec,
        "channels": f"{s.in_channels}->{s.out_channels}",
        "in_channels": s.in_channels,
        "out_channels": s.out_channels,
        "kernel": _pair(s.kernel),
        "stride": _pair(s.stride),
        "output_size": _pair(s.output_size),
        "substituted": layer.substituted,
        "flops_standard": layer.flops_standard,
        "flops_analytic": layer.flops_analytic,
        "flops_counted": counted,
        "flops_difference": None if counted is None else counted - layer.flops_analytic,
        "reduction": reduction,
        "params_standard": layer.params_standard,
        "params_variant": layer.params_variant,
        "note": note,
        "latency_standard_ms": layer.latency_standard_ms,
        "latency_variant_ms": layer.latency_variant_ms,
        "speedup_measured": layer.speedup_measured,
        "speedup_shown": (layer.speedup_measured, layer.latency_reliable),
        "realization": layer.realization,
        "energy_kept": layer.energy_kept,
        "output_error": layer.output_error,
    }


def layer_rows(report: AnalysisReport) -> list[dict]:
    """The per-layer rows of the table, CSV and Markdown (merged pairs counted as pairs)."""
    pairs = merged_pairs(report)
    by_name = {layer.name: layer for layer in report.layers}
    merged = set(pairs.values())
    rows = []
    for layer in report.layers:
        partner = by_name.get(pairs.get(layer.name, ""))
        pair_standard = layer.flops_standard + partner.flops_standard if partner else None
        rows.append(_layer_row(layer, pair_standard, layer.name in merged))
    return rows


def _share(value: float) -> str:
    return f"{100 * value:.1f}%"


def costlier_notes(report: AnalysisReport) -> list[str]:
    """Say so, and why, where the variant costs more MACs than what it replaces."""
    pairs = merged_pairs(report)
    by_name = {layer.name: layer for layer in report.layers}
    notes = []
    dearer_pairs = []
    for dw_name, pw_name in pairs.items():
        dw, pw = by_name.get(dw_name), by_name.get(pw_name)
        if dw is not None and pw is not None:
            pair = dw.flops_standard + pw.flops_standard
            if dw.flops_analytic > pair:
                dearer_pairs.append((dw, dw.flops_analytic / pair - 1))
    if dearer_pairs:  # only a HetConv variant merges pairs
        first = dearer_pairs[0][0]
        p = first.variant.part_for(first.shape.in_channels)
        k2 = 1
        for size in dearer_pairs[0][0].shape.kernel:
            k2 *= size
        low = min(extra for _, extra in dearer_pairs)
        high = max(extra for _, extra in dearer_pairs)
        extra = f"{_share(low)}" if _share(low) == _share(high) else \
            f"{_share(low)} to {_share(high)}"
        notes.append(
            f"More MACs than what it replaces: {len(dearer_pairs)} of {len(pairs)} merged pairs "
            f"cost {extra} more as one HetConv layer. A HetConv layer M->N with P={p} runs "
            f"Do*Do*N*(M*K*K/P + M - M/P) MACs (Eq. 4), (K*K - 1 + P)/P = "
            f"{(k2 - 1 + p) / p:.2f} times a pointwise conv's Do*Do*M*N for K*K={k2}, while "
            "the depthwise+pointwise pair it replaces runs Do*Do*M*(K*K + N) (Eq. 6), only "
            "(1 + K*K/N) times it: the pair is already close to the pointwise conv's cost, and "
            "a HetConv with a large P is not below it. What the merge buys is one layer less "
            "on the critical path (sequential depth 0) and, in the paper, accuracy: its "
            "Table 4 reports the same trade on CIFAR-10, MobileNet 46.36M FLOPs at 91.17%, "
            "MobileNet P32 55.94M (+20.7%) at 92.06%.")
    dearer = [layer for layer in report.layers
              if layer.substituted and layer.name not in pairs
              and layer.name not in pairs.values()
              and layer.flops_analytic > layer.flops_standard]
    by_reason: dict[str, list[LayerReport]] = {}
    for layer in dearer:  # each layer's own variant says why (the table of kinds)
        by_reason.setdefault(costlier_reason(layer.variant, layer.shape), []).append(layer)
    for why, layers in by_reason.items():
        names = ", ".join(layer.name for layer in layers[:3]) + (", ..." if len(layers) > 3
                                                                  else "")
        notes.append(f"More MACs than the standard conv it replaces in {len(layers)} "
                     f"layer{'s' if len(layers) > 1 else ''} ({names}): {why}.")
    if report.reduction < 0 and notes:
        notes.append(f"In all, {report.label} costs {_share(-report.reduction)} more MACs "
                     "than the baseline model.")
    dims = {layer.shape.dims for layer in report.layers if layer.substituted}
    if notes and dims - {2}:  # the formulas are written as the paper writes them, in 2-D
        notes.append("In these formulas Do*Do stands for the output's positions ("
                     + ", ".join(f"{POSITIONS[d]} for a {d}-D conv" for d in sorted(dims))
                     + ") and K*K for the kernel's taps.")
    return notes


def latency_notes(report: AnalysisReport) -> list[str]:
    """How ``--latency`` timed, which realizations ran, and which ratios not to trust."""
    settings = report.latency_settings
    if settings is None:
        return []
    timed = [layer for layer in report.layers if layer.latency_reliable is not None]
    env = report.latency_environment or {}
    notes = [f"Measured speedup: each replaced layer alone against its standard conv on "
             f"{env.get('device_name', settings.device)}, {_threads(env.get('threads'))}, "
             f"batch {settings.batch_size}, {settings.dtype}, interleaved over {settings.rounds} "
             f"rounds. ran = the HetConv realization timed ({report.timing_impl}); its MACs "
             "beyond Eq. 4 are realization_extra_macs in the JSON."]
    unreliable = sum(not layer.latency_reliable for layer in timed)
    if unreliable:
        notes.append(f"{UNRELIABLE_MARK} {unreliable} of {len(timed)} layers: "
                     + unreliable_note("--time-budget", env.get("threads")))
    return notes


def _counted_as(report: AnalysisReport) -> str:
    """How the substituted model was counted, for the totals' label: the HetConv realization
    only where a HetConv layer was counted."""
    if not any(layer.substituted and layer.variant.is_hetconv for layer in report.layers):
        return "as built"
    if report.impl == AS_TIMED:
        return "each HetConv layer with the realization it ran when timed"
    return f"{report.impl} HetConv"


def _threads(count: object) -> str:
    return "1 thread" if count == 1 else f"{count} threads"


def _share_or_dash(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _exact(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:.6f}"


def fidelity_notes(report: AnalysisReport) -> list[str]:
    """What the fidelity figures are of, and what they are not."""
    fidelity = report.fidelity
    if fidelity is None:
        return []
    return [f"Fidelity of {report.label} with the weights of {fidelity.weights}, on "
            f"{fidelity.calibration}: energy kept = the share of a layer's squared weight norm "
            "its replacement keeps; output error = its output's relative error on the model's "
            "own activations there. A starting point for a fine-tune, not an accuracy "
            "(docs/fidelity.md)."]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _signed(value: int | None) -> str:
    if value is None:
        return "-"
    return "0" if value == 0 else f"{value:+,}"


def render_analysis(report: AnalysisReport, totals_only: bool = False) -> Rendered:
    """The layer table and the totals (``totals_only``: the totals alone, in every format but
    JSON, which always holds both). A report that carries a module tree (``analyze --tree``)
    shows it in place of the layer table, and CSV writes it."""
    data = report.to_dict()
    counted = report.flops_counted is not None
    spec = report.label
    # priority: which columns a narrow terminal keeps (0 always; larger numbers go first).
    columns = [
        Column("layer", "name", justify="left"),
        Column("M->N", "channels", priority=5),
        Column("kernel", "kernel", priority=7, short="K"),
        Column("stride", "stride", priority=9, short="s"),
        Column("output", "output_size", priority=8, short="Do"),
    ]
    if report.plan is not None:
        columns.append(Column("variant", "variant", justify="left"))
    columns += [
        Column("std MACs (Eq. 1)", "flops_standard", human, priority=4, short="std MACs"),
        Column(f"{spec} MACs (analytic)", "flops_analytic", human, short=f"{spec} MACs"),
    ]
    if counted:
        columns += [Column("counted (fvcore)", "flops_counted", human, priority=12,
                           short="counted"),
                    Column("counted - analytic", "flops_difference", _signed, priority=6,
                           hide_if_blank=True)]
    if report.latency_settings is not None:
        columns += [Column("std ms", "latency_standard_ms", _ms, priority=10),
                    Column(f"{spec} ms", "latency_variant_ms", _ms, priority=10),
                    Column("measured speedup", "speedup_shown", marked_times, priority=3,
                           short="speedup", raw=lambda v: v[0]),
                    Column("ran", "realization", plain, justify="left", priority=10,
                           hide_if_blank=True)]
    fidelity = report.fidelity
    if fidelity is not None:
        columns += [Column("energy kept", "energy_kept", _share_or_dash, priority=1,
                           short="kept"),
                    Column("output error", "output_error", _share_or_dash, priority=2,
                           short="err")]
    columns += [
        Column("reduction", "reduction", percent, priority=2, short="saved"),
        Column("params std", "params_standard", human, priority=11),
        Column(f"params {spec}", "params_variant", human, priority=11),
        Column("note", "note", plain, justify="left", priority=3, footnote=True),
    ]
    layers = Grid(
        f"{report.model} {input_words(report.input_shape, report.inputs)}: "
        f"{spec} ({report.description}), conv layers",
        columns, layer_rows(report),
    )
    total_rows = [
        {"quantity": "baseline FLOPs (MACs, fvcore count of the original model)",
         "value": report.baseline_flops, "exact": report.baseline_flops},
        {"quantity": f"{spec} FLOPs (MACs, analytic)",
         "value": report.flops_analytic, "exact": report.flops_analytic},
    ]
    if counted:
        total_rows.append({"quantity": f"{spec} FLOPs (MACs, fvcore count of the "
                           f"substituted model, {_counted_as(report)})",
                           "value": report.flops_counted, "exact": report.flops_counted})
        total_rows.append({"quantity": "counted - analytic", "value": _signed(
            report.flops_counted - report.flops_analytic),
            "exact": report.flops_counted - report.flops_analytic})
    total_rows += [
        {"quantity": "baseline params", "value": report.baseline_params,
         "exact": report.baseline_params},
        {"quantity": f"{spec} params", "value": report.params,
         "exact": report.params},
        *([{"quantity": f"{spec} K x K weights (sum of params_kxk)",
            "value": report.params_kxk, "exact": report.params_kxk}]
          if report.plan is not None else []),
        {"quantity": "FLOPs reduction", "value": percent(report.reduction),
         "exact": report.reduction},
        {"quantity": "params reduction", "value": percent(report.params_reduction),
         "exact": report.params_reduction},
        {"quantity": "speedup (Eq. 9, baseline / variant MACs)", "value": times(report.speedup),
         "exact": report.speedup},
    ]
    if fidelity is not None:
        total_rows += [
            {"quantity": "conv weight energy kept (all conv layers)",
             "value": _share_or_dash(fidelity.energy_kept), "exact": fidelity.energy_kept},
            {"quantity": "output cosine similarity with the original",
             "value": _fraction(fidelity.output_cosine), "exact": fidelity.output_cosine},
            {"quantity": "top-1 agreement with the original",
             "value": _share_or_dash(fidelity.top1_agreement),
             "exact": fidelity.top1_agreement},
        ]
    totals = Grid("model totals", [
        Column("quantity", "quantity", justify="left", prose=True),
        Column("value", "value", lambda v: v if isinstance(v, str) else human(v)),
        Column("exact", "exact", _exact),
    ], total_rows)
    notes = []
    replaced = len(report.substituted)
    notes.append(f"{replaced} of {len(report.layers)} conv layers replaced; FLOPs are "
                 "multiply-accumulates (MACs), bias adds not counted.")
    notes += list(report.notes)
    notes += costlier_notes(report)
    notes += uncounted_notes(report.uncounted_ops, report.uncounted_ops_variant, report.label)
    notes += latency_notes(report)
    notes += fidelity_notes(report)
    notes += traffic_notes(report, data["result"])
    if totals_only:
        return Rendered([totals], data, notes, csv=totals_csv(report))
    if report.tree is not None:
        return Rendered([tree_grid(report), totals], data, [tree_note(report), *notes],
                        csv=tree_csv(report))
    return Rendered([layers, totals], data, notes, csv=layers_csv(report, layers.rows))


LAYER_CSV_KEYS = ("name", "in_channels", "out_channels", "kernel", "stride", "output_size",
                  "substituted", "flops_standard", "flops_analytic", "flops_counted",
                  "flops_difference", "reduction", "params_standard", "params_variant", "note")
LATENCY_CSV_KEYS = ("latency_standard_ms", "latency_variant_ms", "speedup_measured")


def layers_csv(report: AnalysisReport, rows: list[dict]) -> Grid:
    """``analyze --format csv``: one row per conv layer, the JSON's layer keys (kernel, stride
    and output size written ``3x3``) plus ``flops_difference`` and the layer's ``reduction``
    (a fraction; for a merged pair, against the pair; empty for its pointwise half)."""
    keys = LAYER_CSV_KEYS + (LATENCY_CSV_KEYS if report.latency_settings is not None else ())
    if report.fidelity is not None:
        keys += ("energy_kept", "output_error")
    if report.plan is not None:  # each layer's own variant
        keys = (keys[0], "variant", *keys[1:])
    return Grid("layers", [Column(key, key) for key in keys], rows)


TOTAL_CSV_KEYS = ("model", "input_shape", "variant", "unit", "baseline_flops",
                  "baseline_params", "flops_analytic", "flops_counted", "flops_difference",
                  "params", "reduction", "params_reduction", "speedup")


def totals_csv(report: AnalysisReport) -> Grid:
    """``analyze --format csv --totals``: the model totals as one row."""
    counted = report.flops_counted
    row = {
        "model": report.model,
        "input_shape": ",".join(map(str, report.input_shape)),
        "variant": report.label,
        "unit": "MAC",
        "baseline_flops": report.baseline_flops,
        "baseline_params": report.baseline_params,
        "flops_analytic": report.flops_analytic,
        "flops_counted": counted,
        "flops_difference": None if counted is None else counted - report.flops_analytic,
        "params": report.params,
        "reduction": report.reduction,
        "params_reduction": report.params_reduction,
        "speedup": report.speedup,
    }
    return Grid("totals", [Column(key, key) for key in TOTAL_CSV_KEYS], [row])
