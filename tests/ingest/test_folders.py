"""``ingest``: results produced elsewhere become executions without running anything."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from reprovip.analyze.design import natural_key
from reprovip.cli.main import main
from reprovip.errors import InputError
from reprovip.study import Study
from tests.conftest import ingested, ingested_folders, write_study


def _results_tree(root: Path) -> None:
    for version, offset in (("1.8", 0.0), ("1.9", 0.5)):
        for sub in ("sub-01", "sub-02"):
            for rep in (1, 2):
                d = root / "results" / version / sub / f"run-{rep}"
                d.mkdir(parents=True)
                if not (version == "1.9" and sub == "sub-02" and rep == 2):
                    (d / "result.json").write_text(json.dumps({"value": float(sub[-1]) + offset}))


def test_ingest_registers_executions_with_factors_from_the_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _results_tree(tmp_path)
    (tmp_path / "study.yaml").write_text("outputs:\n  result: {path: result.json, kind: scalars}\n")
    code = main(["ingest", str(tmp_path / "study.yaml"), "--pattern", "results/{version}/{subject}/run-{repetition}"])
    assert code == 0
    assert (
        "ingested 8 executions, 7 complete, 1 with missing outputs (factors from the pattern: version)"
        in capsys.readouterr().out
    )
    study = Study.load(tmp_path / "study.yaml")
    df = study.executions()
    assert sorted(set(df["condition_key"])) == ["version=1.8", "version=1.9"]
    assert (df["source"] == "ingest").all() and sorted(df["repetition"].unique()) == [1, 2]
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    assert len(outs) == 7 and len({o["blob"] for o in outs}) == 4
    # The user's files are copied, never moved.
    assert (tmp_path / "results/1.8/sub-01/run-1/result.json").exists()
    # Ingesting again replaces, never duplicates.
    study.ingest("results/{version}/{subject}/run-{repetition}")
    assert len(study.executions()) == 8


@pytest.mark.parametrize(
    ("pattern", "match"),
    [
        ("results/{version}/run-{repetition}", r"needs a \{subject\} placeholder"),
        # a review: the README's pattern, run from the results' parent, did not say where it starts
        (
            "nothing/{subject}",
            r"no folder under .* \(the study's folder: the pattern starts there; --root sets another\) matches "
            r"'nothing/\{subject\}'",
        ),
        ("results/{version}/{subject}/{repetition}", r"no folder under .* matches"),  # repetition: digits only
        # a factor the analysis cannot have: it failed only at analysis (a review)
        (
            "results/{residual}/{subject}/run-{repetition}",
            r"\{residual\} cannot name a factor \(it is the analysis' name for the repetitions' term",
        ),
        ("results/{input}/{subject}/run-{repetition}", r"\{input\} cannot name a factor \(it is the placeholder"),
    ],
)
def test_bad_ingest_patterns(tmp_path: Path, pattern: str, match: str) -> None:
    _results_tree(tmp_path)
    (tmp_path / "study.yaml").write_text("outputs:\n  result: {path: result.json, kind: scalars}\n")
    with pytest.raises(InputError, match=match):
        Study.load(tmp_path / "study.yaml").ingest(pattern)


def test_two_folders_naming_one_execution_are_refused_before_anything_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run-1` and `run-01` are both repetition 1: one used to replace the other, and its values were lost."""
    _results_tree(tmp_path)
    shutil.copytree(tmp_path / "results/1.8/sub-01/run-1", tmp_path / "results/1.8/sub-01/run-01")
    (tmp_path / "study.yaml").write_text("outputs:\n  result: {path: result.json, kind: scalars}\n")
    code = main(["ingest", str(tmp_path / "study.yaml"), "--pattern", "results/{version}/{subject}/run-{repetition}"])
    assert code == 2
    err = capsys.readouterr().err
    assert (
        "results/1.8/sub-01/run-01 and results/1.8/sub-01/run-1 are the same execution (subject 'sub-01', "
        "condition version=1.8, repetition 1); rename or remove one of them"
    ) in err
    assert err.count("\n") == 1 and not (tmp_path / ".reprovip").exists()


def test_ingest_only_study_cannot_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "study.yaml").write_text("outputs:\n  result: {path: result.json, kind: scalars}\n")
    assert main(["run", str(tmp_path / "study.yaml")]) == 2
    assert "no `application` declared; add one to run this study, or use `reprovip ingest`" in capsys.readouterr().err
    # ...and validates (review K: `validate` exited 2 on the study `ingest` and `check` accept)
    assert main(["validate", str(tmp_path / "study.yaml")]) == 0
    assert capsys.readouterr().out == (
        f"{tmp_path / 'study.yaml'}: ok — ingest-only study (no `application`): 1 output(s) declared; store existing "
        "results with `reprovip ingest`\n"
    )


