"""Boutiques execution records: ingested without their output files; executions launched with ``bosh``.

The oracle is reprovip itself hashing the very output files the records describe (``ingest --pattern``): the
bitwise verdicts must be the same whether the outputs are compared by the records' MD5 (files absent) or by
BLAKE3 (files present). The records are real: ``bosh exec launch`` (boutiques package) writes them here.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import InputError
from reprovip.ingest.boutiques_records import MD5_ONLY, ingest_boutiques_records, read_records
from reprovip.spec.boutiques import bosh_launch_template
from reprovip.study import Study
from tests.conftest import BOSH_SCALE_INVOCATION

APPS = Path(__file__).parents[1] / "apps"
SCALE, NOISY = APPS / "bosh_scale.json", APPS / "bosh_noisy.json"
SUBJECTS = {"sub-01": "subject 10.0\n", "sub-02": "subject 17.5\n"}
STUDY = (
    'name: {name}\nsubjects: {{glob: "data/{{subject}}.txt"}}\n'
    "outputs:\n  result: {{path: result.json, kind: scalars}}\n"
)


def _data(root: Path) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    for s, text in SUBJECTS.items():
        (root / "data" / f"{s}.txt").write_text(text)


def _launch(desc: Path, inv: dict, workdir: Path) -> None:
    """``bosh exec launch DESC INV --no-container``, in-process (records go to ~/.cache/boutiques/data)."""
    from boutiques import bosh

    inv_path = workdir / f"inv-{time.time_ns()}.json"
    inv_path.write_text(json.dumps(inv))
    out = bosh(["exec", "launch", str(desc), str(inv_path), "--no-container"])
    assert out.exit_code == 0, out.stderr


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Records of 2 tools: ``scale`` (2 subjects x factor 1|2 x 2 repetitions) and ``noisy scale`` (2 x 2)."""
    import boutiques.localExec

    root = tmp_path_factory.mktemp("bosh")
    _data(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(root / "home"))
        # Boutiques waits half a second after each execution "for the OS to finish writing": not needed here.
        mp.setattr(boutiques.localExec, "time", types.SimpleNamespace(sleep=lambda s: None, time=time.time))
        for s in SUBJECTS:
            for rep in (1, 2):
                base = dict(
                    python=sys.executable,
                    script=str(APPS / "bosh_scale.py"),
                    input_file=str(root / "data" / f"{s}.txt"),
                )
                for factor in (1, 2):
                    out = root / "results" / str(factor) / s / f"run-{rep}"
                    _launch(SCALE, dict(base, out_dir=str(out), factor=factor), root)
                _launch(NOISY, dict(base, out_dir=str(root / "noisy" / s / f"run-{rep}"), factor=1), root)
    return root


@contextlib.contextmanager
def _hidden(records: Path, tmp_path: Path) -> Iterator[None]:
    """The output files the records describe are not on disk (moved away, then back)."""
    for folder in ("results", "noisy"):
        shutil.move(records / folder, tmp_path / folder)
    try:
        yield
    finally:
        for folder in ("results", "noisy"):
            shutil.move(tmp_path / folder, records / folder)


def _study(root: Path, name: str) -> Study:
    _data(root)
    (root / "study.yaml").write_text(STUDY.format(name=name))
    return Study.load(root / "study.yaml")


def _bitwise(study: Study) -> dict:
    from reprovip.analyze import analyze_study

    doc = analyze_study(study)
    return {o["name"]: o["bitwise"] for o in doc["outputs"]}


def _verdicts(study: Study) -> dict:
    from reprovip.analyze import analyze_study
    from reprovip.criteria.evaluate import evaluate

    doc = evaluate(analyze_study(study), None)
    return {o["name"]: o["verdict"]["status"] for o in doc["outputs"]}


