"""Tables whose rows are numbered (time series) and cells written empty: fMRIPrep's confounds, as it writes them.

An fMRIPrep ``desc-confounds_timeseries.tsv`` has one row per volume (no key column), a header, ``n/a`` in the
first row of every derivative column, and as many ``a_comp_cor_*`` columns as each subject needs: the output
was "not analysable" (every file of a subject with another column count "could not be read"; the first row's
``n/a`` made every default criterion not estimable). A review found it; these tests pin what it is now.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from reprovip.readers import load
from reprovip.study import Study
from tests.conftest import ingested

SUBJECTS, K, T = 5, 3, 12
NCOMP = [2, 2, 3, 2, 3]  # a_comp_cor columns per subject: the third one only in sub-3 and sub-5


def _confounds(root: Path, *, noise: float = 1e-6, first: str = "n/a", rows: list[int] | None = None) -> Study:
    """fMRIPrep-like confounds per subject x repetition, ingested; ``rows``: volumes per subject (default T)."""
    rng = np.random.default_rng(3)
    tables = {}
    for s in range(SUBJECTS):
        t_s = (rows or [T] * SUBJECTS)[s]
        base = rng.normal(0, 1, (t_s, 4 + NCOMP[s])) + 3 * s
        cols = ["global_signal", "trans_x", "trans_x_derivative1", "framewise_displacement"]
        cols += [f"a_comp_cor_{i:02d}" for i in range(NCOMP[s])]
        for r in range(K):
            table = base + rng.normal(0, noise, base.shape)
            lines = ["\t".join(cols)]
            for t in range(t_s):
                cells = [f"{v:.9f}" for v in table[t]]
                if t == 0:
                    cells[2] = cells[3] = first
                lines.append("\t".join(cells))
            tables[(f"sub-{s + 1}", r + 1)] = {"confounds.tsv": "\n".join(lines) + "\n"}
    return ingested(root, "  confounds: {path: confounds.tsv, kind: table}\n", tables)


@pytest.mark.parametrize(("cell", "empty"), [("n/a", True), ("NA", True), ("", True), ("null", True), ("nan", False)])
def test_the_table_reader_lists_cells_written_empty_not_nans_computed(tmp_path: Path, cell: str, empty: bool) -> None:
    path = tmp_path / "t.tsv"
    path.write_text(f"a\tb\n1.5\t{cell}\n2.5\t3.5\n")
    got = load(path, kind="table")
    assert np.isnan(got.values["0/b"])
    assert got.meta["empty"] == (["0/b"] if empty else [])


def test_confounds_whose_columns_differ_by_subject_are_measured_and_the_first_row_is_said(tmp_path: Path) -> None:
    study = _confounds(tmp_path)
    (out,) = study.analyze().document["outputs"]
    assert out["errors"] == [] and out["complete_subjects"] == SUBJECTS
    # The column two subjects write is absent from the other three, each of its T cells measured over those two
    absent = out["absent_observations"]
    assert absent["count"] == T and set(absent["subjects"]) == {"sub-1", "sub-2", "sub-4"}
    assert absent["subjects"]["sub-1"]["names"][:2] == ["0/a_comp_cor_02", "1/a_comp_cor_02"]
    # The first row's n/a: no value anywhere, so no observation (not a non-finite one), and said
    assert out["empty_observations"] == {"count": 2, "names": ["0/framewise_displacement", "0/trans_x_derivative1"]}
    assert out["nonfinite_observations"] == 0
    obs = {o["name"]: o for o in out["observations"]}
    assert "0/framewise_displacement" not in obs and obs["1/framewise_displacement"]["mean_squares"]["n"] == SUBJECTS
    assert obs["4/a_comp_cor_02"]["absent_subjects"] == ["sub-1", "sub-2", "sub-4"]
    assert obs["4/a_comp_cor_02"]["mean_squares"]["n"] == 2
    reasons = {r["criterion"]: r for r in out["verdict"]["reasons"]}
    said = reasons["a value in every cell"]
    assert said["severity"] == "warn" and not said["passed"]
    assert "2 table cell(s) are empty (n/a, NA or blank) in every execution" in said["message"]
    assert "0/framewise_displacement; 0/trans_x_derivative1" in said["message"]
    assert reasons["every observation in every subject"]["severity"] == "warn"
    assert out["verdict"]["status"] == "warn"  # sufficiently reproducible, with both said


def test_a_column_measured_over_the_subjects_that_write_it_matches_pingouin(tmp_path: Path) -> None:
    """Noise of 0.3 between executions: ICC(A,1) of a cell of a column three subjects write, against pingouin
    on those three subjects' values read back from the files."""
    study = _confounds(tmp_path, noise=0.3)
    (out,) = study.analyze().document["outputs"]
    obs = {o["name"]: o for o in out["observations"]}
    for name, subjects in (("5/a_comp_cor_01", range(1, 6)), ("5/a_comp_cor_02", (3, 5))):
        long = pd.DataFrame(
            [
                (s, r, pd.read_csv(tmp_path / f"results/sub-{s}/run-{r}/confounds.tsv", sep="\t")[name[2:]][5])
                for s in subjects
                for r in range(1, K + 1)
            ],
            columns=["subject", "rater", "value"],
        )
        icc = pg.intraclass_corr(long, targets="subject", raters="rater", ratings="value").set_index("Type")
        assert obs[name]["icc"]["ICC(A,1)"]["value"] == pytest.approx(icc.loc["ICC(A,1)", "ICC"], rel=1e-6)


