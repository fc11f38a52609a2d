"""Observations some subjects never write: measured over the subjects that write them, and said."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

from reprovip.cli.main import main
from reprovip.study import Study

SUBJECTS, K = 4, 3


def _values(seed: int = 0) -> np.ndarray:
    """(subject, repetition, observation a/b): subjects 10 apart, executions 0.5 apart."""
    rng = np.random.default_rng(seed)
    return 10.0 * np.arange(SUBJECTS)[:, None, None] + rng.normal(0, 0.5, (SUBJECTS, K, 2))


def _ingest(root: Path, docs: dict[str, object], pattern: str = "{subject}/run-{repetition}") -> Study:
    """A `scalars` output `r.json`: ``docs[folder]`` written in ``results/<folder>``, ingested with ``pattern``."""
    for folder, doc in docs.items():
        (root / "results" / folder).mkdir(parents=True)
        (root / "results" / folder / "r.json").write_text(json.dumps(doc))
    (root / "study.yaml").write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
    study = Study.load(root / "study.yaml")
    study.ingest(f"results/{pattern}")
    return study


def _study(root: Path, values: np.ndarray, *, lacks: dict[tuple[int, int], str], pattern: str) -> Study:
    """A `scalars` output {"a", "b"} per subject x repetition (``values``); ``lacks[(subject, rep)]`` names the
    field that execution does not write."""
    docs = {}
    for s, r in np.ndindex(values.shape[:2]):
        doc = {"a": float(values[s, r, 0]), "b": float(values[s, r, 1])}
        doc.pop(lacks.get((s, r), ""), None)
        docs[f"sub-{s + 1}/run-{r + 1}"] = doc
    return _ingest(root, docs, pattern)


def test_a_field_one_subject_never_writes_is_measured_over_the_others(tmp_path: Path) -> None:
    """sub-3 writes no `b` in any execution (a FreeSurfer table without a structure that subject lacks): every
    file of sub-3 read "could not be read" and the output was not analysable (a review). `b` is now measured
    over the 3 subjects that write it, ICC(A,1) equal to pingouin's on those subjects; `a` over all 4."""
    x = _values()
    study = _study(tmp_path, x, lacks={(2, r): "b" for r in range(K)}, pattern="{subject}/run-{repetition}")
    doc = study.analyze().document
    (out,) = doc["outputs"]
    assert out["errors"] == [] and out["complete_subjects"] == SUBJECTS
    assert out["absent_observations"] == {"count": 1, "subjects": {"sub-3": {"count": 1, "names": ["b"]}}}
    obs = {o["name"]: o for o in out["observations"]}
    assert obs["b"]["absent_subjects"] == ["sub-3"] and "absent_subjects" not in obs["a"]
    assert obs["b"]["mean_squares"]["n"] == SUBJECTS - 1 and obs["a"]["mean_squares"]["n"] == SUBJECTS
    for name, col, subjects in (("a", 0, [0, 1, 2, 3]), ("b", 1, [0, 1, 3])):
        long = pd.DataFrame(
            [(s, r, x[s, r, col]) for s in subjects for r in range(K)], columns=["subject", "rater", "value"]
        )
        icc2 = pg.intraclass_corr(long, targets="subject", raters="rater", ratings="value").set_index("Type")
        assert obs[name]["icc"]["ICC(A,1)"]["value"] == pytest.approx(icc2.loc["ICC(A,1)", "ICC"], rel=1e-9)
    (said,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "every observation in every subject"]
    assert said["severity"] == "warn" and "sub-3 lacks 1: b" in said["message"]
    assert out["verdict"]["status"] == "warn"


