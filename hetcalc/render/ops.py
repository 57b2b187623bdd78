"""Operators fvcore has no handle for, told in words: what each one is, whether it multiplies,
and which model it comes from (the original, or the substituted model's new layers)."""

from __future__ import annotations

NO_MAC_OPS: dict[str, str] = {
    # element-wise arithmetic and activations: no multiply-accumulate
    "aten::add": "element-wise add (a residual, a bias, or the two halves of a layer summed)",
    "aten::add_": "in-place add (a residual)",
    "aten::sub": "element-wise subtraction", "aten::sub_": "in-place subtraction",
    "aten::mul": "element-wise product (a scale)", "aten::mul_": "in-place product",
    "aten::div": "element-wise division", "aten::div_": "in-place division",
    "aten::neg": "negation",
    "aten::sigmoid": "sigmoid", "aten::sigmoid_": "sigmoid",
    "aten::hardsigmoid": "hard sigmoid", "aten::hardsigmoid_": "hard sigmoid",
    "aten::hardswish": "hard swish", "aten::hardswish_": "hard swish",
    "aten::silu": "SiLU", "aten::silu_": "SiLU", "aten::gelu": "GELU", "aten::relu6": "ReLU6",
    "aten::hardtanh": "hard tanh", "aten::hardtanh_": "hard tanh", "aten::softmax": "softmax",
    "aten::stochastic_depth": "stochastic depth (identity in eval)",
    "aten::dropout": "dropout (identity in eval)", "aten::dropout_": "dropout (identity in eval)",
    "aten::scalarimplicit": "a tensor read as a number",
    # pooling: adds or comparisons
    "aten::max_pool2d": "max pooling (comparisons)", "aten::avg_pool2d": "average pooling (adds)",
    "aten::adaptive_avg_pool2d": "average pooling (adds)",
    "aten::mean": "a mean (adds: global pooling, SE)",
    # data movement and views
    "aten::pad": "padding (a copy)", "aten::as_strided": "a strided view",
    "aten::mT": "a matrix transpose (a view, for a batched matmul)",
    "aten::transpose": "a transpose (a view)", "aten::unflatten": "a reshape (a view)",
    "aten::channel_shuffle": "channel shuffle (a copy)", "aten::clone": "a copy",
    "aten::split": "a channel split (views)", "aten::split_with_sizes": "a channel split (views)",
    "aten::cat": "a concatenation (a copy)",
    "aten::unfold": "sliding windows (a view: HetConv's centre taps or im2col)",
}
"""Every operator known to run no multiply-accumulates, with what it is."""


def _listing(ops: dict[str, int]) -> str:
    return ", ".join(f"{op} x{n} ({NO_MAC_OPS[op]})" if op in NO_MAC_OPS else f"{op} x{n}"
                     for op, n in ops.items())


def uncounted_notes(ops: dict[str, int], variant_ops: dict[str, int] | None = None,
                    label: str = "the variant") -> list[str]:
    """Which uncounted operators hide real compute (a warning) and which cost no MACs, each
    named with what it is; ``ops`` are the original model's, ``variant_ops`` the substituted
    model's (when it was counted): what it runs beyond the original is said apart."""
    added = {op: n - ops.get(op, 0) for op, n in (variant_ops or {}).items()
             if n > ops.get(op, 0)}
    notes = []
    for where, found in (("", ops), (f" (only in the model as {label} runs it)", added)):
        compute = {op: n for op, n in found.items() if op not in NO_MAC_OPS}
        if compute:
            notes.append(f"WARNING: fvcore has no count for {_listing(compute)}{where}; if "
                         "these multiply, their MACs are missing from every total here.")
    harmless = {op: n for op, n in ops.items() if op in NO_MAC_OPS}
    extra = {op: n for op, n in added.items() if op in NO_MAC_OPS}
    if harmless:
        notes.append("Not counted by fvcore and no MACs (element-wise, pooling, data movement): "
                     f"{_listing(harmless)}.")
    if extra:
        notes.append(f"The model as {label} runs it adds, also without MACs: {_listing(extra)}.")
    return notes
