"""Analyse a study's stored executions into one versioned JSON document (schema in docs/analysis.md)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprovip import __version__
from reprovip.analyze.attribution import (
    attribute,
    factor_evidence,
    factor_shares,
    interaction_evidence,
    local_evidence,
    mean_shares,
    source_shares,
    voxel_variance,
)
from reprovip.analyze.bitwise import NONDETERMINISM_HINTS, bitwise_summary, copied_levels, record_key
from reprovip.analyze.dataflow import add_dataflow
from reprovip.analyze.design import Design, Record, build_design, most_common_count, records_by_output
from reprovip.analyze.executions import (
    Stored,
    declared_outputs,
    duplicate_subjects,
    executions_summary,
    provenance_summary,
    same_for_every_subject,
    spec_digest,
    stored_executions,
)
from reprovip.analyze.observations import gather
from reprovip.analyze.scalars import observation_metrics, version_factor
from reprovip.analyze.segmentation import (
    dice_envelope,
    factor_effects,
    gridless,
    label_agreement,
    meaning_differences,
    unreadable,
    volume_metrics,
)
from reprovip.analyze.spread import spread_effects
from reprovip.analyze.stats import num
from reprovip.analyze.voxelwise import GRIDS_DIFFER, ONE_GRID, grid_shape, voxelwise_maps
from reprovip.criteria.evaluate import evaluate
from reprovip.criteria.reasons import as_float
from reprovip.errors import NotFoundError, ReaderError, ReprovipError
from reprovip.execute.sandbox import MISNAMED
from reprovip.readers import affine_mismatch
from reprovip.readers.header_diff import changes_meaning, header_differences
from reprovip.readers.text import quoted_lines
from reprovip.report.values import save_plot_values
from reprovip.store import BlobStore
from reprovip.store.atomic import to_json, write_text_atomic

if TYPE_CHECKING:
    from reprovip.study import Study

SCHEMA = "reprovip.analysis/2"
VERSION_FACTOR = "version"
QUOTED = 2000  # text observations quoted with their line, at most (the document's size)
INDENTED_MAX = 2_000_000  # characters of compact JSON above which an analysis document is written unindented


def _summary_of(observations: list[dict[str, Any]]) -> dict[str, Any]:
    """Worst case over observations of the metrics criteria use."""
    if not observations:
        return {"n_observations": 0}

    def vals(get):
        out = []
        for o in observations:
            try:
                v = get(o)
            except (KeyError, TypeError):
                continue
            if v is not None:
                out.append(float(v))
        return out

    s: dict[str, Any] = {"n_observations": len(observations)}
    # An observation finite in some executions only has no metric, and may be the worst: the worst cases are
    # then unknown (null), not the best of the others (a review's failing output showed ICC 1, SD ratio 0)
    mixed = [o["name"] for o in observations if (o.get("nonfinite") or {}).get("pattern") == "mixed"]
    for key, get, fn in [
        ("icc_a1_min", lambda o: o["icc"]["ICC(A,1)"]["value"], min),
        ("icc_a1_ci_low_min", lambda o: o["icc"]["ICC(A,1)"]["ci_low"], min),
        ("sd_ratio_max", lambda o: o["sd_ratio"], max),
        ("wcv_max", lambda o: o["wcv_rms"], max),
        ("sigdigits_min", lambda o: o["sigdigits"]["parker_min"], min),
    ]:
        v = vals(get)
        if v:
            s[key] = None if mixed else num(fn(v))
    if mixed:
        s["nonfinite_mixed"] = len(mixed)
        s["worst_observation"] = mixed[0]
        return s
    # Observations without an estimable ICC(A,1) are counted and named, never silently left out; one equal in
    # every execution of every subject is reproducible by identity (the criteria say so), not unjudged.
    judged = [o for o in observations if not o.get("constant")]
    unjudged = [o["name"] for o in judged if not (o.get("icc") or {}).get("ICC(A,1)", {}).get("estimable")]
    if unjudged:
        s["icc_a1_not_estimable"] = len(unjudged)
        s["worst_observation"] = unjudged[0]
    elif judged:
        # A CI with no lower bound (mean squares at the edge of float64, a review's crash) is the worst
        w = min(judged, key=lambda o: _or_least(as_float(o["icc"]["ICC(A,1)"]["ci_low"])))
        s["worst_observation"] = w["name"]
    return s


def _or_least(value: float | None) -> float:
    return -math.inf if value is None else value


def _add_dice_envelope(env: dict[str, Any], dice: dict[str, Any]) -> None:
    """Label maps: their volumes' envelope and the Dice across versions must both hold (a label moved by one
    voxel keeps its volume)."""
    env["dice"] = dice
    if dice["tested"]:
        env.pop("skipped", None)  # the Dice test stands even when the volumes' was skipped
        env["within_envelope"] = bool(env.get("within_envelope", True)) and dice["within_envelope"]
        env["detail"] = "; ".join(x for x in (env.get("detail"), dice["detail"]) if x)
        env.setdefault("worst_observation", "label overlap")


def merge_errors(recorded: list[dict[str, Any]], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One error per execution: what reading the stored file found replaces what the run recorded (whose
    message may name a working folder that no longer exists)."""
    by_execution = {(e["subject"], e["condition"], e["repetition"]): e for e in recorded}
    by_execution.update({(e["subject"], e["condition"], e["repetition"]): e for e in found})
    return list(by_execution.values())


