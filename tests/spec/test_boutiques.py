"""Boutiques applications: the descriptor is validated and the boutiques package builds each argv."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from reprovip.errors import SpecError
from reprovip.study import Study
from tests.conftest import APPS, write_study

DESC = Path(__file__).parent / "data" / "tool.json"


def _boutiques_study(root: Path, desc: Path) -> Path:
    path = write_study(root, repetitions=2, subjects=2)
    text = path.read_text().split("subjects:")[1]
    inv = {"python": sys.executable, "script": str(APPS / "det_app.py"), "input_file": "{input}", "out_dir": "{outdir}"}
    path.write_text(f"application:\n  boutiques: {desc}\n  invocation: {json.dumps(inv)}\nsubjects:{text}")
    return path


def test_boutiques_application_runs_and_matches_command_study(study_dir: Path) -> None:
    study = Study.load(_boutiques_study(study_dir, DESC))
    summary = study.run()
    assert (summary.done, summary.failed) == (4, 0)
    att = study.catalog.attempts(study.executions()["id"][0])[0]
    assert att["argv"][0] == sys.executable and att["argv"][1] == str(APPS / "det_app.py")
    blobs = {o["blob"] for o in study.catalog.outputs(study.catalog.study_id(study.name))}
    plain = Study.load(write_study(study_dir / "plain", repetitions=2, subjects=2))
    plain.run()
    assert blobs == {o["blob"] for o in plain.catalog.outputs(plain.catalog.study_id(plain.name))}


def test_invalid_descriptor_is_a_spec_error(study_dir: Path) -> None:
    bad = study_dir / "bad.json"
    bad.write_text(json.dumps({"name": "x", "command-line": "echo"}))
    with pytest.raises(SpecError, match=r"invalid Boutiques descriptor .*bad.json"):
        Study.load(_boutiques_study(study_dir, bad)).validate()
    with pytest.raises(SpecError, match=r"Boutiques descriptor not found"):
        Study.load(_boutiques_study(study_dir, study_dir / "nope.json")).validate()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (  # an anyOf over input kinds: its alternatives' allowed values, merged
            lambda d: d["inputs"][0].update(type="Integer"),
            "inputs[0].type: 'Integer' is not one of Flag, String, File, Number",
        ),
        (lambda d: d.pop("command-line"), "'command-line' is a required property"),
        (lambda d: d["output-files"][0].update({"path-template": 5}), "output-files[0].path-template: 5 is not of"),
        (  # boutiques' own validator crashed ("'NoneType' object is not iterable")
            lambda d: d["inputs"][1].update({"value-key": d["inputs"][0]["value-key"]}),
            "share the value-key",
        ),
    ],
)
def test_an_invalid_descriptor_says_where_and_what(study_dir: Path, change, reason: str) -> None:
    """Review F: the last line of Boutiques' message was a fragment of the schema (`('command-line-flag',
    '--seed')])`, `5`) or a crash inside it; the error names the place in the descriptor and what is wrong."""
    desc = json.loads(DESC.read_text())
    change(desc)
    bad = study_dir / "bad.json"
    bad.write_text(json.dumps(desc))
    with pytest.raises(SpecError) as info:
        Study.load(_boutiques_study(study_dir, bad)).validate()
    message = str(info.value)
    assert f"invalid Boutiques descriptor {bad}: " in message and reason in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("body", "kind"), [("[]", "an array"), ('"x"', "a string"), ("5", "a number"), ("null", "null")]
)
def test_a_descriptor_holding_no_json_object_is_one_line(
    study_dir: Path, body: str, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review N9: a descriptor file holding valid JSON that is no object (`[]`, `5`) crashed `validate`, `run` and
    `init --boutiques` ("internal error: AttributeError: 'list' object has no attribute 'get'")."""
    from reprovip.cli.main import main

    bad = study_dir / "bad.json"
    bad.write_text(body)
    with pytest.raises(SpecError) as info:
        Study.load(_boutiques_study(study_dir, bad)).validate()
    assert f"invalid Boutiques descriptor {bad}: it holds {kind} in JSON, not an object" in str(info.value)
    assert main(["init", "--boutiques", str(bad), "-o", str(study_dir / "new.yaml")]) == 2
    assert "a Boutiques descriptor is a JSON object" in capsys.readouterr().err


def test_editing_the_descriptor_is_a_new_recipe(study_dir: Path) -> None:
    """The descriptor holds the command line and its defaults: editing it is editing the application, so the
    executions run before are run again, and until then the analysis is incomplete (second review: the
    recipe hashed the descriptor's path only; results of the old descriptor were reused as current)."""
    desc = study_dir / "tool.json"
    desc.write_text(DESC.read_text())
    study = Study.load(_boutiques_study(study_dir, desc))
    assert study.run().done == 4
    assert study.analyze().document["executions"]["plan"]["earlier_recipe"] == 0
    tool = json.loads(desc.read_text())
    desc.write_text(json.dumps(dict(tool, **{"tool-version": "9.9.9"})))
    study = Study.load(study.path)
    doc = study.analyze().document
    assert doc["executions"]["plan"]["earlier_recipe"] == 4 and doc["verdict"]["status"] == "incomplete"
    summary = study.run()
    assert (summary.skipped, summary.done) == (0, 4)
    assert study.analyze().document["verdict"]["status"] == "identical"


def test_a_bracketed_key_no_input_declares_is_refused(study_dir: Path) -> None:
    """Review U: `validate` said "ok" for a command line ending with `[UNDECLARED]`; the tool then received the
    literal `'[UNDECLARED]'` (one that ignores extra arguments would have run and passed). Each such key is a
    located error, the one declared without brackets with the fix."""
    desc = json.loads(DESC.read_text())
    desc["command-line"] += " [UNDECLARED]"
    desc["inputs"][2]["value-key"] = "INPUT"  # used as [INPUT]: replaced inside the brackets
    bad = study_dir / "bad.json"
    bad.write_text(json.dumps(desc))
    with pytest.raises(SpecError) as info:
        Study.load(_boutiques_study(study_dir, bad)).validate()
    message = str(info.value)
    assert "bad.json: command-line uses [INPUT], which no input or output declares as its value-key (input" in message
    assert 'declare it "[INPUT]"' in message
    assert "bad.json: command-line uses [UNDECLARED], which no input or output declares" in message
