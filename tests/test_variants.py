import pytest

from hetcalc.errors import InvalidArgument
from hetcalc.variants import (
    ConvShape,
    Kind,
    Variant,
    layer_cost,
    parse_variant,
    parse_variants,
    part_variant,
)


@pytest.mark.parametrize(("spec", "expected", "canonical"), [
    ("std", Variant(Kind.STANDARD), "std"),
    ("p1", Variant(Kind.STANDARD), "std"),
    ("p4", Variant(Kind.HETCONV, part=4), "p4"),
    ("P64", Variant(Kind.HETCONV, part=64), "p64"),
    ("pc", Variant(Kind.HETCONV_PC), "pc"),
    ("gwc4", Variant(Kind.GWC_PWC, groups=4), "gwc4"),
    ("dwc", Variant(Kind.DWC_PWC), "dwc"),
    ("p4-se", Variant(Kind.HETCONV, part=4, se=True), "p4-se"),
    ("std-se", Variant(Kind.STANDARD, se=True), "std-se"),
])
def test_parse(spec, expected, canonical):
    assert parse_variant(spec) == expected
    assert parse_variant(spec).spec == canonical


@pytest.mark.parametrize(("spec", "match"), [
    ("p0", "P must be a positive integer, got 0"),
    ("gwc0", "G must be a positive integer, got 0"),
    ("q4", "unknown variant 'q4'; valid forms: std, p1"),
    ("p4se", "unknown variant 'p4se'"),
    ("p-4", "unknown variant 'p-4'"),
    ("", "unknown variant ''"),
])
def test_parse_errors(spec, match):
    with pytest.raises(InvalidArgument, match=match):
        parse_variant(spec)


def test_parse_list():
    assert [v.spec for v in parse_variants("gwc4, dwc,p64")] == ["gwc4", "dwc", "p64"]
    with pytest.raises(InvalidArgument, match="empty variant list"):
        parse_variants(" , ")


@pytest.mark.parametrize("value", ["0", "-1", "2.5", "abc", ""])
def test_part_option_rejects(value):
    with pytest.raises(InvalidArgument, match="^part must be a positive integer"):
        part_variant(value)


def _shape(m, n, k=(3, 3), out=(8, 8), bias=False):
    return ConvShape(m, n, k, (1, 1), (1, 1), (1, 1), 1, bias, out, out)


@pytest.mark.parametrize(("variant", "shape", "reason"), [
    (Variant(Kind.HETCONV, part=3), _shape(64, 64), "P=3 does not divide M=64 input channels"),
    (Variant(Kind.HETCONV, part=4), _shape(64, 6), "P=4 does not divide N=6 output channels"),
    (Variant(Kind.HETCONV_PC), _shape(128, 64), "P=128 does not divide N=64 output channels"),
    (Variant(Kind.GWC_PWC, groups=3), _shape(64, 64), "G=3 does not divide M=64 input channels"),
    (Variant(Kind.HETCONV, part=4), _shape(64, 128), None),
    (Variant(Kind.DWC_PWC), _shape(3, 5), None),
])
def test_check(variant, shape, reason):
    assert variant.check(shape) == reason


def test_layer_cost_adds_se_on_the_output_channels():
    shape = _shape(64, 128, out=(16, 16))
    plain = layer_cost(parse_variant("p4"), shape)
    with_se = layer_cost(parse_variant("p4-se"), shape)
    assert plain.flops == 16 * 16 * 128 * (16 * 9 + 48)
    assert with_se.flops - plain.flops == 2 * 128 * 16
    assert with_se.params - plain.params == 2 * 128 * 16 + 16 + 128


def test_sequential_depth():
    assert [parse_variant(s).sequential_depth for s in ("p4", "pc", "gwc4", "dwc")] == [0, 0, 1, 1]
