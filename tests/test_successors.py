"""HetConv's successors as modules: PConv+PWC, the Ghost module and DualConv, each checked in
float64 against a reference written another way (outputs and gradients, 1-D, 2-D and 3-D), their
formulas against arithmetic, their weights carried from a conv whose weight they can hold exactly,
and their fit checks' reasons."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hetcalc import formulas
from hetcalc.nn import DualConv, GhostModule, PartialPointwise
from hetcalc.shapes import ConvShape
from hetcalc.substitute import substitute
from hetcalc.variants import layer_cost, parse_variant

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
SIZES = {1: (9,), 2: (7, 6), 3: (5, 4, 6)}


def _input(dims: int, channels: int = 8) -> torch.Tensor:
    torch.manual_seed(dims)
    return torch.randn(2, channels, *SIZES[dims], dtype=torch.float64, requires_grad=True)


def _randomize(module: nn.Module) -> nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))
    return module.double()


def _same_outputs_and_gradients(module: nn.Module, reference, x: torch.Tensor) -> None:
    """``module(x)`` equals ``reference(x)`` (which uses the module's own parameters through
    other operations), and so do the gradients of a random projection with respect to the
    input and every parameter."""
    got, want = module(x), reference(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    torch.manual_seed(2)
    probe = torch.randn_like(got)
    params = [x, *module.parameters()]
    for mine, theirs in zip(torch.autograd.grad((got * probe).sum(), params),
                            torch.autograd.grad((want * probe).sum(), params), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-10)


def _centre(kernel: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(k // 2 for k in kernel)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("bias", [False, True])
def test_pconv_is_one_dense_conv_with_the_composed_weight(dims, bias):
    """PConv then a 1x1 conv is one K×K conv: filter n's kernels on the first M/r channels are
    Σ_j PW[n, j]·C[j], on the others a centre tap PW[n, c]."""
    layer = _randomize(PartialPointwise(8, 6, 3, 4, dilation=2, bias=bias, dims=dims))
    block, kernel = 8 // 4, (3,) * dims

    def reference(x):
        pw = layer.pointwise.weight.reshape(6, 8)
        composed = torch.einsum("nj,jc...->nc...", pw[:, :block], layer.partial.weight)
        rest = torch.zeros(6, 8 - block, *kernel, dtype=torch.float64)
        rest[(slice(None), slice(None), *_centre(kernel))] = pw[:, block:]
        dense = torch.cat([composed, rest], 1)
        return CONV[dims](x, dense, layer.pointwise.bias, padding=2, dilation=2)

    _same_outputs_and_gradients(layer, reference, _input(dims))


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2])
def test_ghost_is_a_primary_conv_then_each_channel_alone(dims, stride):
    layer = _randomize(GhostModule(8, 12, 3, 3, stride=stride, padding=1, bias=True, dims=dims))

    def reference(x):
        intrinsic = CONV[dims](x, layer.primary.weight, layer.primary.bias, stride=stride,
                               padding=1)
        ghosts = []
        for j in range(8):  # (3 - 1)·(12/3) ghost channels, two of each intrinsic one
            source = intrinsic[:, j // 2: j // 2 + 1]
            ghosts.append(CONV[dims](source, layer.cheap.weight[j:j + 1], layer.cheap.bias[j:j + 1],
                                     padding=1))
        return torch.cat([intrinsic, *ghosts], 1)

    _same_outputs_and_gradients(layer, reference, _input(dims))


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize(("stride", "padding"), [(1, 1), (2, 1), (1, 0), (1, 3), (2, 2)])
def test_dualconv_is_one_dense_conv_with_the_centre_taps_added(dims, stride, padding):
    """The group conv's blocks on the diagonal and the 1x1 conv's weights on the centre tap of
    every kernel: one dense K×K conv, whatever the padding (cropped below "same", padded
    above) and stride."""
    layer = _randomize(DualConv(8, 12, 3, 4, stride=stride, padding=padding, bias=True, dims=dims))
    kernel = (3,) * dims

    def reference(x):
        # group g: filters 3g..3g+2 (12/4 each) see input channels 2g, 2g+1 (8/4 each)
        dense = torch.cat([torch.cat([torch.zeros(3, 2 * g, *kernel, dtype=torch.float64),
                                      layer.group.weight[3 * g:3 * g + 3],
                                      torch.zeros(3, 8 - 2 * g - 2, *kernel,
                                                  dtype=torch.float64)], 1)
                           for g in range(4)])
        taps = torch.zeros_like(dense)
        taps[(slice(None), slice(None), *_centre(kernel))] = layer.pointwise.weight.reshape(12, 8)
        return CONV[dims](x, dense + taps, layer.group.bias, stride=stride, padding=padding)

    _same_outputs_and_gradients(layer, reference, _input(dims))


def test_the_formulas_are_the_papers_arithmetic():
    # VGG-16-CIFAR's 64 -> 64 3x3 layer at 32x32
    assert formulas.flops_pconv_pwc((32, 32), 64, 64, (3, 3), 4) == 32 * 32 * (9 * 16 * 16 + 64 * 64)
    assert formulas.params_pconv_pwc(64, 64, (3, 3), 4, bias=True) == 9 * 16 * 16 + 64 * 64 + 64
    assert formulas.flops_ghost((32, 32), 64, 64, (3, 3), 2) == 32 * 32 * (9 * 64 * 32 + 9 * 1 * 32)
    assert formulas.params_ghost(64, 64, (3, 3), 2) == 9 * 64 * 32 + 9 * 32
    assert formulas.flops_ghost((4, 4, 4), 8, 8, (3, 3, 3), 2) == 64 * (27 * 8 * 4 + 27 * 1 * 4)
    assert formulas.flops_dualconv((32, 32), 64, 64, (3, 3), 4) == 32 * 32 * 64 * (9 * 16 + 64)
    assert formulas.params_dualconv(64, 64, (3, 3), 4) == 9 * 16 * 64 + 64 * 64
    # reductions: 1/r² + 1/K² (M = N), 1/s + d²(s − 1)/(s·K²·M), 1/G + 1/K²
    assert formulas.reduction_pconv_pwc(4, (3, 3), 64, 64) == formulas.Fraction(1, 16) \
        + formulas.Fraction(1, 9)
    assert formulas.reduction_ghost(2, (3, 3), 64) == formulas.Fraction(1, 2) \
        + formulas.Fraction(9, 2 * 9 * 64)
    assert formulas.reduction_dualconv(4, (3, 3)) == formulas.reduction_gwc_pwc(4, (3, 3))
    # DualConv runs Do²·N·M/G more than HetConv with P = G (its filters' 1x1 kernels overlap)
    assert formulas.flops_dualconv((8, 8), 16, 32, (3, 3), 4) \
        - formulas.flops_hetconv((8, 8), 16, 32, (3, 3), 4) == 8 * 8 * 32 * 16 // 4


SHAPE = ConvShape(in_channels=8, out_channels=16, kernel=(3, 3), stride=(1, 1), padding=(1, 1),
                  dilation=(1, 1), groups=1, bias=False, input_size=(6, 6), output_size=(6, 6))


@pytest.mark.parametrize(("spec", "change", "words"), [
    ("pconv3", {}, "r=3 does not divide M=8 input channels"),
    ("pconv2", {"stride": (2, 2), "output_size": (3, 3)}, "stride 2x2: PConv's untouched"),
    ("pconv2", {"padding": (0, 0), "output_size": (4, 4)}, "needs 'same' padding"),
    ("pconv2", {"groups": 2}, "grouped conv (groups=2)"),
    ("ghost3", {}, "s=3 does not divide N=16 output channels"),
    ("ghost2", {"groups": 2}, "grouped conv (groups=2)"),
    ("dual3", {}, "G=3 does not divide M=8 input channels"),
    ("dual8", {"out_channels": 12}, "G=8 does not divide N=12 output channels"),
    ("dual2", {"kernel": (2, 2), "padding": (0, 0), "output_size": (5, 5)}, "even kernel"),
])
def test_a_layer_the_kind_does_not_fit_says_why(spec, change, words):
    assert words in parse_variant(spec).check(replace(SHAPE, **change))


def test_ghost1_is_refused_and_others_parse():
    from hetcalc.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="s must be at least 2"):
        parse_variant("ghost1")
    assert [parse_variant(s).spec for s in ("pconv4", "ghost2-se", "dual4")] == [
        "pconv4", "ghost2-se", "dual4"]


def _converted(spec: str, conv: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    model = nn.Sequential(conv).eval()
    converted, decisions = substitute(model, spec, shape, include_first=True)
    assert decisions[0].replace
    return converted[0]


def test_pconv_carries_a_conv_it_can_hold_exactly():
    """A conv whose kernels on the first M/r channels have rank M/r (N × (M/r)·K²) and only
    centre taps elsewhere is a PConv+PWC: the carried layer computes it exactly."""
    torch.manual_seed(3)
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=True).double()
    with torch.no_grad():
        low_rank = torch.randn(16, 2, dtype=torch.float64) @ torch.randn(2, 2 * 9,
                                                                          dtype=torch.float64)
        weight = torch.zeros(16, 8, 3, 3, dtype=torch.float64)
        weight[:, :2] = low_rank.reshape(16, 2, 3, 3)
        weight[:, 2:, 1, 1] = torch.randn(16, 6, dtype=torch.float64)
        conv.weight.copy_(weight)
    layer = _converted("pconv4", conv, (2, 8, 6, 6))
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), conv(x), rtol=1e-9, atol=1e-9)


def test_ghost_carries_a_conv_it_can_hold_exactly():
    """A 3x3 conv whose last N/2 filters are multiples of its first N/2 is a Ghost module with
    centre-only cheap kernels: the carried layer computes it exactly, borders included, and
    the cheap kernels found are those multiples at the centre, zero elsewhere."""
    torch.manual_seed(4)
    primary = torch.randn(4, 8, 3, 3, dtype=torch.float64)
    scale = torch.tensor([2.0, -0.5, 3.0, 0.25], dtype=torch.float64)
    conv = nn.Conv2d(8, 8, 3, padding=1, bias=True).double()
    with torch.no_grad():
        conv.weight.copy_(torch.cat([primary, scale.view(4, 1, 1, 1) * primary]))
    layer = _converted("ghost2", conv, (1, 8, 7, 7))
    expected = torch.zeros(4, 1, 3, 3, dtype=torch.float64)
    expected[:, 0, 1, 1] = scale
    torch.testing.assert_close(layer.cheap.weight, expected, rtol=1e-9, atol=1e-9)
    x = torch.randn(1, 8, 7, 7, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), conv(x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("spec", ["pconv4", "ghost2", "dual4"])
@pytest.mark.parametrize("dims", [1, 3])
def test_carried_weights_beat_a_fresh_layer_in_1d_and_3d(spec, dims):
    torch.manual_seed(5)
    conv = {1: nn.Conv1d, 3: nn.Conv3d}[dims](8, 16, 3, padding=1).double()
    shape = (2, 8, *SIZES[dims])
    layer = _converted(spec, conv, shape)
    fresh = nn.Sequential(conv).eval()
    fresh_layer = substitute(fresh, spec, shape, include_first=True, keep_weights=False)[0][0]
    x = torch.randn(shape, dtype=torch.float64)
    with torch.no_grad():
        want = conv(x)
        assert (layer(x) - want).norm() < (fresh_layer.double()(x) - want).norm()
        assert (layer(x) - want).norm() < want.norm()


@pytest.mark.parametrize("spec", ["pconv4", "ghost2", "dual4"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_fvcore_counts_the_formula_in_every_dimension(spec, dims):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    from hetcalc.layers import build_variant_layer

    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims](8, 16, 3, padding=1)
    size = SIZES[dims]
    shape = ConvShape(in_channels=8, out_channels=16, kernel=(3,) * dims, stride=(1,) * dims,
                      padding=(1,) * dims, dilation=(1,) * dims, groups=1, bias=True,
                      input_size=size, output_size=size, batch=2)
    layer = build_variant_layer(conv, parse_variant(spec), "exact").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counted = FlopCountAnalysis(layer, torch.zeros(2, 8, *size))
        counted.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        assert counted.total() == layer_cost(parse_variant(spec), shape).flops
    assert sum(p.numel() for p in layer.parameters()) == layer_cost(parse_variant(spec),
                                                                    shape).params
