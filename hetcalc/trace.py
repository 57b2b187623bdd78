"""One traced forward pass: the shape of every convolution call and fvcore's count per module.

Every ``nn.Conv1d/2d/3d`` and ``nn.ConvTranspose1d/2d/3d`` call is recorded, so a layer that no
variant replaces still appears in the report with its reason.

fvcore's ``FlopCountAnalysis`` traces the model with ``torch.jit``; forward hooks registered on
the convolutions fire during that same trace, so one pass gives both the layer shapes (for the
paper's formulas) and the counted MACs (for the cross-check). Operators fvcore has no handle for
are returned in :attr:`Trace.uncounted_ops`, never silently taken as zero.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import torch
from torch import nn

with warnings.catch_warnings():  # fvcore's import touches the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.jit_handles import conv_flop_count, get_shape

from hetcalc.errors import TraceError
from hetcalc.inputs import Inputs, argument_error, positional, signature
from hetcalc.modtree import ModuleStats
from hetcalc.shapes import ConvShape, as_size, resolve_padding
from hetcalc.tensors import storage_free_copy
from hetcalc.usercode import running_user_code, spec_argv0

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
              nn.ConvTranspose3d)


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
    """One convolution module of the model, as it was called in the traced forward."""

    name: str
    shape: ConvShape
    calls: int = 1
    order: int = 0
    followed_by: tuple[Follower, ...] = ()
    """Leaf modules called after this conv and before the next conv (first call only)."""
    volume: int = 0
    """Σ over the calls of batch × the product of the sizes the conv's MACs scale with (the
    output's; the input's for a transposed conv): a shared conv's cost is its first call's
    times ``volume / shape volume``."""


@dataclass(frozen=True)
class Trace:
    """What counting a model's forward pass tells about it.

    Two independent counters: fvcore (``torch.jit`` tracing, the reference) and torch's
    ``FlopCounterMode`` (no jit, run on the meta device). ``flops_total``/``by_module`` are
    fvcore's when it ran (``counter == "fvcore"``), else torch's, and ``fvcore_note`` says why
    fvcore did not run.
    """

    input_shape: tuple[int, ...]
    convs: list[ConvCall]
    flops_total: int
    params: int
    by_module: dict[str, int] = field(repr=False)
    uncounted_ops: dict[str, int]
    fold_bn: bool = False
    """True when BatchNorm was counted as folded into the layer before it (0 MACs)."""
    torch_total: int | None = None
    torch_by_module: dict[str, int] = field(default_factory=dict, repr=False)
    counter: str = "fvcore"
    fvcore_note: str | None = None
    largest_output: int = 0
    """Bytes of the largest tensor any module returned (float32 at the traced batch size)."""
    activation_bytes: int = 0
    """Bytes of every tensor a leaf module returned in the pass, summed (float32): the forward
    pass's activation memory as torchinfo's "forward pass size" sums it."""
    modules: dict[str, ModuleStats] = field(default_factory=dict, repr=False)
    """Every module (``named_modules``, in its order): its params and output shapes, for the
    module tree (:mod:`hetcalc.modtree`; its MACs are :meth:`flops_of`)."""
    inputs: str | None = None
    """The forward's inputs in words when they are more than ``input_shape`` (the first
    tensor's) says: several tensors, keywords, a dtype (:attr:`hetcalc.inputs.Inputs.described`)."""

    @property
    def fvcore_total(self) -> int | None:
        return self.flops_total if self.counter == "fvcore" else None

    def flops_of(self, name: str) -> int:
        """The MACs of module ``name`` by the primary counter (0 for a module that ran no
        counted operator)."""
        return self.by_module.get(name, 0)

    def fvcore_of(self, name: str) -> int | None:
        return self.by_module.get(name, 0) if self.counter == "fvcore" else None

    def torch_of(self, name: str) -> int | None:
        return None if self.torch_total is None else self.torch_by_module.get(name, 0)


def conv_shape(conv: nn.Module, input_size: tuple[int, ...], output_size: tuple[int, ...],
               batch: int = 1) -> ConvShape:
    """The :class:`ConvShape` of ``conv`` (any ``nn.ConvNd`` or ``nn.ConvTransposeNd``) called
    on an input of ``batch`` × channels × ``input_size``."""
    dims = len(input_size)
    kernel, dilation = as_size(conv.kernel_size, dims), as_size(conv.dilation, dims)
    sides = resolve_padding(conv.padding, kernel, dilation)
    return ConvShape(
        in_channels=conv.in_channels,
        out_channels=conv.out_channels,
        kernel=kernel,
        stride=as_size(conv.stride, dims),
        padding=tuple(before for before, _ in sides),
        dilation=dilation,
        groups=conv.groups,
        bias=conv.bias is not None,
        input_size=tuple(input_size),
        output_size=tuple(output_size),
        batch=batch,
        padding_mode=conv.padding_mode,
        padding_symmetric=all(before == after for before, after in sides),
        transposed=bool(getattr(conv, "transposed", False)),
    )


