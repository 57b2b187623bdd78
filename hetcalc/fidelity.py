"""What a substitution keeps of a trained model, before any fine-tune (docs/fidelity.md).

Per replaced layer, with the weights :func:`hetcalc.substitute.apply` carries over (a HetConv
layer keeps the K×K kernels where its pattern has them and the centre taps elsewhere; GWC+PWC
and DWC+PWC the least-squares factors of the dense weight; each kind its ``carry``):

* ``energy_kept``: ``1 − ‖W − Ŵ‖² / ‖W‖²``, where ``W`` is the replaced conv's weight and
  ``Ŵ`` the dense weight the new layer computes over the same K×K window (its ``to_dense()``
  where it has one, else read off the layer by probing it with one-hot inputs). For a HetConv
  layer and for the least-squares factors ``Ŵ`` is a projection of ``W``, so this is
  ``‖Ŵ‖² / ‖W‖²``: the share of the weight's energy (squared Frobenius norm) kept.
* ``output_error``: ``‖y' − y‖ / ‖y‖`` on calibration input, where ``y`` is the conv's output
  on the model's own activations at that layer and ``y'`` the new layer's on the same input.

For the whole model, on the same calibration batch: ``output_cosine``, the cosine similarity of
the substituted model's output with the original's (per sample, averaged), and for a classifier
(an output of shape ``[batch, classes]``) ``top1_agreement``, the share of samples whose
arg-max class is the same.

The calibration batch is :data:`CALIBRATION_BATCH` standard-normal inputs drawn from a generator
seeded with :data:`CALIBRATION_SEED` (the same batch on every run), or a tensor file
(``--calibration``). Torch's global random state is left as it was.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from hetcalc.errors import InvalidArgument
from hetcalc.layers import build_variant_layer
from hetcalc.pipeline import Subject
from hetcalc.report import AnalysisReport, ModelFidelity
from hetcalc.shapes import ConvShape
from hetcalc.substitute import DEFAULT_IMPL, Decision, apply, random_state_kept
from hetcalc.variants import KINDS, Variant
from hetcalc.weights import Weights, read_tensor, trained

__all__ = ["CALIBRATION_BATCH", "CALIBRATION_SEED", "Fidelity", "LayerFidelity",
           "calibration_input", "dense_weight", "energy_kept", "kept_energy", "measure",
           "layer_energy", "Trained", "load_trained", "with_fidelity"]

CALIBRATION_BATCH = 8
"""Random inputs in the calibration batch when no ``--calibration`` file is given."""

CALIBRATION_SEED = 0

PROBE_CHUNK = 256
"""One-hot inputs per forward when a layer's dense weight is read off by probing."""


@dataclass(frozen=True)
class LayerFidelity:
    name: str
    energy_kept: float | None
    """Share of the conv's weight energy the new layer keeps (``None``: nothing carried, a
    merged depthwise+pointwise pair's new layer)."""
    output_error: float | None
    """Relative error of the layer's output on the calibration input (``None``: not measured,
    or the conv's output is zero)."""


@dataclass(frozen=True)
class Fidelity:
    layers: dict[str, LayerFidelity]
    """Per replaced conv layer (by name)."""
    model: ModelFidelity


def calibration_input(input_shape: Sequence[int], file: Path | str | None = None,
                      batch: int = CALIBRATION_BATCH) -> tuple[torch.Tensor, str]:
    """The calibration batch and its description: ``file``'s tensor (its shape must be the
    input shape but for the batch), else ``batch`` seeded standard-normal inputs."""
    shape = tuple(int(v) for v in input_shape)
    if file is not None:
        tensor = read_tensor(file)
        if tuple(tensor.shape[1:]) != shape[1:] or tensor.dim() != len(shape):
            raise InvalidArgument(f"calibration {file}: a tensor of shape {list(tensor.shape)}; "
                                  f"the model takes [batch, {', '.join(map(str, shape[1:]))}]",
                                  argument="calibration")
        if not tensor.is_floating_point():
            raise InvalidArgument(f"calibration {file}: a {tensor.dtype} tensor; inputs are "
                                  "floating point", argument="calibration")
        return tensor.float(), f"{file} ({tensor.shape[0]} inputs)"
    generator = torch.Generator().manual_seed(CALIBRATION_SEED)
    inputs = torch.randn((batch, *shape[1:]), generator=generator)
    return inputs, f"{batch} random inputs (standard normal, seed {CALIBRATION_SEED})"


