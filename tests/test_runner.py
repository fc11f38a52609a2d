"""Integration tests of the core loop with real subprocesses, a real SQLite catalog and real blobs."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprovip.errors import SpecError, StoreError
from reprovip.store import RunLock
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
    path.write_text(path.read_text().replace(str(Path(__file__).parent / "apps" / "det_app.py"), str(app)))
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
    assert row["error"] == "missing outputs: result"


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
        f"2 execution(s) failed then succeeded with the same recipe (50.0% of current attempts failed): {FLAKY_ALERT}"
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
