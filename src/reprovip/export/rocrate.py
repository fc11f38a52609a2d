"""A study's provenance as a Provenance Run Crate 0.5 (Workflow Run RO-Crate), written with the ``rocrate`` library.

The study is the workflow: ``study.yaml`` is the crate's main entity, reprovip the engine, and the application
its one tool, run once per execution (subject x condition x repetition). When the study was traced with
``trace: processes``, the application is itself a workflow whose steps are the processes that wrote traced
files. The mapping, entity by entity, is in ``docs/export.md``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import mimetypes
import os
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rocrate.model.computerlanguage import ComputerLanguage
from rocrate.model.contextentity import ContextEntity
from rocrate.rocrate import ROCrate

from reprovip import __version__
from reprovip.errors import InputError, NotFoundError

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
_CHUNK = 1 << 20


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds") if ts is not None else None


def _ref(entities: Iterable[Entity]) -> list[dict[str, str]]:
    return [{"@id": e.id} for e in entities]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


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


class _Crate:
    """The crate under construction and the entities shared between executions (one per id)."""

    def __init__(self, crate: ROCrate, blobs: BlobStore, with_blobs: bool) -> None:
        self.crate, self.blobs, self.with_blobs = crate, blobs, with_blobs
        self.files: dict[str, Entity] = {}  # BLAKE3 digest -> the File holding those bytes
        self.seen: dict[str, tuple[dict[str, None], dict[str, Entity]]] = {}  # digest -> its paths, parameters
        self.by_path: dict[tuple[str, str], tuple[str, Entity]] = {}  # (execution, out/<relpath>) -> digest, File

    def entity(self, id_: str, type_: str | list[str], **props: Any) -> Entity:
        """The contextual entity ``id_``, added on first use with ``props`` (None values left out)."""
        found = self.crate.get(id_)
        if found is None:
            props = {k: v for k, v in props.items() if v is not None}
            found = self.crate.add(ContextEntity(self.crate, id_, properties={"@type": type_, **props}))
        return found

    def value(self, id_: str, name: str, value: Any, **props: Any) -> Entity:
        return self.entity(id_, "PropertyValue", name=name, value=value, **props)

    def _hashes(self, digest: str, semantic: str | None) -> list[dict[str, str]]:
        ids = [self.value(f"#blake3/{digest}", "blake3", digest, propertyID="blake3")]
        if semantic:
            ids.append(
                self.value(
                    f"#semantic-hash/{semantic}",
                    "reprovip semantic hash",
                    semantic,
                    propertyID="reprovip-semantic-hash",
                    description="BLAKE3 of the decoded content (array and the header fields that matter)",
                )
            )
        return _ref(ids)

    def output(self, row: dict[str, Any], parameter: Entity) -> Entity:
        """The File of an output's bytes: one per distinct content, named by every path it was stored as."""
        digest, relpath = row["blob"], row["relpath"] or row["name"]
        found = self._output(row, digest, relpath, parameter)
        # The trace lists the working folder: a declared output is out/<relpath> there ({outdir} is out/).
        self.by_path[(row["execution_id"], f"out/{relpath}")] = (digest, found)
        return found

    def _output(self, row: dict[str, Any], digest: str, relpath: str, parameter: Entity) -> Entity:
        names, params = self.seen.setdefault(digest, ({}, {}))
        names[relpath], params[parameter.id] = None, parameter  # dicts: ordered, without repeats
        if digest in self.files:
            found = self.files[digest]
            found["alternateName"], found["exampleOfWork"] = list(names), list(params.values())
            return found
        path = self.blobs.path(digest, row["suffix"] or "")
        props: dict[str, Any] = dict(
            name=relpath,
            alternateName=[relpath],
            contentSize=str(row["size"]) if row["size"] is not None else None,
            encodingFormat=mimetypes.guess_type(relpath)[0],
            identifier=self._hashes(digest, row["semantic_hash"]),
            exampleOfWork=[{"@id": parameter.id}],
        )
        if path.is_file():
            props["sha256"] = _sha256(path)
        elif self.with_blobs:
            raise NotFoundError(
                f"{path}: the bytes of output {row['name']!r} ({relpath}) are not in the store; "
                "export without --with-blobs, or run the study again"
            )
        else:
            props["description"] = "its bytes are no longer in the study's store: only its hashes are known"
        props = {k: v for k, v in props.items() if v is not None}
        if self.with_blobs:
            found = self.crate.add_file(source=path, dest_path=f"blobs/{path.name}", properties=props)
        else:
            found = self.data(path.resolve().as_uri(), "File", **props)
        self.files[digest] = found
        return found

    def data(self, id_: str, type_: str, **props: Any) -> Entity:
        """A data entity whose bytes are not in the crate, linked from the root as RO-Crate requires."""
        known = self.crate.get(id_) is not None
        found = self.entity(id_, type_, **props)
        if not known:
            self.crate.root_dataset.append_to("hasPart", found)
        return found

    def traced(self, eid: str, f: dict[str, Any]) -> Entity:
        """The File of a file an execution wrote in its working folder: its declared output's File when it is one,
        else one of its own (two files with the same bytes stay two files of the data flow)."""
        output = self.by_path.get((eid, f["relpath"]))
        if output is not None and output[0] == f["blob"]:
            return output[1]
        return self.data(
            f"#execution/{eid}/file/{quote(f['relpath'])}",
            "File",
            name=f["relpath"],
            contentSize=str(f["size"]),
            identifier=self._hashes(f["blob"], f["semantic_hash"]),
            description="a file the execution wrote in its working folder; only its hashes were kept",
        )


