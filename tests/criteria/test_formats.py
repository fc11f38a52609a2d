"""The check's CI outputs (badge, Markdown, JUnit) render the stored verdict, never one of their own (found by
review: the badge of a study with warnings read "sufficiently reproducible", a plain pass; JUnit was green for a
study whose check exited 1; the Markdown counted 0 failed executions for a study incomplete for unfinished ones).

The labels are the ladder of docs/criteria.md (``reprovip.criteria.verdict.LABELS``)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.criteria.evaluate import evaluate
from reprovip.criteria.formats import COLORS, badge_svg, junit_xml, markdown_summary
from reprovip.criteria.verdict import LABELS, LADDER, exit_code
from tests.conftest import write_study
from tests.criteria.test_gate import warned_study

THREADS = "  threads: [1, 2]\n"


def _document(status: str) -> dict:
    """A stored verdict of ``status`` with nothing else that fails: only the verdict can make a view red."""
    return dict(
        study={"name": "s"},
        outputs=[],
        executions={"total": 4, "failed": 0, "not_done": 0},
        alerts=[],
        verdict=dict(status=status, label=LABELS[status], summary="the summary"),
    )


def _badge_texts(svg: str) -> list[str]:
    return re.findall(r"<text [^>]*>([^<]*)</text>", svg)


def _junit(text: str) -> tuple[dict[str, str], list[ET.Element]]:
    suite = ET.fromstring(text.split("\n", 1)[1]).find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    return props, suite.findall("testcase")


@pytest.mark.parametrize("status", LADDER)
def test_every_view_says_the_stored_label(status: str) -> None:
    doc = _document(status)
    label = LABELS[status]
    badge = badge_svg(doc["verdict"])
    assert _badge_texts(badge) == ["reproducibility", label]
    assert f"<title>reproducibility: {label}</title>" in badge and f'fill="{COLORS[status]}"' in badge
    assert markdown_summary(doc).splitlines()[0].endswith(f" s: {label}")
    props, _ = _junit(junit_xml(doc))
    assert props == {"verdict": status, "verdict label": label}


def test_a_strict_gate_that_fails_on_warnings_says_so_in_markdown() -> None:
    """Review J (c04): `check --strict` failed the job while the Markdown summary read "⚠️ ... with warnings"."""
    doc = _document("warn")
    assert markdown_summary(doc).splitlines()[0] == f"## ⚠️ s: {LABELS['warn']}"
    assert markdown_summary(doc, strict=True).splitlines()[0] == (
        f"## ❌ s: {LABELS['warn']} (fails `--strict`: warnings are failures)"
    )
    assert markdown_summary(_document("pass"), strict=True).splitlines()[0] == f"## ✅ s: {LABELS['pass']}"


def test_a_warning_badge_keeps_the_warning() -> None:
    (right,) = _badge_texts(badge_svg(_document("warn")["verdict"]))[1:]
    assert right == "sufficiently reproducible, with warnings"


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("status", LADDER)
def test_junit_is_red_exactly_when_check_exits_non_zero(status: str, strict: bool) -> None:
    """Nothing but the verdict fails in these documents: JUnit must still be red when the job is."""
    _, cases = _junit(junit_xml(_document(status), strict=strict))
    failed = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
    assert bool(failed) == bool(exit_code(status, strict=strict))
    if failed:
        assert [c.get("name") for c in failed] == ["study verdict"]
        assert failed[0].find("failure").get("message") == f"{LABELS[status]}: the summary"


def test_a_study_without_outputs_is_a_red_junit() -> None:
    """The verdict of ``evaluate``: no output is ``error`` (exit 1); the only case, executions, passes."""
    doc = {"study": {"name": "s"}, "executions": {"total": 4, "failed": 0, "not_done": 0, "failure_rate": 0.0}}
    doc["outputs"] = []
    evaluate(doc, None)
    assert doc["verdict"]["status"] == "error"
    _, cases = _junit(junit_xml(doc))
    assert [(c.get("name"), c.find("failure") is not None) for c in cases] == [
        ("all executions succeeded", False),
        ("study verdict", True),
    ]


def test_markdown_counts_executions_as_the_verdict_does() -> None:
    """Two executions that never finished (a killed run): incomplete, and the summary says 2, not 0 failed."""
    doc = {"study": {"name": "s"}, "executions": {"total": 6, "failed": 0, "not_done": 2, "failure_rate": 0.0}}
    doc["outputs"] = []
    evaluate(doc, None)
    assert doc["verdict"]["status"] == "incomplete"
    assert "\nExecutions: 6 total, 2 did not succeed.\n" in markdown_summary(doc)


def test_check_of_a_study_with_warnings(study_dir: Path, tmp_path: Path) -> None:
    """A real run: the nondeterministic app under a warn-severity criterion it fails. Exit 0, and the badge,
    the Markdown and JUnit all say "with warnings" (before: the badge said "sufficiently reproducible")."""
    path = warned_study(study_dir)
    badge, md, junit = tmp_path / "badge.svg", tmp_path / "summary.md", tmp_path / "junit.xml"
    assert main(["check", str(path), "--badge", str(badge), "--markdown", str(md), "--junit", str(junit)]) == 0
    label = "sufficiently reproducible, with warnings"
    assert _badge_texts(badge.read_text()) == ["reproducibility", label]
    assert md.read_text().startswith(f"## ⚠️ {study_dir.name}: {label}\n")
    props, cases = _junit(junit.read_text())
    assert props["verdict label"] == label
    assert not [c for c in cases if c.find("failure") is not None or c.find("error") is not None]


def test_junit_errors_where_check_prints_error(study_dir: Path, tmp_path: Path) -> None:
    """One subject: the ICC of the only (warn-severity) criterion cannot be computed, so the output is not
    analysable (exit 1) and check prints "Error". Before: JUnit said "WARNING" and had no failure at all."""
    path = write_study(
        study_dir,
        app="nondet_app.py",
        factors=THREADS,
        subjects=1,
        repetitions=2,
        extra='criteria:\n  - {require: "ICC(A,1).ci_low >= 0.9", severity: warn}\n',
    )
    assert main(["run", str(path), "--no-progress"]) == 0
    junit = tmp_path / "junit.xml"
    assert main(["check", str(path), "--junit", str(junit)]) == 1
    props, cases = _junit(junit.read_text())
    assert props == {"verdict": "error", "verdict label": "not analysable"}
    errors = [c for c in cases if c.find("error") is not None]
    assert [c.get("name") for c in errors] == ["ICC(A,1).ci_low >= 0.9", "a criterion computed"]
    assert "needs at least 2 complete subjects" in errors[0].find("error").get("message")


def test_check_lines_and_junit_cases_use_one_word_per_reason(capsys: pytest.CaptureFixture[str]) -> None:
    """A criterion that could not be computed, in an output that fails on another: JUnit had it as an error and
    `check` printed "Failed". Both now read each reason through `reason_word`."""
    from reprovip.cli.check import print_lines

    def r(criterion: str, **fields: object) -> dict:
        return dict(criterion=criterion, message=f"{criterion} message", **fields)

    reasons = [
        r("a", passed=False, estimable=True, severity="fail"),
        r("b", passed=False, estimable=False, severity="fail"),
        r("c", passed=False, estimable=True, severity="warn"),
        r("d", passed=True, estimable=True, severity="fail"),
    ]
    doc = _document("fail")
    doc["outputs"] = [dict(name="o", verdict=dict(status="fail", reasons=reasons))]
    print_lines(doc, strict=False)
    words = [line.rsplit(".", 1)[-1] for line in capsys.readouterr().out.splitlines() if line.startswith("o: ")]
    assert words == ["Failed", "Error", "Warning", "Passed"]
    _, cases = _junit(junit_xml(doc))
    kinds = [next((c.tag for c in case if c.tag in ("failure", "error")), "ok") for case in cases[:4]]
    assert kinds == ["failure", "error", "ok", "ok"]


def _failed_comparison(alerts: list[dict]) -> dict:
    """A `compare` whose shared output could not be computed (errors only) and whose verdict is "not
    reproducible" for the alerts (an output only one version writes)."""
    doc = _document("fail")
    reason = dict(criterion="ICC(A,1).ci_low >= 0.9", message="not analysable", passed=False, estimable=False)
    doc["outputs"] = [dict(name="vols", verdict=dict(status="error", reasons=[dict(reason, severity="fail")]))]
    doc["alerts"] = alerts
    return doc


