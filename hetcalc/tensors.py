"""Storage-free tensors for counting: a model whose weights nobody reads costs no memory.

:func:`materialize_zero` gives every parameter and buffer of a model (typically built on the
meta device) a real CPU value backed by a single zero (a stride-0 view), so a forward pass can
run and be traced while a 632M-parameter model costs no more memory than its activations.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def zero_tensor(shape: torch.Size | tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A CPU tensor of ``shape`` that holds one element: every entry is the same zero."""
    return torch.zeros((), dtype=dtype).expand(shape)


def storage_free(tensor: torch.Tensor) -> bool:
    """True for a :func:`zero_tensor` (more than one element, every stride 0)."""
    return tensor.numel() > 1 and tensor.stride() == (0,) * tensor.dim()


def materialize_zero(model: nn.Module) -> nn.Module:
    """Give every parameter and buffer a real, storage-free value (see :func:`zero_tensor`).

    Parameters keep ``requires_grad``. Used only for counting: the values are all zero.
    """
    for module in model.modules():
        for key, param in module._parameters.items():
            if param is not None:
                module._parameters[key] = nn.Parameter(
                    zero_tensor(param.shape, param.dtype), requires_grad=param.requires_grad
                )
        for key, buffer in module._buffers.items():
            if buffer is not None:
                module._buffers[key] = zero_tensor(buffer.shape, buffer.dtype)
    return model


def _copy_with(model: nn.Module, make) -> nn.Module:
    """A deep copy of ``model`` in which every parameter and buffer is ``make(tensor)``: no
    storage of the original is copied (each tensor is swapped through ``deepcopy``'s memo)."""
    memo: dict[int, torch.Tensor] = {}
    for param in model.parameters():
        if id(param) not in memo:
            memo[id(param)] = nn.Parameter(make(param), requires_grad=param.requires_grad)
    for buffer in model.buffers():
        if id(buffer) not in memo:
            memo[id(buffer)] = make(buffer)
    return copy.deepcopy(model, memo)


def storage_free_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (meta, real or storage-free) whose tensors are :func:`zero_tensor`."""
    return _copy_with(model, lambda t: zero_tensor(t.shape, t.dtype))


def meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose tensors live on the meta device (no storage)."""
    return _copy_with(model, lambda t: torch.empty_like(t, device="meta"))
