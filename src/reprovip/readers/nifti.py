"""NIfTI-1 and NIfTI-2 single-file images (``.nii``, ``.nii.gz``), and FreeSurfer's MGH volumes (``.mgz``,
``.mgh``), as ``image`` or ``labels``.

The file is read in one go and gunzipped in one call (:func:`gzip.decompress`, which checks the CRC), the
header is parsed by nibabel (so the affine is chosen exactly as ``nibabel.load`` chooses it: sform, else
qform, else the zooms), and the voxels are a zero-copy view on the decoded buffer. The same decoded buffer
feeds the semantic hash, so :func:`load_image_with_hash` decodes once.
"""

from __future__ import annotations

import itertools
import math
import os
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from reprovip.errors import ReaderError
from reprovip.readers.base import (
    GZIP_MAGIC,
    Loaded,
    Reader,
    describe,
    fail,
    gunzip,
    gunzip_pieces,
    head,
    new_hasher,
    read_file_bytes,
    read_only,
)
from reprovip.readers.inflate import DecodeBuffers, gunzip_into

_RERUN = "the file was cut or damaged while being written or copied; re-run the execution"


class Image(NamedTuple):
    """What the voxelwise engine needs from one volume.

    Attributes
    ----------
    data : numpy.ndarray
        Voxels in the stored dtype (native byte order) when the file has no scaling, else float64 with
        ``scl_slope``/``scl_inter`` applied.
        Spatial axes first, as nibabel. Possibly read-only.
    affine : numpy.ndarray
        4x4 float64 voxel-to-world matrix, as ``nibabel.load(path).affine``.
    zooms : tuple of float
        Voxel sizes (``pixdim``) for every axis, as ``header.get_zooms()``.
    """

    data: np.ndarray
    affine: np.ndarray
    zooms: tuple[float, ...]


_HEADER_BYTES = 540  # the larger header, NIfTI-2's: all that the header parser reads
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
            raise fail(path, f"too short to be an MGH volume ({len(buf)} bytes)", _RERUN)
        return nib.freesurfer.mghformat.MGHHeader, "mgh"
    if len(buf) < 348:
        raise fail(path, f"too short to be a NIfTI file ({len(buf)} bytes{plain})", _RERUN)
    sizes = {int.from_bytes(buf[:4], "little"), int.from_bytes(buf[:4], "big")}
    if 348 in sizes:
        magic = buf[344:348]
        if magic == b"ni1\x00":
            raise fail(path, "is the header of a .hdr/.img pair", "write single-file .nii or .nii.gz images")
        if magic == b"n+1\x00":
            return nib.Nifti1Header, "nifti1"
        raise fail(path, f"not a NIfTI file (magic {magic!r} instead of b'n+1\\x00'{plain})", _RERUN)
    if 540 in sizes and len(buf) >= 540 and buf[4:8] == b"n+2\x00":
        return nib.Nifti2Header, "nifti2"
    raise fail(
        path,
        f"not a NIfTI file (sizeof_hdr is neither 348 nor 540{plain})",
        "the file is damaged, or the declared output is not a NIfTI image",
    )


class _Header(NamedTuple):
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
class _Decoded:
    parsed: _Header
    buffer: bytes | np.ndarray  # the decoded file (a uint8 array when inflated by gunzip_into)
    raw: np.ndarray  # stored values, stored dtype, Fortran-order view on ``buffer``


def _parse(path: Path, buf: bytes, gzipped: bool, size: int | None) -> _Header:
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
        raise fail(path, f"invalid {'MGH' if fmt == 'mgh' else 'NIfTI'} header ({describe(exc)})", _RERUN) from exc
    if any(d < 0 for d in shape):
        raise fail(path, f"invalid NIfTI header (negative dimension in {shape})", _RERUN)
    if slope is not None and slope == 1.0 and inter == 0.0:
        slope = inter = None
    h = _Header(header, shape, dtype, offset, slope, inter, affine, zooms, units, fmt)
    if size is not None:
        _check_size(path, h, size)
    return h


def _check_size(path: Path, h: _Header, size: int) -> None:
    if h.offset < 0 or h.offset + h.nbytes > size:
        raise fail(
            path,
            f"truncated: the header declares {h.shape} {h.dtype.name} voxels ({h.nbytes} bytes from offset "
            f"{h.offset}) but the decoded file holds {size} bytes",
            _RERUN,
        )


