"""A subjects glob over a BIDS dataset leaves out what BIDS says is not a subject, and says so.

A review: ``subjects: {glob: "bids/{subject}/"}`` made subjects of ``derivatives``, ``code`` and ``sourcedata``
(output 0), and the ICC passed though it failed on the 6 real subjects. BIDS 1.9 ("File name structure"): a
dataset's subjects are its ``sub-<label>`` folders; ``code``, ``derivatives``, ``sourcedata``, ``stimuli`` and
``phenotype`` are reserved for other things, and the files at its root describe the dataset.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import SpecError
from reprovip.spec import parse_spec
from reprovip.spec.subjects import SubjectsLeftOut, from_glob, resolve_subjects


def _bids(root: Path, *, description: bool = True, extra: tuple[str, ...] = ("derivatives/x", "code")) -> Path:
    if description:
        root.mkdir(parents=True)
        (root / "dataset_description.json").write_text(json.dumps({"Name": "x", "BIDSVersion": "1.9.0"}))
    for s in ("sub-01", "sub-02", "sub-03"):
        (root / s / "anat").mkdir(parents=True)
        (root / s / "anat" / f"{s}_T1w.txt").write_text("1.5\n")
    for e in extra:
        (root / e).mkdir(parents=True)
    return root


def _spec(glob: str) -> object:
    return parse_spec(
        f'application: {{command: [t, "{{input}}"]}}\nsubjects: {{glob: "{glob}"}}\n'
        "outputs: {o: {path: o, kind: text}}\n"
    )


def test_non_subject_folders_of_a_bids_root_are_left_out_with_a_warning_at_the_glob(tmp_path: Path) -> None:
    _bids(tmp_path / "bids", extra=("derivatives/fmriprep", "code", "sourcedata", ".git"))
    (tmp_path / "study.yaml").write_text('subjects: {glob: "bids/{subject}/"}\n')
    with pytest.warns(SubjectsLeftOut) as caught:
        got = resolve_subjects(_spec("bids/{subject}/"), tmp_path, file=str(tmp_path / "study.yaml"))
    assert [s.id for s in got] == ["sub-01", "sub-02", "sub-03"]
    (w,) = caught
    assert (w.filename, w.lineno) == (str(tmp_path / "study.yaml"), 1)
    assert str(w.message) == (
        "subjects.glob: left out 3 path(s) the glob 'bids/{subject}/' matches in a BIDS dataset that are not "
        "subjects (bids/code/, bids/derivatives/, bids/sourcedata/): there only sub-<label> entries are subjects; "
        "write the glob with `sub-{subject}` to match the subjects alone, or list other subjects under `map`"
    )


def test_sub_folders_alone_make_a_bids_root_and_root_files_are_no_subjects(tmp_path: Path) -> None:
    """Without dataset_description.json, ``sub-*`` folders say BIDS; without a trailing slash the glob also
    matches files, and the dataset's own files (participants.tsv, README) are no subjects either."""
    root = _bids(tmp_path / "bids", description=False, extra=("stimuli", "phenotype"))
    (root / "participants.tsv").write_text("participant_id\nsub-01\n")
    (root / "README").write_text("x\n")
    with pytest.warns(SubjectsLeftOut, match=r"left out 4 path\(s\) .*\(bids/README, bids/participants.tsv, "):
        got = from_glob("bids/{subject}", tmp_path)
    assert [s.id for s in got] == ["sub-01", "sub-02", "sub-03"]


def test_a_folder_the_glob_writes_is_kept_and_a_derivative_dataset_is_a_bids_root(tmp_path: Path) -> None:
    """``derivatives`` written in the glob is the user's choice; fMRIPrep's ``logs`` beside its subjects is not one."""
    _bids(tmp_path / "bids", extra=())
    _bids(tmp_path / "bids" / "derivatives" / "fmriprep", extra=("logs",))
    with pytest.warns(SubjectsLeftOut, match=r"\(bids/derivatives/fmriprep/logs/\)"):
        got = from_glob("bids/derivatives/fmriprep/{subject}/", tmp_path)
    assert [s.id for s in got] == ["sub-01", "sub-02", "sub-03"]
    assert [s.id for s in from_glob("bids/sub-{subject}/", tmp_path)] == ["01", "02", "03"]


