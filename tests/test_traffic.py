"""Where the saving goes: bytes per layer, the roofline, the ceiling. Every expected value is
arithmetic on the layer's shape (M = N = 64, 3×3, 32×32 output, float32 unless said)."""

from __future__ import annotations

import json

import pytest

from hetcalc import compare as compare_module
from hetcalc import latency as latency_module
from hetcalc.devices import DeviceModel, device_spec
from hetcalc.report import Latency
from hetcalc.saving import ceiling
from hetcalc.shapes import ConvShape
from hetcalc.traffic import layer_traffic, roofline, se_intermediates
from hetcalc.variants import parse_variant


def _shape(batch: int = 1, bias: bool = False) -> ConvShape:
    return ConvShape(in_channels=64, out_channels=64, kernel=(3, 3), stride=(1, 1),
                     padding=(1, 1), dilation=(1, 1), groups=1, bias=bias, input_size=(32, 32),
                     output_size=(32, 32), batch=batch)


PX = 32 * 32
ACTIVATION = 64 * PX * 4  # 262,144 bytes: one 64-channel 32x32 float32 tensor


def test_a_standard_conv_reads_its_weights_and_input_and_writes_its_output():
    moved = layer_traffic(parse_variant("std"), _shape(), 64 * 64 * 9)
    assert (moved.weights, moved.inputs, moved.outputs, moved.intermediates) == (
        147_456, 262_144, 262_144, 0)
    assert moved.total == 147_456 + 2 * 262_144


def test_a_batch_moves_more_activations_but_the_same_weights():
    moved = layer_traffic(parse_variant("std"), _shape(batch=8), 64 * 64 * 9)
    assert (moved.weights, moved.inputs, moved.outputs) == (147_456, 8 * 262_144, 8 * 262_144)


def test_half_precision_moves_half_the_bytes():
    moved = layer_traffic(parse_variant("std"), _shape(), 64 * 64 * 9, dtype="bfloat16")
    assert moved.total == (64 * 64 * 9 + 2 * 64 * PX) * 2