def test_bosh_writes_the_record_format_we_read(records: Path) -> None:
    """The format, as ``bosh exec launch`` writes it (boutiques/localExec.py ``_saveDataCaptureToCache``)."""
    found, skipped = read_records(records / "home/.cache/boutiques/data")
    assert skipped == [] and len(found) == 12
    assert sorted({(r.tool, r.version) for r in found}) == [("noisy scale", "1.0"), ("scale", "1.0")]
    one = next(r for r in found if r.tool == "scale")
    assert set(one.invocation["input_file"]) == {"file-name", "md5sum"}
    assert set(one.output["output-files"]["result"]) == {"file-name", "md5sum"}
    assert one.output["exit-code"] == 0 and one.descriptor["name"] == "scale"


@pytest.mark.parametrize("files", ["present", "absent"])
@pytest.mark.parametrize(
    ("tool", "pattern", "identical", "factors"),
    [
        ("scale", "results/{factor}/{subject}/run-{repetition}", False, ["factor"]),
        ("noisy scale", "noisy/{subject}/run-{repetition}", False, []),
    ],
)
def test_record_verdicts_equal_hashing_the_outputs(
    records: Path, tmp_path: Path, files: str, tool: str, pattern: str, identical: bool, factors: list[str]
) -> None:
    oracle = _study(tmp_path / "oracle", "oracle")
    oracle.ingest(pattern, root=records)
    expected = _bitwise(oracle)
    cache = tmp_path / "records"
    shutil.copytree(records / "home/.cache/boutiques/data", cache)
    with _hidden(records, tmp_path) if files == "absent" else contextlib.nullcontext():
        study = _study(tmp_path / "records-study", "from-records")
        summary = ingest_boutiques_records(study, cache, tool=tool)
        got = _bitwise(study)
        verdicts = _verdicts(study)
    assert summary.factors == factors and summary.subjects == ["sub-01", "sub-02"]
    assert summary.hashes == {"result": "blake3" if files == "present" else "md5"}
    assert got == expected
    assert got["result"]["identical"] is identical
    if tool == "scale":  # deterministic: every repetition agrees, the factor changes the result
        assert got["result"]["repetitions_identical"] and got["result"]["factors"]["factor"]["changes_result"]
    else:
        assert not got["result"]["repetitions_identical"]
    if files == "present":
        assert verdicts == _verdicts(oracle)
    else:
        assert verdicts == {"result": "error"}  # no file: ICC cannot be computed, only the bitwise verdict
        outs = study.catalog.outputs(study.catalog.study_id(study.name))
        assert all(o["blob"].startswith("md5:") and o["error"] == MD5_ONLY for o in outs)


def test_identical_outputs_are_identical_from_md5_alone(records: Path, tmp_path: Path) -> None:
    """Only the subject with factor 1 (or 2): repetitions identical, so the verdict needs no file."""
    cache = tmp_path / "records"
    cache.mkdir()
    for p in (records / "home/.cache/boutiques/data").glob("*.json"):
        doc = json.loads(p.read_text())
        inv = doc.get("public-invocation", {})
        keep = "summary" not in doc or (
            doc["summary"]["name"] == "scale" and inv["factor"] == 2 and inv["input_file"]["file-name"] == "sub-01.txt"
        )
        if keep:
            shutil.copy(p, cache)
    study = _study(tmp_path / "s", "one-cell")
    with _hidden(records, tmp_path):
        summary = ingest_boutiques_records(study, cache)
    assert (summary.executions, summary.factors, summary.hashes) == (2, [], {"result": "md5"})
    assert _verdicts(study) == {"result": "identical"}


