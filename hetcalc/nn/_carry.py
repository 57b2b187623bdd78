"""Residue order carried from layer to layer: :func:`carry_residue_order`.

Every HetConv realization runs its K×K kernels as a conv with ``P`` groups, which needs the input
channels in *residue order* (channel ``j·P + r`` at position ``r·(M/P) + j``) and makes its filters
in residue order too. A layer on its own therefore permutes its input into that order and its
output back: two copies per layer that the public "grouped conv + 1×1 conv" code does not make,
because it uses a contiguous-block pattern instead of the paper's ``c ≡ n (mod P)``.

Between two layers the permutation back and the next one's permutation cancel, as long as
nothing in between mixes channels: batch norm, activations, pooling and dropout act on each
channel alone, and only batch norm has per-channel parameters, which can be permuted once. At the
ends of a chain the permutation goes into the weights of the plain conv (or the linear layer
after a flatten) that produces or consumes the tensor, so it costs nothing at run time either.
The function is unchanged: every output of the model is the same (tested in float64).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx, nn

from hetcalc.nn._ops import _CONV_MODULE, residue_order

_CHANNELWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d,
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.SiLU, nn.GELU, nn.ELU, nn.Hardswish, nn.Hardsigmoid,
    nn.Sigmoid, nn.Tanh, nn.Mish, nn.Identity,
    nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
)
"""Modules that act on each channel alone (batch norm with per-channel parameters, permuted)."""

_CHANNELWISE_FUNCTIONS = {
    F.relu, F.relu6, F.leaky_relu, F.silu, F.gelu, F.elu, F.hardswish, F.hardsigmoid,
    F.dropout, F.dropout1d, F.dropout2d, F.dropout3d,
    F.max_pool1d, F.max_pool2d, F.max_pool3d, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d,
    F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d,
    torch.relu, torch.relu_, torch.sigmoid, torch.tanh,
}
_CHANNELWISE_METHODS = {"relu", "relu_", "sigmoid", "tanh", "contiguous"}
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass(frozen=True)
class Carried:
    """One tensor that now stays in residue order: made by ``producer``, read by ``consumer``
    (module names), through the channel-wise ``between`` modules."""

    producer: str
    consumer: str
    part: int
    between: tuple[str, ...] = ()


class _Tracer(fx.Tracer):
    """Symbolic tracing that keeps hetcalc's layers whole (HetConv's forward chooses its
    realization in Python)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m).__module__.startswith("hetcalc.nn.") or super().is_leaf_module(m, qualname)


def _residue_index(channels: int, part: int) -> torch.Tensor:
    """Position ``r·(C/P) + j`` holds channel ``j·P + r``: ``x[:, index]`` is ``x`` in residue
    order."""
    return residue_order(torch.arange(channels), part, 0)


