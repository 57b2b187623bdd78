"""Atomic, durable file writes: every file hetcalc writes (reports, plots, baselines) goes
through :func:`atomic_write`.

The content goes to a new temporary file in the target's own directory, is flushed and fsynced,
and only then renamed over the target (``os.replace``, atomic on POSIX and Windows). So a write
that fails half-way (a full disk, a file-size limit, an interrupt) leaves the previous file as it
was and no partial file behind, and a reader sees either the old content or the new, never a
mixture. Concurrent writers of one file each write their own temporary file; the last rename wins
and the file is always one writer's complete content.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from hetcalc.errors import InvalidArgument


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[tuple[BinaryIO, str]]:
    directory = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, temp
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path | str, write: Callable[[BinaryIO], None], what: str = "file") -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then put it in place.

    An ``OSError`` becomes :class:`InvalidArgument` naming ``what`` and the path (the CLI turns
    it into one line and exit code 2); any other exception propagates after the temporary file
    is removed. An existing file's permission bits are kept.
    """
    target = Path(path)
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else None
        with _temporary_beside(target) as (handle, temp):
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            if mode is not None:
                os.chmod(temp, mode)
            else:  # mkstemp makes 0600; a new file gets the usual umask-based mode
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(temp, 0o666 & ~umask)
            os.replace(temp, target)
    except OSError as error:
        reason = error.strerror or str(error)
        raise InvalidArgument(f"{what} {target}: cannot write it ({reason})") from error
    _fsync_directory(target.parent if str(target.parent) else Path("."))


def atomic_write_text(path: Path | str, text: str, what: str = "file") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    data = text.encode("utf-8")
    atomic_write(path, lambda handle: handle.write(data), what)