def _record(
    folder: Path,
    name: str,
    *,
    tool: str = "t",
    md5: str = "a" * 32,
    exit_code: int = 0,
    date: str = "2024-01-01_00h00m00s000001ms",
    **params: object,
) -> None:
    inv = {
        k: ({"file-name": v, "md5sum": f"{v:0>32}"[-32:]} if str(v).endswith(".nii") else v) for k, v in params.items()
    }
    doc = {
        "summary": {"name": tool, "descriptor-doi": "none", "date-time": date},
        "public-invocation": inv,
        "public-output": {
            "exit-code": exit_code,
            "stdout": "",
            "stderr": "boom\n" if exit_code else "",
            "error-message": "",
            "shell-command": "t",
            "missing-files": {},
            "output-files": {"result": {"file-name": "result.json", "md5sum": md5}},
        },
        "additional-information": None,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(doc))


def test_grouping_rules(tmp_path: Path) -> None:
    """Subject = File inputs; a parameter varying within a subject is a factor, one varying only between
    subjects is not; repetitions are numbered by date; a failed record is a failed execution."""
    d = tmp_path / "recs"
    for i, (subj, age, level) in enumerate(
        [("a.nii", 30, 1), ("a.nii", 30, 1), ("a.nii", 30, 2), ("b.nii", 40, 1), ("b.nii", 40, 2)]
    ):
        _record(
            d,
            f"r{i}",
            t1=subj,
            age=age,
            level=level,
            date=f"2024-01-01_00h00m0{i}s000000ms",
            md5=("b" if level == 2 else "a") * 32,
            exit_code=1 if i == 4 else 0,
        )
    study = _study(tmp_path / "s", "rules")
    summary = ingest_boutiques_records(study, d)
    assert summary.factors == ["level"] and summary.subjects == ["a", "b"]
    df = study.executions().sort_values(["subject", "condition_key", "repetition"])
    assert df[["subject", "condition_key", "repetition", "status"]].values.tolist() == [
        ["a", "level=1", 1, "done"],
        ["a", "level=1", 2, "done"],
        ["a", "level=2", 1, "done"],
        ["b", "level=1", 1, "done"],
        ["b", "level=2", 1, "failed"],
    ]
    assert df["error"].iloc[-1] == "exit code 1: boom"


def test_tool_versions_become_a_version_factor(tmp_path: Path) -> None:
    d = tmp_path / "recs"
    for i, version in enumerate(["1.0", "1.0", "2.0", "2.0"]):
        desc = f"descriptor_t_{version}.json"
        (d / desc).parent.mkdir(parents=True, exist_ok=True)
        (d / desc).write_text(json.dumps({"name": "t", "tool-version": version, "inputs": []}))
        _record(d, f"r{i}", t1="a.nii", md5=("a" if version == "1.0" else "c") * 32)
        doc = json.loads((d / f"r{i}.json").read_text())
        doc["summary"]["descriptor-doi"] = desc
        (d / f"r{i}.json").write_text(json.dumps(doc))
    study = _study(tmp_path / "s", "versions")
    summary = ingest_boutiques_records(study, d)
    assert (summary.factors, summary.versions) == (["version"], ["1.0", "2.0"])
    from reprovip.analyze.bitwise import bitwise_summary
    from reprovip.analyze.design import build_design, records_by_output
    from reprovip.store import BlobStore

    rows = study.catalog.outputs(study.catalog.study_id(study.name))
    groups = records_by_output(rows, BlobStore(study.store))
    bits = bitwise_summary(build_design(groups[("result", "result.json")][1]))
    assert bits["repetitions_identical"] and bits["factors"]["version"]["changes_result"]


def test_analyze_versions_known_by_md5_only(tmp_path: Path) -> None:
    test_tool_versions_become_a_version_factor(tmp_path)
    study = Study.load(tmp_path / "s/study.yaml")
    assert _bitwise(study)["result"]["factors"]["version"]["changes_result"]


