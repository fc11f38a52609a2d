"""GIfTI surface files (``.gii``: FreeSurfer/fMRIPrep/HCP thickness, curvature, surfaces, time series) as ``array``,
and GIfTI label files (``.label.gii``: a parcellation per vertex) as ``labels``.

Each data array of the file is one observation, named by its position and its intent: ``0/shape`` (a
thickness or curvature map), ``0/pointset`` and ``1/triangle`` (a surface's vertices and faces),
``0/time_series``... (nibabel's intent names, lower case, without ``NIFTI_INTENT_``). Values keep their stored
type; a ``pointset`` is read as written, in the coordinates of its own coordinate system.

GIfTI stores its arrays as base64 text inside XML (``Encoding="GZipBase64Binary"``): read as ``text``, no number
of the data is visible, and a short run of base64 passed as identical metadata (a review), so a ``.gii`` declared
``text`` is refused with this kind's name.

The label table (key -> name: a parcellation's ``precentral``) and the metadata that describe the data
(``AnatomicalStructurePrimary``: the hemisphere, ``Name``...) are text: each is kept as a digest in
``meta["text"]`` (``labeltable``, ``meta/<key>``, ``<position>/<intent>/meta/<key>``), which the analysis names
when it differs. Metadata that describe the run (:data:`RUN_METADATA`: ``Date``, ``UserName``, a time stamp, a
library version) are neither.

Semantic hash: per data array in file order, its intent, data type, shape and C-order little-endian bytes, and
a point set's coordinate transform; then those text digests. The XML layout, the encoding (ASCII, base64, gzip),
the run's metadata and a label table's colours do not count: two runs that write equal arrays are identical; a
swapped label name or another hemisphere is not (a review).

Label ids are categories, not quantities (review AR: an aparc parcellation, ids 1001-1035, renumbered by one in
one execution passed a per-vertex ICC). A data array of intent ``NIFTI_INTENT_LABEL`` is read only as
``labels``: its integer ids as ``"data"`` (one value per vertex, no voxel grid: Dice per label, no surface
distance), the label table and metadata as ``meta["text"]``; a file declared ``labels`` must hold exactly one
data array, of that intent. Declared ``array``, a file holding one is refused with the kind to declare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from reprovip.readers.arrays import arrays_hash, arrays_loaded
from reprovip.readers.base import (
    Loaded,
    Reader,
    describe,
    fail,
    gunzip,
    head,
    label_ids,
    read_file_bytes,
    read_only,
    text_digest,
)

_RERUN = "the file is damaged or not a GIfTI file; re-run the execution"
LABEL = "label"  # nibabel's NIFTI_INTENT_LABEL, as named in load_gifti
_ONE_LABEL_ARRAY = (
    "write the label ids as the file's one data array of intent NIFTI_INTENT_LABEL (a .label.gii), or declare "
    "the output `kind: array` if its values are numbers"
)
#: Metadata that describe the run, not the data (FreeSurfer's, Connectome Workbench's, nibabel's).
RUN_METADATA = frozenset({"Date", "UserName", "TimeStamp", "gifticlib-version", "ProgramProvenance", "Provenance"})


def is_gifti(start: bytes) -> bool:
    """Whether a file's first bytes are a GIfTI document (an XML declaration or DOCTYPE, then ``<GIFTI``)."""
    return b"<GIFTI" in start[:2048]


def load_gifti(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every data array of a GIfTI file, by ``"<position>/<intent>"``, and the coordinate transform of each
    point set (``"<position>/pointset.xform"``, from the data space to the transformed space, 4 x 4); and the
    digests of its text (label table, metadata but the run's)."""
    import nibabel as nib
    from nibabel.gifti import GiftiImage

    try:
        image = GiftiImage.from_bytes(gunzip(path, read_file_bytes(path)))
    except Exception as exc:  # the XML parser, base64 and zlib raise many types
        raise fail(path, f"GIfTI file cannot be read ({describe(exc)})", _RERUN) from exc
    if not image.darrays:
        raise fail(path, "the GIfTI file holds no data array", "check that the application wrote its data")
    arrays: dict[str, np.ndarray] = {}
    text = _text(dict(image.meta), "meta/")
    if image.labeltable is not None and image.labeltable.labels:
        text["labeltable"] = text_digest(sorted(image.labeltable.get_labels_as_dict().items()))
    for i, darray in enumerate(image.darrays):
        intent = nib.nifti1.intent_codes.label[darray.intent].lower().removeprefix("nifti_intent_")
        name = f"{i}/{intent.replace(' ', '_')}"
        arrays[name] = np.asarray(darray.data)
        # a surface's vertices are in its coordinate system (nibabel gives every array an identity one)
        if intent == "pointset" and darray.coordsys is not None:
            arrays[f"{name}.xform"] = np.asarray(darray.coordsys.xform, dtype=np.float64)
            # the spaces it maps between (scanner, MNI...), as the NIfTI hash keeps sform_code (a review)
            text[f"{name}.xform:spaces"] = text_digest((darray.coordsys.dataspace, darray.coordsys.xformspace))
        text.update(_text(dict(darray.meta), f"{name}/meta/"))
    return arrays, text


def _text(meta: dict[str, str], prefix: str) -> dict[str, str]:
    return {f"{prefix}{k}": text_digest(v) for k, v in sorted(meta.items()) if k not in RUN_METADATA}


class GiftiReader(Reader):
    """GIfTI ``.gii`` files; sniffed by their ``<GIFTI`` root element."""

    name = "gifti"
    binary = True
    kinds = ("array", "labels")
    suffixes = (".gii", ".gii.gz")

    def sniff(self, path: Path) -> bool:
        return is_gifti(head(path, 2048))

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        arrays, text = load_gifti(path)
        labels = [name for name in arrays if name.split("/")[1] == LABEL]
        if kind == "labels":
            return _label_map(path, arrays, labels, text)
        if labels:  # ids read as numbers: a parcellation renumbered by one passed a per-vertex ICC (review AR)
            raise fail(
                path,
                f"data array {labels[0]} has intent NIFTI_INTENT_LABEL: its values are label ids, which `kind: "
                "array` would judge as numbers",
                "declare the output `kind: labels` (compared by Dice per label)",
            )
        # a point set's transform is geometry, as an image's affine: compared as an observation too
        return arrays_loaded(arrays, text)

    def semantic_hash(self, path: Path) -> str | None:
        return arrays_hash("gifti.v1", *load_gifti(path))


def _label_map(path: Path, arrays: dict[str, np.ndarray], labels: list[str], text: dict[str, str]) -> Loaded:
    """The one label array of a GIfTI file as a ``labels`` observation ``"data"`` (integer ids per vertex)."""
    if len(arrays) != 1 or not labels:
        found = ", ".join(arrays)
        problem = (
            f"declared `kind: labels` but holds no data array of intent NIFTI_INTENT_LABEL (found {found})"
            if not labels
            else f"declared `kind: labels` but holds {len(arrays)} data arrays ({found}), not one label array"
        )
        raise fail(path, problem, _ONE_LABEL_ARRAY)
    data = label_ids(path, np.asarray(arrays[labels[0]]), element="vertex", fix="write integer label ids")
    meta = {"shape": list(data.shape), "dtype": data.dtype.str, "elements": "vertices", "text": text}
    return Loaded("labels", {"data": read_only(data)}, {**meta, "n_nonfinite": 0})
