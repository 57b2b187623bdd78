"""Plots (the ``plot`` extra: matplotlib): the paper's Fig. 5 and FLOPs against latency.

Each plot draws on its own :class:`matplotlib.figure.Figure` with the Agg canvas and writes the
PNG through :func:`hetcalc.fileio.atomic_write`: no pyplot, no ``matplotlib.use``, so the
backend, figures and state of a program that imports hetcalc are left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hetcalc.errors import InvalidArgument
from hetcalc.fileio import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from hetcalc.curve import CurvePoint


def _figure() -> Figure:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise InvalidArgument("plot needs matplotlib: pip install 'matplotlib>=3.7' into hetcalc's "
                              "environment (pipx: pipx inject hetcalc 'matplotlib>=3.7')",
                              argument="plot") from None
    figure = Figure(figsize=(6, 4))
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path | str) -> None:
    figure.tight_layout()
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=120), what="--plot")


def plot_curve(points: list[CurvePoint], kernel: tuple[int, int], path: Path | str,
               channels: int = 256) -> None:
    """Draw the theoretical speedup curves against P (paper Fig. 5) to a PNG file: one line per
    series of :func:`hetcalc.curve.curve_series`, a dashed level where it does not depend on P.
    ``channels`` is the N the points were computed for (the labels say it)."""
    from hetcalc.curve import curve_series

    figure = _figure()
    ax = figure.add_subplot()
    parts = [pt.part for pt in points]
    markers = iter("os^vDP*X" * 4)
    for series in curve_series():
        values = [pt.speedups[series.key] for pt in points]
        label = series.label.format(channels=channels)
        if len(set(values)) == 1 and len(values) > 1:
            ax.axhline(values[0], color="gray", linestyle="--", label=label)
        else:
            ax.plot(parts, values, marker=next(markers), label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("part P")
    ax.set_ylabel("theoretical speedup (Eq. 9)")
    ax.set_title(f"Speedup over a standard {kernel[0]}x{kernel[1]} conv")
    ax.legend()
    ax.grid(True, alpha=0.3)
    _save(figure, path)


def plot_comparison(labels: list[str], flops: list[int], latency_ms: list[float],
                    title: str, path: Path | str) -> None:
    """FLOPs (MACs) against measured latency, one labelled point per variant, to a PNG file."""
    figure = _figure()
    ax = figure.add_subplot()
    ax.scatter([f / 1e6 for f in flops], latency_ms)
    for label, x, y in zip(labels, flops, latency_ms, strict=True):
        ax.annotate(label, (x / 1e6, y), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("FLOPs (MMACs)")
    ax.set_ylabel("measured latency (ms, median)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    _save(figure, path)
