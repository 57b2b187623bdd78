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
    pytest.importorskip("timm", reason="timm is an optional extra (pip install 'hetcalc[timm]')")
    entry = models.resolve("timm:resnet18")
    assert entry.source == "timm" and entry.input_shape == (1, 3, 224, 224)
    assert sum(p.numel() for p in models.build(entry).parameters()) == 11_689_512
    with pytest.raises(UnknownModel, match="unknown timm model 'resnt18'; did you mean timm:resnet18"):
        models.resolve("timm:resnt18")
