"""The checks every output gets, whatever its criteria: each failure means the data cannot support a pass.

Outputs that could not be read or were not written by every execution, subjects left out of the metrics
for lack of executions (they make the study incomplete), observations some subjects never write (a warning),
values too small for their SD to be computed, label maps holding no label (not analysable), voxels
too large for their squares to be, numeric outputs with no number,
observations non-finite in some executions, files that differ where no observation does, voxels that differ
where no voxel metric looks, voxels whose finiteness differs, images that lost most of their voxels,
voxels where one execution lies apart from its subject's others, and executions far from their subject's others
(a warning).
"""

from __future__ import annotations

from typing import Any

from reprovip.criteria.reasons import named, reason
from reprovip.criteria.unmeasured import unmeasurable, unseen_differences

NUMERIC_KINDS = ("table", "scalars", "text", "array")
LEFT_OUT = "every subject in the metrics"
WRITTEN = "written by every execution"
NONFINITE_OBSERVATIONS = (
    # (pattern, check, severity, what the observations are)
    (
        "constant",
        "finite values",
        "warn",
        "are non-finite, the same in every execution (no metric can use them; criteria that need them cannot pass)",
    ),
    ("mixed", "finite in every execution", "fail", "are non-finite in some executions and not in others"),
)


def _where(e: dict[str, Any]) -> str:
    parts = [f"subject {e.get('subject')}"]
    if e.get("condition") not in (None, "-"):
        parts.append(f"condition {e['condition']}")
    if e.get("repetition") is not None:
        parts.append(f"repetition {e['repetition']}")
    return ", ".join(parts)


def _shared_level(executions: list[dict[str, Any]], factors: dict[str, Any]) -> str | None:
    """The level of a factor of ``factors`` (the output's ``bitwise.factors``, those of two levels or more) every one
    of ``executions`` (two or more) is under, as the words of a message: the executions a factor's level changed
    are all under that level (review G: a T2 map in ms under threads=2 named every threads=1 execution as "a
    silent failure?", the subjects' median falling between the two levels)."""
    varied = {f for f, e in factors.items() if len((e or {}).get("levels") or {}) > 1}
    parts = [{p for p in str(e.get("condition") or "-").split(",") if p.split("=", 1)[0] in varied} for e in executions]
    common = sorted(set.intersection(*parts)) if len(parts) > 1 else []
    if not common:
        return None
    factor = common[0].split("=", 1)[0]
    return (
        f"; every one of them under {common[0]}: the levels of {factor} give images of another magnitude or extent "
        f"({factor} changes the result: a unit, a scaling, or a failure under one level), the executions of either "
        "level may be the ones that changed"
    )


def _unlike(e: dict[str, Any]) -> str:
    """An execution unlike its subject's others (``voxelwise.support_outliers``), for a message."""
    if "between_subjects" in e:
        others = "its other repetitions" if e["measure"].endswith("repetitions") else "the subject's other executions"
        return (
            f"{_where(e)}: RMS distance {e['value']:.4g} from {others}, which lie {e['typical']:.4g} apart, where "
            f"subjects' images lie {e['between_subjects']:.4g} from the typical image"
        )
    if e.get("nonfinite_everywhere"):
        return (
            f"{_where(e)}: NaN or infinite at every voxel where the subject's executions have a {e['measure']} of "
            f"{e['typical']:.6g}"
        )
    return f"{_where(e)}: {e['measure']} {e['value']:.6g} where the subject's executions have {e['typical']:.6g}"


def _odd(name: str, e: dict[str, Any]) -> str:
    """An observation's odd execution (``odd_executions``), and how many its output has."""
    more = f" ({e['count']} such executions)" if e["count"] > 1 else ""
    return f"{name}: {_where(e)} wrote {e['value']:.6g} where the subject's executions have {e['typical']:.6g}{more}"


