"""The registered models' names, input shapes and sources, known without importing torch.

The registry (:mod:`hetcalc.models`) is built from ``torchvision.models.list_models()``, so
asking it anything imports torch and torchvision (seconds of CPU, hundreds of MB). The same
table is kept in ``catalog.json`` beside this module, written from the registry by
``python -m hetcalc.models.write_catalog`` and stamped with the torchvision release it was
written with.
Where the installed torchvision is that release (read from the package's metadata, which does
not import it), ``hetcalc models`` lists names and a misspelt name or a missing model file is
refused before torch is imported; with any other release these questions go to the registry
itself (correct, only slower). ``tests/test_catalog.py`` holds the file equal to the registry.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib.metadata
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hetcalc.errors import InvalidArgument, UnknownModel

CATALOG = Path(__file__).with_name("catalog.json")
SPEC_FORMS = "timm:NAME, path/to/file.py:fn or package.module:fn"


@dataclass(frozen=True)
class Listed:
    """A registered model as the catalog knows it: what ``hetcalc models`` prints."""

    name: str
    input_shape: tuple[int, ...]
    source: str


def installed_torchvision() -> str | None:
    """The installed torchvision's version, from its metadata (torchvision is not imported)."""
    try:
        return importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        return None


@cache
def listed() -> tuple[Listed, ...] | None:
    """Every registered model, sorted by name, or None where the catalog is missing, unreadable
    or written for another torchvision release than the installed one."""
    try:
        data = json.loads(CATALOG.read_text(encoding="utf-8"))
        if data["torchvision"] != installed_torchvision():
            return None
        return tuple(sorted((Listed(m["name"], tuple(m["input_shape"]), m["source"])
                             for m in data["models"]), key=lambda m: m.name))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def unknown_model(spec: str, names: list[str]) -> UnknownModel:
    """The error for a name that is not registered, with the closest of ``names``."""
    close = difflib.get_close_matches(spec, names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return UnknownModel(f"unknown model {spec!r}; {hint}see 'hetcalc models' for registered "
                        f"names, or give {SPEC_FORMS}")


def split_user_spec(spec: str) -> tuple[str, str, bool]:
    """``(target, function, is_file)`` of ``path/to/file.py:fn`` or ``package.module:fn``;
    :class:`InvalidArgument` when the spec has neither form."""
    target, _, fn_name = spec.rpartition(":")
    if not target or not fn_name.isidentifier():
        raise InvalidArgument(f"model {spec!r}: expected path/to/file.py:fn or package.module:fn")
    return target, fn_name, target.endswith(".py") or "/" in target or "\\" in target


def check_spec(spec: str) -> None:
    """Refuse, without importing torch, a model spec that cannot name a model: a name the
    catalog does not hold (when it matches the installed torchvision), a malformed
    ``file:fn`` spec, or a file that does not exist. Anything else is left to the registry."""
    if spec.startswith("timm:"):
        return
    if ":" in spec:
        target, _, is_file = split_user_spec(spec)
        if is_file and not Path(target).is_file():  # a FIFO or a device is never imported
            what = "is not a regular file" if Path(target).exists() else "does not exist"
            raise UnknownModel(f"model {spec!r}: file {target} {what}")
        return
    models = listed()
    if models is not None and spec not in {m.name for m in models}:
        raise unknown_model(spec, [m.name for m in models])


def matching(pattern: str | None) -> list[Listed] | None:
    """The catalog's models whose name matches the fnmatch ``pattern`` (all without one), or
    None where the catalog cannot answer for the installed torchvision."""
    models = listed()
    if models is None:
        return None
    return [m for m in models if not pattern or fnmatch.fnmatch(m.name, pattern)]