def test_a_cell_empty_in_some_executions_only_is_still_non_finite(tmp_path: Path) -> None:
    """n/a where the other executions of that subject write a number is a difference: loud, as before."""
    study = _confounds(tmp_path)
    path = tmp_path / "results/sub-2/run-2/confounds.tsv"
    lines = path.read_text().splitlines()
    cells = lines[3].split("\t")
    cells[0] = "n/a"
    lines[3] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n")
    study.ingest("results/{subject}/run-{repetition}")  # the changed file, stored again
    (out,) = Study.load(tmp_path / "study.yaml").analyze().document["outputs"]
    assert out["nonfinite_observations"] == 1
    (nonfinite,) = [o for o in out["observations"] if "nonfinite" in o]
    assert nonfinite["name"] == "2/global_signal"
    assert out["verdict"]["status"] == "fail"
    (mixed,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "finite in every execution"]
    assert not mixed["passed"] and mixed["severity"] == "fail"


def test_a_nan_computed_in_every_execution_is_not_an_empty_cell(tmp_path: Path) -> None:
    """`nan` written by the application is a value it computed: non-finite and loud, never an empty cell."""
    study = _confounds(tmp_path, first="nan")
    (out,) = study.analyze().document["outputs"]
    assert "empty_observations" not in out and out["nonfinite_observations"] == 2
    assert out["verdict"]["status"] == "error"


def test_numbered_rows_that_differ_by_subject_keep_one_layout(tmp_path: Path) -> None:
    """A subject with one more volume: a row added would shift every row after it in a table of regions, so
    rows numbered by position are still held to one layout (that subject's files are errors, said)."""
    study = _confounds(tmp_path, rows=[T, T, T + 1, T, T])
    (out,) = study.analyze().document["outputs"]
    assert {e["subject"] for e in out["errors"]} == {"sub-3"} and len(out["errors"]) == K
    # its executions agree on their rows: the subject's layout, said as such (review G), not a failure's
    assert "have other lengths than most subjects'" in out["errors"][0]["error"]
    assert "the same in every execution of subject sub-3" in out["errors"][0]["error"]
    assert out["verdict"]["status"] == "error"


def test_one_subject_with_many_more_columns_leaves_the_others_measured(tmp_path: Path) -> None:
    """Review K (conf-many-outliers): a high-motion subject writes 40 `motion_outlierXX` spike columns; every
    other subject then held "fewer than half of the observations" (of the union), its files became errors, the
    output "not analysable", and a real +50% change of sub-4's `7/global_signal` was never named. Subjects are
    measured against the median subject's count: the spike columns are absent from the others."""
    rng = np.random.default_rng(9)
    tables = {}
    for s in range(1, 6):
        base = rng.normal(0, 1, (T, 2)) + 3 * s
        spikes = 40 if s == 2 else 1
        for r in range(1, K + 1):
            table = base.copy()
            if s == 4 and r == 2:
                table[7, 0] *= 1.5
            cols = ["global_signal", "csf"] + [f"motion_outlier{i:02d}" for i in range(spikes)]
            lines = ["\t".join(cols)]
            for t in range(T):
                lines.append(
                    "\t".join([f"{v:.6f}" for v in table[t]] + ["1.0" if t == i else "0.0" for i in range(spikes)])
                )
            tables[(f"sub-{s}", r)] = {"confounds.tsv": "\n".join(lines) + "\n"}
    study = ingested(tmp_path, "  confounds: {path: confounds.tsv, kind: table}\n", tables)
    (out,) = study.analyze().document["outputs"]
    assert out["errors"] == [] and out["complete_subjects"] == 5
    assert out["absent_observations"]["subjects"]["sub-1"]["count"] == 39 * T
    assert out["verdict"]["status"] == "fail"
    failed = [r for r in out["verdict"]["reasons"] if not r["passed"] and r["severity"] == "fail"]
    assert "7/global_signal" in {r["observation"] for r in failed}
    assert not any(r["criterion"] == "differences covered by the observations" for r in out["verdict"]["reasons"])


