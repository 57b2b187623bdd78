"""Every registered model: every model of ``torchvision.models.list_models()``, every family,
and the paper's, through hetcalc (docs/zoo.md).

Each model is built once, on the meta device and with every weight download refused, and
traced once at its default input; both variants (``p4`` and ``dwc``) are then planned and
evaluated from that one trace, analytically. torch's count of the baseline is checked against
the GFLOPS torchvision publishes with the model's weights (``meta["_ops"]``, multiply-accumulates
counted by torch's flop counter): equal to the digit, or off by an amount the test computes by
hand (a head torchvision's figure leaves out or adds), or published at another input size. Each
classification model is also substituted with every form of the variant grammar, its output
shape unchanged. One CLI run per family covers the end-to-end path, where every replaced
layer's count must equal the formulas (exact realization).
"""

import copy
import json

import jsonschema
import pytest
import torch
import torchvision
from torchvision.transforms._presets import ImageClassification

from hetcalc import models
from hetcalc.analysis import report_from_decisions
from hetcalc.schemas import schema
from hetcalc.substitute import apply, decide, substitute
from hetcalc.trace import trace_model
from hetcalc.variants import parse_variant

VARIANTS = [parse_variant("p4"), parse_variant("dwc")]
SHAPE_VARIANTS = ["p2", "p4", "pc", "gwc4", "dwc", "p4-se", "std-se"]  # every form of the grammar
SUBSTITUTED = {"p4", "dwc"}  # through substitute() itself, as a user calls it


def published_gmacs(name: str) -> float | None:
    """torchvision's GFLOPS (in fact GMACs) for the model's first weights."""
    return next(iter(torchvision.models.get_model_weights(name))).meta.get("_ops")


# MACs per detection (14x14 RoI features, 256 channels) of the heads that run once per
# detection, and per proposal of the Faster R-CNN box head (7x7 RoI features).
MASK_HEAD = 4 * 14 * 14 * 256 * 256 * 9 + 14 * 14 * 256 * 256 * 2 * 2 + 28 * 28 * 256 * 91
KEYPOINT_HEAD = (14 * 14 * 9 * (256 * 512 + 7 * 512 * 512)  # eight 3x3 convs
                 + 14 * 14 * 512 * 17 * 4 * 4)               # 4x4 transposed conv to 17 maps
BOX_HEAD = 256 * 7 * 7 * 1024 + 1024 * 1024 + 1024 * 91 + 1024 * 91 * 4
# The auxiliary FCN head of the pretrained segmentation weights (aux_loss=True): 3x3 conv to
# C/4 channels, 1x1 conv to 21 classes, at 520/8 = 65 x 65.
AUX_RESNET = 65 * 65 * (1024 * 256 * 9 + 256 * 21)
AUX_MOBILENET = 65 * 65 * (40 * 10 * 9 + 10 * 21)

PUBLISHED_DIFFERENCE = {
    # name: MACs to add to hetcalc's count to get torchvision's figure, and why
    "fcn_resnet50": AUX_RESNET, "fcn_resnet101": AUX_RESNET,        # aux head published
    "deeplabv3_resnet50": AUX_RESNET, "deeplabv3_resnet101": AUX_RESNET,
    "deeplabv3_mobilenet_v3_large": AUX_MOBILENET,
    "maskrcnn_resnet50_fpn": -100 * MASK_HEAD,                      # published: no detection
    "keypointrcnn_resnet50_fpn": -100 * KEYPOINT_HEAD,
    "fasterrcnn_mobilenet_v3_large_fpn": -1000 * BOX_HEAD,          # published: no proposal
    "fasterrcnn_mobilenet_v3_large_320_fpn": -150 * BOX_HEAD,
}


def published_at_another_size(name: str) -> bool:
    """torchvision publishes a classification model's figure at its evaluation crop (240 to 600
    for EfficientNet, 256 for Swin V2, 384 and 518 for the SWAG weights), hetcalc counts it at
    its default input (224x224, 299x299 for Inception V3)."""
    transforms = next(iter(torchvision.models.get_model_weights(name))).transforms()
    return isinstance(transforms, ImageClassification) and \
        transforms.crop_size != [models.resolve(name).input_shape[-1]]


# The families whose models cost most to trace first, so that two test workers share them.
FAMILY_ORDER = ["torchvision (detection)", "torchvision (optical flow)",
                "torchvision (segmentation)", "torchvision (video)",
                "torchvision (quantizable, float)", "torchvision", "paper (CIFAR-10)"]
