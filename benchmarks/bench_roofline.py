"""Predicted against measured: each conv layer's roofline time on this machine (as
``hetcalc device`` measures it) beside its measured time alone (``analyze --latency``), baseline
and variant, and the whole model's Eq. 9, ceiling, roofline prediction and measured speedup
(``compare``), for VGG-16-CIFAR and ResNet-50 under p4, gwc4 and dwc.

    python benchmarks/bench_roofline.py [--models vgg16_cifar resnet50] [--variants p4 gwc4 dwc]
                                        [--threads N] [--batch N] [--time-budget S]

Figures go to stdout, one block per model; docs/roofline.md quotes two runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hetcalc.analysis import analyze
from hetcalc.compare import compare
from hetcalc.devices_measure import measure_device
from hetcalc.latency import with_layer_latency
from hetcalc.report import where_it_goes
from hetcalc.settings import LatencySettings
from hetcalc.variants import parse_variant


def per_layer(model: str, spec: str, settings: LatencySettings, device) -> None:
    report = analyze(model, parse_variant(spec), impl=None,
                     timed=lambda r: with_layer_latency(r, settings, "auto"))
    report = report.__class__(**{**report.__dict__, "device_model": device})
    print(f"\n{model} {spec}: per replaced layer, roofline on this machine vs measured alone")
    print(f"{'layer':<28}{'bound':>8}{'std pred':>10}{'std ms':>9}{'share':>7}"
          f"{'var pred':>10}{'var ms':>9}{'share':>7}{'ran':>10}")
    shares, std_shares = [], []
    for layer in report.layers:
        if layer.latency_variant is None:
            continue
        row = where_it_goes(report, layer)
        shares.append(row["roofline_share"])
        std_shares.append(row["roofline_share_standard"])
        print(f"{layer.name:<28}{row['bound']:>8}{row['predicted_standard_ms']:>10.3f}"
              f"{layer.latency_standard_ms:>9.3f}{row['roofline_share_standard']:>7.0%}"
              f"{row['predicted_ms']:>10.3f}{layer.latency_variant_ms:>9.3f}"
              f"{row['roofline_share']:>7.0%}{layer.realization or '-':>10}")
    print(f"median share of the roofline reached: standard {statistics.median(std_shares):.0%}, "
          f"{spec} {statistics.median(shares):.0%}")


def whole(model: str, specs: list[str], settings: LatencySettings, device) -> None:
    result = compare(model, [parse_variant(s) for s in specs], latency=settings,
                     device_model=device)
    print(f"\n{model}: whole model, batch {settings.batch_size}, threads {settings.threads}")
    print(f"{'variant':<8}{'Eq. 9':>8}{'s':>7}{'ceiling':>9}{'roofline':>10}{'measured':>10}"
          f"{'of ceiling':>12}{'reliable':>10}")
    for r in result.variants:
        found = r.saving
        print(f"{r.label:<8}{r.speedup_theoretical:>7.2f}x{found.replaced_time_share:>7.1%}"
              f"{found.speedup_ceiling:>8.2f}x{found.speedup_predicted:>9.2f}x"
              f"{r.speedup_measured:>9.2f}x{r.realized_of_ceiling:>12.0%}"
              f"{str(r.latency.reliable and r.baseline_latency.reliable):>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vgg16_cifar", "resnet50"])
    parser.add_argument("--variants", nargs="+", default=["p4", "gwc4", "dwc"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--time-budget", type=float, default=0.3)
    args = parser.parse_args()
    threads = args.threads or torch.get_num_threads()
    device = measure_device("cpu", threads, refresh=True)  # never a figure cached under load
    busy = device.environment.get("others_busy")
    print(f"device model: {device.name}, {device.peak('float32') / 1e9:.2f} GMAC/s float32, "
          f"{device.bandwidth / 1e9:.2f} GB/s ({device.source}"
          + (f"; other processes took {busy:.0%} of the CPU meanwhile)" if busy is not None
             else ")"))
    started = time.perf_counter()
    for model in args.models:
        layer_settings = LatencySettings(device="cpu", threads=threads, batch_size=args.batch,
                                         min_run_time=args.time_budget)
        for spec in args.variants:
            per_layer(model, spec, layer_settings, device)
        whole(model, args.variants, LatencySettings(
            device="cpu", threads=threads, batch_size=args.batch,
            min_run_time=max(2.0, 4 * args.time_budget)), device)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