def test_a_column_written_empty_in_one_execution_is_non_finite_there(tmp_path: Path) -> None:
    """Review K: one execution writes a whole column `n/a`, and "every number read from them is identical: the
    difference is in what no observation measures" was said, though the difference is in that column. Review F:
    the file was "unreadable" (not assembled with the others); it is non-finite there, as an empty cell among
    numbers is (docs/analysis.md, "Cells written empty")."""
    study = _confounds(tmp_path, noise=0.0)  # every other file of a subject: the same bytes
    path = tmp_path / "results/sub-2/run-2/confounds.tsv"
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    path.write_text("\n".join("\t".join([row[0] if i == 0 else "n/a", *row[1:]]) for i, row in enumerate(rows)) + "\n")
    study.ingest("results/{subject}/run-{repetition}")
    (out,) = Study.load(tmp_path / "study.yaml").analyze().document["outputs"]
    assert out["errors"] == [] and "unmeasured_differences" not in out and out["verdict"]["status"] == "fail"
    assert not any(r["criterion"] == "differences covered by the observations" for r in out["verdict"]["reasons"])
    (finite,) = (r for r in out["verdict"]["reasons"] if r["criterion"] == "finite in every execution")
    assert not finite["passed"] and "0/global_signal is nan in subject sub-2, repetition 2" in finite["message"]


def test_a_column_empty_in_every_file_is_said(tmp_path: Path) -> None:
    """Review N (c16): a `thickness` column written `n/a` in every row of every file was an ignored column, unsaid
    (one `n/a` cell was warned, a whole column not)."""
    study = _confounds(tmp_path, first="n/a")
    for path in (tmp_path / "results").rglob("confounds.tsv"):
        rows = [line.split("\t") for line in path.read_text().splitlines()]
        path.write_text("\n".join("\t".join([*r, "thickness" if i == 0 else "n/a"]) for i, r in enumerate(rows)) + "\n")
    study.ingest("results/{subject}/run-{repetition}")
    (out,) = Study.load(tmp_path / "study.yaml").analyze().document["outputs"]
    assert out["empty_observations"]["count"] == 2 + T
    assert "0/thickness" in out["empty_observations"]["names"]
    assert any(r["criterion"] == "a value in every cell" and not r["passed"] for r in out["verdict"]["reasons"])


def test_a_list_as_long_as_each_subject_has_lesions_is_said_as_such(tmp_path: Path) -> None:
    """Review G: lesion lists of 2, 3, 0 and 5 elements, each subject's the same in every execution, read
    "extra 'lesions[2].vol' ... the executions wrote different rows ...; compare their logs". A position names no
    lesion across subjects, so they are not compared; the error says why and what to write instead."""
    counts = {"a": 2, "b": 3, "c": 0, "d": 5}
    files = {
        (s, r): {"r.json": json.dumps({"lesions": [{"vol": 10.0 * i + 0.001 * r} for i in range(n)]})}
        for s, n in counts.items()
        for r in (1, 2)
    }
    (out,) = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document["outputs"]
    messages = [e["error"] for e in out["errors"]]
    assert messages and not any("compare their logs" in m for m in messages)
    assert all("the same in every execution of subject" in m and "name or an id" in m for m in messages)
    assert out["verdict"]["status"] == "error"


def test_a_json_region_one_subject_lacks_with_its_lists_is_absent_there_not_unreadable(tmp_path: Path) -> None:
    """Review AA: sub-d has no thalamus, so no `regions.thalamus.ci` list either; its files were "not readable"
    ("lists ... of other lengths": ci[0], ci[1]) and its putamen left out. The region is absent there; the
    subject's other regions are measured, and an empty list beside a written one is still another length."""
    rng = np.random.default_rng(5)
    files = {}
    for si, s in enumerate("abcd"):
        for r in (1, 2, 3):
            regions = {
                name: {"suvr": v, "ci": [0.9 * v, 1.1 * v]}
                for name, base in (("putamen", 1.5), ("thalamus", 1.2))
                if not (s == "d" and name == "thalamus")
                for v in [base + 0.2 * si + rng.normal(0, 1e-3)]
            }
            files[(s, r)] = {"r.json": json.dumps({"regions": regions})}
    (out,) = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document["outputs"]
    assert out["errors"] == [] and out["complete_subjects"] == 4
    obs = {o["name"]: o for o in out["observations"]}
    assert obs["regions.putamen.ci[0]"]["mean_squares"]["n"] == 4  # sub-d measured
    for name in ("regions.thalamus.suvr", "regions.thalamus.ci[0]", "regions.thalamus.ci[1]"):
        assert obs[name]["absent_subjects"] == ["d"] and obs[name]["mean_squares"]["n"] == 3
    assert out["absent_observations"]["subjects"]["d"]["count"] == 3


