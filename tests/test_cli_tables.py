"""Tables fit the terminal: at 80, 120 and 200 columns no line is longer, every layer is on one
line (at most two), and every name and number that is shown is whole. Piped output keeps every
column at its natural width."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from rich.console import Console

from hetcalc.render import WIDE, Column, Grid, OutputFormat, Rendered, render_text, to_string

WIDTHS = (80, 120, 200)


def _render(rendered: Rendered, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(render_text(rendered, OutputFormat.TABLE))
    return console.file.getvalue()


def _counted(report):
    """``report`` as if fvcore had counted it and agreed with the formulas on every layer."""
    layers = [replace(layer, flops_counted=layer.flops_analytic) for layer in report.layers]
    return replace(report, layers=layers, flops_counted=report.flops_analytic, impl="exact")


@pytest.fixture(scope="module")
def reports(resnet50_trace):
    from hetcalc import analysis
    from hetcalc.variants import parse_variant, part_variant

    return {
        "resnet50 p4": _counted(analysis.report_from_trace("resnet50", resnet50_trace,
                                                           part_variant(4))),
        "resnet50 gwc4-se": analysis.report_from_trace("resnet50", resnet50_trace,
                                                       parse_variant("gwc4-se")),
        "vgg16_cifar p2 fast": analysis.analyze("vgg16_cifar", part_variant(2), impl="fast"),
        "mobilenet_cifar p32 merged": analysis.analyze("mobilenet_cifar", part_variant(32),
                                                       merge_pairs=True),
    }


@pytest.fixture(scope="module")
def comparison():
    from hetcalc.compare import compare
    from hetcalc.latency import Latency, LatencySettings
    from hetcalc.variants import parse_variants

    result = compare("vgg16_cifar", parse_variants("p1,p4,gwc4,dwc"))
    timed = [replace(r, latency=Latency(1.234 + i, 0.056, 10, 100, "cpu"),
                     speedup_measured=1.5) for i, r in enumerate(result.variants)]
    return replace(result, variants=timed, baseline_latency=Latency(12.345, 0.067, 10, 100, "cpu"),
                   latency_settings=LatencySettings())


def _layer_lines(text: str, names: list[str]) -> dict[str, list[str]]:
    """The lines of the layer table that each layer's row takes (its line and any that follow
    before the next row or the table's end)."""
    lines = text.splitlines()
    starts = {}
    for name in names:
        pattern = re.compile(rf"^│ {re.escape(name)}(?= )")
        found = [i for i, line in enumerate(lines) if pattern.search(line)]
        assert len(found) == 1, (name, found)
        starts[name] = found[0]
    order = sorted(starts.values())
    rows = {}
    for name, start in starts.items():
        following = [i for i in order if i > start]
        end = following[0] if following else start + 1
        while end < len(lines) and lines[end].startswith("│") and end not in starts.values():
            end += 1
        rows[name] = lines[start:end]
    return rows


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("│").split("│")]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("case", ["resnet50 p4", "resnet50 gwc4-se", "vgg16_cifar p2 fast",
                                  "mobilenet_cifar p32 merged"])
def test_analyze_table_fits_and_keeps_tokens_whole(reports, case, width):
    from hetcalc.render.analysis import render_analysis

    rendered = render_analysis(reports[case])
    text = _render(rendered, width)
    assert max(len(line) for line in text.splitlines()) <= width

    grid = rendered.grids[0]
    formatted = grid.formatted()
    names = [row["name"] for row in grid.rows]
    rows = _layer_lines(text, names)
    for name, values in zip(names, formatted, strict=True):
        lines = rows[name]
        assert len(lines) <= (2 if width == 80 else 1), lines
        assert len(lines) == 1, lines  # in fact one line for each of these models
        cells = _cells(lines[0])
        assert cells[0] == name
        allowed = set(values) | {""}
        for cell in cells[1:]:  # every cell shown is one value of the row, whole
            assert cell in allowed or re.fullmatch(r"\[\d+\]", cell), (cell, values)
            assert "…" not in cell
        # The variant's MACs and what it saves are always there.
        analytic = values[[c.key for c in grid.columns].index("flops_analytic")]
        assert analytic in cells
    _footnotes_are_used(text)


def test_analyze_at_80_columns_drops_columns_and_says_which(reports):
    from hetcalc.render.analysis import render_analysis

    text = _render(render_analysis(reports["resnet50 p4"]), 80)
    assert "[1] first convolution: kept standard as in the paper" in text
    assert re.search(r"\[2\] 1x1 kernel: no spatial kernel to make cheaper", text)
    assert "Not shown, being 0 or none on every row: counted - analytic." in text
    assert "Left out to fit 80 columns: " in text and "(--wide shows every column)" in text
    header = next(line for line in text.splitlines() if "layer" in line and "┃" in line)
    assert "note" in header