def _analyze_output(study: Study, name: str, kind: str, design: Design, out_dir: Path) -> dict[str, Any]:
    decl = study.spec.outputs.get(name.split("/")[0])
    entry: dict[str, Any] = dict(
        name=name,
        kind=kind,
        n_subjects=len(design.subjects),
        factors={f: list(lv) for f, lv in design.factors},
        repetitions=design.k,
    )
    bits = bitwise_summary(design)
    entry["bitwise"] = bits
    if copied := copied_levels(design):  # a level's files a copy of another's: no run of its own (review E)
        entry["copied_levels"] = copied
    entry["errors"] = [
        dict(subject=s, condition=r.condition_key, repetition=r.repetition, error=r.error)
        for s in design.subjects
        for r in design.grid[s].values()
        if r.error
    ]
    cond_keys = [
        ",".join(f"{f}={lv}" for (f, _), lv in zip(design.factors, c, strict=True)) or "-" for c in design.cells
    ]
    observations: list[dict[str, Any]] = []
    try:
        if kind == "bytes":
            pass  # compared by their bytes only: the bitwise summary above is the whole analysis
        elif kind in ("image", "labels"):
            subjects = list(design.complete)
            factor = version_factor(design)
            if kind == "labels" and (elements := gridless(design, subjects)):
                # label ids per vertex or element (GIfTI, NumPy): Dice per label, no voxel map (review AR)
                entry["voxelwise"] = dict(skipped=f"label ids on {elements}, not on a voxel grid", gridless=elements)
                entry["errors"] += unreadable(design, subjects)
            else:
                entry["voxelwise"] = voxelwise_maps(
                    design,
                    subjects,
                    out_dir,
                    labels=kind == "labels",
                    errors=entry["errors"],
                    version_axis=None if factor is None else design.factor_names.index(factor),
                )
            if grids := sorted({e["subject"] for e in entry["errors"] if GRIDS_DIFFER in e["error"]}):
                # a subject's executions on different grids: the geometry is the finding (review C: "could not be
                # read", not analysable, where the message said "not reproducible")
                entry["grids_differ"] = grids
            if "envelope" in entry["voxelwise"]:
                entry["envelope"] = dict(entry["voxelwise"].pop("envelope"), factor=factor)
            if stored := entry["voxelwise"].pop("stored_types", None):  # float32 beside float64: said, as arrays
                entry["stored_type_differences"] = stored
            if kind == "labels" and not entry["voxelwise"].get("gridless"):
                _own_grids(entry, design)
            # Label agreement on the subjects whose every file the voxel pass could read (it names the others).
            subjects = [s for s in subjects if s not in {e["subject"] for e in entry["errors"]}]
            if kind == "labels" and len(subjects) >= 1:
                axis = None if factor is None else design.factor_names.index(factor)
                seg = label_agreement(design, subjects, version_axis=axis)
                volumes = seg.pop("volumes")
                names = seg.pop("volume_names")
                zero = seg.pop("volume_zero")
                version_dice = seg.pop("version_dice", None)
                entry["segmentation"] = dict(seg, elements=entry["voxelwise"].get("gridless") or "voxels")
                # each volume over the subjects that hold its label (review LB1), as a table's cells
                voxel = math.prod(seg["spacing"]) if seg.get("spacing") else 1.0
                found, env = volume_metrics(design, volumes, names, subjects, zero, cond_keys, voxel)
                observations += found
                if zero:  # a label none of a few subjects' executions holds, where the others' volumes vary: said
                    entry["zero_observations"] = _absent(zero)
                if env is not None:
                    entry["envelope"] = env
                if version_dice is not None and "envelope" in entry:
                    _add_dice_envelope(entry["envelope"], dice_envelope(version_dice))
        else:
            # declared, even empty (`key_columns: []`: rows by their index, when a text column names the subject)
            keys = decl.key_columns if decl is not None and "key_columns" in decl.model_fields_set else None
            ignore = decl.ignore if decl is not None else []
            obs = gather(design, kind, key_columns=keys, ignore=ignore)
            if ignore:  # what the study declared not to judge, said; a pattern that matched nothing may be a typo
                unmatched = [p for p in ignore if not any(fnmatch.fnmatchcase(n, p) for n in obs.ignored)]
                entry["ignored_observations"] = dict(
                    count=len(obs.ignored),
                    names=obs.ignored[:20],
                    patterns=ignore,
                    unmatched=unmatched,
                    differ=obs.ignored_differ[:20],  # those whose values differ within a subject
                    result_like=obs.ignored_result_like[:20],  # ... repeating in each condition, changing across
                )
            entry["errors"] = merge_errors(entry["errors"], obs.errors)
            metrics, env = observation_metrics(obs, design, cond_keys)
            for n in obs.names:
                observations.append(
                    dict(name=n, nonfinite=obs.nonfinite[n]) if n in obs.nonfinite else dict(name=n, **metrics[n])
                )
            if env is not None:
                entry["envelope"] = env
            entry["nonfinite_observations"] = len(obs.nonfinite)
            if obs.text_differs:  # strings or text cells that change between executions: no metric sees them
                entry["text_differences"] = dict(count=len(obs.text_differs), names=obs.text_differs[:20])
                if obs.number_like:  # cells that look like numbers: say why they were read as text
                    entry["text_differences"]["number_like"] = obs.number_like
            if obs.reordered:  # the same lines in another order: the numbers by position moved, not changed
                entry["reordered_lines"] = obs.reordered
            if obs.reordered_rows:  # the same rows in another order: keyed, no value changed; else moved by position
                entry["reordered_rows"] = obs.reordered_rows
            if obs.keyed_rows:  # read by key: identity and its factors compare the rows, not their order
                design = _rows_compared(design, obs.keyed_rows)
                bits = entry["bitwise"] = bitwise_summary(design)
            if obs.cut:  # files whose last line lost its line break where the others have one: cut short
                entry["cut_short"] = obs.cut
            if obs.categorical:  # words (include/exclude) that differ between repetitions: a result, not a stamp
                entry["categorical_differences"] = dict(count=len(obs.categorical), fields=obs.categorical)
            if obs.stored_types:  # one execution's float32 among float64: compared as stored, said
                entry["stored_type_differences"] = obs.stored_types
            if obs.inexact_differs:  # integers beyond 2**53 that differ where their float64 values do not
                entry["inexact_differences"] = dict(count=len(obs.inexact_differs), names=obs.inexact_differs[:20])
            entry["complete_subjects"] = len(obs.subjects)
            if obs.no_rows:
                entry["no_rows"] = True
            if obs.absent:  # rows or fields some subjects never write: measured over the others
                entry["absent_observations"] = _absent(obs.absent)
            if obs.zero:  # 0 in every execution of a few subjects where the others vary: left out, said
                entry["zero_observations"] = _absent(obs.zero)
            if obs.blank:  # cells no execution writes a value in (n/a): no observation, said
                entry["empty_observations"] = dict(count=len(obs.blank), names=obs.blank[:20])
            # Plotted: the observations every subject writes, finite in every execution
            idx = [i for i, n in enumerate(obs.names) if n not in obs.nonfinite and n not in obs.absent]
            entry["plot_values"] = save_plot_values(
                out_dir, [obs.names[i] for i in idx], obs.values[idx], list(obs.subjects), design.factors
            )
    except ReaderError as exc:
        entry["error"] = str(exc)
    # Complete subjects whose files differ between any two executions, within a condition or across levels (a
    # version that rewrote a header): what the observations would have to show.
    # (not those with a file that could not be read: the difference may be in it, and `errors` names them)
    unread = {e["subject"] for e in entry.get("errors") or []}
    # nor those on their own grid (label maps in native space): no voxel of theirs is in the `differ` map, and
    # their Dice measure them (a review's shifted labels on one read "every voxel is identical: the header")
    unread |= set((entry.get("voxelwise") or {}).get("own_grid_subjects") or [])
    # (keyed tables whose rows came in another order: by their rows, `_rows_compared`)
    differing = sum(
        len({record_key(r) for r in design.grid[s].values()}) > 1 for s in design.complete if s not in unread
    )
    if differing and _unmeasured(kind, entry, observations):
        # The files differ, the numbers read from them do not: the difference is in what no observation
        # measures (a string, a word, a number glued to a word, an image header); the criteria cannot see it.
        entry["unmeasured_differences"] = differing
        if kind in ("image", "labels") and (pair := _differing_pair(design, unread)) is not None:
            no_grid = (entry.get("voxelwise") or {}).get("gridless")
            # where: the field and its two values (a GIfTI's label table or metadata)
            entry["header_differences"] = (meaning_differences if no_grid else header_differences)(*pair)
    elif kind in ("image", "labels") and (pair := (entry.get("voxelwise") or {}).get("header_pair")):
        # The voxels differ, and the header says other things of where they are or what they mean: said whatever
        # the voxels do (review C: spatial units in microns under threads=2 went unsaid once 5 voxels varied)
        if meaning := [f for f in header_differences(Path(pair[0]), Path(pair[1])) if changes_meaning(f)]:
            entry["header_meaning_differences"] = meaning
    if kind == "text":
        _quote_lines(observations, design, unread)
    if left_out := _left_out(design):
        entry["left_out"] = left_out
    entry["observations"] = observations
    entry["summary"] = _summary_of(observations)
    if "voxelwise" in entry and "summary" in entry["voxelwise"]:
        entry["summary"].update({f"voxel_{k}": v for k, v in entry["voxelwise"]["summary"].items()})
    if "segmentation" in entry:
        seg = entry["segmentation"]
        keys = ("dice_min", "dice_min_label", "dice_min_executions", "dice_min_became", "hd95_max", "hd95_max_label")
        entry["summary"].update({k: seg[k] for k in keys})
    # The shares of the observations that differ between executions: averaged with identical ones (0 for every
    # factor), a log whose one varying number was all threads read "threads 50%" (a review)
    measured = [o for o in observations if o.get("variance")]
    varying = [o for o in measured if o.get("identical") is False] or measured
    shares = mean_shares(varying, design.factor_names)
    sources = source_shares([o["variance"] for o in varying])
    regions = summed = None
    if not shares and entry.get("voxelwise", {}).get("summary"):
        variance, regions, summed = voxel_variance(entry["voxelwise"]["summary"], design.factor_names)
        shares, sources = factor_shares(variance, design.factor_names), source_shares([variance])
    effects = factor_effects(entry["segmentation"].get("pair_dice") or {}) if "segmentation" in entry else {}
    if (env := entry.get("envelope") or {}).get("within_envelope") is False:
        # The envelope test is evidence of its own: a field one subject writes has no variance components, and
        # the other fields' run-to-run noise was named the culprit of a +93 SD version change (a review).
        effects.setdefault(
            env["factor"],
            f"{env['factor']} changes the result beyond run-to-run noise: {env['worst_observation']} leaves the "
            "baseline's run-to-run envelope",
        )
    # a level under which the repetitions vary more (threads=2 adding noise to one field of a fit: a review)
    for f, sentence in spread_effects(observations, dict(design.factors), NONDETERMINISM_HINTS).items():
        effects.setdefault(f, sentence)
    evidence = factor_evidence(observations, design.factor_names)
    if regions is not None and evidence is None:
        # Images have no per-voxel F test: a factor is named by the voxels it dominates (its region), not by its
        # median share, which summed its interaction with the subjects (pure noise on a 1-voxel image named
        # threads at 57.9%, a review)
        evidence = {}
    entry["attribution"] = attribute(
        bits,
        shares,
        effects,
        evidence,
        sources,
        interactions=interaction_evidence(observations, design.factor_names),
        local=local_evidence(observations, design.factor_names),
        regions=regions,
        summed=summed,
        unmeasured="unmeasured_differences" in entry,
        averaged=len(varying),
        quiet=_quiet_conditions(observations),
    )
    entry["variance_shares"] = shares
    return entry


