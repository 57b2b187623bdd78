"""Measured speed of the HetConv realizations against nn.Conv2d on VGG-16-CIFAR.

    python benchmarks/bench_modules.py            # full run (several minutes)
    python benchmarks/bench_modules.py --quick    # short run

For each of the 12 layers HetConv replaces in VGG-16-CIFAR (the paper's Table 1 setting; layers
of equal shape share one row) and for the whole model with layers 2..13 replaced at part P, it
times the standard conv and each realization (``hetcalc.nn.IMPLS``: ``auto`` and every pinned
one) with ``torch.utils.benchmark``
(eval mode, ``torch.inference_mode``, CPU and CUDA when present, synchronisation handled by the
Timer). Measurements are interleaved: every round times every case once per module, and the
figure reported is the median over rounds of each round's median. "Theoretical" is Eq. 9 for a
layer (``1 / R``, Eq. 5) and the analytic MAC ratio for the whole model (conv1 and the classifier
stay standard); "share" is realized speedup / theoretical speedup.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from dataclasses import dataclass, field

import torch
from rich.console import Console
from rich.table import Table
from torch import nn
from torch.utils import benchmark

from hetcalc import formulas
from hetcalc.layers import build_variant_layer
from hetcalc.models.cifar import vgg16_cifar
from hetcalc.nn import IMPLS
from hetcalc.variants import part_variant

# (spatial size, M, N, layer names) of VGG-16-CIFAR's conv2..conv13, K=3, padding 1.
VGG_LAYERS = [
    (32, 64, 64, "conv2"),
    (16, 64, 128, "conv3"),
    (16, 128, 128, "conv4"),
    (8, 128, 256, "conv5"),
    (8, 256, 256, "conv6-7"),
    (4, 256, 512, "conv8"),
    (4, 512, 512, "conv9-10"),
    (2, 512, 512, "conv11-13"),
]
KERNEL = (3, 3)


@dataclass
class Case:
    name: str
    batch: int
    theoretical: float
    modules: dict[str, nn.Module]
    input_shape: tuple[int, ...]
    times: dict[str, list[float]] = field(default_factory=dict)


def vgg_variant(part: int, impl: str) -> nn.Module:
    """VGG-16-CIFAR with conv2..conv13 replaced by ``build_variant_layer`` (HetConv, part P)."""
    model = vgg16_cifar()
    convs = [i for i, m in enumerate(model.features) if isinstance(m, nn.Conv2d)]
    variant = part_variant(part)
    for index in convs[1:]:
        model.features[index] = build_variant_layer(model.features[index], variant, impl)
    return model


def vgg_macs(part: int) -> tuple[int, int]:
    """Analytic MACs of VGG-16-CIFAR at 32x32: (standard, conv2..13 as HetConv part P)."""
    first = formulas.flops_standard((32, 32), 3, 64, KERNEL)
    classifier = 512 * 512 + 512 * 10
    standard = hetconv = first + classifier
    sizes = {"conv6-7": 2, "conv9-10": 2, "conv11-13": 3}
    for hw, m, n, name in VGG_LAYERS:
        repeat = sizes.get(name, 1)
        standard += repeat * formulas.flops_standard((hw, hw), m, n, KERNEL)
        hetconv += repeat * formulas.flops_hetconv((hw, hw), m, n, KERNEL, part)
    return standard, hetconv


def build_cases(part: int, batches: list[int], device: torch.device) -> list[Case]:
    torch.manual_seed(0)
    layer_speedup = float(formulas.speedup(formulas.reduction_hetconv(part, KERNEL)))
    cases = []
    for batch in batches:
        for hw, m, n, name in VGG_LAYERS:
            conv = nn.Conv2d(m, n, 3, padding=1, bias=False)
            modules = {"standard": conv}
            modules |= {impl: build_variant_layer(conv, part_variant(part), impl) for impl in IMPLS}
            cases.append(Case(f"{name} {hw}x{hw} {m}->{n}", batch, layer_speedup,
                              {k: v.to(device).eval() for k, v in modules.items()},
                              (batch, m, hw, hw)))
        standard, hetconv = vgg_macs(part)
        models = {"standard": vgg16_cifar()} | {impl: vgg_variant(part, impl) for impl in IMPLS}
        cases.append(Case(f"VGG-16-CIFAR P={part}", batch, standard / hetconv,
                          {k: v.to(device).eval() for k, v in models.items()}, (batch, 3, 32, 32)))
    return cases


def measure(cases: list[Case], rounds: int, min_run_time: float, device: torch.device,
            console: Console) -> None:
    inputs = {id(c): torch.randn(c.input_shape, device=device) for c in cases}
    with torch.inference_mode():
        for case in cases:  # warm-up (oneDNN primitive caches, allocator)
            for module in case.modules.values():
                for _ in range(3):
                    module(inputs[id(case)])
        for round_ in range(rounds):
            console.log(f"round {round_ + 1}/{rounds}")
            for case in cases:
                for key, module in case.modules.items():
                    timer = benchmark.Timer("module(x)", globals={"module": module,
                                                                 "x": inputs[id(case)]},
                                            num_threads=torch.get_num_threads())
                    median = timer.blocked_autorange(min_run_time=min_run_time).median
                    case.times.setdefault(key, []).append(median * 1e3)


def render(cases: list[Case], device: torch.device, console: Console) -> None:
    table = Table(title=f"HetConv realizations vs nn.Conv2d on {device.type} "
                        f"(median ms, eval, inference_mode)")
    for column in ("case", "batch", "impl", "standard ms", "impl ms", "realized speedup",
                   "theoretical speedup", "share realized"):
        table.add_column(column, justify="left" if column in ("case", "impl") else "right")
    for case in cases:
        std = statistics.median(case.times["standard"])
        for impl in IMPLS:
            ms = statistics.median(case.times[impl])
            realized = std / ms
            table.add_row(case.name, str(case.batch), impl, f"{std:.3f}", f"{ms:.3f}",
                          f"{realized:.2f}x", f"{case.theoretical:.2f}x",
                          f"{realized / case.theoretical:.0%}",
                          end_section=impl == IMPLS[-1])
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds, short timings")
    parser.add_argument("--part", type=int, default=4, help="HetConv part P (default 4)")
    parser.add_argument("--batches", default="1,32", help="comma-separated batch sizes")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 2)")
    parser.add_argument("--threads", type=int,
                        help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = args.rounds or (2 if args.quick else 5)
    min_run_time = 0.05 if args.quick else 0.2
    batches = [int(b) for b in args.batches.split(",")]
    console = Console(width=max(Console().width, 120))
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
                  f"{platform.processor() or platform.machine()}, load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, rounds={rounds}, "
                  f"min_run_time={min_run_time}s, MACs: standard/HetConv P={args.part} = "
                  "{:,} / {:,}".format(*vgg_macs(args.part)))
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        cases = build_cases(args.part, batches, device)
        measure(cases, rounds, min_run_time, device, console)
        render(cases, device, console)


if __name__ == "__main__":
    main()
