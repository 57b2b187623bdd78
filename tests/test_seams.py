"""The one way from a layer's shape back to what runs (``hetcalc.nn.conv_from_shape``), and the
two places it was missing: merged DW+PW pairs explained and timed as the pair's one HetConv
layer, and grouped convs timed as grouped convs against ``GroupedHetConv``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hetcalc import latency
from hetcalc.analysis import analyze
from hetcalc.latency import Latency, LayerTiming, layer_timings, with_layer_latency
from hetcalc.layers import layer_from_shape
from hetcalc.nn import HetConv2d, conv_from_shape
from hetcalc.nn.grouped import GroupedHetConv
from hetcalc.settings import LatencySettings
from hetcalc.trace import conv_calls
from hetcalc.variants import parse_variant

CONVS = {
    "plain 2-D": (nn.Conv2d(8, 16, 3, padding=1), (1, 8, 10, 10)),
    "grouped, strided, no bias": (nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=4,
                                            bias=False), (2, 16, 9, 9)),
    "dilated, reflect padding": (nn.Conv2d(4, 4, 3, padding=2, dilation=2,
                                           padding_mode="reflect"), (1, 4, 12, 12)),
    "same, even kernel": (nn.Conv2d(4, 6, (2, 4), padding="same"), (1, 4, 7, 9)),
    "1-D, circular": (nn.Conv1d(4, 8, 5, padding=2, padding_mode="circular"), (3, 4, 20)),
    "3-D": (nn.Conv3d(4, 8, (3, 1, 3), stride=(1, 2, 1), padding=(1, 0, 1)), (1, 4, 4, 6, 6)),
    "transposed, output padding": (nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1,
                                                      output_padding=1, groups=2), (1, 8, 5, 5)),
    "transposed 1-D": (nn.ConvTranspose1d(4, 2, 4, stride=3), (1, 4, 7)),
}


@pytest.mark.parametrize("name", CONVS)
def test_a_shape_rebuilds_the_conv_it_was_traced_from(name):
    conv, input_shape = CONVS[name]
    (call,) = conv_calls(nn.Sequential(conv), input_shape)
    rebuilt = conv_from_shape(call.shape)
    assert type(rebuilt) is type(conv)
    for attribute in ("in_channels", "out_channels", "kernel_size", "stride", "dilation",
                      "groups", "padding_mode", "output_padding"):
        assert getattr(rebuilt, attribute, None) == getattr(conv, attribute, None), attribute
    assert (rebuilt.bias is None) == (conv.bias is None)
    (again,) = conv_calls(nn.Sequential(rebuilt), input_shape)
    assert again.shape == call.shape
    with torch.no_grad():
        assert rebuilt(torch.zeros(input_shape)).shape == conv(torch.zeros(input_shape)).shape


def test_the_layer_of_a_grouped_shape_is_grouped_hetconv():
    (call,) = conv_calls(nn.Sequential(nn.Conv2d(16, 32, 3, padding=1, groups=4)), (1, 16, 8, 8))
    layer = layer_from_shape(call.shape, parse_variant("p2"))
    assert isinstance(layer, GroupedHetConv)
    assert (layer.groups, len(layer.branches)) == (4, 4)
    assert (layer.branches[0].in_channels, layer.branches[0].out_channels) == (16 // 4, 32 // 4)
    assert layer.branches[0].bias is not None  # the conv's bias goes with it


# -- merged DW+PW pairs --------------------------------------------------------------------

@pytest.fixture(scope="module")
def merged_fast():
    return analyze("mobilenet_cifar", parse_variant("p32"), merge_pairs=True, impl="fast")


def test_every_merged_pair_is_explained_by_the_pairs_own_shape(merged_fast):
    heads = [layer for layer in merged_fast.layers if layer.runs is not None]
    assert len(heads) == 13
    for layer in heads:
        assert "no known cause" not in (layer.note or ""), layer.name
        assert "fast realization" in layer.note
    first = next(layer for layer in heads if layer.name == "features.3")
    # dw 32->32 3x3 at 32x32, pw 32->64: one HetConv 32->64, P=32. The fast realization's dense
    # 1x1 conv also runs the M/P channels with K x K kernels: Do*Do*N*M/P = 32*32*64*(32/32).
    assert (first.run_shape.in_channels, first.run_shape.out_channels) == (32, 64)
    assert first.flops_counted - first.flops_analytic == 32 * 32 * 64 * (32 // 32)
    # the third pair: dw 128 at 16x16 (stride 1), pw 128->128: 16*16*128*(128/32)
    third = next(layer for layer in heads if layer.name == "features.15")
    assert third.flops_counted - third.flops_analytic == 16 * 16 * 128 * (128 // 32)


def _fake_measure(seen):
    def measure(models, input_shape, settings, on_block=None):
        seen.append((dict(models), input_shape))
        return {name: Latency(1.0, 0.0, 3, 3, "cpu") for name in models}
    return measure


def test_a_merged_pair_is_timed_as_the_pair_against_its_hetconv(monkeypatch):
    report = analyze("mobilenet_cifar", parse_variant("p32"), merge_pairs=True, impl=None)
    timings = layer_timings(report)
    assert "features.6" not in timings  # the pointwise half runs nothing of its own
    head = timings["features.3"]
    assert [(s.in_channels, s.out_channels, s.groups) for s in head.standard] == [
        (32, 32, 32), (32, 64, 1)]
    seen = []
    monkeypatch.setattr(latency, "measure", _fake_measure(seen))
    timed = with_layer_latency(report, LatencySettings(), "exact")
    standard, variant = seen[0][0]["standard"], seen[0][0]["variant"]
    assert [(c.in_channels, c.out_channels, c.groups, c.kernel_size) for c in standard] == [
        (32, 32, 32, (3, 3)), (32, 64, 1, (1, 1))]
    assert isinstance(variant, HetConv2d)
    assert (variant.in_channels, variant.out_channels, variant.part) == (32, 64, 32)
    assert seen[0][1] == (1, 32, 32, 32)
    rows = {layer.name: layer for layer in timed.layers}
    assert rows["features.3"].latency_variant is not None
    assert rows["features.6"].latency_variant is None
    # 13 pairs, but pairs of the same shapes share one measurement
    assert len(seen) == len(set(timings.values())) <= 13


# -- grouped convs under --latency -----------------------------------------------------------

class _Grouped(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.grouped = nn.Conv2d(16, 32, 3, padding=1, groups=4, bias=False)

    def forward(self, x):
        return self.grouped(self.stem(x))


def test_a_grouped_layer_is_timed_as_the_grouped_conv_against_grouped_hetconv(monkeypatch):
    report = analyze(_Grouped(), parse_variant("p2"), input_shape=(1, 3, 8, 8), impl=None)
    seen = []
    monkeypatch.setattr(latency, "measure", _fake_measure(seen))
    with_layer_latency(report, LatencySettings(), "exact")
    (models, input_shape), = seen
    standard, variant = models["standard"], models["variant"]
    assert type(standard) is nn.Conv2d and standard.groups == 4
    assert standard.weight.shape == (32, 16 // 4, 3, 3)
    assert isinstance(variant, GroupedHetConv) and variant.groups == 4
    assert input_shape == (1, 16, 8, 8)


def test_a_grouped_layers_fast_overhead_is_explained_group_by_group():
    report = analyze(_Grouped(), parse_variant("p2"), input_shape=(2, 3, 8, 8), impl="fast")
    layer = next(layer for layer in report.layers if layer.name == "grouped")
    # 4 groups of 16/4 -> 32/4 channels, P=2 in each: the dense 1x1 conv of each group also runs
    # its (M/g)/P = 2 K x K channels: batch * g * Do*Do*(N/g)*(M/g)/P = 2 * 4 * 8*8*8*2
    assert layer.flops_counted - layer.flops_analytic == 2 * 4 * (8 * 8 * 8 * 2)
    assert "in each of its 4 groups" in layer.note


def test_a_plans_layers_are_timed_under_their_own_variants(monkeypatch):
    from hetcalc.plan import Plan

    report = analyze(_Grouped(), Plan({"grouped": parse_variant("p4")}),
                     input_shape=(1, 3, 8, 8), impl=None)
    assert layer_timings(report)["grouped"] == LayerTiming(
        (report.layers[1].shape,), report.layers[1].shape, parse_variant("p4"))
    seen = []
    monkeypatch.setattr(latency, "measure", _fake_measure(seen))
    with_layer_latency(report, LatencySettings(), "exact")
    (models, _), = seen
    assert models["variant"].part == 4


# -- the residue permutation, written once ---------------------------------------------------

def test_residue_order_is_the_papers_pattern_and_channel_order_undoes_it():
    from hetcalc.nn._ops import channel_order, residue_order

    # C = 8 channels, P = 4: position r*(C/P) + j holds channel j*P + r
    assert residue_order(torch.arange(8), 4, 0).tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    x = torch.randn(3, 8, 2, 5)  # any batch, any axis
    by_index = x[:, [0, 4, 1, 5, 2, 6, 3, 7]]
    assert torch.equal(residue_order(x, 4, 1), by_index)
    rows = x.permute(0, 2, 3, 1)
    assert torch.equal(residue_order(rows, 4, -1), by_index.permute(0, 2, 3, 1))
    assert torch.equal(channel_order(residue_order(x, 4, 1), 4, 1), x)
    assert torch.equal(channel_order(residue_order(x, 2, 1), 2, 1), x)
