"""unseen_differences: identical voxels whose image header differs fail when the header says where the voxels are
or what they mean, and only warn otherwise."""

from __future__ import annotations

import pytest

from reprovip.criteria.unmeasured import OBSERVED, unseen_differences


def _verdict(kind: str, fields: list[str] | None) -> dict:
    (why,) = unseen_differences({"kind": kind, "unmeasured_differences": 2, "header_differences": fields})
    assert why["criterion"] == OBSERVED and why["value"] == 2 and not why["passed"]
    return why


@pytest.mark.parametrize(
    "fields",
    [
        ["pixdim [1, 2, 2, 2, 1, 1, 1, 1] vs [1, 1, 1, 3, 1, 1, 1, 1]"],
        ["qoffset_x -8 vs 2"],
        ["xyzt_units 10 vs 9"],
        ["qform_code 1 vs 4", "sform_code 1 vs 4"],
        ["intent_p1 0 vs 10", "intent_code 0 vs 3"],
        ["datatype 16 vs 4", "srow_x [2, 0, 0, -8] vs [2, 0, 0, 2]"],
    ],
    ids=["voxel-sizes", "qform-moved", "metres", "space", "intent", "affine-after-dtype"],
)
def test_a_header_that_moves_the_voxels_or_changes_their_meaning_fails(fields: list[str]) -> None:
    """Review NH F1/F4: pixdim, a moved qform, metres, an MNI code, a t-map only warned (exit 0)."""
    why = _verdict("image", fields)
    assert why["severity"] == "fail"
    assert why["message"].endswith(
        "; the header says where the voxels are or what they mean (voxel sizes, affines, units, space codes, intent, "
        "label tables): the same values are another image"
    )


def test_a_time_unit_that_changes_fails_as_a_time_step() -> None:
    """Review NH F3: sec vs msec of a series only warned where 2 vs 2.5 s failed."""
    why = _verdict("image", ["time step 2 sec vs 2 msec", "xyzt_units 10 vs 18"])
    assert why["severity"] == "fail"
    assert why["message"].endswith(
        "for a 4-D image, its time step: the same values at other times (the time axis changed)"
    )


def test_an_afni_label_table_fails_as_the_names_of_the_labels() -> None:
    """Review LB3: as the Caret <LabelTable> (header extensions) does."""
    for fields in (["header extensions: AFNI VALUE_LABEL_DTABLE"], ["header extensions"]):
        why = _verdict("labels", fields)
        assert why["severity"] == "fail"
        assert why["message"].endswith(
            "for a label map, the names of its labels: the same voxels mean other structures"
        )


@pytest.mark.parametrize(
    "fields",
    [
        ["datatype 16 vs 4", "bitpix 32 vs 16"],
        ["scl_slope 1 vs 2"],
        ["cal_max 0 vs 10", "descrip 'run 1' vs 'run 2'"],
        ["xyzt_units 10 vs 18 (unused)"],
        ["header notes (extensions of no content: comments, history)"],
        [],
        None,
    ],
    ids=["dtype", "scaling", "text", "unused", "notes", "no-field", "not-read"],
)
def test_storage_text_and_unused_fields_stay_warnings(fields: list[str] | None) -> None:
    """The decoded values equal, the file says the same image: the criteria cannot vouch for it, nothing more."""
    why = _verdict("image", fields)
    assert why["severity"] == "warn" and "the same values are another image" not in why["message"]


def _npy(values) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, values)
    return buffer.getvalue()


@pytest.mark.parametrize("stored", ["float32", "int16"])
def test_an_array_one_execution_stores_with_another_type_is_said(tmp_path, stored: str) -> None:
    """Review AR: one execution wrote its float64 result as float32 and the study read "sufficiently reproducible"
    with nothing said; int16 beside float64 of equal values was blamed on "a string, a word"."""
    import numpy as np

    from tests.conftest import ingested

    rng = np.random.default_rng(2)
    base = {s: np.round(rng.uniform(10, 100, 6), 0 if stored == "int16" else 12) for s in ("s1", "s2", "s3")}
    files = {
        (s, r): {"a.npy": _npy(v.astype(stored) if (s, r) == ("s2", 2) else v)} for s, v in base.items() for r in (1, 2)
    }
    doc = ingested(tmp_path, "  a: {path: a.npy, kind: array}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["stored_type_differences"] == [
        dict(name="data", subject="s2", types={"float64": [["-", 1]], stored: [["-", 2]]})
    ]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "numbers stored alike"]
    assert why["severity"] == "warn" and not why["passed"]
    assert why["message"].startswith(
        f"1 array(s) stored with another number type in some executions of a subject ('data' of subject s2: "
        f"float64 in repetition 1, {stored} in repetition 2)"
    )
    assert doc["verdict"]["status"] in ("warn", "fail") and doc["verdict"]["exit_code_strict"] == 1