def test_folders_outside_bids_are_all_subjects(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    for name in ("a", "b", "code"):
        (tmp_path / "data" / name).mkdir(parents=True)
    assert [s.id for s in from_glob("data/{subject}/", tmp_path)] == ["a", "b", "code"]
    assert [w for w in recwarn if issubclass(w.category, SubjectsLeftOut)] == []


def test_a_glob_matching_only_non_subjects_is_an_error_that_says_why(tmp_path: Path) -> None:
    _bids(tmp_path / "bids", extra=("derivatives/fmriprep",))
    with pytest.warns(SubjectsLeftOut), pytest.raises(SpecError, match=r"subjects.glob: no subject found: left out 1"):
        resolve_subjects(_spec("bids/{subject}/fmriprep/"), tmp_path)


def test_validate_shows_the_warning_once_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _bids(tmp_path / "bids")
    path = tmp_path / "study.yaml"
    path.write_text(
        'application: {command: [echo, "{input}"]}\nsubjects: {glob: "bids/{subject}/"}\n'
        "outputs: {o: {path: o, kind: text}}\n"
    )
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "3 subjects x 1 conditions" in out
    # One line at the glob's line (the format is tested in tests/cli/test_main_warnings.py).
    (line,) = err.splitlines()
    assert line.startswith(f"reprovip: warning: {path}:2: subjects.glob: left out 2 path(s)")
    assert "(bids/code/, bids/derivatives/)" in line


def test_one_sub_folder_among_other_subjects_is_no_bids_root(tmp_path) -> None:
    """`plain/` holds alice/, bob/, carol/ and an empty sub-analysis/: one sub-* folder made it a BIDS root, the
    three real subjects were left out and the study ran on `sub-analysis` alone ("identical", a review). Without
    dataset_description.json, sub-* folders must be most of the folder."""
    from reprovip.spec.subjects import bids_non_subject

    for d in ("alice", "bob", "carol", "sub-analysis"):
        (tmp_path / "plain" / d).mkdir(parents=True)
    assert not bids_non_subject(tmp_path / "plain", "alice")
    for d in ("sub-01", "sub-02", "sub-03", "sub-04", "code"):
        (tmp_path / "bids" / d).mkdir(parents=True)
    (tmp_path / "bids" / "participants.tsv").write_text("participant_id\n")
    assert bids_non_subject(tmp_path / "bids", "code")  # a BIDS root without its description file


def test_reserved_folders_and_a_participants_table_make_a_bids_root_without_description(tmp_path: Path) -> None:
    """A review: 3 sub-* folders beside code/, derivatives/, sourcedata/ and stimuli/, no
    dataset_description.json: the 4 reserved folders outnumbered the subjects, became subjects (output 0) and
    the study passed where its 3 real subjects fail. The reserved folders do not count against the subjects,
    and participants.tsv alone says the folder is a BIDS root."""
    from reprovip.spec.subjects import bids_non_subject

    _bids(tmp_path / "bids", description=False, extra=("code", "derivatives", "sourcedata", "stimuli"))
    with pytest.warns(SubjectsLeftOut, match=r"left out 4 path\(s\)"):
        got = from_glob("bids/{subject}/", tmp_path)
    assert [s.id for s in got] == ["sub-01", "sub-02", "sub-03"]
    for d in ("alice", "bob", "carol", "dave"):
        (tmp_path / "bids" / d).mkdir()
    assert not bids_non_subject(tmp_path / "bids", "alice")  # now sub-* folders are not most of it
    (tmp_path / "bids" / "participants.tsv").write_text("participant_id\nsub-01\n")
    assert bids_non_subject(tmp_path / "bids", "alice")


def test_pybids_files_without_a_subject_entity_are_no_subjects(tmp_path: Path) -> None:
    """A review: an OpenNeuro layout's root-level ``task-rest_bold.json`` (inherited by every subject) made
    ``subjects: {bids: {suffix: bold, task: rest}}`` an internal error (KeyError: 'subject')."""
    pytest.importorskip("bids", reason="pybids is the `bids` extra")
    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.8.0"}))
    (root / "task-rest_bold.json").write_text(json.dumps({"RepetitionTime": 2.0, "TaskName": "rest"}))
    for s in ("01", "02"):
        func = root / f"sub-{s}" / "func"
        func.mkdir(parents=True)
        (func / f"sub-{s}_task-rest_bold.nii.gz").write_bytes(b"x")
    spec = parse_spec(
        "application: {command: [t, '{input}']}\nsubjects: {bids: {root: bids, suffix: bold, task: rest}}\n"
        "outputs: {o: {path: o, kind: text}}\n"
    )
    assert [s.id for s in resolve_subjects(spec, tmp_path)] == ["sub-01", "sub-02"]
