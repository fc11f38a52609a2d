"""Identity is established only on files that were decoded and compared (reviews NH F5, F2, F8 and EX4)."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np

from reprovip.analyze.bitwise import bitwise_summary
from reprovip.analyze.design import RESTORE, Design, Record
from tests.conftest import ingested, ingested_folders

SUBJECTS = ("s1", "s2")
CELL = ()


def _bits(k: int, rec) -> dict:
    """The bitwise summary of 2 subjects x ``k`` repetitions, no factor; ``rec(s, r)`` gives (blob, error)."""
    grid = {}
    for s in SUBJECTS:
        grid[s] = {}
        for r in range(k):
            blob, error = rec(s, r)
            semantic = None if error else f"sem-{blob}"
            grid[s][(CELL, r)] = Record(s, (), "-", r + 1, None, blob, semantic, error)
    return bitwise_summary(Design(SUBJECTS, (), k, grid))


def test_files_no_reader_decoded_are_never_identical() -> None:
    """NH F5: the same truncated bytes in every execution read "1 of 1 outputs bit-for-bit identical"."""
    bits = _bits(3, lambda s, r: (f"cut-{s}", "x.nii.gz: truncated gzip stream; re-run"))
    assert (bits["identical"], bits["bytes_identical"], bits["repetitions_identical"]) == (None, None, None)
    assert bits["undecodable"] == 6 and bits["decoded_in_some"] == []
    assert bits["not_compared"].startswith("6 stored file(s) could not be decoded as the output's kind")
    assert bits["conditions"] == {}  # no cell compared: no condition is "quiet"


def test_a_file_decoded_in_some_executions_only_differs() -> None:
    """NH F2: a file that opens in repetitions 1 and 3 and not in 2 is no identity, whatever its content."""
    bits = _bits(3, lambda s, r: ("same", "x.nii.gz: not gzip-compressed" if r == 1 else None))
    assert bits["identical"] is False and bits["repetitions_identical"] is False
    assert bits["decoded_in_some"] == ["s1", "s2"] and bits["undecodable"] == 2


def test_one_execution_per_subject_is_not_called_identical() -> None:
    """EX4 / NH F8: "identical: yes" with no two executions of a subject compared."""
    bits = _bits(1, lambda s, r: (f"b-{s}", None))
    assert (bits["identical"], bits["bytes_identical"], bits["compared_subjects"]) == (None, None, 0)
    assert bits["not_compared"] == "no subject has two stored executions of this output"
    same = _bits(2, lambda s, r: (f"b-{s}", None))
    assert (same["identical"], same["bytes_identical"], same["repetitions_identical"]) == (True, True, True)
    assert same["not_compared"] is None


def test_a_file_the_store_lost_is_no_difference_and_no_identity() -> None:
    """Review A: one deleted blob read "can be read in some of their executions and not in others, which is not
    reproducible": the store's damage, not the application's. Its execution is left out of the comparison, and
    the others' agreement is no identity."""
    lost = f"/s/.reprovip/blobs/ab/ab.csv: the stored copy is missing from the store (deleted after the run); {RESTORE}"
    bits = _bits(3, lambda s, r: ("same", lost if (s, r) == ("s1", 1) else None))
    assert bits["decoded_in_some"] == [] and bits["undecodable"] == 0
    assert (bits["identical"], bits["repetitions_identical"]) == (None, None)
    assert bits["not_compared"].startswith("1 stored file(s) are missing or changed in the store since the run")
    differ = _bits(3, lambda s, r: (f"b{r}", lost if (s, r) == ("s1", 1) else None))
    assert differ["identical"] is False and differ["decoded_in_some"] == []


def test_a_level_with_one_execution_per_subject_is_not_called_identical(tmp_path: Path) -> None:
    """Review A: threads=1 run three times per subject (noisy), threads=2 once: "identical for threads=2, differs
    for threads=1", and the report advised "use threads=2", a level never repeated."""
    files = {}
    for s in range(1, 4):
        for t, reps in ((1, 3), (2, 1)):
            for r in range(1, reps + 1):
                files[f"threads-{t}/s{s}/run-{r}"] = {"v.json": f'{{"v": {10 * s + 0.01 * r + 0.001 * t}}}'}
    out = ingested_folders(
        tmp_path, "  v: {path: v.json, kind: scalars}\n", files, "threads-{threads}/{subject}/run-{repetition}"
    )
    bits = out.analyze().document["outputs"][0]["bitwise"]
    threads = bits["factors"]["threads"]
    assert threads["levels"]["2"] == {"cells": 0, "identical_cells": 0}
    assert "identical for threads=2" not in threads["explanation"]
    nd = bits["nondeterminism"]
    assert nd["noisy"] == ["threads=1"] and "0 of 0" not in nd["explanation"]


def _nifti(data: np.ndarray) -> bytes:
    return nib.Nifti1Image(data, np.eye(4)).to_bytes()


def _verdict(root: Path, outputs: str, files: dict) -> tuple[dict, dict]:
    doc = ingested(root, outputs, files).analyze().document
    return doc, doc["outputs"][0]