def test_ingested_stream_outputs_are_read_from_the_file_a_run_keeps_them_in(tmp_path: Path) -> None:
    """`path: "{stdout}"` is looked for as stdout.txt: an ingested folder with that file has the output."""
    for sub in ("sub-01", "sub-02"):
        for rep in (1, 2):
            d = tmp_path / "results" / sub / f"run-{rep}"
            d.mkdir(parents=True)
            (d / "stdout.txt").write_text(f"volume {sub[-1]}.5\n")
    (tmp_path / "study.yaml").write_text('outputs:\n  log: {path: "{stdout}", kind: text}\n')
    study = Study.load(tmp_path / "study.yaml")
    report = study.ingest("results/{subject}/run-{repetition}")
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    assert (study.executions()["status"] == "done").all(), report
    assert sorted(o["relpath"] for o in outs) == ["stdout.txt"] * 4 and len({o["blob"] for o in outs}) == 2


def test_subjects_with_fewer_repetitions_make_the_study_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two subjects have 3 repetitions, two have 2 that differ widely: complete-case analysis judged only the
    first two, and the study read "sufficiently reproducible, with warnings" (exit 0), the warning wrongly
    saying every number read was identical."""
    runs = {"s1": [30, 30, 30], "s2": [50, 50, 50], "s3": [30, 70], "s4": [40, 80]}
    files = {(s, r): {"r.json": json.dumps({"value": v})} for s, vs in runs.items() for r, v in enumerate(vs, start=1)}
    ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files)
    assert main(["check", str(tmp_path / "study.yaml")]) == 3
    out = capsys.readouterr().out
    assert (
        "2 of 4 subject(s) do not have the design's executions of this output and are left out of its metrics, whatever their values "
        "(the study is incomplete): s3 (2 of 3); s4 (2 of 3)"
    ) in out
    assert "incomplete: executions failed or not run" in out and "identical: the difference" not in out
    doc = Study.load(tmp_path / "study.yaml").analyze().document
    assert "unmeasured_differences" not in doc["outputs"][0] and doc["outputs"][0]["complete_subjects"] == 2


def test_an_output_named_after_the_subject_is_found_in_every_folder(tmp_path: Path) -> None:
    files = {(s, r): {f"{s}_r.json": json.dumps({"value": v})} for s, v in (("s1", 1.0), ("s2", 2.0)) for r in (1, 2)}
    study = ingested(tmp_path, '  r: {path: "{subject}_r.json", kind: scalars}\n', files)
    assert study.executions()["status"].tolist() == ["done"] * 4
    doc = study.analyze().document
    (out,) = doc["outputs"]
    assert (out["name"], out["n_subjects"], doc["verdict"]["status"]) == ("r", 2, "identical")


def test_a_glob_joins_files_named_after_their_subject_by_its_bids_entity_alone(tmp_path: Path) -> None:
    """Subject ``01`` in ``ses-01/anat/sub-01_ses-01_vol.csv``: every ``01`` was written ``{subject}``, sub-01's
    ses-01 and sub-02's ses-02 were joined into a bogus output ``ses-{subject}/...`` and an identical study
    read "incomplete" (a review). Only ``sub-<subject>`` is the subject's name."""
    folders = {
        f"{s}/run-{rep}": {f"ses-{ses}/sub-{s}_ses-{ses}_vol.csv": f"tissue,v\ngm,{s}{ses}.5\n" for ses in ("01", "02")}
        for s in ("01", "02", "03")
        for rep in (1, 2)
    }
    outputs = '  vol: {path: "ses-*/*_vol.csv", kind: table, key_columns: [tissue]}\n'
    doc = ingested_folders(tmp_path, outputs, folders, "{subject}/run-{repetition}").analyze().document
    names = sorted(o["name"] for o in doc["outputs"])
    assert names == ["vol/ses-01/sub-{subject}_ses-01_vol.csv", "vol/ses-02/sub-{subject}_ses-02_vol.csv"]
    assert [o["n_subjects"] for o in doc["outputs"]] == [3, 3]
    assert doc["verdict"]["status"] == "identical"


