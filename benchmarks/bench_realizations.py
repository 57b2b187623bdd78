"""Measured speedup of every HetConv realization, and of two public-code realizations, over the
standard model: VGG-16-CIFAR and ResNet-50, P = 2, 4, 16, 64, batch 1 and 32, torch's default
thread count and 1 thread.

    python benchmarks/bench_realizations.py            # full run (about 20-30 minutes on 2 cores)
    python benchmarks/bench_realizations.py --quick    # VGG-16-CIFAR at P = 4 only, short timings
    python benchmarks/bench_realizations.py --models vgg16_cifar --parts 4 --batches 1,32

For each cell (model, P, batch, threads) it builds the standard model, the model substituted by
``hetcalc.substitute.substitute(model, "p<P>", input_shape, impl=...)`` for ``auto`` (hetcalc's
default for timing) and each pinned realization, and two realizations as public HetConv code
writes them (implemented below, same layers replaced):

* ``peer g+pw``: ``gwc(x) + pwc(x)`` with ``gwc`` a K×K conv with ``groups=P`` and ``pwc`` a dense
  1×1 conv on all channels (the common public form; it runs ``Do²·N·M/P`` MACs more than Eq. 4);
* ``peer branches``: ``P`` branches, branch ``r`` a K×K conv on channels ``c ≡ r (mod P)`` plus a
  1×1 conv on the others, outputs interleaved into filter order (exactly Eq. 4's MACs).

``auto`` is what ``compare`` times: a copy of the substituted model with the residue order
carried between layers (``hetcalc.nn.carry_residue_order``), each layer choosing its realization
and the whole model then tuned (``hetcalc.nn.tune_realizations``). ``auto uncarried`` is the same
without carrying: every layer permutes its own input and output. The pinned realizations'
columns are uncarried too: each is that realization as one layer runs it on its own.

All models of a cell are timed interleaved in one process (eval mode, ``torch.inference_mode``,
CPU): a warm-up call (the ``auto`` models choose there, per layer and then for the whole model),
one timed call, then rounds in which every model
runs one block (where one call of the slowest model times the rounds exceeds
``--model-seconds``, rounds of one call, at least one, the first timed call counting as a sample
too: ResNet-50 at batch 32 gets two timed calls per model). A model other than ``auto`` whose
single call is over ``--slow`` times the standard model's is not timed further: its figure is
that one call, marked ``~``. Figures are medians over rounds.
Speedup = standard / model; "realized" = (speedup − 1) / (Eq. 9 − 1), with Eq. 9 the analytic
MAC ratio of the whole model (fvcore's count of the standard model over the formulas' count of
the substituted one; first conv kept standard, as in the paper).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import platform
import statistics
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn

from hetcalc.analysis import report_from_trace, trace_spec
from hetcalc.models.cifar import vgg16_cifar
from hetcalc.nn import (
    HETCONV_CLASSES,
    PINNED,
    carry_residue_order,
    feeding_convs,
    tune_realizations,
)
from hetcalc.substitute import replace_module, substitute
from hetcalc.variants import part_variant

PEERS = ("peer g+pw", "peer branches")
COLUMNS = ("auto", "auto uncarried", *PINNED, *PEERS)
TUNED = ("auto", "auto uncarried")


class PeerGroupedPointwise(nn.Module):
    """Public HetConv code: a K×K conv with ``groups=P`` plus a dense 1×1 conv, summed."""

    def __init__(self, conv: nn.Conv2d, part: int) -> None:
        super().__init__()
        m, n = conv.in_channels, conv.out_channels
        self.gwc = nn.Conv2d(m, n, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                             groups=part, bias=False)
        self.pwc = nn.Conv2d(m, n, 1, conv.stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gwc(x) + self.pwc(x)


class PeerBranches(nn.Module):
    """Public HetConv code: one branch per residue ``r`` (a K×K conv on channels ``c ≡ r mod P``
    and a 1×1 conv on the other channels), outputs interleaved so that filter ``i·P + r`` comes
    from branch ``r``."""

    def __init__(self, conv: nn.Conv2d, part: int) -> None:
        super().__init__()
        m, n = conv.in_channels, conv.out_channels
        self.part = part
        self.kxk = nn.ModuleList(
            nn.Conv2d(m // part, n // part, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, bias=False) for _ in range(part))
        self.pointwise = nn.ModuleList(
            nn.Conv2d(m - m // part, n // part, 1, conv.stride, bias=False) for _ in range(part))
        channels = torch.arange(m)
        for r in range(part):
            self.register_buffer(f"others{r}", channels[channels % part != r], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.part
        outs = [self.kxk[r](x[:, r::p]) + self.pointwise[r](x.index_select(1, getattr(
            self, f"others{r}"))) for r in range(p)]
        return torch.stack(outs, dim=2).flatten(1, 2)


MODELS = {
    "vgg16_cifar": (vgg16_cifar, (1, 3, 32, 32)),
    "resnet50": (lambda: __import__("torchvision").models.resnet50(), (1, 3, 224, 224)),
}


@dataclass
class Cell:
    model: str
    part: int
    batch: int
    threads: int
    theoretical: float
    times: dict[str, list[float]] = field(default_factory=dict)
    slow: set[str] = field(default_factory=set)
    choices: Counter = field(default_factory=Counter)

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def speedup(self, name: str) -> float:
        return self.median("standard") / self.median(name)

    def realized(self, name: str) -> float:
        return (self.speedup(name) - 1) / (self.theoretical - 1)


def build_models(name: str, part: int
                 ) -> tuple[dict[str, nn.Module], dict[str, dict[str, nn.Module]]]:
    """The standard model and every realization of HetConv part P, each its own copy; and, by
    model, the plain convs that feed its HetConv layers (``hetcalc.nn.feeding_convs``), which
    the tuner lays out as ``compare``'s timing does."""
    builder, shape = MODELS[name]
    torch.manual_seed(0)
    standard = builder().eval()
    variant = part_variant(part)
    models = {"standard": standard}
    decisions = None
    for impl in ("auto", *PINNED):
        models[impl], decisions = substitute(standard, variant, shape, impl=impl)
    models["auto uncarried"] = copy.deepcopy(models["auto"])
    carried = carry_residue_order(models["auto"])
    feeders = {"auto": feeding_convs(models["auto"], [(c.producer, c.consumer) for c in carried])}
    for peer, cls in zip(PEERS, (PeerGroupedPointwise, PeerBranches), strict=True):
        model = copy.deepcopy(standard)
        for d in decisions:
            if d.replace and d.merged_into is None:
                replace_module(model, d.name, cls(model.get_submodule(d.name), part))
        models[peer] = model.eval()
    return models, feeders


