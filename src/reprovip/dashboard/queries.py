"""The dashboard's SQL: aggregates with GROUP BY and pages with LIMIT, never every execution at once."""

from __future__ import annotations

import functools
import weakref
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.engine import Engine

from reprovip.store import schema as s

TAIL = 8000
_WITH_COUNTS: weakref.WeakSet[Engine] = weakref.WeakSet()


def _counted(engine: Engine) -> bool:
    """Whether the catalog keeps ``execution_counts``: a database with its triggers, at revision 0006 or later.

    The dashboard opens catalogs read-only and never migrates them: an older catalog is counted from its
    executions until a writer migrates it (checked again on each call until then; once seen, remembered).
    """
    if engine.dialect.name not in s.COUNTED_DIALECTS:
        return False
    if engine not in _WITH_COUNTS:
        from reprovip.store.migrations import current_revision

        with engine.connect() as conn:
            revision = current_revision(conn)
        if revision is None or revision < s.COUNTS_REVISION:
            return False
        _WITH_COUNTS.add(engine)
    return True


def studies(engine: Engine) -> list[dict[str, Any]]:
    """Every study of a catalog (without its spec)."""
    t = s.studies
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(select(t.c.id, t.c.name, t.c.study_dir, t.c.created_at).order_by(t.c.id)).mappings()
        ]


def study(engine: Engine, study_id: int) -> dict[str, Any] | None:
    """One study with its spec, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(s.studies).where(s.studies.c.id == study_id)).mappings().first()
    return dict(row) if row else None


def status_counts(engine: Engine, study_id: int | None = None) -> dict[int, dict[str, int]]:
    """Executions per study and status: read from ``execution_counts`` (kept by triggers, a few rows per study
    whatever its size), or (see :func:`_counted`) one GROUP BY over the (study, status) index."""
    if _counted(engine):
        c = s.execution_counts
        q = select(c.c.study_id, c.c.status, func.sum(c.c.n)).where(c.c.n > 0).group_by(c.c.study_id, c.c.status)
        sid_column = c.c.study_id
    else:
        e = s.executions
        q = select(e.c.study_id, e.c.status, func.count()).group_by(e.c.study_id, e.c.status)
        sid_column = e.c.study_id
    if study_id is not None:
        q = q.where(sid_column == study_id)
    out: dict[int, dict[str, int]] = {}
    with engine.connect() as conn:
        for sid, st, n in conn.execute(q):
            out.setdefault(int(sid), {})[str(st)] = int(n)
    return out


def progress(engine: Engine, study_id: int, since: float) -> dict[str, Any]:
    """A study's counts per condition and status, executions finished since ``since``, and the mean duration
    of completed ones.

    With ``execution_counts`` (see :func:`_counted`) the counts and durations come from its rows and the
    recent ones from the (study, finished_at) index: no pass over the study's executions. Else one grouped pass.
    """
    e = s.executions
    done_or_failed = e.c.status.in_(("done", "failed"))
    if _counted(engine):
        c = s.execution_counts
        q = (
            select(c.c.condition_key, c.c.status, c.c.n, literal(0), c.c.duration_sum, c.c.duration_n)
            .where(c.c.study_id == study_id, c.c.n > 0)
            .order_by(c.c.condition_key)
        )
        recent_q = select(func.count()).where(e.c.study_id == study_id, e.c.finished_at >= since, done_or_failed)
    else:
        recent = func.sum(case((e.c.finished_at >= since, 1), else_=0))
        q = (
            select(
                e.c.condition_key, e.c.status, func.count(), recent, func.sum(e.c.duration), func.count(e.c.duration)
            )
            .where(e.c.study_id == study_id)
            .group_by(e.c.condition_key, e.c.status)
            .order_by(e.c.condition_key)
        )
        recent_q = None
    by_condition: dict[str, dict[str, int]] = {}
    n_recent, total_duration, n_duration = 0, 0.0, 0
    with engine.connect() as conn:
        for ck, st, n, rec, dur, ndur in conn.execute(q):
            by_condition.setdefault(str(ck), {})[str(st)] = int(n)
            if st in ("done", "failed"):
                n_recent += int(rec or 0)
            if st == "done":
                total_duration += float(dur or 0.0)
                n_duration += int(ndur or 0)
        if recent_q is not None:
            n_recent = int(conn.execute(recent_q).scalar() or 0)
    return dict(
        by_condition=by_condition,
        recent=n_recent,
        mean_duration=total_duration / n_duration if n_duration else None,
    )


def newest_runs(engine: Engine) -> dict[int, dict[str, Any]]:
    """Per study: its newest run (the row), to tell whether its stored verdict is stale."""
    r = s.runs
    newest = select(func.max(r.c.id)).group_by(r.c.study_id)
    with engine.connect() as conn:
        return {int(x["study_id"]): dict(x) for x in conn.execute(select(r).where(r.c.id.in_(newest))).mappings()}


@functools.lru_cache(maxsize=64)
def catalog_identity(engine: Engine) -> str:
    """The catalog's identity ("" when it has none), to tell an analysis of another catalog; cached per engine
    (a catalog keeps its identity; one replaced on disk is opened anew: :class:`~reprovip.dashboard.sources.Source`)."""
    from reprovip.store.catalog import catalog_id

    return catalog_id(engine) or ""


def latest_analyses(engine: Engine) -> dict[int, tuple[int, float | None]]:
    """Per study: id and time of its latest stored analysis."""
    a = s.analyses
    sub = select(func.max(a.c.id).label("id")).group_by(a.c.study_id).subquery()
    q = select(a.c.study_id, a.c.id, a.c.created_at).where(a.c.id.in_(select(sub.c.id)))
    with engine.connect() as conn:
        return {int(sid): (int(aid), ts) for sid, aid, ts in conn.execute(q)}


def analysis_ids(engine: Engine, study_id: int, *, limit: int = 30) -> list[int]:
    """Ids of the latest ``limit`` stored analyses of a study, oldest first."""
    a = s.analyses
    q = select(a.c.id).where(a.c.study_id == study_id).order_by(a.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return sorted(int(r[0]) for r in conn.execute(q))


@functools.lru_cache(maxsize=64)
def _document(engine: Engine, analysis_id: int) -> tuple[int, dict[str, Any]] | None:
    a = s.analyses
    with engine.connect() as conn:
        row = conn.execute(select(a.c.study_id, a.c.document).where(a.c.id == analysis_id)).first()
    return (int(row[0]), row[1]) if row else None


def document(engine: Engine, study_id: int, analysis_id: int) -> dict[str, Any] | None:
    """A stored analysis document (immutable, so cached), if it belongs to ``study_id``."""
    got = _document(engine, analysis_id)
    return got[1] if got and got[0] == study_id else None


def run_count(engine: Engine, study_id: int) -> int:
    """How many runs a study has: a page that shows the latest :func:`runs` says so when there are more."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(s.runs.c.study_id == study_id)).scalar() or 0)