def count_params(model: nn.Module) -> int:
    """All parameters of the model, BN included, each shared tensor once (as the paper counts)."""
    return sum(p.numel() for p in model.parameters())


def module_stats(model: nn.Module, recorder: ConvRecorder) -> dict[str, ModuleStats]:
    """Every module's params and the output shapes ``recorder`` saw, in ``named_modules``
    order."""
    return {name: ModuleStats(count_params(module), recorder.output_shapes.get(name, ()))
            for name, module in model.named_modules()}


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
    """Context manager that records every convolution call of a model's forward passes."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._calls: dict[str, ConvCall] = {}
        self._handles: list = []
        self.largest_output = 0
        """Bytes of the largest tensor a module returned (to bound a real pass's memory)."""
        self.activation_bytes = 0
        """Bytes of every tensor a leaf module returned, summed over the pass."""
        self._sequence: list[tuple[str, nn.Module]] = []
        self.output_shapes: dict[str, tuple[tuple[int, ...], ...]] = {}
        """Every module's first call: the shapes of the tensors it returned."""

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
            if isinstance(module, CONV_TYPES):
                current = name if name not in following else None
                if current is not None:
                    following[current] = []
            elif current is not None:
                batch_norm = isinstance(module, nn.modules.batchnorm._BatchNorm)
                channels = module.num_features if batch_norm else None
                params = sum(p.numel() for p in module.parameters(recurse=False))
                following[current].append(Follower(name, type(module).__name__, channels,
                                                   counts[name], params))
        ordered = sorted(self._calls.values(), key=lambda c: c.order)
        return [replace(c, followed_by=tuple(following.get(c.name, ()))) for c in ordered]

    def _leaf_hook(self, module_name: str):
        def record(module: nn.Module, args, output) -> None:
            self._sequence.append((module_name, module))
            self._measure(output)
        return record

    def _measure(self, output) -> None:
        for value in torch.utils._pytree.tree_leaves(output):
            if isinstance(value, torch.Tensor):
                size = value.numel() * value.element_size()
                self.largest_output = max(self.largest_output, size)
                self.activation_bytes += size

    def _shape_hook(self, module_name: str):
        def record(module: nn.Module, args, output) -> None:
            self.output_shapes.setdefault(module_name, tuple(
                tuple(int(v) for v in value.shape)
                for value in torch.utils._pytree.tree_leaves(output)
                if isinstance(value, torch.Tensor)))
        return record

    def _hook(self, module_name: str):
        def record(conv: nn.Module, args, output) -> None:
            self._sequence.append((module_name, conv))
            self._measure(output)
            x = args[0]
            dims = len(conv.kernel_size)
            batch = int(x.shape[0]) if x.dim() == dims + 2 else 1  # unbatched: C × size
            in_size = tuple(int(v) for v in x.shape[-dims:])
            out_size = tuple(int(v) for v in output.shape[-dims:])
            volume = batch * math.prod(in_size if getattr(conv, "transposed", False) else out_size)
            seen = self._calls.get(module_name)
            if seen is not None:
                self._calls[module_name] = replace(seen, calls=seen.calls + 1,
                                                   volume=seen.volume + volume)
                return
            self._calls[module_name] = ConvCall(module_name,
                                                conv_shape(conv, in_size, out_size, batch),
                                                order=len(self._calls), volume=volume)
        return record

    def __enter__(self) -> ConvRecorder:
        for module_name, module in self.model.named_modules():
            self._handles.append(module.register_forward_hook(self._shape_hook(module_name)))
            if isinstance(module, CONV_TYPES):
                self._handles.append(module.register_forward_hook(self._hook(module_name)))
            elif not any(True for _ in module.children()):
                self._handles.append(module.register_forward_hook(self._leaf_hook(module_name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


_HOOK_DICTS = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
               "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
               "_backward_pre_hooks")


@contextlib.contextmanager
def hooks_restored(model: nn.Module):
    """Inside the block, none of the hooks already on ``model``'s modules fire: a user's hook
    is no part of what hetcalc counts, and one that raises or prints must not reach the count.
    On exit every module has its own hooks back and none added inside the block, on every path
    (fvcore's tracer leaves its scope hooks behind when the traced forward fails)."""
    kept = [(module, name, getattr(module, name)) for module in model.modules()
            for name in _HOOK_DICTS if getattr(module, name, None) is not None]
    try:
        for module, name, hooks in kept:
            setattr(module, name, type(hooks)())
        yield
    finally:
        for module, name, hooks in kept:
            setattr(module, name, hooks)


@contextlib.contextmanager
def isolated(model: nn.Module):
    """Run a forward pass that leaves no trace on ``model`` or on torch's global state: every
    module in eval mode (no BatchNorm statistics updated, no dropout), none of the user's hooks
    firing, and the random number generators' states restored. Everything is put back on exit."""
    modes = [(module, module.training) for module in model.modules()]
    stashed = [(module, name, getattr(module, name)) for module in model.modules()
               for name in _HOOK_DICTS if getattr(module, name, None)]
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        for module, name, hooks in stashed:
            setattr(module, name, type(hooks)())
        model.eval()
        yield
    finally:
        for module, name, hooks in stashed:
            setattr(module, name, hooks)
        for module, training in modes:
            module.training = training
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


def conv_calls(model: nn.Module, input_shape: Inputs | Sequence[int] | Sequence[object],
               name: str = "model") -> list[ConvCall]:
    """The conv calls of one plain forward pass on zero inputs (no counting), for planning a
    substitution; ``input_shape`` is :class:`~hetcalc.inputs.Inputs` or one or several shapes.

    The pass is :func:`isolated`: the model and torch's global state are as they were after it.
    """
    inputs = Inputs.of(input_shape)
    with running_user_code(f"model {name!r} failed to run on input shape {inputs}", TraceError,
                           argv0=spec_argv0(name), hint=partial(_hint, model, inputs, "")), \
            isolated(model), _counting_mode(), ConvRecorder(model) as recorder:
        args, kwargs = inputs.for_model(model)
        model(*args, **kwargs)
    return recorder.calls


def _hint(model: nn.Module, inputs: Inputs, otherwise: str, error: BaseException) -> str:
    """What a failed forward's message ends with: when Python refused the call's arguments,
    the forward's signature and the ways to give its inputs."""
    if not argument_error(error):
        return otherwise
    return (f"its {signature(model)} may take other inputs than {inputs}: give them as "
            "example_inputs on the module or its builder, return (module, example_inputs) from "
            "the builder, or repeat --input-shape once per input tensor (a budget entry: a "
            "list of shapes)")


BATCH_NORM_OPS = ("aten::batch_norm",)


def _folded(inputs, outputs) -> int:
    """fvcore handle for a BatchNorm folded into the layer before it: no MACs of its own."""
    return 0


def _convolution_mode(inputs, outputs) -> int:
    """fvcore handle for ``aten::_convolution_mode``, a conv with string padding ("same",
    "valid"), which fvcore does not know (it would count 0): ``B·prod(weight)·prod(Do)``
    MACs, as fvcore counts ``aten::_convolution``.
    ``[B, N, Do...] = _convolution_mode([B, M, Di...], [N, M/g, k...], bias, stride, "same", ...)``
    """
    x, weight, out = (get_shape(v) for v in (inputs[0], inputs[1], outputs[0]))
    return conv_flop_count(x, weight, out, transposed=False)


FVCORE_MEMORY_LIMIT = 2 * 1024**3
"""fvcore traces a real (zero-valued) forward pass on the CPU; it is run when the pass's
activations, estimated as three times the largest tensor any module returns, fit in this many
bytes. Beyond, the report stands on torch's counter, which needs no memory at all."""


def _on_meta(model: nn.Module) -> bool:
    tensors = [*model.parameters(), *model.buffers()]
    return bool(tensors) and all(t.device.type == "meta" for t in tensors)


def _torch_counts(counter) -> tuple[int, dict[str, int]]:
    """MACs from a ``FlopCounterMode`` (which counts 2 per multiply-add), per module name as
    ``named_modules`` spells it (its names carry the root class as a prefix)."""
    by_module: dict[str, int] = {}
    for key, ops in counter.get_flop_counts().items():
        if key == "Global":
            continue
        _, _, name = key.partition(".")
        by_module[name] = sum(int(v) for v in ops.values()) // 2
    return int(counter.get_total_flops()) // 2, by_module


def _observe(model: nn.Module, inputs: Inputs) -> tuple[ConvRecorder, int, dict[str, int]]:
    """One forward pass: conv calls, the largest activation, and torch's counts."""
    from torch.utils.flop_counter import FlopCounterMode

    args, kwargs = inputs.for_model(model)
    with _counting_mode(), ConvRecorder(model) as recorder, \
            FlopCounterMode(display=False) as counter:
        model(*args, **kwargs)
    total, by_module = _torch_counts(counter)
    return recorder, total, by_module


def _fvcore(model: nn.Module, inputs: Inputs, fold_bn: bool
            ) -> tuple[int, dict[str, int], dict[str, int]]:
    traced, tensors, prefix = positional(model, *inputs.for_model(model))
    analysis = (
        FlopCountAnalysis(traced, tensors)
        .unsupported_ops_warnings(False)
        .uncalled_modules_warnings(False)
        .tracer_warnings("none")
    )
    analysis.set_op_handle("aten::_convolution_mode", _convolution_mode)
    if fold_bn:
        for op in BATCH_NORM_OPS:
            analysis.set_op_handle(op, _folded)
    with _counting_mode():
        total = int(analysis.total())
        by_module = {k.removeprefix(prefix): int(v) for k, v in analysis.by_module().items()
                     if k.startswith(prefix)}
        if prefix:  # the wrapper's child is the model
            by_module[""] = int(analysis.by_module().get(prefix[:-1], total))
        uncounted = dict(sorted(Counter(analysis.unsupported_ops()).items()))
    return total, by_module, uncounted


def trace_model(model: nn.Module, input_shape: Inputs | Sequence[int] | Sequence[object],
                name: str = "model", fold_bn: bool = False, default_shape: bool = False
                ) -> Trace:
    """Count ``model`` on zero inputs (``input_shape``: :class:`~hetcalc.inputs.Inputs`, or one
    or several shapes, :func:`hetcalc.shapes.input_shapes`), without changing it.

    A model on the meta device (:func:`hetcalc.models.build` with ``weights="meta"``) first runs
    on meta tensors: the conv calls and torch's ``FlopCounterMode`` counts cost no memory, for
    any input size. fvcore then traces a storage-free copy on the CPU (the activations are real
    there) unless they would exceed :data:`FVCORE_MEMORY_LIMIT`; a model that cannot run on the
    meta device (one whose forward needs values) runs both passes on storage-free CPU tensors.
    The model's own hooks (a user's) do not fire while it is counted; every hook added
    during counting is removed, on failure too.

    fvcore counts an affine BatchNorm in eval mode as 2 per element. ``fold_bn=True`` counts it
    as 0 instead: folded into the conv or linear layer before it, as a deployed model runs it
    (what remains is a bias add, which hetcalc, like fvcore, does not count). This is also the
    paper's convention for its tables, less their bias adds (docs/cost-model.md).

    Whatever the model's code raises (``SystemExit`` included) is a :class:`TraceError` of one
    line (:class:`hetcalc.usercode.running_user_code`); ``default_shape`` says that
    ``input_shape`` is hetcalc's default, not the model's, and the message then says so.
    """
    inputs = Inputs.of(input_shape)
    input_shape = inputs.input_shape
    if default_shape:
        prefix = (f"model {name!r} failed to trace at the default input shape {inputs} "
                  "(the model declares none)")
        hint = ("give the model's shape with --input-shape, or set input_shape (or "
                "example_inputs) on the module its builder returns")
    else:
        prefix, hint = f"model {name!r} failed to trace with input shape {inputs}", ""
    guard = partial(running_user_code, prefix, TraceError, argv0=spec_argv0(name),
                    hint=partial(_hint, model, inputs, hint))
    observed = None
    cpu_model = model
    if _on_meta(model):
        # Copied before the meta pass, which may move a model's plain tensor attributes to the
        # meta device (torchvision's AnchorGenerator keeps its anchors on the last input's).
        with guard():
            cpu_model = storage_free_copy(model)
        try:
            with hooks_restored(model), guard():
                observed = _observe(model, inputs)
        except TraceError:  # a forward that needs values (data-dependent shapes): run it for real
            observed = None
    with guard():
        if observed is None:
            with hooks_restored(cpu_model):
                observed = _observe(cpu_model, inputs)
        recorder, torch_total, torch_by_module = observed
        estimate = 3 * recorder.largest_output
        if estimate > FVCORE_MEMORY_LIMIT:
            return Trace(
                input_shape=tuple(input_shape), convs=recorder.calls, flops_total=torch_total,
                params=count_params(model), by_module=torch_by_module, uncounted_ops={},
                fold_bn=fold_bn, torch_total=torch_total, torch_by_module=torch_by_module,
                counter="torch", largest_output=recorder.largest_output,
                activation_bytes=recorder.activation_bytes, inputs=inputs.described,
                modules=module_stats(model, recorder),
                fvcore_note=(f"fvcore not run: its traced pass would hold about "
                             f"{estimate / 1024**3:.1f} GiB of activations; counted by torch's "
                             f"FlopCounterMode on the meta device"),
            )
        with hooks_restored(cpu_model):
            total, by_module, uncounted = _fvcore(cpu_model, inputs, fold_bn)
    return Trace(
        input_shape=tuple(input_shape),
        convs=recorder.calls,
        flops_total=total,
        params=count_params(model),
        by_module=by_module,
        uncounted_ops=uncounted,
        fold_bn=fold_bn,
        torch_total=torch_total,
        torch_by_module=torch_by_module,
        largest_output=recorder.largest_output,
        activation_bytes=recorder.activation_bytes,
        modules=module_stats(model, recorder),
        inputs=inputs.described,
    )
