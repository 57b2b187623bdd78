"""Start-up time of the CLI, and wall time and peak memory of ``hetcalc analyze`` against doing
the same by hand.

    python benchmarks/bench_cli.py [--repeats 5] [--startup-only]

0. Start-up: ``hetcalc --help``, ``hetcalc --version``, ``hetcalc analyze --help`` and
   ``hetcalc curve`` against ``python -c "import torch"``, each a fresh process, interleaved in
   one run; medians and their ratio to importing torch. Target: help and version under 0.25x.
1. Wall time: ``hetcalc analyze resnet50 --P 4 --format json`` against a bare script that imports
   torch, torchvision and fvcore and counts resnet50 with ``FlopCountAnalysis`` — each a fresh
   process, interleaved run by run so that machine drift hits both alike; medians and their ratio.
   Target: at most 1.2x.
2. Peak memory (max RSS of the process): ``hetcalc analyze vit_h_14 --P 4 --format json`` against a
   script that only builds vit_h_14 the ordinary way. Target: under half.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
HETCALC = [str(BIN / "hetcalc")]

BARE_COUNT = """
import torch, torchvision
from fvcore.nn import FlopCountAnalysis
model = torchvision.models.resnet50().eval()
print(FlopCountAnalysis(model, torch.randn(1, 3, 224, 224)).total())
"""

BARE_BUILD = """
import torchvision
model = torchvision.models.vit_h_14()
print(sum(p.numel() for p in model.parameters()))
"""


def run(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode()[-400:]}")
    return elapsed, usage.ru_maxrss / 1024


def startup(repeats: int) -> None:
    """Start-up figures: the CLI's light paths against ``import torch``, interleaved."""
    cases = {
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
        "hetcalc --help": HETCALC + ["--help"],
        "hetcalc --version": HETCALC + ["--version"],
        "hetcalc analyze --help": HETCALC + ["analyze", "--help"],
        "hetcalc curve": HETCALC + ["curve"],
    }
    for argv in cases.values():  # warm the file cache and the bytecode once
        run(argv)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, argv in cases.items():
            times[name].append(run(argv)[0])
    torch_median = statistics.median(times['python -c "import torch"'])
    print(f"start-up, median of {repeats} interleaved runs (ratio: to import torch; "
          "target for help and version < 0.25x)")
    for name, values in times.items():
        median = statistics.median(values)
        spread = ", ".join(f"{t:.3f}" for t in values)
        print(f"  {name:30s} {median:6.3f} s  {median / torch_median:5.2f}x   [{spread}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--startup-only", action="store_true",
                        help="Only the start-up figures (seconds, not minutes).")
    args = parser.parse_args()

    startup(args.repeats)
    if args.startup_only:
        return

    cases = {
        "hetcalc analyze resnet50 --P 4 --format json":
            HETCALC + ["analyze", "resnet50", "--P", "4", "--format", "json"],
        "bare script: FlopCountAnalysis(resnet50)": [sys.executable, "-c", BARE_COUNT],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    run(cases["bare script: FlopCountAnalysis(resnet50)"])  # warm the file cache once
    for _ in range(args.repeats):
        for name, argv in cases.items():
            times[name].append(run(argv)[0])
    names = list(cases)
    medians = [statistics.median(times[n]) for n in names]
    print(f"wall time, median of {args.repeats} interleaved runs")
    for name, median in zip(names, medians, strict=True):
        spread = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"  {name:48s} {median:6.2f} s   [{spread}]")
    print(f"  ratio hetcalc / bare: {medians[0] / medians[1]:.2f}x   (target <= 1.2x)")

    analyze_rss = run(HETCALC + ["analyze", "vit_h_14", "--P", "4", "--format", "json"])[1]
    build_rss = run([sys.executable, "-c", BARE_BUILD])[1]
    print("peak memory (max RSS)")
    print(f"  hetcalc analyze vit_h_14 --P 4 --format json     {analyze_rss:8.0f} MiB")
    print(f"  torchvision.models.vit_h_14() (ordinary build)   {build_rss:8.0f} MiB")
    print(f"  ratio: {analyze_rss / build_rss:.2f}   (target < 0.5)")


if __name__ == "__main__":
    main()
