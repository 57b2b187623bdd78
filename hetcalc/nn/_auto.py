"""How ``impl="auto"`` chooses a realization: it times the candidates once per call signature,
interleaved, and keeps the fastest in a cache (like ``torch.backends.cudnn.benchmark``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch

from hetcalc.nn._ops import _tracing
from hetcalc.tensors import storage_free

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


def _timing_possible(weight: torch.Tensor, x: torch.Tensor) -> bool:
    """Whether ``auto`` may time realizations on this call: an eager call on real tensors with
    real weights, no tracer, compiler or dispatch mode (``FlopCounterMode``) watching."""
    if _tracing() or torch._C._len_torch_dispatch_stack() > 0:
        return False
    if type(x) is not torch.Tensor or x.device.type == "meta":
        return False
    return weight.device.type != "meta" and not storage_free(weight)


def _time_realizations(run: Callable[[str], torch.Tensor], candidates: tuple[str, ...],
                       device: torch.device) -> str:
    """The candidate whose least time per call, over interleaved rounds, is least."""
    chosen = _fastest(run, candidates, device, AUTO_BLOCK_SECONDS,
                      lambda slowest: AUTO_ROUNDS if slowest < AUTO_SLOW_SECONDS else 3)
    assert chosen is not None  # nothing gives up here
    return chosen


def _fastest(run: Callable[[str], object], candidates: Sequence[str], device: torch.device,
             block_seconds: float, rounds_for: Callable[[float], int],
             give_up: Callable[[str, float], bool] = lambda name, seconds: False,
             settle: bool = False) -> str | None:
    """Time ``run(name)`` for every candidate: a warm-up call and one timed call each (``None``
    as soon as ``give_up(name, seconds)`` says so; a candidate over :data:`AUTO_PRUNE` times the
    fastest is dropped), then ``rounds_for(slowest call)`` interleaved rounds of blocks of about
    ``block_seconds``, each after one untimed call when ``settle`` (a candidate that changes
    what the calls allocate pays for the change there, not in its block). The candidate with
    the least block time wins."""
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def timed(name: str, number: int) -> float:
        if settle:
            run(name)
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
