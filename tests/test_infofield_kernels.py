"""hetcalc.infofield.kernels: the one naming of the kernel kinds and the design grammar.

Expected names are the paper's (Figure 1, Sections 2 and 3.2): written out, not derived."""

from __future__ import annotations

import pytest

from hetcalc.infofield import KERNELS, PAPER_NAMES, Layer, parse_design
from hetcalc.infofield.kernels import SPARSE_KERNELS, KernelKind

# member, grammar token, paper name, reduction code, K×K kernel, written with a group number
KINDS = [
    (KernelKind.CONV, "conv", "Conv", None, True, False),      # 2.1 standard convolution
    (KernelKind.GC, "gc", "GC", "G", True, True),               # 2.2 GConv(G)
    (KernelKind.DW, "dw", "DW", "D", True, False),              # 2.3 depthwise
    (KernelKind.PW, "pw", "PW", "P", False, False),             # 2.4 pointwise 1×1
    (KernelKind.PWG, "pwg", "PWG", "Q", False, True),           # 2.5 PWGConv(G)
    (KernelKind.SHUFFLE, "shuffle", "Shuffle", None, False, False),  # 3.2 channel permutation
]


def test_the_table_walks_every_member():
    assert [row[0] for row in KINDS] == list(KernelKind)


@pytest.mark.parametrize(("kind", "token", "paper_name", "code", "spatial", "grouped"), KINDS)
def test_kind_names_and_properties(kind, token, paper_name, code, spatial, grouped):
    assert (kind.token, kind.paper_name, kind.code) == (token, paper_name, code)
    assert (kind.spatial, kind.grouped) == (spatial, grouped)
    assert kind.value == token


@pytest.mark.parametrize("kind", list(KernelKind))
def test_every_spelling_round_trips(kind):
    assert KernelKind(kind.token) is kind
    assert KernelKind.parse(kind.token) is kind
    assert KernelKind.parse(kind.paper_name) is kind
    assert KernelKind.parse(kind.paper_name.upper()) is kind
    for alias in kind.aliases:
        assert KernelKind.parse(alias) is kind
    if kind.code is not None:
        assert KernelKind.from_code(kind.code) is kind
    groups = "(4)" if kind.grouped or kind is KernelKind.SHUFFLE else ""
    assert parse_design(kind.token + groups) == (Layer(kind.token, 4 if groups else 1),)


def test_no_spelling_names_two_kinds():
    spellings = [s for k in KernelKind for s in {k.token, k.paper_name.lower(), *k.aliases}]
    assert len(spellings) == len(set(spellings))
    codes = [k.code for k in KernelKind if k.code is not None]
    assert len(codes) == len(set(codes)) and all(len(c) == 1 for c in codes)


def test_unknown_names_and_codes():
    assert KernelKind.parse("xw") is None
    with pytest.raises(KeyError):
        KernelKind.from_code("X")


def test_the_four_sparse_kernels_in_the_papers_order():
    # Section 1: GConv, DWConv, PWConv, PWGConv; the reduction's letters G, D, P, Q.
    assert SPARSE_KERNELS == (KernelKind.GC, KernelKind.DW, KernelKind.PW, KernelKind.PWG)
    assert KERNELS == ("gc", "dw", "pw", "pwg")
    assert "".join(k.code for k in SPARSE_KERNELS) == "GDPQ"
    assert PAPER_NAMES == {"conv": "Conv", "gc": "GC", "dw": "DW", "pw": "PW", "pwg": "PWG",
                           "shuffle": "Shuffle"}


def test_channel_behaviour():
    # DW keeps the channel count (one filter per channel), the shuffle only permutes.
    assert [k for k in KernelKind if not k.mixes_channels] == [KernelKind.DW, KernelKind.SHUFFLE]
    assert [k for k in KernelKind if k.pointwise] == [KernelKind.PW, KernelKind.PWG]


@pytest.mark.parametrize(("layer", "label"), [
    (Layer("conv"), "Conv"),
    (Layer("conv", 4), "Conv(4)"),       # a grouped standard conv shows its groups
    (Layer("gc", 4), "GC(4)"),
    (Layer("dw"), "DW"),
    (Layer("pw"), "PW"),
    (Layer("pwg", 8), "PWG(8)"),
    (Layer("shuffle", 2), "Shuffle(2)"),
])
def test_layer_labels(layer, label):
    assert layer.label == label
    assert layer.kernel_kind is KernelKind(layer.kind)
