"""Criteria on image outputs (the ``voxel_*`` summaries of docs/criteria.md): when the voxel maps cannot
support a verdict, the criterion says why and what to do, never a pass.

Review 10's C/25: 2 subjects, a median voxel ICC(A,1) of 0.95 read "sufficiently reproducible" (exit 0) while the
same values as a table failed (ICC(A,1) 95% CI lower bound 0.69: with 2 subjects the between-subject variance has
one degree of freedom, McGraw & Wong 1996, Table 7).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprovip.criteria.evaluate import evaluate, output_verdict
from reprovip.criteria.rules import VOXEL_METRICS, Criterion, parse_rule
from tests.conftest import ingested

VOXEL_ICC = [m for m in VOXEL_METRICS if m.startswith("voxel_icc_a1")]


def _image(subjects: int, **summary: object) -> dict:
    """An image output as the analysis document stores it: the voxelwise summary, copied into the output's
    ``summary`` with the ``voxel_`` prefix (analyze/engine.py)."""
    return dict(
        name="img",
        kind="image",
        n_subjects=subjects,
        bitwise=dict(identical=False, cells=[dict(subject=f"sub-{s}", n=3) for s in range(subjects)]),
        voxelwise=dict(subjects=subjects, summary=summary),
        summary={f"voxel_{k}": v for k, v in summary.items()},
    )


def _one(output: dict, rule: str) -> dict:
    reasons = output_verdict(output, [Criterion(*parse_rule(rule))], {"executions": {}})["reasons"]
    (found,) = [r for r in reasons if r["criterion"] == rule]
    return found


@pytest.mark.parametrize("metric", VOXEL_ICC)
def test_voxel_iccs_over_two_subjects_are_not_estimable(metric: str) -> None:
    stats = dict(icc_a1_mean=0.95, icc_a1_median=0.95, icc_a1_p05=0.9, icc_a1_min=0.8, icc_a1_max=0.99)
    two = _one(_image(2, **stats), f"{metric} >= 0.5")
    assert (two["passed"], two["estimable"], two["value"]) == (False, False, None)
    assert two["message"] == (
        f"{metric} >= 0.5: not estimable (the voxel ICCs rest on 2 subject(s): their between-subject variance has "
        "1 degree(s) of freedom, too few to estimate a reliability (an ICC needs 3 subjects at least, 10 or more "
        "for a stable one); add subjects, or judge the executions by voxel_sd_max, voxel_sigdigits_min or "
        "voxel_differ_fraction)"
    )
    three = _one(_image(3, **stats), f"{metric} >= 0.5")
    assert three["passed"] and three["value"] == stats[metric.removeprefix("voxel_")]


def test_within_subject_voxel_metrics_need_no_third_subject() -> None:
    """The SD and significant digits are within a subject: 2 subjects compute them (docs/criteria.md)."""
    assert _one(_image(2, sd_max=0.5), "voxel_sd_max <= 1")["passed"]


def test_the_default_image_gate_over_two_subjects_is_not_analysable() -> None:
    """With the defaults (median >= 0.9, poor fraction <= 0.01, with 0.002 a warning, p05 >= 0.5 a warning) no
    criterion computes: ``error``, exit 1."""
    maps = dict(icc_a1_median=0.95, icc_a1_p05=0.89, poor_fraction=0.001)
    doc = dict(study={"name": "s"}, executions={"total": 12, "failed": 0, "not_done": 0}, outputs=[_image(2, **maps)])
    evaluate(doc, None)
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("error", 1)
    (poor,) = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"] == "voxel_poor_fraction <= 0.01"]
    assert not poor["estimable"] and "rest on 2 subject(s)" in poor["message"]
    doc["outputs"] = [_image(3, **maps)]  # the same maps over 3 subjects pass
    assert evaluate(doc, None)["verdict"]["status"] == "pass"
    doc["outputs"] = [_image(3, icc_a1_median=0.95, icc_a1_p05=0.89, voxels_with_metrics=9)]  # no subject spread
    evaluate(doc, None)
    (poor,) = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"] == "voxel_poor_fraction <= 0.01"]
    assert not poor["estimable"] and "no between-subject spread" in poor["message"]
    assert doc["verdict"]["status"] == "error"


def test_two_subjects_images_end_to_end(tmp_path: Path) -> None:
    """C/25's design, smaller: 2 subjects 60 apart, 3 repetitions with SD 10. Before: "sufficiently
    reproducible" on a median voxel ICC above 0.9."""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(25)
    files = {}
    for s in range(2):
        x = 100 + 60 * s + rng.normal(0, 3, (8, 8, 8))
        for r in (1, 2, 3):
            y = (x + rng.normal(0, 10, x.shape)).astype(np.float32)
            files[(f"sub-{s}", r)] = {"img.nii": nib.Nifti1Image(y, np.eye(4)).to_bytes()}
    doc = ingested(tmp_path, "  img: {path: img.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["voxelwise"]["summary"]["icc_a1_median"] > 0.9  # what passed
    gate = next(r for r in out["verdict"]["reasons"] if r["criterion"] == "voxel_icc_a1_median >= 0.9")
    assert not gate["estimable"] and "rest on 2 subject(s)" in gate["message"]
    assert doc["verdict"]["status"] == "error"


# Review 10's C/06 (d300): float64 images near 1e300 read "not computed" with no reason and 0 significant digits.
# The summary as analyze stored it: every SD and ICC undefined (their squares are inf), significant digits 0.
D300 = dict(
    mask_voxels=4096,
    differ_fraction=1.0,
    voxels_with_metrics=4096,
    differ_without_metrics=0,
    sd_undefined_voxels=4096,
    sigdigits_min=-0.0,
    sigdigits_median=0.0,
    icc_a1_undefined_voxels=4096,
)
OVERFLOW = "4096 voxel(s) hold values whose differences exceed ~1e154: their squares overflow float64 (beyond ~1.8e308)"


@pytest.mark.parametrize("rule", ["voxel_icc_a1_median >= 0.9", "voxel_sd_max <= 1000", "voxel_sigdigits_min >= 2"])
def test_voxels_whose_squares_overflow_say_so(rule: str) -> None:
    out = _image(6, **D300)
    judged = _one(out, rule)
    assert (judged["passed"], judged["estimable"], judged["value"]) == (False, False, None)
    assert judged["message"] == (
        f"{rule}: not estimable ({OVERFLOW}, so no SD, ICC or significant digits can be computed there; rescale "
        "the images (divide them by a power of ten))"
    )
    (builtin,) = [r for r in output_verdict(out, [], {"executions": {}})["reasons"] if r["value"] == 4096]
    assert (builtin["criterion"], builtin["estimable"]) == ("differences the metrics measure", False)
    assert _one(_image(6, **D300), "voxel_differ_fraction <= 0.5")["value"] == 1.0  # no square: still judged


def test_the_magnitude_stored_by_the_analysis_is_named() -> None:
    """Read with a default: the analysis may store ``overflow_voxels`` and ``magnitude_max`` (analyze's count of
    voxels with non-finite mean squares; the largest subject's mean magnitude)."""
    out = _image(6, **dict(D300, overflow_voxels=4000, magnitude_max=4.03e300))
    assert _one(out, "voxel_icc_a1_median >= 0.9")["message"].startswith(
        "voxel_icc_a1_median >= 0.9: not estimable (4000 voxel(s) hold values near 4.03e+300: their squares"
    )


def test_a_region_whose_squares_overflow_does_not_pass_on_the_other_voxels() -> None:
    """100 of 4096 voxels overflow; the median ICC of the others is 0.97 and passed, judging part of the image."""
    out = _image(6, **dict(D300, sd_undefined_voxels=100, icc_a1_undefined_voxels=100, icc_a1_median=0.97))
    judged = _one(out, "voxel_icc_a1_median >= 0.9")
    assert not judged["estimable"] and "100 voxel(s) hold values" in judged["message"]


def test_an_icc_whose_between_subject_squares_overflow_is_not_read_as_0_over_0() -> None:
    """Values near 1e160 with a relative noise of 1e-10: the SD (1e150) computes, the subjects' differences
    squared (1e320) do not; every voxel differs and has no ICC, which is not a voxel equal everywhere (0/0)."""
    out = _image(6, **dict(D300, sd_undefined_voxels=0, sd_max=1.6e150, sigdigits_min=10.2))
    judged = _one(out, "voxel_icc_a1_median >= 0.9")
    assert OVERFLOW + ", so no ICC can be computed there" in judged["message"]
    assert _one(out, "voxel_sigdigits_min >= 10")["passed"]  # within-subject squares are finite: judged


def test_an_icc_undefined_where_nothing_differs_says_0_over_0() -> None:
    out = _image(6, **dict(D300, sd_undefined_voxels=0, differ_fraction=0.0))
    assert _one(out, "voxel_icc_a1_median >= 0.9")["message"] == (
        "voxel_icc_a1_median >= 0.9: not estimable (the icc_a1 map is undefined in 4096 of the 4096 voxels with "
        "metrics (0/0: the voxel is equal in every execution of every subject))"
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's overflow warnings, from the analysis' threads
def test_images_near_1e300_end_to_end(tmp_path: Path) -> None:
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(6)
    files = {}
    for s in range(4):
        z = rng.normal(4.0 + 0.2 * s, 0.2, (6, 6, 6))
        for r in (1, 2, 3):
            v = (z + rng.normal(0, 1e-4, z.shape)) * 1e300
            files[(f"sub-{s}", r)] = {"img.nii": nib.Nifti1Image(v, np.eye(4)).to_bytes()}
    doc = ingested(tmp_path, "  img: {path: img.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    gate = next(r for r in out["verdict"]["reasons"] if r["criterion"] == "voxel_icc_a1_median >= 0.9")
    assert not gate["estimable"] and "their squares overflow float64" in gate["message"]
    assert doc["verdict"]["status"] == "error"


@pytest.mark.parametrize("metric", VOXEL_ICC)
def test_a_voxel_icc_threshold_at_1_passes_identical_executions_only(metric: str) -> None:
    """As b06 for tables (review 10): executions 1 ulp apart give voxel ICCs of exactly 1 in float64, and
    `voxel_icc_a1_min >= 1` passed them; docs/criteria.md says a threshold at 1 requires identity."""
    stats = {m.removeprefix("voxel_"): 1.0 for m in VOXEL_ICC}
    judged = _one(_image(6, differ_fraction=0.25, **stats), f"{metric} >= 1")
    assert (judged["passed"], judged["estimable"], judged["value"]) == (False, True, 1.0)
    assert judged["message"] == (
        f"{metric} = 1 but the executions differ in 25% of the voxels (voxel_differ_fraction 0.25): the ICC rounds "
        f"to 1; {metric} >= 1 requires identical executions"
    )
    assert _one(_image(6, differ_fraction=0.25, **stats), f"{metric} >= 0.999")["passed"]  # read as computed


def test_voxel_iccs_of_executions_one_ulp_apart_end_to_end(tmp_path: Path) -> None:
    """6 subjects x 3 repetitions, repetition 2 one ulp above the others in every voxel."""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(5)
    files = {}
    for s in range(6):
        v = 100.0 + 10 * s + rng.normal(0, 1, (6, 6, 6))
        for r in (1, 2, 3):
            x = np.nextafter(v, np.inf) if r == 2 else v
            files[(f"sub-{s}", r)] = {"img.nii": nib.Nifti1Image(x, np.eye(4)).to_bytes()}
    outputs = "  img: {path: img.nii, kind: image}\ncriteria: ['voxel_icc_a1_min >= 1']\n"
    doc = ingested(tmp_path, outputs, files).analyze().document
    (out,) = doc["outputs"]
    assert out["voxelwise"]["summary"]["icc_a1_min"] == 1.0  # what the criterion reads
    gate = next(r for r in out["verdict"]["reasons"] if r["criterion"] == "voxel_icc_a1_min >= 1")
    assert (gate["passed"], gate["estimable"]) == (False, True) and "the ICC rounds to 1" in gate["message"]
    assert doc["verdict"]["status"] == "fail"


def _threads_study(root: Path, gain: float, *, volumes: int = 1, side: int = 8) -> dict:
    """4 subjects (anatomy + a subject SD of 20 per voxel) x threads 1, 2 x 2 identical repetitions, where
    threads=2 multiplies a block of ``side`` x ``side`` x 8 voxels (8: 12.5% of the grid) by ``gain`` in every
    subject (in the last volume only, for several): the analysed document."""
    import nibabel as nib
    import numpy as np

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(7)
    anatomy = 90 + 20 * rng.random((16, 16, 16))
    folders = {}
    for s in range(4):
        image = np.stack([anatomy + rng.normal(0, 20, anatomy.shape) for _ in range(volumes)], axis=-1)
        for threads in (1, 2):
            data = image.copy()
            if threads == 2:
                data[:side, :side, :8, -1] *= gain
            for rep in (1, 2):
                img = nib.Nifti1Image(np.squeeze(data, -1) if volumes == 1 else data, np.eye(4)).to_bytes()
                folders[f"{threads}/sub-{s}/run-{rep}"] = {"brain.nii": img}
    study = ingested_folders(
        root, "  brain: {path: brain.nii, kind: image}\n", folders, "{threads}/{subject}/run-{repetition}"
    )
    return study.analyze().document


@pytest.mark.parametrize("volumes", [1, 3])
def test_a_factor_changing_an_eighth_of_the_image_fails(tmp_path: Path, volumes: int) -> None:
    """Review FS: threads=2 multiplied an eighth of a brain by 1.25 in every subject; the median voxel ICC (the
    unchanged voxels') and the 5th percentile (0.72: each changed voxel's subjects differ a lot) passed, exit 0.
    Review R2: the same in one component of a 3-volume warp field. Against the image's typical subject spread,
    those voxels spread by more than a third of it: `voxel_poor_fraction` fails."""
    doc = _threads_study(tmp_path, 1.25, volumes=volumes)
    (out,) = doc["outputs"]
    vox = out["voxelwise"]["summary"]
    assert vox["icc_a1_median"] >= 0.9 and vox["icc_a1_p05"] >= 0.5  # what passed
    # the cube's share of the grid; for several volumes, of the last one's (a twelfth of the whole image's voxels)
    assert vox["poor_fraction"] == pytest.approx(0.125, abs=0.01)
    if volumes > 1:
        assert vox["poor_worst_volume"] == 2
    (poor,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "voxel_poor_fraction <= 0.01"]
    assert not poor["passed"] and poor["severity"] == "fail"
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("fail", 1)


@pytest.mark.parametrize(("side", "severity"), [(4, "fail"), (2, "warn")])
def test_a_factor_changing_a_nucleus_fails(tmp_path: Path, side: int, severity: str) -> None:
    """Review PH: threads=2 raised T2* by 50% in 3.8% of a brain (a deep nucleus) and the study passed with
    nothing said (review W1: 30% over 2%, a warning at most). From a hundredth of the voxels poor the output
    fails (3.1% here), from 0.2% it warns (0.8%: 32 voxels)."""
    doc = _threads_study(tmp_path, 1.5, side=side)
    (out,) = doc["outputs"]
    assert out["voxelwise"]["summary"]["poor_fraction"] == pytest.approx(side * side * 8 / 4096, abs=0.002)
    failed = [(r["criterion"], r["severity"]) for r in out["verdict"]["reasons"] if not r["passed"]]
    assert failed == [("voxel_poor_fraction <= 0.01", "fail")] * (severity == "fail") + [
        ("voxel_poor_fraction <= 0.002", "warn")
    ]
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == (severity, int(severity == "fail"))
    # review W1: an image's shares are medians over its voxels, said so beside the summed ones
    summary = out["attribution"]["summary"]
    assert "share of total variance (median over the differing voxels): " in summary
    assert "of what the executions vary by, summed over the differing voxels: threads 9" in summary


def test_a_factor_changing_an_eighth_of_the_image_by_a_little_passes(tmp_path: Path) -> None:
    """The control: a 1% change of the same cube spreads by a fortieth of the subjects' SD: no voxel is poor."""
    doc = _threads_study(tmp_path, 1.01)
    (out,) = doc["outputs"]
    assert out["voxelwise"]["summary"]["poor_fraction"] == 0
    assert doc["verdict"]["status"] == "pass"


def _own_masks_study(root: Path, change: float) -> dict:
    """6 subjects' FA-like maps on one grid, NaN outside each subject's own mask (odd subjects lose the plane
    x = 1) x threads 1, 2 x 2 repetitions; threads=2 adds ``change`` to the even subjects' plane x = 1, which
    has no voxel metric (non-finite in every execution of the odd subjects): the analysed document."""
    import nibabel as nib
    import numpy as np

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(3)
    folders = {}
    for s in range(6):
        fa = 0.5 + rng.normal(0, 0.1, (8, 8, 8))
        if s % 2:
            fa[1] = np.nan
        for threads in (1, 2):
            data = fa.copy()
            if threads == 2 and s % 2 == 0:
                data[1] += change
            for rep in (1, 2):
                folders[f"{threads}/sub-{s}/run-{rep}"] = {"fa.nii": nib.Nifti1Image(data, np.eye(4)).to_bytes()}
    study = ingested_folders(
        root, "  fa: {path: fa.nii, kind: image}\n", folders, "{threads}/{subject}/run-{repetition}"
    )
    return study.analyze().document


@pytest.mark.parametrize(("change", "severity", "status"), [(0.2, "fail", "fail"), (1e-9, "warn", "warn")])
def test_differences_where_some_subjects_are_nan_are_measured(
    tmp_path: Path, change: float, severity: str, status: str
) -> None:
    """Review RR: FA +0.2 under threads=2 where other subjects' masks end (NaN there) had no voxel metric, and
    only warned ("sufficiently reproducible, with warnings", exit 0); 1-ulp noise there, most of the differing
    voxels, read "not analysable". The other subjects' executions measure those voxels: a spread poor by
    voxel_poor_fraction's measure fails, a negligible one warns."""
    doc = _own_masks_study(tmp_path, change)
    (out,) = doc["outputs"]
    vox = out["voxelwise"]["summary"]
    assert vox["differ_without_metrics"] == vox["unjudged_measured_voxels"] == 64
    assert vox["unjudged_poor_voxels"] == (64 if severity == "fail" else 0)
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences covered by the voxel metrics"]
    assert why["severity"] == severity and why["estimable"] and not why["passed"]
    assert "64 of them are non-finite in every execution of some subjects" in why["message"]
    assert doc["verdict"]["status"] == status


@pytest.mark.parametrize(("noise", "status"), [(1e-6, "pass"), (0.05, "fail")])
def test_numerical_dust_in_a_background_is_not_judged_by_its_icc(tmp_path: Path, noise: float, status: str) -> None:
    """Review R2: a warp field exactly 0 outside the brain under threads=1, 1e-6 there under threads=2, the
    brain identical: the background's ICC is near 0 (no subject spread), and its median failed, "not
    reproducible". Below 1e-5 of the image's typical magnitude in every execution, a voxel is dust: the ICC's
    summaries leave it out. Noise of 0.05 mm there is no dust: it fails."""
    import nibabel as nib
    import numpy as np

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(11)
    folders = {}
    for s in range(4):
        warp = np.zeros((12, 12, 12, 3))
        warp[3:7, 3:7, 3:7] = rng.normal(0, 2, (4, 4, 4, 3))  # a brain, 4% of the grid
        for threads in (1, 2):
            for rep in (1, 2):
                data = warp.copy()
                if threads == 2:
                    background = np.ones(warp.shape, bool)
                    background[3:7, 3:7, 3:7] = False
                    data[background] = rng.normal(0, noise, int(background.sum()))
                folders[f"{threads}/sub-{s}/run-{rep}"] = {"warp.nii": nib.Nifti1Image(data, np.eye(4)).to_bytes()}
    study = ingested_folders(
        tmp_path, "  warp: {path: warp.nii, kind: image}\n", folders, "{threads}/{subject}/run-{repetition}"
    )
    doc = study.analyze().document
    vox = doc["outputs"][0]["voxelwise"]["summary"]
    assert vox["icc_a1_dust_voxels"] == (3 * (12**3 - 4**3) if status == "pass" else 0)
    assert doc["verdict"]["status"] == status


def _spheres_study(root: Path, case: str) -> dict:
    """6 subjects x threads 1, 2 x 2 repetitions of a 20^3 image: ``tinybg``, spheres of ~1000 (10% apart between
    subjects, 0.5% unseeded noise inside) on a background of 1e-6 |N(0, 1)| per subject, the same in every
    execution; ``tpm``, a probability map saturated inside spheres of radius 7-8 voxels by subject (at 0.8-1),
    soft edges two voxels wide, each execution's radius jittered by 0.03 voxel (registration): the analysed document."""
    import nibabel as nib
    import numpy as np

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(21)
    grid = np.indices((20, 20, 20)).astype(float)
    dist = np.sqrt(((grid - 9.5) ** 2).sum(axis=0))
    folders = {}
    for s in range(6):
        background = 1e-6 * np.abs(rng.normal(size=dist.shape))
        level, radius, peak = 1000 * (1 + 0.1 * rng.normal()), 7 + rng.random(), 0.8 + 0.2 * rng.random()
        for threads in (1, 2):
            for rep in (1, 2):
                if case == "tinybg":
                    inside = dist < 7
                    data = np.where(inside, level * (1 + 0.005 * rng.normal(size=dist.shape)), background)
                else:
                    data = peak * np.clip((radius + rng.normal(0, 0.03) - dist) / 2 + 0.5, 0, 1)
                folders[f"{threads}/sub-{s}/run-{rep}"] = {"m.nii": nib.Nifti1Image(data, np.eye(4)).to_bytes()}
    study = ingested_folders(root, "  m: {path: m.nii, kind: image}\n", folders, "{threads}/{subject}/run-{repetition}")
    return study.analyze().document


@pytest.mark.parametrize("case", ["tinybg", "tpm"])
def test_reproducible_images_are_not_poor(tmp_path: Path, case: str) -> None:
    """Review VV, against the first `voxel_poor_fraction`: a background of 1e-6 set the subjects' typical SD to ~0,
    and every voxel of a brain with 0.5% noise was poor ("not reproducible"): the scale is now taken over voxels
    of signal. A probability map's soft edges, subjects far apart there, spread more than a third of its typical
    SD with voxel ICCs of 0.98 in the review's case (not reproducible): a poor voxel's own ICC is below 0.9 now
    too; ``tpm`` is a registration's probability map that stays clear of both."""
    doc = _spheres_study(tmp_path, case)
    vox = doc["outputs"][0]["voxelwise"]["summary"]
    assert vox["poor_fraction"] < 0.01 and vox["icc_a1_median"] > 0.9
    assert doc["verdict"]["exit_code"] == 0, doc["outputs"][0]["verdict"]["reasons"]


def test_no_voxel_with_metrics_because_of_one_nan_execution_says_so() -> None:
    """Review FM: one execution's z-map NaN at every voxel left no voxel with metrics, and the criteria said
    "every voxel is zero in every execution of the first subject, or non-finite" beside finite maps."""
    summary = dict(voxels_with_metrics=0, nonfinite_voxels=500, mask_voxels=500, icc_a1_undefined_voxels=0)
    (why,) = [
        r
        for r in output_verdict(_image(3, **summary), [Criterion(*parse_rule("voxel_icc_a1_median >= 0.9"))], {})[
            "reasons"
        ]
        if r["criterion"] == "voxel_icc_a1_median >= 0.9"
    ]
    assert "every voxel is non-finite in some execution (an execution that wrote NaN everywhere?" in why["message"]


def _series_study(root: Path, change: str) -> dict:
    """4 subjects' fMRI-like series (8^3 voxels, 30 frames: mean intensities 600-900 per subject and voxel, a
    temporal SD of 5 of each subject's own) x threads 1, 2 x 2 repetitions, where threads=2 ``change``s the
    frames: ``shuffle`` (one permutation for all), ``shift`` (by one frame), ``weaker`` (every fluctuation 20%
    smaller) or ``noise`` (1e-6 relative): the analysed document."""
    import nibabel as nib
    import numpy as np

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(11)
    order = rng.permutation(30)
    folders = {}
    for s in range(4):
        bold = rng.uniform(600, 900, (8, 8, 8, 1)) + rng.normal(0, 5, (8, 8, 8, 30))
        if change == "zscored":  # every voxel's series z-scored: a temporal SD of 1 in every subject
            bold = (bold - bold.mean(axis=-1, keepdims=True)) / bold.std(axis=-1, keepdims=True)
        for threads in (1, 2):
            data = bold
            if threads == 2:
                data = {
                    "shuffle": bold[..., order],
                    "shift": np.roll(bold, 1, axis=-1),
                    "noise": bold * (1 + rng.normal(0, 1e-6, bold.shape)),
                    "zscored": bold * (1 + rng.normal(0, 1e-7, bold.shape)),
                    "weaker": bold.mean(axis=-1, keepdims=True) + 0.8 * (bold - bold.mean(axis=-1, keepdims=True)),
                }[change]
            for rep in (1, 2):
                img = nib.Nifti1Image(data.astype(np.float32), np.eye(4)).to_bytes()
                folders[f"{threads}/sub-{s}/run-{rep}"] = {"bold.nii": img}
    study = ingested_folders(
        root, "  bold: {path: bold.nii, kind: image}\n", folders, "{threads}/{subject}/run-{repetition}"
    )
    return study.analyze().document


@pytest.mark.parametrize(
    ("change", "measure", "where"),
    [
        ("shuffle", "series", "the series' fluctuations (each voxel's values less its mean over the volumes), volume"),
        ("shift", "series", "the series' fluctuations (each voxel's values less its mean over the volumes), volume"),
        ("weaker", "amplitude", "the series' amplitude (each voxel's SD over the volumes)"),
    ],
)
def test_a_series_whose_frames_moved_fails(tmp_path: Path, change: str, measure: str, where: str) -> None:
    """Review FM: frames shuffled (or shifted by one) under threads=2 read "sufficiently reproducible": each
    (voxel, frame)'s subjects differ by their mean intensities (hundreds), its executions by the temporal SD
    (5). About each voxel's own mean the subjects differ by their fluctuations, and nearly every value is poor.
    Review F2: every fluctuation 20% weaker under threads=2 stayed within a third of the subjects' spread value
    by value; each voxel's temporal SD, judged as an image, is poor."""
    doc = _series_study(tmp_path, change)
    (out,) = doc["outputs"]
    vox = out["voxelwise"]["summary"]
    assert vox["icc_a1_median"] >= 0.99  # what passed: the values themselves
    assert vox[f"{measure}_poor_fraction"] > 0.8 and vox["poor_fraction"] == vox[f"{measure}_poor_fraction"]
    assert vox["poor_measure"] == measure
    (poor,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "voxel_poor_fraction <= 0.01"]
    assert not poor["passed"] and poor["severity"] == "fail"
    assert poor["observation"].startswith(where)
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("fail", 1)
    assert out["attribution"]["summary"].startswith("threads changes the result")


@pytest.mark.parametrize("change", ["noise", "zscored"])
def test_a_series_with_thread_noise_passes(tmp_path: Path, change: str) -> None:
    """The control: 1e-6 relative noise under threads=2 leaves the series' fluctuations alike (ICC ~1); and a
    z-scored series (review RG), whose temporal SD is 1 in every subject, with float32 rounding under threads=2:
    its subjects' amplitudes differ by rounding, no scale to judge rounding by."""
    doc = _series_study(tmp_path, change)
    (out,) = doc["outputs"]
    vox = out["voxelwise"]["summary"]
    # z-scored: no voxel's amplitude is judged (its subjects differ by rounding alone)
    assert vox["series_poor_fraction"] == vox.get("amplitude_poor_fraction", 0) == vox["poor_fraction"] == 0
    assert ("amplitude_poor_fraction" in vox) is (change == "noise")
    assert "poor_measure" not in vox
    assert doc["verdict"]["status"] == "pass"
