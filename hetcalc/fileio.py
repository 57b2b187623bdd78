"""Atomic, durable file writes: every file hetcalc writes (reports, plots, baselines) goes
through :func:`atomic_write`.

A regular file (or a new one) is replaced atomically: the content goes to a new temporary file
in the target's own directory, is flushed and fsynced, and only then renamed over the target
(``os.replace``, atomic on POSIX and Windows). So a write that fails half-way (a full disk, a
file-size limit, an interrupt) leaves the previous file as it was and no partial file behind, and
a reader sees either the old content or the new, never a mixture. Concurrent writers of one file
each write their own temporary file; the last rename wins and the file is always one writer's
complete content. A symbolic link stays a link: the file it points to is the one replaced.

Anything else that exists is never replaced (a rename over ``/dev/null`` would turn it into a
regular file, for every program on the machine). A character device (``/dev/null``, a terminal)
and a FIFO are written in place, the whole content in one go once it is complete; so is a file
named through an open descriptor (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``), appended
to as the shell opened it. A FIFO is opened without waiting: one that nobody reads is refused,
never waited on. A block device, a socket or a directory is refused. Every refusal and every
``OSError`` is one :class:`~hetcalc.errors.InvalidArgument` naming the option and the path.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from hetcalc.errors import InvalidArgument

_DESCRIPTOR_DIRECTORY = re.compile(r"/proc/[^/]+(/task/[^/]+)?/fd|/dev/fd")
_DESCRIPTOR_NAME = re.compile(r"/dev/(stdin|stdout|stderr|fd/[0-9]+)")
_TEMP_NAME_BYTES = 160
"""The most bytes of the target's name a temporary file's name repeats: a name that fits the
file system (255 bytes) must still fit once ``.``, ``.XXXXXXXX`` and ``.tmp`` are added."""
_FIFO_TRIES = 5
"""How often a FIFO with no reader is opened again, 0.1 s apart, before it is refused (a reader
started with ``&`` just before hetcalc may not have opened its end yet)."""


def _temp_prefix(path: Path) -> str:
    name = os.fsencode(path.name)[:_TEMP_NAME_BYTES]
    return f".{os.fsdecode(name)}."


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[tuple[BinaryIO, str]]:
    directory = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=directory)
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


def _names_a_descriptor(path: Path) -> bool:
    """Whether ``path`` is, or links to, an open file descriptor's name (``/dev/stdout``,
    ``/dev/fd/1``, ``/proc/self/fd/1``): what it reaches is whatever that descriptor is (a
    terminal, a pipe, the file a shell redirected to), never a file to replace."""
    try:
        current = os.path.abspath(path)
        for _ in range(40):  # the kernel's own limit on links followed
            if (_DESCRIPTOR_NAME.fullmatch(current)
                    or _DESCRIPTOR_DIRECTORY.fullmatch(os.path.dirname(current))
                    or _DESCRIPTOR_DIRECTORY.fullmatch(
                        os.path.realpath(os.path.dirname(current)))):
                return True
            if not os.path.islink(current):
                return False
            link = os.readlink(current)
            current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    except (OSError, ValueError):
        return False
    return False


def _refusal(mode: int) -> str | None:
    """Why a file of ``mode`` that exists cannot be written, or None when it can."""
    if stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return None
    if stat.S_ISDIR(mode):
        return "Is a directory"
    kind = "a block device" if stat.S_ISBLK(mode) else (
        "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return (f"it is {kind}; hetcalc writes regular files, and in place character devices "
            "such as /dev/null and FIFOs")


def _existing(path: Path) -> os.stat_result | None:
    """The file ``path`` reaches (links followed), None when there is none (a dangling link
    included); other errors (a name too long, a loop of links, no permission) raise."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _real(path: Path) -> Path:
    """Where a new or replaced file goes: ``path``, or the file its symbolic links lead to."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def unwritable_reason(path: Path | str) -> str | None:
    """Why :func:`atomic_write` would fail on ``path`` before writing a byte, or None: it exists
    and is refused, it cannot be opened for writing, or no temporary file can be made beside it
    (its directory is missing, read-only or deleted). Opens nothing: a FIFO's reader would see
    an end of file."""
    target = Path(path)
    try:
        info = _existing(target)
        if info is not None:
            reason = _refusal(info.st_mode)
            if reason is not None:
                return reason
            if not stat.S_ISREG(info.st_mode) or _names_a_descriptor(target):
                return None if os.access(target, os.W_OK) else os.strerror(errno.EACCES)
        elif _names_a_descriptor(target):
            return os.strerror(errno.ENOENT)  # a closed descriptor
        real = _real(target)
        directory = real.parent if str(real.parent) else Path(".")
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix(real), suffix=".tmp", dir=directory)
    except OSError as error:
        return error.strerror or str(error)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return None


def _open_in_place(path: Path, mode: int) -> int:
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    if not stat.S_ISFIFO(mode):
        return os.open(path, flags)
    for attempt in range(_FIFO_TRIES):
        try:  # O_NONBLOCK: fail at once (ENXIO) rather than wait for a reader forever
            fd = os.open(path, flags | os.O_NONBLOCK)
        except OSError as error:
            if error.errno != errno.ENXIO or attempt == _FIFO_TRIES - 1:
                raise
            time.sleep(0.1)
        else:
            os.set_blocking(fd, True)  # a slow reader is waited for once it is there
            return fd
    raise AssertionError("unreachable")


class _NoReader(Exception):
    pass


def _write_in_place(path: Path, mode: int, write: Callable[[BinaryIO], None]) -> None:
    """The whole content, made first in memory (a failure while making it writes nothing), then
    written to the open file in a loop (a pipe takes a part at a time)."""
    buffer = io.BytesIO()
    write(buffer)
    data = memoryview(buffer.getvalue())
    try:
        fd = _open_in_place(path, mode)
    except OSError as error:
        if stat.S_ISFIFO(mode) and error.errno == errno.ENXIO:
            raise _NoReader from error
        raise
    try:
        while data:
            data = data[os.write(fd, data):]
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path | str, write: Callable[[BinaryIO], None], what: str = "file") -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then put it in place; or, where
    ``path`` is a character device, a FIFO or an open descriptor's name, write it there in place
    (see the module's docstring).

    An ``OSError`` becomes :class:`InvalidArgument` naming ``what`` and the path (the CLI turns
    it into one line and exit code 2); any other exception propagates after the temporary file
    is removed. An existing file's permission bits are kept.
    """
    target = Path(path)
    try:
        info = _existing(target)
        if info is not None:
            reason = _refusal(info.st_mode)
            if reason is not None:
                raise InvalidArgument(f"{what} {target}: cannot write it ({reason})")
        if _names_a_descriptor(target) or (info is not None and not stat.S_ISREG(info.st_mode)):
            _write_in_place(target, info.st_mode if info is not None else 0, write)
            return
        real = _real(target)
        with _temporary_beside(real) as (handle, temp):
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            if info is not None:
                os.chmod(temp, info.st_mode & 0o7777)
            else:  # mkstemp makes 0600; a new file gets the usual umask-based mode
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(temp, 0o666 & ~umask)
            os.replace(temp, real)
    except _NoReader:
        raise InvalidArgument(f"{what} {target}: cannot write it (a FIFO that nobody reads; "
                              "start its reader first)") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise InvalidArgument(f"{what} {target}: cannot write it ({reason})") from error
    _fsync_directory(real.parent if str(real.parent) else Path("."))


def atomic_write_text(path: Path | str, text: str, what: str = "file") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`. Text that UTF-8
    cannot encode (a lone surrogate, from a file name that is not UTF-8) is
    :class:`InvalidArgument`, and nothing is written."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = text[error.start:error.end]
        raise InvalidArgument(f"{what} {path}: cannot write it (the text holds {bad!r}, which "
                              "is not valid Unicode: UTF-8 cannot encode it)") from None
    atomic_write(path, lambda handle: handle.write(data), what)
