"""Peak memory of ``hetcalc compare`` against the number of variants, and of counting a huge input.

``compare`` builds, times and frees one variant at a time beside the baseline, so its peak
should not grow with the number of variants (target: four variants ≤ 1.3× one variant).
``analyze`` counts on the meta device, so its peak should not grow with the input size.

Each command runs in its own process; the figure is that process's peak resident set size
(``getrusage(RUSAGE_CHILDREN).ru_maxrss`` of a wrapper that runs only it).

    python benchmarks/bench_memory.py [--model vit_l_16] [--time-budget 1]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

WRAPPER = ("import resource, subprocess, sys; "
           "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)")


def peak(args: list[str]) -> tuple[float, float]:
    """(peak RSS in GiB, wall seconds) of ``hetcalc ARGS``."""
    command = [sys.executable, "-m", "hetcalc", *args]
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WRAPPER, *command], capture_output=True,
                         text=True, check=True).stdout.split()
    seconds = time.perf_counter() - start
    kib, code = int(out[0]), int(out[1])
    if code != 0:
        raise SystemExit(f"hetcalc {' '.join(args)} exited {code}")
    return kib / 1024**2, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vit_l_16")
    parser.add_argument("--time-budget", default="1")
    options = parser.parse_args()

    rows = []
    common = ["--device", "cpu", "--time-budget", options.time_budget, "-f", "json"]
    one = peak(["compare", options.model, "--variants", "p4", *common])
    four = peak(["compare", options.model, "--variants", "p2,p4,gwc4,dwc", *common])
    rows.append((f"compare {options.model} p4", *one))
    rows.append((f"compare {options.model} p2,p4,gwc4,dwc", *four))
    small = peak(["analyze", "resnet50", "--P", "4", "-f", "json"])
    large = peak(["analyze", "resnet50", "--P", "4", "--input-shape", "1,3,8192,8192", "-f",
                  "json"])
    rows.append(("analyze resnet50 224x224", *small))
    rows.append(("analyze resnet50 8192x8192", *large))

    print(f"{'command':<45} {'peak RSS':>10} {'wall':>8}")
    for name, gib, seconds in rows:
        print(f"{name:<45} {gib:>8.2f} G {seconds:>7.1f}s")
    print(f"four variants / one variant: {four[0] / one[0]:.2f}x peak (target <= 1.30x)")
    print(f"8192x8192 / 224x224 analyze: {large[0] / small[0]:.2f}x peak")


if __name__ == "__main__":
    main()