def test_analyze_shows_a_counted_difference_when_there_is_one(reports):
    from hetcalc.render.analysis import render_analysis

    text = _render(render_analysis(reports["vgg16_cifar p2 fast"]), 80)
    assert f"+{32 * 32 * 64 * 64 // 2:,}" in text  # features.3: Do*Do*N*M/P more than Eq. 4
    assert "Not shown, being 0" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_table_fits_and_keeps_tokens_whole(comparison, width):
    from hetcalc.render.compare import render_comparison

    rendered = render_comparison(comparison)
    text = _render(rendered, width)
    assert max(len(line) for line in text.splitlines()) <= width
    grid = rendered.grids[0]
    for row, values in zip(grid.rows, grid.formatted(), strict=True):
        lines = [line for line in text.splitlines() if line.startswith(f"│ {row['variant']} ")]
        assert len(lines) == 1
        cells = _cells(lines[0])
        for cell in cells[1:]:
            assert cell in set(values) | {""} or re.fullmatch(r"\[\d+\]", cell), (cell, values)
        assert values[1] in cells  # the variant's MACs
    if width == 80:
        assert "12.345 ± 0.067" in text  # the latency with its spread, in one piece
    _footnotes_are_used(text)


def _footnotes_are_used(text: str) -> None:
    """Each footnote listed under a table has its marker in a row (of a column shown)."""
    lines = text.splitlines()
    rows = "\n".join(line for line in lines if line.startswith("│"))
    for line in lines:
        marker = re.match(r"(\[\d+\]) ", line)
        if marker:
            assert f" {marker[1]} " in rows, (marker[1], text)


def test_piped_output_keeps_every_column_and_the_notes_in_place(reports):
    from hetcalc.render.analysis import render_analysis

    rendered = render_analysis(reports["resnet50 p4"])
    text = to_string(render_text(rendered, OutputFormat.TABLE))  # what a pipe or a file gets
    for column in rendered.grids[0].columns:
        assert column.header in text
    line = next(line for line in text.splitlines() if line.startswith("│ conv1 "))
    assert "first convolution: kept standard as in the paper (--include-first replaces it)" in line
    assert max(len(line) for line in text.splitlines()) < WIDE


def test_a_name_too_long_for_the_terminal_is_folded_not_lost():
    name = "backbone." + ".".join(f"stage{i}" for i in range(20))
    grid = Grid("t", [Column("layer", "name", justify="left"), Column("MACs", "macs"),
                      Column("params", "params", priority=1)],
                [{"name": name, "macs": "1.23M", "params": "4.56K"}])
    text = _render(Rendered([grid], None), 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert name in "".join(line.strip("│ ").split(" │")[0] for line in text.splitlines()
                           if line.startswith("│"))
    assert "1.23M" in text and "4.56K" not in text


def test_prose_wraps_at_spaces():
    words = "a sentence of many words that will not fit on one line of a narrow terminal " * 2
    grid = Grid("t", [Column("quantity", "q", justify="left", prose=True),
                      Column("value", "v")], [{"q": words.strip(), "v": "4,111,512,576"}])
    text = _render(Rendered([grid], None), 60)
    assert max(len(line) for line in text.splitlines()) <= 60
    assert "4,111,512,576" in text
    assert all(word in text for word in words.split())


def test_merged_pairs_are_explained_with_the_papers_table_4(reports):
    from hetcalc.render.analysis import layer_rows, render_analysis

    report = reports["mobilenet_cifar p32 merged"]
    rendered = render_analysis(report)
    notes = " ".join(rendered.notes)
    assert "More MACs than what it replaces: 13 of 13 merged pairs cost" in notes
    assert "Do*Do*N*(M*K*K/P + M - M/P) MACs (Eq. 4), (K*K - 1 + P)/P = 1.25 times" in notes
    assert ("Table 4 reports the same trade on CIFAR-10, MobileNet 46.36M FLOPs at 91.17%, "
            "MobileNet P32 55.94M (+20.7%) at 92.06%") in notes
    assert "In all, p32 costs 19.7% more MACs than the baseline model." in notes
    # A pair's reduction is against the pair; the pointwise half's cost is in the pair's row.
    rows = {row["name"]: row for row in layer_rows(report)}
    layers = {layer.name: layer for layer in report.layers}
    dw, pw = layers["features.3"], layers["features.6"]
    assert rows["features.3"]["reduction"] == pytest.approx(
        1 - dw.flops_analytic / (dw.flops_standard + pw.flops_standard))
    assert rows["features.6"]["reduction"] is None
    assert rows["features.3"]["reduction"] < 0


def test_a_layer_dearer_than_the_standard_conv_is_explained(vgg_trace):
    from hetcalc.analysis import report_from_trace
    from hetcalc.render.analysis import render_analysis
    from hetcalc.variants import parse_variant

    notes = render_analysis(report_from_trace("vgg16_cifar", vgg_trace,
                                              parse_variant("gwc1"))).notes
    # Eq. 10 against Eq. 1 with G = 1: M*M*K*K + M*N > M*N*K*K where M = N (9 layers), not
    # where N = 2M (64->128, 128->256, 256->512).
    assert any(note.startswith("More MACs than the standard conv it replaces in 9 layers")
               and "G=1" in note for note in notes), notes
    cheaper = render_analysis(report_from_trace("vgg16_cifar", vgg_trace,
                                                parse_variant("p4"))).notes
    assert not any("More MACs" in note for note in cheaper)
