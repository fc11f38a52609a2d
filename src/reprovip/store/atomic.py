"""Atomic writes: a file is either the old version or the whole new one, never half-written."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any

# A path that cannot hold a file (/proc, a read-only or missing folder): the user's to change, said in one line
_PATH_ERRORS = frozenset({errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EROFS, errno.EISDIR})


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file next to ``path``, flush it to disk, then rename it into place."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file next to ``path``, flush it to disk, then rename it into place; an error
    of the disk names ``path`` (a full disk during `check` read "cannot write it", no file named: a review)."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode  # through a link
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        # A terminal, a pipe, a device (`--junit /dev/stdout`): written through, never replaced by a file (review
        # B: a link to /proc/self/fd/1 became a file, and as root /dev/full a regular file)
        with open(p, "wb") as fh:
            fh.write(data)
        return p
    if p.is_symlink() and mode is not None:  # a link to a file: the file is replaced, the link stays
        p = Path(os.path.realpath(p))
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a file where a folder is needed: the user's path to fix
        from reprovip.errors import InputError

        raise InputError(
            f"{p}: cannot write it: a part of its folder, {p.parent}, is a file; give another path"
        ) from None
    if p.is_dir():
        from reprovip.errors import InputError

        raise InputError(f"{p}: cannot write it: it is a folder; give a file's path")
    tmp = p.with_name(f".{p.name}.{os.getpid()}.part")
    try:
        fh = open(tmp, "wb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        if exc.errno not in _PATH_ERRORS:  # a full disk is not the path's fault: the caller reports it
            raise
        from reprovip.errors import InputError

        raise InputError(f"{p}: cannot write it ({exc.strerror}); give another path") from None
    try:
        with fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException as exc:
        # a full disk, `ulimit -f`, an interrupt: no half-written file is left beside the old one
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:  # write() says which error, not which file
            raise OSError(exc.errno, exc.strerror, str(p)) from exc
        raise
    return p


def _default(o: Any) -> Any:
    import numpy as np  # only documents holding NumPy scalars need it: writing a small file must not load it

    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        from reprovip.analyze.stats import num

        return num(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_json(document: Any, *, indent: int | None = 1) -> str:
    """Strict JSON (no NaN) of a document that may hold NumPy scalars or paths."""
    return json.dumps(document, indent=indent, allow_nan=False, default=_default)


def write_json_atomic(path: str | Path, document: Any) -> Path:
    """Write ``document`` as strict JSON, atomically."""
    return write_text_atomic(path, to_json(document))
