"""A study's provenance as a Provenance Run Crate 0.5 (Workflow Run RO-Crate), written with the ``rocrate`` library.

The study is the workflow: ``study.yaml`` is the crate's main entity, reprovip the engine, and the application
its one tool, run once per execution (subject x condition x repetition). When the study was traced with
``trace: processes``, the application is itself a workflow whose steps are the processes that wrote traced
files. The mapping, entity by entity, is in ``docs/export.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rocrate.model.computerlanguage import ComputerLanguage
from rocrate.rocrate import ROCrate

from reprovip import __version__
from reprovip.errors import InputError, NotFoundError
from reprovip.export import actions
from reprovip.export.crate import Crate, iso

if TYPE_CHECKING:
    from rocrate.model.entity import Entity

    from reprovip.spec import StudySpec
    from reprovip.store import BlobStore, Catalog

RO_CRATE_VERSION = "1.1"
"""The RO-Crate version the 0.5 profiles extend (1.3 moved ``ComputationalWorkflow`` to other IRIs)."""
PROFILES = {
    "Process Run Crate": "https://w3id.org/ro/wfrun/process/0.5",
    "Workflow Run Crate": "https://w3id.org/ro/wfrun/workflow/0.5",
    "Provenance Run Crate": "https://w3id.org/ro/wfrun/provenance/0.5",
}
WROC = "https://w3id.org/workflowhub/workflow-ro-crate/1.0"
"""Workflow RO-Crate, which the ``rocrate`` library names in the metadata descriptor of a 1.1 crate."""
WFRUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run/context"
NO_LICENSE = "no license stated: ask the study's authors before reusing its results"
EXPORTED = ("done", "failed")
"""Execution statuses exported; pending and running executions have no provenance yet (the root says how many)."""


def check_destination(out: Path) -> None:
    """Refuse an ``out`` that is a file or a folder with something in it (an export never overwrites).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_destination(folder)  # empty: the crate goes there
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> check_destination(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reprovip.errors.InputError: ...: already exists and is not an empty folder; choose a new folder for the crate
    >>> shutil.rmtree(folder)
    """
    if out.is_file() or (out.is_dir() and any(out.iterdir())):
        raise InputError(f"{out}: already exists and is not an empty folder; choose a new folder for the crate")


def _application(c: Crate, spec: StudySpec, study_dir: Path, *, workflow: bool) -> Entity:
    """The application: a tool, or with traced steps a workflow of its own (a SoftwareApplication either way)."""
    app = spec.application
    props: dict[str, Any] = {}
    if app is None:  # a study fed by `reprovip ingest`: the outputs come from elsewhere
        props.update(name="the application that produced the ingested outputs", description="not declared")
    elif app.boutiques is not None:
        from reprovip.spec.boutiques import descriptor_path

        path = descriptor_path(app.boutiques, study_dir)
        desc = json.loads(path.read_text(encoding="utf-8"))
        descriptor = c.crate.add_file(
            source=path,
            dest_path=f"application/{path.name}",
            properties=dict(name=f"Boutiques descriptor of {desc.get('name')}", encodingFormat="application/json"),
        )
        props.update(
            name=desc.get("name"),
            softwareVersion=desc.get("tool-version"),
            description=desc.get("description"),
            url=desc.get("url"),
            subjectOf={"@id": descriptor.id},
        )
    else:
        words = app.command or [app.python or "?"]
        props.update(name=" ".join(os.path.basename(w) for w in words[:2]), description=" ".join(words))
    if app is not None and app.container is not None:
        image = f"in {app.container.engine} image {app.container.image}"
        props["description"] = f"{props.get('description') or ''} ({image})"
    kind = ["SoftwareApplication", "ComputationalWorkflow", "HowTo"] if workflow else "SoftwareApplication"
    return c.entity("#application", kind, **props)


def _last_attempts(catalog: Catalog, executions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each execution's last current attempt (its command line and environment), if it has one."""
    out = {}
    for e in executions:
        current = [a for a in catalog.attempts(e["id"]) if not a["superseded"]]
        out[e["id"]] = current[-1] if current else {}
    return out


def export_rocrate(
    out: str | Path,
    *,
    spec: StudySpec,
    study_file: Path,
    name: str,
    catalog: Catalog,
    blobs: BlobStore,
    analysis: dict[str, Any] | None = None,
    with_blobs: bool = False,
    license: str | None = None,  # noqa: A002 (the RO-Crate property's name)
) -> Path:
    """Write the provenance of study ``name`` as a Provenance Run Crate in the new folder ``out``.

    Parameters
    ----------
    out : path
        The crate's folder: must not exist, or be empty. Written in a temporary folder beside it, then renamed,
        so it is whole or absent.
    spec : StudySpec
        The study's spec (application, factors, declared outputs).
    study_file : Path
        The ``study.yaml`` file, copied into the crate as its main workflow.
    name : str
        The study's name in the catalog.
    catalog : Catalog
        Where the executions, outputs, traces and provenance records are read.
    blobs : BlobStore
        The outputs' bytes: hashed with SHA-256, and copied into ``blobs/`` with ``with_blobs``.
    analysis : dict, optional
        The stored analysis document, copied as ``analysis.json`` with its verdict in the crate's description.
    with_blobs : bool
        Copy each distinct output into the crate; by default outputs are referenced by their path in the store
        (a ``file://`` URI) and their hashes.
    license : str, optional
        The crate's license (a URL or SPDX identifier); by default a sentence saying none was stated.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    InputError
        ``out`` exists and is not an empty folder.
    NotFoundError
        Nothing of the study was executed yet, or an output's bytes are missing with ``with_blobs``.

    See Also
    --------
    reprovip.study.Study.export_rocrate : the same, given a loaded study (``reprovip export`` calls it).

    References
    ----------
    Leo S, Crusoe MR, Rodríguez-Navas L, et al. Recording provenance of workflow runs with RO-Crate. PLoS ONE
    19(9): e0309210 (2024). https://doi.org/10.1371/journal.pone.0309210
    """
    out = Path(out).absolute()
    check_destination(out)
    sid = catalog.study_id(name)
    every = catalog.executions(sid) if sid is not None else []
    executions = [e for e in every if e["status"] in EXPORTED]
    if not executions:
        raise NotFoundError(
            f"{study_file}: no finished execution of study {name!r} to export; "
            "run `reprovip run` or `reprovip ingest` first"
        )
    study_dir = Path(study_file).parent
    crate = ROCrate(version=RO_CRATE_VERSION)
    crate.metadata.extra_contexts.append(WFRUN_CONTEXT)
    c = Crate(crate, blobs, with_blobs)
    n_done = sum(e["status"] == "done" for e in executions)
    traces = {t["execution_id"]: t for t in catalog.traces(sid)}
    factors = {f.name: list(f.levels) for f in spec.factor_list()}
    flow_steps = actions.flow_steps(list(traces.values()), factors, n_done)
    app = _application(c, spec, study_dir, workflow=bool(flow_steps))
    steps = actions.add_steps(c, app, flow_steps)
    workflow = _main_workflow(c, study_file, name, app)
    step = c.known["#step"]

    outputs: dict[str, list[Entity]] = {}
    for row in catalog.outputs(sid):
        if row["blob"] is not None:  # a done execution's outputs all have bytes (missing ones fail it)
            parameter = actions.output_param(c, row["name"], spec)
            outputs.setdefault(row["execution_id"], []).append(c.output(row, parameter))
    attempts = _last_attempts(catalog, executions)
    executed, controls, consumed = [], [], {}
    for e in executions:
        where = actions.location(c, catalog, e["provenance"])
        action, objects = actions.execution(c, e, study_dir, outputs.get(e["id"], []), attempts[e["id"]], where)
        executed.append(action)
        consumed.update((o.id, o) for o in objects)
        controls.append(
            c.entity(f"{action.id}/control", "ControlAction", name=action["name"], instrument=step, object=action)
        )
        if e["id"] in traces:
            controls += actions.process_actions(c, e["id"], traces[e["id"]], steps)
    workflow["input"] = [c.known[i] for i in sorted({o["exampleOfWork"].id for o in consumed.values()})]
    workflow["output"] = [actions.output_param(c, n, spec) for n in spec.outputs]

    failed = len(executions) - n_done
    run = c.entity(
        "#run",
        "CreateAction",
        name=f"reprovip run of study {name}",
        instrument=workflow,
        object=list(consumed.values()),
        result=list(c.files.values()),
        startTime=iso(min((e["started_at"] for e in executions if e["started_at"]), default=None)),
        endTime=iso(max((e["finished_at"] for e in executions if e["finished_at"]), default=None)),
        actionStatus={"@id": f"http://schema.org/{'Failed' if failed else 'Completed'}ActionStatus"},
        error=f"{failed} of {len(executions)} executions failed" if failed else None,
    )
    engine = c.entity("#reprovip", "SoftwareApplication", name="reprovip", softwareVersion=__version__)
    c.entity(
        "#organize",
        "OrganizeAction",
        name=f"reprovip orchestrating study {name}",
        instrument=engine,
        result=run,
        object=controls,
        startTime=run.get("startTime"),
        endTime=run.get("endTime"),
    )
    _root(c, spec, name, every, executions, license)
    crate.root_dataset["mentions"] = [run, *executed]
    if analysis is not None:
        from reprovip.report.api import file_changed
        from reprovip.study import Study

        # The study file edited since (other criteria, outputs, factors, unrun repetitions): as the report says.
        edited = file_changed(Study(Path(study_file), spec), catalog, analysis)
        _add_analysis(c, analysis, engine, every, edited)
    _write(crate, out)
    return out


def _main_workflow(c: Crate, study_file: Path, name: str, app: Entity) -> Entity:
    """``study.yaml`` as the main workflow: one step, running the application once per execution."""
    crate = c.crate
    lang = crate.add(
        ComputerLanguage(
            crate,
            identifier="#reprovip-study",
            properties=dict(name="reprovip study file", alternateName="study.yaml", version=__version__),
        )
    )
    types = ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"]
    props = {"@type": types, "name": f"reprovip study {name}"}
    workflow = crate.add_workflow(
        source=Path(study_file), dest_path="study.yaml", main=True, lang=lang, properties=props
    )
    step = c.entity(
        "#step",
        "HowToStep",
        name="run the application (once per subject, condition and repetition)",
        position=0,
        workExample=app,
    )
    workflow["hasPart"] = [app]
    workflow["step"] = [step]
    return workflow


def _root(c: Crate, spec: StudySpec, name: str, every: list[Any], executions: list[Any], license: str | None) -> None:  # noqa: A002
    """The root dataset: name, description (what was and was not exported), license and the profiles."""
    root = c.crate.root_dataset
    n_done = sum(e["status"] == "done" for e in executions)
    left = len(every) - len(executions)
    root["name"] = f"Provenance of the reprovip study {name}"
    root["description"] = " ".join(
        [
            spec.description.strip(),
            f"{len(executions)} executions exported ({n_done} completed, {len(executions) - n_done} failed) over",
            f"{len({e['subject'] for e in executions})} subjects and {len({e['condition_key'] for e in executions})}",
            "conditions.",
            f"{left} executions not run yet (pending or running) are not exported." if left else "",
        ]
    ).strip()
    if license and "://" in license:
        root["license"] = c.entity(license, "CreativeWork", name=license)
    else:
        root["license"] = license or NO_LICENSE
    profiles = [c.entity(uri, "CreativeWork", name=label, version="0.5") for label, uri in PROFILES.items()]
    profiles.append(c.entity(WROC, "CreativeWork", name="Workflow RO-Crate", version="1.0"))
    root["conformsTo"] = profiles


def _add_analysis(
    c: Crate, document: dict[str, Any], engine: Entity, every: list[dict[str, Any]], edited: str | None
) -> None:
    """The analysis document, and the action of ``reprovip analyze`` that wrote it (its verdict as description),
    marked STALE when the executions changed since, or the study file was (``edited``,
    :func:`reprovip.report.api.file_changed`)."""
    from io import BytesIO

    from reprovip.analyze.executions import executions_digest
    from reprovip.store.atomic import to_json

    verdict = document.get("verdict") or {}
    said = f"verdict: {verdict.get('label') or verdict.get('status')}" if verdict else "no verdict in the document"
    if verdict.get("executions_digest") != executions_digest(every):
        # Exported as it is, but never passed off as the verdict on the executions this crate describes.
        said += "; STALE: the executions changed since this analysis, run `reprovip analyze` and export again"
    elif edited:
        said += f"; STALE: {edited} and export again"
    doc = c.crate.add_file(
        source=BytesIO(to_json(document).encode()),
        dest_path="analysis.json",
        properties=dict(name="reprovip analysis document", encodingFormat="application/json", description=said),
    )
    analyze = c.entity(
        "#analysis",
        "CreateAction",
        name="reprovip analyze",
        description=said,
        instrument=engine,
        object=c.known["#run"]["result"],
        result=doc,
        endTime=document.get("created_at"),
    )
    c.crate.root_dataset.append_to("mentions", analyze)


def _write(crate: ROCrate, out: Path) -> None:
    """Write the crate in a temporary folder beside ``out``, then rename it into place (whole or absent)."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # `--ro-crate study.yaml/c`: was an internal error
        raise InputError(
            f"{out}: cannot write the crate: a part of its folder, {out.parent}, is a file; choose another folder"
        ) from None
    tmp = out.parent / f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"
    try:
        crate.write(tmp)
        os.replace(tmp, out)  # onto an empty folder too (POSIX rename replaces an empty directory)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"{out}: cannot write the crate here ({exc.strerror or exc}); choose another folder") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
