"""How ``impl="auto"`` chooses a realization: it times the candidates once per call signature,
interleaved, and keeps the fastest in a cache (like ``torch.backends.cudnn.benchmark``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from hetcalc.nn._ops import _tracing
from hetcalc.tensors import storage_free

if TYPE_CHECKING:
    from hetcalc.nn.hetconv import _HetConvNd

AUTO_ROUNDS = 5
"""Interleaved rounds ``auto`` times each candidate for (3 when one call takes over
:data:`AUTO_SLOW_SECONDS`)."""
AUTO_BLOCK_SECONDS = 0.002
"""Calls per timed block: as many as fill this many seconds (at least one)."""
AUTO_SLOW_SECONDS = 0.05
AUTO_PRUNE = 2.0
"""A candidate whose first timed call took over this many times the fastest one's is not timed
further."""

_AUTO_CHOICES: dict[tuple, str] = {}


def auto_choices() -> dict[tuple, str]:
    """What ``impl="auto"`` chose so far, by signature: ``(class, in_channels, out_channels,
    kernel, stride, padding, dilation, part, bias, input shape, device, dtype, memory format,
    grad enabled, threads) -> realization``. A copy: changing it changes nothing."""
    return dict(_AUTO_CHOICES)


def clear_auto_choices() -> None:
    """Forget every ``auto`` choice: the next call of each signature times again."""
    _AUTO_CHOICES.clear()


def _timing_possible(layer: _HetConvNd, x: torch.Tensor) -> bool:
    """Whether ``auto`` may time realizations on this call: an eager call on real tensors with
    real weights, no tracer, compiler or dispatch mode (``FlopCounterMode``) watching."""
    if _tracing() or torch._C._len_torch_dispatch_stack() > 0:
        return False
    if type(x) is not torch.Tensor or x.device.type == "meta":
        return False
    w = layer.weight_kxk
    return w.device.type != "meta" and not storage_free(w)


def _time_realizations(run: Callable[[str], torch.Tensor], candidates: tuple[str, ...],
                       device: torch.device) -> str:
    """The candidate whose least time per call, over interleaved rounds, is least."""
    chosen = _fastest(run, candidates, device, AUTO_BLOCK_SECONDS,
                      lambda slowest: AUTO_ROUNDS if slowest < AUTO_SLOW_SECONDS else 3)
    assert chosen is not None  # nothing gives up here
    return chosen


def _fastest(run: Callable[[str], object], candidates: Sequence[str], device: torch.device,
             block_seconds: float, rounds_for: Callable[[float], int],
             give_up: Callable[[str, float], bool] = lambda name, seconds: False) -> str | None:
    """Time ``run(name)`` for every candidate: a warm-up call and one timed call each (``None``
    as soon as ``give_up(name, seconds)`` says so; a candidate over :data:`AUTO_PRUNE` times the
    fastest is dropped), then ``rounds_for(slowest call)`` interleaved rounds of blocks of about
    ``block_seconds``. The candidate with the least block time wins."""
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def timed(name: str, number: int) -> float:
        synchronize()
        start = time.perf_counter()
        for _ in range(number):
            run(name)
        synchronize()
        return (time.perf_counter() - start) / number

    once = {}
    for name in candidates:
        run(name)  # first call: kernel selection, allocator, derived weights
        once[name] = timed(name, 1)
        if give_up(name, once[name]):
            return None
    fastest = min(once.values())
    # One call each is a rough figure; what is over AUTO_PRUNE times the fastest cannot win.
    alive = [name for name in candidates if once[name] <= AUTO_PRUNE * fastest]
    numbers = {name: max(1, int(block_seconds / max(once[name], 1e-7))) for name in alive}
    rounds = rounds_for(max(once[name] for name in alive))
    samples: dict[str, list[float]] = {name: [] for name in alive}
    for _ in range(rounds):
        for name in alive:
            samples[name].append(timed(name, numbers[name]))
    # Interference from other work only ever adds time: the least block is the best estimate
    # of what a candidate costs.
    return min(alive, key=lambda name: min(samples[name]))


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
    from hetcalc.nn.hetconv import PINNED, _HetConvNd

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
