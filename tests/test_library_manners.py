"""The library leaves what it was given as it was: the caller's random state, model, hooks and
frozen layers.

- ``compare`` and ``find_plan`` time models on random weights and inputs; the caller's seeded
  run must go on as if they had not run (torch's CPU generator, and CUDA's where present).
- A user's forward hooks and pre-hooks belong to the user's model: hetcalc's internal copies do
  not run them while counting, so a hook that raises cannot fail ``analyze``.
- ``substitute`` returns a model whose replaced layers keep what the user set on the old ones:
  ``requires_grad`` of the weights and bias they carry, forward hooks, pre-hooks, attributes.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hetcalc.analysis import analyze
from hetcalc.compare import compare
from hetcalc.devices import device_spec
from hetcalc.plan.budget import Budget
from hetcalc.plan.search import find_plan
from hetcalc.settings import LatencySettings
from hetcalc.substitute import substitute
from hetcalc.variants import parse_variant

SHAPE = (1, 8, 8, 8)
QUICK = LatencySettings(device="cpu", min_run_time=0.01, rounds=2, threads=1)


def tiny() -> nn.Module:
    """Two 3x3 convs 8 -> 8 -> 8: the second is the one a variant replaces (the first is kept,
    as in the paper)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))


def _raise(*args, **kwargs):
    raise RuntimeError("the user's hook ran")


def _snapshot(model: nn.Module) -> tuple[dict, list]:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    hooks = [(name, dict(m._forward_hooks), dict(m._forward_pre_hooks), m.training)
             for name, m in model.named_modules()]
    return state, hooks


def _unchanged(model: nn.Module, before: tuple[dict, list]) -> bool:
    state, hooks = before
    now = model.state_dict()
    return (now.keys() == state.keys() and all(torch.equal(now[k], state[k]) for k in state)
            and _snapshot(model)[1] == hooks)


# -- the caller's random state ------------------------------------------------------------------

def _random_state() -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _same_state(a, b) -> bool:
    (cpu_a, cuda_a), (cpu_b, cuda_b) = a, b
    if not torch.equal(cpu_a, cpu_b):
        return False
    if cuda_a is None or cuda_b is None:
        return cuda_a is None and cuda_b is None
    return all(torch.equal(x, y) for x, y in zip(cuda_a, cuda_b, strict=True))


def test_compare_with_latency_leaves_the_random_state_as_it_was():
    model = tiny()
    torch.manual_seed(1234)
    before = _random_state()
    expected = torch.rand(4)  # what the caller's next draw is without hetcalc
    torch.manual_seed(1234)
    result = compare(model, [parse_variant("p4")], SHAPE, latency=QUICK,
                     device_model=device_spec("t4"))
    assert result.baseline_latency is not None  # it did time, drawing random inputs
    assert _same_state(_random_state(), before)
    assert torch.equal(torch.rand(4), expected)


def test_find_plan_with_a_latency_budget_leaves_the_random_state_as_it_was():
    model = tiny()
    torch.manual_seed(99)
    expected = torch.rand(4)
    torch.manual_seed(99)
    result = find_plan(model, Budget(max_latency_ms=1e6), input_shape=SHAPE, latency=QUICK)
    assert result.latency_settings is not None  # timed
    assert torch.equal(torch.rand(4), expected)


def test_a_compare_that_fails_also_leaves_the_random_state():
    model = tiny()
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    with pytest.raises(Exception):  # noqa: B017 - whatever fails, the state comes back
        compare(model, [parse_variant("p4")], (1, 3, 8, 8), latency=QUICK,
                device_model=device_spec("t4"))  # 3 channels into a conv of 8
    assert torch.equal(torch.rand(4), expected)


# -- the user's hooks and model -----------------------------------------------------------------

def test_analyze_does_not_run_the_users_hooks_and_leaves_the_model_alone():
    model = tiny()
    model[2].register_forward_hook(_raise)
    model[0].register_forward_pre_hook(_raise)
    model.register_forward_hook(_raise)
    before = _snapshot(model)
    report = analyze(model, parse_variant("p4"), SHAPE)
    # conv 2 at P=4: Eq. 4 per output pixel 8·(8/4)·9 + 8·(8 - 8/4) = 144 + 48 = 192 MACs,
    # over 8·8 = 64 pixels; the standard conv is 8·8·9·64 = 36864
    replaced = [layer for layer in report.layers if layer.substituted]
    assert [layer.flops_analytic for layer in replaced] == [192 * 64]
    assert replaced[0].flops_counted == 192 * 64  # counted on a copy, its hooks set aside
    assert _unchanged(model, before)
    with pytest.raises(RuntimeError, match="the user's hook ran"):  # still there, still live
        model(torch.zeros(SHAPE))


