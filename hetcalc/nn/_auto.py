"""How ``impl="auto"`` chooses a realization: it times the candidates once per call signature,
interleaved, and keeps the fastest in a cache (like ``torch.backends.cudnn.benchmark``)."""

from __future__ import annotations

import time
from collections.abc import Callable
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
    fastest = min(once.values())
    # One call each is a rough figure; what is over AUTO_PRUNE times the fastest cannot win.
    candidates = tuple(name for name in candidates if once[name] <= AUTO_PRUNE * fastest)
    numbers = {name: max(1, int(AUTO_BLOCK_SECONDS / max(once[name], 1e-7)))
               for name in candidates}
    slowest = max(once[name] for name in candidates)
    rounds = AUTO_ROUNDS if slowest < AUTO_SLOW_SECONDS else 3
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name in candidates:
            samples[name].append(timed(name, numbers[name]))
    # Interference from other work only ever adds time: the least block is the best estimate
    # of what a realization costs on this input.
    return min(candidates, key=lambda name: min(samples[name]))
