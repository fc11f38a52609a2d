"""The maps of a voxelwise analysis once every subject is accumulated: each expanded to the grid, written
(atomically, in float32 when that loses nothing) and summarised; the subjects on another intensity scale.

:mod:`reprovip.analyze.voxelwise` streams the volumes into a :class:`~reprovip.analyze.voxelwise._Stream`; this
module turns its state into files and the summary the criteria read.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nibabel as nib
import numpy as np

from reprovip.analyze.envelope import isolated_voxels, voxel_envelope
from reprovip.analyze.stats import num
from reprovip.criteria.unmeasured import SQUARES_EXACT
from reprovip.metrics import components_from_mean_squares
from reprovip.readers.base import gzip_bytes

if TYPE_CHECKING:
    from reprovip.analyze.series import Fluctuations
    from reprovip.analyze.voxelwise import _Stream


def map_dtype(values: np.ndarray) -> np.dtype:
    """float32 unless it would turn a non-zero value into 0 or a finite one into inf (float64 data of
    extreme magnitude): then ``values``' own dtype."""
    with np.errstate(over="ignore"):
        out = np.asarray(values, dtype=np.float32)
    if values.dtype.kind == "f" and (np.any((out == 0) & (values != 0)) or np.any(np.isinf(out) & np.isfinite(values))):
        return values.dtype
    return np.dtype(np.float32)