def _executions_of(e: dict[str, Any]) -> str:
    """A left-out subject with how many executions it has of how many the design needs."""
    if e["present"] == e["needed"]:  # as many, not the same: a condition with more repetitions, another fewer
        return (
            f"{e['subject']} ({e['present']} of {e['needed']}, but more repetitions of a condition, fewer of another)"
        )
    only = f", stored by the {e['only_in']} only" if e.get("only_in") else ""
    # more than the design: a repetition beyond the others' (a leftover run-4 read as if executions failed: review E)
    more = (
        ": more executions than the design's, a repetition beyond the other subjects'?"
        if e["present"] > e["needed"]
        else ""
    )
    return f"{e['subject']} ({e['present']} of {e['needed']}{only}{more})"


def _by_problem(errors: list[dict[str, Any]]) -> list[str]:
    """Each distinct problem once, with the first execution and file it was met in, then where else: the same
    error in 15 files is one sentence, not 15 (the stored file's path, which differs, is not the problem)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in errors:
        path, sep, rest = e["error"].partition(": ")
        stored = path.startswith("/") or " (stored as /" in path  # the stored copy's name differs, not the problem
        groups.setdefault(rest if sep and stored else e["error"], []).append(e)
    out = []
    for same in groups.values():
        text = f"{_where(same[0])}: {same[0]['error']}"
        if len(same) > 1:
            more = f" and {len(same) - 4} more" if len(same) > 4 else ""
            text += f" (the same in {len(same) - 1} other file(s): {'; '.join(_where(e) for e in same[1:4])}{more})"
        out.append(text)
    return out


def _levels(factor: str, levels: list[str]) -> str:
    """``seed=2`` or ``seed=2 or 3``."""
    return f"{factor}={' or '.join(levels)}"


def _never_written(out: dict[str, Any]) -> str:
    """The subjects that wrote the file in none of their executions (left out, ``present`` 0), named beside the
    executions that missed it: counted apart, 5 read where 8 were missing (a review)."""
    never = [e["subject"] for e in out.get("left_out") or [] if e.get("present") == 0]
    if not never:
        return ""
    return f"; besides, {named(never)} wrote it in no execution (left out of the metrics)"


def _deciding(out: dict[str, Any]) -> str:
    """The factors whose levels decide whether the file is written, and how to declare a path named after one."""
    return "".join(
        f"; {b['factor']} decides it: written under {_levels(b['factor'], b['written'])} only, never "
        f"under {_levels(b['factor'], b['unwritten'])}"
        + (
            f" (if the application names the file after the level, declare its path `{b['declare']}`)"
            if b.get("declare")
            else ""
        )
        for b in out.get("unwritten_by") or []
    )


# Factors that should change no result: one deciding whether an optional file is written fails (review A2: a mask
# written under threads=2 only read "sufficiently reproducible"); a parameter (`args`, `env`, a factor of the
# study's own: bet's `-m`) may decide it.
APART_VOXELS = 10  # voxels where one execution lies apart: a failure from here, a warning below (one stray voxel)
NEUTRAL_FACTORS = ("threads", "seed", "blas", "perturb", "container", "os", "environments", "version")


def _optional_unwritten(out: dict[str, Any]) -> list[dict[str, Any]]:
    """An optional output (``optional: true``) may be left unwritten, by a subject or under the level of a factor
    that is a parameter (a warning that says which); repetitions of one condition that disagree on writing it,
    or a factor that should change nothing (:data:`NEUTRAL_FACTORS`) deciding it, fail, as any other difference
    between them does."""
    if misnamed := out.get("misnamed"):  # a close name written instead: a misspelt path (review MC)
        message = (
            f"written by no execution (declared optional), while {misnamed['count']} execution(s) wrote a file of a "
            f"close name that no output declares ({misnamed['first']}): fix the output's path"
        )
        return [reason(WRITTEN, passed=False, estimable=False, value=0, message=message)]
    if out.get("written_by_none"):
        message = "written by no execution (declared optional): nothing to judge"
        return [reason(WRITTEN, passed=False, severity="warn", estimable=False, value=0, message=message)]
    unwritten, mixed = out.get("unwritten") or [], out.get("unwritten_mixed") or []
    never, partial = out.get("never_written") or [], out.get("left_out_unwritten") or []
    if mixed:
        message = (
            f"repetitions of one condition disagree on writing this optional file in {len(mixed)} cell(s) (some "
            f"wrote it, some did not): {named([_where(e) for e in mixed])}; whether it is written is not reproducible"
        )
        return [reason(WRITTEN, passed=False, value=len(mixed), message=message)]
    if neutral := [b["factor"] for b in out.get("unwritten_by") or [] if b["factor"] in NEUTRAL_FACTORS]:
        message = (
            f"{', '.join(neutral)} decides whether this optional file is written, which should change no result"
            + _deciding(out)
        )
        return [reason(WRITTEN, passed=False, value=len(unwritten), message=message)]
    if not unwritten and not never:
        return []
    parts = (
        [f"{len(unwritten)} execution(s) did not write it, {named([_where(e) for e in unwritten])}"]
        if unwritten
        else []
    )
    parts += [f"{named(never)} wrote it in no execution (left out of its metrics)"] if never else []
    if partial:
        parts.append(
            f"{named([_executions_of(e) for e in partial])} left out of its metrics (not written in every one of "
            "their executions)"
        )
    agree = (
        "each condition's repetitions agree on writing it"
        if (out.get("repetitions") or 1) > 1
        else "with one repetition per condition, whether writing it is reproducible cannot be told"
    )
    message = (
        "declared optional, and written by some executions only: " + "; ".join(parts) + _deciding(out) + f"; {agree}"
    )
    return [reason(WRITTEN, passed=False, severity="warn", value=len(unwritten) + len(never), message=message)]


def _laid_out(errors: list[dict[str, Any]]) -> str:
    """What happened to the files no metric could use: not read, or read but holding other rows, fields or lines
    than their subject's other executions ("could not be read" alone sent a review looking for damaged files: an
    adaptive loop's table, one row per iteration; "could not be read (all read, ...)" contradicted itself:
    review RR)."""
    other = sum("its observations differ from" in str(e.get("error")) for e in errors)
    laid = "read, but with other rows, fields or lines than their subject's other executions"
    if other == len(errors):
        return f"{len(errors)} output file(s) were {laid}"
    return f"{len(errors)} output file(s) could not be read" + (f" ({other} of them {laid})" if other else "")


def _own_keys(out: dict[str, Any]) -> str:
    """A hint when no observation of a table is written by two subjects: its rows are keyed by what each subject
    writes differently (pyradiomics' `Image` path column: a review read "written by 1 subject(s) only" and an
    `observations:` workaround that would select nothing)."""
    observations = out.get("observations") or []
    if out.get("kind") != "table" or not observations or any(o.get("written_by") != 1 for o in observations):
        return ""
    return (
        "; no observation is written by two subjects: the rows are keyed by something each subject writes its own "
        "(its input's path, an id?): declare `key_columns` with a column the subjects share, or `key_columns: []` "
        "to match the rows by their order"
    )


def _nowhere_finite(observation: dict[str, Any]) -> bool:
    nonfinite = observation.get("nonfinite") or {}
    return bool(nonfinite) and nonfinite.get("executions") == nonfinite.get("of")


def _in_another_order(criterion: str, subjects: list[str], what: str, how: str, **judged: Any) -> dict[str, Any]:
    """Executions of ``subjects`` wrote the same ``what`` (lines, rows) in another order: ``how`` it is read."""
    judged = {"passed": False, **judged}
    message = f"executions of {len(subjects)} subject(s) ({named(subjects)}) wrote the same {what} in another order"
    return reason(criterion, value=len(subjects), message=message + how, **judged)


def builtin_reasons(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Checks every output gets, whatever the criteria: each failure here means the data cannot support a pass."""
    if out.get("written_by_none"):
        return _optional_unwritten(out)
    reasons = []
    if copied := out.get("copied_levels"):
        said = [f"{c['factor']}={c['level']} holds {c['factor']}={c['copy_of']}'s" for c in copied]
        reasons.append(
            reason(
                "results of their own",
                passed=False,
                severity="warn",
                value=len(copied),
                message=f"{'; '.join(said)} files, file for file in every subject, while their repetitions differ "
                "from one another, which a new run rarely repeats: a copy of another level's results (a folder "
                "copied with `cp -a`, an artifact restored twice?) unless the application seeds each repetition "
                "by its number; ingest or run that level's own results",
            )
        )
    unreadable = [e for e in out.get("errors") or [] if e.get("error") != "missing"]
    if unreadable:
        # A file that opens in some executions of a subject and not in others is a result that is not reproducible
        # (a .nii.gz written uncompressed in one repetition: nibabel opens the others only); none opening is no data
        some = (out.get("bitwise") or {}).get("decoded_in_some") or []
        opens = (
            f"the files of {len(some)} subject(s) ({named(some)}) can be read in some of their executions and not "
            "in others, which is not reproducible; "
            if some
            else ""
        )
        if grids := out.get("grids_differ") or []:  # read, on other grids: where the voxels are is the finding
            opens += (
                f"the images of {len(grids)} subject(s) ({named(grids)}) lie on different grids in different "
                "executions, which is not reproducible; "
            )
        reasons.append(
            reason(
                "outputs readable",
                passed=False,
                estimable=bool(some or grids),
                message=f"{opens}{_laid_out(unreadable)}: " + named(_by_problem(unreadable)),
            )
        )
    left = out.get("left_out") or []
    if left:
        reasons.append(
            reason(
                LEFT_OUT,
                passed=False,
                severity="warn",
                value=len(left),
                message=f"{len(left)} of {out['n_subjects']} subject(s) do not have the design's executions of this "
                "output and are left out of its metrics, whatever their values (the study is incomplete): "
                + named([_executions_of(e) for e in left]),
            )
        )
    if absent := out.get("absent_observations"):
        what = (
            "are absent from every execution of {n} subject(s) (a row, column or field the application did not write "
            "for them, wrote as text, left empty or wrote as NaN in every execution): each is measured over the "
            "subjects that write it"
        )
        reasons.append(_by_subject("every observation in every subject", absent, what, "lacks", _own_keys(out)))
    if cut := out.get("cut_short"):
        shown = [f"{c['subject']} ({c['condition']}, repetition {c['repetition']})" for c in cut]
        reasons.append(
            reason(
                "files whole",
                passed=False,
                estimable=False,
                value=len(cut),
                message=f"{len(cut)} file(s) of this output end unlike the other files of their condition (without "
                "the final line break they have, or with one they lack): cut short (an interrupted copy or download, "
                f"a full disk?), their last values cannot be trusted and their subjects are left out: {named(shown)}; "
                "copy them again, or run those executions again",
            )
        )
    if reordered := out.get("reordered_lines"):
        how = (
            " (a tool printing results as its threads finish?): numbers are read by line (`line<L>:<i>`), so every "
            "moved line reads as changed, whatever its value; make the tool sort its lines, or write the results as "
            "a table keyed by their label"
        )
        reasons.append(_in_another_order("lines in one order", reordered, "lines", how, severity="warn"))
    rows = out.get("reordered_rows") or {}
    if moved := rows.get("by_position"):
        how = (
            " (a tool writing rows as its threads finish?): the table has no key column (no text column of unique "
            "values), so numbers are read by row number and every moved row reads as changed, whatever its value; "
            "declare `key_columns` for this output, or make the tool sort its rows"
        )
        reasons.append(_in_another_order("rows in one order", moved, "rows", how, severity="warn"))
    if moved := rows.get("keyed"):
        how = ": read by their key, those rows are compared whatever their order (identity and the factors too)"
        reasons.append(_in_another_order("rows in one order", moved, "rows", how, passed=True))
    if categorical := out.get("categorical_differences"):
        fields = categorical["fields"]
        reasons.append(
            reason(
                "categorical values alike",
                passed=False,
                value=categorical["count"],
                observation=next(iter(fields)),
                message=f"{categorical['count']} text field(s) hold a word that differs between repetitions of one "
                "condition (a categorical result that is not reproducible): "
                + named(
                    [
                        f"{name}: {' / '.join(map(repr, d['words']))} ({d['subject']}"
                        + (f", {d['condition']})" if d["condition"] not in (None, "-") else ")")
                        for name, d in fields.items()
                    ]
                )
                + "; if a field is no result (a host name, a status of the run), declare it in the output's `ignore`",
            )
        )
    if (ignored := out.get("ignored_observations")) and ignored.get("result_like"):
        reasons.append(
            reason(
                "ignored values are no results",
                passed=False,
                severity="warn",
                value=len(ignored["result_like"]),
                message="the output's `ignore` leaves out value(s) that repeat in every repetition of a condition and "
                f"change between conditions, as results do, not as time stamps: {named(ignored['result_like'])}; "
                "check that the patterns take only what is no result",
            )
        )
    if (ignored := out.get("ignored_observations")) and ignored.get("unmatched"):
        reasons.append(
            reason(
                "ignore patterns match",
                passed=False,
                severity="warn",
                value=len(ignored["unmatched"]),
                message=f"the output's `ignore` pattern(s) {', '.join(map(repr, ignored['unmatched']))} match no "
                "observation (a misspelt name judges the value it meant to leave out); the observations are named "
                "as `reprovip analyze --json` lists them",
            )
        )
    if zero := out.get("zero_observations"):
        what = (
            "are 0 in every execution of {n} subject(s) where every other subject writes a non-zero number that "
            "varies between executions: left out of those observations' metrics, which judge the others (did the "
            "application fail silently for them, or skip an empty input?)"
        )
        reasons.append(_by_subject("something in every subject's outputs", zero, what, "writes 0 for"))
    if empty := out.get("empty_observations"):
        reasons.append(
            reason(
                "a value in every cell",
                passed=False,
                severity="warn",
                value=empty["count"],
                observation=empty["names"][0],
                message=f"{empty['count']} table cell(s) are empty (n/a, NA or blank) in every execution of every "
                "subject that writes them: no value, so no observation to measure; "
                + named(empty["names"], empty["count"]),
            )
        )
    unwritten = out.get("unwritten") or []
    if out.get("optional"):
        reasons += _optional_unwritten(out)
    elif unwritten:
        reasons.append(
            reason(
                WRITTEN,
                passed=False,
                value=len(unwritten),
                message=f"{len(unwritten)} execution(s) that succeeded did not write this file, which others wrote: "
                + named([_where(e) for e in unwritten])
                + _never_written(out)
                + _deciding(out),
            )
        )
    vox = (out.get("voxelwise") or {}).get("summary") or {}
    if (
        out["kind"] in ("image", "labels")
        and vox.get("mask_voxels") == 0
        and vox.get("voxels")
        and not unreadable
        and not vox.get("nonfinite_subjects")  # said below: non-finite, not zero (reviews read "... is zero")
    ):
        labels = out["kind"] == "labels"
        # Label maps without a label have no region to compare, whatever their bytes: not analysable, as a header-
        # only table (review LB5: byte-identical empty maps warned while one stored as int16 was not analysable)
        reasons.append(
            reason(
                "something in the images",
                passed=False,
                severity="fail" if labels else "warn",
                estimable=not labels,
                value=0,
                message="every voxel of every execution is zero: "
                + (
                    "no label in any map, so there is nothing to compare"
                    if labels
                    else "no non-zero voxel in any image, so nothing but zeros was compared"
                )
                + " (an application that failed silently, or an input without what it looks for?)",
            )
        )
    read = out.get("complete_subjects") != 0  # 0: no subject had every execution, so none was read for numbers
    if (
        out["kind"] in NUMERIC_KINDS
        and not out.get("observations")
        and not unreadable
        and not out.get("error")
        and read
    ):
        if out.get("no_rows"):
            # A header and no row in every file: nothing written, as an empty file, never a pass (reviews W and
            # A3: header-only CSVs in every execution read "identical", exit 0)
            message = (
                "every file is a table with a header and no row: nothing was written to compare (a writer killed "
                "before its rows, or a one-line file that is no table: check a log and the output's kind)"
            )
            reasons.append(reason("numbers found", passed=False, estimable=False, message=message))
        elif layout := out.get("version_layout"):
            # numbers were read, under names no version shares (a renamed column): "no number could be read"
            # sent the user to `kind: bytes` (review AR)
            only = [f"{n} ({', '.join(sorted(v))} only)" for n, v in sorted(layout.items())]
            message = "no observation is written by every compared version, so no number was compared: " + named(only)
            reasons.append(reason("numbers found", passed=False, severity="warn", message=message))
        elif ignored := out.get("ignored_observations"):  # every number read is one the study ignores (review B)
            message = (
                f"every number read from this output is one the output's `ignore` leaves out "
                f"({', '.join(ignored.get('patterns') or [])}: {ignored.get('count', 0)} observation(s)): nothing "
                "is judged but its bytes; narrow `ignore` to the run-time values"
            )
            reasons.append(reason("numbers found", passed=False, severity="warn", message=message))
        else:
            reasons.append(
                reason(
                    "numbers found",
                    passed=False,
                    severity="warn",
                    message=f"no number could be read from this {out['kind']} output: only its bytes were compared "
                    "(declare `kind: bytes` if that is what it is)",
                )
            )
    observations = out.get("observations") or []
    nowhere = bool(observations) and all(_nowhere_finite(o) for o in observations)
    if nowhere:
        # identical, and nothing but NaN/inf compared: as an empty file, no pass (a review read "with warnings")
        reasons.append(
            reason(
                "finite values",
                passed=False,
                estimable=False,
                value=len(observations),
                message=f"every observation ({len(observations)}) is non-finite in every execution of every "
                "subject: no number was compared (an application that failed silently?)",
            )
        )
    for pattern, criterion, severity, what in () if nowhere else NONFINITE_OBSERVATIONS:  # said once, above
        found = [o for o in observations if (o.get("nonfinite") or {}).get("pattern") == pattern]
        if found:
            reasons.append(
                reason(
                    criterion,
                    passed=False,
                    severity=severity,
                    value=len(found),
                    observation=found[0]["name"],
                    message=f"{len(found)} observation(s) {what}: " + named([o["nonfinite"]["message"] for o in found]),
                )
            )
    reasons += unseen_differences(out)
    reasons += unmeasurable(out)
    if odd := [o for o in out.get("observations") or [] if o.get("odd_executions")]:
        # A failure where the subject's other executions are bit-for-bit equal: a deterministic result one run
        # left (review R2: a registration 10 mm off in one run of 15 only warned); noise around it only warns.
        alone = [
            o for o in odd if o["odd_executions"].get("others_identical") or o["odd_executions"].get("others_agree")
        ]
        reasons.append(
            reason(
                "every execution alike",
                passed=False,
                severity="fail" if alone else "warn",
                value=sum(int(o["odd_executions"]["count"]) for o in odd),
                observation=(alone or odd)[0]["name"],
                message=f"{len(odd)} observation(s) have an execution far from its subject's other executions "
                "(half its value or more, or a quarter of the spread between subjects, where a subject's "
                "executions agree ten times closer; a fifth of its value where they agree bit for bit: a silent "
                "failure, an execution that wrote 0 or a fraction of "
                "its result, or a run stuck in another local minimum?), which an ICC hides when subjects differ "
                "much more than executions"
                + (
                    f", {len(alone)} of them where the others agree (bit for bit, or to a millionth of the departure)"
                    if alone
                    else ""
                )
                + ": "
                # those beside identical runs first (a stable sort keeps the observations' order otherwise)
                + named([_odd(o["name"], o["odd_executions"]) for o in sorted(odd, key=lambda o: o not in alone)]),
            )
        )
    if leaning := [o for o in out.get("observations") or [] if o.get("icc_leans_on")]:
        reasons.append(
            reason(
                "ICC on every subject",
                passed=False,
                severity="warn",
                value=len(leaning),
                observation=leaning[0]["name"],
                message=f"{len(leaning)} observation(s) owe their ICC to one subject far from the others (without it, "
                "the executions vary about as much as the other subjects do): "
                + named(
                    [
                        f"{o['name']}: ICC(A,1) {_icc(o['icc_leans_on']['with'])} with subject "
                        f"{o['icc_leans_on']['subject']}, {_icc(o['icc_leans_on']['without'])} without it"
                        for o in leaning
                    ]
                ),
            )
        )
    if lean := (out.get("voxelwise") or {}).get("icc_leans_on"):
        reasons.append(
            reason(
                "ICC on every subject",
                passed=False,
                severity="warn",
                value=lean["voxels"],
                message=f"the voxels' ICC owes to one subject far from the others (without it, the executions vary "
                f"about as much as the other subjects do): at {100 * lean['voxels']:.0f}% of the sampled voxels, "
                f"ICC(A,1) {_icc(lean['with'])} with subject {lean['subject']} (median), {_icc(lean['without'])} "
                "without it; normalise the intensities, or judge the executions by sd or sigdigits",
            )
        )
    if far := (out.get("voxelwise") or {}).get("far_subjects"):
        reasons.append(
            reason(
                "ICC on every subject",
                passed=False,
                severity="warn",
                value=len(far),
                message=f"{len(far)} subject(s) have images on another scale than the others (mean magnitude over the "
                "voxels with metrics), so the between-subject variance, and every voxel's ICC, owe to them: "
                + named(
                    [
                        f"{f['subject']}: {f['magnitude']:.4g}, {f['ratio']:.3g} times the others' {f['others']:.4g}"
                        for f in far
                    ]
                )
                + "; normalise the intensities, or judge the executions by sd or sigdigits",
            )
        )
    vox = (out.get("voxelwise") or {}).get("summary") or {}
    if outliers := (out.get("voxelwise") or {}).get("support_outliers"):
        count = int(vox.get("support_outliers") or len(outliers))
        reasons.append(
            reason(
                "images of every execution alike",
                passed=False,
                value=count,
                message=f"{count} execution(s) have lost or gained half or more of the non-zero voxels, or of the "
                "mean magnitude, of their subject's other executions (a fifth, where those are bit-for-bit equal), or "
                "lie far from their other repetitions (an "
                "empty, truncated or wrong image, another subject's data: a silent failure?), which a median ICC "
                "hides when subjects differ much more than executions: "
                + named([_unlike(e) for e in outliers])
                + (_shared_level(outliers, (out.get("bitwise") or {}).get("factors") or {}) or ""),
            )
        )
    if apart := (out.get("voxelwise") or {}).get("executions_apart"):
        count = int(vox.get("apart_voxels") or sum(e["voxels"] for e in apart))
        reasons.append(
            reason(
                "images of every execution alike",
                passed=False,
                severity="fail" if count >= APART_VOXELS else "warn",
                value=count,
                message=f"at {count} voxel(s) one execution lies apart from its subject's other executions, which "
                "agree ten times closer, by half the between-subject SD or more (map: apart): "
                + (
                    "each departure a whole multiple of 2 pi, a phase at +/- pi wrapped to the other side (unwrap "
                    "it, or compare its sine and cosine), which the median ICC hides: "
                    if all(e.get("wraps") for e in apart)
                    else "a fit in another local minimum, a failure written as 0 or clipped, which the median ICC "
                    "hides: "
                )
                + named(
                    [
                        f"{_where(e)} at {e['voxels']} voxel(s) (up to {e['largest']:.4g} away, where subjects "
                        f"differ by {e['between_subjects']:.4g})"
                        for e in apart
                    ]
                ),
            )
        )
    differ, nonfinite = int(vox.get("nonfinite_differ_voxels") or 0), int(vox.get("nonfinite_voxels") or 0)
    if nonfinite:
        reasons.append(
            reason(
                "finite voxels in every execution",
                passed=not differ,
                value=differ or nonfinite,
                message=f"{differ} voxel(s) are non-finite (NaN/inf) in some executions and finite or different in "
                "others (map: nonfinite_differ)"
                if differ
                else f"{nonfinite} voxel(s) are non-finite, the same in every execution of their subject: "
                "left out of the metrics",
            )
        )
    voxelwise = out.get("voxelwise") or {}
    if blank := vox.get("nonfinite_subjects") or voxelwise.get("nonfinite_subjects"):
        reasons.append(_blank_subjects(blank, vox, compared="skipped" not in voxelwise))
    if zero := vox.get("zero_subjects") or voxelwise.get("zero_subjects"):
        reasons.append(_zero_subjects(zero))
    reasons += _blind_envelope(out.get("envelope") or {})
    return reasons