def runs(engine: Engine, study_id: int, *, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
    """The latest runs of a study, newest first."""
    r = s.runs
    q = select(r).where(r.c.study_id == study_id)
    if status is not None:
        q = q.where(r.c.status == status)
    with engine.connect() as conn:
        return [dict(x) for x in conn.execute(q.order_by(r.c.id.desc()).limit(limit)).mappings()]


EXEC_COLUMNS = (
    "id",
    "subject",
    "condition_key",
    "repetition",
    "status",
    "attempts",
    "exit_code",
    "duration",
    "error",
)


def executions_page(
    engine: Engine, study_id: int, *, status: str | None, offset: int, limit: int
) -> list[dict[str, Any]]:
    """One page of executions ordered by subject, condition and repetition."""
    e = s.executions
    q = select(*[e.c[c] for c in EXEC_COLUMNS]).where(e.c.study_id == study_id)
    if status is not None:
        q = q.where(e.c.status == status)
    q = q.order_by(e.c.subject, e.c.condition_key, e.c.repetition).offset(offset).limit(limit)
    with engine.connect() as conn:
        return [dict(x) for x in conn.execute(q).mappings()]


def execution(engine: Engine, study_id: int, execution_id: str) -> dict[str, Any] | None:
    """One execution of a study, or None."""
    e = s.executions
    with engine.connect() as conn:
        row = conn.execute(select(e).where(e.c.study_id == study_id, e.c.id == execution_id)).mappings().first()
    return dict(row) if row else None


def attempts(engine: Engine, execution_id: str) -> list[dict[str, Any]]:
    """The latest 100 attempts of an execution, oldest first, with the last ``TAIL`` characters of their output.

    Each carries ``run_id``, its ``number`` within that run, ``status`` and ``superseded`` (history: made
    before a changed recipe or ``--force`` reset the execution, not counted in its ``attempts``).
    """
    t = s.attempts
    q = select(t).where(t.c.execution_id == execution_id).order_by(t.c.id.desc()).limit(100)
    out = []
    with engine.connect() as conn:
        for x in reversed(conn.execute(q).mappings().all()):
            d = dict(x)
            d["stdout_tail"] = (d.pop("stdout") or "")[-TAIL:]
            d["stderr_tail"] = (d.pop("stderr") or "")[-TAIL:]
            out.append(d)
    return out


def outputs(engine: Engine, execution_id: str) -> list[dict[str, Any]]:
    """Stored outputs of an execution."""
    o = s.outputs
    q = (
        select(o.c.name, o.c.relpath, o.c.kind, o.c.blob, o.c.size, o.c.semantic_hash, o.c.missing, o.c.error)
        .where(o.c.execution_id == execution_id)
        .order_by(o.c.name, o.c.relpath)
        .limit(1000)
    )
    with engine.connect() as conn:
        return [dict(x) for x in conn.execute(q).mappings()]


def provenance(engine: Engine, digest: str | None) -> dict[str, Any] | None:
    """A provenance record."""
    if not digest:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(s.provenances.c.data).where(s.provenances.c.hash == digest)).first()
    return row[0] if row else None
