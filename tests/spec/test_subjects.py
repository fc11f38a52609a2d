"""Finding subjects: glob captures, explicit lists and maps, and BIDS datasets (pybids)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reprovip.errors import SpecError
from reprovip.spec import parse_spec
from reprovip.spec.subjects import from_glob, resolve_subjects

HEAD = "application: {command: [x, '{input}']}\noutputs: {o: {path: o, kind: text}}\n"


def _spec(subjects: str):
    return parse_spec(HEAD + f"subjects: {subjects}\n")


def test_glob_capture_with_repeated_placeholder(tmp_path: Path) -> None:
    for s in ("01", "02"):
        (tmp_path / f"sub-{s}").mkdir()
        (tmp_path / f"sub-{s}" / f"sub-{s}_T1w.nii.gz").write_bytes(b"x")
    (tmp_path / "sub-03").mkdir()
    (tmp_path / "sub-03" / "sub-99_T1w.nii.gz").write_bytes(b"x")  # inconsistent names are not captured
    got = resolve_subjects(_spec('{glob: "{subject}/{subject}_T1w.nii.gz"}'), tmp_path)
    assert [s.id for s in got] == ["sub-01", "sub-02"]
    assert got[0].input == str((tmp_path / "sub-01" / "sub-01_T1w.nii.gz").resolve())


def test_list_ids_are_stems_and_duplicates_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "t1.nii.gz").write_bytes(b"x")
    with pytest.raises(SpecError, match=r"duplicate subject ids \['t1'\]; use `map` to name them"):
        resolve_subjects(_spec("{list: [a/t1.nii.gz, b/t1.nii.gz]}"), tmp_path)
    got = resolve_subjects(_spec("{map: {s1: a/t1.nii.gz, s2: b/t1.nii.gz}}"), tmp_path)
    assert [s.id for s in got] == ["s1", "s2"]


def test_an_input_named_in_no_utf8_is_refused_with_its_name_escaped(tmp_path: Path) -> None:
    """Review H: a Latin-1 file name (`sub-J\xe9r\xf4me.txt`) passed `validate`, then `run` crashed planning it."""
    import os

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sub-01.txt").write_text("1")
    with open(os.path.join(os.fsencode(tmp_path / "data"), b"sub-J\xe9r\xf4me.txt"), "w") as fh:
        fh.write("2")
    with pytest.raises(SpecError, match=r"named in no UTF-8 text: .*/data/sub-J\\xe9r\\xf4me\.txt; rename it in UTF-8"):
        resolve_subjects(_spec('{glob: "data/{subject}.txt"}'), tmp_path)


def test_bids_dataset(tmp_path: Path) -> None:
    pytest.importorskip("bids", reason="pybids is the `bids` extra")
    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.8.0"}))
    for s in ("01", "02", "03"):
        anat = root / f"sub-{s}" / "anat"
        anat.mkdir(parents=True)
        (anat / f"sub-{s}_T1w.nii.gz").write_bytes(b"x")
        (anat / f"sub-{s}_T2w.nii.gz").write_bytes(b"x")
    got = resolve_subjects(_spec("{bids: {root: bids, suffix: T1w, extension: .nii.gz}}"), tmp_path)
    assert [s.id for s in got] == ["sub-01", "sub-02", "sub-03"]
    assert got[1].input.endswith("sub-02/anat/sub-02_T1w.nii.gz")


def test_bids_sessions_counted_as_subjects_and_participants_left_out_are_said(tmp_path: Path) -> None:
    """Review F: 4 participants with 2 sessions each read "8 subjects" unsaid (the ICC counted each participant
    twice, as if independent); filters that keep 1 of the 4 participants listed in participants.tsv, unsaid."""
    pytest.importorskip("bids", reason="pybids is the `bids` extra")
    from reprovip.spec.subjects import SubjectsLeftOut

    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.8.0"}))
    (root / "participants.tsv").write_text("participant_id\tage\n" + "".join(f"sub-0{s}\t30\n" for s in range(1, 5)))
    for s in range(1, 5):
        for ses in ("01", "02"):
            anat = root / f"sub-0{s}" / f"ses-{ses}" / "anat"
            anat.mkdir(parents=True)
            run = "_run-1" if s == 2 else ""
            (anat / f"sub-0{s}_ses-{ses}{run}_T1w.nii.gz").write_bytes(b"x")
    with pytest.warns(SubjectsLeftOut, match=r"8 inputs from 4 participants: each session or run is a subject"):
        got = resolve_subjects(_spec("{bids: {root: bids, suffix: T1w, extension: .nii.gz}}"), tmp_path)
    assert len(got) == 8
    with pytest.warns(
        SubjectsLeftOut,
        match=r"participants.tsv lists 4 participants, and the BIDS filters give no "
        r"input of 3: sub-01, sub-03, sub-04",
    ):
        got = resolve_subjects(_spec("{bids: {root: bids, suffix: T1w, session: '01', run: 1}}"), tmp_path)
    assert [s.id for s in got] == ["sub-02_session-01_run-1"]
    # Review LL: `session: 1` (a YAML number) matched no `ses-01` file: "no subject found; check the BIDS filters"
    with pytest.raises(SpecError) as err:
        resolve_subjects(_spec("{bids: {root: bids, suffix: T1w, session: 1}}"), tmp_path)
    message = str(err.value)
    assert message.startswith("study.yaml: subjects.bids: no subject found: the BIDS filters match no file: ")
    assert message.endswith(
        "; session: 1 (the dataset's values: '01', '02'); BIDS labels are text: quote them as the files write "
        "them ('01', not 1)"
    )


def test_bids_files_outside_the_subject_folders_or_bidsignored_are_left_out(tmp_path: Path) -> None:
    """Review U: `extra/sub-99/anat/sub-99_T1w.nii.gz`, a folder the dataset's `.bidsignore` names, became a fifth
    subject (not in participants.tsv) and joined the ICC. Only the root's sub-<label> folders hold subjects,
    and a path the .bidsignore names is none: both left out with a warning that names them."""
    pytest.importorskip("bids", reason="pybids is the `bids` extra")
    from reprovip.spec.subjects import SubjectsLeftOut

    root = tmp_path / "bids"
    root.mkdir()
    (root / "dataset_description.json").write_text(json.dumps({"Name": "t", "BIDSVersion": "1.8.0"}))
    (root / ".bidsignore").write_text("# scratch\nscratch/\n")
    for folder in ("sub-01", "sub-02", "extra/sub-99", "sub-03/scratch/sub-03"):
        anat = root / folder / "anat"
        anat.mkdir(parents=True)
        name = folder.rsplit("/", 1)[-1]
        (anat / f"{name}_T1w.nii.gz").write_bytes(b"x")
    with pytest.warns(SubjectsLeftOut, match=r"left out 2 file\(s\) outside the dataset's sub-<label> folders") as info:
        got = resolve_subjects(_spec("{bids: {root: bids, suffix: T1w, extension: .nii.gz}}"), tmp_path)
    assert [s.id for s in got] == ["sub-01", "sub-02"]
    message = str(next(w.message for w in info if "left out 2" in str(w.message)))
    assert "extra/sub-99/anat/sub-99_T1w.nii.gz" in message and "sub-03/scratch/sub-03/anat" in message


def test_bids_without_root_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"`bids` needs a `root` folder"):
        resolve_subjects(_spec("{bids: {suffix: T1w}}"), tmp_path)


def test_a_symlinked_input_keeps_its_name(tmp_path: Path) -> None:
    """Inputs linked from a store (git-annex, DataLad) were resolved: the application got
    `.git/annex/objects/MD5E-...` instead of `sub-01_T1w.nii.gz` and lost the BIDS name (a review)."""
    store = tmp_path / ".git" / "annex" / "objects"
    store.mkdir(parents=True)
    (store / "MD5E-s1--abc.nii.gz").write_text("x")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sub-01_T1w.nii.gz").symlink_to(store / "MD5E-s1--abc.nii.gz")
    (got,) = from_glob("data/{subject}_T1w.nii.gz", tmp_path)
    assert got.input == str(tmp_path / "data" / "sub-01_T1w.nii.gz")


def test_sessions_counted_as_subjects_are_said_in_the_verdict(tmp_path) -> None:
    """Review LL: 4 participants x 2 sessions as 8 subjects passed an ICC criterion one session failed; the
    notice "8 inputs from 4 participants" was on stderr only (and not given at all for a glob). It is an alert of
    the verdict, which then reads "with warnings", whatever declared the subjects."""
    from tests.conftest import ingested

    files = {
        (f"sub-{p}_ses-{ses}", r): {"v.json": f'{{"vol": {100 * int(p) + int(ses)}}}'}
        for p in ("01", "02", "03")
        for ses in ("01", "02")
        for r in (1, 2)
    }
    doc = ingested(tmp_path, "  v: {path: v.json, kind: scalars}\n", files).analyze().document
    assert doc["executions"]["participants"] == {
        "inputs": 6,
        "participants": 3,
        "repeated": ["sub-01", "sub-02", "sub-03"],
    }
    (alert,) = [a for a in doc["alerts"] if "participants" in a["message"]]
    assert alert["severity"] == "warn" and alert["message"].startswith("6 inputs from 3 participants")
    assert doc["verdict"]["status"] == "warn"


def test_a_subject_id_too_long_for_a_file_name_is_no_crash(tmp_path) -> None:
    """Review LL: a `map` id of 300 characters with `{subject}` in the command: "internal error: OSError: [Errno
    36] File name too long" (exit 4) from the check of study files the command names."""
    from reprovip.cli.main import main

    (tmp_path / "in.txt").write_text("1")
    long_id = "x" * 300
    (tmp_path / "study.yaml").write_text(
        'application: {command: [echo, "{subject}", "{outdir}"]}\n'
        f"subjects: {{map: {{{long_id}: in.txt, b: in.txt}}}}\noutputs: {{o: {{path: o.txt, kind: text}}}}\n"
    )
    assert main(["validate", str(tmp_path / "study.yaml")]) == 0


