"""HetConv (Singh et al., CVPR 2019, Section 3) as a real, trainable layer, for 1-D, 2-D and 3-D
convolutions (:class:`HetConv1d`, :class:`HetConv2d`, :class:`HetConv3d`). The paper's layer is
2-D; the pattern and every realization carry over unchanged to any number of spatial dimensions,
with "K×K" read as the whole kernel and "1×1" as its centre tap.

**Pattern** (paper Fig. 3): with part ``P``, filter ``n`` has a K×K kernel on every input
channel ``c`` with ``c ≡ n (mod P)`` (``M/P`` of them) and a 1×1 kernel on every other channel.

**Function.** A :class:`HetConv2d` computes exactly ``F.conv2d(x, W, bias, stride, padding,
dilation)`` where ``W`` (:meth:`HetConv2d.to_dense`) is the ``N×M×kh×kw`` dense weight that is
zero wherever :func:`hetconv_mask` is False: a 1×1 kernel sits at the kernel's centre tap
``(kh // 2, kw // 2)`` (for an even kernel too). The 1×1 part therefore sees the input shifted by
``centre · dilation − padding`` and subsampled by the stride, like that tap of the K×K conv.

**Realizations** (``impl``, :class:`Impl`; their MACs relative to Eq. 4 are in
:mod:`hetcalc.realizations`), all computing that function from the same parameters:

* ``"exact"`` executes Eq. 4's MACs, as fvcore counts them, to the MAC: the input channels are
  put in *residue order* (channel ``c`` goes to group ``c mod P``; reshape/permute/cat, which
  fvcore does not count), a K×K conv with ``P`` groups does the K×K kernels (Eq. 2) and one
  batched matmul (``aten::bmm``, ``P`` batches) whose batch ``r`` multiplies only the
  ``(P−1)·M/P`` centre taps of the other residues does the 1×1 kernels (Eq. 3).
* ``"exact-cl"``: the same MACs in channels-last: one copy puts the input in channels-last
  residue order, the K×K conv with ``P`` groups runs there, and each residue's 1×1 kernels are
  two ``addmm`` (the residues after it, the residues before it) that accumulate into the conv's
  output; one more copy puts the filters back in order. The output is channels-last.
* ``"fast"`` does the same K×K conv and one dense 1×1 conv over all ``M`` channels whose weights
  at the K×K channels are a constant zero: ``Do·Do·N·M/P`` MACs more than Eq. 4
  (:func:`hetcalc.formulas.fast_hetconv_overhead`).
* ``"fast-cl"``: ``fast`` in channels-last, its 1×1 part one ``addmm`` into the K×K conv's output.
* ``"gemm"``: Eq. 4's MACs as one batched matmul after an im2col: per residue, the K×K patches
  of its channels and the other residues' centre taps side by side, times the filters' K×K and
  1×1 weights side by side (no grouped conv).
* ``"gemm-rows"``: Eq. 4's MACs as products with the pixels as rows, on views of torch's im2col
  and of the centre taps (for layers of few pixels, where a weight times few columns is slow).
* ``"branches"``: one plain K×K conv and one plain 1×1 conv per residue (Eq. 4's MACs), the
  outputs interleaved into filter order.
* ``"dense"``: the masked dense conv itself, ``F.conv2d(x, to_dense())`` — Eq. 1's MACs,
  ``FL_S − FL_HC`` more than Eq. 4; worth it where the dense conv runs at a much higher MAC rate
  than the grouped one (small ``P``, large batch).
* ``"auto"`` picks one of those per call *signature*: the first call with a given layer shape,
  input shape (batch included), device, dtype, memory format, grad mode and thread count times
  every realization on that input (a few interleaved rounds, least time) and keeps the fastest in a
  module-level cache (:func:`auto_choices`, :func:`clear_auto_choices`), like
  ``torch.backends.cudnn.benchmark``; later calls with that signature run it without timing.
  Nothing is timed where it cannot be (on the meta device, under ``torch.jit.trace`` — fvcore's
  count —, ``torch.compile`` or ``torch.export``, inside a dispatch mode such as
  ``FlopCounterMode``, or with storage-free counting weights): there ``auto`` runs the choice
  the cache holds for that signature, else ``exact``. :attr:`chosen_impl` tells what the last
  eager call ran.

In eager inference (no autograd, no tracing) realizations reuse derived weights (``fast``'s
dense 1×1 weight, the channels-last K×K weight, ``dense``'s dense weight) until a parameter
changes, and write sums in place; with autograd, under tracing or compiling they run
out-of-place forms of the same operators (the same counts). No size is taken from the batch
dimension, so a ``torch.jit.trace`` made at one batch size runs at another.

**Parameters.** Only the entries the pattern keeps are parameters, so a masked position can never
be learned (no gradient, no weight decay can reach it); all realizations hold the same parameters
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
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from hetcalc import realizations
from hetcalc.formulas import conv_output_size
from hetcalc.nn._auto import (
    _AUTO_CHOICES,
    _time_realizations,
    _timing_possible,
)
from hetcalc.nn._ops import (
    _CONV,
    _CONV_MODULE,
    _centre_index,
    _eager_inference,
    _memory_format,
    _product,
    _sizes,
    _tracing,
    residue_order,
)
from hetcalc.nn._realize import Realizations
from hetcalc.nn.shaped import conv_dims, conv_padding


class Impl(enum.StrEnum):
    """HetConv realizations; the values are the CLI's ``--impl`` choices
    (:data:`hetcalc.realizations.IMPL_NAMES`, where each one's MACs beyond Eq. 4 are stated)."""

    AUTO = "auto"  # times the others once per signature, then runs the fastest
    EXACT = "exact"  # executes exactly Eq. 4's MACs (NCHW)
    EXACT_CL = "exact-cl"  # exactly Eq. 4's MACs, channels-last
    FAST = "fast"  # grouped K x K + dense 1x1: Do*Do*N*M/P MACs more
    FAST_CL = "fast-cl"  # the same in channels-last
    GEMM = "gemm"  # exactly Eq. 4's MACs as one batched matmul (im2col)
    GEMM_ROWS = "gemm-rows"  # exactly Eq. 4's MACs, im2col, pixels as the products' rows
    BRANCHES = "branches"  # exactly Eq. 4's MACs as 2P plain convs, one pair per residue
    DENSE = "dense"  # the masked dense conv: Eq. 1's MACs


IMPLS = realizations.IMPL_NAMES
"""Every ``impl`` value (the same names as :class:`Impl`, in the CLI's order)."""

PINNED = realizations.PINNED
"""The realizations that run as they are named; ``auto`` chooses among them."""

if {impl.value for impl in Impl} != set(IMPLS):  # one list of names, two spellings
    raise ImportError("hetcalc.nn.Impl and hetcalc.realizations.IMPL_NAMES disagree")

_Size = int | tuple[int, ...]


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


class _HetConvNd(Realizations, nn.Module):
    """A HetConv layer with part ``P`` over ``dims`` spatial dimensions; see the module
    docstring for the pattern, the layout and the realizations.

    Requires ``P | in_channels`` and ``P | out_channels``. ``kernel_size``, ``stride``,
    ``padding`` and ``dilation`` take an int or one int per dimension (zero padding only).
    ``impl`` is one of :data:`IMPLS` (:class:`Impl`).
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
        self.chosen_impl: str | None = None
        """The realization the last eager call ran (``auto``'s choice; ``None`` before)."""
        self.residue_in = False
        """The input arrives with its channels in residue order (channel ``j·P + r`` at position
        ``r·(M/P) + j``), as a previous layer left them (:func:`hetcalc.nn.carry_residue_order`):
        the realizations then skip the copy that would put them there."""
        self.residue_out = False
        """The output leaves with its filters in residue order (filter ``i·P + r`` at position
        ``r·(N/P) + i``), the order the grouped K×K conv makes them in: the copy back to
        filter order is skipped, and the next layer must expect it."""
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
        if part > 1:
            self._index("centre", torch.device("cpu"))
        self._derived: dict[str, tuple[tuple, torch.Tensor]] = {}
        self._geometries: dict[tuple[int, ...], tuple] = {}
        self._strided = any(s != 1 for s in self.stride)
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

    def _kept(self, name: str, build: Callable[[], torch.Tensor]) -> torch.Tensor:
        """``build()``, a weight derived from the parameters. In eager inference it is kept
        until a parameter changes (its storage or version counter), so the realizations that
        need one (``fast``, ``fast-cl``, ``dense``) do not rebuild it on every call; with
        autograd, tracing or compiling it is built in the graph, from the parameters."""
        a, b = self.weight_kxk, self.weight_1x1
        if not _eager_inference() or a.is_inference() or b.is_inference():
            return build()
        key = (a.data_ptr(), a._version, b.data_ptr(), b._version)  # new storage: new pointer
        kept = self._derived.get(name)
        if kept is not None and kept[0] == key:
            return kept[1]
        value = build()
        self._derived[name] = (key, value)
        return value

    def _dense_centre(self) -> torch.Tensor:
        """The ``N×M`` dense 1×1 weights (filter and channel order, zero at K×K channels)."""
        w = self.weight_1x1
        flat = torch.cat([w.reshape(-1), w.new_zeros(1)])
        return flat[self._index("centre", w.device)]

    def _dense_centre_residue(self) -> torch.Tensor:
        """The dense 1×1 weights as an ``M×N`` matrix with rows (input channels) and columns
        (filters) both in residue order, for ``rows @ weight``: zero blocks on the diagonal."""
        both = residue_order(residue_order(self._dense_centre(), self.part, 0), self.part, 1)
        return both.t().contiguous()

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
    def _geometry(self, x: torch.Tensor) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
        """For ``x``'s spatial size: the output size, its number of pixels, and the pads that
        move the centre tap onto the output grid (:meth:`_centre_tap`; empty when none).
        Kept per input size outside compiled code (an eager call computes it once)."""
        sizes = _sizes(x)[1:]
        known = self._geometries.get(sizes)
        if known is not None:
            return known
        out = tuple(conv_output_size(size, k, s, p, d) for size, k, s, p, d in zip(
            sizes, self.kernel_size, self.stride, self.padding, self.dilation, strict=True))
        pads: list[int] = []
        for size, k, s, p, d, o in zip(sizes, self.kernel_size, self.stride, self.padding,
                                       self.dilation, out, strict=True):
            before = p - (k // 2) * d
            pads = [before, (o - 1) * s + 1 - size - before, *pads]  # last axis first
        known = (out, _product(out), tuple(pads) if any(pads) else ())
        if not torch.compiler.is_compiling():
            self._geometries[sizes] = known
        return known

    def _centre_tap(self, x: torch.Tensor, pads: tuple[int, ...]) -> torch.Tensor:
        """What the centre tap of the K×K conv multiplies: ``x`` shifted by
        ``padding − centre·dilation`` (zero-padded, or cropped when negative: ``pads`` from
        :meth:`_geometry`) and subsampled by the stride, ``Do`` per axis. ``x`` itself for a
        "same" conv with stride 1."""
        if pads:
            x = torch.constant_pad_nd(x, pads)
        if self._strided:
            x = x[(slice(None), slice(None), *(slice(None, None, s) for s in self.stride))]
        return x

    def _conv(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
              groups: int) -> torch.Tensor:
        return _CONV[self.dims](x, weight, bias, self.stride, self.padding, self.dilation, groups)

    def _residue_bias(self) -> torch.Tensor | None:
        """``bias`` in residue order (the order the grouped K×K conv produces filters in)."""
        return None if self.bias is None else residue_order(self.bias, self.part, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.part == 1:  # every kernel is K×K (residue order is channel order): a standard
            impl = "exact" if self.impl == "auto" else self.impl  # conv, whatever the realization
            if self.chosen_impl != impl and not _tracing():
                self.chosen_impl = impl
            return self._conv(x, self.weight_kxk, self.bias, 1)
        impl = self._choose(x) if self.impl == "auto" else self.impl
        if self.chosen_impl != impl and not _tracing():
            self.chosen_impl = impl
        return _FORWARD[impl](self, x)

    def realize(self, x: torch.Tensor, impl: str) -> torch.Tensor:
        """This layer's function on ``x`` computed by the pinned realization ``impl`` (one of
        :data:`PINNED`), whatever ``self.impl`` is."""
        if impl not in PINNED:
            raise ValueError(f"impl must be one of {', '.join(PINNED)}, got {impl!r}")
        if self.part == 1:
            return self._conv(x, self.weight_kxk, self.bias, 1)
        return _FORWARD[impl](self, x)

    # -- auto -------------------------------------------------------------------------------
    def signature(self, x: torch.Tensor) -> tuple:
        """What ``auto``'s choice for input ``x`` depends on (the key of :func:`auto_choices`):
        the layer's shape, the input's shape (batch included), device, dtype and memory format,
        whether autograd is on, torch's thread count, and the layer's residue orders."""
        if torch.jit.is_tracing():  # sizes are traced values; the key only looks them up
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                shape = tuple(int(v) for v in x.shape)
        else:
            shape = tuple(x.shape)
        return (type(self).__name__, self.in_channels, self.out_channels, self.kernel_size,
                self.stride, self.padding, self.dilation, self.part, self.bias is not None,
                shape, str(x.device), str(x.dtype), _memory_format(x),
                torch.is_grad_enabled(), torch.get_num_threads(), self.residue_in,
                self.residue_out)

    def _choose(self, x: torch.Tensor) -> str:
        """``auto``: the cached choice for this call's signature, timed now if there is none
        and timing is possible, else ``exact``."""
        if torch.compiler.is_compiling():
            # The compiled graph holds one realization: the one eager calls chose for this
            # layer (measure() makes one eager call before compiling), else exact.
            return self.chosen_impl or Impl.EXACT.value
        key = self.signature(x)
        chosen = _AUTO_CHOICES.get(key)
        if chosen is None:
            if not _timing_possible(self.weight_kxk, x):
                return Impl.EXACT.value
            chosen = _time_realizations(lambda name: _FORWARD[name](self, x), PINNED, x.device)
            _AUTO_CHOICES[key] = chosen
        return chosen

    def extra_repr(self) -> str:
        per = self.in_channels // self.part
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"part={self.part}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, bias={self.bias is not None}, impl={self.impl!r}, "
                f"kxk_per_filter={per}, 1x1_per_filter={self.in_channels - per}"
                + ", residue_in=True" * self.residue_in + ", residue_out=True" * self.residue_out)


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

_FORWARD: dict[str, Callable[[_HetConvNd, torch.Tensor], torch.Tensor]] = {
    Impl.EXACT: _HetConvNd._forward_exact,
    Impl.EXACT_CL: _HetConvNd._forward_exact_cl,
    Impl.FAST: _HetConvNd._forward_fast,
    Impl.FAST_CL: _HetConvNd._forward_fast_cl,
    Impl.GEMM: _HetConvNd._forward_gemm,
    Impl.GEMM_ROWS: _HetConvNd._forward_gemm_rows,
    Impl.BRANCHES: _HetConvNd._forward_branches,
    Impl.DENSE: _HetConvNd._forward_dense,
}
"""The pinned realizations, by name (``auto`` picks one of them)."""
if set(_FORWARD) != set(PINNED):
    raise ImportError("every pinned realization needs a forward")


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