def test_one_subject_with_an_extra_repetition_is_the_one_left_out(tmp_path: Path) -> None:
    """The design used to take the largest repetition count: one subject with a 4th run left every other
    subject out, and the study was not analysable. Now the count most conditions have sets it."""
    reps = {"s1": 3, "s2": 3, "s3": 3, "s4": 4}
    files = {
        (s, r): {"r.json": json.dumps({"value": 10.0 * int(s[1])})} for s, n in reps.items() for r in range(1, n + 1)
    }
    doc = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert out["repetitions"] == 3 and out["complete_subjects"] == 3
    assert out["left_out"] == [dict(subject="s4", present=4, needed=3)]
    assert doc["verdict"]["status"] == "incomplete"


def test_a_subject_with_the_right_count_but_the_wrong_conditions_is_left_out(tmp_path: Path) -> None:
    """s3 has 4 executions of build a and 2 of b: as many as the design's 3 + 3, not the same ones (a count
    alone took it for complete)."""
    reps = {("s1", "a"): 3, ("s1", "b"): 3, ("s2", "a"): 3, ("s2", "b"): 3, ("s3", "a"): 4, ("s3", "b"): 2}
    for (sub, build), n in reps.items():
        for rep in range(1, n + 1):
            d = tmp_path / "results" / build / sub / f"run-{rep}"
            d.mkdir(parents=True)
            (d / "r.json").write_text(json.dumps({"value": 10.0 * int(sub[1])}))
    (tmp_path / "study.yaml").write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/{build}/{subject}/run-{repetition}")
    doc = study.analyze().document
    (out,) = doc["outputs"]
    assert out["left_out"] == [dict(subject="s3", present=6, needed=6)] and out["complete_subjects"] == 2
    assert doc["verdict"]["status"] == "incomplete"
    (left,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "every subject in the metrics"]
    assert left["message"].endswith(": s3 (6 of 6, but more repetitions of a condition, fewer of another)")


def test_an_ingest_only_study_may_name_its_pattern_factors_in_output_paths(tmp_path: Path) -> None:
    """`{version}` comes from the ingest pattern: validate refused it as an unknown placeholder (a review)."""
    for version in ("1.0", "2.0"):
        for sub in ("s1", "s2"):
            for rep in (1, 2):
                d = tmp_path / "results" / version / sub / f"run-{rep}"
                d.mkdir(parents=True)
                (d / f"{sub}_{version}_stats.json").write_text(json.dumps({"v": float(sub[1])}))
    (tmp_path / "study.yaml").write_text('outputs:\n  stats: {path: "{subject}_{version}_stats.json", kind: scalars}\n')
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/{version}/{subject}/run-{repetition}")
    doc = study.analyze().document
    (out,) = doc["outputs"]
    assert (out["name"], out["factors"], doc["verdict"]["status"]) == (
        "stats",
        {"version": ["1.0", "2.0"]},
        "identical",
    )


def test_a_subject_named_like_a_glob_names_its_file_literally(tmp_path: Path) -> None:
    """Subject `s[1]` with `path: "{subject}_r.json"`: the filled path was matched as a glob, and the file was
    "missing" (a review)."""
    files = {(s, r): {f"{s}_r.json": json.dumps({"v": float(i)})} for i, s in enumerate(("s[1]", "s2")) for r in (1, 2)}
    study = ingested(tmp_path, '  r: {path: "{subject}_r.json", kind: scalars}\n', files)
    assert study.executions()["status"].tolist() == ["done"] * 4
    assert study.analyze().document["verdict"]["status"] == "identical"


def test_folders_the_pattern_does_not_match_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`run-3b` beside `run-1` held another result: skipped, it was named by ingest's console only, and every
    later view read "bit-for-bit identical" (reviews). Refused before anything is stored, naming it."""
    _results_tree(tmp_path)
    (tmp_path / "results" / "1.8" / "sub-01" / "run-3b").mkdir()
    (tmp_path / "study.yaml").write_text("outputs:\n  result: {path: result.json, kind: scalars}\n")
    code = main(["ingest", str(tmp_path / "study.yaml"), "--pattern", "results/{version}/{subject}/run-{repetition}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "1 folder(s) under" in err and "do not match it ({repetition} is digits): results/1.8/sub-01/run-3b;" in err
    assert not (tmp_path / ".reprovip").exists() or not Study.load(tmp_path / "study.yaml").executions().shape[0]


def test_a_verdict_made_before_another_ingest_is_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Identical results ingested and analysed, then other results ingested from another folder: `check
    --no-reanalyze` accepted the stored "identical" verdict (exit 0, JUnit green) while `check` said "not
    reproducible" (review: ingested rows have no recipe, and had no finish time, so the digest never moved)."""
    files = {(s, r): {"r.json": json.dumps({"v": float(s[-1])})} for s in ("sub-01", "sub-02") for r in (1, 2)}
    study = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files)
    assert study.analyze().document["verdict"]["status"] == "identical"
    for (s, r), _ in files.items():
        folder = tmp_path / "other" / s / f"run-{r}"
        folder.mkdir(parents=True)
        (folder / "r.json").write_text(json.dumps({"v": 1.0 + r * (s == "sub-02")}))
    study.ingest("other/{subject}/run-{repetition}")
    capsys.readouterr()
    assert main(["check", str(study.path), "--no-reanalyze"]) == 2
    assert "executions changed since the stored analysis" in capsys.readouterr().err
    assert main(["check", str(study.path)]) == 1