def test_a_not_reproducible_comparison_is_a_junit_failure_as_check_prints_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`check` printed "study alerts....Failed" and the verdict was "not reproducible", while JUnit showed 0
    failures and the criteria's errors only (a review's renamed output)."""
    from reprovip.cli.check import print_lines

    messages = [
        "volumes/vol.csv is written only by the baseline version",
        "extra/extra.json is written only by the current version",
    ]
    doc = _failed_comparison([dict(output=m.split(" ")[0], severity="fail", message=m) for m in messages])
    print_lines(doc, strict=False)
    assert re.search(r"^study alerts\.+Failed$", capsys.readouterr().out, re.MULTILINE)
    _, cases = _junit(junit_xml(doc))
    failed = [c for c in cases if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [("s.study", "study alerts")]
    assert failed[0].find("failure").text == "\n".join(messages)


def test_a_warning_alert_on_an_output_one_version_writes_fails_strict_junit(capsys: pytest.CaptureFixture[str]) -> None:
    """A review: `compare --strict` printed "study alerts....Failed - qc: cnr is written only by the current
    version" and exited 1, while the JUnit file had no case naming it (only the generic `study verdict`)."""
    from reprovip.cli.check import print_lines

    message = "qc/cnr is written only by the current version"
    doc = _document("warn")
    doc["alerts"] = [dict(output="qc/cnr", severity="warn", message=message)]
    print_lines(doc, strict=True)
    assert re.search(r"^study alerts\.+Failed$", capsys.readouterr().out, re.MULTILINE)
    for strict, child in ((True, "failure"), (False, "system-out")):
        _, cases = _junit(junit_xml(doc, strict=strict))
        (warned,) = [c for c in cases if c.get("name") == "no study warning"]
        assert message in warned.find(child).text


