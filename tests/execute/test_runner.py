"""Integration tests of the core loop with real subprocesses, a real SQLite catalog and real blobs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reprovip.errors import SpecError, StoreError
from reprovip.store import BlobStore, RunLock
from reprovip.study import Study
from tests.conftest import write_study

THREADS = "  threads: [1, 2]\n"


def _blob_digests_on_disk(store: Path) -> set[str]:
    return {p.name[:64] for p in (store / "blobs").glob("*/*")}


def _check_store_consistent(study: Study) -> None:
    """Every referenced blob exists and matches its hash; no orphan blob, temp file or work folder."""
    from reprovip.store.blobs import file_hash

    referenced = study.catalog.referenced_blobs()
    assert referenced == _blob_digests_on_disk(study.store)
    for p in (study.store / "blobs").glob("*/*"):
        assert file_hash(p) == p.name[:64]
    assert not list((study.store / "tmp").glob("*")) if (study.store / "tmp").exists() else True
    assert not (study.store / "work").exists() or not list((study.store / "work").iterdir())


def test_deterministic_and_nondeterministic_apps_give_18_hashed_executions(study_dir: Path) -> None:
    for app in ("det_app.py", "nondet_app.py"):
        d = study_dir / app.removesuffix(".py")
        d.mkdir()
        study = Study.load(write_study(d, app=app, factors=THREADS))
        summary = study.run(jobs=2)
        assert (summary.planned, summary.done, summary.failed) == (18, 18, 0)
        df = study.executions()
        assert len(df) == 18 and set(df["status"]) == {"done"}
        outs = study.catalog.outputs(study.catalog.study_id(study.name))
        assert len(outs) == 18
        assert all(len(o["blob"]) == 64 for o in outs)
        # Deterministic: one distinct result per subject; nondeterministic: threads=2 gives 9 distinct ones.
        distinct = {o["blob"] for o in outs}
        assert len(distinct) == (3 if app == "det_app.py" else 3 + 9)
        _check_store_consistent(study)


def test_rerun_resumes_and_force_reruns(study_dir: Path) -> None:
    study = Study.load(write_study(study_dir, factors=THREADS, repetitions=2))
    assert study.run(jobs=2).done == 12
    again = Study.load(study_dir / "study.yaml").run(jobs=2)
    assert (again.skipped, again.done) == (12, 0)
    forced = Study.load(study_dir / "study.yaml").run(jobs=2, force=True)
    assert forced.done == 12
    attempts = sqlite3.connect(study.store / "catalog.sqlite").execute("select count(*) from attempts").fetchone()
    assert attempts == (24,)


def test_environment_and_threads_reach_the_application(study_dir: Path) -> None:
    app = study_dir / "envdump.py"
    app.write_text(
        "import json, os, sys\n"
        "keys = ['OMP_NUM_THREADS', 'ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS', 'REPROVIP_SEED', 'MY_FLAG']\n"
        "json.dump({k: float(os.environ.get(k, -1)) for k in keys}, open(sys.argv[2] + '/result.json', 'w'))\n"
    )
    path = write_study(
        study_dir, factors="  threads: [2]\n  seed: [7]\n  env: {flag: {MY_FLAG: '5'}}\n", repetitions=1, subjects=1
    )
    path.write_text(path.read_text().replace(str(Path(__file__).parents[1] / "apps" / "det_app.py"), str(app)))
    study = Study.load(path)
    study.run()
    out = study.catalog.outputs(study.catalog.study_id(study.name))[0]
    blob = next((study.store / "blobs").glob(f"*/{out['blob']}*"))
    import json

    assert json.loads(blob.read_text()) == {
        "OMP_NUM_THREADS": 2.0,
        "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": 2.0,
        "REPROVIP_SEED": 7.0,
        "MY_FLAG": 5.0,
    }
    att = study.catalog.attempts(study.executions()["id"][0])[0]
    assert att["seed"] == 7 and att["env"]["OMP_NUM_THREADS"] == "2"
    prov = study.catalog.provenance(att["provenance"])
    assert prov["hostname"] and prov["cpu"]["count"] == os.cpu_count() and "numpy" in prov["packages"]


def test_random_seed_is_drawn_per_execution_and_recorded(study_dir: Path) -> None:
    study = Study.load(
        write_study(
            study_dir, factors="  seed: [random]\n", repetitions=3, subjects=1, args='"{input}", "{outdir}", "{seed}"'
        )
    )
    study.run()
    seeds = study.executions()["seed"].tolist()
    assert len(set(seeds)) == 3 and all(isinstance(s, int) and s >= 0 for s in seeds)


def test_crash_is_recorded_with_exit_code_and_stderr(study_dir: Path) -> None:
    study = Study.load(
        write_study(
            study_dir,
            app="misbehaving_app.py",
            args='"crash", "{outdir}"',
            repetitions=1,
            subjects=1,
            extra="retries: 1\n",
        )
    )
    summary = study.run()
    assert summary.failed == 1
    row = study.executions().iloc[0]
    assert row["status"] == "failed" and row["exit_code"] == 3 and row["attempts"] == 2
    assert row["error"] == "exit code 3: segmentation of nothing failed: bad input"
    att = study.catalog.attempts(row["id"])
    assert len(att) == 2 and "bad input" in att[-1]["stderr"]


def test_hanging_app_is_killed_at_its_timeout_with_its_children(study_dir: Path) -> None:
    study = Study.load(
        write_study(
            study_dir,
            app="misbehaving_app.py",
            args='"hang", "{outdir}"',
            repetitions=1,
            subjects=1,
            extra="timeout: 1\n",
        )
    )
    t0 = time.monotonic()
    summary = study.run()
    assert time.monotonic() - t0 < 30
    assert summary.failed == 1
    row = study.executions().iloc[0]
    assert row["error"] == "timed out after 1 s (process group killed)"
    att = study.catalog.attempts(row["id"])[0]
    assert att["timed_out"] is True
    time.sleep(0.2)
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "misbehaving_app.py hang" not in ps


def test_missing_output_is_recorded_not_a_crash(study_dir: Path) -> None:
    study = Study.load(
        write_study(study_dir, app="misbehaving_app.py", args='"no-output", "{outdir}"', repetitions=1, subjects=1)
    )
    assert study.run().failed == 1
    row = study.executions().iloc[0]
    assert row["error"] == "missing output: result (result.json); the execution wrote no file"


def test_flaky_app_succeeds_on_retry(study_dir: Path) -> None:
    study = Study.load(
        write_study(
            study_dir,
            app="misbehaving_app.py",
            args=f'"flaky", "{{outdir}}", "{study_dir}/marker-{{subject}}"',
            repetitions=1,
            subjects=2,
            extra="retries: 2\n",
        )
    )
    summary = study.run()
    assert (summary.done, summary.failed) == (2, 0)
    assert study.executions()["attempts"].tolist() == [2, 2]


def test_second_runner_is_refused(study_dir: Path) -> None:
    study = Study.load(write_study(study_dir))
    with RunLock(study.store), pytest.raises(StoreError, match="another reprovip run is active on this store"):
        study.run()


def test_kill_9_mid_study_then_rerun_gives_exactly_18(study_dir: Path) -> None:
    path = write_study(study_dir, app="nondet_app.py", factors=THREADS)
    env = dict(os.environ, APP_DELAY="0.3")
    cmd = [sys.executable, "-m", "reprovip", "run", str(path), "-j", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = study_dir / ".reprovip" / "catalog.sqlite"
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and done < 6:
        time.sleep(0.1)
        if db.exists():
            try:
                done = sqlite3.connect(db).execute("select count(*) from executions where status='done'").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 6 <= done < 18
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    study = Study.load(path)
    df = study.executions()
    assert len(df) == 18 and (df["status"] == "done").all()
    con = sqlite3.connect(db)
    assert con.execute("select count(*) from outputs").fetchone() == (18,)
    _check_store_consistent(study)


# -- attempts: flakiness of the current recipe, history of earlier ones --------------------------------------

FLAKY_ALERT = "the application is flaky"
FLAKINESS = ("attempt_failure_rate", "flaky_executions", "flaky_attempts", "stale_attempts", "stale_failed_attempts")


def _attempt_rows(study: Study) -> list[list[tuple[int, int, str, bool]]]:
    """Per execution: (run, number, status, superseded) of each attempt, oldest first; runs counted from 1."""
    runs = [r["id"] for r in study.catalog.runs(study.catalog.study_id(study.name))]
    return [
        [(runs.index(a["run_id"]) + 1, a["number"], a["status"], a["superseded"]) for a in study.catalog.attempts(eid)]
        for eid in study.executions()["id"]
    ]


def _flakiness(study: Study) -> tuple[dict[str, float], list[str]]:
    """The analysis document's flakiness figures and its flaky-application alerts."""
    doc = study.analyze().document
    figures = {k: doc["executions"][k] for k in FLAKINESS}
    return figures, [a["message"] for a in doc["alerts"] if FLAKY_ALERT in a["message"]]


