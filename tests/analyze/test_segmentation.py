"""Label maps that the segmentation metrics cannot take: the verdict is "not analysable" and ``check`` says what
is wrong with the data and what to do (found by review: a 4-D label map printed the metric's internal message
"`spacing` must be 4 positive finite numbers (mm), got (1.0, 1.0, 1.0)")."""

from __future__ import annotations

import re

import pytest

from reprovip.cli.main import main
from reprovip.study import Study
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
        r"repetition \d\) is 4-D \(shape \(8, 8, 8, 4\)\); write one volume per output \(each volume a file "
        r"declared as its own output\)$",
        line,
    ), line
    assert out.rstrip().endswith("not analysable")
    doc = labels4d_study.check(reanalyze=False).document
    assert doc["outputs"][0]["bitwise"]["identical"] is False  # the output is analysed up to its labels
