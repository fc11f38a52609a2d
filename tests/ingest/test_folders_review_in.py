"""Review IN: results trees ``ingest`` read wrong without a word (a level one folder deeper, ``threads-01`` beside
``threads-1``, ``{run}`` for ``{repetition}``, an archive, repetitions that are copies)."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.study import Study

STUDY = "outputs:\n  result: {path: result.json, kind: scalars}\n"


def _tree(root: Path, folders: list[str]) -> None:
    """``result.json`` files, a value per subject, in each of ``folders`` (relative to ``root``)."""
    for i, folder in enumerate(folders):
        (root / folder).mkdir(parents=True)
        (root / folder / "result.json").write_text(json.dumps({"value": 1.0 + folder.count("sub-02"), "i": i}))
    (root / "study.yaml").write_text(STUDY)


def _ingest(root: Path, pattern: str, *extra: str) -> int:
    return main(["ingest", str(root / "study.yaml"), "--pattern", pattern, *extra])


def _nothing_stored(root: Path) -> bool:
    return not (root / ".reprovip").exists() or Study.load(root / "study.yaml").executions().empty


def test_a_level_one_folder_deeper_than_the_pattern_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Version 2.0's download unpacked into a wrapper folder (`results/2.0/segtool-2.0_download/sub-XX/rep-N`) was
    dropped unsaid: "version: 1.0 (one level)", then "bit-for-bit identical" on 1.0 alone."""
    subs = [f"sub-0{s}/rep-{r}" for s in (1, 2) for r in (1, 2)]
    _tree(tmp_path, [f"results/1.0/{x}" for x in subs] + [f"results/2.0/segtool-2.0_download/{x}" for x in subs])
    assert _ingest(tmp_path, "results/{version}/{subject}/rep-{repetition}") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("reprovip: error: results/2.0 (")
    assert "{version}" in err and "segtool-2.0_download/sub-01/rep-1" in err and "folders beside them" in err
    assert _nothing_stored(tmp_path)


