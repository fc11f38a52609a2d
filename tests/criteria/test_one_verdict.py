"""One verdict: computed once by ``analyze``, shown the same by every view, never a pass the data cannot support.

Five real studies of ``tests/apps/edge_app.py`` (identical, sufficiently reproducible, not reproducible, with a
failed execution, with an unreadable output) are run, analysed once, then read through ``check`` (exit code and
printed label), the static report (banner), the dashboard (index and study page, HTML and JSON twins) and the
Python API. Every view must give the stored label.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.criteria.verdict import EXIT_CODES, LABELS, LADDER
from reprovip.dashboard import create_app, open_sources
from reprovip.report import report_view
from reprovip.store import BlobStore
from reprovip.study import Study
from tests.conftest import write_study
from tests.dashboard.conftest import Client

EDGE = '"{mode}", "{{input}}", "{{outdir}}", "{{repetition}}"'
RESULT = "  result: {path: result.json, kind: scalars}\n"
SCENARIOS = {
    # name: (edge_app mode, repetitions, expected status)
    "identical": ("ok", 2, "identical"),
    "sufficient": ("small-noise", 3, "pass"),
    "failing": ("large-noise", 3, "fail"),
    "failed-executions": ("fail-some", 3, "incomplete"),
    # one execution's file unreadable, the others' not: the output is not reproducible (a review: was "error")
    "unreadable": ("corrupt-some", 2, "fail"),
}


def edge_study(root: Path, mode: str, *, repetitions: int = 2, outputs: str = RESULT, extra: str = "") -> Study:
    """A study of ``edge_app.py MODE`` over 3 subjects, run to completion (failures allowed)."""
    path = write_study(
        root,
        app="edge_app.py",
        args=EDGE.format(mode=mode),
        repetitions=repetitions,
        outputs=outputs,
        extra=f"name: {root.name}\nretries: 0\n{extra}",
    )
    study = Study.load(path)
    study.run(jobs=2)
    return study


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Study]:
    root = tmp_path_factory.mktemp("verdicts")
    out = {}
    for name, (mode, reps, _) in SCENARIOS.items():
        (root / name).mkdir()
        out[name] = edge_study(root / name, mode, repetitions=reps)
        out[name].analyze()  # the one evaluation; every view below reads what it stored
    return out


def test_labels_ladder_and_exit_codes_are_one_table() -> None:
    assert set(LABELS) == set(EXIT_CODES) == set(LADDER)
    assert [EXIT_CODES[s] for s in LADDER] == [0, 0, 0, 1, 3, 1]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_view_gives_the_stored_label(
    name: str, studies: dict[str, Study], capsys: pytest.CaptureFixture[str]
) -> None:
    study = studies[name]
    expected = SCENARIOS[name][2]
    stored = json.loads((study.results / "analysis.json").read_text())["verdict"]
    assert stored["status"] == expected, stored
    label = LABELS[expected]
    # check: exit code and the closing line, from the stored verdict (no re-analysis).
    capsys.readouterr()
    assert main(["check", str(study.path), "--no-reanalyze"]) == EXIT_CODES[expected]
    assert capsys.readouterr().out.rstrip().splitlines()[-1] == f"{study.name}: {label}"
    # The Python API.
    verdict = study.analyze().verdict
    assert (verdict["status"], verdict["label"]) == (expected, label)
    result = Study.load(study.path).check(reanalyze=False)
    assert (result.status, result.label, result.exit_code) == (expected, label, EXIT_CODES[expected])
    # The static report's banner.
    html = report_view(study).html
    assert f'data-status="{expected}"' in html and f'<div class="label">{label}</div>' in html
    # The dashboard: index and study page, HTML and JSON.
    client = Client(create_app(open_sources([str(study.path)])))
    index = client.get("/index.json").json()["studies"]
    assert [(s["verdict"]["status"], s["verdict"]["label"]) for s in index] == [(expected, label)]
    key = index[0]["key"]
    assert f'<span class="badge st-{expected}">{expected}</span> {label}' in client.get("/").text
    page = client.get(f"/studies/{key}.json").json()
    assert page["analysis"]["verdict"]["status"] == expected and page["analysis"]["verdict"]["label"] == label
    assert re.search(
        rf'data-status="{expected}".*?<div class="label">{re.escape(label)}</div>',
        client.get(f"/studies/{key}").text,
        re.S,
    )


def _verdict(study: Study) -> tuple[dict, dict]:
    doc = study.analyze().document
    return doc, doc["outputs"][0]


def test_observation_infinite_in_every_execution_is_not_a_pass(study_dir: Path) -> None:
    """Before: `ratio` silently left the analysis and the study read "sufficiently reproducible"."""
    doc, out = _verdict(edge_study(study_dir, "inf-always"))
    ratio = next(o for o in out["observations"] if o["name"] == "ratio")
    assert ratio["nonfinite"]["pattern"] == "constant" and ratio["nonfinite"]["values"] == ["inf"]
    assert ratio["nonfinite"]["executions"] == ratio["nonfinite"]["of"] == 6
    (reason,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "ICC(A,1).ci_low >= 0.9"]
    assert not reason["passed"] and not reason["estimable"] and reason["observation"] == "ratio"
    assert "ratio is non-finite (inf) in every execution of 3 subject(s)" in reason["message"]
    assert out["verdict"]["status"] == "error" and doc["verdict"]["label"] == "not analysable"


def test_observation_infinite_in_some_executions_fails_and_is_named(study_dir: Path) -> None:
    """1e308 in repetition 1 and inf in repetition 2: a reproducibility failure, named where it happens."""
    study = edge_study(study_dir, "inf-some")
    doc, out = _verdict(study)
    (reason,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "finite in every execution"]
    assert not reason["passed"] and reason["estimable"] and reason["observation"] == "ratio"
    assert (
        "ratio is inf in subject sub-01, repetition 2, and differs in other executions of 3 subject(s)"
        in (reason["message"])
    )
    assert doc["verdict"]["status"] == "fail" and study.check(reanalyze=False).exit_code == 1


def test_unreadable_output_is_reported_once_per_execution(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: the error was recorded twice (once with a deleted working folder) and the terminal said
    "run-to-run nondeterminism"."""
    study = edge_study(study_dir, "corrupt-some")
    capsys.readouterr()
    assert main(["analyze", str(study.path)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("result ["))
    assert line.startswith("result [fail]: the files of 1 subject(s) (sub-02) can be read in some of their execut")
    assert "; 1 output file(s) could not be read: subject sub-02, repetition 1: " in line
    out = json.loads((study.results / "analysis.json").read_text())["outputs"][0]
    assert [(e["subject"], e["repetition"]) for e in out["errors"]] == [("sub-02", 1)]
    assert ".reprovip/blobs" in out["errors"][0]["error"] and "nondeterminism" not in line


def test_bitwise_criteria_need_only_hashes(study_dir: Path) -> None:
    """`identical` is decided from the stored hashes even when a file cannot be read: a definite failure with
    its attribution, not "not analysable"."""
    study = edge_study(study_dir, "corrupt-some", extra="criteria: [identical]\n")
    doc, out = _verdict(study)
    reasons = {r["criterion"]: r for r in out["verdict"]["reasons"]}
    assert not reasons["identical"]["passed"] and reasons["identical"]["estimable"]
    assert "repetitions" in reasons["identical"]["message"]  # the attribution, from the hashes
    assert not reasons["outputs readable"]["passed"]
    assert out["verdict"]["status"] == "fail" and doc["verdict"]["label"] == "not reproducible"


def test_identical_bytes_unreadable_everywhere_are_not_analysable(study_dir: Path) -> None:
    """A JSON file declared as a NumPy array cannot be read anywhere, but every execution wrote the same bytes.
    Before: "identical" with a warning, exit 0; equal bytes nothing was read from prove no identity (review EX4:
    truncated images in every execution read "bit-for-bit identical")."""
    study = edge_study(study_dir, "ok", outputs="  result: {path: 'result.js*', kind: array}\n")
    doc, out = _verdict(study)
    assert out["bitwise"]["identical"] is None and out["bitwise"]["undecodable"] == 6
    assert out["bitwise"]["not_compared"].startswith("6 stored file(s) could not be decoded as the output's kind")
    assert out["verdict"]["status"] == "error" and doc["verdict"]["status"] == "error"
    (readable,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable"]
    assert not readable["passed"] and not readable["estimable"]
    assert study.check(reanalyze=False).exit_code == 1


def test_the_summary_counts_outputs_with_the_same_bytes_not_judged_identical(tmp_path: Path) -> None:
    """Review I: every execution wrote `total_area nan`: the output's card read "Identity: bit-for-bit identical",
    the summary above it "0 of 1 outputs bit-for-bit identical" with no word of it."""
    from tests.conftest import ingested

    files = {(f"s{s}", r): {"r.log": "total_area nan\n"} for s in (1, 2, 3) for r in (1, 2)}
    doc = ingested(tmp_path, "  r: {path: r.log, kind: text}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["bitwise"]["identical"] is True and out["verdict"]["status"] != "identical"
    assert doc["verdict"]["summary"].startswith(
        "0 of 1 outputs bit-for-bit identical (1 with the same bytes in every execution is not judged identical: "
        "see its reasons); 0 of 6 executions failed"
    )


def test_digests_in_text_are_not_numbers_and_bytes_outputs_must_be_identical(tmp_path: Path) -> None:
    """`12e61109<hex>` once became inf; a `bytes` output is compared by its bytes only. The log's numbers are
    identical while its digest differs: a warning says so (what no observation measures)."""
    (tmp_path / "text").mkdir()
    (tmp_path / "bytes").mkdir()
    text = edge_study(tmp_path / "text", "digest", outputs="  log: {path: digest.txt, kind: text}\n")
    _, out = _verdict(text)
    assert [o["name"] for o in out["observations"]] == ["line1:0"]  # the value; not the digest
    assert out["observations"][0]["identical"] and out["verdict"]["status"] == "warn"
    assert [r["criterion"] for r in out["verdict"]["reasons"] if not r["passed"]] == [
        "differences covered by the observations"
    ]
    raw = edge_study(tmp_path / "bytes", "digest", outputs="  log: {path: digest.txt, kind: bytes}\n")
    doc, out = _verdict(raw)
    assert out["observations"] == [] and [r["criterion"] for r in out["verdict"]["reasons"]] == ["identical"]
    assert out["verdict"]["status"] == "fail" and doc["verdict"]["exit_code"] == 1


def test_a_measurement_glued_to_its_unit_in_a_log_is_measured(study_dir: Path) -> None:
    """`volume: 4231.7mm3` was an identifier: a volume varying as much as subjects differ passed with a warning
    (a review). The number is read beside its unit, and its ICC fails."""
    study = edge_study(study_dir, "unit-log", repetitions=3, outputs="  log: {path: volume.log, kind: text}\n")
    doc, out = _verdict(study)
    assert [o["name"] for o in out["observations"]] == ["line1:0", "line1:1"]  # the volume, then the 3.2 s
    assert not out["observations"][0]["identical"] and out["observations"][1]["identical"]
    failed = [r["criterion"] for r in out["verdict"]["reasons"] if not r["passed"]]
    assert out["verdict"]["status"] == "fail" and any(c.startswith("ICC(A,1)") for c in failed), failed
    assert doc["verdict"]["label"] == "not reproducible" and doc["verdict"]["exit_code"] == 1


def test_one_execution_per_subject_has_nothing_to_compare(study_dir: Path) -> None:
    """K = 1 and no factor: every output is trivially "identical"; that is not evidence of anything."""
    doc, out = _verdict(edge_study(study_dir, "ok", repetitions=1))
    assert out["verdict"]["status"] == "error" and "nothing to compare" in out["verdict"]["reasons"][0]["message"]
    assert doc["verdict"]["label"] == "not analysable"


def test_identity_states_its_evidence(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """3 subjects x 2 repetitions: 3 comparisons, so p < 1 - 0.05 ** (1/3) = 0.632 (zero-failure bound)."""
    study = edge_study(study_dir, "ok", repetitions=2)
    doc, out = _verdict(study)
    assert out["verdict"]["evidence"]["trials"] == 3
    assert out["verdict"]["evidence"]["bound"] == pytest.approx(1 - 0.05 ** (1 / 3))
    sentence = "identical in 3 of 3 comparisons between executions of the same subject: with 95% confidence"
    assert sentence in doc["verdict"]["summary"] and "below 0.632" in doc["verdict"]["summary"]
    capsys.readouterr()
    assert main(["check", str(study.path), "--no-reanalyze"]) == 0
    assert sentence in capsys.readouterr().out
    assert sentence in report_view(study).html


def test_a_straddled_icc_threshold_says_how_many_subjects_would_decide(study_dir: Path) -> None:
    study = edge_study(study_dir, "medium-noise", repetitions=3)
    _, out = _verdict(study)
    value = next(o for o in out["observations"] if o["name"] == "value")
    icc = value["icc"]["ICC(A,1)"]
    assert icc["ci_low"] < 0.9 <= icc["ci_high"] and icc["ci_uninformative"] is False
    (reason,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "ICC(A,1).ci_low >= 0.9"]
    ev = reason["evidence"]
    # The estimate is 0.87 (seeded noise): more data would bring the upper bound under 0.9. ICC(A,1) learns the
    # executions' variance from k - 1 = 2 degrees of freedom, so more subjects alone never settle it.
    assert ev["side"] == "below" and icc["value"] < 0.9
    assert ev["subjects"] is None and ev["executions_per_subject"] is None and ev["both"] > 3
    assert f"about {ev['both']} subjects with {ev['both']} executions each (now 3 x 3" in ev["sentence"]


def test_an_output_without_numbers_says_so(study_dir: Path) -> None:
    """A JSON file declared as a CSV table reads as a table without rows: no number was compared, and the
    verdict says so instead of passing quietly."""
    # a glob: `validate` refuses a .json path declared `table` (its suffix), not what a pattern matches
    study = edge_study(study_dir, "large-noise", outputs="  result: {path: 'result.js*', kind: table}\n")
    doc, out = _verdict(study)
    reasons = {r["criterion"]: r for r in out["verdict"]["reasons"]}
    assert "a one-line file that is no table: check a log and the output's kind" in reasons["numbers found"]["message"]
    assert not reasons["ICC(A,1).ci_low >= 0.9"]["passed"] and not reasons["ICC(A,1).ci_low >= 0.9"]["estimable"]
    assert out["verdict"]["status"] == "error" and doc["verdict"]["exit_code"] == 1


def test_analyze_table_shows_the_value_check_judges(
    study_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI table of `analyze` shows the deciding criterion, its value and observation: the numbers `check`
    prints, not a worst case over observations no criterion judges."""
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: no cell is folded
    study = edge_study(study_dir, "medium-noise", repetitions=3)
    capsys.readouterr()
    assert main(["analyze", str(study.path)]) == 0
    table = capsys.readouterr().out
    reason = next(
        r for r in study.check(reanalyze=False).document["outputs"][0]["verdict"]["reasons"] if not r["passed"]
    )
    row = next(line for line in table.splitlines() if line.startswith("│ result"))
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells == ["result", "scalars", "no", "fail", reason["criterion"], f"{reason['value']:.3g}", "value"]
    assert main(["check", str(study.path), "--no-reanalyze"]) == 1
    assert f"ICC(A,1) = {reason['message'].split(' = ')[1].split(' ')[0]} (95% CI " in capsys.readouterr().out


def test_a_symlinked_blob_is_never_read(study_dir: Path, tmp_path: Path) -> None:
    """A blob replaced by a link to a file outside the store is reported, not read: its content (here a copy of
    another execution's output, which would make the study look reproducible) never enters the analysis."""
    study = edge_study(study_dir, "large-noise")
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    blobs = sorted({(o["blob"], o["suffix"]) for o in outs})
    outside = tmp_path / "outside.json"
    outside.write_text('{"value": 1.0, "ratio": 1.0}')
    target = BlobStore(study.store).path(*blobs[0])
    target.unlink()
    target.symlink_to(outside)
    doc, out = _verdict(study)
    (err,) = [e for e in out["errors"] if "symbolic link" in e["error"]]
    assert str(target) in err["error"] and out["verdict"]["status"] in ("error", "fail")
    assert not next(r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable")["passed"]


def test_a_blob_deleted_or_changed_after_the_run_is_named_as_the_store_s_damage(study_dir: Path) -> None:
    """Review Q: a deleted blob read "cannot read the file (FileNotFoundError...); check its permissions" and an
    emptied one "the execution probably failed before writing it": the store was damaged, not the run."""
    study = edge_study(study_dir, "large-noise")
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    gone, emptied = [BlobStore(study.store).path(*b) for b in sorted({(o["blob"], o["suffix"]) for o in outs})[:2]]
    gone.unlink()
    emptied.write_bytes(b"")
    _, out = _verdict(study)
    errors = {e["error"] for e in out["errors"]}
    restore = "restore `.reprovip/blobs` from a backup, or run the execution again (`reprovip run --force`)"
    assert any(
        f"{gone}: the stored copy is missing from the store (deleted after the run); {restore}" in e for e in errors
    )
    assert any(f"{emptied}: the stored copy was changed after the run (0 bytes where " in e for e in errors)
    assert not any("check its permissions" in e or "failed before writing" in e for e in errors)
    assert out["verdict"]["status"] in ("error", "fail")
