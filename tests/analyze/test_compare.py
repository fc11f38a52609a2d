"""Version to version: a changed algorithm constant is detected, a noisy rebuild is not."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.criteria.formats import markdown_summary
from reprovip.criteria.gate import compare_check
from reprovip.errors import InputError
from reprovip.study import Study
from tests.conftest import ingested, write_study


def _args(scale: float, name: str, noise: float = 0.01) -> str:
    return f'"{{input}}", "{{outdir}}", "{scale}", "{noise}", "{name}"'  # the build's name seeds its noise


def _version(root: Path, scale: float, noise: float = 0.01) -> Path:
    path = write_study(root, app="versioned_app.py", subjects=4, repetitions=4, args=_args(scale, root.name, noise))
    Study.load(path).run(jobs=2)
    return path


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("versions")
    return {
        name: _version(root / name, scale) for name, scale in (("v1.8", 1.0), ("v1.8-rebuild", 1.0), ("v1.9", 1.01))
    }


def test_changed_constant_is_outside_the_envelope(
    versions: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["compare", str(versions["v1.8"]), str(versions["v1.9"])])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "result: OUTSIDE the baseline's run-to-run envelope" in out
    doc = compare_check(Study.load(versions["v1.8"]), Study.load(versions["v1.9"])).document
    env = doc["outputs"][0]["envelope"]
    assert env["within_envelope"] is False and set(env["outside"]) == {"area", "value"}
    # A 1% shift on values 10..32.5 with a 0.01 noise SD: hundreds of standard errors.
    assert float(env["max_abs_z"]) > 50
    reasons = doc["outputs"][0]["verdict"]["reasons"]
    assert reasons[0]["criterion"] == "within_envelope" and not reasons[0]["passed"]
    share = doc["outputs"][0]["observations"][0]["variance"]["version"]["share"]
    assert share > 0


def test_check_after_a_compare_says_a_comparison_is_stored(
    versions: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Review VC: after a failing `compare`, `check` of the new version read "sufficiently reproducible" with no
    word of the comparison (it judges the study's own runs). It says one is stored, its verdict, and how to see it."""
    assert main(["compare", str(versions["v1.8"]), str(versions["v1.9"])]) == 1
    capsys.readouterr()
    main(["check", str(versions["v1.9"])])
    err = capsys.readouterr().err
    assert "reprovip: note: this checks the study's own runs; a comparison with a baseline is stored (" in err
    assert "compare.json: not reproducible): `reprovip report" in err
    # review VW: the study's own report said nothing of it either
    page = versions["v1.9"].parent / "own.html"
    assert main(["report", str(versions["v1.9"]), "-o", str(page)]) == 0
    assert "a comparison with a baseline is stored (" in page.read_text()
    # review VW: executions that finished after the comparison (a new run of the current version) make it stale
    (stored,) = versions["v1.9"].parent.glob(".reprovip/results/*/compare.json")
    os.utime(stored, (1e9, 1e9))
    main(["check", str(versions["v1.9"])])
    assert "not reproducible) but is stale: executions of this study or of its baseline finished after it" in (
        capsys.readouterr().err
    )


def test_noisy_rebuild_stays_within_the_envelope(versions: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["compare", str(versions["v1.8"]), str(versions["v1.8-rebuild"])])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "result: within the baseline's run-to-run envelope" in out
    doc = compare_check(Study.load(versions["v1.8"]), Study.load(versions["v1.8-rebuild"])).document
    assert doc["outputs"][0]["envelope"]["within_envelope"] is True
    assert doc["compare"]["baseline"]["path"].endswith("v1.8/study.yaml")


def test_compare_needs_stored_and_shared_outputs(tmp_path: Path, versions: dict[str, Path]) -> None:
    other = write_study(tmp_path / "other", outputs="  table: {path: table.csv, kind: table}\n", repetitions=2)
    Study.load(other).run()
    with pytest.raises(InputError, match=r"share no output"):
        compare_check(Study.load(versions["v1.8"]), Study.load(other))
    empty = write_study(tmp_path / "empty")
    assert main(["compare", str(versions["v1.8"]), str(empty)]) == 2


def test_a_comparison_with_a_study_file_edited_since_its_run_is_incomplete(tmp_path: Path) -> None:
    """The current version's file declares a repetition it never ran: the comparison is `incomplete`, and its
    alert says what was not run (not "never finished")."""
    baseline, current = _version(tmp_path / "v1", 1.0), _version(tmp_path / "v2", 1.0)
    current.write_text(current.read_text().replace("repetitions: 4", "repetitions: 5"))
    doc = compare_check(Study.load(baseline), Study.load(current)).document
    assert doc["executions"]["plan"] == {"not_run": 4, "earlier_recipe": 0, "edited": [str(current)]}
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("incomplete", 3)
    (alert,) = [a["message"] for a in doc["alerts"] if a["output"] is None]
    assert alert.startswith(f"the study file {current} declares 4 execution(s) never run and 0 run with an earlier")


def test_the_baseline_is_its_stored_runs_whatever_script_its_folder_holds_now(tmp_path: Path) -> None:
    """A CI job restores the old store beside the new version's files (docs/ci.md): the baseline's 16 runs read
    "run with an earlier recipe", the comparison of a refactor was incomplete, and its advice (`reprovip run`
    the baseline) re-ran it with the new code, after which a regression passed (a review). The baseline's
    stored runs are compared as they are; the current study's own edits still count."""
    baseline, current = _version(tmp_path / "v1", 1.0), _version(tmp_path / "v2", 1.0)
    baseline.write_text(baseline.read_text() + "env: {REFACTORED: '1'}\n")
    doc = compare_check(Study.load(baseline), Study.load(current)).document
    assert doc["executions"]["plan"] == {"not_run": 0, "earlier_recipe": 0, "edited": []}
    assert doc["executions"]["not_done"] == 0
    assert doc["verdict"]["status"] in ("pass", "identical"), doc["alerts"]
    current.write_text(current.read_text() + "env: {EDITED: '1'}\n")
    doc = compare_check(Study.load(baseline), Study.load(current)).document
    assert doc["executions"]["plan"] == {"not_run": 0, "earlier_recipe": 16, "edited": [str(current)]}
    assert doc["verdict"]["status"] == "incomplete"


def _renamed_subjects(path: Path, prefix: str) -> Path:
    for f in (path.parent / "data").iterdir():
        f.rename(f.with_name(f.name.replace("sub-", prefix)))
    return path