def test_an_array_beyond_the_limit_is_refused_from_its_header(tmp_path, monkeypatch) -> None:
    """More values than an array output is analysed with: refused, with what to do. Review PP: twelve 50 MB
    `.npy` were each read whole (1.8 GB, 4 minutes) before the refusal; the header says their size."""
    from reprovip.analyze import observations
    from reprovip.analyze.observations import MAX_OBSERVATIONS

    small = tmp_path / "small.npy"
    np.save(small, np.arange(3.0))
    files = {}
    for s in (1, 2):
        for r in (1, 2):
            big = tmp_path / f"big{s}{r}.npy"
            np.save(big, np.full(MAX_OBSERVATIONS + 1, float(s + 0.1 * r)))  # differs run to run
            files[f"s{s}", r] = {"a.npy": big.read_bytes(), "b.npy": small.read_bytes()}
    study = ingested(tmp_path / "study", "  a: {path: a.npy, kind: array}\n  b: {path: b.npy, kind: array}\n", files)
    read = []
    monkeypatch.setattr(observations, "load", lambda path, **kw: read.append(path) or load(path, **kw))
    doc = study.analyze().document
    out = {o["name"]: o for o in doc["outputs"]}
    assert (
        f"{MAX_OBSERVATIONS + 1} values, more than the {MAX_OBSERVATIONS} a table, array or text output"
        in (out["a"]["errors"][0]["error"])
    )
    assert out["a"]["verdict"]["status"] == "error" and out["b"]["verdict"]["status"] == "identical"
    assert read and all(Path(p).stat().st_size < 1000 for p in read)  # only the small files were read


