"""Trained weights for a model, loaded safely: ``--weights FILE`` and ``--pretrained``.

A weights file holds tensors and nothing else:

* a **safetensors** file (``safetensors.torch``: a JSON header and raw tensor bytes), or
* a state dict saved with ``torch.save``, read with ``torch.load(weights_only=True)``: torch's
  restricted unpickler, which builds tensors, dicts, lists and numbers and refuses every other
  global, so a pickle whose ``__reduce__`` would run code is refused before anything runs.

A checkpoint that wraps its state dict (``{"state_dict": {...}}`` or ``{"model": {...}}``) is
unwrapped. A file that does not match the model (missing or unexpected keys, a tensor of
another shape) is one :class:`~hetcalc.errors.InvalidArgument` naming the first mismatches.

``--pretrained`` takes the weights torchvision would use for a registered torchvision model
(its weights enum's ``DEFAULT``) from the **local torch hub cache only**:
``torch.hub.get_dir()/checkpoints/<the file name of the enum's url>`` (``$TORCH_HOME``). Nothing
is downloaded: when the file is not there, the error names the file and where it was looked for.

Counting never comes here: the models that are counted are built on the meta device
(:mod:`hetcalc.pipeline`); weights are loaded only for the fidelity figures
(:mod:`hetcalc.fidelity`), into a model built on the meta device and given the file's tensors.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from hetcalc.errors import InvalidArgument
from hetcalc.pipeline import Subject
from hetcalc.readfile import FileProblem, read_bytes

__all__ = ["WEIGHTS_MAX_BYTES", "Weights", "read_state_dict", "read_tensor", "pretrained_path",
           "check_matches", "trained"]

WEIGHTS_MAX_BYTES = 16 << 30
"""The largest weights or calibration file read: 16 GiB (the largest torchvision checkpoint is
under 2 GiB)."""

WRAPPERS = ("state_dict", "model")
"""Keys under which a checkpoint may hold its state dict."""

SHOWN = 3
"""How many mismatches of each kind a message names."""


@dataclass(frozen=True)
class Weights:
    """Where a model's trained weights come from: a file, or torchvision's cached weights."""

    file: Path | None = None
    pretrained: bool = False

    def __post_init__(self) -> None:
        if self.file is not None and self.pretrained:
            raise InvalidArgument("weights: give either a weights file or pretrained, not both",
                                  argument="weights")

    @property
    def given(self) -> bool:
        return self.file is not None or self.pretrained


def _is_safetensors(data: bytes) -> bool:
    """A safetensors file: an 8-byte little-endian header length, then a JSON object."""
    if len(data) < 10:
        return False
    (length,) = struct.unpack("<Q", data[:8])
    return 2 <= length <= len(data) - 8 and data[8:9] == b"{"


def _load(path: Path | str, argument: str, what: str) -> object:
    """The object a weights or tensor file holds: safetensors' dict of tensors, or what
    ``torch.load(weights_only=True)`` builds; anything else is one line naming ``argument``."""
    try:
        data = read_bytes(path, what, WEIGHTS_MAX_BYTES)
    except FileProblem as problem:
        raise InvalidArgument(f"{argument} {problem}", argument=argument) from None
    if _is_safetensors(data):
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            return load(data)
        except (SafetensorError, ValueError, json.JSONDecodeError) as error:
            raise InvalidArgument(f"{argument} {path}: not a readable safetensors file "
                                  f"({' '.join(str(error).split())})", argument=argument) from None
    try:
        with warnings.catch_warnings():  # torch warns of a pickle protocol: one line says it
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Unsupported global" not in str(error):  # not a pickle of tensors at all
            text = next((line.strip().rstrip(".") for line in str(error).splitlines()
                         if "Unsupported operand" in line), None) or " ".join(
                str(error).split())[:200]
            raise InvalidArgument(f"{argument} {path}: not a safetensors file or a state dict "
                                  f"saved with torch.save ({text})", argument=argument) from None
        named = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        why = f" (it names {named.group(1)})" if named else ""
        raise InvalidArgument(f"{argument} {path}: refused: it holds more than tensors{why}; "
                              "hetcalc loads only tensors (safetensors, or a state dict saved "
                              "with torch.save), never code", argument=argument) from None
    except (RuntimeError, EOFError, ValueError, OSError, struct.error, KeyError,
            AttributeError, TypeError, IndexError) as error:
        text = " ".join(str(error).split())[:200] or type(error).__name__
        raise InvalidArgument(f"{argument} {path}: not a safetensors file or a state dict "
                              f"saved with torch.save ({text})", argument=argument) from None


def read_state_dict(path: Path | str, argument: str = "weights") -> dict[str, torch.Tensor]:
    """The state dict in a safetensors file or a ``torch.save`` file (see the module doc)."""
    state = _load(path, argument, "weights file")
    if isinstance(state, dict) and len(state) == 1:
        (key, inner), = state.items()
        if key in WRAPPERS and isinstance(inner, dict):
            state = inner
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise InvalidArgument(f"{argument} {path}: holds a {type(state).__name__}, not a state "
                              "dict (names -> tensors)", argument=argument)
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise InvalidArgument(f"{argument} {path}: {json.dumps(bad[0])} is a "
                              f"{type(state[bad[0]]).__name__}, not a tensor; a state dict maps "
                              "names to tensors", argument=argument)
    return state


def read_tensor(path: Path | str, argument: str = "calibration") -> torch.Tensor:
    """One tensor: a safetensors file holding exactly one, or a tensor saved with ``torch.save``
    (``weights_only``)."""
    held = _load(path, argument, "tensor file")
    if isinstance(held, dict):
        tensors = [v for v in held.values() if isinstance(v, torch.Tensor)]
        if len(tensors) != 1 or len(held) != 1:
            raise InvalidArgument(f"{argument} {path}: holds {len(held)} entries; a calibration "
                                  "file holds one tensor (the input batch)", argument=argument)
        held = tensors[0]
    if not isinstance(held, torch.Tensor):
        raise InvalidArgument(f"{argument} {path}: holds a {type(held).__name__}, not a tensor",
                              argument=argument)
    return held


def _shown(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(map(json.dumps, names[:SHOWN])) + more


def check_matches(model: nn.Module, state: dict[str, torch.Tensor], where: str,
                  argument: str = "weights") -> None:
    """Refuse, in one line naming the first mismatches, a state dict that does not fit
    ``model`` (whose tensors may be on the meta device): missing or unexpected keys, or a
    tensor of another shape."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{json.dumps(k)} is {list(state[k].shape)}, the model's {list(expected[k])}"
              for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys ({_shown(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys ({_shown(unexpected)})")
    if shapes:
        more = f" and {len(shapes) - SHOWN} more" if len(shapes) > SHOWN else ""
        parts.append(f"{len(shapes)} of another shape ({'; '.join(shapes[:SHOWN])}{more})")
    if parts:
        raise InvalidArgument(f"{argument} {where}: does not match the model: "
                              + "; ".join(parts), argument=argument)


def pretrained_path(source: Subject) -> Path:
    """Where torchvision's default weights for ``source`` lie in the torch hub cache (whether
    or not they are there); a model torchvision has no weights for is refused."""
    from hetcalc import models

    entry = models.resolve(source.name)
    if not entry.source.startswith("torchvision"):
        where = "timm models" if source.name.startswith("timm:") else f"{entry.source} models"
        raise InvalidArgument(f"pretrained: {source.name} has no torchvision weights "
                              f"(--pretrained is for torchvision models; {where} take "
                              "--weights FILE)", argument="pretrained")
    import torchvision

    try:
        default = torchvision.models.get_model_weights(entry.name).DEFAULT
    except (ValueError, KeyError, AttributeError):
        raise InvalidArgument(f"pretrained: torchvision has no weights for {entry.name}",
                              argument="pretrained") from None
    name = os.path.basename(urlparse(default.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def _state(source: Subject, weights: Weights) -> tuple[dict[str, torch.Tensor], str, str]:
    if weights.file is not None:
        return read_state_dict(weights.file), str(weights.file), "weights"
    path = pretrained_path(source)
    if not path.is_file():
        raise InvalidArgument(f"pretrained: {path.name} is not in the torch hub cache: no file "
                              f"at {path} (hetcalc never downloads; put the file there, or set "
                              "TORCH_HOME to the cache that has it)", argument="pretrained")
    return read_state_dict(path, "pretrained"), str(path), "pretrained"


@torch.no_grad()
def trained(source: Subject, weights: Weights) -> nn.Module:
    """``source``'s model in eval mode with the weights ``weights`` names, checked against it.

    The model is built on the meta device and takes the file's tensors (cast to its own
    dtypes), so no random initialisation runs; a model with tensors the state dict does not
    hold (non-persistent buffers) is built the ordinary way and loaded instead."""
    state, where, argument = _state(source, weights)
    model = source.build("meta")
    check_matches(model, state, where, argument)
    own = model.state_dict()
    state = {k: v.to(own[k].dtype) if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        model = source.build("random")
        model.load_state_dict(state, strict=True)
    return model.eval()