def _application(c: _Crate, spec: StudySpec, study_dir: Path, *, workflow: bool) -> Entity:
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


def _param(c: _Crate, id_: str, name: str, kind: str, description: str) -> Entity:
    return c.entity(f"#param/{id_}", "FormalParameter", name=name, additionalType=kind, description=description)


def _factor_param(c: _Crate, factor: str) -> Entity:
    return _param(c, f"factor/{quote(factor)}", factor, "Text", f"the level of factor {factor}")


def _output_param(c: _Crate, name: str, spec: StudySpec) -> Entity:
    declared = spec.outputs.get(name)
    what = f"{declared.path} ({declared.kind})" if declared else "no longer declared by the study"
    return _param(c, f"output/{quote(name)}", name, "File", f"output {name}: {what}")


def _location(c: _Crate, catalog: Catalog, digest: str | None) -> Entity | None:
    """The machine an execution ran on: a Place whose properties are its provenance record."""
    record = catalog.provenance(digest) if digest else None
    if record is None:
        return None
    facts = []
    for key, value in record.items():
        if key == "packages":
            facts += [
                c.value(f"#package/{quote(n)}/{quote(v)}", n, v, propertyID="python-package") for n, v in value.items()
            ]
        else:
            shown = value if isinstance(value, str | int | float) else json.dumps(value, sort_keys=True)
            facts.append(c.value(f"#environment/{digest}/{quote(key)}", key, shown, propertyID=key))
    return c.entity(
        f"#environment/{digest}",
        "Place",
        name=str(record.get("hostname") or digest),
        description="the machine and software environment reprovip recorded for the execution",
        additionalProperty=_ref(facts),
    )