def _blank_subjects(blank: list[str], vox: dict[str, Any], *, compared: bool) -> dict[str, Any]:
    """Subjects whose every voxel is non-finite in every execution, left out of the voxel maps: identical, but
    nothing computed (a warning, as tables warn: review DD read no word); where fewer than two other subjects were
    compared, or the others hold zeros only (no voxel finite and non-zero anywhere), nothing was compared: not
    analysable (reviews QQ and UU read "with warnings")."""
    zeros = compared and vox.get("mask_voxels") == 0
    nothing = not compared or zeros
    return reason(
        "something finite in every subject's images",
        passed=False,
        severity="fail" if nothing else "warn",
        estimable=not nothing,
        value=len(blank),
        message=f"every voxel of every execution is non-finite (NaN/inf) for {len(blank)} subject(s): "
        f"{', '.join(blank[:5])}{', ...' if len(blank) > 5 else ''}; nothing of them was compared (an application "
        "that failed silently for them?)" + ("; the other subjects' voxels are all zero" if zeros else ""),
    )


def _by_subject(criterion: str, found: dict[str, Any], what: str, verb: str, tail: str = "") -> dict[str, Any]:
    """A warning on observations that some subjects treat apart (``found``: ``count`` and, by subject, ``count``
    and ``names``), ``what`` saying how (``{n}``: the number of subjects), each subject named with ``verb``."""
    per = found["subjects"]
    return reason(
        criterion,
        passed=False,
        severity="warn",
        value=found["count"],
        observation=next(iter(per.values()))["names"][0],
        message=f"{found['count']} observation(s) {what.format(n=len(per))}; "
        + named([f"{s} {verb} {d['count']}: {', '.join(d['names'][:5])}" for s, d in per.items()])
        + tail,
    )


