"""Helpers shared by the reader tests: real files written with nibabel, numpy and the stdlib."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.errors import ReaderError

AFFINE = np.array([[-2.0, 0.0, 0.0, 90.0], [0.0, 2.0, 0.0, -126.0], [0.0, 0.0, 2.5, -72.0], [0.0, 0.0, 0.0, 1.0]])


def volume(shape=(5, 6, 4), dtype=np.float32, seed=0) -> np.ndarray:
    """A small deterministic volume of ``dtype``."""
    rng = np.random.default_rng(seed)
    return (rng.random(shape) * 100).astype(dtype)


def write_nifti(
    path: Path,
    data: np.ndarray,
    affine: np.ndarray = AFFINE,
    *,
    slope: float | None = None,
    inter: float = 0.0,
    nifti2: bool = False,
    endianness: str | None = None,
    descrip: str | None = None,
    extension: bytes | None = None,
    ecode: int = 6,
    units: tuple[str, str] = ("mm", "sec"),
) -> Path:
    """Write ``data`` (stored values) as NIfTI, gzip-compressed when ``path`` ends with .gz.

    Written by hand from a nibabel header because ``nibabel.save`` recomputes ``scl_slope``/``scl_inter``.
    """
    klass = nib.Nifti2Header if nifti2 else nib.Nifti1Header
    hdr = klass(endianness=endianness) if endianness else klass()
    hdr.set_data_shape(data.shape)
    hdr.set_data_dtype(data.dtype)
    hdr.set_sform(affine, 1)
    hdr.set_qform(affine, 1)
    hdr.set_xyzt_units(*units)
    if slope is not None:
        hdr["scl_slope"], hdr["scl_inter"] = slope, inter
    if descrip is not None:
        hdr["descrip"] = descrip.encode()
    if extension is not None:
        hdr.extensions.append(nib.nifti1.Nifti1Extension(ecode, extension))
    offset = hdr.sizeof_hdr + 4 + hdr.extensions.get_sizeondisk()
    hdr.set_data_offset(offset + (-offset) % 16)
    out = io.BytesIO()
    hdr.write_to(out)
    out.write(b"\0" * (hdr.get_data_offset() - out.tell()))
    out.write(np.asarray(data).astype(hdr.get_data_dtype()).tobytes(order="F"))
    raw = out.getvalue()
    path.write_bytes(gzip.compress(raw, mtime=0) if path.name.endswith(".gz") else raw)
    return path


def regzip(src: Path, dst: Path, *, mtime: int, level: int) -> Path:
    """Re-compress ``src`` with another gzip timestamp and compression level."""
    dst.write_bytes(gzip.compress(gzip.decompress(src.read_bytes()), compresslevel=level, mtime=mtime))
    return dst


def reader_error(path: Path | str, phrase: str):
    """``pytest.raises(ReaderError)`` whose message must name ``path`` then contain ``phrase``."""
    return pytest.raises(ReaderError, match=re.escape(str(path)) + ".*" + re.escape(phrase))
