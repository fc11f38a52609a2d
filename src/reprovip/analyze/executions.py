"""What the catalog says about a study's executions: counts, failures, flakiness and machine provenance."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reprovip.analyze.stats import num
from reprovip.errors import BACKEND_ERROR
from reprovip.execute.provenance import flatten
from reprovip.execute.sandbox import NOTE_TAGS
from reprovip.plan.check import plan_status
from reprovip.spec.subjects import repeated_participants

if TYPE_CHECKING:
    from reprovip.study import Study


@dataclass(frozen=True)
class Stored:
    """A study's stored executions, read once, and how they compare with what its file declares now."""

    study_id: int
    rows: list[dict[str, Any]]  # every stored execution
    plan: dict[str, Any]  # plan_status's summary
    undeclared: frozenset[str]  # ids of the executions the file no longer declares
    # the newest run as it was before the executions were read (:func:`last_run`): one that ended in between reads
    # as unfinished, hence stale once it has finished, never as seen whole (review A)
    last_run: dict[str, Any] | None = None


def stored_executions(study: Study, study_id: int) -> Stored:
    """Read the executions of ``study_id`` and check them against the study file once: checking hashes every
    subject's input file, and an analysis needs the result three times (outputs, counts, provenance)."""
    newest = last_run(study.catalog.runs(study_id))  # first: see Stored.last_run
    rows = study.catalog.executions(study_id)
    plan, undeclared = plan_status(study, rows)
    return Stored(study_id, rows, plan, undeclared, newest)


def declared_outputs(study: Study, stored: Stored) -> tuple[list[dict[str, Any]], set[tuple[str, str, int]]]:
    """The stored outputs the study file still declares, of the executions it still declares, and those
    executions that succeeded as (subject, condition, repetition): executions of a subject, level or repetition
    removed from the file since they ran are left out (they counted in the verdict, unnamed: a review's removed
    subject passed), and so are outputs whose declaration was removed (one kept failing an ingested study)."""
    done = {
        (r["subject"], r["condition_key"], int(r["repetition"]))
        for r in stored.rows
        if r["status"] == "done" and r["id"] not in stored.undeclared
    }
    outputs, names = study.catalog.outputs(stored.study_id), set(study.spec.outputs)
    return [o for o in outputs if o["execution_id"] not in stored.undeclared and o["name"] in names], done


