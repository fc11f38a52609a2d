"""The stored executions against what the study file declares now (:func:`plan_check`): a study file edited
after its run never gets the verdict of the executions it no longer describes (found by review: adding a
seed level, a repetition or an option to the command, then ``check``, read "reproducible (bit-for-bit
identical)", exit 0, with or without ``--no-reanalyze``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from reprovip.cli.main import main
from reprovip.errors import InputError
from reprovip.study import Study
from tests.conftest import ingested, write_study


@pytest.fixture
def study(tmp_path: Path) -> Study:
    """2 subjects x 2 repetitions of a deterministic application, run and analysed: identical, exit 0."""
    st = Study.load(write_study(tmp_path, subjects=2, repetitions=2))
    assert st.run().done == 4
    doc = st.analyze().document
    assert doc["executions"]["plan"] == dict(checked=True, declared=4, not_run=0, earlier_recipe=0, not_declared=0)
    assert doc["verdict"]["status"] == "identical" and st.check(reanalyze=False).exit_code == 0
    return st


def _edit(study: Study, old: str, new: str) -> Study:
    text = study.path.read_text()
    assert old in text
    study.path.write_text(text.replace(old, new))
    return Study.load(study.path)


def test_a_repetition_declared_after_the_run_makes_the_study_incomplete(study: Study, capsys) -> None:
    edited = _edit(study, "repetitions: 2", "repetitions: 3")
    with pytest.raises(InputError, match=r"declares 2 execution\(s\) never run and 0 run with an earlier recipe"):
        edited.check(reanalyze=False)
    # `status` (its table is the catalog's) says what the file adds; before, it showed the old totals only.
    assert main(["status", str(edited.path)]) == 0
    assert "the study file declares 2 execution(s) not in this table and 0 done" in capsys.readouterr().out
    # The report of the stored analysis says the same (the dashboard reads the catalog only: not the file).
    html = edited.report().html
    assert 'id="stale"' in html and "declares 2 execution(s) never run and 0 run with an earlier recipe" in html
    doc = edited.analyze().document
    assert doc["executions"]["plan"]["not_run"] == 2 and doc["executions"]["total"] == 6
    assert doc["executions"]["not_done"] == 2
    assert (doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("incomplete", 3)
    assert doc["verdict"]["label"] == "incomplete: executions failed or not run"
    messages = [a["message"] for a in doc["alerts"] if a["output"] is None]
    assert len(messages) == 1 and messages[0].startswith("the study file declares 2 execution(s) never run and 0 ")
    # Running what is missing gives the verdict back.
    assert edited.run().done == 2
    assert edited.analyze().document["verdict"]["status"] == "identical"


def test_another_command_makes_the_executions_run_with_the_old_one_incomplete(study: Study, capsys) -> None:
    edited = _edit(study, '"{input}", "{outdir}"', '"{input}", "{outdir}", "--fast"')
    assert main(["check", str(edited.path)]) == 3
    out = capsys.readouterr().out
    assert re.search(r"^executions\.+(\w+)$", out, re.M).group(1) == "Failed", out  # as the verdict counts
    plan = edited.analyze().document["executions"]["plan"]
    assert (plan["not_run"], plan["earlier_recipe"]) == (0, 4)


def test_executions_no_longer_declared_are_counted(study: Study, tmp_path: Path, capsys) -> None:
    (tmp_path / "data" / "sub-02.txt").unlink()  # a subject removed from the study
    plan = Study.load(study.path).analyze().document["executions"]["plan"]
    assert (plan["declared"], plan["not_run"], plan["not_declared"]) == (2, 0, 2)
    # `status` (whose table still counts them) says they are left out; before, it said nothing of them.
    assert main(["status", str(study.path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "2 execution(s) in this table are no longer declared by the study file" in out, out
    assert "not in this table" not in out


def _ingested(root: Path, study_text: str) -> dict:
    """Results of 2 subjects x 2 repetitions made elsewhere, ingested into ``study_text``; the analysis."""
    path = root / "study.yaml"
    path.write_text(study_text + "outputs:\n  r: {path: r.json, kind: scalars}\n")
    for i, s in enumerate(("sub-01", "sub-02")):
        for rep in (1, 2):
            out = root / "results" / s / f"run-{rep}"
            out.mkdir(parents=True)
            (out / "r.json").write_text(f'{{"v": {10.0 * (i + 1)}}}')
    assert main(["ingest", str(path), "--pattern", "results/{subject}/run-{repetition}"]) == 0
    return Study.load(path).analyze().document


def test_a_study_fed_by_ingest_only_is_not_checked_against_a_plan(tmp_path: Path) -> None:
    doc = _ingested(tmp_path, "")
    plan = doc["executions"]["plan"]
    reason = "the study declares no application: its executions are ingested"
    assert plan == dict(checked=False, ingested=True, reason=reason)
    assert doc["verdict"]["status"] == "identical"


def test_results_ingested_into_a_runnable_study_are_analysed_as_they_are(tmp_path: Path) -> None:
    """A study that declares an application, whose results were made elsewhere and ingested: their ids follow
    the files, not the plan, so they are not "declared but never run"; the design the file declares is whole here
    (review IN: half of it ingested read "sufficiently reproducible")."""
    (tmp_path / "data").mkdir()
    for s in ("sub-01", "sub-02"):
        (tmp_path / "data" / f"{s}.txt").write_text("1\n")
    app = 'application:\n  command: [echo, "{input}"]\nsubjects: {glob: "data/{subject}.txt"}\nrepetitions: 2\n'
    doc = _ingested(tmp_path, app)
    assert doc["executions"]["plan"] == dict(
        checked=True, ingested=True, declared=4, not_run=0, earlier_recipe=0, not_declared=0
    )
    assert doc["verdict"]["status"] == "identical" and doc["executions"]["not_done"] == 0


def test_inputs_moved_after_the_run_still_check_the_file_over_the_stored_subjects(tmp_path: Path) -> None:
    """Subjects given as a list, one input moved away after the run, then a repetition added: the plan is
    checked over the subjects the catalog holds (second review: the check was skipped, and the edited file
    read "reproducible (bit-for-bit identical)", exit 0)."""
    path = write_study(tmp_path, subjects=2, repetitions=2)
    text = path.read_text().replace('{glob: "data/{subject}.txt"}', "{list: [data/sub-01.txt, data/sub-02.txt]}")
    path.write_text(text)
    study = Study.load(path)
    assert study.run().done == 4
    (tmp_path / "data" / "sub-02.txt").rename(tmp_path / "sub-02.txt")
    edited = _edit(study, "repetitions: 2", "repetitions: 3")
    doc = edited.analyze().document
    plan = doc["executions"]["plan"]
    assert (plan["subjects"], plan["not_run"], plan["earlier_recipe"]) == ("as stored", 2, 0)
    assert "the subjects cannot be listed here" in plan["subjects_reason"] and "sub-02.txt" in plan["subjects_reason"]
    assert doc["verdict"]["status"] == "incomplete"


def test_a_level_whose_value_changes_under_the_same_name_runs_again(tmp_path: Path) -> None:
    """`env: {fast: {FOO: "1"}}` edited to `{FOO: "3"}`: same label, another value. Its executions ran with the
    old value: they are an earlier recipe (the analysis is incomplete) and only they run again (second review:
    they were reused as current, "24 already done")."""
    factors = '  env: {fast: {FOO: "1"}, slow: {FOO: "2"}}\n'
    study = Study.load(write_study(tmp_path, subjects=2, repetitions=2, factors=factors))
    assert study.run().done == 8
    assert study.analyze().document["executions"]["plan"]["earlier_recipe"] == 0
    edited = _edit(study, 'fast: {FOO: "1"}', 'fast: {FOO: "3"}')
    doc = edited.analyze().document
    assert doc["executions"]["plan"]["earlier_recipe"] == 4 and doc["verdict"]["status"] == "incomplete"
    summary = edited.run()
    assert (summary.skipped, summary.done) == (4, 4)
    assert edited.analyze().document["executions"]["plan"]["earlier_recipe"] == 0


def test_an_output_removed_from_the_study_file_is_left_out(tmp_path: Path) -> None:
    """An ingest-only study with a noisy output and an identical one; the noisy one's declaration removed:
    it was still analysed and kept the study "not reproducible" for good (review)."""
    files = {(s, r): {"a.txt": f"{s[-1]}\n", "b.txt": f"{r}\n"} for s in ("sub-01", "sub-02") for r in (1, 2)}
    outputs = "  a: {path: a.txt, kind: text}\n  b: {path: b.txt, kind: text}\n"
    study = ingested(tmp_path, outputs, files)
    assert study.analyze().document["verdict"]["status"] == "fail"
    edited = _edit(study, "  b: {path: b.txt, kind: text}\n", "")
    doc = edited.analyze().document
    assert [o["name"] for o in doc["outputs"]] == ["a"]
    assert doc["verdict"]["status"] == "identical"


def test_results_ingested_then_run_do_not_turn_the_plan_check_off(tmp_path: Path, capsys) -> None:
    """Results made elsewhere ingested into a runnable study, then `run` (which runs them again under its
    recipe), then a repetition added to the file: `check` read "identical", exit 0, for good (review: the
    rows kept `source: ingest`, and one ingested row turned the plan check off)."""
    path = write_study(tmp_path, subjects=2, repetitions=2)
    for s in ("sub-01", "sub-02"):
        for rep in (1, 2):
            out = tmp_path / "elsewhere" / s / f"run-{rep}"
            out.mkdir(parents=True)
            (out / "result.json").write_text('{"value": 1.0}')
    assert main(["ingest", str(path), "--pattern", "elsewhere/{subject}/run-{repetition}"]) == 0
    study = Study.load(path)
    assert study.run().done == 4
    assert set(study.executions()["source"]) == {"run"}
    assert study.analyze().document["executions"]["plan"]["checked"] is True
    edited = _edit(study, "repetitions: 2", "repetitions: 3")
    capsys.readouterr()
    assert main(["check", str(edited.path)]) == 3
    assert edited.analyze().document["executions"]["plan"]["not_run"] == 2


def test_the_report_of_a_verdict_made_with_other_criteria_is_stale(study: Study, capsys) -> None:
    """Criteria edited after the analysis: `check --no-reanalyze` refused the stored verdict, but the report
    still showed it green, unmarked (review)."""
    study.path.write_text(study.path.read_text() + 'criteria: ["wsd <= 0.5"]\n')
    edited = Study.load(study.path)
    capsys.readouterr()
    assert main(["check", str(edited.path), "--no-reanalyze"]) == 2
    assert "the criteria changed since the stored analysis" in capsys.readouterr().err
    html = edited.report().html
    assert 'id="stale"' in html and "the criteria changed since this analysis" in html
    edited.analyze()
    assert 'id="stale"' not in edited.report().html


@pytest.mark.parametrize(
    "edit",
    [
        "  n: {path: n.json, kind: scalars}\n",  # an output added
        "factors: {version: ['2.0', '1.0']}\n",  # the baseline named (the first level)
    ],
)
def test_an_ingested_verdict_made_for_other_outputs_or_factors_is_stale(tmp_path: Path, capsys, edit: str) -> None:
    """An ingest-only study whose file gained an output, or named a version's baseline, after its analysis:
    `check --no-reanalyze` kept the green verdict, and the report showed it unmarked (a review). Run-based
    studies were refused through their plan; an ingested one has none."""
    for version in ("1.0", "2.0"):
        for s in (1, 2):
            for r in (1, 2):
                out = tmp_path / "results" / version / f"sub-{s}" / f"run-{r}"
                out.mkdir(parents=True)
                (out / "r.json").write_text(f'{{"v": {s}}}')
                (out / "n.json").write_text(f'{{"v": {s + r}}}')
    path = tmp_path / "study.yaml"
    path.write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
    assert main(["ingest", str(path), "--pattern", "results/{version}/{subject}/run-{repetition}"]) == 0
    assert main(["check", str(path)]) == 0
    text = path.read_text()
    path.write_text(text + edit if edit.startswith("  ") else edit + text)
    capsys.readouterr()
    assert main(["check", str(path), "--no-reanalyze"]) == 2
    assert "the outputs, factors or repetitions changed since the stored analysis" in capsys.readouterr().err
    edited = Study.load(path)
    html = edited.report().html
    assert 'id="stale"' in html and "the outputs, factors or repetitions changed since this analysis" in html
    edited.analyze()
    assert 'id="stale"' not in edited.report().html


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        # a new output: it was never read, and "1 of 1 outputs identical" said nothing of it (review)
        (
            "  a: {path: a.txt, kind: text}\n",
            "  a: {path: a.txt, kind: text}\n  b: {path: b.txt, kind: text}\n",
            "declared in the study file but stored by no execution (declared after they ran); `reprovip run` "
            "stores it as declared (results made elsewhere: ingest them again)",
        ),
        # another kind: the text analysis of the stored files was kept ("sufficiently reproducible") while
        # their bytes differ (review)
        (
            "kind: text",
            "kind: bytes",
            "declared `kind: bytes` but stored as `text`; `reprovip run` stores it as declared (results made "
            "elsewhere: ingest them again)",
        ),
    ],
)
def test_an_output_declared_otherwise_than_stored_is_not_analysable(
    tmp_path: Path, old: str, new: str, error: str
) -> None:
    # the same number, other words: identical numbers, different bytes ("with warnings" as text)
    files = {(s, r): {"a.txt": f"v 1\nhost {'ab'[r - 1]}\n"} for s in ("sub-01", "sub-02") for r in (1, 2)}
    study = ingested(tmp_path, "  a: {path: a.txt, kind: text}\n", files)
    assert study.analyze().document["verdict"]["status"] == "warn"
    doc = _edit(study, old, new).analyze().document
    (entry,) = [o for o in doc["outputs"] if o.get("error")]
    assert entry["error"] == error
    assert doc["verdict"]["status"] == "error"


def test_an_ingested_study_is_described_by_its_folders_not_the_files_defaults(tmp_path: Path) -> None:
    """Results ingested with 2 repetitions and a `cond` factor: the document (and the report's header) said
    "3 repetitions" (the study file's default) and no factor (review)."""
    for cond in ("a", "b"):
        for s in ("sub-01", "sub-02"):
            for rep in (1, 2):
                folder = tmp_path / "results" / f"cond-{cond}" / s / f"run-{rep}"
                folder.mkdir(parents=True)
                (folder / "r.json").write_text('{"v": 1.0}')
    (tmp_path / "study.yaml").write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/cond-{cond}/{subject}/run-{repetition}")
    doc = study.analyze().document
    assert (doc["study"]["repetitions"], doc["study"]["factors"]) == (2, {"cond": ["a", "b"]})
    assert "; cond: a, b; 2 repetitions." in study.report().html


def test_files_named_after_their_subject_are_one_output(tmp_path: Path) -> None:
    """A glob `*_r.json` over BIDS names (`sub-01_r.json`, `sub-02_r.json`): each subject's file was an output
    of its own, with one subject, and no ICC (review). They are one output, the subject written `{subject}`."""
    files = {
        (s, r): {f"{s}_r.json": json.dumps({"v": 10.0 * i + 0.01 * r})}
        for i, s in enumerate(("sub-01", "sub-02", "sub-03"), start=1)
        for r in (1, 2)
    }
    doc = ingested(tmp_path, "  r: {path: '*_r.json', kind: scalars}\n", files).analyze().document
    (out,) = doc["outputs"]
    assert (out["name"], out["n_subjects"]) == ("r", 3)
    assert out["observations"][0]["icc"]["ICC(A,1)"]["estimable"] is not False


def _run_app(root: Path, source: str, *, done: int, **study: Any) -> Study:
    """Write ``source`` as ``root/app.py``, a study running it (:func:`write_study`'s ``study`` keywords), run it:
    ``done`` executions must succeed."""
    app = root / "app.py"
    app.write_text(source)
    loaded = Study.load(write_study(root, app=str(app), **study))  # absolute: tests/apps / app is app
    assert loaded.run(progress=False).done == done
    return loaded


def test_a_subject_that_never_writes_a_file_of_a_glob_output_is_left_out_of_it(tmp_path: Path) -> None:
    """``stats/*.csv``: every execution of sub-02 writes ``lh.csv`` but never ``rh.csv``, which the other
    subjects write; sub-01 also writes ``sub-01_extra.csv``, a file named after it (its own, asked of no other
    subject). Before the fix sub-02 dropped out of ``rh.csv``'s metrics unsaid (2 of 3 subjects) and the study
    read "reproducible (bit-for-bit identical)"; it is now a missing output for sub-02, as a missing plain
    path is: left out (0 of its 2 executions), and the study incomplete."""
    study = _run_app(
        tmp_path,
        (
            "import os, sys\n"
            "inp, out, subject = sys.argv[1:4]\n"
            "os.makedirs(os.path.join(out, 'stats'))\n"
            "names = ['lh'] + (['rh'] if subject != 'sub-02' else []) + (['sub-01_extra'] if subject == 'sub-01' else [])\n"
            "for n in names:\n"
            "    open(os.path.join(out, 'stats', n + '.csv'), 'w').write(f'region,vol\\n{n},{len(open(inp).read())}\\n')\n"
        ),
        subjects=3,
        repetitions=2,
        args='"{input}", "{outdir}", "{subject}"',
        outputs="  stats: {path: 'stats/*.csv', kind: table, key_columns: [region]}\n",
        done=6,
    )
    doc = study.analyze().document
    outputs = {o["name"]: o for o in doc["outputs"]}
    assert sorted(outputs) == ["stats/stats/lh.csv", "stats/stats/rh.csv", "stats/stats/sub-01_extra.csv"]
    rh = outputs["stats/stats/rh.csv"]
    assert (rh["n_subjects"], rh["left_out"]) == (3, [dict(subject="sub-02", present=0, needed=2)])
    assert "left_out" not in outputs["stats/stats/lh.csv"]
    assert "left_out" not in outputs["stats/stats/sub-01_extra.csv"]
    assert doc["verdict"]["status"] == "incomplete"


def test_a_file_some_repetitions_write_counts_against_the_repetitions_that_ran(tmp_path: Path) -> None:
    """Review B: ``stats/lesion.csv`` written by sub-01 in repetitions 2 and 3, by sub-03 and sub-04 in one, by
    sub-02 in none, of 3. The design's k came from the files (1, the count most subjects had), so sub-01 read
    "2 of 1" and sub-03, sub-04 were "complete"; and sub-02's 3 executions were unsaid beside the 5 missing."""
    study = _run_app(
        tmp_path,
        (
            "import os, sys\n"
            "inp, out, subject, rep = sys.argv[1:5]\n"
            "os.makedirs(os.path.join(out, 'stats'))\n"
            "writes = {'sub-01': '23', 'sub-02': '', 'sub-03': '1', 'sub-04': '3'}\n"
            "if rep in writes[subject]:\n"
            "    open(os.path.join(out, 'stats', 'lesion.csv'), 'w').write(f'lesion,vol\\nL1,{len(inp)}\\n')\n"
            "open(os.path.join(out, 'stats', 'tissue.csv'), 'w').write('tissue,vol\\ngm,700\\n')\n"
        ),
        subjects=4,
        repetitions=3,
        args='"{input}", "{outdir}", "{subject}", "{repetition}"',
        outputs="  stats: {path: 'stats/*.csv', kind: table}\n",
        done=12,
    )
    doc = study.analyze().document
    lesion = next(o for o in doc["outputs"] if o["name"] == "stats/stats/lesion.csv")
    assert (lesion["repetitions"], lesion["complete_subjects"]) == (3, 0)
    assert lesion["left_out"] == [
        dict(subject="sub-01", present=2, needed=3),
        dict(subject="sub-03", present=1, needed=3),
        dict(subject="sub-04", present=1, needed=3),
        dict(subject="sub-02", present=0, needed=3),
    ]
    assert len(lesion["unwritten"]) == 5  # sub-02's 3 are its `left_out` entry, and named beside them
    reasons = {r["criterion"]: r for r in lesion["verdict"]["reasons"]}
    message = reasons["written by every execution"]["message"]
    assert message.startswith("5 execution(s) that succeeded did not write")
    assert message.endswith("; besides, sub-02 wrote it in no execution (left out of the metrics)")
    assert "sub-01 (2 of 3)" in reasons["every subject in the metrics"]["message"]
    assert doc["verdict"]["status"] != "pass"


def test_a_factor_that_decides_which_files_are_written_is_named(tmp_path: Path) -> None:
    """Review A: `lesions/lesion_*.csv` where seed=3 writes a third file: "16 executions did not write it", no
    factor named, its check line "identical ... Passed" and its explanation "bit-for-bit identical across all
    executions". The factor is named, and identity is said of the executions that wrote it."""
    study = _run_app(
        tmp_path,
        (
            "import os, sys\n"
            "inp, out, seed = sys.argv[1:4]\n"
            "os.makedirs(os.path.join(out, 'lesions'))\n"
            "for i in range(2 if seed == '2' else 3):\n"
            "    open(os.path.join(out, 'lesions', f'lesion_{i}.csv'), 'w').write(f'feature,v\\nvol,{i}\\n')\n"
        ),
        subjects=3,
        repetitions=2,
        factors="  seed: [2, 3]\n  threads: [1, 2]\n",
        args='"{input}", "{outdir}", "{seed}"',
        outputs="  lesions: {path: 'lesions/lesion_*.csv', kind: table, key_columns: [feature]}\n",
        done=24,
    )
    doc = study.analyze().document
    third = next(o for o in doc["outputs"] if o["name"].endswith("lesion_2.csv"))
    assert third["unwritten_by"] == [dict(factor="seed", written=["3"], unwritten=["2"])]
    assert third["attribution"]["summary"] == (
        "bit-for-bit identical across the executions that wrote it; 12 did not write it, seed decides which"
    )
    reasons = {r["criterion"]: r for r in third["verdict"]["reasons"]}
    assert reasons["written by every execution"]["message"].endswith(
        "; seed decides it: written under seed=3 only, never under seed=2"
    )
    assert reasons["identical"]["message"].endswith("; among the executions that wrote it (12 did not)")
    assert third["verdict"]["status"] == "fail"


def test_a_folder_named_after_a_level_says_how_to_declare_it(tmp_path: Path) -> None:
    """Review K: the tool writes `t{threads}/res.csv`, declared `*/res.csv`: two outputs, each "threads decides
    it: written under threads=1 only", with nothing to say that one path with the placeholder is one output."""
    study = _run_app(
        tmp_path,
        (
            "import os, sys\n"
            "inp, out, threads = sys.argv[1:4]\n"
            "os.makedirs(os.path.join(out, f't{threads}'))\n"
            "open(os.path.join(out, f't{threads}', 'res.csv'), 'w').write('feature,v\\nvol,1\\n')\n"
        ),
        subjects=3,
        repetitions=2,
        factors="  threads: [1, 2]\n",
        args='"{input}", "{outdir}", "{threads}"',
        outputs="  res: {path: '*/res.csv', kind: table, key_columns: [feature]}\n",
        done=12,
    )
    first = next(o for o in study.analyze().document["outputs"] if o["name"].endswith("t1/res.csv"))
    assert first["unwritten_by"] == [
        dict(factor="threads", written=["1"], unwritten=["2"], declare="t{threads}/res.csv")
    ]
    message = next(r for r in first["verdict"]["reasons"] if r["criterion"] == "written by every execution")["message"]
    assert message.endswith(
        "; threads decides it: written under threads=1 only, never under threads=2 (if the application names the "
        "file after the level, declare its path `t{threads}/res.csv`)"
    )


@pytest.mark.parametrize(("noise", "status"), [("0", "identical"), ("random.gauss(0, 50)", "fail")])
def test_files_named_after_their_process_are_one_output(tmp_path: Path, noise: str, status: str) -> None:
    """Review A: `qc_<pid>.json` under a glob `qc_*.json` made one output per execution (12), each "not written
    by every execution" and with nothing to compare. Each execution's one file is the output, compared."""
    study = _run_app(
        tmp_path,
        (
            "import json, os, random, sys\n"
            "inp, out = sys.argv[1:3]\n"
            f"value = 100.0 * len(open(inp).read()) + {noise}\n"
            "open(os.path.join(out, f'qc_{os.getpid()}.json'), 'w').write(json.dumps({'snr': value}))\n"
        ),
        subjects=3,
        repetitions=3,
        outputs="  qc: {path: 'qc_*.json', kind: scalars}\n",
        done=9,
    )
    (out,) = study.analyze().document["outputs"]
    assert (out["name"], out["n_subjects"], out["complete_subjects"], out["unwritten"]) == ("qc", 3, 3, [])
    assert out["verdict"]["status"] == status


def test_an_output_unreadable_when_run_is_named_as_written_and_stored(tmp_path: Path) -> None:
    """Review C: a gzip NIfTI cut in half by one execution was named by its execution's working folder, deleted
    since (`.reprovip/work/<id>/out/a.nii.gz`); it is named as written, then by its copy in the store."""
    study = _run_app(
        tmp_path,
        (
            "import os, sys\n"
            "import nibabel as nib, numpy as np\n"
            "inp, out, subject, rep = sys.argv[1:5]\n"
            "path = os.path.join(out, 'a.nii.gz')\n"
            "nib.save(nib.Nifti1Image(np.arange(512, dtype=np.float32).reshape(8, 8, 8) * len(inp), np.eye(4)), path)\n"
            "if (subject, rep) == ('sub-02', '2'):\n"
            "    data = open(path, 'rb').read()\n"
            "    open(path, 'wb').write(data[: len(data) // 2])\n"
        ),
        subjects=3,
        repetitions=2,
        args='"{input}", "{outdir}", "{subject}", "{repetition}"',
        outputs="  a: {path: a.nii.gz, kind: image}\n",
        done=6,
    )
    (out,) = study.analyze().document["outputs"]
    (error,) = out["errors"]
    assert (error["subject"], error["repetition"]) == ("sub-02", 2)
    assert re.match(r"a\.nii\.gz \(stored as \S+/\.reprovip/blobs/\S+\.nii\.gz\): ", error["error"]), error["error"]
    assert "/work/" not in error["error"]


_MASK_APP = (
    "import os, sys\n"
    "inp, out, subject, rep, flag = sys.argv[1:6]\n"
    "open(os.path.join(out, 'brain.csv'), 'w').write(f'region,vol\\nbrain,{len(open(inp).read())}\\n')\n"
    "if {when}:\n"
    "    open(os.path.join(out, 'mask.csv'), 'w').write(f'region,vol\\nmask,{len(open(inp).read()) // 2}\\n')\n"
)
_MASK_OUTPUTS = (
    "  brain: {path: brain.csv, kind: table, key_columns: [region]}\n"
    "  mask: {path: mask.csv, kind: table, key_columns: [region], optional: true}\n"
)


def _optional_mask(
    root: Path, when: str, factor: str = "flag: {on: '-m', off: ''}", repetitions: int = 2
) -> dict[str, Any]:
    """Review U: bet's mask, a Boutiques `optional` output written under `-m` only, failed every execution
    without it (32 of 64, their other outputs left out of the verdict). Run an app writing ``mask.csv`` when
    ``when`` holds (a Python condition on subject, rep and flag, the value of ``factor``), declared optional;
    return the document."""
    name = factor.split(":")[0]
    study = _run_app(
        root,
        _MASK_APP.replace("{when}", when),
        subjects=3,
        repetitions=repetitions,
        factors=f"  {factor}\n",
        args='"{input}", "{outdir}", "{subject}", "{repetition}", "{' + name + '}"',
        outputs=_MASK_OUTPUTS,
        done=6 * repetitions,  # no execution fails for the mask it did not write
    )
    return study.analyze().document


def _written(doc: dict[str, Any]) -> dict[str, Any]:
    mask = next(o for o in doc["outputs"] if o["name"] == "mask")
    return next(r for r in mask["verdict"]["reasons"] if r["criterion"] == "written by every execution")


def test_an_optional_output_a_factor_decides_is_a_warning(tmp_path: Path) -> None:
    doc = _optional_mask(tmp_path, "flag == '-m'")
    mask = next(o for o in doc["outputs"] if o["name"] == "mask")
    # Identical where written: warnings stay alerts of an identical output
    assert (mask["optional"], mask["unwritten_mixed"], mask["verdict"]["status"]) == (True, [], "identical")
    reason = _written(doc)
    assert (reason["severity"], reason["value"]) == ("warn", 6)
    assert reason["message"].startswith("declared optional, and written by some executions only: 6 execution(s)")
    assert "flag decides it: written under flag=on only, never under flag=off" in reason["message"]
    assert doc["verdict"]["status"] == "warn"  # the brain identical, the mask identical where written
    assert any("flag decides it" in a["message"] for a in doc["alerts"])


def test_an_optional_output_repetitions_disagree_on_writing_fails(tmp_path: Path) -> None:
    doc = _optional_mask(tmp_path, "rep == '1' or subject == 'sub-02'")
    mask = next(o for o in doc["outputs"] if o["name"] == "mask")
    assert [(c["subject"], c["condition"]) for c in mask["unwritten_mixed"]] == [
        ("sub-01", "flag=off"),
        ("sub-01", "flag=on"),
        ("sub-03", "flag=off"),
        ("sub-03", "flag=on"),
    ]
    reason = _written(doc)
    assert (reason["severity"], reason["passed"], reason["value"]) == ("fail", False, 4)
    assert "whether it is written is not reproducible" in reason["message"]
    assert (mask["verdict"]["status"], doc["verdict"]["status"]) == ("fail", "fail")


def test_an_optional_output_a_subject_never_writes_is_no_incomplete_study(tmp_path: Path) -> None:
    doc = _optional_mask(tmp_path, "subject != 'sub-02'")
    mask = next(o for o in doc["outputs"] if o["name"] == "mask")
    assert (mask["never_written"], mask.get("left_out")) == (["sub-02"], None)
    reason = _written(doc)
    assert reason["severity"] == "warn"
    assert "sub-02 wrote it in no execution (left out of its metrics)" in reason["message"]
    assert doc["verdict"]["status"] == "warn"


def test_an_optional_output_no_execution_writes_is_said(tmp_path: Path, capsys) -> None:
    doc = _optional_mask(tmp_path, "False")
    mask = next(o for o in doc["outputs"] if o["name"] == "mask")
    assert (mask["written_by_none"], mask["verdict"]["status"]) == (True, "warn")
    assert _written(doc)["message"] == "written by no execution (declared optional): nothing to judge"
    assert main(["check", str(tmp_path / "study.yaml"), "--no-reanalyze"]) == 0
    assert "written by no execution (declared optional)" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "study.yaml"), "-o", str(tmp_path / "report.html")]) == 0
    assert "written by no execution (declared optional)" in (tmp_path / "report.html").read_text()


