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

from hetcalc.modtree import TreeRow
from hetcalc.plan.file import Plan
from hetcalc.realizations import PINNED
from hetcalc.schemas import SCHEMA_VERSION
from hetcalc.settings import SPREAD_LIMIT, LatencySettings
from hetcalc.shapes import ConvShape
from hetcalc.traffic import ELEMENT_BYTES, roofline, row_traffic
from hetcalc.variants import STANDARD, Variant

__all__ = ["AnalysisReport", "LayerReport", "Latency", "ModelFidelity"]


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
class ModelFidelity:
    """What a substitution keeps of a trained model, whole (:mod:`hetcalc.fidelity`)."""

    output_cosine: float | None
    """Cosine similarity of the substituted model's output with the original's, per sample,
    averaged over the calibration batch."""
    top1_agreement: float | None
    """For a classifier (output ``[batch, classes]``): the share of samples whose top-1 class
    is the same; else ``None``."""
    energy_kept: float | None
    """Share of the weight energy of all conv layers kept (kept layers keep all of theirs)."""
    weights: str
    """Where the weights came from (a file's path)."""
    calibration: str
    """The calibration batch, in words."""

    def as_dict(self) -> dict:
        """The keys ``analyze --format json`` adds to ``result``."""
        return {"output_cosine": self.output_cosine, "top1_agreement": self.top1_agreement,
                "energy_kept": self.energy_kept}


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
    energy_kept: float | None = None
    """With trained weights: the share of the conv's weight energy the replacement keeps
    (:mod:`hetcalc.fidelity`)."""
    output_error: float | None = None
    """With trained weights: the replacement's relative output error on calibration input."""

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
    fidelity: Any = None
    """With trained weights (``--weights``, ``--pretrained``): the whole model's figures,
    :class:`ModelFidelity` (each layer's are in its row), else ``None``."""
    tree: tuple[TreeRow, ...] | None = None
    """The module tree to the depth asked for (``analyze --tree``, :mod:`hetcalc.modtree`), or
    ``None`` when it was not asked for."""
    inputs: str | None = None
    """The forward's inputs in words when ``input_shape`` (the first tensor's) does not say
    them all: several tensors, keyword inputs, a dtype."""

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

    def to_dict(self) -> dict:
        """The report as ``analyze --format json`` writes it (docs/analyze.md): plain dicts,
        lists, numbers and strings, for ``json.dumps`` or any other use."""
        return report_json(self)

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


# -- the JSON of analyze (docs/analyze.md): AnalysisReport.to_dict() ------------------------

def where_it_goes(report: AnalysisReport, layer: LayerReport) -> dict:
    """A row's bytes (standard and as it runs), arithmetic intensity (MACs per byte) and, on
    the report's device model, roofline times and bounds (:mod:`hetcalc.traffic`)."""
    standard, variant = row_traffic(layer, report.realization_of(layer), report.dtype)
    macs = layer.flops_counted if layer.flops_counted is not None else layer.flops_analytic
    data: dict = {"bytes": variant.as_dict(), "bytes_standard": standard.as_dict(),
                  "intensity": macs / variant.total if variant.total else None,
                  "intensity_standard": layer.flops_standard / standard.total}
    device = report.device_model
    if device is not None:
        ms, bound = roofline(macs, variant.total, device, report.dtype)
        std_ms, std_bound = roofline(layer.flops_standard, standard.total, device, report.dtype)
        data.update(predicted_ms=ms, bound=bound if variant.total else None,
                    predicted_standard_ms=std_ms, bound_standard=std_bound)
        if getattr(device, "environment", None):  # measured here: how close each run came
            timed = layer.latency_variant_ms, layer.latency_standard_ms
            data.update(
                roofline_share=ms / timed[0] if timed[0] and variant.total else None,
                roofline_share_standard=std_ms / timed[1] if timed[1] else None)
    return data


def totals_where_it_goes(report: AnalysisReport, layers: list[dict]) -> dict:
    """The conv layers' bytes summed, standard and as they run, in the run's dtype, and on a
    device model their roofline times summed: a bound the device cannot beat, not a promise."""
    keys = ("weights", "inputs", "outputs", "intermediates", "total")
    data: dict = {"dtype": report.dtype,
                  "bytes": {k: sum(layer["bytes"][k] for layer in layers) for k in keys},
                  "bytes_standard": {k: sum(layer["bytes_standard"][k] for layer in layers)
                                     for k in keys}}
    scale = ELEMENT_BYTES[report.dtype] / ELEMENT_BYTES["float32"]  # traced in float32
    variant = report.activation_bytes_variant
    data["activation_bytes"] = {
        "baseline": int(report.activation_bytes * scale),
        "variant": None if variant is None else int(variant * scale)}
    device = report.device_model
    if device is not None:
        data["device"] = {"name": device.name, "source": device.source}
        data["predicted_ms"] = sum(layer["predicted_ms"] for layer in layers)
        data["predicted_standard_ms"] = sum(layer["predicted_standard_ms"] for layer in layers)
    return data


