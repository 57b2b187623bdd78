"""Residue order carried between layers: every realization with ``residue_in`` / ``residue_out``
computes the layer's function on permuted channels, and ``carry_residue_order`` keeps a model's
function while it removes the permutations, only where nothing in between mixes channels."""

from __future__ import annotations

import copy
import itertools

import pytest
import torch
from torch import nn

from hetcalc.latency import LatencySettings, measure
from hetcalc.nn import HETCONV_CLASSES, PINNED, HetConv2d, carry_residue_order

torch.manual_seed(0)


def residue_index(channels: int, part: int) -> list[int]:
    """Position ``r·(C/P) + j`` holds channel ``j·P + r``, written out by hand."""
    return [j * part + r for r in range(part) for j in range(channels // part)]


def inverse(index: list[int]) -> list[int]:
    back = [0] * len(index)
    for position, channel in enumerate(index):
        back[channel] = position
    return back


# --- one layer --------------------------------------------------------------------------------

SPATIAL = {1: (9,), 2: (7, 6), 3: (4, 5, 3)}


@pytest.mark.parametrize("impl", PINNED)
@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("residue_in,residue_out", list(itertools.product([False, True], repeat=2)))
def test_every_realization_reads_and_writes_residue_order(impl, dims, residue_in, residue_out):
    m, n, p = 8, 12, 4
    for bias, stride, padding in ((True, 1, 1), (False, 2, 0)):
        layer = HETCONV_CLASSES[dims](m, n, 3, p, stride=stride, padding=padding,
                                      bias=bias).double()
        x = torch.randn(2, m, *SPATIAL[dims], dtype=torch.float64)
        expected = nn.functional.__dict__[f"conv{dims}d"](
            x, layer.to_dense(), layer.bias, layer.stride, layer.padding, layer.dilation)
        layer.residue_in, layer.residue_out = residue_in, residue_out
        given = x[:, residue_index(m, p)] if residue_in else x
        for grad in (False, True):
            with torch.set_grad_enabled(grad):
                y = layer.realize(given, impl)
            got = y[:, inverse(residue_index(n, p))] if residue_out else y
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("impl", PINNED)
def test_residue_order_with_a_channels_last_input(impl):
    layer = HetConv2d(16, 8, 3, 4, padding=1).double()
    x = torch.randn(2, 16, 5, 5, dtype=torch.float64)
    expected = nn.functional.conv2d(x, layer.to_dense(), None, 1, 1)
    layer.residue_in = layer.residue_out = True
    given = x[:, residue_index(16, 4)].contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        y = layer.realize(given, impl)
    torch.testing.assert_close(y[:, inverse(residue_index(8, 4))], expected, rtol=0, atol=1e-10)


def test_residue_orders_are_part_of_autos_signature():
    layer = HetConv2d(8, 8, 3, 4, padding=1)
    x = torch.randn(1, 8, 4, 4)
    plain = layer.signature(x)
    layer.residue_in = True
    assert layer.signature(x) != plain and "residue_in=True" in repr(layer)


# --- a model ------------------------------------------------------------------------------------

def _randomize_batch_norms(model: nn.Module) -> nn.Module:
    """Batch norms whose every parameter and statistic differs per channel, so a permutation
    that went wrong shows in the output."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-1, 1)
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    return model.double().eval()


def _chain(dims: int = 2) -> nn.Sequential:
    conv, bn = {1: (nn.Conv1d, nn.BatchNorm1d), 2: (nn.Conv2d, nn.BatchNorm2d),
                3: (nn.Conv3d, nn.BatchNorm3d)}[dims]
    pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims]
    het = HETCONV_CLASSES[dims]
    return _randomize_batch_norms(nn.Sequential(
        conv(3, 8, 3, padding=1, bias=True), bn(8), nn.ReLU(),            # 0-2
        het(8, 8, 3, 4, padding=1, bias=True), bn(8), nn.ReLU(), pool(2),  # 3-6
        het(8, 16, 3, 4, padding=1), bn(16), nn.SiLU(),                    # 7-9
        het(16, 8, 3, 4, padding=1), bn(8), nn.ReLU(),                     # 10-12
        nn.Flatten(), nn.Linear(8 * 2 ** dims, 5)))                        # 13-14


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_a_chain_is_carried_end_to_end_with_the_same_function(dims):
    model = _chain(dims)
    x = torch.randn(2, 3, *(4,) * dims, dtype=torch.float64)
    carried_model = copy.deepcopy(model)
    carried = carry_residue_order(carried_model)
    # the plain conv into the first HetConv, two HetConv -> HetConv, the last one into the linear
    assert [(c.producer, c.consumer) for c in carried] == [
        ("3", "7"), ("7", "10"), ("10", "14"), ("0", "3")]
    assert carried[0].between == ("4", "5", "6") and carried[0].part == 4
    layers = [carried_model[i] for i in (3, 7, 10)]
    assert [(m.residue_in, m.residue_out) for m in layers] == [(True, True)] * 3
    with torch.no_grad():
        torch.testing.assert_close(carried_model(x), model(x), rtol=0, atol=1e-10)
        for impl in PINNED:
            for m in layers:
                m.impl = impl
            torch.testing.assert_close(carried_model(x), model(x), rtol=0, atol=1e-10)


class _Residual(nn.Module):
    """A HetConv layer whose output is added to its input (mixes two tensors): not carried."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = HetConv2d(8, 8, 3, 4, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)) + x)


class _TwoUsers(nn.Module):
    """A HetConv output read by two layers: not carried."""

    def __init__(self) -> None:
        super().__init__()
        self.a = HetConv2d(8, 8, 3, 4, padding=1)
        self.b = HetConv2d(8, 8, 3, 4, padding=1)
        self.c = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        return self.b(y) + self.c(y)


class _Shared(nn.Module):
    """The same HetConv layer called twice: not carried (one set of flags for two calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = HetConv2d(8, 8, 3, 4, padding=1)
        self.b = HetConv2d(8, 8, 3, 4, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(self.b(self.a(x)))


class _Aliased(nn.Module):
    """One HetConv layer registered under two names and called under each: not carried."""

    def __init__(self) -> None:
        super().__init__()
        self.a = HetConv2d(8, 8, 3, 4, padding=1)
        self.b = self.a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


class _Branching(nn.Module):
    """Control flow on a value: ``torch.fx`` cannot trace it, so nothing is carried."""

    def __init__(self) -> None:
        super().__init__()
        self.a = HetConv2d(8, 8, 3, 4, padding=1)
        self.b = HetConv2d(8, 8, 3, 4, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        return self.b(y) if y.sum() > 0 else y


class _FlattenCall(nn.Module):
    """``torch.flatten`` as a call, then a linear layer over 8 channels x 4 pixels: carried,
    reported as the linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = HetConv2d(8, 8, 3, 4, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(8 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.conv(x)), 1))


@pytest.mark.parametrize("build,expected", [
    (_FlattenCall, [("conv", "fc")]),
    (_Residual, []),
    (_TwoUsers, []),
    (_Shared, []),
    (_Aliased, []),
    (_Branching, []),
    # P = 4 into P = 2: the residue orders differ, so the tensor stays in channel order
    (lambda: nn.Sequential(HetConv2d(8, 8, 3, 4, padding=1), HetConv2d(8, 8, 3, 2, padding=1)),
     []),
    # a grouped plain conv cannot take permuted filters
    (lambda: nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=2),
                           HetConv2d(8, 8, 3, 4, padding=1)), []),
    # a channel-mixing op in between (a softmax over channels)
    (lambda: nn.Sequential(HetConv2d(8, 8, 3, 4, padding=1), nn.Softmax(dim=1),
                           HetConv2d(8, 8, 3, 4, padding=1)), []),
    (lambda: nn.Sequential(HetConv2d(8, 8, 3, 4, padding=1), nn.Dropout(),
                           HetConv2d(8, 8, 3, 4, padding=1)), [("0", "2")]),
])
def test_only_what_nothing_else_reads_is_carried(build, expected):
    model = _randomize_batch_norms(build())
    x = torch.randn(2, 8, 6, 6, dtype=torch.float64)
    carried_model = copy.deepcopy(model)
    carried = carry_residue_order(carried_model)
    assert [(c.producer, c.consumer) for c in carried] == expected
    with torch.no_grad():
        torch.testing.assert_close(carried_model(x), model(x), rtol=0, atol=1e-10)


