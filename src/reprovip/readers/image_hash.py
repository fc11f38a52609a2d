"""The semantic hash of a NIfTI or MGH volume: its geometry, stored type, scaling and voxels, not its wrapper.

What a hash covers (shape, stored dtype little-endian, affine and its spatial unit, effective scaling, the
voxel sizes and a series' time step, sform/qform codes and the qform, a statistic map's intent, the stored voxel
bytes, then the extensions that say what the voxels mean) is listed in ``docs/readers.md``. :func:`decoded_hash`
hashes a file already decoded; :func:`streamed_hash` decodes it piece by piece, so that memory stays small
whatever the file's size.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.readers.base import GZIP_MAGIC, describe, fail, gunzip_pieces, head, new_hasher
from reprovip.readers.image_header import Decoded, Header, check_size, parse


def _hasher(h: Header, storage: bool = True):
    """A hasher fed with shape, stored dtype (little-endian), affine, its spatial unit, the effective scaling,
    and what a series or a statistic map means beyond its voxels: the voxel bytes (little-endian, on-disk
    order) come next. Without ``storage``, neither the stored dtype nor the scaling: where the voxels are and
    what they mean only (:func:`meaning_digest`)."""
    shape, dtype, affine, zooms, units, header = h.shape, h.dtype, h.affine, h.zooms, h.units, h.header
    slope, inter = h.slope, h.inter
    little = dtype.newbyteorder("<")
    if h.fmt == "mgh":  # shape, type, vox2ras and voxel sizes (and a series' TR); not the tags after the voxels
        m = new_hasher("mgh.v1")
        m.update(np.array([len(shape), *shape], dtype="<i8").tobytes())
        if storage:
            m.update(repr(little.descr).encode("ascii") + b"\0")
        m.update((np.asarray(affine, dtype="<f8") + 0.0).tobytes())
        m.update((np.asarray(zooms, dtype="<f8") + 0.0).tobytes())
        return m
    # v2 hashes the spatial unit of the affine and zooms (xyzt_units): metres and millimetres are not the same
    # geometry; v1 left it out. v3 adds a 4-D image's time step (TR) and time unit, the sform and qform codes
    # and the qform, and a statistic map's intent (code and parameters: a t-map's degrees of freedom set its
    # p-values); v2 left them out, and called a series whose TR was dropped identical to the original (reviews).
    # v4 adds the voxel sizes whatever the qform code (FSL reads pixdim, not the sform: 2x2x2 vs 1x1x3 mm with
    # one sform read "bit-for-bit identical", a review) and the AFNI attributes that say what values mean.
    h = new_hasher("nifti.v4")
    h.update(np.array([len(shape), *shape], dtype="<i8").tobytes())
    if storage:
        h.update(repr(little.descr).encode("ascii") + b"\0")
    h.update((np.asarray(affine, dtype="<f8") + 0.0).tobytes())  # + 0.0 turns -0.0 into 0.0
    h.update(str(units[0]).encode("ascii", "replace") + b"\0")
    if storage:
        scaling = (1.0, 0.0) if slope is None else (slope, inter)
        h.update(np.array(scaling, dtype="<f8").tobytes())
    # pixdim[1:ndim+1]: the voxel sizes, and for a series the time step (and the steps of higher axes)
    h.update((np.asarray(zooms, dtype="<f8") + 0.0).tobytes())
    if len(shape) > 3:
        h.update(str(units[1]).encode("ascii", "replace") + b"\0")
    # The spaces the two affines name (scanner, aligned, MNI...), and the qform when set: tools that read the
    # qform (ITK) place the image by it even when the sform is the affine chosen above (a review's moved qform).
    sform, qform = int(header["sform_code"]), int(header["qform_code"])
    h.update(np.array([sform, qform], dtype="<i8").tobytes())
    if qform:  # its stored parameters (the matrix may not exist: a damaged quaternion) and qfac
        fields = ("quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z")
        params = [float(header[f]) for f in fields] + [float(header["pixdim"][0])]
        h.update((np.array(params, dtype="<f8") + 0.0).tobytes())
    code = int(header["intent_code"])
    if code:  # a statistic map: what its values mean, and the parameters of their distribution
        params = [float(header[f"intent_p{i}"]) for i in (1, 2, 3)]
        h.update(np.array([code], dtype="<i8").tobytes() + np.array(params, dtype="<f8").tobytes())
    return h


MRS_CODE = 44  # NIfTI-MRS's header extension: the JSON that says what the spectra mean
#: Its keys that record where the file came from, not what it holds (the conversion's time stamp differs every run)
MRS_PROVENANCE = frozenset({"ConversionMethod", "ConversionTime", "OriginalFile", "ProcessingApplied"})


CIFTI_CODE = 32  # CIFTI-2's XML: which brain structure, map and label each value is
_LABEL_TABLE = re.compile(rb"<LabelTable\b.*?</LabelTable>", re.DOTALL)
AFNI_CODE = 4  # AFNI's XML of dataset attributes (<AFNI_atr atr_name="..."> ... </AFNI_atr>)
#: The AFNI attributes that say what the values mean (label tables, sub-brick labels and statistics, the
#: template space); the others (HISTORY_NOTE, IDCODE_STRING, IDCODE_DATE...) hold time stamps and ids of the run.
AFNI_MEANING = frozenset(
    {"VALUE_LABEL_DTABLE", "ATLAS_LABEL_TABLE", "BRICK_LABS", "BRICK_STATAUX", "BRICK_STATSYM", "TEMPLATE_SPACE"}
)
_AFNI_ATTRIBUTE = re.compile(rb"<AFNI_atr\b[^>]*?\batr_name\s*=\s*\"([^\"]*)\"[^>]*>(.*?)</AFNI_atr>", re.DOTALL)


def meaning_extensions(h: Header, head_bytes: bytes) -> list[tuple[str, bytes]]:
    """The parts of the header extensions that say what the voxels mean, each ``(name, content)`` in file order.

    NIfTI-MRS's JSON (code 44) as sorted JSON without its provenance keys (the spectrometer frequency, the
    nucleus and the higher dimensions' meaning set what the complex voxels are: an FID identical in every run
    while SpectrometerFrequency moved read "identical in its decoded values", a review); CIFTI-2's XML (code 32);
    the AFNI attributes of :data:`AFNI_MEANING` (code 4), each named ``AFNI <attribute>`` (a label map whose
    VALUE_LABEL_DTABLE swapped two names read "bit-for-bit identical": the whole extension was left out for its
    HISTORY_NOTE's time stamp, a review); and the label tables (``<LabelTable>`` ... ``</LabelTable>``, Caret's
    XML as TotalSegmentator writes it, whatever the code: a label map whose names of labels 1 and 2 swapped read
    "bit-for-bit identical", a review). Other extensions (comments, AFNI's history) are no content.

    Parameters
    ----------
    h
        The parsed header.
    head_bytes
        The decoded file up to the voxels.

    Returns
    -------
    list of (str, bytes)
        Empty for a file without such extensions (an MGH volume, a NIfTI file without extensions).
    """
    found: list[tuple[str, bytes]] = []
    if h.fmt not in ("nifti1", "nifti2") or h.offset <= 0:
        return found
    pos = 352 if h.fmt == "nifti1" else 544
    if len(head_bytes) < pos or head_bytes[pos - 4] == 0:  # the extender's first byte: extensions follow
        return found
    order = "little" if h.header.endianness == "<" else "big"
    end = min(h.offset, len(head_bytes))
    while pos + 8 <= end:
        size = int.from_bytes(head_bytes[pos : pos + 4], order, signed=True)
        code = int.from_bytes(head_bytes[pos + 4 : pos + 8], order, signed=True)
        if size < 8 or pos + size > end:
            break
        data = bytes(head_bytes[pos + 8 : pos + size]).rstrip(b"\0 ")
        if code == MRS_CODE:
            try:
                meta = json.loads(data)
                if isinstance(meta, dict):
                    meta = {k: v for k, v in meta.items() if k not in MRS_PROVENANCE}
                data = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
            except ValueError:
                pass  # not JSON: its bytes
            found.append(("nifti-mrs", data))
        elif code == CIFTI_CODE:
            found.append(("cifti", data))
        elif code == AFNI_CODE and (attributes := _afni_attributes(data)):
            found.extend(attributes)
        elif tables := _LABEL_TABLE.findall(data):  # only the tables: Caret's XML holds a date too
            found.append(("labels", b"\0".join(tables)))
        pos += size
    return found


def _afni_attributes(data: bytes) -> list[tuple[str, bytes]]:
    """The attributes of :data:`AFNI_MEANING` in AFNI's extension ``data``, named ``AFNI <attribute>``."""
    named = ((name.decode("ascii", "replace"), value) for name, value in _AFNI_ATTRIBUTE.findall(data))
    return [(f"AFNI {name}", value.strip()) for name, value in named if name in AFNI_MEANING]


def read_meaning_extensions(path: Path) -> list[tuple[str, bytes]]:
    """:func:`meaning_extensions` of the NIfTI or MGH file ``path``, decoding only the bytes before its voxels.

    Raises
    ------
    ReaderError
        When ``path`` cannot be read or is no NIfTI or MGH file.
    """
    gzipped = head(path, 2) == GZIP_MAGIC
    head_bytes, pieces = b"", _file_pieces(path)
    for piece in pieces:  # a header and its extensions: one piece, unless the extensions are megabytes
        head_bytes += piece
        if len(head_bytes) >= 540 and len(head_bytes) >= parse(path, head_bytes, gzipped, None).offset:
            break
    pieces.close()  # the voxels are not needed
    return meaning_extensions(parse(path, head_bytes, gzipped, None), head_bytes)


def _meaning_extensions(hasher: Any, h: Header, head_bytes: bytes) -> None:
    """Feed :func:`meaning_extensions` to ``hasher``: nothing without them, so every other hash is as before."""
    for name, data in meaning_extensions(h, head_bytes):
        hasher.update(name.encode() + b"\0" + data)


def meaning_digest(dec: Decoded) -> str:
    """A digest of what a decoded image's header says of where its voxels are and what they mean (shape, affine,
    units, voxel sizes, time step, space codes, intent, the extensions of :func:`meaning_extensions`), not of
    how they are stored: two executions whose voxels differ may differ there too, and a NIfTI whose spatial unit
    became microns under threads=2 went unsaid as soon as a few voxels varied between runs (review C)."""
    h = _hasher(dec.parsed, storage=False)
    _meaning_extensions(h, dec.parsed, memoryview(dec.buffer)[: max(dec.parsed.offset, 0)])
    return h.hexdigest()


def decoded_hash(dec: Decoded) -> str:
    """Hash shape, stored dtype (little-endian), affine, effective scaling and stored voxel bytes."""
    raw = dec.raw
    h = _hasher(dec.parsed)
    if _little(raw.dtype):
        h.update(memoryview(dec.buffer)[dec.parsed.offset : dec.parsed.offset + raw.nbytes])
    else:  # big-endian file: hash the values, not their byte order
        h.update(np.ravel(raw.astype(raw.dtype.newbyteorder("<"), order="F"), order="F").view(np.uint8))
    end = dec.parsed.offset + raw.nbytes
    _mgh_time_step(h, dec.parsed, bytes(memoryview(dec.buffer)[end : end + 4]))
    _meaning_extensions(h, dec.parsed, memoryview(dec.buffer)[: max(dec.parsed.offset, 0)])
    return h.hexdigest()


def _mgh_time_step(hasher: Any, h: Header, after: bytes) -> None:
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


def streamed_hash(path: Path) -> str:
    """The hash of :func:`decoded_hash`, from the file decoded piece by piece: memory stays at a few pieces
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
        h = parse(path, first, gzipped, None)
        hasher = _hasher(h)
        start, end = h.offset, h.offset + h.nbytes
        swap = None if _little(h.dtype) else h.dtype
        pos, carry, after, head_bytes = 0, b"", b"", b""
        for piece in itertools.chain([first], stream):
            if pos < start:  # the bytes before the voxels: the header's extensions
                head_bytes += piece[: start - pos]
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
    check_size(path, h, pos)
    _mgh_time_step(hasher, h, after)
    _meaning_extensions(hasher, h, head_bytes)
    return hasher.hexdigest()