def test_studies_without_a_subject_in_common_are_refused(tmp_path: Path) -> None:
    """No subject ran in both versions: nothing was compared, and the comparison used to read "identical"."""
    baseline = _version(tmp_path / "v1", 1.0)
    current = _renamed_subjects(
        write_study(tmp_path / "v2", app="versioned_app.py", subjects=4, repetitions=4, args=_args(1.1, "v2")), "t-"
    )
    Study.load(current).run(jobs=2)
    with pytest.raises(
        InputError, match=r"share no subject \(sub-01, sub-02, sub-03 and 1 more against t-01, t-02, t-03"
    ):
        compare_check(Study.load(baseline), Study.load(current))


def test_subjects_run_in_one_version_only_make_the_comparison_incomplete(tmp_path: Path) -> None:
    """Subjects the baseline never ran never enter the metrics, whatever their values (a review's new version,
    nondeterministic on those subjects only, read "sufficiently reproducible", exit 0): it cannot pass."""
    baseline = write_study(tmp_path / "v1", app="versioned_app.py", subjects=2, repetitions=3, args=_args(1.0, "v1"))
    current = write_study(tmp_path / "v2", app="versioned_app.py", subjects=4, repetitions=3, args=_args(1.0, "v2"))
    for path in (baseline, current):
        Study.load(path).run(jobs=2)
    doc = compare_check(Study.load(baseline), Study.load(current)).document
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("incomplete", 3)
    (out,) = doc["outputs"]
    assert out["left_out"] == [dict(subject=s, present=3, needed=6, only_in="current") for s in ("sub-03", "sub-04")]
    (left,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "every subject in the metrics"]
    # which version stored them (review VC: "sub-04 (3 of 6)" did not say it was the baseline's)
    assert left["message"] == (
        "2 of 4 subject(s) do not have the design's executions of this output and are left out of its metrics, whatever their values "
        "(the study is incomplete): sub-03 (3 of 6, stored by the current only); sub-04 (3 of 6, stored by the current only)"
    )


def test_declared_criteria_keep_the_envelope_test(tmp_path: Path) -> None:
    """Criteria declared in the study replaced the defaults, and the envelope test with them: a 1% version
    shift read "OUTSIDE the envelope" yet the verdict passed on the ICC."""
    declared = '\ncriteria:\n  - "ICC(A,1).ci_low >= 0.9"\n'
    paths = []
    for name, scale in (("v1", 1.0), ("v2", 1.01)):
        paths.append(
            write_study(
                tmp_path / name,
                app="versioned_app.py",
                subjects=4,
                repetitions=4,
                args=_args(scale, name),
                extra=declared,
            )
        )
        Study.load(paths[-1]).run(jobs=2)
    doc = compare_check(Study.load(paths[0]), Study.load(paths[1])).document
    reasons = doc["outputs"][0]["verdict"]["reasons"]
    assert [r["criterion"] for r in reasons[:2]] == ["within_envelope", "ICC(A,1).ci_low >= 0.9"]
    assert not reasons[0]["passed"] and reasons[1]["passed"]
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("fail", 1)


def test_a_version_that_only_rewrites_the_header_is_not_a_silent_pass(tmp_path: Path) -> None:
    """Version 2 writes the same voxels with the series' TR dropped from 2 s to 1 s: every execution of a
    version is identical, the versions differ in the header only. The comparison read "sufficiently
    reproducible" with nothing said (a review); now the semantic hash sees the TR, and the verdict fails: the same
    values at other times (review FM: a warning let it pass)."""

    import nibabel as nib
    import numpy as np

    def series(subject: int, tr: float) -> bytes:
        img = nib.Nifti1Image(np.full((3, 3, 2, 4), 10.0 * subject + 1, dtype=np.float32), np.eye(4))
        img.header.set_zooms((1.0, 1.0, 1.0, tr))
        img.header.set_xyzt_units("mm", "sec")
        return img.to_bytes()

    def version(name: str, tr: float) -> Study:
        files = {(f"s{i}", r): {"bold.nii": series(i, tr)} for i in (1, 2, 3) for r in (1, 2)}
        return ingested(tmp_path / name, "  bold: {path: bold.nii, kind: image}\n", files)

    doc = compare_check(version("v1", 2.0), version("v2", 1.0)).document
    (out,) = doc["outputs"]
    assert out["unmeasured_differences"] == 3 and out["voxelwise"]["summary"]["differ_fraction"] == 0
    (failure,) = [r for r in out["verdict"]["reasons"] if not r["passed"]]
    assert failure["message"].startswith(
        "the files of 3 subject(s) differ between executions (within a condition or across levels) while every "
        "voxel is identical: the difference is in the image header (time step 2 vs 1; pixdim"
    )
    assert failure["severity"] == "fail" and doc["verdict"]["status"] == "fail"


def test_versions_run_with_other_repetitions_or_levels_are_refused(tmp_path: Path) -> None:
    """Baseline 3 repetitions, current 2: every subject was left out and the comparison read "incomplete:
    executions failed or not run" with nothing failed (a review); other factor levels did the same. Refused,
    naming both designs."""
    values = {"s1": [1.0, 1.1, 1.2], "s2": [5.0, 5.1, 5.2], "s3": [9.0, 9.1, 9.2]}

    def version(name: str, reps: int) -> Study:
        files = {(s, r): {"r.json": json.dumps({"v": v[r - 1]})} for s, v in values.items() for r in range(1, reps + 1)}
        return ingested(tmp_path / name, "  r: {path: r.json, kind: scalars}\n", files)

    with pytest.raises(
        InputError, match=r"base/study.yaml runs 3 repetition\(s\) per condition and .*cur/study.yaml 2"
    ):
        compare_check(version("base", 3), version("cur", 2))
    one, other = (
        write_study(tmp_path / n, factors=f"  threads: [1, {t}]\n", repetitions=2) for n, t in (("a", 2), ("b", 4))
    )
    for path in (one, other):
        Study.load(path).run(jobs=2)
    with pytest.raises(InputError, match=r"runs the conditions threads=1, threads=2 and .* threads=1, threads=4"):
        compare_check(Study.load(one), Study.load(other))


