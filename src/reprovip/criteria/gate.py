"""The CI gate: read the verdict ``analyze`` stored, decide the exit code, notify.

Exit codes come from the study status alone (:data:`reprovip.criteria.verdict.EXIT_CODES`): 0 identical,
pass or warn (1 for warn with ``strict``), 1 not reproducible or not analysable, 3 incomplete (executions
failed). The gate never evaluates criteria itself: the verdict is computed once, by ``analyze``.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprovip.criteria.verdict import exit_code, stored_verdict
from reprovip.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from reprovip.study import Study


@dataclass(frozen=True)
class CheckResult:
    """The gate's decision and the analysis document it was made on (with verdicts and alerts)."""

    document: dict[str, Any]
    exit_code: int
    notified: bool = False
    #: why the ``on_fail`` hook failed (it could not start, exited non-zero, timed out), or None: a failing
    #: notification never changes the verdict's exit code nor stops the reports being written
    hook_error: str | None = None

    @property
    def status(self) -> str:
        """The study status: identical, pass, warn, error, incomplete or fail."""
        return self.document["verdict"]["status"]

    @property
    def label(self) -> str:
        """The study label every view shows (e.g. "sufficiently reproducible")."""
        return self.document["verdict"]["label"]


def notify(argv: list[str], summary: dict[str, Any], *, cwd: Path) -> str | None:
    """Run the study's ``on_fail`` command (an argv list, no shell, ``{python}`` and ``{study_dir}`` filled in) in
    the study's folder with the summary JSON on stdin; None when it succeeded, else why it failed, one line."""
    import sys

    from reprovip.execute.render import render_argv

    argv = render_argv(argv, {"python": sys.executable, "study_dir": str(cwd)})
    try:
        proc = subprocess.run(
            argv, input=json.dumps(summary), text=True, cwd=cwd, timeout=120, capture_output=True, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"on_fail command {argv[0]!r} could not run ({exc}); fix `on_fail` in the study"
    if proc.returncode != 0:
        said = " ".join(proc.stderr.split())[:200]
        return f"on_fail command {argv[0]!r} exited with {proc.returncode}" + (f": {said}" if said else "")
    return None


def summary_of(document: dict[str, Any]) -> dict[str, Any]:
    """The short JSON sent to notification hooks."""
    return dict(
        study=document["study"]["name"],
        verdict=document["verdict"],
        alerts=document["alerts"],
        outputs={o["name"]: o["verdict"]["status"] for o in document["outputs"]},
        executions={k: document["executions"][k] for k in ("total", "failed", "failure_rate")},
    )


def gate(document: dict[str, Any], study: Study, *, strict: bool = False) -> CheckResult:
    """The exit code of a document's stored verdict; runs the study's ``on_fail`` hook when it is not 0."""
    verdict = stored_verdict(document)
    if verdict is None:
        raise InputError(
            f"{study.path}: the stored analysis has no verdict (made by an older reprovip); "
            "run `reprovip analyze` again"
        )
    code = exit_code(verdict["status"], strict=strict)
    if code == 0 or not study.spec.on_fail:
        return CheckResult(document, code)
    # A notification that fails (a webhook down) is said, never the verdict's exit code nor its reports (a review:
    # exit 2, "bad input", and no JUnit file for a study that was simply not reproducible)
    error = notify(study.spec.on_fail, summary_of(document), cwd=study.directory)
    return CheckResult(document, code, notified=error is None, hook_error=error)


def stored_document(study: Study, name: str = "analysis.json") -> dict[str, Any]:
    """The latest analysis document stored for ``study`` (raises :class:`NotFoundError` when there is none)."""
    path = study.results / name
    if not path.exists():
        raise NotFoundError(f"{study.path}: no analysis yet; run `reprovip analyze {study.path}` first")
    return read_document(path)


_SHAPE = {"study": dict, "executions": dict, "outputs": list, "verdict": dict}


def read_document(path: Path) -> dict[str, Any]:
    """The analysis document in ``path``, checked to be one reprovip wrote: an object with its schema, study,
    executions, outputs and verdict (:class:`InputError` naming what is wrong). A hand-written
    ``{"verdict": {"status": "identical"}}`` was rendered as "reproducible" over a catalog of 30 executions, and
    ``{"outputs": "x"}`` was an internal error (a review)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable analysis document ({exc}); run `reprovip analyze` again") from exc
    if not isinstance(document, dict):
        wrong = [f"a JSON {type(document).__name__}, not an object"]
    else:
        wrong = [k for k, kind in _SHAPE.items() if not isinstance(document.get(k), kind)]
        if not str(document.get("schema", "")).startswith("reprovip.analysis/"):
            wrong.insert(0, "schema")
        outputs = document.get("outputs")
        if isinstance(outputs, list) and not all(isinstance(o, dict) and "name" in o for o in outputs):
            wrong.append("outputs (each an object with a name)")
        if isinstance(document.get("verdict"), dict) and not isinstance(document["verdict"].get("status"), str):
            wrong.append("verdict.status")
    if wrong:
        raise InputError(
            f"{path}: not an analysis document reprovip wrote (missing or malformed: {', '.join(wrong)}); run "
            "`reprovip analyze` again"
        )
    return document


def check_study(study: Study, *, strict: bool = False, reanalyze: bool = True) -> CheckResult:
    """Analyse (or reuse the stored analysis) and gate the study on the verdict ``analyze`` stored.

    With ``reanalyze=False`` the stored analysis must have been made with the study's current criteria;
    otherwise the user is told to analyse again (a stale verdict is never shown as current).
    """
    if reanalyze:
        document = study.analyze().document
    else:
        document = stored_document(study)
        _read_only(study)
        _refuse_stale(document, study)
    return gate(document, study, strict=strict)


def _read_only(study: Study) -> None:
    """Read a store that cannot be written from a copy of its catalog: the stored verdict needs no write (a
    review's read-only store was refused as "check the folder's permissions")."""
    from reprovip.store.snapshot import readable_folder

    if study.catalog_url is None and readable_folder(study.store) != study.store:
        from reprovip.store import Catalog

        study.catalog = Catalog.for_store(study.store, read_only=True)


def _refuse_stale(document: dict[str, Any], study: Study) -> None:
    """A stored verdict made with other criteria, or before executions changed, is not the study's verdict."""
    from reprovip.analyze.engine import stored_study_id
    from reprovip.analyze.executions import executions_digest, spec_digest
    from reprovip.criteria.evaluate import criteria_fingerprint
    from reprovip.plan.check import plan_changed, plan_check

    verdict = stored_verdict(document) or {}
    again = "run `reprovip analyze` (or `reprovip check` without --no-reanalyze)"
    if verdict.get("criteria") != criteria_fingerprint(study.spec.criteria_list() or None):
        raise InputError(f"{study.path}: the criteria changed since the stored analysis; {again}")
    rows = study.catalog.executions(stored_study_id(study))
    if verdict.get("executions_digest") != executions_digest(rows):
        raise InputError(f"{study.path}: executions changed since the stored analysis; {again}")
    plan = plan_check(study, rows)
    if not plan.get("ingested") and (plan.get("not_run") or plan.get("earlier_recipe")):
        raise InputError(
            f"{study.path}: the study file declares {plan['not_run']} execution(s) never run and "
            f"{plan['earlier_recipe']} run with an earlier recipe (the study file, the application's script or an "
            "input was edited since the run); "
            "run `reprovip run`, then `reprovip analyze`"
        )
    if document.get("study", {}).get("spec_digest") != spec_digest(study.spec):
        raise InputError(
            f"{study.path}: the outputs, factors or repetitions changed since the stored analysis; {again}"
        )
    if plan_changed((document.get("executions") or {}).get("plan") or {}, plan):
        raise InputError(
            f"{study.path}: the study file declares other subjects or executions since the stored analysis; {again}"
        )


def compare_check(baseline: Study, current: Study, *, strict: bool = False) -> CheckResult:
    """Compare two stores (``current`` against ``baseline``) and gate the verdict stored with the comparison."""
    from reprovip.analyze.compare import compare_studies

    return gate(compare_studies(baseline, current), current, strict=strict)