@pytest.mark.parametrize(
    ("subjects", "message"),
    [
        ("{glob: 'bids/sub-*/**/{subject}_T1w.nii.gz'}", "`**` in a subjects glob matches one folder level"),
        ("{map: {'': in.txt, b: in.txt}}", "`map` names a subject with an empty id"),
    ],
)
def test_a_recursive_glob_and_an_empty_id_are_refused(subjects: str, message: str) -> None:
    """Review LL: `bids/sub-*/**/{subject}_T1w.nii.gz` gave 1 subject of 8 (one level deep), unsaid; a `map` id
    `""` was accepted and ran."""
    with pytest.raises(SpecError, match=re.escape(message)):
        parse_spec(f"application: {{command: [echo]}}\nsubjects: {subjects}\noutputs: {{o: {{path: o, kind: text}}}}\n")


def test_a_subject_folder_that_holds_no_file_is_refused(tmp_path: Path) -> None:
    """Review MC: `glob: "bids/{subject}/"` took sub-07, whose `anat/` was empty; its tool wrote zeros and the
    study's ICC leant on them (0.996, 0.434 without), "sufficiently reproducible"."""
    for s in ("sub-01", "sub-02"):
        (tmp_path / "bids" / s / "anat").mkdir(parents=True)
        (tmp_path / "bids" / s / "anat" / "T1w.nii.gz").write_bytes(b"x")
    (tmp_path / "bids" / "sub-07" / "anat").mkdir(parents=True)
    with pytest.raises(SpecError, match=r"input of subject 'sub-07' is a folder that holds no file: .*bids/sub-07"):
        resolve_subjects(_spec('{glob: "bids/{subject}/"}'), tmp_path)
    (tmp_path / "bids" / "sub-07" / "anat" / "T1w.nii.gz").write_bytes(b"x")
    assert [s.id for s in resolve_subjects(_spec('{glob: "bids/{subject}/"}'), tmp_path)] == [
        "sub-01",
        "sub-02",
        "sub-07",
    ]


def test_a_subject_folder_of_links_to_missing_files_is_refused(tmp_path: Path) -> None:
    """Review R4: a DataLad subject whose only file was an unfetched annex link passed `validate` (a folder glob)
    and failed at run time, while a file glob refused it."""
    for s in ("sub-01", "sub-02"):
        (tmp_path / "ds" / s / "anat").mkdir(parents=True)
        (tmp_path / "ds" / s / "anat" / "T1w.nii").write_bytes(b"x")
    (tmp_path / "ds" / "sub-03" / "anat").mkdir(parents=True)
    (tmp_path / "ds" / "sub-03" / "anat" / "T1w.nii").symlink_to(tmp_path / ".git" / "annex" / "objects" / "x")
    with pytest.raises(SpecError, match=r"'sub-03' is a folder that holds no file: .*its 1 link\(s\) point to missing"):
        resolve_subjects(_spec('{glob: "ds/{subject}"}'), tmp_path)