def executions_summary(study: Study, stored: Stored) -> dict[str, Any]:
    """Counts, failures and flakiness of the study's executions (the document's ``executions``).

    Flakiness looks only at each execution's current attempts: those of its current recipe since its last
    reset (a changed recipe or ``run --force``), over one run or several. Every current attempt but a final
    success failed; a done execution with failed current attempts is flaky. ``attempt_failure_rate`` is
    the share of current attempts that failed before a success of the same recipe (the criteria's flakiness
    figure). Attempts made before a reset are history: counted in ``stale_attempts`` and
    ``stale_failed_attempts``, never a finding.

    ``notes``: the done executions whose last attempt ended with a note that its outputs may be wrong anyway,
    by tag (:data:`~reprovip.execute.sandbox.NOTE_TAGS`: ``left running``, processes the application left
    running were killed when it exited), each ``{"count", "message", "executions"}`` (the first 20).
    """
    study_id, plan = stored.study_id, stored.plan
    digest = executions_digest(stored.rows)  # of every stored row, as `check --no-reanalyze` compares it
    rows = [r for r in stored.rows if r["id"] not in stored.undeclared]  # no longer declared: counted in the plan
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    failed = [r for r in rows if r["status"] == "failed"]
    attempts = sum(int(r["attempts"] or 0) for r in rows)
    retried = [int(r["attempts"] or 0) - 1 for r in rows if r["status"] == "done" and (r["attempts"] or 0) > 1]
    history = study.catalog.attempt_counts(study_id)
    by_cond: dict[str, list[int]] = {}
    for r in rows:
        c = by_cond.setdefault(r["condition_key"], [0, 0])
        c[0] += 1
        c[1] += r["status"] == "failed"
    failures = []
    for r in failed[:200]:
        last = study.catalog.attempts(r["id"])[-1:] or [{}]
        failures.append(
            dict(
                id=r["id"],
                subject=r["subject"],
                condition=r["condition_key"],
                repetition=r["repetition"],
                attempts=r["attempts"],
                error=r["error"],
                stderr_tail=(last[0].get("stderr") or "")[-2000:],
            )
        )
    return dict(
        total=len(rows) + plan.get("not_run", 0),
        counts=counts,
        failed=len(failed),
        # failed, never finished (pending, running), declared by the study file but never run, or run with an
        # earlier recipe: the verdict is `incomplete` while any is left (see plan_status)
        not_done=sum(r["status"] != "done" for r in rows) + plan.get("not_run", 0) + plan.get("earlier_recipe", 0),
        plan=plan,
        digest=digest,
        last_run=stored.last_run,
        # what a page can compare cheaply to tell a stale verdict (see reprovip.report.context.staleness): the
        # catalog this analysis read (one deleted and made again has another identity), and its executions by
        # status, undeclared ones included (`run --force` resets them all to pending before it records its run)
        catalog_id=study.catalog.catalog_id(),
        catalog_counts=status_counts(stored.rows),
        failure_rate=num(len(failed) / len(rows)) if rows else 0.0,
        attempts=attempts,
        attempt_failure_rate=num(sum(retried) / attempts) if attempts else 0.0,
        flaky_executions=len(retried),
        flaky_attempts=sum(retried),
        flaky=_flaky(study, rows),
        stale_attempts=sum(n for (superseded, _), n in history.items() if superseded),
        stale_failed_attempts=history.get((True, "failed"), 0),
        failure_by_condition={k: num(v[1] / v[0]) for k, v in by_cond.items()},
        failures=failures,
        notes=done_notes(rows),
        # BIDS sessions or runs counted as subjects: the ICC's subjects are not independent (a review's study of 4
        # participants x 2 sessions passed its ICC criterion, failed by one session; the notice was on stderr only)
        participants=repeated_participants(sorted({r["subject"] for r in rows})),
        ingested_conditions=ingested_conditions(rows),
        mixed_conditions=mixed_conditions(rows),
    )