@pytest.mark.parametrize(("shift", "within"), [(0.0, True), (20.0, False)])
def test_image_versions_get_the_envelope_test_voxel_by_voxel(tmp_path: Path, shift: float, within: bool) -> None:
    """Images had no version test: +20 in every voxel (2000 run-to-run SDs) read "sufficiently reproducible"
    (a review). Each voxel now gets the scalar envelope test: the image's largest |z| is the largest of the
    scalar test applied to each voxel's values, and a rebuild with the same noise stays inside."""
    import nibabel as nib
    import numpy as np

    from reprovip.analyze.envelope import envelope

    rng = np.random.default_rng(5)
    anatomy = {s: rng.uniform(50, 150, size=(4, 3, 2)) for s in ("s1", "s2", "s3", "s4")}
    data: dict[str, dict[tuple[str, int], np.ndarray]] = {}

    def version(name: str, offset: float) -> Study:
        arrays = {(s, r): a + offset + rng.normal(0, 0.01, a.shape) for s, a in anatomy.items() for r in (1, 2, 3)}
        data[name] = arrays
        files = {key: {"img.nii": nib.Nifti1Image(v, np.eye(4)).to_bytes()} for key, v in arrays.items()}
        return ingested(tmp_path / name, "  img: {path: img.nii, kind: image}\n", files)

    doc = compare_check(version("base", 0.0), version("cur", shift)).document
    (out,) = doc["outputs"]
    env = out["envelope"]
    assert env["within_envelope"] is within and env["factor"] == "version"
    x = np.stack(
        [[[data[v][(s, r)] for r in (1, 2, 3)] for v in ("base", "cur")] for s in sorted(anatomy)]
    )  # (subject, version, k, *grid)
    per_voxel = np.moveaxis(x.reshape(4, 2, 3, -1), -1, 0)  # (voxel, subject, version, k)
    scalar = envelope(per_voxel, [str(i) for i in range(24)], 0, ("base", "cur"))
    assert float(env["max_abs_z"]) == pytest.approx(float(scalar["max_abs_z"]), rel=1e-9)
    assert env["outside_voxels"] == (0 if within else 24)
    reasons = {r["criterion"]: r for r in out["verdict"]["reasons"]}
    assert reasons["within_envelope"]["passed"] is within
    if not within:
        assert "24 of 24 voxel(s) outside the baseline's run-to-run envelope" in reasons["within_envelope"]["message"]
        assert doc["verdict"]["status"] == "fail"


@pytest.mark.parametrize(("move", "within"), [(0, True), (1, False)])
def test_label_maps_compared_across_versions_test_their_overlap(tmp_path: Path, move: int, within: bool) -> None:
    """A version moving every label by one voxel keeps the label volumes: compare read "within the baseline's
    run-to-run envelope (max |z| 0)" (a review, Dice 0.75). The baseline is identical run to run, so any
    change of a label is outside; an unchanged rebuild stays inside."""
    import nibabel as nib
    import numpy as np

    def labels(shift: int) -> bytes:
        x = np.zeros((8, 8, 8), np.int16)
        x[2 + shift : 6 + shift, 2:6, 2:6] = 1
        return nib.Nifti1Image(x, np.eye(4)).to_bytes()

    def version(name: str, shift: int) -> Study:
        files = {(s, r): {"seg.nii": labels(shift)} for s in ("s1", "s2", "s3") for r in (1, 2)}
        return ingested(tmp_path / name, "  seg: {path: seg.nii, kind: labels}\n", files)

    doc = compare_check(version("base", 0), version("cur", move)).document
    (out,) = doc["outputs"]
    env = out["envelope"]
    assert env["within_envelope"] is within
    assert env["dice"] == {
        "tested": 3,
        "outside": 0 if within else 3,
        "within_envelope": within,
        "detail": env["dice"]["detail"],
    }
    reasons = {r["criterion"]: r for r in out["verdict"]["reasons"]}
    if within:  # the same files: identical, nothing else to test
        assert doc["verdict"]["status"] == "identical"
    else:
        assert reasons["within_envelope"]["passed"] is False
        assert "mean Dice 0.75 between versions against 1 within the baseline (outside)" in env["detail"]
        assert doc["verdict"]["status"] == "fail"


@pytest.mark.parametrize(("move", "within"), [(0, True), (2, False)])
def test_label_maps_over_a_noisy_baseline_are_tested_against_its_disagreement(
    tmp_path: Path, move: int, within: bool
) -> None:
    """Baseline repetitions that differ by a voxel (Dice 0.996) made no Dice test: a new version moving every
    label (Dice 0.8) kept the volumes and passed "within the envelope" while the explanation said the version
    changes the label maps (a review). Outside: versions disagree more than twice the baseline's worst pair and
    by 0.01 of Dice; a rebuild with the same one-voxel noise stays inside."""
    import nibabel as nib
    import numpy as np

    def labels(shift: int, rep: int) -> bytes:
        x = np.zeros((12, 12, 12), np.int16)
        x[2 + shift : 8 + shift, 2:8, 2:8] = 1
        x[2, 2, 2 + rep] = 0  # the run-to-run noise: one voxel, another in each repetition
        return nib.Nifti1Image(x, np.eye(4)).to_bytes()

    def version(name: str, shift: int) -> Study:
        files = {(s, r): {"seg.nii": labels(shift, r)} for s in ("s1", "s2", "s3") for r in (1, 2)}
        return ingested(tmp_path / name, "  seg: {path: seg.nii, kind: labels}\n", files)

    doc = compare_check(version("base", 0), version("cur", move)).document
    dice = doc["outputs"][0]["envelope"]["dice"]
    assert (dice["tested"], dice["outside"], dice["within_envelope"]) == (3, 0 if within else 3, within)
    # the same files, repetition for repetition, where repetitions differ: said (a copy, or noise seeded by the
    # repetition's number, as here: review E), a warning
    copied = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"] == "results of their own"]
    assert [r["severity"] for r in copied] == (["warn"] if within else [])
    assert doc["verdict"]["status"] == ("warn" if within else "fail")


def test_a_comparison_made_after_the_runs_is_not_stale(versions: dict[str, Path]) -> None:
    """The compare document stored `last_run: null`, so its report always read "stale: run #1 came after this
    analysis" (a review). It records the current store's last run."""
    from reprovip.report.context import staleness

    current = Study.load(versions["v1.9"])
    doc = compare_check(Study.load(versions["v1.8"]), current).document
    newest = current.catalog.runs(current.catalog.study_id(current.name))[0]
    assert doc["verdict"]["last_run"]["id"] == newest["id"]
    assert staleness(doc, newest) is None


def test_stores_with_their_own_version_factor_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both stores ingested results/{version}/...: each execution carried two `version` labels, every subject
    was left out ("12 of 24") and the comparison exited 3, "executions failed or not run", with none failed."""
    paths = []
    for name in ("base", "cur"):
        for version in ("1.0", "2.0"):
            for s in (1, 2, 3):
                for rep in (1, 2):
                    d = tmp_path / name / "results" / version / f"s{s}" / f"run-{rep}"
                    d.mkdir(parents=True)
                    (d / "r.json").write_text(json.dumps({"v": 10.0 * s + 0.1 * rep}))
        (tmp_path / name / "study.yaml").write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
        Study.load(tmp_path / name / "study.yaml").ingest("results/{version}/{subject}/run-{repetition}")
        paths.append(str(tmp_path / name / "study.yaml"))
    assert main(["compare", *paths]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"reprovip: error: {paths[0]}: its executions already have a `version` factor (1.0, 2.0), and `compare` "
        "makes its two studies the levels of `version`; compare the versions of one study with `reprovip analyze`, "
        "or two studies holding one version each (ingest into each a pattern without `{version}`, such as "
        "`results/1.0/{subject}/run-{repetition}`)"
    )


def _json_versions(tmp_path: Path, baseline: dict[str, float], current: dict[str, float]) -> tuple[Study, Study]:
    """Two ingested studies of `fit.json`: each field's value is 100 x subject x its factor, + 0.1 x repetition."""

    def version(name: str, fields: dict[str, float]) -> Study:
        files = {
            (f"s{s}", r): {"fit.json": json.dumps({k: 100.0 * s * f + 0.1 * r for k, f in fields.items()})}
            for s in range(1, 5)
            for r in (1, 2, 3)
        }
        return ingested(tmp_path / name, "  fit: {path: fit.json, kind: scalars}\n", files)

    return version("base", baseline), version("cur", current)


