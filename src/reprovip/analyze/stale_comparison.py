"""Whether a stored comparison with a baseline (``compare.json``) is older than the executions it compared: `check`,
the study's report and the comparison's own report say so alike (review I: after the baseline ran again, the
report of a comparison that had passed showed the pass with no stale mark while `check` called it stale)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STALE = "executions of this study or of its baseline finished after it; run `reprovip compare` again"


def finished_times(study_file: str | Path) -> list[float]:
    """When the stored executions of the study in ``study_file`` finished (none without a catalog)."""
    from reprovip.study import Study

    study = Study.load(study_file)
    sid = study.catalog.study_id(study.name)
    return [float(r["finished_at"]) for r in study.catalog.executions(sid) if r.get("finished_at")] if sid else []


def comparison_staleness(path: Path, document: dict[str, Any]) -> str | None:
    """Why the comparison ``document`` stored at ``path`` is stale (:data:`STALE`), or None.

    Stale when an execution of its current study or of its baseline (their study files as the document names
    them) finished after the file was written (review R7: the baseline run again after the comparison). A study
    that cannot be read now is no evidence either way: None.
    """
    compare = document.get("compare") or {}
    try:
        made = path.stat().st_mtime
        for side in ("current", "baseline"):
            study_file = str((compare.get(side) or {}).get("path") or "")
            if study_file and Path(study_file).exists() and any(t > made for t in finished_times(study_file)):
                return STALE
    except Exception:  # noqa: BLE001 - a hint: an unreadable study or store is `compare`'s to say
        return None
    return None
