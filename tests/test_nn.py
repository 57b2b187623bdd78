"""hetcalc.nn: every module computes what it claims, and fvcore counts what the paper counts.

The reference for HetConv is a dense ``F.conv2d`` with the weight multiplied by
``hetconv_mask`` (K×K kernels where ``c ≡ n (mod P)``, the centre tap elsewhere), in float64.
"""

from __future__ import annotations

import copy
import enum
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from hetcalc import formulas, realizations
from hetcalc.layers import build_variant_layer
from hetcalc.nn import (
    IMPLS,
    DepthwisePointwise,
    GroupPointwise,
    HetConv2d,
    SqueezeExcite,
    clear_auto_choices,
    hetconv_mask,
)
from hetcalc.tensors import materialize_zero
from hetcalc.variants import ConvShape, layer_cost, parse_variant

with warnings.catch_warnings():  # fvcore's import touches the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis

DTYPE = torch.float64


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tensors here are tiny: with two threads on a busy machine a grouped float64 conv waits
    on the other thread for milliseconds. One thread, restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def analysis(module: nn.Module, x: torch.Tensor) -> FlopCountAnalysis:
    return (FlopCountAnalysis(module, x).unsupported_ops_warnings(False)
            .uncalled_modules_warnings(False))


def counted(module: nn.Module, x: torch.Tensor) -> int:
    return int(analysis(module, x).total())


def overhead(impl: str, out_size, m: int, n: int, kernel, part: int) -> int:
    """MACs beyond Eq. 4 that ``impl`` runs; ``auto`` is counted as exact (nothing is timed
    under fvcore's trace and the cache is empty)."""
    return 0 if impl == "auto" else realizations.extra_macs(impl, out_size, m, n, kernel, part)


@pytest.fixture(autouse=True)
def no_auto_choices():
    """Every test starts with an empty auto cache (auto then counts as exact)."""
    clear_auto_choices()
    yield
    clear_auto_choices()


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def dense_pair(m, n, kernel, stride, padding, dilation, part, impl, bias=True, seed=0):
    """A random dense conv (float64) and the HetConv layer made from it."""
    torch.manual_seed(seed)
    conv = nn.Conv2d(m, n, kernel, stride, padding, dilation, bias=bias, dtype=DTYPE)
    return conv, HetConv2d.from_dense(conv, part, impl)


def masked_reference(conv: nn.Conv2d, part: int, x: torch.Tensor,
                     weight: torch.Tensor | None = None) -> torch.Tensor:
    mask = hetconv_mask(conv.out_channels, conv.in_channels, conv.kernel_size, part)
    w = conv.weight if weight is None else weight
    return F.conv2d(x, w * mask, conv.bias, conv.stride, conv.padding, conv.dilation)


def grads_as_dense(layer: HetConv2d) -> torch.Tensor:
    """The parameter gradients of ``layer`` laid out as a dense weight (to_dense is linear)."""
    holder = copy.deepcopy(layer)
    with torch.no_grad():
        for mine, theirs in ((holder.weight_kxk, layer.weight_kxk),
                             (holder.weight_1x1, layer.weight_1x1)):
            if theirs.grad is not None:  # P=1 has no 1x1 kernels: an empty, unused weight
                mine.copy_(theirs.grad)
    return holder.to_dense()


# -- the mask ---------------------------------------------------------------------------------

def test_mask_pattern_small_example():
    # N=4 filters, M=4 channels, P=2, 3x3: filter n has 3x3 kernels on c = n, n+2 (mod 4).
    mask = hetconv_mask(4, 4, 3, 2)
    assert mask.shape == (4, 4, 3, 3) and mask.dtype == torch.bool
    full = torch.ones(3, 3, dtype=torch.bool)
    centre = torch.zeros(3, 3, dtype=torch.bool)
    centre[1, 1] = True
    for n in range(4):
        for c in range(4):
            expected = full if (c - n) % 2 == 0 else centre
            assert torch.equal(mask[n, c], expected), (n, c)