def test_noise_in_a_subject_that_lacks_a_field_still_fails(tmp_path: Path) -> None:
    """The subject without `b` is not left out of `a`: its executions 30% apart fail the study."""
    x = _values()
    x[2, :, 0] *= [0.7, 1.0, 1.3]
    study = _study(tmp_path, x, lacks={(2, r): "b" for r in range(K)}, pattern="{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    assert out["verdict"]["status"] == "fail"
    (failed,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "ICC(A,1).ci_low >= 0.9"]
    assert failed["observation"] == "a" and not failed["passed"]
    assert {o["name"]: o for o in out["observations"]}["a"]["mean_squares"]["n"] == SUBJECTS


def test_one_execution_without_a_field_its_subject_writes_is_an_error(tmp_path: Path, capsys) -> None:
    """A field missing from one execution only is a difference between executions: that file is named and the
    output cannot be judged on the others (as before subjects had layouts of their own)."""
    study = _study(tmp_path, _values(), lacks={(1, 2): "b"}, pattern="{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    (error,) = out["errors"]
    assert (error["subject"], error["repetition"]) == ("sub-2", 3)
    assert "its observations differ from" in error["error"] and "missing 'b'" in error["error"]
    assert "absent_observations" not in out and out["verdict"]["status"] == "error"
    assert main(["check", str(tmp_path / "study.yaml")]) == 1
    assert "not analysable" in capsys.readouterr().out


def test_a_version_that_moves_a_field_some_subject_lacks_is_outside_the_envelope(tmp_path: Path) -> None:
    """version 2.0 shifts `b` by 20 run-to-run SDs in the 3 subjects that write it: its envelope test (on those
    subjects) is merged into the output's, which is outside; `a` is unchanged and inside."""
    x = _values(1)
    both = np.stack([x, x + [0.0, 10.0]], axis=1)  # (subject, version, repetition, observation)
    for v, version in enumerate(("1.0", "2.0")):
        for s, r in np.ndindex(SUBJECTS, K):
            doc = {"a": float(both[s, v, r, 0]), "b": float(both[s, v, r, 1])}
            if s == 2:
                del doc["b"]
            folder = tmp_path / "results" / version / f"sub-{s + 1}" / f"run-{r + 1}"
            folder.mkdir(parents=True)
            (folder / "r.json").write_text(json.dumps(doc))
    (tmp_path / "study.yaml").write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/{version}/{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    env = out["envelope"]
    assert env["within_envelope"] is False and env["outside"] == ["b"]
    assert set(env["observations"]) == {"a", "b"} and env["worst_observation"] == "b"
    assert out["verdict"]["status"] == "fail"


def test_a_list_shorter_in_some_subjects_is_not_compared_by_position(tmp_path: Path) -> None:
    """MRS fits as a list: sub-5 and sub-6 have no Cr, so their `fits[1]` is Cho. Measured by position,
    `fits[1].amp` mixed Cr and Cho and its ICC read 0.998 where Cr's is near 0 (a review). The names at each
    position differ between subjects: the output is refused, saying how to key it (reprovip.analyze.identifiers;
    without names, list positions keep one layout for the study and the subjects with another are errors)."""
    rng = np.random.default_rng(3)
    docs = {}
    for s in range(6):
        for r in range(K):
            fits = [("NAA", 10.0 + s), ("Cr", 8.0 + rng.normal(0, 1.0)), ("Cho", 2.0 + 0.1 * s)]
            if s >= 4:
                del fits[1]
            docs[f"sub-{s + 1}/run-{r + 1}"] = {"fits": [{"name": n, "amp": a} for n, a in fits]}
    (out,) = _ingest(tmp_path, docs).analyze().document["outputs"]
    assert out["verdict"]["status"] == "error"
    assert out["error"].startswith("fits[*].name differs between subjects at list position [1] (sub-1 against sub-5)")
    # Without the names, by position alone: sub-5 and sub-6 hold another layout, and are errors
    for doc in docs.values():
        for fit in doc["fits"]:
            del fit["name"]
    (out,) = _ingest(tmp_path / "unnamed", docs).analyze().document["outputs"]
    assert {e["subject"] for e in out["errors"]} == {"sub-5", "sub-6"} and "absent_observations" not in out
    assert out["complete_subjects"] == 4 and out["verdict"]["status"] == "fail"  # Cr's ICC, and the files


@pytest.mark.parametrize("failed", [{"status": "failed"}, {"runtime_s": 12.5}])
def test_a_subject_whose_every_execution_failed_alike_is_an_error(tmp_path: Path, failed: dict) -> None:
    """sub-3 failed alike in every execution, writing {"status": "failed"} (no number), or its run time and no
    result: it took part in no metric, or in the run time's only, and the study read "sufficiently
    reproducible, with warnings" (a review). A subject holding fewer than half of the observations is an error."""
    x = _values()
    docs = {
        f"sub-{s + 1}/run-{r + 1}": {"a": float(x[s, r, 0]), "b": float(x[s, r, 1]), "runtime_s": 12.5}
        for s, r in np.ndindex(SUBJECTS, K)
    }
    docs.update({f"sub-3/run-{r + 1}": dict(failed, error=f"LinAlgError {r}") for r in range(K)})
    (out,) = _ingest(tmp_path, docs).analyze().document["outputs"]
    assert [e["subject"] for e in out["errors"]] == ["sub-3"] * K and out["complete_subjects"] == SUBJECTS - 1
    if "status" in failed:
        held, gone = "no number was read from it", "'a', 'b', 'runtime_s'"
    else:
        held, gone = "it holds 1 observation(s)", "'a', 'b'"
    assert (
        f"{held} where 3 are written by two subjects or more ({gone} missing); did this execution fail?"
        in (out["errors"][0]["error"])
    )
    assert "absent_observations" not in out and out["verdict"]["status"] == "error"


def test_a_version_change_of_a_field_one_subject_writes_is_blamed_on_the_version(tmp_path: Path) -> None:
    """`x` only sub-1 writes moves by 100 run-to-run SDs under version 2.0: the envelope fails on it, and the
    attribution said "run-to-run nondeterminism" from the other field's noise (a review). The envelope names
    the version; the ICC criterion says why it cannot judge `x`."""
    rng = np.random.default_rng(4)
    docs = {}
    for v, version in enumerate(("1.0", "2.0")):
        for s, r in np.ndindex(SUBJECTS, K):
            doc = {"all": 10.0 * s + rng.normal(0, 0.1)}
            if s == 0:
                doc["x"] = 3.0 + 5.0 * v + rng.normal(0, 0.05)
            docs[f"{version}/sub-{s + 1}/run-{r + 1}"] = doc
    (out,) = _ingest(tmp_path, docs, "{version}/{subject}/run-{repetition}").analyze().document["outputs"]
    assert out["envelope"]["within_envelope"] is False and out["envelope"]["outside"] == ["x"]
    (version,) = out["attribution"]["factors"]
    assert version["factor"] == "version" and version["changes_result"] is True
    assert out["attribution"]["summary"].startswith(
        "version changes the result beyond run-to-run noise: x leaves the baseline's run-to-run envelope"
    )
    (icc,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "ICC(A,1).ci_low >= 0.9"]
    assert "x: written by 1 subject(s) only, absent from 3: needs 2 subjects that write it" in icc["message"]


def test_a_majority_of_subjects_that_failed_alike_is_not_measured_away(tmp_path: Path) -> None:
    """Review N (c23): 4 of 6 subjects write `{"status": "failed", "runtime_s": ...}` every time; against the
    median subject none of them held "fewer than half", the fit was measured on the 2 others, and the study read
    "sufficiently reproducible". Against the observations two subjects or more write, the 4 are errors."""
    rng = np.random.default_rng(23)
    docs = {}
    for s in range(6):
        for r in range(K):
            fit = {f"p{i}": 10.0 * s + i + rng.normal(0, 0.01) for i in range(11)}
            doc = {"status": "failed", "runtime_s": 12.5} if s >= 2 else {**fit, "runtime_s": 12.5}
            docs[f"sub-{s + 1}/run-{r + 1}"] = doc
    (out,) = _ingest(tmp_path, docs).analyze().document["outputs"]
    assert {e["subject"] for e in out["errors"]} == {"sub-3", "sub-4", "sub-5", "sub-6"}
    assert "it holds 1 observation(s) where 12 are written by two subjects or more" in out["errors"][0]["error"]
    assert out["verdict"]["status"] == "error"
