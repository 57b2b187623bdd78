"""The paper's Fig. 5: theoretical speedup over the standard conv against the part P.

For each P: HetConv (Eqs. 5 and 9), GWC+PWC with G = P (Eqs. 11 and 9, exact when M = N) and,
for reference, DWC+PWC for a layer of N output channels (Eqs. 7 and 9), which does not depend on P.
"""

from __future__ import annotations

from dataclasses import dataclass

from hetcalc import formulas
from hetcalc.errors import InvalidArgument


@dataclass(frozen=True)
class CurvePoint:
    part: int
    hetconv: float
    gwc_pwc: float
    dwc_pwc: float


def default_parts(max_part: int) -> list[int]:
    """1, 2, 4, ... up to ``max_part`` (and ``max_part`` itself)."""
    parts, p = [], 1
    while p < max_part:
        parts.append(p)
        p *= 2
    return [*parts, max_part]


def speedup_curve(kernel: tuple[int, int] = (3, 3), parts: list[int] | None = None,
                  channels: int = 256) -> list[CurvePoint]:
    """Theoretical speedups for each part P (default 1, 2, 4, ..., 64)."""
    if kernel[0] < 1 or kernel[1] < 1:
        raise InvalidArgument(f"--kernel must be positive, got {kernel[0]}x{kernel[1]}")
    if channels < 1:
        raise InvalidArgument(f"--channels must be a positive integer, got {channels}")
    chosen = parts or default_parts(64)
    if any(p < 1 for p in chosen):
        raise InvalidArgument(f"parts must be positive integers, got {chosen}")
    dwc = float(formulas.speedup(formulas.reduction_dwc_pwc(channels, kernel)))
    return [CurvePoint(p, float(formulas.speedup(formulas.reduction_hetconv(p, kernel))),
                       float(formulas.speedup(formulas.reduction_gwc_pwc(p, kernel))), dwc)
            for p in chosen]


def plot_curve(points: list[CurvePoint], kernel: tuple[int, int], path: str) -> None:
    """Draw the curve to an image file (needs the ``plot`` extra: matplotlib)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    parts = [pt.part for pt in points]
    ax.plot(parts, [pt.hetconv for pt in points], marker="o", label="HetConv (Eq. 5)")
    ax.plot(parts, [pt.gwc_pwc for pt in points], marker="s", label="GWC(G=P)+PWC (Eq. 11)")
    ax.axhline(points[0].dwc_pwc, color="gray", linestyle="--", label="DWC+PWC (Eq. 7)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("part P")
    ax.set_ylabel("theoretical speedup (Eq. 9)")
    ax.set_title(f"Speedup over a standard {kernel[0]}x{kernel[1]} conv")
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidArgument("--plot needs matplotlib: pip install 'hetcalc[plot]'") from None
    return plt


def plot_comparison(labels: list[str], flops: list[int], latency_ms: list[float],
                    title: str, path: str) -> None:
    """FLOPs (MACs) against measured latency, one labelled point per variant."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([f / 1e6 for f in flops], latency_ms)
    for label, x, y in zip(labels, flops, latency_ms, strict=True):
        ax.annotate(label, (x / 1e6, y), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("FLOPs (MMACs)")
    ax.set_ylabel("measured latency (ms, median)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
