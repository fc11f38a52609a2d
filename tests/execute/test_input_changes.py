"""An execution that writes into its subject's input: a note of the done execution (``changed its input``).

The case comes from a review: a FreeSurfer-like application saves its result in the subject's folder and reuses
it when it is there (a resume); a nondeterministic tool then read "identical in 30 of 30", every execution after
the first copying the first one's result. Real processes and files throughout.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reprovip.execute.sandbox import input_changes, input_listing
from reprovip.study import Study

RESUMING = """\
import os, random, shutil, sys
subdir, out = sys.argv[1:3]
cached = os.path.join(subdir, "stats", "vol.txt")
if not os.path.exists(cached):
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    open(cached, "w").write(f"{random.random()}\\n")
shutil.copy(cached, os.path.join(out, "vol.txt"))
"""


def _study(tmp_path: Path, app: str, subjects: str) -> Study:
    (tmp_path / "app.py").write_text(app)
    path = tmp_path / "study.yaml"
    path.write_text(
        f"application:\n  command: ['{sys.executable}', '{tmp_path / 'app.py'}', '{{input}}', '{{outdir}}']\n"
        f"subjects: {{glob: '{subjects}'}}\nrepetitions: 3\n"
        "outputs:\n  vol: {path: vol.txt, kind: text}\n"
    )
    return Study.load(path)


def test_a_result_saved_in_the_subjects_folder_and_reused_is_noted(tmp_path: Path) -> None:
    """Before the fix the study read "reproducible (bit-for-bit identical)" with no note: each subject's first
    execution to run wrote ``stats/vol.txt`` into its folder, and the next two copied it."""
    for s in ("sub-01", "sub-02"):
        (tmp_path / "subjects" / s).mkdir(parents=True)
        (tmp_path / "subjects" / s / "T1w.txt").write_text(s)
    study = _study(tmp_path, RESUMING, "subjects/{subject}/")
    assert study.run(jobs=1, progress=False).done == 6
    message = (
        "the execution wrote into the subject's input (stats added, stats/vol.txt added, the input itself modified):"
        " a result it saved there may be reused by the next execution instead of computed again"
    )
    rows = study.catalog.executions(study.catalog.studies()[0]["id"])
    # the first execution of each subject to run (executions run in a shuffled order) wrote it, the others reused it
    noted = [r["subject"] for r in rows if r["error"] == f"changed its input: {message}"]
    assert sorted(noted) == ["sub-01", "sub-02"]
    assert [r["error"] for r in rows].count(None) == 4
    doc = study.analyze().document
    notes = doc["executions"]["notes"]
    assert list(notes) == ["changed its input"]
    assert (notes["changed its input"]["count"], notes["changed its input"]["message"]) == (2, message)
    # identical files, and a warning that the executions wrote into their input (a reused result looks identical)
    assert doc["verdict"]["status"] == "warn"
    assert [a["note"] for a in doc["alerts"] if a.get("note")] == ["changed its input"]


def test_an_input_file_the_execution_appends_to_is_noted_and_one_it_reads_is_not(tmp_path: Path) -> None:
    """A file input: only the file itself is listed. Reading it (its access time) changes nothing."""
    (tmp_path / "data").mkdir()
    for s in ("sub-01", "sub-02"):
        (tmp_path / "data" / f"{s}.txt").write_text(s)
    appends = (
        "import sys, shutil\nopen(sys.argv[1], 'a').write('x')\nshutil.copy(sys.argv[1], sys.argv[2] + '/vol.txt')\n"
    )
    study = _study(tmp_path, appends, "data/{subject}.txt")
    assert study.run(jobs=1, progress=False).done == 6
    notes = study.analyze().document["executions"]["notes"]
    assert notes["changed its input"]["count"] == 6
    assert notes["changed its input"]["message"].startswith(
        "the execution wrote into the subject's input (the input itself modified): "
    )
    reads = tmp_path / "reads"
    (reads / "data").mkdir(parents=True)
    (reads / "data" / "sub-01.txt").write_text("sub-01")
    study = _study(
        reads, "import sys, shutil\nshutil.copy(sys.argv[1], sys.argv[2] + '/vol.txt')\n", "data/{subject}.txt"
    )
    assert study.run(jobs=1, progress=False).done == 3
    assert study.analyze().document["executions"]["notes"] == {}


def test_the_listing_goes_two_levels_deep_and_stops_at_1000_entries(tmp_path: Path) -> None:
    """Documented limits (docs/running.md): a file added three levels down is seen through its folder's time,
    one four levels down or among entries past the first 1000 is not; a missing input (a worker on another
    machine) is no change."""
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    before = input_listing(str(tmp_path))
    assert sorted(before) == [".", "a", "a/b"]
    (tmp_path / "a" / "b" / "c" / "deeper.txt").write_text("1")
    assert input_changes(before, input_listing(str(tmp_path))) == []
    (tmp_path / "a" / "b" / "deep.txt").write_text("1")
    assert input_changes(before, input_listing(str(tmp_path))) == ["a/b modified"]
    many = tmp_path / "many"
    many.mkdir()
    for i in range(1500):
        (many / f"f{i:04d}").touch()
    listing = input_listing(str(many))
    assert len(listing) == 1001 and "f0999" in listing and "f1000" not in listing
    assert input_listing(str(tmp_path / "absent")) is None
    assert input_changes(None, listing) == []


def test_a_cache_written_beside_an_input_file_is_noted(tmp_path: Path) -> None:
    """A review's application kept its result as `s0.txt.cache.csv` next to its input `s0.txt` and copied it in
    every later execution: "identical in 55 of 55", no note (only the file itself was listed). Files named
    after the input beside it are listed too; another subject's file beside it (`sub-012.txt`) is not."""
    (tmp_path / "data").mkdir()
    for s in ("sub-01", "sub-012"):
        (tmp_path / "data" / f"{s}.txt").write_text(s)
    caching = (
        "import os, random, shutil, sys\ncache = sys.argv[1] + '.cache.csv'\n"
        "if not os.path.exists(cache):\n    open(cache, 'w').write(f'{random.random()}')\n"
        "shutil.copy(cache, sys.argv[2] + '/vol.txt')\n"
    )
    study = _study(tmp_path, caching, "data/{subject}.txt")
    assert study.run(jobs=1, progress=False).done == 6
    rows = study.catalog.executions(study.catalog.studies()[0]["id"])
    noted = sorted(r["subject"] for r in rows if r["error"])  # each subject's first execution to run
    assert noted == ["sub-01", "sub-012"]
    assert "(sub-01.txt.cache.csv (beside it) added)" in next(
        r["error"] for r in rows if r["subject"] == "sub-01" and r["error"]
    )
    before = input_listing(str(tmp_path / "data" / "sub-01.txt"))
    assert sorted(before) == [".", "sub-01.txt.cache.csv (beside it)"]
    assert study.analyze().document["verdict"]["status"] == "warn"


