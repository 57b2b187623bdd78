"""Weights for a replacement layer taken from the dense conv it replaces.

* HetConv keeps what its pattern has a place for: the K×K kernels where ``c ≡ n (mod P)`` and
  the centre taps elsewhere (:meth:`HetConv2d.load_dense`); the dropped taps are lost.
* GWC+PWC and DWC+PWC get the decomposition that best approximates the dense weight in the
  least-squares (Frobenius) sense. The pair computes ``W[n, c, k] = Σ_j PW[n, j]·GW[j, c, k]``
  where the intermediate channel ``j`` sees only the input channels ``c`` of its own group. Per
  group ``g`` the dense weight's block ``W_g`` (N × (M/G)·K²) is therefore approximated by a
  product of rank M/G, and the truncated SVD ``W_g ≈ U_g Σ_g V_gᵀ`` (Eckart–Young) is the best
  one: ``PW_g = U_g Σ_g^½``, ``GW_g = Σ_g^½ V_gᵀ``. DWC is the case ``G = M`` (rank 1 per
  input channel). :func:`decomposition_error` states how much of the dense weight is lost.
* A Ghost module's cheap kernels (:func:`ghost_cheap_kernels`): a ghost channel is its intrinsic
  channel's filter convolved with a small depthwise kernel, a linear function of that kernel;
  the one whose composed filter is closest to the dense filter the channel replaces, in the
  least-squares sense.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def decompose(weight: torch.Tensor, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Best (least-squares) groupwise + pointwise factors of a dense ``N×M×k...`` weight.

    Returns ``(gw, pw)``: ``gw`` is the ``M×(M/G)×k...`` weight of a groupwise conv M→M with
    ``groups`` groups, ``pw`` the ``N×M×1...`` weight of the pointwise conv M→N.
    """
    n, m, *kernel = weight.shape
    if groups < 1 or m % groups:
        raise ValueError(f"groups={groups} does not divide the {m} input channels")
    per = m // groups
    taps = 1
    for size in kernel:
        taps *= size
    work = weight.to(torch.float64).reshape(n, groups, per * taps)
    gw = torch.zeros(groups, per, per * taps, dtype=torch.float64, device=weight.device)
    pw = torch.zeros(n, groups, per, dtype=torch.float64, device=weight.device)
    for g in range(groups):
        u, s, vh = torch.linalg.svd(work[:, g], full_matrices=False)  # N×r, r, r×(per·taps)
        rank = min(per, s.numel())
        root = s[:rank].sqrt()
        pw[:, g, :rank] = u[:, :rank] * root
        gw[g, :rank] = root[:, None] * vh[:rank]
    gw = gw.reshape(m, per, *kernel).to(weight.dtype)
    pw = pw.reshape(n, m, *([1] * len(kernel))).to(weight.dtype)
    return gw, pw


@torch.no_grad()
def compose(gw: torch.Tensor, pw: torch.Tensor, groups: int) -> torch.Tensor:
    """The dense ``N×M×k...`` weight a groupwise + pointwise pair computes."""
    m, per, *kernel = gw.shape
    n = pw.shape[0]
    blocks = gw.reshape(groups, per, per, -1)                # [g, j, c, taps]
    mix = pw.reshape(n, groups, per)                         # [n, g, j]
    dense = torch.einsum("ngj,gjct->ngct", mix, blocks)      # [n, g, c, taps]
    return dense.reshape(n, m, *kernel)


def decomposition_error(weight: torch.Tensor, groups: int) -> float:
    """Relative Frobenius error ``‖W − PW·GW‖ / ‖W‖`` of :func:`decompose`."""
    gw, pw = decompose(weight, groups)
    approx = compose(gw.double(), pw.double(), groups)
    dense = weight.double()
    return float((dense - approx).norm() / dense.norm())


@torch.no_grad()
def ghost_cheap_kernels(weight: torch.Tensor, intrinsic: int, cheap_kernel: tuple[int, ...],
                        dilation: tuple[int, ...], stride: tuple[int, ...]) -> torch.Tensor:
    """The ``((N − intrinsic), 1, d...)`` depthwise weight of a Ghost module's cheap conv whose
    ghost channel ``j`` (made from intrinsic channel ``j // (s − 1)``, the filter ``weight[j]``
    of the primary conv) best approximates ``weight[intrinsic + j]``.

    Ghost channel ``j`` at output position ``o`` is ``Σ_t h[t]·W_i ⋆ x`` shifted by
    ``(t − d//2)·stride`` input pixels: a filter over a window ``(K − 1)·dilation +
    (d − 1)·stride + 1`` wide, linear in ``h``. The dense filter sits in the middle of that
    window; ``h`` is the least-squares solution (``torch.linalg.lstsq``, float64). The cheap
    conv pads its input with zeros, so at the borders the module differs from the composed
    filter, as any Ghost module does.
    """
    n, m, *kernel = weight.shape
    ghosts = n - intrinsic
    if intrinsic < 1 or ghosts < 1 or ghosts % intrinsic:
        raise ValueError(f"{n} filters do not split into {intrinsic} intrinsic channels and "
                         "(s - 1) ghosts of each")
    per = ghosts // intrinsic
    extent = [(k - 1) * dl + (d - 1) * st + 1
              for k, d, dl, st in zip(kernel, cheap_kernel, dilation, stride, strict=True)]
    work = weight.to(torch.float64)

    def placed(filters: torch.Tensor, shift: tuple[int, ...]) -> torch.Tensor:
        """``filters`` (F × M × K...) in the window, tap ``k`` at ``k·dilation + shift``."""
        window = torch.zeros(filters.shape[0], m, *extent, dtype=torch.float64,
                             device=weight.device)
        index = tuple(slice(s, s + (k - 1) * dl + 1, dl)
                      for s, k, dl in zip(shift, kernel, dilation, strict=True))
        window[(slice(None), slice(None), *index)] = filters
        return window.reshape(filters.shape[0], -1)

    offsets = list(torch.cartesian_prod(*(torch.arange(d) for d in cheap_kernel))
                   .reshape(-1, len(cheap_kernel)).tolist())
    middle = tuple((d // 2) * st for d, st in zip(cheap_kernel, stride, strict=True))
    cheap = torch.zeros(ghosts, len(offsets), dtype=torch.float64, device=weight.device)
    for i in range(intrinsic):
        columns = torch.cat([placed(work[i:i + 1], tuple(t * st for t, st in
                                                         zip(offset, stride, strict=True)))
                             for offset in offsets]).T                  # window × taps
        rows = slice(i * per, (i + 1) * per)
        targets = placed(work[intrinsic + i * per: intrinsic + (i + 1) * per], middle).T
        cheap[rows] = torch.linalg.lstsq(columns, targets).solution.T    # per × taps
    return cheap.reshape(ghosts, 1, *cheap_kernel).to(weight.dtype)