@pytest.mark.parametrize(
    ("setup", "kwargs", "match"),
    [
        ("empty", {}, r"no Boutiques execution record under"),
        ("two-tools", {}, r"records of several tools \(t, u\); choose one with --tool"),
        ("two-tools", {"tool": "v"}, r"no record of tool 'v' under .*; found: t, u"),
        ("no-file", {}, r"have no input of type File to tell subjects apart"),
    ],
)
def test_ingest_errors(tmp_path: Path, setup: str, kwargs: dict, match: str) -> None:
    d = tmp_path / "recs"
    d.mkdir()
    if setup == "two-tools":
        _record(d, "r1", tool="t", t1="a.nii")
        _record(d, "r2", tool="u", t1="a.nii")
    if setup == "no-file":
        _record(d, "r1", x=1)
    with pytest.raises(InputError, match=match):
        ingest_boutiques_records(_study(tmp_path / "s", "errs"), d, **kwargs)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "recs"
    for i in range(2):
        _record(d, f"r{i}", t1="a.nii", date=f"2024-01-01_00h00m0{i}s000000ms")
    _study(tmp_path / "s", "cli")
    assert main(["ingest", str(tmp_path / "s/study.yaml"), "--boutiques-records", str(d)]) == 0
    assert (
        "cli: ingested 2 executions of t from 2 Boutiques records (1 subjects; no factor), 2 complete, "
        "0 failed; outputs compared: result by md5"
    ) in capsys.readouterr().out
    assert main(["ingest", str(tmp_path / "s/study.yaml")]) == 2
    assert "give exactly one of --pattern or --boutiques-records" in capsys.readouterr().err


