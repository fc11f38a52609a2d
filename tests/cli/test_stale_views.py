"""A verdict older than the data is shown as stale by the report (a review): ``run --force`` stopped after it
reset every execution to pending but before it recorded its run; the catalog deleted (and the study run again
into a new one, whose first run is #1 again, the id the old analysis recorded). The dashboard's side is in
tests/dashboard/test_stale_dashboard.py."""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

import pytest

from reprovip.study import Study
from tests.cli.stale_study import analysed_study, rp


@pytest.fixture
def analysed(tmp_path: Path) -> Path:
    """A reproducible study, run and analysed: its folder."""
    return analysed_study(tmp_path)


def _report(folder: Path) -> str:
    proc = rp(folder, "report", "study.yaml", "-o", "r.html")
    assert proc.returncode == 0, proc.stderr
    return html.unescape((folder / "r.html").read_text())


def reset_like_run_force(folder: Path) -> None:
    """What ``run --force`` does before it records its run (runner.run_study): the plan synced with ``force``,
    every execution pending again. A SIGKILL or SIGTERM there leaves the catalog so."""
    from reprovip.plan import expand
    from reprovip.plan.expand import execution_recipes

    study = Study.load(folder / "study.yaml")
    spec, catalog = study.spec, study.catalog
    planned = expand(spec, study.subjects)
    sid = catalog.ensure_study(spec.name or "study", spec.model_dump(mode="json"), str(study.directory))
    catalog.sync_plan(sid, planned, execution_recipes(spec, study.directory, planned), force=True)
    assert {r["status"] for r in catalog.executions(sid)} == {"pending"}
    catalog.close()


def test_a_run_force_stopped_after_its_reset_makes_the_report_stale(analysed: Path) -> None:
    assert "changed since this analysis" not in _report(analysed)
    reset_like_run_force(analysed)
    page = _report(analysed)
    assert "the executions changed since this analysis (6 done then, 6 pending now)" in page
    proc = rp(analysed, "check", "study.yaml", "--no-reanalyze")
    assert proc.returncode == 2 and "executions changed since the stored analysis" in proc.stderr


def test_a_catalog_made_again_and_run_again_makes_the_report_stale(analysed: Path) -> None:
    for p in (analysed / ".reprovip").glob("catalog.sqlite*"):
        p.unlink()
    assert rp(analysed, "run", "study.yaml", "--no-progress", noise=50.0).returncode == 0  # run #1 again
    page = _report(analysed)
    assert "this analysis was made from another catalog" in page
    assert rp(analysed, "check", "study.yaml").returncode == 1  # the current verdict: not reproducible


def test_a_deleted_catalog_makes_the_report_stale(analysed: Path) -> None:
    for p in (analysed / ".reprovip").glob("catalog.sqlite*"):
        p.unlink()
    page = _report(analysed)
    assert "the catalog this analysis was made from is gone" in page
    shutil.rmtree(analysed / ".reprovip" / "blobs")  # not needed to tell it: the document alone says so
    assert "the catalog this analysis was made from is gone" in _report(analysed)


def test_an_analysis_of_the_same_catalog_stays_current(analysed: Path) -> None:
    page = _report(analysed)
    assert "another catalog" not in page and "is gone" not in page and "changed since this analysis" not in page


def test_subjects_removed_from_the_study_file_make_the_stored_verdict_stale(analysed: Path) -> None:
    """Review CA: two of three subjects removed from the study file left the stored "bit-for-bit identical" standing
    in `check --no-reanalyze` and the report, where the analysis now reads otherwise (one subject)."""
    study = analysed / "study.yaml"
    assert "Nothing to fix" in _report(analysed)  # current: an identical study
    study.write_text(
        study.read_text().replace('subjects: {glob: "data/{subject}.txt"}', "subjects: {list: [data/sub-01.txt]}")
    )
    page = _report(analysed)
    assert "declares other subjects or executions since this analysis" in page
    # review CA: "Nothing to fix" under the stale banner
    assert "Nothing to fix" not in page and "This verdict is stale" in page
    proc = rp(analysed, "check", "study.yaml", "--no-reanalyze")
    assert proc.returncode == 2 and "declares other subjects or executions since the stored analysis" in proc.stderr
    current = rp(analysed, "check", "study.yaml")  # the current verdict: one subject is warned of
    assert current.returncode == 0 and "sufficiently reproducible, with warnings" in current.stdout


def test_a_fresh_comparison_is_not_stale_in_the_report(tmp_path: Path) -> None:
    """Review VW: the report of a `compare` document just made read "stale: the study file declares other subjects
    or executions": its plan counts both versions' executions, the current study's only its own."""
    base, cur = analysed_study(tmp_path / "base"), analysed_study(tmp_path / "cur")
    assert rp(tmp_path, "compare", "base/study.yaml", "cur/study.yaml").returncode == 0
    (document,) = (cur / ".reprovip" / "results").glob("*/compare.json")
    proc = rp(cur, "report", "study.yaml", "--analysis", str(document), "-o", "c.html")
    assert proc.returncode == 0, proc.stderr
    page = html.unescape((cur / "c.html").read_text())
    assert "declares other subjects or executions" not in page and "This verdict is stale" not in page
    assert base.exists()


def test_a_comparison_whose_baseline_ran_again_is_stale_in_both_reports(tmp_path: Path) -> None:
    """Review I: after the baseline ran again, `check` said the stored comparison was stale, while its own report
    (`report --analysis compare.json`, which `check` points to) showed its pass unmarked, and the study's report
    quoted it as current."""
    analysed_study(tmp_path / "base")
    cur = analysed_study(tmp_path / "cur")
    assert rp(tmp_path, "compare", "base/study.yaml", "cur/study.yaml").returncode == 0
    (document,) = (cur / ".reprovip" / "results").glob("*/compare.json")
    os.utime(document, (1e9, 1e9))  # made before the baseline's executions finished: as after a new baseline run
    assert rp(cur, "report", "study.yaml", "--analysis", str(document), "-o", "c.html").returncode == 0
    page = html.unescape((cur / "c.html").read_text())
    assert "This verdict is stale" in page and "executions of this study or of its baseline finished after it" in page
    own = _report(cur)
    assert "compare.json: reproducible (bit-for-bit identical)) but is stale: executions of this study" in own
    # review J: an exported copy (`compare --json old.json`) rendered later is judged by its own file
    exported = tmp_path / "old.json"
    exported.write_text(document.read_text())
    os.utime(document, None)  # the store's comparison made again since
    os.utime(exported, (1e9, 1e9))
    assert rp(cur, "report", "study.yaml", "--analysis", str(exported), "-o", "e.html").returncode == 0
    assert "This verdict is stale" in html.unescape((cur / "e.html").read_text())


def test_an_analysis_after_a_killed_run_is_not_stale(analysed: Path) -> None:
    """Review VW: after `kill -9` of a run, every new analysis read "run #2 was still running when this analysis
    was made ... run `reprovip analyze`", which no analysis could clear: a run whose runner is gone changes
    nothing until a new run, which has a new number."""
    import socket
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    study = Study.load(analysed / "study.yaml")
    sid = study.catalog.study_id(study.name)
    study.catalog.start_run(sid, "run", 6, socket.gethostname(), dead.pid)  # left "running" by a kill -9
    study.catalog.close()
    assert rp(analysed, "analyze", "study.yaml").returncode == 0
    assert "was still running when this analysis was made" not in _report(analysed)
