"""One traced forward pass: the shape of every ``nn.Conv2d`` call and fvcore's count per module.

fvcore's ``FlopCountAnalysis`` traces the model with ``torch.jit``; forward hooks registered on
the convolutions fire during that same trace, so one pass gives both the layer shapes (for the
paper's formulas) and the counted MACs (for the cross-check). Operators fvcore has no handle for
are returned in :attr:`Trace.uncounted_ops`, never silently taken as zero.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from dataclasses import dataclass, field, replace

import torch
from torch import nn

with warnings.catch_warnings():  # fvcore's import touches the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis

from hetcalc.errors import TraceError
from hetcalc.variants import ConvShape


@dataclass(frozen=True)
class Follower:
    """A leaf module called between two convs: its name, class, channel count (BatchNorm) and
    how many times the forward pass called it."""

    name: str
    kind: str
    channels: int | None
    calls: int
    params: int


@dataclass(frozen=True)
class ConvCall:
    """One ``nn.Conv2d`` of the model, as it was called in the traced forward."""

    name: str
    shape: ConvShape
    calls: int = 1
    order: int = 0
    followed_by: tuple[Follower, ...] = ()
    """Leaf modules called after this conv and before the next conv (first call only)."""


@dataclass(frozen=True)
class Trace:
    """What one traced forward pass tells about a model."""

    input_shape: tuple[int, ...]
    convs: list[ConvCall]
    flops_total: int
    params: int
    by_module: dict[str, int] = field(repr=False)
    uncounted_ops: dict[str, int]
    fold_bn: bool = False
    """True when BatchNorm was counted as folded into the layer before it (0 MACs)."""

    def flops_of(self, name: str) -> int:
        """fvcore's MACs for the module ``name`` (0 for a module that ran no counted operator)."""
        return self.by_module.get(name, 0)


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def conv_shape(conv: nn.Conv2d, input_size: tuple[int, int], output_size: tuple[int, int]) -> ConvShape:
    """The :class:`ConvShape` of ``conv`` called on an input of ``input_size``."""
    kernel, dilation = _pair(conv.kernel_size), _pair(conv.dilation)
    if conv.padding == "valid":
        padding = (0, 0)
    elif conv.padding == "same":  # stride 1; an even kernel pads one more on the far side
        padding = tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True))
    else:
        padding = _pair(conv.padding)
    return ConvShape(
        in_channels=conv.in_channels,
        out_channels=conv.out_channels,
        kernel=kernel,
        stride=_pair(conv.stride),
        padding=padding,
        dilation=dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
        input_size=input_size,
        output_size=output_size,
    )


def count_params(model: nn.Module) -> int:
    """All parameters of the model, BN included, each shared tensor once (as the paper counts)."""
    return sum(p.numel() for p in model.parameters())


@contextlib.contextmanager
def _counting_mode():
    """Grad off (no autograd graph is kept) but ``nn.MultiheadAttention``'s fused inference
    path off too, so attention is traced as the linear and matmul ops fvcore counts, exactly as
    an ordinary grad-enabled ``FlopCountAnalysis`` sees it. Both settings are restored."""
    fastpath = getattr(torch.backends, "mha", None)
    previous = fastpath.get_fastpath_enabled() if fastpath else None
    try:
        if fastpath:
            fastpath.set_fastpath_enabled(False)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if fastpath:
            fastpath.set_fastpath_enabled(previous)