def _quote_lines(observations: list[dict[str, Any]], design: Design, unread: set[str]) -> None:
    """Give each text observation that differs between executions its line (``line``), as one file of the first
    complete subject writes it: `line3:3` alone did not say it was a time stamp's seconds (review LC)."""
    # at most QUOTED of them: a log of 200,000 numbers that differ would carry 20 MB of quotes
    differ = [o["name"] for o in observations if o.get("identical") is False][:QUOTED]
    record = next(
        (r for s in design.complete if s not in unread for r in design.grid[s].values() if r.path is not None), None
    )
    if not differ or record is None:
        return
    try:
        quoted = quoted_lines(record.path, differ)
    except (OSError, ReaderError):  # unreadable now: the names stay as they are
        return
    for o in observations:
        if o["name"] in quoted:
            o["line"] = quoted[o["name"]]


def _differing_pair(design: Design, unread: set[str]) -> tuple[Path, Path] | None:
    """Two files of one complete subject that differ (the first such subject's, by the records' keys)."""
    for s in design.complete:
        if s in unread:
            continue
        first: dict[str, Record] = {}
        for r in design.grid[s].values():
            first.setdefault(record_key(r), r)
        if len(first) > 1 and all(r.path is not None for r in first.values()):
            a, b = list(first.values())[:2]
            return a.path, b.path  # type: ignore[return-value]
    return None