def test_a_field_the_new_version_adds_is_named_and_the_shared_ones_are_compared(tmp_path: Path) -> None:
    """The new version adds `n_iter` and moves `volume` by +30%: every one of its files was "unreadable" (its
    observations differ), and the volume change was never measured (a review)."""
    doc = compare_check(
        *_json_versions(tmp_path, {"volume": 1.0, "snr": 0.2}, {"volume": 1.3, "snr": 0.2, "n_iter": 0.01})
    ).document
    (out,) = doc["outputs"]
    assert out["errors"] == [] and out["complete_subjects"] == 4
    assert [o["name"] for o in out["observations"]] == ["snr", "volume"]
    assert out["envelope"]["within_envelope"] is False and out["envelope"]["outside"] == ["volume"]
    assert out["version_layout"] == {"n_iter": {"current": "number"}}
    assert (doc["compare"]["only_in_baseline"], doc["compare"]["only_in_current"]) == ([], ["fit: n_iter"])
    message = "fit: n_iter is written only by the current version"
    assert dict(output="fit: n_iter", severity="warn", message=message) in doc["alerts"]
    assert doc["verdict"]["status"] == "fail"  # for the +30% volume


def test_a_field_the_new_version_adds_alone_is_a_warning(tmp_path: Path) -> None:
    """The new version adds `n_iter` and changes nothing else: a loud warning (it fails `--strict`), not the
    failure of a field the new version drops."""
    doc = compare_check(*_json_versions(tmp_path, {"volume": 1.0}, {"volume": 1.0, "n_iter": 0.01})).document
    assert [a["severity"] for a in doc["alerts"]] == ["warn"]
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"], doc["verdict"]["exit_code_strict"]) == ("warn", 0, 1)


def test_a_field_the_new_version_drops_fails_the_comparison(tmp_path: Path) -> None:
    """`snr` is no longer written; `volume` is unchanged: what is shared is within the envelope, and the field
    nobody measures any more is not a pass."""
    doc = compare_check(*_json_versions(tmp_path, {"volume": 1.0, "snr": 0.2}, {"volume": 1.0})).document
    (out,) = doc["outputs"]
    assert out["envelope"]["within_envelope"] is True and [o["name"] for o in out["observations"]] == ["volume"]
    assert out["version_layout"] == {"snr": {"baseline": "number"}}
    assert doc["compare"]["only_in_baseline"] == ["fit: snr"]
    assert (
        dict(output="fit: snr", severity="fail", message="fit: snr is written only by the baseline version")
        in (doc["alerts"])
    )
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("fail", 1)
    # the output's own verdict too (a renamed column read `volumes | pass` in the per-output table: review V)
    (dropped,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "written by both versions"]
    assert dropped["message"] == "1 field(s) the baseline writes are not written by the current version: snr"
    assert out["verdict"]["status"] == "fail"


def _csv_version(root: Path, outputs: str, files: dict[str, float]) -> Study:
    """An ingested study whose files ``name -> scale`` hold a hippocampus volume of 1000 + 100 x subject, times
    the scale, + 0.5 x repetition."""
    for s in range(1, 5):
        for r in (1, 2, 3):
            for name, scale in files.items():
                path = root / "results" / f"s{s}" / f"run-{r}" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"region,volume\nhippo,{(1000 + 100 * s) * scale + 0.5 * r:.4f}\n")
    (root / "study.yaml").write_text(f"outputs:\n{outputs}")
    study = Study.load(root / "study.yaml")
    study.ingest("results/{subject}/run-{repetition}")
    return study


def test_an_output_that_keeps_its_name_at_a_new_path_is_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The new version writes `volumes.csv` (x1.5) where the old wrote `vol.csv`, the output still `volumes`:
    files were matched by path, so it was compared nowhere and said to be "declared after they ran" (a review)."""
    base = _csv_version(tmp_path / "base", "  volumes: {path: vol.csv, kind: table}\n", {"vol.csv": 1.0})
    cur = _csv_version(tmp_path / "cur", "  volumes: {path: volumes.csv, kind: table}\n", {"volumes.csv": 1.5})
    assert main(["compare", str(base.path), str(cur.path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        "volumes: the current version writes it at another path, compared with the baseline's: "
        "vol.csv -> volumes.csv\nvolumes: OUTSIDE the baseline's run-to-run envelope"
    )
    doc = json.loads((cur.results / "compare.json").read_text())
    assert doc["compare"]["paths_changed"] == [dict(output="volumes", baseline="vol.csv", current="volumes.csv")]
    assert doc["compare"]["only_in_baseline"] == doc["compare"]["only_in_current"] == []
    # the report and the Markdown summary show the move: a warning alert
    message = (
        "volumes: the current version writes it at another path, compared with the baseline's: vol.csv -> volumes.csv"
    )
    assert dict(output="volumes", severity="warn", message=message) in doc["alerts"]
    assert f"- **warn** volumes: {message}" in markdown_summary(doc)
    (entry,) = doc["outputs"]
    assert entry["envelope"]["within_envelope"] is False and entry["complete_subjects"] == 4


def test_an_output_only_the_new_version_writes_is_not_said_to_be_declared_after_the_runs(tmp_path: Path) -> None:
    """`vol.csv` renamed `volumes.csv` and the output renamed `vols`: the comparison said "declared in the study
    file but stored by no execution (declared after they ran) ... ingest them again", wrong advice."""
    base = _csv_version(
        tmp_path / "base",
        "  volumes: {path: vol.csv, kind: table}\n  qc: {path: qc.csv, kind: table}\n",
        {"vol.csv": 1.0, "qc.csv": 1.0},
    )
    cur = _csv_version(
        tmp_path / "cur",
        "  vols: {path: volumes.csv, kind: table}\n  qc: {path: qc.csv, kind: table}\n",
        {"volumes.csv": 1.0, "qc.csv": 1.0},
    )
    doc = compare_check(base, cur).document
    (vols,) = [o for o in doc["outputs"] if o["name"] == "vols"]
    assert vols["error"] == (
        "written only by the current version: the baseline stored no output `vols` (its outputs: qc, volumes), so "
        "there is nothing to compare it with; if it is one of them renamed, give it one name in both study files"
    )
    assert doc["compare"]["only_in_baseline"] == ["volumes/vol.csv"]
    assert doc["compare"]["only_in_current"] == ["vols/volumes.csv"]


