"""The report of label maps in a study with no factor, and of 4-D label maps (found by review: a label map that
differs between repetitions in a study without factors made ``report`` fail on ``dice_between_min``, which only
exists between conditions; a 4-D label map made it fail on ``repetitions_identical``).

Expected values are from the construction of tests/apps/labels_app.py: label 1 has 56 voxels, 57 in odd
repetitions, the 56 shared, so its worst Dice is 2 * 56 / (56 + 57) = 112 / 113; label 2 never changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.report import report_html
from reprovip.report.fmt import fmt
from reprovip.study import Study


def _output(study: Study) -> dict:
    return json.loads((study.results / "analysis.json").read_text())["outputs"][0]


def test_the_document_has_within_pairs_only_without_a_factor(labels_study: Study) -> None:
    seg = _output(labels_study)["segmentation"]
    assert seg["labels"]["1"]["dice_within_min"] == pytest.approx(112 / 113, abs=1e-12)
    assert seg["labels"]["2"]["dice_within_min"] == 1.0
    assert seg["dice_min"] == pytest.approx(112 / 113, abs=1e-12) and seg["dice_min_label"] == 1
    assert not any(k.endswith(("between_min", "between_max")) for lab in seg["labels"].values() for k in lab)


def test_report_of_labels_without_a_factor_shows_the_label_table(
    labels_study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(labels_study.path), "-o", str(out)]) == 0, capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    section = html[html.index("<h3>Segmentation agreement") :]
    section = section[: section.index("</table>")]
    assert f"Dice min {fmt(112 / 113)}" in section
    rows = section.split("<tr>")[2:]
    assert rows[0].startswith("<td>1</td>") and f'<td class="num">{fmt(112 / 113)}</td>' in rows[0]
    assert rows[1].startswith("<td>2</td>") and f'<td class="num">{fmt(1.0)}</td>' in rows[1]
    # No pair of executions lies between two conditions: no column says otherwise.
    assert "Dice within min" in section and "between" not in section
    assert labels_study.report().html.count("Dice within min") == 1  # the Python API renders it too


def test_report_of_a_4d_label_map_says_why_it_is_not_analysable(
    labels4d_study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(labels4d_study.path), "-o", str(out)]) == 0, capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert "analysis error" in html and "4-D (shape (8, 8, 8, 4))" in html
    assert "<b>Identity:</b> executions differ" in html  # the stored files are still compared


def test_an_output_whose_analysis_stopped_before_its_bitwise_summary_renders(labels_study: Study) -> None:
    """The entry ``analyze`` stores when an output's analysis raises before comparing its files (engine.py:
    name, kind, error, no observation, empty summary) renders with its error, read as not compared."""
    doc = json.loads((labels_study.results / "analysis.json").read_text())
    out = doc["outputs"][0]
    doc["outputs"][0] = dict(
        name=out["name"], kind="labels", error="seg.nii.gz: cannot be read", observations=[], summary={}
    )
    html = report_html(doc)
    assert "<pre>seg.nii.gz: cannot be read</pre>" in html
    assert "<b>Identity:</b> not compared: the analysis holds no bitwise summary of this output." in html
    assert "Segmentation agreement" not in html
