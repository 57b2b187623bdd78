"""Every model of ``torchvision.models.list_models()``, by family: how to build it without
downloading anything, the input it is counted on, and the adapter its forward needs.

A family is one torchvision submodule. Its builders are called with ``weights=None`` and with
every other pretrained switch off (``weights_backbone=None`` for detection and segmentation),
so no weight file is ever fetched. Models whose forward does not take one tensor and return
tensors get an adapter (:mod:`hetcalc.models.adapters`). docs/zoo.md says why each default
input is what it is and what is counted for each family.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

from torch import nn

from hetcalc.models.adapters import FramePair, ImageList, TensorOutput, adapt

InputShape = tuple[int, ...]

IMAGENET_SHAPE: InputShape = (1, 3, 224, 224)
INCEPTION_SHAPE: InputShape = (1, 3, 299, 299)
SEGMENTATION_SHAPE: InputShape = (1, 3, 520, 520)
"""torchvision's evaluation size for its segmentation models (resize to 520)."""
DETECTION_SHAPE: InputShape = (1, 3, 800, 800)
"""The R-CNN, RetinaNet and FCOS transforms resize the shorter side to 800: an 800×800 image is
processed as it is."""
VIDEO_SHAPE: InputShape = (1, 3, 16, 112, 112)
"""16 frames of 112×112, the clips the video ResNets (r3d_18, mc3_18, r2plus1d_18) are
trained on."""
VIDEO_224_SHAPE: InputShape = (1, 3, 16, 224, 224)
"""16 frames of 224×224: MViT's fixed input, S3D's and Swin3D's evaluation crop."""
FLOW_SHAPE: InputShape = (1, 3, 2, 512, 512)
"""Two RGB frames of 512×512, laid out as a two-frame clip N,C,T,H,W like the video models'."""


@dataclass(frozen=True)
class Family:
    """One torchvision submodule's models: where they come from, how to build them, their
    default input shape and the adapter their forward needs (``None``: one tensor in and out)."""

    source: str
    module: str
    """Attribute of ``torchvision.models`` holding the family's builders ("" for the
    classification models at the top level)."""
    shape: Callable[[str], InputShape]
    adapter: type | None = None
    switches: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments besides ``weights=None``: pretrained parts off, and settings that
    fix what a zero input makes the model count."""


def _classification_shape(name: str) -> InputShape:
    return INCEPTION_SHAPE if name.endswith("inception_v3") else IMAGENET_SHAPE


def _detection_shape(name: str) -> InputShape:
    if name == "ssd300_vgg16":
        return (1, 3, 300, 300)
    if name.startswith("ssdlite320") or name.endswith("_320_fpn"):
        return (1, 3, 320, 320)
    return DETECTION_SHAPE


def _video_shape(name: str) -> InputShape:
    return VIDEO_SHAPE if name in ("r3d_18", "mc3_18", "r2plus1d_18") else VIDEO_224_SHAPE


RCNN_SWITCHES = {"box_score_thresh": 0.0}
"""R-CNN models keep every detection whatever its score, up to ``box_detections_per_img``
(100): a zero input scores every class alike, below the default threshold of 0.05, and the mask
and keypoint heads, which run once per detection, would then count nothing."""

FAMILIES: tuple[Family, ...] = (
    Family("torchvision", "", _classification_shape),
    Family("torchvision (segmentation)", "segmentation", lambda name: SEGMENTATION_SHAPE,
           TensorOutput, {"weights_backbone": None}),
    Family("torchvision (detection)", "detection", _detection_shape, ImageList,
           {"weights_backbone": None}),
    Family("torchvision (video)", "video", _video_shape),
    Family("torchvision (optical flow)", "optical_flow", lambda name: FLOW_SHAPE, FramePair),
    Family("torchvision (quantizable, float)", "quantization", _classification_shape,
           switches={"quantize": False}),
)
"""Classification keeps the plain source "torchvision" (scripts filter on it)."""


def _build(name: str, adapter: type | None, kwargs: dict[str, Any]) -> nn.Module:
    import torchvision

    model = torchvision.models.get_model(name, weights=None, **kwargs)
    return adapt(model, adapter) if adapter is not None else model


def switches(family: Family, name: str) -> dict[str, Any]:
    """The keyword arguments (besides ``weights=None``) ``name``'s builder is called with."""
    extra = RCNN_SWITCHES if family.module == "detection" and "rcnn" in name else {}
    return {**family.switches, **extra}


def entries() -> Iterator[tuple[str, Callable[[], nn.Module], InputShape, str]]:
    """``(name, builder, input shape, source)`` for every torchvision model, family by family."""
    import torchvision

    for family in FAMILIES:
        module: ModuleType = (getattr(torchvision.models, family.module) if family.module
                              else torchvision.models)
        for name in torchvision.models.list_models(module=module):
            builder = partial(_build, name, family.adapter, switches(family, name))
            yield name, builder, family.shape(name), family.source
