"""``analyze --tree``: the module tree (hetcalc/modtree.py, render/tree.py). Every count is
arithmetic on the layers of a small nested model, never the code's own figure: a module's MACs
are its children's plus its own operators', a module deeper than the depth shown is in its
parent's row, and the substituted model's column is read at the original's names."""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap

import pytest
import torch
from test_cli_80 import _body_words, _on_a_terminal
from torch import nn

from hetcalc import analyze, parse_variant
from hetcalc.errors import InvalidArgument
from hetcalc.modtree import ModuleStats, TreeRow, depth_of, module_tree
from hetcalc.render import OutputFormat, render_text, to_string
from hetcalc.render.analysis import render_analysis

SHAPE = (1, 3, 32, 32)
P4 = parse_variant("p4")

# Per module of Net at 1,3,32,32: (MACs, params, p4 MACs, p4 params, output shape).
STEM_CONV = (16 * 3 * 9 * 32 * 32, 16 * 3 * 9)  # 3->16 3x3 'same'
CONV = (16 * 16 * 9 * 32 * 32, 16 * 16 * 9)  # 16->16 3x3, replaced
CONV_P4 = (32 * 32 * 16 * (16 // 4 * 9 + 16 - 16 // 4), 16 * (16 // 4 * 9 + 16 - 16 // 4))  # Eq. 4
POINTWISE = (8 * 16 * 32 * 32, 8 * 16)  # 16->8 1x1
MIX = (1 * 8 * 8, 8 * 8)  # the root's own x @ mix, (1, 8) @ (8, 8)
HEAD = (8 * 10, 8 * 10 + 10)  # Linear 8->10 with bias
UNUSED_PARAMS = 4 * 4 + 4  # Linear 4->4, never called

EXPECTED = {
    "": (STEM_CONV[0] + CONV[0] + POINTWISE[0] + MIX[0] + HEAD[0],
         STEM_CONV[1] + CONV[1] + POINTWISE[1] + MIX[1] + HEAD[1] + UNUSED_PARAMS,
         STEM_CONV[0] + CONV_P4[0] + POINTWISE[0] + MIX[0] + HEAD[0],
         STEM_CONV[1] + CONV_P4[1] + POINTWISE[1] + MIX[1] + HEAD[1] + UNUSED_PARAMS,
         [1, 10]),
    "stem": (STEM_CONV[0], STEM_CONV[1], STEM_CONV[0], STEM_CONV[1], [1, 16, 32, 32]),
    "stem.0": (STEM_CONV[0], STEM_CONV[1], STEM_CONV[0], STEM_CONV[1], [1, 16, 32, 32]),
    "stem.1": (0, 0, 0, 0, [1, 16, 32, 32]),
    "block": (CONV[0] + POINTWISE[0], CONV[1] + POINTWISE[1], CONV_P4[0] + POINTWISE[0],
              CONV_P4[1] + POINTWISE[1], [1, 8, 32, 32]),
    "block.conv": (CONV[0], CONV[1], CONV_P4[0], CONV_P4[1], [1, 16, 32, 32]),
    "block.inner": (POINTWISE[0], POINTWISE[1], POINTWISE[0], POINTWISE[1], [1, 8, 32, 32]),
    "block.inner.0": (POINTWISE[0], POINTWISE[1], POINTWISE[0], POINTWISE[1], [1, 8, 32, 32]),
    "block.inner.1": (0, 0, 0, 0, [1, 8, 32, 32]),
    "unused": (0, UNUSED_PARAMS, 0, UNUSED_PARAMS, None),
    "head": (HEAD[0], HEAD[1], HEAD[0], HEAD[1], [1, 10]),
}
ORDER = ["", "stem", "stem.0", "stem.1", "block", "block.conv", "block.inner", "block.inner.0",
         "block.inner.1", "unused", "head"]

NET_SOURCE = '''
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.inner = nn.Sequential(nn.Conv2d(16, 8, 1, bias=False), nn.ReLU())

    def forward(self, x):
        return self.inner(self.conv(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding="same", bias=False), nn.ReLU())
        self.block = Block()
        self.unused = nn.Linear(4, 4)
        self.head = nn.Linear(8, 10)
        self.mix = nn.Parameter(torch.zeros(8, 8))

    def forward(self, x):
        x = self.block(self.stem(x)).mean((2, 3))
        return self.head(x @ self.mix)


def build():
    model = Net()
    model.input_shape = (1, 3, 32, 32)
    return model
'''


def _net() -> nn.Module:
    namespace: dict = {}
    exec(compile(NET_SOURCE, "net.py", "exec"), namespace)
    return namespace["build"]()


@pytest.fixture(scope="module")
def full_tree():
    """The report of Net under p4 with every module (depth 3 is Net's deepest)."""
    return analyze(_net(), P4, input_shape=SHAPE, tree=3)


def _by_name(report) -> dict[str, TreeRow]:
    return {row.name: row for row in report.tree}


def test_every_module_has_its_macs_params_and_output_shape(full_tree):
    assert [row.name for row in full_tree.tree] == ORDER
    for name, (macs, params, macs_p4, params_p4, shape) in EXPECTED.items():
        row = _by_name(full_tree)[name]
        assert (row.macs, row.params, row.macs_variant, row.params_variant,
                row.output_shape) == (macs, params, macs_p4, params_p4, shape), name
        assert row.depth == (0 if not name else name.count(".") + 1)


def test_the_root_and_the_totals_agree(full_tree):
    root = _by_name(full_tree)[""]
    assert (root.macs, root.params) == (full_tree.baseline_flops, full_tree.baseline_params)
    assert (root.macs_variant, root.params_variant) == (full_tree.flops_counted,
                                                        full_tree.params)


@pytest.mark.parametrize(("depth", "names"), [
    (0, [""]),
    (1, ["", "stem", "block", "unused", "head"]),
    (2, ["", "stem", "stem.0", "stem.1", "block", "block.conv", "block.inner", "unused",
         "head"]),
])
def test_deeper_modules_are_folded_into_their_parent(depth, names):
    report = analyze(_net(), P4, input_shape=SHAPE, tree=depth)
    rows = _by_name(report)
    assert list(rows) == names
    for name in names:  # the same figures as with every module shown
        expected = EXPECTED[name]
        assert (rows[name].macs, rows[name].params, rows[name].macs_variant,
                rows[name].params_variant) == expected[:4], name


def test_a_parents_figure_is_its_childrens_plus_its_own_operators(full_tree):
    rows = _by_name(full_tree)
    children = ("stem", "block", "unused", "head")
    assert rows[""].macs == sum(rows[c].macs for c in children) + 1 * 8 * 8  # x @ mix
    assert rows[""].params == sum(rows[c].params for c in children) + 8 * 8  # mix
    assert rows["block"].macs_variant == rows["block.conv"].macs_variant + \
        rows["block.inner"].macs_variant


def test_without_counting_the_variants_columns_are_none():
    report = analyze(_net(), P4, input_shape=SHAPE, impl=None, tree=1)
    assert [(row.macs_variant, row.params_variant) for row in report.tree] == [(None, None)] * 5
    assert _by_name(report)["block"].macs == CONV[0] + POINTWISE[0]


def test_the_baseline_variant_has_the_same_figures_in_both_columns():
    report = analyze(_net(), parse_variant("std"), input_shape=SHAPE, tree=2)
    assert all((row.macs_variant, row.params_variant) == (row.macs, row.params)
               for row in report.tree)


def test_no_tree_unless_asked():
    report = analyze(_net(), P4, input_shape=SHAPE, impl=None)
    assert report.tree is None and "tree" not in report.to_dict()


@pytest.mark.parametrize("depth", [-1, 101, "²", "1.5", True])
def test_a_bad_depth_is_refused(depth):
    with pytest.raises(InvalidArgument, match=r"^tree must be an integer from 0 to 100") as caught:
        analyze(_net(), P4, input_shape=SHAPE, tree=depth)
    assert caught.value.argument == "tree"


def test_module_tree_reads_any_counted_model():
    """The tree from two counted models, as the Protocol has them: a module the substituted
    model lacks has no figures there, and several output tensors are a list of shapes."""

    class Counted:
        def __init__(self, modules, macs):
            self.modules, self.macs = modules, macs

        def flops_of(self, name):
            return self.macs.get(name, 0)

    baseline = Counted({"": ModuleStats(10, ((1, 4), (1, 2, 2))), "a": ModuleStats(3),
                        "a.b": ModuleStats(3, ((),))}, {"": 100, "a": 40, "a.b": 40})
    variant = Counted({"": ModuleStats(7, ((1, 4), (1, 2, 2))), "a.b": ModuleStats(0)},
                      {"": 70, "a.b": 10})
    rows = module_tree(baseline, variant, 5)
    assert [row.as_dict() for row in rows] == [
        {"name": "", "depth": 0, "macs": 100, "params": 10, "macs_variant": 70,
         "params_variant": 7, "output_shape": [[1, 4], [1, 2, 2]]},
        {"name": "a", "depth": 1, "macs": 40, "params": 3, "macs_variant": None,
         "params_variant": None, "output_shape": None},
        {"name": "a.b", "depth": 2, "macs": 40, "params": 3, "macs_variant": 10,
         "params_variant": 0, "output_shape": []},
    ]
    assert [depth_of(n) for n in ("", "a", "a.b", "a.b.c")] == [0, 1, 2, 3]


def test_a_module_returning_several_tensors_has_each_shape():
    class Split(nn.Module):
        def forward(self, x):
            return x[:, :1], {"rest": x[:, 1:]}

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.split = Split()

        def forward(self, x):
            first, rest = self.split(self.conv(x))
            return first + rest["rest"][:, :1]

    report = analyze(Twice(), P4, input_shape=(2, 3, 8, 8), tree=1)
    assert _by_name(report)["split"].output_shape == [[2, 1, 8, 8], [2, 3, 8, 8]]
    assert _by_name(report)[""].output_shape == [2, 1, 8, 8]
    assert _by_name(report)["conv"].macs == 2 * 4 * 3 * 9 * 8 * 8  # batch 2


# -- the command and its four formats ---------------------------------------------------------

@pytest.fixture
def net_file(tmp_path):
    path = tmp_path / "net.py"
    path.write_text(textwrap.dedent(NET_SOURCE), encoding="utf-8")
    return f"{path}:build"


def test_json_has_the_tree_with_its_keys(cli, net_file):
    code, out, err = cli("analyze", net_file, "--P", "4", "--depth", "1", "-f", "json")
    assert code == 0, err
    tree = json.loads(out)["tree"]
    assert [row["name"] for row in tree] == ["", "stem", "block", "unused", "head"]
    assert all(set(row) == {"name", "depth", "macs", "params", "macs_variant",
                            "params_variant", "output_shape"} for row in tree)
    block = tree[2]
    assert (block["macs"], block["macs_variant"], block["params_variant"]) == (
        16 * 16 * 9 * 32 * 32 + 8 * 16 * 32 * 32,
        32 * 32 * 16 * (16 // 4 * 9 + 16 - 16 // 4) + 8 * 16 * 32 * 32,
        16 * (16 // 4 * 9 + 16 - 16 // 4) + 8 * 16)
    assert block["output_shape"] == [1, 8, 32, 32] and tree[3]["output_shape"] is None


def test_json_without_tree_is_as_before(cli, net_file):
    code, out, err = cli("analyze", net_file, "--P", "4", "--no-count", "-f", "json")
    assert code == 0, err
    assert "tree" not in json.loads(out)


def test_csv_is_the_tree(cli, net_file):
    code, out, err = cli("analyze", net_file, "--P", "4", "--tree", "-f", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["name", "depth", "macs", "params", "macs_variant",
                             "params_variant", "output_shape"]
    assert [row["name"] for row in rows] == ORDER
    conv = rows[ORDER.index("block.conv")]
    assert (conv["depth"], conv["macs"], conv["macs_variant"], conv["output_shape"]) == (
        "2", str(16 * 16 * 9 * 32 * 32), str(32 * 32 * 16 * (16 // 4 * 9 + 16 - 16 // 4)),
        "1x16x32x32")
    assert rows[ORDER.index("unused")]["output_shape"] == ""


def test_markdown_and_table_indent_by_depth(cli, net_file):
    code, out, err = cli("analyze", net_file, "--P", "4", "--depth", "2", "-f", "markdown")
    assert code == 0, err
    # EXPECTED[""]: 442368 + 2359296 + 131072 + 64 + 80 MACs, 432 + 2304 + 128 + 64 + 90 + 20
    # params; as p4 786432 MACs and 768 params for the 16->16 conv
    assert "| model | 2.93M | 3.04K | 1.36M | 1.50K | 1x10 |" in out
    assert "|   block.conv | 2.36M | 2.30K | 786.43K | 768 | 1x16x32x32 |" in out
    assert "Module tree: MACs per module as fvcore counts them" in out
    report = analyze(_net(), P4, input_shape=SHAPE, tree=2)
    table = to_string(render_text(render_analysis(report), OutputFormat.TABLE))
    assert re.search(r"│   block\.conv +│ +2\.36M │ +2\.30K │ +786\.43K │ +768 │ +1x16x32x32 │",
                     table), table
    assert "), conv layers" not in table  # the tree takes the per-layer rows' place


@pytest.mark.parametrize(("args", "message"), [
    (["--depth", "-1"], "--depth must be an integer from 0 to 100, got '-1'"),
    (["--depth", "²"], "--depth must be an integer from 0 to 100, got '²'"),
    (["--tree", "--totals"], "give either --tree or --totals, not both"),
    (["--depth", "2", "--totals"], "give either --depth or --totals, not both"),
])
def test_bad_tree_options_are_one_line(cli, args, message):
    code, out, err = cli("analyze", "vgg16_cifar", *args)
    assert (code, out) == (2, "")
    assert err.startswith(f"hetcalc: error: {message}") and err.count("\n") == 1, err


def test_eighty_columns_keep_names_and_numbers_whole(tmp_path):
    """As tests/test_cli_80.py holds every command's table: at 80 columns every line fits and
    every word of the tree is a word of the wide table (a name or number never broken)."""
    args = ["analyze", "resnet18", "--P", "4", "--tree"]
    narrow, wide = (_on_a_terminal(args, columns, tmp_path) for columns in (80, 400))
    assert max(len(line) for line in narrow.splitlines()) <= 80, narrow
    assert "layer2.0.downsample" in _body_words(narrow)
    whole = set(_body_words(wide))
    assert [word for word in _body_words(narrow) if word not in whole] == [], narrow


def test_the_shapes_are_torch_s(full_tree):
    """The output shapes are what the modules return (the hook reads them; checked here
    against a plain forward pass)."""
    model = _net().eval()
    with torch.no_grad():
        stem = model.stem(torch.zeros(SHAPE))
    assert _by_name(full_tree)["stem"].output_shape == list(stem.shape)