def _flaky_study(study_dir: Path, retries: int) -> Path:
    """Two executions whose first attempt fails and every later one succeeds (a marker per subject)."""
    return write_study(
        study_dir,
        app="misbehaving_app.py",
        args=f'"flaky", "{{outdir}}", "{study_dir}/marker-{{subject}}"',
        repetitions=1,
        subjects=2,
        extra=f"retries: {retries}\n",
    )


def test_failures_of_an_earlier_command_are_history_not_flakiness(study_dir: Path) -> None:
    """A command that crashes every attempt, then fixed: the fixed run is not flaky and is not run a third time.

    Before, the failed executions kept their 3 failed attempts of the old command: 3 of 4 attempts "failed and
    succeeded on retry", a permanent flaky warning; and they kept the old recipe, so the next run redid them.
    """
    crash = dict(repetitions=2, subjects=2, extra="retries: 2\n")
    path = write_study(study_dir, app="misbehaving_app.py", args='"crash", "{outdir}"', **crash)
    assert Study.load(path).run().failed == 4
    write_study(study_dir, **crash)  # the fixed command: det_app.py
    study = Study.load(path)
    assert (study.run().done, study.executions()["attempts"].tolist()) == (4, [1, 1, 1, 1])
    assert _attempt_rows(study)[0] == [(1, 1, "failed", True), (1, 2, "failed", True), (1, 3, "failed", True)] + [
        (2, 1, "done", False)
    ]
    figures, alerts = _flakiness(study)
    assert figures == dict(
        attempt_failure_rate=0.0, flaky_executions=0, flaky_attempts=0, stale_attempts=12, stale_failed_attempts=12
    )
    assert alerts == []
    assert Study.load(path).run().skipped == 4


