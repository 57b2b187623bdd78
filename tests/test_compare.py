"""compare and curve end to end (latency measured briefly: the numbers are checked for shape and
consistency, never against a time)."""

import json

import pytest
import torch

from hetcalc.compare import compare
from hetcalc.curve import speedup_curve
from hetcalc.latency import LatencySettings, measure
from hetcalc.variants import parse_variants


def test_compare_json_follows_design(cli):
    code, out, err = cli("compare", "--variants", "gwc4,dwc,p64", "--no-latency", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"model", "input_shape", "unit", "baseline", "variants", "counter",
                         "environment"}
    assert data["model"] == "vgg16_cifar" and data["unit"] == "MAC"
    assert data["counter"] == "fvcore" and data["environment"] is None  # nothing timed
    assert [v["variant"] for v in data["variants"]] == ["gwc4", "dwc", "p64"]
    # Table 1's rows as hetcalc counts them (docs/cost-model.md): baseline 314,017,792 MACs
    expected = {"gwc4": 107_972_608, "dwc": 38_834_176, "p64": 41_519_104}
    for row in data["variants"]:
        assert {"variant", "flops_analytic", "flops_counted", "flops_counted_torch", "params",
                "reduction", "speedup_theoretical", "sequential_depth", "info_field",
                "latency_ms", "speedup_measured"} <= set(row)
        assert row["flops_analytic"] == row["flops_counted"] == expected[row["variant"]]
        assert row["latency_ms"] is None and row["speedup_measured"] is None
        assert row["speedup_theoretical"] == pytest.approx(314_017_792 / expected[row["variant"]])
    assert [v["sequential_depth"] for v in data["variants"]] == [1, 1, 0]
    assert {v["info_field"] for v in data["variants"]} == {"same as standard (12 layers)"}


def test_info_field_column_flags_se():
    result = compare("vgg16_cifar", parse_variants("p4-se"))
    # SE's global pool sees the whole input; on the three 2x2 layers a 3x3 conv already does.
    assert result.variants[0].info_field == "equal in 3 of 12 layers, larger in 9 of 12 layers"


def test_compare_with_latency_interleaves_and_reports(cli):
    code, out, err = cli("compare", "resnet56_cifar", "--variants", "p2,dwc", "--time-budget",
                         "0.2", "--device", "cpu", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["baseline"]["latency_ms"] > 0
    for row in data["variants"]:
        assert row["latency_ms"] > 0
        # each variant against the baseline timed beside it, in the same interleaved run
        assert row["speedup_measured"] == pytest.approx(
            row["baseline_latency_ms"] / row["latency_ms"])
        assert row["latency_iqr_ms"] >= 0 and isinstance(row["latency_reliable"], bool)
    assert data["environment"]["device"] == "cpu" and data["environment"]["batch_size"] == 1


def test_compare_table_shows_every_column(cli):
    code, out, _ = cli("compare", "resnet56_cifar", "--variants", "p4", "--time-budget", "0.2")
    assert code == 0
    for header in ("FLOPs (MACs, analytic)", "FLOPs (MACs, counted)", "speedup (Eq. 9)",
                   "seq. depth", "latency ms (median ± IQR)", "measured speedup", "realized"):
        assert header in out


def test_compare_library_p1_is_the_baseline():
    result = compare("vgg16_cifar", parse_variants("p1,p4"))
    assert result.variants[0].flops_analytic == result.baseline_flops
    assert result.variants[0].speedup_theoretical == 1.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_without_a_gpu_is_one_line(cli):
    code, out, err = cli("compare", "--variants", "p4", "--device", "cuda")
    assert code == 2 and out == ""
    assert err == ("hetcalc: error: --device cuda: no CUDA device is available here "
                   "(use cpu, or auto to pick CUDA when present)\n")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_latency_on_cuda():
    model = torch.nn.Conv2d(8, 8, 3)
    result = measure({"conv": model}, (1, 8, 16, 16), LatencySettings(device="cuda",
                                                                      min_run_time=0.1))
    assert result["conv"].device.startswith("cuda") and result["conv"].median_ms > 0


@pytest.mark.parametrize(("args", "message"), [
    (["compare", "--variants", "p4,x9"], "hetcalc: error: unknown variant 'x9'"),
    (["compare", "--variants", "p4", "--dtype", "float8"],
     "hetcalc: error: --dtype must be one of float32, float16, bfloat16, got 'float8'"),
    (["compare", "--variants", "p4", "--batch-size", "0"],
     "hetcalc: error: --batch-size must be a positive integer, got 0"),
    (["compare", "--variants", "p4", "--device", "tpu"],
     "hetcalc: error: --device must be one of auto, cpu, cuda, got 'tpu'"),
    (["curve", "--kernel", "3x"], "hetcalc: error: --kernel must be a positive integer (K or "
                                  "KHxKW, e.g. 3 or 1x7), got ''"),
])
def test_compare_errors(cli, args, message):
    code, _, err = cli(*args)
    assert code == 2 and err.startswith(message) and err.count("\n") == 1


def test_measure_interleaves_rounds():
    seen = []
    conv = torch.nn.Conv2d(4, 4, 3)
    result = measure({"a": conv, "b": torch.nn.Identity()}, (1, 4, 8, 8),
                     LatencySettings(device="cpu", min_run_time=0.05, rounds=3), seen.append)
    assert seen == ["a", "b"] * 3
    assert result["a"].blocks == 3 and result["a"].iqr_ms >= 0


def test_curve_matches_eq5_and_eq11():
    points = {pt.part: pt for pt in speedup_curve((3, 3), [1, 4, 64])}
    assert points[1].hetconv == 1.0
    assert points[4].hetconv == pytest.approx(1 / (1 / 4 + (3 / 4) / 9))  # 3.0
    assert points[64].gwc_pwc == pytest.approx(1 / (1 / 64 + 1 / 9))


def test_curve_cli(cli):
    code, out, _ = cli("curve", "--kernel", "5", "--max-part", "8", "-f", "json")
    assert code == 0
    data = json.loads(out)
    assert [p["part"] for p in data["points"]] == [1, 2, 4, 8]
    assert data["points"][3]["hetconv"] == pytest.approx(1 / (1 / 8 + (7 / 8) / 25))


def test_analyze_latency_times_each_substituted_layer(cli):
    code, out, err = cli("analyze", "vgg16_cifar", "--P", "4", "--latency", "--time-budget",
                         "0.02", "-f", "json")
    assert code == 0, err
    layers = json.loads(out)["layers"]
    timed = [layer for layer in layers if layer["substituted"]]
    assert timed and all(layer["latency_standard_ms"] > 0 and layer["latency_variant_ms"] > 0
                         for layer in timed)
    assert all(layer["latency_variant_ms"] is None for layer in layers if not layer["substituted"])
