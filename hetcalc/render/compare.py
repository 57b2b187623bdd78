"""``hetcalc compare``: a baseline row and a row per variant, and the JSON of docs/compare.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hetcalc.realizations import AS_TIMED
from hetcalc.render import Column, Grid, Rendered, human, marked_times, percent, plain, times
from hetcalc.render.text import input_words
from hetcalc.saving import where_note
from hetcalc.settings import UNRELIABLE_MARK, unreliable_note

if TYPE_CHECKING:  # the report classes live beside torch code; rendering needs no torch
    from hetcalc.compare import Comparison, VariantResult
    from hetcalc.report import Latency


def _latency(value: Latency | None) -> str:
    if value is None:
        return "-"
    mark = "" if value.reliable else f" {UNRELIABLE_MARK}"
    return f"{value.median_ms:.3f} ± {value.iqr_ms:.3f}{mark}"


def _row(label: str, r: VariantResult | None, comparison: Comparison) -> dict:
    if r is None:  # the baseline
        return {"variant": label, "flops_analytic": comparison.baseline_flops,
                "flops_counted": comparison.baseline_flops, "params": comparison.baseline_params,
                "reduction": 0.0, "params_reduction": 0.0, "speedup_theoretical": 1.0,
                "sequential_depth": 0, "info_field": "standard",
                "latency": comparison.baseline_latency,
                "speedup_measured": (1.0, True) if comparison.baseline_latency else None,
                "realized": None, "speedup_ceiling": None, "speedup_predicted": None,
                "realized_of_ceiling": None, "energy_kept": 1.0 if comparison.weights else None,
                "output_cosine": 1.0 if comparison.weights else None,
                "top1_agreement": 1.0 if any(r.fidelity is not None and r.fidelity.top1_agreement
                                             is not None for r in comparison.variants)
                else None}
    reliable = r.speedup_reliable
    found = r.saving
    return {"variant": label, "flops_analytic": r.flops_analytic,
            "flops_counted": r.flops_counted, "params": r.params, "reduction": r.reduction,
            "params_reduction": r.params_reduction, "speedup_theoretical": r.speedup_theoretical,
            "sequential_depth": r.sequential_depth, "info_field": r.info_field,
            "latency": r.latency,
            "speedup_measured": (r.speedup_measured, reliable),
            "realized": (r.realized, reliable),
            "speedup_ceiling": None if found is None else found.speedup_ceiling,
            "speedup_predicted": None if found is None else found.speedup_predicted,
            "realized_of_ceiling": (r.realized_of_ceiling, reliable),
            "energy_kept": None if r.fidelity is None else r.fidelity.energy_kept,
            "output_cosine": None if r.fidelity is None else r.fidelity.output_cosine,
            "top1_agreement": None if r.fidelity is None else r.fidelity.top1_agreement}


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _cosine(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def marked_percent(value: tuple[float | None, bool | None] | None) -> str:
    """A share of two timings, marked when they are too spread to trust."""
    if value is None or value[0] is None:
        return "-"
    return percent(value[0]) + ("" if value[1] is not False else f" {UNRELIABLE_MARK}")


def carried_note(label: str, carried: tuple[tuple[str, str], ...]) -> str:
    """How many tensors the timed model kept in residue order, and where, briefly."""
    first = ", ".join(f"{a} -> {b}" for a, b in carried[:2])
    more = f", ... ({len(carried) - 2} more)" if len(carried) > 2 else ""
    return (f"{label}: timed with residue order carried across {len(carried)} layer "
            f"boundaries ({first}{more}): no permutation copy there, same function, same MACs.")


def render_comparison(c: Comparison) -> Rendered:
    # One run, one stated input: where the timed batch is not the counted input's, each
    # column says which batch it is of, and so does the title.
    timed_batch = c.latency_settings.batch_size if c.latency_settings is not None else None
    apart = timed_batch is not None and timed_batch != c.input_shape[0]
    of_counted = f", batch {c.input_shape[0]}" if apart else ""
    # priority: which columns a narrow terminal keeps (0 always; larger numbers go first).
    columns = [
        Column("variant", "variant", justify="left"),
        Column(f"FLOPs (MACs, analytic{of_counted})", "flops_analytic", human, short="MACs"),
        Column(f"FLOPs (MACs, counted{of_counted})", "flops_counted", human, priority=9,
               short="counted"),
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
            Column(f"latency ms{f' at batch {timed_batch}' if apart else ''} (median ± IQR)",
                   "latency", _latency, priority=2, short="ms",
                   raw=lambda v: None if v is None else v.median_ms),
            Column("measured speedup", "speedup_measured", marked_times, priority=2,
                   short="measured", raw=lambda v: None if v is None else v[0]),
            Column("realized", "realized", marked_percent, priority=3,
                   raw=lambda v: None if v is None else v[0]),
            Column("ceiling", "speedup_ceiling", times, priority=3),
            Column("of ceiling", "realized_of_ceiling", marked_percent, priority=4,
                   raw=lambda v: None if v is None else v[0]),
        ]
    if any(r.saving is not None and r.saving.speedup_predicted is not None
           for r in c.variants):
        columns.append(Column("predicted (roofline)", "speedup_predicted", times, priority=4,
                              short="roofline"))
    if c.weights is not None:
        columns += [
            Column("energy kept", "energy_kept", _share, priority=2, short="energy"),
            Column("output cosine", "output_cosine", _cosine, priority=3, short="cosine"),
            Column("top-1 agreement", "top1_agreement", _share, priority=3, short="top-1",
                   hide_if_blank=True),
        ]
    rows = [_row("baseline", None, c)] + [_row(r.label, r, c) for r in c.variants]
    title = f"{c.model} {input_words(c.input_shape, c.inputs)}: variants side by side"
    if apart:
        title += f"; timed at batch {timed_batch}"
    counted_as = ("as timed, each HetConv layer with the realization auto ran"
                  if c.impl == AS_TIMED else f"{c.impl} HetConv")
    hetconv = any(getattr(r.variant, "is_hetconv", True) for r in c.variants)  # a plan may mix
    notes = ["FLOPs are multiply-accumulates (MACs). counted = fvcore's count of the substituted "
             f"model{f' ({counted_as})' if hetconv else ''}. seq. depth = extra layers on the critical path "
             "(the paper's latency, Section 3.3). info field: the input region one output sees, against "
             "the standard conv's (Penetrating the Fog, Definition 1); SE sees the whole input."]
    s = c.latency_settings
    if s is not None and c.baseline_latency is not None:
        notes.append(f"Measured on {c.baseline_latency.device}, batch {s.batch_size}, {s.dtype}"
                     f"{', channels_last' if s.channels_last else ''}, eval + inference_mode, "
                     f"baseline and variants interleaved over {s.rounds} rounds, HetConv "
                     f"timed with {c.timing_impl}; realized = "
                     "(measured speedup - 1) / (theoretical speedup - 1).")
        notes += [r.counted_note for r in c.variants if r.counted_note]
        notes += [carried_note(r.label, r.latency.carried) for r in c.variants
                  if r.latency is not None and r.latency.carried]
        notes.append("ceiling = 1 / ((1 - s) + s / r): the model's speedup if the layers a "
                     "variant replaces, a share s of the baseline's measured time (its own "
                     "profile), ran exactly r = their MAC ratio faster (docs/roofline.md).")
        notes += [note for r in c.variants if r.saving is not None and (note := where_note(
            r.label, r.saving, r.speedup_measured, c.baseline_latency.median_ms,
            None if r.latency is None else r.latency.median_ms))]
        timings = [c.baseline_latency] + [r.latency for r in c.variants]
        unreliable = [t for t in timings if t is not None and not t.reliable]
        if unreliable:
            notes.append(f"{UNRELIABLE_MARK} {len(unreliable)} of "
                         f"{sum(t is not None for t in timings)} timings: "
                         + unreliable_note(threads=(c.environment or {}).get("threads")))
    if c.weights is not None:
        notes.append(f"Fidelity with the weights of {c.weights}, on {c.calibration}: energy "
                     "kept = the share of the conv layers' squared weight norm the carried-over "
                     "weights keep; output cosine and top-1 agreement = the substituted model's "
                     "output against the original's. A starting point for a fine-tune, not an "
                     "accuracy (docs/fidelity.md).")
    grid = Grid(title, columns, rows)
    return Rendered([grid], c.to_dict(), notes, csv=comparison_csv(c, rows))


CSV_KEYS = ("variant", "flops_analytic", "flops_counted", "params", "reduction",
            "params_reduction", "speedup_theoretical", "sequential_depth", "info_field")
LATENCY_CSV_KEYS = ("latency_ms", "latency_iqr_ms", "speedup_measured", "realized",
                    "speedup_ceiling", "realized_of_ceiling")


def comparison_csv(c: Comparison, rows: list[dict]) -> Grid:
    """``compare --format csv``: the baseline and one row per variant, raw values (fractions,
    ratios, milliseconds), the JSON's keys plus the IQR and the realized share."""
    keys = CSV_KEYS + (LATENCY_CSV_KEYS if c.latency_settings is not None else ())
    if c.weights is not None:
        keys += ("energy_kept", "output_cosine", "top1_agreement")
    timed = [{**row, "latency_ms": row["latency"].median_ms if row["latency"] else None,
              "latency_iqr_ms": row["latency"].iqr_ms if row["latency"] else None,
              "speedup_measured": (row["speedup_measured"] or (None,))[0],
              "realized": (row["realized"] or (None,))[0],
              "realized_of_ceiling": (row["realized_of_ceiling"] or (None,))[0]}
             for row in rows]
    return Grid("variants", [Column(key, key) for key in keys], timed)
