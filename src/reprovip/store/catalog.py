"""The catalog: studies, runs, executions, attempts, outputs and provenance, in SQLAlchemy Core.

SQLite (WAL mode) by default; any SQLAlchemy URL works, PostgreSQL included. Only the runner writes; every
write that completes an execution is one transaction, so a killed runner leaves whole executions or none.
"""

from __future__ import annotations

import importlib
import json
import math
import sqlite3
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import blake3
from sqlalchemy import JSON, Boolean, bindparam, create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from reprovip import __version__
from reprovip.errors import StoreError
from reprovip.store import schema as s
from reprovip.store import sql
from reprovip.store.snapshot import readable_folder

_CAP = 64 * 1024
_UPSERT = ("postgresql", "sqlite")  # dialects with INSERT ... ON CONFLICT DO NOTHING


def sqlite_url(path: Path, *, read_only: bool = False) -> str:
    """SQLAlchemy URL of a SQLite file; read-only URLs use ``mode=ro`` so no write can happen."""
    if read_only:
        return f"sqlite:///file:{Path(path).resolve()}?mode=ro&uri=true"
    return f"sqlite:///{Path(path).resolve()}"


_BUSY_SECONDS = 30.0


def _wal(cur: Any) -> None:
    """Switch the file to WAL mode, waiting while another connection holds it.

    SQLite answers a ``journal_mode`` change with "database is locked" at once, without calling the busy
    handler, while another process creates or converts the same new file: several runners opening one new
    catalog together would fail. The mode is stored in the file, so a catalog already in WAL mode needs no lock.
    """
    deadline = time.monotonic() + _BUSY_SECONDS
    pause = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def _sqlite_pragmas(engine: Engine, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(_BUSY_SECONDS * 1000)}")
        if not read_only:
            _wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


# SQLite's answers when the catalog's file, not the statement, is at fault, and what the user can do about each
_FILE_FAULTS = (
    (
        ("database or disk is full",),
        "no space left on the disk of the study's store; free some space (or move the study folder to a larger "
        "disk) and run the command again: what was recorded before is kept (SQLite: {reason})",
    ),
    (
        ("disk i/o error",),
        "cannot read or write it ({reason}): its disk is full, or the file size limit (`ulimit -f`) is too small; "
        "free some space or raise the limit, then run the command again: what was recorded before is kept",
    ),
    (
        ("attempt to write a readonly database", "readonly database"),
        "cannot write it ({reason}): the catalog file or its folder is read-only (permissions, `chattr +i`, a "
        "read-only mount); make them writable, or copy the study folder where you can write",
    ),
    (
        ("database disk image is malformed", "file is not a database"),
        "not a readable catalog ({reason}): the file is damaged; restore it from a copy, or move it away and run "
        "the study again",
    ),
)


def _catalog_file(url: str) -> str:
    """The file of a SQLite URL (``sqlite:///file:/p?mode=ro&uri=true`` -> ``/p``), else the URL to show."""
    try:
        database = make_url(url).database or ""
    except (SQLAlchemyError, ValueError):
        return _shown(url)
    return database.removeprefix("file:") or _shown(url)


def _file_faults(engine: Engine, url: str, read_only: bool) -> None:
    r"""Turn SQLite's errors about the catalog's file (a full disk, ``ulimit -f``, a read-only or damaged file)
    into one-line :class:`StoreError`\ s naming the file and what to do, wherever the statement ran: they were
    internal errors (exit 4 and a bug report) in every command but ``run`` (a review). A catalog opened
    read-only keeps SQLite's own error for a write: reprovip attempted it, not the user's file."""
    faults = [f for f in _FILE_FAULTS if not (read_only and "readonly database" in f[0])]

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> StoreError | None:
        original = context.original_exception
        if not isinstance(original, sqlite3.DatabaseError):
            return None
        reason = (str(original).strip().splitlines() or [""])[0]
        for needles, advice in faults:
            if any(n in reason.lower() for n in needles):
                return StoreError(f"{_catalog_file(url)}: {advice.format(reason=reason)}")
        return None


