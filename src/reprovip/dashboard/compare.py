"""Two stored analyses of one study side by side: each one's stored verdict and, per output, its stored status
and the key metrics of its judged observation (nothing is re-judged: both verdicts are read as stored)."""

from __future__ import annotations

import math
from typing import Any

from reprovip.report.fmt import to_float

KEYS = (
    ("ICC(A,1) CI low", lambda k: (k.get("icc") or {}).get("ci_low")),
    ("ICC(A,1)", lambda k: (k.get("icc") or {}).get("value")),
    ("SD ratio", lambda k: k.get("sd_ratio")),
    ("wSD", lambda k: k.get("wsd")),
    ("significant digits (min)", lambda k: k.get("sigdigits_min")),
)


def _side(view: dict[str, Any], name: str) -> dict[str, Any] | None:
    out = next((o for o in view["outputs"] if o["name"] == name), None)
    if out is None:
        return None
    key = out.get("key") or {}
    return dict(
        status=(out.get("verdict") or {}).get("status") or "unknown",  # never a status of our own
        observation=key.get("name"),
        metrics={label: get(key) for label, get in KEYS} if key else {},
    )


def compare_views(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The comparison of two analysis views (see :func:`reprovip.report.context.analysis_context`)."""
    names = [o["name"] for o in old["outputs"]]
    names += [o["name"] for o in new["outputs"] if o["name"] not in names]
    rows = []
    for name in names:
        a, b = _side(old, name), _side(new, name)
        metrics = []
        for label, _ in KEYS:
            ra, rb = (a or {}).get("metrics", {}).get(label), (b or {}).get("metrics", {}).get(label)
            va, vb = to_float(ra), to_float(rb)
            if va is None and vb is None:
                continue
            finite = va is not None and vb is not None and math.isfinite(va) and math.isfinite(vb)
            metrics.append(dict(metric=label, old=ra, new=rb, change=vb - va if finite else None))
        rows.append(
            dict(output=name, old=a, new=b, changed=(a or {}).get("status") != (b or {}).get("status"), metrics=metrics)
        )
    side = [
        dict(
            analysis_id=v.get("analysis_id"),
            created_at=v.get("created_at"),
            reprovip_version=v.get("reprovip_version"),
            verdict=v["verdict"],
        )
        for v in (old, new)
    ]
    return dict(old=side[0], new=side[1], outputs=rows)
