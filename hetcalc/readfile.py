"""Reading the files hetcalc is given (budget files, baselines, plans, device files, weights):
every reader goes through :func:`read_text` (weights and tensor files: :func:`read_bytes`), and
through :func:`parse_toml` or :func:`parse_json`.

What a file must be, and what is refused in one line (:class:`FileProblem`) instead:

* a **regular file**: a directory, a FIFO (named pipe), a device such as ``/dev/zero`` or
  ``/dev/urandom`` and a socket are refused before a byte is read, so nothing waits on a pipe
  without a writer or reads an endless device. The file is opened non-blocking and checked
  again once open, so one swapped for a FIFO in between cannot block either;
* at most ``limit`` bytes (:data:`MAX_BYTES`, 1 MiB, unless a reader states another): a larger
  file is refused from its size, and one that grows while read is refused at ``limit + 1``
  bytes, so memory stays bounded whatever the file is;
* UTF-8 text;
* TOML or JSON that parses: an integer of more digits than Python converts (4300) and arrays
  or tables nested too deep to read are one line each, like any syntax error.

Torch-free, and it imports nothing of hetcalc but :mod:`hetcalc.errors`.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any

from hetcalc.errors import InvalidArgument

__all__ = ["MAX_BYTES", "FileProblem", "MissingFile", "read_text", "read_bytes", "parse_toml", "parse_json",
           "size_text"]

MAX_BYTES = 1 << 20
"""The largest file a reader takes unless it states another limit: 1 MiB (a budget file of
thousands of entries, or a plan of every layer of the largest model, is a few dozen KiB)."""

_CHUNK = 1 << 16
_SPECIAL = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class FileProblem(InvalidArgument):
    """A file that cannot be used. ``reason`` says why (``"is a directory, not a plan file"``),
    without the file's name, so a reader can put it after its own way of naming the file;
    ``detail`` is the parser's own words for a syntax error (else the reason). ``str()`` is
    ``"PATH: reason"``."""

    def __init__(self, path: Path | str, reason: str, detail: str | None = None) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.detail = detail if detail is not None else reason


class MissingFile(FileProblem):
    """No file at the path (a reader may word this its own way: how to write one)."""


def size_text(size: int) -> str:
    """``1048576`` -> ``"1 MiB"``, ``5000`` -> ``"5000 bytes"``."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


def _special(mode: int) -> str | None:
    return next((name for test, name in _SPECIAL if test(mode)), None)


def _check(path: Path | str, mode: int, size: int, kind: str, limit: int) -> None:
    if stat.S_ISDIR(mode):
        raise FileProblem(path, f"is a directory, not a {kind}")
    if not stat.S_ISREG(mode):
        what = _special(mode) or "not a regular file"
        raise FileProblem(path, f"is {what}, not a regular file; a {kind} must be a regular "
                                "file")
    if size > limit:
        raise FileProblem(path, f"is {size_text(size)}; a {kind} is at most {size_text(limit)}")


def _os_problem(path: Path | str, error: OSError) -> FileProblem:
    if isinstance(error, FileNotFoundError | NotADirectoryError):
        return MissingFile(path, "no such file")
    if isinstance(error, IsADirectoryError):
        return FileProblem(path, "is a directory")
    return FileProblem(path, f"cannot read it ({error.strerror or error})")


def read_text(path: Path | str, kind: str = "file", limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``, at most ``limit`` bytes; anything else is
    :class:`FileProblem` (:class:`MissingFile` where nothing is there). ``kind`` names what the
    file should be in the messages (``"budget file"``)."""
    data = read_bytes(path, kind, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileProblem(path, f"not UTF-8 text ({error.reason} at byte {error.start})") \
            from None


def read_bytes(path: Path | str, kind: str = "file", limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit``; refused as :func:`read_text`
    refuses (a weights file is read this way, then parsed from memory)."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise _os_problem(path, error) from None
    except ValueError:  # a NUL character in the path: no file can have that name
        raise MissingFile(path, "no such file") from None
    _check(path, info.st_mode, info.st_size, kind, limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise _os_problem(path, error) from None
    try:
        info = os.fstat(fd)  # the file opened, which may not be the file looked at
        _check(path, info.st_mode, info.st_size, kind, limit)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as error:
        raise _os_problem(path, error) from None
    finally:
        os.close(fd)
    if total > limit:  # it grew while read, or reports no size (a /proc file)
        raise FileProblem(path, f"is over {size_text(limit)}; a {kind} is at most "
                                f"{size_text(limit)}")
    return b"".join(chunks)


_LONG_INTEGER = re.compile(r"[0-9][0-9_]*")


def _integer_too_long(text: str) -> str:
    """Where the integer too long for Python's conversion is: ``"an integer of 5000 digits
    at line 3"`` (the limit is :func:`sys.get_int_max_str_digits`, 4300 by default)."""
    limit = sys.get_int_max_str_digits() or 4300
    for match in _LONG_INTEGER.finditer(text):
        digits = len(match[0].replace("_", ""))
        if digits > limit:
            line = text.count("\n", 0, match.start()) + 1
            return f"an integer of {digits} digits at line {line}; at most {limit} are read"
    return f"an integer of over {limit} digits; at most {limit} are read"


def _parse(text: str, path: Path | str, language: str, loads, syntax_error) -> Any:
    try:
        return loads(text)
    except syntax_error as error:
        detail = str(error)
    except RecursionError:
        detail = "arrays or tables nested too deeply to read"
    except ValueError as error:  # int() refusing thousands of digits, or another value
        detail = (_integer_too_long(text) if "integer string conversion" in str(error)
                  else str(error))
    raise FileProblem(path, f"not valid {language}: {detail}", detail)


def parse_toml(text: str, path: Path | str) -> dict[str, Any]:
    """The tables of TOML ``text`` (read from ``path``); :class:`FileProblem` otherwise, its
    ``detail`` the parser's message."""
    return _parse(text, path, "TOML", tomllib.loads, tomllib.TOMLDecodeError)


def parse_json(text: str, path: Path | str) -> Any:
    """The value of JSON ``text`` (read from ``path``); :class:`FileProblem` otherwise."""
    return _parse(text, path, "JSON", json.loads, json.JSONDecodeError)
