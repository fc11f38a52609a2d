"""``reprovip export STUDY --ro-crate OUT``: through ``reprovip.cli.main.main`` (the one place errors become exit codes
and one-line messages)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprovip.cli import main as cli_main
from reprovip.study import Study
from tests.conftest import write_study


@pytest.fixture
def reprovip():
    """``main``, as the ``reprovip`` command runs it."""
    return cli_main.main


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    study = Study.load(write_study(tmp_path_factory.mktemp("cli-export"), repetitions=2, subjects=2))
    assert study.run(jobs=2).ok
    return study


def test_export_writes_the_crate_and_says_where(
    reprovip, study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "crate"
    assert reprovip(["export", str(study.path), "--ro-crate", str(out), "--with-blobs", "--license", "MIT"]) == 0
    assert capsys.readouterr().out == f"RO-Crate: {out}\n"
    graph = {e["@id"]: e for e in json.loads((out / "ro-crate-metadata.json").read_text())["@graph"]}
    assert graph["./"]["license"] == "MIT" and graph["./"]["mainEntity"] == {"@id": "study.yaml"}
    actions = [e for e in graph.values() if e["@id"].startswith("#execution/") and e["@type"] == "CreateAction"]
    assert len(actions) == 4 and len(list((out / "blobs").iterdir())) == 2  # 2 subjects, identical repetitions


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (lambda s, t: [str(t / "nope.yaml"), "--ro-crate", str(t / "c")], "nope.yaml: no such study file"),
        (lambda s, t: [str(s), "--ro-crate", str(t)], "already exists and is not an empty folder"),
        (lambda s, t: [str(s)], "Missing option '--ro-crate'"),
    ],
    ids=["unknown-study", "folder-not-empty", "no-format"],
)
def test_bad_input_is_one_line_with_exit_2(
    reprovip, study: Study, tmp_path: Path, capsys: pytest.CaptureFixture[str], args, message: str
) -> None:
    (tmp_path / "x.txt").write_text("taken")
    assert reprovip(["export", *args(study.path, tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("reprovip: error: ") and message in err, err


def test_a_study_never_run_exits_2(reprovip, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(tmp_path / "fresh")
    assert reprovip(["export", str(path), "--ro-crate", str(tmp_path / "crate")]) == 2
    assert capsys.readouterr().err == (
        f"reprovip: error: {path}: no finished execution of study 'fresh' to export; "
        "run `reprovip run` or `reprovip ingest` first\n"
    )