def test_one_condition_a_session_folder_deeper_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """All threads-1 results under `sub-XX/ses-01/rep-N`: 15 of 30 executions were silently gone, and the check
    passed on threads=4 alone. Also one subject alone one folder deeper."""
    subs = [f"sub-0{s}/rep-{r}" for s in (1, 2) for r in (1, 2)]
    _tree(
        tmp_path, [f"results/threads-4/{x}" for x in subs] + [f"results/threads-1/{x[:6]}/ses-01/{x[7:]}" for x in subs]
    )
    pattern = "results/threads-{threads}/{subject}/rep-{repetition}"
    assert _ingest(tmp_path, pattern) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results/threads-1 (" in err and "sub-01/ses-01/rep-1" in err
    shutil.rmtree(tmp_path / "results/threads-1")
    _tree(tmp_path, [f"results/threads-1/sub-01/rep-{r}" for r in (1, 2)] + ["results/threads-1/sub-02/ses-01/rep-1"])
    assert _ingest(tmp_path, pattern) == 2
    err = capsys.readouterr().err
    assert "results/threads-1/sub-02 (" in err and "{subject}" in err and "ses-01/rep-1" in err
    assert _nothing_stored(tmp_path)


def test_hidden_and_stray_folders_beside_the_levels_stay_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `.snakemake/` of folders, a `.DS_Store` file, a `logs/` of files and an empty `tmp/` beside the levels
    hold no execution a pattern could have missed: ingested as before."""
    subs = [f"sub-0{s}/rep-{r}" for s in (1, 2) for r in (1, 2)]
    _tree(tmp_path, [f"results/{v}/{x}" for v in ("1.0", "2.0") for x in subs])
    (tmp_path / "results/.snakemake/log/x").mkdir(parents=True)
    (tmp_path / "results/.DS_Store").write_bytes(b"\0")
    (tmp_path / "results/logs").mkdir()
    (tmp_path / "results/logs/slurm-1.out").write_text("done\n")
    (tmp_path / "results/2.0/tmp").mkdir()
    assert _ingest(tmp_path, "results/{version}/{subject}/rep-{repetition}") == 0
    assert "ingested 8 executions, 8 complete" in capsys.readouterr().out


@pytest.mark.parametrize("holds", ["crash.log", None])
def test_a_numbered_folder_of_files_alone_or_of_nothing_beside_the_levels_is_refused(
    tmp_path: Path, holds: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review N4: `sub-03/` holding only a crash log (or nothing: created, never written) beside subjects with
    their runs, or a `3.0/` holding only a README beside versions, is a subject or version whose executions all
    failed: dropped unsaid, the study read "bit-for-bit identical". Refused, named with what it holds."""
    subs = [f"sub-0{s}/rep-{r}" for s in (1, 2) for r in (1, 2)]
    _tree(tmp_path, [f"results/{v}/{x}" for v in ("1.0", "2.0") for x in subs])
    (tmp_path / "results/2.0/sub-03").mkdir()
    if holds:
        (tmp_path / "results/2.0/sub-03" / holds).write_text("MemoryError\n")
    assert _ingest(tmp_path, "results/{version}/{subject}/rep-{repetition}") == 2
    err = capsys.readouterr().err
    what = f"it holds only {holds}" if holds else "it is empty"
    assert err.startswith(f"reprovip: error: results/2.0/sub-03 ({{subject}}; {what}): 1 folder(s) under ")
    assert "give each a folder at the pattern's depth, holding its log: it counts as failed" in err
    assert _nothing_stored(tmp_path)


def test_two_levels_that_read_as_one_number_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`threads-01` beside `threads-1` made three levels `01, 1, 4` (each subject "6 of 9" executions)."""
    folders = [f"results/threads-{t}/sub-0{s}/rep-{r}" for t in ("1", "4") for s in (1, 2) for r in (1, 2)]
    _tree(tmp_path, folders + ["results/threads-01/sub-03/rep-1"])
    assert _ingest(tmp_path, "results/threads-{threads}/{subject}/rep-{repetition}") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the `threads` levels 01 and 1 read as the same number" in err
    assert "results/threads-01/sub-03/rep-1" in err and _nothing_stored(tmp_path)


def test_a_repetition_named_run_is_hinted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rep-{run}` made `run` a factor whose levels were compared with one another: say "did you mean"."""
    _tree(tmp_path, [f"results/sub-0{s}/rep-{r}" for s in (1, 2) for r in (1, 2)])
    assert _ingest(tmp_path, "results/{subject}/rep-{run}") == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("reprovip: warning: ") and "did you mean {repetition}?" in err
    _tree(tmp_path / "b", [f"results/sub-0{s}/rep-{r}" for s in (1, 2) for r in (1, 2)])
    assert _ingest(tmp_path / "b", "results/{subject}/rep-{repetition}") == 0
    assert capsys.readouterr().err == ""


def test_an_archive_where_folders_were_expected_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`results.tar.gz` beside the study read "no folder matches"; `--root results.zip` "is a file"; a version's
    results still packed beside another's unpacked dropped that version."""
    src = tmp_path / "src"
    _tree(src, [f"results/1.0/sub-0{s}/rep-{r}" for s in (1, 2) for r in (1, 2)])
    study = tmp_path / "s"
    study.mkdir()
    (study / "study.yaml").write_text(STUDY)
    with tarfile.open(study / "results.tar.gz", "w:gz") as tar:
        tar.add(src / "results", "results")
    assert _ingest(study, "results/{version}/{subject}/rep-{repetition}") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results.tar.gz is an archive: extract it first" in err
    (study / "results.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert _ingest(study, "{version}/{subject}/rep-{repetition}", "--root", str(study / "results.zip")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results.zip is an archive: extract it first" in err
    (src / "results/2.0").mkdir()
    shutil.copy(study / "results.tar.gz", src / "results/2.0/segtool-2.0.tar.gz")
    assert _ingest(src, "results/{version}/{subject}/rep-{repetition}") == 2
    err = capsys.readouterr().err
    assert "results/2.0 (" in err and "segtool-2.0.tar.gz is an archive: extract it first" in err


def _written(root: Path, rep: int, ns: int) -> None:
    for s in (1, 2):
        d = root / f"results/sub-0{s}/rep-{rep}"
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps({"value": float(s)}))
        os.utime(d / "result.json", ns=(ns, ns + s * 1_000_000_000))


def test_repetitions_that_are_copies_are_warned_of(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`cp -a rep-1 rep-2` read "bit-for-bit identical": files of real executions never share a nanosecond
    modification time. Identical files written at other times, at once (one tick of the kernel's clock), or whose
    time has no sub-second part (an archive's), are no copies."""
    _written(tmp_path, 1, 1_700_000_000_123_456_789)
    for s in (1, 2):
        shutil.copytree(tmp_path / f"results/sub-0{s}/rep-1", tmp_path / f"results/sub-0{s}/rep-2")  # keeps times
    (tmp_path / "study.yaml").write_text(STUDY)
    assert _ingest(tmp_path, "results/{subject}/rep-{repetition}") == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("reprovip: warning: 2 execution folder(s) hold the same files")
    assert "results/sub-01/rep-2 = results/sub-01/rep-1" in err and "`cp -a` keeps times" in err
    shutil.rmtree(tmp_path / "results")
    _written(tmp_path, 1, 1_700_000_000_123_456_789)
    _written(tmp_path, 2, 1_700_000_100_987_654_321)
    assert _ingest(tmp_path, "results/{subject}/rep-{repetition}") == 0
    assert capsys.readouterr().err == ""
    shutil.rmtree(tmp_path / "results")
    for r in (1, 2):  # written at once: one tick of the kernel's clock, often one time (times not set)
        for s in (1, 2):
            (tmp_path / f"results/sub-0{s}/rep-{r}").mkdir(parents=True)
            (tmp_path / f"results/sub-0{s}/rep-{r}/result.json").write_text(json.dumps({"value": float(s)}))
    assert _ingest(tmp_path, "results/{subject}/rep-{repetition}") == 0
    assert capsys.readouterr().err == ""
    shutil.rmtree(tmp_path / "results")
    _written(tmp_path, 1, 1_700_000_000_000_000_000)
    _written(tmp_path, 2, 1_700_000_000_000_000_000)
    assert _ingest(tmp_path, "results/{subject}/rep-{repetition}") == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(("levels", "stray"), [(("v1.9", "v1.10"), "run3_logs"), (("subj01", "subj02"), "2024")])
def test_a_numbered_folder_named_unlike_its_siblings_stays_ignored(
    tmp_path: Path, levels: tuple[str, ...], stray: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review P10: `run3_logs/` (a slurm log) beside `v1.9/` and `v1.10/`, or `2024/` (a report) beside `subj01/`:
    refused as a failed version or subject since N4. Only a folder named as its siblings are is one."""
    if levels[0].startswith("v"):
        folders = [f"results/{v}/sub-0{s}/rep-{r}" for v in levels for s in (1, 2) for r in (1, 2)]
        pattern = "results/{version}/{subject}/rep-{repetition}"
    else:
        folders = [f"results/{s}/rep-{r}" for s in levels for r in (1, 2)]
        pattern = "results/{subject}/rep-{repetition}"
    _tree(tmp_path, folders)
    (tmp_path / "results" / stray).mkdir()
    (tmp_path / "results" / stray / "slurm-1234.out").write_text("done\n")
    assert _ingest(tmp_path, pattern) == 0
