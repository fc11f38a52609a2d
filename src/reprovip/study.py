"""The Python API: ``Study.load("study.yaml").run()``, ``.status()``, ``.ingest(...)``, ``.analyze()``."""

from __future__ import annotations

import functools
import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from reprovip.errors import SpecError
from reprovip.store import STORE_DIR

if TYPE_CHECKING:
    # Imported where used: `reprovip status` and `validate` must not pay for pandas, nor `--help` for pydantic.
    import pandas as pd

    from reprovip.spec import StudySpec
    from reprovip.spec.subjects import Subject
    from reprovip.store import Catalog

STATUSES = ("done", "failed", "pending", "running")
"""The statuses of an execution, as :meth:`Study.status` counts them."""
OWNER_FILE = "study-file"
"""In ``.reprovip/results/<name>/``: the study file (relative to its folder) that owns the name."""


_NAME_KEY = re.compile(r"^[\"']?name[\"']?\s*:", re.MULTILINE)  # a top-level `name:` key, quoted or not


class StoredNameUsed(UserWarning):
    """A study file that declares no name took the name its store knows it by (its folder was copied or renamed)."""


def _stored_name(path: Path, name: str) -> str | None:
    """The name the store of ``path``'s folder knows this study file by, when the file declares none and its
    default ``name`` (the folder's) has no results there: the folder was copied or renamed since the study ran,
    and a copy read "no analysis yet" (a plain folder must be copyable: the design's contract, and a review).
    None when there is nothing to adopt (one results folder owned by this file, under another name)."""
    results = path.parent / STORE_DIR / "results"
    if not results.is_dir() or (results / name).exists():  # the name has its results (or executions) here
        return None
    try:
        if _NAME_KEY.search(path.read_text(encoding="utf-8")):
            return None
        owned = [
            d.name
            for d in results.iterdir()
            if d.name != name and (d / OWNER_FILE).is_file() and (d / OWNER_FILE).read_text().strip() == path.name
        ]
    except OSError:
        return None
    return owned[0] if len(owned) == 1 else None


def _declared_name(path: Path) -> str | None:
    """The study name ``path`` declares (defaulted as :func:`load_spec` does); None when it is no valid study."""
    from reprovip.spec import load_spec

    try:
        return load_spec(path).name
    except SpecError:
        return None


