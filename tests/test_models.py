import textwrap

import pytest
import torch

from hetcalc import models
from hetcalc.errors import InvalidArgument, ModelLoadError, UnknownModel


def test_registry_has_torchvision_and_paper_models():
    names = [e.name for e in models.list_models()]
    assert names == sorted(names)
    for name in ("resnet50", "vgg16", "mobilenet_v2", "vit_h_14", "vgg16_cifar",
                 "resnet56_cifar", "mobilenet_cifar"):
        assert name in names


@pytest.mark.parametrize(("name", "shape"), [
    ("resnet50", (1, 3, 224, 224)), ("inception_v3", (1, 3, 299, 299)),
    ("vgg16_cifar", (1, 3, 32, 32)),
])
def test_default_input_shapes(name, shape):
    assert models.resolve(name).input_shape == shape


def test_list_models_filters_with_fnmatch():
    assert [e.name for e in models.list_models("resnet5*")] == ["resnet50", "resnet56_cifar"]
    assert models.list_models("nothing*") == []


def test_register_refuses_duplicates():
    with pytest.raises(ValueError, match="'resnet50' is already registered"):
        models.register_model("resnet50", (1, 3, 224, 224))(lambda: torch.nn.Identity())


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModel, match="unknown model 'resnet5'; did you mean resnet50"):
        models.resolve("resnet5")


@pytest.mark.parametrize(("text", "expected"), [("1,3,32,32", (1, 3, 32, 32)),
                                                ("2x3x64x48", (2, 3, 64, 48)),
                                                ("1,1,16000", (1, 1, 16000)),
                                                ("8, 3, 16, 112, 112", (8, 3, 16, 112, 112))])
def test_parse_input_shape(text, expected):
    assert models.parse_input_shape(text) == expected


@pytest.mark.parametrize("text", ["1,3", "1,3,0,32", "a,b,c,d", "1,3,32,32,1,1", "-1,3,32,32",
                                  "1,3,\u00b2,32", "", "1,3,32.0,32", "1,,32,32"])
def test_parse_input_shape_rejects(text):
    with pytest.raises(InvalidArgument, match=r"^input_shape must be positive integers N,C,L") as error:
        models.parse_input_shape(text)
    assert error.value.argument == "input_shape"


def test_counting_build_allocates_no_weight_storage():
    model = models.build(models.resolve("vgg16"))
    weights = list(model.parameters())
    assert sum(p.numel() for p in weights) == 138_357_544  # torchvision's VGG-16
    assert all(p.untyped_storage().nbytes() <= p.element_size() for p in weights)
    assert not model.training


def test_random_build_is_ordinary():
    model = models.build(models.resolve("resnet56_cifar"), weights="random")
    assert model.conv1.weight.abs().sum() > 0


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(textwrap.dedent("""
        import torch.nn as nn

        def build():
            return nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, padding=1))

        def broken():
            raise RuntimeError("no weights here")

        def not_a_model():
            return 42
    """))
    return path


def test_user_file_model(user_file):
    entry = models.resolve(f"{user_file}:build")
    assert entry.source == "user" and entry.input_shape == (1, 3, 224, 224)
    assert isinstance(models.build(entry), torch.nn.Sequential)


def test_package_module_model():
    entry = models.resolve("hetcalc.models.cifar:vgg16_cifar")
    assert models.build(entry).classifier[-1].out_features == 10


@pytest.mark.parametrize(("suffix", "error", "match"), [
    (":nothing", UnknownModel, "has no function 'nothing'; callables there: broken, build"),
    (":broken", ModelLoadError, "building it failed: no weights here"),
    (":not_a_model", ModelLoadError, "returned int, not an nn.Module"),
])
def test_user_file_errors(user_file, suffix, error, match):
    with pytest.raises(error, match=match):
        models.build(models.resolve(f"{user_file}{suffix}"))


def test_missing_file_and_module():
    with pytest.raises(UnknownModel, match="file nope/net.py does not exist"):
        models.resolve("nope/net.py:build")
    with pytest.raises(UnknownModel, match="no module named 'no_such_pkg'"):
        models.resolve("no_such_pkg.nets:build")


