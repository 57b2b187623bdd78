"""Code a model spec names runs here, and nothing it does decides hetcalc's outcome.

A ``path/to/file.py:fn`` or ``package.module:fn`` model is the user's code: its module is
imported, its builder called and its forward run (traced, counted, timed). Around each of those
steps :class:`running_user_code`

* gives the code a clean ``sys.argv`` (``[path]``: a module that parses its command line with
  argparse at import sees no arguments, never hetcalc's own) and sends what it prints to standard
  output to standard error (standard output is hetcalc's report), both restored after;
* turns whatever the code raises into hetcalc's error for that step (``ModelLoadError``,
  ``TraceError``) with a one-line message naming the model: ``SystemExit`` (``sys.exit``,
  argparse's exit), ``GeneratorExit``, ``RecursionError``, any other exception, a message of
  several lines or of thousands of characters alike. So no exit code, and no pass of
  ``hetcalc check``, ever comes from a model's code.

Only a real Ctrl-C (``KeyboardInterrupt``) and the end of a time limit pass through.

:class:`time_limit` bounds a model's whole work (``--timeout``, a budget entry's ``timeout``):
on Unix, in the main thread, ``SIGALRM`` raises :class:`TimeLimitExpired` in whatever Python code
runs when the time is up (again every second, should the code swallow it), and the block ends
with :class:`ModelTimeout`; no model's code starts after that. Code that swallows every alarm
runs on, unless the program chose to stop it (:func:`stop_when_ignored`: the CLI ends the
process 10 s later, with the same line). A single C call that never returns to Python (one huge convolution,
a blocking read in an extension) is only interrupted when it returns. Where ``SIGALRM`` does not
exist (Windows), or outside the main thread, there is no limit.

Nothing here imports torch: the CLI validates ``--timeout`` with :func:`check_timeout` before
anything is imported.
"""

from __future__ import annotations

import io
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from hetcalc.errors import HetcalcError, InvalidArgument, ModelLoadError

__all__ = ["MESSAGE_LIMIT", "TIMEOUT_RANGE", "ModelTimeout", "TimeLimitExpired", "check_timeout",
           "describe", "one_line", "running_user_code", "spec_argv0", "stop_when_ignored",
           "time_limit"]

MESSAGE_LIMIT = 300
"""Characters of a model's own exception message kept in hetcalc's one line."""

TIMEOUT_MIN = 0.01
TIMEOUT_MAX = 86_400.0
TIMEOUT_RANGE = "a number of seconds from 0.01 to 86400 (one day)"


_expired = False
"""Set when a :class:`time_limit` runs out, until it ends: no model's code starts after."""


class TimeLimitExpired(BaseException):
    """Raised inside the model's code when its time is up. A ``BaseException``, like
    ``KeyboardInterrupt``, so that a model's ``except Exception`` does not swallow it; it never
    leaves :class:`time_limit`, which turns it into :class:`ModelTimeout`."""