def _decode(path: Path, buffers: DecodeBuffers | None = None) -> _Decoded:
    data = read_file_bytes(path)
    gzipped = data.startswith(GZIP_MAGIC)
    buf = gunzip_into(data, buffers) if gzipped else None
    if buf is None:
        buf = gunzip(path, data)
    del data
    h = _parse(path, bytes(buf[:_HEADER_BYTES]), gzipped, len(buf))
    count = math.prod(h.shape)
    if count == 0:
        raw = np.empty(h.shape, dtype=h.dtype, order="F")
    else:
        raw = np.frombuffer(buf, dtype=h.dtype, count=count, offset=h.offset).reshape(h.shape, order="F")
    return _Decoded(h, buf, raw)


_TO_MM = {"meter": 1000.0, "mm": 1.0, "micron": 0.001}  # NIfTI's spatial units; "unknown" is read as mm


def voxel_mm(affine: np.ndarray, space_unit: str, zooms: tuple[float, ...]) -> list[float]:
    """Voxel sizes in mm along the three spatial axes: the lengths of the affine's columns (the sform or
    qform nibabel chose, else the zooms), in the header's spatial unit converted to mm.

    Not ``pixdim``: a header whose sform says 4 mm slices while ``pixdim`` says 1 mm is read by every viewer
    and nibabel through its affine; and a map written in metres (``xyzt_units``) measured "0.003 mm" where
    a boundary moved 3 mm (a review's false pass of ``hd95_max <= 2``). An axis whose column is zero or not
    finite (a degenerate header) takes its zoom, else 1.

    Examples
    --------
    >>> voxel_mm(np.diag([0.001, 0.001, 0.004, 1.0]), "meter", (0.001, 0.001, 0.001))
    [1.0, 1.0, 4.0]
    """
    scale = _TO_MM.get(space_unit, 1.0)
    lengths = np.sqrt((np.asarray(affine, dtype=np.float64)[:3, :3] ** 2).sum(axis=0))
    out = []
    for axis, length in enumerate(lengths):
        zoom = zooms[axis] if axis < len(zooms) else 1.0
        size = length if np.isfinite(length) and length > 0 else (zoom if zoom > 0 else 1.0)
        out.append(float(size * scale))
    return out


def _float_type(dtype: np.dtype) -> np.dtype:
    """float32 unless float32 would lose integers or precision of the stored type."""
    if dtype.kind == "f" and dtype.itemsize >= 8 or dtype.kind in "iu" and dtype.itemsize >= 4:
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def _unanalysable_voxels(path: Path, dtype: np.dtype) -> ReaderError:
    """Complex (NIfTI-MRS spectra, k-space) or RGB voxels: stored and hashed, but no voxelwise analysis."""
    bit_for_bit = "declare the output `kind: bytes` to check it bit for bit"
    if dtype.kind == "c":
        return fail(
            path,
            f"complex voxels ({dtype.name}, e.g. NIfTI-MRS) are not analysed voxelwise",
            f"{bit_for_bit}, or export real-valued results (fitted concentrations as a table, magnitude and phase "
            "images)",
        )
    return fail(
        path, f"colour voxels ({dtype}, RGB) are not analysed voxelwise", f"{bit_for_bit}, or write real-valued images"
    )


_CIFTI = range(3000, 3100)  # NIFTI_INTENT_CONNECTIVITY_*: a CIFTI-2 matrix (dscalar, dtseries, dlabel...)


def _image(path: Path, dec: _Decoded) -> Image:
    raw = dec.raw
    if raw.dtype.kind not in "biuf":
        raise _unanalysable_voxels(path, raw.dtype)
    if dec.parsed.fmt != "mgh" and int(dec.parsed.header["intent_code"]) in _CIFTI:
        # Its axes are maps and brainordinates (surface vertices, subcortical voxels), not a grid of voxels
        raise fail(
            path,
            f"a CIFTI-2 file (intent code {int(dec.parsed.header['intent_code'])}) is not an image: its values sit on "
            "brainordinates, not on a voxel grid",
            "declare the output `kind: bytes` to check it bit for bit, or export its values as text "
            "(wb_command -cifti-convert -to-text) and declare that file `kind: table`",
        )
    if dec.parsed.slope is None:
        data = raw if raw.dtype.isnative else raw.astype(raw.dtype.newbyteorder("="), order="F")
    else:  # in float64: float32 rounded a slope of 1e-5 beside an intercept of 273.15 away (a review)
        data = raw.astype(np.float64, order="F")
        with np.errstate(over="ignore", invalid="ignore"):  # overflow gives inf, counted as non-finite
            data *= dec.parsed.slope
            data += dec.parsed.inter
    return Image(data, dec.parsed.affine, dec.parsed.zooms)


