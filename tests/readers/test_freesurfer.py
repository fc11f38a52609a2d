"""FreeSurfer ``.stats`` files: measures and the ColHeaders table are observations, run details are not.

The fixtures follow the layout FreeSurfer 7's ``mri_segstats`` (``aseg.stats``) and ``mris_anatomical_stats``
(``lh.aparc.stats``) write: a ``#`` header naming the run (time, host, command line, input time stamps), then
``# Measure`` lines, ``# NRows``/``# NTableCols``, ``# ColHeaders`` and whitespace-aligned rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprovip.errors import ReaderError
from reprovip.readers import load, semantic_hash
from reprovip.study import Study

RUN = """\
# Title Segmentation Statistics
#
# generating_program mri_segstats
# cvs_version 7.4.1
# cmdline mri_segstats --seed 1234 --seg mri/aseg.mgz --sum stats/aseg.stats --pv mri/norm.mgz --subject {subject}
# sysname  Linux
# hostname {host}
# machine  x86_64
# user     {user}
# anatomy_type volume
#
# SUBJECTS_DIR /data/subjects
# subjectname {subject}
# SegVolFile mri/aseg.mgz
# SegVolFileTimeStamp  {stamp}
# InVolFile  mri/norm.mgz
# InVolFileTimeStamp  {stamp}
# Excluding Cortical Gray and White Matter
# ExcludeSegId 0 2 3 41 42
# VoxelVolume_mm3 1
"""
MEASURES = """\
# Measure BrainSeg, BrainSegVol, Brain Segmentation Volume, {brain}, mm^3
# Measure BrainSegNotVent, BrainSegVolNotVent, Brain Segmentation Volume Without Ventricles, 1157061.000000, mm^3
# Measure EstimatedTotalIntraCranialVol, eTIV, Estimated Total Intracranial Volume, {etiv}, mm^3
"""
TABLE = """\
# NRows {nrows}
# NTableCols 10
# ColHeaders  Index SegId NVoxels Volume_mm3 StructName normMean normStdDev normMin normMax normRange
  1   4      6563     6562.7  Left-Lateral-Ventricle            31.9557    11.7305     9.0000    82.0000    73.0000
  2  17      4127     {hippo}  Left-Hippocampus                  78.0122     9.8852    38.0000   104.0000    66.0000
  3  53      4210     4180.9  Right-Hippocampus                 77.4410    10.1003    35.0000   103.0000    68.0000
"""


def aseg(
    path: Path,
    *,
    subject: str = "sub-01",
    host: str = "node01",
    user: str = "ana",
    stamp: str = "2026/11/29 10:00:00",
    brain: str = "1173963.000000",
    etiv: str = "1581450.547186",
    hippo: str = "4102.3",
    nrows: int = 3,
    rows: str | None = None,
) -> Path:
    """Write an aseg.stats; ``rows`` replaces the table's rows."""
    table = TABLE.format(nrows=nrows, hippo=hippo)
    if rows is not None:
        table = "".join(table.splitlines(keepends=True)[:3]) + rows
    text = RUN.format(subject=subject, host=host, user=user, stamp=stamp) + MEASURES.format(brain=brain, etiv=etiv)
    path.write_text(text + table)
    return path


APARC = """\
# Table of FreeSurfer cortical parcellation anatomical statistics
#
# CreationTime 2026/11/29-10:00:00-GMT
# generating_program mris_anatomical_stats
# hemi lh
# AnnotationFile ../label/lh.aparc.annot
# Measure Cortex, NumVert, Number of Vertices, 134455, unitless
# Measure Cortex, WhiteSurfArea, White Surface Total Area, 91437.8, mm^2
# Measure Cortex, MeanThickness, Mean Thickness, 2.45614, mm
# NTableCols 4
# TableCol  1 ColHeader StructName
# TableCol  1 FieldName Structure Name
# TableCol  1 Units     NA
# ColHeaders StructName NumVert SurfArea ThickAvg
bankssts                                 1427    964  2.611
caudalanteriorcingulate                   982    670  2.573
"""


