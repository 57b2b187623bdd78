"""Model registry: one dict from name to builder and default input shape.

A model spec is one of
* a registered name: every model of ``torchvision.models.list_models()`` (classification,
  segmentation, detection, video, optical flow and the quantizable classification models, see
  :mod:`hetcalc.models.zoo` and docs/zoo.md) and the paper's CIFAR-10 models (``vgg16_cifar``,
  ``resnet56_cifar``, ``mobilenet_cifar``);
* ``timm:NAME`` when timm is installed (``pip install 'timm>=1.0'``, or ``pip install -e '.[timm]'``
  in a clone);
* ``path/to/file.py:build_fn`` or ``package.module:build_fn``, a function that takes no
  arguments and returns an ``nn.Module``, or a pair ``(module, example_inputs)``.

A user's model runs on its own inputs when it gives them (:func:`own_inputs`): example inputs
(a tensor, a tuple, a dict of keyword inputs or ``(args, kwargs)``) returned beside the module,
else the module's ``example_inputs`` or ``input_shape`` attribute, else the builder function's.

:func:`build` makes the model without spending time or memory on weights nobody reads: the
modules are created on the ``meta`` device and each parameter and buffer then becomes a CPU
tensor of the right shape backed by a single zero (a stride-0 view). The forward pass is real, so
fvcore can trace it, but a 632M-parameter ViT-H/14 costs no more memory than its activations.
Pass ``weights="random"`` for an ordinary build with initialised weights (for timing or training).
"""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import importlib
import importlib.util
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from hetcalc.catalog import split_user_spec, unknown_model
from hetcalc.errors import ModelLoadError, UnknownModel
from hetcalc.inputs import EXAMPLE_FORMS, Inputs
from hetcalc.models import cifar, zoo
from hetcalc.models.zoo import IMAGENET_SHAPE, INCEPTION_SHAPE, InputShape
from hetcalc.shapes import INPUT_SHAPE_FORMS, MAX_SIZE, TensorShape, parse_input_shape
from hetcalc.tensors import materialize_zero
from hetcalc.usercode import one_line, running_user_code, spec_argv0

CIFAR_SHAPE: InputShape = (1, 3, 32, 32)


@dataclass(frozen=True)
class ModelEntry:
    """A model hetcalc can build: its name, builder, default input shape and where it comes from."""

    name: str
    builder: Callable[[], nn.Module]
    input_shape: InputShape
    source: str
    shape_from: str = "registry"
    """Where ``input_shape`` comes from: ``registry``; for a user's model ``builder`` (its
    builder's ``input_shape``) or ``default`` (none declared; see :func:`own_input_shape` for
    the module's own)."""


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, input_shape: InputShape, source: str = "hetcalc"):
    """Decorator registering a zero-argument builder under ``name``; refuses duplicates."""

    def wrap(builder: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelEntry(name, builder, input_shape, source)
        return builder

    return wrap


register_model("vgg16_cifar", CIFAR_SHAPE, "paper (CIFAR-10)")(cifar.vgg16_cifar)
register_model("resnet56_cifar", CIFAR_SHAPE, "paper (CIFAR-10)")(cifar.resnet56_cifar)
register_model("mobilenet_cifar", CIFAR_SHAPE, "paper (CIFAR-10)")(cifar.mobilenet_cifar)


for _name, _builder, _shape, _source in zoo.entries():
    register_model(_name, _shape, _source)(_builder)


def list_models(pattern: str | None = None) -> list[ModelEntry]:
    """Registered models whose name matches the fnmatch ``pattern``, sorted by name."""
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return [_REGISTRY[n] for n in names]


def resolve(spec: str) -> ModelEntry:
    """Find the model a spec names, without building it."""
    if spec in _REGISTRY:
        return _REGISTRY[spec]
    if spec.startswith("timm:"):
        return _timm_entry(spec)
    if ":" in spec:
        return _user_entry(spec)
    raise unknown_model(spec, list(_REGISTRY))


def _timm_entry(spec: str) -> ModelEntry:
    name = spec.removeprefix("timm:")
    try:
        import timm
    except ImportError:
        raise ModelLoadError(
            f"{spec}: timm is not installed: pip install 'timm>=1.0' into hetcalc's environment "
            "(pipx: pipx inject hetcalc 'timm>=1.0')"
        ) from None
    if name not in timm.list_models():
        close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join('timm:' + c for c in close)}?" if close else ""
        raise UnknownModel(f"unknown timm model {name!r}{hint}")
    try:
        cfg = timm.models.get_pretrained_cfg(name)
        size = tuple(cfg.input_size) if cfg is not None else (3, 224, 224)
    except Exception:  # older timm: no pretrained cfg for this name
        size = (3, 224, 224)
    return ModelEntry(spec, partial(timm.create_model, name, pretrained=False),
                      (1, *size), "timm")


