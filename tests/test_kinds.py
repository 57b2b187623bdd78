"""Every variant kind, walked through every consumer of the table of kinds.

One layer: M = 8 input channels, N = 16 output channels, a 3×3 kernel, a 6×6 output, a batch of
2. Every expected value is written as the paper's arithmetic, per image times the batch. Each
table below has one entry per :class:`Kind` (checked first), so a kind a consumer does not know
fails here: the grammar, the cost model (with and without bias), the information field, the
module builder (counted by fvcore), weight carrying through ``substitute``, the planner (and DW+PW
merging), per-layer latency modules, storage-free counting models, the "why it costs more" notes
and the curve.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hetcalc.layers import build_variant_layer
from hetcalc.shapes import ConvShape
from hetcalc.variants import (
    KINDS,
    SE_COSTLIER,
    Kind,
    KindSpec,
    costlier_reason,
    info_field,
    kind_table,
    layer_cost,
    parse_variant,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis

SHAPE = ConvShape(in_channels=8, out_channels=16, kernel=(3, 3), stride=(1, 1), padding=(1, 1),
                  dilation=(1, 1), groups=1, bias=False, input_size=(6, 6), output_size=(6, 6),
                  batch=2)
INPUT = (2, 8, 6, 6)
SE = 2 * 16 * (16 // 8)  # two FC layers 16 -> 2 -> 16, per image
SE_PARAMS = 2 * 16 * 2 + 2 + 16  # their weights and biases
BIAS = 16  # a conv with bias: N more params, on the layer's last conv, for every kind

# spec -> (kind, MACs of the batch, params without bias, K×K params, sequential depth)
CASES = {
    "std": (Kind.STANDARD, 2 * (6 * 6 * 8 * 16 * 3 * 3), 16 * 8 * 9, 16 * 8 * 9, 0),
    "p4": (Kind.HETCONV, 2 * (6 * 6 * (8 // 4) * 16 * 9 + 6 * 6 * 16 * (8 - 8 // 4)),
           16 * ((8 // 4) * 9 + 8 - 8 // 4), 16 * (8 // 4) * 9, 0),
    "pc": (Kind.HETCONV_PC, 2 * (6 * 6 * 1 * 16 * 9 + 6 * 6 * 16 * (8 - 1)),
           16 * (1 * 9 + 8 - 1), 16 * 1 * 9, 0),
    "gwc4": (Kind.GWC_PWC, 2 * (6 * 6 * 8 * (8 // 4) * 9 + 8 * 16 * 6 * 6),
             8 * (8 // 4) * 9 + 8 * 16, 8 * (8 // 4) * 9, 1),
    "dwc": (Kind.DWC_PWC, 2 * (6 * 6 * 8 * 9 + 8 * 16 * 6 * 6), 8 * 9 + 8 * 16, 8 * 9, 1),
    # PConv over M/r = 4 channels (4 -> 4, 3x3), then 8 -> 16 pointwise: Do²·(K²·(M/r)² + M·N)
    "pconv2": (Kind.PCONV_PWC, 2 * (6 * 6 * (9 * 4 * 4 + 8 * 16)), 9 * 4 * 4 + 8 * 16,
               9 * 4 * 4, 1),
    # Ghost s = 2: primary 8 -> 16/2 = 8 (3x3), cheap depthwise 3x3 making (2 - 1)·8 more:
    # Do²·(K²·M·N/s + d²·(s − 1)·N/s); its K×K weights are both convs' spatial kernels
    "ghost2": (Kind.GHOST, 2 * (6 * 6 * (9 * 8 * 8 + 9 * 1 * 8)), 9 * 8 * 8 + 9 * 1 * 8,
               9 * 8 * 8 + 9 * 1 * 8, 1),
    # DualConv G = 4: group conv 8 -> 16 (3x3, 4 groups) beside a 1x1 8 -> 16: Do²·N·(K²·M/G + M)
    "dual4": (Kind.DUALCONV, 2 * (6 * 6 * 16 * (9 * 8 // 4 + 8)), 9 * (8 // 4) * 16 + 8 * 16,
              9 * (8 // 4) * 16, 0),
}
SPECS = {kind: spec for spec, (kind, *_) in CASES.items()}

# What keeping the weights gives, per kind: "exact" (the layer computes the conv with the
# HetConv pattern applied, written out in _pattern below; std: the conv itself), or "closer"
# (a least-squares factorisation: nearer the conv than a fresh initialisation).
# DualConv keeps each filter's K×K kernels on its own group of channels (contiguous blocks) and
# the centre taps of the others: exact too, with that pattern (_blocks below).
CARRIED = {Kind.STANDARD: "exact", Kind.HETCONV: "exact", Kind.HETCONV_PC: "exact",
           Kind.GWC_PWC: "closer", Kind.DWC_PWC: "closer", Kind.PCONV_PWC: "closer",
           Kind.GHOST: "closer", Kind.DUALCONV: "exact"}
PART = {"std": 1, "p4": 4, "pc": 8}  # HetConv part P on SHAPE (std: every kernel K×K)

# Whether the kind replaces a grouped conv (8 -> 16, groups=2), and its part P there.
GROUPED = {Kind.STANDARD: 1, Kind.HETCONV: 4, Kind.HETCONV_PC: 4, Kind.GWC_PWC: None,
           Kind.DWC_PWC: None, Kind.PCONV_PWC: None, Kind.GHOST: None, Kind.DUALCONV: None}

# Whether a DW+PW pair merges into one layer of the kind (paper Table 4).
MERGES = {Kind.STANDARD: False, Kind.HETCONV: True, Kind.HETCONV_PC: True, Kind.GWC_PWC: False,
          Kind.DWC_PWC: False, Kind.PCONV_PWC: False, Kind.GHOST: False, Kind.DUALCONV: False}

# kind -> [(spec, conv (M, N), words of the reason)]: a layer dearer than its standard conv.
# 1x1 output, 3x3 kernel. SE costs 2*N*N/8 MACs: with N = 512, 65536, more than HetConv P=4
# (8*512*9*(1 - 1/4 - 3/4/9) = 24576), pc (8*512*9*(1 - 1/8 - 7/8/9) = 28672), GWC G=4
# (8*512*9 - (8*8*9/4 + 8*512) = 32624) or DWC (8*512*9 - (8*9 + 8*512) = 32696) save there.
# Alone: GWC+PWC G=1 on 8 -> 8 runs 8*8*9 + 8*8 > 8*8*9; G=4 on 64 -> 1 runs
# 64*64*9/4 + 64 = 9280 > 64*1*9 = 576; DWC+PWC on 8 -> 1 runs 8*9 + 8 = 80 > 72.
WIDE = (8, 512)
SE_WORDS = "squeeze-and-excitation block adds 2*N*N/8 MACs"
COSTLIER = {
    Kind.STANDARD: [("std-se", WIDE, SE_WORDS)],
    Kind.HETCONV: [("p4-se", WIDE, SE_WORDS)],
    Kind.HETCONV_PC: [("pc-se", WIDE, SE_WORDS)],
    Kind.GWC_PWC: [("gwc1", (8, 8), "GWC+PWC with G=1 runs the whole K x K conv"),
                   ("gwc4", (64, 1), "GWC+PWC with G=4 runs Do*Do*M*(M*K*K/G + N) MACs (Eq. 10)"),
                   ("gwc4-se", WIDE, SE_WORDS)],
    Kind.DWC_PWC: [("dwc", (8, 1), "R = 1/N + 1/K^2 (Eq. 7) is above 1"),
                   ("dwc-se", WIDE, SE_WORDS)],
    # PConv r = 2 on 64 -> 1: 9·32·32 + 64·1 = 9280 > 64·1·9 = 576
    Kind.PCONV_PWC: [("pconv2", (64, 1), "R = M/(r*r*N) + 1/K^2 is above 1"),
                     ("pconv4-se", WIDE, SE_WORDS)],
    # (a Ghost module alone costs more only where d² > K²·M: with d = K = 3, never; see below)
    Kind.GHOST: [("ghost2-se", WIDE, SE_WORDS)],
    # DualConv G = 1 on 8 -> 8: 8·(9·8 + 8) = 640 > 8·8·9 = 576
    Kind.DUALCONV: [("dual1", (8, 8), "R = 1/G + 1/K^2 is above 1 when G = 1"),
                    ("dual4-se", WIDE, SE_WORDS)],
}

# kind -> (JSON key, table header for N = 256, speedup at P = 4 for 3x3) or None: Fig. 5.
CURVES = {
    Kind.STANDARD: None,
    Kind.HETCONV: ("hetconv", "HetConv (Eq. 5)", 1 / (1 / 4 + (1 - 1 / 4) / 9)),  # 3.0
    Kind.HETCONV_PC: None,
    Kind.GWC_PWC: ("gwc_pwc", "GWC(G=P)+PWC (Eq. 11)", 1 / (1 / 4 + 1 / 9)),
    Kind.DWC_PWC: ("dwc_pwc", "DWC+PWC, N=256 (Eq. 7)", 1 / (1 / 256 + 1 / 9)),
    Kind.PCONV_PWC: ("pconv_pwc", "PConv+PWC (r=P), M=N", 1 / (1 / 4 ** 2 + 1 / 9)),
    # 1/s + d²·(s − 1)/(s·K²·M) with s = 4, d = K = 3, M = 256
    Kind.GHOST: ("ghost", "Ghost (s=P), M=N=256", 1 / (1 / 4 + 9 * 3 / (4 * 9 * 256))),
    Kind.DUALCONV: ("dualconv", "DualConv (G=P)", 1 / (1 / 4 + 1 / 9)),
}


def test_every_kind_has_one_entry_and_one_case_in_every_table_here():
    assert set(KINDS) == set(Kind)
    assert set(SPECS) == set(Kind) and len(SPECS) == len(CASES)
    for table in (CARRIED, GROUPED, MERGES, COSTLIER, CURVES):
        assert set(table) == set(Kind)


def _count(layer: nn.Module, shape: tuple[int, ...]) -> int:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counted = FlopCountAnalysis(layer.eval(), torch.zeros(shape))
        counted.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return int(counted.total())


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("se", [False, True], ids=["plain", "se"])
@pytest.mark.parametrize("spec", sorted(CASES))
def test_kind_through_grammar_cost_field_and_module(spec, se, bias):
    kind, flops, params, kxk, depth = CASES[spec]
    text = spec + ("-se" if se else "")
    shape = replace(SHAPE, bias=bias)
    expected_params = params + (BIAS if bias else 0) + (SE_PARAMS if se else 0)
    variant = parse_variant(text)
    # grammar: parse and spell back
    assert variant.kind is kind and variant.spec == text
    # description and depth
    assert variant.description and variant.sequential_depth == depth
    # fit and analytic cost (bias adds no MACs: FLOPs are MACs)
    assert variant.check(shape) is None
    cost = layer_cost(variant, shape)
    assert cost.flops == flops + (2 * SE if se else 0)
    assert cost.params == expected_params
    assert cost.params_kxk == kxk
    # the kind's own cost is a LayerCost, per image and without SE
    own = KINDS[kind].cost(variant, shape)
    assert (own.flops, own.params, own.params_kxk) == (flops // 2, params + (BIAS if bias else 0),
                                                       kxk)
    # information field: full 3×3 extent over all 8 channels (6×6 with SE, the whole input)
    field = info_field(variant, shape)
    assert field.channels == 8 and (field.height, field.width) == ((6, 6) if se else (3, 3))
    # the module: really built, counted to the MAC, and holding the params the formulas say
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=bias)
    layer = build_variant_layer(conv, variant, "exact")
    assert _params(layer) == cost.params
    assert _count(layer, INPUT) == cost.flops


@pytest.mark.parametrize("spec", sorted(CASES))
def test_per_layer_latency_builds_the_kinds_module(spec):
    from hetcalc.latency import LayerTiming

    for text in (spec, spec + "-se"):
        variant = parse_variant(text)
        standard, layer = LayerTiming((SHAPE,), SHAPE, variant).modules("exact")
        assert _params(standard) == 16 * 8 * 9
        assert _params(layer) == layer_cost(variant, SHAPE).params
        with torch.no_grad():
            assert layer.eval()(torch.zeros(INPUT)).shape == (2, 16, 6, 6)


def _pattern(weight: torch.Tensor, part: int, groups: int = 1) -> torch.Tensor:
    """The paper's Fig. 3, written out: within each group, filter n keeps its K×K kernels on the
    input channels c ≡ n (mod P) and only the centre tap on the others."""
    out, per_in = weight.shape[:2]
    per_out = out // groups
    expected = torch.zeros_like(weight)
    for n in range(out):
        for c in range(per_in):
            if (c - n % per_out) % part == 0:
                expected[n, c] = weight[n, c]
            else:
                expected[n, c, 1, 1] = weight[n, c, 1, 1]
    return expected


def _blocks(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """DualConv's pattern, written out: filter n keeps its K×K kernels on the input channels of
    its own group (the contiguous block n // (N/G)) and only the centre tap on the others."""
    out, per_in = weight.shape[:2]
    expected = torch.zeros_like(weight)
    for n in range(out):
        group = n // (out // groups)
        for c in range(per_in):
            if c // (per_in // groups) == group:
                expected[n, c] = weight[n, c]
            else:
                expected[n, c, 1, 1] = weight[n, c, 1, 1]
    return expected


def _core(layer: nn.Module, se: bool) -> nn.Module:
    """The layer without the SE block an ``-se`` variant appends (SE scales the output)."""
    return layer[0] if se else layer


@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("se", [False, True], ids=["plain", "se"])
@pytest.mark.parametrize("spec", sorted(CASES))
def test_substitute_carries_the_convs_weights(spec, se, bias):
    from hetcalc.substitute import substitute

    kind = CASES[spec][0]
    variant = parse_variant(spec + ("-se" if se else ""))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1, bias=bias)).eval()
    conv = model[0]
    converted, decisions = substitute(model, variant, INPUT, include_first=True)
    assert decisions[0].replace == (not variant.is_baseline)
    assert _params(converted) == layer_cost(variant, SHAPE).params + (BIAS if bias else 0)
    core = _core(converted[0], se and not variant.is_baseline)
    x = torch.randn(INPUT)
    with torch.no_grad():
        got, want = core(x), conv(x)
        # the bias arrives where the kind puts it: a zero input gives the bias everywhere
        at_zero = core(torch.zeros(INPUT))
        expected_zero = (conv.bias if bias else torch.zeros(16)).view(1, 16, 1, 1)
        if kind is Kind.GHOST:  # inside: the cheap conv pads the intrinsic channels with zeros
            at_zero = at_zero[..., 1:-1, 1:-1]
        assert torch.allclose(at_zero, expected_zero.expand_as(at_zero), atol=1e-6)
        if CARRIED[kind] == "exact":
            pattern = (_blocks(conv.weight, 4) if kind is Kind.DUALCONV
                       else _pattern(conv.weight, PART[spec]))
            assert torch.allclose(got, F.conv2d(x, pattern, conv.bias, padding=1), atol=1e-5)
        else:
            fresh = _core(build_variant_layer(conv, variant, "exact"), se).eval()
            error = (got - want).norm()
            assert error < (fresh(x) - want).norm() and error < want.norm()


