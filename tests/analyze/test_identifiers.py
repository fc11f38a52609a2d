"""Identifiers at numbered positions (reprovip.analyze.identifiers): three false passes of a review (K), and the
tables and lists whose positions are the same things in every subject, which must stay analysable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reprovip.analyze.identifiers import mixed_identifiers
from reprovip.readers import load
from reprovip.study import Study

SUBJECTS, K = 6, 3


def _write(root: Path, name: str, text: dict[tuple[int, int], str], declared: str) -> Study:
    """Files ``text[(subject, repetition)]`` ingested as ``results/sub-S/run-R/<name>``."""
    for (s, r), content in text.items():
        folder = root / "results" / f"sub-{s}" / f"run-{r}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    (root / "study.yaml").write_text(f"outputs:\n  out: {{path: {name}, {declared}}}\n")
    study = Study.load(root / "study.yaml")
    study.ingest("results/{subject}/run-{repetition}")
    return study


def _labelstats(root: Path, key: str = "") -> Study:
    """ANTs `ImageMath LabelStats`-like CSVs: half the subjects have labels 1-4, the others 1, 3, 4, 5 (no
    label 2); label 2's volume varies by 30% between executions."""
    rng = np.random.default_rng(4)
    text = {}
    for s in range(SUBJECTS):
        labels = [1, 2, 3, 4] if s % 2 == 0 else [1, 3, 4, 5]
        volume = {lab: 1000.0 * lab + 37.0 * s for lab in labels}
        for r in range(1, K + 1):
            rows = [
                f"{lab},{volume[lab] * (rng.uniform(0.7, 1.3) if lab == 2 else 1.0):.3f},{lab * 1.5:.1f}"
                for lab in labels
            ]
            text[(s, r)] = "\n".join(["Label,Volume,Mean", *rows]) + "\n"
    return _write(root, "labelstats.csv", text, "kind: table" + key)


def test_a_numbered_table_whose_label_column_differs_by_subject_is_refused(tmp_path: Path) -> None:
    """Review K (ants-labelstats-shift): row 1 was label 2 in some subjects, label 3 in the others; its ICC
    0.99998 mixed them and a 30% change of label 2 read "sufficiently reproducible", exit 0."""
    (out,) = _labelstats(tmp_path).analyze().document["outputs"]
    assert out["verdict"]["status"] == "error"
    assert out["error"] == (
        "the rows are numbered, and column 'Label' holds 2 in sub-0's row 1 but 3 in sub-1's: rows of one number "
        "are different things in different subjects, so each observation would mix them; declare "
        "`key_columns: [Label]` in the output's declaration"
    )


def test_the_same_labelstats_keyed_by_label_fail_on_label_2(tmp_path: Path) -> None:
    (out,) = _labelstats(tmp_path, ", key_columns: [Label]").analyze().document["outputs"]
    assert out["verdict"]["status"] == "fail"
    failed = {r["observation"] for r in out["verdict"]["reasons"] if not r["passed"] and r["severity"] == "fail"}
    assert "2/Volume" in failed


def test_a_wide_table_whose_header_is_label_ids_is_refused(tmp_path: Path) -> None:
    """Review K (wide-label-header): `1,2,3,4` against `1,3,4,5` as a first row read as data; columns mixed
    label 2 and label 3, and the study passed."""
    rng = np.random.default_rng(5)
    text = {}
    for s in range(SUBJECTS):
        labels = [1, 2, 3, 4] if s % 2 == 0 else [1, 3, 4, 5]
        for r in range(1, K + 1):
            row = [100.0 * lab + s + (rng.normal(0, 30) if lab == 2 else 0.0) for lab in labels]
            text[(s, r)] = ",".join(map(str, labels)) + "\n" + ",".join(f"{v:.4f}" for v in row) + "\n"
    (out,) = _write(tmp_path, "wide.csv", text, "kind: table").analyze().document["outputs"]
    assert out["verdict"]["status"] == "error"
    assert out["error"].startswith("the table has no header (its first row is numbers), and that row holds 2 in sub-0")


def test_an_mrs_fit_list_whose_names_differ_by_subject_is_refused(tmp_path: Path) -> None:
    """Review K (mrs-json-list-basis): `fits[3]` was GSH in some subjects, Lac in the others (basis sets of one
    length); a 30% GSH change passed."""
    rng = np.random.default_rng(6)
    text = {}
    for s in range(SUBJECTS):
        names = ["NAA", "Cr", "Cho", "GSH" if s % 2 == 0 else "Lac"]
        for r in range(1, K + 1):
            fits = [
                {"name": n, "amp": 10.0 * (i + 1) + s * (rng.uniform(0.7, 1.3) if n == "GSH" else 1.0)}
                for i, n in enumerate(names)
            ]
            text[(s, r)] = json.dumps({"fits": fits})
    (out,) = _write(tmp_path, "fit.json", text, "kind: scalars").analyze().document["outputs"]
    assert out["verdict"]["status"] == "error"
    assert out["error"].startswith(
        "fits[*].name differs between subjects at list position [3] (sub-0 against sub-1): the list holds different"
    )


def _loaded(folder: Path, name: str, content: str, kind: str) -> object:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(content)
    return load(path, kind=kind)


