"""The ordered registry of readers and :func:`load`, modelled on nibabel's ``loadsave.load``.

:func:`load` checks that the file exists and is not empty, then asks the readers of :data:`READERS`, in
order, which one can read it. With ``kind`` given, only the readers of that kind are asked; when none
recognises the file, the first reader of that kind with ``any_suffix`` is used. Without ``kind``, the first
reader that recognises the file decides and its first kind is the file's kind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from reprovip.errors import EMPTY_FILE
from reprovip.readers.arrays import NumpyReader
from reprovip.readers.base import KINDS, Loaded, Reader, describe, fail, suffix_of
from reprovip.readers.freesurfer import FreeSurferStatsReader
from reprovip.readers.gifti import GiftiReader
from reprovip.readers.matlab import MatlabReader
from reprovip.readers.nifti import MghReader, NiftiReader
from reprovip.readers.opaque import BytesReader
from reprovip.readers.scalars import JsonReader
from reprovip.readers.table import TableReader
from reprovip.readers.text import TextReader

#: The readers, in the order they are asked. Sniffing readers come before suffix-only ones; ``BytesReader``
#: has no suffix, so it is used only when a study declares ``bytes``.
READERS: list[Reader] = [
    NiftiReader(),
    MghReader(),
    NumpyReader(),
    GiftiReader(),
    MatlabReader(),
    JsonReader(),
    FreeSurferStatsReader(),
    TableReader(),
    TextReader(),
    BytesReader(),
]


def check_kind(kind: str | None, path: str | os.PathLike[str]) -> None:
    """Raise :class:`~reprovip.errors.ReaderError` unless ``kind`` is None or one of :data:`KINDS`."""
    if kind is not None and kind not in KINDS:
        opts = ", ".join(repr(k) for k in sorted(KINDS))
        raise fail(path, f"`kind` must be one of {{{opts}}}, got {kind!r}", "fix the output's kind")


def check_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path` once it is known to be an existing, non-empty regular file."""
    path = Path(os.fspath(path))
    try:
        st = path.stat()
    except FileNotFoundError:
        raise fail(path, "file not found", "check the output's path and that the execution wrote it") from None
    except OSError as exc:
        raise fail(path, f"cannot access the file ({describe(exc)})", "check its permissions") from exc
    if path.is_dir():
        raise fail(path, "is a directory, not a file", "declare one output file per output")
    if st.st_size == 0:
        raise fail(path, EMPTY_FILE, "the execution probably failed before writing it; see its log")
    return path


def _suffixes(readers: Sequence[Reader]) -> str:
    return ", ".join(s for r in readers for s in r.suffixes)


def find_reader(path: Path, kind: str | None = None) -> tuple[Reader, str]:
    """The reader for ``path`` and the kind to read it as; ReaderError when there is none."""
    check_kind(kind, path)
    if kind is None:
        for reader in READERS:
            if reader.can_read(path):
                return reader, reader.kinds[0]
        raise fail(
            path,
            f"unknown format (suffix {suffix_of(path) or 'none'!r})",
            f"declare the output's kind ({', '.join(KINDS)}) or use a known suffix ({_suffixes(READERS)})",
        )
    for reader in READERS:
        # A binary format declared as another kind, whatever its suffix (a NIfTI named `.dat`): read as text, a
        # GIfTI's short base64 arrays were invisible and a thickness map that varied passed (a review)
        if reader.binary and kind not in (*reader.kinds, "bytes") and reader.can_read(path):
            raise reader.declared_as(path, kind)
    candidates = [r for r in READERS if kind in r.kinds]
    for reader in candidates:
        if reader.can_read(path):
            return reader, kind
    for reader in candidates:
        if reader.any_suffix:
            return reader, kind
    # a `.mat` that is no MATLAB file is most likely FSL's text matrix (a review's was told to end with .npy)
    matlab = " or be a MATLAB 4 or 5 file (FSL's text .mat matrices are `kind: table`)" if kind == "array" else ""
    raise fail(
        path,
        f"no {kind!r} reader recognises this file (suffix {suffix_of(path) or 'none'!r})",
        f"an output of kind {kind!r} must end with one of {_suffixes(candidates)}{matlab}",
    )


def load(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    key_columns: str | Sequence[str] | None = None,
) -> Loaded:
    """Read one output file into named observations.

    Parameters
    ----------
    path : str or path-like
        The output file (the blob store keeps the original suffix, e.g. ``ab12...ef.nii.gz``).
    kind : {'image', 'labels', 'table', 'scalars', 'text', 'array', 'bytes'}, optional
        The declared kind; inferred from the suffix (or the first bytes) when omitted. ``labels`` and
        ``bytes`` are never inferred: a NIfTI file is an ``image`` unless declared ``labels``. ``bytes``
        raises ReaderError: such an output is compared by its hashes only.
    key_columns : str or sequence of str, optional
        Table columns whose values name the rows (tables only).

    Returns
    -------
    Loaded
        ``kind``, ``values`` (name to read-only array) and ``meta``.

    Raises
    ------
    ReaderError
        Missing, empty, truncated, corrupt or unreadable file, unknown format, bad option; the one-line
        message names the file, the problem and what to do.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(tmp.name) / "stats.json"
    >>> _ = p.write_text(json.dumps({"volume": 1.5, "tissues": [{"ok": True}]}))
    >>> loaded = load(p)
    >>> loaded.kind, {k: float(v) for k, v in loaded.values.items()}
    ('scalars', {'volume': 1.5, 'tissues[0].ok': 1.0})
    >>> tmp.cleanup()
    """
    check_kind(kind, path)
    path = check_file(path)
    reader, kind = find_reader(path, kind)
    options: dict[str, object] = {}
    if key_columns is not None:
        if "key_columns" not in reader.options:
            raise fail(path, f"`key_columns` does not apply to kind {kind!r}", "remove it or declare 'table'")
        options["key_columns"] = (key_columns,) if isinstance(key_columns, str) else tuple(key_columns)
    return reader.read(path, kind=kind, **options)
