"""HetConv inside grouped convolutions (ResNeXt, RegNet): per group, as the paper's formulas say."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import Bottleneck, ResNet

from hetcalc import models
from hetcalc.analysis import analyze
from hetcalc.layers import build_variant_layer
from hetcalc.nn import hetconv_mask
from hetcalc.nn.grouped import GroupedHetConv
from hetcalc.shapes import ConvShape
from hetcalc.substitute import decide
from hetcalc.trace import conv_calls
from hetcalc.variants import layer_cost, parse_variant

DTYPE = torch.float64


@pytest.mark.parametrize("impl", ["exact", "fast"])
@pytest.mark.parametrize(("m", "n", "groups", "part", "stride"), [
    (16, 16, 4, 2, 1), (16, 32, 2, 4, 2), (12, 12, 3, 4, 1),
])
def test_grouped_hetconv_equals_the_masked_grouped_conv(impl, m, n, groups, part, stride):
    torch.manual_seed(0)
    conv = nn.Conv2d(m, n, 3, stride, 1, groups=groups, bias=True, dtype=DTYPE)
    layer = build_variant_layer(conv, parse_variant(f"p{part}"), impl)
    assert isinstance(layer, GroupedHetConv)
    layer.load_dense(conv.weight, conv.bias)
    # within each group, the HetConv mask of an (M/g -> N/g) layer
    mask = torch.cat([hetconv_mask(n // groups, m // groups, 3, part)] * groups)
    x = torch.randn(2, m, 9, 9, dtype=DTYPE, requires_grad=True)
    expected = F.conv2d(x, conv.weight * mask, conv.bias, stride, 1, 1, groups)
    got = layer(x)
    torch.testing.assert_close(got, expected)
    grad = torch.randn_like(got)
    dense = (conv.weight * mask).detach().requires_grad_(True)
    reference = F.conv2d(x, dense, conv.bias, stride, 1, 1, groups)
    dx, = torch.autograd.grad(got, x, grad, retain_graph=True)
    dx_ref, dw_ref = torch.autograd.grad(reference, (x, dense), grad)
    torch.testing.assert_close(dx, dx_ref)
    got.backward(grad)
    dw = torch.cat([branch_grad(b) for b in layer.branches])
    torch.testing.assert_close(dw, dw_ref * mask)


def branch_grad(branch) -> torch.Tensor:
    import copy

    holder = copy.deepcopy(branch)
    with torch.no_grad():
        holder.weight_kxk.copy_(branch.weight_kxk.grad)
        holder.weight_1x1.copy_(branch.weight_1x1.grad)
    return holder.to_dense()


def test_grouped_cost_is_per_group_times_groups():
    # ResNeXt-50 layer1.0.conv2: 128 -> 128, 3x3, groups 32 (4 channels a group), 56x56
    shape = ConvShape(128, 128, (3, 3), (1, 1), (1, 1), (1, 1), 32, False, (56, 56), (56, 56))
    cost = layer_cost(parse_variant("p4"), shape)
    per_group = 56 * 56 * (4 // 4) * 4 * 9 + 56 * 56 * 4 * (4 - 4 // 4)  # Eqs. 2 + 3, M=N=4
    assert cost.flops == 32 * per_group
    assert cost.params == 32 * 4 * ((4 // 4) * 9 + 4 - 4 // 4)
    assert cost.params_kxk == 32 * 4 * (4 // 4) * 9
    assert parse_variant("p8").check(shape) == "P=8 does not divide M=4 input channels per group (groups=32)"
    assert "grouped conv (groups=32)" in parse_variant("dwc").check(shape)


def test_resnext50_replaces_its_grouped_convs():
    """Planned from one forward pass on the meta device (no counting): every registered model,
    ResNeXt-50 included, is counted by fvcore in tests/test_zoo.py."""
    entry = models.resolve("resnext50_32x4d")
    decisions = decide(conv_calls(models.build(entry, weights="meta"), entry.input_shape),
                     parse_variant("p4"))
    replaced = [d for d in decisions if d.replace]
    assert len(replaced) == 16  # the grouped 3x3 conv of each of the 16 bottleneck blocks
    assert [d.name for d in replaced] == [f"layer{stage}.{block}.conv2" for stage, blocks in
                                          enumerate((3, 4, 6, 3), 1) for block in range(blocks)]
    assert all(d.shape.groups == 32 and d.shape.kernel == (3, 3) for d in replaced)


def small_resnext() -> nn.Module:
    """ResNeXt's block (torchvision's Bottleneck, 32 groups of 4 channels a group at the first
    stage, as ResNeXt-50 32x4d) with one block a stage: 4 grouped convs of 32 HetConv branches
    each, not ResNeXt-50's 16."""
    torch.manual_seed(0)
    return ResNet(Bottleneck, [1, 1, 1, 1], groups=32, width_per_group=4).eval()


def test_resnext_substitutes_its_grouped_convs_counted_as_analytic():
    report = analyze(small_resnext(), parse_variant("p4"), input_shape=(1, 3, 64, 64))
    replaced = report.substituted
    assert [layer.name for layer in replaced] == [f"layer{i}.0.conv2" for i in range(1, 5)]
    assert all(layer.shape.groups == 32 for layer in replaced)
    assert [layer.shape.in_channels // 32 for layer in replaced] == [4, 8, 16, 32]
    assert report.flops_counted == report.flops_analytic
    assert all(layer.flops_counted == layer.flops_analytic for layer in report.layers)
