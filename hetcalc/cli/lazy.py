"""Names bound at a command module's top that import their module on first use.

A command module is imported to build ``hetcalc --help``; what it needs only when the command
runs (anything that imports torch) is bound through these, or imported in the function body.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any


class LazyModule(ModuleType):
    """Stands for the module ``name``; the first attribute looked up imports it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attribute)


def lazy_module(name: str) -> Any:
    """``budget = lazy_module("hetcalc.budget")``: ``budget.evaluate(...)`` imports on first use."""
    return LazyModule(name)


def lazy_function(module: str, name: str) -> Callable[..., Any]:
    """A function that imports ``module`` and calls its ``name`` with the same arguments."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported on first call."
    return call