class ConvRecorder:
    """Context manager that records every ``nn.Conv2d`` call of a model's forward passes."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._calls: dict[str, ConvCall] = {}
        self._handles: list = []
        self._sequence: list[tuple[str, nn.Module]] = []

    @property
    def calls(self) -> list[ConvCall]:
        """Recorded convs in the order of their first call, each with the leaf modules that
        ran between it and the next conv."""
        counts: dict[str, int] = {}
        for name, _ in self._sequence:
            counts[name] = counts.get(name, 0) + 1
        following: dict[str, list[Follower]] = {}
        current: str | None = None
        for name, module in self._sequence:
            if isinstance(module, nn.Conv2d):
                current = name if name not in following else None
                if current is not None:
                    following[current] = []
            elif current is not None:
                channels = module.num_features if isinstance(module, nn.BatchNorm2d) else None
                params = sum(p.numel() for p in module.parameters(recurse=False))
                following[current].append(Follower(name, type(module).__name__, channels,
                                                   counts[name], params))
        ordered = sorted(self._calls.values(), key=lambda c: c.order)
        return [replace(c, followed_by=tuple(following.get(c.name, ()))) for c in ordered]

    def _leaf_hook(self, module_name: str):
        def record(module: nn.Module, args, output) -> None:
            self._sequence.append((module_name, module))
        return record

    def _hook(self, module_name: str):
        def record(conv: nn.Conv2d, args, output) -> None:
            self._sequence.append((module_name, conv))
            seen = self._calls.get(module_name)
            if seen is not None:
                self._calls[module_name] = ConvCall(seen.name, seen.shape, seen.calls + 1,
                                                    seen.order)
                return
            in_hw = tuple(int(v) for v in args[0].shape[-2:])
            out_hw = tuple(int(v) for v in output.shape[-2:])
            self._calls[module_name] = ConvCall(module_name, conv_shape(conv, in_hw, out_hw),
                                                order=len(self._calls))
        return record

    def __enter__(self) -> ConvRecorder:
        for module_name, module in self.model.named_modules():
            if isinstance(module, nn.Conv2d):
                self._handles.append(module.register_forward_hook(self._hook(module_name)))
            elif not any(True for _ in module.children()):
                self._handles.append(module.register_forward_hook(self._leaf_hook(module_name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def zero_input(model: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    """A zero input on the model's device and floating dtype."""
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    return torch.zeros(input_shape, device=device, dtype=dtype)


def conv_calls(model: nn.Module, input_shape: tuple[int, ...], name: str = "model"
               ) -> list[ConvCall]:
    """The conv calls of one plain forward pass (no counting), for planning a substitution."""
    try:
        with _counting_mode(), ConvRecorder(model) as recorder:
            model(zero_input(model, input_shape))
    except Exception as error:
        raise TraceError(f"model {name!r} failed to run on input shape "
                         f"{','.join(map(str, input_shape))}: {_first_line(error)}") from error
    return recorder.calls


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


BATCH_NORM_OPS = ("aten::batch_norm",)


def _folded(inputs, outputs) -> int:
    """fvcore handle for a BatchNorm folded into the layer before it: no MACs of its own."""
    return 0


def trace_model(model: nn.Module, input_shape: tuple[int, ...], name: str = "model",
                fold_bn: bool = False) -> Trace:
    """Trace ``model`` once on a zero input of ``input_shape`` (on the model's device).

    fvcore counts an affine BatchNorm in eval mode as 2 per element. ``fold_bn=True`` counts it
    as 0 instead: folded into the conv or linear layer before it, as a deployed model runs it
    (what remains is a bias add, which hetcalc, like fvcore, does not count). This is also the
    paper's convention for its tables, less their bias adds (docs/cost-model.md).
    """
    inputs = zero_input(model, input_shape)
    recorder = ConvRecorder(model)
    analysis = (
        FlopCountAnalysis(model, inputs)
        .unsupported_ops_warnings(False)
        .uncalled_modules_warnings(False)
        .tracer_warnings("none")
    )
    if fold_bn:
        for op in BATCH_NORM_OPS:
            analysis.set_op_handle(op, _folded)
    try:
        with _counting_mode(), recorder:
            total = int(analysis.total())
            by_module = {k: int(v) for k, v in analysis.by_module().items()}
            uncounted = dict(sorted(Counter(analysis.unsupported_ops()).items()))
    except Exception as error:
        raise TraceError(
            f"model {name!r} failed to trace with input shape "
            f"{','.join(map(str, input_shape))}: {_first_line(error)}"
        ) from error

    return Trace(
        input_shape=tuple(input_shape),
        convs=recorder.calls,
        flops_total=total,
        params=count_params(model),
        by_module=by_module,
        uncounted_ops=uncounted,
        fold_bn=fold_bn,
    )
