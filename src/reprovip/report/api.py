"""Render a study's report to a file, or to an object that notebooks display inline."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import escape

from reprovip.analyze.stale_comparison import comparison_staleness
from reprovip.criteria.verdict import stored_verdict
from reprovip.errors import InputError, NotFoundError, StoreError
from reprovip.report.context import missing_catalog
from reprovip.report.render import report_html
from reprovip.store import Catalog
from reprovip.store.names import nothing_stored, stored_names

if TYPE_CHECKING:
    from reprovip.study import Study

DEFAULT_NAME = "report.html"


@dataclass(frozen=True)
class ReportView:
    """A rendered report: its HTML, where it was written, and an inline view for Jupyter.

    Attributes
    ----------
    html : str
        The self-contained HTML page.
    path : Path or None
        The file it was written to, if any.
    """

    html: str
    path: Path | None = None

    def _repr_html_(self) -> str:
        # An iframe keeps the report's stylesheet from restyling the notebook; the sandbox runs no script.
        return (
            f'<iframe srcdoc="{escape(self.html)}" sandbox="" width="100%" height="900" '
            f'title="reprovip report"></iframe>'
        )

    def save(self, path: str | Path) -> Path:
        """Write the HTML to ``path`` atomically and return it."""
        return _write(Path(path), self.html)

    def __fspath__(self) -> str:
        if self.path is None:
            raise TypeError("this report was not written to a file; call .save(path) first")
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path) if self.path else f"<ReportView {len(self.html)} characters>"


def _write(path: Path, text: str) -> Path:
    """Write the page atomically; a path under a file or in a folder that takes no file is the user's to fix
    (``report -o study.yaml/r.html`` was an internal error)."""
    from reprovip.store.atomic import write_text_atomic

    try:
        return write_text_atomic(path.resolve(), text)
    except OSError as exc:  # /proc, a read-only folder: write_text_atomic names a file in the way itself
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise  # not the path's fault: a full disk or `ulimit -f`, said by the CLI's error handler
        raise InputError(f"{path}: cannot write it ({exc.strerror or exc}); give another path") from None


def _study(study: Study | str | Path) -> Study:
    from reprovip.study import Study

    if isinstance(study, Study):
        return study
    p = Path(study)
    if p.is_dir():
        p = p / "study.yaml"
    if not p.exists():
        raise NotFoundError(f"{p}: no such study file; pass the study.yaml of an analysed study")
    return Study.load(p)


def _catalog(study: Study) -> Catalog | None:
    try:
        if study.catalog_url:
            return Catalog(study.catalog_url, read_only=True)
        return Catalog.for_store(study.store, read_only=True)
    except StoreError:
        return None


def _document(study: Study, catalog: Catalog | None, analysis: str | Path | None) -> dict[str, Any]:
    path = Path(analysis) if analysis else study.results / "analysis.json"
    if path.exists():
        from reprovip.criteria.gate import read_document

        return read_document(path)
    if analysis:
        raise NotFoundError(f"{path}: no such analysis document")
    if catalog is not None:
        sid = catalog.study_id(study.name)
        docs = catalog.analyses(sid, latest_only=True) if sid is not None else []
        if docs:
            return docs[0]["document"]
        if sid is None and (others := stored_names(catalog, study.name)):  # renamed: `analyze` would refuse too
            raise NotFoundError(nothing_stored(study.path, study.name, others))
    compared = study.results / "compare.json"
    hint = f", or `--analysis {compared}` for the comparison stored there" if compared.exists() else ""
    raise NotFoundError(f"{study.path}: no analysis yet; run `reprovip analyze {study.path}` first{hint}")


def file_changed(study: Study, catalog: Catalog | None, document: dict[str, Any]) -> str | None:
    """Why the stored verdict is not the study's since its file was edited: other criteria, or executions it
    declares that were never run or run with an earlier recipe (what ``check --no-reanalyze`` refuses); the
    report's banner and the RO-Crate export say it."""
    from reprovip.analyze.executions import spec_digest
    from reprovip.criteria.evaluate import criteria_fingerprint
    from reprovip.plan.check import plan_changed, plan_check

    sid = catalog.study_id(study.name) if catalog is not None else None
    if sid is None or document.get("study", {}).get("name") != study.name:
        return None
    verdict = stored_verdict(document) or {}
    if "criteria" in verdict and verdict["criteria"] != criteria_fingerprint(study.spec.criteria_list() or None):
        # the report showed the old criteria's green verdict while `check` failed the new ones (a review)
        return "the criteria changed since this analysis (the study file was edited): run `reprovip analyze`"
    plan = plan_check(study, catalog.executions(sid))
    # ingested results missing part of the design: the analysis said so (incomplete), it is not stale
    if plan.get("ingested") or not (plan.get("not_run") or plan.get("earlier_recipe")):
        if document.get("study", {}).get("spec_digest") != spec_digest(study.spec):
            return (
                "the outputs, factors or repetitions changed since this analysis (the study file was edited): run "
                "`reprovip analyze`"
            )
        # a comparison's plan counts both versions' executions: it is judged by its own stores, not this one's
        if "compare" not in document and plan_changed((document.get("executions") or {}).get("plan") or {}, plan):
            return (
                "the study file declares other subjects or executions since this analysis (it was edited, or inputs "
                "moved): run `reprovip analyze`"
            )
        return None
    return (
        f"the study file declares {plan['not_run']} execution(s) never run and {plan['earlier_recipe']} run with "
        "an earlier recipe (the study file, the application's script or an input was edited after the run): run "
        "`reprovip run`, then `reprovip analyze`"
    )


def report_view(
    study: Study | str | Path, output: str | Path | None = None, *, analysis: str | Path | None = None
) -> ReportView:
    """Render the report of an analysed study; write it to ``output`` when given.

    Parameters
    ----------
    study : Study, str or Path
        The study (or its ``study.yaml``, or its folder).
    output : str or Path, optional
        Where to write the HTML file.
    analysis : str or Path, optional
        An analysis document to render instead of the study's latest
        (``.reprovip/results/<study>/analysis.json``).

    Returns
    -------
    ReportView
        Displays inline in Jupyter; ``.path`` is the written file, if any.

    Raises
    ------
    NotFoundError
        The study has not been analysed yet.
    """
    st = _study(study)
    catalog = _catalog(st)
    try:
        document = _document(st, catalog, analysis)
        stale = file_changed(st, catalog, document) if catalog is not None else missing_catalog(document)
        if stale is None and analysis is not None and "compare" in document:
            # the file given, not the store's: an exported comparison rendered after its baseline ran again read
            # as current (review J)
            stale = comparison_staleness(Path(analysis), document)
        html = report_html(document, catalog, store=st.store, stale=stale)
    finally:
        if catalog is not None:
            catalog.close()
    return ReportView(html, _write(Path(output), html) if output is not None else None)


def render_report(
    study: Study | str | Path, output: str | Path | None = None, *, analysis: str | Path | None = None
) -> Path:
    """Write the self-contained HTML report of ``study`` and return its path.

    The default ``output`` is ``report.html`` next to the study file. See :func:`report_view`.
    """
    st = _study(study)
    return report_view(st, output if output is not None else st.directory / DEFAULT_NAME, analysis=analysis).path  # type: ignore[return-value]
