"""The raw values behind the plots that need more than the analysis document: per-subject values of the
worst observations across executions (strip plot) and the paired levels of a two-level factor
(Bland–Altman). Read from the store's blobs with the analysis' own readers; nothing is written."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine

from reprovip.analyze.design import build_design, records_by_output
from reprovip.analyze.observations import gather
from reprovip.errors import ReprovipError
from reprovip.store import BlobStore
from reprovip.store import schema as s

SCALAR_KINDS = ("scalars", "table", "array", "text", "json", "numpy")
MAX_RECORDS = 20_000
BLOB = re.compile(r"^[0-9a-f]{16,128}$")
SUFFIX = re.compile(r"^(\.[A-Za-z0-9]{1,10}){0,3}$")
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


def load_values(
    engine: Engine,
    study_id: int,
    store: Path,
    output: dict[str, Any],
    *,
    declared: dict[str, list[str]] | None,
    key_columns: list[str] | None,
    names: list[str],
    max_records: int = MAX_RECORDS,
) -> Values | None:
    """Values of observations ``names`` of ``output``; None for image outputs, too many records or errors."""
    if output.get("kind") not in SCALAR_KINDS or not names:
        return None
    label = str(output["name"])
    e, o = s.executions, s.outputs
    q = (
        select(o, e.c.subject, e.c.condition_key, e.c.condition, e.c.repetition)
        .join(e, e.c.id == o.c.execution_id)
        .where(e.c.study_id == study_id, e.c.status == "done", o.c.name == label.split("/")[0])
        .limit(max_records + 1)
    )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    # Only well-formed blob names: a tampered catalog must not point the readers outside the store.
    rows = [
        r for r in rows if not r.get("blob") or (BLOB.match(str(r["blob"])) and SUFFIX.match(r.get("suffix") or ""))
    ]
    if not rows or len(rows) > max_records:
        return None
    groups = records_by_output(rows, BlobStore(store))
    match = [v for (name, rel), v in groups.items() if len(groups) == 1 or f"{name}/{rel}" == label]
    if not match:
        return None
    kind, recs = match[0]
    try:
        design = build_design(recs, declared)
        obs = gather(design, kind, key_columns=key_columns or None)
    except (ReprovipError, OSError, ValueError):
        return None
    index = {n: i for i, n in enumerate(obs.names)}
    keep = [n for n in names if n in index]
    if not keep or not obs.subjects:
        return None
    return Values(keep, obs.values[[index[n] for n in keep]], list(obs.subjects), design.factors)


def strip_data(vals: Values, i: int, *, max_subjects: int = 30) -> dict[str, Any]:
    """Per subject, every execution's value and its deviation from the subject's mean.

    Subjects with the largest spread are kept when there are more than ``max_subjects``.
    """
    v = vals.values[i]
    n_subj, k = v.shape[0], v.shape[-1]
    flat = v.reshape(n_subj, -1, k)
    spread = flat.reshape(n_subj, -1).std(axis=1)
    chosen = sorted(np.argsort(-spread, kind="stable")[:max_subjects])
    subjects = []
    for si in chosen:
        cells = flat[si]
        mean = float(cells.mean())
        conds, reps, values = zip(
            *[(c, r, float(cells[c, r])) for c in range(cells.shape[0]) for r in range(k)], strict=True
        )
        subjects.append(
            dict(
                subject=vals.subjects[si],
                values=list(values),
                conditions=list(conds),
                repetitions=list(reps),
                deviations=[x - mean for x in values],
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
    means = vals.values[i].mean(axis=-1)  # (n_subj, *levels)
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
            points.append(dict(subject=subj, cell=cell, mean=(a + b) / 2, diff=b - a))
    diffs = np.array([p["diff"] for p in points])
    bias = float(diffs.mean())
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
