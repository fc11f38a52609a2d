"""``ingest --pattern`` (reviews V and R): executions sharing one output file through links are refused, an
absolute pattern works, and the non-subject folders of a BIDS root (fMRIPrep's ``logs/``) are left out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import InputError
from reprovip.spec.subjects import SubjectsLeftOut
from reprovip.study import Study

STUDY = "outputs:\n  tab: {path: res.csv, kind: table, key_columns: [roi]}\n"


def _one_real_run(root: Path, subjects: tuple[str, ...] = ("s1", "s2")) -> None:
    """Each subject has ONE real result, in ``run-1``."""
    for i, s in enumerate(subjects):
        (root / "results" / s / "run-1").mkdir(parents=True)
        (root / "results" / s / "run-1" / "res.csv").write_text(f"roi,vol\nA,{10 * i + 1.5}\n")
    (root / "study.yaml").write_text(STUDY)


def _link_folder(d: Path) -> None:
    (d / "run-2").symlink_to("run-1")


def _link_file(d: Path) -> None:
    (d / "run-2").mkdir()
    (d / "run-2" / "res.csv").symlink_to("../run-1/res.csv")


def _hard_link(d: Path) -> None:
    (d / "run-2").mkdir()
    os.link(d / "run-1" / "res.csv", d / "run-2" / "res.csv")


@pytest.mark.parametrize("link", [_link_folder, _link_file, _hard_link], ids=["folder", "symlink", "hardlink"])
def test_repetitions_linked_to_one_execution_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], link
) -> None:
    """run-2 linked to run-1 read "bit-for-bit identical", exit 0, from one execution per subject (review V)."""
    _one_real_run(tmp_path)
    for s in ("s1", "s2"):
        link(tmp_path / "results" / s)
    code = main(["ingest", str(tmp_path / "study.yaml"), "--pattern", "results/{subject}/run-{repetition}"])
    assert code == 2
    err = capsys.readouterr().err
    assert err == (
        "reprovip: error: results/s1/run-1/res.csv and results/s1/run-2/res.csv are the same file (a link to one "
        "file): two executions cannot have written it; copy the real outputs of each execution into its own "
        "folder, or remove the links\n"
    )
    assert not (tmp_path / ".reprovip").exists()  # nothing stored


def test_subjects_sharing_one_file_are_refused(tmp_path: Path) -> None:
    _one_real_run(tmp_path)
    (tmp_path / "results/s2/run-1/res.csv").unlink()
    os.link(tmp_path / "results/s1/run-1/res.csv", tmp_path / "results/s2/run-1/res.csv")
    with pytest.raises(InputError, match=r"results/s1/run-1/res.csv and results/s2/run-1/res.csv are the same file"):
        Study.load(tmp_path / "study.yaml").ingest("results/{subject}/run-{repetition}")


def test_copies_and_git_annex_objects_are_accepted(tmp_path: Path) -> None:
    """Identical bytes in two files are a result; so are two git-annex links to the object of those bytes (DataLad
    stores identical outputs once)."""
    _one_real_run(tmp_path)
    d = tmp_path / "results/s1"
    (d / "run-2").mkdir()
    (d / "run-2/res.csv").write_bytes((d / "run-1/res.csv").read_bytes())
    obj = tmp_path / ".git/annex/objects/Xx/Yy/MD5E-s15--ab.csv/MD5E-s15--ab.csv"
    obj.parent.mkdir(parents=True)
    obj.write_bytes((tmp_path / "results/s2/run-1/res.csv").read_bytes())
    for rep in (1, 2):
        (tmp_path / f"results/s2/run-{rep}").mkdir(exist_ok=True)
        (tmp_path / f"results/s2/run-{rep}/res.csv").unlink(missing_ok=True)
        (tmp_path / f"results/s2/run-{rep}/res.csv").symlink_to(obj)
    summary = Study.load(tmp_path / "study.yaml").ingest("results/{subject}/run-{repetition}")
    assert (summary.executions, summary.complete) == (4, 4)


def test_an_absolute_pattern_ingests_as_a_relative_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--pattern "$PWD/results/..."`` was an internal error, exit 4 (review V)."""
    _one_real_run(tmp_path / "data")
    (tmp_path / "study").mkdir()
    (tmp_path / "study/study.yaml").write_text(STUDY)
    pattern = f"{tmp_path}/data/results/{{subject}}/run-{{repetition}}"
    assert main(["ingest", str(tmp_path / "study/study.yaml"), "--pattern", pattern]) == 0
    assert "ingested 2 executions, 2 complete, 0 with missing outputs" in capsys.readouterr().out
    df = Study.load(tmp_path / "study/study.yaml").executions()
    assert sorted(df["subject"]) == ["s1", "s2"] and list(df["status"]) == ["done", "done"]


