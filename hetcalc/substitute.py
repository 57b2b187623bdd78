"""Which convolution layers a variant replaces, and why each other layer stays standard.

A layer is *eligible* when it is an ``nn.Conv1d``, ``nn.Conv2d`` or ``nn.Conv3d`` with a kernel
larger than one tap that is not depthwise, called once in the forward pass, and is not the
model's first convolution (the paper keeps CONV1 standard; ``include_first=True`` replaces it
too). An eligible layer is replaced when the variant fits it (:meth:`Variant.check`: P or G
divides its channels, the padding suits the variant, and the kind may replace a grouped conv:
HetConv does, group by group, GWC+PWC and DWC+PWC do not); every other layer keeps a one-line
reason (:data:`RULES`). Transposed convolutions are recorded and kept, with their reason.

With ``merge_pairs=True`` and a HetConv variant, a MobileNet-style depthwise K x K conv followed
by a pointwise conv (only BatchNorm and activation modules between them) becomes one HetConv
layer M -> N (the paper's Table 4): the depthwise conv's place takes the HetConv (with its SE
block for an ``-se`` variant), the pointwise conv and the modules between become ``nn.Identity``.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import torch
from torch import nn

from hetcalc.errors import InvalidArgument
from hetcalc.inputs import Inputs
from hetcalc.layers import build_variant_layer
from hetcalc.nn import IMPLS, Impl, conv_from_shape
from hetcalc.shapes import InputShapes, pointwise_words
from hetcalc.tensors import materialize_zero, storage_free
from hetcalc.trace import _HOOK_DICTS, CONV_TYPES, ConvCall, conv_calls
from hetcalc.variants import KINDS, STANDARD, ConvShape, Variant, parse_variant

__all__ = ["IMPLS", "DEFAULT_IMPL", "Assignment", "Decision", "Impl", "RULES", "decide", "apply",
           "substitute", "mergeable_pairs", "random_state_kept"]

Assignment = Variant | Mapping[str, Variant]
"""What :func:`decide` is asked for: one variant for every layer it fits, or a per-layer plan
(conv layer name -> variant; layers it does not name stay standard), such as a
:class:`hetcalc.plan.Plan`."""

DEFAULT_IMPL = Impl.EXACT
"""HetConv realization used unless ``impl`` says otherwise (see docs/modules.md for why)."""


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The plan for one conv layer: replaced, or kept with the reason."""

    name: str
    shape: ConvShape
    replace: bool
    reason: str | None
    eligible: bool
    pair: ConvShape | None = None
    """For a merged DW+PW pair: the shape of the one HetConv layer (M -> N) that replaces it."""
    removed: tuple[str, ...] = ()
    """For a merged pair: the modules between DW and PW and the PW conv, made ``nn.Identity``."""
    merged_into: str | None = None
    """For the pointwise conv of a merged pair: the depthwise conv whose place it shares."""
    rule: str | None = None
    """Why a kept layer is kept, as one of :data:`RULES` (``None`` when replaced)."""
    scale: Fraction = Fraction(1)
    """A shared conv's cost over all its calls, relative to its first call's (``shape``)."""
    variant: Variant = STANDARD
    """The variant the layer takes: ``std`` for a kept layer; for a merged pair (both halves)
    the HetConv variant of the one layer that replaces it."""


RULES = {
    "transposed": "transposed convs",
    "depthwise": "depthwise convs",
    "pointwise": "1x1 convs",
    "shared": "convs called more than once",
    "first": "first conv (kept as in the paper)",
    "variant": "layers the variant does not fit",
    "baseline": "layers of the baseline variant",
    "plan": "layers the plan keeps standard",
}
"""The rules that keep a conv standard, as a report counts them."""


