"""Label ids per vertex (GIfTI) or per array element (NumPy) are categories: compared by Dice per label, never by
ICC as numbers (review AR: an aparc parcellation renumbered by one in one execution, and two labels swapped in
one execution, passed a per-vertex ICC; a NumPy label map could not be declared labels)."""

from __future__ import annotations

import io
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.conftest import ingested

SUBJECTS = ("s1", "s2", "s3", "s4")


def _gifti(ids: np.ndarray, names: dict[int, str] | None = None) -> bytes:
    """A ``.label.gii`` as ``mris_convert --annot`` writes it: a label table, one NIFTI_INTENT_LABEL array."""
    table = nib.gifti.GiftiLabelTable()
    for key in range(0, 1040):
        label = nib.gifti.GiftiLabel(key=key)
        label.label = (names or {}).get(key, f"region{key}")
        table.labels.append(label)
    darray = nib.gifti.GiftiDataArray(ids.astype(np.int32), intent="NIFTI_INTENT_LABEL")
    return nib.gifti.GiftiImage(labeltable=table, darrays=[darray]).to_bytes()


def _npy(ids: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, ids.astype(np.float32))  # as the review's: float32 ids
    return buffer.getvalue()


def _parcellations(low: int, high: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {s: rng.integers(low, high, 300) for s in SUBJECTS}


def _study(tmp_path: Path, name: str, write, changed, *, kind: str = "labels", criteria: str = ""):
    """Two repetitions per subject; subject s3's repetition 2 is ``changed(ids)``."""
    files = {}
    for s, ids in (write.ids).items():
        for rep in (1, 2):
            files[(s, rep)] = {name: write(changed(ids) if (s, rep) == ("s3", 2) else ids)}
    study = ingested(tmp_path, f"  seg: {{path: {name}, kind: {kind}}}\n{criteria}", files)
    doc = study.analyze().document
    (out,) = doc["outputs"]
    return doc, out


def _writer(fn, ids):
    fn.ids = ids
    return fn


def _swap(ids: np.ndarray) -> np.ndarray:
    return np.where(ids == 10, 11, np.where(ids == 11, 10, ids))


@pytest.mark.parametrize(
    ("name", "fmt", "low", "high", "changed", "label", "became"),
    [
        ("lh.aparc.label.gii", _gifti, 1001, 1036, lambda ids: ids + 1, 1001, 1002),  # review AR's off-by-one
        ("lh.aparc.label.gii", _gifti, 1, 21, _swap, 10, 11),  # ... and two labels swapped
        ("parcels.npy", _npy, 1, 21, _swap, 10, 11),  # ... and a NumPy label map's swap (ICC CI low 0.918)
    ],
)
def test_label_ids_changed_in_one_execution_fail(tmp_path, name, fmt, low, high, changed, label, became) -> None:
    doc, out = _study(tmp_path, name, _writer(fmt, _parcellations(low, high)), changed)
    seg = out["segmentation"]
    assert seg["dice_min"] == 0.0 and seg["dice_min_label"] == label and seg["dice_min_became"] == became
    assert seg["dice_min_executions"] == "subject s3, repetition 1 against repetition 2"
    assert out["verdict"]["status"] == "fail" and doc["verdict"]["status"] == "fail"
    failed = [r for r in out["verdict"]["reasons"] if r["severity"] == "fail" and not r["passed"]]
    elements = "vertices" if name.endswith(".gii") else "elements"
    assert any(
        r["message"].startswith(
            f"dice_min = 0 on label {label} (subject s3, repetition 1 against repetition 2), whose {elements} carry "
            f"label {became} in the other execution fails >= 0.8"
        )
        for r in failed
    ), failed
    # never a number's metric on the ids: only the label volumes (counts) are observations
    assert all(o["name"].startswith("volume_label_") for o in out["observations"])


@pytest.mark.parametrize(("name", "fmt"), [("lh.aparc.label.gii", _gifti), ("parcels.npy", _npy)])
def test_identical_label_files_stay_identical(tmp_path, name, fmt) -> None:
    doc, out = _study(tmp_path, name, _writer(fmt, _parcellations(1001, 1036)), lambda ids: ids)
    assert out["verdict"]["status"] == "identical" and out["segmentation"]["dice_min"] == 1.0


@pytest.mark.parametrize(("name", "fmt"), [("lh.aparc.label.gii", _gifti), ("parcels.npy", _npy)])
def test_a_boundary_moved_by_two_vertices_gives_the_hand_computed_dice(tmp_path, name, fmt) -> None:
    """Labels 1 (40 vertices), 2 (30), 3 (30); s3's repetition 2 gives vertices 38 and 39 to label 2. By hand:
    label 1 Dice 2*38/(40+38), label 2 Dice 2*30/(30+32), label 3 Dice 1; no distance (no mesh, no voxel size):
    HD95 is said not computed, never measured along the array's index as 1 mm voxels."""
    ids = {s: np.array([1] * 40 + [2] * 30 + [3] * 30) for s in SUBJECTS}

    def moved(a: np.ndarray) -> np.ndarray:
        b = a.copy()
        b[38:40] = 2
        return b

    _, out = _study(tmp_path, name, _writer(fmt, ids), moved)
    seg = out["segmentation"]
    assert seg["labels"]["1"]["dice_within_min"] == pytest.approx(76 / 78, abs=1e-12)
    assert seg["labels"]["2"]["dice_within_min"] == pytest.approx(60 / 62, abs=1e-12)
    assert seg["labels"]["3"]["dice_within_min"] == 1.0
    assert seg["dice_min"] == pytest.approx(60 / 62, abs=1e-12) and seg["dice_min_label"] == 2
    assert seg["hd95_max"] is None and "hd95_within_max" not in seg["labels"]["2"]
    assert seg["distances_not_computed"].startswith("HD95 and ASSD are not computed: the label maps have no voxel grid")
    assert seg["volume_unit"] == "elements" and seg["spacing"] == []
    assert out["voxelwise"]["gridless"] == ("vertices" if name.endswith(".gii") else "elements")


def test_a_declared_hd95_criterion_on_vertices_is_not_a_pass(tmp_path) -> None:
    """A study's `hd95_max <= 2` on a GIfTI label map: there is no distance, and the criterion says why."""
    ids = {s: np.array([1] * 40 + [2] * 60) for s in SUBJECTS}
    criteria = "criteria:\n  - require: 'hd95_max <= 2'\n"
    _, out = _study(tmp_path, "lh.label.gii", _writer(_gifti, ids), lambda a: np.roll(a, 1), criteria=criteria)
    (hd95,) = [r for r in out["verdict"]["reasons"] if r.get("criterion", r.get("name", "")).startswith("hd95")]
    assert hd95["passed"] is False and "not estimable (HD95 and ASSD are not computed" in hd95["message"], hd95
    assert out["verdict"]["status"] == "error"


def test_a_label_table_renamed_in_one_execution_fails(tmp_path) -> None:
    """The ids equal at every vertex, but one execution's label table names 10 and 11 the other way round: the
    same vertices mean other regions (as a NIfTI label table's extension, review O), a failure that names it."""
    swapped = {10: "region11", 11: "region10"}
    files = {}
    for s, ids in _parcellations(1, 21).items():
        for rep in (1, 2):
            files[(s, rep)] = {"lh.label.gii": _gifti(ids, swapped if (s, rep) == ("s3", 2) else None)}
    (out,) = ingested(tmp_path, "  seg: {path: lh.label.gii, kind: labels}\n", files).analyze().document["outputs"]
    assert out["segmentation"]["dice_min"] == 1.0
    assert out["unmeasured_differences"] == 1 and out["header_differences"] == ["header extensions: GIfTI label table"]
    assert out["verdict"]["status"] == "fail"
    (reason,) = [r for r in out["verdict"]["reasons"] if not r["passed"]]
    assert "for a label map, the names of its labels: the same voxels mean other structures" in reason["message"]


def test_a_label_array_declared_array_is_not_judged_as_numbers(tmp_path) -> None:
    """Review AR's study: `lh.aparc.gii` (no `.label.gii` to refuse at validate) declared `kind: array`."""
    doc, out = _study(
        tmp_path, "lh.aparc.gii", _writer(_gifti, _parcellations(1001, 1036)), lambda a: a + 1, kind="array"
    )
    assert out["verdict"]["status"] == "error" and not out["observations"]
    assert (
        "its values are label ids, which `kind: array` would judge as numbers; declare the output `kind: labels`"
        in (out["errors"][0]["error"])
    )


def test_an_npy_label_map_holding_a_fraction_names_its_execution(tmp_path) -> None:
    ids = {s: np.array([1] * 40 + [2] * 60) for s in SUBJECTS}

    def odd(a: np.ndarray) -> np.ndarray:
        return np.where(np.arange(a.size) == 7, 1.5, a)

    _, out = _study(tmp_path, "parcels.npy", _writer(_npy, ids), odd)
    (error,) = out["errors"]
    assert (error["subject"], error["repetition"]) == ("s3", 2)
    assert error["error"].startswith("parcels.npy (stored as ")
    assert error["error"].endswith(
        "labels must be whole numbers but 1 elements are not (element 7 holds 1.5); save the label ids as integers, "
        "or declare the output `kind: array` if its values are numbers"
    )
    assert out["verdict"]["status"] == "error" and out["segmentation"]["dice_min"] == 1.0