def test_a_second_ingest_says_it_replaced_executions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Another results folder ingested under the same subjects and repetitions replaced the first one's
    executions without a word, and the verdict flipped from "not reproducible" to "identical" (review)."""
    files = {(s, r): {"r.json": json.dumps({"v": float(r)})} for s in ("sub-01", "sub-02") for r in (1, 2)}
    study = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files)
    shutil.copytree(tmp_path / "results", tmp_path / "other")
    capsys.readouterr()
    assert main(["ingest", str(study.path), "--pattern", "other/{subject}/run-{repetition}"]) == 0
    out = capsys.readouterr().out
    assert "ingested 4 executions, 4 complete" in out
    assert "  4 of them replaced executions stored before (the same subject, condition and repetition)" in out
    assert main(["ingest", str(study.path), "--pattern", "other/{subject}/run-{repetition}"]) == 0
    assert len(Study.load(study.path).executions()) == 4


def test_ingested_version_folders_are_ordered_as_released_and_the_first_is_the_baseline(tmp_path: Path) -> None:
    """results/1.9 and results/1.10: sorted as text (or read as the float 1.1), 1.10 was the baseline, and a new
    version 20 times noisier and shifted by 15 of the old run-to-run SDs read "sufficiently reproducible"."""
    rng = np.random.default_rng(8)
    for version, sd, shift in (("1.9", 0.1, 0.0), ("1.10", 2.0, 1.5)):
        for s in range(8):
            for rep in range(1, 4):
                d = tmp_path / "results" / version / f"sub-{s}" / f"run-{rep}"
                d.mkdir(parents=True)
                value = 1000 + 100 * s + shift + rng.normal(0, sd)
                (d / "vol.csv").write_text(f"region,volume\nhippo,{value:.4f}\n")
    (tmp_path / "study.yaml").write_text("outputs:\n  vol: {path: vol.csv, kind: table}\n")
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/{version}/{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    assert out["factors"] == {"version": ["1.9", "1.10"]}
    assert out["envelope"]["baseline"] == "1.9" and out["envelope"]["within_envelope"] is False
    assert out["verdict"]["status"] == "fail"
    # declared (quoted: YAML reads 1.10 as 1.1), the order is the study file's
    (tmp_path / "study.yaml").write_text(
        'outputs:\n  vol: {path: vol.csv, kind: table}\nfactors:\n  version: ["1.10", "1.9"]\n'
    )
    (out,) = Study.load(tmp_path / "study.yaml").analyze().document["outputs"]
    assert out["factors"] == {"version": ["1.10", "1.9"]} and out["envelope"]["baseline"] == "1.10"


def _versions(root: Path, levels: tuple[str, ...], *, subjects: int = 8) -> None:
    """The D/00 review's data: the first level deterministic, the second with run-to-run noise (SD 1) and +0.5."""
    rng = np.random.default_rng(5)
    for i, level in enumerate(levels):
        for s in range(subjects):
            for rep in (1, 2, 3):
                d = root / "results" / level / f"s{s}" / f"run-{rep}"
                d.mkdir(parents=True)
                value = 1000 + 300 * s + (rng.normal(0, 1.0) + 0.5 if i else 0.0)
                (d / "vol.csv").write_text(f"tissue,volume\ngm,{value!r}\n")


