"""Ctrl-C (and SIGTERM), noted as well as raised: an interrupt that a finalizer or a library
swallowed still ends the run (:func:`interrupt_pending`), and one a library wrapped is still
recognised."""

from __future__ import annotations

import contextlib
import signal
import threading

from hetcalc.errors import interrupt_in_chain

__all__ = ["caused_by_interrupt", "interrupt_pending", "terminated", "watching_ctrl_c"]

_interrupts: list[int] = []


WATCHED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))
"""Ctrl-C, and SIGTERM (``kill``, a CI job cancelled, a container stopped), handled alike."""


@contextlib.contextmanager
def watching_ctrl_c():
    """SIGINT raises ``KeyboardInterrupt`` as Python's own handler does, and is also noted: an
    interrupt that lands in a finalizer or a weakref callback (while torch loads, say) is
    printed as "Exception ignored" and lost, and the note lets :func:`interrupt_pending` end the
    run anyway. SIGTERM does the same (Python's default would end the process at once, leaving
    a temporary file behind and saying nothing); :func:`terminated` tells it from Ctrl-C. Only
    in the main thread, and not for a signal that is ignored (SIGINT under ``nohup``)."""
    _interrupts.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, frame: object) -> None:
        _interrupts.append(signum)
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, on_signal) for number in WATCHED
                if signal.getsignal(number) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def terminated() -> bool:
    """Whether this run was ended by SIGTERM rather than Ctrl-C."""
    return hasattr(signal, "SIGTERM") and signal.SIGTERM in _interrupts


def interrupt_pending() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed during this run, even where the
    exception it raised was swallowed; called before output is written and at the end."""
    if _interrupts:
        raise KeyboardInterrupt


def caused_by_interrupt(error: BaseException) -> bool:
    """Whether ``error`` is, or was caused by, a Ctrl-C: a ``KeyboardInterrupt`` in its chain of
    causes and contexts (a library that wrapped the interrupt in its own error), or a SIGINT
    noted during this run (one whose wrapper kept only the words). The words alone are not an
    interrupt: a model's exception that says "KeyboardInterrupt" is that model's error."""
    return bool(_interrupts) or interrupt_in_chain(error)