def _shown(url: str) -> str:
    """``url`` fit for a message: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return url.split("@")[-1]


def _text(value: str | None) -> str | None:
    r"""Text the catalog can store: no NUL character, which PostgreSQL cannot store (an app may print binary), and
    the bytes of a name in no UTF-8 (a Latin-1 ``r\xe9gions.csv``, held by Python as lone surrogates) written
    ``\xe9``: the batch of a run whose tool wrote such a file crashed unrecorded, every run after too (review H).

    Examples
    --------
    >>> _text("a\x00b") == "a\ufffdb", _text(b"r\xe9gions.csv".decode("utf-8", "surrogateescape")), _text(None)
    (True, 'r\\xe9gions.csv', None)
    """
    if not value:
        return value
    value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate no undecodable byte gives
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _finite(obj: Any) -> Any:
    """``obj`` with non-finite floats as None: PostgreSQL's ``json`` type rejects NaN and Infinity."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _strict_json(obj: Any) -> str:
    try:
        return json.dumps(obj, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(obj), allow_nan=False)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {}
    # A study runs for days: a server restart or an idle-connection timeout must not end it.
    options: dict[str, Any] = dict(pool_pre_ping=True)
    if url.startswith("postgresql"):
        options["json_serializer"] = _strict_json
    return options


def _refuse_emptied(root: Path) -> None:
    """Refuse a catalog file of 0 bytes beside stored outputs: it was cut (a full disk, a copy that failed), and
    opening it made a new empty catalog over it, so `status` showed nothing and `check` "nothing stored yet"
    while the blobs were orphaned (a review)."""
    path = root / "catalog.sqlite"
    try:
        emptied = path.stat().st_size == 0 and any((root / "blobs").iterdir())
    except OSError:  # no catalog yet, or no blobs folder: a new store
        return
    if emptied:
        raise StoreError(
            f"{path}: the catalog is empty (0 bytes) while {root / 'blobs'} holds stored outputs: it was cut (a full "
            "disk, a failed copy); restore it from a copy, or move it away and run the study again"
        )


