"""Standard output and standard error as the CLI writes them: output that cannot be written is an
error (one line, exit 2), never lost without a word, and the timing progress bar leaves nothing
behind.

- A write to stdout that fails (a full disk, ``>&-``, text the stream's encoding cannot hold) is
  ``hetcalc: error: standard output: cannot write to it (...)``, exit 2
  (:func:`writing_stdout` around every write, :func:`flush_stdout` for the last buffered part).
  A reader that has gone (``hetcalc ... | head``) is not an error: exit 141, silent, as before.
- Every write to stdout, whoever makes it (a table, ``--help``, ``--version``), fails with
  :class:`OutputError`, which is a :class:`~hetcalc.errors.HetcalcError` (so the CLI prints it as
  its one line) and an ``OSError``: :func:`guard_streams` puts Python's stdout on a descriptor
  that says so. A stream closed before hetcalc started is ``None`` in Python, and everything
  printed to it would be dropped without a word (worse, ``print(..., file=None)`` writes to
  stdout): it gets a stream whose every write fails, as writing to a closed descriptor does.
- When stderr itself cannot be written, nothing more can be said: exit 2 (where the command
  would have ended with 0 or 1), silently.

Imports nothing heavy: :func:`hetcalc.cli.main` uses it before the application is loaded.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import TextIO

from hetcalc.cli.errors import EXIT_BROKEN_PIPE, EXIT_ERROR
from hetcalc.errors import InvalidArgument

__all__ = ["OutputError", "discard", "flush_stdout", "guard_streams", "progress_bar", "say",
           "stderr_is_terminal", "writing_stdout"]

STDOUT = "standard output"
CLOSED = "it was closed when hetcalc started"


class OutputError(InvalidArgument, OSError):
    """A write to a standard stream failed: one line (its message) and exit 2."""


class _Closed(io.RawIOBase):
    """A descriptor that was closed: every write fails, until :func:`discard` is called."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.discarding = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.discarding:
            return len(data)
        raise OutputError(f"{self.name}: cannot write to it ({CLOSED})")


class _Descriptor(io.RawIOBase):
    """Standard output's descriptor, written as Python writes it, a failure told as
    :class:`OutputError` (``BrokenPipeError`` stays itself: exit 141)."""

    name = "<stdout>"
    mode = "wb"

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data) -> int:
        try:
            return os.write(self.fd, data)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise OutputError(f"{STDOUT}: cannot write to it ({_reason(error)})") from None


def guard_streams() -> None:
    """Put Python's stdout on :class:`_Descriptor` (the same descriptor, encoding, errors and
    line buffering), and replace a ``None`` ``sys.stdout`` or ``sys.stderr`` (its descriptor was
    closed at start) by a stream whose writes fail at once. Streams that are not the process's
    own (a test's capture) are left alone, and so is a Windows console's (written in UTF-16 by
    Python's own console object); calling it again changes nothing."""
    for name, what in (("stdout", STDOUT), ("stderr", "standard error")):
        if getattr(sys, name) is None:
            setattr(sys, name, io.TextIOWrapper(_Closed(what), encoding="utf-8",
                                                errors="backslashreplace", write_through=True))
    stream = sys.stdout
    if (os.name != "posix" or stream is not sys.__stdout__
            or not isinstance(stream, io.TextIOWrapper)):
        return
    try:
        stream.flush()
        fd = stream.fileno()
    except (OSError, ValueError):
        return
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(_Descriptor(fd)), encoding=stream.encoding,
                                  errors=stream.errors, line_buffering=stream.line_buffering)


def discard(stream: TextIO | None) -> None:
    """What ``stream`` still holds goes nowhere, and so does what is written to it later: after
    a failed write, Python's own flush at exit must not fail again (it would print "Exception
    ignored" and end with exit code 120)."""
    if stream is None:
        return
    raw = getattr(stream, "buffer", None)
    raw = getattr(raw, "raw", raw)
    if isinstance(raw, _Closed):
        raw.discarding = True
        return
    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)


def say(line: str) -> bool:
    """Print ``line`` on stderr; False (and stderr discarded) where stderr cannot be written."""
    try:
        print(line, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        discard(sys.stderr)
        return False
    return True


def _reason(error: OSError | UnicodeEncodeError) -> str:
    if isinstance(error, UnicodeEncodeError):
        bad = error.object[error.start:error.end]
        if all("\ud800" <= char <= "\udfff" for char in bad):  # undecodable bytes of a name
            return f"the text holds {bad!r}, which is not valid Unicode"
        return (f"the text holds {bad!r}, which its encoding ({error.encoding}) cannot hold; "
                "set PYTHONIOENCODING=utf-8")
    return error.strerror or str(error)


@contextlib.contextmanager
def writing_stdout() -> Iterator[None]:
    """Writes to stdout inside: a failure is :class:`InvalidArgument` (one line, exit 2), the
    rest of stdout discarded; a reader that has gone ends the command with exit 141, silently
    (``typer.Exit``, which the CLI passes on as it is)."""
    try:
        yield
    except BrokenPipeError:
        import typer

        discard(sys.stdout)
        raise typer.Exit(EXIT_BROKEN_PIPE) from None
    except OutputError:
        discard(sys.stdout)
        raise
    except (OSError, UnicodeEncodeError) as error:
        discard(sys.stdout)
        raise InvalidArgument(f"{STDOUT}: cannot write to it ({_reason(error)})") from None


def flush_stdout(code: int) -> int:
    """Flush stdout at the end of a run, checked: a failure is one line and exit 2 where the
    command would have ended with 0 or 1 (an error already told keeps its code and its one
    line). ``BrokenPipeError`` passes."""
    stream = sys.stdout
    if stream is None:
        return code
    try:
        stream.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        discard(stream)
        if code not in (0, 1):
            return code
        message = str(error) if isinstance(error, OutputError) else \
            f"{STDOUT}: cannot write to it ({_reason(error)})"
        say(f"hetcalc: error: {message}")
        return EXIT_ERROR
    return code


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal: a tty, and ``TERM`` not ``dumb``. Asked of the
    stream itself, not of rich, which takes ``FORCE_COLOR`` or ``TTY_COMPATIBLE`` (a request
    for colour, as CI logs make) for a terminal and would draw a bar into the log."""
    stream = sys.stderr
    try:
        tty = stream is not None and stream.isatty()
    except (OSError, ValueError):  # closed, or a stream without a descriptor
        return False
    return tty and os.environ.get("TERM", "").lower() not in ("dumb", "unknown")


def progress_bar(*columns, shown: bool = True):
    """The timing progress bar on stderr, gone once the work ends, however it ends. Where stderr
    is not an interactive terminal (a CI log, a file, a pipe; whatever ``FORCE_COLOR`` says)
    there is no bar at all: rich would print a newline when it stops, and an error after it
    would begin with a blank line. Nor is there one when not ``shown`` (``--no-progress``,
    ``--quiet``)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    return Progress(*columns, console=console, transient=True,
                    disable=not (shown and stderr_is_terminal()))


@contextlib.contextmanager
def saying_steps(progress, task, model: str):
    """The bar's text follows what the library says it is doing (:mod:`hetcalc.progress`):
    ``vgg16_cifar: tuning p4's HetConv realizations``."""
    from hetcalc.progress import listening
    from hetcalc.render import markup_safe

    def show(text: str) -> None:
        progress.update(task, description=markup_safe(f"{model}: {text}"))

    with listening(show):
        yield
