"""Where ``report -o``, ``export --ro-crate`` and ``check --badge`` write: a path they cannot write is a one-line
error with exit 2 naming it, as ``check --junit`` gives (tests/criteria/test_gate.py), never an internal error
(exit 4 and a crash log)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.study import Study
from tests.conftest import write_study

PROC = Path("/proc/self").is_dir()  # a folder that takes no new file, whoever runs the tests (root too)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small study run and analysed; its study file."""
    path = write_study(tmp_path_factory.mktemp("paths") / "study", subjects=2, repetitions=2)
    study = Study.load(path)
    assert study.run(jobs=2).ok
    study.analyze()
    return path


def _error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_report_under_a_file_is_a_one_line_error(analysed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """D/06: ``report -o study.yaml/r.html`` was FileExistsError, exit 4."""
    target = analysed / "r.html"
    assert _error(capsys, ["report", str(analysed), "-o", str(target)]) == (
        f"reprovip: error: {target}: cannot write it: a part of its folder, {analysed}, is a file; give another path"
    )


def test_a_crate_under_a_file_is_a_one_line_error(analysed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """D/06: ``export --ro-crate study.yaml/c`` was FileExistsError, exit 4."""
    target = analysed / "c"
    assert _error(capsys, ["export", str(analysed), "--ro-crate", str(target)]) == (
        f"reprovip: error: {target}: cannot write the crate: a part of its folder, {analysed}, is a file; choose "
        "another folder"
    )


@pytest.mark.skipif(not PROC, reason="needs /proc (Linux): a folder no one can create a file in")
@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["check", "{study}", "--badge", "{target}"], "/proc/x.svg"),
        (["report", "{study}", "-o", "{target}"], "/proc/r.html"),
    ],
    ids=["badge", "report"],
)
def test_a_folder_that_takes_no_file_is_a_one_line_error(
    analysed: Path, capsys: pytest.CaptureFixture[str], args: list[str], target: str
) -> None:
    """D/06: ``check --badge /proc/x.svg`` was FileNotFoundError on its temporary file, exit 4."""
    line = _error(capsys, [a.format(study=analysed, target=target) for a in args])
    assert line == f"reprovip: error: {target}: cannot write it (No such file or directory); give another path"
