"""Whole-model tuning of ``auto`` HetConv layers: each layer's own choice (:mod:`._auto`) cannot
see what it does to the layers after it, so the model is timed whole, per-layer choices against
every layer on one realization, and each layer is pinned to the winner."""

from __future__ import annotations

import torch

from hetcalc.nn._auto import _fastest
from hetcalc.nn._ops import _tracing
from hetcalc.nn.hetconv import _HetConvNd
from hetcalc.realizations import PINNED

TUNE_MAX_CALL_SECONDS = 0.25
""":func:`tune_realizations` leaves a model whose one call takes longer than this as ``auto``
made it, layer by layer: timing whole-model alternatives would take longer than the timing."""
TUNE_BLOCK_SECONDS = 0.02
TUNE_ROUNDS = 3


def tune_realizations(model: torch.nn.Module, x: torch.Tensor) -> dict[str, str] | None:
    """Choose the realizations of ``model``'s ``auto`` HetConv layers for the model as a whole.

    ``auto`` times each layer alone on its input, which cannot see what a choice does to the
    layers after it: a channels-last realization's output makes the pooling and batch norm after
    it, and the next layer's permutation, cheaper. So the model is called once (each ``auto``
    layer makes its own choice), then timed whole with those choices and with every layer on one
    pinned realization, interleaved (least block time, as ``auto`` compares); each layer is then
    pinned (``layer.impl``) to the fastest configuration. Returns ``{module name: realization}``
    for the layers pinned, or ``None`` where nothing was tuned (fewer than two ``auto`` layers,
    not eager, or one call slower than :data:`TUNE_MAX_CALL_SECONDS`). Callers restore ``layer.impl`` to
    ``"auto"`` when they are done, if the model is not theirs to change.
    """
    layers = {name: m for name, m in model.named_modules()
              if isinstance(m, _HetConvNd) and m.impl == "auto" and m.part > 1}
    if len(layers) < 2 or _tracing() or type(x) is not torch.Tensor or x.device.type == "meta":
        return None  # one layer: auto's own timing already chose for the whole
    chosen: dict[str, str] | None = None
    try:
        model(x)  # each auto layer times its realizations on its own input, once per signature
        configs = {"per layer": {name: layer.chosen_impl or "exact"
                                 for name, layer in layers.items()}}
        configs.update({impl: dict.fromkeys(layers, impl) for impl in PINNED})

        def run(label: str) -> None:
            for name, layer in layers.items():
                layer.impl = configs[label][name]
            model(x)

        best = _fastest(run, list(configs), x.device, TUNE_BLOCK_SECONDS,
                        lambda slowest: TUNE_ROUNDS,
                        lambda label, seconds: label == "per layer"
                        and seconds > TUNE_MAX_CALL_SECONDS)
        chosen = None if best is None else configs[best]
    finally:
        for name, layer in layers.items():  # pinned to the winner, or back on auto
            layer.impl = chosen[name] if chosen is not None else "auto"
    if chosen is not None:
        model(x)  # chosen_impl: what each layer now runs
    return chosen
