"""``hetcalc plan``: the chosen variant per layer, the plan beside the baseline and the uniform
variants, the JSON of docs/plan.md, and the header of the plan file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hetcalc.plan.budget import objective
from hetcalc.render import Column, Grid, Rendered, human, percent, plain
from hetcalc.render.text import input_words, user_text

if TYPE_CHECKING:  # the result classes live beside torch code; rendering needs no torch
    from hetcalc.plan.search import LayerPlan, PlanResult, Row

def _size(values: tuple[int, ...]) -> str:
    return "x".join(map(str, values))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _choices(layer: LayerPlan) -> str:
    """``std, p2..p64`` for a run of HetConv parts, else the specs."""
    specs = [c.variant.spec for c in layer.candidates]
    parts = [c.variant.part for c in layer.candidates[1:]]
    if len(parts) > 2 and all(p is not None for p in parts) and all(
            b == 2 * a for a, b in zip(parts, parts[1:], strict=False)):  # type: ignore[operator]
        return f"std, p{parts[0]}..p{parts[-1]}"
    return ", ".join(specs)


def _summary_row(row: Row, baseline: Row, kind: str) -> dict:
    return {"model": row.label, "kind": kind, "flops": row.flops, "params": row.params,
            "params_kxk": row.params_kxk,
            "kept": row.params_kxk / baseline.params_kxk if baseline.params_kxk else None,
            "layers_changed": row.layers_changed, "predicted_ms": row.predicted_ms,
            "latency_ms": row.latency.median_ms if row.latency else None,
            "meets": None if kind == "baseline" else row.meets,
            "energy_kept": row.energy_kept}


def render_plan(result: PlanResult) -> Rendered:
    timed = result.latency_settings is not None
    label = result.plan.spec
    layer_columns = [
        Column("layer", "name", justify="left"),
        Column("M->N", "channels", priority=6),
        Column("kernel", "kernel", priority=8, short="K"),
        Column("output", "output_size", priority=7, short="Do"),
        Column("choices", "choices", plain, justify="left", priority=9),
        Column("variant", "variant", justify="left"),
        Column("std MACs", "flops_standard", human, priority=4),
        Column("MACs", "flops", human),
        Column("K x K std", "params_kxk_standard", human, priority=5),
        Column("K x K kept", "params_kxk", human),
    ]
    if result.weights is not None:
        layer_columns.append(Column("energy kept", "energy_kept", percent, short="energy"))
    if timed:
        layer_columns += [Column("std ms", "latency_standard_ms", _ms, priority=3),
                          Column("ms", "latency_ms", _ms, priority=3),
                          Column("saved ms", "saving_ms", _ms, priority=2)]
    data = result.to_dict()
    layer_rows = [{**row, "channels": f"{layer.shape.in_channels}->"
                   f"{layer.shape.out_channels}", "kernel": _size(layer.shape.kernel),
                   "output_size": _size(layer.shape.output_size), "choices": _choices(layer)}
                  for layer, row in zip(result.layers, data["layers"], strict=True)]
    inputs = input_words(result.input_shape, result.inputs)
    layers = Grid(f"{result.model} {inputs}: {label}, the variant of each eligible conv layer",
                  layer_columns, layer_rows)

    summary_columns = [
        Column("model", "model", justify="left"),
        Column("FLOPs (MACs)", "flops", human, short="MACs"),
        Column("params", "params", human, priority=4),
        Column("K x K kept", "params_kxk", human),
        Column("kept", "kept", percent, priority=3),
        Column("layers changed", "layers_changed", plain, priority=5, short="changed"),
    ]
    if result.weights is not None:
        summary_columns.append(Column("energy kept", "energy_kept", percent, short="energy"))
    if timed:
        summary_columns += [Column("predicted ms", "predicted_ms", _ms, priority=2),
                            Column("measured ms", "latency_ms", _ms)]
    summary_columns.append(Column("meets budget", "meets", _yes, short="meets"))
    summary_rows = ([_summary_row(result.baseline, result.baseline, "baseline"),
                     _summary_row(result.planned, result.baseline, "plan")]
                    + [_summary_row(row, result.baseline, "uniform") for row in result.uniform])
    summary = Grid(f"{label} beside the baseline and uniform variants", summary_columns,
                   summary_rows)
    keys = CSV_KEYS + (("energy_kept",) if result.weights is not None else ())
    return Rendered([layers, summary], data, notes(result),
                    csv=Grid("models", [Column(key, key) for key in keys], summary_rows))


CSV_KEYS = ("model", "kind", "flops", "params", "params_kxk", "kept", "layers_changed",
            "predicted_ms", "latency_ms", "meets")


def _budget_text(result: PlanResult) -> str:
    b = result.budget
    parts = []
    if b.max_flops is not None:
        parts.append(f"FLOPs <= {human(b.max_flops)} MACs ({b.max_flops:,})")
    if b.max_params is not None:
        parts.append(f"params <= {human(b.max_params)} ({b.max_params:,})")
    if b.max_latency_ms is not None:
        parts.append(f"predicted latency <= {b.max_latency_ms:g} ms")
    return ", ".join(parts)


def notes(result: PlanResult) -> list[str]:
    planned, baseline = result.planned, result.baseline
    lines = [f"Budget: {_budget_text(result)}. Objective: {objective(result.keep)}. Solved exactly over "
             f"{result.combinations:,} possible plans (at most {result.frontier:,} partial "
             "plans kept). FLOPs are multiply-accumulates (MACs), analytic; layers not "
             "listed stay standard."]
    if not any(not v.is_baseline for v in result.plan.values()):
        lines.append("The model meets the budget as it is: the plan changes nothing.")
    meeting = [row for row in result.uniform if row.meets]
    if meeting:
        best = max(meeting, key=lambda row: row.params_kxk)
        lines.append(f"{result.plan.spec} keeps {planned.params_kxk:,} K x K weights; the "
                     f"best uniform variant within the budget, {best.label}, keeps "
                     f"{best.params_kxk:,} ({planned.params_kxk - best.params_kxk:+,}).")
    elif result.uniform:
        lines.append("No uniform variant meets the budget.")
    if result.weights is not None:
        lines.append(f"Energy kept: the share of the conv layers' squared weight norm (weights "
                     f"of {result.weights}) that the carried-over weights keep "
                     "(docs/fidelity.md); a starting point for a fine-tune, not an accuracy.")
    s = result.latency_settings
    if s is not None and result.environment is not None:
        env = result.environment
        lines.append(
            f"Latency on {env['device']} ({env['device_name']}), {env['threads']} threads, "
            f"batch {s.batch_size}, {s.dtype}: predicted = the baseline model's measured "
            f"latency ({_ms(baseline.predicted_ms)} ms) minus what each changed layer saves, "
            "each layer timed alone against its standard conv; measured = the whole model "
            "timed once after planning, interleaved with the baseline "
            f"({_ms(baseline.latency.median_ms if baseline.latency else None)} ms in that "
            "run).")
        if planned.latency is not None and planned.predicted_ms is not None:
            off = planned.latency.median_ms / planned.predicted_ms - 1
            lines.append(f"{result.plan.spec}: predicted {planned.predicted_ms:.3f} ms, "
                         f"measured {planned.latency.median_ms:.3f} ms "
                         f"(± {planned.latency.iqr_ms:.3f} IQR), {100 * off:+.1f}%.")
    if result.plan.where is None:
        lines.append("Plan not written: give -o FILE.toml to keep it (then hetcalc analyze "
                     f"{result.model} --plan FILE.toml).")
    return lines


def plan_file_header(result: PlanResult, command: str) -> list[str]:
    """The comment lines at the head of a written plan file, each one line (:func:`user_text`):
    a model spec with a newline cannot end a TOML comment early."""
    planned, baseline = result.planned, result.baseline
    lines = [command,
             f"Budget: {_budget_text(result)}.",
             f"Objective: {objective(result.keep)}.",
             f"Planned: {planned.flops:,} MACs (analytic), {planned.params:,} params, "
             f"{planned.params_kxk:,} of {baseline.params_kxk:,} K x K weights kept, "
             f"{planned.layers_changed} layers changed."]
    if planned.predicted_ms is not None:
        lines.append(f"Latency: predicted {planned.predicted_ms:.3f} ms"
                     + (f", measured {planned.latency.median_ms:.3f} ms"
                        if planned.latency else "") + ".")
    lines += ["Every eligible conv layer is listed; a layer not listed stays standard. Any "
              "variant of the grammar may be written.", ""]
    return [user_text(line) for line in lines]


def plan_file_comments(result: PlanResult) -> dict[str, str]:
    """Per-layer comments in a written plan file: the layer's shape and its choices."""
    return {layer.name: f"{layer.shape.in_channels}->{layer.shape.out_channels} "
                        f"{_size(layer.shape.kernel)} at {_size(layer.shape.output_size)}; "
                        f"choices {_choices(layer)}"
            for layer in result.layers}