def _quiet_conditions(observations: list[dict[str, Any]]) -> list[str]:
    """The conditions whose repetitions agree in every observation (where the files differ, in text only)."""
    conditions = [o["per_condition"] for o in observations if o.get("per_condition")]
    if not conditions:
        return []
    return [k for k in conditions[0] if all((c.get(k) or {}).get("identical") for c in conditions)]


def _own_grids(entry: dict[str, Any], design: Design) -> None:
    """Label maps in each subject's own space (FreeSurfer's native asegs): the ``differ`` map needs one grid,
    Dice and HD95 do not. A subject whose every execution is on one grid, other than the common one, is
    measured on its own (named in ``voxelwise.own_grid_subjects``) instead of being left out as unreadable
    (a review's native-space maps were "not analysable", and a label's Dice read 1 over the others)."""

    from reprovip.readers.nifti import read_geometry

    on_grid = [e for e in entry["errors"] if e["error"].endswith(ONE_GRID)]
    own = []
    for subject in sorted({e["subject"] for e in on_grid}):
        try:
            grids = [read_geometry(rec.path) for rec in design.grid[subject].values()]
        except ReaderError:  # an unreadable file stays the error it is
            continue
        shape, affine = grid_shape(grids[0].shape), grids[0].affine
        if all(grid_shape(g.shape) == shape and affine_mismatch(g.affine, affine) is None for g in grids):
            own.append(subject)
    if own:
        entry["errors"] = [e for e in entry["errors"] if not (e["subject"] in own and e in on_grid)]
        entry["voxelwise"]["own_grid_subjects"] = own