@pytest.mark.parametrize(
    ("name", "contents", "kind"),
    [
        # the same labels in every subject: rows are the same things
        ("a.csv", ["Label,Volume\n1,10.5\n2,20.5\n", "Label,Volume\n1,11.5\n2,21.5\n"], "table"),
        # a result that is a permutation (a rank), not named as an identifier
        ("b.csv", ["rank,volume\n1,10.5\n2,20.5\n3,5.5\n", "rank,volume\n2,10.5\n1,30.5\n3,5.5\n"], "table"),
        # a header-less matrix of integer counts (a connectome of streamline counts): its first row is data
        ("c.csv", ["1,2,3\n4,5,6\n", "1,7,3\n4,8,6\n"], "table"),
        # a list of file names: every element differs between subjects
        (
            "d.json",
            ['{"runs": [{"file": "s1_r1"}, {"file": "s1_r2"}]}', '{"runs": [{"file": "s2_r1"}, {"file": "s2_r2"}]}'],
            "scalars",
        ),
        # names that repeat within a list (units) are no identifiers
        ("e.json", ['{"fits": [{"u": "mM"}, {"u": "mM"}]}', '{"fits": [{"u": "mM"}, {"u": "IU"}]}'], "scalars"),
        # review N: lists of plain strings (dcm2niix ImageType, BIDS Sources): no number is mixed (c22, c11)
        (
            "f.json",
            [
                '{"ImageType": ["ORIGINAL", "PRIMARY", "M", "ND"], "TR": 2.0}',
                '{"ImageType": ["ORIGINAL", "PRIMARY", "M", "NORM"], "TR": 2.0}',
            ],
            "scalars",
        ),
        # a whole-number count of an ROI is a measurement, not an id (c10)
        ("g.csv", ["roi_nvox,mean\n12,1.5\n33,2.5\n", "roi_nvox,mean\n12,1.5\n40,2.5\n"], "table"),
    ],
)
def test_positions_holding_the_same_things_or_no_identifiers_pass(
    tmp_path: Path, name: str, contents: list[str], kind: str
) -> None:
    files = {f"s{i}": [_loaded(tmp_path / f"s{i}", name, c, kind)] for i, c in enumerate(contents)}
    assert mixed_identifiers(files) is None


def test_an_identifier_that_differs_between_executions_of_a_subject_is_not_judged_here(tmp_path: Path) -> None:
    """A subject whose files disagree on the labels is a difference between executions (its files are errors
    elsewhere), not a layout of that subject."""
    a = _loaded(tmp_path / "a", "x.csv", "Label,V\n1,1.5\n2,2.5\n3,3.5\n", "table")
    b1 = _loaded(tmp_path / "b", "x.csv", "Label,V\n1,1.5\n3,2.5\n4,3.5\n", "table")
    b2 = _loaded(tmp_path / "b", "y.csv", "Label,V\n1,1.5\n2,2.5\n3,3.5\n", "table")
    assert mixed_identifiers({"a": [a], "b": [b1, b2]}) is None
    assert mixed_identifiers({"a": [a], "b": [b1]}) is not None


@pytest.mark.parametrize(
    ("name", "contents", "kind", "said"),
    [
        # c24: no single text column is unique, `hemi` and `structure` together are
        (
            "t.csv",
            [
                "hemi,structure,volume\nL,Thalamus,7000.5\nL,Amygdala,1500.5\nR,Thalamus,7100.5\nR,Amygdala,1550.5\n",
                "hemi,structure,volume\nL,Thalamus,7000.5\nL,Amygdala,1500.5\nR,Amygdala,1550.5\nR,Thalamus,7100.5\n",
            ],
            "table",
            "their text (hemi, structure) differs between s0's row 2 and s1's",
        ),
        # c19: a numeric label field of a JSON list
        (
            "r.json",
            [
                '{"regions": [{"label": 1, "v": 1.5}, {"label": 2, "v": 2.5}, {"label": 3, "v": 3.5}]}',
                '{"regions": [{"label": 1, "v": 1.5}, {"label": 3, "v": 2.5}, {"label": 5, "v": 3.5}]}',
            ],
            "scalars",
            "regions[*].label differs between subjects at list position [1]",
        ),
        # c04: `LabelID`; c06: labels shifted at every position (2..4 against 1..3: one id at two places)
        ("l.csv", ["LabelID,v\n1,1.5\n2,2.5\n", "LabelID,v\n1,1.5\n3,2.5\n"], "table", "column 'LabelID'"),
        ("s.csv", ["Label,v\n1,1.5\n2,2.5\n3,3.5\n", "Label,v\n2,1.5\n3,2.5\n4,3.5\n"], "table", "column 'Label'"),
    ],
)
def test_identifiers_review_n_found_are_refused(tmp_path: Path, name: str, contents: list[str], kind: str, said: str):
    files = {f"s{i}": [_loaded(tmp_path / f"s{i}", name, c, kind)] for i, c in enumerate(contents)}
    assert said in (mixed_identifiers(files) or "")


def test_every_pair_of_subjects_is_compared(tmp_path: Path) -> None:
    """Review N (c05): the first subject was compared with each other only; unlike all of them at every position,
    it hid the mix between the others."""
    labels = {"s0": [7, 8, 9], "s1": [1, 2, 3], "s2": [1, 3, 4]}
    files = {
        s: [_loaded(tmp_path / s, "x.csv", "Label,v\n" + "".join(f"{lab},1.5\n" for lab in labs), "table")]
        for s, labs in labels.items()
    }
    assert "holds 2 in s1's row 1 but 3 in s2's" in (mixed_identifiers(files) or "")
