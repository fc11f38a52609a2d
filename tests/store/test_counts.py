"""``execution_counts``: executions per study, condition and status, kept by triggers (SQLite, PostgreSQL).

Every write path of the catalog that changes an execution (planning, results, a reset, ingest) is followed
by a comparison of the table with a ``GROUP BY`` over the executions, and with the values expected by hand.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from reprovip.store import Catalog
from tests.store.conftest import upgrade_to


def _planned(i: int, condition: str, study: str = "a") -> SimpleNamespace:
    return SimpleNamespace(
        id=f"{study}-{condition}-{i}",
        subject=SimpleNamespace(id=f"sub-{i}", input=f"/in/sub-{i}.txt"),
        condition=SimpleNamespace(key=condition, labels={"c": condition}),
        repetition=0,
    )


PLANNED = [_planned(i, c) for c in ("c1", "c2") for i in range(3)]
PLANNED_B = [_planned(i, "c1", "b") for i in range(2)]


def _counts(engine: Any) -> dict[tuple[int, str, str], tuple[int, float, int]]:
    """The table's non-zero rows, and the same figures counted from the executions: they must agree."""
    with engine.connect() as conn:
        table = conn.execute(
            text("SELECT study_id, condition_key, status, n, duration_sum, duration_n FROM execution_counts")
        ).all()
        grouped = conn.execute(
            text(
                "SELECT study_id, condition_key, status, count(*), coalesce(sum(duration), 0), count(duration) "
                "FROM executions GROUP BY study_id, condition_key, status"
            )
        ).all()
    got = {(int(r[0]), r[1], r[2]): (int(r[3]), round(float(r[4]), 9), int(r[5])) for r in table if r[3]}
    expected = {(int(r[0]), r[1], r[2]): (int(r[3]), round(float(r[4]), 9), int(r[5])) for r in grouped}
    assert got == expected
    assert all(r[3] >= 0 for r in table)
    return got


def _result(ok: bool, duration: float) -> dict[str, Any]:
    return dict(ok=ok, exit_code=0 if ok else 1, duration=duration, error=None if ok else "exit code 1", argv=[])


