"""substitute() as a user calls it: a new model, the original untouched, weights carried over."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hetcalc.errors import TraceError
from hetcalc.nn import GroupPointwise, HetConv2d
from hetcalc.nn.init import compose, decompose, decomposition_error
from hetcalc.substitute import substitute
from hetcalc.trace import trace_model


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Dropout(0.5), nn.Conv2d(16, 16, 3, padding=1),
    )


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("spec", ["p2", "gwc2", "dwc", "p4-se"])
def test_substitute_returns_a_new_model_and_leaves_the_original_untouched(spec):
    model = small_net().train()
    fired = []
    model[3].register_forward_hook(lambda *args: fired.append("hook"))
    before, rng = state(model), torch.get_rng_state()
    types = [type(m) for m in model.modules()]
    converted, decisions = substitute(model, spec, (2, 3, 8, 8))
    assert converted is not model
    assert [type(m) for m in model.modules()] == types
    after = state(model)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics included
    assert model.training and all(m.training for m in model.modules())
    assert fired == [] and len(model[3]._forward_hooks) == 1
    assert torch.equal(torch.get_rng_state(), rng)
    assert [d.name for d in decisions if d.replace] == ["3", "7"]
    assert not isinstance(model[3], HetConv2d)


def test_inplace_converts_the_model_itself():
    model = small_net()
    converted, _ = substitute(model, "p2", (1, 3, 8, 8), inplace=True)
    assert converted is model and isinstance(model[3], HetConv2d)


def test_p1_reproduces_the_model_exactly():
    model = small_net().eval()
    x = torch.randn(2, 3, 8, 8)
    converted, _ = substitute(model, "p1", (1, 3, 8, 8))
    assert torch.equal(converted(x), model(x))
    conv = model[3]
    layer = HetConv2d.from_dense(conv, part=1)
    torch.testing.assert_close(layer(x.new_zeros(2, 8, 8, 8) + 1), conv(x.new_zeros(2, 8, 8, 8) + 1),
                               rtol=1.3e-6, atol=1e-5)


@pytest.mark.parametrize("spec", ["p2", "gwc2", "dwc"])
def test_carried_weights_are_closer_to_the_original_than_a_fresh_initialisation(spec):
    torch.manual_seed(1)
    conv = nn.Conv2d(16, 16, 3, padding=1)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), conv).eval()
    x = torch.randn(4, 3, 8, 8)
    reference = model(x)
    kept, _ = substitute(model, spec, (1, 3, 8, 8))
    fresh, _ = substitute(model, spec, (1, 3, 8, 8), keep_weights=False)
    with torch.no_grad():
        kept_error = (kept(x) - reference).norm()
        fresh_error = (fresh(x) - reference).norm()
    assert kept_error < fresh_error


def test_decomposition_recovers_a_weight_it_can_represent():
    torch.manual_seed(2)
    gw, pw = torch.randn(8, 2, 3, 3, dtype=torch.float64), torch.randn(16, 8, 1, 1, dtype=torch.float64)
    dense = compose(gw, pw, 4)  # a GWC(G=4)+PWC pair, written as one dense weight
    assert decomposition_error(dense, 4) < 1e-10
    got_gw, got_pw = decompose(dense, 4)
    torch.testing.assert_close(compose(got_gw, got_pw, 4), dense)


def test_group_pointwise_gets_the_decomposed_weights():
    torch.manual_seed(3)
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=True)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), conv)
    converted, _ = substitute(model, "gwc2", (1, 3, 8, 8))
    layer = converted[1]
    assert isinstance(layer, GroupPointwise)
    gw, pw = decompose(conv.weight, 2)
    assert torch.equal(layer.groupwise.weight, gw) and torch.equal(layer.pointwise.weight, pw)
    assert torch.equal(layer.pointwise.bias, conv.bias)


def test_a_failing_trace_leaves_no_hook_behind():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3))
    with pytest.raises(TraceError, match="failed to trace with input shape 1,4,8,8"):
        trace_model(model, (1, 4, 8, 8))  # 4 channels into a conv that takes 3
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