def _absent(absent: dict[str, list[str]]) -> dict[str, Any]:
    """What the document says of observations some subjects write in none of their executions: how many, and
    per subject (the first 20 of each) which."""
    by_subject: dict[str, list[str]] = {}
    for name, subjects in absent.items():
        for s in subjects:
            by_subject.setdefault(s, []).append(name)
    return dict(
        count=len(absent),
        subjects={s: dict(count=len(names), names=names[:20]) for s, names in sorted(by_subject.items())},
    )


def _left_out(design: Design) -> list[dict[str, Any]]:
    """Subjects the metrics leave out (complete-case analysis) because they have fewer or more executions than
    the design (every condition x the repetition count most cells have): how many they have, how many it
    needs. Subjects left out for an unreadable or missing file are not listed: the reasons about those do."""
    need = len(design.positions)
    out = []
    for s in design.subjects:
        if not design.balanced(s):
            entry = dict(subject=s, present=len(design.grid[s]), needed=need)
            # compared versions: which of them ran it (review VC: "sub-04 (3 of 6)" did not say it was the baseline)
            if len(versions := sorted({r.version for r in design.grid[s].values() if r.version})) == 1:
                entry["only_in"] = versions[0]
            out.append(entry)
    return out


def _rows_compared(design: Design, digests: dict[str, dict[Any, str]]) -> Design:
    """``design`` with the records of the subjects of ``digests`` (keyed tables whose rows came in another order)
    compared by their rows whatever the order (:func:`~reprovip.analyze.observations.keyed_rows`)."""
    grid = {
        s: {
            pos: replace(r, semantic_hash=f"rows:{digests[s][pos]}") if pos in digests.get(s, {}) else r
            for pos, r in cells.items()
        }
        for s, cells in design.grid.items()
    }
    return replace(design, grid=grid)


def _unmeasured(kind: str, entry: dict[str, Any], observations: list[dict[str, Any]]) -> bool:
    """Whether every value read from the files is the same in every execution of each subject: observations
    there are and each is identical, or (images, label maps) no voxel differs."""
    if kind == "bytes":
        return False
    if kind == "labels" and (entry.get("voxelwise") or {}).get("gridless"):
        # every label's Dice 1 in every pair: the ids are equal at every vertex or element
        seg = entry.get("segmentation")
        return seg is not None and seg.get("dice_min") in (None, 1.0) and not entry["errors"]
    if kind in ("image", "labels"):
        vox = (entry.get("voxelwise") or {}).get("summary") or {}
        return "differ_fraction" in vox and not vox["differ_fraction"] and not entry["errors"]
    measured = [o for o in observations if "nonfinite" not in o]
    return bool(measured) and len(measured) == len(observations) and all(o.get("identical") for o in measured)