@pytest.mark.parametrize(
    ("old", "new", "factor"),
    [
        ("old", "new", "version"),
        ("before", "after", "version"),
        ("stable", "dev", "version"),
        ("release", "candidate", "version"),
        ("2.0", "2.0rc1", "version"),  # naturally 2.0 < 2.0rc1: the release candidate after its release
        ("old", "new", "environments"),
    ],
)
def test_version_levels_without_numbers_to_order_them_are_refused_until_the_order_is_declared(
    tmp_path: Path, old: str, new: str, factor: str
) -> None:
    """Review D/00: folders old/ and new/ sorted as text made `new` the envelope's baseline, and the old,
    deterministic version "within the envelope" of the new, noisy one: `check` passed, where 1.9/1.10 failed."""
    _versions(tmp_path, (old, new))
    path = tmp_path / "study.yaml"
    path.write_text("outputs:\n  vol: {path: vol.csv, kind: table, key_columns: [tissue]}\n")
    first, second = sorted((old, new), key=natural_key)
    example = f'["{first}", "{second}"]' if factor == "version" else f'{{"{first}": [...], "{second}": [...]}}'
    pattern = "results/{" + factor + "}/{subject}/run-{repetition}"
    with pytest.raises(InputError) as caught:
        Study.load(path).ingest(pattern)
    assert str(caught.value) == (
        f"{path}: the `{factor}` levels {first}, {second} hold no version numbers to order them, so which one is "
        "the baseline (the version the others are held to) is unknown: declare the order in the study file, the "
        f"baseline first (`factors: {{{factor}: {example}}}` makes {first} the baseline)"
    )
    assert Study.load(path).executions().empty  # nothing stored
    declared = f"[{old}, {new}]" if factor == "version" else f"{{{old}: [], {new}: []}}"
    path.write_text(path.read_text() + f"factors:\n  {factor}: {declared}\n")
    study = Study.load(path)
    assert study.ingest(pattern).levels == {factor: (old, new)}
    (out,) = study.analyze().document["outputs"]
    assert out["envelope"]["baseline"] == old and out["verdict"]["status"] == "fail"


def test_levels_stored_before_count_and_one_version_alone_is_accepted(tmp_path: Path) -> None:
    """One version ingested, then the other: the analysis reads both, so the second ingest is the one refused."""
    _versions(tmp_path / "made", ("old", "new"))
    shutil.move(tmp_path / "made" / "results" / "old", tmp_path / "results" / "old")
    path = tmp_path / "study.yaml"
    path.write_text("outputs:\n  vol: {path: vol.csv, kind: table}\n")
    pattern = "results/{version}/{subject}/run-{repetition}"
    assert Study.load(path).ingest(pattern).levels == {"version": ("old",)}
    shutil.move(tmp_path / "made" / "results" / "new", tmp_path / "results" / "new")
    with pytest.raises(InputError, match=r"the `version` levels new, old hold no version numbers"):
        Study.load(path).ingest(pattern)
    assert len(Study.load(path).executions()) == 24  # the first ingest's, nothing more


