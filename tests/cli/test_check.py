"""``reprovip check``'s lines agree with the verdict they print (found by review: a criterion computed on the
readable files read "Passed" under "outputs readable ... Failed" without a word; a warn-severity criterion
that could not be computed read "Warning" while its output was not analysable)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reprovip.cli.check import print_lines


def _reason(criterion: str, *, passed: bool, severity: str = "fail", estimable: bool = True) -> dict:
    return dict(criterion=criterion, passed=passed, severity=severity, estimable=estimable, message=f"why {criterion}")


def _document(status: str, reasons: list[dict]) -> dict:
    return dict(
        study={"name": "s"},
        outputs=[dict(name="res", verdict=dict(status=status, reasons=reasons))],
        executions=dict(failed=0, not_done=0),
        alerts=[],
        verdict=dict(summary="summary", label="label"),
    )


def _lines(document: dict, capsys: pytest.CaptureFixture[str], *, strict: bool = False) -> list[str]:
    print_lines(document, strict=strict)
    return capsys.readouterr().out.splitlines()


def test_a_criterion_computed_beside_unreadable_files_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    doc = _document(
        "error",
        [_reason("outputs readable", passed=False, estimable=False), _reason("ICC(A,1).ci_low >= 0.9", passed=True)],
    )
    lines = _lines(doc, capsys)
    assert lines[0].startswith("res: outputs readable.") and lines[0].endswith("Error")
    assert lines[2].startswith("res: ICC(A,1).ci_low >= 0.9.") and lines[2].endswith("Passed")
    assert lines[3] == "  - computed on the files that could be read only (see `outputs readable`)"


@pytest.mark.parametrize(
    ("status", "severity", "estimable", "strict", "word"),
    [
        ("error", "warn", False, False, "Error"),  # not computable, output not analysable
        ("warn", "warn", True, False, "Warning"),
        ("warn", "warn", True, True, "Failed"),
        ("fail", "fail", True, False, "Failed"),
        ("fail", "warn", False, False, "Warning"),  # not computable, but another criterion decided the output
    ],
)
def test_each_line_reads_as_its_output_status(capsys, status, severity, estimable, strict, word) -> None:
    doc = _document(status, [_reason("sd_ratio <= 0.1", passed=False, severity=severity, estimable=estimable)])
    assert _lines(doc, capsys, strict=strict)[0].endswith(f"...{word}")


def test_a_pass_with_a_note_prints_it_as_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    """Review EX6: a pass whose stored reason carries a note (an ICC interval on 2 subjects) printed nothing."""
    doc = _document("pass", [dict(_reason("ICC(A,1).ci_low >= 0.9", passed=True), note="fewer than 3 subjects")])
    lines = _lines(doc, capsys)
    assert lines[0].endswith("Passed") and lines[1] == "  - warning: fewer than 3 subjects"


def test_check_on_two_subjects_warns_that_the_icc_interval_is_uninformative(tmp_path, capsys) -> None:
    """The note the analysis stores on the ICC entry reaches `check` through the criterion's reason."""
    from reprovip.metrics.icc import CI_UNINFORMATIVE_NOTE
    from tests.conftest import ingested

    rng = np.random.default_rng(3)
    files = {
        (s, r): {"r.json": json.dumps({"vol": base + 1e-3 * rng.normal()})}
        for s, base in (("a", 10), ("b", 90))
        for r in (1, 2, 3)
    }
    document = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document
    assert document["outputs"][0]["verdict"]["status"] == "pass"
    lines = _lines(document, capsys)
    at = next(i for i, line in enumerate(lines) if line.startswith("r: ICC(A,1).ci_low >= 0.9."))
    assert lines[at].endswith("Passed") and lines[at + 1] == f"  - warning: {CI_UNINFORMATIVE_NOTE}"


@pytest.mark.parametrize(
    ("strict", "end"), [(False, "s: with warnings"), (True, "s: with warnings (fails --strict: warnings are failures)")]
)
def test_the_closing_line_says_when_strict_fails_the_warnings(capsys, strict: bool, end: str) -> None:
    """Review AR: `check --strict` exited 1 on a study whose closing line read "sufficiently reproducible, with
    warnings"; the markdown summary said it fails --strict."""
    doc = _document("warn", [_reason("sd_ratio <= 0.1", passed=False, severity="warn")])
    doc["verdict"].update(status="warn", label="with warnings")
    assert _lines(doc, capsys, strict=strict)[-1] == end