def _done_sources(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Per condition, where its done executions came from (``run``, ``ingest``)."""
    sources: dict[str, set[str]] = {}
    for r in rows:
        if r["status"] == "done":
            sources.setdefault(r["condition_key"], set()).add(r.get("source") or "run")
    return sources


def mixed_conditions(rows: list[dict[str, Any]]) -> list[str]:
    """The conditions whose done executions were some run here and some ingested: a subject:condition effect may be
    where the results were made, not the factor (review IN: two subjects' threads=4 results from another machine
    replaced the local ones, and "nondeterminism under multithreading" took the blame).

    Examples
    --------
    >>> rows = [dict(condition_key="t=4", status="done", source=s) for s in ("run", "ingest")]
    >>> mixed_conditions(rows), mixed_conditions(rows[:1])
    (['t=4'], [])
    """
    sources = _done_sources(rows)
    return sorted(c for c, found in sources.items() if len(found) > 1)


def ingested_conditions(rows: list[dict[str, Any]]) -> list[str]:
    """The conditions whose done executions were all ingested, beside conditions run here: a difference between
    them may be the machine's (the results came from elsewhere), not the factor's; a review's level ingested from
    another machine read "nondeterminism under multithreading".

    Examples
    --------
    >>> rows = [dict(condition_key=c, status="done", source=s) for c, s in (("t=1", "run"), ("t=2", "ingest"))]
    >>> ingested_conditions(rows), ingested_conditions(rows[1:])
    (['t=2'], [])
    """
    sources = _done_sources(rows)
    if not any("run" in found for found in sources.values()):
        return []  # an ingest-only study: every result from elsewhere, alike
    return sorted(c for c, found in sources.items() if found == {"ingest"})


def same_for_every_subject(outputs: list[dict[str, Any]]) -> bool:
    """Whether every subject (two or more) wrote the same content for every output in every execution: an
    application that never read its input (a cache keyed by nothing, a literal input path), whose "bit-for-bit
    identical" rested on one subject's worth of evidence (review NU2: four subjects read identical in 20
    comparisons).

    Examples
    --------
    >>> rows = [dict(subject=s, name="v", relpath="v", blob="b0") for s in ("a", "b")]
    >>> other = dict(subject="c", name="v", relpath="v", blob="b1")
    >>> same_for_every_subject(rows), same_for_every_subject([*rows, other])
    (True, False)
    """
    contents: dict[str, set[str]] = {}  # by output: a file named after its subject is the same output
    subjects = set()
    for o in outputs:
        content = o.get("semantic_hash") or o.get("blob")
        if not content:
            return False
        contents.setdefault(o["name"], set()).add(content)
        subjects.add(o["subject"])
    return len(subjects) > 1 and bool(contents) and all(len(c) == 1 for c in contents.values())


def duplicate_subjects(outputs: list[dict[str, Any]]) -> list[list[str]]:
    """Groups of subjects whose stored outputs are the same files in every execution (output, condition and
    repetition; the same content: a re-compressed copy counts), where the repetitions of a condition differ and no
    other subject holds any of those files: one subject's results counted several times (a backup copy
    `sub-01.bak` ingested beside `sub-01`, one folder ingested under two names), which no chance makes. They made
    the between-subject variance and the ICC's confidence interval look better: a review's failing study passed
    with its folders copied. A deterministic tool (repetitions alike: its files differ between levels only) and a
    coarse output (`lesions: 2` or `3`, files other subjects hold too) can agree by chance and are no copies.

    Examples
    --------
    >>> rows = [dict(subject=s, name="v", relpath="v", condition_key="-", repetition=r, blob=f"{s[:2]}{r}")
    ...         for s in ("s1", "s1.bak", "s2") for r in (1, 2)]
    >>> duplicate_subjects(rows)
    [['s1', 's1.bak']]
    >>> by_seed = [dict(subject=s, name="v", relpath="v", condition_key=f"seed={c}", repetition=r, blob=f"n{c}")
    ...            for s in ("s1", "s2", "s3") for c in (1, 2, 3) for r in (1, 2) if s != "s3" or c < 3]
    >>> duplicate_subjects(by_seed)  # a deterministic count of each seed: alike by design, no copies
    []
    >>> coarse = [dict(subject=s, name="v", relpath="v", condition_key="-", repetition=r, blob=str(v))
    ...           for s, vs in (("a", (2, 3)), ("b", (2, 3)), ("c", (3, 2))) for r, v in enumerate(vs)]
    >>> duplicate_subjects(coarse)  # `lesions: 2|3`: files subject c holds too
    []
    """
    files: dict[str, dict[tuple[str, str, str, int], str]] = {}
    holders: dict[str, set[str]] = {}
    for o in outputs:
        if content := o.get("semantic_hash") or o.get("blob"):
            key = (o["name"], o["relpath"], o["condition_key"], int(o["repetition"]))
            files.setdefault(o["subject"], {})[key] = content
            holders.setdefault(content, set()).add(o["subject"])
    same: dict[tuple[Any, ...], list[str]] = {}
    for subject, held in files.items():
        within: dict[tuple[str, str, str], set[str]] = {}
        for (name, relpath, condition, _), content in held.items():
            within.setdefault((name, relpath, condition), set()).add(content)
        if any(len(c) > 1 for c in within.values()):  # its repetitions differ: run-to-run, not by design
            same.setdefault(tuple(sorted(held.items())), []).append(subject)
    return sorted(
        sorted(group)
        for signature, group in same.items()
        # every subject alike: outputs that ignore the input (judged as such by the metrics), no copied folder
        if 1 < len(group) < len(files) and all(holders[content] <= set(group) for _, content in signature)
    )


def _flaky(study: Study, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the flaky executions are (``by_condition``: how many under each condition) and why their failed
    attempts failed (``errors``: the distinct reasons, the first 5, from the first 50 such executions): a review's
    threads=2 executions all timed out once, and the alert named no condition and no timeout."""
    flaky = [r for r in rows if r["status"] == "done" and (r["attempts"] or 0) > 1]
    by_condition: dict[str, int] = {}
    for r in flaky:
        by_condition[r["condition_key"]] = by_condition.get(r["condition_key"], 0) + 1
    errors: dict[str, None] = {}
    lost = True  # every failed attempt read was lost by the executor (a worker that could not start)
    for r in flaky[:50]:
        for a in study.catalog.attempts(r["id"]):
            if a.get("status") == "failed" and not a.get("superseded"):
                lost = lost and str(a.get("error") or "").startswith(f"{BACKEND_ERROR}:")
                if a.get("error") and len(errors) < 5:
                    errors.setdefault(str(a["error"])[:200])
    # said only when every flaky execution was read: the alert then names reprovip's workers, not the application
    return dict(
        by_condition=by_condition, errors=list(errors), lost_by_backend=bool(flaky) and lost and len(flaky) <= 50
    )


