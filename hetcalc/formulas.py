"""The HetConv paper's cost model (Singh et al., CVPR 2019, Section 3) as pure integer functions.

Conventions, stated once here and in every table header:

* **FLOPs are multiply-accumulates (MACs).** One fused multiply-add counts 1, as in the paper's
  tables and in fvcore. Bias adds, BN, activations and pooling are not counted.
* **Params** are counted per weight; ``bias=True`` adds the bias vector.
* A layer has ``M`` input channels, ``N`` output channels, a kernel and an output of one size per
  spatial dimension (one for Conv1d, two for Conv2d, three for Conv3d). The paper writes square
  2-D shapes (``Do²``, ``K²``); here ``K²`` is the product of the kernel's sizes (``kh·kw``, or
  ``kd·kh·kw``) and ``Do²`` the product of the output's. Non-square kernels, stride, padding and
  dilation enter only through the output size, so every function takes ``out_size`` rather than
  the input size. Costs are per image: a batch of ``B`` costs ``B`` times as much.

Every function takes and returns integers, except the reductions (Eqs. 5, 7, 11), which are exact
``Fraction`` values, and the speedup (Eq. 9), its reciprocal. Arguments that the paper's formulas do
not admit (a part ``P`` that does not divide ``M``, say) raise
:class:`~hetcalc.errors.InvalidArgument`, a ``ValueError``.
"""

from __future__ import annotations

from fractions import Fraction

from hetcalc.errors import InvalidArgument, require_positive

__all__ = [
    "conv_output_size",
    "flops_standard",
    "flops_hetconv_kxk",
    "flops_hetconv_1x1",
    "flops_hetconv",
    "reduction_hetconv",
    "flops_dwc_pwc",
    "reduction_dwc_pwc",
    "hetconv_beats_dwc_pwc",
    "speedup",
    "flops_gwc_pwc",
    "reduction_gwc_pwc",
    "hetconv_beats_gwc_pwc",
    "fast_hetconv_overhead",
    "flops_se",
    "params_standard",
    "params_hetconv",
    "params_gwc_pwc",
    "params_dwc_pwc",
    "params_se",
    "flops_pconv_pwc",
    "params_pconv_pwc",
    "reduction_pconv_pwc",
    "flops_ghost",
    "params_ghost",
    "reduction_ghost",
    "flops_dualconv",
    "params_dualconv",
    "reduction_dualconv",
    "SE_REDUCTION",
    "GHOST_CHEAP_KERNEL",
]

SE_REDUCTION = 8
"""Squeeze-and-excitation reduction ratio used throughout the paper (Section 4)."""
GHOST_CHEAP_KERNEL = 3
"""``d``, the kernel of a Ghost module's cheap depthwise operation: 3 in every dimension, as in
GhostNet (Han et al., CVPR 2020, Section 3.1: "d = 3" in all its models)."""


def _divides(part_name: str, part: int, whole_name: str, whole: int) -> None:
    require_positive(**{part_name: part})
    if whole % part:
        raise ValueError(f"{part_name}={part} does not divide {whole_name}={whole}")


def _area(size: tuple[int, ...]) -> int:
    """The product of a kernel's or an output's sizes (``K²`` or ``Do²`` in the paper)."""
    if not size:
        raise InvalidArgument("a size needs at least one dimension")
    area = 1
    for axis, value in enumerate(size):
        require_positive(**{f"size[{axis}]": value})
        area *= value
    return area


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    """Output length of a convolution along one axis: ``floor((size + 2p - d(k-1) - 1)/s) + 1``.

    This is how ``Do`` follows from the input size ``Di`` for any stride, padding and dilation.
    """
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(
            f"kernel {kernel} (dilation {dilation}) does not fit an input of {size} "
            f"with padding {padding}"
        )
    return out


def flops_standard(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...]) -> int:
    """Eq. 1: ``FL_S = Do·Do·M·N·K·K``, a standard convolution (groups = 1).

    ``[B=1, N, Do_h, Do_w] = conv2d([1, M, Di_h, Di_w], weight [N, M, kh, kw])``; bias adds
    are not counted.
    """
    require_positive(M=m, N=n)
    return _area(out_size) * m * n * _area(kernel)