def test_ingest_prints_each_factors_levels_in_order_and_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing said which version was the baseline; `1.10` after `1.9` (numbers), a plain factor as found."""
    _versions(tmp_path, ("1.10", "1.9"), subjects=2)
    for level in ("1.10", "1.9"):
        for s in (0, 1):
            shutil.move(tmp_path / "results" / level / f"s{s}", tmp_path / "results" / level / f"s{s}-tmp")
            for rep in (1, 2, 3):
                for solver in ("lsq", "trust"):
                    dest = tmp_path / "results" / level / f"s{s}" / solver / f"run-{rep}"
                    shutil.copytree(tmp_path / "results" / level / f"s{s}-tmp" / f"run-{rep}", dest)
            shutil.rmtree(tmp_path / "results" / level / f"s{s}-tmp")
    path = tmp_path / "study.yaml"
    path.write_text("outputs:\n  vol: {path: vol.csv, kind: table}\n")
    pattern = "results/{version}/{subject}/{solver}/run-{repetition}"
    assert main(["ingest", str(path), "--pattern", pattern]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  version: 1.9, 1.10, in this order; the baseline, that the others are held to, is 1.9 (declare the order "
        "under `factors: {version: ...}` in the study file to choose another)",
        "  solver: lsq, trust, in this order",
    ]


def test_a_pattern_naming_other_factors_than_the_study_is_refused(tmp_path: Path) -> None:
    """A study run under `threads: [1, 2]`, then results of another machine ingested under `{host}`: the design
    held `threads=1`, `threads=2` and `host=clusterB` conditions, every subject "6 of 4" executions (a review).
    Refused before anything is stored: the study file's factors when it runs an application, else those of the
    executions stored."""
    path = write_study(tmp_path, factors="  threads: [1, 2]\n", repetitions=1, subjects=2)
    study = Study.load(path)
    assert study.run(jobs=2).done == 4
    for s in ("sub-01", "sub-02"):
        folder = tmp_path / "results" / "clusterB" / s / "run-1"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text('{"value": 1.0, "nested": {"sq": 1.0}}')
    with pytest.raises(InputError) as caught:
        study.ingest("results/{host}/{subject}/run-{repetition}")
    assert str(caught.value) == (
        f"{path}: the pattern 'results/{{host}}/{{subject}}/run-{{repetition}}' names the factors host, where the "
        "study file declares (its application runs with them) threads: every execution of a study varies the same "
        "factors; name {threads} in the pattern and drop {host} from it, or ingest into another study"
    )
    assert len(study.executions()) == 4
    # An ingest-only study: the executions stored set the factors
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "study.yaml").write_text("outputs:\n  result: {path: result.json, kind: scalars}\n")
    shutil.copytree(tmp_path / "results", tmp_path / "only" / "results")
    only = Study.load(tmp_path / "only" / "study.yaml")
    assert only.ingest("results/{host}/{subject}/run-{repetition}").levels == {"host": ("clusterB",)}
    with pytest.raises(InputError, match=r"names the factors none, where the executions stored already have host: "):
        only.ingest("results/clusterB/{subject}/run-{repetition}")


def test_an_execution_missing_a_later_output_is_stored_as_such(tmp_path: Path) -> None:
    """Review TT: a folder without the second declared output crashed the ingest ("internal error: A value is
    required for bind parameter 'blob'"): the first output's keys were taken for every row of the statement."""
    files = {
        (f"sub-{s}", r): {"a.json": json.dumps({"v": s}), "b.json": json.dumps({"w": s})}
        for s in (1, 2)
        for r in (1, 2)
    }
    del files["sub-2", 2]["b.json"]
    study = ingested(tmp_path, "  a: {path: a.json, kind: scalars}\n  b: {path: b.json, kind: scalars}\n", files)
    df = study.executions().set_index(["subject", "repetition"])
    assert df.loc[("sub-2", 2), "status"] == "failed" and "missing outputs: b" in df.loc[("sub-2", 2), "error"]
    assert (df.drop(index=("sub-2", 2))["status"] == "done").all()
    assert study.analyze().document["verdict"]["status"] == "incomplete"


def test_subjects_that_are_copies_of_one_another_are_not_analysable(tmp_path: Path) -> None:
    """Review TT: a failing study passed once each subject's folder was copied beside it (`sub-01.bak`): 6
    "subjects", the ICC's interval narrower. Subjects holding the same files in every execution, where those
    differ between executions, are one subject counted twice: said in every view, not analysable. Two subjects
    whose deterministic outputs happen to agree (a count) are no copies."""
    rng = np.random.default_rng(0)
    files: dict[tuple[str, int], dict[str, str]] = {}
    for s in (1, 2, 3):
        for r in (1, 2, 3):
            value = {"v": 10.0 * s + float(rng.normal(0, 0.05)), "count": 3}
            files[f"sub-0{s}", r] = {"r.json": json.dumps(value)}
            files[f"sub-0{s}.bak", r] = {"r.json": json.dumps(value, indent=2)}  # rewritten: other bytes (review UU)
    study = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files)
    doc = study.analyze().document
    assert doc["executions"]["duplicate_subjects"] == [[f"sub-0{s}", f"sub-0{s}.bak"] for s in (1, 2, 3)]
    assert doc["verdict"]["status"] == "error" and doc["verdict"]["exit_code"] != 0
    (alert,) = [a for a in doc["alerts"] if a.get("duplicates")]
    assert alert["message"].startswith("6 subjects are copies of one another (sub-01 = sub-01.bak; sub-02 = ")
    deterministic = {
        (f"s{s}", r): {"c.json": json.dumps({"count": 3 if s < 3 else 4})} for s in (1, 2, 3) for r in (1, 2)
    }
    doc = ingested(tmp_path / "counts", "  c: {path: c.json, kind: scalars}\n", deterministic).analyze().document
    assert doc["executions"]["duplicate_subjects"] == [] and doc["verdict"]["status"] != "error"


