"""hetcalc.infofield: the information field, the design-space reduction and the efficiency analysis
of "Penetrating the Fog" (papers/information-field-iclr2019-submission.txt).

Expected values are written as the arithmetic a reader can check against the paper."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hetcalc.errors import InvalidArgument
from hetcalc.infofield import (
    KERNELS,
    Design,
    FieldRelation,
    InfoField,
    Layer,
    best_groups,
    compare_fields,
    design_layers,
    design_macs,
    design_params,
    efficiency_table,
    equals_standard,
    greatest_width,
    greatest_width_bound,
    parse_design,
    parse_kernels,
    plan_channels,
    reduce_design_space,
    sequence_field_steps,
    sequence_info_field,
    standard_info_field,
    standard_params,
)
from hetcalc.variants import ConvShape, info_field, parse_variant

# ----------------------------------------------------------------------------------------------
# Information field of kernel sequences (Definition 1, Section 3.1)
# ----------------------------------------------------------------------------------------------

SEQUENCE_CASES = [
    # design, C, shuffle, expected (h, w, c)
    ("conv", 64, True, (3, 3, 64)),                     # Figure 1a: (3, 3, C)
    ("gc(4)", 64, True, (3, 3, 64 // 4)),               # one group of C/G channels
    ("dw", 64, True, (3, 3, 1)),                        # "only contains one channel area"
    ("pw", 64, True, (1, 1, 64)),
    ("pwg(8)", 64, True, (1, 1, 64 // 8)),
    ("dw+dw", 16, True, (3 + 3 - 1, 3 + 3 - 1, 1)),     # spatial extents add up: K1 + K2 - 1
    ("dw+pw", 64, True, (3, 3, 64)),                    # Figure 1b
    ("gc(4)+pwg(32)", 128, True, (3, 3, 128)),          # 4·32 = 128 = C (Theorem 1's M·N = C)
    ("gc(4)+pwg(32)", 128, False, (3, 3, 128 // 4)),    # no permutation: one GC group per output
    ("gc(8)+pwg(32)", 128, True, (3, 3, 128 // 32 * 128 // 8)),  # 8·32 > 128: 4 GC groups of 16
    ("pwg(4)+pwg(4)", 64, True, (1, 1, 64 // 4 * 4)),   # 16 channels per group, 4 groups mixed
    ("pwg(4)+pwg(4)", 64, False, (1, 1, 64 // 4)),
    ("gc(1)+pw", 8, True, (3, 3, 8)),                   # GConv(1) is the standard conv (Table 2)
]


@pytest.mark.parametrize(("design", "channels", "shuffle", "expected"), SEQUENCE_CASES)
def test_sequence_field(design, channels, shuffle, expected):
    field = sequence_info_field(design, channels, shuffle=shuffle)
    assert field.size == expected
    assert field.uniform


def test_field_volume_counts_each_input_activation_once():
    # DW+PW: every channel through 3x3: 3·3·8; PW+DW the same; PW alone: 1·1·8.
    assert sequence_info_field("dw+pw", 8).volume == 3 * 3 * 8
    assert sequence_info_field("pw+dw", 8).volume == 3 * 3 * 8
    assert sequence_info_field("pw", 8).volume == 1 * 1 * 8
    assert sequence_info_field("dw+pw", 8).full


def test_field_steps_add_up_from_the_left():
    # Section 3.1: start from (1, 1, 1) and update after each kernel.
    steps = sequence_field_steps("pwg(4)+dw+pwg(4)", 560, bottleneck=140)
    assert [s.size for s in steps] == [(1, 1, 560 // 4), (3, 3, 560 // 4), (3, 3, 560)]


def test_uneven_field_reports_the_smallest_and_says_so():
    # GC(2) on 6 channels then PWG(3) without shuffle: the 3 PWG groups of 2 channels see
    # GC group 0, groups 0 and 1, GC group 1: channels 3, 6, 3.
    field = sequence_info_field("gc(2)+pwg(3)", 6, shuffle=False)
    assert field.size == (3, 3, 3) and not field.uniform


def test_explicit_shuffle_and_channel_plan():
    layers = parse_design("gc(4)+shuffle(4)+pwg(32)")
    assert [layer.kind for layer in layers] == ["gc", "shuffle", "pwg"]
    assert sequence_info_field(layers, 128, shuffle=False).size == (3, 3, 128)
    planned = plan_channels("pw+dw+pw", 64, 128, bottleneck=32)
    assert [layer.out_channels for layer in planned] == [32, 32, 128]
    planned = plan_channels([Layer("pw", out_channels=48), Layer("dw")], 64)
    assert [layer.out_channels for layer in planned] == [48, 48]


def test_paper_spellings_parse():
    assert parse_design("PWGConv(4)+DW+PWGConv(4)") == parse_design("pwg(4)+dw+pwg(4)")
    assert parse_design("GConv(1)")[0].kind == "conv"
    assert "+".join(layer.label for layer in parse_design("gconv(4)+pwgconv(32)")) == \
        "GC(4)+PWG(32)"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["dw", "pw", "gc(2)", "gc(4)", "pwg(2)", "pwg(4)"]),
                min_size=1, max_size=5), st.booleans())
def test_field_never_shrinks_along_a_design(kernels, shuffle):
    # Section 3.1: "the size of information field will never decrease when passing through
    # sparse kernels in a design".
    steps = sequence_field_steps("+".join(kernels), 16, shuffle=shuffle)
    for before, after in zip(steps, steps[1:], strict=False):
        assert all(a >= b for a, b in zip(after.size, before.size, strict=True))


# Table 3 (and Table 4 rows of the same designs): InfoSize is (3, 3, Width) for every design.
# Width = input = output channels of a block; bottleneck channels = Width/4 (Section 3.2's 1:4).
TABLE3 = [
    ("conv", 64, None, (3, 3, 64)),                          # Standard Convolution
    ("DW+PW", 72, None, (3, 3, 72)),
    ("DW+PW", 280, None, (3, 3, 280)),
    ("GConv(4)+PWGConv(32)", 128, None, (3, 3, 128)),        # 4·32 = 128
    ("GConv(16)+PWGConv(16)", 256, None, (3, 3, 256)),       # 16·16 = 256
    ("PW+DW+PW", 400, 400 // 4, (3, 3, 400)),
    ("PWGConv(4)+DW+PWGConv(4)", 560, 560 // 4, (3, 3, 560)),
]
TABLE4 = [
    ("GConv(100)+PWGConv(2)", 200, None, (3, 3, 200)),       # 100·2 = 200
    # 700/4 = 175 is not a multiple of 100, so Table 4 cannot use the 1:4 ratio here; its
    # bottleneck is taken as M·N = 100·2 = 200 (Theorem 1).
    ("PWGConv(100)+DW+PWGConv(2)", 700, 100 * 2, (3, 3, 700)),
]
TABLE2 = [  # PW+GConv(G)+PW, bottleneck Width/4
    ("PW+GConv(1)+PW", 128, 128 // 4, (3, 3, 128)),
    ("PW+GConv(32)+PW", 256, 256 // 4, (3, 3, 256)),
    ("PW+GConv(1)+PW", 200, 200 // 4, (3, 3, 200)),
    ("PW+GConv(2)+PW", 256, 256 // 4, (3, 3, 256)),
    ("PW+GConv(64)+PW", 512, 512 // 4, (3, 3, 512)),
]


@pytest.mark.parametrize(("design", "width", "bottleneck", "info_size"), TABLE3 + TABLE4 + TABLE2)
def test_paper_tables_info_size(design, width, bottleneck, info_size):
    field = sequence_info_field(design, width, width, bottleneck=bottleneck)
    assert field.size == info_size
    assert equals_standard(field, standard_info_field(width))


# ----------------------------------------------------------------------------------------------
# hetcalc variants
# ----------------------------------------------------------------------------------------------


def _shape(m=64, n=128, kernel=(3, 3), dilation=(1, 1), hw=(32, 32)):
    return ConvShape(in_channels=m, out_channels=n, kernel=kernel, stride=(1, 1),
                     padding=(1, 1), dilation=dilation, groups=1, bias=False, input_size=hw,
                     output_size=hw)


VARIANT_CASES = [
    # spec, expected size, expected volume (M = 64, 3x3)
    ("std", (3, 3, 64), 3 * 3 * 64),
    ("gwc4", (3, 3, 64), 3 * 3 * 64),
    ("dwc", (3, 3, 64), 3 * 3 * 64),
    # HetConv P=4: 64/4 = 16 channels through 3x3, the other 48 through 1x1.
    ("p4", (3, 3, 64), 64 // 4 * 3 * 3 + (64 - 64 // 4)),
    ("p64", (3, 3, 64), 1 * 3 * 3 + (64 - 1)),
    ("pc", (3, 3, 64), 1 * 3 * 3 + (64 - 1)),
    # SE pools the whole 32x32 output: every output activation depends on the whole input.
    ("p4-se", (32, 32, 64), 32 * 32 * 64),
]


@pytest.mark.parametrize(("spec", "size", "volume"), VARIANT_CASES)
def test_variant_field(spec, size, volume):
    field = info_field(parse_variant(spec), _shape())
    assert field.size == size
    assert field.volume == volume


def test_variants_keep_the_standard_field_size_but_hetconv_is_sparser():
    shape = _shape()
    for spec in ("std", "p2", "p4", "pc", "gwc4", "dwc"):
        assert equals_standard(info_field(parse_variant(spec), shape), shape)
    hetconv = info_field(parse_variant("p4"), shape)
    assert not hetconv.full and info_field(parse_variant("dwc"), shape).full
    se = info_field(parse_variant("dwc-se"), shape)
    assert compare_fields(se, standard_info_field(64)) is FieldRelation.LARGER


def test_variant_field_matches_the_sequence_computation():
    shape = _shape()
    assert info_field(parse_variant("gwc4"), shape) == \
        sequence_info_field("gc(4)+pw", 64, 128)
    assert info_field(parse_variant("dwc"), shape) == sequence_info_field("dw+pw", 64, 128)


def test_dilated_kernel_extent():
    field = info_field(parse_variant("p4"), _shape(kernel=(3, 3), dilation=(2, 2)))
    assert field.size == (2 * (3 - 1) + 1, 2 * (3 - 1) + 1, 64)


def test_variant_that_cannot_apply_is_an_error():
    with pytest.raises(InvalidArgument, match=r"p3 cannot replace this layer: P=3 does not "
                                              r"divide M=64"):
        info_field(parse_variant("p3"), _shape())


@pytest.mark.parametrize(("field", "relation"), [
    (InfoField(3, 3, 64, 576), FieldRelation.EQUAL),
    (InfoField(3, 3, 16, 144), FieldRelation.SMALLER),
    (InfoField(5, 5, 64, 1600), FieldRelation.LARGER),
    (InfoField(5, 5, 16, 400), FieldRelation.MIXED),
])
def test_compare_fields(field, relation):
    assert compare_fields(field, standard_info_field(64)) is relation


# ----------------------------------------------------------------------------------------------
# Design-space reduction (Section 3.1)
# ----------------------------------------------------------------------------------------------

PAPER_FOUR = ("DW+PW", "GC+PWG", "PW+DW+PW", "PWG+DW+PWG")


@pytest.fixture(scope="module")
def reduction6():
    return reduce_design_space(6)


@pytest.fixture(scope="module")
def reduction6_no_bottleneck():
    return reduce_design_space(6, bottleneck=False)


def test_reduction_ends_with_the_papers_four(reduction6):
    assert reduction6.survivor_names == PAPER_FOUR


def test_without_bottleneck_allowance_pw_dw_pw_goes(reduction6_no_bottleneck):
    assert reduction6_no_bottleneck.survivor_names == ("DW+PW", "GC+PWG", "PWG+DW+PWG")
    removal = {r.design: r for r in reduction6_no_bottleneck.stages[2].removed}["PW+DW+PW"]
    assert removal.rule == "rule1"
    assert removal.reason == "rule 1: kernel 3 (PW) leaves the field at (3, 3, 16)"


def test_stage_counts(reduction6, reduction6_no_bottleneck):
    composition, performance, efficiency = reduction6.stages
    assert reduction6.total == 4 + 4**2 + 4**3 + 4**4 + 4**5 + 4**6  # 5460, Section 3.1
    # Square-free words over 4 letters of length 1..6 (OEIS A051041): 4+12+36+96+264+696.
    square_free = 4 + 12 + 36 + 96 + 264 + 696
    assert len(composition.removed_by("repeat")) == 5460 - square_free
    assert len(composition.removed_by("rotation")) == 632
    assert (composition.before, composition.removed_count, composition.kept_count) == \
        (5460, 4984, 476)
    assert (performance.before, performance.removed_count, performance.kept_count) == \
        (476, 11, 465)
    assert (efficiency.before, efficiency.removed_count, efficiency.kept_count) == (465, 461, 4)
    assert reduction6_no_bottleneck.stages[2].removed_count == 462
    for report in (reduction6, reduction6_no_bottleneck):
        for stage, following in zip(report.stages, report.stages[1:], strict=False):
            assert stage.before - stage.removed_count == stage.kept_count == following.before


@pytest.mark.parametrize(("design", "stage", "rule", "reason"), [
    ("PW+PW+DW", 0, "repeat", "repeated pattern PW+PW"),
    ("DW+PW+DW+PW", 0, "repeat", "repeated pattern DW+PW+DW+PW"),
    ("PW+DW", 0, "rotation", "rotation of DW+PW: repeated block after block they form the "
                             "same pattern"),
    ("DW", 1, "field", "no group numbers reach the standard field (3, 3, 16); closest (3, 3, 1)"),
    ("DW+PWG", 1, "field", "no group numbers reach the standard field (3, 3, 16); closest "
                           "(3, 3, 8)"),
    ("DW+PW+DW", 2, "rule2", "rule 2: kernel 3 (DW) takes the field to (5, 5, 16), beyond the "
                             "standard (3, 3, 16)"),
    ("DW+PWG+PW", 2, "rule2", "rule 2: its kernels DW+PW already reach the standard field "
                              "(3, 3, 16)"),
    ("DW+PW+PWG", 2, "rule1", "rule 1: kernel 3 (PWG) leaves the field at (3, 3, 16)"),
    ("GC+PW", 2, "same-design", "same design as DW+PW: DW is GC with G = channels, the most "
                                "parameter-efficient group number"),
    ("PW+GC+PW", 2, "same-design", "same design as PW+DW+PW: DW is GC with G = channels, the "
                                   "most parameter-efficient group number"),
])
def test_removal_reasons(reduction6, design, stage, rule, reason):
    removal = {r.design: r for r in reduction6.stages[stage].removed}[design]
    assert (removal.rule, removal.reason) == (rule, reason)


def test_survivors_group_numbers_satisfy_m_times_n_at_most_c(reduction6):
    # Footnote 1: every group number that passes; at C = 16 with 1 < G < 16 these are exactly
    # the pairs with M·N ≤ 16 (Section 3.3.2).
    survivors = {s.design: s for s in reduction6.survivors}
    pairs = tuple((m, n) for m in (2, 4, 8) for n in (2, 4, 8) if m * n <= 16)
    assert survivors["GC+PWG"].groups == pairs
    assert survivors["PWG+DW+PWG"].groups == pairs
    assert survivors["DW+PW"].groups == ((),)
    assert survivors["PW+DW+PW"].steps == ((1, 1, 16), (3, 3, 16), (3, 3, 16))


@pytest.mark.parametrize("channels", [12, 36])
def test_survivors_do_not_depend_on_the_channel_count(channels):
    assert reduce_design_space(4, channels=channels).survivor_names == PAPER_FOUR


@pytest.mark.parametrize(("kernels", "bottleneck", "survivors"), [
    ("dw,pw", True, ("DW+PW", "PW+DW+PW")),
    ("dw,pw", False, ("DW+PW",)),
    ("gc,pwg", True, ("GC+PWG",)),
    ("gc,pw,pwg", False, ("GC+PW", "GC+PWG")),  # without DW, GC+PW cannot merge into DW+PW
    ("pw,pwg", True, ()),
])
def test_kernel_subsets(kernels, bottleneck, survivors):
    report = reduce_design_space(4, kernels, bottleneck=bottleneck)
    assert report.survivor_names == survivors
    assert report.total == sum(len(kernels.split(",")) ** n for n in range(1, 5))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_length": 0}, r"max_length must be an integer from 1 to 8, got 0"),
    ({"max_length": 9}, r"max_length must be an integer from 1 to 8, got 9"),
    ({"max_length": True}, r"max_length must be an integer from 1 to 8, got True"),
    ({"kernels": "gc,conv"}, r"unknown kernel 'conv'; valid kernels: gc, dw, pw, pwg"),
    ({"kernels": ""}, r"empty kernel list; valid kernels: gc, dw, pw, pwg"),
    ({"channels": 3}, r"channels must be at least 4 .* got 3"),
])
def test_reduction_rejects_bad_arguments(kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        reduce_design_space(**kwargs)


def test_parse_kernels_orders_and_deduplicates():
    assert parse_kernels("pwg, PW,gc,pw") == ("gc", "pw", "pwg")
    assert parse_kernels(["dw", "gc"]) == ("gc", "dw")
    assert parse_kernels(",".join(KERNELS)) == KERNELS


@pytest.mark.parametrize(("text", "message"), [
    ("gc(4)+xw", r"unknown kernel 'xw' in design 'gc\(4\)\+xw'; valid: conv, gc\(G\)"),
    ("pwg+dw", r"'pwg' in design 'pwg\+dw' needs a group number, e.g. pwg\(4\)"),
    ("dw(4)", r"'dw\(4\)' in design 'dw\(4\)' takes no group number"),
    ("gc(0)", r"groups of gc\(0\) must be a positive integer, got 0"),
    ("dw++pw", r"empty kernel in design 'dw\+\+pw'"),
])
def test_parse_design_errors(text, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_design(text)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sequence_info_field("gc(3)", 64), r"GC\(3\) needs G=3 to divide its 64 input"),
    (lambda: sequence_info_field([Layer("pw", out_channels=32), Layer("dw")], 64, 128),
     r"design PW\+DW ends with 32 channels, not out_channels=128"),
    (lambda: sequence_info_field([Layer("dw", out_channels=32)], 64),
     r"dw keeps the channel count \(64\), got out_channels=32"),
    (lambda: sequence_info_field("pw", 0), r"in_channels must be a positive integer, got 0"),
    (lambda: standard_info_field(64, 0), r"kernel_height must be a positive integer, got 0"),
])
def test_sequence_errors(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


# ----------------------------------------------------------------------------------------------
# Efficiency analysis (Section 3.3)
# ----------------------------------------------------------------------------------------------

C, F = 64, 128  # a layer 64 -> 128, bottleneck 128/4 = 32
PARAM_CASES = [
    (Design.DW_PW, None, None, 3 * 3 * 64 + 64 * 128),                              # 9C + CF
    (Design.GC_PWG, (16, 4), None, 3 * 3 * 64 * 64 // 16 + 64 * 128 // 4),         # 9C²/M + CF/N
    (Design.PW_DW_PW, None, None, 64 * 32 + 3 * 3 * 32 + 32 * 128),                 # B(C+F+9)
    (Design.PWG_DW_PWG, (4, 8), None, 64 * 32 // 4 + 3 * 3 * 32 + 32 * 128 // 8),  # B(C/M+F/N+9)
    (Design.PW_DW_PW, None, 16, 64 * 16 + 3 * 3 * 16 + 16 * 128),
]


@pytest.mark.parametrize(("design", "groups", "bottleneck", "params"), PARAM_CASES)
def test_design_params_and_macs(design, groups, bottleneck, params):
    assert design_params(design, C, F, groups=groups, bottleneck=bottleneck) == params
    assert design_params(design.value, C, F, groups=groups, bottleneck=bottleneck) == params
    assert design_macs(design, C, F, out_hw=(56, 56), groups=groups,
                       bottleneck=bottleneck) == params * 56 * 56
    assert standard_params(C, F) == 9 * 64 * 128


def test_design_layers_have_the_standard_field():
    for design, groups, bottleneck, _ in PARAM_CASES:
        layers = design_layers(design, C, F, groups=groups, bottleneck=bottleneck)
        field = sequence_info_field(layers, C, F)
        assert field.size == (3, 3, 64)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: design_params("GC+PWG", 64, 128), r"GC\+PWG needs group numbers groups=\(M, N\)"),
    (lambda: design_params("DW+PW", 64, 128, groups=(2, 2)), r"DW\+PW has no group numbers, "
                                                             r"got groups=\(2, 2\)"),
    (lambda: design_params("GC+PWG", 64, 128, groups=(3, 2)), r"M=3 must divide"),
    (lambda: design_params("GC+PWG", 64, 128, groups=(16, 8)),
     r"M·N = 128 exceeds the 64 intermediate channels"),
    (lambda: design_params("PWG+DW+PWG", 64, 128, groups=(4, 16)),
     r"M·N = 64 exceeds the 32 intermediate channels"),
    (lambda: design_params("PW+DW+PW", 64, 10), r"F=10 is not a multiple of 4"),
    (lambda: design_params("DW+PW", 64, 128, bottleneck=32), r"DW\+PW has no bottleneck"),
    (lambda: design_params("XX", 64, 128), r"unknown design 'XX'; valid designs: DW\+PW, "
                                           r"GC\+PWG, PW\+DW\+PW, PWG\+DW\+PWG"),
    (lambda: best_groups("DW+PW", 64, 128), r"DW\+PW has no group numbers"),
    (lambda: greatest_width("DW+PW", 0), r"budget must be a positive integer, got 0"),
    (lambda: efficiency_table(64, 10), r"F=10 is not a multiple of 4"),
])
def test_efficiency_errors(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


def _brute_params(design: Design, c: int, f: int, b: int | None, m: int, n: int) -> int | None:
    """The paper's parameter count with every constraint checked by hand; None if invalid."""
    if design is Design.GC_PWG:
        if c % m or c % n or f % n or m * n > c:
            return None
        return 9 * c * (c // m) + (c // n) * f
    assert b is not None
    if c % m or b % m or b % n or f % n or m * n > b:
        return None
    return (c // m) * b + 9 * b + (b // n) * f


BRUTE_CASES = [(c, f) for c in range(8, 33) for f in (c, 2 * c, 4 * c)]


@pytest.mark.parametrize(("c", "f"), BRUTE_CASES)
def test_best_groups_gc_pwg_matches_brute_force(c, f):
    brute = min(p for m in range(1, c + 1) for n in range(1, c + 1)
                if (p := _brute_params(Design.GC_PWG, c, f, None, m, n)) is not None)
    choice = best_groups(Design.GC_PWG, c, f)
    assert choice.params == brute
    m, n = choice.groups
    assert m * n == c and choice.theorem1                      # Theorem 1
    assert choice.optimum[1] == pytest.approx(math.sqrt(f) / 3)  # N* = √F / 3
    assert choice.params >= choice.optimal_params - 1e-9       # 2·3·C·√F is a lower bound
    # The integer N is a neighbour of N* among the N that Theorem 1 allows.
    allowed = [d for d in range(1, c + 1) if c % d == 0 and f % d == 0]
    below = max((d for d in allowed if d <= choice.optimum[1]), default=None)
    above = min((d for d in allowed if d >= choice.optimum[1]), default=None)
    assert n in (below, above)


@pytest.mark.parametrize(("c", "f"), [(c, f) for c, f in BRUTE_CASES if f % 4 == 0])
def test_best_groups_pwg_dw_pwg_matches_brute_force(c, f):
    b = f // 4
    brute = min(p for m in range(1, c + 1) for n in range(1, b + 1)
                if (p := _brute_params(Design.PWG_DW_PWG, c, f, b, m, n)) is not None)
    choice = best_groups(Design.PWG_DW_PWG, c, f)
    assert choice.params == brute
    m, n = choice.groups
    assert choice.intermediate == b and choice.theorem1 and m * n == b  # Theorem 1: K = M·N
    assert choice.optimum[0] == pytest.approx(math.sqrt(c) / 2)       # M* = √C / 2
    assert choice.params >= choice.optimal_params - 1e-9


def test_paper_closed_forms_at_the_optimum():
    # C = 64, F = 144: N* = √144/3 = 4, M* = 64/4 = 16, params 2·3·64·√144.
    choice = best_groups("GC+PWG", 64, 144)
    assert choice.groups == (16, 4) and choice.params == 2 * 3 * 64 * 12
    # C = 64, F = 64, B = 16: M* = √64/2 = 4, N* = 16/4 = 4, params 16·(9 + 2·√(64·64/16)).
    choice = best_groups("PWG+DW+PWG", 64, 64)
    assert choice.groups == (4, 4) and choice.params == 16 * (9 + 2 * 16)


@pytest.mark.parametrize(("design", "alpha", "budget", "formula"), [
    # Section 3.3.1: G = (−9 + √(81 + 4αP)) / 2α
    (Design.DW_PW, 1, 50_000, (-9 + math.sqrt(81 + 4 * 1 * 50_000)) / (2 * 1)),
    (Design.DW_PW, 2, 50_000, (-9 + math.sqrt(81 + 4 * 2 * 50_000)) / (2 * 2)),
    # Section 3.3.2: G = (P / 6√α)^(2/3)
    (Design.GC_PWG, 1, 50_000, (50_000 / (6 * math.sqrt(1))) ** (2 / 3)),
    (Design.GC_PWG, 4, 50_000, (50_000 / (6 * math.sqrt(4))) ** (2 / 3)),
    # Section 3.3.3: G = (−9α + √(81α² + 16α²P + 16αP)) / 2(α² + α)
    (Design.PW_DW_PW, 1, 50_000, (-9 + math.sqrt(81 + 16 * 50_000 + 16 * 50_000)) / (2 * 2)),
    (Design.PW_DW_PW, 2, 50_000,
     (-18 + math.sqrt(81 * 4 + 16 * 4 * 50_000 + 16 * 2 * 50_000)) / (2 * 6)),
])
def test_greatest_width_bound_is_the_papers_closed_form(design, alpha, budget, formula):
    assert greatest_width_bound(design, budget, alpha=alpha) == pytest.approx(formula)


def test_greatest_width_bound_pwg_dw_pwg_solves_the_papers_equation():
    # Section 3.3.4: P = αC(9 + 4√C)/4 at the greatest width.
    for alpha in (1, 2):
        width = greatest_width_bound("PWG+DW+PWG", 50_000, alpha=alpha)
        assert alpha * width * (9 + 4 * math.sqrt(width)) / 4 == pytest.approx(50_000)


def _brute_width(design: Design, budget: int, alpha: int) -> int:
    """Every width up to 1000 and every (M, N): the widest that fits the budget."""
    best = 0
    for c in range(1, 1000):
        f = alpha * c
        b = f // 4 if design.has_bottleneck else None
        if b is not None and f % 4:
            continue
        if design is Design.DW_PW:
            params = 9 * c + c * f
        elif design is Design.PW_DW_PW:
            params = c * b + 9 * b + b * f
        else:
            params = None
            for m in range(1, c + 1):
                if c % m:
                    continue  # the cheap part of _brute_params' check, to keep this fast
                for n in range(1, c + 1):
                    p = _brute_params(design, c, f, b, m, n)
                    if p is not None and (params is None or p < params):
                        params = p
        if params <= budget:
            best = c
    return best


@pytest.mark.parametrize("design", list(Design))
@pytest.mark.parametrize(("budget", "alpha"), [(3_000, 1), (20_000, 1), (20_000, 2)])
def test_greatest_width_matches_brute_force(design, budget, alpha):
    choice = greatest_width(design, budget, alpha=alpha)
    assert choice is not None
    assert choice.width == _brute_width(design, budget, alpha)
    assert choice.params <= budget and choice.width <= choice.width_bound
    assert choice.out_channels == alpha * choice.width


def test_greatest_width_none_when_nothing_fits():
    assert greatest_width("DW+PW", 5) is None  # C = 1 needs 9 + 1 = 10 weights


def test_efficiency_table():
    report = efficiency_table(64, 128, budget=100_000, out_hw=(56, 56))
    assert report.standard_params == 9 * 64 * 128
    assert report.standard_macs == 9 * 64 * 128 * 56 * 56
    assert report.bottleneck == 128 // 4
    rows = {row.design: row for row in report.rows}
    assert [row.design.value for row in report.rows] == list(PAPER_FOUR)
    assert rows[Design.DW_PW].ratio == Fraction(9 * 64 + 64 * 128, 9 * 64 * 128)  # 1/F + 1/9
    assert rows[Design.DW_PW].ratio == Fraction(1, 128) + Fraction(1, 9)
    assert rows[Design.PW_DW_PW].ratio == Fraction(64 + 128 + 9, 36 * 64)  # (C+F+9)/36C
    gc = rows[Design.GC_PWG]
    assert gc.groups == best_groups("GC+PWG", 64, 128).groups and gc.theorem1
    assert gc.layers == f"GC({gc.groups[0]})+PWG({gc.groups[1]})"
    assert gc.macs == gc.params * 56 * 56
    for row in report.rows:
        assert row.field.size == report.standard_field.size == (3, 3, 64)
        assert row.width is not None and row.width.params <= 100_000
        assert row.width.out_channels == 2 * row.width.width  # α = F/C = 2