@pytest.mark.parametrize(
    ("retries", "runs", "attempts"),
    [
        (1, 1, [(1, 1, "failed", False), (1, 2, "done", False)]),
        (0, 2, [(1, 1, "failed", False), (2, 1, "done", False)]),
    ],
    ids=["retried-in-one-run", "rerun-in-a-second-run"],
)
def test_failure_then_success_of_one_recipe_is_flaky(
    study_dir: Path, retries: int, runs: int, attempts: list[tuple[int, int, str, bool]]
) -> None:
    """A first attempt that fails, then a success of the same recipe (a retry, or a plain rerun): flaky.

    Attempts are numbered within their run: a rerun's first attempt is attempt 1 of its run.
    """
    path = _flaky_study(study_dir, retries)
    for _ in range(runs):
        Study.load(path).run()
    study = Study.load(path)
    assert study.executions()["attempts"].tolist() == [2, 2]
    assert _attempt_rows(study) == [attempts, attempts]
    figures, alerts = _flakiness(study)
    assert figures == dict(
        attempt_failure_rate=0.5, flaky_executions=2, flaky_attempts=2, stale_attempts=0, stale_failed_attempts=0
    )
    assert alerts == [
        "2 execution(s) failed then succeeded with the same recipe (50.0% of current attempts failed; failed "
        f"attempts: exit code 1): {FLAKY_ALERT}"
    ]


def test_force_rerun_makes_earlier_attempts_history(study_dir: Path) -> None:
    """A flaky run, then `run --force` where every first attempt succeeds: no longer flaky; 4 attempts of history."""
    path = _flaky_study(study_dir, 1)
    assert Study.load(path).run().done == 2
    study = Study.load(path)
    assert study.run(force=True).done == 2
    history = [(1, 1, "failed", True), (1, 2, "done", True)]
    assert _attempt_rows(study) == [[*history, (2, 1, "done", False)]] * 2
    assert study.executions()["attempts"].tolist() == [1, 1]
    figures, alerts = _flakiness(study)
    assert figures == dict(
        attempt_failure_rate=0.0, flaky_executions=0, flaky_attempts=0, stale_attempts=4, stale_failed_attempts=2
    )
    assert alerts == []


# -- several study files in one folder --------------------------------------------------------------------


def test_two_study_files_declaring_one_name_are_refused_until_one_is_renamed(study_dir: Path) -> None:
    """Two files of one folder named `twin` would share results and executions: the second one is refused."""
    first = write_study(study_dir, subjects=1, repetitions=1, extra="name: twin\n")
    second = study_dir / "study-copy.yaml"
    second.write_text(first.read_text())
    assert Study.load(first).run().done == 1
    refused = rf"^{second}: name: {first} declares the name 'twin' too, .*; give one of them a different `name:`$"
    for use in (lambda s: s.run(), lambda s: s.status(), lambda s: s.validate(), lambda s: s.results):
        with pytest.raises(SpecError, match=refused):
            use(Study.load(second))
    second.write_text(first.read_text().replace("name: twin", "name: twin-b"))
    assert Study.load(second).run().done == 1  # its own executions, not `twin`'s
    first.write_text(first.read_text().replace("name: twin", "name: twin-a"))
    second.write_text(first.read_text().replace("name: twin-a", "name: twin"))
    # The owner of `twin` declares another name now: this file takes the name over, and its executions.
    assert Study.load(second).run().skipped == 1


def test_renamed_or_copied_study_file_keeps_its_name(study_dir: Path) -> None:
    """A renamed file takes its name over (its executions are resumed); a copied folder keeps working."""
    first = write_study(study_dir, subjects=1, repetitions=1, extra="name: moved\n")
    assert Study.load(first).run().done == 1
    renamed = first.rename(study_dir / "renamed.yaml")
    assert Study.load(renamed).run().skipped == 1
    first.write_text(renamed.read_text())  # a new file with the same name: now `renamed.yaml` owns it
    with pytest.raises(SpecError, match=rf"^{first}: name: {renamed} declares the name 'moved' too"):
        Study.load(first).run()
    copy = shutil.copytree(study_dir, study_dir.parent / "copy")
    assert Study.load(copy / "renamed.yaml").run().skipped == 1


# -- the first hour: stopping early, grouped failures, kept folders, printed outputs ---------------------------

FIRST_HOUR = "first_hour_app.py"


def _first_hour(study_dir: Path, mode: str, *, extra_args: str = "", **kw: Any) -> Path:
    return write_study(study_dir, app=FIRST_HOUR, args=f'"{mode}", "{{input}}", "{{outdir}}"{extra_args}', **kw)


