"""NIfTI-1 and NIfTI-2 single-file images (``.nii``, ``.nii.gz``), and FreeSurfer's MGH volumes (``.mgz``,
``.mgh``), as ``image`` or ``labels``.

:mod:`reprovip.readers.image_header` decodes a file (header parsed by nibabel, voxels a zero-copy view on the
decoded buffer); this module turns that into the voxels the analysis reads (scaled, native byte order, labels
as integers) and the readers; :mod:`reprovip.readers.image_hash` hashes it, so :func:`load_image_with_hash`
decodes once.
"""

from __future__ import annotations

import math
import os
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from reprovip.errors import ReaderError
from reprovip.readers.base import (
    GZIP_MAGIC,
    Loaded,
    Reader,
    fail,
    gunzip_pieces,
    head,
    label_ids,
    read_only,
)
from reprovip.readers.image_hash import decoded_hash, meaning_digest, streamed_hash
from reprovip.readers.image_header import HEADER_BYTES, Decoded, decode, is_mgh, parse
from reprovip.readers.inflate import DecodeBuffers


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
    meaning : str
        What the header says of where the voxels are and what they mean, as a digest
        (:func:`~reprovip.readers.image_hash.meaning_digest`): executions whose voxels differ compare it too.
    stored : str
        How the file stores its voxels: the stored dtype's name, ``int16 (scaled)`` when a scaling applies (``data``
        is float64 then: a scaled int16 was called "float64" beside float32, review G).
    """

    data: np.ndarray
    affine: np.ndarray
    zooms: tuple[float, ...]
    meaning: str = ""
    stored: str = ""


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
        # `bytes` would fail a NIfTI-MRS file on its conversion time stamp, which `image` leaves out of its hash
        return fail(
            path,
            f"complex voxels ({dtype.name}: a fitted MR signal, k-space, NIfTI-MRS) are not analysed voxelwise",
            "keep `kind: image` (identity is still judged on the decoded voxels and a NIfTI-MRS header, without its "
            "provenance) and export real-valued results to measure them: the magnitude and phase (or the real and "
            "imaginary parts) as two real images, a spectrum's as a .npy array, fitted concentrations as a table",
        )
    return fail(
        path, f"colour voxels ({dtype}, RGB) are not analysed voxelwise", f"{bit_for_bit}, or write real-valued images"
    )


_GZIPPED_NAMES = (".nii.gz", ".mgz")  # nibabel opens these through gzip, whatever their bytes
_PLAIN_NAMES = (".nii", ".mgh")  # ... and these as they are


def compression_error(path: Path, start: bytes) -> ReaderError | None:
    """The error of a file whose name and compression disagree (``start``: its first bytes), or None.

    nibabel, and every tool that trusts the suffix, chooses gzip from the name: a ``.nii.gz`` holding plain bytes
    or a ``.nii`` holding gzip bytes does not open for them, although its content could be decoded here (a
    review: such a file in one repetition read "reproducible (bit-for-bit identical)"). Other names (a NIfTI
    declared under ``.dat``) are not held to a suffix.

    Examples
    --------
    >>> from pathlib import Path
    >>> compression_error(Path("a.nii.gz"), GZIP_MAGIC + b"..."), compression_error(Path("a.nii"), b"\\x01...")
    (None, None)
    >>> str(compression_error(Path("a.nii.gz"), b"\\x01...")).split(" (")[0]
    'a.nii.gz: its name says .nii.gz but it is not gzip-compressed'
    """
    gzipped = start.startswith(GZIP_MAGIC)
    name = path.name.lower()
    if not gzipped and name.endswith(_GZIPPED_NAMES):
        said = next(x for x in _GZIPPED_NAMES if name.endswith(x))
        problem = f"its name says {said} but it is not gzip-compressed"
    elif gzipped and name.endswith(_PLAIN_NAMES):
        said = next(x for x in _PLAIN_NAMES if name.endswith(x))
        problem = f"its name says {said} but it holds gzip-compressed bytes"
    else:
        return None
    return fail(
        path,
        f"{problem} (nibabel and the tools that trust the suffix cannot open it)",
        "make the application write it with the suffix of its compression (nibabel compresses a .nii.gz name only)",
    )


def _decode(path: Path, buffers: DecodeBuffers | None = None) -> Decoded:
    """:func:`~reprovip.readers.image_header.decode`, and an error if the file's name and compression disagree
    (after decoding: random bytes named .nii.gz are "not a NIfTI file", not a compression mismatch)."""
    dec = decode(path, buffers)
    if (error := compression_error(path, head(path, len(GZIP_MAGIC)))) is not None:
        raise error
    return dec


_CIFTI = range(3000, 3100)  # NIFTI_INTENT_CONNECTIVITY_*: a CIFTI-2 matrix (dscalar, dtseries, dlabel...)


def _no_voxel(path: Path, shape: tuple[int, ...]) -> ReaderError:
    """A volume with an axis of length 0: no voxel to compare (review LB5 read "bit-for-bit identical")."""
    return fail(
        path,
        f"the image holds no voxel (shape {tuple(shape)}): there is nothing to compare",
        "check the application's log: it wrote an empty volume",
    )


def _image(path: Path, dec: Decoded) -> Image:
    raw = dec.raw
    if not raw.size:
        raise _no_voxel(path, raw.shape)
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
    stored = raw.dtype.name + ("" if dec.parsed.slope is None else " (scaled)")
    return Image(data, dec.parsed.affine, dec.parsed.zooms, meaning_digest(dec), stored)


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
    h = parse(path, _gunzipped_header(path, start) if gzipped else start, gzipped, None)
    if (error := compression_error(path, start)) is not None:
        raise error
    return Geometry(h.shape, h.affine, h.zooms, tuple(voxel_mm(h.affine, h.units[0], h.zooms)))


def _gunzipped_header(path: Path, start: bytes) -> bytes:
    """The first :data:`HEADER_BYTES` decoded bytes of the gzip stream that begins with ``start``, across its
    members (one member of 500 bytes held a NIfTI-2 header's first 500 only)."""
    out = b""
    for piece in gunzip_pieces(path, [start], HEADER_BYTES):
        out += piece
        if len(out) >= HEADER_BYTES:
            break
    return out[:HEADER_BYTES]


def load_image_with_hash(path: str | os.PathLike[str]) -> tuple[Image, str]:
    """:func:`read_image` and the NIfTI semantic hash from a single decompression of the file."""
    path = Path(path)
    dec = _decode(path)
    return _image(path, dec), decoded_hash(dec)


def _labels(path: Path, image: Image) -> np.ndarray:
    return label_ids(path, image.data)


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
    binary = True
    kinds = ("image", "labels")
    suffixes = (".nii", ".nii.gz")

    def sniff(self, path: Path) -> bool:
        start = _decoded_head(path, 548)
        if len(start) >= 348 and start[344:348] in (b"n+1\x00", b"ni1\x00"):  # a pair's header: said as such
            return True
        return len(start) >= 8 and start[4:8] == b"n+2\x00"

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        dec = _decode(path)
        image = _image(path, dec)
        if kind == "labels":
            if dec.parsed.inter:  # a CT in Hounsfield units (scl_inter -1024) declared labels: ~1,900 "labels"
                raise fail(  # and 4.5 min of Dice (review CT); a slope alone is still read, labels x slope
                    path,
                    f"an image with an intercept (scl_slope {dec.parsed.slope:g}, scl_inter {dec.parsed.inter:g}) "
                    "declared `kind: labels`: label maps store their labels with no offset",
                    "declare the output as kind 'image' (a CT in Hounsfield units, a scaled map)",
                )
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
        """The decoded image's hash; ReaderError when nibabel could not open the file or it holds no voxel."""
        geometry = read_geometry(path)  # the header alone: a file that fails here is never hashed as identical
        if not math.prod(geometry.shape):
            raise _no_voxel(path, geometry.shape)
        return streamed_hash(path)


class MghReader(NiftiReader):
    """FreeSurfer MGH volumes (``aseg.mgz``, ``brain.mgz``...), plain or gzip-compressed; sniffed by their header.

    Read like NIfTI (voxels in the stored type, vox2ras as the affine, millimetres); the scan parameters and
    tags that follow the voxels (command lines, file names) are not content.
    """

    name = "mgh"
    suffixes = (".mgz", ".mgh")

    def sniff(self, path: Path) -> bool:
        return is_mgh(_decoded_head(path, 64))