def eligibility(call: ConvCall, first: bool, include_first: bool) -> tuple[str, str] | None:
    """Why a conv layer is not a candidate for any variant, as (rule, reason), or ``None``."""
    shape = call.shape
    if shape.transposed:
        return "transposed", "transposed conv: the variants replace forward convolutions only"
    if shape.depthwise:
        return "depthwise", (f"depthwise conv (groups={shape.groups}): already cheaper than "
                             "any variant")
    if shape.pointwise:
        return "pointwise", f"{pointwise_words(shape.dims)}: no spatial kernel to make cheaper"
    if call.calls > 1:
        return "shared", f"called {call.calls} times (shared weights): kept standard"
    if first and not include_first:
        return "first", ("first convolution: kept standard as in the paper (--include-first "
                         "replaces it)")
    return None


PASS_THROUGH = {"ReLU", "ReLU6", "Hardswish", "SiLU", "GELU", "Identity", "Dropout"}
"""Activation modules that may sit between the convs of a mergeable DW+PW pair."""


def _pair_shape(dw: ConvCall, pw: ConvCall) -> ConvShape | None:
    """The HetConv shape replacing a DW+PW pair, or ``None`` when the two are not such a pair."""
    d, p = dw.shape, pw.shape
    depthwise = (not d.transposed and d.groups == d.in_channels == d.out_channels > 1
                 and not d.pointwise)
    pointwise = (not p.transposed and p.groups == 1 and p.pointwise
                 and p.stride == (1,) * p.dims and p.padding == (0,) * p.dims
                 and p.in_channels == d.out_channels and p.input_size == d.output_size)
    between_ok = all(
        f.calls == 1 and (f.kind in PASS_THROUGH or (f.kind.startswith("BatchNorm")
                                                     and f.channels == d.out_channels))
        for f in dw.followed_by)
    if not (depthwise and pointwise and between_ok and dw.calls == 1 and pw.calls == 1):
        return None
    return replace(d, out_channels=p.out_channels, groups=1, bias=p.bias)


def decide(convs: list[ConvCall], assignment: Assignment, include_first: bool = False,
         merge_pairs: bool = False) -> list[Decision]:
    """A :class:`Decision` for every conv layer in ``convs`` (in call order).

    ``assignment`` is one variant, tried on every eligible layer (a layer it does not fit stays
    standard with the reason), or a per-layer plan: a mapping from conv layer names to variants
    (see :func:`_plan_layers`).
    """
    if isinstance(assignment, Mapping):
        return _plan_layers(convs, assignment, merge_pairs)
    variant = assignment
    decisions: list[Decision] = []
    merging = merge_pairs and variant.is_hetconv
    skip: set[int] = set()
    for index, call in enumerate(convs):
        if index in skip:
            continue
        if merging and index + 1 < len(convs) and (index > 0 or include_first):
            pair = _pair_shape(call, convs[index + 1])
            if pair is not None:
                pw = convs[index + 1]
                reason = variant.check(pair)
                if reason is None:
                    removed = tuple(f.name for f in call.followed_by) + (pw.name,)
                    decisions.append(Decision(name=call.name, shape=call.shape, replace=True,
                                              reason=None, eligible=True, pair=pair,
                                              removed=removed, variant=variant))
                    decisions.append(Decision(name=pw.name, shape=pw.shape, replace=True,
                                              reason=None, eligible=True,
                                              merged_into=call.name, variant=variant))
                    skip.add(index + 1)
                    continue
                decisions.append(Decision(name=call.name, shape=call.shape, replace=False,
                                          reason=f"depthwise+pointwise pair: {reason}",
                                          eligible=True, rule="variant"))
                continue
        excluded = eligibility(call, index == 0, include_first)
        if excluded is not None:
            rule, reason = excluded
        elif variant.is_baseline:
            rule, reason = "baseline", "baseline variant: nothing replaced"
        else:
            reason = variant.check(call.shape)
            rule = None if reason is None else "variant"
        decisions.append(Decision(name=call.name, shape=call.shape, replace=reason is None,
                                  reason=reason, eligible=excluded is None, rule=rule,
                                  scale=_call_scale(call),
                                  variant=variant if reason is None else STANDARD))
    return decisions


