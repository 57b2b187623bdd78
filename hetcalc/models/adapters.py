"""One tensor in, a tuple of tensors out: adapters for models that take or return anything else.

fvcore's jit trace, torch's ``FlopCounterMode``, the conv recorder and the latency timer all call
``model(x)`` with one zero tensor ``x`` of the input shape. Detection models take a list of
images and return a list of dicts, RAFT takes two frames and returns a list of flows, and the
segmentation models return a dict. An adapter changes only the model's ``forward``: it turns
the one tensor into the model's arguments, calls the model's own forward, and returns the
tensors of its output as a flat tuple (in the order :func:`torch.utils._pytree.tree_leaves`
gives them).

The adapter is a mixin placed before the model's class (:func:`adapt` sets the instance's
class to a subclass of ``(Adapter, ModelClass)``), not a wrapper module: every module, parameter
and buffer keeps its name (``backbone.body.layer1.0.conv2``, not ``model.backbone...``), the
model is still an instance of its class, and substituting a layer by name works as on the plain
model.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils._pytree import tree_leaves


def _tensors(output) -> tuple[torch.Tensor, ...]:
    return tuple(v for v in tree_leaves(output) if isinstance(v, torch.Tensor))


class TensorOutput:
    """``model(x)``, with a dict (segmentation's ``{"out": ..., "aux": ...}``) or any nest of
    tensors returned as a flat tuple."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return _tensors(super().forward(x))


class ImageList:
    """Detection: the batch ``N,C,H,W`` becomes the list of N images the model takes; the
    list of per-image dicts it returns (boxes, labels, scores, masks, keypoints) becomes a flat
    tuple."""

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return _tensors(super().forward(list(images.unbind(0))))


class FramePair:
    """Optical flow: ``N,3,2,H,W`` is a clip of two RGB frames (the video models' N,C,T,H,W
    layout); the model takes them as two images, and its flow predictions (one per refinement
    iteration) come back as a tuple."""

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if frames.dim() != 5 or frames.shape[2] != 2:
            raise ValueError(f"expected two frames as N,C,2,H,W, got input shape "
                             f"{','.join(map(str, frames.shape))}")
        return _tensors(super().forward(frames[:, :, 0], frames[:, :, 1]))


@functools.cache
def _adapted(adapter: type, cls: type[nn.Module]) -> type[nn.Module]:
    return type(cls.__name__, (adapter, cls), {"__module__": __name__,
                                               "__doc__": f"{cls.__name__} with "
                                                          f"{adapter.__name__}'s forward."})


def adapt(model: nn.Module, adapter: type) -> nn.Module:
    """Give ``model`` the ``adapter``'s forward (in place; returns ``model``)."""
    model.__class__ = _adapted(adapter, type(model))
    return model