@pytest.mark.parametrize("spec", sorted(CASES))
def test_a_grouped_conv_is_replaced_group_by_group_or_refused(spec):
    from hetcalc.substitute import substitute

    kind = CASES[spec][0]
    variant = parse_variant(spec if kind is not Kind.HETCONV else "p4")
    grouped = replace(SHAPE, groups=2)
    part = GROUPED[kind]
    if part is None:
        assert "grouped conv (groups=2)" in variant.check(grouped)
        return
    assert variant.check(grouped) is None
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1, groups=2, bias=True)).eval()
    conv = model[0]
    converted, decisions = substitute(model, variant, INPUT, include_first=True)
    x = torch.randn(INPUT)
    with torch.no_grad():
        expected = F.conv2d(x, _pattern(conv.weight, part, 2), conv.bias, padding=1, groups=2)
        assert torch.allclose(converted[0](x), expected, atol=1e-5)


def _pair_model(bias: bool) -> nn.Module:
    return nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8),
                         nn.ReLU(), nn.Conv2d(8, 16, 1, bias=bias)).eval()


@pytest.mark.parametrize("se", [False, True], ids=["plain", "se"])
@pytest.mark.parametrize("spec", sorted(CASES))
def test_the_planner_and_dw_pw_merging(spec, se):
    from hetcalc.substitute import apply, decide, substitute
    from hetcalc.tensors import storage_free, storage_free_copy
    from hetcalc.trace import conv_calls

    kind = CASES[spec][0]
    variant = parse_variant(spec + ("-se" if se else ""))
    # one conv: replaced by the variant unless it is the baseline
    single = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1)).eval()
    (decision,) = decide(conv_calls(single, INPUT), variant, include_first=True)
    assert decision.replace == (not variant.is_baseline)
    assert decision.variant == (variant if decision.replace else parse_variant("std"))
    # a depthwise + pointwise pair: one layer M -> N of the kind where the kind merges pairs
    model = _pair_model(bias=True)
    decisions = decide(conv_calls(model, INPUT), variant, include_first=True, merge_pairs=True)
    merged = decisions[0].pair is not None
    assert merged == MERGES[kind]
    converted, _ = substitute(model, variant, INPUT, include_first=True, merge_pairs=True)
    if merged:
        pair = decisions[0].pair
        assert (pair.in_channels, pair.out_channels, pair.groups, pair.bias) == (8, 16, 1, True)
        assert _params(converted[0]) == layer_cost(variant, pair).params
        assert all(isinstance(converted[i], nn.Identity) for i in (1, 2, 3))
    else:
        assert all(not d.replace for d in decisions)
    with torch.no_grad():
        assert converted(torch.randn(INPUT)).shape == (2, 16, 6, 6)
    # a storage-free counting model gets storage-free new layers, merged or not
    for source, merge in ((single, False), (model, True)):
        zero = storage_free_copy(source)
        chosen = decide(conv_calls(zero, INPUT), variant, include_first=True, merge_pairs=merge)
        counted = apply(zero, chosen)
        assert all(storage_free(p) for p in counted.parameters() if p.numel() > 1)


