"""hetcalc.fileio's writes are durable, not only atomic: the new content is fsynced before the
rename puts it in place, and the directory is fsynced after it, so that the rename itself
survives a crash. (Atomicity on failure is tested in tests/test_budget_baseline.py.) Only a
regular file (or a new one) is replaced: a character device or a FIFO is written in place and
stays what it was, a socket or a block device is refused, a link stays a link."""

from __future__ import annotations

import errno
import os
import socket
import stat
import threading

import pytest

from hetcalc import fileio
from hetcalc.errors import InvalidArgument

DIRECTORY_FSYNC = os.name == "posix"
"""Where a directory can be opened and fsynced (elsewhere fileio skips it, by design)."""


@pytest.fixture
def synced(monkeypatch):
    """Every ``os.fsync`` and ``os.replace`` of hetcalc.fileio, in order: ("fsync", the
    (device, inode) of the fd's file) or ("replace", the target path). Both still run."""
    events: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        events.append(("fsync", (info.st_dev, info.st_ino)))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.fspath(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(fileio.os, "fsync", fsync)
    monkeypatch.setattr(fileio.os, "replace", replace)
    return events


def _fsync_of(path) -> tuple[str, tuple[int, int]]:
    info = os.stat(path)
    return "fsync", (info.st_dev, info.st_ino)


@pytest.mark.parametrize("existing", [False, True], ids=["new-file", "replaced-file"])
def test_the_file_is_fsynced_before_the_rename_and_its_directory_after(tmp_path, synced,
                                                                      existing):
    target = tmp_path / "report.txt"
    if existing:
        target.write_text("old\n", encoding="utf-8")
    fileio.atomic_write_text(target, "new content\n")
    assert target.read_text(encoding="utf-8") == "new content\n"
    # The renamed temporary file keeps its inode: the file fsynced is the file now in place.
    file_sync, rename = _fsync_of(target), ("replace", str(target))
    assert synced.count(file_sync) == 1, synced
    assert synced.index(file_sync) < synced.index(rename), synced
    if DIRECTORY_FSYNC:
        directory_sync = _fsync_of(tmp_path)
        assert synced.count(directory_sync) == 1, synced
        assert synced.index(rename) < synced.index(directory_sync), synced
        assert len(synced) == 3, synced


@pytest.mark.skipif(not DIRECTORY_FSYNC, reason="directories are not fsynced here")
def test_a_bare_file_name_fsyncs_the_working_directory(tmp_path, synced, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fileio.atomic_write_text("plain.txt", "x")
    assert [e for e in synced if e[0] == "fsync"] == [_fsync_of(tmp_path / "plain.txt"),
                                                      _fsync_of(tmp_path)]


def test_a_failed_write_puts_nothing_in_place(tmp_path, synced):
    def fail(handle):
        handle.write(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(InvalidArgument, match="cannot write it"):
        fileio.atomic_write(tmp_path / "out.bin", fail)
    assert not [e for e in synced if e[0] == "replace"] and os.listdir(tmp_path) == []


# ------------------------------------------------------------------ what is replaced, what is not

posix_only = pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/null"),
                                reason="FIFOs and /dev/null")


@posix_only
def test_a_character_device_is_written_in_place_never_replaced(synced):
    before = os.stat("/dev/null")
    fileio.atomic_write_text("/dev/null", "nothing to see\n")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert [e for e in synced if e[0] == "replace"] == []


@posix_only
def test_a_write_to_a_full_device_is_invalid_argument():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with pytest.raises(InvalidArgument, match=r"^report /dev/full: cannot write it \(No space "
                                              r"left on device\)$"):
        fileio.atomic_write_text("/dev/full", "x" * 10, what="report")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@posix_only
def test_a_fifo_is_written_in_place_for_its_reader(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read():
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    content = "line\n" * 100_000  # 500 kB: more than a pipe holds, written a part at a time
    fileio.atomic_write_text(fifo, content)
    reader.join(timeout=30)
    assert received == [content.encode()]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


@posix_only
def test_a_fifo_nobody_reads_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InvalidArgument, match="a FIFO that nobody reads; start its reader first"):
        fileio.atomic_write_text(fifo, "x")
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]
    assert fileio.unwritable_reason(fifo) is None  # checked up front without opening it


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="Unix sockets")
def test_a_socket_is_refused_and_stays_a_socket(tmp_path):
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        expected = "--output .*: cannot write it \\(it is a socket; hetcalc writes regular"
        with pytest.raises(InvalidArgument, match=expected):
            fileio.atomic_write_text(path, "x", what="--output")
        assert fileio.unwritable_reason(path).startswith("it is a socket")
        assert stat.S_ISSOCK(os.stat(path).st_mode)


def test_a_block_device_is_refused():
    assert fileio._refusal(stat.S_IFBLK | 0o660).startswith("it is a block device; ")
    assert fileio._refusal(stat.S_IFDIR | 0o755) == "Is a directory"
    assert fileio._refusal(stat.S_IFREG | 0o644) is None


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symbolic links")
def test_a_link_stays_a_link_and_the_file_it_names_is_replaced(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to("real.txt")
    fileio.atomic_write_text(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == "real.txt"
    assert real.read_text() == "new\n"
    assert sorted(os.listdir(tmp_path)) == ["link.txt", "real.txt"]


def test_a_long_name_that_fits_gets_a_temporary_name_that_fits(tmp_path):
    target = tmp_path / ("é" * 120 + ".txt")  # 244 bytes of UTF-8: the limit is 255
    fileio.atomic_write_text(target, "x")
    assert target.read_text() == "x" and os.listdir(tmp_path) == [target.name]


def test_a_name_too_long_is_invalid_argument(tmp_path):
    target = tmp_path / ("n" * 300)
    with pytest.raises(InvalidArgument, match=r"cannot write it \(File name too long\)$"):
        fileio.atomic_write_text(target, "x")
    assert fileio.unwritable_reason(target) == "File name too long"


def test_text_that_is_not_valid_unicode_is_invalid_argument_and_writes_nothing(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old\n")
    with pytest.raises(InvalidArgument, match=r"^--output .*report\.txt: cannot write it \(the "
                                              r"text holds '\\udc80', which is not valid Unicode"):
        fileio.atomic_write_text(target, "entry \udc80\n", what="--output")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["report.txt"]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="/proc/self/fd")
@pytest.mark.parametrize("name", ["/dev/fd/987", "/proc/self/fd/987"])
def test_a_descriptor_that_is_not_open_is_no_file_to_create(name):
    assert fileio.unwritable_reason(name) == "No such file or directory"
    with pytest.raises(InvalidArgument, match=r"cannot write it \(No such file or directory\)"):
        fileio.atomic_write_text(name, "x")


def test_unwritable_reasons(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    assert fileio.unwritable_reason(tmp_path / "new.txt") is None
    assert fileio.unwritable_reason(tmp_path / "file.txt") is None
    assert fileio.unwritable_reason(tmp_path) == "Is a directory"
    assert fileio.unwritable_reason(tmp_path / "missing" / "x.txt") == "No such file or directory"
    assert fileio.unwritable_reason(tmp_path / "file.txt" / "x.txt") == "Not a directory"
    assert os.listdir(tmp_path) == ["file.txt"]  # the probe is removed