class Study:
    """A reproducibility study: its spec, its folder and its store.

    Parameters
    ----------
    path : Path
        The ``study.yaml`` file.
    spec : StudySpec
        The validated spec.
    catalog_url : str, optional
        A database URL for the catalog; default: ``.reprovip/catalog.sqlite`` next to the study
        (``REPROVIP_CATALOG`` in the environment also sets it).
    """

    def __init__(self, path: Path, spec: StudySpec, *, catalog_url: str | None = None) -> None:
        self.path = Path(path).resolve()
        self.spec = spec
        self.directory = self.path.parent
        self.store = self.directory / STORE_DIR
        self.catalog_url = catalog_url or os.environ.get("REPROVIP_CATALOG") or None

    @classmethod
    def load(cls, path: str | Path, *, catalog_url: str | None = None) -> Study:
        """Load and validate ``study.yaml`` (raises :class:`~reprovip.errors.SpecError`)."""
        from reprovip.spec import load_spec

        spec = load_spec(path)
        if (stored := _stored_name(Path(path).resolve(), spec.name)) is not None:
            warnings.warn(
                f"{path}: declares no `name:`, and its store knows this study as {stored!r} (the folder was copied "
                f"or renamed): using that name; write `name: {stored}` in the file to keep it",
                StoredNameUsed,
                stacklevel=2,
            )
            spec = spec.model_copy(update={"name": stored})
        return cls(Path(path), spec, catalog_url=catalog_url)

    @property
    def name(self) -> str:
        """The study's name."""
        return self.spec.name or "study"

    @property
    def results(self) -> Path:
        """Where this study's analysis documents and maps are written: ``.reprovip/results/<name>/``.

        Several study files may share one folder, hence one store; their results stay apart as long as their
        names differ, which :meth:`_claim_name` enforces.
        """
        self._claim_name(record=False)
        return self.store / "results" / self.name

    def _claim_name(self, *, record: bool = True) -> None:
        """Refuse a name that another study file of this folder declares; record this file as its owner.

        Results and catalog rows are keyed by the study's name, so two files with one name would share them.
        ``.reprovip/results/<name>/study-file`` names the file (relative to the folder, so the folder can be
        copied) that last used the name. Another file may take the name over when that one is gone (renamed,
        moved) or declares another name now; while it still declares the same name, this file is refused.

        Raises
        ------
        SpecError
            Another existing study file of this folder declares the same name.
        """
        owner_file = self.store / "results" / self.name / OWNER_FILE
        owner = owner_file.read_text(encoding="utf-8").strip() if owner_file.is_file() else None
        if owner not in (None, self.path.name):
            other = self.directory / owner
            if other.resolve() != self.path and _declared_name(other) == self.name:
                raise SpecError(
                    f"{other} declares the name {self.name!r} too, and both would share one results folder and "
                    "catalog rows; give one of them a different `name:`",
                    file=str(self.path),
                    key="name",
                )
        if record and owner != self.path.name:
            from reprovip.store.atomic import write_text_atomic

            write_text_atomic(owner_file, self.path.name + "\n")

    @functools.cached_property
    def subjects(self) -> list[Subject]:
        """The subjects found on disk (inputs checked to exist)."""
        from reprovip.spec.subjects import resolve_subjects

        return resolve_subjects(self.spec, self.directory, file=str(self.path))

    def validate(self) -> None:
        """Check everything that can be checked without running: the spec, subjects, inputs, command, descriptor.

        Raises
        ------
        SpecError
            Every problem found (:meth:`problems`), one line each.
        """
        problems = self.problems()
        if problems:
            raise SpecError.gather(problems)

    def problems(self, *, file: str | None = None, programs: bool = False) -> list[SpecError]:
        """Every problem of the study found on disk: what would certainly fail at run time (see :meth:`validate`).

        ``file`` is how errors name the study file (default: its absolute path). ``programs`` also looks the
        program up on this machine's PATH (``reprovip validate`` does; a run does not, its executor's machines
        may have programs this one lacks).
        """
        from reprovip.spec.checks import command_problems
        from reprovip.spec.loader import locator
        from reprovip.spec.subjects import resolve_subjects

        file = file or str(self.path)
        if self.spec.application is None:
            return [
                SpecError(
                    "no `application` declared; add one to run this study, or use `reprovip ingest`",
                    file=file,
                    key="application",
                )
            ]
        problems = []
        checks = [
            lambda: self._claim_name(record=False),
            lambda: resolve_subjects(self.spec, self.directory, file=file),
        ]
        if self.spec.application.boutiques is not None:
            from reprovip.spec.boutiques import descriptor_path, validate_descriptor

            desc = self.spec.application.boutiques
            checks.append(lambda: validate_descriptor(descriptor_path(desc, self.directory), file=file))
        for check in checks:
            try:
                check()
            except SpecError as exc:
                problems.append(exc)
        return problems + command_problems(self.spec, self.directory, locator(file), programs=programs)

    @functools.cached_property
    def catalog(self) -> Catalog:
        """The study's catalog (created on first use), once the study's name is claimed (:meth:`_claim_name`)."""
        from reprovip.store import Catalog

        self._claim_name()
        if self.catalog_url:
            return Catalog(self.catalog_url)
        return Catalog.for_store(self.store)

    def run(
        self,
        *,
        jobs: int | None = None,
        force: bool = False,
        executor: str = "local",
        progress: bool = False,
        keep_going: bool = False,
        keep_failed: int | None = None,
    ):
        """Run every execution not done yet; see :func:`reprovip.execute.runner.run_study` (``keep_going``: do not stop
        when the first executions all fail the same way; ``keep_failed``: working folders of failed executions
        kept, default 10)."""
        from reprovip.execute.failures import KEEP_FAILED
        from reprovip.execute.runner import run_study

        self.validate()
        return run_study(
            self,
            jobs=jobs,
            force=force,
            executor=executor,
            progress=progress,
            keep_going=keep_going,
            keep_failed=KEEP_FAILED if keep_failed is None else keep_failed,
        )

    def ingest(self, pattern: str, *, root: str | Path | None = None):
        """Register existing output folders as executions; see :func:`reprovip.ingest.folders.ingest_outputs`."""
        from reprovip.ingest.folders import ingest_outputs

        return ingest_outputs(self, pattern, root=Path(root) if root else None)

    def analyze(self, *, json_path: str | Path | None = None):
        """Analyse the stored executions; returns an :class:`~reprovip.analyze.result.AnalysisResult`."""
        from reprovip.analyze import analyze_study
        from reprovip.analyze.result import AnalysisResult

        return AnalysisResult(analyze_study(self, json_path=json_path))

    def check(self, *, strict: bool = False, reanalyze: bool = True):
        """Apply the criteria; returns a :class:`~reprovip.criteria.gate.CheckResult` (verdicts, exit code)."""
        from reprovip.criteria.gate import check_study

        return check_study(self, strict=strict, reanalyze=reanalyze)

    def report(self, output: str | Path | None = None):
        """Render the HTML report of the latest analysis; a ReportView (shows inline in Jupyter)."""
        from reprovip.report import report_view

        return report_view(self, output)

    def export_rocrate(self, path: str | Path, *, with_blobs: bool = False, license: str | None = None) -> Path:  # noqa: A002
        """Write the study's provenance as a Provenance Run Crate in the new folder ``path``, with the latest
        analysis if there is one; see :func:`reprovip.export.rocrate.export_rocrate` and ``docs/export.md``."""
        from reprovip.export.rocrate import export_rocrate
        from reprovip.store import BlobStore

        sid = self.catalog.study_id(self.name)
        latest = self.catalog.analyses(sid, latest_only=True) if sid is not None else []
        return export_rocrate(
            path,
            spec=self.spec,
            study_file=self.path,
            name=self.name,
            catalog=self.catalog,
            blobs=BlobStore(self.store),
            analysis=latest[0]["document"] if latest else None,
            with_blobs=with_blobs,
            license=license,
        )

    def trace_file(self, execution_id: str, relpath: str) -> Path:
        """Where the blob store keeps the traced file ``relpath`` (relative to the working folder, ``out/...``
        for ``{outdir}``) of execution ``execution_id``: only the files ``trace_keep`` names are kept.

        Raises
        ------
        NotFoundError
            The execution traced no such file, or did not keep it.
        """
        from sqlalchemy import select

        from reprovip.errors import NotFoundError
        from reprovip.store import schema as s
        from reprovip.store.blobs import BlobStore, suffix_of

        f, e = s.trace_files, s.executions
        q = (
            select(f.c.blob, f.c.kept)
            .join(e, e.c.id == f.c.execution_id)
            .where(e.c.study_id == self.catalog.study_id(self.name), f.c.execution_id == execution_id)
            .where(f.c.relpath == relpath)
        )
        with self.catalog.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFoundError(f"execution {execution_id!r} of {self.path} traced no file {relpath!r}")
        if not row.kept:
            raise NotFoundError(
                f"{relpath!r} of execution {execution_id!r} was traced (hashed) but not kept; add a glob naming it "
                f"to `trace_keep` in {self.path} and run it again (`run --force`)"
            )
        path = BlobStore(self.store).path(row.blob, suffix_of(relpath))
        if not path.is_file():
            raise NotFoundError(f"{path}: the kept {relpath!r} of execution {execution_id!r} is missing from the store")
        return path

    def executions(self) -> pd.DataFrame:
        """One row per execution: subject, condition, repetition, status, exit code, duration, error."""
        import pandas as pd

        sid = self.catalog.study_id(self.name)
        rows = self.catalog.executions(sid) if sid is not None else []
        cols = [
            "id",
            "subject",
            "condition_key",
            "repetition",
            "status",
            "attempts",
            "exit_code",
            "duration",
            "peak_rss",
            "seed",
            "error",
            "source",
        ]
        return pd.DataFrame(rows, columns=cols) if rows else pd.DataFrame(columns=cols)

    def status_rows(self) -> list[dict[str, object]]:
        """Counts of executions per condition: ``condition``, one column per status of :data:`STATUSES`, ``total``.

        Without pandas: ``reprovip status`` prints these rows (:meth:`status` is the same as a DataFrame).
        """
        sid = self.catalog.study_id(self.name)
        counts: dict[str, dict[str, int]] = {}
        for condition, status, n in self.catalog.status_counts(sid) if sid is not None else []:
            counts.setdefault(condition, {})[status] = n
        rows = []
        for condition in sorted(counts):
            row: dict[str, object] = {"condition": condition, **{st: counts[condition].get(st, 0) for st in STATUSES}}
            row["total"] = sum(counts[condition].get(st, 0) for st in STATUSES)
            rows.append(row)
        return rows

    def status(self) -> pd.DataFrame:
        """Counts of executions per condition and status (done, failed, pending, running); see :meth:`status_rows`."""
        import pandas as pd

        return pd.DataFrame(self.status_rows(), columns=["condition", *STATUSES, "total"])

    def __repr__(self) -> str:
        return f"Study({self.name!r}, {self.path})"
