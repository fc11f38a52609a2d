"""Paths to a false pass found in review, each closed: data that cannot support a verdict never reads as a pass.

Real studies of ``tests/apps/edge_app.py`` (see ``edge_study``), altered the way a killed run, a new version or
a hand-edited store would leave them.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from reprovip.analyze.compare import compare_studies
from reprovip.cli.main import main
from reprovip.criteria.evaluate import VALUES_ONLY
from reprovip.criteria.verdict import deciding_reason
from reprovip.store import BlobStore
from reprovip.store import schema as s
from reprovip.study import Study
from tests.conftest import ingested, ingested_folders, write_study
from tests.criteria.test_one_verdict import edge_study


def test_executions_that_never_finished_make_the_study_incomplete(study_dir: Path) -> None:
    """A run killed before repetition 2: its executions are pending, their outputs absent. Before: "0 of 9
    executions failed ... reproducible (bit-for-bit identical)", exit 0."""
    study = edge_study(study_dir, "ok", repetitions=3)
    sid = study.catalog.study_id(study.name)
    with study.catalog.engine.begin() as conn:
        conn.execute(update(s.executions).where(s.executions.c.repetition == 2).values(status="pending"))
        ids = [r["id"] for r in study.catalog.executions(sid, status="pending")]
        conn.execute(s.outputs.delete().where(s.outputs.c.execution_id.in_(ids)))
    doc = study.analyze().document
    assert doc["executions"]["not_done"] == 3 and doc["verdict"]["status"] == "incomplete"
    assert any("3 of 9 executions never finished" in a["message"] for a in doc["alerts"])
    # the summary line says them (review A: "0 of 9 executions failed" right above "incomplete")
    assert doc["verdict"]["summary"].endswith("0 of 9 executions failed, 3 not done")
    assert study.check(reanalyze=False).exit_code == 3


def test_a_study_level_criterion_does_not_replace_an_outputs_criteria(study_dir: Path) -> None:
    """`failure_rate <= 0.1` alone said nothing about the values: the outputs get their defaults too."""
    study = edge_study(study_dir, "large-noise", repetitions=3, extra='criteria: ["failure_rate <= 0.1"]\n')
    out = study.analyze().document["outputs"][0]
    assert [r["criterion"] for r in out["verdict"]["reasons"]] == ["failure_rate <= 0.1", "ICC(A,1).ci_low >= 0.9"]
    assert out["verdict"]["status"] == "fail"


def test_a_file_some_executions_did_not_write_fails_the_output(study_dir: Path, tmp_path: Path) -> None:
    """A glob output whose second file exists in some repetitions only: the bitwise check compared only the
    files that exist and read "identical"."""
    study = edge_study(study_dir, "ok", repetitions=2, outputs="  result: {path: '*.json', kind: scalars}\n")
    sid = study.catalog.study_id(study.name)
    extra = BlobStore(study.store).path(study.catalog.outputs(sid)[0]["blob"], ".json")
    with study.catalog.engine.begin() as conn:  # as if repetition 1 of each subject also wrote extra.json
        for r in study.catalog.executions(sid):
            if r["repetition"] == 1:
                conn.execute(
                    s.outputs.insert().values(
                        execution_id=r["id"],
                        name="result",
                        relpath="extra.json",
                        kind="scalars",
                        blob=study.catalog.outputs(sid)[0]["blob"],
                        suffix=".json",
                        size=extra.stat().st_size,
                        missing=False,
                    )
                )
    doc = study.analyze().document
    extra_out = next(o for o in doc["outputs"] if o["name"] == "result/extra.json")
    (reason,) = [r for r in extra_out["verdict"]["reasons"] if r["criterion"] == "written by every execution"]
    assert not reason["passed"] and reason["value"] == 3 and "subject sub-01, repetition 2" in reason["message"]
    assert extra_out["verdict"]["status"] == "fail" and doc["verdict"]["status"] == "fail"


