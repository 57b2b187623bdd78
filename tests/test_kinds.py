"""Every variant kind, walked through every consumer of the table of kinds.

One layer: M = 8 input channels, N = 16 output channels, a 3×3 kernel, a 6×6 output, a batch of
2. Every expected value is written as the paper's arithmetic, per image times the batch.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from hetcalc.nn import build_variant_layer
from hetcalc.shapes import ConvShape
from hetcalc.variants import KINDS, Kind, info_field, layer_cost, parse_variant

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis

SHAPE = ConvShape(in_channels=8, out_channels=16, kernel=(3, 3), stride=(1, 1), padding=(1, 1),
                  dilation=(1, 1), groups=1, bias=False, input_size=(6, 6), output_size=(6, 6),
                  batch=2)
SE = 2 * 16 * (16 // 8)  # two FC layers 16 -> 2 -> 16, per image

# spec -> (kind, MACs of the batch, params, K×K params, sequential depth)
CASES = {
    "std": (Kind.STANDARD, 2 * (6 * 6 * 8 * 16 * 3 * 3), 16 * 8 * 9, 16 * 8 * 9, 0),
    "p4": (Kind.HETCONV, 2 * (6 * 6 * (8 // 4) * 16 * 9 + 6 * 6 * 16 * (8 - 8 // 4)),
           16 * ((8 // 4) * 9 + 8 - 8 // 4), 16 * (8 // 4) * 9, 0),
    "pc": (Kind.HETCONV_PC, 2 * (6 * 6 * 1 * 16 * 9 + 6 * 6 * 16 * (8 - 1)),
           16 * (1 * 9 + 8 - 1), 16 * 1 * 9, 0),
    "gwc4": (Kind.GWC_PWC, 2 * (6 * 6 * 8 * (8 // 4) * 9 + 8 * 16 * 6 * 6),
             8 * (8 // 4) * 9 + 8 * 16, 8 * (8 // 4) * 9, 1),
    "dwc": (Kind.DWC_PWC, 2 * (6 * 6 * 8 * 9 + 8 * 16 * 6 * 6), 8 * 9 + 8 * 16, 8 * 9, 1),
}


def test_every_kind_has_one_entry_and_one_case_here():
    assert set(KINDS) == set(Kind)
    assert {kind for kind, *_ in CASES.values()} == set(Kind)


@pytest.mark.parametrize("se", [False, True])
@pytest.mark.parametrize("spec", sorted(CASES))
def test_kind_through_every_consumer(spec, se):
    kind, flops, params, kxk, depth = CASES[spec]
    text = spec + ("-se" if se else "")
    variant = parse_variant(text)
    # grammar: parse and spell back
    assert variant.kind is kind and variant.spec == text
    # description and depth
    assert variant.description and variant.sequential_depth == depth
    # fit and analytic cost
    assert variant.check(SHAPE) is None
    se_params = 2 * 16 * 2 + 2 + 16  # weights and biases of 16 -> 2 -> 16
    cost = layer_cost(variant, SHAPE)
    assert cost.flops == flops + (2 * SE if se else 0)
    assert cost.params == params + (se_params if se else 0)
    assert cost.params_kxk == kxk
    # information field: full 3×3 extent over all 8 channels (6×6 with SE, the whole input)
    field = info_field(variant, SHAPE)
    assert field.channels == 8 and (field.height, field.width) == ((6, 6) if se else (3, 3))
    # the module: really built, counted to the MAC, and holding the params the formulas say
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    layer = build_variant_layer(conv, variant, "exact").eval()
    assert sum(p.numel() for p in layer.parameters()) == cost.params
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counted = FlopCountAnalysis(layer, torch.zeros(2, 8, 6, 6))
        counted.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        assert int(counted.total()) == cost.flops


def test_p1_is_the_standard_conv():
    assert parse_variant("p1") == parse_variant("std")


def test_hetconv_does_not_fit_where_p_does_not_divide():
    assert parse_variant("p3").check(SHAPE) == "P=3 does not divide M=8 input channels"
    assert parse_variant("gwc3").check(SHAPE) == "G=3 does not divide M=8 input channels"


def test_hetconv_needs_zero_and_symmetric_padding():
    from dataclasses import replace

    reflect = replace(SHAPE, padding_mode="reflect")
    assert "padding_mode='reflect'" in parse_variant("p4").check(reflect)
    assert parse_variant("gwc4").check(reflect) is None  # its K×K conv pads the same way
    same_even = replace(SHAPE, kernel=(2, 2), padding=(0, 0), padding_symmetric=False)
    assert "asymmetrically" in parse_variant("p4").check(same_even)
