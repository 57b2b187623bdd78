"""What an analysis reports, torch-free: the measured latency of one model or layer
(:class:`Latency`), one conv layer's row (:class:`LayerReport`) and a model's report
(:class:`AnalysisReport`).

:mod:`hetcalc.analysis` fills the reports, :mod:`hetcalc.latency` measures the latencies, and
:mod:`hetcalc.render` shapes both for people and machines; all three import these classes from
here, so none of them needs another's module for a type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hetcalc.plan.file import Plan
from hetcalc.realizations import PINNED
from hetcalc.settings import SPREAD_LIMIT, LatencySettings
from hetcalc.shapes import ConvShape
from hetcalc.variants import STANDARD, Variant

__all__ = ["AnalysisReport", "LayerReport", "Latency"]


@dataclass(frozen=True)
class Latency:
    """Per-forward time of one model: median and interquartile range over the blocks, in ms."""

    median_ms: float
    iqr_ms: float
    blocks: int
    iterations: int
    device: str
    realizations: tuple[tuple[str, str], ...] = ()
    """What each HetConv layer of the timed model ran, ``(module name, realization)`` (``""``
    names a model that is itself one HetConv layer): ``auto``'s choices, or the pinned one."""
    carried: tuple[tuple[str, str], ...] = ()
    """``(producer, consumer)`` module names of every tensor the timed model kept in residue
    order (:func:`hetcalc.nn.carry_residue_order`): no permutation copy ran there."""

    @property
    def spread(self) -> float:
        """Interquartile range over median."""
        return self.iqr_ms / self.median_ms if self.median_ms else 0.0

    @property
    def reliable(self) -> bool:
        return self.spread <= SPREAD_LIMIT


@dataclass(frozen=True)
class LayerReport:
    name: str
    shape: ConvShape
    substituted: bool
    flops_standard: int
    flops_analytic: int
    flops_counted: int | None
    params_standard: int
    params_variant: int
    note: str | None
    latency_standard: Latency | None = None
    """The standard conv alone on this layer's input (``analyze --latency``)."""
    latency_variant: Latency | None = None
    """The layer under its variant, timed interleaved with :attr:`latency_standard`."""
    flops_counted_torch: int | None = None
    """torch's ``FlopCounterMode`` count of the layer (fvcore's is ``flops_counted``)."""
    params_kxk: int = 0
    """Weights of the layer's kernel-sized part as it runs (0 for a 1×1 conv)."""
    variant: Variant = STANDARD
    """The variant the layer runs (``std`` where it is kept)."""
    runs: ConvShape | None = None
    """The shape of the layer that runs in this row's place, where it is not :attr:`shape`: a
    merged DW+PW pair's one HetConv layer M -> N (:attr:`shape` is the depthwise conv's)."""
    merged_into: str | None = None
    """For the pointwise half of a merged DW+PW pair: the depthwise layer whose row runs both."""

    @property
    def run_shape(self) -> ConvShape:
        """The shape of what runs in this row's place: the merged pair's HetConv layer, else
        :attr:`shape`. Realization overheads and latencies are of this shape."""
        return self.runs if self.runs is not None else self.shape

    @property
    def latency_standard_ms(self) -> float | None:
        return None if self.latency_standard is None else self.latency_standard.median_ms

    @property
    def latency_variant_ms(self) -> float | None:
        return None if self.latency_variant is None else self.latency_variant.median_ms

    @property
    def latency_reliable(self) -> bool | None:
        """Whether both timings' spreads are tight enough to trust their ratio."""
        if self.latency_standard is None or self.latency_variant is None:
            return None
        return self.latency_standard.reliable and self.latency_variant.reliable

    @property
    def realization(self) -> str | None:
        """The HetConv realization the timed layer ran (``auto``'s choice, or the pinned one);
        ``None`` when it was not timed or has no HetConv."""
        if self.latency_variant is None:
            return None
        ran = sorted({impl for _, impl in self.latency_variant.realizations})
        return ",".join(ran) or None

    @property
    def speedup_measured(self) -> float | None:
        if self.latency_standard_ms is None or self.latency_variant_ms is None:
            return None
        return self.latency_standard_ms / self.latency_variant_ms

    @property
    def reduction(self) -> float:
        """Share of this layer's standard MACs that the variant removes."""
        return 1 - self.flops_analytic / self.flops_standard