def test_a_not_reproducible_verdict_with_errors_only_is_a_junit_failure() -> None:
    """Whatever makes the verdict "not reproducible", JUnit has a failure, not only errors."""
    _, cases = _junit(junit_xml(_failed_comparison([])))
    kinds = [(c.get("name"), next((x.tag for x in c if x.tag in ("failure", "error")), "ok")) for c in cases]
    assert kinds == [
        ("ICC(A,1).ci_low >= 0.9", "error"),
        ("all executions succeeded", "ok"),
        ("study verdict", "failure"),
    ]


def test_junit_with_control_characters_in_names_is_well_formed_xml() -> None:
    """Review D/11: a table key holding an ANSI colour code (ESC) or a vertical tab names the failing observation;
    `check --junit` wrote it raw and the file was not well-formed XML (XML 1.0 forbids C0 controls but tab and
    newlines: https://www.w3.org/TR/xml/#charsets), so a CI's test-report parser rejected it. Each forbidden
    character is now written as its Python escape, in texts and attributes alike."""
    name = "\x1b[1mgm\x1b[0m\x0b/volume"
    doc = _document("fail")
    message = f"ICC(A,1) = 0.2 (95% CI -0.1 to 0.6) on {name}: its lower bound fails >= 0.9"
    bad = dict(criterion="ICC(A,1).ci_low >= 0.9", passed=False, estimable=True, severity="fail", message=message)
    doc["outputs"] = [dict(name="vol\x1b", verdict=dict(status="fail", reasons=[bad]))]
    doc["alerts"] = [dict(output=None, severity="warn", message=f"flaky on {name}")]
    _, cases = _junit(junit_xml(doc))
    (failed,) = [c for c in cases if c.get("classname") == "s.vol\\x1b"]
    shown = "\\x1b[1mgm\\x1b[0m\\x0b/volume"
    assert failed.find("failure").get("message") == message.replace(name, shown)
    assert failed.find("failure").text == message.replace(name, shown)
    (warned,) = [c for c in cases if c.get("name") == "no study warning"]
    assert warned.find("system-out").text == f"WARNING: flaky on {shown}"


def test_one_rule_at_two_severities_gives_two_junit_names() -> None:
    """Review SS: `wcv <= 0.01` declared at warn and at fail made two test cases of one name, one passing and
    one failing, which CI tools merging by name showed as one."""
    doc = _document("fail")
    reasons = [
        dict(criterion="wcv <= 0.01", severity="warn", passed=False, estimable=True, message="wcv = 0.02"),
        dict(criterion="wcv <= 0.01", severity="fail", passed=False, estimable=True, message="wcv = 0.02"),
        dict(criterion="wcv <= 0.5", severity="fail", passed=True, estimable=True, message="wcv = 0.02"),
    ]
    doc["outputs"] = [dict(name="t", verdict=dict(status="fail", reasons=reasons))]
    _, cases = _junit(junit_xml(doc))
    names = [c.get("name") for c in cases if c.get("classname") == "s.t"]
    assert names == ["wcv <= 0.01 [warn]", "wcv <= 0.01 [fail]", "wcv <= 0.5"]
