"""``Study.export_rocrate``: real studies run with the local executor, exported as Provenance Run Crates, read back
with the ``rocrate`` library (ro-crate-py) and validated by roc-validator against the Provenance Run Crate 0.5
profile at REQUIRED severity. Every expected value comes from the catalog, the blob store or hashlib."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import blake3
import pytest
from rocrate.rocrate import ROCrate

from reprovip.errors import InputError, NotFoundError, StoreError
from reprovip.execute import trace
from reprovip.export import rocrate as export
from reprovip.store import BlobStore
from reprovip.study import Study
from tests.conftest import APPS, BOSH_SCALE_INVOCATION, unavailable, write_study
from tests.execute.test_trace import pipeline_study
from tests.export.offline import SERVED, validate

# edge_app.py fail-some: sub-03's repetition 2 exits with status 1, under both thread levels.
EDGE = '"fail-some", "{input}", "{outdir}", "{repetition}"'


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> tuple[Study, Path]:
    """An analysed untraced study (3 subjects x threads 1, 2 x 2 repetitions, 2 failed executions), exported."""
    root = tmp_path_factory.mktemp("plain")
    study = Study.load(
        write_study(root / "study", app="edge_app.py", args=EDGE, factors="  threads: [1, 2]\n", repetitions=2)
    )
    study.run(jobs=2)
    study.analyze()
    return study, study.export_rocrate(root / "crate", license="https://spdx.org/licenses/CC-BY-4.0")


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Study, Path]:
    """The four-step pipeline of tests/apps/pipeline_app.py traced with `processes` (strace), not analysed."""
    if trace.strace_problem() is not None:
        unavailable(f"strace cannot trace here: {trace.strace_problem()}")
    root = tmp_path_factory.mktemp("traced")
    study = pipeline_study(root / "study", "processes")
    assert study.run(jobs=2).ok
    return study, study.export_rocrate(root / "crate")


def _graph(crate: Path) -> dict[str, dict]:
    return {e["@id"]: e for e in json.loads((crate / "ro-crate-metadata.json").read_text())["@graph"]}


def _ids(value: dict | list | None) -> list[str]:
    return [v["@id"] for v in (value if isinstance(value, list) else [value] if value else [])]


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def test_every_execution_is_read_back_with_its_status_inputs_and_output_hashes(plain: tuple[Study, Path]) -> None:
    study, path = plain
    crate = ROCrate(path)  # ro-crate-py reads it
    sid = study.catalog.study_id(study.name)
    executions = study.catalog.executions(sid)
    outputs = study.catalog.outputs(sid)
    assert len(executions) == 12 and sum(e["status"] == "failed" for e in executions) == 2
    store = BlobStore(study.store)
    for e in executions:
        action = crate.get(f"#execution/{e['id']}")
        assert action.type == "CreateAction" and action["instrument"].id == "#application"
        status = "Failed" if e["status"] == "failed" else "Completed"
        assert action["actionStatus"] == f"http://schema.org/{status}ActionStatus"
        assert action.get("error") == (e["error"] if e["status"] == "failed" else None)
        assert (action["startTime"], action["endTime"]) == (_iso(e["started_at"]), _iso(e["finished_at"]))
        values = {pv["name"]: pv["value"] for pv in action["object"] if pv.type == "PropertyValue"}
        seed = {"seed": e["seed"]} if e["seed"] is not None else {}
        assert values == {"threads": e["condition"]["threads"], "repetition": e["repetition"], **seed}
        assert Path(e["input"]).resolve().as_uri() in [o.id for o in action["object"]]
        env = {pv["name"]: pv["value"] for pv in action["environment"]}
        assert env["OMP_NUM_THREADS"] == e["condition"]["threads"]
        mine = [o for o in outputs if o["execution_id"] == e["id"]]
        results = action.get("result") or []
        assert len(results) == len(mine) == (1 if e["status"] == "done" else 0)
        for o, f in zip(mine, results, strict=True):
            blob = store.path(o["blob"], o["suffix"])
            assert f.id == blob.resolve().as_uri() and f["contentSize"] == str(blob.stat().st_size)
            assert f["sha256"] == hashlib.sha256(blob.read_bytes()).hexdigest()
            hashes = {pv["propertyID"]: pv["value"] for pv in f["identifier"]}
            assert hashes == {"blake3": o["blob"], "reprovip-semantic-hash": o["semantic_hash"]}
            assert hashes["blake3"] == blake3.blake3(blob.read_bytes()).hexdigest()
    mentioned = [a.id for a in crate.root_dataset["mentions"]]
    assert sorted(mentioned) == sorted(["#run", "#analysis", *(f"#execution/{e['id']}" for e in executions)])
    run = crate.get("#run")
    assert run["instrument"] is crate.mainEntity and run["error"] == "2 of 12 executions failed"
    assert {f.id for f in run["result"]} == {store.path(o["blob"], o["suffix"]).resolve().as_uri() for o in outputs}


def test_the_environment_is_the_provenance_record_the_catalog_stored(plain: tuple[Study, Path]) -> None:
    study, path = plain
    crate = ROCrate(path)
    sid = study.catalog.study_id(study.name)
    for e in study.catalog.executions(sid):
        place = crate.get(f"#execution/{e['id']}")["location"]
        record = study.catalog.provenance(e["provenance"])
        facts = {pv["name"]: pv["value"] for pv in place["additionalProperty"] if pv["propertyID"] != "python-package"}
        packages = {
            pv["name"]: pv["value"] for pv in place["additionalProperty"] if pv["propertyID"] == "python-package"
        }
        assert place.id == f"#environment/{e['provenance']}" and place["name"] == record["hostname"]
        assert facts["os"] == record["os"] and json.loads(facts["python"]) == record["python"]
        assert packages == record["packages"] and packages["numpy"]  # a real package list


def test_the_crate_conforms_to_the_provenance_run_crate_profile(plain: tuple[Study, Path], tmp_path: Path) -> None:
    study, path = plain
    graph = _graph(path)
    assert _ids(graph["./"]["conformsTo"]) == [
        "https://w3id.org/ro/wfrun/process/0.5",
        "https://w3id.org/ro/wfrun/workflow/0.5",
        "https://w3id.org/ro/wfrun/provenance/0.5",
        "https://w3id.org/workflowhub/workflow-ro-crate/1.0",
    ]
    assert _ids(graph["ro-crate-metadata.json"]["conformsTo"]) == [
        "https://w3id.org/ro/crate/1.1",
        "https://w3id.org/workflowhub/workflow-ro-crate/1.0",
    ]
    assert graph["./"]["license"] == {"@id": "https://spdx.org/licenses/CC-BY-4.0"}
    assert (path / "study.yaml").read_bytes() == study.path.read_bytes()
    assert validate(path, tmp_path / "cache") == []


@pytest.mark.parametrize(
    ("damage", "issue"),
    [
        (lambda g: g["#step"].pop("workExample"), "A HowToStep must refer to its corresponding tool via workExample"),
        (lambda g: g["#organize"].pop("object"), "An OrganizeAction must reference the ControlAction instances"),
        (lambda g: g["./"].pop("mainEntity"), "The Main Workflow must be specified through a `mainEntity`"),
    ],
    ids=["step-without-tool", "organize-without-steps", "no-main-workflow"],
)
def test_the_validator_finds_a_damaged_crate(plain: tuple[Study, Path], tmp_path: Path, damage, issue: str) -> None:
    """The negative control of the test above: the same validation fails once the crate breaks a MUST."""
    crate = tmp_path / "crate"
    shutil.copytree(plain[1], crate)
    graph = _graph(crate)
    damage(graph)
    context = json.loads((crate / "ro-crate-metadata.json").read_text())["@context"]
    (crate / "ro-crate-metadata.json").write_text(json.dumps({"@context": context, "@graph": list(graph.values())}))
    assert any(issue in i for i in validate(crate, tmp_path / "cache"))


def test_a_context_missing_offline_fails_the_validation(plain: tuple[Study, Path], tmp_path: Path) -> None:
    """Without the workflow-run context the validator cannot read the crate: it reports it, never passes."""
    assert validate(plain[1], tmp_path / "cache", urls=[next(iter(SERVED))]) != []


def test_a_traced_study_exports_each_process_as_a_step(traced: tuple[Study, Path], tmp_path: Path) -> None:
    study, path = traced
    crate = ROCrate(path)
    app = crate.get("#application")
    assert set(app.type) == {"SoftwareApplication", "ComputationalWorkflow", "HowTo"}
    steps = app["step"]
    assert [s["position"] for s in steps] == [0, 1, 2, 3]
    assert [s["workExample"].id for s in steps] == [t.id for t in app["hasPart"]]
    assert [s["name"].split(" (writes ")[1] for s in steps] == [
        "step1/loaded.json)",
        "step2/denoised.json)",
        "step3/count.json, step3/scaled.json)",
        "out/result.json)",
    ]
    traces = study.catalog.traces(study.catalog.study_id(study.name))
    controls = [c.id for c in crate.get("#organize")["object"]]
    assert len(traces) == 4 and len(controls) == 4 * (1 + 4)  # each execution, and each of its 4 steps
    for t in traces:
        assert f"#execution/{t['execution_id']}/control" in controls
        files = {f["relpath"]: f for f in t["files"]}
        for p, step in zip(t["processes"][1:], steps, strict=True):  # process 0 (the driver) writes nothing
            action = crate.get(f"#execution/{t['execution_id']}/process/{p['number']}")
            assert action["instrument"] is step["workExample"]
            assert action["actionStatus"] == "http://schema.org/CompletedActionStatus"
            assert [f["name"] for f in action.get("object") or []] == p["reads"]
            # The declared output is its output's File, named relative to {outdir} (out/ in the working folder).
            assert [f["name"] for f in action["result"]] == [w.removeprefix("out/") for w in p["writes"]]
            for f, relpath in zip(action["result"], p["writes"], strict=True):
                assert f["identifier"][0]["value"] == files[relpath]["blob"]
            control = crate.get(f"{action.id}/control")
            assert control["instrument"] is step and control["object"] is action
        # The step that writes the declared output writes the output's own File.
        output = crate.get(f"#execution/{t['execution_id']}")["result"][0]
        assert action["result"][0] is output
    assert not (path / "analysis.json").exists()  # not analysed: the crate holds no verdict
    assert validate(path, tmp_path / "cache") == []


def test_with_blobs_copies_each_distinct_output_once(plain: tuple[Study, Path], tmp_path: Path) -> None:
    study, _ = plain
    path = study.export_rocrate(tmp_path / "crate", with_blobs=True)
    outputs = study.catalog.outputs(study.catalog.study_id(study.name))
    copied = sorted(p.name for p in (path / "blobs").iterdir())
    assert copied == sorted({o["blob"] + o["suffix"] for o in outputs}) and len(copied) == 3  # one per subject
    for name in copied:
        assert blake3.blake3((path / "blobs" / name).read_bytes()).hexdigest() == name.split(".")[0]
    crate = ROCrate(path)
    assert {f.id for f in crate.get("#run")["result"]} == {f"blobs/{n}" for n in copied}
    assert validate(path, tmp_path / "cache") == []


def test_the_analysis_is_exported_with_its_verdict_and_flagged_when_stale(
    plain: tuple[Study, Path], tmp_path: Path
) -> None:
    study, path = plain
    document = json.loads((path / "analysis.json").read_text())
    label = document["verdict"]["label"]
    assert ROCrate(path).get("#analysis")["description"] == f"verdict: {label}"
    executions = study.catalog.executions(study.catalog.study_id(study.name))
    document["verdict"]["executions_digest"] = "changed-since"
    stale = export.export_rocrate(
        tmp_path / "stale",
        spec=study.spec,
        study_file=study.path,
        name=study.name,
        catalog=study.catalog,
        blobs=BlobStore(study.store),
        analysis=document,
    )
    said = ROCrate(stale).get("#analysis")["description"]
    assert said.startswith(f"verdict: {label}; STALE: the executions changed") and len(executions) == 12


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Study:
    """A small study run and analysed (2 subjects x 2 repetitions), its file as it was then."""
    study = Study.load(write_study(tmp_path_factory.mktemp("analysed") / "study", subjects=2, repetitions=2))
    assert study.run(jobs=2).ok
    study.analyze()
    return study


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (
            lambda text: text + 'criteria:\n  - "wsd <= 0.0001"\n',
            "STALE: the criteria changed since this analysis (the study file was edited): run `reprovip analyze` "
            "and export again",
        ),
        (
            lambda text: text.replace("repetitions: 2", "repetitions: 3"),
            "STALE: the study file declares 2 execution(s) never run and 0 run with an earlier recipe",
        ),
        (
            lambda text: text + "  other: {path: other.json, kind: scalars}\n",
            "STALE: the study file declares 0 execution(s) never run and 4 run with an earlier recipe",
        ),
    ],
    ids=["criteria", "unrun-repetitions", "outputs"],
)
def test_an_analysis_made_before_the_study_file_was_edited_is_stale(
    analysed: Study, tmp_path: Path, edit, said: str
) -> None:
    """D/04: the export shipped the edited study.yaml beside "verdict: ..." with no STALE mark, while the report
    and ``check --no-reanalyze`` refused that verdict (:func:`reprovip.report.api.file_changed`)."""
    copy = tmp_path / "study"
    shutil.copytree(analysed.directory, copy)
    (copy / "study.yaml").write_text(edit((copy / "study.yaml").read_text()))
    path = Study.load(copy / "study.yaml").export_rocrate(tmp_path / "crate")
    label = json.loads((path / "analysis.json").read_text())["verdict"]["label"]
    description = ROCrate(path).get("#analysis")["description"]
    assert description.startswith(f"verdict: {label}; {said}"), description
    unedited = analysed.export_rocrate(tmp_path / "unedited")
    assert ROCrate(unedited).get("#analysis")["description"] == f"verdict: {label}"


def test_an_empty_folder_is_used_and_a_folder_with_something_in_it_is_refused(
    plain: tuple[Study, Path], tmp_path: Path
) -> None:
    study, _ = plain
    (tmp_path / "empty").mkdir()
    assert (study.export_rocrate(tmp_path / "empty") / "ro-crate-metadata.json").is_file()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"full: already exists and is not an empty folder; choose a new folder"):
        study.export_rocrate(tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["notes.txt"]


def test_a_study_never_run_is_refused(tmp_path: Path) -> None:
    study = Study.load(write_study(tmp_path / "study"))
    with pytest.raises(
        NotFoundError, match=r"study.yaml: no finished execution of study 'study' to export; run `reprovip run` or"
    ):
        study.export_rocrate(tmp_path / "crate")
    assert not (tmp_path / "crate").exists()


def test_with_blobs_refuses_an_output_whose_bytes_are_gone(plain: tuple[Study, Path], tmp_path: Path) -> None:
    study, _ = plain
    copy = tmp_path / "study"
    shutil.copytree(study.directory, copy)
    moved = Study.load(copy / "study.yaml")
    row = moved.catalog.outputs(moved.catalog.study_id(moved.name))[0]
    BlobStore(moved.store).path(row["blob"], row["suffix"]).unlink()
    with pytest.raises(NotFoundError, match=r"the bytes of output 'result' \(result.json\) are not in the store"):
        moved.export_rocrate(tmp_path / "crate", with_blobs=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]  # nothing half-written left
    # Without the copies the crate still says what the output was, and that its bytes are gone.
    crate = ROCrate(moved.export_rocrate(tmp_path / "crate"))
    gone = crate.get(BlobStore(moved.store).path(row["blob"], row["suffix"]).resolve().as_uri())
    assert "sha256" not in gone and gone["identifier"][0]["value"] == row["blob"]
    assert gone["description"] == "its bytes are no longer in the study's store: only its hashes are known"


@pytest.mark.parametrize("with_blobs", [False, True])
def test_a_damaged_blob_is_refused_not_exported_with_a_contradicting_sha256(
    plain: tuple[Study, Path], tmp_path: Path, with_blobs: bool
) -> None:
    """A blob whose bytes no longer match its BLAKE3 name (truncated, edited): before, the crate stated the sha256
    of the damaged bytes beside the BLAKE3 of the good ones, and `--with-blobs` copied the damaged file."""
    study, _ = plain
    copy = tmp_path / "study"
    shutil.copytree(study.directory, copy)
    moved = Study.load(copy / "study.yaml")
    row = moved.catalog.outputs(moved.catalog.study_id(moved.name))[0]
    path = BlobStore(moved.store).path(row["blob"], row["suffix"])
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(StoreError, match=r"the bytes of output 'result' \(result.json\) no longer match their hash"):
        moved.export_rocrate(tmp_path / "crate", with_blobs=with_blobs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]


def test_a_failed_write_leaves_no_crate_and_no_temporary_folder(
    plain: tuple[Study, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_written(crate: ROCrate, base: Path) -> None:
        Path(base).mkdir()
        (Path(base) / "ro-crate-metadata.json").write_text("{")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ROCrate, "write", half_written)
    with pytest.raises(InputError, match=r"crate: cannot write the crate here \(No space left on device\)"):
        plain[0].export_rocrate(tmp_path / "crate")
    assert list(tmp_path.iterdir()) == []


def test_a_boutiques_application_is_described_by_its_descriptor(tmp_path: Path) -> None:
    """The descriptor's name and tool-version (tests/apps/bosh_scale.json: "scale", "1.0") name the tool, and the
    descriptor itself is in the crate."""
    descriptor = APPS / "bosh_scale.json"
    invocation = BOSH_SCALE_INVOCATION
    path = write_study(
        tmp_path / "study",
        repetitions=1,
        subjects=2,
        factors="  factor: [1, 2]\n",
    )
    text = path.read_text().split("subjects:", 1)[1]
    path.write_text(f"application:\n  boutiques: {descriptor}\n  invocation: {json.dumps(invocation)}\nsubjects:{text}")
    study = Study.load(path)
    assert study.run(jobs=2).ok
    crate = ROCrate(study.export_rocrate(tmp_path / "crate"))
    app = crate.get("#application")
    assert (app.type, app["name"], app["softwareVersion"]) == ("SoftwareApplication", "scale", "1.0")
    assert app["subjectOf"].id == "application/bosh_scale.json"
    assert (tmp_path / "crate" / "application" / "bosh_scale.json").read_bytes() == descriptor.read_bytes()
    assert len([a for a in crate.root_dataset["mentions"] if a.id.startswith("#execution/")]) == 4
    assert validate(tmp_path / "crate", tmp_path / "cache") == []


def test_a_study_traced_with_files_only_has_no_steps(tmp_path: Path) -> None:
    """`trace: files` records no process: the application stays one tool, and no step or process is exported."""
    study = pipeline_study(tmp_path / "study", "files")
    assert study.run(jobs=2).ok
    graph = _graph(study.export_rocrate(tmp_path / "crate"))
    assert graph["#application"]["@type"] == "SoftwareApplication" and "step" not in graph["#application"]
    local = [i for i in graph if i.startswith("#")]
    assert [i for i in local if "/process/" in i or "/file/" in i or i.startswith("#application/")] == []
    assert len(_ids(graph["#organize"]["object"])) == 4  # one ControlAction per execution
