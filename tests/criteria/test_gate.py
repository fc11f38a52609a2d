"""The CI gate on real runs: exit codes, verdict reasons, JUnit XML, Markdown, badge, strict mode, hook."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.criteria import parse_rule
from reprovip.criteria.evaluate import evaluate
from reprovip.study import Study
from tests.conftest import write_study

THREADS = "  threads: [1, 2]\n"


def _junit_cases(path: Path) -> list[ET.Element]:
    """Parse like CI systems do: testsuites > testsuite > testcase, counts consistent with children."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == int(root.get("tests"))
    assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
    assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
    for c in cases:
        assert c.get("classname") and c.get("name") and c.get("time") is not None
    return cases


def test_deterministic_app_passes_with_exit_0(study_dir: Path, tmp_path: Path) -> None:
    path = write_study(study_dir, factors=THREADS, repetitions=2)
    assert main(["run", str(path), "--no-progress"]) == 0
    junit, badge = tmp_path / "junit.xml", tmp_path / "badge.svg"
    assert main(["check", str(path), "--junit", str(junit), "--badge", str(badge)]) == 0
    cases = _junit_cases(junit)
    assert [c.get("name") for c in cases] == ["identical", "all executions succeeded"]
    assert "reproducible" in badge.read_text() and "#2e7d32" in badge.read_text()


