"""Differences between executions that no criterion measures: a warning when the data may still be sound (text
fields, files that differ where every number is identical, voxels outside the metrics), a failure when an image
header says the identical voxels are elsewhere or mean something else, or when values differ and every metric
reads them as equal or cannot compute (underflow, overflow, numbers read as text, numbers float64 cannot hold).
Part of the built-in checks of :mod:`reprovip.criteria.builtin`."""

from __future__ import annotations

from typing import Any

from reprovip.criteria.reasons import as_float, named, reason
from reprovip.criteria.voxels import overflow
from reprovip.readers.header_diff import EXTENSIONS, TIME_STEP, changes_meaning

OBSERVED = "differences covered by the observations"
STORED = "numbers stored alike"
UNDERFLOW = "differences the metrics measure"
SQUARES_EXACT = 1e-153  # a within-subject SD below it: squared deviations near or below float64's subnormal range


def unseen_differences(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Warnings about differences between executions that no criterion can see: text fields, files that differ
    where every number (or voxel) is identical, voxels outside the reference mask; failures when the header of
    identical voxels changes where they are or what they mean
    (:func:`~reprovip.readers.header_diff.changes_meaning`)."""
    warn = dict(passed=False, severity="warn")
    found = []
    text = out.get("text_differences") or {}
    unmeasured = int(out.get("unmeasured_differences") or 0)
    if text:
        message = (
            f"{text['count']} text field(s) differ between executions of a subject, which no metric measures: "
            f"{named(text['names'], text['count'])}; the criteria cannot vouch for them: compare two files of one "
            "subject"
        )
        for column, why in (text.get("number_like") or {}).items():
            if ":base64:" in column:
                message += f"; {column}: {why}"
            else:
                message += f"; column {column} looks like numbers but was read as text ({why})"
        found.append(reason(OBSERVED, value=int(text["count"]), observation=text["names"][0], message=message, **warn))
    elif unmeasured:
        fields = out.get("header_differences")
        what = (
            (
                f"voxel is identical: the difference is in the image header ({'; '.join(fields)}, in two files of "
                "one subject)"
                if fields
                else "voxel is identical: the difference is in the image header (units, data type, a label table or "
                "other extension that says what the values mean, ...), in the sign of zero voxels (-0.0 and 0.0, "
                "one number) or in the sign or payload of NaN voxels (one NaN)"
            )
            if out["kind"] in ("image", "labels")
            else "number read from them is identical: the difference is in what no observation measures (a string, "
            "a text column, a word, a number glued to a word) or in the sign of a zero (-0.0 and 0.0, one number)"
        )
        if ignored := out.get("ignored_observations"):  # the study's own choice: their values are not read at all
            what = what.replace(
                "number read from them is identical: the difference is in ",
                "number judged is identical: the difference is in what the study ignores ("
                + (
                    f"differing: {named(ignored['differ'])}"
                    if ignored.get("differ")
                    else f"{named(ignored['names'], ignored['count'])}"
                )
                + ": not compared), ",
            )
        message = (
            f"the files of {unmeasured} subject(s) differ between executions (within a condition or across "
            f"levels) while every {what}; "
            "the criteria cannot vouch for it: compare two files of one subject"
        )
        meaning = [f for f in fields or () if changes_meaning(f)]
        if any(f.startswith(TIME_STEP) for f in meaning):
            # the same values at other times: a series whose repetition time (or its unit) changed only warned
            message += "; for a 4-D image, its time step: the same values at other times (the time axis changed)"
        elif out["kind"] == "labels" and meaning and all(f.startswith(EXTENSIONS) for f in meaning):
            # voxels and header fields alike, a hashed extension not: a label table (what each value names), and
            # a map whose liver and spleen swapped names only warned (a review)
            message += "; for a label map, the names of its labels: the same voxels mean other structures"
        elif meaning:
            # voxel sizes, affines, units, space codes, an intent: where the voxels are or what they measure
            # (a review's pixdim 2x2x2 vs 1x1x3 mm, qform moved 10 mm, mm vs m, t- vs z-map only warned)
            message += (
                "; the header says where the voxels are or what they mean (voxel sizes, affines, units, space codes, "
                "intent, label tables): the same values are another image"
            )
        found.append(reason(OBSERVED, value=unmeasured, message=message, **({"passed": False} if meaning else warn)))
    if fields := out.get("header_meaning_differences"):
        # The voxels differ and so does what the header says of them: no voxel metric sees the header (review C:
        # spatial units in microns under threads=2 read "sufficiently reproducible" once 5 voxels varied by run)
        found.append(
            reason(
                OBSERVED,
                passed=False,
                message="the image header differs between executions of a subject in where the voxels are or what "
                f"they mean ({'; '.join(fields)}, in two files of one subject), beside the voxels that differ: the "
                "same values would be another image, which no voxel metric measures; compare two files of one "
                "subject (nib-ls, fslhd)",
            )
        )
    summary = (out.get("voxelwise") or {}).get("summary") or {}
    unseen = int(summary.get("differ_without_metrics") or 0)
    # Of them, those non-finite in every execution of some subjects (each subject's own mask) are measured over
    # the others' executions: a 0.2 FA change there only warned, and 1-ulp noise there read "not analysable"
    # (review RR)
    measured = int(summary.get("unjudged_measured_voxels") or 0)
    poor = int(summary.get("unjudged_poor_voxels") or 0)
    if unseen:
        message = (
            f"{unseen} voxel(s) differ between executions where no voxel metric is computed (zero in the reference "
            "volume, or non-finite): criteria on the metric maps cannot see them; voxel_differ_fraction and the "
            "differ map do"
        )
        differing = round((as_float(summary.get("differ_fraction")) or 0.0) * int(summary.get("mask_voxels") or 0))
        if measured:
            message += (
                f"; {measured} of them are non-finite in every execution of some subjects (a mask of each subject's "
                f"own) and measured over the others' executions: {poor} spread by more than a third of the "
                "subjects' typical SD (voxel_poor_fraction's measure)"
            )
        if poor:
            found.append(reason("differences covered by the voxel metrics", value=poor, message=message, passed=False))
        # A minority stays a warning: native-space subjects of other sizes differ outside the first one's region.
        elif (unseen := unseen - measured) >= 10 and differing and 2 * unseen >= differing:
            # Most of the difference unjudged: a verdict on the metric maps would speak for the few voxels of the
            # first subject read (a review's first subject had a 27-voxel map: 98% of the differing voxels unseen,
            # "sufficiently reproducible"; the same data with that subject renamed failed).
            message = (
                f"{unseen} of the {max(differing, unseen)} voxel(s) that differ between executions have no voxel "
                "metric (zero in every execution of the first subject read and in the others' first, or "
                "non-finite): the metric maps judge the others only; the verdict cannot rest on them (a subject "
                "whose map covers the others' region read first, or kind: bytes, or voxel_differ_fraction as the "
                "criterion)"
            )
            found.append(
                reason(
                    "differences covered by the voxel metrics",
                    value=unseen,
                    message=message,
                    estimable=False,
                    passed=False,
                )
            )
        else:
            found.append(reason("differences covered by the voxel metrics", value=unseen, message=message, **warn))
    return found


def _below(value: float | None, bound: float) -> bool:
    return value is not None and value < bound


def unmeasurable(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Values that differ between executions where every metric reads them as identical or cannot measure them:
    magnitudes so small (within-subject SD below :data:`SQUARES_EXACT`) that their squares underflow, and
    integers beyond 2**53 equal once in float64; and voxels so large (differences beyond ~1e154) that their
    squares overflow, where no metric is computed."""
    zero = [
        o["name"]
        for o in out.get("observations") or []
        # Not only an SD of 0: at 1e-161 the squares were partly subnormal, the ICC read 0.976 where the same
        # values at 1 read 0.972 with a failing CI, and the study passed (a review).
        if o.get("identical") is False and not o.get("constant") and _below(as_float(o.get("wsd")), SQUARES_EXACT)
    ]
    voxels = int(((out.get("voxelwise") or {}).get("summary") or {}).get("differ_sd_zero_voxels") or 0)
    found = []
    if zero or voxels:
        what = f"{voxels} voxel(s)" if voxels else f"{len(zero)} observation(s) ({named(zero)})"
        found.append(
            reason(
                UNDERFLOW,
                passed=False,
                estimable=False,
                value=voxels or len(zero),
                observation=zero[0] if zero else None,
                message=f"{what} differ between executions while their within-subject SD computes below 1e-153: values "
                "below ~1e-146 in magnitude underflow when squared in float64 (or, for voxels, integers beyond "
                "2**53 are equal once in float64), so no metric measures them; rescale the output (e.g. write "
                "-log10 of a p-value)",
            )
        )
    if over := overflow(out):
        found.append(reason(UNDERFLOW, passed=False, estimable=False, value=over[0], message=over[1]))
    number_like = (out.get("text_differences") or {}).get("number_like") or {}
    encoded = {c: why for c, why in number_like.items() if ":base64:" in c}  # the text reader's (see readers.text)
    numbers = {c: why for c, why in number_like.items() if c not in encoded}
    if numbers:  # numbers the table reader would not guess at (1,234): they differ, and nothing measures them
        found.append(
            reason(
                UNDERFLOW,
                passed=False,
                estimable=False,
                value=len(numbers),
                message=f"{len(numbers)} column(s) or field(s) hold numbers read as text that differ between "
                "executions: "
                + named([f"{c} ({why})" for c, why in numbers.items()])
                + "; no metric measures them: write plain numbers (a decimal point, no unit or thousands "
                "separator, not quoted in JSON), or name the key columns",
            )
        )
    if encoded:  # base64 data in a text file (GIFTI, VTK XML): what the file holds, unread
        found.append(
            reason(
                UNDERFLOW,
                passed=False,
                estimable=False,
                value=len(encoded),
                message=f"{len(encoded)} run(s) of encoded binary data differ between executions: "
                + named([f"{c} ({why})" for c, why in encoded.items()]),
            )
        )
    if stored := out.get("stored_type_differences"):
        noun = "image" if out["kind"] in ("image", "labels") else "array"  # an image's: its voxels (review C)
        found.append(
            reason(
                STORED,
                passed=False,
                severity="warn",
                value=len(stored),
                observation=stored[0]["name"],
                message=f"{len(stored)} {noun}(s) stored with another number type in some executions of a subject ("
                + named([_types(d) for d in stored])
                + "): their values are compared as stored, so a precision one execution lost (float64 written as "
                "float32) shows only as its rounding, which the metrics read as agreement; write every execution's "
                f"{noun}s with one type",
            )
        )
    inexact = out.get("inexact_differences") or {}
    if inexact:
        found.append(
            reason(
                UNDERFLOW,
                passed=False,
                estimable=False,
                value=int(inexact["count"]),
                observation=inexact["names"][0],
                message=f"{inexact['count']} observation(s) hold numbers float64 cannot hold exactly (integers beyond "
                "2**53, decimals written with more digits than float64 keeps) that differ between executions of a "
                "subject while their float64 values are equal "
                f"({named(inexact['names'], inexact['count'])}): no metric measures the difference; declare the "
                "output `kind: bytes` to require identity, or write float64-sized numbers",
            )
        )
    return found


def _types(d: dict[str, Any]) -> str:
    """``'data' float64 in 2 executions, float32 in repetition 2 of subject s2`` from a stored type difference."""
    parts = []
    for dtype, where in d["types"].items():
        if len(where) == 1:
            condition, repetition = where[0]
            place = f"repetition {repetition}" + (f" of {condition}" if condition not in ("", "-") else "")
        else:
            place = f"{len(where)} executions"
        parts.append(f"{dtype} in {place}")
    return f"{d['name']!r} of subject {d['subject']}: " + ", ".join(parts)