def _plan_layers(convs: list[ConvCall], layers: Mapping[str, Variant],
                 merge_pairs: bool) -> list[Decision]:
    """The decisions of a per-layer plan: each named layer takes its variant, every other layer
    stays standard.

    A plan is explicit, so what it asks is done or refused, never quietly dropped: a name that
    is no conv layer of the model, a layer that no variant may replace (1x1, depthwise,
    grouped, transposed, shared) given anything but ``std``, or a variant that does not fit its
    layer is an :class:`InvalidArgument` naming the layer and the value (and the plan's file,
    when the mapping has a ``where``). The first convolution takes a variant when the plan
    names it (``include_first`` does not apply). Plans do not merge depthwise+pointwise pairs.
    """
    where = getattr(layers, "where", None) or "plan"
    if merge_pairs:
        raise InvalidArgument(f"merge_pairs: {where} is a per-layer plan, which does not merge "
                              "depthwise+pointwise pairs", argument="merge_pairs")
    known = [call.name for call in convs]
    for name in layers:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(map(json.dumps, close))}?" if close else ""
            raise InvalidArgument(f"{where}: layer {json.dumps(name)} = "
                                  f"{json.dumps(layers[name].spec)}: the model has no conv layer "
                                  f"of that name ({len(known)} conv layers){hint}")
    decisions = []
    for index, call in enumerate(convs):
        chosen = layers.get(call.name, STANDARD)
        named = f"{where}: layer {json.dumps(call.name)} = {json.dumps(chosen.spec)}"
        excluded = eligibility(call, index == 0, include_first=not chosen.is_baseline)
        if excluded is not None:
            if not chosen.is_baseline:
                raise InvalidArgument(f"{named}: {excluded[1]}")
            rule, reason = excluded
        elif chosen.is_baseline:
            rule, reason = "plan", "kept standard by the plan"
        else:
            reason = chosen.check(call.shape)
            if reason is not None:
                raise InvalidArgument(f"{named}: {reason}")
            rule = None
        decisions.append(Decision(name=call.name, shape=call.shape, replace=reason is None,
                                  reason=reason, eligible=excluded is None, rule=rule,
                                  scale=_call_scale(call),
                                  variant=chosen if reason is None else STANDARD))
    return decisions


def _call_scale(call: ConvCall) -> Fraction:
    s = call.shape
    first = s.batch * math.prod(s.input_size if s.transposed else s.output_size)
    return Fraction(call.volume, first) if call.volume else Fraction(1)


def mergeable_pairs(convs: list[ConvCall]) -> int:
    """How many depthwise+pointwise pairs ``merge_pairs=True`` could turn into HetConv layers."""
    return sum(_pair_shape(a, b) is not None for a, b in zip(convs, convs[1:], strict=False))


def replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Put ``new`` where the submodule ``name`` (dotted path) was."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def _meta_twin(conv: nn.Module) -> nn.Module:
    """A shallow copy of ``conv`` whose parameters are meta tensors: building the replacement
    from it costs no memory (used for storage-free counting models)."""
    twin = copy.copy(conv)
    twin._parameters = {key: None if p is None else nn.Parameter(torch.empty_like(p, device="meta"))
                        for key, p in conv._parameters.items()}
    return twin


