"""Whole-model tuning of ``auto`` HetConv layers: each layer's own choice (:mod:`._auto`) cannot
see what it does to the layers after it, so the model is timed whole, per-layer choices against
every layer on one realization and against the best realization per layer as timed inside the
model, and each layer is pinned to the winner."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import torch

from hetcalc.nn._auto import AUTO_PRUNE, AUTO_SLOW_SECONDS, _fastest
from hetcalc.nn._ops import _tracing
from hetcalc.nn.hetconv import _HetConvNd
from hetcalc.realizations import PINNED, REALIZATIONS

TUNE_MAX_CALL_SECONDS = 0.25
""":func:`tune_realizations` leaves a model whose one call takes longer than this as ``auto``
made it, layer by layer: timing whole-model alternatives would take longer than the timing."""
TUNE_BLOCK_SECONDS = 0.02
TUNE_ROUNDS = 5
"""Interleaved rounds of whole-model blocks (3 when one call takes over
:data:`~hetcalc.nn._auto.AUTO_SLOW_SECONDS`)."""
TUNE_LAYER_CALLS = 3
"""Calls of the whole model per realization in which each layer is timed inside it (least
time per layer counts)."""


def tune_realizations(model: torch.nn.Module, x: torch.Tensor,
                      feeders: Mapping[str, torch.nn.Module] | None = None
                      ) -> dict[str, str] | None:
    """Choose the realizations of ``model``'s ``auto`` HetConv layers for the model as a whole.

    ``auto`` times each layer alone on its input, which cannot see what a choice does to the
    layers after it: a channels-last realization's output makes the pooling and batch norm after
    it, and the next layer's permutation, cheaper. So the model is called once (each ``auto``
    layer makes its own choice), then run with every layer on each pinned realization in turn,
    each layer timed inside the model (:func:`_times_inside`); from those times, per family of
    realizations that leave the same layout (:attr:`~hetcalc.realizations.Realization.
    channels_last`), the fastest realization of each layer makes one more configuration. The
    model is then timed whole with each configuration (the per-layer choices, each uniform one,
    the per-layer mixes), interleaved (least block time, as ``auto`` compares), and each layer is
    pinned (``layer.impl``) to the fastest configuration. Returns ``{module name: realization}``
    for the layers pinned, or ``None`` where nothing was tuned (fewer than two ``auto`` layers,
    not eager, or one call slower than :data:`TUNE_MAX_CALL_SECONDS`). Callers restore
    ``layer.impl`` to ``"auto"`` when they are done, if the model is not theirs to change.

    ``feeders`` (:func:`hetcalc.nn.feeding_convs`) are plain convs that feed a layer through
    channel-wise layers only: in every configuration each one's weight is laid out
    channels-last where its layer's realization reads channels-last, contiguous where it does
    not, and the winner's layouts stay. A conv's output takes its weight's layout in torch, so
    the layer gets its input without a layout copy and the layers in between run in its layout
    (VGG-16-CIFAR at batch 32: the first replaced layer's copy of 32x64x32x32 floats to
    channels-last took 2.9 ms). Values never change, only memory layouts.
    """
    layers = {name: m for name, m in model.named_modules()
              if isinstance(m, _HetConvNd) and m.impl == "auto" and m.part > 1}
    if len(layers) < 2 or _tracing() or type(x) is not torch.Tensor or x.device.type == "meta":
        return None  # one layer: auto's own timing already chose for the whole
    feeders = {name: conv for name, conv in (feeders or {}).items() if name in layers}
    layouts = {name: _layout(conv.weight) for name, conv in feeders.items()}
    chosen: dict[str, str] | None = None
    try:
        model(x)  # each auto layer times its realizations on its own input, once per signature
        configs = {"per layer": {name: layer.chosen_impl or "exact"
                                 for name, layer in layers.items()}}
        configs.update({impl: dict.fromkeys(layers, impl) for impl in PINNED})
        inside = _times_inside(model, layers, x, lambda: _lay_out(layers, feeders))
        if inside is None:
            return None
        for channels_last in (False, True):
            family = [impl for impl in inside if REALIZATIONS[impl].channels_last == channels_last]
            if family:
                mix = {name: min(family, key=lambda impl, name=name: inside[impl][name])
                       for name in layers}
                if len(set(mix.values())) > 1:  # one realization throughout is timed already
                    configs[f"mix {'channels-last' if channels_last else 'contiguous'}"] = mix

        def run(label: str) -> None:
            for name, layer in layers.items():
                layer.impl = configs[label][name]
            _lay_out(layers, feeders)
            model(x)

        best = _fastest(run, list(configs), x.device, TUNE_BLOCK_SECONDS,
                        lambda slowest: TUNE_ROUNDS if slowest < AUTO_SLOW_SECONDS else 3,
                        lambda label, seconds: label == "per layer"
                        and seconds > TUNE_MAX_CALL_SECONDS, settle=True)
        chosen = None if best is None else configs[best]
    finally:
        for name, layer in layers.items():  # pinned to the winner, or back on auto
            layer.impl = chosen[name] if chosen is not None else "auto"
        if chosen is not None:
            _lay_out(layers, feeders)
        else:
            for name, conv in feeders.items():
                _set_layout(conv, layouts[name])
    if chosen is not None:
        model(x)  # chosen_impl: what each layer now runs
    return chosen


_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}
"""The channels-last layout of a 2-D and a 3-D conv's weight, by the weight's rank."""


def _layout(t: torch.Tensor) -> torch.memory_format:
    cl = _CHANNELS_LAST.get(t.dim())
    if cl is not None and t.is_contiguous(memory_format=cl) and not t.is_contiguous():
        return cl
    return torch.contiguous_format


def _set_layout(conv: torch.nn.Module, layout: torch.memory_format) -> None:
    """``conv.weight`` in ``layout``, its values unchanged (a copy where the layout differs)."""
    weight = conv.weight
    if not weight.is_contiguous(memory_format=layout):
        with torch.inference_mode(False), torch.no_grad():
            weight.data = weight.detach().contiguous(memory_format=layout)


def _lay_out(layers: dict[str, _HetConvNd], feeders: Mapping[str, torch.nn.Module]) -> None:
    """Each feeder's weight in the layout its layer's current realization reads."""
    for name, conv in feeders.items():
        impl = layers[name].impl
        reads_cl = impl in REALIZATIONS and REALIZATIONS[impl].channels_last
        _set_layout(conv, _CHANNELS_LAST.get(conv.weight.dim(), torch.contiguous_format)
                    if reads_cl else torch.contiguous_format)


def _times_inside(model: torch.nn.Module, layers: dict[str, _HetConvNd],
                  x: torch.Tensor, lay_out: Callable[[], None] = lambda: None
                  ) -> dict[str, dict[str, float]] | None:
    """``{realization: {layer: seconds}}``: with every layer on one realization, a warm-up call
    and one timed call of the model (``None`` if the fastest is over
    :data:`TUNE_MAX_CALL_SECONDS`); then, for each realization within :data:`AUTO_PRUNE` times
    the fastest, :data:`TUNE_LAYER_CALLS` calls in which forward hooks read the clock around
    each layer: each layer's least time inside the model, its input what the layers before it
    on the same realization made."""
    cuda = x.device.type == "cuda"

    def now() -> float:
        if cuda:
            torch.cuda.synchronize(x.device)
        return time.perf_counter()

    def uniform(impl: str) -> None:
        for layer in layers.values():
            layer.impl = impl
        lay_out()

    whole = {}
    for impl in PINNED:
        uniform(impl)
        model(x)  # derived weights, kernel selection
        start = now()
        model(x)
        whole[impl] = now() - start
    fastest = min(whole.values())
    if fastest > TUNE_MAX_CALL_SECONDS:
        return None
    started: dict[str, float] = {}
    spent: dict[str, list[float]] = {}
    handles = []
    for name, layer in layers.items():
        handles.append(layer.register_forward_pre_hook(
            lambda m, args, name=name: started.__setitem__(name, now())))
        handles.append(layer.register_forward_hook(
            lambda m, args, out, name=name: spent[name].append(now() - started[name])))
    inside: dict[str, dict[str, float]] = {}
    try:
        for impl in (impl for impl in PINNED if whole[impl] <= AUTO_PRUNE * fastest):
            uniform(impl)
            spent.update({name: [] for name in layers})
            for _ in range(TUNE_LAYER_CALLS):
                model(x)
            inside[impl] = {name: min(times) for name, times in spent.items()}
    finally:
        for handle in handles:
            handle.remove()
    return inside