def _full(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """A grouped conv's ``N×(M/g)×k...`` weight as the ``N×M×k...`` block-diagonal it is."""
    if groups == 1:
        return weight
    n, per, *kernel = weight.shape
    full = weight.new_zeros(n, per * groups, *kernel)
    rows = n // groups
    for g in range(groups):
        full[g * rows:(g + 1) * rows, g * per:(g + 1) * per] = weight[g * rows:(g + 1) * rows]
    return full


def _window(k: int, d: int, s: int, p: int, circular: bool) -> tuple[int, int, int]:
    """One axis of the probe: (canvas length, where the K-tap window starts, the output index
    whose window that is). With a padding mode other than zeros the window keeps clear of the
    edges, so reflected or wrapped pixels never fall in it."""
    margin = p + 1 if circular and p else 0
    out = -(-(p + margin) // s)
    start = out * s - p
    return start + d * (k - 1) + 1 + margin, start, out


@torch.no_grad()
def _probe(layer: nn.Module, shape: ConvShape) -> torch.Tensor:
    """The ``N×M×k...`` dense weight a linear layer computes over the replaced conv's window:
    its response, at one output position, to a one-hot input at each channel and tap (minus
    its response to zero, the bias)."""
    m, n, dims = shape.in_channels, shape.out_channels, shape.dims
    other = shape.padding_mode != "zeros"
    axes = [_window(k, d, s, p, other) for k, d, s, p in
            zip(shape.kernel, shape.dilation, shape.stride, shape.padding, strict=True)]
    taps = math.prod(shape.kernel)
    param = next(layer.parameters())
    canvas = [a[0] for a in axes]
    offsets = torch.cartesian_prod(*(torch.arange(k) for k in shape.kernel)).reshape(taps, dims)
    at = tuple(a[2] for a in axes)

    def response(x: torch.Tensor) -> torch.Tensor:
        y = layer(x)
        return y[(slice(None), slice(None), *at)].double()

    zero = response(torch.zeros(1, m, *canvas, dtype=param.dtype, device=param.device))
    columns = []
    total = m * taps
    for first in range(0, total, PROBE_CHUNK):
        count = min(PROBE_CHUNK, total - first)
        x = torch.zeros(count, m, *canvas, dtype=param.dtype, device=param.device)
        for row, flat in enumerate(range(first, first + count)):
            c, t = divmod(flat, taps)
            place = tuple(a[1] + int(o) * d for a, o, d in
                          zip(axes, offsets[t], shape.dilation, strict=True))
            x[(row, c, *place)] = 1
        columns.append(response(x) - zero)
    return torch.cat(columns).T.reshape(n, m, *shape.kernel)


def dense_weight(layer: nn.Module, shape: ConvShape) -> torch.Tensor:
    """The dense ``N×M×k...`` weight (float64) ``layer`` computes in the place of the conv of
    ``shape``: its ``to_dense()`` where it has one (HetConv, grouped HetConv), else probed."""
    if hasattr(layer, "to_dense"):
        with torch.no_grad():
            return _full(layer.to_dense().double(), shape.groups)
    return _probe(layer, shape)


def kept_energy(weight: torch.Tensor, dense: torch.Tensor, groups: int = 1) -> float:
    """``‖W‖² − ‖W − Ŵ‖²``: the weight energy the new layer keeps (in the weight's units)."""
    w = _full(weight.detach().double(), groups)
    return float(w.square().sum() - (w - dense).square().sum())


def energy_kept(weight: torch.Tensor, dense: torch.Tensor, groups: int = 1) -> float | None:
    """``1 − ‖W − Ŵ‖² / ‖W‖²`` (``None`` for a zero weight)."""
    total = float(weight.detach().double().square().sum())
    return kept_energy(weight, dense, groups) / total if total else None


def layer_energy(conv: nn.Module, variant: Variant, shape: ConvShape) -> float:
    """The weight energy ``conv``'s replacement under ``variant`` keeps, ``‖W‖² − ‖W − Ŵ‖²``
    (all of it for ``std``), with the weights its kind carries; the planner's ``--keep
    energy`` adds these up. Torch's random state is left as it was."""
    if variant.is_baseline:
        return float(conv.weight.detach().double().square().sum())
    with random_state_kept(), torch.no_grad():
        layer = build_variant_layer(conv, variant, DEFAULT_IMPL)
        core = layer[0] if variant.se else layer
        KINDS[variant.kind].carry(conv, core)
        return kept_energy(conv.weight, dense_weight(core, shape), shape.groups)


def _tensor_of(output: object) -> torch.Tensor | None:
    """A model's output as one tensor: itself, a dict's first tensor value (segmentation's
    ``out``), a sequence's first tensor."""
    if isinstance(output, torch.Tensor):
        return output
    values = output.values() if isinstance(output, dict) else (
        output if isinstance(output, list | tuple) else ())
    return next((v for v in values if isinstance(v, torch.Tensor)), None)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(F.cosine_similarity(a.double().flatten(1), b.double().flatten(1), dim=1,
                                     eps=1e-30).mean())


@torch.no_grad()
def measure(original: nn.Module, decisions: Sequence[Decision], inputs: torch.Tensor,
            weights: str = "", calibration: str = "", impl: str = DEFAULT_IMPL) -> Fidelity:
    """The fidelity figures of ``decisions`` applied to the trained ``original`` (left as it
    is), on the calibration batch ``inputs``. ``weights`` and ``calibration`` say, in words,
    where the weights and the batch came from."""
    modes = [(module, module.training) for module in original.modules()]
    original.eval()
    try:
        return _measure(original, decisions, inputs, weights, calibration, impl)
    finally:
        for module, training in modes:
            module.training = training


def _measure(original: nn.Module, decisions: Sequence[Decision], inputs: torch.Tensor,
             weights: str, calibration: str, impl: str) -> Fidelity:
    with random_state_kept():  # an SE block's initialisation leaves no trace
        substituted = apply(copy.deepcopy(original), list(decisions), impl).eval()
    replaced = [d for d in decisions if d.replace and d.merged_into is None and d.pair is None]
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def keep(name: str):
        def hook(module, args, output):
            seen[name] = (args[0].detach(), output.detach())
        return hook

    handles = [original.get_submodule(d.name).register_forward_hook(keep(d.name))
               for d in replaced]
    try:
        before = _tensor_of(original(inputs))
    finally:
        for handle in handles:
            handle.remove()
    layers: dict[str, LayerFidelity] = {}
    total = kept = 0.0
    for d in decisions:
        conv = original.get_submodule(d.name)
        energy = float(conv.weight.detach().double().square().sum())
        total += energy
        if not d.replace:
            kept += energy
            continue
        if d not in replaced:  # a merged pair: its new layer is freshly initialised
            layers[d.name] = LayerFidelity(d.name, None, None)
            continue
        layer = substituted.get_submodule(d.name)
        core = layer[0] if d.variant.se else layer
        dense = dense_weight(core, d.shape)
        kept += kept_energy(conv.weight, dense, d.shape.groups)
        error = None
        if d.name in seen:
            x, y = seen.pop(d.name)
            norm = float(y.double().norm())
            error = float((layer(x).double() - y.double()).norm()) / norm if norm else None
        layers[d.name] = LayerFidelity(d.name, energy_kept(conv.weight, dense, d.shape.groups),
                                       error)
    after = _tensor_of(substituted(inputs))
    cosine = top1 = None
    if before is not None and after is not None and before.shape == after.shape:
        cosine = _cosine(before, after)
        if before.dim() == 2:
            top1 = float((before.argmax(1) == after.argmax(1)).double().mean())
    return Fidelity(layers, ModelFidelity(cosine, top1, kept / total if total else None,
                                          weights, calibration))


@dataclass(frozen=True)
class Trained:
    """A trained model and its calibration batch, loaded before any counting starts (a bad
    file fails in seconds, not after the model is traced)."""

    model: nn.Module
    inputs: torch.Tensor
    calibration: str
    weights: str


def load_trained(source: Subject, weights: Weights,
                 calibration: Path | str | None = None) -> Trained:
    """``source``'s model with the weights ``weights`` names, and the calibration batch."""
    inputs, described = calibration_input(source.input_shape, calibration)
    model = trained(source, weights)
    where = str(weights.file) if weights.file is not None else "pretrained (torch hub cache)"
    return Trained(model, inputs, described, where)


def with_fidelity(report: AnalysisReport, decisions: Sequence[Decision],
                  loaded: Trained) -> AnalysisReport:
    """``report`` with the fidelity figures of its decisions on the trained model: each
    replaced layer's in its row, the whole model's in :attr:`AnalysisReport.fidelity`."""
    found = measure(loaded.model, decisions, loaded.inputs, loaded.weights, loaded.calibration)
    layers = [replace(layer, energy_kept=found.layers[layer.name].energy_kept,
                      output_error=found.layers[layer.name].output_error)
              if layer.name in found.layers else layer for layer in report.layers]
    return replace(report, layers=layers, fidelity=found.model)
