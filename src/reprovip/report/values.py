"""The values behind the plots that need more than the analysis document: per-subject values across
executions (strip plot) and the paired levels of a two-level factor (Bland–Altman).

``analyze`` keeps them while it has them in memory: :func:`save_plot_values` writes one ``.npz`` sidecar per
output next to its maps (``<store>/results/<study>/analysis/<output>/values-<sha256[:16]>.npz``) and returns
the reference stored in the document (``output["plot_values"]``). The report and the dashboard read that file
back (:func:`load_plot_values`), never the outputs themselves: a content hash binds the file to the document,
and a file that is a symlink, outside the store or altered is not read.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.store.atomic import write_bytes_atomic

MAX_VALUES = 2**23
"""Largest number of values stored per output (64 MiB of float64); beyond it no plot data is kept."""
FILE = re.compile(r"^values-[0-9a-f]{16}\.npz$")
Z = 1.959963984540054


@dataclass(frozen=True)
class Values:
    """Observation values ``(n_obs, n_subjects, *levels, k)`` of the complete subjects."""

    names: list[str]
    values: np.ndarray
    subjects: list[str]
    factors: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def conditions(self) -> list[str]:
        """Condition keys in C order of the factor levels (``-`` without factors)."""
        return [
            ",".join(f"{f}={lv}" for (f, _), lv in zip(self.factors, c, strict=True)) or "-"
            for c in itertools.product(*[lv for _, lv in self.factors])
        ]

    def select(self, names: list[str]) -> Values | None:
        """Only observations ``names`` (in that order; unknown names skipped); None when none is left."""
        index = {n: i for i, n in enumerate(self.names)}
        keep = [n for n in names if n in index]
        if not keep:
            return None
        return Values(keep, self.values[[index[n] for n in keep]], self.subjects, self.factors)


def save_plot_values(
    folder: Path,
    names: list[str],
    values: np.ndarray,
    subjects: list[str],
    factors: tuple[tuple[str, tuple[str, ...]], ...],
) -> dict[str, Any]:
    """Write the values of an output's observations to ``folder`` and return the document's reference.

    Parameters
    ----------
    folder : Path
        The output's analysis folder (created when missing).
    names, values, subjects, factors
        As gathered by the analysis: ``values`` has shape ``(len(names), len(subjects), *levels, k)``.

    Returns
    -------
    dict
        ``{"file", "sha256", "observations", "subjects"}``, or ``{"skipped": why}`` when there is nothing to
        store or more than :data:`MAX_VALUES` values.

    Examples
    --------
    >>> import tempfile
    >>> ref = save_plot_values(Path(tempfile.mkdtemp()), ["x"], np.zeros((1, 2, 3)), ["s1", "s2"], ())
    >>> ref["file"].startswith("values-"), ref["observations"], ref["subjects"]
    (True, 1, 2)
    """
    arr = np.asarray(values, dtype=np.float64)
    if not names or not subjects or arr.size == 0:
        return dict(skipped="no finite observation of a complete subject")
    if arr.size > MAX_VALUES:
        return dict(skipped=f"{arr.size} values: more than {MAX_VALUES} are not kept for plots")
    buf = io.BytesIO()
    meta = json.dumps(dict(names=list(names), subjects=list(subjects), factors=[[f, list(lv)] for f, lv in factors]))
    np.savez(buf, values=arr, meta=np.array(meta))
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    name = f"values-{digest[:16]}.npz"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.is_file() or path.is_symlink():  # same content, same name: a re-analysis writes nothing new
        write_bytes_atomic(path, data)
    return dict(file=name, sha256=digest, observations=len(names), subjects=len(subjects))


def plot_values_path(store: Path, study: str, output: dict[str, Any]) -> Path | None:
    """Where the plot values of ``output`` are, when the file is a regular file (not a symlink) inside ``store``."""
    ref = output.get("plot_values") or {}
    name = ref.get("file")
    if not isinstance(name, str) or not FILE.match(name):
        return None
    folder = (
        Path(store) / "results" / study.replace("/", "__") / "analysis" / str(output.get("name")).replace("/", "__")
    )
    path = folder / name
    try:
        root = Path(store).resolve(strict=True)
        if path.is_symlink() or not path.resolve(strict=True).is_relative_to(root):
            return None
    except (OSError, RuntimeError):
        return None
    return path if path.is_file() else None


def load_plot_values(store: Path | None, study: str, output: dict[str, Any]) -> Values | None:
    """The values ``analyze`` stored for ``output``; None when absent, a symlink, outside the store or altered."""
    path = plot_values_path(store, study, output) if store is not None else None
    if path is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))  # no symlink swapped in after the check
        with os.fdopen(fd, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != (output.get("plot_values") or {}).get("sha256"):
        return None  # another analysis' file, or altered: the document's numbers are not these
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            values, meta = z["values"], json.loads(str(z["meta"]))
        factors = tuple((str(f), tuple(str(x) for x in lv)) for f, lv in meta["factors"])
        names, subjects = [str(n) for n in meta["names"]], [str(s) for s in meta["subjects"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if values.shape[:2] != (len(names), len(subjects)) or values.ndim != 3 + len(factors):
        return None
    return Values(names, values, subjects, factors)


def _mean(x: np.ndarray, axis: int | None = None) -> np.ndarray:
    """The mean along ``axis``; where the sum overflows (values near 1.8e308), the mean of the values divided by
    a power of two (exact) is scaled back, so finite values have a finite mean.

    Examples
    --------
    >>> float(_mean(np.array([1.7e308, 1.7e308])))
    1.7e+308
    """
    with np.errstate(over="ignore", invalid="ignore"):
        m = np.asarray(x.mean(axis=axis))
    if not np.isfinite(m).all():
        e = int(np.frexp(np.abs(x).max())[1])  # 1024 near the float64 max: 2.0 ** e itself overflows
        m = np.where(np.isfinite(m), m, np.ldexp(np.ldexp(x, -e).mean(axis=axis), e))
    return m


def strip_data(vals: Values, i: int, *, max_subjects: int = 30) -> dict[str, Any]:
    """Per subject, every execution's value and its deviation from the subject's mean.

    A subject whose executions are all equal gets deviations of exactly zero (the mean of equal floats can
    differ from them in the last bit). Subjects with the largest spread are kept when there are more than
    ``max_subjects``.
    """
    v = vals.values[i]
    n_subj, k = v.shape[0], v.shape[-1]
    flat = v.reshape(n_subj, -1, k)
    with np.errstate(over="ignore", invalid="ignore"):  # near 1.8e308 the spread is inf: still the largest
        spread = flat.reshape(n_subj, -1).std(axis=1)
    chosen = sorted(np.argsort(-spread, kind="stable")[:max_subjects])
    subjects = []
    for si in chosen:
        cells = flat[si]
        same = bool((cells == cells.flat[0]).all())
        mean = float(cells.flat[0]) if same else float(_mean(cells))
        conds, reps, values = zip(
            *[(c, r, float(cells[c, r])) for c in range(cells.shape[0]) for r in range(k)], strict=True
        )
        subjects.append(
            dict(
                subject=vals.subjects[si],
                values=list(values),
                conditions=list(conds),
                repetitions=list(reps),
                # x - mean overflows only when values of both signs near 1.8e308: the plot skips it, visibly.
                deviations=[0.0 if same else x - mean for x in values],
            )
        )
    return dict(
        observation=vals.names[i],
        conditions=vals.conditions,
        subjects=subjects,
        shown=len(chosen),
        total=n_subj,
    )


def bland_altman_data(vals: Values, i: int, *, prefer: list[str] | None = None) -> dict[str, Any] | None:
    """Bland–Altman of a two-level factor: per subject (and cell of the other factors), the mean over
    repetitions at each level; difference (second − first level) against their mean, bias and 95% limits
    of agreement (bias ± 1.96 SD of the differences). None when no factor has exactly two levels."""
    two = [j for j, (_, lv) in enumerate(vals.factors) if len(lv) == 2]
    if not two:
        return None
    order = {f: r for r, f in enumerate(prefer or [])}
    j = min(two, key=lambda jj: order.get(vals.factors[jj][0], len(order) + jj))
    factor, levels = vals.factors[j]
    means = _mean(vals.values[i], axis=-1)  # (n_subj, *levels)
    means = np.moveaxis(means, 1 + j, -1)
    others = [(f, lv) for jj, (f, lv) in enumerate(vals.factors) if jj != j]
    cells = [
        ",".join(f"{f}={lv}" for (f, _), lv in zip(others, c, strict=True)) or ""
        for c in itertools.product(*[lv for _, lv in others])
    ]
    pairs = means.reshape(len(vals.subjects), -1, 2)
    points = []
    for si, subj in enumerate(vals.subjects):
        for ci, cell in enumerate(cells):
            a, b = float(pairs[si, ci, 0]), float(pairs[si, ci, 1])
            points.append(dict(subject=subj, cell=cell, mean=float(_mean(np.array([a, b]))), diff=b - a))
    diffs = np.array([p["diff"] for p in points])
    with np.errstate(over="ignore", invalid="ignore"):  # differences beyond 1.8e308: the plot says so
        bias = float(_mean(diffs))
        sd = float(diffs.std(ddof=1)) if diffs.size > 1 else 0.0
    return dict(
        observation=vals.names[i],
        factor=factor,
        level_a=levels[0],
        level_b=levels[1],
        points=points,
        bias=bias,
        sd=sd,
        loa_low=bias - Z * sd,
        loa_high=bias + Z * sd,
    )