def flops_hetconv_kxk(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...],
                      p: int) -> int:
    """Eq. 2: ``FL_K = FL_S / P``, the K×K kernels of a HetConv layer with part ``P``.

    Each of the ``N`` filters has ``M/P`` kernels of size K×K. Requires ``P | M``.
    """
    _divides("P", p, "M", m)
    return _area(out_size) * (m // p) * n * _area(kernel)


def flops_hetconv_1x1(out_size: tuple[int, ...], m: int, n: int, p: int) -> int:
    """Eq. 3: ``FL_1 = Do·Do·N·(M − M/P)``, the 1×1 kernels of a HetConv layer with part ``P``.

    Each filter has ``M − M/P`` kernels of size 1×1. Requires ``P | M``.
    """
    _divides("P", p, "M", m)
    require_positive(N=n)
    return _area(out_size) * n * (m - m // p)


def flops_hetconv(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...],
                  p: int) -> int:
    """Eq. 4: ``FL_HC = FL_K + FL_1``, a whole HetConv layer with part ``P``.

    At ``P = 1`` this is Eq. 1 (every kernel is K×K).
    """
    return flops_hetconv_kxk(out_size, m, n, kernel, p) + flops_hetconv_1x1(out_size, m, n, p)


def reduction_hetconv(p: int, kernel: tuple[int, ...]) -> Fraction:
    """Eq. 5: ``R = FL_HC / FL_S = 1/P + (1 − 1/P)/K²``. At ``P = 1``, ``R = 1``."""
    require_positive(P=p)
    k2 = _area(kernel)
    return Fraction(1, p) + (1 - Fraction(1, p)) / k2


def flops_dwc_pwc(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...]) -> int:
    """Eq. 6: ``FL_MobNet = Do·Do·M·K·K + M·N·Do·Do``, depthwise K×K (M→M) then pointwise (M→N).

    The depthwise conv keeps the original layer's stride, so both terms use the output size.
    """
    require_positive(M=m, N=n)
    area = _area(out_size)
    return area * m * _area(kernel) + m * n * area


def reduction_dwc_pwc(n: int, kernel: tuple[int, ...]) -> Fraction:
    """Eq. 7: ``R = FL_MobNet / FL_S = 1/N + 1/K²``."""
    require_positive(N=n)
    return Fraction(1, n) + Fraction(1, _area(kernel))


def hetconv_beats_dwc_pwc(m: int, kernel: tuple[int, ...]) -> bool:
    """Eq. 8: with ``P = M`` and ``N = M``, ``1/M + (1 − 1/M)/K² < 1/M + 1/K²``.

    True whenever ``K² > 1``: the extreme HetConv costs less than DWC+PWC.
    """
    return reduction_hetconv(m, kernel) < reduction_dwc_pwc(m, kernel)


def speedup(reduction: Fraction) -> Fraction:
    """Eq. 9: ``speedup = 1 / reduction``."""
    if reduction <= 0:
        raise ValueError(f"reduction must be positive, got {reduction}")
    return 1 / Fraction(reduction)


