"""GIfTI reader: data arrays by position and intent, a semantic hash of the data, and no text reading of it."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.readers import load, semantic_hash
from reprovip.readers.registry import find_reader

from .conftest import reader_error


def _gifti(path: Path, *arrays: tuple[np.ndarray, str], encoding: str = "GIFTI_ENCODING_B64GZ") -> Path:
    """A GIfTI file as nibabel writes it (FreeSurfer's and fMRIPrep's format), one data array per pair."""
    darrays = [nib.gifti.GiftiDataArray(a, intent=i, encoding=encoding) for a, i in arrays]
    nib.save(nib.gifti.GiftiImage(darrays=darrays), path)
    return path


def test_a_thickness_map_is_one_array_observation(tmp_path: Path) -> None:
    thickness = (2.5 + np.random.default_rng(0).random(200)).astype(np.float32)
    path = _gifti(tmp_path / "lh.thickness.shape.gii", (thickness, "NIFTI_INTENT_SHAPE"))
    loaded = load(path)
    assert loaded.kind == "array" and list(loaded.values) == ["0/shape"]
    assert np.array_equal(loaded.values["0/shape"], thickness) and loaded.values["0/shape"].dtype == np.float32
    assert not loaded.values["0/shape"].flags.writeable
    assert loaded.meta == {"arrays": {"0/shape": {"shape": [200], "dtype": "<f4"}}, "text": {}, "n_nonfinite": 0}


def test_a_surface_gives_vertices_faces_and_the_vertices_transform(tmp_path: Path) -> None:
    vertices = np.random.default_rng(1).random((6, 3)).astype(np.float32) * 80
    faces = np.array([[0, 1, 2], [2, 3, 4], [3, 4, 5]], dtype=np.int32)
    path = _gifti(tmp_path / "lh.pial.surf.gii", (vertices, "NIFTI_INTENT_POINTSET"), (faces, "NIFTI_INTENT_TRIANGLE"))
    values = load(path, kind="array").values
    assert list(values) == ["0/pointset", "0/pointset.xform", "1/triangle"]
    assert np.array_equal(values["0/pointset"], vertices) and np.array_equal(values["1/triangle"], faces)
    assert np.array_equal(values["0/pointset.xform"], np.eye(4))


def test_the_semantic_hash_is_the_data_not_the_encoding_or_metadata(tmp_path: Path) -> None:
    """Equal arrays written as base64+gzip, as plain base64 or as ASCII, with another date in the metadata, hash
    alike; one changed value does not; the gzip-compressed file reads the same."""
    data = (1 + np.arange(50) / 4).astype(np.float32)  # exact in ASCII (nibabel writes 6 decimals)
    a = _gifti(tmp_path / "a.gii", (data, "NIFTI_INTENT_SHAPE"))
    b = _gifti(tmp_path / "b.gii", (data, "NIFTI_INTENT_SHAPE"), encoding="GIFTI_ENCODING_ASCII")
    image = nib.load(b)
    image.meta["Date"] = "Mon Nov 30 10:00:00 2026"
    nib.save(image, tmp_path / "c.gii")
    changed = data.copy()
    changed[7] += 1e-3
    d = _gifti(tmp_path / "d.gii", (changed, "NIFTI_INTENT_SHAPE"), encoding="GIFTI_ENCODING_B64BIN")
    e = tmp_path / "e.gii.gz"
    e.write_bytes(gzip.compress(a.read_bytes()))
    hashes = {p.name: semantic_hash(p) for p in (a, b, tmp_path / "c.gii", d, e)}
    assert a.read_bytes() != b.read_bytes()
    assert hashes["a.gii"] == hashes["b.gii"] == hashes["c.gii"] == hashes["e.gii.gz"] != hashes["d.gii"]
    assert np.array_equal(load(e).values["0/shape"], data)


def test_a_short_gifti_declared_text_is_refused_with_the_kind_to_declare(tmp_path: Path) -> None:
    """A review: 4 vertices are 24 characters of base64, no run of encoded data; read as text, only the identical
    metadata numbers were compared, and a thickness that varied by 0.5 mm passed."""
    path = _gifti(
        tmp_path / "lh.thickness.gii",
        (np.array([2.5, 2.6, 2.7, 2.8], np.float32), "NIFTI_INTENT_SHAPE"),
        encoding="GIFTI_ENCODING_B64BIN",
    )
    for kind in ("text", "table", "scalars", "image"):
        with reader_error(path, f"a gifti file declared `kind: {kind}`; declare the output `kind: array` (or "):
            load(path, kind=kind)
    assert find_reader(path, "bytes")[0].name == "bytes"


def test_other_binary_formats_declared_another_kind_name_theirs(tmp_path: Path) -> None:
    np.save(tmp_path / "fit.npy", np.arange(3.0))
    with reader_error(tmp_path / "fit.npy", "a numpy file declared `kind: table`; declare the output `kind: array`"):
        load(tmp_path / "fit.npy", kind="table")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'<?xml version="1.0"?>\n<GIFTI Version="1.0" NumberOfDataArrays="1">\n<DataArray', "GIfTI file cannot"),
        (b'<?xml version="1.0"?>\n<GIFTI Version="1.0" NumberOfDataArrays="0"></GIFTI>\n', "holds no data array"),
    ],
)
def test_a_damaged_or_empty_gifti_is_one_line_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "cut.gii"
    path.write_bytes(content)
    with reader_error(path, problem):
        load(path)


def _parcellation(path: Path, names: list[str], hemisphere: str = "CortexLeft", date: str = "today") -> Path:
    table = nib.gifti.GiftiLabelTable()
    for key, name in enumerate(names):
        label = nib.gifti.GiftiLabel(key=key, red=key / 3, green=0.0, blue=0.0, alpha=1.0)
        label.label = name
        table.labels.append(label)
    data = nib.gifti.GiftiDataArray(np.array([0, 1, 1, 2], np.int32), intent="NIFTI_INTENT_LABEL")
    image = nib.gifti.GiftiImage(labeltable=table, darrays=[data])
    image.meta["AnatomicalStructurePrimary"] = hemisphere
    image.meta["Date"] = date
    nib.save(image, path)
    return path


def test_a_label_table_or_a_hemisphere_that_differs_is_no_identical_file(tmp_path: Path) -> None:
    """Review O: two label names swapped (every vertex's region renamed), or CortexLeft written CortexRight, read
    "bit-for-bit identical": the hash had the arrays only. The run's metadata (Date) still does not count."""
    names = ["unknown", "precentral", "postcentral"]
    a = _parcellation(tmp_path / "a.label.gii", names)
    dated = _parcellation(tmp_path / "b.label.gii", names, date="tomorrow")
    swapped = _parcellation(tmp_path / "c.label.gii", ["unknown", "postcentral", "precentral"])
    right = _parcellation(tmp_path / "d.label.gii", names, hemisphere="CortexRight")
    hashes = [semantic_hash(p) for p in (a, dated, swapped, right)]
    assert hashes[0] == hashes[1] and len(set(hashes)) == 3
    texts = [load(p, kind="labels").meta["text"] for p in (a, dated, swapped, right)]
    assert sorted(texts[0]) == ["labeltable", "meta/AnatomicalStructurePrimary"] and texts[0] == texts[1]
    assert texts[2]["labeltable"] != texts[0]["labeltable"]
    assert texts[3]["meta/AnatomicalStructurePrimary"] != texts[0]["meta/AnatomicalStructurePrimary"]


def _labels(path: Path, ids: np.ndarray, *more: tuple[np.ndarray, str]) -> Path:
    """A ``.label.gii`` as FreeSurfer's ``mris_convert --annot`` writes one: a label table and one data array of
    intent NIFTI_INTENT_LABEL (aparc ids), then any ``more`` arrays."""
    table = nib.gifti.GiftiLabelTable()
    for key in sorted({0, *(int(i) for i in ids.tolist())}):
        label = nib.gifti.GiftiLabel(key=key)
        label.label = f"region{key}"
        table.labels.append(label)
    darrays = [nib.gifti.GiftiDataArray(ids, intent="NIFTI_INTENT_LABEL")]
    darrays += [nib.gifti.GiftiDataArray(a, intent=i) for a, i in more]
    nib.save(nib.gifti.GiftiImage(labeltable=table, darrays=darrays), path)
    return path


def test_a_label_array_declared_labels_is_its_integer_ids_per_vertex(tmp_path: Path) -> None:
    """Review AR: aparc ids 1001-1035 were read as numbers (`0/label`) and judged by a per-vertex ICC."""
    ids = np.array([1001, 1001, 1035, 0, 1002], np.int32)
    path = _labels(tmp_path / "lh.aparc.label.gii", ids)
    loaded = load(path, kind="labels")
    assert loaded.kind == "labels" and list(loaded.values) == ["data"]
    assert loaded.values["data"].tolist() == [1001, 1001, 1035, 0, 1002] and loaded.values["data"].dtype == np.int32
    assert loaded.meta["elements"] == "vertices" and "voxel_mm" not in loaded.meta and "affine" not in loaded.meta
    assert sorted(loaded.meta["text"]) == ["labeltable"]
    # whole-number floats are ids too (some tools store label arrays as float32)
    floats = _labels(tmp_path / "f.label.gii", ids.astype(np.float32))
    assert load(floats, kind="labels").values["data"].tolist() == ids.tolist()


def test_a_label_array_declared_array_is_refused_with_the_kind_to_declare(tmp_path: Path) -> None:
    """Review AR: the ids read as numbers, a parcellation renumbered by one in one execution passed."""
    path = _labels(tmp_path / "lh.aparc.gii", np.array([1001, 1002], np.int32))
    with reader_error(
        path,
        "data array 0/label has intent NIFTI_INTENT_LABEL: its values are label ids, which `kind: array` would "
        "judge as numbers; declare the output `kind: labels` (compared by Dice per label)",
    ):
        load(path, kind="array")
    with reader_error(path, "declare the output `kind: labels`"):
        load(path)  # inferred `array`: the same


@pytest.mark.parametrize(
    ("arrays", "problem"),
    [
        (
            [],
            "declared `kind: labels` but holds no data array of intent NIFTI_INTENT_LABEL (found 0/shape); write the "
            "label ids as the file's one data array of intent NIFTI_INTENT_LABEL (a .label.gii), or declare the "
            "output `kind: array` if its values are numbers",
        ),
        (
            [(np.ones(3, np.float32), "NIFTI_INTENT_SHAPE")],
            "declared `kind: labels` but holds 2 data arrays (0/label, 1/shape), not one label array",
        ),
    ],
)
def test_a_gifti_declared_labels_without_one_label_array_is_refused(tmp_path: Path, arrays, problem) -> None:
    """A thickness map declared labels would have its values taken as ids; a label array beside another array
    would leave that one unread: both refused, with what to write or declare."""
    if arrays:
        path = _labels(tmp_path / "both.gii", np.array([1, 2, 2], np.int32), *arrays)
    else:
        path = _gifti(tmp_path / "lh.thickness.gii", (np.array([1.0, 2.0, 2.0], np.float32), "NIFTI_INTENT_SHAPE"))
    with reader_error(path, problem):
        load(path, kind="labels")


def test_a_label_array_holding_a_fraction_is_a_one_line_error(tmp_path: Path) -> None:
    path = _labels(tmp_path / "lh.label.gii", np.array([1.0, 2.5, 2.0, 0.5], np.float32))
    with reader_error(path, "labels must be whole numbers but 2 vertices are not (vertex 1 holds 2.5)"):
        load(path, kind="labels")