def test_row_keys_written_as_other_numbers_are_said_so(tmp_path) -> None:
    """Review PT: a new version wrote the key column `frame_start` as `0.0` where the baseline wrote `0`: "the
    executions wrote different rows, fields or lines; compare their logs". The message says the keys are the
    same numbers written otherwise, and what to do."""
    from tests.conftest import ingested_folders

    folders = {}
    for s in range(3):
        for v in ("1.0", "1.1"):
            for r in (1, 2):
                starts = ("0", "60") if v == "1.0" else ("0.0", "60.0")
                rows = "".join(f"{t}\t{100 + 10 * s + i}\n" for i, t in enumerate(starts))
                folders[f"{v}/sub-{s}/run-{r}"] = {"tacs.tsv": "frame_start\tcaudate\n" + rows}
    outputs = "  tacs: {path: tacs.tsv, kind: table, key_columns: [frame_start]}\n"
    study = ingested_folders(tmp_path, outputs, folders, "{version}/{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    messages = " ".join(e["error"] for e in out["errors"])
    assert "the row keys are the same numbers written otherwise ('0' and '0.0')" in messages
    assert "compare their logs" not in messages


def test_a_keyed_table_with_fewer_whole_rows_is_no_failed_execution(tmp_path) -> None:
    """Review RD: one to three lesions per subject (a radiomics table keyed by `lesion_id`); the subjects with
    one lesion held 112 observations where 336 are written by two subjects or more, and read "did this
    execution fail?" (not analysable). Their rows are whole: the lesions they lack are absent, said. A row cut
    short (fewer columns) still reads as a failure."""
    from tests.conftest import ingested

    def table(lesions: int, r: int, cut: bool = False) -> str:
        rows = [f"lesion_{i}\t{10 * i + 0.001 * r}\t{5 + i}" for i in range(1, lesions + 1)]
        if cut:
            rows = [f"lesion_1\t{10 + 0.001 * r}\t"]
        return "lesion_id\tvolume\tcount\n" + "\n".join(rows) + "\n"

    counts = {"s1": 3, "s2": 3, "s3": 1, "s4": 2}
    files = {(s, r): {"f.tsv": table(n, r)} for s, n in counts.items() for r in (1, 2)}
    outputs = "  f: {path: f.tsv, kind: table, key_columns: [lesion_id]}\n"
    (out,) = ingested(tmp_path / "whole", outputs, files).analyze().document["outputs"]
    assert out["errors"] == []
    assert out["n_subjects"] == 4
    files = {
        (s, r): {"f.tsv": table(1, r, cut=s == "s3") if s == "s3" else table(3, r)} for s in counts for r in (1, 2)
    }
    (out,) = ingested(tmp_path / "cut", outputs, files).analyze().document["outputs"]
    assert {e["subject"] for e in out["errors"]} == {"s3"}


@pytest.mark.parametrize(("cell", "status"), [("nan", "warn"), ("", "warn"), ("inf", "error")])
def test_nan_in_every_execution_of_a_subject_is_no_value_there(tmp_path, cell: str, status: str) -> None:
    """Review RD: PyRadiomics writes `nan` for an empty mask's features; `nan` in every execution of one
    subject read "not analysable" where the same cell left empty read "with warnings". Both are that subject's
    absence, measured over the others; an infinity stays a non-finite finding."""
    from tests.conftest import ingested

    def table(s: int, r: int) -> str:
        value = cell if s == 2 else f"{10 * s + 0.001 * r}"
        return f"lesion,volume,texture\nl1,{100 + s},{value}\n"

    files = {(f"s{s}", r): {"f.csv": table(s, r)} for s in range(4) for r in (1, 2)}
    doc = ingested(tmp_path, "  f: {path: f.csv, kind: table}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert doc["verdict"]["status"] == status
    if status == "warn":
        (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "every observation in every subject"]
        assert "s2 lacks 1: l1/texture" in why["message"]


def test_a_subject_nan_for_everything_in_every_execution_is_no_pass(tmp_path) -> None:
    """Review RG: a T1 fit that failed for sub-02 in every execution (`{"T1_ms": NaN, "M0": NaN}`) read
    "sufficiently reproducible, with warnings" once a NaN in every execution of a subject was that subject's
    absence: most of what it writes is NaN, a failure written alike, not a subject with no value for a field."""
    from tests.conftest import ingested

    files = {
        (f"sub-0{s}", r): {
            "fit.json": json.dumps(
                {"T1_ms": float("nan"), "M0": float("nan")} if s == 2 else {"T1_ms": 800.0 + 50 * s + r, "M0": 1.0 + s}
            )
        }
        for s in range(1, 5)
        for r in (1, 2)
    }
    doc = ingested(tmp_path, "  fit: {path: fit.json, kind: scalars}\n", files).analyze().document
    assert doc["verdict"]["status"] in ("fail", "error") and doc["verdict"]["exit_code"] == 1


def test_a_value_a_few_subjects_write_as_0_in_every_execution_is_left_out(tmp_path) -> None:
    """Review DG: one subject of six wrote its volume as 0 in every execution (a silent failure) while the others'
    executions varied: its exact agreement and its distance from the others lifted the ICC's CI over 0.9, and a
    study whose other subjects fail read "sufficiently reproducible". It is left out of that observation, said."""
    from tests.conftest import ingested

    rng = np.random.default_rng(2)

    def table(s: int) -> str:
        return f"region,volume,fraction\nlh,{0.0 if s == 3 else 1000 * s + rng.normal(0, 300)},{s / 10}\n"

    files = {(f"s{s}", r): {"r.csv": table(s)} for s in range(1, 7) for r in (1, 2, 3)}
    doc = ingested(tmp_path, "  r: {path: r.csv, kind: table, key_columns: [region]}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert doc["verdict"]["status"] == "fail"
    (volume,) = [o for o in out["observations"] if o["name"] == "lh/volume"]
    assert volume["zero_subjects"] == ["s3"] and volume["icc"]["ICC(A,1)"]["ci_low"] < 0.9
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "something in every subject's outputs"]
    assert why["severity"] == "warn" and "s3 writes 0 for 1: lh/volume" in why["message"]


def test_observations_a_study_ignores_are_left_out_and_said(tmp_path) -> None:
    """Review VC: a tool writing `start_epoch` (time.time()) in its JSON failed every comparison of a release,
    and only the whole output could be left out. `ignore` leaves out the observations it names (shell-style
    patterns), says which, and warns of a pattern that matches nothing (a misspelt name judges the value)."""
    from tests.conftest import ingested

    files = {
        (f"s{s}", r): {
            "m.json": json.dumps({"snr": 10.0 * s + 0.001 * r, "start_epoch": 1.7e9 + 3600 * r + s, "host": f"n{r}"})
        }
        for s in range(1, 5)
        for r in (1, 2, 3)
    }
    judged = ingested(tmp_path / "all", "  m: {path: m.json, kind: scalars}\n", files).analyze().document
    assert judged["verdict"]["status"] == "fail"  # the time stamps vary as much as the subjects do
    doc = ingested(tmp_path / "ignored", "  m: {path: m.json, kind: scalars, ignore: [start_*, host, tyop]}\n", files)
    (out,) = doc.analyze().document["outputs"]
    assert [o["name"] for o in out["observations"]] == ["snr"]
    assert out["ignored_observations"] == dict(
        count=2,
        names=["host", "start_epoch"],
        patterns=["start_*", "host", "tyop"],
        unmatched=["tyop"],
        differ=["host", "start_epoch"],
        result_like=[],
    )
    (typo,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "ignore patterns match"]
    assert typo["severity"] == "warn" and "'tyop' match no observation" in typo["message"]
    assert out["verdict"]["status"] == "warn"


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("{path: m.nii.gz, kind: image, ignore: [x]}", "a image output has none by name: remove `ignore`"),
        ("{path: m.json, kind: scalars, ignore: ['']}", "`ignore` holds an empty pattern"),
    ],
)
def test_an_ignore_that_cannot_name_observations_is_refused(declaration: str, message: str) -> None:
    from reprovip.spec import parse_spec

    with pytest.raises(Exception, match=re.escape(message)):
        parse_spec(f"outputs:\n  m: {declaration}\n")