# Hand-written: the input channels where each filter has its full kernel (c ≡ n mod P).
@pytest.mark.parametrize(("part", "full"), [
    (4, {0: [0, 4], 1: [1, 5], 2: [2, 6], 3: [3, 7], 4: [0, 4], 5: [1, 5], 6: [2, 6], 7: [3, 7]}),
    (8, {0: [0], 1: [1], 2: [2], 3: [3], 4: [4], 5: [5], 6: [6], 7: [7]}),
])
def test_mask_full_kernels_where_hand_written(part, full):
    mask = hetconv_mask(8, 8, 3, part)
    for n, channels in full.items():
        assert mask[n].all(dim=(1, 2)).nonzero().flatten().tolist() == channels, n
        others = [c for c in range(8) if c not in channels]
        assert mask[n, others].sum(dim=(1, 2)).tolist() == [1] * len(others)  # centre tap only
        assert mask[n, others, 1, 1].all()


@pytest.mark.parametrize(("n", "m", "kernel", "part", "kept"), [
    # N·(M/P·kh·kw + M − M/P) kept entries, as params_hetconv counts them.
    (16, 8, 3, 4, 16 * (8 // 4 * 3 * 3 + 8 - 8 // 4)),
    (8, 8, (3, 5), 8, 8 * (1 * 3 * 5 + 8 - 1)),
    (8, 8, (1, 3), 2, 8 * (4 * 1 * 3 + 8 - 4)),
    (8, 8, 3, 1, 8 * 8 * 3 * 3),
])
def test_mask_keeps_what_params_hetconv_counts(n, m, kernel, part, kept):
    mask = hetconv_mask(n, m, kernel, part)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert int(mask.sum()) == kept == formulas.params_hetconv(m, n, (kh, kw), part)
    # Each filter: M/P channels carry a full kernel.
    assert mask.all(dim=(2, 3)).sum(dim=1).tolist() == [m // part] * n


def test_mask_centre_of_an_even_kernel():
    mask = hetconv_mask(2, 2, (2, 4), 2)
    assert mask[0, 1].nonzero().tolist() == [[2 // 2, 4 // 2]]


# -- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(in_channels=6, out_channels=8, part=4), "part P=4 does not divide in_channels=6"),
    (dict(in_channels=8, out_channels=6, part=4), "part P=4 does not divide out_channels=6"),
    (dict(in_channels=8, out_channels=8, part=0), "part must be a positive integer, got 0"),
    (dict(in_channels=8, out_channels=8, part=2, impl="slow"),
     "impl must be one of auto, exact, exact-cl, fast, fast-cl, gemm, gemm-rows, branches, dense, "
     "got 'slow'"),
    (dict(in_channels=8, out_channels=8, part=2, kernel_size=0),
     r"kernel_size must be an int >= 1 or 2 of them, got 0"),
    (dict(in_channels=8, out_channels=8, part=2, padding=(1, -1)),
     r"padding must be an int >= 0 or 2 of them, got \(1, -1\)"),
])
def test_hetconv_rejects_bad_arguments(kwargs, message):
    args = dict(kernel_size=3) | kwargs
    with pytest.raises(ValueError, match=message):
        HetConv2d(**args)


def test_from_dense_rejects_convs_it_cannot_represent():
    with pytest.raises(ValueError, match="groups=1, got groups=2"):
        HetConv2d.from_dense(nn.Conv2d(8, 8, 3, groups=2), 2)
    with pytest.raises(ValueError, match="only zero padding is supported, got padding_mode='reflect'"):
        HetConv2d.from_dense(nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect"), 2)
    with pytest.raises(ValueError, match="pads asymmetrically"):
        HetConv2d.from_dense(nn.Conv2d(8, 8, 2, padding="same"), 2)
    with pytest.raises(TypeError, match="expected nn.Conv1d, nn.Conv2d or nn.Conv3d, got Linear"):
        HetConv2d.from_dense(nn.Linear(8, 8), 2)
    layer = HetConv2d(8, 8, 3, 2)
    with pytest.raises(ValueError, match=r"dense weight must have shape \(8, 8, 3, 3\)"):
        layer.load_dense(torch.zeros(8, 8, 3, 1))
    with pytest.raises(ValueError, match="bias must be given exactly when the layer has a bias"):
        layer.load_dense(torch.zeros(8, 8, 3, 3), torch.zeros(8))


def test_from_dense_takes_symmetric_same_padding():
    conv = nn.Conv2d(8, 8, (3, 5), padding="same", dilation=2)
    assert HetConv2d.from_dense(conv, 2).padding == (2 * (3 - 1) // 2, 2 * (5 - 1) // 2)


# -- the function: equal to the masked dense conv -----------------------------------------------

# (id, M, N, kernel, stride, padding, dilation, P, input (H, W), batch)
EQUIVALENCE_CASES = [
    ("same-p4", 8, 16, 3, 1, 1, 1, 4, (9, 13), 1),
    ("same-p4-batch3", 8, 16, 3, 1, 1, 1, 4, (9, 13), 3),
    ("p1-standard", 8, 8, 3, 1, 1, 1, 1, (9, 13), 2),
    ("pM", 8, 8, 3, 1, 1, 1, 8, (9, 13), 1),
    ("stride2-pad0-p2", 8, 16, 3, 2, 0, 1, 2, (9, 13), 2),
    ("stride2-pad2-pM", 8, 8, 3, 2, 2, 1, 8, (9, 13), 1),
    ("dilation2-pad2-p4", 8, 8, 3, 1, 2, 2, 4, (9, 13), 2),
    ("dilation2-pad0-stride2-p2", 8, 16, 3, 2, 0, 2, 2, (9, 13), 1),
    ("kernel3x5-pad1-p4", 8, 8, (3, 5), 1, 1, 1, 4, (9, 13), 2),
    ("kernel3x5-stride2-dil2-p2", 8, 16, (3, 5), 2, (2, 1), 2, 2, (9, 13), 1),
    ("kernel1x3-pad(0,1)-pM", 8, 8, (1, 3), 1, (0, 1), 1, 8, (9, 13), 2),
    ("kernel1x3-pad2-stride(2,1)-p4", 8, 16, (1, 3), (2, 1), 2, 1, 4, (9, 13), 1),
    ("even-kernel4-pad1-stride2-p2", 8, 8, 4, 2, 1, 1, 2, (9, 13), 1),
    # 2·3 = 6 output pixels < N/P = 8 rows: exact multiplies in the transposed orientation
    ("few-pixels-p2", 8, 16, 3, 1, 1, 1, 2, (2, 3), 1),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("m", "n", "kernel", "stride", "padding", "dilation", "part", "hw", "b"),
                         [c[1:] for c in EQUIVALENCE_CASES], ids=[c[0] for c in EQUIVALENCE_CASES])
def test_equals_masked_dense_conv(m, n, kernel, stride, padding, dilation, part, hw, b, impl):
    conv, layer = dense_pair(m, n, kernel, stride, padding, dilation, part, impl)
    x = torch.randn(b, m, *hw, dtype=DTYPE, requires_grad=True)
    w = conv.weight.detach().clone().requires_grad_()
    ref = masked_reference(conv, part, x, w)
    out = layer(x)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref)
    with torch.no_grad():  # the inference path (fused add, cached weights) is the same function
        torch.testing.assert_close(layer(x), ref)
    upstream = torch.randn_like(ref)
    grad_x_ref, grad_w_ref = torch.autograd.grad(ref, (x, w), upstream)
    grad_x, = torch.autograd.grad(out, (x,), upstream, retain_graph=True)
    out.backward(upstream)
    torch.testing.assert_close(grad_x, grad_x_ref)
    # The gradient of the masked weight, entry by entry, is what the parameters receive.
    mask = hetconv_mask(n, m, kernel, part)
    torch.testing.assert_close(grads_as_dense(layer), grad_w_ref * mask)
    torch.testing.assert_close(layer.bias.grad, upstream.sum(dim=(0, 2, 3)))


@pytest.mark.parametrize("impl", IMPLS)
def test_channels_last_and_non_contiguous_inputs(impl):
    conv, layer = dense_pair(8, 16, 3, 1, 1, 1, 4, impl)
    x = torch.randn(2, 8, 9, 13, dtype=DTYPE)
    for variant in (x.contiguous(memory_format=torch.channels_last),
                    x.transpose(2, 3).contiguous().transpose(2, 3)):
        assert not variant.is_contiguous()
        with torch.no_grad():
            torch.testing.assert_close(layer(variant), masked_reference(conv, 4, x))


# -- what fvcore counts -----------------------------------------------------------------------

# (id, M, N, kernel, stride, padding, P, input (H, W), Eq. 2 MACs, Eq. 3 MACs, fast's extra)
COUNT_CASES = [
    ("vgg-like-p4", 8, 16, 3, 1, 1, 4, (9, 13),
     9 * 13 * 16 * (8 // 4) * 3 * 3, 9 * 13 * 16 * (8 - 8 // 4), 9 * 13 * 16 * (8 // 4)),
    ("pM", 8, 8, 3, 1, 1, 8, (6, 6),
     6 * 6 * 8 * 1 * 3 * 3, 6 * 6 * 8 * (8 - 1), 6 * 6 * 8 * 1),
    # out = floor((9 + 0 - 3) / 2) + 1 = 4 rows, floor((13 - 5) / 2) + 1 = 5 columns
    ("kernel3x5-stride2-p2", 8, 8, (3, 5), 2, 0, 2, (9, 13),
     4 * 5 * 8 * (8 // 2) * 3 * 5, 4 * 5 * 8 * (8 - 8 // 2), 4 * 5 * 8 * (8 // 2)),
    # out = floor((7 + 4 - 3) / 2) + 1 = 5 per side
    ("stride2-pad2-p4", 8, 16, 3, 2, 2, 4, (7, 7),
     5 * 5 * 16 * 2 * 9, 5 * 5 * 16 * 6, 5 * 5 * 16 * 2),
    ("p1-standard", 8, 8, 3, 1, 1, 1, (5, 5), 5 * 5 * 8 * 8 * 9, 0, 0),
    ("few-pixels-p2", 8, 16, 3, 1, 1, 2, (2, 3),
     2 * 3 * 16 * 4 * 9, 2 * 3 * 16 * (8 - 4), 2 * 3 * 16 * 4),
]


@pytest.mark.parametrize("grad", [True, False], ids=["grad", "no_grad"])
@pytest.mark.parametrize(("m", "n", "kernel", "stride", "padding", "part", "hw", "eq2", "eq3",
                          "extra"),
                         [c[1:] for c in COUNT_CASES], ids=[c[0] for c in COUNT_CASES])
def test_counted_macs(m, n, kernel, stride, padding, part, hw, eq2, eq3, extra, grad):
    x = torch.randn(1, m, *hw)
    out_hw = tuple(
        formulas.conv_output_size(size, k, stride, padding)
        for size, k in zip(hw, (kernel, kernel) if isinstance(kernel, int) else kernel,
                           strict=True))
    k2 = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert eq2 + eq3 == formulas.flops_hetconv(out_hw, m, n, k2, part)
    if part > 1:
        assert extra == formulas.fast_hetconv_overhead(out_hw, m, n, part)
    with torch.set_grad_enabled(grad):
        exact = counted(HetConv2d(m, n, kernel, part, stride, padding, impl="exact"), x)
        fast = counted(HetConv2d(m, n, kernel, part, stride, padding, impl="fast"), x)
    assert exact == eq2 + eq3
    assert fast == eq2 + eq3 + extra


def test_counted_ops_are_the_convolutions_and_the_matmul():
    x = torch.randn(1, 8, 6, 6)
    exact = analysis(HetConv2d(8, 16, 3, 4, padding=1), x)
    assert dict(exact.by_operator()) == {"conv": 6 * 6 * 16 * 2 * 9, "bmm": 6 * 6 * 16 * 6}
    # Nothing that multiplies goes uncounted: the sum of the halves and a view fvcore has no
    # handle for.
    assert set(exact.unsupported_ops()) == {"aten::add", "aten::unfold"}
    fast = analysis(HetConv2d(8, 16, 3, 4, padding=1, impl="fast"), x)
    # fast: the K x K conv, then all M = 8 centre taps times the 1x1 weights (zeros included)
    # as one product
    assert dict(fast.by_operator()) == {"conv": 6 * 6 * 16 * 2 * 9, "bmm": 6 * 6 * 16 * 8}
    assert set(fast.unsupported_ops()) == {"aten::add"}
    rows = analysis(HetConv2d(8, 16, 3, 4, padding=1, impl="gemm-rows"), x)
    # gemm-rows: per residue its 2 channels' 3x3 patches times its 4 filters' K x K weights and
    # the other 6 channels' centre taps times their 1x1 weights, two products of 36 rows
    assert dict(rows.by_operator()) == {"matmul": 4 * 36 * (2 * 9) * 4 + 4 * 36 * 6 * 4}
    assert set(rows.unsupported_ops()) == {"aten::add", "aten::unfold"}


@st.composite
def layer_shapes(draw):
    part = draw(st.sampled_from([1, 2, 4]))
    m = part * draw(st.integers(1, 3))
    n = part * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    hw = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
               for k, p, d in zip(kernel, padding, dilation, strict=True))
    return m, n, kernel, stride, padding, dilation, part, hw


class Both(nn.Module):
    def __init__(self, exact: HetConv2d, fast: HetConv2d) -> None:
        super().__init__()
        self.exact, self.fast = exact, fast

    def forward(self, x):
        return self.exact(x), self.fast(x)


@settings(max_examples=200, deadline=None)
@given(layer_shapes())
def test_counted_macs_property(shape):
    """For any shape: exact counts Eq. 4 to the MAC, fast Eq. 4 + Do·Do·N·M/P, both equal the
    masked dense conv, and both hold params_hetconv parameters."""
    m, n, kernel, stride, padding, dilation, part, hw = shape
    out_hw = tuple(formulas.conv_output_size(*a) for a in zip(hw, kernel, stride, padding,
                                                              dilation, strict=True))
    eq4 = formulas.flops_hetconv(out_hw, m, n, kernel, part)
    extra = formulas.fast_hetconv_overhead(out_hw, m, n, part) if part > 1 else 0
    x = torch.randn(1, m, *hw, dtype=DTYPE)
    conv, exact = dense_pair(m, n, kernel, stride, padding, dilation, part, "exact", bias=False)
    fast = HetConv2d.from_dense(conv, part, "fast")
    both = Both(exact, fast)
    by_module = analysis(both, x).by_module()  # one trace counts both
    assert (by_module["exact"], by_module["fast"]) == (eq4, eq4 + extra)
    ref = masked_reference(conv, part, x)
    for layer in (exact, fast):
        assert n_params(layer) == formulas.params_hetconv(m, n, kernel, part)
        torch.testing.assert_close(layer(x), ref)


# -- training: masked positions are never learned ----------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_training_keeps_the_pattern_and_matches_masked_dense_training(impl, optimizer):
    """A few steps with weight decay train the layer exactly like a dense conv whose masked
    entries get no gradient; the masked entries stay exactly zero."""
    m, n, part = 8, 16, 4
    conv, layer = dense_pair(m, n, 3, 1, 1, 1, part, impl)
    mask = hetconv_mask(n, m, 3, part)
    ref = copy.deepcopy(conv)
    with torch.no_grad():
        ref.weight.mul_(mask)
    ref.weight.register_hook(lambda g: g * mask)

    def make(params):
        if optimizer == "sgd":
            return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)
        return torch.optim.AdamW(params, lr=0.01, weight_decay=5e-4)

    opt, opt_ref = make(layer.parameters()), make(ref.parameters())
    torch.manual_seed(1)
    for _ in range(4):
        x = torch.randn(2, m, 6, 7, dtype=DTYPE)
        target = torch.randn(2, n, 6, 7, dtype=DTYPE)
        for module, o in ((layer, opt), (ref, opt_ref)):
            o.zero_grad()
            F.mse_loss(module(x), target).backward()
            o.step()
    dense = layer.to_dense().detach()
    assert torch.count_nonzero(dense[~mask]) == 0
    torch.testing.assert_close(dense, ref.weight.detach())
    torch.testing.assert_close(layer.bias.detach(), ref.bias.detach())
    x = torch.randn(1, m, 5, 9, dtype=DTYPE)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), masked_reference(ref, part, x))


def test_fast_inference_cache_follows_weight_updates():
    conv, layer = dense_pair(8, 8, 3, 1, 1, 1, 2, "fast")
    x = torch.randn(1, 8, 5, 5, dtype=DTYPE)
    with torch.inference_mode():
        before = layer(x)
    with torch.no_grad():
        layer.weight_1x1.mul_(2)  # bumps the version counter: the cached dense weight is stale
        one_by_one = ~hetconv_mask(8, 8, 3, 2).all(dim=(2, 3))
        conv.weight[:, :, 1, 1][one_by_one] *= 2
        torch.testing.assert_close(layer(x), masked_reference(conv, 2, x))
    layer.load_state_dict(HetConv2d.from_dense(conv, 2, "fast").state_dict())
    with torch.inference_mode():
        torch.testing.assert_close(layer(x), masked_reference(conv, 2, x))
        assert not torch.allclose(layer(x), before)


# -- conversion and state ---------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_state_dict_round_trip(impl):
    m, n, part = 8, 16, 4
    _, source = dense_pair(m, n, (3, 5), 2, 1, 1, part, impl)
    assert {k: tuple(v.shape) for k, v in source.state_dict().items()} == {
        "weight_kxk": (n, m // part, 3, 5),
        "weight_1x1": (n, m - m // part, 1, 1),
        "bias": (n,),
    }
    target = HetConv2d(m, n, (3, 5), part, 2, 1, bias=True, impl=impl).to(DTYPE)
    target.load_state_dict(source.state_dict())
    x = torch.randn(2, m, 9, 13, dtype=DTYPE)
    torch.testing.assert_close(target(x), source(x))


@pytest.mark.parametrize(("source_impl", "target_impl"),
                         [("exact", "fast"), ("fast", "exact"), ("exact", "exact")])
def test_dense_round_trip_and_conversion_between_impls(source_impl, target_impl):
    m, n, part = 8, 8, 2
    conv, source = dense_pair(m, n, 3, 1, 2, 2, part, source_impl)
    mask = hetconv_mask(n, m, 3, part)
    assert torch.equal(source.to_dense(), conv.weight * mask)
    # Through the dense weight: the conversion keeps the function.
    target = HetConv2d.from_dense(source.to_conv2d(), part, target_impl)
    assert target.impl == target_impl
    assert torch.equal(target.to_dense(), source.to_dense())
    x = torch.randn(2, m, 9, 13, dtype=DTYPE)
    torch.testing.assert_close(target(x), source(x))
    # Both realizations share one parameter layout.
    other = HetConv2d(m, n, 3, part, 1, 2, 2, bias=True, impl=target_impl).to(DTYPE)
    other.load_state_dict(source.state_dict())
    torch.testing.assert_close(other(x), source(x))


def test_extra_repr():
    class Impl(enum.StrEnum):  # how a caller may spell the realization
        FAST = "fast"

    text = repr(HetConv2d(64, 128, 3, 4, padding=1, impl=Impl.FAST))
    assert text == ("HetConv2d(64, 128, kernel_size=(3, 3), part=4, stride=(1, 1), "
                    "padding=(1, 1), dilation=(1, 1), bias=False, impl='fast', "
                    "kxk_per_filter=16, 1x1_per_filter=48)")


# -- GWC+PWC, DWC+PWC, SE ---------------------------------------------------------------------

# (id, module, input shape, counted MACs, params)
BLOCK_CASES = [
    ("gwc4-pwc", GroupPointwise(8, 16, 3, groups=4, padding=1), (1, 8, 6, 6),
     6 * 6 * 8 * (8 // 4) * 3 * 3 + 6 * 6 * 8 * 16, 8 * (8 // 4) * 3 * 3 + 8 * 16),
    # out = floor((7 + 2 - 3) / 2) + 1 = 4; bias on the pointwise conv
    ("gwc2-pwc-stride2-bias", GroupPointwise(8, 16, 3, 2, stride=2, padding=1, bias=True),
     (1, 8, 7, 7), 4 * 4 * 8 * 4 * 9 + 4 * 4 * 8 * 16, 8 * 4 * 9 + 8 * 16 + 16),
    ("dwc-pwc", DepthwisePointwise(8, 16, 3, padding=1), (1, 8, 6, 6),
     6 * 6 * 8 * 3 * 3 + 6 * 6 * 8 * 16, 8 * 3 * 3 + 8 * 16),
    ("dwc-pwc-3x5-dilation2", DepthwisePointwise(8, 8, (3, 5), dilation=2), (1, 8, 9, 13),
     5 * 5 * 8 * 15 + 5 * 5 * 8 * 8, 8 * 15 + 8 * 8),
    ("se-32", SqueezeExcite(32), (1, 32, 5, 5), 2 * 32 * (32 // 8), 2 * 32 * 4 + 4 + 32),
    ("se-4-r8-hidden1", SqueezeExcite(4), (1, 4, 3, 3), 2 * 4 * 1, 2 * 4 * 1 + 1 + 4),
]


@pytest.mark.parametrize(("module", "shape", "macs", "params"), [c[1:] for c in BLOCK_CASES],
                         ids=[c[0] for c in BLOCK_CASES])
def test_block_counts_and_params(module, shape, macs, params):
    assert counted(module, torch.randn(shape)) == macs
    assert n_params(module) == params


def test_block_counts_equal_the_formulas():
    x = torch.randn(1, 8, 6, 6)
    assert counted(GroupPointwise(8, 16, 3, 4, padding=1), x) == formulas.flops_gwc_pwc(
        (6, 6), 8, 16, (3, 3), 4)
    assert n_params(GroupPointwise(8, 16, 3, 4, bias=True)) == formulas.params_gwc_pwc(
        8, 16, (3, 3), 4, bias=True)
    assert counted(DepthwisePointwise(8, 16, 3, padding=1), x) == formulas.flops_dwc_pwc(
        (6, 6), 8, 16, (3, 3))
    assert n_params(DepthwisePointwise(8, 16, 3)) == formulas.params_dwc_pwc(8, 16, (3, 3))
    assert counted(SqueezeExcite(64), torch.randn(1, 64, 4, 4)) == formulas.flops_se(64)
    assert n_params(SqueezeExcite(64)) == formulas.params_se(64)


def test_squeeze_excite_uncounted_ops_are_pool_gate_and_scale():
    se = SqueezeExcite(16)
    counts = analysis(se, torch.randn(1, 16, 4, 4))
    assert counts.total() == 2 * 16 * (16 // 8)
    assert dict(counts.unsupported_ops()) == {
        "aten::mean": 1, "aten::sigmoid": 1, "aten::mul": 1}
    x = torch.randn(2, 16, 4, 4)
    gate = torch.sigmoid(se.expand(torch.relu(se.reduce(x.mean(dim=(2, 3))))))
    torch.testing.assert_close(se(x), x * gate[:, :, None, None])


def test_block_functions():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 7, 9)
    gwc = GroupPointwise(8, 16, 3, 4, stride=2, padding=1, bias=True)
    torch.testing.assert_close(gwc(x), gwc.pointwise(gwc.groupwise(x)))
    assert (gwc.groupwise.groups, gwc.groupwise.stride, gwc.pointwise.bias is not None) == (
        4, (2, 2), True)
    dwc = DepthwisePointwise(8, 16, 3)
    assert dwc.depthwise.groups == 8 and dwc(x).shape == (2, 16, 5, 7)


@pytest.mark.parametrize(("module", "message"), [
    (lambda: GroupPointwise(8, 16, 3, groups=3), "groups G=3 does not divide in_channels=8"),
    (lambda: SqueezeExcite(0), "channels must be a positive integer, got 0"),
])
def test_blocks_reject_bad_arguments(module, message):
    with pytest.raises(ValueError, match=message):
        module()


# -- build_variant_layer ----------------------------------------------------------------------

SHAPE = ConvShape(in_channels=8, out_channels=16, kernel=(3, 3), stride=(1, 1), padding=(1, 1),
                  dilation=(1, 1), groups=1, bias=False, input_size=(6, 6), output_size=(6, 6))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("spec", "kind"), [
    ("std", nn.Conv2d), ("p4", HetConv2d), ("pc", HetConv2d), ("gwc4", GroupPointwise),
    ("dwc", DepthwisePointwise), ("p2-se", HetConv2d), ("dwc-se", DepthwisePointwise),
])
def test_build_variant_layer_costs_what_the_analysis_says(spec, kind, impl):
    variant = parse_variant(spec)
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    layer = build_variant_layer(conv, variant, impl)
    core = layer[0] if variant.se else layer
    assert isinstance(core, kind)
    if variant.se:
        assert isinstance(layer[1], SqueezeExcite) and layer[1].expand.out_features == 16
    cost = layer_cost(variant, SHAPE)
    extra = 0
    if isinstance(core, HetConv2d):
        assert core.part == variant.part_for(8) and core.impl == impl
        extra = overhead(impl, (6, 6), 8, 16, (3, 3), core.part)
    assert counted(layer, torch.randn(1, 8, 6, 6)) == cost.flops + extra
    assert n_params(layer) == cost.params


def test_build_variant_layer_standard_is_a_copy():
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=True)
    layer = build_variant_layer(conv, parse_variant("std"))
    assert layer is not conv and layer.weight is not conv.weight
    assert torch.equal(layer.weight, conv.weight) and torch.equal(layer.bias, conv.bias)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("spec", ["std", "p4", "pc-se", "gwc4", "dwc-se"])
def test_build_variant_layer_on_meta_then_counted_with_zero_weights(spec, impl):
    with torch.device("meta"):
        conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    layer = build_variant_layer(conv, parse_variant(spec), impl)  # on the conv's device
    assert {p.device.type for p in layer.parameters()} == {"meta"}
    materialize_zero(layer)  # what hetcalc.substitute does for counting
    variant = parse_variant(spec)
    extra = overhead(impl, (6, 6), 8, 16, (3, 3), variant.part_for(8)) if variant.is_hetconv else 0
    with torch.no_grad():
        assert counted(layer, torch.zeros(1, 8, 6, 6)) == layer_cost(variant, SHAPE).flops + extra


def test_build_variant_layer_rejects_what_it_cannot_replace():
    with pytest.raises(ValueError, match="impl must be one of auto, exact, .*, dense, got 'slow'"):
        build_variant_layer(nn.Conv2d(8, 8, 3), parse_variant("p2"), "slow")
    with pytest.raises(ValueError, match="only HetConv replaces a grouped conv, got gwc2 for groups=2"):
        build_variant_layer(nn.Conv2d(8, 8, 3, groups=2), parse_variant("gwc2"))
    with pytest.raises(TypeError, match="expected nn.Conv1d, nn.Conv2d or nn.Conv3d, got Linear"):
        build_variant_layer(nn.Linear(8, 8), parse_variant("p2"))
    with pytest.raises(ValueError, match="part P=3 does not divide in_channels=8"):
        build_variant_layer(nn.Conv2d(8, 8, 3), parse_variant("p3"))


# -- 1-D and 3-D ------------------------------------------------------------------------------

ND = {1: (nn.Conv1d, F.conv1d), 3: (nn.Conv3d, F.conv3d)}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("dims", "m", "n", "kernel", "stride", "padding", "dilation", "part", "size"), [
    (1, 8, 16, 3, 1, 1, 1, 4, (20,)),
    (1, 8, 8, 5, 2, 2, 1, 2, (17,)),
    (1, 6, 12, 3, 1, 2, 2, 3, (9,)),
    (3, 8, 8, 3, 1, 1, 1, 4, (4, 5, 6)),
    (3, 4, 8, (1, 3, 3), (1, 2, 2), (0, 1, 1), 1, 2, (3, 7, 6)),
])
def test_hetconv_nd_equals_masked_dense_conv(impl, dims, m, n, kernel, stride, padding, dilation,
                                            part, size):
    conv_class, conv_fn = ND[dims]
    torch.manual_seed(0)
    conv = conv_class(m, n, kernel, stride, padding, dilation, bias=True, dtype=DTYPE)
    layer = build_variant_layer(conv, parse_variant(f"p{part}"), impl)
    layer.load_dense(conv.weight, conv.bias)
    x = torch.randn(2, m, *size, dtype=DTYPE, requires_grad=True)
    mask = hetconv_mask(n, m, conv.kernel_size, part)
    expected = conv_fn(x, conv.weight * mask, conv.bias, conv.stride, conv.padding, conv.dilation)
    got = layer(x)
    torch.testing.assert_close(got, expected)
    # gradients: input and weights, against the masked dense weight's
    grad = torch.randn_like(expected)
    (dx,) = torch.autograd.grad(got, x, grad, retain_graph=True)
    dense = (conv.weight * mask).detach().requires_grad_(True)
    reference = conv_fn(x, dense, conv.bias, conv.stride, conv.padding, conv.dilation)
    dx_ref, dw_ref = torch.autograd.grad(reference, (x, dense), grad)
    torch.testing.assert_close(dx, dx_ref)
    got.backward(grad)
    torch.testing.assert_close(grads_as_dense(layer), dw_ref * mask)


@pytest.mark.parametrize("spec", ["gwc2", "dwc", "p2-se"])
@pytest.mark.parametrize("dims", [1, 3])
def test_variant_layers_nd_run_and_keep_shape(spec, dims):
    conv_class, _ = ND[dims]
    conv = conv_class(4, 8, 3, padding=1)
    layer = build_variant_layer(conv, parse_variant(spec))
    x = torch.randn(2, 4, *(5,) * dims)
    assert layer(x).shape == conv(x).shape
