"""Ctrl-C, noted as well as raised: an interrupt that a finalizer or a library swallowed still
ends the run (:func:`interrupt_pending`), and one a library wrapped is still recognised."""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["caused_by_interrupt", "interrupt_pending", "watching_ctrl_c"]

_interrupts: list[int] = []


@contextlib.contextmanager
def watching_ctrl_c():
    """SIGINT raises ``KeyboardInterrupt`` as Python's own handler does, and is also noted: an
    interrupt that lands in a finalizer or a weakref callback (while torch loads, say) is
    printed as "Exception ignored" and lost, and the note lets :func:`interrupt_pending` end the
    run anyway. Only in the main thread, and not where SIGINT is ignored (``nohup``)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        yield
        return

    def on_sigint(signum: int, frame: object) -> None:
        _interrupts.append(signum)
        raise KeyboardInterrupt

    _interrupts.clear()
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupt_pending() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed during this run, even where the
    exception it raised was swallowed; called before output is written and at the end."""
    if _interrupts:
        raise KeyboardInterrupt


def caused_by_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is, or was caused by, a Ctrl-C that a library wrapped in its own error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt) or "KeyboardInterrupt" in str(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