def test_results_trees_that_would_drop_or_replace_executions_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review TT, before anything is stored: run folders that are links to unmounted storage were skipped (3
    repetitions read "identical" from 2); a pattern stopping above the run folders replaced complete executions
    with "missing outputs", exit 0; a 20-digit repetition was an internal error; a second --pattern was ignored."""
    _results_tree(tmp_path)
    study_file = tmp_path / "study.yaml"
    study_file.write_text("outputs:\n  result: {path: result.json, kind: scalars}\n")
    study = Study.load(study_file)
    study.ingest("results/{version}/{subject}/run-{repetition}")
    link = tmp_path / "results/1.8/sub-01/run-3"
    link.symlink_to("/mnt/unmounted/job3")
    with pytest.raises(InputError, match=r"^1 folder\(s\) under .* are links to nothing: results/1.8/sub-01/run-3 -> "):
        study.ingest("results/{version}/{subject}/run-{repetition}")
    link.unlink()
    with pytest.raises(
        InputError,
        match=r"none of the 4 folder\(s\) matching 'results/\{version\}/\{subject\}' holds a declared output "
        r"\(result.json\); they hold folders \(run-1, run-2\): does the pattern stop a level too high\?",
    ):
        study.ingest("results/{version}/{subject}")
    assert (Study.load(study_file).executions()["status"] == "done").sum() == 7  # nothing replaced
    (tmp_path / "results/1.8/sub-01/run-99999999999999999999").mkdir()
    with pytest.raises(InputError, match=r"run-99999999999999999999: repetition 99999999999999999999 is beyond"):
        study.ingest("results/{version}/{subject}/run-{repetition}")
    code = main(["ingest", str(study_file), "-p", "results/{version}/{subject}/run-{repetition}", "-p", "x/{subject}"])
    assert code == 2 and "--pattern was given 2 times; give one" in capsys.readouterr().err


def test_ingested_executions_are_said_to_have_no_machine_record(tmp_path: Path) -> None:
    """Review TT: results ingested beside a run's read "1 distinct machine" with the run's host as common, though
    where they ran is unknown (a difference they carry may be another machine's)."""
    files = {(f"s{s}", r): {"r.json": json.dumps({"v": s + 0.1 * r})} for s in (1, 2) for r in (1, 2)}
    study = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files)
    doc = study.analyze().document
    assert doc["provenance"]["unknown_executions"] == 4 and doc["provenance"]["distinct"] == 0
    html = Path(study.report(tmp_path / "r.html").path).read_text()
    assert "4 execution(s) have none</b> (ingested: where they ran is unknown" in html


def test_a_study_folder_with_glob_characters_is_read_as_written(tmp_path: Path) -> None:
    """Review E: in a study folder `study [v2]` ingest found "no folder matches"; with `study[12]` beside `study1`
    the glob reached the neighbour's results and crashed (internal error). Its name is literal."""
    files = {f"s{s}/run-{r}": {"r.json": f'{{"v": {s}.5}}'} for s in (1, 2) for r in (1, 2)}
    (tmp_path / "study1" / "results" / "s9" / "run-1").mkdir(parents=True)  # the neighbour `study[12]` globs
    for name in ("study [v2]", "study[12]"):
        study = ingested_folders(
            tmp_path / name, "  r: {path: r.json, kind: scalars}\n", files, "{subject}/run-{repetition}"
        )
        rows = study.catalog.executions(study.catalog.study_id(study.name))
        assert sorted(r["subject"] for r in rows) == ["s1", "s1", "s2", "s2"]


def test_a_level_ingested_from_a_copy_of_another_is_not_analysable(tmp_path: Path) -> None:
    """Review E: `results/2.0` a `cp -a` of `results/1.9` (repetitions that differ): ingest warned on the console,
    the warning was not kept, and `check` read "sufficiently reproducible", exit 0. The evidence (the same files,
    times to the nanosecond) is kept with each copied execution: the study is not analysable."""
    import shutil

    from reprovip.study import Study

    rng = np.random.default_rng(4)
    for s in range(1, 4):
        for r in (1, 2):
            folder = tmp_path / "results" / "1.9" / f"s{s}" / f"run-{r}"
            folder.mkdir(parents=True)
            (folder / "r.json").write_text(json.dumps({"v": 10.0 * s + rng.normal(0, 0.01)}))
    shutil.copytree(tmp_path / "results" / "1.9", tmp_path / "results" / "2.0")  # keeps the times, as `cp -a`
    (tmp_path / "study.yaml").write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/{version}/{subject}/run-{repetition}")
    doc = study.analyze().document
    (alert,) = [a for a in doc["alerts"] if a.get("note") == "a copy"]
    assert alert["severity"] == "fail" and alert["message"].startswith("6 ingested execution folder(s) hold the same")
    assert doc["verdict"]["status"] == "error"
    (out,) = doc["outputs"]
    assert out["copied_levels"] == [dict(factor="version", level="2.0", copy_of="1.9")]