def test_measures_and_the_table_are_observations_named_by_structure(tmp_path: Path) -> None:
    loaded = load(aseg(tmp_path / "aseg.stats"))
    assert loaded.kind == "table"
    assert float(loaded.values["Measure/eTIV"]) == 1581450.547186
    assert float(loaded.values["Measure/BrainSegVol"]) == 1173963.0
    assert float(loaded.values["Left-Hippocampus/Volume_mm3"]) == 4102.3
    assert float(loaded.values["Right-Hippocampus/normStdDev"]) == 10.1003
    # 3 measures + 3 rows x 9 numeric columns (StructName is the row key)
    assert len(loaded.values) == 3 + 3 * 8  # the Index column is a row counter, no observation
    assert loaded.meta["key_columns"] == ["StructName"]
    assert loaded.meta["format"] == "freesurfer-stats"
    assert loaded.meta["measures"]["eTIV"] == {
        "name": "EstimatedTotalIntraCranialVol",
        "description": "Estimated Total Intracranial Volume",
        "unit": "mm^3",
    }


def test_aparc_stats_with_column_descriptions(tmp_path: Path) -> None:
    path = tmp_path / "lh.aparc.stats"
    path.write_text(APARC)
    loaded = load(path)
    assert float(loaded.values["Measure/MeanThickness"]) == 2.45614
    assert float(loaded.values["caudalanteriorcingulate/ThickAvg"]) == 2.573
    assert sorted(loaded.values) == sorted(
        ["Measure/NumVert", "Measure/WhiteSurfArea", "Measure/MeanThickness"]
        + [f"{s}/{c}" for s in ("bankssts", "caudalanteriorcingulate") for c in ("NumVert", "SurfArea", "ThickAvg")]
    )


def test_a_stats_file_of_measures_only(tmp_path: Path) -> None:
    """brainvol.stats has no table."""
    path = tmp_path / "brainvol.stats"
    path.write_text(RUN.format(subject="s", host="h", user="u", stamp="t") + MEASURES.format(brain="1", etiv="2"))
    loaded = load(path)
    assert {k: float(v) for k, v in loaded.values.items()} == {
        "Measure/BrainSegVol": 1.0,
        "Measure/BrainSegVolNotVent": 1157061.0,
        "Measure/eTIV": 2.0,
    }


def test_run_details_are_not_content_but_results_are(tmp_path: Path) -> None:
    """Another host, user, time and command line: same semantic hash (different bytes); a changed volume, or a
    value written with other digits, changes it."""
    first = aseg(tmp_path / "a.stats")
    other_run = aseg(tmp_path / "b.stats", host="node07", user="bob", stamp="2026/11/30 23:59:59")
    assert first.read_bytes() != other_run.read_bytes()
    assert semantic_hash(first) == semantic_hash(other_run)
    assert semantic_hash(aseg(tmp_path / "c.stats", hippo="4102.4")) != semantic_hash(first)
    assert semantic_hash(aseg(tmp_path / "d.stats", etiv="1581450.547187")) != semantic_hash(first)
    assert semantic_hash(aseg(tmp_path / "e.stats", brain="1173963.0")) != semantic_hash(first)


def test_recognised_by_content_whatever_the_name(tmp_path: Path) -> None:
    assert load(aseg(tmp_path / "aseg.txt")).kind == "table"
    assert "Measure/eTIV" in load(aseg(tmp_path / "aseg"), kind="table").values
    # declared text, every number is read (time stamps too): the user's choice
    assert load(aseg(tmp_path / "aseg.log"), kind="text").kind == "text"


def test_another_stats_file_asks_for_a_kind(tmp_path: Path) -> None:
    path = tmp_path / "run.stats"
    path.write_text("name value\nx 1\ny 2\n")
    with pytest.raises(
        ReaderError, match=r"run\.stats: unknown format \(suffix .\.stats.\); declare the output.s kind"
    ):
        load(path)
    assert float(load(path, kind="table").values["y/value"]) == 2.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(nrows=4), r"'# NRows 4' \(line \d+\) but the table has 3; the execution may have been cut short"),
        (
            dict(rows="  1   4      6563     6562.7  Left-Lateral-Ventricle  31.9\n"),
            r"line 27 has 6 fields but '# ColHeaders' \(line 26\) names 10",
        ),
        (dict(etiv="n/a"), r"line 23: the value of measure 'eTIV' is 'n/a', not a number"),
    ],
)
def test_cut_short_or_malformed_files_are_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ReaderError, match=message):
        load(aseg(tmp_path / "aseg.stats", **kwargs))


