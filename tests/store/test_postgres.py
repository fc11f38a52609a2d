"""The catalog on a real PostgreSQL server, and its schema migrations on PostgreSQL and SQLite.

Tests parametrized by ``catalog_url`` run on both backends; the PostgreSQL ones skip, saying so, when
``REPROVIP_TEST_PG_URL`` is not set (``scripts/test.sh`` starts a server and sets it when run as root).
Each PostgreSQL test gets an empty schema of its own.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, func, insert, inspect, select, text

from reprovip.errors import StoreError
from reprovip.store import Catalog
from reprovip.store import schema as s
from reprovip.store.migrations import BASE, HEAD, current_revision, upgrade
from reprovip.study import Study
from tests.conftest import write_study
from tests.store.conftest import upgrade_to

THREADS = "  threads: [1, 2]\n"
ROOT = Path(__file__).parents[2]


def _scalar(url: str, sql: str) -> Any:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


# -- migrations -------------------------------------------------------------------------------------


def test_head_and_base_name_the_revisions_in_versions() -> None:
    from reprovip.store.migrations import script_directory

    scripts = script_directory()
    assert (scripts.get_current_head(), scripts.get_base()) == (HEAD, BASE)


def _same_integers(context: Any, inspected_col: Any, metadata_col: Any, inspected: Any, declared: Any) -> Any:
    """Alembic ``compare_type`` hook: an integer column widened to BIGINT (revision 0002) is not a change."""
    from sqlalchemy import Integer

    return False if isinstance(inspected, Integer) and isinstance(declared, Integer) else None


@pytest.mark.parametrize("migrate_new", [False, True], ids=["created-at-head", "through-every-migration"])
def test_new_catalog_is_at_head_with_the_tables_of_schema_py(catalog_url: str, migrate_new: bool) -> None:
    # A new catalog is created from schema.py and stamped HEAD; the migrations must build the same schema.
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = create_engine(catalog_url)
    upgrade(engine, migrate_new=migrate_new)
    with engine.connect() as conn:
        assert current_revision(conn) == HEAD
        context = MigrationContext.configure(conn, opts={"compare_type": _same_integers})
        assert compare_metadata(context, s.metadata) == []
        assert conn.execute(select(s.meta.c.value).where(s.meta.c.key == "schema_version")).scalar() == "1"
        assert sorted(inspect(conn).get_table_names()) == sorted([*s.metadata.tables, "alembic_version"])
        if migrate_new:
            return
    catalog = Catalog(catalog_url)  # and reprovip opens it without migrating
    assert catalog.study_id("none") is None
    catalog.close()
    engine.dispose()


def test_catalog_from_before_migrations_is_stamped_then_upgraded(catalog_url: str) -> None:
    engine = create_engine(catalog_url)
    s.metadata.create_all(engine)  # how reprovip created catalogs before it had migrations
    with engine.begin() as conn:
        conn.execute(insert(s.meta).values(key="schema_version", value="1"))
        conn.execute(insert(s.studies).values(name="old", spec={"a": 1}, study_dir="/old", created_at=1.0))
    engine.dispose()
    catalog = Catalog(catalog_url)
    assert catalog.study_id("old") is not None
    with catalog.engine.connect() as conn:
        assert current_revision(conn) == HEAD
    if catalog.engine.dialect.name == "postgresql":  # revision 0002 widened it
        assert (
            _scalar(
                catalog_url,
                "SELECT data_type FROM information_schema.columns WHERE table_name = "
                "'attempts' AND column_name = 'peak_rss' AND table_schema = current_schema()",
            )
            == "bigint"
        )
    catalog.close()


@pytest.mark.parametrize(
    ("sql", "match"),
    [
        (
            ["UPDATE alembic_version SET version_num = 'ffff'"],
            rf"catalog schema revision 'ffff' is newer than this reprovip \(which knows up to '{HEAD}'\); upgrade",
        ),
        (
            ["DROP TABLE alembic_version", "UPDATE meta SET value = '7' WHERE key = 'schema_version'"],
            r"catalog schema 7 is newer than this reprovip \(1\); upgrade reprovip",
        ),
    ],
    ids=["revision", "before-migrations"],
)
def test_catalog_newer_than_the_code_is_refused(catalog_url: str, sql: list[str], match: str) -> None:
    Catalog(catalog_url).close()
    engine = create_engine(catalog_url)
    with engine.begin() as conn:
        for statement in sql:
            conn.execute(text(statement))
    engine.dispose()
    with pytest.raises(StoreError, match=match):
        Catalog(catalog_url)


def test_attempts_from_before_revision_0004_get_their_status_history_and_numbers_within_runs(catalog_url: str) -> None:
    """Rows as revision 0003 wrote them: numbers ran on across runs and restarted at a reset (``--force``).

    Execution ``a``: failed then done in run 1, forced, done in run 2 (so ``attempts`` = 1). Execution ``b``:
    failed twice in run 1 and once in run 2, same recipe. The last ``attempts`` attempts stay current; an
    attempt without error was a success; numbers restart at 1 in each run.
    """
    engine = create_engine(catalog_url)
    with engine.begin() as conn:
        upgrade_to(conn, "0003")
        conn.execute(text("INSERT INTO studies (id, name) VALUES (1, 'old')"))
        conn.execute(
            text(
                "INSERT INTO executions (id, study_id, subject, condition_key, repetition, status, attempts) "
                "VALUES ('a', 1, 's', '-', 0, 'done', 1), ('b', 1, 's', '-', 1, 'failed', 3)"
            )
        )
        rows = [("a", 1, 1, "exit code 1"), ("a", 2, 1, None), ("a", 1, 2, None)]
        rows += [("b", 1, 1, "exit code 1"), ("b", 2, 1, "exit code 1"), ("b", 3, 2, "exit code 1")]
        for i, (eid, number, run, error) in enumerate(rows, 1):
            conn.execute(
                text("INSERT INTO attempts (id, execution_id, number, run_id, error) VALUES (:i, :e, :n, :r, :err)"),
                dict(i=i, e=eid, n=number, r=run, err=error),
            )
    engine.dispose()
    catalog = Catalog(catalog_url)
    got = {
        eid: [(x["run_id"], x["number"], x["status"], x["superseded"]) for x in catalog.attempts(eid)] for eid in "ab"
    }
    assert got == {
        "a": [(1, 1, "failed", True), (1, 2, "done", True), (2, 1, "done", False)],
        "b": [(1, 1, "failed", False), (1, 2, "failed", False), (2, 1, "failed", False)],
    }
    assert catalog.attempt_counts(1) == {
        (True, "failed"): 1,
        (True, "done"): 1,
        (False, "done"): 1,
        (False, "failed"): 3,
    }
    catalog.close()


OPEN_AT = """\
import sys, time
import alembic.command  # imported before the start line, so the processes really open the catalog together
from reprovip.store import Catalog
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
Catalog(sys.argv[1]).close()
"""


def test_processes_creating_one_catalog_at_once_all_succeed(catalog_url: str) -> None:
    start = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AT, catalog_url, str(start)], cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    # SQLite once failed one in ten such starts: `PRAGMA journal_mode=WAL` skips the busy handler.
    assert [p.returncode for p in procs] == [0] * 6, errors
    assert _scalar(catalog_url, "SELECT count(*) FROM alembic_version") == 1
    assert _scalar(catalog_url, "SELECT version_num FROM alembic_version") == HEAD
    assert _scalar(catalog_url, "SELECT count(*) FROM meta WHERE key = 'schema_version'") == 1
    assert _scalar(catalog_url, "SELECT count(*) FROM meta WHERE key = 'catalog_id'") == 1  # one identity


def test_unreachable_server_is_a_one_line_error_without_the_password() -> None:
    pytest.importorskip("psycopg", reason="PostgreSQL needs psycopg: pip install 'reprovip[postgres]'")
    with pytest.raises(
        StoreError,
        match=r"^cannot open catalog postgresql\+psycopg://me:\*\*\*@127\.0\.0\.1:1/db: "
        r"connection failed: .*; check that the server runs",
    ) as info:
        Catalog("postgresql+psycopg://me:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(info.value) and "\n" not in str(info.value)


# -- values that SQLite accepts and PostgreSQL may not ------------------------------------------------

PLANNED = SimpleNamespace(
    id="e" * 16,
    subject=SimpleNamespace(id="sub-01", input="/in/sub-01.txt"),
    condition=SimpleNamespace(key="threads=2", labels={"threads": "2"}),
    repetition=0,
)
WIDE = [
    ("executions", "peak_rss"),
    ("attempts", "peak_rss"),
    ("executions", "seed"),
    ("attempts", "seed"),
    ("outputs", "size"),
]


def test_integers_beyond_32_bits_round_trip(catalog_url: str, request: pytest.FixtureRequest) -> None:
    """3 GiB of peak memory, a 5 GiB image, a 33-bit seed (PostgreSQL's ``integer`` stops at 2**31 - 1)."""
    from sqlalchemy import BigInteger

    assert all(isinstance(s.metadata.tables[t].c[c].type, BigInteger) for t, c in WIDE)
    catalog = Catalog(catalog_url)
    sid = catalog.ensure_study("big", {}, "/study")
    catalog.sync_plan(sid, [PLANNED], "recipe")
    run_id = catalog.start_run(sid, "run", 1, "host", 1)
    result = dict(ok=True, seed=2**33, exit_code=0, peak_rss=3 * 2**30, provenance=None, argv=[], env={})
    output = dict(
        name="image",
        relpath="4d.nii",
        kind="image",
        blob="b" * 64,
        suffix=".nii",
        size=5 * 2**30,
        semantic_hash=None,
        missing=False,
        error=None,
    )
    catalog.record_attempts(run_id, [(PLANNED.id, result, [output])])
    (execution,) = catalog.executions(sid)
    (attempt,) = catalog.attempts(PLANNED.id)
    (out,) = catalog.outputs(sid)
    catalog.close()
    assert (execution["peak_rss"], execution["seed"]) == (3 * 2**30, 2**33)
    assert (attempt["peak_rss"], attempt["seed"]) == (3 * 2**30, 2**33)
    assert out["size"] == 5 * 2**30


def test_values_round_trip(catalog_url: str) -> None:
    """JSON, booleans, NUL characters, NaN, inserted ids: the same on both backends."""
    catalog = Catalog(catalog_url)
    sid = catalog.ensure_study("values", {"threshold": 0.5, "levels": [1, "two"]}, "/study")
    assert isinstance(sid, int) and catalog.ensure_study("values", {"threshold": 0.6}, "/study") == sid
    planned = PLANNED
    catalog.sync_plan(sid, [planned], "recipe")
    run_id = catalog.start_run(sid, "run", 1, "host", 4242)
    assert isinstance(run_id, int)
    result = dict(
        ok=True,
        seed=7,
        exit_code=0,
        duration=1.5,
        peak_rss=2**20,
        error=None,
        argv=["app", "x"],
        env={"OMP_NUM_THREADS": "2"},
        timed_out=False,
        stdout="binary\x00output",
        stderr="",
        hostname="node7",
        pid=99,
        provenance={"hostname": "node7", "cpu": {"count": 64}},
        provenance_hash="p" * 32,
        started_at=10.0,
        finished_at=11.5,
    )
    output = dict(
        name="image",
        relpath="out.nii.gz",
        kind="image",
        blob="b" * 64,
        suffix=".nii.gz",
        size=2**20,
        semantic_hash="h" * 64,
        missing=False,
        error=None,
    )
    catalog.record_attempts(run_id, [(planned.id, result, [output])])
    catalog.finish_run(run_id, "finished", 1, 0)
    analysis_id = catalog.save_analysis(sid, {"icc": float("nan"), "ok": True, "n": [1, 2]})
    assert isinstance(analysis_id, int)

    (execution,) = catalog.executions(sid, status="done")
    assert (execution["peak_rss"], execution["seed"], execution["condition"]) == (2**20, 7, {"threads": "2"})
    (attempt,) = catalog.attempts(planned.id)
    assert attempt["timed_out"] is False and attempt["argv"] == ["app", "x"]
    assert attempt["env"] == {"OMP_NUM_THREADS": "2"}
    assert attempt["stdout"] == "binary\ufffdoutput"
    (out,) = catalog.outputs(sid)
    assert out["missing"] is False and out["size"] == 2**20 and out["condition"] == {"threads": "2"}
    assert catalog.provenance("p" * 32) == {"hostname": "node7", "cpu": {"count": 64}}
    assert catalog.referenced_blobs() == {"b" * 64}
    (doc,) = [a["document"] for a in catalog.analyses(sid, latest_only=True)]
    assert doc["ok"] is True and doc["n"] == [1, 2]
    # PostgreSQL's json type has no NaN: it is stored as null there.
    assert doc["icc"] is None if catalog.engine.dialect.name == "postgresql" else math.isnan(doc["icc"])
    assert catalog.runs(sid)[0]["status"] == "finished"
    catalog.close()

    reader = Catalog(catalog_url, read_only=True)  # the dashboard's mode
    assert reader.studies()[0]["counts"] == {"done": 1}
    reader.close()


# -- real studies -------------------------------------------------------------------------------------


def _view(study: Study) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    sid = study.catalog.study_id(study.name)
    rows = study.catalog.executions(sid)
    key = {e["id"]: f"{e['subject']}|{e['condition_key']}|{e['repetition']}" for e in rows}  # ids hash the name
    execs = sorted((key[e["id"]], e["status"]) for e in rows)
    outs = sorted((key[o["execution_id"]], o["name"], o["blob"]) for o in study.catalog.outputs(sid))
    return execs, outs


def test_study_on_postgres_has_the_catalog_it_has_on_sqlite(pg_url: str, tmp_path: Path) -> None:
    on_pg = Study.load(write_study(tmp_path / "pg", factors=THREADS), catalog_url=pg_url)
    on_sqlite = Study.load(write_study(tmp_path / "sqlite", factors=THREADS))
    for study in (on_pg, on_sqlite):
        summary = study.run(jobs=2)
        assert (summary.planned, summary.done, summary.failed) == (18, 18, 0)
    assert _view(on_pg) == _view(on_sqlite)
    assert len(_view(on_pg)[1]) == 18
    assert not (on_pg.store / "catalog.sqlite").exists()
    assert on_pg.status()["done"].tolist() == on_sqlite.status()["done"].tolist() == [9, 9]
    on_pg.catalog.close()


def test_study_on_postgres_resumes_what_failed(pg_url: str, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    path = write_study(
        tmp_path / "study",
        app="misbehaving_app.py",
        factors=THREADS,
        repetitions=2,
        args=f'"flaky", "{{outdir}}", "{markers}/{{subject}}-{{threads}}-{{repetition}}"',
    )
    # Every execution fails its first attempt; keep going past the fail-fast stop (tested in test_runner.py).
    first = Study.load(path, catalog_url=pg_url).run(jobs=2, keep_going=True)
    assert (first.planned, first.done, first.failed) == (12, 0, 12)
    second = Study.load(path, catalog_url=pg_url).run(jobs=2)
    assert (second.skipped, second.done, second.failed) == (0, 12, 0)
    third = Study.load(path, catalog_url=pg_url).run(jobs=2)
    assert (third.skipped, third.done) == (12, 0)
    study = Study.load(path, catalog_url=pg_url)
    df = study.executions()
    assert set(df["status"]) == {"done"} and df["attempts"].tolist() == [2] * 12
    runs = study.catalog.runs(study.catalog.study_id(study.name))
    assert [(r["n_done"], r["n_failed"], r["status"]) for r in runs] == [
        (0, 12, "finished"),
        (12, 0, "finished"),
        (0, 0, "finished"),
    ]
    study.catalog.close()


def _named_study(root: Path, name: str, prefix: str, **kw: Any) -> Path:
    """A study called ``name`` whose subjects are ``<prefix>-01``, ``<prefix>-02``..."""
    path = write_study(root, **kw)
    for f in (root / "data").glob("sub-*.txt"):
        f.rename(f.with_name(f.name.replace("sub", prefix)))
    path.write_text(f"name: {name}\n" + path.read_text())
    return path


def test_two_runners_write_one_postgres_catalog_at_once(pg_url: str, tmp_path: Path) -> None:
    alpha = _named_study(tmp_path / "alpha", "alpha", "a", subjects=4, repetitions=3, factors=THREADS)
    beta = _named_study(tmp_path / "beta", "beta", "b", subjects=3, repetitions=5)
    env = dict(os.environ, REPROVIP_CATALOG=pg_url)
    runners = [
        subprocess.Popen(
            [sys.executable, "-m", "reprovip", "run", str(p), "-j", "2", "--no-progress"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for p in (alpha, beta)
    ]
    logs = [r.communicate(timeout=180)[0] for r in runners]
    assert [r.returncode for r in runners] == [0, 0], logs
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        sids = dict(conn.execute(select(s.studies.c.name, s.studies.c.id)).all())
        assert set(sids) == {"alpha", "beta"}
        for name, n in (("alpha", 24), ("beta", 15)):
            e = s.executions
            by_status = dict(
                conn.execute(
                    select(e.c.status, func.count()).where(e.c.study_id == sids[name]).group_by(e.c.status)
                ).all()
            )
            assert by_status == {"done": n}
            ids = select(e.c.id).where(e.c.study_id == sids[name])
            assert (
                conn.execute(
                    select(func.count()).select_from(s.attempts).where(s.attempts.c.execution_id.in_(ids))
                ).scalar()
                == n
            )
            assert (
                conn.execute(
                    select(func.count()).select_from(s.outputs).where(s.outputs.c.execution_id.in_(ids))
                ).scalar()
                == n
            )
            runs = select(s.runs.c.status, s.runs.c.n_done).where(s.runs.c.study_id == sids[name])
            assert conn.execute(runs).all() == [("finished", n)]
        assert conn.execute(select(func.count()).select_from(s.provenances)).scalar() >= 1
    engine.dispose()


def test_two_studies_with_the_same_subjects_share_a_catalog(catalog_url: str, tmp_path: Path) -> None:
    for name in ("first", "second"):
        path = _named_study(tmp_path / name, name, "sub", subjects=1, repetitions=1)
        study = Study.load(path, catalog_url=catalog_url)
        assert study.run(jobs=1).done == 1
        study.catalog.close()