def test_a_folder_named_in_no_utf8_is_one_line_before_anything_is_stored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review N8: a subject folder `sub-J\\xe9r\\xf4me` (Latin-1) crashed `ingest` ("internal error:
    UnicodeEncodeError ... surrogates not allowed") in the execution id; named and refused, with the fix."""
    (tmp_path / "study.yaml").write_text("outputs:\n  res: {path: res.csv, kind: table}\n")
    for name in (b"sub-01", b"sub-J\xe9r\xf4me"):
        folder = tmp_path / "results" / os.fsdecode(name) / "run-1"
        folder.mkdir(parents=True)
        (folder / "res.csv").write_text("k,v\na,1\n")
    assert main(["ingest", str(tmp_path / "study.yaml"), "--pattern", "results/{subject}/run-{repetition}"]) == 2
    err = capsys.readouterr().err
    assert "results/sub-J\\xe9r\\xf4me/run-1: a subject or level named in no UTF-8 text; rename it in UTF-8" in err
    assert "convmv -f latin1 -t utf8" in err and "Traceback" not in err
    assert not (tmp_path / ".reprovip").exists() or Study.load(tmp_path / "study.yaml").executions().empty


def test_a_second_ingest_of_a_tree_whose_folders_are_gone_counts_them_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review N7: a tree ingested, then the pipeline re-run into it, sub-03 crashing (no folder left), and the tree
    ingested again: sub-03's earlier results stayed, counted, "bit-for-bit identical" 6 of 6, exit 0. They count
    as failed now, said; executions ingested from another tree are not touched."""
    files = {(s, r): {"r.json": json.dumps({"v": 1.0})} for s in ("sub-01", "sub-02", "sub-03") for r in (1, 2)}
    study = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files)
    shutil.rmtree(tmp_path / "results" / "sub-03")
    capsys.readouterr()
    assert main(["ingest", str(study.path), "--pattern", "results/{subject}/run-{repetition}"]) == 0
    captured = capsys.readouterr()
    assert "ingested 4 executions, 4 complete" in captured.out
    assert (
        "2 execution(s) ingested before from this tree have no folder in it now: they count as failed "
        "(results/sub-03/run-1, results/sub-03/run-2)"
    ) in captured.err
    rows = Study.load(study.path).executions()
    assert sorted(rows[rows["status"] == "failed"]["subject"]) == ["sub-03", "sub-03"]
    assert main(["check", str(study.path)]) == 3


def test_a_version_removed_from_the_tree_once_stored_keeps_its_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review P1: `results/v1` ingested, then removed (the store holds it) and `results/v2` added and ingested:
    every v1 execution was turned into a failure ("incomplete"). Only a condition the tree still holds loses the
    executions whose folders are gone."""
    (tmp_path / "study.yaml").write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
    pattern = "results/{version}/{subject}/run-{repetition}"
    for version in ("v1", "v2"):
        for s in ("sub-01", "sub-02", "sub-03"):
            for r in (1, 2):
                folder = tmp_path / "results" / version / s / f"run-{r}"
                folder.mkdir(parents=True)
                (folder / "r.json").write_text(json.dumps({"v": float(s[-1])}))
        assert main(["ingest", str(tmp_path / "study.yaml"), "--pattern", pattern]) == 0
        if version == "v1":
            shutil.rmtree(tmp_path / "results" / "v1")
    assert "no folder in it now" not in capsys.readouterr().err
    rows = Study.load(tmp_path / "study.yaml").executions()
    assert len(rows) == 12 and set(rows["status"]) == {"done"}
    assert main(["check", str(tmp_path / "study.yaml")]) == 0


@pytest.mark.parametrize("declared", ["version: [v2, v1]", "threads: [1]"])
def test_a_factor_declared_for_its_order_or_with_one_level_leaves_the_pattern_free(
    tmp_path: Path, declared: str
) -> None:
    """Review P8: a study declaring only its versions' order (as ingest's own message advises) refused a pattern
    that names threads too; P9: a declared factor of one level refused a tree that does not name it."""
    (tmp_path / "study.yaml").write_text(f"factors: {{{declared}}}\noutputs:\n  r: {{path: r.json, kind: scalars}}\n")
    for v in ("v1", "v2"):
        for t in (1, 4):
            for s in ("sub-01", "sub-02"):
                for r in (1, 2):
                    folder = tmp_path / "results" / v / f"threads-{t}" / s / f"run-{r}"
                    folder.mkdir(parents=True)
                    (folder / "r.json").write_text(json.dumps({"v": float(s[-1])}))
    if declared.startswith("version"):
        pattern = "results/{version}/threads-{threads}/{subject}/run-{repetition}"
    else:
        pattern = "results/v1/threads-4/{subject}/run-{repetition}"
    assert main(["ingest", str(tmp_path / "study.yaml"), "--pattern", pattern]) == 0
    assert main(["check", str(tmp_path / "study.yaml")]) == 0
