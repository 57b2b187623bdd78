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
    assert set(data) == {"schema_version", "model", "input_shape", "unit", "baseline", "variants",
                         "counter", "environment", "counted_impl"}
    assert data["model"] == "vgg16_cifar" and data["unit"] == "MAC"
    assert data["counted_impl"] == "exact"  # nothing timed: counted with Eq. 4's realization
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


# --- timing with auto, counting what ran, marking spreads -------------------------------------

def _fixed_measure(realizations, spread=0.01):
    """A stand-in for latency.measure: fixed figures, and the realizations given as having run
    in every model but the baseline (so the test does not depend on what auto picks here)."""
    from hetcalc.latency import Latency

    def fake(models, input_shape, settings, on_block=None):
        out = {}
        for name in models:
            ms = 10.0 if name == "baseline" else 5.0
            ran = () if name == "baseline" else realizations
            out[name] = Latency(ms, spread * ms, 10, 100, "cpu", realizations=ran)
        return out
    return fake


def test_compare_counts_the_realizations_that_were_timed(monkeypatch):
    import hetcalc.compare as compare_module

    # auto "chose" fast for features.3 (64->64, 32x32) and exact elsewhere.
    monkeypatch.setattr(compare_module, "measure",
                        _fixed_measure((("features.3", "fast"), ("features.7", "exact"))))
    result = compare("vgg16_cifar", parse_variants("p4"), latency=LatencySettings(device="cpu"))
    row = result.variants[0]
    assert row.realizations == {"features.3": "fast", "features.7": "exact"}
    # fast's dense 1x1 also runs the M/P = 16 channels with K x K kernels: Do*Do*N*M/P more.
    assert row.flops_counted - row.flops_analytic == 32 * 32 * 64 * (64 // 4)
    assert "fast in 1" in row.counted_note and "+1,048,576 MACs" in row.counted_note
    assert result.impl == "auto, as timed" and result.timing_impl == "auto"


def test_compare_pinned_impl_counts_and_times_it(monkeypatch):
    import hetcalc.compare as compare_module

    seen = []

    def fake(models, input_shape, settings, on_block=None):
        seen.extend(layer.impl for model in models.values() for layer in model.modules()
                    if hasattr(layer, "chosen_impl"))
        return _fixed_measure((("features.3", "gemm"),))(models, input_shape, settings)

    monkeypatch.setattr(compare_module, "measure", fake)
    result = compare("vgg16_cifar", parse_variants("p4"), impl="gemm",
                     latency=LatencySettings(device="cpu"))
    assert set(seen) == {"gemm"} and len(seen) == 12
    assert result.impl == "gemm" and result.timing_impl == "gemm"
    assert result.variants[0].counted_note is None  # counted as pinned: nothing recounted


def test_compare_default_times_with_auto(monkeypatch):
    import hetcalc.compare as compare_module

    seen = []

    def fake(models, input_shape, settings, on_block=None):
        seen.extend(layer.impl for model in models.values() for layer in model.modules()
                    if hasattr(layer, "chosen_impl"))
        return _fixed_measure(())(models, input_shape, settings)

    monkeypatch.setattr(compare_module, "measure", fake)
    result = compare("vgg16_cifar", parse_variants("p4"), latency=LatencySettings(device="cpu"))
    assert set(seen) == {"auto"}
    # nothing ran beyond Eq. 4: counted with exact, = analytic (docs/cost-model.md's P4 row)
    assert result.impl == "exact"
    assert result.variants[0].flops_counted == result.variants[0].flops_analytic == 106_399_744


def test_compare_marks_a_spread_too_wide_to_trust(monkeypatch, cli):
    import hetcalc.compare as compare_module

    monkeypatch.setattr(compare_module, "measure", _fixed_measure((), spread=0.25))
    code, out, err = cli("compare", "vgg16_cifar", "--variants", "p4", "--device", "cpu",
                         "--threads", "2", "--wide")
    assert code == 0, err
    assert "10.000 ± 2.500 !" in out and "2.00x !" in out
    assert "over 10% of its median" in out and "--threads 1" in out
    code, out, err = cli("compare", "vgg16_cifar", "--variants", "p4", "--device", "cpu",
                         "-f", "json")
    row = json.loads(out)["variants"][0]
    assert row["latency_reliable"] is False and row["speedup_reliable"] is False
    assert row["latency_iqr_ms"] == pytest.approx(0.25 * 5.0)
    assert row["baseline_latency_iqr_ms"] == pytest.approx(0.25 * 10.0)


def test_compare_json_records_how_it_timed(cli):
    code, out, err = cli("compare", "vgg16_cifar", "--variants", "p4", "--device", "cpu",
                         "--threads", "1", "--time-budget", "0.2", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    env = data["environment"]
    assert {"device", "device_name", "threads", "dtype", "memory_format", "batch_size",
            "torch", "impl", "time_budget_s", "rounds", "spread_limit"} <= set(env)
    assert env["threads"] == 1 and env["impl"] == "auto" and env["dtype"] == "float32"
    assert env["memory_format"] == "contiguous" and env["time_budget_s"] == 0.2
    row = data["variants"][0]
    from hetcalc.realizations import PINNED

    # every replaced layer (12 of VGG-16's 13 convs) says which realization ran
    assert len(row["realizations"]) == 12 and set(row["realizations"].values()) <= set(PINNED)
    # residue order kept: first conv -> first HetConv, 11 HetConv -> HetConv, last -> classifier
    carried = row["residue_carried"]
    assert len(carried) == 1 + 11 + 1
    assert ["features.0", "features.3"] in carried and ["features.40", "classifier.0"] in carried


def test_analyze_latency_json_records_settings_and_realizations(cli):
    code, out, err = cli("analyze", "vgg16_cifar", "--P", "4", "--latency", "--time-budget",
                         "0.02", "--device", "cpu", "--threads", "1", "--impl", "fast",
                         "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    latency = data["latency"]
    assert latency["threads"] == 1 and latency["impl"] == "fast"
    assert latency["batch_size"] == 1 and latency["layers_timed"] == 12
    assert {"device_name", "dtype", "memory_format", "torch", "spread_limit"} <= set(latency)
    first = next(layer for layer in data["layers"] if layer["name"] == "features.3")
    assert first["realization"] == "fast"
    assert first["realization_extra_macs"] == 32 * 32 * 64 * (64 // 4)
    assert first["latency_variant_iqr_ms"] >= 0 and isinstance(first["latency_reliable"], bool)
    # counted with fast as pinned, so counted - analytic is that overhead too
    assert first["flops_counted"] - first["flops_analytic"] == 32 * 32 * 64 * (64 // 4)


def test_measure_reports_the_realization_each_layer_ran():
    from hetcalc.nn import HetConv2d

    layer = HetConv2d(8, 8, 3, part=4, padding=1, impl="branches")
    timed = measure({"layer": layer}, (1, 8, 6, 6),
                    LatencySettings(device="cpu", min_run_time=0.02, rounds=3))
    assert timed["layer"].realizations == (("", "branches"),)


def test_analyze_latency_counts_each_layer_as_it_ran(cli, monkeypatch):
    """With --latency and no --impl, the counted column is the model as timed: a layer auto ran
    with ``fast`` counts fast's Do*Do*N*M/P more, and its note says auto chose it."""
    import hetcalc.latency as latency_module
    from hetcalc.latency import Latency

    def fake(layers, settings, impl, on_block=None):
        assert impl == "auto"
        ran = {name: ("fast" if name == "features.3" else "exact") for name in layers}
        return {name: (Latency(1.0, 0.01, 10, 100, "cpu"),
                       Latency(0.5, 0.01, 10, 100, "cpu", realizations=(("", ran[name]),)))
                for name in layers}

    monkeypatch.setattr(latency_module, "layer_latencies", fake)
    code, out, err = cli("analyze", "vgg16_cifar", "--P", "4", "--latency", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    layers = {layer["name"]: layer for layer in data["layers"]}
    assert layers["features.3"]["realization"] == "fast"
    assert layers["features.3"]["flops_counted"] - layers["features.3"]["flops_analytic"] == (
        32 * 32 * 64 * (64 // 4))
    assert "auto chose fast here" in layers["features.3"]["note"]
    assert layers["features.7"]["flops_counted"] == layers["features.7"]["flops_analytic"]
    assert data["result"]["flops_counted"] - data["result"]["flops_analytic"] == 32 * 32 * 64 * 16
    assert layers["features.3"]["speedup_measured"] == 2.0
