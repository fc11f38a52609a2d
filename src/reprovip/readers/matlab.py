"""MATLAB ``.mat`` files (``array``): SPM's and CAT12's results, and ANTs' and ITK's affine transforms
(``0GenericAffine.mat`` is a MATLAB 4 file), read with SciPy.

Each variable is one observation or more, named as MATLAB writes them: a numeric matrix ``AffineTransform_double_3_3``,
a struct's fields ``SPM.xX.X`` (an element of a struct array ``s(2).beta``, 1-based), a cell's items
``vols{3}`` (1-based, in MATLAB's column order); complex values give ``name.real`` and ``name.imag``, logical
ones 1 and 0, a sparse matrix its non-zeros. Numbers keep their stored type. Text (a char array, a string in a
cell) is no observation: it is kept as a digest in ``meta["text"]``, which the analysis names when it differs; so
are what MATLAB code tells apart and numbers do not, each container's shape and class (``"<name>:class"``: a
struct or cell array's shape, logical, sparse and where its non-zeros are, an empty matrix).

Recognised by its content, never by the ``.mat`` suffix alone: FSL writes its affines as text in ``.mat`` files
(read them as ``table``). A MATLAB 5 file starts with the text ``MATLAB 5.0 MAT-file``; a MATLAB 4 file with a
header of five integers (type, rows, columns, imaginary flag, name length) then the variable's name. MATLAB 7.3
files are HDF5: refused with what to do.

Semantic hash: the text digests, then per variable's observations in name order, the name, the little-endian
dtype, the shape and the bytes (:func:`~reprovip.readers.arrays.arrays_hash`). The 116-byte header (its
creation time: two runs that save equal variables have different bytes) and the file's compression do not count.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.errors import ReaderError
from reprovip.readers.arrays import arrays_hash, arrays_loaded
from reprovip.readers.base import (
    Loaded,
    Reader,
    describe,
    fail,
    head,
    text_digest,
)

_V5 = b"MATLAB 5.0 MAT-file"
_V73 = b"MATLAB 7.3 MAT-file"
_RERUN = "the file is damaged or not a MATLAB file; re-run the execution"


def is_matlab(start: bytes) -> bool:
    """Whether a file's first bytes are a MATLAB 4 or 5 (or 7.3) file's header.

    Examples
    --------
    >>> is_matlab(b"MATLAB 5.0 MAT-file, Platform: posix, Created on: ...")
    True
    >>> v4 = struct.pack("<5i", 0, 12, 1, 0, 27) + b"AffineTransform_double_3_3\\0"
    >>> is_matlab(v4), is_matlab(b"1 0 0 0\\n0 1 0 0\\n"), is_matlab(bytes(64))
    (True, False, False)
    """
    if start.startswith((_V5, _V73)):
        return True
    if len(start) < 21:
        return False
    for order in "<>":
        mopt, rows, cols, imagf, namlen = struct.unpack(f"{order}5i", start[:20])
        m, rest = divmod(mopt, 1000)
        o, rest = divmod(rest, 100)
        p, t = divmod(rest, 10)
        name = start[20 : 20 + namlen]
        if (
            m in (0, 1)
            and o == 0
            and p <= 5
            and t <= 2
            and rows >= 0
            and cols >= 0
            and imagf in (0, 1)
            and 2 <= namlen <= 64
            and len(name) == namlen
            and name.endswith(b"\0")
            and name[:-1].isascii()
            and name[:1].isalpha()
            and all(c == 95 or chr(c).isalnum() for c in name[:-1])
        ):
            return True
    return False


def load_matlab(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The numeric observations of a MATLAB file by name, and the digests of its text, by name."""
    if head(path, len(_V73)) == _V73:
        raise _v73(path)
    from scipy.io import loadmat

    try:
        variables = loadmat(path, squeeze_me=False, struct_as_record=True, chars_as_strings=True)
    except Exception as exc:  # SciPy raises many types on damaged files
        raise fail(path, f"MATLAB file cannot be read ({describe(exc)})", _RERUN) from exc
    values: dict[str, np.ndarray] = {}
    text: dict[str, str] = {}
    for name in sorted(k for k in variables if not k.startswith("__")):
        _flatten(name, variables[name], values, text)
    if not variables.keys() - {"__header__", "__version__", "__globals__"}:
        raise fail(path, "the MATLAB file holds no variable", "check that the application saved its results")
    return values, text


