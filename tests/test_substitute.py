"""Substituted models, really built: fvcore's count against the formulas, output shapes."""

import pytest
import torch

from hetcalc import formulas, models
from hetcalc.analysis import analyze
from hetcalc.substitute import substitute
from hetcalc.trace import trace_model
from hetcalc.variants import parse_variant


@pytest.fixture(scope="module")
def resnet50_exact():
    return analyze("resnet50", parse_variant("p4"), impl="exact")


@pytest.fixture(scope="module")
def resnet50_fast():
    return analyze("resnet50", parse_variant("p4"), impl="fast")


def test_exact_counted_equals_analytic_on_every_substituted_layer(resnet50_exact):
    replaced = resnet50_exact.substituted
    assert len(replaced) == 16
    for layer in replaced:
        assert layer.flops_counted == layer.flops_analytic, layer.name
        assert layer.note is None
    assert resnet50_exact.flops_counted == resnet50_exact.flops_analytic


def test_fast_counted_exceeds_analytic_by_the_stated_overhead(resnet50_fast):
    total_overhead = 0
    for layer in resnet50_fast.substituted:
        s = layer.shape
        overhead = s.output_size[0] * s.output_size[1] * s.out_channels * (s.in_channels // 4)
        assert layer.flops_counted - layer.flops_analytic == overhead, layer.name
        assert layer.note.startswith("fast realization: its dense 1x1 weight also multiplies the M/P")
        total_overhead += overhead
    assert resnet50_fast.flops_counted - resnet50_fast.flops_analytic == total_overhead


def test_kept_layers_are_counted_as_they_were(resnet50_exact):
    for layer in resnet50_exact.layers:
        if not layer.substituted:
            assert layer.flops_counted == layer.flops_standard, layer.name


@pytest.mark.parametrize("spec", ["p2", "p4", "p64", "pc", "gwc4", "dwc", "p4-se", "std-se"])
def test_vgg_counted_equals_analytic_for_every_variant(spec):
    report = analyze("vgg16_cifar", parse_variant(spec), impl="exact")
    assert report.flops_counted == report.flops_analytic
    assert all(layer.flops_counted == layer.flops_analytic for layer in report.layers)


def test_substitute_returns_model_and_plan():
    model = models.build(models.resolve("resnet56_cifar"), weights="random")
    before = model(torch.randn(2, 3, 32, 32)).shape
    model, decisions = substitute(model, "p4", (1, 3, 32, 32))
    replaced = [d for d in decisions if d.replace]
    # 27 blocks x 2 convs; conv1 stays; P=4 divides 16, 32 and 64.
    assert len(decisions) == 1 + 27 * 2 and len(replaced) == 27 * 2
    assert model(torch.randn(2, 3, 32, 32)).shape == before
    assert sum(p.numel() for p in model.parameters()) == trace_model(
        model, (1, 3, 32, 32)).params


def test_substituted_model_trains():
    """The whole substituted network learns: on one fixed batch (train mode, BatchNorm on batch
    statistics) every new layer's parameters get a gradient and change, and the loss falls.
    (One layer's training against the masked dense conv is tested in tests/test_nn.py.)"""
    torch.manual_seed(0)
    model, decisions = substitute(models.build(models.resolve("resnet56_cifar"),
                                               weights="random"), "p4", (1, 3, 32, 32))
    model.train()
    new = {d.name: model.get_submodule(d.name) for d in decisions if d.replace}
    assert len(new) == 27 * 2
    before = {(name, p): value.detach().clone() for name, layer in new.items()
              for p, value in layer.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(4, 3, 16, 16, generator=generator), torch.tensor([0, 1, 2, 3])
    losses = []
    for step in range(3):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        if step == 0:
            assert all(p.grad is not None and torch.isfinite(p.grad).all()
                       for p in model.parameters())
            silent = [(name, p) for name, layer in new.items()
                      for p, value in layer.named_parameters() if not value.grad.any()]
            assert silent == []  # the gradient reaches every parameter of every new layer
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(not torch.equal(new[name].get_parameter(p), value)
               for (name, p), value in before.items())


def test_fast_overhead_formula_matches_module_count():
    report = analyze("vgg16_cifar", parse_variant("p8"), impl="fast")
    expected = sum(formulas.fast_hetconv_overhead(layer.shape.output_size, layer.shape.in_channels,
                                                  layer.shape.out_channels, 8)
                   for layer in report.substituted)
    assert report.flops_counted - report.flops_analytic == expected


# The output shape of every torchvision classification model substituted with every form of
# the grammar: tests/test_zoo.py::test_every_registered_model (each model is built once there).


# MobileNet-CIFAR blocks as (Do, M, N): the depthwise conv's output size and the pair's channels.
MOBILENET_BLOCKS = [(32, 32, 64), (16, 64, 128), (16, 128, 128), (8, 128, 256), (8, 256, 256),
                    (4, 256, 512)] + [(4, 512, 512)] * 5 + [(2, 512, 1024), (2, 1024, 1024)]


def test_mobilenet_pairs_merge_into_one_hetconv_each():
    report = analyze("mobilenet_cifar", parse_variant("p32"), impl="exact", merge_pairs=True)
    dw_pw = sum(d * d * m * 9 + d * d * m * n for d, m, n in MOBILENET_BLOCKS)
    hetconv = sum(d * d * n * (m // 32 * 9 + m - m // 32) for d, m, n in MOBILENET_BLOCKS)
    bn_between = sum(2 * d * d * m for d, m, _ in MOBILENET_BLOCKS)  # fvcore: 2 per element
    assert report.flops_analytic == report.baseline_flops - dw_pw - bn_between + hetconv
    assert report.flops_counted == report.flops_analytic
    assert all(layer.flops_counted == layer.flops_analytic for layer in report.layers)
    params_between = sum(2 * m for _, m, _ in MOBILENET_BLOCKS)
    assert report.params == report.baseline_params - sum(m * 9 + m * n for _, m, n in
                                                         MOBILENET_BLOCKS) \
        - params_between + sum(n * (m // 32 * 9 + m - m // 32) for _, m, n in MOBILENET_BLOCKS)
    merged = [layer for layer in report.layers if layer.note and "pointwise conv merged" in
              layer.note]
    assert len(merged) == len(MOBILENET_BLOCKS)


@pytest.mark.parametrize("name", ["mobilenet_cifar", "mobilenet_v2", "mobilenet_v3_small"])
def test_merged_pairs_keep_output_shape_and_param_count(name):
    entry = models.resolve(name)
    model = models.build(entry, weights="random")
    x = torch.randn(1, *entry.input_shape[1:])
    expected = model(x).shape
    model, decisions = substitute(model, "p4", entry.input_shape, merge_pairs=True)
    assert any(d.pair is not None for d in decisions)
    assert model(x).shape == expected
    report = analyze(name, parse_variant("p4"), impl=None, merge_pairs=True)
    assert sum(p.numel() for p in model.parameters()) == report.params
