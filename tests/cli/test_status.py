"""`reprovip status` reads a SQLite catalog with sqlite3, and prints what the SQLAlchemy catalog would.

The light reader (:class:`reprovip.store.reader.SQLiteReader`) and :class:`reprovip.store.Catalog` run the
same SQL text; these tests compare the two outputs on a real store, and check that any catalog the reader
does not trust (another schema revision) goes through the catalog as before.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.store import reader as reader_module
from reprovip.store.migrations import HEAD
from reprovip.study import Study
from tests.conftest import write_study


def _status(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["status", *argv]) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run study with done and failed executions, then one marked running and one pending, and a run left
    `running` by a runner that is gone (pid 2**22 + 1 is above Linux's pid limit)."""
    path = write_study(
        tmp_path_factory.mktemp("status"),
        app="first_hour_app.py",
        args='"fail-on", "{input}", "{outdir}", "sub-02"',
        subjects=3,
        repetitions=2,
    )
    summary = Study.load(path).run(jobs=1, progress=False, keep_going=True)
    assert (summary.done, summary.failed) == (4, 2)
    db = sqlite3.connect(path.parent / ".reprovip" / "catalog.sqlite")
    with db:
        ids = [r[0] for r in db.execute("SELECT id FROM executions WHERE status = 'done' ORDER BY id")]
        db.execute("UPDATE executions SET status = 'running' WHERE id = ?", (ids[0],))
        db.execute("UPDATE executions SET status = 'pending' WHERE id = ?", (ids[1],))
        db.execute(
            "INSERT INTO runs (study_id, command, status, started_at, hostname, pid) "
            "SELECT study_id, 'run', 'running', 1.0, hostname, 4194305 FROM runs LIMIT 1"
        )
    db.close()
    return path


def test_sqlite_reader_prints_what_the_catalog_prints(
    study: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []
    real_open = reader_module.SQLiteReader.open
    monkeypatch.setattr(reader_module.SQLiteReader, "open", lambda p: opened.append(real_open(p)) or opened[-1])
    light = _status(capsys, str(study)), _status(capsys, "--failed", str(study))
    assert len(opened) == 2 and all(isinstance(r, reader_module.SQLiteReader) for r in opened)
    # A database URL always goes through SQLAlchemy's catalog: the same file, read the other way.
    monkeypatch.setenv("REPROVIP_CATALOG", f"sqlite:///{study.parent / '.reprovip' / 'catalog.sqlite'}")
    full = _status(capsys, str(study)), _status(capsys, "--failed", str(study))
    assert len(opened) == 2
    assert light == full
    table, failed = light
    assert [line.split("│")[2:7] for line in table.splitlines() if "│" in line and "condition" not in line] == [
        ["    2 ", "      2 ", "       1 ", "       1 ", "     6 "]
    ]
    assert "was interrupted: its runner (pid 4194305" in table
    assert "2 executions failed with" in table and "this subject is broken" in failed


def _set_revision(catalog: Path, revision: str) -> None:
    db = sqlite3.connect(catalog)
    with db:
        db.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    db.close()


def _revision(catalog: Path) -> list[tuple[str]]:
    db = sqlite3.connect(catalog)
    try:
        return db.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        db.close()


def test_older_catalog_is_migrated_by_the_catalog_as_before(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(tmp_path, subjects=1, repetitions=1)
    Study.load(path).run(jobs=1, progress=False)
    catalog = tmp_path / ".reprovip" / "catalog.sqlite"
    at_head = _status(capsys, str(path))
    _set_revision(catalog, "0004")  # its tables are 0005's, which 0005's migration leaves as they are
    assert reader_module.SQLiteReader.open(catalog) is None
    assert _status(capsys, str(path)) == at_head
    assert _revision(catalog) == [(HEAD,)]  # migrated: the reader never writes, the catalog does


def test_newer_catalog_is_refused_with_the_catalogs_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(tmp_path, subjects=1, repetitions=1)
    Study.load(path).run(jobs=1, progress=False)
    catalog = tmp_path / ".reprovip" / "catalog.sqlite"
    _set_revision(catalog, "9999")
    assert reader_module.SQLiteReader.open(catalog) is None
    capsys.readouterr()  # what the run printed
    assert main(["status", str(path)]) == 2
    assert capsys.readouterr().err == (
        "reprovip: error: catalog schema revision '9999' is newer than this reprovip (which knows up to "
        f"{HEAD!r}); upgrade reprovip to use this catalog\n"
    )


def test_a_catalog_that_cannot_be_read_is_a_one_line_error_not_a_bug_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A query of the sqlite3 reader failing (here a table gone; a file locked beyond the timeout or damaged does
    the same): before, `status` printed "internal error" and wrote a bug report."""
    path = write_study(tmp_path, subjects=1, repetitions=1)
    Study.load(path).run(jobs=1, progress=False)
    catalog = tmp_path / ".reprovip" / "catalog.sqlite"
    db = sqlite3.connect(catalog)
    with db:
        db.execute("DROP TABLE runs")
    db.close()
    capsys.readouterr()
    assert main(["status", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"reprovip: error: {catalog}: cannot read the catalog (no such table: runs)")
    assert err.count("\n") == 1
