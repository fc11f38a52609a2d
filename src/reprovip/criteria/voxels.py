"""The value of a criterion on an image's voxel summaries (``voxel_icc_a1_median``...), or why it has none.

A voxel summary is a statistic over the voxels where its map is defined: when the maps cannot support it (too
few subjects for an ICC, sums of squares that overflow float64, a map undefined everywhere) the criterion is not
estimable and says why and what to do, never "not computed" alone (docs/criteria.md, "Images").
"""

from __future__ import annotations

from typing import Any

from reprovip.criteria.reasons import as_float

MIN_ICC_SUBJECTS = 3
"""Subjects a voxel ICC needs to be judged: with 2, its between-subject variance has one degree of freedom."""

WITHIN_SUBJECT = "voxel_sd_max, voxel_sigdigits_min or voxel_differ_fraction"


def few_subjects(output: dict[str, Any]) -> str | None:
    """Why the voxel ICCs of an image output with fewer than :data:`MIN_ICC_SUBJECTS` subjects are not judged
    (None when they have enough): a median of 0.95 over 2 subjects read "sufficiently reproducible" while the
    same values as a table had an ICC(A,1) lower bound of 0.69 (a review); an image's ICC has no interval to
    show it.

    Examples
    --------
    >>> few_subjects({"voxelwise": {"subjects": 3}}) is None
    True
    """
    n = (output.get("voxelwise") or {}).get("subjects", output.get("n_subjects"))
    if n is None or int(n) >= MIN_ICC_SUBJECTS:
        return None
    return (
        f"the voxel ICCs rest on {n} subject(s): their between-subject variance has {max(int(n) - 1, 0)} degree(s) "
        f"of freedom, too few to estimate a reliability (an ICC needs {MIN_ICC_SUBJECTS} subjects at least, 10 or "
        f"more for a stable one); add subjects, or judge the executions by {WITHIN_SUBJECT}"
    )


def overflow(output: dict[str, Any], *, within: bool = False) -> tuple[int, str] | None:
    """How many voxels hold finite values whose squares overflow float64, with a sentence saying so; None when
    none does. Images near 1e300 read "not computed" with no reason (a review): their deviations, squared for
    the SD, ICC and significant digits, are infinite. With ``within``, only the voxels whose within-subject
    squares overflow (the SD and significant digits; an ICC squares the differences between subjects too).

    The count is the analysis' ``overflow_voxels`` (voxels with metrics whose mean squares are not finite)
    when it stores one; else the voxels whose SD is not finite (``sd_undefined_voxels``: the SD map is summed
    over voxels with finite values) or, if more, those that differ between executions yet have no ICC (at least
    ``icc_a1_undefined_voxels`` minus the voxels that do not differ: an ICC is 0/0 only where nothing differs).
    ``magnitude_max``, when stored, is the largest subject's mean magnitude.

    Examples
    --------
    >>> overflow({"voxelwise": {"summary": {"sd_undefined_voxels": 8, "magnitude_max": 4e300}}})[1][:52]
    '8 voxel(s) hold values near 4e+300: their squares ov'
    """
    summary = (output.get("voxelwise") or {}).get("summary") or {}
    count = int(summary.get("sd_undefined_voxels") or 0)
    if not within:
        count = int(summary.get("overflow_voxels", max(count, _icc_undefined_where_differ(summary))) or 0)
    if not count:
        return None
    magnitude = as_float(summary.get("magnitude_max"))
    near = f"values near {magnitude:.3g}" if magnitude else "values whose differences exceed ~1e154"
    what = "no SD, ICC or significant digits" if summary.get("sd_undefined_voxels") else "no ICC"
    return count, (
        f"{count} voxel(s) hold {near}: their squares overflow float64 (beyond ~1.8e308), so {what} can be "
        "computed there; rescale the images (divide them by a power of ten)"
    )


def _icc_undefined_where_differ(summary: dict[str, Any]) -> int:
    """At least how many voxels with metrics differ between executions and have no ICC (0 without an ICC map:
    a label map's voxelwise summary has none)."""
    if "icc_a1_undefined_voxels" not in summary:
        return 0
    with_metrics = int(summary.get("voxels_with_metrics") or 0)
    differing = round((as_float(summary.get("differ_fraction")) or 0.0) * int(summary.get("mask_voxels") or 0))
    differing_with_metrics = differing - int(summary.get("differ_without_metrics") or 0)
    return max(int(summary.get("icc_a1_undefined_voxels") or 0) - (with_metrics - differing_with_metrics), 0)


