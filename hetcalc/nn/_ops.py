"""Tensor helpers of the HetConv realizations: residue order, row layouts, geometry."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_MODULE = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def _tracing() -> bool:
    """Under ``torch.jit.trace`` (fvcore counts this way), ``torch.compile`` or ``torch.export``."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def _eager_inference() -> bool:
    """Eager and without autograd: derived weights may be kept, sums written in place."""
    return not torch.is_grad_enabled() and not _tracing()


def _memory_format(x: torch.Tensor) -> str:
    if x.is_contiguous():
        return "contiguous"
    if _channels_last_contiguous(x):
        return "channels_last"
    return "strided"


def _channels_last_contiguous(x: torch.Tensor) -> bool:
    """Channels innermost, then the spatial axes, then the batch: NHWC (any rank)."""
    return x.permute(0, *range(2, x.dim()), 1).is_contiguous()


def _sizes(x: torch.Tensor) -> tuple[int, ...]:
    """``x.shape[1:]`` (channels and spatial sizes) as plain ints: under ``torch.jit.trace``
    (fvcore) the shape arithmetic below then stays out of the traced graph instead of showing up
    as uncounted ``aten::add``/``sub``. The batch is never taken this way (it is ``-1`` in every
    reshape), so a trace made at one batch size runs at another and ``torch.export`` keeps the
    batch dynamic."""
    if torch.jit.is_tracing():
        return tuple(int(v) for v in x.shape[1:])
    return tuple(x.shape[1:])


def _batch_hint(x: torch.Tensor) -> int:
    """The batch size where it only steers a choice between equal computations (which way
    round to multiply): 1 under tracing or compiling, so no size is specialised on it."""
    return 1 if _tracing() else int(x.shape[0])


def _product(values: tuple[int, ...]) -> int:
    return math.prod(values)


def residue_order(t: torch.Tensor, part: int, dim: int = 1) -> torch.Tensor:
    """Axis ``dim`` of ``t`` in *residue order*: entry ``c = j·P + r`` moves to position
    ``r·(C/P) + j`` (one copy). The one definition of HetConv's channel permutation: inputs,
    filters, weights, biases and index tensors all go through it or :func:`channel_order`."""
    dim %= t.dim()
    channels = _sizes(t)[dim - 1] if dim else int(t.shape[0])
    return _swap_split(t, dim, channels // part, part)


def channel_order(t: torch.Tensor, part: int, dim: int = 1) -> torch.Tensor:
    """The inverse of :func:`residue_order`: position ``r·(C/P) + j`` back to ``j·P + r``."""
    dim %= t.dim()
    channels = _sizes(t)[dim - 1] if dim else int(t.shape[0])
    return _swap_split(t, dim, part, channels // part)


def _swap_split(t: torch.Tensor, dim: int, first: int, second: int) -> torch.Tensor:
    """Axis ``dim`` split into ``first × second``, the two swapped, merged back: reshapes and
    one transpose, which fvcore's trace sees as plain data movement. Past axis 0 the batch is
    ``-1``, so a trace at one batch size runs at another."""
    rest = _sizes(t)
    if dim == 0:
        return t.reshape(first, second, *rest).transpose(0, 1).reshape(-1, *rest)
    before, after = rest[:dim - 1], rest[dim:]
    split = t.reshape(-1, *before, first, second, *after).transpose(dim, dim + 1)
    return split.reshape(-1, *before, first * second, *after)


def _to_residue_order(x: torch.Tensor, part: int) -> torch.Tensor:
    """Channels (dim 1) of ``x`` in residue order (:func:`residue_order`)."""
    return residue_order(x, part, 1)


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` with channels innermost in memory (any rank); ``x`` itself when it already is."""
    d = x.dim() - 2
    return x.permute(0, *range(2, 2 + d), 1).contiguous().permute(0, d + 1, *range(1, d + 1))


def _residue_channels_last(x: torch.Tensor, part: int) -> torch.Tensor:
    """``x`` in residue order (see :func:`_to_residue_order`) and channels-last (channels
    innermost in memory), in one copy; the shape is ``x``'s."""
    d = x.dim() - 2
    rows = residue_order(x.permute(0, *range(2, 2 + d), 1), part, -1)  # [b, *spatial, C], a copy
    return rows.permute(0, d + 1, *range(1, d + 1))


def _rows(x: torch.Tensor, channels: int) -> torch.Tensor:
    """The ``[b·pixels, C]`` matrix of ``x``: a view when ``x`` is channels-last."""
    return x.permute(0, *range(2, x.dim()), 1).reshape(-1, channels)


def _from_rows(rows: torch.Tensor, out_size: tuple[int, ...], channels: int) -> torch.Tensor:
    """Inverse of :func:`_rows`: ``[b, C, *out_size]``, channels-last in memory."""
    d = len(out_size)
    return rows.reshape(-1, *out_size, channels).permute(0, d + 1, *range(1, d + 1))


def _centre_offset(kernel: tuple[int, ...]) -> int:
    """Where the centre tap ``(k // 2, ...)`` is in the kernel flattened axis by axis."""
    offset = 0
    for k in kernel:
        offset = offset * k + k // 2
    return offset


def _filter_order_rows(rows: torch.Tensor, part: int) -> torch.Tensor:
    """Columns of a ``[pixels, N]`` matrix from residue order to filter order, one copy."""
    return channel_order(rows, part, 1)


def _centre_index(out_channels: int, in_channels: int, part: int) -> torch.Tensor:
    """``N×M`` int64: where the dense 1×1 weight of filter ``n`` on channel ``c`` lives in
    ``weight_1x1.reshape(-1)``, or ``N·(M − M/P)`` (one past the end: the constant zero) where
    the filter has a K×K kernel. Filter and channel order (not residue order)."""
    p, per = part, in_channels // part
    n = torch.arange(out_channels, device="cpu")[:, None]
    c = torch.arange(in_channels, device="cpu")[None, :]
    r, i = n % p, n // p
    s, j = c % p, c // p
    row = r * (out_channels // p) + i
    t = (s - r - 1) % p
    flat = row * (in_channels - per) + t * per + j
    return torch.where(s == r, out_channels * (in_channels - per), flat)