def test_package_exports():
    import hetcalc

    assert hetcalc.parse_variant("p4").part == 4
    assert callable(hetcalc.analyze)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        hetcalc.nothing  # noqa: B018


def test_timm_models_when_timm_is_installed():
    pytest.importorskip("timm", reason="timm is an optional extra (pip install 'timm>=1.0')")
    entry = models.resolve("timm:resnet18")
    assert entry.source == "timm" and entry.input_shape == (1, 3, 224, 224)
    assert sum(p.numel() for p in models.build(entry).parameters()) == 11_689_512
    with pytest.raises(UnknownModel, match="unknown timm model 'resnt18'; did you mean timm:resnet18"):
        models.resolve("timm:resnt18")


# Every family of torchvision.models, registered by name (docs/zoo.md).

FAMILIES = {"": "torchvision", "segmentation": "torchvision (segmentation)",
            "detection": "torchvision (detection)", "video": "torchvision (video)",
            "optical_flow": "torchvision (optical flow)",
            "quantization": "torchvision (quantizable, float)"}


@pytest.mark.parametrize(("module", "source"), FAMILIES.items())
def test_every_torchvision_family_is_registered(module, source):
    import torchvision

    names = torchvision.models.list_models(
        module=getattr(torchvision.models, module) if module else torchvision.models)
    assert names
    assert {n: models.resolve(n).source for n in names} == dict.fromkeys(names, source)


def test_registry_holds_every_torchvision_model():
    import torchvision

    registered = {e.name for e in models.list_models()}
    assert set(torchvision.models.list_models()) <= registered
    assert len(registered) == len(torchvision.models.list_models()) + 3  # + the paper's


@pytest.mark.parametrize(("name", "shape"), [
    ("quantized_inception_v3", (1, 3, 299, 299)), ("quantized_resnet18", (1, 3, 224, 224)),
    ("deeplabv3_resnet50", (1, 3, 520, 520)), ("lraspp_mobilenet_v3_large", (1, 3, 520, 520)),
    ("maskrcnn_resnet50_fpn", (1, 3, 800, 800)), ("ssd300_vgg16", (1, 3, 300, 300)),
    ("ssdlite320_mobilenet_v3_large", (1, 3, 320, 320)),
    ("fasterrcnn_mobilenet_v3_large_320_fpn", (1, 3, 320, 320)),
    ("r3d_18", (1, 3, 16, 112, 112)), ("r2plus1d_18", (1, 3, 16, 112, 112)),
    ("s3d", (1, 3, 16, 224, 224)), ("mvit_v1_b", (1, 3, 16, 224, 224)),
    ("swin3d_t", (1, 3, 16, 224, 224)), ("raft_small", (1, 3, 2, 512, 512)),
])
def test_family_default_input_shapes(name, shape):
    assert models.resolve(name).input_shape == shape


# The no_downloads fixture is in tests/conftest.py: every registered model is built under it
# (once) by tests/test_zoo.py::test_every_registered_model; one model a family here, quickly.
@pytest.mark.parametrize("name", ["resnet18", "lraspp_mobilenet_v3_large", "retinanet_resnet50_fpn",
                                  "r3d_18", "raft_small", "quantized_resnet18"])
def test_one_model_per_family_builds_without_downloading(no_downloads, name):
    assert not models.build(models.resolve(name), weights="meta").training


def test_the_download_guard_works(no_downloads):
    import torchvision

    with pytest.raises(AssertionError, match="a weight download was attempted"):
        torchvision.models.get_model("lraspp_mobilenet_v3_large", weights=None)  # backbone's


def test_detection_builds_with_real_weights_without_downloading(no_downloads):
    model = models.build(models.resolve("ssdlite320_mobilenet_v3_large"), weights="random")
    assert model.backbone.features[0][0][0].weight.abs().sum() > 0


def _plain(name, **kwargs):
    import torchvision

    with torch.device("meta"):
        return torchvision.models.get_model(name, weights=None, **kwargs)