def test_torchvision_resnet18_carries_conv1_into_conv2_in_each_block():
    torchvision = pytest.importorskip("torchvision")
    from hetcalc.substitute import substitute
    from hetcalc.variants import part_variant

    standard = torchvision.models.resnet18().eval()
    model, _ = substitute(standard, part_variant(4), (1, 3, 64, 64), impl="exact")
    model = _randomize_batch_norms(model)
    carried_model = copy.deepcopy(model)
    carried = carry_residue_order(carried_model)
    # 4 stages x 2 BasicBlocks; conv2's output meets the shortcut, so only conv1 -> conv2
    assert len(carried) == 4 * 2
    assert all(c.producer.endswith("conv1") and c.consumer.endswith("conv2") for c in carried)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(carried_model(x), model(x), rtol=1e-9, atol=1e-9)


def test_measure_times_a_carried_copy_and_leaves_the_model_alone():
    model = _chain(2).float()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    timed = measure({"chain": model}, (1, 3, 4, 4),
                    LatencySettings(device="cpu", min_run_time=0.02, rounds=3))
    assert timed["chain"].carried == (("3", "7"), ("7", "10"), ("10", "14"), ("0", "3"))
    assert len(timed["chain"].realizations) == 3
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(m.residue_in or m.residue_out for m in model.modules()
                   if isinstance(m, HetConv2d))


