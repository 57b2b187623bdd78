"""What a substitution keeps of trained weights (hetcalc.fidelity), on weights of known
structure: a weight that lies in HetConv's pattern is kept whole, a rank-1 weight is recovered
whole by GWC/DWC's least squares, and on a model trained a little the figures move the right
way (P = 2 keeps more than P = 8)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hetcalc.fidelity import (
    CALIBRATION_BATCH,
    _probe,
    calibration_input,
    dense_weight,
    energy_kept,
    layer_energy,
    measure,
)
from hetcalc.layers import build_variant_layer
from hetcalc.nn import hetconv_mask
from hetcalc.substitute import decide
from hetcalc.trace import conv_calls
from hetcalc.variants import KINDS, parse_variant


def _two_convs(weight: torch.Tensor) -> nn.Module:
    """A stem conv (kept, as the first conv) and the conv under test, whose weight is given."""
    n, m, k, _ = weight.shape
    model = nn.Sequential(nn.Conv2d(3, m, 3, padding=1, bias=False),
                          nn.Conv2d(m, n, k, padding=k // 2, bias=False))
    with torch.no_grad():
        model[1].weight.copy_(weight)
    return model.eval()


def _carried(conv: nn.Module, spec: str) -> nn.Module:
    variant = parse_variant(spec)
    layer = build_variant_layer(conv, variant, "exact")
    KINDS[variant.kind].carry(conv, layer)
    return layer


def test_a_weight_in_hetconvs_pattern_keeps_all_its_energy_and_its_output():
    torch.manual_seed(0)
    n, m, part = 8, 8, 4
    weight = torch.randn(n, m, 3, 3) * hetconv_mask(n, m, (3, 3), part)
    model = _two_convs(weight)
    decisions = decide(conv_calls(model, (1, 3, 10, 10)), parse_variant(f"p{part}"))
    inputs, _ = calibration_input((1, 3, 10, 10))
    found = measure(model, decisions, inputs)
    layer = found.layers["1"]
    assert layer.energy_kept == 1.0
    assert layer.output_error == pytest.approx(0.0, abs=1e-6)
    assert found.model.output_cosine == pytest.approx(1.0, abs=1e-6)
    assert found.model.energy_kept == 1.0
    assert found.model.top1_agreement is None  # a [batch, N, H, W] output: not a classifier


def test_a_weight_outside_the_pattern_keeps_the_masked_share():
    # Every entry 1: a K x K kernel on M/P = 2 of 8 channels, a centre tap on the other 6,
    # so (2 * 9 + 6 * 1) of the 8 * 9 entries of each filter are kept.
    weight = torch.ones(8, 8, 3, 3)
    conv = _two_convs(weight)[1]
    shape = conv_calls(_two_convs(weight), (1, 3, 6, 6))[1].shape
    kept = energy_kept(conv.weight, dense_weight(_carried(conv, "p4"), shape))
    assert kept == (2 * 9 + 6 * 1) / (8 * 9)


@pytest.mark.parametrize("spec", ["gwc2", "dwc"])
def test_a_rank_one_weight_is_recovered_whole_by_least_squares(spec):
    # W[n, c, k] = u[n] * v[c, k]: rank 1 in every group, which GWC+PWC (rank M/G per group)
    # and DWC+PWC (rank 1 per input channel) represent exactly.
    torch.manual_seed(1)
    weight = torch.einsum("n,ck->nck", torch.randn(6), torch.randn(4, 9)).reshape(6, 4, 3, 3)
    model = _two_convs(weight)
    decisions = decide(conv_calls(model, (2, 3, 7, 7)), parse_variant(spec))
    inputs, _ = calibration_input((1, 3, 7, 7))
    layer = measure(model, decisions, inputs).layers["1"]
    assert layer.energy_kept == pytest.approx(1.0, abs=1e-9)
    assert layer.output_error == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("stride,padding,mode", [(1, 1, "zeros"), (2, 1, "zeros"),
                                                 (2, 0, "zeros"), (1, 1, "reflect")])
def test_probing_reads_the_dense_weight_a_layer_computes(stride, padding, mode):
    torch.manual_seed(2)
    conv = nn.Conv2d(8, 8, 3, stride, padding, padding_mode=mode, bias=True)
    shape = conv_calls(nn.Sequential(conv), (1, 8, 9, 9))[0].shape
    gwc = _carried(conv, "gwc2")
    from hetcalc.nn.init import compose

    expected = compose(gwc.groupwise.weight.double(), gwc.pointwise.weight.double(), 2)
    assert torch.allclose(_probe(gwc, shape), expected, atol=1e-6)
    if mode == "zeros":  # HetConv's own dense weight, read both ways
        het = _carried(conv, "p2")
        assert torch.allclose(_probe(het, shape), het.to_dense().double(), atol=1e-6)


def test_the_calibration_batch_is_seeded_and_leaves_the_random_state():
    before = torch.random.get_rng_state()
    a, described = calibration_input((1, 3, 5, 5))
    b, _ = calibration_input((1, 3, 5, 5))
    assert torch.equal(a, b) and a.shape == (CALIBRATION_BATCH, 3, 5, 5)
    assert "seed 0" in described
    assert torch.equal(torch.random.get_rng_state(), before)


class _Cifar(nn.Module):
    """A small CIFAR-shaped classifier: 32x32 RGB in, 10 classes out."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(32, 10)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def _synthetic(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Ten classes, each a fixed random image (seeded), seen through noise."""
    templates = torch.randn(10, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    labels = torch.randint(0, 10, (count,), generator=generator)
    return templates[labels] + 0.5 * torch.randn(count, 3, 32, 32, generator=generator), labels


@pytest.fixture(scope="module")
def trained_cifar():
    """Trained for a few steps on synthetic data, and a held-out batch of the same data."""
    torch.manual_seed(3)
    generator = torch.Generator().manual_seed(3)
    model = _Cifar()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(40):
        x, y = _synthetic(32, generator)
        loss = nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval(), _synthetic(64, generator)[0]


def test_on_a_trained_model_p2_keeps_more_than_p8(trained_cifar):
    model, inputs = trained_cifar
    convs = conv_calls(model, (1, 3, 32, 32))
    found = {spec: measure(model, decide(convs, parse_variant(spec)), inputs)
             for spec in ("p2", "p8")}
    p2, p8 = found["p2"], found["p8"]
    assert set(p2.layers) == set(p8.layers) == {"features.3", "features.7"}
    for name in p2.layers:
        assert p2.layers[name].energy_kept > p8.layers[name].energy_kept
        assert p2.layers[name].output_error < p8.layers[name].output_error
    assert p2.model.energy_kept > p8.model.energy_kept
    # The whole model's figures are measured, not ordered: a few steps from a random start
    # leave weights whose dropped taps matter about as much at P = 2 as at P = 8.
    for figures in (p2.model, p8.model):
        assert -1 <= figures.output_cosine <= 1
        assert figures.top1_agreement is not None  # [batch, 10]: a classifier
        assert figures.top1_agreement * 64 == round(figures.top1_agreement * 64)


def test_layer_energy_is_what_measure_reports(trained_cifar):
    trained_cifar, _ = trained_cifar
    conv = trained_cifar.features[3]
    shape = conv_calls(trained_cifar, (1, 3, 32, 32))[1].shape
    total = float(conv.weight.detach().double().square().sum())
    assert layer_energy(conv, parse_variant("std"), shape) == total
    inputs, _ = calibration_input((1, 3, 32, 32))
    decisions = decide(conv_calls(trained_cifar, (1, 3, 32, 32)), parse_variant("p4"))
    share = measure(trained_cifar, decisions, inputs).layers["features.3"].energy_kept
    assert layer_energy(conv, parse_variant("p4"), shape) / total == pytest.approx(share)


def test_measure_leaves_the_model_as_it_was(trained_cifar):
    model, inputs = trained_cifar
    model.train()
    model.features[1].eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    measure(model, decide(conv_calls(model, (1, 3, 32, 32)), parse_variant("p4")), inputs[:4])
    assert model.training and not model.features[1].training and model.features[4].training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()