def test_an_unwritten_output_not_declared_optional_still_fails_its_execution(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(_MASK_APP.replace("{when}", "flag == '-m'"))
    outputs = _MASK_OUTPUTS.replace(", optional: true", "")
    path = write_study(
        tmp_path,
        app=str(app),
        factors="  flag: {on: '-m', off: ''}\n",
        repetitions=2,
        outputs=outputs,
        args='"{input}", "{outdir}", "{subject}", "{repetition}", "{flag}"',
    )
    summary = Study.load(path).run(progress=False)
    assert (summary.done, summary.failed) == (6, 6)


def test_ingest_leaves_an_optional_output_unwritten(tmp_path: Path) -> None:
    files = {
        (s, r): {
            "brain.csv": f"region,vol\nbrain,{i}\n",
            **({"mask.csv": "region,vol\nmask,1\n"} if s == "alice" else {}),
        }
        for i, s in enumerate(["alice", "bob"])
        for r in (1, 2)
    }
    study = ingested(tmp_path, _MASK_OUTPUTS, files)
    status = study.status()
    assert (int(status["done"].sum()), int(status["failed"].sum())) == (4, 0)
    mask = next(o for o in study.analyze().document["outputs"] if o["name"] == "mask")
    assert mask["never_written"] == ["bob"]


def test_an_optional_output_the_thread_count_decides_fails(tmp_path: Path) -> None:
    """Review A2: a mask written under threads=2 only read "sufficiently reproducible, with warnings": a factor
    that should change nothing deciding whether a file is written is a difference like any other."""
    doc = _optional_mask(tmp_path, "flag == '2'", factor="threads: [1, 2]")
    reason = _written(doc)
    assert (reason["severity"], reason["passed"], reason["estimable"]) == ("fail", False, True)
    assert reason["message"].startswith("threads decides whether this optional file is written, which should change")
    assert doc["verdict"]["status"] == "fail"


def test_an_optional_output_with_one_repetition_says_what_it_cannot_tell(tmp_path: Path) -> None:
    """Review A2: with one repetition, a mask written for some subject and level pairs only (no factor deciding
    it) read "incomplete: executions failed or not run" (exit 3, none had failed) and "each condition's
    repetitions agree on writing it". The subjects left out are said, and what one repetition cannot tell."""
    doc = _optional_mask(tmp_path, "(subject == 'sub-02') == (flag == '-m')", repetitions=1)
    mask = next(o for o in doc["outputs"] if o["name"] == "mask")
    assert "left_out" not in mask and len(mask["left_out_unwritten"]) == 3
    reason = _written(doc)
    assert reason["severity"] == "warn"
    assert "left out of its metrics (not written in every one of their executions)" in reason["message"]
    assert reason["message"].endswith(
        "with one repetition per condition, whether writing it is reproducible cannot be told"
    )
    assert doc["verdict"]["status"] != "incomplete"


def test_a_keyed_table_a_subject_writes_empty_every_time_is_absent_there(tmp_path: Path) -> None:
    """Review H4: a cluster table keyed by `cluster_id`, header only (no cluster above threshold) in every run of
    sub-03: "4 output file(s) could not be read ... did this execution fail?", not analysable. Its rows are
    absent for that subject (a warning naming it); the others are measured. Unkeyed, it stays an error."""
    files = {
        (s, r): {"clusters.csv": "cluster_id,size\n" + ("" if s == "c" else f"1,{40 + i}\n2,{10 + i}\n")}
        for i, s in enumerate(["alpha", "beta", "c", "delta"])
        for r in (1, 2)
    }
    keyed = ingested(
        tmp_path / "keyed", "  clusters: {path: clusters.csv, kind: table, key_columns: [cluster_id]}\n", files
    )
    doc = keyed.analyze().document
    (out,) = doc["outputs"]
    assert out["errors"] == [] and out["absent_observations"]["subjects"]["c"]["count"] == 2
    assert any(r["criterion"] == "every observation in every subject" for r in out["verdict"]["reasons"])
    assert (out["verdict"]["status"], doc["verdict"]["status"]) == ("identical", "warn")
    plain = ingested(tmp_path / "plain", "  clusters: {path: clusters.csv, kind: table}\n", files)
    (out,) = plain.analyze().document["outputs"]
    assert {e["subject"] for e in out["errors"]} == {"c"}


def test_an_optional_output_whose_path_is_misspelt_is_not_analysable(tmp_path: Path) -> None:
    """Review MC: `volumes: {path: volume.csv, optional: true}` while the tool writes `volumes.csv` (varying 20%
    under threads=2): "written by no execution (declared optional): nothing to judge", a warning, and the study
    passed on its other output. Each execution notes the close name written instead; the output is not analysable
    and its message names the file. A name no file is close to stays a warning."""
    app = tmp_path / "app.py"
    app.write_text(
        "import sys, pathlib\nout = pathlib.Path(sys.argv[2])\n"
        "(out / 'volumes.csv').write_text('tissue,v\\ngm,1\\n')\n(out / 'summary.json').write_text('{\"n\": 1}')\n"
    )
    for declared, status in (("volume.csv", "error"), ("lesions.csv", "warn")):
        path = write_study(
            tmp_path / declared,
            app=str(app),  # absolute: tests/apps / app is app
            outputs=f"  volumes: {{path: {declared}, kind: table, optional: true}}\n"
            "  summary: {path: summary.json, kind: scalars}\n",
            repetitions=2,
        )
        study = Study.load(path)
        study.run(jobs=2)
        doc = study.analyze().document
        (volumes,) = [o for o in doc["outputs"] if o["name"] == "volumes"]
        (why,) = volumes["verdict"]["reasons"]
        assert doc["verdict"]["status"] == status
        if status == "error":
            assert volumes["misnamed"]["count"] == 6 and not why["estimable"]
            assert "{outdir} holds volumes.csv, which no output declares): fix the output's path" in why["message"]
        else:
            assert "misnamed" not in volumes and why["message"].startswith("written by no execution")