def _user_entry(spec: str) -> ModelEntry:
    target, fn_name, is_file = split_user_spec(spec)
    if is_file:
        path = Path(target)
        if not path.is_file():  # a FIFO or a device is never imported (nothing waits on it)
            what = "is not a regular file" if path.exists() else "does not exist"
            raise UnknownModel(f"model {spec!r}: file {target} {what}")
        module = _load_file(path, spec)
    else:
        missing = None
        with running_user_code(f"model {spec!r}: importing {target} failed", argv0=target,
                               capture_stderr=True):
            try:
                module = importlib.import_module(target)
            except ModuleNotFoundError as error:
                missing = error.name
        if missing is not None:
            raise UnknownModel(f"model {spec!r}: no module named {missing!r}")
    with running_user_code(f"model {spec!r}: reading its builder failed", argv0=target):
        builder = getattr(module, fn_name, None)
        found = None if callable(builder) else sorted(
            n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
            and getattr(v, "__module__", None) == module.__name__)
        declared = getattr(builder, "input_shape", None) if found is None else None
        example = getattr(builder, "example_inputs", None) if found is None else None
    if found is not None:
        listing = f"; callables there: {', '.join(found)}" if found else ""
        raise UnknownModel(f"model {spec!r}: {target} has no function {fn_name!r}{listing}")
    if example is not None:  # its first tensor: own_inputs reads them all
        declared = shape = Inputs.from_example(example, partial(_declared_wrong, spec,
                                                                "its builder")).input_shape
    else:
        shape = IMAGENET_SHAPE if declared is None else declared_shape(spec, declared,
                                                                      "its builder")
    return ModelEntry(spec, builder, shape, "user",
                      "default" if declared is None else "builder")


def _load_file(path: Path, spec: str):
    name = f"hetcalc_user_{abs(hash(path.resolve()))}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ModelLoadError(f"model {spec!r}: cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        with running_user_code(f"model {spec!r}: importing {path} failed", argv0=str(path),
                               capture_stderr=True):
            module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def declared_shape(spec: str, value: object, where: str) -> InputShape:
    """The input shape a user's model declares (``input_shape`` on the module its builder
    returns, or on the builder): a tuple or list of 3 to 5 positive integers, else
    :class:`ModelLoadError` naming the model and what it declared."""
    sizes = tuple(value) if isinstance(value, tuple | list) else None
    if sizes is None or not 3 <= len(sizes) <= 5 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_SIZE for v in sizes):
        try:
            shown = repr(value) if isinstance(value, tuple | list | int | float | str) else (
                type(value).__name__)
        except Exception:  # noqa: BLE001 - an element whose repr fails
            shown = type(value).__name__
        raise ModelLoadError(
            f"model {spec!r}: the input_shape {where} declares must be a tuple or list of 3 to 5 "
            f"positive integers ({INPUT_SHAPE_FORMS}), got {one_line(shown, 80)}")
    return tuple(int(v) for v in sizes)


def _declared_wrong(spec: str, where: str, message: str) -> ModelLoadError:
    return ModelLoadError(f"model {spec!r}: {message} ({where})")


def own_inputs(entry: ModelEntry) -> tuple[Inputs, bool]:
    """The inputs a model runs on when none are given, and whether they are hetcalc's default
    (the model declares none). A registered model's is its entry's input shape; a user's model
    is built (on the meta device) to read, first to last, the example inputs its builder
    returns beside the module, the module's ``example_inputs``, its ``input_shape``, the
    builder function's ``example_inputs``, its ``input_shape``; else :data:`IMAGENET_SHAPE`.
    Only the example tensors' shapes and dtypes are kept, never their values."""
    if entry.source != "user":
        return Inputs.from_shapes([TensorShape(entry.input_shape)]), False
    model, returned = _built(entry, "meta")
    with running_user_code(f"model {entry.name!r}: reading its example inputs failed",
                           argv0=spec_argv0(entry.name)):
        places = [("its builder's return", returned),
                  ("its module", getattr(model, "example_inputs", None)),
                  ("its module", getattr(model, "input_shape", None)),
                  ("its builder", getattr(entry.builder, "example_inputs", None))]
    for index, (where, value) in enumerate(places):
        if value is None:
            continue
        if index == 2:
            shape = declared_shape(entry.name, value, where)
            return Inputs.from_shapes([TensorShape(shape)]), False
        return Inputs.from_example(value, partial(_declared_wrong, entry.name, where)), False
    return Inputs.from_shapes([TensorShape(entry.input_shape)]), entry.shape_from == "default"