def voxel_value(metric: str, output: dict[str, Any]) -> tuple[str | None, Any, dict[str, Any]]:
    """``metric`` (a ``voxel_*`` summary) of an image output as (None, value, extra): a value that the maps
    cannot support is None with the ``reason`` why."""
    between = metric.startswith("voxel_icc") or metric == "voxel_poor_fraction"  # subjects' variance in it
    if between and (few := few_subjects(output)):
        return None, None, {"reason": few}
    # Over the other voxels a summary would judge the output on part of it (and significant digits read 0
    # where the SD is infinite): not estimable. The SD's own squares are within subjects; an ICC's are not.
    over = overflow(output, within=not between) if metric != "voxel_differ_fraction" else None
    if over:
        return None, None, {"reason": over[1]}
    summary = output.get("summary") or {}
    value = summary.get(metric)
    worst = as_float(summary.get("voxel_icc_a1_volume_median_min"))
    if metric == "voxel_icc_a1_median" and value is not None and worst is not None and worst < float(value):
        # An image of several volumes is judged volume by volume: its worst volume's median (a volume zeroed
        # under threads=2 passed over the whole image: a review)
        where = _volume(summary["voxel_icc_a1_worst_volume"], summary.get("voxel_volumes"))
        return where, worst, {}
    if metric == "voxel_poor_fraction" and value is not None:
        return _poor_where(summary), value, {}
    return None, value, {} if value is not None else {"reason": _missing(metric, output)}


_MEASURES = {
    "series": "the series' fluctuations (each voxel's values less its mean over the volumes)",
    "amplitude": "the series' amplitude (each voxel's SD over the volumes)",
}


def _poor_where(summary: dict[str, Any]) -> str | None:
    """Where ``voxel_poor_fraction`` was found: the worst volume of an image of several, and for a series judged
    by its values about each voxel's mean over the volumes (review FM's shuffled frames) or by each voxel's SD
    over them (review F2's weakened fluctuations), said so.

    Examples
    --------
    >>> _poor_where({"voxel_poor_measure": "series", "voxel_poor_worst_volume": 3, "voxel_volumes": 120})
    "the series' fluctuations (each voxel's values less its mean over the volumes), volume 3 (0-based) of 120"
    >>> _poor_where({"voxel_poor_measure": "amplitude"})
    "the series' amplitude (each voxel's SD over the volumes)"
    """
    where = [_MEASURES[m]] if (m := summary.get("voxel_poor_measure")) in _MEASURES else []
    if summary.get("voxel_poor_worst_volume") is not None:
        where.append(_volume(summary["voxel_poor_worst_volume"], summary.get("voxel_volumes")))
    return ", ".join(where) or None


def _volume(index: int, volumes: int | None) -> str:
    """A volume by its 0-based index, said so: "volume 1 of 6" read as the first (Dxx) where the analysis meant
    the second (Dxy, review RR).

    Examples
    --------
    >>> _volume(1, 6)
    'volume 1 (0-based) of 6'
    """
    return f"volume {index} (0-based) of {volumes}"


def _missing(metric: str, output: dict[str, Any]) -> str:
    """Why ``metric`` has no value: the voxel maps were skipped, no voxel has metrics, values underflow, or the
    map is undefined (0/0) in every voxel."""
    vox = output.get("voxelwise") or {}
    if vox.get("skipped") or "summary" not in vox:
        return (
            f"the voxel maps were not computed: {vox.get('skipped') or output.get('error') or 'no voxelwise analysis'}"
        )
    summary = vox["summary"]
    with_metrics = int(summary.get("voxels_with_metrics") or 0)
    if not with_metrics:
        nonfinite = int(summary.get("nonfinite_voxels") or 0)
        if nonfinite and nonfinite >= int(summary.get("mask_voxels") or 0):
            # review FM: one execution's z-map NaN everywhere read as if every subject's map were empty
            return (
                "no voxel has metrics: every voxel is non-finite in some execution (an execution that wrote NaN "
                "everywhere? `finite voxels in every execution` names where)"
            )
        return "no voxel has metrics (every voxel is zero in every execution of the first subject, or non-finite)"
    if metric == "voxel_poor_fraction":
        return "the subjects do not differ at any voxel with metrics: no between-subject spread to judge them by"
    if summary.get("differ_sd_zero_voxels"):
        return "values below ~1e-146 in magnitude underflow when squared in float64: rescale the images"
    name = metric.removeprefix("voxel_").rpartition("_")[0]
    undefined = int(summary.get(f"{name}_undefined_voxels") or 0)
    if undefined:
        why = " (0/0: the voxel is equal in every execution of every subject)" if name == "icc_a1" else ""
        return f"the {name} map is undefined in {undefined} of the {with_metrics} voxels with metrics{why}"
    return "the voxel summary was not computed"