def test_failing_criterion_on_nondeterministic_app_exit_1_with_reason(
    study_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_study(
        study_dir,
        app="nondet_app.py",
        factors=THREADS,
        extra='criteria:\n  - "sd_ratio <= 0.00001"\n  - {require: identical, severity: warn}\n',
    )
    assert main(["run", str(path), "--no-progress"]) == 0
    junit, md = tmp_path / "junit.xml", tmp_path / "summary.md"
    assert main(["check", str(path), "--junit", str(junit), "--markdown", str(md)]) == 1
    out = capsys.readouterr().out
    assert "result: sd_ratio <= 1e-05" in out and "Failed" in out
    assert "identical for threads=1, differs for threads=2: nondeterminism under multithreading" in out
    doc = Study.load(path).check().document
    reason = next(r for r in doc["outputs"][0]["verdict"]["reasons"] if r["metric"] == "sd_ratio")
    assert not reason["passed"] and reason["observation"] == "value" and reason["value"] > 1e-5
    assert doc["verdict"]["label"] == "not reproducible"
    failures = [c for c in _junit_cases(junit) if c.find("failure") is not None]
    assert [c.get("name") for c in failures] == ["sd_ratio <= 1e-05"]
    assert "❌" in md.read_text() and "| result | fail |" in md.read_text()


def warned_study(root: Path) -> Path:
    """A run of the nondeterministic app under a warn-severity criterion it fails; its study file."""
    path = write_study(
        root,
        app="nondet_app.py",
        factors=THREADS,
        repetitions=2,
        extra='criteria:\n  - {require: "sd_ratio <= 0.00001", severity: warn}\n',
    )
    assert main(["run", str(path), "--no-progress"]) == 0
    return path


def test_warnings_pass_unless_strict(study_dir: Path) -> None:
    path = warned_study(study_dir)
    assert main(["check", str(path)]) == 0
    assert main(["check", str(path), "--strict", "--no-reanalyze"]) == 1


def test_default_criteria_are_the_seed_rule(study_dir: Path) -> None:
    path = write_study(study_dir, app="nondet_app.py", factors=THREADS)
    Study.load(path).run(jobs=2)
    doc = Study.load(path).check().document
    reasons = doc["outputs"][0]["verdict"]["reasons"]
    assert [r["criterion"] for r in reasons] == ["ICC(A,1).ci_low >= 0.9"]
    assert reasons[0]["passed"] and doc["verdict"]["status"] == "pass"


def test_failed_executions_exit_3_and_alert(study_dir: Path) -> None:
    path = write_study(study_dir, app="misbehaving_app.py", args='"crash", "{outdir}"', repetitions=2, subjects=2)
    assert main(["run", str(path), "--no-progress"]) == 3
    assert main(["check", str(path)]) == 3
    doc = json.loads((Study.load(path).results / "analysis.json").read_text())
    assert any("4 of 4 executions failed" in a["message"] for a in doc["alerts"])


def _failing_study_with_hook(study_dir: Path, code: str) -> Path:
    """A study that fails its criterion, run, whose `on_fail` hook is `{python} -c CODE`."""
    hook = json.dumps(["{python}", "-c", code])
    path = write_study(
        study_dir,
        app="nondet_app.py",
        factors=THREADS,
        repetitions=2,
        extra=f'criteria: ["sd_ratio <= 0.00001"]\non_fail: {hook}\n',
    )
    Study.load(path).run(jobs=2)
    return path


def test_on_fail_hook_receives_summary_on_stdin(study_dir: Path) -> None:
    hook_out = study_dir / "hook.json"
    # {python} and {study_dir} are filled in (a review: "could not run '{python}'"), the hook runs in the study folder
    path = _failing_study_with_hook(study_dir, "import sys; open('{study_dir}/hook.json', 'w').write(sys.stdin.read())")
    result = Study.load(path).check()
    assert result.exit_code == 1 and result.notified
    summary = json.loads(hook_out.read_text())
    assert summary["verdict"]["status"] == "fail" and summary["outputs"] == {"result": "fail"}


def test_a_failing_hook_keeps_the_verdict_exit_code_and_the_reports(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A review: a notification hook that exited 5 (a webhook down) made `check` exit 2, "bad input", and write
    neither the JUnit file nor the Markdown summary of a study that was simply not reproducible."""
    path = _failing_study_with_hook(study_dir, "import sys; sys.stderr.write('webhook down\\n'); sys.exit(5)")
    junit, markdown = study_dir / "j.xml", study_dir / "s.md"
    capsys.readouterr()
    assert main(["check", str(path), "--junit", str(junit), "--markdown", str(markdown)]) == 1
    err = capsys.readouterr().err
    assert f"reprovip: warning: on_fail command {sys.executable!r} exited with 5: webhook down" in err
    assert junit.exists() and markdown.exists()
    assert any(c.find("failure") is not None for c in _junit_cases(junit))
    result = Study.load(path).check()
    assert result.exit_code == 1 and not result.notified and result.hook_error.endswith("exited with 5: webhook down")


def test_an_unknown_hook_placeholder_is_refused_at_validate(study_dir: Path, capsys) -> None:
    path = write_study(study_dir, extra='on_fail: ["{python}", "notify.py", "{subject}"]\n')
    assert main(["validate", str(path)]) == 2
    assert "on_fail.2: placeholder {subject} is no placeholder of `on_fail`, which knows {python}, {study_dir}" in (
        capsys.readouterr().err
    )


def test_a_hook_s_literal_braces_are_no_placeholders(study_dir: Path, capsys) -> None:
    """Review B: a webhook's JSON payload (`curl -d '{"text": ...}'`) or an awk program (`{print $1}`) was refused
    as an unknown placeholder: braces around quoted text or `$` are passed as they are; a name is still checked."""
    payload = '{\\"text\\": \\"gate failed\\"}'
    path = write_study(study_dir, extra=f'on_fail: ["curl", "-d", "{payload}", "awk {{print $1}}"]\n')
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    path.write_text(path.read_text().replace('"awk {print $1}"', '"{ study_dir}"'))
    assert main(["validate", str(path)]) == 2
    assert "placeholder { study_dir} is no placeholder of `on_fail`" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("criterion", "match"),
    [
        ("sd_ratoi <= 0.1", r"unknown metric `sd_ratoi` in criterion 'sd_ratoi <= 0.1'; did you mean `sd_ratio`\?"),
        ("ICC(A,1).ci_low => 0.9", r"must read `METRIC OP NUMBER`"),
        ("dice_min >= high", r"must read `METRIC OP NUMBER`"),
    ],
)
def test_invalid_criteria_are_rejected(criterion: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_rule(criterion)


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("icc(a,1).ci_low", "ICC(A,1).ci_low"),
        ("ICC(a,1)", "ICC(A,1)"),
        ("ICC(A,K).ci_low", "ICC(A,k).ci_low"),
        ("ICC(A,2)", "ICC(A,1)"),
        ("ICC(B,1).ci_low", "ICC(A,1).ci_low"),
        ("ICC(A,1).ci_hi", "ICC(A,1).ci_low"),
        ("ICC(C,1).ci_lo", "ICC(C,1).ci_low"),
        ("voxel_icc_a1_medain", "voxel_icc_a1_median"),
    ],
)
def test_a_mistyped_icc_is_offered_the_same_form_never_a_more_lenient_one(typed: str, hint: str) -> None:
    """Review D/07: `icc(a,1).ci_low >= 0.9` was refused with "did you mean `ICC(C,1).ci_low`?" (closer by
    letters), the consistency form that ignores an offset between conditions; following the hint turned a
    study whose threads=2 adds 15% to every subject from "not reproducible" to exit 0. The name matching
    ignoring case comes first; otherwise no form, count or bound more lenient than the one typed."""
    with pytest.raises(ValueError, match=re.escape(f"unknown metric `{typed}`") + ".*" + re.escape(f"`{hint}`?")):
        parse_rule(f"{typed} >= 0.9")


def test_invalid_criteria_fail_validate_with_exit_2(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(study_dir, extra='criteria:\n  - {require: "wcv <= 0.1", outputs: [nope]}\n')
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "criteria.0.outputs.0: output 'nope' is not declared; declared outputs: result" in err


def test_error_output_gets_error_verdict() -> None:
    doc = {
        "study": {"name": "s"},
        "executions": {"total": 1, "failed": 0, "failure_rate": 0.0},
        "outputs": [{"name": "o", "kind": "table", "error": "o.csv: truncated", "observations": [], "summary": {}}],
    }
    evaluate(doc, None)
    assert doc["outputs"][0]["verdict"]["status"] == "error" and doc["verdict"]["status"] == "error"
    # The numeric criterion cannot be computed: it says why, and the verdict is "not analysable", not a pass.
    assert doc["alerts"] == [
        {"output": "o", "severity": "fail", "message": "ICC(A,1).ci_low >= 0.9: not analysable: o.csv: truncated"}
    ]
    assert doc["verdict"]["label"] == "not analysable" and doc["verdict"]["exit_code"] == 1


def test_observation_patterns_restrict_a_criterion(study_dir: Path) -> None:
    path = write_study(
        study_dir,
        app="nondet_app.py",
        factors=THREADS,
        repetitions=2,
        outputs="  result: {path: result.json, kind: scalars}\n",
        extra='criteria:\n  - {require: "sd_ratio <= 0.00001", observations: ["nothing*"]}\n'
        '  - {require: "wsd <= 1", observations: ["val*"]}\n',
    )
    Study.load(path).run(jobs=2)
    doc = Study.load(path).check().document
    reasons = {r["criterion"]: r for r in doc["outputs"][0]["verdict"]["reasons"]}
    assert reasons["wsd <= 1 [val*]"]["passed"] and reasons["wsd <= 1 [val*]"]["observation"] == "value"
    # A pattern that selects nothing cannot be checked: it fails and says so.
    assert not reasons["sd_ratio <= 1e-05 [nothing*]"]["passed"]
    assert "no observation matches nothing*" in reasons["sd_ratio <= 1e-05 [nothing*]"]["message"]


@pytest.mark.parametrize("option", ["--junit", "--badge", "--markdown", "--json"])
def test_an_artefact_path_under_a_file_is_a_one_line_error(
    study_dir: Path, tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--junit report.txt/junit.xml` where report.txt is a file: FileExistsError, exit 4 and a crash log (a
    review). Now exit 2 and one line naming the path."""
    path = write_study(study_dir)
    Study.load(path).run()
    (tmp_path / "report.txt").write_text("x")
    target = tmp_path / "report.txt" / "out"
    capsys.readouterr()
    assert main(["check", str(path), option, str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"reprovip: error: {target}: cannot write it: a part of its folder, {target.parent}, is a file; give another path"
    ]


@pytest.mark.parametrize(
    ("kind", "hint"),
    [
        ("scalars", "a per-observation metric (ICC(A,1).ci_low, wcv, wsd, sigdigits...) or identical"),
        ("image", "voxel_icc_a1_median, voxel_sd_max, voxel_sigdigits_min, voxel_differ_fraction or identical"),
    ],
)
def test_a_criterion_no_output_can_compute_says_what_to_use(
    study_dir: Path, capsys: pytest.CaptureFixture[str], kind: str, hint: str
) -> None:
    """Review 10 (b12): `dice_min` on a scalars output read "...; use see docs/criteria.md"."""
    rule = "dice_min >= 0.9" if kind == "scalars" else "ICC(A,1).ci_low >= 0.9"
    path = write_study(
        study_dir,
        outputs=f"  result: {{path: {'result.json' if kind == 'scalars' else 'result.nii.gz'}, kind: {kind}}}\n",
        extra=f'criteria:\n  - "{rule}"\n',
    )
    assert main(["validate", str(path)]) == 2
    metric = rule.split()[0]
    assert (
        f"`{metric}` can never be computed for output 'result' (kind {kind}); use {hint}\n" in capsys.readouterr().err
    )


def test_a_threshold_that_is_not_a_number_says_how_a_criterion_reads() -> None:
    """`ICC(A,1).ci_low >= 0.9.1` read "could not convert string to float: '0.9.1'" (review 10, b12)."""
    with pytest.raises(ValueError, match=r"criterion 'ICC\(A,1\).ci_low >= 0.9.1' must read `METRIC OP NUMBER`"):
        parse_rule("ICC(A,1).ci_low >= 0.9.1")


@pytest.mark.parametrize(
    ("document", "wrong"),
    [
        ("[]", "a JSON list, not an object"),
        ('{"schema": "reprovip.analysis/2", "outputs": "x"}', "study, executions, outputs, verdict"),
        (
            '{"schema": "reprovip.analysis/2", "outputs": [], "verdict": {"status": "identical"}}',
            "study, executions",
        ),
        ('{"study": {}, "executions": {}, "outputs": [{}], "verdict": {}}', "schema, outputs (each an object"),
    ],
)
def test_a_document_reprovip_did_not_write_is_refused_in_one_line(tmp_path: Path, document: str, wrong: str) -> None:
    """Review HH: `report --analysis` rendered a hand-written `{"verdict": {"status": "identical"}}` as
    "reproducible" over a catalog of 30 executions, and `{"outputs": "x"}` was an internal error."""
    from reprovip.criteria.gate import read_document
    from reprovip.errors import InputError

    path = tmp_path / "forged.json"
    path.write_text(document)
    with pytest.raises(InputError, match=re.escape(f"{path}: not an analysis document reprovip wrote")) as err:
        read_document(path)
    assert wrong in str(err.value) and str(err.value).endswith("run `reprovip analyze` again")


def test_a_missing_hook_script_is_refused_at_validate(study_dir: Path, capsys) -> None:
    """Review NU2: the docs' `on_fail: ["{python}", "{study_dir}/notify.py"]` without notify.py validated "ok",
    and only `check` said the hook could not open it."""
    path = write_study(study_dir, extra='on_fail: ["{python}", "{study_dir}/notify.py"]\n')
    assert main(["validate", str(path)]) == 2
    assert "on_fail.1: on_fail names '{study_dir}/notify.py', which does not exist" in capsys.readouterr().err
    (study_dir / "notify.py").write_text("import sys; sys.stdin.read()\n")
    assert main(["validate", str(path)]) == 0
