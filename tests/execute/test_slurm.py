"""The ``slurm-array`` backend against a real single-node Slurm (``source scripts/services/slurm.sh``, as root).

Real ``sbatch``, ``squeue``, ``scontrol`` and ``scancel``: each study's catalog is compared with the local
executor's, a task is cancelled while it runs, and ``reprovip status`` is read while an array runs. Every
test cancels the jobs it submitted (they are named after its folder) when it ends.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reprovip.cli.main import main
from reprovip.errors import InputError
from reprovip.execute import backends
from reprovip.store.catalog import sqlite_url
from reprovip.study import Study
from tests.conftest import APPS, unavailable, write_study
from tests.store.conftest import pg_url  # noqa: F401 - a fixture, for the study on PostgreSQL

SLEEPY_APP = """\
import json, os, sys, time
from pathlib import Path
inp, out, markers, name = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
job = os.environ.get("SLURM_ARRAY_JOB_ID", "") + "_" + os.environ.get("SLURM_ARRAY_TASK_ID", "")
(markers / f"{name}.tmp").write_text(os.environ.get("SLURM_JOB_ID", "") + " " + job)
(markers / f"{name}.tmp").rename(markers / name)
time.sleep(float(os.environ.get("SLEEPY_SECONDS", "2")))
(out / "result.json").write_text(json.dumps({"value": float(inp.read_text().split()[-1])}))
"""


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """The cluster ``scripts/services/slurm.sh`` started; skip without one, but fail in CI."""
    reason = "no Slurm cluster: as root, `source scripts/services/slurm.sh` starts one (REPROVIP_TEST_SLURM=1)"
    if not os.environ.get("REPROVIP_TEST_SLURM"):
        unavailable(reason)
    state = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, check=False)
    if state.returncode != 0 or not state.stdout.strip():
        pytest.fail(f"REPROVIP_TEST_SLURM is set but `sinfo` fails: {state.stderr.strip()}")


def cancel_named(name: str) -> None:
    """Cancel the jobs named ``name`` (what one test submitted) and wait until Slurm has none left running."""
    subprocess.run(["scancel", f"--name={name}"], check=False, capture_output=True)
    until(lambda: not squeue(name), timeout=30)


def squeue(name: str) -> list[tuple[str, str]]:
    """``(job id, state)`` of the jobs named ``name``, array tasks one by one (``123_4``)."""
    out = subprocess.run(
        ["squeue", "-h", "-r", f"--name={name}", "-o", "%i %T"], capture_output=True, text=True, check=True
    ).stdout
    return [tuple(line.split()) for line in out.splitlines()]  # type: ignore[misc]


def until(condition: Callable[[], object], *, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout:g} s: {condition}")
        time.sleep(0.1)


def sleepy_study(root: Path, *, subjects: int, repetitions: int, extra: str = "") -> tuple[Path, Path]:
    """A study in ``root`` whose application records which Slurm job runs it (``markers/<subject>-<rep>``),
    then sleeps."""
    app, markers = root / "sleepy.py", root / "markers"
    root.mkdir(parents=True, exist_ok=True)
    app.write_text(SLEEPY_APP)
    markers.mkdir()
    path = write_study(
        root,
        subjects=subjects,
        repetitions=repetitions,
        extra=extra,
        args=f'"{{input}}", "{{outdir}}", "{markers}", "{{subject}}-{{repetition}}"',
    )
    path.write_text(path.read_text().replace(str(APPS / "det_app.py"), str(app)))
    return path, markers


def catalog_counts(path: Path) -> tuple[int, dict[str, str], dict[str, int], dict[str, int]]:
    """(executions, status by execution, done attempts by execution, outputs by execution)."""
    study = Study.load(path)
    sid = study.catalog.study_id(study.name)
    execs = study.catalog.executions(sid)
    status = {e["id"]: e["status"] for e in execs}
    done = {e["id"]: sum(a["status"] == "done" for a in study.catalog.attempts(e["id"])) for e in execs}
    outputs: dict[str, int] = {}
    for o in study.catalog.outputs(sid):
        outputs[o["execution_id"]] = outputs.get(o["execution_id"], 0) + 1
    return len(execs), status, done, outputs


def run_in_background(path: Path, executor: str, jobs: int, **env: str) -> subprocess.Popen[str]:
    """``reprovip run`` in a process of its own, with ``env`` added to its environment (its tasks inherit it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "reprovip", "run", str(path), "-j", str(jobs), "--no-progress", "--executor", executor],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def cancel_while_running_then_resume(path: Path, markers: Path, executor: str, victim_job: Callable[[str], str]):
    """Start ``reprovip run``, ``scancel`` the job of one running execution, let the run end, run again.

    Returns the first run's exit code and stderr, the cancelled execution's name and marker (its job ids: of
    the Slurm job, and ``ARRAY_TASK`` for an array task), and the catalog after both runs.
    """
    run = run_in_background(path, executor, 2)
    try:
        until(lambda: list(markers.iterdir()) or run.poll() is not None)
        assert list(markers.iterdir()), f"the run ended before any execution started: {run.communicate()}"
        victim = next(markers.iterdir())
        cancelled = victim.read_text()
        subprocess.run(["scancel", victim_job(cancelled)], check=True)
        _, err = run.communicate(timeout=300)
    finally:
        run.kill()
    again = subprocess.run(
        [sys.executable, "-m", "reprovip", "run", str(path), "-j", "2", "--no-progress", "--executor", executor],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    return run.returncode, err, (victim.name, cancelled), catalog_counts(path)


def array_name(folder: Path) -> str:
    """The name of the arrays of the study in ``folder`` (named after it)."""
    return f"reprovip-{folder.name}"


@pytest.fixture
def study_dir(slurm_cluster: None, tmp_path: Path) -> Iterator[Path]:
    """A folder for a study, of a name no other test uses (tests run in parallel): its arrays are cancelled at
    the end, by name."""
    folder = tmp_path / f"study-{uuid.uuid4().hex[:8]}"
    yield folder
    cancel_named(array_name(folder))


def test_array_gives_the_catalog_of_the_local_executor(study_dir: Path, tmp_path: Path) -> None:
    from tests.execute.test_dask import OUTPUTS, THREADS, _blobs_on_disk, _catalog_view

    local = Study.load(write_study(tmp_path / "local", factors=THREADS, outputs=OUTPUTS))
    assert local.run(jobs=2, progress=False).done == 18
    path = write_study(study_dir, factors=THREADS, outputs=OUTPUTS)
    assert main(["run", str(path), "--executor", "slurm-array", "-j", "2", "--no-progress"]) == 0
    study = Study.load(path)
    execs, outs = _catalog_view(study)
    assert (execs, outs) == _catalog_view(local)
    assert len(execs) == 18 and {st for _, st in execs} == {"done"}
    assert _blobs_on_disk(study) == {blob for *_, blob in outs}
    attempts = [a for eid in study.executions()["id"] for a in study.catalog.attempts(eid)]
    assert len(attempts) == 18 and all(a["hostname"] and a["provenance"] for a in attempts)
    assert not (study.store / "work").exists()  # the array's folder went with the run's working folder


def test_array_honours_jobs_and_status_shows_pending_and_running(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--jobs 2` is the array's `%2` (read back from Slurm); `status` meanwhile counts 2 running, 4 pending
    (on a node of one CPU: 1 running, 5 pending)."""
    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, check=True).stdout)
    running = min(2, cpus)
    path, _ = sleepy_study(study_dir, subjects=2, repetitions=3)
    run = run_in_background(path, "slurm-array", 2, SLEEPY_SECONDS="6")  # time to read the status
    outputs: list[str | None] = []

    def status_while_running() -> str | None:
        """`status`'s output, when the catalog said `running` executions run just before and just after it (a
        task may end, or Slurm start the second one late, around the command: then ask again)."""
        before = Study.load(path).status_rows()
        if not before or before[0]["running"] != running:
            return None
        assert main(["status", str(path)]) == 0
        out = capsys.readouterr().out
        return out if Study.load(path).status_rows() == before else None

    try:
        until(lambda: outputs.append(status_while_running()) or outputs[-1] is not None)
        out = outputs[-1]
        job = squeue(array_name(study_dir))[0][0].split("_")[0]
        shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, check=True).stdout
        _, err = run.communicate(timeout=300)
    finally:
        run.kill()
    assert run.returncode == 0, err
    row = next(line for line in out.splitlines() if line.startswith("│"))  # the one condition's
    counts = [int(n) for n in re.findall(r"\d+", row)[-5:]]
    assert counts == [0, 0, 6 - running, running, 6]  # done, failed, pending, running, total
    assert re.search(r"ArrayTaskId=\S*%2\b", shown) and "ArrayTaskThrottle=2" in shown, shown
    assert f"JobName={array_name(study_dir)}\n" in shown


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_elsewhere(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A catalog outside the study's store: a SQLite file of another folder, then a PostgreSQL schema (skipped
    without a server)."""
    if request.param == "sqlite":
        (tmp_path / "elsewhere").mkdir()
        return sqlite_url(tmp_path / "elsewhere" / "catalog.sqlite")
    return request.getfixturevalue("pg_url")


RUN_WITH_CATALOG = """\
import sys
from reprovip.study import Study
summary = Study.load(sys.argv[1], catalog_url=sys.argv[2]).run(jobs=2, executor="slurm-array")
sys.exit(0 if summary.ok else 3)
"""


def test_running_executions_are_marked_in_the_catalog_given_to_study_load(
    study_dir: Path, catalog_elsewhere: str
) -> None:
    """`Study.load(path, catalog_url=...)`: that catalog counts the running executions during the array (2, or
    1 on a node of one CPU), and no other catalog is opened (the store has no catalog.sqlite)."""
    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, check=True).stdout)
    running = min(2, cpus)
    path, _ = sleepy_study(study_dir, subjects=2, repetitions=3)
    run = subprocess.Popen(
        [sys.executable, "-c", RUN_WITH_CATALOG, str(path), catalog_elsewhere],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SLEEPY_SECONDS": "6"},
    )
    watcher = Study.load(path, catalog_url=catalog_elsewhere)
    seen: list[list[dict[str, object]]] = []
    try:
        until(
            lambda: (
                seen.append(watcher.status_rows())
                or (seen[-1] and seen[-1][0]["running"] == running)
                or run.poll() is not None
            )
        )
        _, err = run.communicate(timeout=300)
        final = watcher.status_rows()
    finally:
        run.kill()
        watcher.catalog.close()
    assert run.returncode == 0, err
    assert [(r["pending"], r["running"]) for r in seen[-1]] == [(6 - running, running)]
    assert [(r["done"], r["running"], r["total"]) for r in final] == [(6, 0, 6)]
    assert not (study_dir / ".reprovip" / "catalog.sqlite").exists()


def test_task_cancelled_while_running_is_run_again_by_the_next_run(study_dir: Path) -> None:
    path, markers = sleepy_study(study_dir, subjects=2, repetitions=2)
    code, err, victim, (n, status, done, outputs) = cancel_while_running_then_resume(
        path,
        markers,
        "slurm-array?grace=1",  # no accounting on the test cluster: a cancelled task waits the grace
        lambda marker: marker.split()[1],  # the array task, 123_4
    )
    assert code == 3 and "1 failed" in err and "ended without a result" in err, err
    assert n == 4 and set(status.values()) == {"done"}
    assert done == dict.fromkeys(status, 1)  # nothing lost, nothing run twice to completion
    assert outputs == dict.fromkeys(status, 1)
    rerun = (markers / victim[0]).read_text().split()[1]
    assert rerun.split("_")[0] != victim[1].split()[1].split("_")[0]  # by the next run's array


def test_task_cancelled_while_running_is_retried_in_a_new_array(study_dir: Path) -> None:
    """With `retries: 1` the same run submits the cancelled execution again (a second, one-task array)."""
    path, markers = sleepy_study(study_dir, subjects=2, repetitions=2, extra="retries: 1\n")
    code, err, victim, (n, status, done, outputs) = cancel_while_running_then_resume(
        path, markers, "slurm-array?grace=1", lambda marker: marker.split()[1]
    )
    assert code == 0 and "4 completed, 0 failed" in err, err
    assert n == 4 and set(status.values()) == {"done"}
    assert done == dict.fromkeys(status, 1) and outputs == dict.fromkeys(status, 1)
    study = Study.load(path)
    attempts = {eid: [a["status"] for a in study.catalog.attempts(eid)] for eid in status}
    assert sorted(attempts.values()) == [["done"]] * 3 + [["failed", "done"]]
    first, again = victim[1].split()[1], (markers / victim[0]).read_text().split()[1]
    assert again.split("_")[1] == "0" and again.split("_")[0] != first.split("_")[0]  # task 0 of a new array


def test_monitor_failing_fails_the_calls_instead_of_hanging(study_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import BrokenExecutor
    from types import SimpleNamespace

    from reprovip.execute import slurm_array, slurm_cli

    work = study_dir / ".reprovip" / "work"  # the arrays are named after the study's folder
    pool = slurm_array.ArrayPool("slurm-array", 1)
    ok = pool.submit(str, SimpleNamespace(work_root=str(work), execution_id="e1"))
    assert ok.result(timeout=120) == f"namespace(work_root={str(work)!r}, execution_id='e1')"

    def broken(job_ids: list[str]) -> None:
        raise OSError("squeue: cannot reach slurmctld")

    monkeypatch.setattr(slurm_cli, "squeue", broken)
    lost = pool.submit(str, SimpleNamespace(work_root=str(work), execution_id="e2"))
    with pytest.raises(BrokenExecutor, match=r"the Slurm array monitor stopped: OSError: squeue: cannot reach"):
        lost.result(timeout=30)
    with pytest.raises(BrokenExecutor, match=r"monitor stopped"):  # later calls fail at once
        pool.submit(str, "e3").result(timeout=1)
    pool.shutdown(wait=True)


class FakeSlurm:
    """Test doubles of :mod:`reprovip.execute.slurm_cli`'s ``sbatch``, ``squeue``, ``sacct`` and ``scancel``:
    array ``123`` is accepted, then `squeue` no longer lists it (its tasks have ended), ``sacct`` answers
    ``state`` (None: no accounting), and every ``scancel`` is recorded with whether the future was answered
    then; ``scancel_ok`` lists its answers in turn (then True)."""

    def __init__(self, state: str | None = None, scancel_ok: tuple[bool, ...] = ()) -> None:
        self.state, self.scancel_ok = state, list(scancel_ok)
        self.cancelled: list[tuple[list[str], bool]] = []
        self.futures: list[Any] = []

    def sbatch(self, args: list[str], spec: str) -> str:
        return "123"

    def squeue(self, job_ids: list[str]) -> dict[tuple[str, int], str] | None:
        return {}

    def sacct(self, task: str) -> str | None:
        return self.state

    def scancel(self, job_ids: list[str]) -> bool:
        self.cancelled.append((job_ids, all(f.done() for f in self.futures)))
        return self.scancel_ok.pop(0) if self.scancel_ok else True


@pytest.fixture
def fake_slurm(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeSlurm]:
    """Install a :class:`FakeSlurm` (arguments as its own) in place of Slurm's commands."""
    from reprovip.execute import slurm_cli

    def install(**kwargs: Any) -> FakeSlurm:
        fake = FakeSlurm(**kwargs)
        for name in ("sbatch", "squeue", "sacct", "scancel"):
            monkeypatch.setattr(slurm_cli, name, getattr(fake, name))
        return fake

    return install


def submit_one(spec: str, work: Path, fake: FakeSlurm) -> tuple[Any, Any]:
    """An :class:`ArrayPool` of ``spec`` and the future of one call submitted to it (the array of ``work``)."""
    from types import SimpleNamespace

    from reprovip.execute.slurm_array import ArrayPool

    pool = ArrayPool(spec, 1)
    fake.futures.append(pool.submit(str, SimpleNamespace(work_root=str(work), execution_id="e1")))
    return pool, fake.futures[-1]


def write_reply_later(work: Path, seconds: float) -> threading.Thread:
    """Write task 0's reply ``seconds`` after its array's folder appears, as a file written on a compute node
    shows late on the login node over NFS."""
    import pickle

    def write() -> None:
        until(lambda: (work / ".slurm-array").is_dir() and any((work / ".slurm-array").glob("[!.]*")), timeout=10)
        folder = next((work / ".slurm-array").glob("[!.]*"))
        time.sleep(seconds)
        (folder / "results" / "0.pkl").write_bytes(pickle.dumps((True, "the real result")))

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_a_reply_seen_within_the_grace_is_taken(fake_slurm: Callable[..., FakeSlurm], tmp_path: Path) -> None:
    """A task left `squeue` and its reply shows 1.5 s later (the reviewer's reproducer: it was failed after
    0.4 s, and its execution run again): with a grace of 20 s its result is taken, nothing is cancelled."""
    fake = fake_slurm()
    work = tmp_path / "study" / ".reprovip" / "work"
    writer = write_reply_later(work, 1.5)
    pool, fut = submit_one("slurm-array?grace=20", work, fake)
    assert fut.result(timeout=30) == "the real result"
    writer.join()
    pool.shutdown(wait=True)
    assert fake.cancelled == []


@pytest.mark.parametrize(
    ("state", "grace", "reason"),
    [
        (None, "0.5", r"\(cancelled with scancel, past its time limit, or its node failed\)"),
        ("COMPLETED", "0.5", r"\(sacct: COMPLETED, but no reply appeared in results/ within the grace; raise"),
        ("TIMEOUT", "600", r"\(sacct: TIMEOUT\)"),  # over: no grace to wait
    ],
)
def test_a_task_without_reply_after_the_grace_is_cancelled_then_failed(
    fake_slurm: Callable[..., FakeSlurm], tmp_path: Path, state: str | None, grace: str, reason: str
) -> None:
    """Without a reply by the end of the grace, task 123_0 is `scancel`led before its future fails (so it cannot
    write into its execution's folder while the execution runs again); the reason quotes `sacct`'s state when
    accounting answers. A task `sacct` says ended otherwise than COMPLETED wrote no reply: no grace is waited."""
    from concurrent.futures import BrokenExecutor

    fake = fake_slurm(state=state)
    pool, fut = submit_one(f"slurm-array?grace={grace}", tmp_path / ".reprovip" / "work", fake)
    with pytest.raises(BrokenExecutor, match=r"^Slurm array task 123_0 ended without a result " + reason):
        fut.result(timeout=30)
    pool.shutdown(wait=True)
    assert fake.cancelled == [(["123_0"], False)]


def test_a_task_slurm_would_not_cancel_is_not_failed_yet(fake_slurm: Callable[..., FakeSlurm], tmp_path: Path) -> None:
    """`scancel` failing (the controller did not answer): the task may still run, so it is not failed (its
    execution would run twice at once); the cancel is tried again at the next look."""
    from concurrent.futures import BrokenExecutor

    fake = fake_slurm(scancel_ok=(False, False))
    pool, fut = submit_one("slurm-array?grace=0", tmp_path / ".reprovip" / "work", fake)
    with pytest.raises(BrokenExecutor, match=r"^Slurm array task 123_0 ended without a result"):
        fut.result(timeout=30)
    pool.shutdown(wait=True)
    assert fake.cancelled == [(["123_0"], False)] * 3


def test_monitor_failing_cancels_its_arrays(
    fake_slurm: Callable[..., FakeSlurm], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's reproducer 2: `squeue` raising stops the monitor; its array 123 is cancelled then (its
    tasks would run on after `reprovip run` returned), before the calls fail, and once only."""
    from concurrent.futures import BrokenExecutor

    from reprovip.execute import slurm_cli

    fake = fake_slurm()

    def broken_squeue(job_ids: list[str]) -> None:
        raise OSError("squeue: cannot reach slurmctld")

    monkeypatch.setattr(slurm_cli, "squeue", broken_squeue)
    pool, fut = submit_one("slurm-array", tmp_path / ".reprovip" / "work", fake)
    with pytest.raises(BrokenExecutor, match=r"monitor stopped: OSError: squeue: cannot reach slurmctld"):
        fut.result(timeout=30)
    pool.interrupt()  # what `slurm_array()` does when the runner raises then
    assert fake.cancelled == [(["123"], False)]


def test_interrupt_cancels_arrays_whose_calls_were_failed(fake_slurm: Callable[..., FakeSlurm], tmp_path: Path) -> None:
    """`interrupt()` cancels every array submitted, also one whose calls have all been answered or failed."""
    fake = fake_slurm()
    work = tmp_path / ".reprovip" / "work"
    writer = write_reply_later(work, 0)
    pool, fut = submit_one("slurm-array", work, fake)
    assert fut.result(timeout=30) == "the real result"
    writer.join()
    pool.interrupt()
    assert fake.cancelled == [(["123"], True)]


def test_a_stuck_squeue_is_no_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An `squeue` that never answers: after the timeout, `slurm_cli.squeue` says None (no answer), so Ctrl-C
    (`interrupt`, which waits for the monitor's look) does not wait for ever."""
    from reprovip.execute import slurm_cli

    shim(tmp_path, "squeue", "exec sleep 600\n")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(slurm_cli, "TIMEOUT", 0.5)
    assert slurm_cli.squeue(["123"]) is None


def shim(folder: Path, command: str, script: str) -> None:
    """A ``command`` running ``script`` (sh), first on PATH: a test double of a Slurm command."""
    (folder / command).write_text("#!/bin/sh\n" + script)
    (folder / command).chmod(0o755)


def test_sacct_state_of_a_task_and_squeue_of_another_format(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`sacct --parsable2` lines as Slurm 22.05 prints them (``JOB_I|CANCELLED by 0``): the task's own line's
    first word; an `squeue` line of another format than `%F %K %T` is no answer rather than an error that would
    stop the monitor."""
    from reprovip.execute import slurm_cli

    shim(tmp_path, "sacct", 'printf "123_1|COMPLETED\\n123_0|CANCELLED by 0\\n"\n')
    shim(tmp_path, "squeue", 'printf "123 0 RUNNING\\nsqueue: unexpected\\n"\n')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert slurm_cli.sacct("123_0") == "CANCELLED" and slurm_cli.sacct("123_2") is None
    assert slurm_cli.squeue(["123"]) is None


def test_sacct_without_accounting_is_no_answer(slurm_cluster: None) -> None:
    """The test cluster keeps no accounting (`AccountingStorageType=accounting_storage/none`: `sacct` exits 1,
    "Slurm accounting storage is disabled"): no state, no error."""
    from reprovip.execute import slurm_cli

    disabled = subprocess.run(["sacct", "--noheader"], capture_output=True, text=True, check=False)
    assert disabled.returncode == 1 and "accounting storage is disabled" in disabled.stderr
    assert slurm_cli.sacct("1_0") is None


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_grace_must_be_seconds(value: str) -> None:
    with pytest.raises(InputError, match=rf"option 'grace' is '{value}'; give seconds >= 0, as in grace=60"):
        with backends.open_backend(f"slurm-array?grace={value}", 1):
            pass


def test_invalid_partition_is_a_one_line_error(study_dir: Path) -> None:
    with pytest.raises(InputError, match=r"sbatch refused the job: invalid partition specified: nope; check"):
        with backends.open_backend("slurm-array?partition=nope", 2):
            pass
    path = write_study(study_dir, subjects=1, repetitions=1)
    done = subprocess.run(
        [sys.executable, "-m", "reprovip", "run", str(path), "--executor", "slurm-array?partition=nope"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("reprovip: error: executor 'slurm-array?partition=nope': sbatch refused the job")
    assert not squeue(array_name(study_dir))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (
            "slurm-array?queue=short",
            r"unknown option 'queue'; the `slurm-array` executor accepts `partition`, `account`",
        ),
        ("slurm-array?time", r"option 'time' needs a value, as in time=VALUE"),
    ],
)
def test_bad_options_are_input_errors(spec: str, match: str) -> None:
    with pytest.raises(InputError, match=match), backends.open_backend(spec, 1):
        pass


def test_without_sbatch_is_an_input_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match=r"'slurm-array': `sbatch` not found; run reprovip on a machine of the"):
        with backends.open_backend("slurm-array", 1):
            pass


def test_result_of_a_task_is_what_the_local_worker_replies(tmp_path: Path) -> None:
    """The task entry point runs its pickled call and writes the local worker's reply, atomically."""
    import pickle

    folder = tmp_path / "array"
    (folder / "tasks").mkdir(parents=True)
    (folder / "results").mkdir()
    (folder / "tasks" / "3.pkl").write_bytes(pickle.dumps((json.dumps, ({"a": 1},), {})))
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": "3"}
    cmd = [sys.executable, "-m", "reprovip.execute.slurm_array", str(folder)]
    subprocess.run(cmd, env=env, check=True)
    from reprovip.execute.worker import reply

    written = (folder / "results" / "3.pkl").read_bytes()
    assert written == reply(json.dumps, ({"a": 1},), {}) and pickle.loads(written) == (True, '{"a": 1}')
    assert [p.name for p in (folder / "results").iterdir()] == ["3.pkl"]
    # A task whose folder the next run cleared has nothing to do.
    gone = subprocess.run([*cmd[:-1], str(tmp_path / "gone")], env=env, capture_output=True, text=True)
    assert gone.returncode == 0 and "no such task; its run has ended" in gone.stderr


class _Unpicklable(Exception):
    def __reduce__(self) -> Any:
        raise TypeError("cannot pickle a lock")


def _raise_unpicklable() -> None:
    raise _Unpicklable("held a lock")


def test_worker_reply_is_public_and_sends_what_cannot_travel_as_its_text() -> None:
    """`reprovip.execute.worker.reply`, which array tasks and local workers share: a value, an exception, and
    an exception that cannot be pickled (sent as a RuntimeError quoting it)."""
    import pickle

    from reprovip.execute.worker import reply

    assert pickle.loads(reply(divmod, (7, 2), {})) == (True, (3, 1))
    ok, error = pickle.loads(reply(int, ("x",), {"base": 10}))
    assert not ok and isinstance(error, ValueError) and "invalid literal for int()" in str(error)
    ok, error = pickle.loads(reply(_raise_unpicklable, (), {}))
    assert not ok and isinstance(error, RuntimeError)
    assert str(error) == "_Unpicklable('held a lock') (not picklable: cannot pickle a lock)"


def test_run_help_names_the_slurm_array_executor() -> None:
    from click.testing import CliRunner

    from reprovip.cli.main import cli

    shown = CliRunner().invoke(cli, ["run", "--help"])
    text = " ".join(shown.output.split())  # as wrapped for the terminal
    assert shown.exit_code == 0 and "Backend: local, dask-local, dask://HOST:PORT, slurm, slurm-array, pbs" in text