def done_notes(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The notes of done executions (one ``"<tag>: <what>"`` line each in their ``error``), by tag.

    Examples
    --------
    >>> row = dict(id="e1", subject="sub-01", condition_key="threads=1", repetition=1, status="done",
    ...            error="left running: a process ... killed: its outputs may be incomplete")
    >>> notes = done_notes([row, dict(row, id="e2", status="failed")])
    >>> notes["left running"]["count"], notes["left running"]["executions"][0]["subject"]
    (1, 'sub-01')
    """
    notes: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["status"] != "done" or not r.get("error"):
            continue
        for line in r["error"].splitlines():
            tag, _, message = line.partition(": ")
            if tag not in NOTE_TAGS:
                continue
            note = notes.setdefault(tag, dict(count=0, message=message, executions=[]))
            note["count"] += 1
            if len(note["executions"]) < 20:
                where = dict(subject=r["subject"], condition=r["condition_key"], repetition=r["repetition"])
                note["executions"].append(dict(where, id=r["id"], message=message))
    return notes


def last_run(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest of a study's runs (``run`` or ``ingest``) as an analysis saw it: its id, and whether it had
    finished (one still recording may add executions after the analysis read them); None without runs.

    Stored with the verdict, it lets a page that cannot afford the executions' digest tell a stale verdict
    from one row of the runs table (:func:`reprovip.report.context.staleness`).
    """
    if not runs:
        return None
    newest = max(runs, key=lambda r: int(r["id"]))
    return dict(id=int(newest["id"]), finished=newest.get("finished_at") is not None)


def status_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many of ``rows`` have each status.

    >>> status_counts([{"status": "done"}, {"status": "done"}, {"status": "pending"}])
    {'done': 2, 'pending': 1}
    """
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r["status"])] = counts.get(str(r["status"]), 0) + 1
    return dict(sorted(counts.items()))


def executions_digest(rows: list[dict[str, Any]]) -> str:
    """A fingerprint of what the executions are now (id, status, recipe, finish time): a stored verdict whose
    digest differs from the catalog's is stale (``check --no-reanalyze`` refuses it)."""
    h = hashlib.sha256()
    for r in sorted(rows, key=lambda r: r["id"]):
        h.update(f"{r['id']}\0{r['status']}\0{r.get('recipe')}\0{r.get('finished_at')}\n".encode())
    return h.hexdigest()[:32]


def spec_digest(spec: Any) -> str:
    """A fingerprint of what the study file says the analysis reads: its outputs (paths, kinds, key columns),
    factors (and the order of their levels: the first is a version's baseline) and repetitions. A stored verdict
    whose digest differs was made for another file (``check --no-reanalyze`` refuses it): an ingest-only study
    whose output was added, or whose kind changed, kept its green verdict (a review)."""
    dumped = spec.model_dump(mode="json", include={"outputs", "factors", "repetitions"}, exclude_defaults=True)
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:32]


def provenance_summary(studies: list[Study], stored: list[Stored]) -> dict[str, Any]:
    """Distinct machine records of the executions, and the fields that differ between them."""
    records, unknown = [], 0
    for study, executions in zip(studies, stored, strict=True):
        hashes = sorted({r["provenance"] for r in executions.rows if r["provenance"]})
        records += [study.catalog.provenance(h) or {} for h in hashes]
        # ingested results carry no machine record: "1 machine" read as if they had run here too (a review)
        unknown += sum(r["status"] == "done" and not r["provenance"] for r in executions.rows)
    flat = [flatten(r) for r in records]
    keys = sorted({k for f in flat for k in f})
    differing = {k: sorted({str(f.get(k)) for f in flat}) for k in keys if len({str(f.get(k)) for f in flat}) > 1}
    common = (
        {k: flat[0].get(k) for k in ("hostname", "os", "kernel", "cpu.model", "libc", "python.version")} if flat else {}
    )
    return dict(distinct=len(records), differing=differing, common=common, unknown_executions=unknown)