def _costlier_notes(spec: str, channels: tuple[int, int]) -> list[str]:
    from hetcalc.analysis import report_from_trace
    from hetcalc.render.analysis import costlier_notes
    from hetcalc.trace import trace_model

    m, n = channels
    model = nn.Sequential(nn.Conv2d(m, n, 3, padding=1)).eval()
    trace = trace_model(model, (2, m, 1, 1))
    return costlier_notes(report_from_trace("tiny", trace, parse_variant(spec),
                                            include_first=True))


@pytest.mark.parametrize("kind", list(Kind), ids=lambda kind: kind.name)
def test_why_a_kind_costs_more_is_explained(kind):
    for spec, (m, n), words in COSTLIER[kind]:
        variant = parse_variant(spec)
        shape = replace(SHAPE, in_channels=m, out_channels=n, input_size=(1, 1),
                        output_size=(1, 1))
        assert variant.kind is kind and variant.check(shape) is None
        standard = layer_cost(parse_variant("std"), shape).flops
        assert layer_cost(variant, shape).flops > standard
        reason = costlier_reason(variant, shape)
        assert words in reason
        notes = _costlier_notes(spec, (m, n))
        assert any(note.startswith("More MACs than the standard conv it replaces in 1 layer (0)")
                   and words in note for note in notes), notes