def _execution(
    c: _Crate, e: dict[str, Any], study_dir: Path, outputs: list[Entity], attempt: dict[str, Any], where: Entity | None
) -> tuple[Entity, list[Entity]]:
    """The CreateAction of one execution, and what it consumed (its input and parameter values)."""
    eid = e["id"]
    objects = []
    if e["input"]:
        path = Path(e["input"]) if os.path.isabs(e["input"]) else study_dir / e["input"]
        folder = path.is_dir()
        objects.append(
            c.data(
                path.resolve().as_uri() + ("/" if folder else ""),
                "Dataset" if folder else "File",
                name=f"input of subject {e['subject']}",
                exampleOfWork={"@id": _param(c, "input", "input", "File", "the subject's input: {input}").id},
            )
        )
    for factor, label in (e["condition"] or {}).items():
        param = _factor_param(c, factor)
        objects.append(c.value(f"#level/{quote(factor)}/{quote(str(label))}", factor, str(label), exampleOfWork=param))
    rep = _param(c, "repetition", "repetition", "Integer", "the repetition number, from 1")
    objects.append(c.value(f"#repetition/{e['repetition']}", "repetition", e["repetition"], exampleOfWork=rep))
    if e["seed"] is not None:
        seed = _param(c, "seed", "seed", "Integer", "the seed the execution was given ({seed})")
        objects.append(c.value(f"#seed/{e['seed']}", "seed", e["seed"], exampleOfWork=seed))
    measured = (("duration", "duration", {"unitCode": "SEC"}), ("peak-rss", "peak_rss", {"unitText": "bytes"}))
    usage = [
        c.value(f"#execution/{eid}/{key}", key, e[field], propertyID=key, **unit)
        for key, field, unit in measured
        if e[field] is not None
    ]
    variables = sorted((attempt.get("env") or {}).items())
    env = [c.value(f"#env/{quote(k)}/{quote(str(v))}", k, str(v)) for k, v in variables]
    failed = e["status"] == "failed"
    action = c.entity(
        f"#execution/{eid}",
        "CreateAction",
        name=f"{e['subject']} [{e['condition_key']}] repetition {e['repetition']}",
        description=_command_line(attempt, e),
        instrument={"@id": "#application"},
        object=_ref(objects),
        result=_ref(outputs) or None,
        startTime=_iso(e["started_at"]),
        endTime=_iso(e["finished_at"]),
        actionStatus={"@id": f"http://schema.org/{'Failed' if failed else 'Completed'}ActionStatus"},
        error=e["error"] if failed else None,
        resourceUsage=_ref(usage) or None,
        environment=_ref(env) or None,
        location={"@id": where.id} if where is not None else None,
        identifier=eid,
    )
    return action, objects


def _command_line(attempt: dict[str, Any], e: dict[str, Any]) -> str:
    import shlex

    if e["source"] == "ingest":
        return "outputs ingested from an existing folder (`reprovip ingest`): no command line was recorded"
    argv = attempt.get("argv")
    ran = shlex.join(argv) if argv else "command line not recorded"
    return f"{ran} (exit code {e['exit_code']})" if e["exit_code"] is not None else ran


def _flow_steps(traces: list[dict[str, Any]], factors: dict[str, list[str]], n_done: int) -> list[dict[str, Any]]:
    """The steps of the dataflow analysis (:func:`reprovip.analyze.dataflow.dataflow`): processes that wrote traced
    files, matched across executions by the files they write; none unless every trace is ``processes``."""
    from reprovip.analyze.dataflow import dataflow

    flow = dataflow(traces, factors, n_done)
    return (flow or {}).get("steps") or []


def _steps(c: _Crate, app: Entity, flow_steps: list[dict[str, Any]]) -> dict[tuple[str, ...], Entity]:
    """Each step as a tool and a HowToStep of the application; the HowToSteps by the files they write."""
    steps = {}
    for i, s in enumerate(flow_steps):
        tool = c.entity(f"#application/tool/{i}", "SoftwareApplication", name=s["name"])
        step = c.entity(f"#application/step/{i}", "HowToStep", name=s["name"], position=i, workExample=tool)
        app.append_to("hasPart", tool)
        app.append_to("step", step)
        steps[tuple(s["writes"])] = step
    return steps


def _exit_error(code: int | None) -> str:
    # Never read as a success: a process whose end strace did not see is not known to have succeeded.
    return "exit status not recorded" if code is None else f"exit code {code}"