def test_a_word_that_differs_between_repetitions_of_one_condition_is_categorical() -> None:
    """Review QC: `qc_decision` include/exclude flipping between repetitions under threads=2 only warned. A word
    differing within a condition is categorical; across a factor's levels (a BLAS name) or not a word in every
    repetition (a time stamp, a host with a number) it stays a text difference."""
    from types import SimpleNamespace

    from reprovip.analyze.observations import _words_differ

    def got(condition: str, version: str | None = None, **fields: str):
        meta = dict(text={k: k + v for k, v in fields.items()}, words={k: v for k, v in fields.items() if v.isalpha()})
        return SimpleNamespace(meta=meta), SimpleNamespace(condition_key=condition, version=version)

    raw = {
        "s1": {
            0: got("threads=1", qc="include", blas="openblas", host="n1"),
            1: got("threads=1", qc="include", blas="openblas", host="n2"),
            2: got("threads=2", qc="include", blas="mkl", host="n1"),
            3: got("threads=2", qc="exclude", blas="mkl", host="n1"),
        }
    }
    assert _words_differ(raw, set()) == {"qc": dict(words=["exclude", "include"], subject="s1", condition="threads=2")}
    # `compare`: the baseline's and the current version's records share a condition key, not a version
    compared = {"s1": {0: got("-", "baseline", os="bookworm"), 1: got("-", "current", os="trixie")}}
    assert _words_differ(compared, set()) == {}


def test_one_value_everywhere_to_a_few_ulps_is_constant_for_the_criteria(tmp_path) -> None:
    """Reviews QC, DG, RD: `spacing_x` 1.0 in every subject, 1.0000000000000002 in some runs: ICC(A,1) 7e-17 and
    "threads changes the result differently in each subject", not reproducible, for 16 significant digits. One
    value to 4 ulps is constant for the criteria; 1e-12 apart it still is judged (and fails)."""
    from tests.conftest import ingested

    for apart, status in ((np.spacing(1.0), "pass"), (1e-12, "fail")):
        files = {
            (f"s{s}", r): {"q.json": json.dumps({"snr": 10.0 * s + 0.001 * r, "spacing_x": 1.0 + (r == 2) * apart})}
            for s in range(1, 5)
            for r in (1, 2, 3)
        }
        doc = ingested(tmp_path / str(apart), "  q: {path: q.json, kind: scalars}\n", files).analyze().document
        (spacing,) = [o for o in doc["outputs"][0]["observations"] if o["name"] == "spacing_x"]
        assert spacing.get("float_dust", False) is (status == "pass") and doc["verdict"]["status"] == status


