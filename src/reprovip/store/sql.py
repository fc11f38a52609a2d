"""Catalog queries as SQL text, one definition run by two readers.

:class:`~reprovip.store.catalog.Catalog` runs them through SQLAlchemy (SQLite or PostgreSQL);
:class:`~reprovip.store.reader.SQLiteReader` runs the very same text through the standard library's
``sqlite3``, so that ``reprovip status`` reads a SQLite catalog without importing SQLAlchemy (about 0.15 s of
its start-up). Parameters are named (``:name``), a style both accept. Values that the database stores as
text or integers but that the catalog hands out as Python objects are named per query: JSON columns
(decoded) and Boolean columns (``bool``); every other column comes back as the driver returns it.
:class:`Reads` turns them into the methods both readers share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Query:
    """One query: its SQL text, and which of its result columns hold JSON or Booleans."""

    sql: str
    json: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


_EXECUTIONS = "SELECT * FROM executions WHERE study_id = :study_id"
_EXECUTIONS_ORDER = " ORDER BY subject, condition_key, repetition"

STUDY_ID = Query("SELECT id FROM studies WHERE name = :name")
# the studies with an execution stored (one only named, by a `validate` or an ingest that stored nothing, is not)
STORED_NAMES = Query(
    "SELECT DISTINCT studies.name FROM studies JOIN executions ON executions.study_id = studies.id "
    "ORDER BY studies.name"
)
"""The id of study ``:name`` (no row when it has none)."""

STATUS_COUNTS = Query(
    "SELECT condition_key, status, count(*) AS n FROM executions WHERE study_id = :study_id "
    "GROUP BY condition_key, status"
)
"""A study's executions counted by condition and status."""

RUNS = Query("SELECT * FROM runs WHERE study_id = :study_id ORDER BY id")
"""Every run of a study, oldest first."""

EXECUTIONS = Query(_EXECUTIONS + _EXECUTIONS_ORDER, json=("condition",))
"""Every execution of a study, by subject, condition and repetition."""

EXECUTIONS_WITH_STATUS = Query(_EXECUTIONS + " AND status = :status" + _EXECUTIONS_ORDER, json=("condition",))
"""The executions of a study with status ``:status``, in the same order."""

ATTEMPTS = Query(
    "SELECT * FROM attempts WHERE execution_id = :execution_id ORDER BY id",
    json=("argv", "env"),
    flags=("timed_out", "superseded"),
)
"""Every attempt of an execution, oldest first."""


class Reads:
    """The catalog's methods built on these queries; a reader supplies :meth:`_rows`."""

    def _rows(self, query: Query, **params: Any) -> list[dict[str, Any]]:
        """The rows of ``query`` as dicts, its JSON and Boolean columns decoded."""
        raise NotImplementedError

    def study_id(self, name: str) -> int | None:
        """The id of study ``name``, or None."""
        rows = self._rows(STUDY_ID, name=name)
        return int(rows[0]["id"]) if rows else None

    def stored_study_names(self) -> list[str]:
        """The names of the studies with an execution stored, sorted."""
        return [str(r["name"]) for r in self._rows(STORED_NAMES)]

    def status_counts(self, study_id: int) -> list[tuple[str, str, int]]:
        """Executions of a study counted by condition and status: ``(condition_key, status, n)`` rows."""
        return [
            (str(r["condition_key"]), str(r["status"]), int(r["n"]))
            for r in self._rows(STATUS_COUNTS, study_id=study_id)
        ]

    def runs(self, study_id: int) -> list[dict[str, Any]]:
        """Every run of a study, oldest first."""
        return self._rows(RUNS, study_id=study_id)

    def executions(self, study_id: int, *, status: str | None = None) -> list[dict[str, Any]]:
        """Executions of a study (optionally of one status), ordered by subject, condition, repetition."""
        if status is None:
            return self._rows(EXECUTIONS, study_id=study_id)
        return self._rows(EXECUTIONS_WITH_STATUS, study_id=study_id, status=status)

    def attempts(self, execution_id: str) -> list[dict[str, Any]]:
        """Every attempt of an execution, oldest first."""
        return self._rows(ATTEMPTS, execution_id=execution_id)