@pytest.mark.parametrize("kind", list(Kind), ids=lambda kind: kind.name)
def test_a_kind_without_a_reason_is_never_dearer_alone(kind):
    """``costlier=None`` claims the kind alone never costs more than the standard conv (for
    HetConv, Eq. 5's R = 1/P + (1 − 1/P)/K² is at most 1); a kind with a reason gives it."""
    spec = SPECS[kind]
    variant = parse_variant(spec)
    if KINDS[kind].costlier(variant) is not None:
        assert SE_COSTLIER not in KINDS[kind].costlier(variant)
        return
    for m, n, k in ((8, 16, 3), (8, 8, 2), (4, 4, 3), (16, 4, 5), (2, 2, 2)):
        shape = replace(SHAPE, in_channels=m, out_channels=n, kernel=(k, k), padding=(0, 0),
                        input_size=(k, k), output_size=(1, 1))
        for text in ({"p4": ["p2", "p4"]}.get(spec, [spec])):
            chosen = parse_variant(text)
            if chosen.check(shape) is None:
                assert (layer_cost(chosen, shape).flops
                        <= layer_cost(parse_variant("std"), shape).flops)


@pytest.mark.parametrize("kind", list(Kind), ids=lambda kind: kind.name)
def test_the_curve_has_a_series_for_each_kind_with_one(kind, cli):
    from hetcalc.curve import speedup_curve

    expected = CURVES[kind]
    series = KINDS[kind].curve
    code, out, _ = cli("curve", "--max-part", "4", "--format", "json")
    assert code == 0
    point = json.loads(out)["points"][-1]
    assert point["part"] == 4
    if expected is None:
        assert series is None
        return
    key, label, speedup = expected
    assert series is not None and series.key == key
    assert point[key] == pytest.approx(speedup)
    assert speedup_curve((3, 3), [4], 256)[0].speedups[key] == pytest.approx(speedup)
    code, out, _ = cli("curve", "--max-part", "4", "--format", "csv")
    assert key in out.splitlines()[0].split(",")
    code, out, _ = cli("curve", "--max-part", "4", "--format", "markdown", "--wide")
    assert label in out