def apply(model: nn.Module, decisions: list[Decision], impl: str | Mapping[str, str] = DEFAULT_IMPL,
          keep_weights: bool = True) -> nn.Module:
    """Replace, in place, every conv that ``decisions`` marks for replacement, each by the
    layer of its own decision's variant. ``impl`` is the HetConv realization, or a mapping
    layer name -> realization (layers it does not name take :data:`DEFAULT_IMPL`).

    New layers are built on the device and dtype of the conv they replace. With
    ``keep_weights`` each new layer takes the replaced conv's weights its kind's ``carry`` has a
    place for (:data:`hetcalc.variants.KINDS`: a HetConv layer keeps the K×K kernels where the
    pattern has them and the centre taps elsewhere, GWC+PWC and DWC+PWC the least-squares
    decomposition of the dense weight, ``std`` a copy); merged DW+PW pairs and SE blocks are
    freshly initialised. On a model whose weights are storage-free zeros
    (:func:`hetcalc.models.build` for counting) the new layers get the same kind of weights.

    What else a replaced conv had goes with it to its replacement (:func:`_carry_manners`):
    where weights are carried, each parameter of the new layer takes ``requires_grad`` from
    its counterpart (a bias from the conv's bias, every weight-derived parameter from the
    conv's weight), so a frozen layer stays frozen; its forward hooks, forward pre-hooks and
    full backward hooks (the same dicts: a handle's ``remove()`` still works) and its plain
    Python attributes (``qconfig``, tags), so the replacement is seen by the same code. A
    merged DW+PW pair's layer is new, with a shape neither conv had: it takes none of them.
    """
    for decision in decisions:
        if not decision.replace or decision.merged_into is not None:
            continue
        conv = model.get_submodule(decision.name)
        if not isinstance(conv, CONV_TYPES) or getattr(conv, "transposed", False):
            raise TypeError(f"{decision.name} is {type(conv).__name__}, not a forward convolution")
        zero = storage_free(conv.weight)
        source = _meta_twin(conv) if zero else conv
        layer = _build(source, decision, impl.get(decision.name, DEFAULT_IMPL)
                       if isinstance(impl, Mapping) else impl)
        if zero:
            materialize_zero(layer)
        elif keep_weights and decision.pair is None:
            _carry_weights(conv, layer, decision.variant)
            _carry_requires_grad(conv, layer[0] if decision.variant.se else layer)
        if decision.pair is None:
            _carry_manners(conv, layer)
        replace_module(model, decision.name, layer.train(conv.training))
        for name in decision.removed:
            replace_module(model, name, nn.Identity())
    return model


def _carry_weights(conv: nn.Module, layer: nn.Module, variant: Variant) -> None:
    """Give ``layer`` the weights of ``conv`` it has a place for: its kind's ``carry``
    (:data:`hetcalc.variants.KINDS`), on the layer :func:`build_variant_layer` built (an ``-se``
    variant's comes first in its ``nn.Sequential``, the SE block keeps its initialisation)."""
    KINDS[variant.kind].carry(conv, layer[0] if variant.se else layer)


def _carry_requires_grad(conv: nn.Module, layer: nn.Module) -> None:
    """Each parameter of ``layer`` (the layer the weights were carried into, never an SE block)
    as trainable as its counterpart in ``conv``: a bias as the conv's bias, every other
    parameter, all derived from the conv's weight (K×K kernels, centre taps, least-squares
    factors), as the conv's weight."""
    bias = getattr(conv, "bias", None)
    for name, parameter in layer.named_parameters():
        source = bias if name.rpartition(".")[2] == "bias" and bias is not None else conv.weight
        parameter.requires_grad_(source.requires_grad)


_FULL_BACKWARD = "_is_full_backward_hook"


@functools.cache
def _conv_attributes() -> frozenset[str]:
    """The attributes every torch conv has (``in_channels``, ``padding_mode``, ...)."""
    return frozenset(vars(nn.Conv1d(1, 1, 1, device="meta")))


def _carry_manners(conv: nn.Module, layer: nn.Module) -> None:
    """The hooks and plain attributes a user gave ``conv``, on its replacement ``layer``.

    Forward hooks and pre-hooks see the same input and an output of the same shape, so they go
    over as they are (the dicts themselves, shared: a ``RemovableHandle`` the user holds still
    removes them); full backward hooks too. Legacy backward hooks
    (``register_backward_hook``, deprecated) depend on the last operation inside the module
    and stay behind, as do a conv's own attributes (its geometry: the new layer has its own),
    attributes that start with ``_``, tensors and names the new layer already has."""
    full_backward = getattr(conv, _FULL_BACKWARD, None) is True
    for name in _HOOK_DICTS:
        hooks = getattr(conv, name, None)
        if not hooks or (name == "_backward_hooks" and not full_backward):
            continue
        mine = getattr(layer, name, None)
        if mine is None:
            continue
        if mine:
            mine.update(hooks)
        else:
            setattr(layer, name, hooks)
        if name == "_backward_hooks":
            setattr(layer, _FULL_BACKWARD, True)
    standard = _conv_attributes()
    for name, value in vars(conv).items():
        if (not name.startswith("_") and name not in standard
                and not isinstance(value, torch.Tensor) and not hasattr(layer, name)):
            setattr(layer, name, value)