@pytest.mark.parametrize("study", ["", "study/"])
def test_an_absolute_pattern_names_duplicate_folders_in_a_one_line_error(tmp_path: Path, study: str) -> None:
    _one_real_run(tmp_path)
    (tmp_path / "results/s1/run-01").mkdir()
    (tmp_path / study).mkdir(exist_ok=True)
    (tmp_path / study / "study.yaml").write_text(STUDY)
    shown = "" if not study else f"{tmp_path}/"  # relative to the study folder when under it
    with pytest.raises(InputError, match=rf"^{shown}results/s1/run-01 and {shown}results/s1/run-1 are the same"):
        Study.load(tmp_path / study / "study.yaml").ingest(f"{tmp_path}/results/{{subject}}/run-{{repetition}}")


def _fmriprep(root: Path) -> None:
    """fMRIPrep-like derivatives of two versions: dataset_description.json, logs/, sub-XX.html, sub-XX/anat."""
    for v in ("20.2.0", "23.1.0"):
        d = root / "deriv" / v
        (d / "logs").mkdir(parents=True)
        (d / "dataset_description.json").write_text(json.dumps({"Name": "fMRIPrep", "DatasetType": "derivative"}))
        (d / "logs/CITATION.md").write_text("cite\n")
        for s in ("01", "02", "03"):
            (d / f"sub-{s}.html").write_text("<html/>")
            (d / f"sub-{s}/anat").mkdir(parents=True)
            (d / f"sub-{s}/anat/sub-{s}_desc-volumes.tsv").write_text(f"tissue\tvolume\ngm\t{100 * int(s)}\n")
    (root / "study.yaml").write_text(
        'factors:\n  version: ["20.2.0", "23.1.0"]\n'
        'outputs:\n  vol: {path: "anat/{subject}_desc-volumes.tsv", kind: table, key_columns: [tissue]}\n'
    )


def test_the_non_subject_folders_of_a_bids_root_are_left_out_with_a_warning(tmp_path: Path) -> None:
    """fMRIPrep's ``logs/`` was a subject whose 2 executions "failed": incomplete, exit 3 (review R)."""
    _fmriprep(tmp_path)
    with pytest.warns(SubjectsLeftOut, match=r"left out 2 folder\(s\) .*\(deriv/20.2.0/logs, deriv/23.1.0/logs\)"):
        summary = Study.load(tmp_path / "study.yaml").ingest("deriv/{version}/{subject}")
    assert (summary.executions, summary.complete, summary.incomplete) == (6, 6, 0)
    df = Study.load(tmp_path / "study.yaml").executions()
    assert sorted(set(df["subject"])) == ["sub-01", "sub-02", "sub-03"]


def test_a_bids_root_of_no_subject_is_a_one_line_error(tmp_path: Path) -> None:
    _fmriprep(tmp_path)
    with pytest.raises(InputError, match=r"no subject under .*: left out 2 folder\(s\) the pattern 'deriv/"):
        Study.load(tmp_path / "study.yaml").ingest("deriv/{version}/log{subject}")


def test_folders_outside_a_bids_root_are_all_subjects(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    _one_real_run(tmp_path, ("alice", "bob", "carol"))
    summary = Study.load(tmp_path / "study.yaml").ingest("results/{subject}/run-{repetition}")
    assert summary.executions == 3 and not [w for w in recwarn if issubclass(w.category, SubjectsLeftOut)]


def test_an_ingested_glob_match_that_is_no_file_makes_its_execution_incomplete(tmp_path: Path) -> None:
    """Review EE: a result folder's extra `stats/roi_5.csv`, a link to a deleted file, was skipped unsaid."""
    for s in ("s1", "s2"):
        for r in (1, 2):
            d = tmp_path / "results" / s / f"run-{r}" / "stats"
            d.mkdir(parents=True)
            (d / "roi_0.csv").write_text("roi,vol\nA,1.5\n")
    (tmp_path / "results/s2/run-2/stats/roi_5.csv").symlink_to(tmp_path / "deleted.csv")
    (tmp_path / "study.yaml").write_text("outputs:\n  tab: {path: stats/*.csv, kind: table, key_columns: [roi]}\n")
    study = Study.load(tmp_path / "study.yaml")
    summary = study.ingest("results/{subject}/run-{repetition}")
    assert (summary.complete, summary.incomplete) == (3, 1)
    df = study.executions()
    (error,) = df[df["status"] == "failed"]["error"]
    assert (
        error
        == f"missing outputs: tab (stats/roi_5.csv is a symbolic link to {tmp_path}/deleted.csv, which is no file)"
    )