def test_a_hidden_cache_folder_beside_an_input_file_is_noted_and_the_store_is_not(tmp_path: Path) -> None:
    """Review W (incache): the application kept its result in `data/.mytool-cache/<input name>.csv`, a name
    unrelated to the input's, and copied it in every later execution: "reproducible (bit-for-bit identical),
    identical in 20 of 20", no note. Dot-entries beside the input are listed (a folder's time changes when a file
    is added to it), but the study's own store, when the inputs lie in the study folder."""
    for s in ("sub-01", "sub-02"):
        (tmp_path / f"{s}.txt").write_text(s)
    caching = (
        "import os, random, shutil, sys\n"
        "cache = os.path.join(os.path.dirname(sys.argv[1]), '.mytool-cache', os.path.basename(sys.argv[1]) + '.csv')\n"
        "if not os.path.exists(cache):\n"
        "    os.makedirs(os.path.dirname(cache), exist_ok=True)\n"
        "    open(cache, 'w').write(f'{random.random()}')\n"
        "shutil.copy(cache, sys.argv[2] + '/vol.txt')\n"
    )
    study = _study(tmp_path, caching, "{subject}.txt")
    assert study.run(jobs=1, progress=False).done == 6
    rows = study.catalog.executions(study.catalog.studies()[0]["id"])
    noted = sorted(r["subject"] for r in rows if r["error"])  # each subject's first execution to run
    assert noted == ["sub-01", "sub-02"]
    assert all(".mytool-cache (beside it)" in r["error"] and ".reprovip" not in r["error"] for r in rows if r["error"])
    assert study.analyze().document["verdict"]["status"] == "warn"


def test_a_bids_cache_with_the_inputs_entities_and_another_suffix_is_listed(tmp_path: Path) -> None:
    """Review LL: a tool caching its result as `sub-01_ses-01_desc-cache_vol.txt` beside its input
    `sub-01_ses-01_T1w.nii.gz` read "identical in 16 of 16": only names starting with the input's stem were
    listed. A BIDS file's entities before its suffix name the subject's other files; another session's do not."""
    anat = tmp_path / "sub-01" / "ses-01" / "anat"
    anat.mkdir(parents=True)
    t1 = anat / "sub-01_ses-01_T1w.nii.gz"
    t1.write_bytes(b"x")
    (anat / "sub-01_ses-02_T1w.nii.gz").write_bytes(b"y")
    before = input_listing(str(t1))
    (anat / "sub-01_ses-01_desc-cache_vol.txt").write_text("0.5")
    (anat / "sub-01_ses-02_desc-cache_vol.txt").write_text("0.7")
    assert input_changes(before, input_listing(str(t1))) == ["sub-01_ses-01_desc-cache_vol.txt (beside it) added"]


def test_a_cache_in_the_bids_datasets_derivatives_is_listed(tmp_path: Path) -> None:
    """Review LL: a BIDS app caching its result in `<dataset>/derivatives/mytool/sub-01/` and reusing it read
    "identical in 10 of 10": the dataset's derivatives/ (two levels) is listed with an input inside a dataset."""
    anat = tmp_path / "bids" / "sub-01" / "anat"
    anat.mkdir(parents=True)
    (tmp_path / "bids" / "dataset_description.json").write_text('{"Name": "x", "BIDSVersion": "1.8.0"}')
    t1 = anat / "sub-01_T1w.nii.gz"
    t1.write_bytes(b"x")
    before = input_listing(str(t1))
    (tmp_path / "bids" / "derivatives" / "mytool" / "sub-01").mkdir(parents=True)
    assert input_changes(before, input_listing(str(t1))) == [
        "derivatives (in the dataset) added",
        "derivatives/mytool added",
        "derivatives/mytool/sub-01 added",
    ]
    outside = tmp_path / "plain.txt"  # not in a dataset: nothing more is listed
    outside.write_text("1")
    assert sorted(input_listing(str(outside))) == ["."]