def test_no_reanalyze_refuses_a_verdict_made_with_other_criteria_or_executions(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, only the criterion text was compared: a severity change, or new executions, kept the old verdict."""
    path = study_dir / "study.yaml"
    study = edge_study(
        study_dir, "large-noise", extra='criteria: [{require: "ICC(A,1).ci_low >= 0.9", severity: warn}]\n'
    )
    study.analyze()
    assert main(["check", str(path), "--no-reanalyze"]) == 0
    path.write_text(path.read_text().replace("severity: warn", "severity: fail"))
    capsys.readouterr()
    assert main(["check", str(path), "--no-reanalyze"]) == 2
    assert "the criteria changed since the stored analysis" in capsys.readouterr().err
    assert main(["analyze", str(path)]) == 0
    Study.load(path).run(force=True)
    capsys.readouterr()
    assert main(["check", str(path), "--no-reanalyze"]) == 2
    assert "executions changed since the stored analysis" in capsys.readouterr().err
    assert main(["check", str(path)]) == 1


def test_an_output_only_one_version_writes_fails_the_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, `only_in_baseline` was recorded and read by nothing: a version that stops writing an output passed."""
    result = "  result: {path: result.json, kind: scalars}\n"
    for name, outputs in (("base", result + "  copy: {path: result.json, kind: bytes}\n"), ("cur", result)):
        (tmp_path / name).mkdir()
        edge_study(tmp_path / name, "ok", outputs=outputs)
    doc = compare_studies(Study.load(tmp_path / "base" / "study.yaml"), Study.load(tmp_path / "cur" / "study.yaml"))
    assert doc["compare"]["only_in_baseline"] == ["copy/result.json"]
    assert doc["outputs"][0]["verdict"]["status"] == "identical" and doc["verdict"]["status"] == "fail"
    message = "copy/result.json is written only by the baseline version"
    assert {"output": "copy/result.json", "severity": "fail", "message": message} in doc["alerts"]
    # The console names it too: it read "not reproducible" under a list of checks that all passed (a review).
    from reprovip.cli.check import print_lines

    print_lines(doc, strict=False)
    out = capsys.readouterr().out
    assert f"  - {message}\n" in out and re.search(r"^study alerts\.+Failed$", out, re.MULTILINE)


def test_a_symlinked_blob_folder_is_never_read(study_dir: Path, tmp_path: Path) -> None:
    study = edge_study(study_dir, "ok")
    shard = next(p for p in (study.store / "blobs").iterdir() if p.is_dir())
    moved = tmp_path / "elsewhere"
    shard.rename(moved)
    shard.symlink_to(moved)
    doc = study.analyze().document
    out = doc["outputs"][0]
    assert any("symbolic link" in e["error"] for e in out["errors"])
    assert doc["verdict"]["status"] not in ("identical", "pass", "warn")


def test_warn_only_criteria_that_cannot_be_computed_are_not_a_pass(study_dir: Path) -> None:
    study = edge_study(
        study_dir, "inf-always", extra='criteria: [{require: "wcv <= 0.1", severity: warn, observations: [ratio]}]\n'
    )
    out = study.analyze().document["outputs"][0]
    assert out["verdict"]["status"] == "error"


def test_the_deciding_reason_is_the_one_that_set_the_status() -> None:
    verdict = {
        "status": "fail",
        "reasons": [
            {"criterion": "outputs readable", "severity": "fail", "passed": False, "estimable": False},
            {"criterion": "ICC(A,1).ci_low >= 0.9", "severity": "fail", "passed": False, "estimable": True},
        ],
    }
    assert deciding_reason(verdict)["criterion"] == "ICC(A,1).ci_low >= 0.9"
    assert json.dumps(deciding_reason({"reasons": []})) == "null"


@pytest.mark.parametrize(
    ("unseen", "differ_fraction", "status"), [(3, 0.5, "warn"), (200, 0.5, "warn"), (900, 0.95, "error")]
)
def test_voxel_differences_no_metric_covers_are_a_warning(unseen, differ_fraction, status) -> None:
    """Unit level: an image whose metric maps pass while voxels differ outside them (zero in the volume read
    first) is not a clean pass. A warning while they are a minority of the differing voxels: a failure beyond a
    share of the mask failed native-space studies whose subjects differ in size, depending on which subject was
    read first (second review). Most of them unjudged, the verdict cannot rest on the metric maps (a later
    review's first subject had a 27-voxel map): not estimable."""
    from reprovip.criteria.evaluate import evaluate

    cells = [dict(subject=f"s{i}", condition="-", n=2) for i in range(3)]
    summary = {
        "voxel_icc_a1_median": 0.99,
        "voxel_icc_a1_p05": 0.9,
        "voxel_poor_fraction": 0.01,
        "differ_without_metrics": unseen,
        "mask_voxels": 1000,
        "differ_fraction": differ_fraction,
    }
    doc = {
        "study": {"name": "s"},
        "executions": {"total": 6, "failed": 0, "not_done": 0, "failure_rate": 0.0},
        "outputs": [
            {
                "name": "img",
                "kind": "image",
                "bitwise": {"identical": False, "cells": cells},
                "observations": [],
                "summary": summary,
                "voxelwise": {"maps": {"sd": "x"}, "summary": summary},
            }
        ],
    }
    evaluate(doc, None)
    reasons = {r["criterion"]: r for r in doc["outputs"][0]["verdict"]["reasons"]}
    assert reasons["voxel_icc_a1_median >= 0.9"]["passed"]
    unseen_reason = reasons["differences covered by the voxel metrics"]
    assert not unseen_reason["passed"] and unseen_reason["severity"] == ("warn" if status == "warn" else "fail")
    assert doc["outputs"][0]["verdict"]["status"] == status and doc["verdict"]["status"] == status


@pytest.mark.parametrize("mode", ["string-flips", "string-flips-noisy"])
def test_a_string_that_flips_between_runs_is_not_a_silent_pass(study_dir: Path, mode: str) -> None:
    """A JSON string that changes between runs (a diagnosis that flips), next to deterministic numbers or to a
    number with run-to-run noise far below the spread between subjects. Before: "sufficiently reproducible",
    nothing said (first review for the first, second review for the second: the files differed, and a number
    did too, so no warning was given); then a warning only, exit 0 (review QC's `qc_decision`): a word that
    differs between repetitions of one condition is a categorical result that is not reproducible, a failure."""
    study = edge_study(study_dir, mode, repetitions=4)
    doc = study.analyze().document
    (out,) = doc["outputs"]
    assert not out["bitwise"]["identical"] and "text_differences" not in out
    fields = out["categorical_differences"]["fields"]
    assert list(fields) == ["diagnosis"] and fields["diagnosis"]["words"] == ["healthy", "tumour"]
    reason = next(r for r in out["verdict"]["reasons"] if r["criterion"] == "categorical values alike")
    assert (reason["severity"], reason["passed"], reason["observation"]) == ("fail", False, "diagnosis")
    assert "diagnosis: 'healthy' / 'tumour' (sub-01); if a field is no result" in reason["message"]
    assert doc["verdict"]["status"] == "fail" and study.check(reanalyze=False).exit_code == 1


def _analysed_image_app(study_dir: Path, app: str, outputs: str, subjects: int, extra: str = "") -> tuple[dict, dict]:
    """Run ``tests/apps/APP INPUT OUTDIR REPETITION`` over ``subjects`` x 2 repetitions; the analysis and its
    only output."""
    path = write_study(
        study_dir,
        app=app,
        args='"{input}", "{outdir}", "{repetition}"',
        subjects=subjects,
        repetitions=2,
        outputs=outputs,
        extra=extra,
    )
    study = Study.load(path)
    assert study.run(jobs=2).done == 2 * subjects
    doc = study.analyze().document
    (out,) = doc["outputs"]
    return doc, out


def test_labels_that_swap_sides_fail_though_their_volumes_do_not_change(study_dir: Path) -> None:
    """Left and right structures swap labels in repetition 2: volumes (hence their ICC) are unchanged, Dice is 0.
    Before: "sufficiently reproducible, with warnings", exit 0 (review); the default now fails below 0.5."""
    doc, out = _analysed_image_app(study_dir, "mirror_app.py", "  seg: {path: seg.nii.gz, kind: labels}\n", 3)
    assert out["segmentation"]["dice_min"] == 0.0
    assert all(o["identical"] for o in out["observations"])  # label volumes: the same in every execution
    failed = [r for r in out["verdict"]["reasons"] if not r["passed"]]
    # the label it comes from is named (second review), and where its voxels went (review DL: a swap)
    where = (
        "label 1 (subject sub-01, repetition 1 against repetition 2), whose voxels carry label 2 in the other execution"
    )
    assert [(r["criterion"], r["severity"], r["observation"]) for r in failed] == [
        ("dice_min >= 0.8", "fail", where),
        ("dice_min >= 0.95", "warn", where),
    ]
    assert "label 1" in failed[0]["message"]
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("fail", 1)


@pytest.mark.parametrize(
    ("criteria", "failing"),
    [
        ("", ["voxel_poor_fraction <= 0.01", "voxel_poor_fraction <= 0.002", "voxel_icc_a1_p05 >= 0.5"]),
        ('criteria: ["voxel_icc_a1_median >= 0.9", "voxel_icc_a1_p05 >= 0.5"]\n', None),
    ],
    ids=["defaults", "declared"],
)
def test_an_image_garbled_in_40_percent_of_its_voxels_is_caught_by_the_5th_percentile(
    study_dir: Path, criteria: str, failing: list[str] | None
) -> None:
    """Repetition 2 replaces 40% of each subject's ball with noise: the median voxel ICC(A,1) stays high; the
    5th percentile falls in the poor band. The defaults warned on it (they passed it with nothing said, found by
    two reviews); they fail it now, as does a study that declares the 5th percentile: 40% of the voxels spread
    by more than a third of the subjects' typical SD (reviews FS, R2: a warning let it pass)."""
    img = "  img: {path: img.nii.gz, kind: image}\n"
    doc, out = _analysed_image_app(study_dir, "garbage_app.py", img, 4, extra=criteria)
    vox = out["voxelwise"]["summary"]
    assert vox["icc_a1_median"] >= 0.9 and vox["icc_a1_p05"] < 0.5 and vox["poor_fraction"] > 0.3
    failed = [r["criterion"] for r in out["verdict"]["reasons"] if not r["passed"]]
    # the declared criteria keep the poor-fraction safeguard beside the declared p05
    assert failed == (
        failing or ["voxel_icc_a1_p05 >= 0.5", "voxel_poor_fraction <= 0.01", "voxel_poor_fraction <= 0.002"]
    )
    assert doc["verdict"]["status"] == "fail"


def test_images_that_differ_in_their_header_only_are_not_a_silent_pass(study_dir: Path) -> None:
    """Metres in repetition 2, millimetres in 1, the same voxels: the semantic hash (v2) tells them apart, no
    voxel metric can. Before: "sufficiently reproducible", nothing said (second review)."""
    doc, out = _analysed_image_app(study_dir, "header_app.py", "  img: {path: img.nii.gz, kind: image}\n", 3)
    assert out["voxelwise"]["summary"]["differ_fraction"] == 0 and not out["bitwise"]["identical"]
    assert out["unmeasured_differences"] == 3
    (failure,) = [r for r in out["verdict"]["reasons"] if not r["passed"]]
    # the spatial unit says where the voxels are: a failure (review NH: header changes of meaning only warned)
    assert failure["criterion"] == "differences covered by the observations" and failure["severity"] == "fail"
    assert "every voxel is identical: the difference is in the image header" in failure["message"]
    assert doc["verdict"]["status"] == "fail"


def test_identical_values_in_files_whose_bytes_differ_say_so(study_dir: Path) -> None:
    """The verdict is identity of the decoded values (the semantic hash); a review found it read "bit-for-bit
    identical" with no word that the files themselves differ (quoting, line endings, indentation)."""
    study = edge_study(study_dir, "formatting")
    doc = study.analyze().document
    (out,) = doc["outputs"]
    assert out["bitwise"]["bytes_identical"] is False and out["verdict"]["status"] == "identical"
    assert out["verdict"]["reasons"][-1]["message"].endswith(f"; {VALUES_ONLY}")
    assert doc["verdict"]["summary"].startswith(
        "1 of 1 outputs identical (1 in their decoded values only: the files' bytes differ); "
    )
    # nor "bit-for-bit" in the label every view shows (review NH F6: a checksum of the files contradicts it)
    assert doc["verdict"]["label"] == "reproducible (identical in decoded values; the files' bytes differ)"
    # the output's own line said "bit-for-bit identical across all executions" (a review)
    assert out["attribution"]["summary"].startswith("identical across all executions in its decoded values (the ")


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("r.json", "scalars", "count"),
        ("r.npy", "array", "data[0]"),
        ("r.csv", "table", "a/count"),
        ("r.log", "text", "line1:0"),
    ],
)
def test_integers_beyond_2_53_that_differ_only_exactly_are_not_a_pass(
    tmp_path: Path, name: str, kind: str, expected: str
) -> None:
    """2**60 + 1, + 2, + 3 are one float64: the metrics read the executions as identical, and the study read
    "sufficiently reproducible, with warnings" (reviews' .npy, JSON, CSV and log cases). Numbers that float64 tells
    apart, and the integers that are the same in every execution (7), are not named."""
    import numpy as np

    def content(big: int) -> str | bytes:
        if kind == "scalars":
            return json.dumps({"count": big, "n": 7})
        if kind == "table":
            return f"k,count,n\na,{big},7\n"
        if kind == "text":
            return f"voxels {big} n 7\n"
        buf = io.BytesIO()
        np.save(buf, np.array([big, 7], dtype=np.int64))
        return buf.getvalue()

    files = {(s, r): {name: content(base + r)} for s, base in (("s1", 2**60), ("s2", 2**61)) for r in (1, 2, 3)}
    doc = ingested(tmp_path, f"  r: {{path: {name}, kind: {kind}}}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["inexact_differences"] == {"count": 1, "names": [expected]}
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences the metrics measure"]
    assert not why["estimable"] and why["message"].startswith(
        "1 observation(s) hold numbers float64 cannot hold exactly (integers beyond 2**53, decimals written with more "
        f"digits than float64 keeps) that differ between executions of a subject while their float64 values are equal "
        f"({expected}): no metric measures the difference"
    )
    assert doc["verdict"]["status"] == "error"


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("r.json", "scalars", "x"),
        ("r.csv", "table", "a/x"),
        ("r.log", "text", "line1:0"),
        ("r.npy", "array", "data[0]"),
    ],
)
def test_decimals_longer_than_float64_that_differ_only_in_their_last_digits_are_not_a_pass(
    tmp_path: Path, name: str, kind: str, expected: str
) -> None:
    """A long double printed in full: 0.1000000000000000055511151231257821, ...22, ...23 are one float64 (0.1);
    so are long doubles 1 and 2 ulps apart in a `.npy`.
    The JSON's semantic hash and the metrics read the executions as identical: "bit-for-bit identical" (the
    note of session 9). The same digits in every execution (y) are not named, nor is a float64 printed with 17
    digits (z: its own shortest repr differs, but it is the same in every execution)."""

    def content(digits: str, r: int) -> str | bytes:
        x = f"{digits}2{r}"
        if kind == "array":  # a long double array (float128 on disk), one more ulp per repetition
            import numpy as np

            x = np.longdouble(digits[:3])
            for _ in range(r - 1):
                x = np.nextafter(x, np.longdouble(1))
            buf = io.BytesIO()
            np.save(buf, np.array([x, 3], dtype=np.longdouble))
            return buf.getvalue()
        if kind == "scalars":
            return f'{{"x": {x}, "y": 0.33333333333333333333333, "z": 0.10000000000000001}}'
        if kind == "table":
            return f"k,x,y\na,{x},0.33333333333333333333333\n"
        return f"x {x} y 0.33333333333333333333333\n"

    subjects = {"s1": "0.10000000000000000555111512312578", "s2": "0.20000000000000001110223024625156"}
    files = {(sub, r): {name: content(digits, r)} for sub, digits in subjects.items() for r in (1, 2, 3)}
    doc = ingested(tmp_path, f"  r: {{path: {name}, kind: {kind}}}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["inexact_differences"] == {"count": 1, "names": [expected]}
    assert out["bitwise"]["identical"] is False
    assert doc["verdict"]["status"] == "error"


def test_an_interval_written_as_a_tuple_is_measured(tmp_path: Path) -> None:
    """A CI written `[1234.56, 9999.5]` was a number written as text (not analysable when it differed); a tuple
    of numbers is read element by element (review RD), so its 30% change is measured and fails."""
    files = {
        (s, r): {"r.tsv": f"k\tci\na\t[{base * (1 + 0.3 * r):.2f}, 9999.5]\n"}
        for s, base in (("s1", 400.0), ("s2", 900.0), ("s3", 1500.0))
        for r in (1, 2, 3)
    }
    doc = ingested(tmp_path, "  r: {path: r.tsv, kind: table}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert {o["name"] for o in out["observations"]} == {"a/ci[0]", "a/ci[1]"}
    assert doc["verdict"]["status"] == "fail"


@pytest.mark.parametrize(
    ("name", "kind", "content", "field", "example"),
    [
        ("r.csv", "table", "k,vol\na,{v:.1f} mm3\n", "vol", "mm3"),
        ("r.csv", "table", 'k,n\na,"2,{v:.1f}"\n', "n", "2,"),
        # numbers among '<LOD' cells: the column is text, its numbers no observation
        ("r.csv", "table", "k,conc\na,<LOD\nb,<LOD\nc,{v:.1f}\n", "conc", ""),
        ("r.json", "scalars", '{{"volume_ml": "{v:.2f}", "n": 3}}', "volume_ml", ""),
        # a review's misses: superscript units, an uncertainty, a Unicode minus, a unit in brackets
        ("r.json", "scalars", '{{"vol": "{v:.1f} mm\u00b3"}}', "vol", "mm"),
        ("r.json", "scalars", '{{"vol": "\u2212{v:.1f} \u00b1 0.5 [ml]"}}', "vol", ""),
        # session 9's review: LCModel's CRLB beside the value, a mean (SD), a flag, a CI, Fortran's exponent
        ("r.tsv", "table", "k\tconc\na\t{v:.3f} (4%)\n", "conc", "(4%)"),
        ("r.tsv", "table", "k\tm\na\t{v:.2f} (0.12)\n", "m", "(0.12)"),
        ("r.json", "scalars", '{{"effect": "{v:.2f}*"}}', "effect", "*"),
        ("r.json", "scalars", '{{"c": "{v:.4f}D-01"}}', "c", "D-01"),
    ],
    ids=[
        "unit",
        "thousands",
        "below-detection",
        "json-string",
        "superscript-unit",
        "minus-uncertainty",
        "crlb",
        "mean-sd",
        "flag",
        "fortran",
    ],
)
def test_numbers_written_as_text_that_differ_are_not_analysable(
    tmp_path: Path, name: str, kind: str, content: str, field: str, example: str
) -> None:
    """A review's headline values varied by 30% between repetitions and read "with warnings" (exit 0), kept as
    text: '4231.7 mm3', '2,341.9', numbers among '<LOD' cells, a JSON "1234.56". Numbers written as text that
    differ are numbers no metric measures: the output is not analysable, as for ambiguous decimal commas."""
    files = {
        (s, r): {name: content.format(v=base * (1 + 0.3 * r))}
        for s, base in (("s1", 400.0), ("s2", 900.0), ("s3", 1500.0))
        for r in (1, 2, 3)
    }
    doc = ingested(tmp_path, f"  r: {{path: {name}, kind: {kind}}}\n", files).analyze().document
    (out,) = doc["outputs"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences the metrics measure"]
    assert not why["estimable"] and re.search(rf"[ /]{field} \(", why["message"])
    assert "is a number written as text" in why["message"]
    assert example in why["message"] and doc["verdict"]["status"] == "error"


def test_differing_words_dates_and_ids_stay_a_warning(tmp_path: Path) -> None:
    """Text that is no number (a status word, a timestamp, an id or digest that starts with a digit) is no
    measurement lost: a warning. A review's uuid4, 8-hex digest and compact timestamp made outputs whose
    results were identical "not analysable"."""
    ids = {
        1: ("3f2a9c1e-77b0-4d2e-9c1a-0b5e6f7a8b9c", "8a7b6c5d", "20261129T160730"),
        2: ("b9d0c6e2-0f1e-4a3b-8c7d-6e5f4a3b2c1d", "7c3d2b1a", "20261129T160731"),
    }
    files = {
        (s, r): {
            "r.json": json.dumps(
                {"v": 1.5, "status": f"ok{r}", "at": f"2026-11-29T10:0{r}:00", "id": ids[r][0], "h": ids[r][1]}
            ),
            "t.tsv": f"key\tvalue\nhost\tnode-{r}a\nmemory\t16 GB\nrun\t{ids[r][2]}\n",
        }
        for s in ("s1", "s2", "s3")
        for r in (1, 2)
    }
    outputs = "  r: {path: r.json, kind: scalars}\n  t: {path: t.tsv, kind: table}\n"
    doc = ingested(tmp_path, outputs, files).analyze().document
    for out in doc["outputs"]:  # the table's '16 GB' is the same everywhere: the host name that differs is text
        assert "number_like" not in out["text_differences"], out["text_differences"]
    assert doc["outputs"][0]["name"] == "r" and doc["outputs"][0]["verdict"]["status"] == "warn"


def test_text_cells_that_look_like_numbers_say_why_they_are_text(tmp_path: Path) -> None:
    """`1,234` in a `;` table may be a decimal comma or a thousands separator: the reader keeps it as text, and
    the warning about differing text says so (it named the cells only). Such cells that differ are numbers no
    metric measures: the output is not analysable (a review's 2,300 / 2,600 / 2,900 read "with warnings")."""
    files = {(s, r): {"r.csv": f"k;v;w\na;1,23{r};5\nb;12,500;6\n"} for s in ("s1", "s2") for r in (1, 2)}
    doc = ingested(tmp_path, "  r: {path: r.csv, kind: table}\n", files).analyze().document
    (out,) = doc["outputs"]
    (warning,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences covered by the observations"]
    assert warning["message"].startswith("1 text field(s) differ between executions of a subject, which no metric")
    assert re.search(
        r"; column v looks like numbers but was read as text \('1,23[12]' may be a decimal comma or a thousands "
        r"separator\)$",
        warning["message"],
    )
    (unmeasured,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences the metrics measure"]
    assert unmeasured["message"].startswith(
        "1 column(s) or field(s) hold numbers read as text that differ between executions: v ("
    )
    assert not unmeasured["estimable"] and doc["verdict"]["status"] == "error"


@pytest.mark.parametrize("broken", ["empty", "half", "first-empty", "none"])
def test_an_execution_whose_image_lost_its_voxels_fails(tmp_path: Path, broken: str) -> None:
    """8 subjects 40 units apart, 3 repetitions with 0.001 noise: one execution wrote an all-zero image (or lost
    half of the brain) and the median voxel ICC (0.96) read "sufficiently reproducible" with nothing said (a
    review). The odd execution is now named, whichever repetition it is, and the output fails."""
    import nibabel as nib
    import numpy as np

    x, y, z = np.mgrid[:10, :10, :10]
    ball = ((x - 4.5) ** 2 + (y - 4.5) ** 2 + (z - 4.5) ** 2) < 16
    rng = np.random.default_rng(0)

    def image(s: int, r: int) -> bytes:
        v = np.where(ball, 100.0 + 40 * s + 5 * np.sin(x + s) + rng.normal(0, 1e-3, ball.shape), 0.0)
        if s == 0 and (broken, r) in (("empty", 2), ("first-empty", 1)):
            v[:] = 0
        if s == 0 and broken == "half" and r == 2:
            v[:, :, 5:] = 0
        return nib.Nifti1Image(v.astype(np.float32), np.eye(4)).to_bytes()

    files = {(f"sub-{s}", r): {"out.nii": image(s, r)} for s in range(8) for r in (1, 2, 3)}
    doc = ingested(tmp_path, "  out: {path: out.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    reasons = {r["criterion"]: r for r in out["verdict"]["reasons"]}
    if broken == "none":
        assert "images of every execution alike" not in reasons and doc["verdict"]["status"] == "pass"
        return
    check = reasons["images of every execution alike"]
    repetition = 1 if broken == "first-empty" else 2
    nonzero = 0 if broken != "half" else int(ball[:, :, :5].sum())
    assert not check["passed"] and check["message"].endswith(
        f"subject sub-0, repetition {repetition}: non-zero voxels {nonzero} where the subject's executions have "
        f"{int(ball.sum())}"
    )
    assert out["voxelwise"]["summary"]["icc_a1_median"] > 0.9  # what passed before
    assert doc["verdict"]["status"] == "fail"


@pytest.mark.parametrize(("name", "kind"), [("r.csv", "table"), ("r.json", "scalars"), ("r.txt", "text")])
def test_an_output_empty_in_every_execution_is_not_analysable(tmp_path: Path, name: str, kind: str) -> None:
    """Every execution wrote a 0-byte file: identical bytes, and the study read "sufficiently reproducible, with
    warnings" (exit 0; a review). An unreadable file the same everywhere stays a warning; an empty one is not
    data: the output is not analysable."""
    files = {(s, r): {name: b""} for s in ("s1", "s2") for r in (1, 2)}
    doc = ingested(tmp_path, f"  r: {{path: {name}, kind: {kind}}}\n", files).analyze().document
    (out,) = doc["outputs"]
    (readable,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable"]
    assert readable["severity"] == "fail" and "file is empty (0 bytes)" in readable["message"]
    assert doc["verdict"]["status"] == "error"


def test_a_sparse_map_losing_one_voxel_is_not_a_lost_image(tmp_path: Path) -> None:
    """A healthy control's lesion map of 2 voxels, one repetition dropping one at the threshold: "images of every
    execution alike" failed (50% of its voxels; a review). The change must also be 10 voxels and 1% of the voxels
    with metrics."""
    import nibabel as nib
    import numpy as np

    def image(s: int, r: int) -> bytes:
        v = np.zeros((10, 10, 10), np.float32)
        v[2:7, 2:7, 2:7] = 1.0 + s  # the other subjects' lesions
        if s == 0:
            v[:] = 0
            v[5, 5, 5] = 1.0
            v[5, 5, 6] = 1.0 if r != 2 else 0.0
        return nib.Nifti1Image(v, np.eye(4)).to_bytes()

    files = {(f"sub-{s}", r): {"lesion.nii": image(s, r)} for s in range(4) for r in (1, 2, 3)}
    doc = ingested(tmp_path, "  lesion: {path: lesion.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert "images of every execution alike" not in {r["criterion"] for r in out["verdict"]["reasons"]}
    assert out["voxelwise"]["summary"]["support_outliers"] == 0


def test_declared_criteria_keep_the_label_and_image_safeguards(tmp_path: Path) -> None:
    """A label mirrored left/right in one execution (Dice 0, same volume) failed the defaults through
    `dice_min >= 0.8`; declaring only `ICC(A,1).ci_low >= 0.9` (meant for a table) dropped that check and the
    study passed (a review). The safeguard stays unless a declared criterion names `dice_min`."""
    import nibabel as nib
    import numpy as np

    def labels(s: int, r: int) -> bytes:
        x = np.zeros((8, 8, 8), np.int16)
        lo = 4 if (s == 1 and r == 2) else 1  # mirrored: the same volume elsewhere
        x[lo : lo + 3, 2 : 4 + s % 3, 2:5] = 1
        return nib.Nifti1Image(x, np.eye(4)).to_bytes()

    files = {(f"s{s}", r): {"seg.nii": labels(s, r)} for s in range(4) for r in (1, 2)}
    outputs = "  seg: {path: seg.nii, kind: labels}\ncriteria: ['ICC(A,1).ci_low >= 0.9']\n"
    doc = ingested(tmp_path, outputs, files).analyze().document
    (out,) = doc["outputs"]
    reasons = {r["criterion"]: r for r in out["verdict"]["reasons"]}
    assert reasons["ICC(A,1).ci_low >= 0.9"]["passed"]  # the label volumes agree
    assert not reasons["dice_min >= 0.8"]["passed"] and doc["verdict"]["status"] == "fail"


def test_a_spread_that_computes_as_zero_on_differing_values_is_not_estimable(tmp_path: Path) -> None:
    """One repetition of one subject 1 ulp away: the logs of the values coincide, `wcv_log` computed 0 and
    `wcv_log <= 0` passed although the executions differ (review); `wcv <= 0` and `wsd <= 0` failed."""
    v = 1e12  # log(v) ~ 27.6, whose ulp is 30 times the relative step of 1 ulp of v
    files = {
        (s, r): {"r.json": json.dumps({"v": math.nextafter(v * i, math.inf) if (i, r) == (2, 2) else v * i})}
        for i, s in enumerate(("s1", "s2", "s3"), start=1)
        for r in (1, 2)
    }
    outputs = "  r: {path: r.json, kind: scalars}\ncriteria: ['wcv_log <= 0']\n"
    doc = ingested(tmp_path, outputs, files).analyze().document
    (out,) = doc["outputs"]
    # log1p about each subject's first value keeps the 1-ulp step (review EX5: log(x) - log(r) cancelled to 0)
    assert out["observations"][0]["identical"] is False and 0 < out["observations"][0]["wcv_log"] < 1e-15
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "wcv_log <= 0"]
    assert not why["passed"] and why["estimable"]
    assert doc["verdict"]["status"] == "fail"


def test_an_execution_that_wrote_zero_is_named_even_when_the_icc_passes(tmp_path: Path) -> None:
    """30 subjects with log-normal volumes, 3 repetitions with 0.5% noise; repetition 3 of one subject wrote 0.
    The ICC's lower bound stays above 0.9 (subjects differ far more), and the study read "sufficiently
    reproducible" with nothing said (review). Noise around 0 (another output) is not named."""
    rng = np.random.default_rng(11)
    files = {}
    for i in range(30):
        vol = float(np.exp(rng.normal(8, 1)))
        for r in (1, 2, 3):
            v = 0.0 if (i, r) == (7, 3) else vol * (1 + 0.005 * rng.normal())
            files[(f"sub-{i:02d}", r)] = {
                "r.json": json.dumps({"volume": v}),
                "z.json": json.dumps({"offset": 1e-6 * rng.normal()}),  # relative changes mean nothing here
            }
    outputs = "  r: {path: r.json, kind: scalars}\n  z: {path: z.json, kind: scalars}\n"
    volume, offset = ingested(tmp_path, outputs, files).analyze().document["outputs"]
    (why,) = [r for r in volume["verdict"]["reasons"] if r["criterion"] == "every execution alike"]
    assert why["severity"] == "warn" and not why["passed"] and why["value"] == 1
    typical = volume["observations"][0]["odd_executions"]["typical"]
    assert why["message"].endswith(
        f"volume: subject sub-07, repetition 3 wrote 0 where the subject's executions have {typical:.6g}"
    )
    (icc,) = [r for r in volume["verdict"]["reasons"] if r["criterion"] == "ICC(A,1).ci_low >= 0.9"]
    assert icc["passed"]  # what hid it
    assert volume["verdict"]["status"] == "warn"
    assert "every execution alike" not in [r["criterion"] for r in offset["verdict"]["reasons"]]


def test_a_run_stuck_in_another_local_minimum_is_named_though_the_icc_passes(tmp_path: Path) -> None:
    """A review: translations 5 z + N(0, 0.01) mm over 6 subjects x 3 repetitions; one run 3 mm off (300 run SDs,
    40% of its value) passed with ICC 0.99 and no word: the check wanted half the value. A quarter of the
    subjects' spread, where the runs agree ten times closer, is named now; the noise alone is not."""
    rng = np.random.default_rng(5)
    files = {}
    for i in range(6):
        for r in (1, 2, 3):
            tx = 5.0 * (i + 1) + 0.01 * rng.normal() + (3.0 if (i, r) == (1, 2) else 0.0)
            files[(f"sub-{i}", r)] = {"t.json": json.dumps({"tx": tx, "ty": 5.0 * (i + 1) + 0.01 * rng.normal()})}
    (out,) = ingested(tmp_path, "  t: {path: t.json, kind: scalars}\n", files).analyze().document["outputs"]
    (icc,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "ICC(A,1).ci_low >= 0.9"]
    assert icc["passed"]  # what hid it
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "every execution alike"]
    assert not why["passed"] and why["severity"] == "warn" and why["value"] == 1 and why["observation"] == "tx"
    assert "tx: subject sub-1, repetition 2 wrote 13" in why["message"] and "ty" not in why["message"]
    assert out["verdict"]["status"] == "warn"


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_a_run_leaving_identical_ones_in_another_local_minimum_fails(tmp_path: Path, noise: float) -> None:
    """Review R2: an affine's x translation, subjects 3 to 30 mm apart, one run of sub-2 10 mm off its other two,
    which are bit-for-bit identical: no word, "sufficiently reproducible". A deterministic result one run left
    fails; among noisy runs (0.01 mm) the same run warns, as before."""
    rng = np.random.default_rng(8)
    centre = [-30.1, -22.9, -25.9, 9.2, 20.6]
    files = {}
    for i, c in enumerate(centre):
        for r in (1, 2, 3):
            tx = c + noise * rng.normal() + (10.0 if (i, r) == (2, 2) else 0.0)
            files[(f"sub-{i}", r)] = {"t.json": json.dumps({"tx": tx})}
    doc = ingested(tmp_path, "  t: {path: t.json, kind: scalars}\n", files).analyze().document
    (out,) = doc["outputs"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "every execution alike"]
    assert not why["passed"] and why["observation"] == "tx"
    assert why["severity"] == ("fail" if noise == 0 else "warn")
    assert ("1 of them where the others agree (bit for bit" in why["message"]) is (noise == 0)
    assert doc["verdict"]["status"] == ("fail" if noise == 0 else "warn")


def test_an_icc_that_rests_on_one_subject_is_said(tmp_path: Path) -> None:
    """Nine subjects whose executions vary as much as they do, and one 100 times larger: ICC(A,1) 0.999998, CI
    low 0.999995, "sufficiently reproducible" with nothing said; the nine alone give 0.45 (review)."""
    rng = np.random.default_rng(5)
    files = {}
    for i in range(10):
        base = 1000.0 if i == 9 else 10.0 + 0.05 * rng.normal()
        for r in (1, 2, 3):
            files[(f"sub-{i}", r)] = {"r.json": json.dumps({"v": base + 0.05 * rng.normal()})}
    (out,) = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document["outputs"]
    lean = out["observations"][0]["icc_leans_on"]
    assert lean["subject"] == "sub-9" and lean["with"] > 0.999 and lean["without"] < 0.5
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "ICC on every subject"]
    assert why["severity"] == "warn" and not why["passed"]
    assert why["message"].endswith(
        f"v: ICC(A,1) {lean['with']:.3g} with subject sub-9, {lean['without']:.3g} without it"
    )
    assert out["verdict"]["status"] == "warn"


def test_an_identical_observation_leaning_on_one_subject_is_no_warning(tmp_path: Path) -> None:
    """Review E: a CSF mean that only sub-1 has (0 in the others), the same in every execution: "owe their ICC to
    one subject ... the executions vary about as much as the other subjects do" warned in a bit-for-bit
    identical study, and `check --strict` failed. Executions that agree have no variation to hide."""
    files = {(f"sub-{i}", r): {"r.json": json.dumps({"csf": 5.0 if i == 1 else 0.0})} for i in range(4) for r in (1, 2)}
    doc = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert "icc_leans_on" not in out["observations"][0]
    assert out["verdict"]["status"] == "identical" and doc["verdict"]["status"] == "identical"


def test_most_differing_voxels_without_metrics_are_not_a_pass(tmp_path: Path) -> None:
    """The first subject read has a 27-voxel map, the others noisy maps over 1000 voxels: the voxel metrics,
    computed where the first volume is non-zero, judged 27 voxels and the study read "sufficiently reproducible,
    with warnings" while 97% of the differing voxels went unjudged (a review; with that subject renamed, the same
    data failed). Now that is a reason of its own, not estimable, saying why. (The others' first volumes are in
    the reference mask since review V: here their first repetition writes the 27 voxels only.)"""
    import nibabel as nib
    import numpy as np

    rng = np.random.default_rng(3)

    def image(s: int, r: int) -> bytes:
        v = np.zeros((10, 10, 10), np.float32)
        if s == 0 or r == 1:
            v[4:7, 4:7, 4:7] = 0.9
        else:
            v[:] = (0.5 + 0.1 * s + rng.normal(0, 0.3, v.shape)).astype(np.float32)
        return nib.Nifti1Image(v, np.eye(4)).to_bytes()

    files = {(f"sub-{s}", r): {"p.nii": image(s, r)} for s in range(5) for r in (1, 2, 3)}
    doc = ingested(tmp_path, "  p: {path: p.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences covered by the voxel metrics"]
    assert not why["passed"] and not why["estimable"] and why["severity"] == "fail"
    assert why["message"].startswith("973 of the 1000 voxel(s) that differ between executions have no voxel metric")
    assert doc["verdict"]["status"] == "fail"  # the ICC on the 27 voxels fails here too; the reason stands alone


@pytest.mark.parametrize("kind", ["text", "table"])
def test_numbers_written_with_17_digits_are_float64_sized(tmp_path: Path, kind: str) -> None:
    """Reviews V and B3: a tool writing `%.17g` (float64's round-trip form: `0.33333333333333331`) in some runs
    and the shortest form (`0.3333333333333333`) in others read "12 observation(s) hold numbers float64 cannot
    hold exactly ... write float64-sized numbers", not analysable, exit 1. The values are one float64 each: the
    same values in other bytes: a warning that no observation sees the difference (the cells' text is hashed)."""
    values = [1 / 3, 2 / 3, 0.1, 1e-7 / 3, 12345.678901234567]
    files = {
        (f"s{s}", r): {
            "p.csv": "a,b,c,d,e\n" + ",".join(("%.17g" if r == 2 else "%r") % (v * s) for v in values) + "\n"
        }
        for s in (1, 2, 3)
        for r in (1, 2)
    }
    doc = ingested(tmp_path, f"  p: {{path: p.csv, kind: {kind}}}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["verdict"]["status"] == "warn" and out["bitwise"]["bytes_identical"] is False
    assert not [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences the metrics measure"]


def test_zeros_differing_in_sign_only_are_no_quantity_to_judge(tmp_path: Path) -> None:
    """Review Z: `-0.0` in even repetitions, `0.0` in odd ones (a tool printing `%.3f` of a value near zero):
    the table read "ICC(A,1) not estimable: every value is equal (0/0)", not analysable, where the same data
    as an image warned. One value everywhere: constant for the criteria, and the bytes' difference a warning."""
    files = {
        (f"s{s}", r): {"t.csv": f"k,offset,vol\na,{'-0.0' if r % 2 else '0.0'},{100 * s}\n"}
        for s in (1, 2, 3)
        for r in (1, 2, 3)
    }
    doc = ingested(tmp_path, "  t: {path: t.csv, kind: table, key_columns: [k]}\n", files).analyze().document
    (out,) = doc["outputs"]
    offset = next(o for o in out["observations"] if o["name"] == "a/offset")
    assert (offset["constant"], offset["signed_zeros"], offset["identical"]) == (False, True, True)
    assert out["verdict"]["status"] == "warn" and doc["verdict"]["exit_code"] == 0
    (why,) = [r for r in out["verdict"]["reasons"] if not r["passed"]]
    assert why["criterion"] == "differences covered by the observations"
    assert "or in the sign of a zero (-0.0 and 0.0, one number)" in why["message"]  # review MM: it said not where


@pytest.mark.parametrize("kind", ["labels", "image"])
def test_images_all_zero_in_every_execution_are_said(tmp_path: Path, kind: str) -> None:
    """Review Y: a segmentation writing only background in every execution read "reproducible (bit-for-bit
    identical)", `dice_min` null, no warning. Identical still, with a warning that nothing but zeros was compared."""
    import nibabel as nib

    image = nib.Nifti1Image(np.zeros((8, 8, 8), np.int16), np.eye(4)).to_bytes()
    files = {(f"s{s}", r): {"seg.nii": image} for s in (1, 2, 3) for r in (1, 2)}
    doc = ingested(tmp_path, f"  seg: {{path: seg.nii, kind: {kind}}}\n", files).analyze().document
    (out,) = doc["outputs"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "something in the images"]
    assert why["message"].startswith("every voxel of every execution is zero")
    if kind == "labels":  # no label anywhere: no region to compare, not analysable (review LB5)
        assert (why["severity"], why["estimable"]) == ("fail", False)
        assert (out["verdict"]["status"], doc["verdict"]["status"]) == ("error", "error")
    else:
        assert why["severity"] == "warn"
        assert (out["verdict"]["status"], doc["verdict"]["status"]) == ("identical", "warn")


def test_a_volume_of_a_4d_image_lost_in_one_run_fails_on_that_volume(tmp_path: Path) -> None:
    """Review G4: one volume in 30 of an SH/tensor image destroyed in some runs is 3% of the voxels: the median
    and 5th-percentile voxel ICCs over the whole image passed ("sufficiently reproducible", exit 0). An image of
    several volumes is judged volume by volume: its worst volume's median ICC."""
    import nibabel as nib

    rng = np.random.default_rng(5)
    anatomy = {s: rng.uniform(50, 150, (6, 6, 6, 20)) for s in ("s1", "s2", "s3", "s4")}

    def image(s: str, r: int) -> bytes:
        v = anatomy[s] * (1 + rng.normal(0, 1e-4, anatomy[s].shape))
        if r == 2:
            v[..., 7] = rng.uniform(50, 150, v.shape[:3])  # the volume another run's noise
        return nib.Nifti1Image(v.astype(np.float32), np.eye(4)).to_bytes()

    files = {(s, r): {"sh.nii": image(s, r)} for s in anatomy for r in (1, 2, 3)}
    doc = ingested(tmp_path, "  sh: {path: sh.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["summary"]["voxel_icc_a1_median"] > 0.9  # the whole image's median
    assert (out["summary"]["voxel_icc_a1_worst_volume"], out["summary"]["voxel_volumes"]) == (7, 20)
    (median,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "voxel_icc_a1_median >= 0.9"]
    assert not median["passed"] and median["observation"] == "volume 7 (0-based) of 20"
    assert out["verdict"]["status"] == "fail"


def test_every_file_off_the_grid_is_counted_when_repetitions_share_one(tmp_path: Path) -> None:
    """Reviews F3, H4, Y: under one condition both repetitions wrote the same bytes on another grid (one blob),
    and "outputs readable" said 4 files where 8 were off the grid, naming repetition 1 only."""
    import nibabel as nib

    rng = np.random.default_rng(2)
    anatomy = {s: rng.uniform(50, 150, (6, 6, 6)).astype(np.float32) for s in ("s1", "s2", "s3")}
    shifted = np.eye(4)
    shifted[0, 3] = 0.5
    files = {
        (s, r): {"t1.nii": nib.Nifti1Image(a, shifted if s == "s3" else np.eye(4)).to_bytes()}
        for s, a in anatomy.items()
        for r in (1, 2)
    }
    doc = ingested(tmp_path, "  t1: {path: t1.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert sorted((e["subject"], e["repetition"]) for e in out["errors"]) == [("s3", 1), ("s3", 2)]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable"]
    assert why["message"].startswith("2 output file(s) could not be read")


def test_an_image_of_zeros_whose_signs_differ_is_no_failure(tmp_path: Path) -> None:
    """Review A3: an all-zero image written `-0.0` in some runs read "not analysable" (voxel ICC not estimable,
    0/0) where the same values in a table are constant for the criteria. Every voxel zero in every execution:
    reproducible by identity, with the warnings that nothing but zeros was compared and that the files differ."""
    import nibabel as nib

    def image(r: int) -> bytes:
        return nib.Nifti1Image(np.full((6, 6, 6), -0.0 if r % 2 else 0.0, np.float32), np.eye(4)).to_bytes()

    files = {(s, r): {"m.nii": image(r)} for s in ("s1", "s2", "s3") for r in (1, 2)}
    doc = ingested(tmp_path, "  m: {path: m.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert (out["verdict"]["status"], doc["verdict"]["exit_code"]) == ("warn", 0)
    failed = {r["criterion"] for r in out["verdict"]["reasons"] if not r["passed"]}
    assert failed == {"something in the images", "differences covered by the observations"}


@pytest.mark.parametrize("keys", ["", ", key_columns: [k]"])
def test_a_table_with_no_row_in_any_execution_is_no_pass(tmp_path: Path, keys: str) -> None:
    """Reviews W and A3: every execution wrote `k,v` and no row (a writer killed before its rows): "identical",
    `numbers found` a warning, exit 0. Nothing was written: not analysable, as an empty file. A table of text
    rows keeps the warning."""
    files = {(s, r): {"t.csv": "k,v\n"} for s in ("s1", "s2", "s3") for r in (1, 2)}
    doc = ingested(tmp_path / "empty", f"  t: {{path: t.csv, kind: table{keys}}}\n", files).analyze().document
    (out,) = doc["outputs"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "numbers found"]
    assert not why["estimable"] and why["message"].startswith("every file is a table with a header and no row")
    assert (out["verdict"]["status"], doc["verdict"]["exit_code"]) == ("error", 1)
    text = {(s, r): {"t.csv": "k,v\na,done\n"} for s in ("s1", "s2", "s3") for r in (1, 2)}
    doc = ingested(tmp_path / "text", f"  t: {{path: t.csv, kind: table{keys}}}\n", text).analyze().document
    (why,) = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"] == "numbers found"]
    assert why["severity"] == "warn" and doc["verdict"]["exit_code"] == 0


def test_a_pair_header_the_same_in_every_execution_is_never_identical(tmp_path: Path) -> None:
    """Review BB: the `.hdr` of a `.hdr/.img` pair, the same bytes in every execution, read "identical" while the
    voxels (in the `.img`) differed. A `.hdr` is refused at its declaration; one under a `.nii` name is not
    readable, and its identical bytes make it no pass."""
    import nibabel as nib

    header = tmp_path / "pair.hdr"
    nib.save(nib.Nifti1Pair(np.zeros((4, 4, 4), np.float32), np.eye(4)), header)
    data = header.read_bytes()
    files = {(s, r): {"t1.nii": data} for s in ("a", "b", "c") for r in (1, 2)}
    doc = ingested(tmp_path / "study", "  t1: {path: t1.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["bitwise"]["identical"] is None and out["bitwise"]["undecodable"] == 6  # not "identical"
    assert out["verdict"]["status"] == "error" and doc["verdict"]["status"] not in ("identical", "pass", "warn")
    (readable,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable" and not r["passed"]]
    assert readable["severity"] == "fail" and "is the header of a .hdr/.img pair" in readable["message"]


def test_outputs_non_finite_everywhere_are_not_analysable(tmp_path: Path) -> None:
    """Review QQ: a table whose every cell is `nan` in every execution, and images NaN at every voxel of every
    subject, read "sufficiently reproducible, with warnings", exit 0 (the images' warning said "zero"): nothing
    but NaN was compared, as an empty file. One subject NaN everywhere still warns (tests/analyze)."""
    import nibabel as nib

    nan_image = nib.Nifti1Image(np.full((4, 4, 4), np.nan, np.float32), np.eye(4)).to_bytes()
    files = {(f"s{s}", r): {"t.csv": "k,v\na,nan\nb,nan\n", "m.nii": nan_image} for s in (1, 2, 3) for r in (1, 2)}
    outputs = "  t: {path: t.csv, kind: table, key_columns: [k]}\n  m: {path: m.nii, kind: image}\n"
    doc = ingested(tmp_path, outputs, files).analyze().document
    table, image = (next(o for o in doc["outputs"] if o["name"] == n) for n in ("t", "m"))
    (why,) = [r for r in table["verdict"]["reasons"] if not r["passed"]]
    assert (why["criterion"], why["estimable"], table["verdict"]["status"]) == ("finite values", False, "error")
    assert why["message"].startswith("every observation (2) is non-finite in every execution of every subject")
    failed = {r["criterion"]: r for r in image["verdict"]["reasons"] if not r["passed"]}
    assert "something in the images" not in failed and image["verdict"]["status"] == "error"
    assert failed["something finite in every subject's images"]["message"].startswith(
        "every voxel of every execution is non-finite (NaN/inf) for 3 subject(s): s1, s2, s3;"
    )
    assert doc["verdict"]["status"] == "error" and doc["verdict"]["exit_code"] == 1


def test_images_nan_in_some_subjects_and_zero_in_the_others_are_not_analysable(tmp_path: Path) -> None:
    """Review UU: two subjects NaN at every voxel, the others all zeros: "every voxel of every execution is zero"
    (false) and "with warnings", exit 0. No voxel is finite and non-zero anywhere: nothing was compared."""
    import nibabel as nib

    def image(fill: float) -> bytes:
        return nib.Nifti1Image(np.full((4, 4, 4), fill, np.float32), np.eye(4)).to_bytes()

    files = {(f"s{s}", r): {"m.nii": image(np.nan if s < 3 else 0.0)} for s in (1, 2, 3, 4) for r in (1, 2)}
    doc = ingested(tmp_path, "  m: {path: m.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    failed = {r["criterion"]: r for r in out["verdict"]["reasons"] if not r["passed"]}
    assert "something in the images" not in failed and out["verdict"]["status"] == "error"
    assert failed["something finite in every subject's images"]["message"].endswith(
        "s1, s2; nothing of them was compared (an application that failed silently for them?); the other subjects' "
        "voxels are all zero"
    )


def test_a_table_keyed_by_each_subjects_own_value_says_how_to_key_it(tmp_path: Path) -> None:
    """Review XX: pyradiomics' batch CSV keys its row by the `Image` path, another in every subject: every
    feature "written by 1 subject(s) only", and the advice (`observations:`) would select nothing."""
    files = {
        (f"s{s}", r): {"f.csv": f"Image,Mean,Energy\n/data/s{s}.nii.gz,{10 * s + 0.01 * r},{5 * s}\n"}
        for s in (1, 2, 3)
        for r in (1, 2)
    }
    doc = ingested(tmp_path, "  f: {path: f.csv, kind: table}\n", files).analyze().document
    (out,) = doc["outputs"]
    (absent,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "every observation in every subject"]
    assert absent["message"].endswith(
        "; no observation is written by two subjects: the rows are keyed by something each subject writes its own "
        "(its input's path, an id?): declare `key_columns` with a column the subjects share, or `key_columns: []` "
        "to match the rows by their order"
    )
    assert doc["verdict"]["status"] != "pass" and doc["verdict"]["exit_code"] != 0


def test_a_header_difference_names_its_field(tmp_path: Path) -> None:
    """Review YY: a cine whose frame duration moved from 40 to 50 ms under threads=2 read only "the difference is
    in the image header (units, data type, ...)": the field and both values are named."""
    import nibabel as nib

    def cine(s: int, step: float) -> bytes:
        img = nib.Nifti1Image(np.arange(96, dtype=np.float32).reshape(4, 4, 2, 3) * s, np.eye(4))
        img.header.set_zooms((1.0, 1.0, 1.0, step))
        return img.to_bytes()

    files = {(f"s{s}", r): {"c.nii": cine(s, 0.04 if r == 1 else 0.05)} for s in (1, 2, 3) for r in (1, 2)}
    doc = ingested(tmp_path, "  c: {path: c.nii, kind: image}\n", files).analyze().document
    (out,) = doc["outputs"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences covered by the observations"]
    pixdim = "pixdim [1, 1, 1, 1, 0.04, 1, 1, 1] vs [1, 1, 1, 1, 0.05, 1, 1, 1]"
    assert f"the difference is in the image header (time step 0.04 vs 0.05; {pixdim}" in why["message"]
    assert out["header_differences"] == ["time step 0.04 vs 0.05", pixdim]


@pytest.mark.parametrize("suffix", [".nii", ".mgz"])
def test_a_series_whose_time_step_changes_fails(tmp_path: Path, suffix: str) -> None:
    """Review FM: a BOLD series whose repetition time moved from 2 to 2.5 s in one execution of each subject read
    "sufficiently reproducible, with warnings", exit 0: the same values at other times fail, in NIfTI and MGH; a
    3-D image's MGH `tr` (acquisition metadata, no time axis) is no difference at all."""
    import nibabel as nib

    def series(s: int, step: float, frames: int) -> bytes:
        data = np.arange(32 * frames, dtype=np.float32).reshape(4, 4, 2, frames) * s
        if frames == 1:
            data = data[..., 0]
        if suffix == ".mgz":
            img = nib.MGHImage(data, np.eye(4))
            img.header["tr"] = step
        else:
            img = nib.Nifti1Image(data, np.eye(4))
            img.header.set_zooms((1.0, 1.0, 1.0, step)[: data.ndim])
        path = tmp_path / f"one{suffix}"
        nib.save(img, path)
        return path.read_bytes()

    for frames in (3, 1):
        if frames == 1 and suffix == ".nii":
            continue  # a 3-D NIfTI has no time step
        files = {
            (f"s{s}", r): {f"b{suffix}": series(s, 2.0 if r == 1 else 2.5, frames)} for s in (1, 2, 3) for r in (1, 2)
        }
        doc = ingested(tmp_path / str(frames), f"  b: {{path: b{suffix}, kind: image}}\n", files).analyze().document
        (out,) = doc["outputs"]
        if frames == 1:  # no time axis: the semantic hash leaves MGH's `tr` out, as acquisition metadata
            assert doc["verdict"]["exit_code"] == 0 and "header_differences" not in out, out
            continue
        (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences covered by the observations"]
        assert out["header_differences"][0] == "time step 2 vs 2.5"
        assert why["severity"] == "fail" and not why["passed"]
        assert why["message"].endswith(
            "for a 4-D image, its time step: the same values at other times (the time axis changed)"
        )
        assert doc["verdict"]["status"] == "fail" and doc["verdict"]["exit_code"] == 1


def test_a_label_map_whose_label_names_swap_fails(tmp_path: Path) -> None:
    """Reviews OO and QQ: a TotalSegmentator-like label map whose Caret label table swapped liver and spleen under
    threads=2 read "bit-for-bit identical", then only warned: the same voxels mean other structures."""
    import nibabel as nib

    def seg(s: int, first: str, second: str) -> bytes:
        img = nib.Nifti1Image((np.arange(64, dtype=np.uint8).reshape(4, 4, 4) + s) % 3, np.eye(4))
        xml = f'<CaretExtension><LabelTable><Label Key="1">{first}</Label><Label Key="2">{second}</Label></LabelTable>'
        img.header.extensions.append(nib.nifti1.Nifti1Extension(0, (xml + "</CaretExtension>").encode()))
        return img.to_bytes()

    files = {
        (f"s{s}", r): {"seg.nii": seg(s, *(("liver", "spleen") if r == 1 else ("spleen", "liver")))}
        for s in (1, 2, 3)
        for r in (1, 2)
    }
    doc = ingested(tmp_path, "  seg: {path: seg.nii, kind: labels}\n", files).analyze().document
    (out,) = doc["outputs"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "differences covered by the observations"]
    assert why["severity"] == "fail" and not why["passed"] and out["header_differences"] == ["header extensions"]
    assert why["message"].endswith("for a label map, the names of its labels: the same voxels mean other structures")
    assert doc["verdict"]["status"] == "fail" and doc["verdict"]["exit_code"] == 1


@pytest.mark.parametrize(("noise", "severity"), [(1e-15, "fail"), (1e-5, "warn")])
def test_a_sign_flip_beside_last_bit_noise_fails_as_beside_identical_runs(
    tmp_path: Path, noise: float, severity: str
) -> None:
    """Review SD: under Monte Carlo arithmetic a subject's runs wrote 10, 10(1 + 1e-16), -10: the others differ in
    their last bits, so the flip only warned where beside bit-for-bit identical runs it fails. Others agreeing to a
    millionth of the departure fail too; noise of 1e-5 still only warns."""
    rng = np.random.default_rng(4)
    files = {}
    for i, value in enumerate((10.0, 100.0, 1000.0, 10000.0)):
        for r in (1, 2, 3):
            v = value * (1 + noise * rng.normal())
            files[(f"sub-{i}", r)] = {"t.json": json.dumps({"beta": -10.0 if (i, r) == (0, 2) else v})}
    doc = ingested(tmp_path, "  t: {path: t.json, kind: scalars}\n", files).analyze().document
    (why,) = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"] == "every execution alike"]
    assert not why["passed"] and why["severity"] == severity


@pytest.mark.parametrize("every", [False, True, "level", "boundary"])
def test_a_table_cut_short_is_not_analysable(tmp_path: Path, every: bool | str) -> None:
    """Review IN: one CSV of a deterministic condition lost its last 12 bytes (an interrupted download): it ended
    `wm,3730.0,99.175` with no line break and the study read "sufficiently reproducible: run-to-run flakiness". A
    tool that never ends its last line does so in every file, or in every file of a level (review R6: a version
    that stopped writing it read "not analysable"): nothing is said; among such files, one cut at a line boundary
    is the one with a line break (review R7)."""
    folders = {}
    for i in range(4):
        for r in (1, 2, 3):
            for level in ("a", "b"):
                text = f"tissue,vol,pct\ngm,{1000.0 * (i + 1)},{40.0 + i}.12523\nwm,{800.0 * (i + 1)},{30.0 + i}.175\n"
                if every is True or (every in ("level", "boundary") and level == "b"):
                    text = text.rstrip("\n")
                if every == "boundary" and (i, r, level) == (2, 3, "b"):  # cut at a line boundary: one row lost
                    text = text.split("\n", 2)[0] + "\n" + text.split("\n", 2)[1] + "\n"
                elif not every and (i, r, level) == (2, 3, "a"):
                    text = text[:-3]  # the last line's line break and two digits lost
                folders[f"{level}/sub-{i}/run-{r}"] = {"v.csv": text}
    outputs = "  v: {path: v.csv, kind: table, key_columns: [tissue]}\n"
    doc = ingested_folders(tmp_path, outputs, folders, "{tool}/{subject}/run-{repetition}").analyze().document
    reasons = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"] == "files whole"]
    if every in (True, "level"):
        assert not reasons and doc["verdict"]["status"] == "identical"
    else:
        (why,) = reasons
        named = "sub-2 (tool=b, repetition 3)" if every == "boundary" else "sub-2 (tool=a, repetition 3)"
        assert not why["passed"] and not why["estimable"] and named in why["message"] and why["value"] == 1
        assert doc["verdict"]["status"] == "error" and doc["outputs"][0]["complete_subjects"] == 3


def test_a_bytes_output_judged_by_repetitions_identical_alone_warns_when_levels_differ(tmp_path: Path) -> None:
    """Review B: a file 15% larger under threads=2, declared `bytes`, with `repetitions_identical` its only
    criterion: "sufficiently reproducible", no word, where the same file declared `table` warned."""
    from reprovip.criteria.evaluate import evaluate
    from reprovip.criteria.rules import Criterion, parse_rule

    folders = {
        f"threads-{t}/s{s}/run-{r}": {"a.csv": f"region,val\nA,{10.0 * s * (1.15 if t == 2 else 1.0)}\n"}
        for t in (1, 2)
        for s in range(1, 5)
        for r in (1, 2)
    }
    study = ingested_folders(
        tmp_path, "  a: {path: a.csv, kind: bytes}\n", folders, "threads-{threads}/{subject}/run-{repetition}"
    )
    doc = evaluate(study.analyze().document, [Criterion(*parse_rule("repetitions_identical"))])
    (out,) = doc["outputs"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "every observation judged"]
    assert why["severity"] == "warn" and not why["passed"]
    assert why["message"].startswith("the files differ between executions of a subject across factor levels")
    assert doc["verdict"]["status"] == "warn"


def test_criteria_declared_for_an_optional_output_no_execution_wrote_are_named(tmp_path: Path) -> None:
    """Review B: `{require: identical, outputs: [lesions]}` and an ICC criterion on an optional `lesions` that no
    execution wrote appeared on no `check` line and in no JUnit test case. Each is named, not measured (a
    warning: an optional output may be unwritten everywhere, a lesion map of healthy subjects)."""
    from reprovip.criteria.evaluate import evaluate
    from reprovip.criteria.rules import Criterion, parse_rule

    files = {(f"s{s}", r): {"r.json": f'{{"v": {s}.5}}'} for s in range(1, 4) for r in (1, 2)}
    outputs = "  r: {path: r.json, kind: scalars}\n  lesions: {path: lesions.csv, kind: table, optional: true}\n"
    doc = ingested(tmp_path, outputs, files).analyze().document
    declared = [
        Criterion(*parse_rule("identical"), outputs=("lesions",)),
        Criterion(*parse_rule("ICC(A,1).ci_low >= 0.95"), outputs=("lesions",)),
    ]
    lesions = next(o for o in evaluate(doc, declared)["outputs"] if o["name"] == "lesions")
    named = {r["criterion"]: r for r in lesions["verdict"]["reasons"]}
    for text in ("identical", "ICC(A,1).ci_low >= 0.95"):
        assert (named[text]["passed"], named[text]["estimable"], named[text]["severity"]) == (False, False, "warn")
        assert named[text]["message"] == f"{text}: not measured: no execution wrote this optional output"