def flops_gwc_pwc(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...],
                  g: int) -> int:
    """Eq. 10: groupwise K×K conv (M→M, ``G`` groups) then pointwise conv (M→N).

    ``FL_G = Do·Do·M·(M/G)·K·K + M·N·Do·Do``. The paper prints the first term as
    ``Do·Do·M·N·K·K/G``, which is the same number when ``M = N``; the groupwise conv maps M
    channels to M, which is the reading that reproduces Table 1 ("GWC4 PWC", 107.67M) for the
    layers of VGG-16 where N = 2M. Requires ``G | M``.
    """
    _divides("G", g, "M", m)
    require_positive(N=n)
    area = _area(out_size)
    return area * m * (m // g) * _area(kernel) + m * n * area


def reduction_gwc_pwc(g: int, kernel: tuple[int, ...]) -> Fraction:
    """Eq. 11: ``R = FL_G / FL_S = 1/G + 1/K²`` (exact for M = N)."""
    require_positive(G=g)
    return Fraction(1, g) + Fraction(1, _area(kernel))


def hetconv_beats_gwc_pwc(p: int, kernel: tuple[int, ...]) -> bool:
    """Eq. 12: with ``P = G``, ``1/P + (1 − 1/P)/K² < 1/P + 1/K²``; true whenever ``K² > 1``."""
    return reduction_hetconv(p, kernel) < reduction_gwc_pwc(p, kernel)


def fast_hetconv_overhead(out_size: tuple[int, ...], m: int, n: int, p: int) -> int:
    """MACs that a "grouped K×K + dense 1×1" HetConv runs beyond Eq. 4: ``Do·Do·N·M/P``.

    The dense 1×1 conv also multiplies the M/P channels that already have a K×K kernel (their
    1×1 weights are held at zero), so it costs ``Do·Do·N·M`` instead of Eq. 3's
    ``Do·Do·N·(M − M/P)``. (At ``P = 1`` a HetConv is a standard conv and no realization needs
    a separate 1×1 conv, so the overhead applies to ``P > 1``.)
    """
    _divides("P", p, "M", m)
    require_positive(N=n)
    return _area(out_size) * n * (m // p)


def flops_se(channels: int, reduction: int = SE_REDUCTION) -> int:
    """Squeeze-and-excitation on ``C`` channels: two fully connected layers, ``2·C·(C/r)`` MACs.

    ``[1, C/r] = linear([1, C], [C/r, C])`` and ``[1, C] = linear([1, C/r], [C, C/r])``. Left out:
    the global average pool (``Do·Do·C`` adds) and the channel scaling (``Do·Do·C``
    multiplications), which fvcore does not count either; the paper's Table 1 "SE" rows add
    exactly ``C²/4`` per layer at r = 8, i.e. the same two products.
    """
    require_positive(C=channels, r=reduction)
    return 2 * channels * max(channels // reduction, 1)


def params_standard(m: int, n: int, kernel: tuple[int, ...], bias: bool = False) -> int:
    """Weights of a standard conv: ``N·M·K·K`` (+ ``N`` with bias)."""
    require_positive(M=m, N=n)
    return n * m * _area(kernel) + (n if bias else 0)


def params_hetconv(m: int, n: int, kernel: tuple[int, ...], p: int, bias: bool = False) -> int:
    """Weights of a HetConv layer: ``N·(M/P·K·K + M − M/P)`` (+ ``N`` with bias).

    Each filter keeps ``M/P`` K×K kernels and ``M − M/P`` 1×1 kernels. Requires ``P | M``.
    """
    _divides("P", p, "M", m)
    require_positive(N=n)
    return n * ((m // p) * _area(kernel) + m - m // p) + (n if bias else 0)


def params_gwc_pwc(m: int, n: int, kernel: tuple[int, ...], g: int, bias: bool = False) -> int:
    """Weights of GWC (M→M, ``G`` groups, K×K) + PWC (M→N): ``M·(M/G)·K·K + M·N``.

    With ``bias`` the replaced layer's bias sits on the pointwise conv (+ ``N``).
    """
    _divides("G", g, "M", m)
    require_positive(N=n)
    return m * (m // g) * _area(kernel) + m * n + (n if bias else 0)


def params_dwc_pwc(m: int, n: int, kernel: tuple[int, ...], bias: bool = False) -> int:
    """Weights of DWC (M→M, K×K) + PWC (M→N): ``M·K·K + M·N`` (+ ``N`` with bias)."""
    require_positive(M=m, N=n)
    return m * _area(kernel) + m * n + (n if bias else 0)


def params_se(channels: int, reduction: int = SE_REDUCTION) -> int:
    """Weights of squeeze-and-excitation on ``C`` channels: ``2·C·(C/r) + C/r + C`` (with biases)."""
    require_positive(C=channels, r=reduction)
    hidden = max(channels // reduction, 1)
    return 2 * channels * hidden + hidden + channels


# -- HetConv's successors --------------------------------------------------------------------
# PConv (FasterNet, Chen et al., CVPR 2023), the Ghost module (GhostNet, Han et al., CVPR 2020)
# and DualConv (Zhong et al., TNNLS 2022), each replacing a standard K×K conv M→N.


def flops_pconv_pwc(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...],
                    r: int) -> int:
    """PConv then pointwise: a K×K conv over the first ``M/r`` input channels (M/r → M/r, the
    other ``M − M/r`` passed through untouched), then a 1×1 conv M→N.

    ``FL = Do·Do·(K·K·(M/r)² + M·N)``: FasterNet's ``h·w·k²·c_p²`` for the partial conv, plus
    the pointwise conv over all M channels. The input and output are the same size (stride 1,
    "same" padding), so ``Do`` is also the input's. Requires ``r | M``.
    """
    _divides("r", r, "M", m)
    require_positive(N=n)
    part = m // r
    return _area(out_size) * (_area(kernel) * part * part + m * n)


def params_pconv_pwc(m: int, n: int, kernel: tuple[int, ...], r: int, bias: bool = False) -> int:
    """Weights of PConv (M/r → M/r, K×K) + PWC (M→N): ``K·K·(M/r)² + M·N`` (+ ``N`` with bias,
    on the pointwise conv)."""
    _divides("r", r, "M", m)
    require_positive(N=n)
    part = m // r
    return _area(kernel) * part * part + m * n + (n if bias else 0)


def reduction_pconv_pwc(r: int, kernel: tuple[int, ...], m: int, n: int) -> Fraction:
    """``R = FL / FL_S = M/(r²·N) + 1/K²``; ``1/r² + 1/K²`` when ``M = N``."""
    require_positive(r=r, M=m, N=n)
    return Fraction(m, r * r * n) + Fraction(1, _area(kernel))


def flops_ghost(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...], s: int,
                d: int = GHOST_CHEAP_KERNEL) -> int:
    """A Ghost module: a primary K×K conv M → N/s ("intrinsic" channels, the replaced conv's
    stride and padding), then a cheap depthwise d×d conv making ``s − 1`` more channels from
    each intrinsic one; the two concatenated give N.

    ``FL = Do·Do·(K·K·M·N/s + d·d·(s − 1)·N/s)`` (GhostNet, Eq. 3's numerator; ``d·d`` is the
    product of ``d`` over the spatial dimensions). Requires ``s | N``.
    """
    _divides("s", s, "N", n)
    require_positive(M=m, d=d)
    intrinsic = n // s
    cheap = d ** len(kernel)
    return _area(out_size) * (_area(kernel) * m * intrinsic + cheap * (s - 1) * intrinsic)


def params_ghost(m: int, n: int, kernel: tuple[int, ...], s: int, bias: bool = False,
                 d: int = GHOST_CHEAP_KERNEL) -> int:
    """Weights of a Ghost module: ``K·K·M·N/s + d·d·(s − 1)·N/s`` (+ ``N`` with bias: the
    intrinsic channels' on the primary conv, the others' on the cheap one)."""
    _divides("s", s, "N", n)
    require_positive(M=m, d=d)
    intrinsic = n // s
    return (_area(kernel) * m * intrinsic + d ** len(kernel) * (s - 1) * intrinsic
            + (n if bias else 0))


def reduction_ghost(s: int, kernel: tuple[int, ...], m: int,
                    d: int = GHOST_CHEAP_KERNEL) -> Fraction:
    """``R = FL / FL_S = 1/s + d·d·(s − 1)/(s·K·K·M)``, about ``1/s`` (GhostNet's ``r_s ≈ s``)."""
    require_positive(s=s, M=m, d=d)
    return Fraction(1, s) + Fraction(d ** len(kernel) * (s - 1), s * _area(kernel) * m)


def flops_dualconv(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...],
                   g: int) -> int:
    """DualConv: a K×K group conv M→N with ``G`` groups and a 1×1 conv M→N over all input
    channels, run in parallel on the same input and summed.

    ``FL = Do·Do·N·(K·K·M/G + M)``: ``Do·Do·N·M/G`` more than HetConv's Eq. 4 with ``P = G``,
    whose filters have no 1×1 kernel where they have a K×K one. Requires ``G | M`` and ``G | N``.
    """
    _divides("G", g, "M", m)
    _divides("G", g, "N", n)
    return _area(out_size) * n * (_area(kernel) * (m // g) + m)


def params_dualconv(m: int, n: int, kernel: tuple[int, ...], g: int, bias: bool = False) -> int:
    """Weights of DualConv: ``K·K·M·N/G + M·N`` (+ ``N`` with bias, on the group conv)."""
    _divides("G", g, "M", m)
    _divides("G", g, "N", n)
    return _area(kernel) * (m // g) * n + m * n + (n if bias else 0)


def reduction_dualconv(g: int, kernel: tuple[int, ...]) -> Fraction:
    """``R = FL / FL_S = 1/G + 1/K²``: Eq. 11's GWC+PWC figure, for every M and N."""
    require_positive(G=g)
    return Fraction(1, g) + Fraction(1, _area(kernel))