def _hasher(h: _Header):
    """A hasher fed with shape, stored dtype (little-endian), affine, its spatial unit, the effective scaling,
    and what a series or a statistic map means beyond its voxels: the voxel bytes (little-endian, on-disk
    order) come next."""
    shape, dtype, affine, units, slope, inter, header = h.shape, h.dtype, h.affine, h.units, h.slope, h.inter, h.header
    little = dtype.newbyteorder("<")
    if h.fmt == "mgh":  # shape, type, vox2ras and voxel sizes (and a series' TR); not the tags after the voxels
        m = new_hasher("mgh.v1")
        m.update(np.array([len(shape), *shape], dtype="<i8").tobytes())
        m.update(repr(little.descr).encode("ascii") + b"\0")
        m.update((np.asarray(affine, dtype="<f8") + 0.0).tobytes())
        m.update((np.asarray(h.zooms, dtype="<f8") + 0.0).tobytes())
        return m
    # v2 hashes the spatial unit of the affine and zooms (xyzt_units): metres and millimetres are not the same
    # geometry; v1 left it out. v3 adds a 4-D image's time step (TR) and time unit, the sform and qform codes
    # and the qform, and a statistic map's intent (code and parameters: a t-map's degrees of freedom set its
    # p-values); v2 left them out, and called a series whose TR was dropped identical to the original (reviews).
    h = new_hasher("nifti.v3")
    h.update(np.array([len(shape), *shape], dtype="<i8").tobytes())
    h.update(repr(little.descr).encode("ascii") + b"\0")
    h.update((np.asarray(affine, dtype="<f8") + 0.0).tobytes())  # + 0.0 turns -0.0 into 0.0
    h.update(str(units[0]).encode("ascii", "replace") + b"\0")
    scaling = (1.0, 0.0) if slope is None else (slope, inter)
    h.update(np.array(scaling, dtype="<f8").tobytes())
    if len(shape) > 3:  # pixdim[4:]: the time step of a series (and the steps of higher axes)
        h.update(np.asarray(header.get_zooms()[3:], dtype="<f8").tobytes())
        h.update(str(units[1]).encode("ascii", "replace") + b"\0")
    # The spaces the two affines name (scanner, aligned, MNI...), and the qform when set: tools that read the
    # qform (ITK) place the image by it even when the sform is the affine chosen above (a review's moved qform).
    sform, qform = int(header["sform_code"]), int(header["qform_code"])
    h.update(np.array([sform, qform], dtype="<i8").tobytes())
    if qform:  # its stored parameters (the matrix may not exist: a damaged quaternion): qfac and voxel sizes too
        fields = ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z")
        params = [float(header[f]) for f in fields] + [float(v) for v in header["pixdim"][:4]]
        h.update((np.array(params, dtype="<f8") + 0.0).tobytes())
    code = int(header["intent_code"])
    if code:  # a statistic map: what its values mean, and the parameters of their distribution
        params = [float(header[f"intent_p{i}"]) for i in (1, 2, 3)]
        h.update(np.array([code], dtype="<i8").tobytes() + np.array(params, dtype="<f8").tobytes())
    return h


def _semantic_hash(dec: _Decoded) -> str:
    """Hash shape, stored dtype (little-endian), affine, effective scaling and stored voxel bytes."""
    raw = dec.raw
    h = _hasher(dec.parsed)
    if _little(raw.dtype):
        h.update(memoryview(dec.buffer)[dec.parsed.offset : dec.parsed.offset + raw.nbytes])
    else:  # big-endian file: hash the values, not their byte order
        h.update(np.ravel(raw.astype(raw.dtype.newbyteorder("<"), order="F"), order="F").view(np.uint8))
    end = dec.parsed.offset + raw.nbytes
    _mgh_time_step(h, dec.parsed, bytes(memoryview(dec.buffer)[end : end + 4]))
    return h.hexdigest()


def _mgh_time_step(hasher: Any, h: _Header, after: bytes) -> None:
    """A 4-D MGH series' time step (TR, ms): the first field after its voxels (the header parsed holds none), as
    a NIfTI series' pixdim[4] is hashed; a review's series at TR 2000 and 1000 ms read "identical"."""
    if h.fmt == "mgh" and len(h.shape) > 3:
        tr = float(np.frombuffer(after, ">f4")[0]) if len(after) == 4 else 0.0  # no footer: nibabel reads 0
        hasher.update(np.array([tr], dtype="<f8").tobytes())


def _little(dtype: np.dtype) -> bool:
    return dtype == dtype.newbyteorder("<") or dtype.byteorder == "|"


