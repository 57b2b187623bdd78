"""``hetcalc designs``: the design-space reduction and the efficiency table."""

from __future__ import annotations

from hetcalc.infofield import DesignSpaceReport, EfficiencyReport
from hetcalc.render import Column, Grid, Rendered, human, plain
from hetcalc.schemas import SCHEMA_VERSION


def _groups(value) -> str:
    return "-" if not value else "(" + ", ".join(map(str, value)) + ")"


def render_reduction(report: DesignSpaceReport) -> Rendered:
    stages = Grid(
        f"design space: sequences of {', '.join(report.kernels)} up to length "
        f"{report.max_length} ({report.total} designs)"
        + (", bottleneck allowance" if report.bottleneck else ""),
        [Column("stage", "stage", justify="left"), Column("before", "before"),
         Column("removed", "removed"), Column("kept", "kept"),
         Column("removed by rule", "rules", justify="left")],
        [{"stage": s.name, "before": s.before, "removed": s.removed_count, "kept": s.kept_count,
          "rules": ", ".join(f"{rule} {n}" for rule, n in _rule_counts(s).items())}
         for s in report.stages],
    )
    survivors = Grid("survivors", [
        Column("design", "design", justify="left"),
        Column("group numbers that keep the field", "groups", justify="left"),
        Column("field after each kernel", "steps", justify="left"),
    ], [{"design": s.design,
         "groups": ", ".join(_groups(g) for g in s.groups) if any(s.groups) else "-",
         "steps": " -> ".join(f"({h}, {w}, {c})" for h, w, c in s.steps)}
        for s in report.survivors])
    data = {
        "schema_version": SCHEMA_VERSION,
        "max_length": report.max_length, "kernels": list(report.kernels),
        "bottleneck": report.bottleneck, "total": report.total,
        "stages": [{"name": s.name, "before": s.before, "removed": s.removed_count,
                    "kept": s.kept_count, "removed_by_rule": _rule_counts(s)}
                   for s in report.stages],
        "survivors": list(report.survivor_names),
    }
    notes = [f"{len(report.survivors)} designs survive: {', '.join(report.survivor_names)}."]
    return Rendered([stages, survivors], data, notes)


def _rule_counts(stage) -> dict[str, int]:
    counts: dict[str, int] = {}
    for removal in stage.removed:
        counts[removal.rule] = counts.get(removal.rule, 0) + 1
    return counts


def render_efficiency(report: EfficiencyReport) -> Rendered:
    has_width = any(row.width is not None for row in report.rows)
    # priority: which columns an 80-column terminal keeps (0 always; larger go first), as in
    # every other table; --wide and the other formats keep them all
    columns = [
        Column("design", "layers", justify="left"),
        Column("paper", "section", lambda v: f"Sec. {v}", priority=6),
        Column("bottleneck", "bottleneck", plain, priority=4, short="B"),
        Column("params", "params", human),
        Column("FLOPs (MACs)", "macs", human, short="MACs"),
        Column("vs standard", "ratio", lambda v: f"{float(v):.4f}", priority=2, short="vs std"),
        Column("Theorem 1 (M*N = intermediate)", "theorem1", plain, priority=7, short="Thm 1",
               hide_if_blank=True),
        Column("closed-form optimum", "optimum",
               lambda v: "-" if v is None else "(" + ", ".join(f"{x:.2f}" for x in v) + ")",
               priority=5, short="optimum", hide_if_blank=True),
        Column("info field", "field", plain, priority=3, short="field"),
    ]
    if has_width:
        columns.append(Column(f"greatest width for {human(report.budget)} params", "width",
                              lambda w: "-" if w is None else f"{w.width} "
                              f"(groups {_groups(w.groups)}, {human(w.params)} params)",
                              justify="left", priority=1, short="width", prose=True))
    rows = [{"layers": r.layers, "section": r.design.section, "bottleneck": r.bottleneck,
             "params": r.params, "macs": r.macs,
             "ratio": r.ratio, "theorem1": r.theorem1, "optimum": r.optimum,
             "field": str(r.field), "width": r.width} for r in report.rows]
    h, w = report.out_hw
    grid = Grid(f"the four designs at C={report.in_channels} -> F={report.out_channels}, "
                f"{report.kernel}x{report.kernel} kernel, output {h}x{w}: standard conv "
                f"{human(report.standard_params)} params, {human(report.standard_macs)} MACs, "
                f"field {report.standard_field}", columns, rows)
    data = {
        "schema_version": SCHEMA_VERSION,
        "in_channels": report.in_channels, "out_channels": report.out_channels,
        "bottleneck": report.bottleneck, "kernel": report.kernel, "output_size": [h, w],
        "unit": "MAC", "standard": {"params": report.standard_params,
                                    "flops": report.standard_macs},
        "budget_params": report.budget,
        "designs": [{"design": r.design.value, "section": r.design.section, "layers": r.layers,
                     "groups": list(r.groups) if r.groups else None, "bottleneck": r.bottleneck,
                     "params": r.params, "flops": r.macs, "ratio": float(r.ratio),
                     "theorem1": r.theorem1, "info_field": list(r.field.size),
                     "greatest_width": None if r.width is None else {
                         "width": r.width.width, "groups": list(r.width.groups or []) or None,
                         "params": r.width.params}}
                    for r in report.rows],
    }
    notes = ["Params count weights only (no bias, no BN); FLOPs are MACs. Group numbers are the "
             "best integers (Theorem 1); the closed-form optimum is the paper's real-valued one."]
    return Rendered([grid], data, notes)