def theoretical_speedup(name: str, part: int, traces: dict) -> float:
    builder, shape = MODELS[name]
    if name not in traces:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traces[name] = trace_spec(builder().eval(), shape)
    return report_from_trace(name, traces[name], part_variant(part)).speedup


def _call_seconds(model: nn.Module, x: torch.Tensor, number: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(number):
        model(x)
    return (time.perf_counter() - start) / number


def measure_cell(cell: Cell, models: dict[str, nn.Module], shape: tuple[int, ...], rounds: int,
                 model_seconds: float, slow_factor: float, log,
                 feeders: dict[str, dict[str, nn.Module]] | None = None) -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(cell.threads)
    tuned: dict[str, dict[str, str]] = {}
    try:
        torch.manual_seed(1)
        x = torch.randn(cell.batch, *shape[1:])
        once: dict[str, float] = {}
        with torch.inference_mode():
            for name, model in models.items():
                model(x)  # first call: oneDNN primitives, allocator, kept weights; auto chooses
                if name in TUNED:  # and then for the model as a whole, as compare times it
                    tuned[name] = tune_realizations(model, x, (feeders or {}).get(name)) or {}
                once[name] = _call_seconds(model, x)
            cell.slow = {n for n, t in once.items()
                         if t > slow_factor * once["standard"] and n not in TUNED}
            timed = [n for n in models if n not in cell.slow]
            slowest = max(once[n] for n in timed)
            cell.times = {n: [once[n]] for n in cell.slow} | {n: [] for n in timed}
            if slowest * rounds > model_seconds:  # slow cell: rounds of one call, the timed
                rounds = max(1, int(model_seconds / slowest))  # single call a sample too
                numbers = dict.fromkeys(timed, 1)
                for name in timed:
                    cell.times[name].append(once[name])
            else:
                numbers = {n: max(1, int(model_seconds / rounds / once[n])) for n in timed}
            for _ in range(rounds):
                for name in timed:
                    cell.times[name].append(_call_seconds(models[name], x, numbers[name]))
    finally:
        torch.set_num_threads(previous)
    cell.choices = Counter(m.chosen_impl for m in models["auto"].modules()
                           if isinstance(m, tuple(HETCONV_CLASSES.values())))
    for model, layers in tuned.items():  # the next cell (batch, thread count) chooses anew
        for name in layers:
            models[model].get_submodule(name).impl = "auto"
        for conv in (feeders or {}).get(model, {}).values():  # from the layout it was built in
            conv.weight.data = conv.weight.detach().contiguous()
    log(f"{cell.model} P={cell.part} batch={cell.batch} threads={cell.threads}: "
        f"standard {cell.median('standard') * 1e3:.2f} ms, rounds={rounds}, load average "
        f"{os.getloadavg()[0]:.1f}; " + ", ".join(f"{n} {figure(cell, n)}" for n in COLUMNS)
        + f"; auto chose {dict(cell.choices)}")


def figure(cell: Cell, name: str) -> str:
    mark = "~" if name in cell.slow else ""
    return f"{mark}{cell.speedup(name):.2f}x ({cell.realized(name):.0%})"


def render(cells: list[Cell]) -> str:
    header = ["model", "P", "batch", "threads", "Eq. 9", "standard ms", *COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for c in cells:
        row = [c.model, str(c.part), str(c.batch), str(c.threads), f"{c.theoretical:.2f}x",
               f"{c.median('standard') * 1e3:.2f}", *(figure(c, n) for n in COLUMNS)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="VGG-16-CIFAR at P=4 only, 3 rounds, 0.3 s per model")
    parser.add_argument("--models", default=None, help="comma-separated: vgg16_cifar,resnet50")
    parser.add_argument("--parts", default=None, help="comma-separated P (default 2,4,16,64)")
    parser.add_argument("--batches", default="1,32", help="comma-separated batch sizes")
    parser.add_argument("--threads", default=None,
                        help=f"comma-separated thread counts (default {torch.get_num_threads()},1:"
                             " torch's default, then 1)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 7)")
    parser.add_argument("--model-seconds", type=float, default=None,
                        help="timed seconds per model and cell, spread over the rounds "
                             "(default 1.0; where one call of the slowest model is over this, "
                             "each model gets its first timed call plus one round of one call)")
    parser.add_argument("--slow", type=float, default=3.0,
                        help="a model whose single call is over this many times the standard "
                             "model's is not timed further (its one call is reported, ~)")
    args = parser.parse_args(argv)
    models = (args.models or ("vgg16_cifar" if args.quick else "vgg16_cifar,resnet50")).split(",")
    parts = [int(p) for p in (args.parts or ("4" if args.quick else "2,4,16,64")).split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    threads = [int(t) for t in (args.threads or f"{torch.get_num_threads()},1").split(",")]
    threads = list(dict.fromkeys(threads))
    rounds = args.rounds or (3 if args.quick else 7)
    model_seconds = args.model_seconds or (0.3 if args.quick else 1.0)

    def log(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    start = time.time()
    log(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; rounds={rounds}, "
        f"model_seconds={model_seconds}, slow={args.slow}")
    traces: dict = {}
    cells: list[Cell] = []
    for name in models:
        for part in parts:
            built, feeders = build_models(name, part)
            theory = theoretical_speedup(name, part, traces)
            for batch in batches:
                for count in threads:
                    cell = Cell(name, part, batch, count, theory)
                    measure_cell(cell, built, MODELS[name][1], rounds, model_seconds, args.slow,
                                 log, feeders)
                    cells.append(cell)
    print()
    print(f"Speedup over the standard model (realized share of Eq. 9), median of interleaved "
          f"rounds; {datetime.date.today()}, load average {os.getloadavg()[0]:.1f} at the end, "
          f"{time.time() - start:.0f} s; ~ = one call only (over {args.slow}x the standard).")
    print(render(cells))


if __name__ == "__main__":
    main()
