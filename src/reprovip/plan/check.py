"""What the study file declares now against the executions the catalog holds (a file edited after its run)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprovip.errors import ReprovipError
from reprovip.plan.expand import conditions, execution_recipes, expand
from reprovip.spec.subjects import Subject

if TYPE_CHECKING:
    from reprovip.study import Study


def plan_check(study: Study, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`plan_status`'s summary."""
    return plan_status(study, rows)[0]


def plan_status(study: Study, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], frozenset[str]]:
    """How the stored executions compare with what the study file declares now, and the ids of the stored
    executions it no longer declares (a subject, level or repetition removed): the analysis leaves them out.

    A study file edited after its run (a new subject, factor level or repetition; another command,
    environment, outputs or timeout) declares executions the catalog does not hold, or holds with an earlier
    recipe: their results are not in the analysis, so the verdict cannot be the study's (before, such an
    analysis could read "reproducible (bit-for-bit identical)"). The recipe holds the bytes of the files the
    command names in the study folder and of each subject's input, and its path: an edited script or input, or
    a subject pointed at another file, is an earlier recipe too. Returns ``checked``, and when True
    ``declared``, ``not_run`` (declared, never run), ``earlier_recipe`` (done under another recipe: run again
    on the next ``run``) and ``not_declared`` (stored, no longer declared: left out); when False a
    ``reason`` (a study without an application, or only ingested executions) and ``ingested``; executions
    ingested beside a run's are analysed as they are (never "no longer declared"). Subjects whose inputs
    cannot be listed any more (moved after the run) are taken as stored: ``subjects`` says ``"as stored"`` and
    why, and an execution whose input is gone is compared on the recipe of its condition only (the file's part).
    """
    ingested = {r["id"] for r in rows if r.get("source") == "ingest"}
    if study.spec.application is None or (rows and len(ingested) == len(rows)):
        return ingested_plan(study, rows), frozenset()
    listed: dict[str, Any] = {}
    try:
        subjects = study.subjects
    except ReprovipError as exc:
        # Inputs moved after the run: the levels, repetitions and recipe the file declares are still checked,
        # over the subjects the catalog holds (skipping the check let an edited file read as the study's).
        subjects = sorted({Subject(r["subject"], r["input"]) for r in rows}, key=lambda s: s.id)
        listed = dict(subjects="as stored", subjects_reason=f"the subjects cannot be listed here ({exc})")
    planned = expand(study.spec, subjects)
    declared = execution_recipes(study.spec, study.directory, planned, {r["id"]: r["recipe"] for r in rows})
    stored = {r["id"]: r for r in rows}
    # Inputs gone (listed from the catalog): their bytes cannot be compared, the condition's part still is. So
    # are the inputs of the folder the study was copied from: a copy archived without its data read "run with an
    # earlier recipe" while the original folder was still there (its path, relative to the copy, differed: a review)
    here = study.directory.resolve()
    gone = {
        p.id
        for p in planned
        if listed and (not Path(p.subject.input).exists() or not Path(p.subject.input).resolve().is_relative_to(here))
    }

    def earlier(eid: str, recipe: str) -> bool:
        old = stored[eid].get("recipe") if eid in stored and stored[eid]["status"] == "done" else None
        if old is None:
            return False
        return old[:16] != recipe[:16] if eid in gone else old != recipe

    # Ingested beside runs (a factor level made elsewhere): analysed as they are, never "no longer declared";
    # the run's executions are still checked (an ingested row once turned the check off for good: a review).
    undeclared = frozenset(eid for eid in stored if eid not in declared and eid not in ingested)
    summary = dict(
        **listed,
        checked=True,
        declared=len(declared),
        not_run=sum(eid not in stored for eid in declared),
        earlier_recipe=sum(earlier(eid, recipe) for eid, recipe in declared.items()),
        not_declared=len(undeclared),
    )
    return summary, undeclared


def ingested_plan(study: Study, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan check of a study whose executions were all ingested: results made elsewhere are analysed as they
    are, but a design the study file declares (its subjects when it runs an application, else the ingested ones;
    its conditions; its repetitions when it runs an application or writes them, else the most any condition has)
    and the ingested executions follow (some subject and condition are the declared ones) must be whole: ingesting
    the threads=4 half of a declared threads: [1, 4] study read "sufficiently reproducible" (review IN).
    ``not_run`` counts the declared executions neither run nor ingested (repetitions counted, not numbered: results
    folders may number them from 0).
    """
    spec = study.spec
    reason = (
        "the study declares no application: its executions are ingested"
        if spec.application is None
        else "executions were ingested: they are analysed as they are"
    )
    unchecked = dict(checked=False, ingested=True, reason=reason)
    if not rows or (spec.application is None and not spec.factors and "repetitions" not in spec.model_fields_set):
        return unchecked
    subjects: list[str] = []
    if spec.application is not None or spec.subjects is not None:  # declared: an absent one is missing (review N3)
        try:
            subjects = [s.id for s in study.subjects]
        except ReprovipError:  # inputs moved: the ingested subjects
            subjects = []
    subjects = subjects or sorted({r["subject"] for r in rows})
    have: dict[tuple[str, str], set[int]] = {}
    order = [f.name for f in spec.factor_list()]
    for r in rows:  # keyed in the declared factor order, whatever order the results tree named them in (N2)
        cond = r.get("condition") or {}
        key = ",".join(f"{f}={cond[f]}" for f in order if f in cond) if set(cond) == set(order) else r["condition_key"]
        have.setdefault((r["subject"], key or "-"), set()).add(int(r["repetition"]))
    keys = [c.key for c in conditions(spec)]
    declared = [(s, k) for s in subjects for k in keys]
    if not any(pair in have for pair in declared):  # another design (a factor the file does not declare)
        return unchecked
    explicit = spec.application is not None or "repetitions" in spec.model_fields_set
    reps = spec.repetitions if explicit else max(len(v) for v in have.values())
    return dict(
        checked=True,
        ingested=True,
        declared=len(declared) * reps,
        not_run=sum(max(0, reps - len(have.get(pair, ()))) for pair in declared),
        earlier_recipe=0,
        not_declared=0,
    )


PLAN_COUNTS = ("checked", "declared", "not_run", "earlier_recipe", "not_declared")


def plan_changed(stored: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether the plan check a stored analysis made differs from the current one in its counts: the study file
    declares other executions now (two of three subjects removed left a stored "sufficiently reproducible" standing
    where the analysis now reads "not analysable", review CA).

    Examples
    --------
    >>> plan_changed(dict(checked=True, declared=12, not_declared=0), dict(checked=True, declared=4, not_declared=8))
    True
    """
    return any(stored.get(k) != current.get(k) for k in PLAN_COUNTS)
