"""The one vocabulary of verdicts: labels, their severity ladder and the exit code each maps to.

Every view (``check``, ``analyze``, the report, the dashboard, JSON, Python) shows the label stored by
``analyze``; none derives its own. The table is in docs/criteria.md.
"""

from __future__ import annotations

from typing import Any

LADDER = ("identical", "pass", "warn", "error", "incomplete", "fail")
"""Study statuses from the best to the worst: the study takes the worst that applies."""

OUTPUT_STATUSES = ("identical", "pass", "warn", "error", "fail")
"""Statuses of one output (``incomplete`` is about executions, so only the study has it)."""

LABELS = {
    "identical": "reproducible (bit-for-bit identical)",
    "pass": "sufficiently reproducible",
    "warn": "sufficiently reproducible, with warnings",
    "error": "not analysable",
    "incomplete": "incomplete: executions failed or not run",
    "fail": "not reproducible",
}

VALUES_ONLY_LABEL = "reproducible (identical in decoded values; the files' bytes differ)"
"""The label of an ``identical`` study some of whose outputs are identical once decoded only (a gzip time stamp, a
header's padding): "bit-for-bit" would claim what a checksum of the files contradicts (review NH F6)."""

EXIT_CODES = {"identical": 0, "pass": 0, "warn": 0, "error": 1, "incomplete": 3, "fail": 1}
"""``reprovip check``'s exit code per study status (``--strict`` turns ``warn`` into 1)."""

PASSING = ("identical", "pass", "warn")


def worst(statuses: list[str] | tuple[str, ...]) -> str:
    """The worst of ``statuses`` on :data:`LADDER` (``error`` when there is none: nothing to judge)."""
    return max(statuses, key=LADDER.index, default="error")


def exit_code(status: str, *, strict: bool = False) -> int:
    """The exit code of a study status; with ``strict``, warnings fail too.

    Examples
    --------
    >>> exit_code("incomplete"), exit_code("warn"), exit_code("warn", strict=True)
    (3, 0, 1)
    """
    if strict and status == "warn":
        return 1
    return EXIT_CODES[status]


def deciding_reason(output_verdict: dict[str, Any]) -> dict[str, Any] | None:
    """The reason that sets an output's status, in the order the status is decided: a computed failure of a
    fail-severity criterion, else one that could not be computed, else a failed warning, else the last reason
    (everything passed); None when there is no reason."""
    reasons = output_verdict.get("reasons") or []
    failed = [r for r in reasons if not r.get("passed")]
    for pick in (
        lambda r: r.get("severity") == "fail" and r.get("estimable", True),
        lambda r: r.get("severity") == "fail",
        lambda r: True,
    ):
        chosen = [r for r in failed if pick(r)]
        if chosen:
            return chosen[0]
    return reasons[-1] if reasons else None


def stored_verdict(document: dict[str, Any]) -> dict[str, Any] | None:
    """The verdict ``analyze`` stored in ``document``, or None when the document has none (an old analysis)."""
    v = document.get("verdict")
    if isinstance(v, dict) and v.get("status") in LADDER:
        return v
    return None
