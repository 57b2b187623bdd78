"""HetConv (Singh et al., CVPR 2019, Section 3) as a real, trainable layer, for 1-D, 2-D and 3-D
convolutions (:class:`HetConv1d`, :class:`HetConv2d`, :class:`HetConv3d`). The paper's layer is
2-D; the pattern and both realizations carry over unchanged to any number of spatial dimensions,
with "K×K" read as the whole kernel and "1×1" as its centre tap.

**Pattern** (paper Fig. 3): with part ``P``, filter ``n`` has a K×K kernel on every input
channel ``c`` with ``c ≡ n (mod P)`` (``M/P`` of them) and a 1×1 kernel on every other channel.

**Function.** A :class:`HetConv2d` computes exactly ``F.conv2d(x, W, bias, stride, padding,
dilation)`` where ``W`` (:meth:`HetConv2d.to_dense`) is the ``N×M×kh×kw`` dense weight that is
zero wherever :func:`hetconv_mask` is False: a 1×1 kernel sits at the kernel's centre tap
``(kh // 2, kw // 2)`` (for an even kernel too). The 1×1 part therefore sees the input shifted by
``centre · dilation − padding`` and subsampled by the stride, like that tap of the K×K conv.

**Realizations** (``impl``), both computing that function from the same parameters:

* ``"exact"`` executes Eq. 4's MACs, as fvcore counts them, to the MAC: the input channels are
  put in *residue order* (channel ``c`` goes to group ``c mod P``; reshape/permute/cat, which
  fvcore does not count), a K×K conv with ``P`` groups does the K×K kernels (Eq. 2) and one
  batched matmul (``aten::bmm``, ``P`` batches) whose batch ``r`` multiplies only the
  ``(P−1)·M/P`` centre taps of the other residues does the 1×1 kernels (Eq. 3).
* ``"fast"`` does the same K×K conv and one dense 1×1 conv over all ``M`` channels whose weights
  at the K×K channels are a constant zero: ``Do·Do·N·M/P`` MACs more than Eq. 4
  (:func:`hetcalc.formulas.fast_hetconv_overhead`).

**Parameters.** Only the entries the pattern keeps are parameters, so a masked position can never
be learned (no gradient, no weight decay can reach it); both realizations hold the same parameters
in the same layout, so their state dicts are interchangeable. Rows of ``weight_kxk`` and
``weight_1x1`` are in residue order: row ``r·(N/P) + i`` belongs to filter ``n = i·P + r``.
``weight_kxk[r·N/P + i, j]`` is the K×K kernel on input channel ``j·P + r``;
``weight_1x1[r·N/P + i, t·M/P + j]`` is the 1×1 weight on input channel ``j·P + s`` with
``s = (r + 1 + t) mod P``, ``t = 0..P−2`` (the other residues, cyclically from ``r + 1``).
``bias`` is in filter order.
:meth:`HetConv2d.to_dense` / :meth:`HetConv2d.load_dense` convert from and to the dense layout.
"""

from __future__ import annotations

import enum
import math

import torch
import torch.nn.functional as F
from torch import nn

from hetcalc.formulas import conv_output_size
from hetcalc.shapes import resolve_padding


class Impl(enum.StrEnum):
    """HetConv realizations."""

    EXACT = "exact"  # executes exactly Eq. 4's MACs
    FAST = "fast"  # grouped K x K + dense 1x1: Do*Do*N*M/P MACs more


IMPLS = tuple(impl.value for impl in Impl)
"""HetConv realizations: ``exact`` runs Eq. 4's MACs, ``fast`` runs ``Do·Do·N·M/P`` more."""

_Size = int | tuple[int, ...]
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_MODULE = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


def _tuple(value: _Size, name: str, minimum: int, dims: int) -> tuple[int, ...]:
    size = (value,) * dims if isinstance(value, int) else tuple(value)
    if len(size) != dims or not all(isinstance(v, int) and v >= minimum for v in size):
        raise ValueError(f"{name} must be an int >= {minimum} or {dims} of them, got {value!r}")
    return size


def _check_part(out_channels: int, in_channels: int, part: int) -> None:
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("part", part)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if in_channels % part:
        raise ValueError(f"part P={part} does not divide in_channels={in_channels}")
    if out_channels % part:
        raise ValueError(f"part P={part} does not divide out_channels={out_channels}")


