"""When a stored verdict is stale (:func:`reprovip.report.context.staleness`): the cases one row of the runs
table decides. The views that show it are tested in tests/dashboard/test_pages.py."""

from __future__ import annotations

from reprovip.report.context import staleness


def _doc(last_run, created_at: str = "2026-11-29T10:00:00+00:00") -> dict:
    verdict = {"status": "pass"} if last_run == "absent" else {"status": "pass", "last_run": last_run}
    return {"created_at": created_at, "verdict": verdict}


def test_the_run_the_analysis_saw_finished_is_not_stale() -> None:
    assert staleness(_doc({"id": 5, "finished": True}), {"id": 5, "command": "run", "started_at": 1.0}) is None


def test_a_newer_run_or_ingest_is_stale_and_named() -> None:
    why = staleness(_doc({"id": 5, "finished": True}), {"id": 6, "command": "ingest", "started_at": 0.0})
    assert why == (
        "ingest #6 (started 1970-01-01 00:00:00 UTC) came after this analysis: executions may have changed; "
        "run `reprovip analyze` for the current verdict"
    )


def test_the_run_still_recording_when_the_analysis_was_made_is_stale() -> None:
    why = staleness(_doc({"id": 5, "finished": False}), {"id": 5, "command": "run", "started_at": 1.0})
    assert why.startswith("run #5 was still running when this analysis was made")


def test_an_analysis_that_saw_no_run_is_stale_once_there_is_one() -> None:
    assert staleness(_doc(None), {"id": 1, "command": "run", "started_at": 1.0}).startswith("run #1")
    assert staleness(_doc(None), None) is None


def test_runs_deleted_since_the_analysis_do_not_make_it_stale() -> None:
    assert staleness(_doc({"id": 9, "finished": True}), {"id": 4, "command": "run", "started_at": 1.0}) is None


def test_a_document_without_the_watermark_is_judged_by_its_time() -> None:
    made = 1795946400.0  # 2026-11-29T10:00:00Z
    doc = _doc("absent")
    assert staleness(doc, {"id": 2, "command": "run", "started_at": made + 0.5}) is None  # the same second
    assert staleness(doc, {"id": 2, "command": "run", "started_at": made + 5}).startswith("run #2 (started 2026")
    assert staleness({"verdict": {"status": "pass"}}, {"id": 2, "started_at": 0.0}).startswith("run #2")


def test_the_run_still_recording_then_finished_is_stale_not_taken_for_a_kill() -> None:
    """Review A: the analysis saw run #5 recording; the run then finished normally, its runner gone: that was
    taken for a kill -9 (nothing can change) and the stored pass shown as current by the report and dashboard."""
    gone = {"id": 5, "command": "run", "started_at": 1.0, "hostname": "elsewhere", "pid": 1}
    finished = dict(gone, status="done", finished_at=2.0)
    assert staleness(_doc({"id": 5, "finished": False}), finished) == (
        "run #5 finished after this analysis was made: executions may have changed; run `reprovip analyze` for "
        "the current verdict"
    )
    # recorded `interrupted` by a later run (its end: its last attempt's): a kill, judged as before
    killed = dict(gone, status="interrupted", finished_at=1.5)
    assert staleness(_doc({"id": 5, "finished": False}), killed) == staleness(_doc({"id": 5, "finished": False}), gone)


def test_an_analysis_reads_the_newest_run_before_the_executions(tmp_path, monkeypatch) -> None:
    """Review A: a run or ingest that finished between the analysis reading the executions and reading the runs
    was recorded as seen and finished, and the stale pass shown as current. The run is read first."""
    from reprovip.analyze import executions
    from tests.conftest import ingested

    files = {(f"s{s}", r): {"r.json": f'{{"v": {s}.5}}'} for s in range(1, 4) for r in (1, 2)}
    study = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files)
    order = []
    catalog = type(study.catalog)
    for name in ("runs", "executions"):
        real = getattr(catalog, name)
        monkeypatch.setattr(
            catalog, name, lambda self, *a, _n=name, _r=real, **k: order.append(_n) or _r(self, *a, **k)
        )
    stored = executions.stored_executions(study, study.catalog.study_id(study.name))
    assert order[:2] == ["runs", "executions"] and stored.last_run == {"id": 1, "finished": True}