@pytest.mark.parametrize(("spec", "params"), [
    ("gwc4", 64 * (64 // 4) * 9 + 64 * 64),
    ("dwc", 64 * 9 + 64 * 64),
])
def test_a_two_step_kind_writes_and_reads_back_its_m_channel_tensor(spec, params):
    moved = layer_traffic(parse_variant(spec), _shape(), params)
    assert moved.weights == params * 4
    assert moved.intermediates == 2 * 64 * PX * 4  # written by the K x K conv, read by the 1x1


def test_hetconv_moves_what_its_realization_materializes():
    params = 64 * ((64 // 4) * 9 + 64 - 64 // 4)  # Eq. 4's weights, P = 4
    p4 = parse_variant("p4")
    ideal = layer_traffic(p4, _shape(), params)
    assert (ideal.weights, ideal.intermediates) == (params * 4, 0)
    # exact: its input in residue order (M*Do^2), the centre taps twice over but one residue
    # ((2P-1)/P*M*Do^2), and the K x K and 1x1 halves' outputs (2*N*Do^2)
    exact = layer_traffic(p4, _shape(), params, realization="exact")
    assert exact.intermediates == (64 * PX + (2 * 4 - 1) * (64 // 4) * PX + 2 * 64 * PX) * 4
    # fast: input in residue order and the K x K conv's output; its dense 1x1 weight reads the
    # N*M/P zeros at the K x K channels too
    fast = layer_traffic(p4, _shape(), params, realization="fast")
    assert fast.intermediates == (64 * PX + 64 * PX) * 4
    assert fast.weights == (params + 64 * 64 // 4) * 4
    # dense: one conv with the masked dense weight N*M*K^2, nothing materialized
    dense = layer_traffic(p4, _shape(), params, realization="dense")
    assert (dense.weights, dense.intermediates) == (64 * 64 * 9 * 4, 0)
    # gemm: the stacked im2col matrix, P residues x (their M/P channels' K^2 patches and the
    # other (P-1)*M/P channels' centre taps) x Do^2, the centre taps twice over but one residue
    # ((2P-1)/P*M*Do^2), and the output before filter order
    gemm = layer_traffic(p4, _shape(), params, realization="gemm")
    assert gemm.intermediates == (4 * (64 // 4 * 9 + 3 * 64 // 4) * PX
                                  + (2 * 4 - 1) * (64 // 4) * PX + 64 * PX) * 4
    # gemm-rows: its input in residue order, torch's im2col of all M channels (M*K^2*Do^2),
    # the doubled centre taps, and the output before filter order; no weight beyond its own
    rows = layer_traffic(p4, _shape(), params, realization="gemm-rows")
    assert rows.intermediates == (64 * PX + 64 * 9 * PX + (2 * 4 - 1) * (64 // 4) * PX
                                  + 64 * PX) * 4
    assert rows.weights == params * 4


def test_squeeze_and_excitation_reads_the_layers_output_twice_more():
    assert se_intermediates(64, PX) == 3 * 64 * PX + 2 * (64 + 64 // 8 + 64)
    se = layer_traffic(parse_variant("std-se"), _shape(), 64 * 64 * 9)
    assert se.intermediates == se_intermediates(64, PX) * 4


def test_the_roofline_is_the_slower_of_compute_and_memory():
    device = DeviceModel("toy", {"float32": 1e9}, 1e9, "a test", "cpu")  # 1 GMAC/s, 1 GB/s
    assert roofline(2_000_000, 1_000_000, device, "float32") == pytest.approx((2.0, "compute"))
    assert roofline(1_000_000, 3_000_000, device, "float32") == pytest.approx((3.0, "memory"))


def test_the_ceiling_is_amdahls_law():
    assert ceiling(0.5, 3.0) == pytest.approx(1 / (0.5 + 0.5 / 3))
    assert ceiling(1.0, 3.0) == pytest.approx(3.0)  # everything replaced: Eq. 9 itself
    assert ceiling(0.0, 3.0) == 1.0  # nothing replaced: no faster


def test_analyze_predicts_every_layer_on_a_named_device_without_it(cli):
    code, out, err = cli("analyze", "vgg16_cifar", "--P", "4", "--device-spec", "h100",
                         "--no-count", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    layer = next(layer for layer in data["layers"] if layer["name"] == "features.3")
    # 64 -> 64, 3x3 at 32x32, batch 1, float32; HetConv P = 4 with exact's copies
    assert layer["bytes_standard"] == {"weights": 147_456, "inputs": 262_144,
                                       "outputs": 262_144, "intermediates": 0,
                                       "total": 147_456 + 2 * 262_144}
    assert layer["bytes"]["weights"] == 64 * (16 * 9 + 64 - 16) * 4
    assert layer["intensity"] == pytest.approx(layer["flops_analytic"] / layer["bytes"]["total"])
    h100 = device_spec("h100")
    compute = layer["flops_analytic"] / h100.peak("float32")
    memory = layer["bytes"]["total"] / h100.bandwidth
    assert layer["predicted_ms"] == pytest.approx(max(compute, memory) * 1e3)
    assert layer["bound"] == ("compute" if compute >= memory else "memory")
    assert data["result"]["predicted_ms"] == pytest.approx(
        sum(row["predicted_ms"] for row in data["layers"]))
    assert data["result"]["device"]["name"] == h100.name


def test_compare_explains_each_variant_with_the_ceiling(cli, monkeypatch):
    """The baseline's profile puts half its time in the replaced layers; the ceiling is then
    1 / (0.5 + 0.5 / r), and the measured speedup is set against it."""
    def shares(model, input_shape, names, settings, calls=20):
        replaced = [n for n in names if n != "features.0"]
        return {n: (0.5 / len(replaced) if n in replaced else 0.1) for n in names}

    def measure(models, input_shape, settings, on_block=None):
        return {name: Latency(2.0 if name == "baseline" else 1.5, 0.01, 10, 100, "cpu")
                for name in models}

    monkeypatch.setattr(compare_module, "time_shares", shares)
    monkeypatch.setattr(compare_module, "measure", measure)
    monkeypatch.setattr(latency_module, "measure", measure)
    code, out, err = cli("compare", "vgg16_cifar", "--variants", "p4", "--device", "cpu",
                         "--device-spec", "t4", "-f", "json")
    assert code == 0, err
    (p4,) = json.loads(out)["variants"]
    r = p4["replaced_mac_ratio"]
    assert p4["replaced_time_share"] == pytest.approx(0.5)
    assert p4["speedup_ceiling"] == pytest.approx(1 / (0.5 + 0.5 / r))
    assert 1 < p4["speedup_ceiling"] < p4["speedup_theoretical"]
    assert p4["realized_of_ceiling"] == pytest.approx((2.0 / 1.5) / p4["speedup_ceiling"])
    assert p4["speedup_predicted"] == pytest.approx(
        p4["predicted_standard_ms"] / p4["predicted_ms"])
    assert p4["realization_extra_bytes"] > 0


def test_activation_memory_sums_every_modules_output_baseline_and_variant():
    from torch import nn

    from hetcalc.analysis import analyze

    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
    report = analyze(model, parse_variant("dwc"), input_shape=(2, 3, 8, 8))
    one = 2 * 8 * 8 * 8 * 4  # an 8-channel 8x8 float32 output at batch 2: 4,096 bytes
    assert report.activation_bytes == 3 * one  # conv, relu, conv
    assert report.activation_bytes_variant == 4 * one  # conv, relu, depthwise, pointwise


def test_where_note_explains_a_speedup_above_the_ceiling():
    from hetcalc.saving import Saving, where_note

    # s = 0.9 of the time in layers made r = 3 times cheaper: 1 / (0.1 + 0.9 / 3) = 2.5x
    found = Saving(replaced_mac_ratio=3.0, replaced_time_share=0.9, speedup_ceiling=2.5)
    below = where_note("p4", found, 2.0, None, None)
    assert "10.0% of the baseline's time is in layers it leaves alone" in below
    assert "measured 2.00x is 80% of that ceiling" in below and "above it" not in below
    above = where_note("p4", found, 2.8, None, None)
    assert "measured 2.80x is 112% of that ceiling; above it because the replaced layers " \
           "gained more than their MAC ratio" in above