def test_compare_does_not_run_the_users_hooks_and_leaves_the_model_alone():
    model = tiny()
    seen = []
    model[2].register_forward_hook(lambda m, args, out: seen.append(m))
    model[2].register_forward_pre_hook(_raise)
    before = _snapshot(model)
    compare(model, [parse_variant("p4"), parse_variant("gwc2")], SHAPE)
    assert seen == []
    assert _unchanged(model, before)


def test_substitute_leaves_the_users_model_alone():
    model = tiny()
    model[2].register_forward_hook(_raise)
    model.train()
    before = _snapshot(model)
    substitute(model, "p4", SHAPE)
    assert _unchanged(model, before)
    assert type(model[2]) is nn.Conv2d


# -- what a replaced layer hands its replacement ------------------------------------------------

def _frozen() -> nn.Module:
    model = tiny()
    for parameter in model[2].parameters():
        parameter.requires_grad_(False)
    return model


@pytest.mark.parametrize("spec", ["p4", "p4-se", "gwc2", "dwc", "pc"])
def test_substitute_keeps_a_frozen_layers_carried_weights_frozen(spec):
    new, _ = substitute(_frozen(), spec, SHAPE)
    layer = new[2][0] if spec.endswith("-se") else new[2]
    carried = dict(layer.named_parameters())
    assert carried and not any(p.requires_grad for p in carried.values()), carried.keys()
    assert all(p.requires_grad for p in new[0].parameters())  # the kept first conv: as it was
    if spec.endswith("-se"):  # the SE block is new, with nothing to carry: trainable
        assert all(p.requires_grad for p in new[2][1].parameters())


def test_substitute_carries_a_frozen_bias_apart_from_the_weight():
    model = tiny()
    model[2].bias.requires_grad_(False)
    new, _ = substitute(model, "p4", SHAPE)
    grads = {name: p.requires_grad for name, p in new[2].named_parameters()}
    assert grads == {"weight_kxk": True, "weight_1x1": True, "bias": False}


def test_a_trainable_layer_stays_trainable():
    new, _ = substitute(tiny(), "gwc2", SHAPE)
    assert all(p.requires_grad for p in new.parameters())


def test_substitute_keeps_forward_hooks_pre_hooks_and_attributes_on_the_replacement():
    model = tiny()
    seen: list[tuple[str, tuple[int, ...]]] = []
    pre = model[2].register_forward_pre_hook(
        lambda m, args: seen.append(("pre", tuple(args[0].shape))))
    model[2].register_forward_hook(lambda m, args, out: seen.append(("post", tuple(out.shape))))
    model[2].tag = "backbone"
    new, _ = substitute(model, "p4", SHAPE)
    assert type(new[2]).__name__ == "HetConv2d"
    assert new[2].tag == "backbone"
    new(torch.zeros(SHAPE))
    assert seen == [("pre", SHAPE), ("post", SHAPE)]
    seen.clear()
    model(torch.zeros(SHAPE))  # the user's own model: its hooks are its own
    assert seen == [("pre", SHAPE), ("post", SHAPE)]
    pre.remove()  # a handle on the original: removes it there, the copy keeps its own
    seen.clear()
    new(torch.zeros(SHAPE))
    assert seen == [("pre", SHAPE), ("post", SHAPE)]


def test_in_place_the_users_handle_still_removes_the_carried_hook():
    model = tiny()
    seen = []
    handle = model[2].register_forward_hook(lambda m, args, out: seen.append(type(m).__name__))
    new, _ = substitute(model, "p4", SHAPE, inplace=True)
    assert new is model
    model(torch.zeros(SHAPE))
    assert seen == ["HetConv2d"]
    handle.remove()
    model(torch.zeros(SHAPE))
    assert seen == ["HetConv2d"]


def test_the_replacement_keeps_the_layers_own_geometry_not_the_convs_attributes():
    new, _ = substitute(tiny(), "p4", SHAPE)
    assert not hasattr(new[2], "padding_mode")  # a conv's attribute, not the user's
    assert not hasattr(new[2], "transposed")