_PIECE = 1 << 22  # 4 MiB read and decoded at a time by the streamed hash


def _file_pieces(path: Path) -> Iterator[bytes]:
    """The decoded bytes of ``path`` (gunzipped when it starts with the gzip magic), in pieces of <= 4 MiB."""
    try:
        with open(path, "rb") as f:
            pieces = iter(lambda: f.read(_PIECE), b"")
            first = next(pieces, b"")
            rest = itertools.chain([first], pieces)
            if first.startswith(GZIP_MAGIC):
                yield from gunzip_pieces(path, rest, _PIECE)
            else:
                yield from rest
    except OSError as exc:
        raise fail(path, f"cannot read the file ({describe(exc)})", "check its permissions") from exc


def _streamed_hash(path: Path) -> str:
    """The hash of :func:`_semantic_hash`, from the file decoded piece by piece: memory stays at a few pieces
    whatever the file's size, and a thread decodes the next piece while this one is hashed (both release
    the GIL). The whole stream is decoded, so its checksums are checked as :func:`_decode` checks them."""
    gzipped = head(path, 2) == GZIP_MAGIC
    with ThreadPoolExecutor(1, thread_name_prefix="reprovip-hash") as pool:
        pieces = _file_pieces(path)
        pending = pool.submit(next, pieces, b"")

        def ahead() -> Iterator[bytes]:
            nonlocal pending
            while piece := pending.result():
                pending = pool.submit(next, pieces, b"")
                yield piece

        stream = ahead()
        first = b""
        for piece in stream:
            first += piece
            if len(first) >= 540:  # enough for a NIfTI-1 or NIfTI-2 header
                break
        h = _parse(path, first, gzipped, None)
        hasher = _hasher(h)
        start, end = h.offset, h.offset + h.nbytes
        swap = None if _little(h.dtype) else h.dtype
        pos, carry, after = 0, b"", b""
        for piece in itertools.chain([first], stream):
            lo, hi = max(start - pos, 0), min(end - pos, len(piece))
            if len(after) < 4 and pos + len(piece) > end:  # the bytes after the voxels (an MGH series' TR)
                after += piece[max(end - pos, 0) : max(end - pos, 0) + 4 - len(after)]
            pos += len(piece)
            if lo >= hi:
                continue
            if swap is None:
                hasher.update(memoryview(piece)[lo:hi])
            else:  # big-endian file: hash the values little-endian, whole items at a time
                data = carry + piece[lo:hi]
                whole = len(data) - len(data) % swap.itemsize
                hasher.update(
                    np.frombuffer(data, swap, whole // swap.itemsize).astype(swap.newbyteorder("<")).view(np.uint8)
                )
                carry = data[whole:]
    _check_size(path, h, pos)
    _mgh_time_step(hasher, h, after)
    return hasher.hexdigest()


def read_image(path: str | os.PathLike[str], buffers: DecodeBuffers | None = None) -> Image:
    """Read a NIfTI volume for the voxelwise engine with as few copies as possible.

    Parameters
    ----------
    path : str or path-like
        A ``.nii`` or ``.nii.gz`` file.
    buffers : DecodeBuffers, optional
        Where a gzip file is inflated: buffers reused once the arrays of earlier volumes are gone, so that a
        stream of volumes maps its memory once (see :mod:`reprovip.readers.inflate`).

    Returns
    -------
    Image
        ``(data, affine, zooms)``; ``data`` is a view on the decoded file when no scaling applies.

    Raises
    ------
    ReaderError
        Missing, truncated, corrupt or not a NIfTI file.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, nibabel as nib
    >>> tmp = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(tmp.name) / "t1.nii.gz"
    >>> nib.save(nib.Nifti1Image(np.ones((2, 3, 4), np.float32), np.eye(4)), p)
    >>> img = read_image(p)
    >>> img.data.shape, img.data.dtype.name, img.zooms
    ((2, 3, 4), 'float32', (1.0, 1.0, 1.0))
    >>> tmp.cleanup()
    """
    path = Path(path)
    return _image(path, _decode(path, buffers))


class Geometry(NamedTuple):
    """A volume's grid, from its header alone: ``shape``, ``affine``, ``zooms`` and ``voxel_mm`` (see
    :func:`voxel_mm`)."""

    shape: tuple[int, ...]
    affine: np.ndarray
    zooms: tuple[float, ...]
    voxel_mm: tuple[float, ...]


def read_geometry(path: str | os.PathLike[str]) -> Geometry:
    """The grid of a NIfTI or MGH volume from its first bytes (no voxel is decoded), whatever its file name.

    Raises
    ------
    ReaderError
        Unreadable, or not a NIfTI or MGH volume.
    """
    path = Path(path)
    start = head(path, 1 << 16)
    gzipped = start.startswith(GZIP_MAGIC)
    if gzipped:
        try:
            start = zlib.decompressobj(31).decompress(start, _HEADER_BYTES)
        except zlib.error as exc:
            raise fail(path, f"corrupt gzip data ({describe(exc)})", _RERUN) from exc
    h = _parse(path, start, gzipped, None)
    return Geometry(h.shape, h.affine, h.zooms, tuple(voxel_mm(h.affine, h.units[0], h.zooms)))


def load_image_with_hash(path: str | os.PathLike[str]) -> tuple[Image, str]:
    """:func:`read_image` and the NIfTI semantic hash from a single decompression of the file."""
    path = Path(path)
    dec = _decode(path)
    return _image(path, dec), _semantic_hash(dec)


def _labels(path: Path, image: Image) -> np.ndarray:
    data = image.data
    if data.dtype.kind in "biu":
        return data
    whole = np.isfinite(data) & (data == np.round(data))
    if not whole.all():
        bad = tuple(int(i) for i in np.argwhere(~whole)[0])
        n_bad = int(whole.size - np.count_nonzero(whole))
        raise fail(
            path,
            f"labels must be whole numbers but {n_bad} voxels are not (voxel {bad} holds {float(data[bad])!r})",
            "declare the output as kind 'image', or write integer labels",
        )
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if not -(2.0**63) <= low <= high < 2.0**63:
        raise fail(
            path,
            f"label values range over [{low:g}, {high:g}], beyond 64-bit integers",
            "declare the output as kind 'image', or write integer labels",
        )
    info = np.iinfo(np.int32)
    target = np.int32 if info.min <= low and high <= info.max else np.int64
    return data.astype(target, order="F")


def _decoded_head(path: Path, n: int) -> bytes:
    """The first ``n`` decoded bytes of ``path`` (gunzipped when it starts with the gzip magic), or ``b""`` when
    they cannot be read or decoded (for sniffing: never raises)."""
    start = head(path, 4096)
    if start.startswith(GZIP_MAGIC):
        try:
            return zlib.decompressobj(31).decompress(start, n)
        except Exception:  # noqa: BLE001 - not gzip after all: no such format
            return b""
    return start[:n]


class NiftiReader(Reader):
    """NIfTI-1/2 single-file images, plain or gzip-compressed; sniffed by their magic number."""

    name = "nifti"
    kinds = ("image", "labels")
    suffixes = (".nii", ".nii.gz")

    def sniff(self, path: Path) -> bool:
        start = _decoded_head(path, 548)
        if len(start) >= 348 and start[344:348] == b"n+1\x00":
            return True
        return len(start) >= 8 and start[4:8] == b"n+2\x00"

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        dec = _decode(path)
        image = _image(path, dec)
        if kind == "labels":
            data = _labels(path, image)
            n_nonfinite = 0
        else:
            data = image.data
            if data.dtype.kind != "f" or data.dtype.itemsize < 4:
                data = data.astype(_float_type(data.dtype), order="F")
            n_nonfinite = int(data.size - np.count_nonzero(np.isfinite(data)))
        space, time = dec.parsed.units
        meta = {
            "format": dec.parsed.fmt,
            "shape": list(data.shape),
            "dtype": dec.raw.dtype.name,
            "affine": dec.parsed.affine.tolist(),
            "zooms": list(image.zooms),
            "voxel_spacing": list(image.zooms[:3]),
            "voxel_mm": voxel_mm(dec.parsed.affine, space, image.zooms),  # what distances and volumes are measured in
            "units": {"space": space, "time": time},
            "scl_slope": dec.parsed.slope,
            "scl_inter": dec.parsed.inter,
            "n_nonfinite": n_nonfinite,
        }
        return Loaded(kind, {"data": read_only(data)}, meta)

    def semantic_hash(self, path: Path) -> str | None:
        return _streamed_hash(path)


class MghReader(NiftiReader):
    """FreeSurfer MGH volumes (``aseg.mgz``, ``brain.mgz``...), plain or gzip-compressed; sniffed by their header.

    Read like NIfTI (voxels in the stored type, vox2ras as the affine, millimetres); the scan parameters and
    tags that follow the voxels (command lines, file names) are not content.
    """

    name = "mgh"
    suffixes = (".mgz", ".mgh")

    def sniff(self, path: Path) -> bool:
        return is_mgh(_decoded_head(path, 64))