REGISTERED = [entry.name for entry in sorted(
    models.list_models(), key=lambda e: FAMILY_ORDER.index(e.source))]


def test_the_sweep_covers_every_registered_model():
    assert sorted(REGISTERED) == [entry.name for entry in models.list_models()]
    assert set(torchvision.models.list_models()) < set(REGISTERED)


@pytest.mark.slow
@pytest.mark.parametrize("name", REGISTERED)
def test_every_registered_model(name, no_downloads):
    """Built once, without downloading weights (``no_downloads``), and traced once: the model
    analyses under each variant; a classification model substituted with each form of the
    grammar keeps its output shape; torch's count matches torchvision's published figure."""
    entry = models.resolve(name)
    model = models.build(entry, weights="meta")
    assert not model.training
    trace = trace_model(model, entry.input_shape, name)  # what hetcalc.pipeline.Subject.trace runs
    assert trace.counter == "fvcore" and trace.flops_total > 0 and trace.convs
    assert all(call.shape.batch > 0 for call in trace.convs)  # every head ran on something
    root = trace.modules[""]  # analyze --tree's first row: the whole model, as counted
    assert (trace.flops_of(""), root.params, bool(root.output_shapes)) == (
        trace.flops_total, trace.params, True)
    for variant in VARIANTS:
        decisions = decide(trace.convs, variant)
        report = report_from_decisions(name, trace, variant, decisions)
        assert [layer.name for layer in report.layers] == [call.name for call in trace.convs]
        assert all(d.replace or d.reason for d in decisions), variant.spec
        assert 0 < report.flops_analytic <= report.baseline_flops, variant.spec
        assert report.params <= report.baseline_params, variant.spec
    if entry.source == "torchvision":
        assert_output_shape_unchanged(name, entry, model, trace)
    if not entry.source.startswith("torchvision"):
        return
    published = published_gmacs(name)
    if published is None or published_at_another_size(name):
        return
    assert round((trace.torch_total + PUBLISHED_DIFFERENCE.get(name, 0)) / 1e9, 3) == published


def assert_output_shape_unchanged(name, entry, model, trace):
    """Substituted with every form of the variant grammar, a classification model's output
    shape is unchanged. Shapes only: the models run on the meta device, where every op computes
    its output shape and nothing else (real forward passes of substituted models are tested in
    tests/test_substitute.py).

    ``substitute(model, spec)`` is ``apply`` to a copy of ``model`` of the ``plan`` made from one
    forward pass's conv calls. For ``SUBSTITUTED`` it runs as a user calls it, and its plan must
    be, decision for decision, the plan made from ``trace``'s conv calls; so for the other forms
    the trace's plan is applied to a copy directly, without that forward pass again."""
    x = torch.zeros(entry.input_shape, device="meta")
    with torch.no_grad():
        expected = model(x).shape
    for spec in SHAPE_VARIANTS:
        planned = decide(trace.convs, parse_variant(spec))
        if spec in SUBSTITUTED:
            substituted, decisions = substitute(model, spec, entry.input_shape)
            assert decisions == planned, (name, spec)
        else:
            substituted, decisions = apply(copy.deepcopy(model), planned), planned
        with torch.no_grad():
            assert substituted(x).shape == expected, (name, spec)
        assert all(d.replace or d.reason for d in decisions), (name, spec)


# One command per family, the substituted model really built and counted.
CLI_RUNS = [
    ("squeezenet1_1", ["--variant", "dwc"]),
    ("deeplabv3_mobilenet_v3_large", ["--P", "4", "--input-shape", "1,3,224,224"]),
    ("fasterrcnn_mobilenet_v3_large_320_fpn", ["--P", "4"]),
    ("r3d_18", ["--variant", "dwc"]),
    ("raft_small", ["--P", "4", "--input-shape", "1,3,2,128,128"]),
    ("quantized_resnet18", ["--P", "4"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "options"), CLI_RUNS, ids=[name for name, _ in CLI_RUNS])
def test_analyze_each_family_end_to_end(cli, name, options):
    code, out, err = cli("analyze", name, *options, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    jsonschema.validate(data, schema("analyze"))  # every family's JSON is what docs/json.md says
    replaced = [layer for layer in data["layers"] if layer["substituted"]]
    assert replaced
    assert all(layer["flops_counted"] == layer["flops_analytic"] for layer in replaced)
    assert data["result"]["flops_counted"] == data["result"]["flops_analytic"]