class ModelTimeout(HetcalcError):
    """A model's work (import, build, trace, count, timing) did not finish in its time limit."""


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` with every run of whitespace (newlines included) made one space, cut to
    ``limit`` characters (an ellipsis says where)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1].rstrip() + "…"


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # noqa: BLE001 - an exception whose __str__ fails still has a type
        return ""


def describe(error: BaseException, last_words: str = "") -> str:
    """What the model's code did, in one line: an exception's message (its type's name when
    it has none); ``sys.exit`` said as such, with the last line the code printed before it
    (argparse's complaint, say) when there is one; any other ``BaseException`` by its type."""
    text = one_line(_text(error))
    if isinstance(error, SystemExit):
        said = f"; it printed {one_line(last_words, 200)!r}" if last_words.strip() else ""
        return f"it called sys.exit({one_line(repr(error.code), 100)}){said}"
    name = type(error).__name__
    if not isinstance(error, Exception):
        return f"it raised {name}: {text}" if text else f"it raised {name}"
    return text or name


class running_user_code:  # noqa: N801 - used as a context manager, like contextlib's
    """Run the block as a model's code (see the module docstring): on the way out ``sys.argv``
    and the standard streams are as they were, and anything the block raised, other than
    ``KeyboardInterrupt`` and :class:`TimeLimitExpired`, is ``error(f"{prefix}: {what it
    did}; {hint}")`` chained to it.

    ``argv0`` is what the code sees as ``sys.argv[0]`` (the model's file). ``ordinary=False``
    leaves ordinary exceptions (``Exception``) as they are and converts only the others
    (``SystemExit``, ``GeneratorExit``, ...): for hetcalc's own steps that run a model's forward
    and have their own errors. ``capture_stderr`` keeps what the code writes to standard error
    (argparse's usage): written out when the block succeeds, its last line quoted when the code
    calls ``sys.exit``. ``hint`` ends the message: text, or a function of what was raised.
    """

    def __init__(self, prefix: str, error: type[HetcalcError] = ModelLoadError, *,
                 argv0: str | None = None, ordinary: bool = True,
                 capture_stderr: bool = False,
                 hint: str | Callable[[BaseException], str] = "") -> None:
        self.prefix = prefix
        self.hint = hint
        self.error = error
        self.argv0 = argv0
        self.ordinary = ordinary
        self.capture_stderr = capture_stderr
        self._saved: tuple[Any, Any, Any] | None = None
        self._captured: io.StringIO | None = None

    def __enter__(self) -> running_user_code:
        if _expired:  # a model's code that swallowed the end of its time runs no further
            raise TimeLimitExpired
        self._saved = (sys.argv, sys.stdout, sys.stderr)
        sys.argv = [self.argv0 or ""]
        if self.capture_stderr:
            self._captured = io.StringIO()
            sys.stdout = sys.stderr = self._captured
        else:
            sys.stdout = sys.stderr
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        assert self._saved is not None
        sys.argv, sys.stdout, sys.stderr = self._saved
        captured = self._captured.getvalue() if self._captured is not None else ""
        self._captured = None
        if value is None and _expired:
            raise TimeLimitExpired  # the code swallowed it: what it returned is not used
        if value is None or isinstance(value, (KeyboardInterrupt, TimeLimitExpired)) or (
                isinstance(value, Exception) and not self.ordinary):
            if captured and sys.stderr is not None:
                sys.stderr.write(captured)
            return False
        lines = [line for line in captured.splitlines() if line.strip()]
        said = self.hint(value) if callable(self.hint) else self.hint
        hint = f"; {said}" if said else ""
        raise self.error(f"{self.prefix}: {describe(value, lines[-1] if lines else '')}{hint}"
                         ) from value


def spec_argv0(spec: str) -> str:
    """What a model's code sees as ``sys.argv[0]``: the file or module of ``path.py:fn``."""
    return spec.rpartition(":")[0] or spec


def check_timeout(seconds: Any) -> float | None:
    """``seconds`` as a time limit (``None``: none), or :class:`InvalidArgument` about
    ``timeout`` unless it is finite and from :data:`TIMEOUT_MIN` to :data:`TIMEOUT_MAX`."""
    if seconds is None:
        return None
    if (isinstance(seconds, bool) or not isinstance(seconds, int | float)
            or not math.isfinite(seconds) or not TIMEOUT_MIN <= seconds <= TIMEOUT_MAX):
        raise InvalidArgument(f"timeout must be {TIMEOUT_RANGE}, got {seconds!r}",
                              argument="timeout")
    return float(seconds)


_stop: tuple[float, Callable[[str], Any]] | None = None


def stop_when_ignored(grace: float | None, stop: Callable[[str], Any] | None = None) -> None:
    """What a program does with a model's code that goes on ``grace`` seconds past the end of
    its :class:`time_limit`, swallowing every alarm (``except BaseException: pass`` in a loop):
    ``stop(message)`` is called from the alarm handler (the CLI prints the line and ends the
    process with exit 2). ``None``, the default for library callers: the code runs on."""
    global _stop
    _stop = None if grace is None or stop is None else (grace, stop)


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class time_limit:  # noqa: N801 - used as a context manager, like contextlib's
    """End the block with :class:`ModelTimeout` ("model 'x' did not finish in 5 s (--timeout)")
    when it runs longer than ``seconds`` (``None``: no limit). ``source`` says where the limit
    was set. See the module docstring for where this cannot interrupt.

    While it runs, hetcalc's handler replaces any other for ``SIGALRM``; that handler and a
    timer already running are restored after."""

    def __init__(self, seconds: float | None, model: str, source: str = "--timeout") -> None:
        self.seconds = check_timeout(seconds)
        self.model = model
        self.source = source
        self.expired = False
        self._previous: Any = None
        self._previous_timer: tuple[float, float] = (0.0, 0.0)
        self._started = 0.0
        self._expired_at = 0.0
        self._armed = False

    def _message(self) -> str:
        return f"model {self.model!r} did not finish in {self.seconds:g} s ({self.source})"

    def _expire(self, signum: int, frame: object) -> None:
        global _expired
        now = time.monotonic()
        if not self.expired:
            self._expired_at = now
        self.expired = _expired = True
        if _stop is not None and now - self._expired_at >= _stop[0]:
            _stop[1](f"{self._message()}, and its code went on {_stop[0]:g} s more, ignoring it")
        raise TimeLimitExpired

    def __enter__(self) -> time_limit:
        if self.seconds is not None and _can_alarm():
            self._previous = signal.signal(signal.SIGALRM, self._expire)
            self._started = time.monotonic()
            # Once the time is up, again every second: code that swallowed it is stopped anyway.
            self._previous_timer = signal.setitimer(signal.ITIMER_REAL, self.seconds, 1.0)
            self._armed = True
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        global _expired
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM,
                          signal.SIG_DFL if self._previous is None else self._previous)
            delay, interval = self._previous_timer
            if delay > 0:  # someone else's alarm (a test runner's timeout) goes on
                left = max(delay - (time.monotonic() - self._started), 0.001)
                signal.setitimer(signal.ITIMER_REAL, left, interval)
            self._armed = False
            _expired = False
        if isinstance(value, KeyboardInterrupt):
            return False
        if self.expired or isinstance(value, TimeLimitExpired):
            raise ModelTimeout(self._message()) from None
        return False
