"""The HetConv realizations (:mod:`hetcalc.realizations` lists them and what each executes):
the forward passes of :class:`hetcalc.nn.hetconv._HetConvNd`, as a mixin."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hetcalc.nn._ops import (
    _CONV,
    _batch_hint,
    _centre_offset,
    _channels_last,
    _eager_inference,
    _filter_order_rows,
    _from_rows,
    _product,
    _residue_channels_last,
    _rows,
    _to_residue_order,
    channel_order,
    residue_order,
)


class Realizations:
    """Each ``_forward_<name>`` computes the HetConv-masked dense conv its own way.

    Each reads the layer's ``residue_in`` / ``residue_out`` (:meth:`HetConv2d.carry`): when set,
    the input arrives, or the output leaves, with its channels already in residue order, and the
    permutation copy that would put them there (or back) is not made."""

    def _forward_exact(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 2 as a K×K conv with P groups, Eq. 3 as one batched matmul over the residues.

        The centre taps go into ``v``, residue blocks ``0..P−1, 0..P−2`` (one ``aten::cat``);
        residue ``r``'s filters need blocks ``r+1 .. r+P−1``, an overlapping window of ``v``
        taken as a view (``unfold``), so ``bmm`` runs exactly ``N·(M − M/P)`` MACs per pixel."""
        p, n, m = self.part, self.out_channels, self.in_channels
        c, per_filter = m // p, n // p
        out, pixels, pads = self._geometry(x)
        tap = self._centre_tap(x, pads)
        if self.residue_in:
            per_residue = tap.reshape(-1, p, c, pixels).permute(1, 2, 0, 3)   # [s, j, b, pixels]
        else:
            per_residue = tap.reshape(-1, c, p, pixels).permute(2, 1, 0, 3)
        v = torch.cat([per_residue, per_residue[:p - 1]])
        batch = _batch_hint(x)
        if self.residue_in:
            xr = x
        elif batch == 1 and tap is x and _eager_inference():
            xr = v[:p].reshape(1, m, *out)  # batch 1, "same" conv: v's first P blocks are x
        else:
            xr = _to_residue_order(x, p)
        y = self._conv(xr, self.weight_kxk, self._residue_bias(), p)
        # window[r] = blocks r+1 .. r+P-1 of v: [P, (P-1)·c, b·pixels], a view of v
        window = v.unfold(0, p - 1, 1)[1:].permute(0, 4, 1, 2, 3).reshape(p, (p - 1) * c, -1)
        weight = self.weight_1x1.reshape(p, per_filter, (p - 1) * c)
        ro = self.residue_out   # y1 as [b, r, i, pixels] (residue order) or [b, i, r, pixels]
        if batch * pixels >= per_filter:  # [r, i, (b, pixels)]
            y1 = torch.bmm(weight, window).reshape(p, per_filter, -1, pixels)
            y1 = y1.permute(2, 0, 1, 3) if ro else y1.permute(2, 1, 0, 3)
        else:  # few pixels (late layers, batch 1): the transposed product is much faster
            y1 = torch.bmm(window.mT, weight.mT).reshape(p, -1, pixels, per_filter)
            y1 = y1.permute(1, 0, 3, 2) if ro else y1.permute(1, 3, 0, 2)
        if ro:  # y is in residue order already: the 1×1 half is added into it
            y = y.reshape(-1, p, per_filter, pixels)
            summed = y.add_(y1) if _eager_inference() else y + y1
            return summed.reshape(-1, n, *out)
        # Both halves to filter order n = i·P + r in the same pass as their sum.
        y = y.reshape(-1, p, per_filter, pixels).permute(0, 2, 1, 3)
        if not _eager_inference():
            return (y + y1).reshape(-1, n, *out)
        result = torch.empty_like(y1, memory_format=torch.contiguous_format)
        return torch.add(y, y1, out=result).reshape(-1, n, *out)

    def _forward_exact_cl(self, x: torch.Tensor) -> torch.Tensor:
        """``exact`` in channels-last: the grouped K×K conv on the residue-ordered input, then,
        per residue ``r``, ``addmm`` of the taps of residues ``r+1..P−1`` and of ``0..r−1``
        into its filters' columns (exactly Eq. 3's MACs), then filters back in order."""
        p, n, m = self.part, self.out_channels, self.in_channels
        c, per_filter = m // p, n // p
        out, _, pads = self._geometry(x)
        xr = _channels_last(x) if self.residue_in else _residue_channels_last(x, p)
        y = _rows(self._conv(xr, self._kxk_channels_last(), self._residue_bias(), p), n)
        taps = _rows(self._centre_tap(xr, pads), m)
        weight = self.weight_1x1.reshape(p, per_filter, (p - 1) * c)
        fused = _eager_inference()
        columns = []
        for r in range(p):
            after = (p - 1 - r) * c   # weight columns of residues r+1 .. P-1 come first
            target = y[:, r * per_filter:(r + 1) * per_filter]
            for taken, w in ((taps[:, (r + 1) * c:], weight[r, :, :after]),
                             (taps[:, :r * c], weight[r, :, after:])):
                if w.shape[1]:
                    target = (torch.addmm(target, taken, w.t(), out=target) if fused
                              else torch.addmm(target, taken, w.t()))
            columns.append(target)
        if not fused:
            y = torch.cat(columns, dim=1)
        return _from_rows(y if self.residue_out else _filter_order_rows(y, p), out, n)

    def _forward_fast(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 2 as a K×K conv with P groups on the residue-ordered input, then the 1×1 kernels
        as one product of all M centre taps with the dense ``N×M`` 1×1 weight (zero at each
        filter's K×K channels), added into the conv's output: ``Do·Do·N·M/P`` MACs more than
        Eq. 3. A product, not a 1×1 conv: at batch 1 torch runs a 1×1 conv through im2col on
        one thread, and the product is the same multiply without the copy. With fewer pixels
        (columns of each image's product) than filters per residue, rows of taps times the
        transposed weight: a weight times a few columns is far below the device's rate
        (512×512 times 4 columns, 2 threads: about 5x slower than 4 rows times 512×512)."""
        p, n, m = self.part, self.out_channels, self.in_channels
        out, pixels, pads = self._geometry(x)
        xr = x if self.residue_in else _to_residue_order(x, p)
        y = self._conv(xr, self.weight_kxk, self._residue_bias(), p).reshape(-1, n, pixels)
        taps = self._centre_tap(xr, pads).reshape(-1, m, pixels)
        weight = self._kept("centre-residue", self._dense_centre_residue)   # M×N, residue order
        batch, fused = _batch_hint(x), _eager_inference()
        if pixels < n // p:  # each image's product: a weight times a few columns
            rows = torch.mm(taps.transpose(1, 2).reshape(-1, m), weight)
            product = rows.reshape(-1, pixels, n).transpose(1, 2)
            y = y.add_(product) if fused else y + product
        elif fused and batch == 1:  # out=: the counters know addmm and baddbmm, not their _
            torch.addmm(y[0], weight.t(), taps[0], out=y[0])
        elif fused:
            torch.baddbmm(y, weight.t().expand(batch, n, m), taps, out=y)
        else:  # a bmm and an add: what every counter knows (fvcore has no baddbmm)
            y = y + torch.bmm(weight.t().expand(y.shape[0], n, m), taps)
        y = y.reshape(-1, n, *out)
        return y if self.residue_out else channel_order(y, p, 1)

    def _forward_fast_cl(self, x: torch.Tensor) -> torch.Tensor:
        """``fast`` in channels-last: the grouped K×K conv on the residue-ordered input, then
        one ``addmm`` of all M taps (zero weights at each filter's K×K channels) into it."""
        p, n, m = self.part, self.out_channels, self.in_channels
        out, _, pads = self._geometry(x)
        xr = _channels_last(x) if self.residue_in else _residue_channels_last(x, p)
        y = _rows(self._conv(xr, self._kxk_channels_last(), self._residue_bias(), p), n)
        taps = _rows(self._centre_tap(xr, pads), m)
        weight = self._kept("centre-residue", self._dense_centre_residue)
        y = (torch.addmm(y, taps, weight, out=y) if _eager_inference()
             else torch.addmm(y, taps, weight))
        return _from_rows(y if self.residue_out else _filter_order_rows(y, p), out, n)

    def _kxk_channels_last(self) -> torch.Tensor:
        """``weight_kxk`` in the channels-last layout of the realizations' channels-last input,
        kept (:meth:`_kept`): given a contiguous weight, the conv would copy it to that layout
        on every call (at batch 1, 512 channels, 4×4, that copy is most of the call's time)."""
        formats = {2: torch.channels_last, 3: torch.channels_last_3d}
        if self.dims not in formats:  # 1-D: there is no channels-last layout to match
            return self.weight_kxk
        layout = formats[self.dims]
        return self._kept(f"kxk-{layout}", lambda: self.weight_kxk.contiguous(memory_format=layout))

    def _forward_gemm(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 4 as one batched matmul: per residue ``r``, the K×K patches of its ``M/P``
        channels (im2col) and the centre taps of the other ``(P−1)·M/P`` channels, side by side,
        times the filters' K×K and 1×1 weights side by side (:meth:`_stacked_weight`). No
        grouped conv (whose per-call weight reordering dominates small layers), no zero weight,
        and the weights are read in the layout they are stored in."""
        p, n, m, d = self.part, self.out_channels, self.in_channels, self.dims
        c, per_filter, k2 = m // p, n // p, _product(self.kernel_size)
        out, pixels, _ = self._geometry(x)
        patches = self._patches(x)   # [b, M, *out, *k]
        # [b, M, *out, *k] -> [b, j, r, *out, *k] (a view) -> [r, j, *k, b, *out] (a view);
        # an input in residue order is [b, r, j, *out, *k]
        kernel_axes = range(3 + d, 3 + 2 * d)
        if self.residue_in:
            patches = patches.reshape(-1, p, c, *out, *self.kernel_size)
            kxk = patches.permute(1, 2, *kernel_axes, 0, *range(3, 3 + d))
        else:
            patches = patches.reshape(-1, c, p, *out, *self.kernel_size)
            kxk = patches.permute(2, 1, *kernel_axes, 0, *range(3, 3 + d))
        fill = _eager_inference()
        if fill:  # [r, c·K² + (P−1)·c, cols] filled in place: one copy less than a cat
            inputs = x.new_empty(p, c * k2 + (p - 1) * c, kxk[0, 0].numel() // k2)
            inputs[:, :c * k2].view(kxk.shape).copy_(kxk)
            kxk = inputs[:, :c * k2]
        else:
            kxk = kxk.reshape(p, c * k2, -1)
        centre = kxk.reshape(p, c, k2, -1)[:, :, _centre_offset(self.kernel_size)]  # [s, j, cols]
        v = torch.cat([centre, centre[:p - 1]])
        window = v.unfold(0, p - 1, 1)[1:].permute(0, 3, 1, 2)           # [r, t, j, cols], a view
        if fill:
            inputs[:, c * k2:].view(window.shape).copy_(window)
        else:
            inputs = torch.cat([kxk, window.reshape(p, (p - 1) * c, -1)], dim=1)
        weight = self._kept("stacked", self._stacked_weight)            # [r, i, c·K² + (P−1)·c]
        # [r, i, (b, pixels)]: the transposed product is slower here even with few columns
        y = torch.bmm(weight, inputs).reshape(p, per_filter, -1, pixels)
        if self.residue_out:  # [b, r, i, pixels]: residue order
            y, bias = y.permute(2, 0, 1, 3).reshape(-1, n, *out), self._residue_bias()
        else:  # [b, i, r, pixels]: filter order n = i·P + r
            y, bias = y.permute(2, 1, 0, 3).reshape(-1, n, *out), self.bias
        if bias is not None:
            y = y + bias.reshape(n, *(1,) * d)
        return y

    def _forward_gemm_rows(self, x: torch.Tensor) -> torch.Tensor:
        """Eq. 4 as products with the pixels as rows, for layers of few pixels: torch's im2col
        of the input in residue order; per residue ``r``, the rows of its K×K patches times its
        K×K weights, then the rows of the other residues' centre taps times its 1×1 weights,
        added into the same rows. Both left operands are views (of the im2col matrix and of the
        doubled centre taps), the weights are kept transposed so each product reads them in
        order, and one copy puts the result in filter (or residue) order. A weight times a few
        columns runs far below the device's rate; a few rows times a weight does not (512
        channels at 2×2, batch 1, 2 threads: 68 µs against 464 µs for the same ``bmm``)."""
        p, n, m = self.part, self.out_channels, self.in_channels
        c, per_filter, k2 = m // p, n // p, _product(self.kernel_size)
        out, pixels, pads = self._geometry(x)
        xr = x if self.residue_in else _to_residue_order(x, p)
        cols = self._im2col(xr, pixels).reshape(-1, p, c * k2, pixels)         # [b, r, (j, K²), pixels]
        taps = self._centre_tap(xr, pads).reshape(-1, m, pixels)
        v = torch.cat([taps, taps[:, :(p - 1) * c]], dim=1)   # residues 0..P−1, 0..P−2
        wk = self._kept("rows-kxk", lambda: self.weight_kxk.reshape(p, per_filter, c * k2)
                        .transpose(1, 2).contiguous())                 # [r, (j, K²), i]
        w1 = self._kept("rows-1x1", lambda: self.weight_1x1.reshape(p, per_filter, (p - 1) * c)
                        .transpose(1, 2).contiguous())                 # [r, (t, j), i]
        bias = self._residue_bias()
        bias = None if bias is None else bias.reshape(p, 1, per_filter)
        batch = _batch_hint(x)
        if not _eager_inference():  # the same products as matmuls, which every counter knows
            windows = torch.stack([v[:, (r + 1) * c:(r + p) * c] for r in range(p)], dim=1)
            y = cols.transpose(2, 3).matmul(wk) + windows.transpose(2, 3).matmul(w1)
            y = y.transpose(0, 1) if bias is None else y.transpose(0, 1) + bias.unsqueeze(1)
        elif batch == 1:  # one product per half, batched over the residues, on views
            window = v.as_strided((p, (p - 1) * c, pixels), (c * pixels, pixels, 1),
                                  v.storage_offset() + c * pixels)     # [r, (t, j), pixels]
            rows = cols[0].transpose(1, 2)
            y = (torch.bmm(rows, wk) if bias is None else torch.baddbmm(bias, rows, wk))
            y = torch.baddbmm(y, window.transpose(1, 2), w1, out=y).unsqueeze(1)
        else:  # per residue, batched over the images: the weights are a view for every image
            y = x.new_empty(p, batch, pixels, per_filter)
            for r in range(p):
                rows = cols[:, r].transpose(1, 2)                      # [b, pixels, (j, K²)]
                window = v[:, (r + 1) * c:(r + p) * c].transpose(1, 2)
                if bias is None:
                    torch.bmm(rows, wk[r].expand(batch, -1, -1), out=y[r])
                else:
                    torch.baddbmm(bias[r].expand(batch, -1, -1), rows,
                                  wk[r].expand(batch, -1, -1), out=y[r])
                torch.baddbmm(y[r], window, w1[r].expand(batch, -1, -1), out=y[r])
        # y: [r, b, pixels, i]
        if self.residue_out:
            return y.permute(1, 0, 3, 2).reshape(-1, n, *out)
        return y.permute(1, 3, 0, 2).reshape(-1, n, *out)

    def _im2col(self, x: torch.Tensor, pixels: int) -> torch.Tensor:
        """``[b, M·K², pixels]``: each channel's K×K patches (channel-major, then the kernel
        axes), one copy. torch's own im2col for 1-D and 2-D in eager inference; otherwise
        (3-D, or where the graph is traced: fvcore does not know ``aten::im2col``) the padded
        input's windows, as views, copied once."""
        d, m = self.dims, self.in_channels
        k2 = _product(self.kernel_size)
        if d < 3 and _eager_inference():
            if d == 2:
                return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
            return F.unfold(x.unsqueeze(2), (1, *self.kernel_size), (1, *self.dilation),
                            (0, *self.padding), (1, *self.stride))
        # [b, M, *out, *k] -> [b, M, *k, *out]
        patches = self._patches(x).permute(0, 1, *range(2 + d, 2 + 2 * d), *range(2, 2 + d))
        return patches.reshape(-1, m * k2, pixels)

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """``[b, M, *out, *k]``: every output position's K×K window of the zero-padded input,
        as views (the padding is the one copy)."""
        pads = [side for pad in reversed(self.padding) for side in (pad, pad)]
        patches = torch.constant_pad_nd(x, pads) if any(pads) else x
        for axis, (k, s, dil) in enumerate(zip(self.kernel_size, self.stride, self.dilation,
                                               strict=True)):
            patches = patches.unfold(2 + axis, (k - 1) * dil + 1, s)   # windows last
            if dil > 1:
                patches = patches[..., ::dil]
        return patches

    def _stacked_weight(self) -> torch.Tensor:
        """``[P, N/P, (M/P)·K² + (P−1)·M/P]``: residue ``r``'s filters' K×K weights, then their
        1×1 weights, in the order :meth:`_forward_gemm` lays out its inputs."""
        p, n = self.part, self.out_channels
        kxk = self.weight_kxk.reshape(p, n // p, -1)
        return torch.cat([kxk, self.weight_1x1.reshape(p, n // p, -1)], dim=2)

    def _forward_branches(self, x: torch.Tensor) -> torch.Tensor:
        """One branch per residue ``r``: a K×K conv of its ``M/P`` channels to its ``N/P``
        filters and a 1×1 conv of the other residues' centre taps to the same filters, then the
        branches interleaved into filter order. ``2P`` plain convs, exactly Eq. 4's MACs; worth
        it at small ``P``, where a plain conv runs at a higher MAC rate than a grouped one."""
        p, n, m, d = self.part, self.out_channels, self.in_channels, self.dims
        c, per_filter = m // p, n // p
        _, _, pads = self._geometry(x)
        xr = x if self.residue_in else _to_residue_order(x, p)
        tap = self._centre_tap(xr, pads)
        doubled = torch.cat([tap, tap[:, :(p - 1) * c]], dim=1)  # residues 0..P-1, 0..P-2
        bias = self._residue_bias()
        kxk = self.weight_kxk.reshape(p, per_filter, c, *self.kernel_size)
        centre = self.weight_1x1.reshape(p, per_filter, (p - 1) * c, *(1,) * d)
        branches = []
        for r in range(p):
            y = self._conv(xr[:, r * c:(r + 1) * c], kxk[r],
                           None if bias is None else bias[r * per_filter:(r + 1) * per_filter], 1)
            y1 = _CONV[d](doubled[:, (r + 1) * c:(r + p) * c], centre[r])
            branches.append(y.add_(y1) if _eager_inference() else y + y1)
        if self.residue_out:
            return torch.cat(branches, dim=1)  # [b, (r, i), ...]: residue order
        return torch.stack(branches, dim=2).flatten(1, 2)  # [b, i, r, ...]: n = i·P + r

    def _forward_dense(self, x: torch.Tensor) -> torch.Tensor:
        """The masked dense conv: ``conv(x, to_dense())``, Eq. 1's MACs; for an input or output
        in residue order, with the dense weight's columns or rows (and the bias) in that order."""
        ri, ro = self.residue_in, self.residue_out
        weight = self._kept(f"dense-{ri:d}{ro:d}", self._ordered_dense)
        return self._conv(x, weight, self._residue_bias() if ro else self.bias, 1)

    def _ordered_dense(self) -> torch.Tensor:
        """:meth:`to_dense` with its filters in residue order when the output leaves in it, and
        its channels when the input arrives in it."""
        w = self.to_dense()
        if self.residue_out:
            w = residue_order(w, self.part, 0)
        if self.residue_in:
            w = residue_order(w, self.part, 1)
        return w
