"""``Catalog.mark_running``, on SQLite and on a real PostgreSQL server (``catalog_url``, see conftest.py)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from reprovip.store import Catalog


def _planned(ids: list[str]) -> list[SimpleNamespace]:
    """Planned executions as the runner gives them to the catalog: one subject each, one condition."""
    return [
        SimpleNamespace(
            id=eid,
            subject=SimpleNamespace(id=f"sub-{eid}", input=f"/in/{eid}.txt"),
            condition=SimpleNamespace(key="threads=1", labels={"threads": "1"}),
            repetition=1,
        )
        for eid in ids
    ]


def test_mark_running_marks_every_execution_not_done(catalog_url: str) -> None:
    """1,201 executions (three chunks of 500): done stays done, failed and pending become running, an id the
    catalog does not know and a repeated id change nothing else."""
    catalog = Catalog(catalog_url)
    sid = catalog.ensure_study("marked", {}, "/study")
    planned = _planned([f"e{i:05d}" for i in range(1201)])
    catalog.sync_plan(sid, planned, "recipe")
    run_id = catalog.start_run(sid, "run", len(planned), "host", 1)
    catalog.record_attempts(
        run_id,
        [
            ("e00000", dict(ok=True, exit_code=0, provenance=None, argv=[], env={}), []),
            ("e00001", dict(ok=False, exit_code=1, error="boom", provenance=None, argv=[], env={}), []),
        ],
    )
    catalog.mark_running([p.id for p in planned] + ["unknown", "e00002"])
    status = {e["id"]: e["status"] for e in catalog.executions(sid)}
    assert (status["e00000"], status["e00001"], status["e01200"]) == ("done", "running", "running")
    assert Counter(status.values()) == {"done": 1, "running": 1200}
    assert len(status) == 1201  # the unknown id was not inserted
    # Review PP: after Ctrl-C, `status` showed an execution "running" with no runner alive. The run's end makes
    # them pending again, and a report arriving after it marks nothing.
    catalog.finish_run(run_id, "interrupted", 1, 1)
    catalog.mark_running(["e00002", "e00003"])
    status = {e["id"]: e["status"] for e in catalog.executions(sid)}
    catalog.close()
    assert Counter(status.values()) == {"done": 1, "pending": 1200}


def test_sync_plan_counts_the_ingested_executions_it_resets(catalog_url: str) -> None:
    """Review TT: `run` after `ingest` ran the ingested executions again (no recipe of this study file) and
    their results gave way unsaid; sync_plan counts them, and `run` says so."""
    from reprovip.cli.run import summary_lines
    from reprovip.execute.runner import RunSummary

    catalog = Catalog(catalog_url)
    sid = catalog.ensure_study("mixed", {}, "/study")
    planned = _planned([f"e{i}" for i in range(3)])
    assert catalog.sync_plan(sid, planned, "recipe") == 0
    row = dict(id="e1", subject="sub-e1", input="/elsewhere", condition_key="threads=1", condition={}, repetition=1)
    catalog.insert_ingested(sid, [dict(row, status="done", source="ingest", attempts=1, outputs=[])])
    assert catalog.sync_plan(sid, planned, "recipe") == 1
    assert catalog.sync_plan(sid, planned, "recipe") == 0  # run now: no longer ingested
    catalog.close()
    lines = summary_lines("mixed", RunSummary(planned=3, skipped=2, done=1, replaced_ingested=1))
    assert lines[1].startswith("1 ingested execution(s) were run here: their ingested results gave way")