def test_cli_says_how_many_records_a_retry_superseded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two records of one execution (reprovip's subject and repetition, a retry): the later is kept, and the
    command says so (it used to count it silently)."""
    d = tmp_path / "recs"
    for i, rep in enumerate((1, 1, 2)):
        _record(d, f"r{i}", t1="a.nii", date=f"2024-01-01_00h00m0{i}s000000ms")
        doc = json.loads((d / f"r{i}.json").read_text())
        doc["additional-information"] = {"reprovip": {"subject": "a", "condition": {}, "repetition": rep}}
        (d / f"r{i}.json").write_text(json.dumps(doc))
    _study(tmp_path / "s", "retry")
    assert main(["ingest", str(tmp_path / "s/study.yaml"), "--boutiques-records", str(d)]) == 0
    out = capsys.readouterr().out
    assert "retry: ingested 2 executions of t from 3 Boutiques records" in out
    assert (
        "  1 record(s) superseded by a later record of the same execution (subject, condition and repetition "
        "that reprovip recorded: a retry); the latest is kept"
    ) in out


def test_launcher_bosh_merges_provenance_into_the_record(tmp_path: Path) -> None:
    """``launcher: bosh`` (its argv, as tasks.py would build it): Boutiques runs the tool and writes its
    record with reprovip's provenance; outputs equal the ``exec simulate`` path's; the records ingest back."""
    inv = BOSH_SCALE_INVOCATION
    argv = bosh_launch_template(str(SCALE), inv, factors=["factor"])
    runs = {}
    for launcher in ("bosh", "simulate"):
        root = tmp_path / launcher
        _data(root)
        app = (
            f"  command: {json.dumps(argv)}\n"
            if launcher == "bosh"
            else f"  boutiques: {SCALE}\n  invocation: {json.dumps(inv)}\n"
        )
        (root / "study.yaml").write_text(
            f"name: {launcher}\napplication:\n{app}"
            + STUDY.format(name="x").split("\n", 1)[1]
            + "factors: {factor: [1, 2]}\nrepetitions: 1\n"
        )
        study = Study.load(root / "study.yaml")
        summary = study.run(jobs=2)
        assert (summary.done, summary.failed) == (4, 0), summary.failures
        outs = study.catalog.outputs(study.catalog.study_id(study.name))
        blobs = {(o["subject"], o["condition_key"], o["repetition"]): o["blob"] for o in outs}
        runs[launcher] = (study, blobs)
    assert runs["bosh"][1] == runs["simulate"][1]
    study = runs["bosh"][0]
    recs, _ = read_records(study.store / "boutiques-records")
    assert len(recs) == 4 and {r.reprovip["execution_id"] for r in recs} == set(study.executions()["id"])
    assert {r.reprovip["launcher"] for r in recs} == {"bosh exec launch"}
    assert all(Path(r.reprovip["output-paths"]["result"]).name == "result.json" for r in recs)
    attempt = study.catalog.attempts(recs[0].reprovip["execution_id"])[0]
    # Printed nowhere: it changed a `{stdout}` output between repetitions (a review; see test_boutiques_launchers).
    assert "Boutiques record" not in attempt["stdout"] + attempt["stderr"]
    again = _study(tmp_path / "again", "again")
    summary = ingest_boutiques_records(again, study.store / "boutiques-records")
    assert summary.factors == ["factor"]  # the records' own conditions (review U: "no factor" was printed)
    same = ["subject", "condition_key", "repetition"]
    assert sorted(map(tuple, again.executions()[same].values.tolist())) == sorted(
        map(tuple, study.executions()[same].values.tolist())
    )
    assert _bitwise(again) == _bitwise(study)


FOLDER_TOOL = {
    "name": "stats",
    "tool-version": "1.0",
    "description": "writes its result into a folder",
    "schema-version": "0.5",
    "command-line": "PYTHON [SCRIPT] [INPUT] [OUTDIR]",
    "inputs": [
        {"id": "python", "name": "python", "type": "String", "value-key": "PYTHON"},
        {"id": "script", "name": "script", "type": "File", "value-key": "[SCRIPT]"},
        {"id": "input_file", "name": "input", "type": "File", "value-key": "[INPUT]"},
        {"id": "out_dir", "name": "out", "type": "String", "value-key": "[OUTDIR]"},
    ],
    "output-files": [{"id": "stats", "name": "stats", "path-template": "[OUTDIR]/stats"}],
}


@pytest.mark.parametrize("path", ["stats", "stats/**"])
def test_a_folder_output_is_refused_alike_by_run_and_ingest(tmp_path: Path, path: str) -> None:
    """An output whose path is a folder: `run` found no file there while `ingest --boutiques-records` took the
    folder's files (fp-hunt10/A f1-folder-output). Outputs are files (docs/study-format.md): both name the
    folder and the glob to write; with that glob both take the folder's file."""
    (tmp_path / "tool.json").write_text(json.dumps(FOLDER_TOOL))
    (tmp_path / "tool.py").write_text(
        "import os, sys\nos.makedirs(os.path.join(sys.argv[2], 'stats'))\n"
        "open(os.path.join(sys.argv[2], 'stats', 'a.txt'), 'w').write(open(sys.argv[1]).read())\n"
    )
    inv = {"python": sys.executable, "script": "{study_dir}/tool.py", "input_file": "{input}", "out_dir": "{outdir}"}
    rest = f'subjects: {{glob: "data/{{subject}}.txt"}}\nrepetitions: 1\noutputs:\n  stats: {{path: "{path}", kind: text}}\n'
    _data(tmp_path)
    (tmp_path / "study.yaml").write_text(
        f"name: run\napplication:\n  boutiques: tool.json\n  launcher: bosh\n  invocation: {json.dumps(inv)}\n{rest}"
    )
    ran = Study.load(tmp_path / "study.yaml")
    ran.run(keep_going=True)
    _data(tmp_path / "again")
    (tmp_path / "again" / "study.yaml").write_text(f"name: again\n{rest}")
    again = Study.load(tmp_path / "again" / "study.yaml")
    ingest_boutiques_records(again, ran.store / "boutiques-records")
    for study in (ran, again):
        df = study.executions()
        if path == "stats":
            assert set(df["status"]) == {"failed"} and len(df) == 2
            hint = "stats is a folder, not a file: declare its files with a glob, stats/**"
            assert all(f"stats ({hint})" in e for e in df["error"]), df["error"].tolist()
        else:
            assert set(df["status"]) == {"done"} and len(df) == 2
            outs = study.catalog.outputs(study.catalog.study_id(study.name))
            assert sorted(o["relpath"] for o in outs) == ["stats/a.txt", "stats/a.txt"]


def test_a_record_missing_one_output_of_two_is_a_failed_execution(tmp_path: Path) -> None:
    """One record lists ``mask`` under ``missing-files`` while it gives ``result``'s MD5 (a tool that exited 0
    without one of its files; a review's `bosh exec launch` run). Before the fix ingest crashed (exit 4:
    "A value is required for bind parameter 'blob'"): the missing output's row lacked the keys of a found one,
    and the catalog inserts an execution's outputs in one statement."""
    d = tmp_path / "recs"
    for i in range(2):
        _record(d, f"r{i}", t1="a.nii", date=f"2024-01-01_00h00m0{i}s000000ms")
        doc = json.loads((d / f"r{i}.json").read_text())
        doc["public-output"]["output-files"]["mask"] = {"file-name": "mask.txt", "md5sum": "c" * 32}
        if i == 1:
            doc["public-output"]["missing-files"] = {"mask": doc["public-output"]["output-files"].pop("mask")}
        (d / f"r{i}.json").write_text(json.dumps(doc))
    study = _study(tmp_path / "s", "missing")
    study.path.write_text(study.path.read_text() + "  mask: {path: mask.txt, kind: text}\n")
    study = Study.load(study.path)
    summary = ingest_boutiques_records(study, d)
    assert (summary.complete, summary.incomplete) == (1, 1)
    df = study.executions().sort_values("repetition")
    assert df[["repetition", "status", "error"]].values.tolist() == [
        [1, "done", None],
        [2, "failed", "missing outputs: mask"],
    ]


def test_an_output_recorded_with_the_md5_of_no_bytes_is_an_empty_file(tmp_path: Path) -> None:
    """Subject b's ``result`` is recorded in both runs with ``d41d8cd98f00b204e9800998ecf8427e``, the MD5 of an
    empty file (``hashlib.md5(b"")``): the tool wrote nothing for it. ``run`` finds the empty file unreadable
    and the output not analysable; before the fix the records' MD5s were equal, so "sufficiently reproducible,
    with warnings" (a review)."""
    d = tmp_path / "recs"
    for i, (subj, md5) in enumerate([("a.nii", "a" * 32)] * 2 + [("b.nii", "d41d8cd98f00b204e9800998ecf8427e")] * 2):
        _record(d, f"r{i}", t1=subj, md5=md5, date=f"2024-01-01_00h00m0{i}s000000ms")
    study = _study(tmp_path / "s", "empty")
    ingest_boutiques_records(study, d)
    errors = sorted({o["error"] for o in study.catalog.outputs(study.catalog.study_id(study.name))})
    assert errors == [
        MD5_ONLY,
        "result.json: file is empty (0 bytes) (the record's MD5 is that of no bytes); the execution probably failed"
        " before writing it; see its record's stderr",
    ]
    assert _verdicts(study) == {"result": "error"}


def test_two_versions_ingested_from_their_records_are_compared_not_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review BQ: records of v1 and v2 runs of the same inputs, each version in a study of its own, were refused by
    `compare` as "ingested the same results folders": a record's execution names its input files, which both
    versions share; the results folders check is for folders."""
    for version, md5 in (("1", "a"), ("2", "c")):
        for i, subject in enumerate(("a.nii", "b.nii", "c.nii")):
            for rep in (1, 2):
                _record(
                    tmp_path / f"recs{version}",
                    f"r{i}{rep}",
                    t1=subject,
                    md5=f"{md5}{i}" * 16,
                    date=f"2024-01-0{version}_00h00m0{rep}s00000{i}ms",
                )
        ingest_boutiques_records(_study(tmp_path / f"s{version}", f"v{version}"), tmp_path / f"recs{version}")
    code = main(["compare", str(tmp_path / "s1/study.yaml"), str(tmp_path / "s2/study.yaml")])
    err = capsys.readouterr().err
    assert "ingested the same results folders" not in err and code != 2, err


def test_launcher_bosh_fails_an_execution_missing_a_required_output(tmp_path: Path) -> None:
    """Review BQ: a descriptor whose required output's path-template names a file the tool never writes passed
    under `launcher: bosh` (Boutiques lists it in the record's `missing-files` and exits 0), where VIP fails the
    job and `ingest --boutiques-records` reads the same record as a failed execution."""
    desc = json.loads(SCALE.read_text())
    desc["output-files"].append({"id": "qc", "name": "qc", "path-template": "[OUTDIR]/qc.json"})
    (tmp_path / "scale.json").write_text(json.dumps(desc))
    _data(tmp_path)
    (tmp_path / "study.yaml").write_text(
        f"application:\n  boutiques: scale.json\n  launcher: bosh\n  invocation: {json.dumps(BOSH_SCALE_INVOCATION)}\n"
        + STUDY.format(name="missing").split("\n", 1)[1]
        + "factors: {factor: [1, 2]}\nrepetitions: 1\n"
    )
    summary = Study.load(tmp_path / "study.yaml").run(keep_going=True)
    assert summary.done == 0 and summary.failed == 4
    assert "the descriptor's required output(s) qc (qc.json) were not written" in summary.failures[0]["error"]


def _versioned(d: Path, versions: list[str], descriptor: dict[str, str | None]) -> None:
    """Records of one subject, two per version; each names ``descriptor[version]`` (a copy's file name, a DOI, or
    None: nothing beside it)."""
    for i, version in enumerate(v for v in versions for _ in (1, 2)):
        _record(d, f"r{i}", t1="a.nii", md5=f"{i % 2}{version}".ljust(32, "0")[:32])
        doc = json.loads((d / f"r{i}.json").read_text())
        name = descriptor[version]
        if name and name.endswith(".json"):
            (d / name).write_text(json.dumps({"name": "t", "tool-version": version, "inputs": []}))
        doc["summary"]["descriptor-doi"] = name or "none"
        (d / f"r{i}.json").write_text(json.dumps(doc))


def test_records_of_releases_known_by_their_doi_or_unknown_or_unordered(tmp_path: Path) -> None:
    """Review E: two releases whose records name Zenodo DOIs (no copy of the descriptors) were one condition; a
    release with no descriptor copy became the baseline, ''; `2.0` was held to `2.0rc1` in text order. All read
    "sufficiently reproducible". DOIs name the versions; an unknown one and an unordered pair are refused."""
    dois = {"1": "10.5281/zenodo.1111111", "2": "10.5281/zenodo.2222222"}
    _versioned(tmp_path / "doi", ["1", "2"], dois)
    summary = ingest_boutiques_records(_study(tmp_path / "s1", "doi"), tmp_path / "doi")
    assert summary.factors == ["version"] and summary.versions == [f"doi:{v}" for v in dois.values()]
    _versioned(tmp_path / "unknown", ["1.0", "2.0"], {"1.0": "descriptor_t_1.0.json", "2.0": None})
    with pytest.raises(InputError, match=r"name 1 tool version\(s\) \(1\.0\) and an unknown one \(r2\.json: no copy"):
        ingest_boutiques_records(_study(tmp_path / "s2", "unknown"), tmp_path / "unknown")
    rc = {"2.0rc1": "descriptor_t_2.0rc1.json", "2.0": "descriptor_t_2.0.json"}
    _versioned(tmp_path / "rc", ["2.0rc1", "2.0"], rc)
    with pytest.raises(InputError, match=r"the `version` levels 2\.0, 2\.0rc1 hold no version numbers to order them"):
        ingest_boutiques_records(_study(tmp_path / "s3", "rc"), tmp_path / "rc")