@dataclass(frozen=True)
class AnalysisReport:
    model: str
    input_shape: tuple[int, ...]
    variant: Variant
    baseline_flops: int
    baseline_params: int
    flops_analytic: int
    flops_counted: int | None
    params: int
    layers: list[LayerReport]
    uncounted_ops: dict[str, int]
    """Operators of the original model fvcore has no count for, with their calls."""
    impl: str | None = None
    latency_settings: LatencySettings | None = None
    latency_environment: dict | None = None
    """What the layer latencies depend on (:func:`hetcalc.latency.environment`)."""
    timing_impl: str | None = None
    """The HetConv realization the layers were timed with (``auto``: each layer's own choice,
    in :attr:`LayerReport.realization`)."""
    flops_counted_torch: int | None = None
    counter: str = "fvcore"
    """Which counter the baseline figures come from: fvcore, or torch when fvcore did not run."""
    notes: tuple[str, ...] = ()
    """Model-level remarks (why fvcore did not run, why nothing was replaced, ...)."""
    kept: dict[str, int] = field(default_factory=dict)
    """How many conv layers each rule kept standard (:data:`hetcalc.substitute.RULES`)."""
    plan: Plan | None = None
    """The per-layer plan the report is of, when it is of one (``variant`` is then ``std``,
    what the layers the plan does not name take); each layer's own variant is in its report."""
    activation_bytes: int = 0
    """The baseline's forward pass: bytes of every tensor a leaf module returned, summed
    (float32, as traced)."""
    activation_bytes_variant: int | None = None
    """The same for the substituted model as counted (``None`` when it was not built)."""
    uncounted_ops_variant: dict[str, int] | None = None
    """The substituted model's operators fvcore has no count for (``None`` when it was not
    counted): its new layers may run some the original does not."""
    device_model: Any = None
    """The device the roofline times are predicted for (:class:`hetcalc.devices.DeviceModel`,
    ``--device-spec``), or ``None``."""

    @property
    def dtype(self) -> str:
        """The run's dtype: what the layers were timed in, else float32."""
        return self.latency_settings.dtype if self.latency_settings is not None else "float32"

    def realization_of(self, layer: LayerReport) -> str | None:
        """The HetConv realization a layer ran (or, untimed, was counted with; the default's
        where it was not counted)."""
        if not layer.variant.is_hetconv:
            return None
        if layer.realization in PINNED:
            return layer.realization
        return self.impl if self.impl in PINNED else "exact"

    @property
    def label(self) -> str:
        """How the report names what it costs: the variant's spec, or the plan's file name."""
        return self.plan.spec if self.plan is not None else self.variant.spec

    @property
    def description(self) -> str:
        return self.plan.description if self.plan is not None else self.variant.description

    @property
    def params_kxk(self) -> int:
        """K×K weights over the conv layers (kept and replaced)."""
        return sum(layer.params_kxk for layer in self.layers)

    @property
    def reduction(self) -> float:
        """Share of the baseline MACs removed (Table 1's "FLOPs Reduced")."""
        return 1 - self.flops_analytic / self.baseline_flops if self.baseline_flops else 0.0

    @property
    def params_reduction(self) -> float:
        return 1 - self.params / self.baseline_params if self.baseline_params else 0.0

    @property
    def speedup(self) -> float:
        """Eq. 9 over the whole model: baseline MACs / variant MACs."""
        return self.baseline_flops / self.flops_analytic if self.flops_analytic else 1.0

    @property
    def substituted(self) -> list[LayerReport]:
        return [layer for layer in self.layers if layer.substituted]