def test_structure_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.stats"
    path.write_text("# Measure A, a, first, 1, mm\n# Measure A, a, again, 2, mm\n")
    with pytest.raises(ReaderError, match=r"x\.stats: measure 'a' appears twice; declare the output `kind: text`"):
        load(path)
    path.write_text("# Measure A, a, first, 1, mm\n1 2 3\n# ColHeaders a b c\n")
    with pytest.raises(ReaderError, match=r"line 2 holds data before any '# ColHeaders' line"):
        load(path)
    path.write_text("# Measure A, a, 1, mm\n")
    with pytest.raises(ReaderError, match=r"line 1: '# Measure' needs 5 comma-separated fields .* got 4"):
        load(path)


def test_a_freesurfer_study_identical_but_for_run_details_then_one_volume_changed(tmp_path: Path) -> None:
    """End to end (ingest, analyze): 3 subjects x 3 repetitions whose aseg.stats differ only in host and time
    are bit-for-bit identical; one hippocampus volume changed in one repetition is found and named."""
    root = tmp_path / "study"
    for s in range(3):
        for r in range(1, 4):
            folder = root / "results" / f"sub-0{s}" / f"run-{r}"
            folder.mkdir(parents=True)
            aseg(folder / "aseg.stats", subject=f"sub-0{s}", host=f"node{r}", stamp=f"2026/11/29 10:0{r}:00")
    (root / "study.yaml").write_text("outputs:\n  aseg: {path: aseg.stats, kind: table}\n")
    study = Study.load(root / "study.yaml")
    study.ingest("results/{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    assert out["bitwise"]["identical"] is True
    assert out["verdict"]["status"] == "identical"

    aseg(root / "results" / "sub-01" / "run-2" / "aseg.stats", subject="sub-01", hippo="4102.9")
    study.ingest("results/{subject}/run-{repetition}")
    document = study.analyze().document
    (out,) = document["outputs"]
    assert out["bitwise"]["identical"] is False
    assert document["verdict"]["status"] != "identical"
    changed = [o["name"] for o in out["observations"] if not o["identical"]]
    assert changed == ["Left-Hippocampus/Volume_mm3"]
    assert len(out["observations"]) == 27  # 3 measures + 3 structures x 8 columns (not Index, a row counter)
    # without factors, no "under -" (a condition key with no factor)
    assert out["attribution"]["summary"].startswith(
        "repetitions differ sporadically (for fewer than half of the subjects): run-to-run flakiness;"
    )


def test_rows_in_another_order_renumbered_read_the_same_values(tmp_path: Path) -> None:
    """Review F3: rows written in another order, `Index` renumbered 1..N as mri_segstats does: `Index` was an
    observation, its ICC 0 "on Left-Amygdala/Index, threads changes the result" (exit 1) for identical
    volumes. The row counter is no observation; the rows are keyed by StructName."""
    rows = TABLE.format(nrows=3, hippo="4102.3").splitlines(keepends=True)[3:]
    renumbered = [f"  {i + 1}" + line[3:] for i, line in enumerate(reversed(rows))]
    first = load(aseg(tmp_path / "a.stats"), kind="table")
    second = load(aseg(tmp_path / "b.stats", rows="".join(renumbered)), kind="table")
    assert first.values == second.values and not any(n.endswith("/Index") for n in first.values)
    assert first.values["Left-Hippocampus/SegId"] == 17


def test_a_structure_named_twice_is_an_error_not_rows_by_number(tmp_path: Path) -> None:
    """Review F3: a repeated StructName silently keyed the table by row number (`0/NVoxels`...), pairing runs'
    rows by position."""
    rows = TABLE.format(nrows=3, hippo="4102.3").splitlines(keepends=True)[3:]
    twice = rows[:2] + [rows[2].replace("Right-Hippocampus", "Left-Hippocampus ")]
    with pytest.raises(ReaderError, match="Left-Hippocampus"):
        load(aseg(tmp_path / "a.stats", rows="".join(twice)), kind="table")