def test_first_failures_with_one_error_stop_the_run_and_a_rerun_resumes(study_dir: Path) -> None:
    """18 executions failing alike with 2 jobs: the run stops after max(4, 2 x 2) = 4, the rest stays pending."""
    from reprovip.execute.runner import run_study

    study = Study.load(_first_hour(study_dir, "colour", factors=THREADS))
    summary = run_study(study, jobs=2, progress=False)
    # Finished executions are recorded in batches (up to 50 ms): the one that reaches 4 may bring others along.
    assert summary.stopped and summary.done == 0 and 4 <= summary.failed < 18
    assert summary.failed + summary.not_run == 18 and not summary.ok
    (group,) = summary.groups
    # The input path differs per execution and the colours are gone: one error.
    assert group.error == "exit code 2: ERROR: cannot read {input}"
    assert len(group.executions) == summary.failed and group.executions[0]["argv"][1].endswith(FIRST_HOUR)
    counts = study.executions()["status"].value_counts().to_dict()
    assert counts == {"pending": summary.not_run, "failed": summary.failed}
    assert [r["status"] for r in study.catalog.runs(study.catalog.study_id(study.name))] == ["stopped"]
    _check_store_consistent(study)
    again = run_study(Study.load(study_dir / "study.yaml"), jobs=2, progress=False, keep_going=True)
    assert (again.stopped, again.failed, again.done) == (False, 18, 0)
    (group,) = again.groups
    assert len(group.executions) == 18 and group.subjects == ["sub-01", "sub-02", "sub-03"]
    assert group.lines()[1] == "  subjects: sub-01, sub-02, sub-03; conditions: threads=1, threads=2"


def test_first_failures_stop_the_run_with_retries_too(study_dir: Path) -> None:
    """With `retries: 1` (what `init` writes) every first attempt is queued before any retry, so no execution had
    spent its retries before all had run: the stop never came (a review). 2 x 2 x 4 failed attempts stop it."""
    from reprovip.execute.runner import run_study

    study = Study.load(_first_hour(study_dir, "colour", factors=THREADS, repetitions=6, extra="retries: 1\n"))
    summary = run_study(study, jobs=2, progress=False)
    assert summary.stopped and summary.done == 0 and summary.not_run > 0
    attempts = sum(len(study.catalog.attempts(eid)) for eid in study.executions()["id"])
    assert 16 <= attempts < 36, attempts  # 4 executions x 2 attempts, twice over: retries may cover an outage


def test_no_early_stop_once_an_execution_succeeded(study_dir: Path) -> None:
    """sub-01 succeeds first; the 6 failures of sub-02 afterwards do not stop the run (one job, so in order)."""
    from reprovip.execute.runner import run_study

    study = Study.load(_first_hour(study_dir, "fail-on", extra_args=', "sub-02"', factors=THREADS))
    summary = run_study(study, jobs=1, progress=False)
    assert (summary.stopped, summary.done, summary.failed) == (False, 12, 6)
    (group,) = summary.groups
    assert group.error == "exit code 1: this subject is broken" and group.subjects == ["sub-02"]


def test_missing_output_names_its_path_lists_what_was_written_and_keeps_the_folder(study_dir: Path) -> None:
    """The result written into the current folder instead of {outdir}: said so; the newest 2 folders are kept."""
    from reprovip.execute.runner import run_study

    study = Study.load(_first_hour(study_dir, "cwd", repetitions=4, subjects=1))
    summary = run_study(study, jobs=1, progress=False, keep_going=True, keep_failed=2)
    assert summary.failed == 4
    (group,) = summary.groups
    assert group.error == (
        "missing output: result (result.json); {outdir} is empty; the working folder holds: result.json "
        "(write results into {outdir})"
    )
    kept = sorted(p.name for p in (study.store / "failed").iterdir())
    assert len(kept) == 2 and set(kept) <= set(study.executions()["id"])
    assert (study.store / "failed" / kept[0] / "result.json").is_file()
    assert summary.failures[-1]["kept"] == str(study.store / "failed" / summary.failures[-1]["id"])
    _check_store_consistent(study)


