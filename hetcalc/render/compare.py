"""``hetcalc compare``: a baseline row and a row per variant, and the JSON of docs/compare.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hetcalc.render import Column, Grid, Rendered, human, percent, plain, times

if TYPE_CHECKING:  # the report classes live beside torch code; rendering needs no torch
    from hetcalc.compare import Comparison, VariantResult
    from hetcalc.latency import Latency


def _latency(value: Latency | None) -> str:
    return "-" if value is None else f"{value.median_ms:.3f} ± {value.iqr_ms:.3f}"


def _row(label: str, r: VariantResult | None, comparison: Comparison) -> dict:
    if r is None:  # the baseline
        return {"variant": label, "flops_analytic": comparison.baseline_flops,
                "flops_counted": comparison.baseline_flops, "params": comparison.baseline_params,
                "reduction": 0.0, "params_reduction": 0.0, "speedup_theoretical": 1.0,
                "sequential_depth": 0, "info_field": "standard",
                "latency": comparison.baseline_latency,
                "speedup_measured": 1.0 if comparison.baseline_latency else None,
                "realized": None}
    return {"variant": label, "flops_analytic": r.flops_analytic,
            "flops_counted": r.flops_counted, "params": r.params, "reduction": r.reduction,
            "params_reduction": r.params_reduction, "speedup_theoretical": r.speedup_theoretical,
            "sequential_depth": r.sequential_depth, "info_field": r.info_field,
            "latency": r.latency,
            "speedup_measured": r.speedup_measured, "realized": r.realized}


def comparison_json(c: Comparison) -> dict:
    """The stable ``compare --format json`` object (docs/compare.md)."""
    return {
        "model": c.model,
        "input_shape": list(c.input_shape),
        "unit": "MAC",
        "counter": c.counter,
        "baseline": {"flops": c.baseline_flops, "params": c.baseline_params,
                     "latency_ms": c.baseline_latency.median_ms if c.baseline_latency else None,
                     **_spread(c.baseline_latency)},
        "variants": [{
            "variant": r.label,
            "flops_analytic": r.flops_analytic,
            "flops_counted": r.flops_counted,
            "flops_counted_torch": r.flops_counted_torch,
            "params": r.params,
            "reduction": r.reduction,
            "speedup_theoretical": r.speedup_theoretical,
            "sequential_depth": r.sequential_depth,
            "info_field": r.info_field,
            "latency_ms": r.latency.median_ms if r.latency else None,
            "speedup_measured": r.speedup_measured,
            "baseline_latency_ms": r.baseline_latency.median_ms if r.baseline_latency else None,
            **_spread(r.latency),
        } for r in c.variants],
        "environment": c.environment,
    }


def _spread(latency: Latency | None) -> dict:
    """A latency's interquartile range and whether it is tight enough to trust its ratio."""
    if latency is None:
        return {"latency_iqr_ms": None, "latency_reliable": None}
    return {"latency_iqr_ms": latency.iqr_ms, "latency_reliable": latency.reliable}


def render_comparison(c: Comparison) -> Rendered:
    # priority: which columns a narrow terminal keeps (0 always; larger numbers go first).
    columns = [
        Column("variant", "variant", justify="left"),
        Column("FLOPs (MACs, analytic)", "flops_analytic", human, short="MACs"),
        Column("FLOPs (MACs, counted)", "flops_counted", human, priority=9, short="counted"),
        Column("params", "params", human, priority=4),
        Column("FLOPs red.", "reduction", percent, priority=5, short="saved"),
        Column("params red.", "params_reduction", percent, priority=8),
        Column("speedup (Eq. 9)", "speedup_theoretical", times, priority=1, short="speedup"),
        Column("seq. depth", "sequential_depth", plain, priority=6),
        Column("info field vs std", "info_field", plain, justify="left", priority=7, short="field",
               footnote=True),
    ]
    if c.latency_settings is not None:
        columns += [
            Column("latency ms (median ± IQR)", "latency", _latency, priority=2, short="ms",
                   raw=lambda v: None if v is None else v.median_ms),
            Column("measured speedup", "speedup_measured", times, priority=2,
                   short="measured"),
            Column("realized", "realized", percent, priority=3),
        ]
    rows = [_row("baseline", None, c)] + [_row(r.label, r, c) for r in c.variants]
    title = f"{c.model} {','.join(map(str, c.input_shape))}: variants side by side"
    notes = ["FLOPs are multiply-accumulates (MACs). counted = fvcore's count of the substituted "
             f"model ({c.impl} HetConv). seq. depth = extra layers on the critical path "
             "(the paper's latency, Section 3.3). info field: the input region one output sees, against "
             "the standard conv's (Penetrating the Fog, Definition 1); SE sees the whole input."]
    s = c.latency_settings
    if s is not None and c.baseline_latency is not None:
        notes.append(f"Measured on {c.baseline_latency.device}, batch {s.batch_size}, {s.dtype}"
                     f"{', channels_last' if s.channels_last else ''}, eval + inference_mode, "
                     f"baseline and variants interleaved over {s.rounds} rounds; realized = "
                     "(measured speedup - 1) / (theoretical speedup - 1).")
    grid = Grid(title, columns, rows)
    return Rendered([grid], comparison_json(c), notes, csv=comparison_csv(c, rows))


CSV_KEYS = ("variant", "flops_analytic", "flops_counted", "params", "reduction",
            "params_reduction", "speedup_theoretical", "sequential_depth", "info_field")
LATENCY_CSV_KEYS = ("latency_ms", "latency_iqr_ms", "speedup_measured", "realized")


def comparison_csv(c: Comparison, rows: list[dict]) -> Grid:
    """``compare --format csv``: the baseline and one row per variant, raw values (fractions,
    ratios, milliseconds), the JSON's keys plus the IQR and the realized share."""
    keys = CSV_KEYS + (LATENCY_CSV_KEYS if c.latency_settings is not None else ())
    timed = [{**row, "latency_ms": row["latency"].median_ms if row["latency"] else None,
              "latency_iqr_ms": row["latency"].iqr_ms if row["latency"] else None}
             for row in rows]
    return Grid("variants", [Column(key, key) for key in keys], timed)
