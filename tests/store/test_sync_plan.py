"""``Catalog.sync_plan`` with one recipe per execution: only the executions whose recipe changed are reset,
and those the mapping does not name (no longer planned) keep theirs."""

from __future__ import annotations

from pathlib import Path

from reprovip.store import Catalog
from tests.store.test_counts import PLANNED


def test_per_execution_recipes_reset_only_what_changed(tmp_path: Path) -> None:
    catalog = Catalog.for_store(tmp_path)
    sid = catalog.ensure_study("a", {}, str(tmp_path))
    catalog.sync_plan(sid, PLANNED, {p.id: "r1" for p in PLANNED})
    run = catalog.start_run(sid, "run", len(PLANNED), "host", 1)
    ok = dict(ok=True, exit_code=0, duration=1.0, error=None, argv=[])
    catalog.record_attempts(run, [(p.id, ok, []) for p in PLANNED])
    changed = {p.id: "r2" if p.condition.key == "c1" else "r1" for p in PLANNED[1:]}  # PLANNED[0]: not named
    catalog.sync_plan(sid, PLANNED[1:], changed)
    rows = {r["id"]: (r["status"], r["recipe"]) for r in catalog.executions(sid)}
    assert rows[PLANNED[0].id] == ("done", "r1")  # not in the mapping: kept as it is
    assert {rows[p.id] for p in PLANNED[1:] if p.condition.key == "c1"} == {("pending", "r2")}
    assert {rows[p.id] for p in PLANNED if p.condition.key == "c2"} == {("done", "r1")}
