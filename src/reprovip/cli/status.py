"""``reprovip status``: executions per condition, the runs, and the failures grouped by error."""

from __future__ import annotations

import shlex

import click

from reprovip.execute.failures import FAILED_DIR, FailureGroup, group_failures, strip_ansi
from reprovip.store.liveness import runner_alive
from reprovip.study import STATUSES, Study

TAIL_LINES = 10  # lines of stdout and stderr shown per failure with --failed


def _open_catalog(study: Study) -> None:
    """Give ``study`` the catalog ``status`` reads, without SQLAlchemy when it can.

    The default SQLite catalog at this code's schema revision is read with :mod:`sqlite3`
    (:class:`~reprovip.store.reader.SQLiteReader`, the same queries); any other (a database URL, a catalog to
    migrate or to refuse) is left to :attr:`Study.catalog`, on first use, as every command opens it.
    A store that cannot be written (a read-only disk, another user's study) is read from a copy of its catalog
    (:func:`~reprovip.store.snapshot.readable_folder`).
    """
    if study.catalog_url is not None:
        return
    from reprovip.store.reader import SQLiteReader
    from reprovip.store.snapshot import readable_folder

    folder = readable_folder(study.store)
    writable = folder == study.store
    reader = SQLiteReader.open(folder / "catalog.sqlite")
    if reader is not None:
        if writable:
            study._claim_name()  # as Study.catalog does before opening it
        study.catalog = reader
    elif not writable:
        from reprovip.store import Catalog

        study.catalog = Catalog.for_store(folder, read_only=True)


def _tail(text: str | None) -> list[str]:
    lines = strip_ansi(text or "").rstrip().splitlines()
    return lines[-TAIL_LINES:]


def _details(study: Study, group: FailureGroup) -> list[str]:
    """One execution of the group in full: its command, kept folder and the tails of its output."""
    first = group.executions[0]
    attempts = study.catalog.attempts(first["id"])
    last = attempts[-1] if attempts else {}
    out = [f"  e.g. {first['subject']} [{first['condition']}] rep {first['repetition']} (execution {first['id']})"]
    if last.get("argv"):
        out.append(f"  command: {shlex.join(last['argv'])}")
    kept = study.store / FAILED_DIR / first["id"]
    if kept.is_dir():
        out.append(f"  working folder kept in {kept}")
    for name in ("stderr", "stdout"):
        tail = _tail(last.get(name))
        out.append(f"  {name} (last {len(tail)} lines):" if tail else f"  {name}: empty")
        out += [f"    | {line}" for line in tail]
    return out


def _run_lines(study: Study) -> list[str]:
    """The last run, and any run still marked running whose runner is gone (killed)."""
    sid = study.catalog.study_id(study.name)
    runs = study.catalog.runs(sid) if sid is not None else []
    out = []
    for r in runs:
        if r["status"] == "running" and runner_alive(r["hostname"], r["pid"], r["started_at"]) is False:
            out.append(
                f"run {r['id']} was interrupted: its runner (pid {r['pid']} on {r['hostname']}) is gone; "
                "`reprovip run` resumes"
            )
    if runs:
        last = runs[-1]
        if last["status"] == "running" and not out:
            out.append(f"run {last['id']} is running (pid {last['pid']} on {last['hostname']})")
        elif last["status"] == "stopped":
            out.append(
                f"run {last['id']} stopped early: its first executions all failed with one error "
                "(`reprovip run --keep-going` runs them all)"
            )
    return out


def _nothing_yet(study: Study) -> str:
    """What a study with no stored execution is to do: with another name than the studies its store holds (its
    `name:` edited, its folder renamed), add that name (review A: "`reprovip run` runs the 6 executions")."""
    from reprovip.store.names import nothing_stored, stored_names

    if others := stored_names(study.catalog, study.name):
        return nothing_stored(study.path, study.name, others)
    if study.spec.application is None:
        return "nothing stored yet: `reprovip ingest` stores the results made elsewhere"
    from reprovip.errors import ReprovipError
    from reprovip.plan import expand

    try:
        count = f"the {len(expand(study.spec, study.subjects))} executions the study file declares"
    except ReprovipError:
        count = "the executions the study file declares"
    return f"nothing stored yet: `reprovip run` runs {count} (or `reprovip ingest` stores results made elsewhere)"


def _plan_lines(study: Study) -> list[str]:
    """Where the study file and the table (the catalog) disagree: it was edited since its run."""
    from reprovip.plan.check import plan_check

    sid = study.catalog.study_id(study.name)
    rows = study.catalog.executions(sid) if sid is not None else []
    if not rows:  # nothing run yet: an empty table said nothing (review NU2)
        return [_nothing_yet(study)]
    plan = plan_check(study, rows)
    lines = []
    if plan.get("ingested") and plan.get("not_run"):
        lines.append(
            f"the study file declares {plan['not_run']} execution(s) neither run nor ingested: ingest or run them"
        )
    elif plan.get("not_run") or plan.get("earlier_recipe"):
        lines.append(
            f"the study file declares {plan['not_run']} execution(s) not in this table and {plan['earlier_recipe']} "
            "done with an earlier recipe (the study file, the application's script or an input was edited since "
            "the run): `reprovip run` runs them"
        )
    if plan.get("not_declared"):
        lines.append(
            f"{plan['not_declared']} execution(s) in this table are no longer declared by the study file (a subject, "
            "level or repetition removed since the run): the analysis leaves them out"
        )
    return lines


def status_command(path: str, *, failed: bool = False) -> int:
    """Print the status table, the runs to know about and the failures grouped by error."""
    study = Study.load(path)
    _open_catalog(study)
    return _print_status(study, failed=failed)


def _print_status(study: Study, *, failed: bool) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{study.name}: executions per condition")
    columns = ["condition", *STATUSES, "total"]
    for col in columns:
        table.add_column(col, justify="left" if col == "condition" else "right")
    for row in study.status_rows():
        table.add_row(*[str(row[col]) for col in columns])
    console.print(table)
    lines = _run_lines(study) + _plan_lines(study)
    sid = study.catalog.study_id(study.name)
    rows = study.catalog.executions(sid, status="failed") if sid is not None else []
    for group in group_failures(dict(r, condition=r["condition_key"]) for r in rows):
        lines += group.lines()
        if failed:
            lines += _details(study, group)
    if rows and not failed:
        lines.append("Their command lines and output: `reprovip status --failed`.")
    for line in lines:
        click.echo(line)
    return 0


@click.command("status")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
@click.option("--failed", is_flag=True, help="Show each distinct failure's command line and output tails.")
def status(study: str, failed: bool) -> int:
    """Show how many executions of STUDY are done, failed or pending, per condition."""
    return status_command(study, failed=failed)
