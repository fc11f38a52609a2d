"""Label maps that the segmentation metrics cannot take: the verdict is "not analysable" and ``check`` says what
is wrong with the data and what to do (found by review: a 4-D label map printed the metric's internal message
"`spacing` must be 4 positive finite numbers (mm), got (1.0, 1.0, 1.0)"; label maps of one subject on two
grids crashed ``analyze`` with numpy's "all input arrays must have the same shape"; every subject was measured
in the first subject's voxel size)."""

from __future__ import annotations

import re
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.analyze.design import Design, Record, build_design
from reprovip.analyze.segmentation import label_agreement
from reprovip.cli.main import main
from reprovip.errors import ReaderError
from reprovip.metrics import pairwise_overlap
from reprovip.study import Study
from tests.conftest import ingested
from tests.report.conftest import labels4d_study  # noqa: F401 (fixture)


def test_check_of_a_4d_label_map_names_the_file_the_shape_and_the_fix(
    labels4d_study: Study,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", str(labels4d_study.path), "--no-reanalyze"]) != 0
    out = capsys.readouterr().out
    assert "spacing" not in out
    line = next(x for x in out.splitlines() if "label maps" in x)
    assert re.search(
        r"not analysable: /\S+/blobs/\S+\.nii\.gz: label maps must be 2-D or 3-D but this one \(subject sub-01, "
        r"repetition \d\) is 4-D \(shape \(8, 8, 8, 4\)\); write one volume per file \(`seg_t00.nii.gz`, "
        r"`seg_t01.nii.gz`, ...\) and declare them with one glob \(`frames: \{path: 'seg_t\*.nii.gz', kind: labels\}`\): "
        r"each volume is then measured by Dice and HD95$",
        line,
    ), line
    assert out.rstrip().endswith("not analysable")
    doc = labels4d_study.check(reanalyze=False).document
    assert doc["outputs"][0]["bitwise"]["identical"] is False  # the output is analysed up to its labels


def _cube(shape: tuple[int, ...] = (8, 8, 8), *, shift: int = 0) -> np.ndarray:
    """Label 1 on the 4x4x4 cube at [2:6]^3, moved ``shift`` voxels along the first axis."""
    a = np.zeros(shape, np.int16)
    a[2 + shift : 6 + shift, 2:6, 2:6] = 1
    return a


def _design(root: Path, maps: dict[str, list[tuple[np.ndarray, float]]]) -> Design:
    """One NIfTI file per (label map, voxel size in mm) of each subject, repetitions in order, no factor."""
    records = []
    for subject, runs in maps.items():
        for r, (data, mm) in enumerate(runs, start=1):
            path = root / subject / f"run-{r}.nii.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(data, np.diag([mm, mm, mm, 1.0])), path)
            records.append(Record(subject, (), "-", r, path, None, None, None))
    return build_design(records)


def test_each_subject_is_measured_in_its_own_voxel_size(tmp_path: Path) -> None:
    """The same two maps on a 1 mm grid (sub-01) and a 2 mm grid (sub-02): sub-02's distances are twice
    sub-01's (distances in mm scale with an isotropic voxel size; the 1 mm values are
    :func:`reprovip.metrics.pairwise_overlap`'s, checked against MONAI's conventions in tests/metrics)."""
    pair = [_cube(), _cube(shift=1)]
    design = _design(tmp_path, {"sub-01": [(m, 1.0) for m in pair], "sub-02": [(m, 2.0) for m in pair]})
    one_mm = pairwise_overlap(np.stack(pair))[1]
    seg = label_agreement(design, list(design.complete))
    label = seg["labels"]["1"]
    assert one_mm.hd95[0] > 0
    assert label["hd95_within_max"] == pytest.approx(2 * one_mm.hd95[0], rel=1e-12)
    assert label["hd95_within_mean"] == pytest.approx(1.5 * one_mm.hd95[0], rel=1e-12)
    assert label["assd_within_max"] == pytest.approx(2 * one_mm.assd[0], rel=1e-12)
    assert label["dice_within_min"] == pytest.approx(2 * 48 / 128, rel=1e-12)  # 48 of 64 voxels shared
    assert seg["hd95_max_label"] == 1


@pytest.mark.parametrize("header", ["metres", "sform_vs_pixdim"])
def test_distances_and_volumes_are_in_mm_from_the_affine_and_the_unit(tmp_path: Path, header: str) -> None:
    """A boundary moved one voxel of 4 mm along the first axis, written (a) in metres (``xyzt_units``, pixdim
    0.004) or (b) with an sform of 4 mm and a pixdim of 1 mm: HD95 is 4 mm and the volumes are 64 voxels of
    4 x 1 x 1 mm³ = 256 mm³. Before, (a) measured "0.004 mm" and (b) "1 mm", and `hd95_max <= 2` passed (review)."""
    runs = [_cube(), _cube(shift=1)]
    paths = []
    for r, data in enumerate(runs, start=1):
        if header == "metres":
            img = nib.Nifti1Image(data, np.diag([0.004, 0.001, 0.001, 1.0]))
            img.header.set_xyzt_units("meter")
        else:
            img = nib.Nifti1Image(data, None)
            img.set_sform(np.diag([4.0, 1.0, 1.0, 1.0]), code=1)
            img.header.set_zooms((1.0, 1.0, 1.0))
        paths.append(tmp_path / f"run-{r}.nii.gz")
        nib.save(img, paths[-1])
    design = build_design([Record("sub-01", (), "-", r, p, None, None, None) for r, p in enumerate(paths, start=1)])
    seg = label_agreement(design, ["sub-01"])
    # (the header stores the affine in float32: 0.004 m reads 4.0000002 mm)
    assert seg["spacing"] == pytest.approx([4.0, 1.0, 1.0], rel=1e-6)
    assert seg["labels"]["1"]["hd95_within_max"] == pytest.approx(4.0, rel=1e-6)
    assert seg["volume_names"] == ["volume_label_1"]
    np.testing.assert_allclose(seg["volumes"], [[[256.0, 256.0]]], rtol=1e-6)  # (labels, subjects, k)


def test_label_maps_of_one_subject_on_two_grids_name_the_files(tmp_path: Path) -> None:
    design = _design(tmp_path, {"sub-01": [(_cube(), 1.0), (_cube((9, 8, 8)), 1.0)]})
    with pytest.raises(
        ReaderError,
        match=r"sub-01/run-2\.nii\.gz: label map of shape \(9, 8, 8\) \(subject sub-01, repetition 2\) where "
        r"subject sub-01, repetition 1 has \(8, 8, 8\); write the label maps of every execution of a subject on "
        r"the same grid$",
    ):
        label_agreement(design, list(design.complete))


def test_label_maps_of_one_subject_placed_by_two_affines_name_the_files(tmp_path: Path) -> None:
    """Same shape, same voxels, the second map moved 2 mm in space: compared voxel by voxel it would read
    identical; a subject's maps must share their affine too."""
    design = _design(tmp_path, {"sub-01": [(_cube(), 1.0), (_cube(), 2.0)]})
    with pytest.raises(
        ReaderError,
        match=r"sub-01/run-2\.nii\.gz: label map placed by another affine \(subject sub-01, repetition 2\) than "
        r"subject sub-01, repetition 1's; write the label maps of every execution of a subject on the same grid$",
    ):
        label_agreement(design, list(design.complete))


def test_label_agreement_leaves_out_the_subjects_whose_files_could_not_be_read(tmp_path: Path) -> None:
    """Subject s3's second map is on another grid (and mirrored): the voxel pass names it unreadable, and the
    Dice used to be computed on it all the same (0 here), contradicting `check`'s "computed on the files that
    could be read"."""
    seg = np.zeros((6, 6, 4), dtype=np.uint8)
    seg[1:3, 1:5, 1:3], seg[3:5, 1:5, 1:3] = 1, 2

    def labels(data: np.ndarray, shift: float = 0.0) -> bytes:
        affine = np.eye(4)
        affine[0, 3] = shift
        return nib.Nifti1Image(data, affine).to_bytes()

    files = {(s, r): {"seg.nii": labels(seg)} for s in ("s1", "s2", "s3") for r in (1, 2)}
    files[("s3", 2)] = {"seg.nii": labels(seg[::-1], shift=5.0)}
    doc = ingested(tmp_path, "  seg: {path: seg.nii, kind: labels}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert [e["subject"] for e in out["errors"]] == ["s3"]
    assert out["segmentation"]["dice_min"] == 1.0


def test_a_label_map_holding_a_fraction_names_its_execution_and_leaves_its_subject_out(tmp_path: Path) -> None:
    """Review A: one execution's float label map held 0.5 at one voxel; the whole output was "not analysable",
    named by its copy in the store (`.reprovip/blobs/a5/a5ae...nii.gz`), no subject or repetition said. The file
    is named as written, with its execution, and the other subjects are measured."""
    seg = np.zeros((6, 6, 4), dtype=np.float32)
    seg[1:3, 1:5, 1:3], seg[3:5, 1:5, 1:3] = 1, 2
    odd = seg.copy()
    odd[2, 2, 2] = 0.5
    files = {
        (s, r): {"seg.nii": nib.Nifti1Image(seg, np.eye(4)).to_bytes()} for s in ("s1", "s2", "s3") for r in (1, 2)
    }
    files[("s2", 2)] = {"seg.nii": nib.Nifti1Image(odd, np.eye(4)).to_bytes()}
    doc = ingested(tmp_path, "  seg: {path: seg.nii, kind: labels}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert "error" not in out
    (error,) = out["errors"]
    assert (error["subject"], error["repetition"]) == ("s2", 2)
    assert re.fullmatch(
        r"seg\.nii \(stored as \S+/blobs/\S+\.nii\): labels must be whole numbers but 1 voxels are not \(voxel "
        r"\(2, 2, 2\) holds 0\.5\); declare the output as kind 'image', or write integer labels",
        error["error"],
    ), error["error"]
    assert out["segmentation"]["dice_min"] == 1.0 and out["verdict"]["status"] == "error"


def test_a_level_that_swaps_labels_is_named_beside_run_to_run_noise(tmp_path: Path) -> None:
    """`threads=2` swaps the left and right labels (same volumes, Dice 0 between levels) and every execution
    moves one voxel (run-to-run noise): `check`, the JSON and the report's "What to do next" blamed the
    repetitions and said threads does not change the result (review)."""
    rng = np.random.default_rng(3)
    for threads in (1, 2):
        for s in range(3):
            for rep in (1, 2, 3):
                a = np.zeros((10, 10, 10), np.int16)
                a[:5, :, 2 + s :], a[5:, :, 2 + s :] = (2, 41) if threads == 1 else (41, 2)
                x, y = rng.integers(0, 10, 2)
                a[x, y, 0] = 2  # one stray voxel per execution
                folder = tmp_path / "results" / f"threads-{threads}" / f"sub-{s}" / f"run-{rep}"
                folder.mkdir(parents=True)
                nib.save(nib.Nifti1Image(a, np.eye(4)), folder / "seg.nii.gz")
    (tmp_path / "study.yaml").write_text("outputs:\n  seg: {path: seg.nii.gz, kind: labels}\n")
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/threads-{threads}/{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    assert out["segmentation"]["pair_dice"]["threads"] == 0.0
    assert out["segmentation"]["pair_dice"]["within"] > 0.99
    (threads,) = [e for e in out["attribution"]["factors"] if e["factor"] == "threads"]
    assert threads["changes_result"] is True
    assert out["attribution"]["summary"].startswith("threads changes the label maps beyond run-to-run noise")
    html = study.report().html
    assert re.search(r"cause:\s*(<[^>]+>\s*)*threads", html), "the report's next step names threads"


def test_a_label_map_stored_with_a_fourth_axis_of_one_is_measured(tmp_path: Path) -> None:
    """(x, y, z, 1), as many tools write one volume: refused with "write one volume per output" (review)."""
    paths = []
    for r, data in enumerate([_cube(), _cube(shift=1)], start=1):
        paths.append(tmp_path / f"run-{r}.nii.gz")
        nib.save(nib.Nifti1Image(data[..., None], np.eye(4)), paths[-1])
    design = build_design([Record("sub-01", (), "-", r, p, None, None, None) for r, p in enumerate(paths, start=1)])
    seg = label_agreement(design, ["sub-01"])
    assert seg["labels"]["1"]["dice_within_min"] == pytest.approx(2 * 48 / 128, rel=1e-12)


def test_label_maps_in_each_subjects_own_space_are_measured_on_it(tmp_path: Path) -> None:
    """FreeSurfer-style maps: one shape, each subject's own origin; sub-2's repetition 2 moves the label by one
    voxel. Every subject but the first read "affine differs from the other executions'" and was left out, so
    the output was "not analysable" and Dice read over the others only (review). A subject whose executions
    share a grid is measured on it; one whose executions do not (sub-3's repetition 2 moved in space, its voxels
    unchanged) stays an error: compared voxel by voxel, the move would not show."""
    files = {}
    for s in range(4):
        affine = np.eye(4)
        affine[:3, 3] = (-10.0 * s, 3.0 * s, 7.0)  # each subject's own origin
        for r in (1, 2):
            moved = affine.copy()
            if (s, r) == (3, 2):
                moved[0, 3] += 2.0
            data = _cube(shift=1 if (s, r) == (2, 2) else 0)
            files[(f"sub-{s}", r)] = {"seg.nii": nib.Nifti1Image(data, moved).to_bytes()}
    (out,) = ingested(tmp_path, "  seg: {path: seg.nii, kind: labels}\n", files).analyze().document["outputs"]
    assert out["voxelwise"]["own_grid_subjects"] == ["sub-1", "sub-2"]
    assert {e["subject"] for e in out["errors"]} == {"sub-3"}
    assert out["segmentation"]["dice_min"] == pytest.approx(2 * 48 / 128, rel=1e-12)  # sub-2, measured


def test_labels_that_moved_on_a_subject_s_own_grid_are_no_header_difference(tmp_path: Path) -> None:
    """Review A: sub-4 on its own grid (another shape), its repetition 2 moved by a voxel; the others identical.
    Dice measured it (0.75: a failure since review CT, a warning before), and another warning beside said its files differ
    "while every voxel is identical: the difference is in the image header": its voxels are in no `differ` map, so
    that warning cannot speak of it."""
    files = {}
    for s in range(5):
        shape = (10, 8, 8) if s == 4 else (8, 8, 8)
        for r in (1, 2):
            data = _cube(shape, shift=1 if (s, r) == (4, 2) else 0)
            files[(f"sub-{s}", r)] = {"seg.nii": nib.Nifti1Image(data, np.eye(4)).to_bytes()}
    (out,) = ingested(tmp_path, "  seg: {path: seg.nii, kind: labels}\n", files).analyze().document["outputs"]
    assert out["voxelwise"]["own_grid_subjects"] == ["sub-4"] and out["errors"] == []
    assert out["segmentation"]["dice_min"] == pytest.approx(2 * 48 / 128, rel=1e-12)
    assert "unmeasured_differences" not in out
    assert all("image header" not in r["message"] for r in out["verdict"]["reasons"])
    assert [r["criterion"] for r in out["verdict"]["reasons"] if not r["passed"]] == [
        "dice_min >= 0.8",
        "dice_min >= 0.95",
    ]


def test_identical_label_maps_that_cannot_be_read_are_identical_with_a_warning(tmp_path: Path) -> None:
    """Review A: 4-D label maps, the same bytes in every execution, read "reproducible (bit-for-bit identical)"
    and nothing said that the labels could not be read, as docs/criteria.md promises for such outputs."""
    data = np.stack([_cube(), _cube(shift=1)], axis=-1)
    files = {(s, r): {"seg.nii": nib.Nifti1Image(data, np.eye(4)).to_bytes()} for s in ("s1", "s2") for r in (1, 2)}
    doc = ingested(tmp_path, "  seg: {path: seg.nii, kind: labels}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["verdict"]["status"] == "identical"
    (warning,) = [r for r in out["verdict"]["reasons"] if not r["passed"]]
    assert (warning["criterion"], warning["severity"]) == ("outputs readable", "warn")
    assert "label maps must be 2-D or 3-D" in warning["message"]
    # review YY: a gzip time stamp is no "same bytes"; the same content decoded
    assert warning["message"].endswith("every execution wrote the same bytes, so they are identical all the same")
    assert doc["verdict"]["status"] == "warn"
    import gzip

    raw = nib.Nifti1Image(data, np.eye(4)).to_bytes()
    stamped = {(s, r): {"seg.nii.gz": gzip.compress(raw, mtime=r)} for s in ("s1", "s2") for r in (1, 2)}
    doc = ingested(tmp_path / "gz", "  seg: {path: seg.nii.gz, kind: labels}\n", stamped).analyze().document
    (warning,) = [r for r in doc["outputs"][0]["verdict"]["reasons"] if not r["passed"]]
    assert warning["message"].endswith(
        "every execution's file decodes to the same content, so they are identical all the same"
    )


def _filled(volumes: dict[int, int], shape: tuple[int, int, int] = (20, 20, 20)) -> np.ndarray:
    """A label map whose label ``lab`` fills the first ``volumes[lab]`` voxels (C order) of its own slab of 10
    slices along the first axis: each label's volume in 1 mm voxels is exactly the number asked for, and two
    maps of one label share the smaller one (Dice 2 min / sum)."""
    a = np.zeros(shape, np.int16)
    for lab, n in volumes.items():
        slab = a[10 * (lab - 1) : 10 * lab].reshape(-1)  # a view: filling it fills ``a``
        slab[:n] = lab
    return a


def test_a_subject_without_a_label_in_any_execution_is_left_out_of_that_volume_s_icc(tmp_path: Path) -> None:
    """Review LB1: s1 holds no voxel of label 2 in any of its three executions; the other five subjects' label-2
    volumes (mm³, 1 mm voxels) vary by up to 20 voxels of about 500. Kept at volume 0, s1 lifted the lower 95%
    bound of ICC(A,1) to 0.992 and the output passed; over the five subjects that hold the label it is 0.609
    (pingouin 0.7's ICC(A,1) on these 15 values: 0.903278, CI [0.61, 0.99]), below the default 0.9: a failure,
    s1 named."""
    label2 = {
        "s2": (500, 512, 491),
        "s3": (509, 524, 530),
        "s4": (488, 468, 483),
        "s5": (535, 551, 533),
        "s6": (470, 452, 457),
    }
    files = {}
    for s in ("s1", *label2):
        for r in (1, 2, 3):
            vols = {1: 300 + 10 * int(s[1])} | ({2: label2[s][r - 1]} if s in label2 else {})
            files[(s, r)] = {"seg.nii": nib.Nifti1Image(_filled(vols), np.eye(4)).to_bytes()}
    (out,) = ingested(tmp_path, "  seg: {path: seg.nii, kind: labels}\n", files).analyze().document["outputs"]
    obs = {o["name"]: o for o in out["observations"]}
    assert obs["volume_label_2"]["zero_subjects"] == ["s1"]
    assert "zero_subjects" not in obs["volume_label_1"]  # identical in every subject: nothing to leave out
    icc = obs["volume_label_2"]["icc"]["ICC(A,1)"]
    assert icc["value"] == pytest.approx(0.90328, abs=5e-5)
    assert icc["ci_low"] == pytest.approx(0.60881, abs=5e-5)
    assert obs["volume_label_2"]["mean"] == pytest.approx(np.mean(list(label2.values())), rel=1e-12)
    assert out["zero_observations"] == {"count": 1, "subjects": {"s1": {"count": 1, "names": ["volume_label_2"]}}}
    assert "volume_zero" not in out["segmentation"]
    assert out["segmentation"]["dice_min"] == pytest.approx(2 * 491 / (491 + 512), rel=1e-12)  # s2: above 0.95
    failed = {r["criterion"]: r for r in out["verdict"]["reasons"] if not r["passed"]}
    assert failed["ICC(A,1).ci_low >= 0.9"]["observation"] == "volume_label_2"
    assert "s1 writes 0 for 1: volume_label_2" in failed["something in every subject's outputs"]["message"]
    assert out["verdict"]["status"] == "fail"


def test_an_execution_writing_its_label_map_in_metres_is_measured_in_its_own_voxel_size(tmp_path: Path) -> None:
    """Review LB4: repetition 2 writes the same voxels and affine numbers with the unit metres (1000 mm voxels).
    Measured in repetition 1's voxel size it read identical (HD95 0, volumes 64 and 64 mm³); in its own, its
    volume is 64e9 mm³ and its surface lies where voxel (i, j, k) is at 1000 (i, j, k) mm: HD95 as
    :func:`reprovip.metrics.pairwise_overlap` gives on the two voxel sizes (checked by hand in tests/metrics),
    above 2 km (its nearest 1 mm surface point is at most 5 sqrt 3 mm from the origin)."""
    paths = []
    for r, unit in enumerate(("mm", "meter"), start=1):
        img = nib.Nifti1Image(_cube(), np.eye(4))
        img.header.set_xyzt_units(unit)
        paths.append(tmp_path / f"run-{r}.nii.gz")
        nib.save(img, paths[-1])
    design = build_design([Record("sub-01", (), "-", r, p, None, None, None) for r, p in enumerate(paths, start=1)])
    seg = label_agreement(design, ["sub-01"])
    np.testing.assert_allclose(seg["volumes"], [[[64.0, 64e9]]], rtol=1e-12)
    assert seg["spacing"] == [1.0, 1.0, 1.0]  # the first execution's
    mixed = pairwise_overlap(np.stack([_cube(), _cube()]), spacing=[(1.0,) * 3, (1000.0,) * 3])[1]
    assert seg["labels"]["1"]["hd95_within_max"] == pytest.approx(mixed.hd95[0], rel=1e-12)
    assert seg["labels"]["1"]["hd95_within_max"] > 2000 * np.sqrt(3) - 5 * np.sqrt(3)
    assert seg["labels"]["1"]["dice_within_min"] == 1.0  # the same voxels: only the distances and volumes see it


def test_one_run_whose_label_grew_a_third_among_identical_runs_fails(tmp_path: Path) -> None:
    """Review L2: s1's mask dilated in one of its three runs (+33% volume, Dice 0.86 against the others, which
    are bit-for-bit equal), beside subjects 300 to 800 voxels: "sufficiently reproducible, with warnings" on the
    Dice warning alone. Its label volume is an odd execution, as a table's cell would be: a failure."""
    files = {}
    for s in range(1, 7):
        for r in (1, 2, 3):
            n = 300 + 100 * (s - 1) + (100 if (s, r) == (1, 2) else 0)
            files[(f"s{s}", r)] = {"seg.nii": nib.Nifti1Image(_filled({1: n}), np.eye(4)).to_bytes()}
    (out,) = ingested(tmp_path, "  seg: {path: seg.nii, kind: labels}\n", files).analyze().document["outputs"]
    (obs,) = out["observations"]
    odd = obs["odd_executions"]
    assert (odd["subject"], odd["repetition"], odd["value"], odd["typical"]) == ("s1", 2, 400.0, 300.0)
    assert odd["others_identical"]
    failed = {r["criterion"]: r for r in out["verdict"]["reasons"] if not r["passed"]}
    assert failed["every execution alike"]["severity"] == "fail" and out["verdict"]["status"] == "fail"


def test_one_voxel_of_a_small_label_in_one_run_is_no_odd_execution_whatever_the_voxel_size(tmp_path: Path) -> None:
    """Review P3: labels of 4 to 20 voxels, one boundary voxel of s1's lost in one run, the rest identical: at 0.8
    mm voxels "every execution alike" failed (the floor was ten steps of the mm³ decimals, 0.01), at 1 mm not. A
    departure must be ten voxels."""
    files = {}
    for s in range(1, 6):
        for r in (1, 2, 3):
            n = 4 * s - (1 if (s, r) == (1, 2) else 0)
            img = nib.Nifti1Image(_filled({1: n}), np.diag([0.8, 0.8, 0.8, 1.0]))
            files[(f"s{s}", r)] = {"seg.nii": img.to_bytes()}
    (out,) = ingested(tmp_path, "  seg: {path: seg.nii, kind: labels}\n", files).analyze().document["outputs"]
    (obs,) = out["observations"]
    assert "odd_executions" not in obs
    assert out["verdict"]["status"] == "warn"  # Dice 6/7 below 0.95: a warning
