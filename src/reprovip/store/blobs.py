"""Content-addressed blob folder: ``blobs/ab/<blake3><suffix>``, written atomically, deduplicated."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import blake3

_CHUNK = 1 << 20


def file_hash(path: str | Path) -> str:
    """BLAKE3 hex digest of a file's bytes, streamed in 1 MiB chunks."""
    return file_hashes(path)["blake3"]


def file_hashes(path: str | Path, names: tuple[str, ...] = ("blake3",)) -> dict[str, str]:
    """Hex digests of a file's bytes by each of ``names`` (``blake3``, or a :mod:`hashlib` name), in one read.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     _ = f.write(b"abc"); f.flush()
    ...     file_hashes(f.name, ("blake3", "sha256"))["sha256"][:16]
    'ba7816bf8f01cfea'
    """
    hashers = {n: blake3.blake3() if n == "blake3" else hashlib.new(n) for n in names}
    with open(path, "rb", buffering=0) as fh:  # unbuffered: the chunks are large, and no terminal check
        while chunk := fh.read(_CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {n: h.hexdigest() for n, h in hashers.items()}


def suffix_of(name: str) -> str:
    """Keep a file's format suffix (``.nii.gz``, ``.csv``) so readers can tell formats apart.

    Examples
    --------
    >>> suffix_of("seg.nii.gz"), suffix_of("params.csv"), suffix_of("README")
    ('.nii.gz', '.csv', '')
    """
    base = os.path.basename(os.fspath(name).rstrip("/"))
    # Path(name).suffixes without building a Path: this runs for every output of every execution.
    parts = [] if base.endswith(".") else ["." + part for part in base.lstrip(".").split(".")[1:]]
    if len(parts) >= 2 and parts[-1].lower() in (".gz", ".bz2", ".xz", ".zst"):
        return "".join(parts[-2:]).lower()[:20]
    return (parts[-1].lower() if parts else "")[:20]


def _remove(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class BlobStore:
    """The blob folder of a study store.

    Parameters
    ----------
    root : Path
        The ``.reprovip`` folder; blobs live in ``root/blobs`` and temporary files in ``root/tmp``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.tmp = self.root / "tmp"
        self._blobs_str = str(self.blobs)

    def path(self, digest: str, suffix: str = "") -> Path:
        """Where the blob of ``digest`` lives."""
        return Path(self._path_str(digest, suffix)[1])

    def _path_str(self, digest: str, suffix: str) -> tuple[str, str]:
        """The shard folder and the path of a blob, as strings (the layout, defined once)."""
        shard = os.path.join(self._blobs_str, digest[:2])
        return shard, os.path.join(shard, f"{digest}{suffix}")

    def adopt(self, src: str | Path, digest: str, suffix: str) -> Path:
        """Move ``src`` (already hashed to ``digest``) into the store; drop it if the blob exists.

        A rename within one filesystem is atomic, so a blob is either whole or absent. Across filesystems,
        and for a symbolic link (whose target is what was hashed), the file's content is copied to ``tmp/``
        first, flushed, then renamed.
        """
        shard, dest = self._path_str(digest, suffix)  # strings: this runs for every output
        if os.path.exists(dest):
            _remove(src)
            return Path(dest)
        os.makedirs(shard, exist_ok=True)
        try:
            if os.path.islink(src):  # an application's link: the file it points to is the output, not the link
                raise OSError("a symbolic link")
            os.replace(src, dest)
        except OSError:
            self.put_bytes_from(Path(src), Path(dest))
            _remove(src)
        return Path(dest)

    def put_bytes(self, data: bytes, suffix: str) -> tuple[str, Path]:
        """Store bytes (e.g. an output sent back by a remote worker); return its digest and path."""
        digest = blake3.blake3(data).hexdigest()
        dest = self.path(digest, suffix)
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            self._write(dest, lambda fh: fh.write(data))
        return digest, dest

    def put_bytes_from(self, src: Path, dest: Path) -> None:
        """Copy ``src`` to ``dest`` through a temporary file and an atomic rename."""
        with open(src, "rb") as fin:
            self._write(Path(dest), lambda fout: shutil.copyfileobj(fin, fout, _CHUNK))

    def _write(self, dest: Path, write: Callable[[BinaryIO], object]) -> None:
        """Write ``dest`` through a temporary file, flushed, then renamed. On failure (a full disk, ``ulimit -f``:
        ingest left ``tmp/*.part`` behind, a review) the temporary file is removed and the error names ``dest``."""
        tmp = self._tmpname()
        try:
            with open(tmp, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException as exc:
            _remove(tmp)
            if isinstance(exc, OSError) and exc.filename is None:  # write() names no file
                raise OSError(exc.errno, exc.strerror, str(dest)) from exc
            raise

    def _tmpname(self) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / f"{uuid.uuid4().hex}.part"

    def all_blobs(self) -> list[Path]:
        """Every blob file on disk."""
        return [p for p in self.blobs.glob("*/*") if p.is_file()] if self.blobs.exists() else []

    def gc(self, referenced: set[str]) -> int:
        """Remove temporary files and blobs whose digest is not in ``referenced``; return how many.

        Only call it while holding the run lock: a blob being adopted by a live run would look orphaned.
        """
        removed = 0
        if self.tmp.exists():
            for p in self.tmp.iterdir():
                p.unlink(missing_ok=True)
                removed += 1
        for p in self.all_blobs():
            if p.name[:64] not in referenced:
                p.unlink(missing_ok=True)
                removed += 1
        return removed