def test_printed_result_is_an_output_stored_in_full(study_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`path: "{stdout}"`: 5000 lines (about 110 KB, more than the 64 KiB tail kept of every attempt) stored whole."""
    monkeypatch.setenv("REPEAT", "5000")
    outputs = '  printed: {path: "{stdout}", kind: text}\n  errors: {path: "{stderr}.log", kind: bytes}\n'
    study = Study.load(_first_hour(study_dir, "print", repetitions=1, subjects=1, outputs=outputs))
    summary = study.run()
    assert summary.failed == 1  # stderr stays empty: a missing output, like a file never written
    (row,) = study.executions().to_dict("records")
    assert row["error"] == "missing output: errors ({stderr}.log printed nothing); the execution wrote no file"
    monkeypatch.setenv("REPEAT", "5000")
    study = Study.load(
        _first_hour(study_dir / "ok", "print", repetitions=1, subjects=1, outputs=outputs.splitlines()[0] + "\n")
    )
    assert study.run().done == 1
    (out,) = study.catalog.outputs(study.catalog.study_id(study.name))
    blob = study.store / "blobs" / out["blob"][:2] / f"{out['blob']}.txt"
    expected = "".join(f"line {i}: value {len(str(study_dir / 'ok' / 'data' / 'sub-01.txt'))}.5\n" for i in range(5000))
    assert out["relpath"] == "{stdout}" and blob.read_text() == expected and out["size"] == len(expected) > 64 * 1024


def test_a_stream_is_kept_apart_from_the_files_of_the_current_folder_and_feeds_every_output(study_dir: Path) -> None:
    """Review H: the stream was saved as `stdout.txt` in the application's current folder, so a transcript of that
    name replaced the printed result (which read "identical"); and of `{stdout}` and `{stdout}.log`, one got the
    stream and the other failed "printed nothing"."""
    outputs = '  printed: {path: "{stdout}", kind: text}\n  raw: {path: "{stdout}.log", kind: bytes}\n'
    study = Study.load(_first_hour(study_dir, "transcript", repetitions=1, subjects=1, outputs=outputs))
    assert study.run().done == 1
    expected = f"line 0: value {len(str(study_dir / 'data' / 'sub-01.txt'))}.5\n"
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    stored = {
        o["name"]: (study.store / "blobs" / o["blob"][:2] / f"{o['blob']}{o['suffix']}").read_text() for o in outs
    }
    assert stored == {"printed": expected, "raw": expected}


def test_a_hard_linked_output_is_stored_as_it_was_when_its_execution_ended(study_dir: Path) -> None:
    """Review H: outputs hard-linked to a cache file the tool rewrites in place were moved into the store as
    they were, every blob one file holding the last execution's values: the study read "identical"."""
    study = Study.load(_first_hour(study_dir, "linked", repetitions=3, subjects=1))
    assert study.run(jobs=1).done == 3
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    blobs = [study.store / "blobs" / o["blob"][:2] / f"{o['blob']}{o['suffix']}" for o in outs]
    written = {json.loads(b.read_text())["attempt"].split("/")[0] for b in blobs}
    assert written == set(study.executions()["id"]) and len({b.stat().st_ino for b in blobs}) == 3
    assert all(b.stat().st_nlink == 1 for b in blobs)


def test_an_output_named_in_no_utf8_is_recorded_with_its_bytes_escaped(study_dir: Path) -> None:
    """Review H: a tool writing `r\xe9sultat.json` (Latin-1) under a glob crashed the run while recording its first
    batch ("internal error: UnicodeEncodeError"), the executions lost and every later run crashing too."""
    outputs = "  result: {path: '*.json', kind: scalars}\n"
    study = Study.load(_first_hour(study_dir, "latin1", repetitions=2, subjects=1, outputs=outputs))
    assert study.run(jobs=1).done == 2
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    assert [o["relpath"] for o in outs] == ["r\\xe9sultat.json"] * 2
    (out,) = study.analyze().document["outputs"]
    assert out["name"] == "result" and out["bitwise"]["identical"] is True


def test_an_application_ended_by_a_signal_is_said_so(study_dir: Path) -> None:
    """Review H: a segmentation fault (or the out-of-memory killer's SIGKILL) read "exit code -11", no reason."""
    from reprovip.execute.runner import run_study

    study = Study.load(_first_hour(study_dir, "crash", repetitions=1, subjects=1))
    summary = run_study(study, jobs=1, progress=False, keep_going=True)
    (group,) = summary.groups
    assert group.error == "killed by signal 11 (SIGSEGV: a crash)"


def test_run_of_a_killed_runner_is_shown_then_recorded_interrupted(study_dir: Path) -> None:
    """kill -9 of the runner: `status` says the run was interrupted; the next run records it so."""
    from reprovip.cli.status import status_command

    path = write_study(study_dir, app="nondet_app.py")
    env = dict(os.environ, APP_DELAY="0.5")
    cmd = [sys.executable, "-m", "reprovip", "run", str(path), "-j", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = study_dir / ".reprovip" / "catalog.sqlite"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            if sqlite3.connect(db).execute("select count(*) from runs").fetchone()[0]:
                break
        except sqlite3.OperationalError:
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    study = Study.load(path)
    (run,) = study.catalog.runs(study.catalog.study_id(study.name))
    assert run["status"] == "running"
    out = subprocess.run(
        [sys.executable, "-m", "reprovip", "status", str(path)], capture_output=True, text=True, timeout=60
    ).stdout
    assert f"run {run['id']} was interrupted: its runner (pid {proc.pid} on " in out
    done_before = int(study.executions()["status"].eq("done").sum())
    assert Study.load(path).run(jobs=2).done == 9 - done_before
    first, second = study.catalog.runs(study.catalog.study_id(study.name))
    assert (first["status"], second["status"]) == ("interrupted", "finished")
    assert status_command(str(path)) == 0


@pytest.mark.parametrize(("noise", "status"), [("0", "identical"), ("20", "fail")])
def test_an_output_named_after_the_subject_is_one_output(tmp_path: Path, noise: str, status: str) -> None:
    """`path: "{subject}_result.json"`: every execution's file is found under its own name and the analysis
    sees one output across subjects (it used to fail every execution with "missing output")."""
    path = write_study(
        tmp_path,
        app="named_app.py",
        args=f'"{{input}}", "{{outdir}}", "{{subject}}", "{noise}"',
        outputs='  result: {path: "{subject}_result.json", kind: scalars}\n',
    )
    study = Study.load(path)
    assert study.run(jobs=2).done == 9
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    assert {o["relpath"] for o in outs} == {"{subject}_result.json"} and len(outs) == 9
    doc = study.analyze().document
    (out,) = doc["outputs"]
    assert (out["name"], out["n_subjects"], out["verdict"]["status"]) == ("result", 3, status)


def test_each_execution_has_its_own_temporary_folder(tmp_path: Path) -> None:
    """An application caching its first result in /tmp made every later execution of the subject return it:
    "bit-for-bit identical" (a review). Each execution now gets its own TMPDIR, removed when it ends."""
    outputs = "  result: {path: result.json, kind: scalars}\n  tmp: {path: tmp.txt, kind: bytes}\n"
    study = Study.load(write_study(tmp_path, app="cache_app.py", outputs=outputs, extra="retries: 0\n"))
    assert study.run(jobs=2).done == 9
    doc = study.analyze().document
    assert not next(o for o in doc["outputs"] if o["name"] == "result")["bitwise"]["identical"]
    blobs = BlobStore(study.store)
    rows = study.catalog.outputs(study.catalog.study_id(study.name))
    tmps = {blobs.path(o["blob"], o["suffix"] or "").read_text() for o in rows if o["name"] == "tmp"}
    assert len(tmps) == 9 and all(Path(t).name.startswith("reprovip-") and not Path(t).exists() for t in tmps)


def test_a_temporary_folder_left_empty_is_reused_and_none_is_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker keeps an execution's temporary folder for its next execution when the application left it empty
    and private (creating and removing one cost a fifth of a trivial execution): every execution still finds its
    TMPDIR empty and private, whatever the one before it wrote there or did to its mode, and the run leaves no
    temporary folder behind."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(system_tmp))  # where the workers make the executions' folders
    app = tmp_path / "app.py"
    app.write_text(
        "import json, os, pathlib, random, stat, sys\n"
        "tmp = pathlib.Path(os.environ['TMPDIR'])\n"
        "seen = dict(tmp=str(tmp), entries=sorted(os.listdir(tmp)), mode=stat.S_IMODE(tmp.stat().st_mode))\n"
        "(pathlib.Path(sys.argv[2]) / 'result.json').write_text(json.dumps({'value': 1.0}))\n"
        "(pathlib.Path(sys.argv[2]) / 'seen.json').write_text(json.dumps(seen))\n"
        "what = random.Random(sys.argv[2]).choice(['nothing', 'nothing', 'file', 'mode'])\n"
        "if what == 'file':\n"
        "    (tmp / 'cache').write_text('x')\n"
        "elif what == 'mode':\n"
        "    tmp.chmod(0o755)\n"
    )
    outputs = "  result: {path: result.json, kind: scalars}\n  seen: {path: seen.json, kind: bytes}\n"
    study = Study.load(write_study(tmp_path, app=str(app), outputs=outputs, subjects=4, repetitions=5))
    assert study.run(jobs=1, progress=False).done == 20
    blobs = BlobStore(study.store)
    rows = study.catalog.outputs(study.catalog.study_id(study.name))
    seen = [json.loads(blobs.path(o["blob"], o["suffix"] or "").read_text()) for o in rows if o["name"] == "seen"]
    assert len(seen) == 20 and all(s["entries"] == [] and s["mode"] == 0o700 for s in seen), seen
    assert len({s["tmp"] for s in seen}) < 20  # reused after the executions that left it as it was
    assert list(system_tmp.iterdir()) == []


def test_an_output_linked_into_the_temporary_folder_is_stored(tmp_path: Path) -> None:
    """An application that writes its result in $TMPDIR and links it into {outdir}: the temporary folder used to
    be removed before the outputs were stored, and every execution failed (a review)."""
    app = tmp_path / "app.py"
    app.write_text(
        "import json, os, pathlib, sys\n"
        "real = pathlib.Path(os.environ['TMPDIR']) / 'r.json'\n"
        "real.write_text(json.dumps({'value': float(pathlib.Path(sys.argv[1]).read_text().split()[-1])}))\n"
        "(pathlib.Path(sys.argv[2]) / 'result.json').symlink_to(real)\n"
    )
    path = write_study(tmp_path, app=str(app))
    study = Study.load(path)
    assert study.run(jobs=2).done == 9
    assert study.analyze().document["verdict"]["status"] == "identical"


def test_executions_the_study_file_no_longer_declares_are_left_out(tmp_path: Path) -> None:
    """A phantom subject (value 1000) run, then removed from study.yaml: its executions still counted, so the
    stored study read "sufficiently reproducible" while a fresh store of the same file read "not reproducible"
    (a review). Undeclared executions are now left out of the verdict and the counts, with a warning."""
    app = tmp_path / "noisy.py"
    app.write_text(  # noise seeded by the execution's id: the test is the same every time (unseeded, its
        # 3 subjects' ICC interval cleared 0.9 in about 2% of the runs)
        "import json, pathlib, random, sys\n"
        "random.seed(pathlib.Path(sys.argv[2]).parent.name)\n"
        "v = float(pathlib.Path(sys.argv[1]).read_text().split()[-1])\n"
        "(pathlib.Path(sys.argv[2]) / 'result.json').write_text(json.dumps({'value': v + random.gauss(0, 2.0)}))\n"
    )
    path = write_study(tmp_path, app=str(app), subjects=3, repetitions=3)
    (tmp_path / "data" / "sub-99.txt").write_text("subject 1000.0\n")
    study = Study.load(path)
    assert study.run(jobs=2).done == 12
    assert study.analyze().document["verdict"]["status"] == "pass"  # the phantom spreads the subjects out
    (tmp_path / "data" / "sub-99.txt").unlink()  # removed from the study
    doc = Study.load(path).analyze().document
    assert doc["executions"]["plan"]["not_declared"] == 3 and doc["executions"]["total"] == 9
    assert doc["outputs"][0]["n_subjects"] == 3
    assert any("3 stored execution(s) are no longer declared" in a["message"] for a in doc["alerts"])
    assert doc["verdict"]["status"] == "fail"  # noise 2 on 3 subjects 7.5 apart: CI low < 0.9, as a fresh store


def test_force_keeps_ingested_executions_of_a_level_the_study_does_not_run(study_dir: Path) -> None:
    """threads 1 and 2 run here, threads=8 ingested from a cluster (noisy): `run --force` reset the ingested
    ones too, never ran them (the study does not declare threads=8) and then left them out as "no longer
    declared": the noisy level vanished and the study passed (a review). `--force` reruns what it declares."""
    path = write_study(study_dir, factors="  threads: [1, 2]\n", repetitions=2, subjects=3)
    study = Study.load(path)
    assert study.run(jobs=2).done == 12
    rng = np.random.default_rng(8)
    for s in range(3):
        for r in (1, 2):
            folder = study_dir / "results" / "8" / f"sub-{s + 1:02d}" / f"run-{r}"
            folder.mkdir(parents=True)
            value = 2 * (10.0 + 7.5 * s) + rng.normal(0, 30)
            (folder / "result.json").write_text(json.dumps({"value": value, "nested": {"sq": (10.0 + 7.5 * s) ** 2}}))
    study.ingest("results/{threads}/{subject}/run-{repetition}")
    assert study.analyze().document["verdict"]["status"] == "fail"
    assert Study.load(path).run(jobs=2, force=True).done == 12
    study = Study.load(path)
    counts = study.executions().groupby("condition_key")["status"].apply(list).to_dict()
    assert counts["threads=8"] == ["done"] * 6
    doc = study.analyze().document
    assert doc["executions"]["total"] == 18 and doc["verdict"]["status"] == "fail"


def test_executions_that_time_out_once_under_one_level_are_named_with_it(study_dir: Path) -> None:
    """Every threads=2 execution hangs on its first attempt (a deadlock), times out and succeeds on retry: the
    alert said "the application is flaky", naming neither the condition nor the timeout (a review)."""
    app = study_dir / "hangs.py"
    app.write_text(
        "import os, pathlib, sys, time\nmarker = pathlib.Path(sys.argv[2] + '.tried')\n"
        "if os.environ['OMP_NUM_THREADS'] == '2' and not marker.exists():\n"
        "    marker.touch()\n    time.sleep(30)\n"
        "pathlib.Path(sys.argv[3], 'result.json').write_text('{\"value\": 1}')\n"
    )
    path = write_study(
        study_dir,
        app=str(app),
        args=f'"{{input}}", "{study_dir}/{{subject}}-{{threads}}-{{repetition}}", "{{outdir}}"',
        factors="  threads: [1, 2]\n",
        repetitions=2,
        subjects=2,
        extra="retries: 1\ntimeout: 1\n",
    )
    study = Study.load(path)
    assert study.run(jobs=2).done == 8
    doc = study.analyze().document
    assert doc["executions"]["flaky"] == {
        "by_condition": {"threads=2": 4},
        "errors": ["timed out after 1 s (process group killed)"],
        "lost_by_backend": False,
    }
    (alert,) = [a["message"] for a in doc["alerts"] if FLAKY_ALERT in a["message"]]
    assert "(33.3% of current attempts failed; 4 under threads=2; failed attempts: timed out after 1 s" in alert


def test_executions_run_in_a_shuffled_order_so_a_drift_is_no_subject_difference(tmp_path: Path) -> None:
    """Review O (c15): an output whose only varying field was the time it was written read "sufficiently
    reproducible": run subject by subject, the drift over time was a difference between subjects (ICC lower
    bound 0.9); threads, run after threads=1 within a subject, took the blame in c14. The executions now run in
    a shuffled order, the same every time for a study: the drift is run-to-run noise."""
    app = tmp_path / "clock.py"
    app.write_text(
        "import json, pathlib, sys, time\ntime.sleep(0.02)\n"
        "(pathlib.Path(sys.argv[2]) / 'result.json').write_text(json.dumps({'t': time.time()}))\n"
    )
    study = Study.load(write_study(tmp_path, app=str(app), subjects=4, repetitions=3))
    assert study.run(jobs=1, progress=False).done == 12
    rows = sorted(study.catalog.executions(study.catalog.study_id(study.name)), key=lambda r: r["finished_at"])
    order = [r["subject"] for r in rows]
    assert order != sorted(order)  # not subject by subject
    doc = study.analyze().document
    assert doc["verdict"]["status"] == "fail", doc["outputs"][0]["verdict"]["reasons"]


def _self_editing(tmp_path: Path, subjects: int, edit: str) -> Study:
    """A study of 2 repetitions whose tool runs ``edit`` (lines of Python, ``me`` its own path) then writes
    its result: what a user's editor, or a swap and a swap back, does to the script in the middle of a run."""
    (tmp_path / "data").mkdir()
    for i in range(1, subjects + 1):
        (tmp_path / "data" / f"sub-0{i}.txt").write_text(f"{i}\n")
    (tmp_path / "tool.py").write_text(
        "import os, pathlib, sys\n"
        "me = pathlib.Path(__file__)\n"
        + edit
        + "pathlib.Path(sys.argv[2], 'r.json').write_text('{\"v\": %s}' % open(sys.argv[1]).read().strip())\n"
    )
    (tmp_path / "study.yaml").write_text(
        'application:\n  command: ["{python}", "{study_dir}/tool.py", "{input}", "{outdir}"]\n'
        'subjects: {glob: "data/{subject}.txt"}\nrepetitions: 2\n'
        "outputs:\n  r: {path: r.json, kind: scalars}\n"
    )
    return Study.load(tmp_path / "study.yaml")


# Review H: the script replaced by another (first execution), then restored byte for byte with its time (`cp -p`
# back, third execution): the same recipe when the run ended, two codes' executions recorded as one.
SWAPPED_BACK = (
    "import time; time.sleep(0.2)\n"
    "count = me.with_name('count'); n = int(count.read_text()) if count.exists() else 0\n"
    "count.write_text(str(n + 1))\n"
    "if n == 0:\n"
    "    st = me.stat(); me.with_name('orig').write_bytes(me.read_bytes())\n"
    "    me.with_name('times').write_text(f'{st.st_atime_ns} {st.st_mtime_ns}')\n"
    "    me.write_bytes(me.read_bytes() + b'#other\\n')\n"
    "elif n == 2:\n"
    "    me.write_bytes(me.with_name('orig').read_bytes())\n"
    "    os.utime(me, ns=tuple(int(t) for t in me.with_name('times').read_text().split()))\n"
)


@pytest.mark.parametrize(
    ("subjects", "edit", "pending_again"),
    [
        # Review CA: a script replaced while `run` ran (then restored) left executions of two codes recorded under
        # the recipe hashed when the run started, and the difference was blamed on threads.
        (3, "if not me.read_text().endswith('#x\\n'):\n    me.write_text(me.read_text() + '#x\\n')\n", True),
        (2, SWAPPED_BACK, True),
        # Review J: a tool saving its script (or configuration) again with the same bytes never completed
        (2, "me.write_bytes(me.read_bytes())\n", False),
    ],
    ids=["edited", "swapped-back", "same-bytes"],
)
def test_a_script_changed_during_the_run_leaves_its_executions_pending(
    tmp_path: Path, subjects: int, edit: str, pending_again: bool
) -> None:
    """The executions that ran while the files changed are pending again, said by `run`, and the next run runs
    them under the files as they are; files written again with the same bytes are no change."""
    from reprovip.cli.main import main

    study = _self_editing(tmp_path, subjects, edit)
    summary = study.run(jobs=1, progress=False)
    assert summary.done == 2 * subjects
    assert summary.changed_during == (2 * subjects if pending_again else 0)
    statuses = {e["status"] for e in study.catalog.executions(study.catalog.study_id(study.name))}
    assert statuses == {"pending" if pending_again else "done"}
    if pending_again:
        again = study.run(jobs=1, progress=False)  # the file is stable now: every execution runs under it
        assert (again.changed_during, again.done, again.skipped) == (0, 2 * subjects, 0)
    assert main(["check", str(tmp_path / "study.yaml")]) == 0


def test_a_script_hashed_while_rewritten_with_its_own_bytes_is_no_change(tmp_path: Path) -> None:
    """This session's CI run: a tool writing its script again with the same bytes (truncate, then write) was
    hashed by the run's watch in between, half written, and its executions were pending again ("changed during
    the run"). Seen other than at the start, the files are hashed once more when settled; a real edit stays."""
    import threading

    from reprovip.execute.runner import _FilesWatch

    study = _self_editing(tmp_path, 2, "")
    script = tmp_path / "tool.py"
    data = script.read_bytes()
    watch = _FilesWatch(study)
    script.write_bytes(data[:10])  # the writer truncated it and has not finished
    finish = threading.Timer(0.02, script.write_bytes, (data,))
    finish.start()
    assert watch.poll() is False
    finish.join()
    script.write_bytes(data + b"#edited\n")
    assert watch.poll() is True


def test_an_output_its_worker_stored_in_another_store_fails_the_execution(tmp_path: Path) -> None:
    """Review K: a Dask worker (shared filesystem) that saw another folder at the study's path stored every output
    there; the run recorded the executions done with no blob, and "not analysable" ever after."""
    from reprovip.execute.runner import _adopt_outputs
    from reprovip.store import BlobStore

    blobs = BlobStore(tmp_path / "store")
    result = dict(
        ok=True,
        hostname="node7",
        outputs=[dict(name="r", relpath="r.json", kind="scalars", blob="ab" * 32, suffix=".json", missing=False)],
    )
    result["outputs"][0]["adopted"] = True
    (row,) = _adopt_outputs(blobs, result)
    assert not result["ok"] and row["missing"] is True
    assert result["error"].startswith("output r was stored by its worker (node7) in no store this runner sees")


def test_a_task_cancelled_with_no_word_of_its_start_did_not_begin(tmp_path: Path) -> None:
    """Review K: the Dask scheduler killed, every execution it held was recorded as a failed attempt ("backend
    error: CancelledError"), most never begun, and a clean resume still warned "reprovip's workers failed"."""
    from concurrent.futures import CancelledError, Future

    from reprovip.execute.backends import Backend
    from reprovip.execute.runner import _began

    unknown = Backend(None, shared_filesystem=False, began=lambda fut: None)  # type: ignore[arg-type]
    assert _began(unknown, Future(), None, "e1", CancelledError()) is False
    assert _began(unknown, Future(), None, "e1", RuntimeError("worker lost")) is True  # unknown: an attempt
    started = Backend(None, shared_filesystem=False, began=lambda fut: True)  # type: ignore[arg-type]
    assert _began(started, Future(), None, "e1", CancelledError()) is True