def test_a_file_a_glob_adds_in_its_own_folder_is_named_once(tmp_path: Path) -> None:
    """`stats: {path: "stats/*.csv"}` and a new stats/wmparc.csv: the alert read "stats/stats/wmparc.csv"."""
    outputs = '  stats: {path: "stats/*.csv", kind: table}\n'
    doc = compare_check(
        _csv_version(tmp_path / "base", outputs, {"stats/aseg.csv": 1.0}),
        _csv_version(tmp_path / "cur", outputs, {"stats/aseg.csv": 1.0, "stats/wmparc.csv": 3.0}),
    ).document
    assert doc["compare"]["only_in_current"] == ["stats/wmparc.csv"]
    message = "stats/wmparc.csv is written only by the current version"
    assert dict(output="stats/wmparc.csv", severity="warn", message=message) in doc["alerts"]


def test_a_log_the_new_version_adds_a_line_to_is_not_compared_shifted(tmp_path: Path) -> None:
    """A log's numbers are named by their line (`line2:0`): a line added at the top moves every name, so the
    shared names would compare other numbers; such files stay unreadable against the other version's layout."""

    def version(name: str, header: str) -> Study:
        files = {
            (f"s{s}", r): {"run.log": f"{header}volume {100.0 * s + 0.1 * r}\n"} for s in (1, 2, 3) for r in (1, 2)
        }
        return ingested(tmp_path / name, "  log: {path: run.log, kind: text}\n", files)

    doc = compare_check(version("base", ""), version("cur", "iterations 12\n")).document
    (out,) = doc["outputs"]
    assert "version_layout" not in out and out["complete_subjects"] == 0
    assert "its observations differ" in out["errors"][0]["error"]
    assert doc["verdict"]["status"] in ("error", "fail")