def _v73(path: Path) -> ReaderError:
    return fail(
        path,
        "a MATLAB 7.3 file (HDF5), which reprovip does not read",
        "save it in MATLAB's version 7 format (`save(..., '-v7')`) or declare the output `kind: bytes`",
    )


def _flatten(name: str, value: Any, values: dict[str, np.ndarray], text: dict[str, str]) -> None:
    """Put ``value`` (a variable, a field or a cell's item) under ``name``: numbers into ``values``, text into
    ``text`` (as a digest); structs and cells by their MATLAB names, 1-based. What MATLAB code tells apart and
    numbers do not, a container's shape and class (struct, cell, logical, sparse, an empty matrix), is text too,
    ``"<name>:class"``: a 2x1 struct array for a 1x2, a sparse matrix for a dense one, a logical for a uint8 or an
    extra empty variable read "bit-for-bit identical" (a review)."""
    if hasattr(value, "tocsc"):  # a sparse matrix: its non-zeros, and where they are (never made dense)
        sparse = value.tocsc()
        sparse.sort_indices()
        text[f"{name}:class"] = text_digest(("sparse", sparse.shape, sparse.indptr.tolist(), sparse.indices.tolist()))
        _flatten(name, sparse.data, values, text)
        return
    array = np.asarray(value)
    if array.dtype.names is not None:  # a struct, or an array of them
        text[f"{name}:class"] = text_digest(("struct", array.shape, array.dtype.names))
        for index, element in _elements(array):
            for field in array.dtype.names:
                _flatten(f"{name}{index}.{field}", element[field], values, text)
    elif array.dtype == object:  # a cell array
        text[f"{name}:class"] = text_digest(("cell", array.shape))
        for index, item in _elements(array, "{}"):
            _flatten(f"{name}{index}", item, values, text)
    elif array.dtype.kind in "US":
        text[name] = text_digest(array.tolist())
    elif not array.size:
        text[f"{name}:class"] = text_digest(("empty", array.dtype.str, array.shape))
    elif array.dtype.kind == "b":
        text[f"{name}:class"] = text_digest(("logical", array.shape))
        values[name] = array.astype(np.uint8)
    elif array.dtype.kind == "c":
        values[f"{name}.real"] = np.ascontiguousarray(array.real)
        values[f"{name}.imag"] = np.ascontiguousarray(array.imag)
    elif array.dtype.kind in "iuf":
        values[name] = array


def _elements(array: np.ndarray, brackets: str = "()") -> list[tuple[str, Any]]:
    """The elements of a struct or cell array in MATLAB's (column) order, each with its 1-based index, which a
    single element goes without (``s.f``, not ``s(1).f``; a cell's item keeps it: ``c{1}``)."""
    items = array.ravel(order="F")
    if brackets == "()" and items.size == 1:
        return [("", items[0])]
    return [(f"{brackets[0]}{i + 1}{brackets[1]}", item) for i, item in enumerate(items)]


class MatlabReader(Reader):
    """MATLAB 4 and 5 ``.mat`` files, recognised by their header (FSL's text ``.mat`` files are no such file)."""

    name = "matlab"
    binary = True
    kinds = ("array",)

    def sniff(self, path: Path) -> bool:
        return is_matlab(head(path, 128))

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        return arrays_loaded(*load_matlab(path))

    def declared_as(self, path: Path, kind: str) -> ReaderError:
        # `kind: array` would refuse a 7.3 file too: say what does work (a review's advice went round in a circle)
        return _v73(path) if head(path, len(_V73)) == _V73 else super().declared_as(path, kind)

    def semantic_hash(self, path: Path) -> str | None:
        return arrays_hash("matlab.v1", *load_matlab(path))