def never_written(recs: list[Any], done: set[tuple[str, str, int]], relpath: str) -> list[str]:
    """Subjects with executions that succeeded none of which wrote this file of a glob output, which other
    subjects' executions wrote: a missing output for them, as a missing plain path is. Not when the path
    names a subject (``sub-03_extra.csv``): such a file is that subject's own. A subject that wrote no
    ``stats/rh.csv`` dropped out of that output's metrics, unsaid, and the study read identical (a review).

    Examples
    --------
    >>> from types import SimpleNamespace as R
    >>> done = {("sub-01", "-", 1), ("sub-02", "-", 1)}
    >>> never_written([R(subject="sub-01")], done, "stats/rh.csv")
    ['sub-02']
    >>> never_written([R(subject="sub-01")], done, "sub-01_extra.csv")
    []
    """
    subjects = {s for s, _, _ in done}
    if any(s in relpath for s in subjects):
        return []
    return sorted(subjects - {r.subject for r in recs})


def unwritten(recs: list[Any], done: set[tuple[str, str, int]]) -> list[dict[str, Any]]:
    """Executions that succeeded without writing a file that other executions of the same subject wrote (a file
    a glob output matches in some runs only). Subjects that never wrote it are :func:`never_written`'s."""
    present = {(r.subject, r.condition_key, r.repetition) for r in recs}
    subjects = {s for s, _, _ in present}
    return [
        dict(subject=s, condition=c, repetition=rep) for s, c, rep in sorted(done - present, key=str) if s in subjects
    ]