def test_counts_follow_every_write_that_changes_an_execution(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    a = catalog.ensure_study("a", {}, "/a")
    b = catalog.ensure_study("b", {}, "/b")
    catalog.sync_plan(a, PLANNED, "r1")
    catalog.sync_plan(b, PLANNED_B, "r1")
    assert _counts(catalog.engine) == {
        (a, "c1", "pending"): (3, 0, 0),
        (a, "c2", "pending"): (3, 0, 0),
        (b, "c1", "pending"): (2, 0, 0),
    }

    run = catalog.start_run(a, "run", 6, "host", 1)
    catalog.record_attempts(run, [(p.id, _result(p.subject.id != "sub-2", 1.5), []) for p in PLANNED[:4]])
    catalog.record_attempts(run, [(PLANNED[4].id, _result(True, 2.0), [])])
    assert _counts(catalog.engine) == {
        (a, "c1", "done"): (2, 3.0, 2),
        (a, "c1", "failed"): (1, 1.5, 1),
        (a, "c2", "done"): (2, 3.5, 2),
        (a, "c2", "pending"): (1, 0, 0),
        (b, "c1", "pending"): (2, 0, 0),
    }

    # A retry of the failed one succeeds: it moves from failed to done with its new duration.
    catalog.record_attempts(run, [(PLANNED[2].id, _result(True, 4.0), [])])
    assert _counts(catalog.engine)[(a, "c1", "done")] == (3, 7.0, 3)
    assert (a, "c1", "failed") not in _counts(catalog.engine)

    # ingest replaces b's executions (delete, then insert) with what it found on disk.
    rows = [
        dict(
            id=p.id,
            subject=p.subject.id,
            condition_key="c9",
            condition={},
            repetition=0,
            status="done",
            duration=None,
            outputs=[],
        )
        for p in PLANNED_B
    ]
    catalog.insert_ingested(b, rows)
    assert {k: v for k, v in _counts(catalog.engine).items() if k[0] == b} == {(b, "c9", "done"): (2, 0, 0)}

    # A changed recipe makes every execution of a pending again (their durations stay on the rows).
    catalog.sync_plan(a, PLANNED, "r2")
    assert {k: v for k, v in _counts(catalog.engine).items() if k[0] == a} == {
        (a, "c1", "pending"): (3, 7.0, 3),
        (a, "c2", "pending"): (3, 3.5, 2),
    }
    catalog.close()


def test_migration_fills_the_counts_of_executions_already_there(catalog_url: str) -> None:
    engine = create_engine(catalog_url)
    with engine.begin() as conn:
        upgrade_to(conn, "0005")
        conn.execute(text("INSERT INTO studies (id, name) VALUES (1, 'old')"))
        conn.execute(
            text(
                "INSERT INTO executions (id, study_id, subject, condition_key, repetition, status, duration) VALUES "
                "('a', 1, 's', 'x', 0, 'done', 2.5), ('b', 1, 's', 'x', 1, 'done', NULL), "
                "('c', 1, 's', 'y', 0, 'failed', 1.0)"
            )
        )
    engine.dispose()
    catalog = Catalog(catalog_url)  # migrates to HEAD
    assert _counts(catalog.engine) == {(1, "x", "done"): (2, 2.5, 1), (1, "y", "failed"): (1, 1.0, 1)}
    # The triggers keep them from then on: a plan under a new recipe resets the three and adds one.
    catalog.sync_plan(1, [_planned(0, "y")], "r")
    assert _counts(catalog.engine) == {(1, "x", "pending"): (2, 2.5, 1), (1, "y", "pending"): (2, 1.0, 1)}
    catalog.close()


@pytest.mark.parametrize("dialect", ["sqlite"])
def test_counts_of_a_new_catalog_start_empty(tmp_path: Any, dialect: str) -> None:
    catalog = Catalog.for_store(tmp_path)
    assert _counts(catalog.engine) == {}
    catalog.close()


def test_dashboard_reads_the_counts_and_counts_itself_on_an_older_catalog(
    catalog_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's status counts and progress give the same figures from ``execution_counts`` as from a
    pass over the executions; a catalog it cannot migrate (read-only, before 0006) is counted the old way."""
    from reprovip.dashboard import queries as q

    writer = Catalog(catalog_url)
    a = writer.ensure_study("a", {}, "/a")
    writer.sync_plan(a, PLANNED, "r1")
    run = writer.start_run(a, "run", 6, "host", 1)
    writer.record_attempts(
        run, [(p.id, _result(p.subject.id != "sub-2", 1.25 * (i + 1)), []) for i, p in enumerate(PLANNED[:5])]
    )
    expected = {a: {"done": 4, "failed": 1, "pending": 1}}
    by_condition = {"c1": {"done": 2, "failed": 1}, "c2": {"done": 2, "pending": 1}}

    def figures() -> tuple[Any, ...]:
        reader = Catalog(catalog_url, read_only=True)  # a new engine: nothing remembered
        got = q.status_counts(reader.engine), q.status_counts(reader.engine, a), q.progress(reader.engine, a, 0.0)
        reader.close()
        return got

    counted = figures()
    assert q._counted(Catalog(catalog_url, read_only=True).engine) is True
    assert counted[:2] == (expected, expected)
    assert counted[2]["by_condition"] == by_condition and counted[2]["recent"] == 5
    assert counted[2]["mean_duration"] == pytest.approx((1.25 + 2.5 + 5.0 + 6.25) / 4)
    with monkeypatch.context() as m:
        m.setattr(q, "_counted", lambda engine: False)
        assert figures() == counted

    with writer.engine.begin() as conn:  # as a catalog written before 0006 is
        conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
        conn.execute(text("DELETE FROM execution_counts"))
    assert q._counted(Catalog(catalog_url, read_only=True).engine) is False
    assert figures() == counted
    writer.close()
