"""The paper's Section 3 formulas: case tables whose expected values are arithmetic."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hetcalc import formulas as f

# (id, out_hw, M, N, kernel, P, Eq. 1, Eq. 2, Eq. 3)
HETCONV_CASES = [
    ("vgg-conv2-p4", (32, 32), 64, 64, (3, 3), 4,
     32 * 32 * 64 * 64 * 3 * 3, 32 * 32 * 64 * 64 * 3 * 3 // 4, 32 * 32 * 64 * (64 - 64 // 4)),
    ("resnet50-3x3-p2", (56, 56), 64, 64, (3, 3), 2,
     56 * 56 * 64 * 64 * 9, 56 * 56 * 32 * 64 * 9, 56 * 56 * 64 * 32),
    ("pc-64-128", (16, 16), 64, 128, (3, 3), 64,
     16 * 16 * 64 * 128 * 9, 16 * 16 * 1 * 128 * 9, 16 * 16 * 128 * 63),
    ("non-square", (7, 5), 8, 16, (3, 5), 4,
     7 * 5 * 8 * 16 * 3 * 5, 7 * 5 * 2 * 16 * 15, 7 * 5 * 16 * 6),
    ("p1-is-standard", (4, 4), 16, 32, (5, 5), 1,
     4 * 4 * 16 * 32 * 25, 4 * 4 * 16 * 32 * 25, 0),
]


@pytest.mark.parametrize(("out", "m", "n", "k", "p", "eq1", "eq2", "eq3"),
                         [c[1:] for c in HETCONV_CASES], ids=[c[0] for c in HETCONV_CASES])
def test_hetconv_equations(out, m, n, k, p, eq1, eq2, eq3):
    assert f.flops_standard(out, m, n, k) == eq1
    assert f.flops_hetconv_kxk(out, m, n, k, p) == eq2
    assert f.flops_hetconv_1x1(out, m, n, p) == eq3
    assert f.flops_hetconv(out, m, n, k, p) == eq2 + eq3
    # Eq. 5 is the ratio of Eq. 4 to Eq. 1.
    assert Fraction(eq2 + eq3, eq1) == f.reduction_hetconv(p, k)


@pytest.mark.parametrize(("out", "m", "n", "k", "expected"), [
    ((32, 32), 64, 64, (3, 3), 32 * 32 * 64 * 9 + 64 * 64 * 32 * 32),
    ((8, 8), 128, 256, (3, 3), 8 * 8 * 128 * 9 + 128 * 256 * 8 * 8),
    ((5, 7), 4, 6, (1, 3), 5 * 7 * 4 * 3 + 4 * 6 * 5 * 7),
])
def test_eq6_dwc_pwc(out, m, n, k, expected):
    assert f.flops_dwc_pwc(out, m, n, k) == expected
    assert Fraction(expected, f.flops_standard(out, m, n, k)) == f.reduction_dwc_pwc(n, k)


@pytest.mark.parametrize(("out", "m", "n", "k", "g", "expected"), [
    # GWC M->M with G groups, then PWC M->N (docs/cost-model.md's reading of Eq. 10).
    ((32, 32), 64, 64, (3, 3), 4, 32 * 32 * 64 * (64 // 4) * 9 + 64 * 64 * 32 * 32),
    ((16, 16), 64, 128, (3, 3), 4, 16 * 16 * 64 * 16 * 9 + 64 * 128 * 16 * 16),
    ((2, 2), 512, 512, (3, 3), 8, 2 * 2 * 512 * 64 * 9 + 512 * 512 * 2 * 2),
])
def test_eq10_gwc_pwc(out, m, n, k, g, expected):
    assert f.flops_gwc_pwc(out, m, n, k, g) == expected


def test_eq10_as_printed_when_m_equals_n():
    out, m, k, g = (8, 8), 64, (3, 3), 4
    printed = 8 * 8 * m * m * 9 // g + m * m * 8 * 8
    assert f.flops_gwc_pwc(out, m, m, k, g) == printed
    assert Fraction(printed, f.flops_standard(out, m, m, k)) == f.reduction_gwc_pwc(g, k)


def test_eq9_speedup_is_reciprocal():
    assert f.speedup(Fraction(1, 4) + Fraction(3, 4) / 9) == Fraction(36, 12)
    with pytest.raises(ValueError, match="reduction must be positive"):
        f.speedup(Fraction(0))


def test_fast_overhead_is_the_kxk_channels_in_the_dense_1x1():
    out, m, n, p = (4, 4), 16, 32, 4
    assert f.fast_hetconv_overhead(out, m, n, p) == 4 * 4 * 32 * (16 // 4)
    dense_1x1 = 4 * 4 * 32 * 16
    assert f.flops_hetconv_1x1(out, m, n, p) + f.fast_hetconv_overhead(out, m, n, p) == dense_1x1


@pytest.mark.parametrize(("m", "n", "k", "p", "bias", "expected"), [
    (64, 64, (3, 3), 4, False, 64 * (16 * 9 + 48)),
    (64, 128, (3, 3), 64, False, 128 * (1 * 9 + 63)),
    (8, 8, (3, 3), 1, True, 8 * 8 * 9 + 8),
])
def test_params_hetconv(m, n, k, p, bias, expected):
    assert f.params_hetconv(m, n, k, p, bias) == expected


def test_params_of_the_other_forms():
    assert f.params_standard(64, 128, (3, 3)) == 64 * 128 * 9
    assert f.params_standard(64, 128, (3, 3), bias=True) == 64 * 128 * 9 + 128
    assert f.params_gwc_pwc(64, 128, (3, 3), 4) == 64 * 16 * 9 + 64 * 128
    assert f.params_dwc_pwc(64, 128, (3, 3)) == 64 * 9 + 64 * 128
    assert f.params_se(64) == 2 * 64 * 8 + 8 + 64
    assert f.flops_se(64) == 2 * 64 * 8


def test_se_matches_table1_increment():
    # Table 1: VGG-16 P1 SE - P1 = 314.19M - 313.74M = 0.45M, i.e. C^2/4 per layer at r = 8.
    widths = [64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert sum(f.flops_se(c) for c in widths) == sum(c * c // 4 for c in widths) == 451_584


@pytest.mark.parametrize(("call", "match"), [
    (lambda: f.flops_hetconv((4, 4), 6, 8, (3, 3), 4), "P=4 does not divide M=6"),
    (lambda: f.flops_hetconv((4, 4), 8, 8, (3, 3), 0), "P must be a positive integer"),
    (lambda: f.flops_gwc_pwc((4, 4), 6, 8, (3, 3), 4), "G=4 does not divide M=6"),
    (lambda: f.flops_standard((0, 4), 6, 8, (3, 3)), r"size\[0\] must be a positive integer"),
    (lambda: f.conv_output_size(2, 5), "kernel 5"),
])
def test_invalid_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(("size", "k", "s", "p", "d", "expected"), [
    (32, 3, 1, 1, 1, 32), (224, 7, 2, 3, 1, 112), (56, 3, 2, 1, 1, 28), (9, 3, 1, 2, 2, 9),
])
def test_output_size(size, k, s, p, d, expected):
    assert f.conv_output_size(size, k, s, p, d) == expected


kernels = st.tuples(st.integers(1, 7), st.integers(1, 7)).filter(lambda k: k[0] * k[1] >= 2)


@given(m=st.integers(1, 1024), k=kernels)
def test_eq8_hetconv_pc_beats_dwc_pwc(m, k):
    assert f.hetconv_beats_dwc_pwc(m, k)


@given(p=st.integers(1, 1024), k=kernels)
def test_eq12_hetconv_beats_gwc_pwc(p, k):
    assert f.hetconv_beats_gwc_pwc(p, k)


@given(m=st.integers(1, 256), n=st.integers(1, 256), k=st.tuples(st.integers(1, 7), st.integers(1, 7)),
       out=st.tuples(st.integers(1, 64), st.integers(1, 64)))
def test_eq5_at_p1_is_the_standard_conv(m, n, k, out):
    assert f.reduction_hetconv(1, k) == 1
    assert f.flops_hetconv(out, m, n, k, 1) == f.flops_standard(out, m, n, k)
    assert f.params_hetconv(m, n, k, 1) == f.params_standard(m, n, k)


@given(m=st.integers(1, 64), n=st.integers(1, 64), p=st.integers(1, 64), k=kernels,
       out=st.tuples(st.integers(1, 32), st.integers(1, 32)))
def test_eq4_matches_eq5_for_every_divisor(m, n, p, k, out):
    m = m * p  # make P divide M
    assert Fraction(f.flops_hetconv(out, m, n, k, p), f.flops_standard(out, m, n, k)) == \
        f.reduction_hetconv(p, k)


@pytest.mark.parametrize(("channels", "expected"), [
    (16, 2 * 16 * (16 // 8)),   # C ≥ 2r: C/r hidden units
    (8, 2 * 8 * 1),            # C = r: one hidden unit
    (4, 2 * 4 * 1),            # C < r: still one hidden unit, never zero
    (12, 2 * 12 * 1),          # r < C < 2r: C // r = 1
])
def test_flops_se_keeps_at_least_one_hidden_unit(channels, expected):
    assert f.flops_se(channels) == expected


@pytest.mark.parametrize(("out", "kernel", "expected"), [
    ((16000,), (3,), 16000 * 8 * 16 * 3),                     # Conv1d
    ((16, 56, 56), (3, 3, 3), 16 * 56 * 56 * 8 * 16 * 27),     # Conv3d
])
def test_formulas_take_any_number_of_spatial_dimensions(out, kernel, expected):
    assert f.flops_standard(out, 8, 16, kernel) == expected
    assert f.flops_hetconv(out, 8, 16, kernel, 1) == expected