def test_a_study_compared_with_itself_or_a_copy_of_its_store_is_refused(
    tmp_path: Path, versions: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`compare X X` read "within the envelope (max |z| 0)", exit 0, counting each stored execution twice (a
    review: a CI gate whose baseline step restored the current study is green forever). Refused in one line,
    exit 2: the same file, the same study by its folder, and a copy of its store (same executions, finished at
    the same time)."""
    path = versions["v1.8"]
    for args in ([str(path), str(path)], [str(path.parent), str(path)]):
        assert main(["compare", *args]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert f"{path} and {path} are the same study (`" in err
    copy = tmp_path / "copy" / path.parent.name  # the study's name is its folder's
    shutil.copytree(path.parent, copy)
    with pytest.raises(InputError, match=r"^16 of the 16 finished executions stored for .*copy/v1\.8/study.yaml are "):
        compare_check(Study.load(path), Study.load(copy / "study.yaml"))


def test_two_studies_that_ingested_the_same_results_folders_are_refused(tmp_path: Path) -> None:
    """Both versions ingested ``../results``: another ingest time, so no "copy of its store", and `compare` read
    "within the envelope (max |z| 0)", exit 0 (a review). The same folders are refused; each version's own pass."""
    for s in ("s1", "s2", "s3"):
        for r in (1, 2):
            for version, shift in (("b", 0.0), ("same", 0.0)):
                folder = tmp_path / "results" / version / s / f"run-{r}"
                folder.mkdir(parents=True)
                (folder / "r.json").write_text(json.dumps({"v": float(s[-1]) + shift + 0.01 * r}))
    studies = {}
    for name, source in (("base", "same"), ("cur", "same"), ("other", "b")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "study.yaml").write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
        studies[name] = Study.load(tmp_path / name / "study.yaml")
        studies[name].ingest(f"../results/{source}/{{subject}}/run-{{repetition}}")
    with pytest.raises(InputError, match=r"ingested the same results folders \(6, such as .*results/same/s1/run-1\)"):
        compare_check(studies["base"], studies["cur"])
    other = compare_check(studies["base"], studies["other"])
    # 3 subjects x 2 repetitions see only a large change: a pass, with the envelope's sensitivity said (review VC)
    assert other.document["verdict"]["status"] == "warn" and other.exit_code == 0


def test_a_baseline_whose_executions_all_failed_is_said_as_such(tmp_path: Path, versions: dict[str, Path]) -> None:
    """Every baseline run crashed: `compare` said "share no output; compare studies of the same application" (a
    review). It says that version has no result, exit 2."""
    crash = write_study(tmp_path / "crash", subjects=4, repetitions=4, interpreter="false")  # `false`: exit 1
    Study.load(crash).run(jobs=2, keep_going=True)  # not stopped early: how many ran would depend on timing
    with pytest.raises(InputError, match=r"crash/study.yaml: none of its 16 executions succeeded \(16 failed\): the"):
        compare_check(Study.load(crash), Study.load(versions["v1.8"]))


def test_the_execution_notes_of_either_study_reach_the_comparison() -> None:
    """A process left running in the new version's executions (its outputs may be half-written) was no alert of
    the comparison: its executions summary had no notes."""
    from reprovip.analyze.compare import _merged_notes

    where = dict(subject="sub-01", condition="-", repetition=1, id="e1", message="m")
    notes = {"left running": dict(count=1, message="m", executions=[where])}
    merged = _merged_notes([{}, dict(notes=notes)])
    assert merged == {"left running": dict(count=1, message="m", executions=[dict(where, version="current")])}
    both = _merged_notes([dict(notes=notes), dict(notes=notes)])
    assert both["left running"]["count"] == 2
    assert [e["version"] for e in both["left running"]["executions"]] == ["baseline", "current"]


def test_a_field_one_subject_writes_in_one_version_only_is_an_error(tmp_path: Path) -> None:
    """s2 writes `snr` under the baseline and not under the current version, which the other subjects write in
    both: a difference between that subject's executions, not a field the subject never writes (subjects
    have a layout of their own since a review's FreeSurfer table): its files are named, the output not judged."""

    def version(name: str, drop: bool) -> Study:
        files = {}
        for s in range(1, 5):
            for r in (1, 2, 3):
                doc = {"volume": 100.0 * s + 0.1 * r, "snr": 20.0 * s + 0.1 * r}
                if drop and s == 2:
                    del doc["snr"]
                files[(f"s{s}", r)] = {"fit.json": json.dumps(doc)}
        return ingested(tmp_path / name, "  fit: {path: fit.json, kind: scalars}\n", files)

    (out,) = compare_check(version("base", False), version("cur", True)).document["outputs"]
    assert {e["subject"] for e in out["errors"]} == {"s2"} and len(out["errors"]) == 3
    assert all("differ from the subject's other executions'" in e["error"] for e in out["errors"])
    assert "'snr'" in out["errors"][0]["error"] and out["verdict"]["status"] == "error"


def test_a_field_some_subjects_write_in_both_versions_is_compared(tmp_path: Path) -> None:
    """Only s1 writes `lesion` in both versions, 10 then 100: the field was "written only by the current version"
    (the baseline's most common file has none), dropped, and the comparison passed (a review)."""

    def version(name: str, lesion: float) -> Study:
        files = {}
        for s in range(1, 5):
            for r in (1, 2, 3):
                doc = {"volume": 100.0 * s + 0.1 * r}
                if s == 1:
                    doc["lesion"] = lesion + 0.01 * r
                files[(f"s{s}", r)] = {"fit.json": json.dumps(doc)}
        return ingested(tmp_path / name, "  fit: {path: fit.json, kind: scalars}\n", files)

    doc = compare_check(version("base", 10.0), version("cur", 100.0)).document
    (out,) = doc["outputs"]
    assert "version_layout" not in out and out["errors"] == []
    assert out["envelope"]["within_envelope"] is False and out["envelope"]["outside"] == ["lesion"]
    assert doc["verdict"]["status"] == "fail"


@pytest.mark.parametrize("written", [None, "failed", "120.5"])
def test_a_field_one_subject_writes_as_text_in_the_new_version_is_still_compared(
    tmp_path: Path, written: str | None
) -> None:
    """Review J (c14): under the new version s2 writes `gm` as null (or as text, or a quoted number) and every
    other subject's `gm` is 30% larger. `gm` was "written only by the current version" (the text counted as a
    field the baseline lacks), dropped from the comparison, and the gate passed with a warning, exit 0."""

    def version(name: str, scale: float, odd: bool) -> Study:
        files = {}
        for s in range(1, 5):
            for r in (1, 2, 3):
                doc: dict[str, object] = {"gm": scale * 100.0 * s + 0.1 * r, "wm": 50.0 * s + 0.1 * r}
                if odd and s == 2:
                    doc["gm"] = written
                files[(f"s{s}", r)] = {"fit.json": json.dumps(doc)}
        return ingested(tmp_path / name, "  fit: {path: fit.json, kind: scalars}\n", files)

    doc = compare_check(version("base", 1.0, False), version("cur", 1.3, True)).document
    (out,) = doc["outputs"]
    assert "version_layout" not in out and doc["compare"]["only_in_current"] == []
    assert {e["subject"] for e in out["errors"]} == {"s2"}  # its files differ between the versions
    assert out["envelope"]["within_envelope"] is False and "gm" in out["envelope"]["outside"]
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("fail", 1)


def test_a_field_one_subject_writes_na_is_still_tested_on_the_others(tmp_path: Path) -> None:
    """Review J (c15): under the new version s2 writes `NA` for gm and every other subject's gm is 30% larger: the
    non-finite observation left the envelope test, which read "within the baseline's run-to-run envelope" on
    wm (the verdict failed on the non-finite value only). It is tested over the subjects finite in it."""

    def version(name: str, scale: float, na: bool) -> Study:
        files = {}
        for s in range(1, 5):
            for r in (1, 2, 3):
                gm = "NA" if na and s == 2 else f"{scale * 100.0 * s + 0.1 * r:.4f}"
                files[(f"s{s}", r)] = {"vol.csv": f"tissue,volume\ngm,{gm}\nwm,{50.0 * s + 0.1 * r:.4f}\n"}
        return ingested(tmp_path / name, "  vol: {path: vol.csv, kind: table}\n", files)

    doc = compare_check(version("base", 1.0, False), version("cur", 1.3, True)).document
    (out,) = doc["outputs"]
    assert out["nonfinite_observations"] == 1
    assert out["envelope"]["within_envelope"] is False and out["envelope"]["outside"] == ["gm/volume"]
    assert out["envelope"]["worst_observation"] == "gm/volume"
    assert doc["verdict"]["status"] == "fail"


def test_a_new_version_that_keeps_the_skull_names_no_baseline_execution(tmp_path: Path) -> None:
    """Review P (compare_nan_bg): the new version keeps the skull (a non-zero background) in every execution;
    `images of every execution alike` compared each execution with the median over both versions and named the
    baseline's 12 executions as having lost their voxels. Executions are compared within their version."""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(7)
    grid = np.indices((12, 12, 8)).astype(float)
    brain = ((grid[0] - 5.5) ** 2 + (grid[1] - 5.5) ** 2 + (grid[2] - 3.5) ** 2) < 9
    anatomy = {s: np.where(brain, rng.uniform(50, 150, brain.shape), 0.0) for s in ("s1", "s2", "s3", "s4")}

    def version(name: str, skull: bool) -> Study:
        files = {}
        for s, a in anatomy.items():
            for r in (1, 2, 3):
                v = a + np.where(brain, rng.normal(0, 0.01, a.shape), 0.0)
                if skull:
                    v = np.where(brain, v, 30.0)
                files[(s, r)] = {"t1.nii": nib.Nifti1Image(v.astype(np.float32), np.eye(4)).to_bytes()}
        return ingested(tmp_path / name, "  t1: {path: t1.nii, kind: image}\n", files)

    doc = compare_check(version("base", False), version("cur", True)).document
    (out,) = doc["outputs"]
    assert out["voxelwise"].get("support_outliers", []) == []
    assert out["envelope"]["within_envelope"] is False and doc["verdict"]["status"] == "fail"


def test_a_version_changing_what_only_the_larger_brains_cover_leaves_the_envelope(tmp_path: Path) -> None:
    """Review V (d_shell): the first subject read, s1, has the smallest brain; the new version raises by 10% (20
    run-to-run SDs) the shell of the others' brains, which s1 does not cover. The voxels with metrics were s1's
    alone, the shell had none, and `compare` read "within the baseline's run-to-run envelope", exit 0. The
    other subjects' first volumes join the reference mask."""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(11)
    grid = np.indices((14, 14, 10)).astype(float)
    radius = np.sqrt((grid[0] - 6.5) ** 2 + (grid[1] - 6.5) ** 2 + (grid[2] - 4.5) ** 2)
    sizes = {"s1": 3.0, "s2": 4.5, "s3": 4.5, "s4": 4.5}
    anatomy = {s: np.where(radius < r, rng.uniform(80, 120, radius.shape), 0.0) for s, r in sizes.items()}

    def version(name: str, shell: float) -> Study:
        files = {}
        for s, a in anatomy.items():
            for r in (1, 2, 3):
                v = np.where(a > 0, a * (1 + rng.normal(0, 0.005, a.shape)), 0.0)
                v = np.where(radius >= 3.0, v * shell, v)
                files[(s, r)] = {"t1.nii": nib.Nifti1Image(v.astype(np.float32), np.eye(4)).to_bytes()}
        return ingested(tmp_path / name, "  t1: {path: t1.nii, kind: image}\n", files)

    doc = compare_check(version("base", 1.0), version("cur", 1.1)).document
    (out,) = doc["outputs"]
    shell = int(((radius >= 3.0) & (radius < 4.5)).sum())
    small = int((radius < 3.0).sum())
    assert out["voxelwise"]["summary"]["voxels_with_metrics"] == small + shell
    assert out["envelope"]["within_envelope"] is False
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("fail", 1)


def test_a_version_that_stops_writing_an_optional_output_is_said_so(tmp_path: Path) -> None:
    """Review A2: v2 never writes the optional mask v1 wrote; the mask's reason read "declared in the current
    study file but stored by none of its executions (declared after they ran); `reprovip run` stores it", whose
    advice changes nothing. The comparison still fails: the baseline's file is written by it only."""
    outputs = "  vol: {path: vol.csv, kind: table}\n  mask: {path: mask.csv, kind: table, optional: true}\n"

    def version(name: str, mask: bool) -> Study:
        files = {
            (f"s{s}", r): {"vol.csv": f"t,v\ngm,{100 * s + 0.1 * r}\n", **({"mask.csv": "t,v\nm,1\n"} if mask else {})}
            for s in range(1, 4)
            for r in (1, 2)
        }
        return ingested(tmp_path / name, outputs, files)

    doc = compare_check(version("base", True), version("cur", False)).document
    mask = next(o for o in doc["outputs"] if o["name"] == "mask")
    assert mask["error"] == (
        "declared optional and written by no execution of the current version, where the baseline's wrote mask.csv: "
        "nothing to compare"
    )
    assert doc["verdict"]["exit_code"] == 1


def test_a_version_whose_every_execution_failed_is_a_verdict_with_its_report(tmp_path: Path) -> None:
    """Review V: v2 stopped writing its declared output, so all its executions failed; `compare` exited 2 ("bad
    input") and wrote no JUnit. It is a verdict: not reproducible, its failures and the outputs only the
    baseline wrote said. A baseline with no result is still refused: nothing to compare with."""
    outputs = "  vol: {path: vol.csv, kind: table}\n"

    def version(name: str, writes: bool) -> Study:
        files = {
            (f"s{s}", r): ({"vol.csv": f"t,v\ngm,{100 * s + 0.1 * r}\n"} if writes else {"log.txt": "crashed\n"})
            for s in range(1, 4)
            for r in (1, 2)
        }
        return ingested(tmp_path / name, outputs, files)

    base, broken = version("base", True), version("cur", False)
    doc = compare_check(base, broken).document
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("fail", 1)
    assert doc["compare"]["only_in_baseline"] == ["vol/vol.csv"] and doc["executions"]["failed"] == 6
    with pytest.raises(InputError, match="the baseline has no result to compare with"):
        compare_check(broken, base)


@pytest.mark.parametrize("k", [2, 3])
def test_a_rebuild_stays_inside_where_only_the_largest_brains_reach(tmp_path: Path, k: int) -> None:
    """Review II: brains of radius 5 to 8 voxels, one code run twice with 1e-5 relative noise in every run: the
    voxels only the largest brain covers had its noise pooled with three background subjects' zeros (a quarter
    of it) on 8 degrees of freedom, and ~150 of them read "outside the envelope" (exit 1 for every release).
    The spread there is that subject's, on its own degrees of freedom; with k = 2 a voxel one subject covers
    rests on one and is not tested (counted). A 10% change of the two larger brains' shell is still outside."""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(3)
    grid = np.indices((20, 20, 20)) - 9.5
    radius = np.sqrt((grid**2).sum(axis=0))
    brains = {f"s{i}": np.where(radius < 5 + i, 100.0 + 10 * i + radius, 0.0) for i in range(4)}

    def version(name: str, shell: float = 0.0) -> Study:
        files = {}
        for s, brain in brains.items():
            moved = np.where(radius >= 6, brain * (1 + shell), brain)
            for r in range(1, k + 1):
                noisy = moved * (1 + rng.normal(0, 1e-5, moved.shape))
                files[(s, r)] = {"img.nii": nib.Nifti1Image(noisy.astype(np.float32), np.eye(4)).to_bytes()}
        return ingested(tmp_path / name, "  img: {path: img.nii, kind: image}\n", files)

    base = version("base")
    env = compare_check(base, version("same")).document["outputs"][0]["envelope"]
    assert env["within_envelope"] and env["outside_voxels"] == 0
    edge = int(np.count_nonzero((radius >= 7) & (radius < 8)))  # the largest brain's own shell
    assert env["untestable_voxels"] == (edge if k == 2 else 0)
    moved = compare_check(base, version("moved", shell=0.1)).document["outputs"][0]["envelope"]
    two = int(np.count_nonzero((radius >= 6) & (radius < 7)))  # the shell the two largest brains cover
    assert not moved["within_envelope"] and moved["outside_voxels"] == two + (0 if k == 2 else edge)


def test_a_version_that_moves_the_grid_is_named_for_it(tmp_path: Path) -> None:
    """Review II: a new version translating every image by 0.5 mm read "...different grids: the application's
    output geometry is not reproducible (the attribution names the factor, or run-to-run nondeterminism)" and the
    attribution said run-to-run nondeterminism; each version writes its own grid: the version is named."""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(2)

    def version(name: str, dx: float) -> Study:
        affine = np.eye(4)
        affine[0, 3] = dx
        files = {
            (s, r): {"img.nii": nib.Nifti1Image(rng.normal(100, 10, (4, 4, 4)), affine).to_bytes()}
            for s in ("s1", "s2", "s3")
            for r in (1, 2)
        }
        return ingested(tmp_path / name, "  img: {path: img.nii, kind: image}\n", files)

    doc = compare_check(version("base", 0.0), version("cur", 0.5)).document
    (out,) = doc["outputs"]
    assert out["errors"] and all(
        "not reproducible (version decides it: each of its levels writes its own grid)" in e["error"]
        for e in out["errors"]
    )


def test_a_baseline_with_nothing_stored_is_refused_and_left_untouched(
    tmp_path: Path, versions: dict[str, Path]
) -> None:
    """Review II: `compare` against a baseline folder holding only its study file answered in one line, exit 2,
    but left `.reprovip/catalog.sqlite` and a results folder in it (a restored CI artifact, written to)."""
    from reprovip.errors import NotFoundError

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(versions["v1.8"], bare / "study.yaml")
    with pytest.raises(NotFoundError, match="nothing stored yet"):
        compare_check(Study.load(bare / "study.yaml"), Study.load(versions["v1.9"]))
    assert sorted(p.name for p in bare.iterdir()) == ["study.yaml"]


@pytest.mark.parametrize(("edge", "inside"), [(0.003, True), (5.0, False)])
def test_a_voxel_agreeing_by_chance_in_a_noisy_image_is_judged_by_its_noise(
    tmp_path: Path, edge: float, inside: bool
) -> None:
    """Review W1: one code run twice, an image noisy at every voxel (SD 0.1 on 60-110) but for a few edge
    voxels the baseline's jitters left exactly 0 in every repetition: 0.003 there in the re-run read "outside
    the envelope" (|z| inf), exit 1. Where nearly every voxel varies between runs, such a voxel is judged
    against the condition's typical run-to-run noise: 0.003 is inside, 5 (50 SDs) is outside."""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(8)
    anatomy = {f"s{i}": rng.uniform(60, 110, (8, 8, 8)) for i in range(4)}

    def version(name: str, value: float) -> Study:
        files = {}
        for s, brain in anatomy.items():
            for r in range(1, 4):
                img = brain + rng.normal(0, 0.1, brain.shape)
                img[0, 0, :4] = value if r == 1 else 0.0  # the edge: 0 in every baseline repetition
                files[(s, r)] = {"img.nii": nib.Nifti1Image(img.astype(np.float32), np.eye(4)).to_bytes()}
        return ingested(tmp_path / name, "  img: {path: img.nii, kind: image}\n", files)

    env = compare_check(version("base", 0.0), version("again", edge)).document["outputs"][0]["envelope"]
    assert env["within_envelope"] is inside
    if not inside:
        assert env["outside_voxels"] == 4
        assert "of the condition's typical run-to-run SDs: its baseline repetitions agree there" in env["detail"]


def test_a_softmax_voxel_agreeing_by_chance_borrows_the_noise_of_its_magnitude(tmp_path: Path) -> None:
    """Review DL: a softmax map compared with a re-run of itself; at voxels near 1 one subject's three baseline
    runs held the same float32 by chance and the re-run moved by 2.9e-6, judged against the condition's median
    noise, that of the near-zero channels (1e-20): "outside", exit 1. Such a voxel borrows the noise of the
    voxels of its order of magnitude. A region deterministic in both versions (review RG) keeps "any change"."""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(12)
    anatomy = {f"s{i}": rng.uniform(0.9, 0.999, (10, 10, 10)) for i in range(4)}
    tiny = np.zeros((10, 10, 10), bool)
    tiny[:6] = True  # most voxels: a near-zero channel

    def version(name: str, chance: bool, region: float = 1.0) -> Study:
        files = {}
        for s, brain in anatomy.items():
            for r in range(1, 4):
                img = np.where(
                    tiny, 1e-20 * (1 + rng.normal(0, 1e-3, brain.shape)), brain + rng.normal(0, 1e-6, brain.shape)
                )
                if chance and s == "s1":
                    img[8, 0, :3] = brain[8, 0, :3]  # the baseline's runs agree there
                img[9, 9, :] = brain[9, 9, :] * region  # deterministic in every version
                files[(s, r)] = {"p.nii": nib.Nifti1Image(img.astype(np.float64), np.eye(4)).to_bytes()}
        return ingested(tmp_path / name, "  p: {path: p.nii, kind: image}\n", files)

    base = version("base", chance=True)
    env = compare_check(base, version("again", chance=False)).document["outputs"][0]["envelope"]
    assert env["within_envelope"], env["detail"]
    moved = compare_check(base, version("moved", chance=False, region=1.0 + 1e-9)).document["outputs"][0]["envelope"]
    assert not moved["within_envelope"] and "with no run-to-run noise in the baseline" in moved["detail"]


def test_studies_that_ignore_different_observations_are_refused(tmp_path: Path) -> None:
    """Review R4: the current study's `ignore: [start_time, "tim*"]` also matched `time_to_peak`, which the
    baseline judged; the release moved it by 20% and `compare` passed. Different `ignore` lists are refused; the
    same ones, added after the runs, compare without running anything again (the recipe does not hold them)."""
    for version, scale in (("v1", 1.0), ("v2", 1.2)):
        for s in ("s1", "s2", "s3"):
            for r in (1, 2):
                folder = tmp_path / "results" / version / s / f"run-{r}"
                folder.mkdir(parents=True)
                ttp = scale * (5.0 + int(s[-1])) + 0.001 * r
                (folder / "p.json").write_text(json.dumps({"time_to_peak": ttp, "timing_s": 3.0 * r + int(s[-1])}))
    studies = {}
    for version, ignore in (("v1", "[timing_s]"), ("v2", '["tim*"]')):
        (tmp_path / version).mkdir()
        (tmp_path / version / "study.yaml").write_text(
            f"outputs:\n  p: {{path: p.json, kind: scalars, ignore: {ignore}}}\n"
        )
        studies[version] = Study.load(tmp_path / version / "study.yaml")
        studies[version].ingest(f"../results/{version}/{{subject}}/run-{{repetition}}")
    with pytest.raises(
        InputError, match=r"output 'p' ignores \['tim\*'\] where .*v1/study.yaml ignores \['timing_s'\]"
    ):
        compare_check(studies["v1"], studies["v2"])
    (tmp_path / "v2" / "study.yaml").write_text("outputs:\n  p: {path: p.json, kind: scalars, ignore: [timing_s]}\n")
    result = compare_check(studies["v1"], Study.load(tmp_path / "v2" / "study.yaml"))
    assert result.exit_code == 1 and result.document["outputs"][0]["envelope"]["outside"] == ["time_to_peak"]


def test_a_subject_whose_input_differs_between_the_studies_is_named(tmp_path: Path) -> None:
    """Review E: the same application in both stores, only `data/sub-01.txt` edited in the current one: "version
    changes the result of some subjects only (sub-01 ...)". The input's difference is said, a failure of the
    comparison, and without a changed result the verdict is not analysable."""
    paths = {}
    for name in ("base", "cur"):
        paths[name] = write_study(
            tmp_path / name, app="versioned_app.py", subjects=3, repetitions=2, args=_args(1.0, "v", 0.0)
        )
        if name == "cur":
            (tmp_path / name / "data" / "sub-01.txt").write_text("subject 10.0 \n")  # other bytes, same value
        Study.load(paths[name]).run()
    doc = compare_check(Study.load(paths["base"]), Study.load(paths["cur"])).document
    assert doc["compare"]["inputs_differ"] == ["sub-01"]
    (alert,) = [a for a in doc["alerts"] if a.get("inputs_differ")]
    assert alert["severity"] == "fail" and alert["message"].startswith("the input of 1 subject(s) differs")
    assert doc["verdict"]["status"] == "error"