def hetconv_mask(out_channels: int, in_channels: int, kernel_size: _Size,
                 part: int) -> torch.Tensor:
    """The ``N×M×k...`` bool mask of the dense weight that a HetConv layer keeps (on the CPU).

    ``mask[n, c]`` is all True when ``c ≡ n (mod P)`` (a K×K kernel) and True only at the centre
    tap ``k // 2`` of every axis otherwise (a 1×1 kernel). An int ``kernel_size`` is 2-D.
    """
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    kernel = _tuple(kernel, "kernel_size", 1, len(kernel))
    _check_part(out_channels, in_channels, part)
    n = torch.arange(out_channels, device="cpu")
    c = torch.arange(in_channels, device="cpu")
    kxk = (c[None, :] - n[:, None]) % part == 0
    mask = kxk.reshape(out_channels, in_channels, *(1,) * len(kernel))
    mask = mask.expand(out_channels, in_channels, *kernel).clone()
    mask[(slice(None), slice(None), *(k // 2 for k in kernel))] = True
    return mask


def _sizes(x: torch.Tensor) -> tuple[int, ...]:
    """``x.shape`` as plain ints: under ``torch.jit.trace`` (fvcore) the shape arithmetic below
    then stays out of the traced graph instead of showing up as uncounted ``aten::add``/``sub``."""
    return tuple(int(v) for v in x.shape)


def _product(values: tuple[int, ...]) -> int:
    return math.prod(values)


def _to_residue_order(x: torch.Tensor, part: int) -> torch.Tensor:
    """Channels ``c = j·P + r`` of ``x`` (dim 1) to position ``r·(C/P) + j`` (one copy)."""
    b, c, *spatial = _sizes(x)
    return x.reshape(b, c // part, part, *spatial).transpose(1, 2).reshape(b, c, *spatial)


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


class _HetConvNd(nn.Module):
    """A HetConv layer with part ``P`` over ``dims`` spatial dimensions; see the module
    docstring for the pattern and layout.

    Requires ``P | in_channels`` and ``P | out_channels``. ``kernel_size``, ``stride``,
    ``padding`` and ``dilation`` take an int or one int per dimension (zero padding only).
    ``impl`` is ``"exact"`` (Eq. 4's MACs) or ``"fast"`` (Eq. 4 + ``Do·Do·N·M/P``).
    """

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Size, part: int,
                 stride: _Size = 1, padding: _Size = 0, dilation: _Size = 1, bias: bool = False,
                 impl: str = "exact") -> None:
        super().__init__()
        _check_part(out_channels, in_channels, part)
        if impl not in IMPLS:
            raise ValueError(f"impl must be one of {', '.join(IMPLS)}, got {impl!r}")
        d = self.dims
        self.in_channels, self.out_channels, self.part = in_channels, out_channels, part
        self.impl = str(impl)  # a StrEnum member becomes its plain value
        self.kernel_size = _tuple(kernel_size, "kernel_size", 1, d)
        self.stride = _tuple(stride, "stride", 1, d)
        self.padding = _tuple(padding, "padding", 0, d)
        self.dilation = _tuple(dilation, "dilation", 1, d)
        per = in_channels // part
        self.weight_kxk = nn.Parameter(torch.empty(out_channels, per, *self.kernel_size))
        self.weight_1x1 = nn.Parameter(torch.empty(out_channels, in_channels - per, *(1,) * d))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        # Index constants from the shape alone (nothing here needs data, so the layer can be
        # built on the meta device), on the CPU and per device once used; not state. The one
        # the forward pass needs is built now, outside any torch.jit trace (fvcore's).
        self._index_on: dict[tuple[str, torch.device], torch.Tensor] = {}
        if impl == "fast":
            self._index("centre", torch.device("cpu"))
        self._centre_cache: tuple[tuple, torch.Tensor] | None = None
        self.reset_parameters()

    # -- parameters -------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """Uniform in ``±1/sqrt(fan_in)`` with the filter's real fan-in ``M/P·K² + M − M/P``,
        as ``nn.Conv2d``'s default initialisation does with its dense fan-in."""
        per = self.in_channels // self.part
        fan_in = per * _product(self.kernel_size) + self.in_channels - per
        bound = 1 / math.sqrt(fan_in)
        for param in (self.weight_kxk, self.weight_1x1, self.bias):
            if param is not None:
                nn.init.uniform_(param, -bound, bound)

    def _index(self, name: str, device: torch.device) -> torch.Tensor:
        """``"centre"``: :func:`_centre_index`; ``"others"``: row ``r`` lists the residues other
        than ``r`` cyclically from ``r + 1`` (the column blocks of ``weight_1x1``)."""
        key = (name, device)
        if key not in self._index_on:
            cpu = (name, torch.device("cpu"))
            if cpu not in self._index_on:
                p = self.part
                if name == "centre":
                    index = _centre_index(self.out_channels, self.in_channels, p)
                else:
                    index = (torch.arange(p, device="cpu")[:, None] + 1
                             + torch.arange(p - 1, device="cpu")[None, :]) % p
                self._index_on[cpu] = index
            self._index_on[key] = self._index_on[cpu].to(device)
        return self._index_on[key]

    def _dense_centre(self) -> torch.Tensor:
        """The ``N×M`` dense 1×1 weights (filter and channel order, zero at K×K channels).

        Without autograd (inference) the result is kept until ``weight_1x1`` changes (its
        storage or version counter), so ``impl="fast"`` does not rebuild it on every call.
        """
        w = self.weight_1x1
        key = None
        if not torch.is_grad_enabled() and not w.is_inference():
            key = (w.data_ptr(), w._version, w.dtype, w.device)
            if self._centre_cache is not None and self._centre_cache[0] == key:
                return self._centre_cache[1]
        flat = torch.cat([w.reshape(-1), w.new_zeros(1)])
        dense = flat[self._index("centre", w.device)]
        self._centre_cache = None if key is None else (key, dense)
        return dense

    def to_dense(self) -> torch.Tensor:
        """The ``N×M×k...`` dense weight this layer equals (zero where the mask is False).

        Differentiable in the parameters. ``F.conv2d(x, layer.to_dense(), layer.bias,
        layer.stride, layer.padding, layer.dilation)`` computes ``layer(x)`` (``conv1d`` and
        ``conv3d`` for the other dimensions).
        """
        n, m, p, k, d = self.out_channels, self.in_channels, self.part, self.kernel_size, self.dims
        # weight_kxk[r, i] -> dense[i·P + r, j·P + r]: a block diagonal over the residues.
        kxk = self.weight_kxk.reshape(p, n // p, m // p, *k).permute(1, 2, *range(3, 3 + d), 0)
        kxk = torch.diag_embed(kxk, dim1=1, dim2=3).reshape(n, m, *k)
        pads = [side for size in reversed(k) for side in (size // 2, size - 1 - size // 2)]
        centre = F.pad(self._dense_centre().reshape(n, m, *(1,) * d), pads)
        return kxk + centre

    @torch.no_grad()
    def load_dense(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> _HetConvNd:
        """Take the entries of a dense ``N×M×k...`` weight that the pattern keeps (the K×K
        kernels where ``c ≡ n (mod P)``, the centre tap elsewhere); the rest is dropped."""
        n, m, p, k, d = self.out_channels, self.in_channels, self.part, self.kernel_size, self.dims
        if tuple(weight.shape) != (n, m, *k):
            raise ValueError(f"dense weight must have shape {(n, m, *k)}, "
                             f"got {tuple(weight.shape)}")
        if (bias is None) != (self.bias is None):
            raise ValueError("bias must be given exactly when the layer has a bias")
        w6 = weight.reshape(n // p, p, m // p, p, *k)                 # [i, r, j, s, k...]
        kxk = w6.diagonal(dim1=1, dim2=3)                             # [i, j, k..., r]
        self.weight_kxk.copy_(kxk.permute(2 + d, 0, 1, *range(2, 2 + d)).reshape(n, m // p, *k))
        centre = weight[(slice(None), slice(None), *(size // 2 for size in k))]
        centre = centre.reshape(n // p, p, m // p, p).permute(1, 0, 3, 2)   # [r, i, s, j]
        others = self._index("others", weight.device)                 # [r, t] -> s
        picked = centre[torch.arange(p, device=weight.device)[:, None], :, others]  # [r, t, i, j]
        self.weight_1x1.copy_(picked.permute(0, 2, 1, 3).reshape(n, m - m // p, *(1,) * d))
        if bias is not None:
            self.bias.copy_(bias)
        return self

    @classmethod
    def from_dense(cls, conv: nn.Module, part: int, impl: str = "exact") -> _HetConvNd:
        """A HetConv layer with ``conv``'s shape, stride, padding, dilation and bias that keeps
        ``conv``'s K×K kernels where the pattern has them and its centre tap elsewhere.

        ``conv`` must be an ``nn.Conv1d/2d/3d`` with ``groups == 1`` and symmetric zero
        padding; the layer class follows its dimensions. The new layer lives on ``conv``'s
        device with its dtype.
        """
        layer = hetconv_like(conv, part, impl)
        if conv.weight.device.type != "meta":
            layer.load_dense(conv.weight, conv.bias)
        return layer

    def to_conv(self) -> nn.Module:
        """The dense ``nn.Conv1d/2d/3d`` this layer equals (weight :meth:`to_dense`, same bias)."""
        w = self.weight_kxk
        conv = _CONV_MODULE[self.dims](self.in_channels, self.out_channels, self.kernel_size,
                                       self.stride, self.padding, self.dilation,
                                       bias=self.bias is not None, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            conv.weight.copy_(self.to_dense())
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv

    to_conv2d = to_conv

    # -- forward ----------------------------------------------------------------------------
    def _out_size(self, x: torch.Tensor) -> tuple[int, ...]:
        return tuple(conv_output_size(size, k, s, p, d) for size, k, s, p, d in zip(
            _sizes(x)[2:], self.kernel_size, self.stride, self.padding, self.dilation,
            strict=True))

    def _centre_tap(self, x: torch.Tensor, out_size: tuple[int, ...]) -> torch.Tensor:
        """What the centre tap of the K×K conv multiplies: ``x`` shifted by
        ``padding − centre·dilation`` (zero-padded, or cropped when negative) and subsampled by
        the stride, ``Do`` per axis. ``x`` itself for a "same" conv with stride 1."""
        pads: list[int] = []
        for size, k, s, p, d, out in zip(_sizes(x)[2:], self.kernel_size, self.stride,
                                         self.padding, self.dilation, out_size, strict=True):
            before = p - (k // 2) * d
            pads = [before, (out - 1) * s + 1 - size - before, *pads]  # last axis first
        if any(pads):
            x = torch.constant_pad_nd(x, pads)
        if any(s != 1 for s in self.stride):
            x = x[(slice(None), slice(None), *(slice(None, None, s) for s in self.stride))]
        return x

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
              groups: int) -> torch.Tensor:
        return _CONV[self.dims](x, weight, bias, self.stride, self.padding, self.dilation, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.part == 1:  # every kernel is K×K: a standard conv
            return self._conv(x, self.weight_kxk, self.bias, 1)
        if self.impl == "exact":
            return self._forward_exact(x)
        return self._forward_fast(x)

    def _forward_exact(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 2 as a K×K conv with P groups, Eq. 3 as one batched matmul over the residues.

        The centre taps go into ``v``, residue blocks ``0..P−1, 0..P−2`` (one ``aten::cat``);
        residue ``r``'s filters need blocks ``r+1 .. r+P−1``, an overlapping window of ``v``
        taken as a strided view, so ``bmm`` runs exactly ``N·(M − M/P)`` MACs per pixel."""
        p, n, m, d = self.part, self.out_channels, self.in_channels, self.dims
        c = m // p
        b = _sizes(x)[0]
        out = self._out_size(x)
        pixels = _product(out)
        tap = self._centre_tap(x, out)
        per_residue = tap.reshape(b, c, p, *out).permute(2, 1, 0, *range(3, 3 + d))  # [s, j, b, ...]
        v = torch.cat([per_residue, per_residue[:p - 1]])
        # At batch 1 with a "same" conv, the first P blocks of v are x in residue order.
        xr = v[:p].reshape(1, m, *out) if b == 1 and tap is x else _to_residue_order(x, p)
        bias = None if self.bias is None else self.bias.reshape(n // p, p).t().reshape(n)
        y = self._conv(xr, self.weight_kxk, bias, p)
        cols = b * pixels
        window = v.as_strided((p, (p - 1) * c, cols), (c * cols, cols, 1),
                              v.storage_offset() + c * cols)
        weight = self.weight_1x1.reshape(p, n // p, (p - 1) * c)
        if cols >= n // p:  # [r, i, (b, pixels)]
            y1 = torch.bmm(weight, window).reshape(p, n // p, b, pixels).permute(2, 1, 0, 3)
        else:  # few pixels (late layers, batch 1): the transposed product is much faster
            y1 = torch.bmm(window.mT, weight.mT).reshape(p, b, pixels, n // p)
            y1 = y1.permute(1, 3, 0, 2)
        # Both halves to filter order n = i·P + r in the same pass as their sum.
        y = y.reshape(b, p, n // p, pixels).permute(0, 2, 1, 3)
        if torch.is_grad_enabled():
            return (y + y1).reshape(b, n, *out)
        result = x.new_empty((b, n // p, p, pixels))
        return torch.add(y, y1, out=result).reshape(b, n, *out)

    def _forward_fast(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 2 as a K×K conv with P groups, then a dense 1×1 conv over all M centre taps (zero
        weights at the K×K channels): ``Do·Do·N·M/P`` MACs more than Eq. 3."""
        p, n, m, d = self.part, self.out_channels, self.in_channels, self.dims
        b = _sizes(x)[0]
        out = self._out_size(x)
        pixels = _product(out)
        y = self._conv(_to_residue_order(x, p), self.weight_kxk, None, p)
        tap = self._centre_tap(x, out)
        result = _CONV[d](tap, self._dense_centre().reshape(n, m, *(1,) * d), self.bias)
        result = result.reshape(b, n // p, p, pixels)
        result.add_(y.reshape(b, p, n // p, pixels).transpose(1, 2))
        return result.reshape(b, n, *out)

    def extra_repr(self) -> str:
        per = self.in_channels // self.part
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"part={self.part}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, bias={self.bias is not None}, impl={self.impl!r}, "
                f"kxk_per_filter={per}, 1x1_per_filter={self.in_channels - per}")


class HetConv1d(_HetConvNd):
    """HetConv over one spatial dimension (audio, sequences): K×K reads "K"."""

    dims = 1


class HetConv2d(_HetConvNd):
    """HetConv as the paper defines it (Fig. 3)."""

    dims = 2


class HetConv3d(_HetConvNd):
    """HetConv over three spatial dimensions (video, volumes): K×K reads "K×K×K"."""

    dims = 3


HETCONV_CLASSES: dict[int, type[_HetConvNd]] = {1: HetConv1d, 2: HetConv2d, 3: HetConv3d}


def conv_dims(conv: nn.Module) -> int:
    """Spatial dimensions of an ``nn.Conv1d/2d/3d``."""
    for dims, cls in _CONV_MODULE.items():
        if isinstance(conv, cls):
            return dims
    raise TypeError(f"expected nn.Conv1d, nn.Conv2d or nn.Conv3d, got {type(conv).__name__}")


def hetconv_like(conv: nn.Module, part: int, impl: str = "exact",
                 out_channels: int | None = None, bias: bool | None = None) -> _HetConvNd:
    """A freshly initialised HetConv layer with ``conv``'s geometry (kernel, stride, padding,
    dilation, bias) on ``conv``'s device and dtype; ``out_channels``/``bias`` override (a merged
    depthwise+pointwise pair takes the pointwise conv's)."""
    dims = conv_dims(conv)
    if conv.groups != 1 and out_channels is None:
        raise ValueError(f"HetConv replaces a conv with groups=1, got groups={conv.groups}")
    weight = conv.weight
    with torch.device(weight.device):
        layer = HETCONV_CLASSES[dims](
            conv.in_channels, conv.out_channels if out_channels is None else out_channels,
            conv.kernel_size, part, stride=conv.stride, padding=conv_padding(conv),
            dilation=conv.dilation, bias=(conv.bias is not None) if bias is None else bias,
            impl=impl)
    return layer.to(dtype=weight.dtype)


def conv_padding(conv: nn.Module) -> tuple[int, ...]:
    """``conv``'s zero padding, one int per dimension; ``"same"`` only when it is symmetric."""
    if conv.padding_mode != "zeros":
        raise ValueError(f"only zero padding is supported, got padding_mode={conv.padding_mode!r}")
    sides = resolve_padding(conv.padding, tuple(conv.kernel_size), tuple(conv.dilation))
    if any(before != after for before, after in sides):
        raise ValueError(f"padding={conv.padding!r} with kernel {tuple(conv.kernel_size)} and "
                         f"dilation {tuple(conv.dilation)} pads asymmetrically; HetConv needs "
                         "symmetric")
    return tuple(before for before, _ in sides)
