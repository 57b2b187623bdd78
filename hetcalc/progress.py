"""What long work is doing now, for whoever shows progress.

Timing a model takes minutes where nothing advances a block counter: ``auto`` tunes the HetConv
realizations, every model warms up, the baseline's layers are profiled, this machine's peak and
bandwidth are measured. The library says each step with :func:`step` and prints nothing; a
caller that shows progress (the CLI's progress bar) listens with :func:`listening`. Without a
listener a step costs one lookup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

__all__ = ["listening", "scope", "step"]

_listener: ContextVar[Callable[[str], None] | None] = ContextVar("hetcalc_progress",
                                                                 default=None)
_scope: ContextVar[str] = ContextVar("hetcalc_progress_scope", default="")


def step(text: str) -> None:
    """Say what the work is doing from now on (``"tuning p4's realizations"``)."""
    listener = _listener.get()
    if listener is not None:
        listener(_scope.get() + text)


@contextlib.contextmanager
def scope(prefix: str) -> Iterator[None]:
    """Within the block, every step is said after ``prefix`` (``"layer features.3: "``)."""
    token = _scope.set(_scope.get() + prefix)
    try:
        yield
    finally:
        _scope.reset(token)


@contextlib.contextmanager
def listening(callback: Callable[[str], None]) -> Iterator[None]:
    """Within the block, every :func:`step` is passed to ``callback``."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)
