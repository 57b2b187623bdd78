"""``analyze --tree``: the module tree as a table (one row per module, names indented by depth
as fvcore's ``flop_count_table`` indents them) and as CSV. The JSON's ``tree`` is the report's
own (:meth:`hetcalc.modtree.TreeRow.as_dict`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hetcalc.render import Column, Grid, human

if TYPE_CHECKING:
    from hetcalc.modtree import TreeRow
    from hetcalc.report import AnalysisReport

ROOT = "model"
"""What the table calls the root module (``""`` in the JSON), as fvcore's table does."""
SHOWN_SHAPES = 3
"""A module returning more tensors than this shows the first ones and how many there are."""


def shape_text(shape: tuple[int, ...]) -> str:
    """``(1, 16, 32, 32)`` -> ``1x16x32x32``, as the layer table writes sizes; a 0-d tensor
    is ``scalar``."""
    return "x".join(map(str, shape)) if shape else "scalar"


def shapes_text(shapes: tuple[tuple[int, ...], ...] | None, limit: int | None = None) -> str:
    """Every tensor's shape, ``, ``-separated (at most ``limit``, then how many in all);
    ``-`` for a module never called."""
    if not shapes:
        return "-"
    shown = [shape_text(shape) for shape in shapes[:limit]]
    if limit is not None and len(shapes) > limit:
        shown.append(f"... ({len(shapes)} tensors)")
    return ", ".join(shown)


def _indented(row: TreeRow) -> str:
    return " " * row.depth + (row.name or ROOT)


def tree_rows(report: AnalysisReport) -> list[dict]:
    """One dict per module of the report's tree (empty without one), raw values and the
    indented name the table shows."""
    return [{**row.as_dict(), "module": _indented(row), "output_shapes": row.output_shapes}
            for row in report.tree or ()]


def tree_grid(report: AnalysisReport) -> Grid:
    """The table: module, the original model's MACs and params, the substituted model's (only
    where it was counted) and the output shape. A narrow terminal leaves out the output shape,
    then the params, never a module or its MACs."""
    spec = report.label
    depth = max((row.depth for row in report.tree or ()), default=0)
    columns = [Column("module", "module", justify="left"),
               Column("MACs", "macs", human),
               Column("params", "params", human, priority=2)]
    if any(row.macs_variant is not None for row in report.tree or ()):
        columns += [Column(f"{spec} MACs", "macs_variant", human),
                    Column(f"{spec} params", "params_variant", human, priority=2)]
    columns.append(Column("output", "output_shapes",
                          lambda shapes: shapes_text(shapes, SHOWN_SHAPES), priority=3))
    return Grid(f"{report.model} {','.join(map(str, report.input_shape))}: {spec} "
                f"({report.description}), modules to depth {depth}", columns, tree_rows(report))


TREE_CSV_KEYS = ("name", "depth", "macs", "params", "macs_variant", "params_variant",
                 "output_shape")


def tree_csv(report: AnalysisReport) -> Grid:
    """``analyze --tree --format csv``: one row per module, the JSON's keys (``name`` unindented,
    ``""`` for the model; ``output_shape`` written ``1x16x32x32``, several tensors
    ``, ``-separated, empty for a module never called)."""
    rows = [{**row, "output_shape": shapes_text(row["output_shapes"])
             if row["output_shapes"] else None} for row in tree_rows(report)]
    return Grid("tree", [Column(key, key) for key in TREE_CSV_KEYS], rows)


def tree_note(report: AnalysisReport) -> str:
    """What the tree's figures are."""
    counter = "fvcore" if report.counter == "fvcore" else "torch's FlopCounterMode"
    depth = max((row.depth for row in report.tree or ()), default=0)
    text = (f"Module tree: MACs per module as {counter} counts them (a module's: its "
            f"children's plus its own operators'); modules deeper than {depth} are in their "
            "parent's row (--depth N shows more or fewer levels)")
    if any(row.macs_variant is not None for row in report.tree or ()):
        text += (f"; the {report.label} columns count the substituted model at the same names, "
                 "a replaced conv's new modules in its row")
    return text + "."
