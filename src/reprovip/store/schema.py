"""Tables of the catalog. One definition serves SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)

SCHEMA_VERSION = 1
metadata = MetaData()

meta = Table("meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text))

CATALOG_ID_KEY = "catalog_id"
"""The ``meta`` key of a catalog's identity: a random id written when the catalog is created (or first opened
for writing by this reprovip). An analysis records it; a catalog deleted and made again (its first run is #1
again, the id the old analysis saw) has another, so the old verdict is seen as stale (a review)."""


def new_catalog_id() -> str:
    """A fresh random catalog identity."""
    import uuid

    return uuid.uuid4().hex


studies = Table(
    "studies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("spec", JSON),
    Column("study_dir", Text),
    Column("created_at", Float),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", ForeignKey("studies.id"), nullable=False),
    Column("command", String(20)),
    Column("status", String(20)),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("hostname", String(255)),
    Column("pid", Integer),
    Column("n_planned", Integer),
    Column("n_done", Integer, default=0),
    Column("n_failed", Integer, default=0),
    Column("reprovip_version", String(40)),
)

provenances = Table(
    "provenances",
    metadata,
    Column("hash", String(32), primary_key=True),
    Column("data", JSON),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("study_id", ForeignKey("studies.id"), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("input", Text),
    Column("condition_key", Text, nullable=False),
    Column("condition", JSON),
    Column("repetition", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("recipe", String(32)),
    Column("source", String(20)),
    Column("attempts", Integer, default=0),
    Column("seed", BigInteger),
    Column("exit_code", Integer),
    Column("duration", Float),
    Column("peak_rss", BigInteger),
    Column("error", Text),
    Column("run_id", Integer),
    Column("provenance", String(32)),
    Column("started_at", Float),
    Column("finished_at", Float),
    UniqueConstraint("study_id", "subject", "condition_key", "repetition"),
)
Index("ix_exec_study_status", executions.c.study_id, executions.c.status)
# The dashboard's progress page groups by condition and orders by completion time.
Index("ix_exec_study_condition_status", executions.c.study_id, executions.c.condition_key, executions.c.status)
Index("ix_exec_study_finished", executions.c.study_id, executions.c.finished_at)

# Executions counted per study, condition and status, with the sum and number of their known durations, kept
# by triggers on `executions` (COUNT_TRIGGERS): the dashboard reads a study's counts and mean duration without
# a pass over its executions (docs/dashboard.md). Rows whose count fell to 0 stay, with n = 0.
execution_counts = Table(
    "execution_counts",
    metadata,
    Column("study_id", Integer, primary_key=True),
    Column("condition_key", Text, primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("n", BigInteger, nullable=False),
    Column("duration_sum", Float, nullable=False),
    Column("duration_n", BigInteger, nullable=False),
)

_COUNT_COLUMNS = "study_id, condition_key, status, n, duration_sum, duration_n"
_SQLITE_ADD = (
    f"INSERT INTO execution_counts ({_COUNT_COLUMNS}) VALUES "
    "(NEW.study_id, NEW.condition_key, NEW.status, 1, coalesce(NEW.duration, 0), NEW.duration IS NOT NULL) "
    "ON CONFLICT (study_id, condition_key, status) DO UPDATE SET n = n + 1, "
    "duration_sum = duration_sum + excluded.duration_sum, duration_n = duration_n + excluded.duration_n;"
)
_SQLITE_REMOVE = (
    "UPDATE execution_counts SET n = n - 1, duration_sum = duration_sum - coalesce(OLD.duration, 0), "
    "duration_n = duration_n - (OLD.duration IS NOT NULL) "
    "WHERE study_id = OLD.study_id AND condition_key = OLD.condition_key AND status = OLD.status;"
)
_COUNTED = "study_id, condition_key, status, duration"
COUNT_TRIGGERS: dict[str, tuple[str, ...]] = {
    "sqlite": (
        f"CREATE TRIGGER IF NOT EXISTS execution_counts_insert AFTER INSERT ON executions BEGIN {_SQLITE_ADD} END",
        f"CREATE TRIGGER IF NOT EXISTS execution_counts_delete AFTER DELETE ON executions BEGIN {_SQLITE_REMOVE} END",
        f"CREATE TRIGGER IF NOT EXISTS execution_counts_update AFTER UPDATE OF {_COUNTED} ON executions "
        f"BEGIN {_SQLITE_REMOVE} {_SQLITE_ADD} END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION execution_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN "
        "UPDATE execution_counts SET n = n - 1, duration_sum = duration_sum - coalesce(OLD.duration, 0), "
        "duration_n = duration_n - (OLD.duration IS NOT NULL)::int "
        "WHERE study_id = OLD.study_id AND condition_key = OLD.condition_key AND status = OLD.status; "
        "END IF; "
        "IF TG_OP IN ('INSERT', 'UPDATE') THEN "
        f"INSERT INTO execution_counts AS c ({_COUNT_COLUMNS}) VALUES (NEW.study_id, NEW.condition_key, "
        "NEW.status, 1, coalesce(NEW.duration, 0), (NEW.duration IS NOT NULL)::int) "
        "ON CONFLICT (study_id, condition_key, status) DO UPDATE SET n = c.n + 1, "
        "duration_sum = c.duration_sum + excluded.duration_sum, duration_n = c.duration_n + excluded.duration_n; "
        "END IF; RETURN NULL; END $$",
        "DROP TRIGGER IF EXISTS execution_counts ON executions",
        f"CREATE TRIGGER execution_counts AFTER INSERT OR DELETE OR UPDATE OF {_COUNTED} ON executions "
        "FOR EACH ROW EXECUTE FUNCTION execution_counts_change()",
    ),
}
"""The statements that keep :data:`execution_counts`, per dialect; on any other database the table stays
empty and readers count the executions themselves (:data:`COUNTED_DIALECTS`)."""
COUNTED_DIALECTS = tuple(COUNT_TRIGGERS)
COUNTS_REVISION = "0006"
"""The catalog revision that added :data:`execution_counts`: a reader opened read-only (the dashboard) never
migrates, so it reads the table only from catalogs at this revision or later."""
COUNTS_BACKFILL = (
    f"INSERT INTO execution_counts ({_COUNT_COLUMNS}) SELECT study_id, condition_key, status, count(*), "
    "coalesce(sum(duration), 0), count(duration) FROM executions GROUP BY study_id, condition_key, status"
)
"""Fill :data:`execution_counts` from the executions already there (migration 0006)."""


@event.listens_for(metadata, "after_create")
def _create_count_triggers(_target: MetaData, connection: object, **_kw: object) -> None:
    for statement in COUNT_TRIGGERS.get(connection.dialect.name, ()):  # type: ignore[attr-defined]
        connection.exec_driver_sql(statement)  # type: ignore[attr-defined]


attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("execution_id", ForeignKey("executions.id"), nullable=False, index=True),
    Column("number", Integer),  # 1, 2... within its run
    Column("run_id", Integer),
    Column("argv", JSON),
    Column("env", JSON),
    Column("seed", BigInteger),
    Column("exit_code", Integer),
    Column("timed_out", Boolean),
    Column("duration", Float),
    Column("peak_rss", BigInteger),
    Column("stdout", Text),
    Column("stderr", Text),
    Column("error", Text),
    # The attempt's outcome, the recipe it ran, and whether a later reset (changed recipe, --force) made it
    # history: an execution's current attempts are those not superseded (see docs/running.md).
    Column("status", String(20)),
    Column("recipe", String(32)),
    Column("superseded", Boolean, default=False),
    Column("provenance", String(32)),
    Column("hostname", String(255)),
    Column("pid", Integer),
    Column("started_at", Float),
    Column("finished_at", Float),
)

outputs = Table(
    "outputs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("execution_id", ForeignKey("executions.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("relpath", Text),
    Column("kind", String(20)),
    Column("blob", String(64), index=True),
    Column("suffix", String(20)),
    Column("size", BigInteger),
    Column("semantic_hash", String(64)),
    Column("missing", Boolean, default=False),
    Column("error", Text),
)

analyses = Table(
    "analyses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", ForeignKey("studies.id"), nullable=False),
    Column("created_at", Float),
    Column("document", JSON),
)

# `trace: files` / `trace: processes` (docs/study-format.md): what each execution's last successful attempt
# wrote in its working folder, hashed (stored too when `trace_keep` names it), and under `processes` which
# process read and wrote it.
traces = Table(
    "traces",
    metadata,
    Column("execution_id", ForeignKey("executions.id"), primary_key=True),
    Column("mode", String(20), nullable=False),  # what was recorded: files or processes
    Column("note", Text),  # why `processes` fell back to `files`, if it did
)

trace_files = Table(
    "trace_files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("execution_id", ForeignKey("executions.id"), nullable=False, index=True),
    Column("relpath", Text, nullable=False),  # relative to the working folder: out/... for {outdir}
    Column("size", BigInteger),
    Column("mtime_ns", BigInteger),
    Column("write_order", Integer),  # 0, 1... by (mtime_ns, relpath) within the execution
    Column("blob", String(64)),  # BLAKE3 of the bytes (the file itself is stored only when kept)
    Column("semantic_hash", String(64)),
    Column("kept", Boolean, default=False),  # in the blob store under `blob` (trace_keep; migration 0007)
)

trace_processes = Table(
    "trace_processes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("execution_id", ForeignKey("executions.id"), nullable=False, index=True),
    Column("number", Integer, nullable=False),  # 0, 1... in start order; 0 is the application
    Column("parent", Integer),  # the parent's number
    Column("argv", JSON),
    Column("cwd", Text),
    Column("exit_code", Integer),
    Column("reads", JSON),  # relpaths of traced files it opened for reading
    Column("writes", JSON),  # relpaths of traced files it opened for writing or renamed into place
)