def layer_json(layer: LayerReport, timed: bool = False, per_layer: bool = False,
               fidelity: bool = False) -> dict:
    s = layer.shape
    data = {
        "name": layer.name,
        "in_channels": s.in_channels,
        "out_channels": s.out_channels,
        "kernel": list(s.kernel),
        "stride": list(s.stride),
        "output_size": list(s.output_size),
        "substituted": layer.substituted,
        "flops_standard": layer.flops_standard,
        "flops_analytic": layer.flops_analytic,
        "flops_counted": layer.flops_counted,
        "flops_counted_torch": layer.flops_counted_torch,
        "params_standard": layer.params_standard,
        "params_variant": layer.params_variant,
        "params_kxk": layer.params_kxk,
        "note": layer.note,
    }
    if per_layer:  # only for a plan: with one variant, every layer's is the report's
        data["variant"] = layer.variant.spec
    if fidelity:  # only with trained weights
        data["energy_kept"] = layer.energy_kept
        data["output_error"] = layer.output_error
    if timed:  # only with analyze --latency: the stable keys above stay as they are
        standard, variant = layer.latency_standard, layer.latency_variant
        data["latency_standard_ms"] = layer.latency_standard_ms
        data["latency_variant_ms"] = layer.latency_variant_ms
        data["latency_standard_iqr_ms"] = None if standard is None else standard.iqr_ms
        data["latency_variant_iqr_ms"] = None if variant is None else variant.iqr_ms
        data["latency_reliable"] = layer.latency_reliable
        data["speedup_measured"] = layer.speedup_measured
        data["realization"] = layer.realization
        data["realization_extra_macs"] = _realization_extra(layer)
    return data


def _realization_extra(layer: LayerReport) -> int | None:
    """MACs the timed realization runs beyond Eq. 4 on this layer, at the report's batch
    (:func:`hetcalc.realizations.extra_macs`); ``None`` where no HetConv realization ran."""
    from hetcalc import realizations

    name, variant, s = layer.realization, layer.variant, layer.run_shape
    if name not in realizations.REALIZATIONS or not variant.is_hetconv:
        return None
    return realizations.layer_extra_macs(name, s, variant.part_for(s.in_channels // s.groups))


def latency_json(report: AnalysisReport) -> dict | None:
    """How ``analyze --latency`` timed: the environment, the settings, and how many layers'
    spreads were too wide to trust their ratio."""
    settings = report.latency_settings
    if settings is None:
        return None
    timed = [layer for layer in report.layers if layer.latency_reliable is not None]
    return {**(report.latency_environment or {}),
            "time_budget_s": settings.min_run_time, "rounds": settings.rounds,
            "impl": report.timing_impl, "spread_limit": SPREAD_LIMIT,
            "layers_timed": len(timed),
            "layers_unreliable": sum(not layer.latency_reliable for layer in timed)}


def report_json(report: AnalysisReport) -> dict:
    """The stable ``analyze --format json`` object (docs/analyze.md, its schema
    ``hetcalc/schemas/analyze.json``)."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "model": report.model,
        "input_shape": list(report.input_shape),
        "unit": "MAC",
        "variant": report.label,
        "baseline": {"flops": report.baseline_flops, "params": report.baseline_params},
        "result": {
            "flops_analytic": report.flops_analytic,
            "flops_counted": report.flops_counted,
            "flops_counted_torch": report.flops_counted_torch,
            "params": report.params,
            "params_kxk": report.params_kxk,
            "reduction": report.reduction,
            "speedup": report.speedup,
        },
        "counter": report.counter,
        "kept_standard": report.kept,
        "notes": list(report.notes),
        "layers": [layer_json(layer, report.latency_settings is not None,
                              report.plan is not None, report.fidelity is not None)
                   | where_it_goes(report, layer) for layer in report.layers],
    }
    if report.fidelity is not None:  # only with trained weights
        data["result"].update(report.fidelity.as_dict())
        data["weights"] = {"file": report.fidelity.weights,
                           "calibration": report.fidelity.calibration}
    data["result"].update(totals_where_it_goes(report, data["layers"]))
    if report.latency_settings is not None:  # only with --latency
        data["latency"] = latency_json(report)
    if report.plan is not None:  # only for a plan, so a variant's object stays as it was
        data["plan"] = {"file": report.plan.where,
                        "layers": {name: v.spec for name, v in report.plan.items()}}
    if report.tree is not None:  # only with --tree
        data["tree"] = [row.as_dict() for row in report.tree]
    return data