def _process_actions(c: _Crate, eid: str, trace: dict[str, Any], steps: dict[tuple[str, ...], Entity]) -> list[Entity]:
    """The CreateAction of each traced process of one execution that wrote files, and its ControlAction."""
    files = {f["relpath"]: f for f in trace["files"]}
    controls = []
    for p in trace["processes"]:
        step = steps.get(tuple(p["writes"]))
        if step is None:
            continue  # wrote no traced file: not a step (the driver that starts the others)
        ok = p["exit_code"] == 0
        action = c.entity(
            f"#execution/{eid}/process/{p['number']}",
            "CreateAction",
            name=f"process {p['number']} of execution {eid}",
            description=" ".join(p["argv"] or ["command line not recorded"]),
            instrument=step["workExample"],
            object=_ref(c.traced(eid, files[r]) for r in p["reads"]) or None,
            result=_ref(c.traced(eid, files[w]) for w in p["writes"]),
            actionStatus={"@id": f"http://schema.org/{'Completed' if ok else 'Failed'}ActionStatus"},
            error=None if ok else _exit_error(p["exit_code"]),
        )
        controls.append(
            c.entity(
                f"{action.id}/control",
                "ControlAction",
                name=f"{step['name']}, execution {eid}",
                instrument=step,
                object=action,
            )
        )
    return controls


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
    c = _Crate(crate, blobs, with_blobs)
    n_done = sum(e["status"] == "done" for e in executions)
    traces = {t["execution_id"]: t for t in catalog.traces(sid)}
    flow_steps = _flow_steps(list(traces.values()), {f.name: list(f.levels) for f in spec.factor_list()}, n_done)
    app = _application(c, spec, study_dir, workflow=bool(flow_steps))
    steps = _steps(c, app, flow_steps)
    workflow = _main_workflow(c, study_file, name, app)
    step = crate.get("#step")

    outputs: dict[str, list[Entity]] = {}
    for row in catalog.outputs(sid):
        if row["blob"] is not None:  # a done execution's outputs all have bytes (missing ones fail it)
            outputs.setdefault(row["execution_id"], []).append(c.output(row, _output_param(c, row["name"], spec)))
    attempts = _last_attempts(catalog, executions)
    actions, controls, consumed = [], [], {}
    for e in executions:
        where = _location(c, catalog, e["provenance"])
        action, objects = _execution(c, e, study_dir, outputs.get(e["id"], []), attempts[e["id"]], where)
        actions.append(action)
        consumed.update((o.id, o) for o in objects)
        controls.append(
            c.entity(f"{action.id}/control", "ControlAction", name=action["name"], instrument=step, object=action)
        )
        if e["id"] in traces:
            controls += _process_actions(c, e["id"], traces[e["id"]], steps)
    workflow["input"] = [crate.get(i) for i in sorted({o["exampleOfWork"].id for o in consumed.values()})]
    workflow["output"] = [_output_param(c, n, spec) for n in spec.outputs]

    failed = len(executions) - n_done
    run = c.entity(
        "#run",
        "CreateAction",
        name=f"reprovip run of study {name}",
        instrument=workflow,
        object=list(consumed.values()),
        result=list(c.files[d] for d in c.seen),
        startTime=_iso(min((e["started_at"] for e in executions if e["started_at"]), default=None)),
        endTime=_iso(max((e["finished_at"] for e in executions if e["finished_at"]), default=None)),
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
    crate.root_dataset["mentions"] = [run, *actions]
    if analysis is not None:
        _add_analysis(c, analysis, engine, every)
    _write(crate, out)
    return out


def _main_workflow(c: _Crate, study_file: Path, name: str, app: Entity) -> Entity:
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


def _root(c: _Crate, spec: StudySpec, name: str, every: list[Any], executions: list[Any], license: str | None) -> None:  # noqa: A002
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


def _add_analysis(c: _Crate, document: dict[str, Any], engine: Entity, every: list[dict[str, Any]]) -> None:
    """The analysis document, and the action of ``reprovip analyze`` that wrote it (its verdict as description)."""
    from io import BytesIO

    from reprovip.analyze.executions import executions_digest
    from reprovip.atomic import to_json

    verdict = document.get("verdict") or {}
    said = f"verdict: {verdict.get('label') or verdict.get('status')}" if verdict else "no verdict in the document"
    if verdict.get("executions_digest") != executions_digest(every):
        # Exported as it is, but never passed off as the verdict on the executions this crate describes.
        said += "; STALE: the executions changed since this analysis, run `reprovip analyze` and export again"
    doc = c.crate.add_file(
        source=BytesIO(to_json(document).encode()),
        dest_path="analysis.json",
        properties=dict(name="reprovip analysis document", encodingFormat="application/json", description=said),
    )
    c.entity(
        "#analysis",
        "CreateAction",
        name="reprovip analyze",
        description=said,
        instrument=engine,
        object=c.crate.get("#run")["result"],
        result=doc,
        endTime=document.get("created_at"),
    )
    c.crate.root_dataset.append_to("mentions", c.crate.get("#analysis"))


def _write(crate: ROCrate, out: Path) -> None:
    """Write the crate in a temporary folder beside ``out``, then rename it into place (whole or absent)."""
    out.parent.mkdir(parents=True, exist_ok=True)
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