def test_an_image_cut_in_every_execution_is_not_analysable(tmp_path: Path) -> None:
    """NH F5 end to end: truncated .nii.gz, the same bytes everywhere, read "sufficiently reproducible"."""
    cut = gzip.compress(_nifti(np.ones((4, 4, 4), np.float32)), mtime=0)[:-20]
    files = {(s, r): {"t1.nii.gz": cut} for s in ("a", "b", "c") for r in (1, 2)}
    doc, out = _verdict(tmp_path, "  t1: {path: t1.nii.gz, kind: image}\n", files)
    assert out["bitwise"]["identical"] is None
    assert (out["verdict"]["status"], doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("error", "error", 1)
    assert doc["verdict"]["summary"].startswith("0 of 1 outputs bit-for-bit identical")
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable"]
    assert (why["severity"], why["estimable"]) == ("fail", False) and "truncated gzip stream" in why["message"]


def test_a_table_unparsable_in_every_execution_is_not_analysable(tmp_path: Path) -> None:
    """The tables' counterpart: a malformed CSV, the same in every execution, is not analysable, not identical."""
    files = {(s, r): {"t.csv": 'a,b\n"1,2\n'} for s in ("a", "b", "c") for r in (1, 2)}
    doc, out = _verdict(tmp_path, "  t: {path: t.csv, kind: table}\n", files)
    assert out["bitwise"]["identical"] is None and out["verdict"]["status"] == "error"
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable"]
    assert "malformed table at line 2" in why["message"]


def test_a_gz_name_on_plain_bytes_in_one_repetition_is_not_reproducible(tmp_path: Path) -> None:
    """NH F2: repetition 2 wrote uncompressed bytes under .nii.gz: nibabel cannot open it; it decoded to the
    others' content and read "reproducible (bit-for-bit identical)"."""
    raw = _nifti(np.arange(64, dtype=np.float32).reshape(4, 4, 4))
    files = {(s, r): {"t1.nii.gz": raw if r == 2 else gzip.compress(raw, mtime=0)} for s in ("a", "b") for r in (1, 2)}
    doc, out = _verdict(tmp_path, "  t1: {path: t1.nii.gz, kind: image}\n", files)
    assert out["bitwise"]["identical"] is False and out["bitwise"]["decoded_in_some"] == ["a", "b"]
    assert (out["verdict"]["status"], doc["verdict"]["label"]) == ("fail", "not reproducible")
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable"]
    assert why["estimable"] and why["message"].startswith(
        "the files of 2 subject(s) (a; b) can be read in some of their executions and not in others"
    )
    assert "its name says .nii.gz but it is not gzip-compressed" in why["message"]


def test_label_maps_with_no_label_or_no_voxel_are_not_analysable(tmp_path: Path) -> None:
    """LB5: all-zero label maps, byte-identical, read "with warnings" (one stored as int16: "not analysable"), and
    (24, 24, 0) maps "bit-for-bit identical" with no warning: nothing to compare in either."""
    empty = _nifti(np.zeros((6, 6, 6), np.uint8))
    files = {(s, r): {"seg.nii": empty} for s in ("a", "b", "c") for r in (1, 2)}
    doc, out = _verdict(tmp_path / "empty", "  seg: {path: seg.nii, kind: labels}\n", files)
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "something in the images"]
    assert (why["severity"], why["estimable"]) == ("fail", False) and "no label in any map" in why["message"]
    assert (out["verdict"]["status"], doc["verdict"]["exit_code"]) == ("error", 1)
    none = _nifti(np.zeros((6, 6, 0), np.uint8))
    files = {(s, r): {"seg.nii": none} for s in ("a", "b", "c") for r in (1, 2)}
    doc, out = _verdict(tmp_path / "zero", "  seg: {path: seg.nii, kind: labels}\n", files)
    assert out["bitwise"]["identical"] is None and (out["verdict"]["status"], doc["verdict"]["exit_code"]) == (
        "error",
        1,
    )
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable"]
    assert "the image holds no voxel (shape (6, 6, 0))" in why["message"]


def test_runs_seeded_by_their_repetition_are_no_copies(tmp_path: Path) -> None:
    """A level whose files are another's, file for file, while repetitions differ is a copy only among ingested
    results: an application reprovip ran, seeded by its repetition's number, writes the same bytes under every
    thread count, and `results of their own` warned of it."""
    from reprovip.study import Study
    from tests.conftest import write_study

    path = write_study(
        tmp_path,
        app="repetition_seeded_app.py",
        factors="  threads: [1, 2]\n",
        repetitions=2,
        args='"{input}", "{outdir}", "{repetition}"',
    )
    study = Study.load(path)
    assert study.run().done == 12
    (out,) = study.analyze().document["outputs"]
    assert out["bitwise"]["repetitions_identical"] is False and "copied_levels" not in out
    assert not [r for r in out["verdict"]["reasons"] if r["criterion"] == "results of their own"]
