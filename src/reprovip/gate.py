"""The CI gate: analyse, apply the criteria, decide the exit code, notify.

Exit codes: 0 pass (warnings allowed unless ``strict``), 1 a criterion failed, 3 executions failed (this
takes precedence: a verdict on incomplete data is not one to trust).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprovip.atomic import write_json_atomic
from reprovip.criteria import evaluate
from reprovip.errors import InputError

if TYPE_CHECKING:
    from reprovip.study import Study

EXIT_PASS, EXIT_FAIL, EXIT_EXECUTIONS = 0, 1, 3


@dataclass(frozen=True)
class CheckResult:
    """The gate's decision and the analysis document it was made on (with verdicts and alerts)."""

    document: dict[str, Any]
    exit_code: int
    notified: bool = False

    @property
    def status(self) -> str:
        """The study verdict: identical, pass, warn, fail or error."""
        return self.document["verdict"]["status"]


def decide(document: dict[str, Any], *, strict: bool) -> int:
    """The exit code for an evaluated document."""
    if document["executions"].get("failed"):
        return EXIT_EXECUTIONS
    statuses = [o["verdict"]["status"] for o in document["outputs"]]
    failing = {"fail", "error"} | ({"warn"} if strict else set())
    if any(s in failing for s in statuses) or (strict and any(a["severity"] == "warn" for a in document["alerts"])):
        return EXIT_FAIL
    return EXIT_PASS


def notify(argv: list[str], summary: dict[str, Any], *, cwd: Path) -> None:
    """Run the study's ``on_fail`` command (an argv list, no shell) with the summary JSON on stdin."""
    try:
        proc = subprocess.run(
            argv, input=json.dumps(summary), text=True, cwd=cwd, timeout=120, capture_output=True, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"on_fail command {argv[0]!r} could not run: {exc}; fix `on_fail` in the study") from exc
    if proc.returncode != 0:
        raise InputError(f"on_fail command {argv[0]!r} exited with {proc.returncode}: {proc.stderr.strip()[:200]}")


def summary_of(document: dict[str, Any]) -> dict[str, Any]:
    """The short JSON sent to notification hooks."""
    return dict(
        study=document["study"]["name"],
        verdict=document["verdict"],
        alerts=document["alerts"],
        outputs={o["name"]: o["verdict"]["status"] for o in document["outputs"]},
        executions={k: document["executions"][k] for k in ("total", "failed", "failure_rate")},
    )


def check_document(
    document: dict[str, Any], study: Study, *, strict: bool = False, name: str = "analysis.json"
) -> CheckResult:
    """Evaluate ``document`` against the study's criteria, store it as ``name``, run the hook on failure."""
    evaluate(document, study.spec.criteria_list() or None)
    code = decide(document, strict=strict)
    notified = False
    if code != EXIT_PASS and study.spec.on_fail:
        notify(study.spec.on_fail, summary_of(document), cwd=study.directory)
        notified = True
    write_json_atomic(study.results / name, document)
    return CheckResult(document, code, notified)


def check_study(study: Study, *, strict: bool = False, reanalyze: bool = True) -> CheckResult:
    """Analyse (or reuse ``.reprovip/results/<study>/analysis.json``) and gate the study."""
    stored = study.results / "analysis.json"
    if reanalyze or not stored.exists():
        document = study.analyze().document
    else:
        document = json.loads(stored.read_text())
    return check_document(document, study, strict=strict)


def compare_check(baseline: Study, current: Study, *, strict: bool = False) -> CheckResult:
    """Compare two stores (``current`` against ``baseline``) and gate the result with ``current``'s criteria."""
    from reprovip.analyze.compare import compare_studies

    return check_document(compare_studies(baseline, current), current, strict=strict, name="compare.json")
