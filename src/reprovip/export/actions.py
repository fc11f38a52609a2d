"""The actions of a crate: each execution, each traced process (the steps), with what they read and wrote."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from reprovip.export.crate import Crate, iso, ref

if TYPE_CHECKING:
    from rocrate.model.entity import Entity

    from reprovip.spec import StudySpec
    from reprovip.store import Catalog


def param(c: Crate, id_: str, name: str, kind: str, description: str) -> Entity:
    """The FormalParameter ``#param/<id_>``; ``kind`` is its additionalType (File, Text, Integer)."""
    return c.entity(f"#param/{id_}", "FormalParameter", name=name, additionalType=kind, description=description)


def factor_param(c: Crate, factor: str) -> Entity:
    """A factor as a workflow input: its level labels are the values (PropertyValue) executions consumed."""
    return param(c, f"factor/{quote(factor)}", factor, "Text", f"the level of factor {factor}")


def output_param(c: Crate, name: str, spec: StudySpec) -> Entity:
    """A declared output as a workflow output (an output the catalog holds but the spec no longer declares, too)."""
    declared = spec.outputs.get(name)
    what = f"{declared.path} ({declared.kind})" if declared else "no longer declared by the study"
    return param(c, f"output/{quote(name)}", name, "File", f"output {name}: {what}")


def location(c: Crate, catalog: Catalog, digest: str | None) -> Entity | None:
    """The machine an execution ran on: a Place whose properties are its provenance record."""
    if digest and (known := c.known.get(f"#environment/{digest}")) is not None:
        return known  # executions share a few records: each is read and described once
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
        additionalProperty=ref(facts),
    )


def execution(
    c: Crate, e: dict[str, Any], study_dir: Path, outputs: list[Entity], attempt: dict[str, Any], where: Entity | None
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
                exampleOfWork={"@id": param(c, "input", "input", "File", "the subject's input: {input}").id},
            )
        )
    for factor, label in (e["condition"] or {}).items():
        of = factor_param(c, factor)
        objects.append(c.value(f"#level/{quote(factor)}/{quote(str(label))}", factor, str(label), exampleOfWork=of))
    rep = param(c, "repetition", "repetition", "Integer", "the repetition number, from 1")
    objects.append(c.value(f"#repetition/{e['repetition']}", "repetition", e["repetition"], exampleOfWork=rep))
    if e["seed"] is not None:
        seed = param(c, "seed", "seed", "Integer", "the seed the execution was given ({seed})")
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
        object=ref(objects),
        result=ref(outputs) or None,
        startTime=iso(e["started_at"]),
        endTime=iso(e["finished_at"]),
        actionStatus={"@id": f"http://schema.org/{'Failed' if failed else 'Completed'}ActionStatus"},
        error=e["error"] if failed else None,
        resourceUsage=ref(usage) or None,
        environment=ref(env) or None,
        location={"@id": where.id} if where is not None else None,
        identifier=eid,
    )
    return action, objects


def _command_line(attempt: dict[str, Any], e: dict[str, Any]) -> str:
    if e["source"] == "ingest":
        return "outputs ingested from an existing folder (`reprovip ingest`): no command line was recorded"
    argv = attempt.get("argv")
    ran = shlex.join(argv) if argv else "command line not recorded"
    return f"{ran} (exit code {e['exit_code']})" if e["exit_code"] is not None else ran


def flow_steps(traces: list[dict[str, Any]], factors: dict[str, list[str]], n_done: int) -> list[dict[str, Any]]:
    """The steps of the dataflow analysis (:func:`reprovip.analyze.dataflow.dataflow`): processes that wrote traced
    files, matched across executions by the files they write; none unless every trace is ``processes``."""
    if not traces:
        return []  # without importing reprovip.analyze (SciPy): most studies are not traced
    from reprovip.analyze.dataflow import dataflow

    flow = dataflow(traces, factors, n_done)
    return (flow or {}).get("steps") or []


def add_steps(c: Crate, app: Entity, found: list[dict[str, Any]]) -> dict[tuple[str, ...], Entity]:
    """Each step ``found`` as a tool and a HowToStep of the application; the HowToSteps by the files they write."""
    steps = {}
    for i, s in enumerate(found):
        tool = c.entity(f"#application/tool/{i}", "SoftwareApplication", name=s["name"])
        step = c.entity(f"#application/step/{i}", "HowToStep", name=s["name"], position=i, workExample=tool)
        app.append_to("hasPart", tool)
        app.append_to("step", step)
        steps[tuple(s["writes"])] = step
    return steps


def _exit_error(code: int | None) -> str:
    # Never read as a success: a process whose end strace did not see is not known to have succeeded.
    return "exit status not recorded" if code is None else f"exit code {code}"


def process_actions(c: Crate, eid: str, trace: dict[str, Any], steps: dict[tuple[str, ...], Entity]) -> list[Entity]:
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
            object=ref(c.traced(eid, files[r]) for r in p["reads"]) or None,
            result=ref(c.traced(eid, files[w]) for w in p["writes"]),
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
