"""Where the saving goes: the bytes a layer moves, its arithmetic intensity, and its roofline
time on a device model. Torch-free: integers in, integers out, like :mod:`hetcalc.formulas`.

A layer reads its weights once and its input once and writes its output once; a kind of more
than one step (GWC+PWC, DWC+PWC) also writes a tensor that its next step reads
(:attr:`hetcalc.variants.KindSpec.intermediates`), a squeeze-and-excitation block reads the
layer's output twice more (:func:`se_intermediates`), and a HetConv realization materializes
copies of its own (:attr:`hetcalc.realizations.Realization.materialized`). These are the bytes a
layer cannot avoid moving through memory if each tensor it makes is written once and read once;
caches can only do better, which is why the roofline time is a bound, not a promise:
``max(MACs / peak MAC/s, bytes / bandwidth)`` (Williams, Waterman and Patterson, 2009).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from hetcalc.formulas import SE_REDUCTION
from hetcalc.realizations import REALIZATIONS
from hetcalc.shapes import ConvShape
from hetcalc.variants import KINDS, STANDARD, Variant

__all__ = ["ELEMENT_BYTES", "Traffic", "layer_traffic", "roofline", "row_traffic",
           "se_intermediates"]

ELEMENT_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
"""Bytes per element of each dtype a run may use."""


class Row(Protocol):
    """What :func:`row_traffic` reads of a report row (:class:`hetcalc.report.LayerReport`):
    declared here, so that the report can use this module without a circle."""

    shape: ConvShape
    run_shape: ConvShape
    params_standard: int
    params_variant: int
    substituted: bool
    merged_into: str | None
    variant: Variant


class Device(Protocol):
    """What a roofline needs of a device model (:class:`hetcalc.devices.DeviceModel`)."""

    bandwidth: float

    def peak(self, dtype: str) -> float: ...


@dataclass(frozen=True)
class Traffic:
    """Bytes one layer moves for its whole batch: weights read, input read, output written, and
    the intermediate tensors written and read again."""

    weights: int
    inputs: int
    outputs: int
    intermediates: int

    @property
    def total(self) -> int:
        return self.weights + self.inputs + self.outputs + self.intermediates

    def __add__(self, other: Traffic) -> Traffic:
        return Traffic(self.weights + other.weights, self.inputs + other.inputs,
                       self.outputs + other.outputs, self.intermediates + other.intermediates)

    def as_dict(self) -> dict[str, int]:
        return {"weights": self.weights, "inputs": self.inputs, "outputs": self.outputs,
                "intermediates": self.intermediates, "total": self.total}


NONE = Traffic(0, 0, 0, 0)


def se_intermediates(channels: int, out_pixels: int, reduction: int = SE_REDUCTION) -> int:
    """Elements per image that squeeze-and-excitation adds: the layer's output before scaling
    (``N·Do²``) written once and read twice (the average pool, the scaling), and the pooled
    vector (N), the hidden layer (N/r) and the gates (N), each written once and read once."""
    return 3 * channels * out_pixels + 2 * (channels + channels // reduction + channels)


def layer_traffic(variant: Variant, shape: ConvShape, params: int, dtype: str = "float32",
                  realization: str | None = None) -> Traffic:
    """The bytes of one conv layer (``shape``: the shape that runs) under ``variant``, whose
    parameters number ``params``, in ``dtype``. A HetConv layer moves, besides, what its
    ``realization`` materializes and any weights it reads beyond its own (zero weights, a
    dense weight); ``None`` is a realization that moves nothing beyond them (Eq. 4's
    ideal)."""
    element = ELEMENT_BYTES[dtype]
    in_pixels, out_pixels = math.prod(shape.input_size), math.prod(shape.output_size)
    m, n, g = shape.in_channels, shape.out_channels, shape.groups
    intermediates = KINDS[variant.kind].intermediates(variant, shape)
    weights = params
    if variant.is_hetconv and realization is not None and realization in REALIZATIONS:
        ran = REALIZATIONS[realization]
        p, k2 = variant.part_for(m // g), shape.kernel_volume
        if p > 1:  # at P = 1 every realization is one standard conv
            intermediates += g * ran.materialized(m // g, n // g, in_pixels, out_pixels, p, k2)
            weights += g * ran.weights(m // g, n // g, p, k2)
    if variant.se:
        intermediates += se_intermediates(n, out_pixels)
    batch = shape.batch
    return Traffic(weights=weights * element, inputs=batch * m * in_pixels * element,
                   outputs=batch * n * out_pixels * element,
                   intermediates=batch * intermediates * element)


def roofline(macs: int, traffic: int, device: Device, dtype: str) -> tuple[float, str]:
    """The roofline time in ms of ``macs`` MACs moving ``traffic`` bytes on ``device``, and
    what bounds it: ``"compute"`` (``macs / peak``) or ``"memory"`` (``bytes / bandwidth``)."""
    compute = macs / device.peak(dtype)
    memory = traffic / device.bandwidth
    return max(compute, memory) * 1e3, "compute" if compute >= memory else "memory"


def row_traffic(layer: Row, realization: str | None, dtype: str
                ) -> tuple[Traffic, Traffic]:
    """(standard, variant) bytes of one report row: the standard conv of its own shape, and
    what runs in its place (:attr:`LayerReport.run_shape`: a merged pair's one HetConv; the
    pair's pointwise half runs nothing of its own). ``realization``: what a HetConv layer ran."""
    standard = layer_traffic(STANDARD, layer.shape, layer.params_standard, dtype)
    if layer.merged_into is not None:
        return standard, NONE
    if not layer.substituted:
        return standard, standard
    return standard, layer_traffic(layer.variant, layer.run_shape, layer.params_variant, dtype,
                                   realization)
