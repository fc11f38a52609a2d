"""Warnings of reprovip are shown by the CLI as one line, ``reprovip: warning: <file>:<line>: <message>``.

A review: the BIDS ``SubjectsLeftOut`` warning came in Python's default format, ``file:line: Category: message``
followed by the study file's line repeated, which reads like a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from reprovip.cli.main import _show_warning, main


def _bids_study(root: Path) -> Path:
    (root / "bids").mkdir(parents=True)
    (root / "bids" / "dataset_description.json").write_text(json.dumps({"Name": "x", "BIDSVersion": "1.9.0"}))
    for name in ("sub-01", "sub-02", "sub-03", "derivatives"):
        (root / "bids" / name).mkdir()
        if name.startswith("sub-"):  # a subject's folder holds its data (an empty one is refused)
            (root / "bids" / name / f"{name}_T1w.nii.gz").write_bytes(b"x")
    path = root / "study.yaml"
    path.write_text(
        'application: {command: [echo, "{input}"]}\nsubjects: {glob: "bids/{subject}/"}\n'
        "outputs: {o: {path: o, kind: text}}\n"
    )
    return path


def test_a_warning_at_a_study_line_is_one_line_as_a_user_runs_it(tmp_path: Path) -> None:
    path = _bids_study(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "reprovip", "validate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        f"reprovip: warning: {path}:2: subjects.glob: left out 1 path(s) the glob 'bids/{{subject}}/' matches in a "
        "BIDS dataset that are not subjects (bids/derivatives/): there only sub-<label> entries are subjects; "
        "write the glob with `sub-{subject}` to match the subjects alone, or list other subjects under `map`"
    ]


class _Made(UserWarning):
    """A warning class of another package (this test module's): shown as Python shows it."""


def test_the_format_names_a_user_file_not_reprovip_source_and_leaves_other_warnings_alone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reprovip.spec.subjects import SubjectsLeftOut

    seen: list[tuple[object, ...]] = []
    for filename, lineno in (("data/study.yaml", 7), ("data/study.yaml", 0), ("/x/reprovip/spec/subjects.py", 138)):
        _show_warning("two\n  lines", SubjectsLeftOut, filename, lineno, default=lambda *a: seen.append(a))
    _show_warning("theirs", _Made, "m.py", 3, default=lambda *a: seen.append(a))
    assert capsys.readouterr().err.splitlines() == [
        "reprovip: warning: data/study.yaml:7: two lines",
        "reprovip: warning: data/study.yaml: two lines",
        "reprovip: warning: two lines",
    ]
    assert seen == [("theirs", _Made, "m.py", 3, None, None)]


def test_main_restores_the_warning_display_it_found() -> None:
    before = warnings.showwarning
    assert main(["--version"]) == 0
    assert warnings.showwarning is before