def test_the_curve_keeps_its_keys_and_the_plot_draws_every_series(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    import hetcalc.plot
    from hetcalc.curve import speedup_curve

    points = speedup_curve((3, 3), [1, 2, 4], 256)
    assert list(points[0].row()) == ["part", "hetconv", "gwc_pwc", "dwc_pwc", "pconv_pwc",
                                     "ghost", "dualconv"]
    assert points[2].hetconv == pytest.approx(3.0)  # attribute access, as before
    figures = []
    monkeypatch.setattr(hetcalc.plot, "_save", lambda figure, path: figures.append(figure))
    hetcalc.plot.plot_curve(points, (3, 3), tmp_path / "curve.png", 256)
    (figure,) = figures
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == [expected[1] for expected in CURVES.values() if expected is not None]


def test_the_depth_note_names_every_series():
    from hetcalc.curve import depth_note

    assert depth_note() == ("HetConv and DualConv have sequential depth 0; GWC+PWC, DWC+PWC, "
                            "PConv+PWC and Ghost add one layer (depth 1).")


# -- the table itself ---------------------------------------------------------------------

def test_the_table_refuses_a_kind_declared_twice():
    specs = list(KINDS.values())
    assert kind_table(specs) == KINDS
    twice = replace(KINDS[Kind.DWC_PWC], token="dw")
    with pytest.raises(ValueError, match="DWC_PWC is declared twice"):
        kind_table([*specs, twice])


@pytest.mark.parametrize(("token", "numbered", "match"), [
    ("p", False, "token 'p' overlaps kind HETCONV's"),     # p vs p<P>
    ("pc", True, "token 'pc' overlaps kind HETCONV_PC's"),  # pc<n> vs pc
    ("gwc", True, "token 'gwc' overlaps kind GWC_PWC's"),   # the same grammar twice
    ("p1", False, "lowercase letters only"),                # p1 is a spelling of p<P>
    ("dw-se", False, "lowercase letters only"),             # would read as dw with -se
])
def test_the_table_refuses_an_overlapping_grammar(token, numbered, match):
    table = {kind: spec for kind, spec in KINDS.items() if kind is not Kind.DWC_PWC}
    clash = replace(KINDS[Kind.DWC_PWC], token=token, numbered=numbered)
    with pytest.raises(ValueError, match=match):
        kind_table([*table.values(), clash])


@pytest.mark.parametrize("name", ["carry", "costlier", "curve", "cost", "build", "intermediates"])
def test_a_kind_must_state_every_consumer_it_serves(name):
    """No default: a new kind that forgets how to carry weights (or its costlier clause, or its
    curve) fails when it is declared, not later by keeping fresh weights."""
    spec = KINDS[Kind.DWC_PWC]
    given = {field.name: getattr(spec, field.name) for field in dataclasses.fields(KindSpec)
             if field.name != name}
    with pytest.raises(TypeError, match=name):
        KindSpec(**given)


def test_p1_is_the_standard_conv():
    assert parse_variant("p1") == parse_variant("std")


def test_hetconv_does_not_fit_where_p_does_not_divide():
    assert parse_variant("p3").check(SHAPE) == "P=3 does not divide M=8 input channels"
    assert parse_variant("gwc3").check(SHAPE) == "G=3 does not divide M=8 input channels"


def test_hetconv_needs_zero_and_symmetric_padding():
    reflect = replace(SHAPE, padding_mode="reflect")
    assert "padding_mode='reflect'" in parse_variant("p4").check(reflect)
    assert parse_variant("gwc4").check(reflect) is None  # its K×K conv pads the same way
    same_even = replace(SHAPE, kernel=(2, 2), padding=(0, 0), padding_symmetric=False)
    assert "asymmetrically" in parse_variant("p4").check(same_even)
