"""Built-in reasons' messages on degenerate values."""

from __future__ import annotations

from reprovip.criteria.builtin import builtin_reasons


def test_an_icc_undefined_without_the_far_subject_is_said_not_a_crash() -> None:
    """The other subjects' values all equal: the ICC without the far one is 0/0 (None in the document), and the
    message crashed the analysis with a TypeError (a review's folders beside real subjects)."""
    lean = dict(subject="sub-analysis", **{"with": 0.97, "without": None})
    out = dict(name="o", kind="table", observations=[dict(name="a/v", icc_leans_on=lean)], bitwise={})
    (why,) = [r for r in builtin_reasons(out) if r["criterion"] == "ICC on every subject"]
    assert why["message"].endswith("a/v: ICC(A,1) 0.97 with subject sub-analysis, undefined (0/0) without it")


def test_files_that_differ_where_the_study_ignores_say_so() -> None:
    """Review R4: files differing in an ignored value read "every number read from them is identical", and the
    ignored `time_to_peak` had varied by 10%: the values the study ignores are not read, and the message says so."""
    ignored = dict(count=2, names=["start_time", "time_to_peak"], patterns=["start_time", "tim*"], unmatched=[])
    out = dict(name="o", kind="scalars", observations=[], unmeasured_differences=5, ignored_observations=ignored)
    (why,) = [r for r in builtin_reasons(out) if "differ between executions" in r["message"]]
    assert (
        "while every number judged is identical: the difference is in what the study ignores (start_time; "
        in (why["message"])
    )
    assert "number read from them is identical" not in why["message"] and why["severity"] == "warn"


def test_the_ignored_values_that_differ_are_named() -> None:
    """Review QC: a 1000-fold change of an ignored `EchoTime` was listed among ignored values that never changed."""
    ignored = dict(count=3, names=["a", "echo", "z"], patterns=["*"], unmatched=[], differ=["echo"])
    out = dict(name="o", kind="scalars", observations=[], unmeasured_differences=2, ignored_observations=ignored)
    (why,) = [r for r in builtin_reasons(out) if "differ between executions" in r["message"]]
    assert "what the study ignores (differing: echo: not compared)" in why["message"]


def test_label_maps_with_no_label_are_not_analysable_and_zero_images_warn() -> None:
    """LB5: all-zero label maps have no region to compare (not analysable, as a header-only table); an all-zero
    image is still compared voxel by voxel (a warning)."""
    vox = dict(summary=dict(mask_voxels=0, voxels=216, nonfinite_subjects=[]))
    for kind, severity, estimable in (("labels", "fail", False), ("image", "warn", True)):
        out = dict(name="o", kind=kind, observations=[], voxelwise=vox, bitwise={})
        (why,) = [r for r in builtin_reasons(out) if r["criterion"] == "something in the images"]
        assert (why["severity"], why["estimable"]) == (severity, estimable)


def test_a_file_readable_in_some_executions_only_is_a_failure_not_an_error() -> None:
    """NH F2: a file that opens in one run and not in another of the same subject is a reproducibility failure
    (estimable); files that open nowhere are not analysable."""
    errors = [dict(subject="s1", condition="-", repetition=2, error="/b/x.nii.gz: its name says .nii.gz but ...")]
    for some, estimable in ((["s1"], True), ([], False)):
        out = dict(name="o", kind="image", observations=[], errors=errors, bitwise=dict(decoded_in_some=some))
        (why,) = [r for r in builtin_reasons(out) if r["criterion"] == "outputs readable"]
        assert (why["severity"], why["estimable"]) == ("fail", estimable)
        assert why["message"].startswith("the files of 1 subject(s) (s1) can be read") is estimable


def test_versions_sharing_no_observation_say_so_not_that_no_number_was_read() -> None:
    """Review AR: a new version renamed its column `volume` to `volume_mm3`; the output read "no number could be
    read from this table output ... declare `kind: bytes`", though both versions' numbers were read."""
    layout = {"r1/volume": {"baseline": "number"}, "r1/volume_mm3": {"current": "number"}}
    out = dict(name="o", kind="table", observations=[], version_layout=layout, bitwise={})
    (why,) = [r for r in builtin_reasons(out) if r["criterion"] == "numbers found"]
    assert why["message"] == (
        "no observation is written by every compared version, so no number was compared: r1/volume (baseline only); "
        "r1/volume_mm3 (current only)"
    )


def test_a_subject_with_a_repetition_beyond_the_design_is_said_so(tmp_path) -> None:
    """Review E: a leftover `sub-01/run-4` beside runs 1-3 read "sub-01 (4 of 3)" under "incomplete: executions
    failed or not run", nothing failed: the message says the subject has more executions than the design."""
    from tests.conftest import ingested

    files = {(f"s{s}", r): {"r.json": f'{{"v": {s}.5}}'} for s in range(1, 4) for r in (1, 2, 3)}
    files[("s1", 4)] = {"r.json": '{"v": 9.5}'}
    (out,) = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document["outputs"]
    (left,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "every subject in the metrics"]
    assert "s1 (4 of 3: more executions than the design's, a repetition beyond the other subjects'?)" in left["message"]


def test_an_output_whose_every_number_is_ignored_says_so(tmp_path) -> None:
    """Review B: with `ignore: ["*"]`, "numbers found" read "no number could be read ... declare `kind: bytes`"."""
    from tests.conftest import ingested

    files = {(f"s{s}", r): {"r.json": f'{{"v": {s}.{r}}}'} for s in range(1, 4) for r in (1, 2)}
    doc = ingested(tmp_path, '  r: {path: r.json, kind: scalars, ignore: ["*"]}\n', files).analyze().document
    (found,) = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"] == "numbers found"]
    assert found["message"].startswith("every number read from this output is one the output's `ignore` leaves out (*")
    assert doc["verdict"]["status"] != "pass"


def test_executions_unlike_their_subject_all_under_one_level_name_the_factor() -> None:
    """Review G: a T2 map written in ms under threads=2 and in s under threads=1 (3 repetitions): the subject's
    median fell between the levels and every threads=1 execution was called "a silent failure?"."""
    outliers = [
        dict(subject=s, condition="threads=1,seed=42", repetition=r, measure="mean |value|", value=13.7, typical=6875.0)
        for s in ("sub-01", "sub-02")
        for r in (1, 2)
    ]
    vox = dict(summary=dict(support_outliers=4), support_outliers=outliers)
    factors = {"threads": dict(levels={"1": {}, "2": {}}), "seed": dict(levels={"42": {}})}  # seed: one level
    out = dict(name="t2", kind="image", observations=[], voxelwise=vox, bitwise=dict(factors=factors))
    (why,) = [r for r in builtin_reasons(out) if r["criterion"] == "images of every execution alike"]
    assert why["message"].endswith(
        "; every one of them under threads=1: the levels of threads give images of another magnitude or extent "
        "(threads changes the result: a unit, a scaling, or a failure under one level), the executions of either "
        "level may be the ones that changed"
    )
    outliers[0]["condition"] = "threads=2,seed=42"  # under both levels: no level to name
    (why,) = [r for r in builtin_reasons(out) if r["criterion"] == "images of every execution alike"]
    assert "every one of them under" not in why["message"]
