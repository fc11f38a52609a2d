"""Faulty applications are recorded and reported, never a crash or a lost result."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.study import Study
from tests.conftest import write_study


@pytest.mark.slow
def test_gigabyte_of_stdout_is_capped_not_stored(study_dir: Path) -> None:
    study = Study.load(
        write_study(study_dir, app="faulty_app.py", args='"flood", "{outdir}"', repetitions=1, subjects=1)
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert study.run().done == 1
    # The runner (this process) kept only the head and tail: its peak memory did not grow by the gigabyte.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB
    att = study.catalog.attempts(study.executions()["id"][0])[0]
    assert len(att["stdout"]) < 70_000 and f"{2**30 - 64 * 1024} bytes not kept" in att["stdout"]


def test_files_written_outside_outdir_are_not_outputs(study_dir: Path) -> None:
    study = Study.load(
        write_study(study_dir, app="faulty_app.py", args='"escape", "{outdir}"', repetitions=2, subjects=1)
    )
    assert study.run().done == 2
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    assert [o["relpath"] for o in outs] == ["result.json", "result.json"]


def test_failing_one_attempt_in_three_is_retried_and_reported_as_flaky(study_dir: Path) -> None:
    markers = study_dir / "markers"
    markers.mkdir()
    path = write_study(
        study_dir,
        app="faulty_app.py",
        args=f'"third", "{{outdir}}", "{markers}"',
        repetitions=2,
        subjects=2,
        extra="retries: 1\n",
    )
    study = Study.load(path)
    summary = study.run(jobs=2)
    assert (summary.done, summary.failed) == (4, 0)
    assert study.executions()["attempts"].tolist() == [2, 2, 2, 2]
    doc = study.check().document
    assert doc["executions"]["attempt_failure_rate"] == 0.5
    # why the attempts failed is said (a review's timeouts under threads=2 were not)
    assert any(
        "failed then succeeded with the same recipe (50.0% of current attempts failed; failed attempts: exit code "
        "75: transient failure): the application is flaky" in a["message"]
        for a in doc["alerts"]
    )
    assert doc["executions"]["flaky"] == {
        "by_condition": {"-": 4},
        "errors": ["exit code 75: transient failure"],
        "lost_by_backend": False,
    }
    assert doc["verdict"]["status"] == "warn"
    # --strict fails on the warning, and the JUnit file says so (it showed no failure while the exit code was 1).
    junit = study_dir / "junit.xml"
    assert main(["check", str(path), "--strict", "--no-reanalyze", "--junit", str(junit)]) == 1
    assert '<testcase classname="study.study" name="no study warning"' in junit.read_text()
    assert 'type="warn">' in junit.read_text()