def mixed_cells(recs: list[Any], missing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The (subject, condition) cells where some repetitions wrote the file and others did not (``missing``,
    :func:`unwritten`): an optional output written at random, which no factor or subject decides.

    Examples
    --------
    >>> from types import SimpleNamespace as R
    >>> recs = [R(subject="s1", condition_key="t1", repetition=1), R(subject="s1", condition_key="t2", repetition=1)]
    >>> missing = [dict(subject="s1", condition="t1", repetition=2), dict(subject="s2", condition="t1", repetition=1)]
    >>> mixed_cells(recs, missing)
    [{'subject': 's1', 'condition': 't1'}]
    """
    wrote = {(r.subject, r.condition_key) for r in recs}
    cells = dict.fromkeys((e["subject"], e["condition"]) for e in missing if (e["subject"], e["condition"]) in wrote)
    return [dict(subject=s, condition=c) for s, c in cells]


def unwritten_by(
    recs: list[Any], missing: list[dict[str, Any]], labels: dict[str, dict[str, str]], declared: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The factors whose levels part the executions that wrote a file from those that did not (``missing``,
    :func:`unwritten`): each with the levels of either side, in the declared order. A file written under
    ``seed=3`` only read "16 executions did not write it", no factor named, and "bit-for-bit identical across
    all executions" (a review). ``labels``: each condition key's levels.

    Examples
    --------
    >>> from types import SimpleNamespace as R
    >>> recs = [R(labels=(("threads", "1"), ("seed", "3"))), R(labels=(("threads", "2"), ("seed", "3")))]
    >>> labels = {"t1s2": {"threads": "1", "seed": "2"}, "t2s2": {"threads": "2", "seed": "2"}}
    >>> unwritten_by(recs, [dict(condition="t1s2"), dict(condition="t2s2")], labels, {"seed": ["2", "3"]})
    [{'factor': 'seed', 'written': ['3'], 'unwritten': ['2']}]
    """
    lost = [labels.get(e["condition"]) for e in missing]
    if not lost or any(d is None for d in lost):
        return []
    written = [dict(r.labels) for r in recs]
    out = []
    for f in sorted({f for d in [*written, *lost] for f in d}):
        w, u = {d.get(f) for d in written}, {d.get(f) for d in lost}
        if None not in w | u and not w & u:
            order = declared.get(f) or sorted(w | u)
            out.append(
                dict(factor=f, written=[lv for lv in order if lv in w], unwritten=[lv for lv in order if lv in u])
            )
    return out


def _repetitions(stored: Stored) -> int:
    """The repetitions per condition of the executions the study file declares and that ran, failed or not: the
    count most (subject, condition) cells have. Counted over the successes only, failures spread over the cells
    (one per subject, 2 repetitions of 2 conditions) made the design's k 1: the subject with one execution per
    condition was kept as complete and the others left out as "3 of 2" (a review)."""
    cells = Counter((r["subject"], r["condition_key"]) for r in stored.rows if r["id"] not in stored.undeclared)
    return most_common_count(Counter(cells.values()))


def analyze_groups(
    study: Study,
    groups: dict[tuple[str, str], tuple[str, list[Any]]],
    declared: dict[str, list[str]],
    out_root: Path,
    *,
    done: set[tuple[str, str, int]] | None = None,
    k: int | None = None,
) -> list[dict[str, Any]]:
    """Analyse each output group (name, relpath) -> (kind, records); maps go under ``out_root``. With ``done``
    (subject, condition, repetition of the executions that succeeded), files some of them did not write are
    listed under ``unwritten``; ``k``, the repetitions per condition of the executions that ran (else counted from
    each output's files). An output stored with another kind than the study file declares now, or declared
    and stored by no execution (while others are), is not analysable: an error entry says to store it again."""
    names_per_output: dict[str, int] = {}
    for name, _ in groups:
        names_per_output[name] = names_per_output.get(name, 0) + 1
    outputs = []
    again = "`reprovip run` stores it as declared (results made elsewhere: ingest them again)"
    labels = {r.condition_key: dict(r.labels) for _, recs in groups.values() for r in recs}
    for (name, relpath), (kind, recs) in sorted(groups.items()):
        label = name if names_per_output[name] == 1 else f"{name}/{relpath}"
        design = build_design(recs, declared, k=k)
        declared_kind = study.spec.outputs[name].kind if name in study.spec.outputs else kind
        try:
            if declared_kind != kind:  # read as it was stored, it would be judged as what the file no longer says
                raise ReprovipError(f"declared `kind: {declared_kind}` but stored as `{kind}`; {again}")
            entry = _analyze_output(study, label, kind, design, out_root / label.replace("/", "__"))
        except ReprovipError as exc:
            entry = dict(name=label, kind=declared_kind, error=str(exc), observations=[], summary={})
        if done is not None:
            entry["unwritten"] = unwritten(recs, done)
            by = unwritten_by(recs, entry["unwritten"], labels, declared) if entry["unwritten"] else []
            for b in by:
                # A folder named after the level (`t{threads}/res.nii.gz` matched by `*/res.nii.gz`): say how to
                # declare it, one output whatever the level (a review read "written under threads=1 only")
                if len(b["written"]) == 1 and len(level := b["written"][0]) and relpath.count(level) == 1:
                    b["declare"] = relpath.replace(level, "{" + b["factor"] + "}")
            if by:
                entry["unwritten_by"] = by
            if entry["unwritten"] and entry.get("attribution", {}).get("summary", "").startswith("bit-for-bit"):
                entry["attribution"]["summary"] = (
                    f"bit-for-bit identical across the executions that wrote it; {len(entry['unwritten'])} did "
                    "not write it" + "".join(f", {b['factor']} decides which" for b in by)
                )
            optional = name in study.spec.outputs and study.spec.outputs[name].optional
            if optional:
                entry["optional"] = True
                entry["unwritten_mixed"] = mixed_cells(recs, entry["unwritten"])
                if left := entry.pop("left_out", None):  # no incomplete study: the executions ran, wrote no file
                    entry["left_out_unwritten"] = left
            never = never_written(recs, done, relpath)
            if never and optional:
                entry["never_written"] = never  # the application wrote it for other subjects: none is incomplete
            elif never and "repetitions" in entry:
                # Left out of the metrics like a subject whose executions failed: 0 files of its executions.
                ran = Counter(s for s, _, _ in done)
                missing = [dict(subject=s, present=0, needed=ran[s]) for s in never]
                entry["left_out"] = [*entry.get("left_out", []), *missing]
                entry["n_subjects"] += len(never)
        _name_files_as_written(entry, recs, relpath)
        outputs.append(entry)
    stored = {name for name, _ in groups}
    for name, decl in study.spec.outputs.items() if stored else ():
        if name not in stored and decl.optional and done:  # every execution agrees: it wrote no such file
            outputs.append(
                dict(name=name, kind=decl.kind, optional=True, written_by_none=True, observations=[], summary={})
            )
        elif name not in stored:  # declared after the executions stored theirs: it was left out, unsaid (a review)
            error = f"declared in the study file but stored by no execution (declared after they ran); {again}"
            outputs.append(dict(name=name, kind=decl.kind, error=error, observations=[], summary={}))
    return outputs


def _name_files_as_written(entry: dict[str, Any], recs: list[Any], relpath: str) -> None:
    """An unreadable file is named by the path the application wrote (``res.csv``), then by its copy in the
    store, to open it (``.reprovip/blobs/af/af13...csv``); the execution is named beside it."""
    stored = {str(r.path) for r in recs if r.path is not None}
    by_execution = {(r.subject, r.condition_key, r.repetition): r.path for r in recs}
    for e in entry.get("errors") or []:
        head, sep, rest = (e.get("error") or "").partition(": ")
        if sep and head.isidentifier():  # "ReaderError: <path>: ...", as a run stores what hashing its file raised
            head, sep, rest = rest.partition(": ")
        if sep and head in stored:
            e["error"] = f"{relpath} (stored as {head}): {rest}"
        elif sep and fnmatch.fnmatchcase(head, f"*/{relpath}"):  # its working folder, gone since (a review)
            copy = by_execution.get((e.get("subject"), e.get("condition"), e.get("repetition")))
            e["error"] = f"{relpath}{'' if copy is None else f' (stored as {copy})'}: {rest}"


def finish_document(study: Study, document: dict[str, Any], json_path: str | Path | None, name: str) -> dict[str, Any]:
    """Evaluate the criteria (the study's, else the defaults) into the document's one verdict, normalise it to
    strict JSON and write it atomically to the store (``name``) and ``json_path``."""
    evaluate(document, study.spec.criteria_list() or None)
    compact = to_json(document, indent=None)
    document = json.loads(compact)
    # Indented when it can be read by eye; a large one (a connectome's 40,000 observations, 150 MB) is written as
    # the compact text already made: Python's indenting encoder took 5 s per copy where this one takes 0.5 s.
    text = compact if len(compact) > INDENTED_MAX else to_json(document)
    for path in (study.results / name, *([Path(json_path)] if json_path else [])):
        write_text_atomic(path, text)
    return document


def remove_partial_files(folder: Path) -> None:
    """Remove what a killed analysis left half-written (``.<name>.<pid>.part*``); finished files stay."""
    if folder.exists():
        for p in folder.rglob(".*.part*"):
            p.unlink(missing_ok=True)


def stored_study_id(study: Study) -> int:
    """The catalog id of ``study``; raises :class:`NotFoundError` when nothing was stored yet."""
    study_id = study.catalog.study_id(study.name)
    if study_id is None:
        from reprovip.store.names import nothing_stored, stored_names

        raise NotFoundError(nothing_stored(study.path, study.name, stored_names(study.catalog, study.name)))
    return study_id


def header(study: Study, declared: dict[str, list[str]]) -> dict[str, Any]:
    """The document fields common to analyses and comparisons."""
    return dict(
        schema=SCHEMA,
        reprovip_version=__version__,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        study=dict(
            name=study.name,
            path=str(study.path),
            description=study.spec.description,
            factors=declared,
            repetitions=study.spec.repetitions,
            spec_digest=spec_digest(study.spec),
        ),
    )


def misnamed_outputs(document: dict[str, Any]) -> None:
    """Give each optional output written by no execution the executions' notes that a file of a close name was
    written instead (:func:`~reprovip.execute.sandbox.misnamed_optional`), as ``misnamed``: count and first."""
    note = (document["executions"].get("notes") or {}).get(MISNAMED)
    for out in document["outputs"] if note else ():
        if out.get("written_by_none"):
            mine = [e for e in note["executions"] if e["message"].startswith(f"{out['name']!r} (")]
            if mine:
                out["misnamed"] = dict(count=len(mine), first=mine[0]["message"])


def analyze_study(study: Study, *, json_path: str | Path | None = None) -> dict[str, Any]:
    """Analyse every output of ``study`` and return the analysis document.

    The document is also written atomically to ``.reprovip/results/<study>/analysis.json`` (and
    ``json_path`` if given) and
    stored in the catalog's history; a killed analysis leaves the previous document intact.

    Raises
    ------
    NotFoundError
        The study has no stored execution yet.
    """
    study_id = stored_study_id(study)
    remove_partial_files(study.results)
    stored = stored_executions(study, study_id)
    outputs, done = declared_outputs(study, stored)
    groups = records_by_output(outputs, BlobStore(study.store))
    declared = {f.name: list(f.levels) for f in study.spec.factor_list()}
    document = dict(
        header(study, declared),
        executions=dict(
            executions_summary(study, stored),
            duplicate_subjects=duplicate_subjects(outputs),
            same_for_every_subject=same_for_every_subject(outputs),
        ),
        provenance=provenance_summary([study], [stored]),
        outputs=analyze_groups(
            study, groups, declared, study.results / "analysis", done=done, k=_repetitions(stored) or None
        ),
    )
    misnamed_outputs(document)
    analysed = [o for o in document["outputs"] if "repetitions" in o]
    if stored.plan.get("ingested") and analysed:
        # The design is the ingested folders', not the file's defaults: the report read "3 repetitions" and no
        # factor for results ingested with 2 and a `cond` factor (a review).
        document["study"].update(repetitions=analysed[0]["repetitions"], factors=analysed[0]["factors"])
    add_dataflow(document, study.catalog.traces(study_id), declared)
    document = finish_document(study, document, json_path, "analysis.json")
    study.catalog.save_analysis(study_id, document)
    return document