def write_map(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """Write a map atomically (a killed analysis never leaves a half-written file), in :func:`_map_dtype`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = data if data.dtype == np.float32 else np.asarray(data, dtype=map_dtype(data))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part.nii.gz")
    tmp.write_bytes(gzip_bytes(nib.Nifti1Image(out, affine).to_bytes()))
    os.replace(tmp, path)


NEGLIGIBLE = 1e-3  # a change of magnitude below this fraction of the study's typical magnitude is no failure


def negligible(outlier: dict[str, Any], magnitudes: dict[str, float]) -> bool:
    """Whether an execution named for its mean magnitude changed by less than :data:`NEGLIGIBLE` of the study's
    typical magnitude (the median over subjects): a subject whose map is solver residue (1e-7 beside log-Jacobians
    of 0.1) tripled in one run, and "images of every execution alike" failed a reproducible study (a review).

    Examples
    --------
    >>> o = dict(measure="mean |value|", value=3e-7, typical=1e-7)
    >>> negligible(o, {"a": 0.1, "b": 0.12, "c": 1e-7}), negligible(dict(o, value=0.3, typical=0.1), {"a": 0.1})
    (True, False)
    """
    if outlier["measure"] != "mean |value|" or not magnitudes:
        return False
    scale = float(np.median(list(magnitudes.values())))
    return abs(float(outlier["value"]) - float(outlier["typical"])) < NEGLIGIBLE * scale


FAR_RATIO = 10.0  # a subject whose images are 10 times (or a tenth of) the others' in magnitude


def far_subjects(magnitudes: dict[str, float]) -> list[dict[str, Any]]:
    """The subjects whose mean magnitude is :data:`FAR_RATIO` times (or a tenth of) the median of the others'
    (3 subjects or more): images on another intensity scale (unnormalised scanner units) carry the between-subject
    variance, so every voxel's ICC is near 1 whatever the executions do (a review: 0.999999 with such a subject,
    0.47 without it; tables get "ICC on every subject" from their ICC without each subject).

    Examples
    --------
    >>> far_subjects({"a": 100.0, "b": 110.0, "c": 95.0, "d": 9800.0})
    [{'subject': 'd', 'magnitude': 9800.0, 'others': 100.0, 'ratio': 98.0}]
    """
    out = []
    if len(magnitudes) < 3:
        return out
    for subject, value in magnitudes.items():
        others = float(np.median([v for s, v in magnitudes.items() if s != subject]))
        if value == 0 or others == 0:  # an empty map (a control without lesion) is on no scale at all
            continue
        ratio = value / others
        if ratio >= FAR_RATIO or ratio <= 1 / FAR_RATIO:
            out.append(dict(subject=subject, magnitude=num(value), others=num(others), ratio=num(ratio)))
    return out


def _quietly(fn, *args):
    """``fn(*args)`` in a pool thread with the overflow warnings off (numpy's error state is per thread)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return fn(*args)


def leaning_voxels(stream: _Stream) -> dict[str, Any] | None:
    """Whether the voxels' ICC rests on one subject, as a table's does (:func:`~reprovip.analyze.stats.
    leaning_subject`: ICC(A,1) 0.75 or more with all subjects, below 0.5 without the farthest one), on the voxels
    sampled with every execution's value: the subject so named at half of them or more, the fraction of them,
    and the median ICCs with and without it. A subject on a 3 times larger intensity scale made the voxel ICC
    0.998 where the others gave 0.0009: "sufficiently reproducible" (a review)."""
    from reprovip.analyze.stats import leaning_subject

    subjects = list(stream.sampled)
    if len(subjects) < 4 or stream.sample is None:
        return None
    values = np.stack([stream.sampled[s] for s in subjects], axis=1).T  # (voxels, subjects, executions)
    keep = ~stream.nonfinite[stream.index[stream.sample]]
    leans = [lean for lean, ok in zip(leaning_subject(values[keep], subjects), keep[keep], strict=True) if ok and lean]
    if not leans:
        return None
    top, count = Counter(lean["subject"] for lean in leans).most_common(1)[0]
    if 2 * count < int(keep.sum()):
        return None
    mine = [lean for lean in leans if lean["subject"] == top]
    return dict(
        subject=top,
        voxels=num(count / int(keep.sum())),
        **{"with": num(np.median([m["with"] for m in mine])), "without": _median_icc([m["without"] for m in mine])},
    )


def _median_icc(values: list[float | None]) -> float | None:
    """The median of ICCs, None (0/0) counted as none: undefined when every one is."""
    defined = [v for v in values if v is not None]
    return num(np.median(defined)) if defined else None


def map_summary(name: str, values: np.ndarray) -> dict[str, Any]:
    """Statistics over the voxels where the map is defined; the others (e.g. an ICC that is not estimable,
    0/0, in a voxel equal in every execution of every subject) are counted, not hidden."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {f"{name}_undefined_voxels": int(values.size)}
    return {
        f"{name}_undefined_voxels": int(values.size - v.size),
        f"{name}_mean": num(v.mean()),
        f"{name}_median": num(np.median(v)),
        f"{name}_p05": num(np.percentile(v, 5)),
        f"{name}_min": num(v.min()),
        f"{name}_max": num(v.max()),
    }


def volume_medians(icc: np.ndarray, finite: np.ndarray, index: np.ndarray, shape: tuple[int, ...]) -> dict[str, Any]:
    """For an image of several volumes (4D: DWI shells, tensor components, time points), the lowest of the
    volumes' median voxel ICCs and its volume (0-based, in memory order past the third axis): a volume zeroed
    under threads=2 (3% of the voxels) passed the median and 5th-percentile criteria over the whole image (a
    review). Empty for a 3D image.

    Examples
    --------
    >>> icc = np.array([0.99, 0.98, 0.1, 0.2, 0.97, 0.96])
    >>> volume_medians(icc, np.ones(6, bool), np.arange(6), (2, 1, 1, 3))
    {'icc_a1_volume_median_min': 0.15000000000000002, 'icc_a1_worst_volume': 1, 'volumes': 3}
    """
    volumes = math.prod(shape[3:]) if len(shape) > 3 else 1
    if volumes < 2:
        return {}
    ok = finite & np.isfinite(icc)
    which = index[ok] // math.prod(shape[:3])
    values = icc[ok]
    medians = {int(v): float(np.median(values[which == v])) for v in np.unique(which)}
    if not medians:
        return {}
    worst = min(medians, key=medians.__getitem__)
    return {"icc_a1_volume_median_min": num(medians[worst]), "icc_a1_worst_volume": worst, "volumes": volumes}


DUST = 1e-5  # of the image's typical magnitude: a voxel every execution leaves below it is numerical dust


def dust_voxels(
    mean: np.ndarray, sd: np.ndarray, between: np.ndarray, finite: np.ndarray, scale: float | None = None
) -> np.ndarray:
    """The voxels with metrics whose values, in every subject and execution, stay below :data:`DUST` of the
    image's magnitude (the 99.9th percentile of the voxels' |mean|: spikes in fewer voxels do not move it, and a
    brain of a few percent of a grid of dust still sets it), by their root mean square. A background exactly 0
    under threads=1 and 1e-6 under threads=2, beside displacements of millimetres, has no subject spread, so its
    ICC is near 0, and the median voxel ICC of a warp field whose brain was identical read "not reproducible"
    (review R2). Their differences are below 2 DUST of the image's scale; the ICC's summaries leave them out
    (counted in ``icc_a1_dust_voxels``). ``scale``, when given, is the image's magnitude (a series' values
    about their means are judged by the image's, not by their own).

    Examples
    --------
    >>> mean, sd = np.array([5.0, 3.0, 4.0, 0.0]), np.array([0.1, 0.1, 0.1, 7e-7])
    >>> dust_voxels(mean, sd, np.array([1.0, 1.0, 1.0, 0.0]), np.ones(4, bool)).tolist()
    [False, False, False, True]
    """
    if not finite.any():
        return np.zeros(finite.shape, dtype=bool)
    if scale is None:
        scale = float(np.percentile(np.abs(mean[finite]), 99.9))
    with np.errstate(over="ignore", invalid="ignore"):
        rms = np.sqrt(mean * mean + sd * sd + between * between)
    return finite & (rms < DUST * scale)


POOR_SPREAD = 1 / 3  # executions spread more than this of the subjects' typical SD: an ICC below 0.9 against it
POOR_ICC = 0.9  # ... where the voxel's own ICC(A,1) is below the seed's threshold too
SIGNAL = 0.01  # the typical SD is taken where |mean| is at least this fraction of the image's magnitude


def poor_voxels(
    sd: np.ndarray,
    between: np.ndarray,
    icc: np.ndarray,
    mean: np.ndarray,
    judged: np.ndarray,
    index: np.ndarray,
    shape: tuple[int, ...],
    blind: np.ndarray | None = None,
) -> dict[str, Any]:
    """The fraction of the ``judged`` voxels that are **poor**: their own ICC(A,1) below :data:`POOR_ICC` (the
    seed's threshold) and their executions' spread (within-subject SD) above :data:`POOR_SPREAD` of the image's
    typical between-subject SD (the median over its voxels of signal, |mean| at least :data:`SIGNAL` of the
    image's magnitude, where subjects differ), volume by volume for an image of several. The median voxel ICC
    passed a 25% change of an eighth of a brain under threads=2, and the 5th percentile passed it too (reviews
    FS, R2). Both conditions, since either alone cried wolf (review VV): a voxel's own ICC is near 0 where no
    subject differs (a saturated probability map, a background of dust) with a negligible spread, and a
    probability map's soft edges, its subjects far apart there, spread more than a third of the interior's
    typical SD with an ICC of 0.98; a background of 1e-6 set the typical SD to ~0 until only voxels of signal
    gave it.

    Voxels equal in every execution of every subject (a constant background) are not counted. Returns
    ``poor_fraction`` (the largest of the whole image's and its volumes'), ``poor_voxels``,
    ``subject_sd_median`` (the scale, the first volume's for several) and, when a volume is worse than the
    whole, ``poor_worst_volume`` (0-based); empty when no voxel's subjects differ. With ``blind`` (voxels that
    differ without metrics, non-finite in every execution of some subjects: a mask of each subject's own, as
    FA maps are NaN outside it, whose ``sd`` the other subjects' executions give; their ICC, zeros standing for
    the non-finite subjects, is not), ``unjudged_measured_voxels`` counts them and ``unjudged_poor_voxels``
    those whose spread exceeds a third of the typical SD.

    Examples
    --------
    Ten voxels whose subjects differ by an SD of 3 (ICC 0.95 where executions spread by 0.1); two spread by 2
    (ICC 0.7) and one by 2 with its own subjects far apart (ICC 0.96):

    >>> sd = np.array([0.1] * 7 + [2.0, 2.0, 2.0])
    >>> icc = np.array([0.95] * 7 + [0.7, 0.7, 0.96])
    >>> poor_voxels(sd, np.full(10, 3.0), icc, np.full(10, 50.0), np.ones(10, bool), np.arange(10), (10, 1, 1))
    {'poor_fraction': 0.2, 'poor_voxels': 2, 'subject_sd_median': 3.0}
    """
    # not the voxels equal in every execution of every subject: a CT's air at -1024 HU, "signal" to the non-zero
    # mask, diluted a tumour's 40 HU change under threads=2 by a third, below the warning (review CT)
    ok = judged & np.isfinite(sd) & np.isfinite(between) & ~((sd == 0) & (between == 0))
    if not ok.any():
        return {}
    volume = index // math.prod(shape[:3])
    signal = np.abs(mean) >= SIGNAL * float(np.percentile(np.abs(mean[ok]), 99.9))
    poor = np.zeros(ok.shape, dtype=bool)
    fractions, scale, unjudged = {}, None, 0
    for v in np.unique(volume[ok]):
        here = ok & (volume == v)
        spread = between[here & signal & (between > 0)]
        if not spread.size:
            continue
        typical = float(np.median(spread))
        scale = typical if scale is None else scale
        poor[here] = (sd[here] > POOR_SPREAD * typical) & ~(icc[here] >= POOR_ICC)
        fractions[int(v)] = np.count_nonzero(poor[here]) / np.count_nonzero(here)
        if blind is not None:
            unjudged += int(np.count_nonzero(blind & (volume == v) & (sd > POOR_SPREAD * typical)))
    if scale is None:
        return {}
    whole = np.count_nonzero(poor) / np.count_nonzero(ok)
    out = {"poor_fraction": num(whole), "poor_voxels": int(np.count_nonzero(poor)), "subject_sd_median": num(scale)}
    if blind is not None:
        out.update(unjudged_measured_voxels=int(np.count_nonzero(blind)), unjudged_poor_voxels=unjudged)
    worst = max(fractions, key=fractions.__getitem__)
    if len(fractions) > 1 and fractions[worst] > whole:
        out.update(poor_fraction=num(fractions[worst]), poor_worst_volume=worst)
    return out


def series_poor(
    fluctuations: Fluctuations,
    judged: np.ndarray,
    finite: np.ndarray,
    mean: np.ndarray,
    index: np.ndarray,
    shape: tuple[int, ...],
) -> dict[str, Any]:
    """:func:`poor_voxels` of a 4-D image's values about each voxel's own mean over the volumes (its series'
    fluctuations), keyed ``series_*``: the subjects' spread is then their fluctuations, not their mean
    intensities, and frames shuffled or shifted by one under threads=2 make most values poor (review FM: the
    values themselves read "sufficiently reproducible"). Judged at the ``judged`` values whose voxel is finite
    in every volume (a non-finite value moves its voxel's mean), less the fluctuations below :data:`DUST` of
    the image's magnitude (its ``mean`` sets it, as it sets the voxels of signal). The same of each voxel's SD
    over the volumes, a 3-D image, is keyed ``amplitude_*`` (review F2: fluctuations 20% weaker passed).

    Examples
    --------
    Two voxels of 3 volumes, 3 subjects whose series differ; the last subject's volumes reversed in one of
    its two executions (the first volume worst), then 1e-3 of noise instead:

    >>> from reprovip.analyze.series import Fluctuations
    >>> series = [np.array(v, float) for v in ([100, 200, 104, 206, 98, 197], [110, 210, 108, 205, 115, 212],
    ...                                         [120, 220, 125, 214, 118, 226])]
    >>> every, mean, shape = np.ones(6, bool), np.tile([110.0, 210.0], 3), (2, 1, 1, 3)
    >>> for other in (lambda s, x: x if s < 2 else x.reshape(3, 2)[::-1].ravel(), lambda s, x: x + 1e-3):
    ...     f = Fluctuations(np.arange(6), shape)
    ...     for s, x in enumerate(series):
    ...         f.add([x, other(s, x)])
    ...     found = series_poor(f, every, every, mean, np.arange(6), shape)
    ...     print(found["series_poor_voxels"], found["series_poor_fraction"], found.get("series_poor_worst_volume"))
    3 1.0 0
    0 0.0 None
    """
    ok = judged & fluctuations.whole_voxels(finite)
    if not ok.any():
        return {}
    scale = float(np.percentile(np.abs(mean[finite]), 99.9))
    out = {f"series_{k}": v for k, v in _poor_of(fluctuations.acc, ok, scale, mean, index, shape).items()}
    # each voxel's temporal SD, a 3-D image: its voxels of signal are those of the series' mean
    spatial = fluctuations.whole_spatial(finite)
    centre, n = fluctuations.spatial_mean(mean), fluctuations.amplitude.size
    amplitude = _poor_of(fluctuations.amplitude, spatial, scale, centre, np.arange(n), (n, 1, 1), relative=True)
    return out | {f"amplitude_{k}": v for k, v in amplitude.items() if k != "poor_worst_volume"}


def _poor_of(
    acc: Any,
    ok: np.ndarray,
    scale: float,
    mean: np.ndarray,
    index: np.ndarray,
    shape: tuple[int, ...],
    *,
    relative: bool = False,
) -> dict[str, Any]:
    """:func:`poor_voxels` of a :class:`~reprovip.metrics.oneway.OneWayAccumulator`'s values at ``ok``, less
    those below :data:`DUST` of ``scale`` (the image's magnitude) and, ``relative``, those whose executions and
    subjects both differ by less than :data:`DUST` of their own value: a z-scored series has a temporal SD of 1
    in every subject, its subjects' spread is rounding, and float32 rounding under threads=2 read "not
    reproducible" (review RG)."""
    sd, between, icc, centre = (np.asarray(f()) for f in (acc.within_sd, acc.between_sd, acc.icc1, acc.grand_mean))
    ok = ok & ~dust_voxels(centre, sd, between, ok, scale=scale)
    if relative:
        ok &= ~(np.maximum(sd, between) < DUST * np.abs(centre))
    return poor_voxels(sd, between, icc, mean, ok, index, shape)


def fold_series(summary: dict[str, Any]) -> None:
    """Judge an image by the worst of its values', its series' and its series' amplitude's poor fractions (one
    criterion, ``voxel_poor_fraction``): ``poor_measure`` is ``"series"`` or ``"amplitude"`` when that decides,
    with its count, scale and worst volume.

    Examples
    --------
    >>> s = {"poor_fraction": 0.01, "poor_voxels": 3, "series_poor_fraction": 0.4, "series_poor_voxels": 120,
    ...      "amplitude_poor_fraction": 0.2}
    >>> fold_series(s); s["poor_fraction"], s["poor_voxels"], s["poor_measure"]
    (0.4, 120, 'series')
    """
    for measure in ("series", "amplitude"):
        found = summary.get(f"{measure}_poor_fraction")
        if found is None or (summary.get("poor_fraction") is not None and not found > summary["poor_fraction"]):
            continue
        for key in ("poor_fraction", "poor_voxels", "subject_sd_median", "poor_worst_volume"):
            summary.pop(key, None)
            if f"{measure}_{key}" in summary:
                summary[key] = summary[f"{measure}_{key}"]
        summary["poor_measure"] = measure


def summed_shares(variance: np.ndarray, sources: tuple[str, ...], at: np.ndarray) -> dict[str, Any]:
    """Each source's share of what the executions vary by summed over the voxels ``at`` (where they differ):
    ``share_<source>_summed``, the sources other than the subjects', their variance components added over the
    voxels. A factor that sends a few voxels to another minimum while another adds 1e-6 noise everywhere has a
    median share of 0 and nearly all of this (review DD: the noise's factor was named first).

    Examples
    --------
    >>> v = np.array([[1.0, 0.0, 1.0], [1.0, 6.0, 1.0], [1.0, 0.0, 1.0]])  # subject, threads, residual per voxel
    >>> summed_shares(v, ("subject", "threads", "residual"), np.ones(3, bool))
    {'share_threads_summed': 0.6666666666666666, 'share_residual_summed': 0.3333333333333333}
    """
    keep = [i for i, src in enumerate(sources) if src != "subject"]
    if not at.any() or not keep:
        return {}
    totals = {sources[i]: float(np.sum(variance[at, i])) for i in keep}
    whole = sum(totals.values())
    if not whole > 0:
        return {}
    return {f"share_{src.replace(':', 'x')}_summed": num(total / whole) for src, total in totals.items()}


def finish_maps(stream: _Stream, out_dir: Path, pool: ThreadPoolExecutor, in_flight: int) -> dict[str, Any]:
    """The summary and the maps of :func:`_finish_maps`, without numpy's overflow warnings: squares beyond float64
    (values near 1e154 or more) give inf or NaN, counted in ``overflow_voxels`` and explained by the criteria."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _finish_maps(stream, out_dir, pool, in_flight)


def _finish_maps(stream: _Stream, out_dir: Path, pool: ThreadPoolExecutor, in_flight: int) -> dict[str, Any]:
    """The summary, and the maps, each expanded to the grid, written and summarised by ``pool`` (compression
    and numpy's sorting release the GIL) while the next is computed."""
    shape, affine = stream.ref[0], stream.ref[1]
    summary: dict[str, Any] = {
        "mask_voxels": int(stream.mask.sum()),
        "voxels": int(stream.mask.size),
        "differ_fraction": num(stream.differ[stream.mask].mean()) if stream.mask.any() else 0.0,
        "nonfinite_voxels": int(stream.nonfinite.sum()),
        "nonfinite_differ_voxels": int(stream.nonfinite_differ.sum()),
        "nonfinite_everywhere_voxels": 0 if stream.everywhere is None else int(stream.everywhere.sum()),
        "nonfinite_subjects": sorted(stream.blank),
        "zero_subjects": sorted(stream.zero),
    }
    files: dict[str, str] = {}  # in a fixed order, whichever map is written first
    tasks: list[Future] = []

    def write(name: str, grid: np.ndarray) -> None:
        write_map(Path(files[name]), grid.reshape(shape, order="F"), affine)

    def metric(name: str, values: np.ndarray, finite: np.ndarray, judged: np.ndarray | None = None) -> dict[str, Any]:
        write(name, stream.full(values, finite))
        if not name.startswith("share_"):
            return map_summary(name, values[finite if judged is None else judged])
        # Over the voxels where executions differ: elsewhere the executions' shares are 0 by definition, so a
        # median over the whole mask said "0% of the variance" of a difference confined to a region.
        at = finite & differ_at if differ_at[finite].any() else finite
        moving = values[at]
        if not moving.size:
            return {}
        # A source that carries a region only (a factor changing one structure while run-to-run noise is
        # everywhere) has a median share near 0: its 95th percentile and the fraction of differing voxels it
        # dominates say where it matters. Dominates: half or more of what the executions vary by there (the
        # voxel's variance less the subjects'), since subjects far apart made every factor's share of the total
        # tiny (a review: +5 over a third of the grid, 100 run-to-run SDs, blamed on run-to-run noise).
        whole = 1.0 if name == "share_subject" else executions[at]
        return {
            f"{name}_median": num(np.median(moving)),
            f"{name}_p95": num(np.percentile(moving, 95)),
            f"{name}_major_fraction": num(np.count_nonzero((moving >= 0.5 * whole) & (moving > 0)) / moving.size),
        }

    def submit(fn, name: str, *args) -> None:
        if len(tasks) >= in_flight:  # a few full-grid float64 maps in memory at a time
            tasks[-in_flight].result()
        files[name] = str(out_dir / f"{name}.nii.gz")
        tasks.append(pool.submit(_quietly, fn, name, *args))

    acc, envelope = stream.acc, None
    if acc is not None:  # the variance components in a pool thread while this one computes the rater metrics
        components = pool.submit(_quietly, lambda: components_from_mean_squares(acc.mean_squares()))
    for name, grid in (("differ", stream.differ), ("nonfinite_differ", stream.nonfinite_differ), ("mask", stream.mask)):
        submit(write, name, grid)
    if acc is not None:
        finite = ~stream.nonfinite[stream.index]  # the voxels with metrics
        differ_at = stream.differ[stream.index]
        with_metrics = np.zeros(stream.mask.size, dtype=bool)
        with_metrics[stream.index] = finite
        summary["voxels_with_metrics"] = int(finite.sum())
        summary["voxels_without_metrics"] = int(np.count_nonzero(stream.mask & ~with_metrics))
        # Differences no voxel metric sees (outside the reference volume's non-zero region, or non-finite):
        # the verdict warns about them, since a criterion on the metric maps cannot.
        summary["differ_without_metrics"] = int(np.count_nonzero(stream.differ & stream.mask & ~with_metrics))
        sd = np.asarray(acc.within_sd())
        # Voxels that differ while their SD is below SQUARES_EXACT: squares of their deviations are subnormal
        # (inexact) or 0, so no metric measures them.
        inexact = stream.differ[stream.index] & finite & (sd < SQUARES_EXACT)
        summary["differ_sd_zero_voxels"] = int(np.count_nonzero(inexact))
        stream.distant_executions()
        stream.support_outliers = [o for o in stream.support_outliers if not negligible(o, stream.magnitudes)]
        summary["support_outliers"] = len(stream.support_outliers)
        # Squares that overflow float64 (values near 1e154 or beyond): their metrics are undefined, and the
        # criteria say why and to rescale (a review's maps near 1e300 read "not computed", no reason).
        summary["overflow_voxels"] = int(np.count_nonzero(np.asarray(acc.overflowed()) & finite))
        if stream.magnitudes:
            summary["magnitude_max"] = num(max(stream.magnitudes.values()))
        submit(metric, "sd", sd, finite)
        submit(metric, "sigdigits", np.asarray(acc.min_significant_digits(base=10)), finite)
        icc = np.asarray(acc.icc_a1())
        comps = components.result()
        shares = np.asarray(comps.share)
        # what the executions vary by, per voxel: the closure `metric` reads it for the share maps
        subject = shares[..., comps.sources.index("subject")] if "subject" in comps.sources else 0.0
        executions = 1.0 - np.broadcast_to(subject, shares.shape[:-1])
        for i, src in enumerate(comps.sources):
            submit(metric, f"share_{src.replace(':', 'x')}", shares[..., i], finite)
        variance = np.asarray(comps.variance)
        summary.update(summed_shares(variance, comps.sources, finite & differ_at))
        between = np.sqrt(variance[..., comps.sources.index("subject")]) if "subject" in comps.sources else 0 * sd
        mean = np.asarray(acc.grand_mean())
        dust = dust_voxels(mean, sd, between, finite)
        if not (finite & ~dust).any():  # dust everywhere: nothing else to judge by
            dust[:] = False
        summary["icc_a1_dust_voxels"] = int(np.count_nonzero(dust))
        judged = finite & ~dust
        submit(metric, "icc_a1", icc, finite, judged)
        summary.update(volume_medians(icc, judged, stream.index, stream.ref[0]))
        # voxels non-finite in every execution of some subjects, differing in others': measured over those
        blind = ~finite & differ_at & np.isfinite(sd) & ~stream.nonfinite_differ[stream.index]
        summary.update(poor_voxels(sd, between, icc, mean, judged, stream.index, stream.ref[0], blind))
        if stream.series is not None:
            summary.update(series_poor(stream.series, judged, finite, mean, stream.index, stream.ref[0]))
            fold_series(summary)
        distance, apart = stream.executions_apart(between, sd, finite)
        summary["apart_voxels"] = int(np.count_nonzero(distance))
        if apart:  # where they are: the distance of the execution apart, 0 elsewhere
            submit(write, "apart", stream.full(distance, finite))
        if (stats := acc.envelope_stats()) is not None:
            envelope = _envelope(stream, stats, finite, mean)
            submit(write, "envelope_outside", stream.full(envelope.pop("outside"), finite))
    for task in tasks:
        summary.update(task.result() or {})
    out = {"maps": files, "summary": summary, "subjects": stream.n, "spacing": [float(z) for z in stream.ref[2][:3]]}
    if stream.stored_types:
        out["stored_types"] = stream.stored_types[:20]
    if stream.header_pair is not None:  # compared by the engine (header_differences), whatever the voxels do
        out["header_pair"] = [str(p) for p in stream.header_pair]
    if stream.support_outliers:
        out["support_outliers"] = stream.support_outliers[:100]
    if acc is not None and apart:
        out["executions_apart"] = apart[:100]
    if far := far_subjects(stream.magnitudes):
        out["far_subjects"] = far
    if stream.acc is not None and (lean := leaning_voxels(stream)) is not None:
        out["icc_leans_on"] = lean
    if envelope is not None:
        out["envelope"] = envelope
    return out


def _envelope(
    stream: _Stream, stats: tuple[np.ndarray, np.ndarray, int, np.ndarray], finite: np.ndarray, magnitude: np.ndarray
) -> dict[str, Any]:
    """The voxelwise envelope test at the voxels with metrics finite everywhere, each condition of the other
    factors against its own baseline spread (``magnitude``, the voxels' grand mean, orders the noise a voxel
    agreeing by chance borrows); ``outside`` as float 0/1 at every voxel with metrics (for the map)."""
    diff, variance, tests, shift = stats  # (conditions, voxels)
    design, axis = stream.design, stream.version_axis
    levels = design.factors[axis][1]
    sign, new_varies = stream.acc.envelope_shift_sign()[:, finite], stream.acc.envelope_new_varies()[:, finite]
    outside, env = voxel_envelope(
        diff[:, finite],
        variance[:, finite],
        tests,
        design.k,
        stream.n * (design.k - 1),  # one condition's baseline spread
        tuple(str(lv) for lv in levels),
        mean_shift=shift[:, finite],
        n_subjects=stream.n,
        signal=stream.acc.envelope_signal()[:, finite],
        new_varies=new_varies,
        magnitude=magnitude[finite],
        shift_sign=sign,
        resolution=np.float32 if stream.single is True else np.float64,
        # a patch of changed voxels whose baseline agrees, moved one way or exact in the new version: a region
        isolated=isolated_voxels(
            (variance[:, finite] == 0) & (diff[:, finite] != 0), stream.index[finite], stream.ref[0], sign, new_varies
        ),
    )
    at = stream.index[np.flatnonzero(finite)[env.pop("worst_index")]] if finite.any() else 0
    voxel = tuple(int(i) for i in np.unravel_index(at, stream.ref[0], order="F"))
    # The conditions in the order of the statistics: the other factors' levels in C order.
    others = [c[:axis] + c[axis + 1 :] for c in design.cells if c[axis] == levels[0]][env["worst_condition"]]
    names = [f for f in design.factor_names if f != design.factor_names[axis]]
    env["worst_condition"] = ",".join(f"{f}={lv}" for f, lv in zip(names, others, strict=True)) or None
    where = f"voxel {voxel}" + (f", {env['worst_condition']}" if env["worst_condition"] else "")
    env["worst_observation"] = where
    env["detail"] += where.removeprefix("voxel ")
    grid = np.zeros(finite.size)
    grid[np.flatnonzero(finite)[outside]] = 1.0
    env["outside"] = grid
    return env
