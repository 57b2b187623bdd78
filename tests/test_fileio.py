"""hetcalc.fileio's writes are durable, not only atomic: the new content is fsynced before the
rename puts it in place, and the directory is fsynced after it, so that the rename itself
survives a crash. (Atomicity on failure is tested in tests/test_budget_baseline.py.)"""

from __future__ import annotations

import errno
import os

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