def _zero_subjects(zero: list[str]) -> dict[str, Any]:
    """A warning naming the subjects left out of the voxel metrics for being 0 everywhere in every execution,
    beside subjects with a signal (review DG: one such subject, kept, made a failing study "sufficiently
    reproducible")."""
    return reason(
        "something in every subject's outputs",
        passed=False,
        severity="warn",
        value=len(zero),
        message=f"every voxel of every execution is 0 for {len(zero)} subject(s): {', '.join(zero[:5])}"
        f"{', ...' if len(zero) > 5 else ''}; left out of the metrics, which judge the other subjects (did the "
        "application fail silently for them, or skip an empty input?)",
    )


DETECTABLE_SDS = 3.0  # a voxelwise version test that cannot see a change of every subject below this many SDs


def _blind_envelope(env: dict[str, Any]) -> list[dict[str, Any]]:
    """A warning when a version test found every voxel (every observation) within the envelope but could only have
    seen a change of more than :data:`DETECTABLE_SDS` baseline run-to-run SDs, in every subject, at a voxel (Bonferroni
    over the voxels, few subjects and repetitions): 294 voxels moved by 2.5 SDs in every subject read "within
    the envelope" and nothing said the test could not see them (a review)."""
    sds = env.get("detectable_sds")
    if not env.get("within_envelope") or not isinstance(sds, int | float) or sds <= DETECTABLE_SDS:
        return []
    if "outside_voxels" not in env:  # a table's, a JSON's: its observations (review VC)
        message = (
            f"every observation is within the baseline's run-to-run envelope, but this comparison only sees a "
            f"change of every subject's value of {sds:.3g} run-to-run SDs or more (critical |z| "
            f"{float(env['z_critical']):.3g}): a smaller change passes unseen; add subjects or repetitions"
        )
    else:
        message = (
            f"every voxel is within the baseline's run-to-run envelope, but voxel by voxel this comparison "
            f"only sees a change of every subject's value of {sds:.3g} run-to-run SDs or more "
            f"({float(env.get('detectable_change') or 0):.4g} at the median voxel; critical |z| "
            f"{float(env['z_critical']):.3g}): a smaller change of a region passes unseen; add subjects or "
            "repetitions, or declare the region's values as a table output"
        )
    return [reason("envelope sensitivity", passed=False, severity="warn", value=sds, message=message)]


def _icc(value: float | None) -> str:
    """An ICC for a message: undefined (0/0, the other subjects' values all equal) is said, never a crash."""
    return "undefined (0/0)" if value is None else f"{value:.3g}"