def test_an_infinite_subject_warns_nothing_on_stderr() -> None:
    """Review QC: `fber` infinite in every execution of one subject printed numpy's "invalid value encountered in
    subtract" on stderr (the zero rule's range of inf - inf)."""
    import warnings

    from reprovip.analyze.observations import zero_as_absent

    v = np.array([[[5.0, 5.1], [np.inf, np.inf], [0.0, 0.0], [6.0, 6.2], [7.0, 7.1]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert zero_as_absent(["fber"], v, ["s1", "s2", "s3", "s4", "s5"], {}) == {}


def test_text_lines_printed_in_another_order_are_said(tmp_path) -> None:
    """Review TX: per-region lines printed by threads as they finish, in another order in each run: "threads
    changes the result" on a region whose value never changed. Still different files, read by line; a warning says
    the lines are the same, moved."""
    from tests.conftest import ingested

    regions = [f"region_{c}: mean = {10 * s + i}.5 (n = 42{i} voxels)" for i, c in enumerate("abc") for s in [0]]
    files = {}
    for s in range(1, 4):
        lines = [line.replace("mean = ", f"mean = {s}") for line in regions]
        for r in (1, 2):
            files[(f"s{s}", r)] = {"r.log": "\n".join(lines if r == 1 else lines[::-1]) + "\n"}
    doc = ingested(tmp_path, "  r: {path: r.log, kind: text}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["reordered_lines"] == ["s1", "s2", "s3"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "lines in one order"]
    assert why["severity"] == "warn" and "wrote the same lines in another order" in why["message"]


def test_identical_text_files_holding_nan_are_no_lines_in_another_order(tmp_path) -> None:
    """Review I: every execution wrote `total_area nan`, byte for byte: NaN equals no NaN, and every view warned
    "wrote the same lines in another order"."""
    from tests.conftest import ingested

    files = {(f"s{s}", r): {"r.log": f"subject {s}\ntotal_area nan\n"} for s in (1, 2, 3) for r in (1, 2)}
    (out,) = ingested(tmp_path, "  r: {path: r.log, kind: text}\n", files).analyze().document["outputs"]
    assert "reordered_lines" not in out
    assert not any(r["criterion"] == "lines in one order" for r in out["verdict"]["reasons"])


def test_a_notes_column_empty_in_most_runs_and_text_in_one_is_text(tmp_path) -> None:
    """A `notes` column empty in every row (NaN cells listed empty, since review F) but for one execution's word:
    text there, no number; the files differ in a text field (a warning), they are not "other fields"."""
    from tests.conftest import ingested

    files = {}
    for s in (1, 2, 3):
        for r in (1, 2):
            note = "re-run" if (s, r) == (2, 2) else ""
            files[(f"s{s}", r)] = {"r.csv": f"region,vol,notes\nhippo,{4000 + 100 * s}.5,{note}\namyg,{1500 + s}.25,\n"}
    (out,) = ingested(tmp_path, "  r: {path: r.csv, kind: table}\n", files).analyze().document["outputs"]
    assert out["errors"] == [] and out["verdict"]["status"] == "warn"
    assert [o["name"] for o in out["observations"]] == ["amyg/vol", "hippo/vol"]


def test_a_cell_empty_in_one_run_text_in_another_and_a_number_in_a_third_keeps_its_numbers(tmp_path) -> None:
    """Review J: `cnr` a number in one execution of s1, empty in another, `failed` in a third: the rule that makes
    such a column text dropped it from every execution of s1, numbers included, and the study passed."""
    from tests.conftest import ingested

    files = {}
    for s in (1, 2, 3):
        for r in (1, 2, 3):
            cnr = {1: "2.5", 2: "", 3: "failed"}[r] if s == 1 else f"{s}.5"
            files[(f"s{s}", r)] = {"r.csv": f"region,vol,cnr\nbrain,{1000 + 100 * s}.5,{cnr}\n"}
    doc = ingested(tmp_path, "  r: {path: r.csv, kind: table}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert doc["verdict"]["status"] == "error" and [e["subject"] for e in out["errors"]] == ["s1"]


def _reordered_tables(tmp_path, header: str, rows: list[tuple], change: bool = False) -> dict:
    """The analysed output of 3 subjects' tables written with their rows reversed in the second repetition (and,
    with ``change``, one value of s2's second repetition moved by 150: more than the subjects differ by)."""
    from tests.conftest import ingested

    files = {}
    for s in range(1, 4):
        mine = [(name, value + 100 * s) for name, value in rows]
        for r in (1, 2):
            written = mine if r == 1 else mine[::-1]
            if change and (s, r) == (2, 2):
                written = [(written[0][0], written[0][1] + 150), *written[1:]]
            files[(f"s{s}", r)] = {"r.csv": header + "".join(f"{n},{v}\n" for n, v in written)}
    doc = ingested(tmp_path, "  r: {path: r.csv, kind: table}\n", files).analyze().document
    (out,) = doc["outputs"]
    return out


def test_a_keyed_table_written_in_another_order_is_said(tmp_path) -> None:
    """Review EX3: a table keyed by its region names, its rows in another order in each repetition, warned "the
    difference is in what no observation measures (a string, a text column...)". Read by its key, it is the same
    table: identical in its decoded values (not in its bytes), a passing reason says the rows moved."""
    out = _reordered_tables(tmp_path, "region,volume\n", [("hippocampus", 4000), ("amygdala", 1500), ("thalamus", 7)])
    assert out["reordered_rows"] == {"keyed": ["s1", "s2", "s3"]}
    assert "unmeasured_differences" not in out
    assert (out["bitwise"]["identical"], out["bitwise"]["bytes_identical"]) == (True, False)
    assert out["verdict"]["status"] == "identical"
    assert "the order of a keyed table's rows" in out["attribution"]["summary"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "rows in one order"]
    assert why["passed"] and "compared whatever their order" in why["message"]
    assert not [r for r in out["verdict"]["reasons"] if r.get("severity") == "warn" and not r["passed"]]


def test_rows_in_another_order_under_a_level_are_no_effect_of_it(tmp_path) -> None:
    """Review C: a keyed table written in another order under threads=2, beside seed=random noise of 1e-6: "threads
    changes the result: 5 of 5 comparisons between levels differ" (its share of the variance 1e-16). The rows are
    compared whatever their order: the seed is named, threads is not."""
    from tests.conftest import ingested_folders

    rng = np.random.default_rng(5)
    folders = {}
    for s in range(1, 5):
        rows = [("hippocampus", 4000.0 + 50 * s), ("amygdala", 1500.0 + 20 * s), ("thalamus", 7000.0 + 90 * s)]
        for t in (1, 2):
            for seed in ("42", "random"):
                for r in (1, 2):
                    noisy = [(n, v + (rng.normal(0, 1e-6) if seed == "random" else 0.0)) for n, v in rows]
                    written = noisy if t == 1 else noisy[::-1]
                    table = "region,volume\n" + "".join(f"{n},{v!r}\n" for n, v in written)
                    folders[f"threads-{t}/seed-{seed}/s{s}/run-{r}"] = {"r.csv": table}
    study = ingested_folders(
        tmp_path,
        "  r: {path: r.csv, kind: table, key_columns: [region]}\n",
        folders,
        "threads-{threads}/seed-{seed}/{subject}/run-{repetition}",
    )
    (out,) = study.analyze().document["outputs"]
    effects = {f["factor"]: f for f in out["attribution"]["factors"]}
    assert not effects["threads"]["changes_result"]
    assert out["bitwise"]["nondeterminism"]["blamed"] == {"seed": ["random"]}


def test_a_table_without_key_written_in_another_order_warns(tmp_path) -> None:
    """With no text column, numbers are read by row number: moved rows read as changed values; a warning says the
    rows are the same, moved, and how to key them."""
    out = _reordered_tables(tmp_path, "label,volume\n", [(1, 4000), (2, 1500), (3, 7000)])
    assert out["reordered_rows"] == {"by_position": ["s1", "s2", "s3"]}
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "rows in one order"]
    assert why["severity"] == "warn" and not why["passed"] and "declare `key_columns`" in why["message"]


def test_a_moved_row_whose_value_changed_is_no_reordering(tmp_path) -> None:
    """Rows in another order and one value changed: not the same rows, so the change is judged as a change."""
    out = _reordered_tables(
        tmp_path, "region,volume\n", [("hippocampus", 4000), ("amygdala", 1500), ("thalamus", 7000)], change=True
    )
    assert out["reordered_rows"] == {"keyed": ["s1", "s3"]}
    (moved,) = [o for o in out["observations"] if not o.get("identical")]
    assert moved["name"] == "thalamus/volume"
    assert out["verdict"]["status"] == "fail"


def test_an_ignored_value_that_behaves_as_a_result_is_said(tmp_path) -> None:
    """Review R5: `ignore: ["*time*"]` meant for a run time also took `time_to_peak_s`, which a release moved by 20%:
    nothing said so. An ignored value the same in every repetition of each condition, changing between conditions,
    is named in a warning; a run time that changes every run is not."""
    from tests.conftest import ingested_folders

    rng = np.random.default_rng(1)
    folders = {
        f"{v}/s{s}/run-{r}": {
            "p.json": json.dumps(
                {"cbf": 50.0 + 3 * s + 0.001 * r, "time_to_peak_s": (8.0 + s) * v, "runtime_s": rng.uniform(10, 20)}
            )
        }
        for v in (1, 1.2)
        for s in range(1, 5)
        for r in (1, 2)
    }
    outputs = '  p: {path: p.json, kind: scalars, ignore: ["*time*"]}\n'
    doc = ingested_folders(tmp_path, outputs, folders, "{version}/{subject}/run-{repetition}").analyze().document
    (out,) = doc["outputs"]
    assert out["ignored_observations"]["result_like"] == ["time_to_peak_s"]
    (why,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "ignored values are no results"]
    assert why["severity"] == "warn" and "as results do, not as time stamps: time_to_peak_s;" in why["message"]