# --- the convs that feed a layer take the layout its realization reads ------------------------

def _fed(conv: type[nn.Module] = nn.Conv2d) -> nn.Sequential:
    """A plain conv feeding HetConv layer 3 through batch norm and ReLU, then a second one."""
    return nn.Sequential(conv(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         HetConv2d(8, 8, 3, 4, padding=1, impl="auto"), nn.ReLU(),
                         HetConv2d(8, 8, 3, 4, padding=1, impl="auto")).eval()


def test_feeding_convs_are_the_plain_2d_and_3d_convs_carried_into_a_layer():
    from hetcalc.nn import feeding_convs

    model = _fed()
    carried = [(c.producer, c.consumer) for c in carry_residue_order(model)]
    assert carried == [("3", "5"), ("0", "3")]
    assert feeding_convs(model, carried) == {"3": model[0]}  # 3 -> 5 is two HetConv layers
    one_d = nn.Sequential(nn.Conv1d(3, 8, 3, padding=1), nn.ReLU(),
                          HETCONV_CLASSES[1](8, 8, 3, 4, padding=1))
    pairs = [(c.producer, c.consumer) for c in carry_residue_order(one_d)]
    assert pairs == [("0", "2")] and feeding_convs(one_d, pairs) == {}  # no channels-last in 1-D


@pytest.mark.parametrize(("winner", "channels_last"), [("fast-cl", True), ("exact", False)])
def test_tuning_lays_a_feeding_conv_out_as_its_layer_reads(monkeypatch, winner, channels_last):
    """Whatever configuration wins, the conv that feeds layer 3 leaves its output in the layout
    that layer's realization reads (a conv's output takes its weight's layout), and the model
    computes what it did."""
    from hetcalc.nn import _auto, _tune, feeding_convs, tune_realizations
    from hetcalc.nn import hetconv as hetconv_module

    model = _fed()
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        expected = model(x)
    pairs = [(c.producer, c.consumer) for c in carry_residue_order(model)]
    clock = [0.0]
    for layer in (model[3], model[5]):  # each call costs 1 on the winner, 5 on anything else
        layer.register_forward_hook(lambda m, a, out: clock.__setitem__(
            0, clock[0] + (1.0 if m.impl == winner else 5.0)))
    monkeypatch.setattr(hetconv_module, "_time_realizations", lambda run, names, device: "gemm")
    monkeypatch.setattr(_auto.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(_tune, "TUNE_MAX_CALL_SECONDS", 100.0)
    with torch.no_grad():
        assert tune_realizations(model, x, feeding_convs(model, pairs)) == {"3": winner,
                                                                             "5": winner}
        weight = model[0].weight
        assert weight.is_contiguous(memory_format=torch.channels_last) == channels_last
        assert weight.is_contiguous() != channels_last
        torch.testing.assert_close(model(x), expected)


def test_timing_lays_out_its_own_copy_and_leaves_the_model_as_built():
    model = _fed()
    before = model[0].weight.detach().clone()
    timed = measure({"m": model}, (1, 3, 6, 6),
                    LatencySettings(device="cpu", min_run_time=0.05, rounds=3))
    assert ("0", "3") in timed["m"].carried
    assert model[0].weight.is_contiguous() and torch.equal(model[0].weight, before)