class Catalog(sql.Reads):
    """Access to one catalog database.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://...``).
    read_only : bool
        Open without creating tables (the dashboard's mode).
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self._known_provenance: set[str] = set()
        try:
            self.engine = create_engine(url, **_engine_options(url))
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open catalog {_shown(url)!r}: {exc}; check the database URL") from exc
        # Closed when the catalog is dropped or the program exits: SQLite folds its WAL file into the database
        # when its last connection closes, so a copy of catalog.sqlite alone holds every result.
        weakref.finalize(self, self.engine.dispose)
        if self.engine.dialect.name == "sqlite":
            _sqlite_pragmas(self.engine, read_only)
            _file_faults(self.engine, url, read_only)
        if not read_only:
            self._create()

    @classmethod
    def for_store(cls, root: Path, *, read_only: bool = False) -> Catalog:
        """The default SQLite catalog of a study store folder (read-only: from a copy when the folder cannot be
        written, see :func:`readable_folder`)."""
        root = Path(root)
        if read_only and not (root / "catalog.sqlite").exists():
            raise StoreError(f"{root}: no catalog here; run `reprovip run` or `reprovip ingest` first")
        _refuse_emptied(root)
        if read_only:
            root = readable_folder(root)
        root.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_url(root / "catalog.sqlite", read_only=read_only), read_only=read_only)

    def _create(self) -> None:
        """Create the tables, or migrate them to this code's revision (see :mod:`reprovip.store.migrations`).

        Safe when several processes open a new catalog at once; refuses a catalog written by a newer reprovip.
        """
        from reprovip.store.migrations import upgrade

        try:
            upgrade(self.engine)
        except OperationalError as exc:
            reason = (str(exc.orig).strip().splitlines() or [""])[0]
            hint = (
                # a read-only store is still read by `status`, `report` and `check --no-reanalyze` (a review)
                "check the folder's permissions (a store that cannot be written is still read by `status`, "
                "`report` and `check --no-reanalyze`)"
                if self.engine.dialect.name == "sqlite"
                else "check that the server runs, the URL and the credentials"
            )
            raise StoreError(f"cannot open catalog {_shown(self.url)}: {reason}; {hint}") from exc
        except SQLAlchemyError as exc:
            reason = (str(exc).strip().splitlines() or [""])[0]
            raise StoreError(f"cannot create or migrate catalog {_shown(self.url)}: {reason}") from exc
        if self.catalog_id() is None:  # a catalog created before catalogs had an identity: give it one now
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(s.meta).values(key=s.CATALOG_ID_KEY, value=s.new_catalog_id()))
            except IntegrityError:
                pass  # another process gave it one first

    def catalog_id(self) -> str | None:
        """The catalog's identity (random, made when it was created), or None for a catalog created by an older
        reprovip and not opened for writing since. An analysis records it: see
        :func:`reprovip.report.context.staleness`."""
        return catalog_id(self.engine)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def _rows(self, query: sql.Query, **params: Any) -> list[dict[str, Any]]:
        """The rows of a shared query (:mod:`reprovip.store.sql`), its JSON and Boolean columns typed."""
        stmt = text(query.sql).columns(**{c: JSON for c in query.json}, **{c: Boolean for c in query.flags})
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt, params).mappings()]

    # -- studies and runs -------------------------------------------------------------------------
    def ensure_study(self, name: str, spec: dict[str, Any], study_dir: str) -> int:
        """Return the id of study ``name``, creating or updating its row."""
        with self.engine.begin() as conn:
            row = conn.execute(select(s.studies.c.id).where(s.studies.c.name == name)).first()
            if row:
                conn.execute(update(s.studies).where(s.studies.c.id == row[0]).values(spec=spec, study_dir=study_dir))
                return int(row[0])
            res = conn.execute(
                insert(s.studies).values(name=name, spec=spec, study_dir=study_dir, created_at=time.time())
            )
            return int(res.inserted_primary_key[0])

    def studies(self) -> list[dict[str, Any]]:
        """Every study with its execution counts by status."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(s.studies)).mappings().all()
            counts = conn.execute(
                select(s.executions.c.study_id, s.executions.c.status, func.count()).group_by(
                    s.executions.c.study_id, s.executions.c.status
                )
            ).all()
        out = []
        for r in rows:
            d = dict(r)
            d["counts"] = {st: n for sid, st, n in counts if sid == r["id"]}
            out.append(d)
        return out

    def start_run(self, study_id: int, command: str, n_planned: int, hostname: str, pid: int) -> int:
        """Record the start of a ``run`` or ``ingest``; return its id."""
        with self.engine.begin() as conn:
            res = conn.execute(
                insert(s.runs).values(
                    study_id=study_id,
                    command=command,
                    status="running",
                    started_at=time.time(),
                    hostname=hostname,
                    pid=pid,
                    n_planned=n_planned,
                    n_done=0,
                    n_failed=0,
                    reprovip_version=__version__,
                )
            )
            return int(res.inserted_primary_key[0])

    def finish_run(self, run_id: int, status: str, n_done: int, n_failed: int) -> None:
        """Record the end of a run; the executions it left marked running (interrupted, stopped) are pending
        again: `status` showed one "running" after Ctrl-C, with no runner alive (a review)."""
        e = s.executions
        with self.engine.begin() as conn:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == run_id)
                .values(status=status, finished_at=time.time(), n_done=n_done, n_failed=n_failed)
            )
            study = select(s.runs.c.study_id).where(s.runs.c.id == run_id).scalar_subquery()
            conn.execute(update(e).where(e.c.study_id == study, e.c.status == "running").values(status="pending"))

    def close_run(self, run_id: int) -> None:
        """Record a run whose runner died as ``interrupted``: its counts and end from the attempts it recorded."""
        a = s.attempts
        with self.engine.begin() as conn:
            counts = dict(
                conn.execute(select(a.c.status, func.count()).where(a.c.run_id == run_id).group_by(a.c.status)).all()
            )
            last = conn.execute(select(func.max(a.c.finished_at)).where(a.c.run_id == run_id)).scalar()
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == run_id, s.runs.c.status == "running")
                .values(
                    status="interrupted",
                    finished_at=last,
                    n_done=counts.get("done", 0),
                    n_failed=counts.get("failed", 0),
                )
            )

    # -- executions -------------------------------------------------------------------------------
    def recipes(self, study_id: int) -> dict[str, str | None]:
        """The recipe of each of the study's executions, by id."""
        e = s.executions
        with self.engine.connect() as conn:
            return dict(conn.execute(select(e.c.id, e.c.recipe).where(e.c.study_id == study_id)).all())

    def sync_plan(
        self, study_id: int, planned: Iterable[Any], recipe: str | Mapping[str, str], *, force: bool = False
    ) -> int:
        """Insert planned executions not yet known; reset those whose recipe changed (or every planned one, with
        ``force``: the executions the study no longer declares, ingested ones included, are kept as they are).
        Returns how many of the reset executions were ingested: their results give way to runs (said by `run`).

        ``recipe`` is one for every execution, or one per execution id (the executions it does not name keep
        theirs). A reset execution is pending again under its recipe and its earlier attempts are history
        (superseded): they stay in the catalog but no longer count towards its attempts or flakiness. An
        execution left ``running`` by an older reprovip is pending again, its attempts still current.
        """

        def recipe_of(eid: str, current: str | None) -> str | None:
            return recipe if isinstance(recipe, str) else recipe.get(eid, current)

        planned = list(planned)
        with self.engine.begin() as conn:
            known = {
                r.id: r
                for r in conn.execute(
                    select(
                        s.executions.c.id,
                        s.executions.c.status,
                        s.executions.c.recipe,
                        s.executions.c.input,
                        s.executions.c.source,
                    ).where(s.executions.c.study_id == study_id)
                )
            }
            new = [
                dict(
                    id=p.id,
                    study_id=study_id,
                    subject=p.subject.id,
                    input=p.subject.input,
                    condition_key=p.condition.key,
                    condition=p.condition.labels,
                    repetition=p.repetition,
                    status="pending",
                    recipe=recipe_of(p.id, None),
                    source="run",
                    attempts=0,
                )
                for p in planned
                if p.id not in known
            ]
            if new:
                conn.execute(insert(s.executions), new)
            reset: dict[str | None, list[str]] = {}  # by the recipe they are reset to
            declared = {p.id for p in planned}
            for eid, r in known.items():
                new = recipe_of(eid, r.recipe)
                # `force` runs again what the study declares: an execution it no longer declares (results
                # ingested for a level run elsewhere) was reset, never run, then left out (a review's false pass)
                if (force and eid in declared) or r.recipe != new:
                    reset.setdefault(new, []).append(eid)
            resetting = {eid for ids in reset.values() for eid in ids}
            resumed = [eid for eid, r in known.items() if r.status == "running" and eid not in resetting]
            for new, ids in reset.items():
                for chunk in _chunks(sorted(ids), 500):
                    conn.execute(
                        update(s.executions)
                        .where(s.executions.c.id.in_(chunk))
                        .values(status="pending", recipe=new, attempts=0, source="run")  # an ingested one: run now
                    )
                    conn.execute(update(s.attempts).where(s.attempts.c.execution_id.in_(chunk)).values(superseded=True))
            for chunk in _chunks(resumed, 500):
                conn.execute(update(s.executions).where(s.executions.c.id.in_(chunk)).values(status="pending"))
            for p in planned:  # a subject given another input file: the catalog names the one it now runs on
                if p.id in resetting and known[p.id].input != p.subject.input:
                    conn.execute(update(s.executions).where(s.executions.c.id == p.id).values(input=p.subject.input))
        return sum(known[eid].source == "ingest" for eid in resetting)

    def mark_running(self, ids: Iterable[str]) -> None:
        """Mark executions ``ids`` running: a backend that queues them reports when they start.

        Only what ``reprovip status`` and the dashboard show: the runner records each one's end (``done``,
        ``failed``) with :meth:`record_attempts`, and the next run's :meth:`sync_plan` makes one left
        ``running`` pending again. A ``done`` execution stays done (a late report cannot undo a recorded
        success); ids the catalog does not know change nothing.
        """
        e = s.executions
        # Only while their study's run is: a report arriving after an interrupted run's end marked one "running"
        # for good, and `status` showed it with no runner alive (a review)
        live = select(s.runs.c.study_id).where(s.runs.c.status == "running")
        with self.engine.begin() as conn:
            for chunk in _chunks(sorted(set(ids)), 500):
                conn.execute(
                    update(e)
                    .where(e.c.id.in_(chunk), e.c.status != "done", e.c.study_id.in_(live))
                    .values(status="running")
                )

    def record_attempts(self, run_id: int, batch: list[tuple[str, dict[str, Any], list[dict[str, Any]]]]) -> None:
        """Record attempts (execution id, result, output rows) and, for successes, their outputs.

        An attempt is numbered within ``run_id`` (1, 2... as the runner retries it) and carries its execution's
        recipe; the execution's ``attempts`` counts its current attempts (those since its last reset). One
        transaction for the whole batch, with one multi-row statement per table: each attempt, its outputs and
        the execution's new status are all stored, or none is.
        """
        now = time.time()
        ids = [eid for eid, _, _ in batch]
        fields = (
            "seed",
            "exit_code",
            "duration",
            "peak_rss",
            "error",
            "run_id",
            "provenance",
            "started_at",
            "finished_at",
        )
        a, e = s.attempts, s.executions
        with self.engine.begin() as conn:
            current = {r.id: r for r in conn.execute(select(e.c.id, e.c.attempts, e.c.recipe).where(e.c.id.in_(ids)))}
            in_run = dict(
                conn.execute(
                    select(a.c.execution_id, func.count())
                    .where(a.c.run_id == run_id, a.c.execution_id.in_(ids))
                    .group_by(a.c.execution_id)
                ).all()
            )
            attempts, outputs, updates = [], [], []
            for eid, result, outs in batch:
                status = "done" if result["ok"] else "failed"
                common = dict(
                    seed=result.get("seed"),
                    exit_code=result.get("exit_code"),
                    duration=result.get("duration"),
                    peak_rss=result.get("peak_rss"),
                    error=_text(result.get("error")),
                    run_id=run_id,
                    provenance=self._store_provenance(conn, result),
                    started_at=result.get("started_at"),
                    finished_at=result.get("finished_at", now),
                )
                attempts.append(
                    dict(
                        common,
                        execution_id=eid,
                        number=in_run.get(eid, 0) + 1,
                        status=status,
                        recipe=current[eid].recipe,
                        superseded=False,
                        argv=result.get("argv"),
                        env=result.get("env"),
                        timed_out=bool(result.get("timed_out")),
                        stdout=_text((result.get("stdout") or "")[-_CAP:]),
                        stderr=_text((result.get("stderr") or "")[-_CAP:]),
                        hostname=result.get("hostname"),
                        pid=result.get("pid"),
                    )
                )
                outputs += [
                    dict(o, execution_id=eid, relpath=_text(o["relpath"]), error=_text(o.get("error"))) for o in outs
                ]
                updates.append(
                    dict(
                        {f"b_{k}": v for k, v in common.items()},
                        b_id=eid,
                        b_attempts=(current[eid].attempts or 0) + 1,
                        b_status=status,
                    )
                )
            conn.execute(insert(s.attempts), attempts)
            conn.execute(s.outputs.delete().where(s.outputs.c.execution_id.in_(ids)))
            if outputs:
                conn.execute(insert(s.outputs), outputs)
            _replace_traces(conn, ids, [(eid, result["trace"]) for eid, result, _ in batch if result.get("trace")])
            conn.execute(
                update(s.executions)
                .where(s.executions.c.id == bindparam("b_id"))
                .values(
                    status=bindparam("b_status"),
                    attempts=bindparam("b_attempts"),
                    **{k: bindparam(f"b_{k}") for k in fields},
                ),
                updates,
            )

    def _store_provenance(self, conn: Any, result: dict[str, Any]) -> str | None:
        prov = result.get("provenance")
        if prov is None:
            # A local worker names a record it sent with an earlier result (see reprovip.execute.worker).
            digest = result.get("provenance_hash")
            return digest if digest in self._known_provenance else None
        digest = result.get("provenance_hash") or _digest(prov)
        if digest not in self._known_provenance:
            dialect = conn.dialect.name
            if dialect in _UPSERT:
                # Runners of other studies sharing this catalog store the same machine's record concurrently:
                # a check-then-insert would race into a duplicate-key error.
                upsert = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
                stmt = upsert(s.provenances).values(hash=digest, data=prov)
                conn.execute(stmt.on_conflict_do_nothing())
            elif not conn.execute(select(s.provenances.c.hash).where(s.provenances.c.hash == digest)).first():
                conn.execute(insert(s.provenances).values(hash=digest, data=prov))
            self._known_provenance.add(digest)
        return digest

    def insert_ingested(self, study_id: int, rows: list[dict[str, Any]]) -> int:
        """Insert executions found on disk by ``ingest`` (rows carry their outputs under ``outputs``); return how
        many replaced an execution stored before (same subject, condition and repetition: ingested or run)."""
        e = s.executions
        with self.engine.begin() as conn:
            ids = [row["id"] for row in rows]
            replaced = sum(
                len(conn.execute(select(e.c.id).where(e.c.study_id == study_id, e.c.id.in_(chunk))).all())
                for chunk in _chunks(ids, 500)
            )
            for row in rows:
                outs = row.pop("outputs")
                conn.execute(s.outputs.delete().where(s.outputs.c.execution_id == row["id"]))
                _replace_traces(conn, [row["id"]], [])  # what a run traced is not what was ingested
                conn.execute(s.attempts.delete().where(s.attempts.c.execution_id == row["id"]))
                conn.execute(s.executions.delete().where(s.executions.c.id == row["id"]))
                conn.execute(insert(s.executions).values(study_id=study_id, **row))
                if outs:
                    # One statement for all: every row needs every column (a missing output has no blob, and the
                    # first row's keys were taken for all: a second output missing crashed the ingest, a review)
                    keys = sorted(set().union(*outs))
                    conn.execute(
                        insert(s.outputs), [dict({k: o.get(k) for k in keys}, execution_id=row["id"]) for o in outs]
                    )
        return replaced

    def attempt_counts(self, study_id: int) -> dict[tuple[bool, str], int]:
        """Attempts of a study's executions counted by (superseded, status): ``{(False, "failed"): 3, ...}``."""
        a, e = s.attempts, s.executions
        q = (
            select(a.c.superseded, a.c.status, func.count())
            .join(e, e.c.id == a.c.execution_id)
            .where(e.c.study_id == study_id)
            .group_by(a.c.superseded, a.c.status)
        )
        with self.engine.connect() as conn:
            return {(bool(sup), str(st)): int(n) for sup, st, n in conn.execute(q)}

    def outputs(self, study_id: int) -> list[dict[str, Any]]:
        """Outputs of the study's completed executions, joined with their execution's fields."""
        e, o = s.executions, s.outputs
        q = (
            select(
                o,
                e.c.subject,
                e.c.condition_key,
                e.c.condition,
                e.c.repetition,
                e.c.source,
                e.c.provenance.label("provenance_hash"),
            )
            .join(e, e.c.id == o.c.execution_id)
            .where(e.c.study_id == study_id, e.c.status == "done")
            .order_by(o.c.name, o.c.relpath, e.c.subject, e.c.condition_key, e.c.repetition)
        )
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def traces(self, study_id: int) -> list[dict[str, Any]]:
        """The traces of the study's completed executions (see :mod:`reprovip.execute.trace`), ordered by
        subject, condition and repetition: execution fields, ``mode``, ``note``, ``files`` (in write order) and
        ``processes`` (in start order)."""
        e, t, f, p = s.executions, s.traces, s.trace_files, s.trace_processes
        done = e.c.study_id == study_id, e.c.status == "done"
        q = (
            select(t, e.c.subject, e.c.condition_key, e.c.condition, e.c.repetition)
            .join(e, e.c.id == t.c.execution_id)
            .where(*done)
            .order_by(e.c.subject, e.c.condition_key, e.c.repetition)
        )
        with self.engine.connect() as conn:
            out = {r["execution_id"]: dict(r, files=[], processes=[]) for r in conn.execute(q).mappings()}
            for table, key, order in ((f, "files", f.c.write_order), (p, "processes", p.c.number)):
                rows = conn.execute(
                    select(table).join(e, e.c.id == table.c.execution_id).where(*done).order_by(order)
                ).mappings()
                for r in rows:
                    if r["execution_id"] in out:
                        out[r["execution_id"]][key].append(dict(r))
        return list(out.values())

    def provenance(self, digest: str) -> dict[str, Any] | None:
        """The provenance record stored under ``digest``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(s.provenances.c.data).where(s.provenances.c.hash == digest)).first()
        return row[0] if row else None

    def referenced_blobs(self) -> set[str]:
        """Digests of every blob an output row, or a kept traced file (``trace_keep``), refers to."""
        kept = select(s.trace_files.c.blob).where(s.trace_files.c.kept.is_(True))
        with self.engine.connect() as conn:
            outputs = conn.execute(select(s.outputs.c.blob).where(s.outputs.c.blob.is_not(None)))
            return {r[0] for r in outputs} | {r[0] for r in conn.execute(kept)}

    # -- analyses ---------------------------------------------------------------------------------
    def save_analysis(self, study_id: int, document: dict[str, Any]) -> int:
        """Store an analysis document (the history the dashboard plots)."""
        with self.engine.begin() as conn:
            res = conn.execute(insert(s.analyses).values(study_id=study_id, created_at=time.time(), document=document))
            return int(res.inserted_primary_key[0])

    def analyses(self, study_id: int, *, latest_only: bool = False) -> list[dict[str, Any]]:
        """Stored analysis documents of a study, oldest first (or only the latest)."""
        q = select(s.analyses).where(s.analyses.c.study_id == study_id).order_by(s.analyses.c.id)
        if latest_only:
            q = q.order_by(None).order_by(s.analyses.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]


def catalog_id(engine: Engine) -> str | None:
    """The identity stored in the catalog behind ``engine`` (see :data:`~reprovip.store.schema.CATALOG_ID_KEY`)."""
    with engine.connect() as conn:
        value = conn.execute(select(s.meta.c.value).where(s.meta.c.key == s.CATALOG_ID_KEY)).scalar()
    return str(value) if value else None


def _replace_traces(conn: Any, ids: list[str], traces: list[tuple[str, dict[str, Any]]]) -> None:
    """Replace the traces of executions ``ids`` by ``traces`` (execution id, trace): only the last attempt's."""
    for table in (s.trace_files, s.trace_processes, s.traces):
        conn.execute(table.delete().where(table.c.execution_id.in_(ids)))
    if not traces:
        return
    conn.execute(insert(s.traces), [dict(execution_id=eid, mode=t["mode"], note=t["note"]) for eid, t in traces])
    # `kept`: stored in the blob store (trace_keep); absent from the records of a worker that kept nothing.
    files = [dict(f, kept=bool(f.get("kept")), execution_id=eid) for eid, t in traces for f in t["files"]]
    if files:
        conn.execute(insert(s.trace_files), files)
    procs = [dict(p, execution_id=eid) for eid, t in traces for p in t["processes"]]
    if procs:
        conn.execute(insert(s.trace_processes), procs)


def _digest(obj: Any) -> str:
    return blake3.blake3(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
