"""Hashes of output files: :func:`byte_hash` for every file, :func:`semantic_hash` where bytes mislead.

Two executions whose files have equal byte hashes are bit-for-bit identical. The semantic hash relaxes
this where a file's bytes can differ without its content differing (a gzip timestamp, JSON key order,
CSV quoting); ``docs/readers.md`` lists exactly what each semantic hash covers.
"""

from __future__ import annotations

import os

import blake3

from reprovip.readers.base import describe, fail
from reprovip.readers.registry import check_file, check_kind, find_reader

CHUNK = 1 << 20  # 1 MiB


def byte_hash(path: str | os.PathLike[str]) -> str:
    """BLAKE3 hex digest of the file's bytes, read in 1 MiB chunks.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(tmp.name) / "out.txt"
    >>> _ = p.write_bytes(b"abc")
    >>> byte_hash(p) == blake3.blake3(b"abc").hexdigest()
    True
    >>> tmp.cleanup()
    """
    path = os.fspath(path)
    hasher = blake3.blake3()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    try:
        with open(path, "rb") as f:
            while n := f.readinto(buffer):
                hasher.update(view[:n])
    except FileNotFoundError:
        raise fail(path, "file not found", "check the output's path and that the execution wrote it") from None
    except OSError as exc:
        raise fail(path, f"cannot read the file ({describe(exc)})", "check its permissions") from exc
    return hasher.hexdigest()


def semantic_hash(path: str | os.PathLike[str], *, kind: str | None = None) -> str | None:
    """BLAKE3 hex digest of the decoded content, or None when the byte hash is all there is.

    NIfTI: shape, stored dtype, affine, scaling and voxel values (not the gzip wrapper nor the other header
    fields). JSON: the canonical dump. CSV/TSV: the parsed cells. NumPy: names, dtypes, shapes and values.
    Text: None. Kind ``bytes``: the byte hash itself (no decoding).

    Raises
    ------
    ReaderError
        When the file cannot be decoded (as :func:`~reprovip.readers.load` would).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> a, b = pathlib.Path(tmp.name, "a.json"), pathlib.Path(tmp.name, "b.json")
    >>> _ = a.write_text('{"x": 1, "y": [2.5]}')
    >>> _ = b.write_text('{ "y": [2.50],   "x": 1 }')
    >>> byte_hash(a) == byte_hash(b), semantic_hash(a) == semantic_hash(b)
    (False, True)
    >>> tmp.cleanup()
    """
    check_kind(kind, path)
    path = check_file(path)
    reader, _ = find_reader(path, kind)
    return reader.semantic_hash(path)