@pytest.mark.parametrize(("name", "kwargs"), [
    ("fasterrcnn_mobilenet_v3_large_320_fpn", {"weights_backbone": None}),
    ("lraspp_mobilenet_v3_large", {"weights_backbone": None}), ("raft_small", {}),
])
def test_adapted_models_keep_their_layer_names(name, kwargs):
    adapted = models.build(models.resolve(name), weights="meta")
    plain = _plain(name, **kwargs)
    assert isinstance(adapted, type(plain)) and type(adapted).__name__ == type(plain).__name__
    assert [n for n, _ in adapted.named_modules()] == [n for n, _ in plain.named_modules()]
    assert [n for n, _ in adapted.named_parameters()] == [n for n, _ in plain.named_parameters()]


@pytest.mark.parametrize(("name", "shape", "outputs"), [
    # segmentation: {"out": N,21,H,W} -> (N,21,H,W,)
    ("lraspp_mobilenet_v3_large", (2, 3, 64, 64), [(2, 21, 64, 64)]),
    # optical flow: a two-frame clip -> one N,2,H,W flow per refinement iteration (12)
    ("raft_small", (1, 3, 2, 128, 128), [(1, 2, 128, 128)] * 12),
])
def test_adapters_take_one_tensor_and_return_tensors(name, shape, outputs):
    model = models.build(models.resolve(name), weights="meta")
    with torch.no_grad():
        result = model(torch.zeros(shape, device="meta"))
    assert isinstance(result, tuple) and [tuple(t.shape) for t in result] == outputs


def test_detection_adapter_returns_the_detections_of_each_image():
    # boxes, labels, scores per image; a zero input yields the cap of 100 detections (docs/zoo.md)
    model = models.build(models.resolve("fasterrcnn_mobilenet_v3_large_320_fpn"))
    with torch.no_grad():
        result = model(torch.zeros(2, 3, 320, 320))
    assert [tuple(t.shape) for t in result] == [(100, 4), (100,), (100,)] * 2


def test_optical_flow_adapter_names_the_expected_layout():
    model = models.build(models.resolve("raft_small"), weights="meta")
    with pytest.raises(ValueError, match=r"^expected two frames as N,C,2,H,W, got input shape "
                                         r"1,6,128,128$"):
        model(torch.zeros(1, 6, 128, 128, device="meta"))


def test_optical_flow_input_of_another_layout_fails_in_one_line(cli):
    code, out, err = cli("analyze", "raft_small", "--input-shape", "1,6,128,128")
    assert code == 2 and out == ""
    assert err == ("hetcalc: error: model 'raft_small' failed to trace with input shape "
                   "1,6,128,128: expected two frames as N,C,2,H,W, got input shape 1,6,128,128\n")


def test_quantizable_model_counts_as_its_float_twin():
    from hetcalc.analysis import trace_spec

    quantizable, plain = trace_spec("quantized_resnet18"), trace_spec("resnet18")
    assert [c.shape for c in quantizable.convs] == [c.shape for c in plain.convs]
    assert (quantizable.flops_total, quantizable.params) == (plain.flops_total, plain.params)


def test_quantizable_models_build_as_float_convolutions():
    # quantize=False: torchvision's float model ready for quantization, its convs nn.Conv2d
    model = models.build(models.resolve("quantized_resnet18"), weights="meta")
    plain = models.build(models.resolve("resnet18"), weights="meta")
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(n, type(m)) for n, m in convs] == [
        (n, type(m)) for n, m in plain.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert sum(p.numel() for p in model.parameters()) == 11_689_512  # resnet18's


def test_models_command_lists_every_family(cli):
    import json

    code, out, _ = cli("models", "--format", "json")
    assert code == 0
    sources = {row["name"]: row["source"] for row in json.loads(out)}
    assert sources["maskrcnn_resnet50_fpn"] == "torchvision (detection)"
    assert sources["raft_large"] == "torchvision (optical flow)"
    assert sources["quantized_resnet18"] == "torchvision (quantizable, float)"
    assert set(sources.values()) == {*FAMILIES.values(), "paper (CIFAR-10)"}