def carry_residue_order(model: nn.Module) -> list[Carried]:
    """Let the HetConv layers of ``model`` hand each other their output in residue order.

    Where a HetConv layer's output reaches exactly one consumer through channel-wise layers only
    (batch norm, activations, pooling, dropout) and that consumer is a HetConv layer with the same
    ``P``, a plain conv (``groups=1``) or a flatten followed by a linear layer, the layer keeps
    its output in residue order (``residue_out``), the batch norms in between are permuted and the
    consumer reads residue order (``residue_in``, or its weight's input columns permuted); in the
    same way a plain conv that feeds one HetConv layer has its filters permuted. Every other
    tensor is left as it is, and so is a model that ``torch.fx`` cannot trace.

    **Changes ``model`` in place** (parameters and buffers of the convs, linear layers and batch
    norms it permutes): use it on a copy. The model computes the same function afterwards; what
    changes is how many copies it makes. Returns what was carried.
    """
    from hetcalc.nn.hetconv import _HetConvNd

    try:
        graph = _Tracer().trace(model)
    except Exception:  # noqa: BLE001 - control flow on values, unsupported ops: nothing to carry
        return []
    modules = dict(model.named_modules(remove_duplicate=False))
    calls: dict[int, int] = {}  # by module object: one registered under two names is one
    for node in graph.nodes:
        if node.op == "call_module":
            key = id(modules[node.target])
            calls[key] = calls.get(key, 0) + 1

    def once(node: fx.Node) -> bool:
        return calls[id(modules[node.target])] == 1

    def module(node: fx.Node) -> nn.Module | None:
        if node.op == "call_module" and once(node):
            return modules[node.target]
        return None

    def hetconv(node: fx.Node) -> _HetConvNd | None:
        m = module(node)
        return m if isinstance(m, _HetConvNd) and m.part > 1 else None

    def channelwise(node: fx.Node) -> bool:
        rest = [*node.args[1:], *node.kwargs.values()]
        if any(isinstance(arg, fx.Node) for arg in rest) or not node.args:
            return False
        if node.op == "call_module":
            m = modules[node.target]
            if isinstance(m, _BATCH_NORMS):
                return once(node)
            return isinstance(m, _CHANNELWISE_MODULES)
        if node.op == "call_function":
            return node.target in _CHANNELWISE_FUNCTIONS
        return node.op == "call_method" and node.target in _CHANNELWISE_METHODS

    def plain_conv(node: fx.Node) -> nn.Module | None:
        m = module(node)
        if isinstance(m, tuple(_CONV_MODULE.values())) and m.groups == 1:
            return m
        return None

    def flatten_linear(node: fx.Node, channels: int) -> nn.Linear | None:
        """A flatten from dim 1 whose only user is a linear layer called once, reading
        ``channels`` blocks of features."""
        start = end = None
        if ((node.op == "call_function" and node.target is torch.flatten)
                or (node.op == "call_method" and node.target == "flatten")):
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
            end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
        elif node.op == "call_module" and isinstance(modules[node.target], nn.Flatten):
            flat = modules[node.target]
            start, end = flat.start_dim, flat.end_dim
        if start != 1 or end != -1 or len(node.users) != 1:
            return None
        (user,) = node.users
        m = module(user)
        if isinstance(m, nn.Linear) and user.args[0] is node and m.in_features % channels == 0:
            return m
        return None

    carried: list[tuple[fx.Node, fx.Node, list[fx.Node], int, int]] = []
    for node in graph.nodes:
        layer = hetconv(node)
        if layer is None or len(node.users) != 1:
            continue
        between: list[fx.Node] = []
        current = node
        while True:
            (user,) = current.users
            if user.args[:1] != (current,) or not channelwise(user) or len(user.users) != 1:
                break
            between.append(user)
            current = user
        if user.args[:1] != (current,):
            continue
        after = hetconv(user)
        if after is not None:
            if after.part == layer.part:
                carried.append((node, user, between, layer.part, layer.out_channels))
            continue
        if plain_conv(user) is not None or flatten_linear(user, layer.out_channels) is not None:
            carried.append((node, user, between, layer.part, layer.out_channels))
    # plain convs that feed a HetConv layer
    for node in graph.nodes:
        layer = hetconv(node)
        if layer is None or not node.args or not isinstance(node.args[0], fx.Node):
            continue
        between = []
        current = node.args[0]
        while channelwise(current) and len(current.users) == 1:
            between.insert(0, current)
            current = current.args[0]
            if not isinstance(current, fx.Node):
                break
        if (isinstance(current, fx.Node) and len(current.users) == 1
                and plain_conv(current) is not None):
            carried.append((current, node, between, layer.part, layer.in_channels))

    done = []
    for producer, consumer, between, part, channels in carried:
        if consumer.op != "call_module" or isinstance(modules[consumer.target], nn.Flatten):
            consumer = next(iter(consumer.users))  # a flatten: the linear layer reads it
        _apply(modules, producer, consumer, between, part, channels)
        done.append(Carried(producer.target, consumer.target, part,
                            tuple(n.target for n in between if n.op == "call_module")))
    return done


def feeding_convs(model: nn.Module, carried: Iterable[tuple[str, str]]) -> dict[str, nn.Module]:
    """``{HetConv layer name: the plain 2-D or 3-D conv it reads}`` among the ``(producer,
    consumer)`` pairs :func:`carry_residue_order` carried (as :class:`Carried` gives them): the
    convs whose output layout :func:`hetcalc.nn.tune_realizations` may set to the one its
    reader's realization takes (1-D convs have no channels-last layout)."""
    from hetcalc.nn.hetconv import _HetConvNd

    feeders = {}
    for producer, consumer in carried:
        made, read = model.get_submodule(producer), model.get_submodule(consumer)
        if isinstance(read, _HetConvNd) and isinstance(made, nn.Conv2d | nn.Conv3d):
            feeders[consumer] = made
    return feeders


@torch.no_grad()
def _apply(modules: dict[str, nn.Module], producer: fx.Node, reader: fx.Node,
           between: list[fx.Node], part: int, channels: int) -> None:
    """Residue order from ``producer`` to ``reader`` (a HetConv layer, a plain conv, or the
    linear layer after a flatten) through the channel-wise ``between``."""
    from hetcalc.nn.hetconv import _HetConvNd

    index = _residue_index(channels, part)
    made = modules[producer.target]
    if isinstance(made, _HetConvNd):
        made.residue_out = True
    else:  # a plain conv: its filters in residue order
        _permute(made.weight, 0, index)
        if made.bias is not None:
            _permute(made.bias, 0, index)
    for node in between:
        m = modules.get(node.target) if node.op == "call_module" else None
        if isinstance(m, _BATCH_NORMS):
            for tensor in (m.weight, m.bias, m.running_mean, m.running_var):
                if tensor is not None:
                    _permute(tensor, 0, index)
    read = modules[reader.target]
    if isinstance(read, _HetConvNd):
        read.residue_in = True
    elif isinstance(read, nn.Linear):  # blocks of in_features / channels features per channel
        weight = read.weight.reshape(read.out_features, channels, -1)
        weight.copy_(weight[:, index.to(weight.device)].clone())
    else:  # a plain conv: its input channels
        _permute(read.weight, 1, index)


def _permute(tensor: torch.Tensor, dim: int, index: torch.Tensor) -> None:
    tensor.copy_(tensor.index_select(dim, index.to(tensor.device)))

