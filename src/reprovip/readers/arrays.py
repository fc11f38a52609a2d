"""NumPy files (``array``): ``.npy`` gives ``"data"``, ``.npz`` gives one entry per member.

Declared ``labels``, an ``.npy`` (or an ``.npz`` of one member) is a label map: its integer ids as ``"data"``
(whole-number floats are read as integers, a fraction is an error), compared by Dice per label. It has no voxel
grid, hence no voxel size: no surface distance (HD95) is computed, and label volumes are element counts.
Read as numbers, label ids swapped in one execution passed a per-element ICC (review AR).

Numbers keep their dtype (booleans become uint8); a complex array ``k`` becomes ``k.real`` and ``k.imag``; a
structured (record) array ``fits`` gives one entry per field, ``fits/amplitude``, read by the same rules.
Pickled object arrays are never loaded (``allow_pickle=False``). Members and fields that are not numeric
(strings, dates) are listed in ``meta["ignored"]`` and kept as digests in ``meta["text"]`` (the analysis names
them when they differ); an ``.npy`` with no number at all is an error.

Semantic hash: an ``.npz`` is a zip archive that stores the time each member was written, so two runs that
save equal arrays give different bytes. The semantic hash covers, per member in sorted name order, the name,
the little-endian dtype, the shape and the C-order bytes: the archive's timestamps and compression, and the
``.npy`` header version, padding and ``fortran_order`` flag, do not count.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.errors import ReaderError
from reprovip.readers.base import (
    Loaded,
    Reader,
    count_nonfinite,
    describe,
    fail,
    head,
    label_ids,
    new_hasher,
    read_only,
    suffix_of,
)

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_RERUN = "the file is damaged or not a NumPy file; re-run the execution"
_LABELS_FIX = "save the label ids as integers, or declare the output `kind: array` if its values are numbers"


def _is_npz(path: Path) -> bool:
    return suffix_of(path) == ".npz" or head(path, 4) == _ZIP_MAGIC


_ARRAYS_ONLY = "save numeric arrays only (or declare the output `kind: bytes` to compare the files)"


def _member(path: Path, archive: Any, name: str) -> np.ndarray:
    """One member of an ``.npz`` archive, or a one-line error naming it: numpy returns the bytes of a member that
    is no ``.npy`` (a ``meta.json`` zipped with the arrays), which crashed every command (a review)."""
    try:
        value = archive[name]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise
        raise fail(
            path, f"member {name!r} holds pickled Python objects, which reprovip never loads", _ARRAYS_ONLY
        ) from exc
    if not isinstance(value, np.ndarray):
        raise fail(path, f"member {name!r} is not a NumPy array (another file in the archive)", _ARRAYS_ONLY)
    return value


def npy_values(path: Path) -> int | None:
    """How many numbers an ``.npy`` file holds, from its header alone (None for another file, or one whose
    header cannot be read: the reader says why): a limit can be checked before 50 MB are read (a review's
    check held 1.8 GB to refuse twelve of them)."""
    if _is_npz(path):
        return None
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception:  # noqa: BLE001 -- damaged or not NumPy: read, and refused, as usual
        return None
    return int(array.size) if array.dtype.kind in "biufc" else None


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an ``.npy`` (named ``"data"``) or ``.npz`` file, fully read, in file order."""
    try:
        if not _is_npz(path):
            return {"data": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("not a zip archive")
            return {name: _member(path, archive, name) for name in archive.files}
    except ReaderError:
        raise
    except Exception as exc:  # numpy, zipfile and zlib raise many types
        if "allow_pickle" in str(exc):  # not damaged: written with Python objects, which are never unpickled
            raise fail(
                path, "NumPy file holds pickled Python objects, which reprovip never loads", _ARRAYS_ONLY
            ) from exc
        raise fail(path, f"NumPy file cannot be read ({describe(exc)})", _RERUN) from exc


def _numeric(name: str, array: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The observations of one array, and its parts that are not numbers, by name.

    A structured array gives one observation per field, ``name/field`` (nested fields ``name/field/sub``):
    skipped as "non-numeric", a record of fitted values that varied by 30% was named nowhere (a review).

    Examples
    --------
    >>> fits = np.array([(1.5, 2, "a")], dtype=[("amplitude", "<f8"), ("n", "<i4"), ("label", "<U1")])
    >>> values, skipped = _numeric("fits", fits)
    >>> {k: v.tolist() for k, v in values.items()}, list(skipped)
    ({'fits/amplitude': [1.5], 'fits/n': [2]}, ['fits/label'])
    """
    if array.dtype.names is not None:
        values: dict[str, np.ndarray] = {}
        skipped: dict[str, np.ndarray] = {}
        for field in array.dtype.names:
            got, others = _numeric(f"{name}/{field}", np.ascontiguousarray(array[field]))
            values.update(got)
            skipped.update(others)
        return values, skipped
    if array.dtype.kind == "b":
        return {name: array.astype(np.uint8)}, {}
    if array.dtype.kind in "iuf":
        return {name: array}, {}
    if array.dtype.kind == "c":
        return {
            f"{name}.real": np.ascontiguousarray(array.real),
            f"{name}.imag": np.ascontiguousarray(array.imag),
        }, {}
    return {}, {name: array}


def _digest(array: np.ndarray) -> str:
    """A short digest of a non-numeric array (dtype, shape, bytes): whether it differs between executions."""
    h = new_hasher("numpy.text.v1")
    h.update(f"{array.dtype.str}{array.shape}\0".encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:16]


def arrays_loaded(arrays: dict[str, np.ndarray], text: dict[str, str]) -> Loaded:
    """The ``array`` observations of a format's numeric arrays (read-only), with its text as digests in
    ``meta["text"]``, which the analysis names when they differ (GIfTI, MATLAB)."""
    values = {name: read_only(a) for name, a in arrays.items()}
    meta = {
        "arrays": {name: {"shape": list(a.shape), "dtype": a.dtype.str} for name, a in values.items()},
        "text": text,
        "n_nonfinite": count_nonfinite(values),
    }
    return Loaded("array", values, meta)


def arrays_hash(tag: str, arrays: dict[str, np.ndarray], text: dict[str, str]) -> str:
    """The semantic hash of a format's arrays in their order (name, little-endian dtype, shape, C-order bytes)
    and of its text digests: what the file holds, not how it is laid out (GIfTI, MATLAB)."""
    h = new_hasher(tag)
    h.update(json.dumps(text, sort_keys=True).encode() + b"\0")
    for name, array in arrays.items():
        little = array.dtype.newbyteorder("<")
        h.update(name.encode("utf-8", "surrogatepass") + b"\0" + little.str.encode() + b"\0")
        h.update(np.array([array.ndim, *array.shape], dtype="<i8").tobytes())
        h.update(np.ascontiguousarray(array, dtype=little).tobytes())
    return h.hexdigest()


class NumpyReader(Reader):
    """NumPy ``.npy`` arrays and ``.npz`` archives; sniffed by their magic numbers."""

    name = "numpy"
    binary = True
    kinds = ("array", "labels")
    suffixes = (".npy", ".npz")

    def sniff(self, path: Path) -> bool:
        start = head(path, 8)
        if start.startswith(_NPY_MAGIC):
            return True
        if not start.startswith(_ZIP_MAGIC):
            return False
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except Exception:
            return False
        return bool(names) and all(n.endswith(".npy") for n in names)

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        arrays = load_arrays(path)
        if kind == "labels":
            return _label_map(path, arrays)
        values: dict[str, np.ndarray] = {}
        ignored: list[str] = []
        text: dict[str, str] = {}
        for name, array in arrays.items():
            numeric, skipped = _numeric(name, array)
            clash = next((k for k in [*numeric, *skipped] if k in values or k in text), None)
            if clash is not None:  # a member named `fits/amplitude` beside the field `amplitude` of `fits`
                raise fail(path, f"two arrays map to the same name {clash!r}", "give the members distinct names")
            values.update((k, read_only(v)) for k, v in numeric.items())
            ignored.extend(skipped)
            # no observation, but the analysis names them when they differ (it said only "the files differ")
            text.update((k, _digest(a)) for k, a in skipped.items())
        if not _is_npz(path) and not values:
            raise fail(path, f"the array has dtype {arrays['data'].dtype}, not numbers", "save a numeric array")
        meta = {
            "arrays": {name: {"shape": list(a.shape), "dtype": a.dtype.str} for name, a in arrays.items()},
            "ignored": ignored,
            "text": text,
            "n_nonfinite": count_nonfinite(values),
        }
        return Loaded("array", values, meta)

    def semantic_hash(self, path: Path) -> str | None:
        arrays = load_arrays(path)
        h = new_hasher("numpy.v1")
        for name in sorted(arrays):
            array = arrays[name]
            little = array.dtype.newbyteorder("<")
            h.update(name.encode("utf-8", "surrogatepass") + b"\0")
            h.update(repr(little.descr).encode("utf-8", "backslashreplace") + b"\0")
            h.update(np.array([array.ndim, *array.shape], dtype="<i8").tobytes())
            h.update(np.ascontiguousarray(array, dtype=little).tobytes())
        return h.hexdigest()


def _label_map(path: Path, arrays: dict[str, np.ndarray]) -> Loaded:
    """The one array of an ``.npy`` (or one-member ``.npz``) declared ``labels``, as integer ids ``"data"``."""
    if len(arrays) != 1:
        raise fail(
            path,
            f"declared `kind: labels` but holds {len(arrays)} arrays ({', '.join(arrays) or 'none'})",
            "save one label map per file (an .npy), or declare the output `kind: array`",
        )
    ((name, array),) = arrays.items()
    if array.dtype.names is not None or array.dtype.kind not in "biuf":
        raise fail(path, f"declared `kind: labels` but array {name!r} has dtype {array.dtype}", _LABELS_FIX)
    data = label_ids(path, array, element="element", fix=_LABELS_FIX)
    meta = {"shape": list(data.shape), "dtype": array.dtype.str, "elements": "elements", "text": {}}
    return Loaded("labels", {"data": read_only(data)}, {**meta, "n_nonfinite": 0})
