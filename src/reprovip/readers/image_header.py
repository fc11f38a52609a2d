"""The first layer of reading a NIfTI-1, NIfTI-2 or MGH volume: its header parsed and its voxels decoded.

The file is read in one go and gunzipped in one call (the gzip CRC is checked), the header is parsed by nibabel
(so the affine is chosen exactly as ``nibabel.load`` chooses it: sform, else qform, else the zooms), and the
stored voxels are a zero-copy view on the decoded buffer. :mod:`reprovip.readers.nifti` makes images of them,
:mod:`reprovip.readers.image_hash` hashes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from reprovip.errors import PAIR_HEADER
from reprovip.readers.base import GZIP_MAGIC, describe, fail, gunzip, read_file_bytes
from reprovip.readers.inflate import DecodeBuffers, gunzip_into

RERUN = "the file was cut or damaged while being written or copied; re-run the execution"
HEADER_BYTES = 540  # the larger header, NIfTI-2's: all that the header parser reads
_MGH_HEADER = 284  # FreeSurfer's MGH header: the voxels follow it, then the scan parameters and tags
_MGH_TYPES = frozenset({0, 1, 3, 4})  # uchar, int32, float32, int16


def is_mgh(buf: bytes) -> bool:
    """Whether decoded bytes start like an MGH volume: version 1, four positive dimensions, a known type."""
    if len(buf) < 28:
        return False
    version, *dims, kind = (int.from_bytes(buf[i : i + 4], "big", signed=True) for i in range(0, 24, 4))
    return version == 1 and all(d > 0 for d in dims) and kind in _MGH_TYPES


def _header_class(path: Path, buf: bytes, gzipped: bool) -> tuple[type, str]:
    import nibabel as nib  # here: workers that never meet an image need not import it

    plain = "" if gzipped else ", not gzip-compressed"
    if is_mgh(buf):
        if len(buf) < _MGH_HEADER:
            raise fail(path, f"too short to be an MGH volume ({len(buf)} bytes)", RERUN)
        return nib.freesurfer.mghformat.MGHHeader, "mgh"
    if len(buf) < 348:
        raise fail(path, f"too short to be a NIfTI file ({len(buf)} bytes{plain})", RERUN)
    sizes = {int.from_bytes(buf[:4], "little"), int.from_bytes(buf[:4], "big")}
    if 348 in sizes:
        magic = buf[344:348]
        if magic == b"ni1\x00":
            raise fail(path, PAIR_HEADER, "write single-file .nii or .nii.gz images")
        if magic == b"n+1\x00":
            return nib.Nifti1Header, "nifti1"
        raise fail(path, f"not a NIfTI file (magic {magic!r} instead of b'n+1\\x00'{plain})", RERUN)
    if 540 in sizes and len(buf) >= 540 and buf[4:8] == b"n+2\x00":
        return nib.Nifti2Header, "nifti2"
    raise fail(
        path,
        f"not a NIfTI file (sizeof_hdr is neither 348 nor 540{plain})",
        "the file is damaged, or the declared output is not a NIfTI image",
    )


class Header(NamedTuple):
    header: Any
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: int
    slope: float | None  # None when the file has no effective scaling
    inter: float | None
    affine: np.ndarray
    zooms: tuple[float, ...]
    units: tuple[str, str]
    fmt: str

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass(frozen=True, eq=False)
class Decoded:
    parsed: Header
    buffer: bytes | np.ndarray  # the decoded file (a uint8 array when inflated by gunzip_into)
    raw: np.ndarray  # stored values, stored dtype, Fortran-order view on ``buffer``


def parse(path: Path, buf: bytes, gzipped: bool, size: int | None) -> Header:
    """The header from the first bytes ``buf`` of the decoded file, checked against the decoded file's
    ``size`` unless None (not known yet)."""
    klass, fmt = _header_class(path, buf, gzipped)
    try:
        header = klass(binaryblock=buf[: _MGH_HEADER if fmt == "mgh" else klass.template_dtype.itemsize], check=True)
        shape = tuple(int(d) for d in header.get_data_shape())
        dtype = np.dtype(header.get_data_dtype())
        offset = int(header.get_data_offset())
        slope, inter = header.get_slope_inter()
        affine = np.array(header.get_best_affine(), dtype=np.float64)
        zooms = tuple(float(z) for z in header.get_zooms())
        # MGH: millimetres, and a series' time step (TR) in milliseconds
        units = ("mm", "msec") if fmt == "mgh" else tuple(header.get_xyzt_units())
    except Exception as exc:  # nibabel raises many types for a bad header
        raise fail(path, f"invalid {'MGH' if fmt == 'mgh' else 'NIfTI'} header ({describe(exc)})", RERUN) from exc
    if any(d < 0 for d in shape):
        raise fail(path, f"invalid NIfTI header (negative dimension in {shape})", RERUN)
    if slope is not None and slope == 1.0 and inter == 0.0:
        slope = inter = None
    h = Header(header, shape, dtype, offset, slope, inter, affine, zooms, units, fmt)
    if size is not None:
        check_size(path, h, size)
    return h


def check_size(path: Path, h: Header, size: int) -> None:
    if h.offset < 0 or h.offset + h.nbytes > size:
        raise fail(
            path,
            f"truncated: the header declares {h.shape} {h.dtype.name} voxels ({h.nbytes} bytes from offset "
            f"{h.offset}) but the decoded file holds {size} bytes",
            RERUN,
        )


def decode(path: Path, buffers: DecodeBuffers | None = None) -> Decoded:
    data = read_file_bytes(path)
    gzipped = data.startswith(GZIP_MAGIC)
    buf = gunzip_into(data, buffers) if gzipped else None
    if buf is None:
        buf = gunzip(path, data)
    del data
    h = parse(path, bytes(buf[:HEADER_BYTES]), gzipped, len(buf))
    count = math.prod(h.shape)
    if count == 0:
        raw = np.empty(h.shape, dtype=h.dtype, order="F")
    else:
        raw = np.frombuffer(buf, dtype=h.dtype, count=count, offset=h.offset).reshape(h.shape, order="F")
    return Decoded(h, buf, raw)
