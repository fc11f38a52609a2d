"""Atomic writes: the whole new file or the old one; a path that cannot hold a file is a one-line error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reprovip.errors import InputError
from reprovip.store.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic


def test_a_write_replaces_the_file_whole_and_leaves_no_part(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "sub" / "a.txt", "old")
    write_json_atomic(path, {"x": 1})
    assert path.read_text() == '{\n "x": 1\n}' and sorted(os.listdir(path.parent)) == ["a.txt"]


def test_paths_that_cannot_hold_a_file_are_input_errors(tmp_path: Path) -> None:
    """`check --junit /proc/x.xml` crashed with exit 4 (a review): the temporary file could not be opened."""
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match=r"file/r\.html: cannot write it: a part of its folder, .*file, is a file"):
        write_text_atomic(tmp_path / "file" / "r.html", "<html>")
    with pytest.raises(InputError, match=r"cannot write it: it is a folder; give a file's path"):
        write_text_atomic(tmp_path, "x")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root writes anywhere: /proc refuses everyone
            target = Path("/proc/reprovip-test.xml")
            if not Path("/proc").is_dir():
                pytest.skip("neither an unwritable folder (root) nor /proc here")
        else:
            target = locked / "x.xml"
        with pytest.raises(InputError, match=r"x?\.xml: cannot write it \(.+\); give another path"):
            write_text_atomic(target, "<x/>")
    finally:
        locked.chmod(0o700)


def test_a_write_the_disk_refuses_names_the_file_and_leaves_the_old_one(tmp_path: Path) -> None:
    """Review M: a full disk while `check` saved the plots' values read "cannot write it (No space left on
    device)" with no file named. The file size limit (`ulimit -f`; Python ignores SIGXFSZ, so the write fails
    with EFBIG) stands for a full disk here."""
    import resource

    path = write_bytes_atomic(tmp_path / "values.npz", b"old")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))
    try:
        with pytest.raises(OSError) as info:
            write_bytes_atomic(path, bytes(4096))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert info.value.filename == str(path) and info.value.errno == 27  # EFBIG
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["values.npz"]


def test_a_pipe_or_a_link_is_written_through_not_replaced(tmp_path: Path) -> None:
    """Review B: `check --markdown` onto a link to /proc/self/fd/1 made a regular file of the link, nothing reached
    stdout; as root, `--json /dev/full` replaced the device. A pipe is written into and stays a pipe; a link to a
    file stays a link, its file replaced whole."""
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_bytes_atomic(fifo, b"# report\n")
    reader.join(timeout=10)
    assert got == [b"# report\n"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)

    target = tmp_path / "real.md"
    target.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert not list(tmp_path.glob(".*.part"))