def own_input_shape(entry: ModelEntry) -> tuple[InputShape, bool]:
    """The first input's shape of :func:`own_inputs` (the model's main input), and whether it
    is hetcalc's default."""
    inputs, default = own_inputs(entry)
    return inputs.input_shape, default


Weights = Literal["meta", "none", "random"]


def build(entry: ModelEntry, weights: Weights = "none") -> nn.Module:
    """Build the model in eval mode.

    ``weights="meta"`` (for counting) builds it on the meta device: no weight is initialised or
    allocated. ``weights="none"`` then gives every tensor a storage-free zero value (see the
    module docstring), so a real forward pass can run; ``weights="random"`` builds it the
    ordinary way.
    """
    return _built(entry, weights)[0]


def _built(entry: ModelEntry, weights: Weights) -> tuple[nn.Module, object]:
    """:func:`build`, and the example inputs the builder returned beside the module (None)."""
    if weights == "random":
        model, returned = _call(entry)
    else:
        try:
            with torch.device("meta"):
                model, returned = _call(entry)
        except ModelLoadError:
            # A builder that computes with real tensors while constructing (regnet derives its
            # widths with torch ops and .tolist()) runs on the CPU; only its parameters and
            # buffers go to the meta device as they are registered, so none is initialised.
            with _parameters_on_meta():
                model, returned = _call(entry)
        if weights == "none":
            materialize_zero(model)
    return model.eval(), returned


@contextlib.contextmanager
def _parameters_on_meta():
    """Move every parameter and buffer to the meta device as it is registered (restored on exit).

    ``torch.empty`` for a new parameter reserves memory without touching it, so the CPU copy
    that exists until the move costs no resident memory; initialisers then run on meta tensors,
    which is free.
    """
    register_parameter = nn.Module.register_parameter
    register_buffer = nn.Module.register_buffer

    def parameter(module, name, param):
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(module, name, param)

    def buffer(module, name, tensor, persistent=True):
        if tensor is not None and tensor.device.type != "meta":
            tensor = tensor.to("meta")
        register_buffer(module, name, tensor, persistent)

    nn.Module.register_parameter = parameter
    nn.Module.register_buffer = buffer
    try:
        yield
    finally:
        nn.Module.register_parameter = register_parameter
        nn.Module.register_buffer = register_buffer


def _call(entry: ModelEntry) -> tuple[nn.Module, object]:
    """The builder's module, and the example inputs a user's builder returned beside it."""
    with running_user_code(f"model {entry.name!r}: building it failed",
                           argv0=spec_argv0(entry.name)), warnings.catch_warnings():
        # builders' advice on init (inception) is not ours to print
        warnings.simplefilter("ignore", FutureWarning)
        model = entry.builder()
    returned = None
    if (entry.source == "user" and isinstance(model, tuple) and len(model) == 2
            and isinstance(model[0], nn.Module)):
        model, returned = model
        if returned is None:
            raise ModelLoadError(f"model {entry.name!r}: the builder returned (module, None); "
                                 f"the second item must be its example inputs ({EXAMPLE_FORMS})")
    if not isinstance(model, nn.Module):
        raise ModelLoadError(
            f"model {entry.name!r}: the builder returned {type(model).__name__}, not an nn.Module"
            " (nor a pair (module, example_inputs))"
        )
    return model, returned


__all__ = [
    "ModelEntry",
    "register_model",
    "list_models",
    "resolve",
    "build",
    "own_input_shape",
    "own_inputs",
    "declared_shape",
    "parse_input_shape",
    "IMAGENET_SHAPE",
    "CIFAR_SHAPE",
    "INCEPTION_SHAPE",
]
