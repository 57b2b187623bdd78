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
