"""What the study file declares now against the executions the catalog holds (a file edited after its run)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reprovip.errors import ReprovipError
from reprovip.plan.expand import expand, recipe_hash

if TYPE_CHECKING:
    from reprovip.study import Study


def plan_check(study: Study, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How the stored executions compare with what the study file declares now.

    A study file edited after its run (a new subject, factor level or repetition; another command,
    environment, outputs or timeout) declares executions the catalog does not hold, or holds with an earlier
    recipe: their results are not in the analysis, so the verdict cannot be the study's (before, such an
    analysis could read "reproducible (bit-for-bit identical)"). Returns ``checked``, and when True
    ``declared``, ``not_run`` (declared, never run), ``earlier_recipe`` (done under another recipe: run again
    on the next ``run``) and ``not_declared`` (stored, no longer declared: still analysed); when False a
    ``reason`` (a study without an application, ingested executions, or subjects that cannot be listed from
    this folder).
    """
    if study.spec.application is None:
        return dict(checked=False, reason="the study declares no application: its executions are ingested")
    if any(r.get("source") == "ingest" for r in rows):  # results made elsewhere: named by their files, not the plan
        return dict(checked=False, reason="executions were ingested: they are analysed as they are")
    try:
        declared = {p.id for p in expand(study.spec, study.subjects)}
    except ReprovipError as exc:  # e.g. inputs moved after the run: the stored executions are still analysed
        return dict(checked=False, reason=f"the subjects cannot be listed here ({exc})")
    recipe = recipe_hash(study.spec)
    stored = {r["id"]: r for r in rows}
    return dict(
        checked=True,
        declared=len(declared),
        not_run=sum(eid not in stored for eid in declared),
        earlier_recipe=sum(
            eid in stored and stored[eid]["status"] == "done" and stored[eid].get("recipe") not in (None, recipe)
            for eid in declared
        ),
        not_declared=sum(eid not in declared for eid in stored),
    )
