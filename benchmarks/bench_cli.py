"""Wall time and peak memory of ``hetcalc analyze`` against doing the same by hand.

    python benchmarks/bench_cli.py [--repeats 5]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

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
