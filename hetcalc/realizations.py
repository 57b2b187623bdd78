"""The HetConv realizations, torch-free: their names (the CLI's ``--impl`` choices) and the MACs
each executes relative to Eq. 4.

Every realization computes the same function, the HetConv-masked dense convolution
(:mod:`hetcalc.nn.hetconv`); they differ in how, and so in how many multiply-accumulates a
counter sees (fvcore and ``torch.utils.flop_counter`` count what runs):

========== ============================================================ ==========================
name       how                                                          MACs beyond Eq. 4
========== ============================================================ ==========================
exact      grouped K×K conv (P groups, residue-ordered NCHW input) +    0
           one ``bmm`` over the residues for the 1×1 kernels
exact-cl   the same in channels-last: grouped K×K conv, then per        0
           residue two ``addmm`` into its output (no zero weight)
fast       grouped K×K conv, then all M centre taps times the dense     ``Do²·N·M/P``
           1×1 weight (zeros at the K×K channels), one product into
           its output
fast-cl    the same in channels-last, the 1×1 part one ``addmm`` that   ``Do²·N·M/P``
           accumulates into the K×K conv's output
gemm       im2col, then one ``bmm`` over the residues: each residue's   0
           K×K patches and the other residues' centre taps side by
           side, times its filters' K×K and 1×1 weights side by side
gemm-rows  im2col (torch's own), then per residue the rows of its K×K  0
           patches times its K×K weights and the rows of the other
           residues' centre taps times its 1×1 weights, into the same
           rows: pixels as rows, for layers of few pixels
branches   per residue a plain K×K conv of its channels and a plain   0
           1×1 conv of the others' centre taps; outputs interleaved
dense      the masked dense conv itself (weight :meth:`to_dense`,       ``FL_S − FL_HC``
           kept in inference)                                           (Eq. 1 − Eq. 4)
auto       times the others on the first call for each signature and
           runs the fastest from then on (see :mod:`hetcalc.nn.hetconv`)
========== ============================================================ ==========================

The overheads are per image (times the batch for a batch); at ``P = 1`` every realization is one
standard conv and none has an overhead. :data:`IMPL_NAMES` is the CLI's list of choices;
``hetcalc.nn.Impl`` is the same list as a ``StrEnum``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hetcalc import formulas
from hetcalc.shapes import ConvShape

__all__ = ["AS_TIMED", "AUTO", "IMPL_NAMES", "PINNED", "REALIZATIONS", "Realization", "extra_macs",
           "layer_extra_macs"]

AUTO = "auto"
AS_TIMED = "auto, as timed"
"""What a report's counted realization reads when each layer was counted with the realization
``auto`` chose for it while the model was timed."""


def _none(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...], p: int) -> int:
    return 0


def _fast(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...], p: int) -> int:
    return formulas.fast_hetconv_overhead(out_size, m, n, p)


def _dense(out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...], p: int) -> int:
    return (formulas.flops_standard(out_size, m, n, kernel)
            - formulas.flops_hetconv(out_size, m, n, kernel, p))


def _copies(input_copies: int, tap_copies: tuple[int, int], output_copies: int):
    """Tensors a realization materializes beyond its input and output, per image, in elements:
    ``input_copies`` tensors the size of the input (``M·Di``), ``tap_copies = (a, b)`` meaning
    ``a/b·M·Do`` (centre taps; ``b`` divides ``M/P`` by construction, ``a`` and ``b`` may use
    ``P`` and ``K²``: see the table) and ``output_copies`` tensors the size of the output."""
    def materialized(m: int, n: int, in_pixels: int, out_pixels: int, p: int, k2: int) -> int:
        a, b = _taps(tap_copies, p, k2)
        return (input_copies * m * in_pixels + a * (m // b) * out_pixels
                + output_copies * n * out_pixels)
    return materialized


def _taps(rule: tuple[int, int], p: int, k2: int) -> tuple[int, int]:
    kinds = {(0, 0): (0, 1), (1, 0): (2 * p - 1, p), (2, 0): (p * (k2 + p - 1) + 2 * p - 1, p),
             (3, 0): (p * k2 + 2 * p - 1, p)}
    return kinds[rule]


@dataclass(frozen=True)
class Realization:
    """One way to run a HetConv layer: its name, how it runs, the MACs it executes beyond
    Eq. 4 per image (``overhead(out_size, M, N, kernel, P)``, written out in ``formula``), and
    what it moves beyond one read of its input and one write of its output:
    ``materialized(M, N, Di, Do, P, K²)``, elements per image of the tensors it writes and reads
    back (each is written once and read once, written out in ``copies``), and ``weights``,
    the weight elements it reads beyond the layer's own parameters (written in
    ``weights_formula``)."""

    name: str
    summary: str
    formula: str
    overhead: Callable[[tuple[int, ...], int, int, tuple[int, ...], int], int]
    copies: str
    materialized: Callable[[int, int, int, int, int, int], int]
    weights_formula: str = "0"
    weights: Callable[[int, int, int, int], int] = lambda m, n, p, k2: 0
    channels_last: bool = False
    """Its output leaves channels-last (what the layers after it then read): realizations
    that agree on this can be mixed layer by layer without a layout change between them."""


def _zero_weights(m: int, n: int, p: int, k2: int) -> int:
    """The dense 1x1 weight's zeros at each filter's K x K channels: ``N·M/P``."""
    return n * m // p


def _dense_weights(m: int, n: int, p: int, k2: int) -> int:
    """The masked dense weight ``N·M·K²`` less HetConv's own ``N·(M/P·K² + M − M/P)``."""
    return n * m * k2 - n * (m // p * k2 + m - m // p)


REALIZATIONS: dict[str, Realization] = {r.name: r for r in (
    Realization("exact", "grouped KxK conv + one bmm over the residues (NCHW)", "0", _none,
                "input in residue order, centre taps (2P-1)/P*M*Do, the two halves' outputs",
                _copies(1, (1, 0), 2)),
    Realization("exact-cl", "grouped KxK conv + two addmm per residue (channels-last)", "0",
                _none, "input in residue order (channels-last), the output before and after "
                "filter order", _copies(1, (0, 0), 2), channels_last=True),
    Realization("fast", "grouped KxK conv + one dense 1x1 product into its output (NCHW)",
                "Do*Do*N*M/P", _fast, "input in residue order, the output before filter order",
                _copies(1, (0, 0), 1), "N*M/P", _zero_weights),
    Realization("fast-cl", "grouped KxK conv + one dense addmm into its output (channels-last)",
                "Do*Do*N*M/P", _fast, "input in residue order (channels-last), the output "
                "before and after filter order", _copies(1, (0, 0), 2), "N*M/P", _zero_weights,
                channels_last=True),
    Realization("gemm", "im2col + one bmm of K x K and 1x1 weights side by side", "0", _none,
                "the im2col matrix (K*K + P - 1)*M*Do, centre taps (2P-1)/P*M*Do, the output "
                "before filter order", _copies(0, (2, 0), 1)),
    Realization("gemm-rows", "im2col + per residue two products, pixels as rows", "0", _none,
                "input in residue order, the im2col matrix K*K*M*Do, centre taps "
                "(2P-1)/P*M*Do, the output before filter order", _copies(1, (3, 0), 1)),
    Realization("branches", "one K x K conv and one 1x1 conv per residue, interleaved", "0",
                _none, "input in residue order, centre taps (2P-1)/P*M*Do, each branch's two "
                "outputs", _copies(1, (1, 0), 2)),
    Realization("dense", "the masked dense conv (Eq. 1's MACs)", "FL_S - FL_HC", _dense,
                "none", _copies(0, (0, 0), 0), "N*M*K*K - N*(M/P*K*K + M - M/P)",
                _dense_weights),
)}
"""Every pinned realization, by name."""

PINNED: tuple[str, ...] = tuple(REALIZATIONS)
"""The realizations ``auto`` chooses among (all but ``auto``)."""

IMPL_NAMES: tuple[str, ...] = (AUTO, *PINNED)
"""Every ``impl`` value, in the order the CLI lists them."""


def extra_macs(impl: str, out_size: tuple[int, ...], m: int, n: int, kernel: tuple[int, ...],
               p: int) -> int:
    """MACs that realization ``impl`` runs beyond Eq. 4 for one image (0 at ``P = 1``).

    ``out_size`` is the output's spatial size, ``kernel`` the kernel's, ``m``/``n`` the input
    and output channels. ``auto`` has no overhead of its own: it runs one of the others.
    """
    if impl not in REALIZATIONS:
        raise ValueError(f"impl must be one of {', '.join(PINNED)} (auto runs one of them), "
                         f"got {impl!r}")
    if p == 1:
        return 0
    return REALIZATIONS[impl].overhead(tuple(out_size), m, n, tuple(kernel), p)


def layer_extra_macs(impl: str, shape: ConvShape, p: int) -> int:
    """MACs that realization ``impl`` runs beyond Eq. 4 on the HetConv layer of ``shape``, for
    its whole batch: a grouped layer runs HetConv group by group (``M/g → N/g``, part ``p``
    within each group), so its overhead is ``g`` times one group's."""
    g = shape.groups
    return shape.batch * g * extra_macs(impl, shape.output_size, shape.in_channels // g,
                                        shape.out_channels // g, shape.kernel, p)