def _build(conv: nn.Module, decision: Decision, impl: str) -> nn.Module:
    """The layer of ``decision``'s variant for ``conv``; for a merged DW+PW pair, the one layer
    of the pair's shape (M -> N), built from a standard conv of that shape."""
    if decision.pair is None:
        return build_variant_layer(conv, decision.variant, impl)
    weight = conv.weight
    pair = conv_from_shape(decision.pair, device=weight.device, dtype=weight.dtype)
    return build_variant_layer(pair, decision.variant, impl)


def substitute(model: nn.Module, variant: Assignment | str | Path,
               input_shape: InputShapes | None = None, include_first: bool = False,
               impl: str = DEFAULT_IMPL, merge_pairs: bool = False, inplace: bool = False,
               keep_weights: bool = True) -> tuple[nn.Module, list[Decision]]:
    """The model converted to ``variant``, with the per-layer decisions.

    ``variant`` is a variant (or its spec, ``"p4"``), or a per-layer plan: a
    :class:`~hetcalc.plan.Plan`, a mapping layer name -> variant, or the path of a plan file
    (a :class:`~pathlib.Path` or a string ending in ``.toml``). ``input_shape`` (one shape, or
    a list of shapes for a forward of several tensors) is required unless the plan has one or
    the model carries ``example_inputs`` (docs/models.md).

    Returns a new model and leaves ``model`` untouched (its types, parameters, buffers, modes
    and hooks), unless ``inplace=True``. One forward pass on a zero input of ``input_shape``
    finds the conv layers and their output sizes, in eval mode, without firing the model's
    hooks (:func:`hetcalc.trace.isolated`); :func:`decide` decides, :func:`apply` replaces
    (``keep_weights``: see :func:`apply`, which also says what else a replaced layer hands
    its replacement: ``requires_grad``, hooks, attributes). Torch's random state is as it was
    afterwards (:func:`random_state_kept`).
    """
    from hetcalc.plan.file import is_plan_path, read_plan

    if is_plan_path(variant):
        variant = read_plan(variant)  # type: ignore[arg-type]
    chosen = parse_variant(variant) if isinstance(variant, str) else variant
    if input_shape is None and getattr(model, "example_inputs", None) is not None:
        input_shape = Inputs.from_example(model.example_inputs)
    if input_shape is None:
        input_shape = getattr(chosen, "input_shape", None)
        if input_shape is None:
            raise InvalidArgument("input_shape is required (the plan has none)"
                                  if isinstance(chosen, Mapping) else "input_shape is required",
                                  argument="input_shape")
    decisions = decide(conv_calls(model, input_shape), chosen, include_first, merge_pairs)
    target = model if inplace else copy.deepcopy(model)
    with random_state_kept():  # new layers' initialisation leaves no trace
        return apply(target, decisions, impl, keep_weights), decisions


@contextlib.contextmanager
def random_state_kept(cuda: bool = False):
    """Torch's random number generators as they were before the block, whatever it draws
    (weights initialised, random inputs for timing): the CPU's, and every CUDA device's where
    CUDA is initialised, or where ``cuda`` says the block will use it (a timing on ``auto`` or
    ``cuda``) and it is available. A caller's seeded run goes on as if hetcalc had not run."""
    devices = (list(range(torch.cuda.device_count()))
               if torch.cuda.is_initialized() or (cuda and torch.cuda.is_available()) else [])
    with torch.random.fork_rng(devices=devices):
        yield
