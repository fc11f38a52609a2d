"""Version to version: two study stores analysed as one design with a ``version`` factor.

``baseline`` and ``current`` are the two levels. Every metric, map and criterion of an ordinary analysis
applies, and the envelope test says whether the version difference exceeds the baseline's run-to-run noise.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprovip.analyze.design import build_design, natural_key, records_by_output
from reprovip.analyze.engine import (
    VERSION_FACTOR,
    analyze_groups,
    finish_document,
    header,
    stored_study_id,
)
from reprovip.analyze.executions import (
    Stored,
    declared_outputs,
    executions_summary,
    provenance_summary,
    stored_executions,
)
from reprovip.analyze.observations import version_layout
from reprovip.errors import InputError, NotFoundError
from reprovip.store import BlobStore

if TYPE_CHECKING:
    from reprovip.study import Study

LEVELS = ("baseline", "current")


def _tagged(study: Study, stored: Stored, tag: str) -> dict[tuple[str, str], tuple[str, list[Any]]]:
    groups = records_by_output(declared_outputs(study, stored)[0], BlobStore(study.store))
    _refuse_own_version(study, [r for _, recs in groups.values() for r in recs])
    out = {}
    for key, (kind, recs) in groups.items():
        out[key] = (
            kind,
            [
                dataclasses.replace(
                    r,
                    version=tag,
                    labels=(*r.labels, (VERSION_FACTOR, tag)),
                    condition_key=",".join(
                        c for c in (r.condition_key, f"{VERSION_FACTOR}={tag}") if c not in ("", "-")
                    ),
                )
                for r in recs
            ],
        )
    return out


def _refuse_same_executions(baseline: Study, current: Study, ids: list[int], stored: list[Stored]) -> None:
    """Refuse a study compared with itself, or with a copy of its store: each execution would be both versions,
    and `compare X X` read "within the envelope (max |z| 0)", exit 0, counting 96 executions of 48 stored (a
    review: a CI gate whose baseline step restored the current study is green forever). A stored execution is
    the same when its id and the time it finished are: a run or an ingest of another version finishes later."""
    stores = [s.catalog_url or str(s.store.resolve()) for s in (baseline, current)]
    if stores[0] == stores[1] and ids[0] == ids[1]:
        raise InputError(
            f"{baseline.path} and {current.path} are the same study (`{current.name}` in {stores[1]}): compare "
            "the current version's results with another version's, restored into another folder"
        )
    runs = [{(r["id"], r["finished_at"]) for r in st.rows if r["finished_at"] is not None} for st in stored]
    if shared := runs[0] & runs[1]:
        raise InputError(
            f"{len(shared)} of the {len(runs[1])} finished executions stored for {current.path} are "
            f"{baseline.path}'s own (same execution, finished at the same time: a copy of its store): compare "
            "the results the current version made, in a store of its own (`reprovip run --force`, or an ingest "
            "into a new folder)"
        )
    # Two studies that ingested the same results folders: another ingest time, the same files (a review's
    # `compare` read "within the envelope (max |z| 0)", exit 0). Folders only: an execution ingested from a
    # Boutiques record names its input files there, which two versions' runs share (review BQ: refused)
    folders = [
        {
            os.path.realpath(r["input"])
            for r in st.rows
            if r.get("source") == "ingest" and r.get("input") and os.path.isdir(r["input"])
        }
        for st in stored
    ]
    if same := sorted(folders[0] & folders[1]):
        raise InputError(
            f"{baseline.path} and {current.path} ingested the same results folders ({len(same)}, such as "
            f"{same[0]}): each execution would be both versions; ingest each version's own results"
        )


def _refuse_own_version(study: Study, records: list[Any]) -> None:
    """Executions stored with a `version` factor of their own (ingested from ``results/{version}/...``) would
    carry two `version` labels, one hiding the other: every subject was left out and the comparison read
    "incomplete: executions failed or not run" with nothing failed (a review)."""
    levels = {lv for r in records for f, lv in r.labels if f == VERSION_FACTOR}
    if levels:
        raise InputError(
            f"{study.path}: its executions already have a `version` factor ({_few(levels)}), and `compare` makes "
            "its two studies the levels of `version`; compare the versions of one study with `reprovip analyze`, "
            "or two studies holding one version each (ingest into each a pattern without `{version}`, such as "
            f"`results/{min(levels, key=natural_key)}/{{subject}}/run-{{repetition}}`)"
        )


def _design_of(records: list[Any]) -> tuple[list[str], int]:
    """The conditions (factor levels, without the version) and the repetitions most conditions have."""
    reps = Counter((r.subject, tuple(x for x in r.labels if x[0] != VERSION_FACTOR)) for r in records)
    conditions = sorted({",".join(f"{f}={v}" for f, v in c) or "-" for _, c in reps})
    return conditions, Counter(reps.values()).most_common(1)[0][0] if reps else 0


def _same_design(baseline: Study, current: Study, records: list[list[Any]]) -> None:
    """Refuse two versions run with other conditions or repetition counts: every subject would be left out of
    the metrics, and the study read "incomplete: executions failed or not run" with nothing failed (a review)."""
    (c0, k0), (c1, k1) = (_design_of(r) for r in records)
    if c0 != c1:
        raise InputError(
            f"{baseline.path} runs the conditions {_few(set(c0))} and {current.path} {_few(set(c1))}: a version "
            "is compared under the same conditions; run both with the same factor levels"
        )
    if k0 != k1:
        raise InputError(
            f"{baseline.path} runs {k0} repetition(s) per condition and {current.path} {k1}: a version is compared "
            "with the same number of repetitions; run both with the same `repetitions`"
        )


def _few(names: set[str]) -> str:
    shown = sorted(names, key=natural_key)[:3]
    return ", ".join(shown) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _follow_moved_outputs(tagged: list[dict[tuple[str, str], tuple[str, list[Any]]]]) -> list[dict[str, str]]:
    """Compare an output that each version writes at one path, another in each (``vol.csv`` renamed
    ``volumes.csv``, the study keeping the output's name), under the current path; return the moves. Files
    are matched by path, so it was compared nowhere, and said to be "declared after the executions ran"."""
    moved = []
    for name in sorted({n for n, _ in tagged[0]} & {n for n, _ in tagged[1]}):
        (old, *more_old), (new, *more_new) = ([k for k in sorted(t) if k[0] == name] for t in tagged)
        if old != new and not more_old and not more_new:
            tagged[0][new] = tagged[0].pop(old)
            moved.append(dict(output=name, baseline=old[1], current=new[1]))
    return moved


def _named(name: str, relpath: str) -> str:
    """An output's file as the comparison names it: ``name/relpath``, once when the path starts with the name
    (a glob ``stats/*.csv`` named ``stats`` read ``stats/stats/wmparc.csv``)."""
    return relpath if relpath.startswith(f"{name}/") else f"{name}/{relpath}"


def _not_compared(name: str, tagged: list[dict[tuple[str, str], tuple[str, list[Any]]]], optional: bool) -> str:
    """Why an output the current study declares was compared nowhere. It read "declared after they ran ...
    ingest them again" for an output the new version added or renamed, or an optional one it stopped writing
    (reviews)."""
    paths = [sorted(p for n, p in t if n == name) for t in tagged]
    if not paths[1] and optional:
        return (
            "declared optional and written by no execution of the current version"
            + (f", where the baseline's wrote {_few(set(paths[0]))}" if paths[0] else "")
            + ": nothing to compare"
        )
    if not paths[1]:
        return (
            "declared in the current study file but stored by none of its executions (declared after they ran); "
            "`reprovip run` stores it as declared (results made elsewhere: ingest them again)"
        )
    if not paths[0]:
        others = _few({n for n, _ in tagged[0]}) or "none"
        return (
            f"written only by the current version: the baseline stored no output `{name}` (its outputs: {others}), "
            "so there is nothing to compare it with; if it is one of them renamed, give it one name in both "
            "study files"
        )
    return (
        f"written at other paths by each version (baseline: {_few(set(paths[0]))}; current: "
        f"{_few(set(paths[1]))}): files are compared path by path and none is shared; declare one path per "
        "version in each study file, without a glob, to compare them across the move"
    )


def _merged_notes(summaries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The two studies' execution notes (a process left running, an input written into), by tag, each execution
    named with its version: a note in either study is an alert of the comparison."""
    merged: dict[str, dict[str, Any]] = {}
    for e, tag in zip(summaries, LEVELS, strict=True):
        for name, note in (e.get("notes") or {}).items():
            into = merged.setdefault(name, dict(count=0, message=note["message"], executions=[]))
            into["count"] += note["count"]
            into["executions"] += [dict(x, version=tag) for x in note["executions"]][: 20 - len(into["executions"])]
    return merged


def _baseline_as_stored(summary: dict[str, Any]) -> None:
    """The baseline's stored runs are the baseline, whatever its folder's script or study file says now: a CI job
    restores the old store beside the new version's script, and "18 run with an earlier recipe: run `reprovip
    run`" made a refactor incomplete; following that advice re-ran the baseline with the new code and a +5%
    regression passed (a review). Executions the baseline's file declares and never ran still count."""
    stale = int(summary["plan"].get("earlier_recipe") or 0)
    summary["not_done"] -= stale
    summary["plan"] = dict(summary["plan"], earlier_recipe=0)


def _same_ignore(baseline: Study, current: Study, names: list[str]) -> None:
    """Refuse outputs whose `ignore` lists differ between the two studies: the comparison reads the current
    study's declarations, and a release whose `tim*` also matched a result the baseline judged (+20% on it)
    passed `compare` (review R4)."""
    for name in names:
        old, new = (s.spec.outputs[name].ignore if name in s.spec.outputs else [] for s in (baseline, current))
        if sorted(old) != sorted(new):
            raise InputError(
                f"{current.path}: output {name!r} ignores {new or 'nothing'} where {baseline.path} ignores "
                f"{old or 'nothing'}: a comparison judges both versions alike; declare the same `ignore` in both "
                "study files (it is read at analysis: nothing runs again)"
            )


def compare_studies(baseline: Study, current: Study, *, json_path: str | Path | None = None) -> dict[str, Any]:
    """Analyse ``baseline`` and ``current`` together; written to ``current``'s store as ``compare.json``.

    Raises
    ------
    InputError
        The two studies share no output or no subject, one of them has its own ``version`` factor (declared,
        or in the folders it ingested), or they are one study (or share stored executions: a copied store).
    """
    for s in (baseline, current):  # not opened when absent: a refused baseline (a CI artifact) is left untouched
        if not s.catalog_url and not (s.store / "catalog.sqlite").exists():
            from reprovip.store.names import nothing_stored

            raise NotFoundError(nothing_stored(s.path, s.name, []))
    ids = [stored_study_id(baseline), stored_study_id(current)]
    for s in (baseline, current):
        if VERSION_FACTOR in s.spec.factors:
            raise InputError(f"{s.path}: already has a `version` factor; analyse it with `reprovip analyze`")
    studies = (baseline, current)
    stored = [stored_executions(s, i) for s, i in zip(studies, ids, strict=True)]
    _refuse_same_executions(baseline, current, ids, stored)
    tagged = [_tagged(s, e, tag) for s, e, tag in zip(studies, stored, LEVELS, strict=True)]
    moved = _follow_moved_outputs(tagged)
    common = sorted(set(tagged[0]) & set(tagged[1]))
    broken = [bool(st.rows) and not any(r["status"] == "done" for r in st.rows) for st in stored]
    if broken[0]:  # said as such, not as "no output"
        failed = sum(r["status"] == "failed" for r in stored[0].rows)
        raise InputError(
            f"{baseline.path}: none of its {len(stored[0].rows)} executions succeeded ({failed} failed): the baseline "
            f"has no result to compare with; see `reprovip status {baseline.path}`"
        )
    if broken[1]:
        # A release that broke every execution is a finding, not bad input: its failures and the outputs only the
        # baseline wrote make the verdict, with the JUnit report (it exited 2 with none: a review)
        common = []
    elif not common:
        raise InputError(f"{baseline.path} and {current.path} share no output; compare studies of the same application")
    else:
        subjects = [{r.subject for k in common for r in t[k][1]} for t in tagged]
        if not subjects[0] & subjects[1]:
            raise InputError(
                f"{baseline.path} and {current.path} share no subject ({_few(subjects[0])} against "
                f"{_few(subjects[1])}): a version difference is measured on the same subjects; name them alike"
            )
        _same_design(baseline, current, [t[common[0]][1] for t in tagged])  # one output's executions: the design
    _same_ignore(baseline, current, sorted({name for name, _ in common}))
    groups = {k: (tagged[1][k][0], tagged[0][k][1] + tagged[1][k][1]) for k in common}
    declared = {f.name: list(f.levels) for f in current.spec.factor_list()}
    declared[VERSION_FACTOR] = list(LEVELS)
    ex = [executions_summary(s, e) for s, e in zip(studies, stored, strict=True)]
    _baseline_as_stored(ex[0])
    total, failed = ex[0]["total"] + ex[1]["total"], ex[0]["failed"] + ex[1]["failed"]
    executions = dict(
        total=total,
        failed=failed,
        failure_rate=failed / total if total else 0.0,
        attempt_failure_rate=max(ex[0]["attempt_failure_rate"], ex[1]["attempt_failure_rate"]),
        **{k: ex[0][k] + ex[1][k] for k in ("flaky_executions", "stale_attempts", "stale_failed_attempts", "not_done")},
        digest=ex[0]["digest"] + ex[1]["digest"],
        # the current store's last run, as its report checks staleness against it (None read as stale)
        last_run=ex[1].get("last_run"),
        # what each study file declares but was not run: the alert names it as such, not as unfinished
        plan=dict(
            {k: sum(int(e["plan"].get(k) or 0) for e in ex) for k in ("not_run", "earlier_recipe")},
            edited=[
                str(s.path)
                for s, e in zip((baseline, current), ex, strict=True)
                if e["plan"].get("not_run") or e["plan"].get("earlier_recipe")
            ],
        ),
        counts={},
        failure_by_condition={},
        failures=[dict(f, version=tag) for e, tag in zip(ex, LEVELS, strict=True) for f in e["failures"]],
        notes=_merged_notes(ex),
    )
    outputs = analyze_groups(current, groups, declared, current.results / "compare")
    for entry in outputs[len(groups) :]:  # declared by the current study, analysed nowhere: say why
        decl = current.spec.outputs.get(entry["name"])
        entry["error"] = _not_compared(entry["name"], tagged, bool(decl and decl.optional))
    only = {tag: [_named(*k) for k in set(tagged[i]) - set(tagged[1 - i])] for i, tag in enumerate(LEVELS)}
    for tag, names in _unshared_observations(current, groups, outputs, declared).items():
        only[tag] += names
    document = dict(
        header(current, declared),
        compare=dict(
            baseline=dict(name=baseline.name, path=str(baseline.path)),
            current=dict(name=current.name, path=str(current.path)),
            only_in_baseline=sorted(only["baseline"]),
            only_in_current=sorted(only["current"]),
            paths_changed=moved,
            inputs_differ=_inputs_differ(stored),
        ),
        executions=executions,
        provenance=provenance_summary(list(studies), stored),
        outputs=outputs,
    )
    return finish_document(current, document, json_path, "compare.json")


def _inputs_differ(stored: list[Stored]) -> list[str]:
    """The subjects whose input file differs between the two studies' runs (the input's part of their recipes,
    :func:`~reprovip.plan.expand.input_recipe`: its path in the study folder and its bytes): what the two measure
    is then another input, not another version (review E: `version changes the result of some subjects only
    (sub-01 ...)` where only `data/sub-01.txt` differed). Ingested executions record no input's bytes."""
    inputs: list[dict[str, set[str]]] = [{}, {}]
    for i, st in enumerate(stored):
        for r in st.rows:
            if r.get("source") != "ingest" and r.get("recipe") and len(r["recipe"]) == 32:
                inputs[i].setdefault(r["subject"], set()).add(r["recipe"][16:])
    return sorted(s for s in inputs[0].keys() & inputs[1].keys() if inputs[0][s] != inputs[1][s])


def _unshared_observations(
    current: Study,
    groups: dict[tuple[str, str], tuple[str, list[Any]]],
    outputs: list[dict[str, Any]],
    declared: dict[str, list[str]],
) -> dict[str, list[str]]:
    """The observations one version writes and the other does not (or with another shape), per version, as
    ``"<output>: <observation>"``: the shared ones are compared, these are named on each output
    (``version_layout``) and judged like an output only one version writes. A new version's added field made
    every one of its files unreadable, and a +30% change in a shared field went unmeasured (a review)."""
    only: dict[str, list[str]] = {tag: [] for tag in LEVELS}
    for key, entry in zip(sorted(groups), outputs, strict=False):  # analyze_groups keeps the sorted order
        (name, _), (kind, recs) = key, groups[key]
        if kind in ("bytes", "image", "labels"):  # compared by bytes or voxel grids, not by named observations
            continue
        decl = current.spec.outputs.get(name)
        keys = decl.key_columns if decl is not None and "key_columns" in decl.model_fields_set else None
        ignore = decl.ignore if decl is not None else []
        layout = version_layout(build_design(recs, declared), kind, key_columns=keys, ignore=ignore)
        if layout:
            entry["version_layout"] = layout
        for obs, there in layout.items():
            for tag, what in there.items():
                only[tag].append(f"{entry['name']}: {obs}" + (f" ({what})" if len(there) > 1 else ""))
    return only
