"""What an application leaves running when it exits: killed at once, detached or not, in a local worker.

Real processes throughout. A local worker is a child subreaper: a detached child (``setsid``, its own session)
of the application is re-parented to the worker, which kills and reaps it when the application exits. The
cases come from a review: a detached daemon holding stdout made a ``timeout: 3`` execution take 61 s and read
"timed out" though the application exited 0 at once; a detached helper's late write landed in the next
execution's ``{outdir}`` (its working folder, recycled by renaming, was the helper's current directory).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from reprovip.execute.local import LocalPool
from reprovip.execute.runner import _cleanup_stale_work
from reprovip.execute.sandbox import PID_FILE, OutputDecl, Task, run_task
from reprovip.study import Study
from tests.conftest import write_study

LIFETIME = 30  # seconds a leftover child would live: far beyond every timeout below

# The application: prints its result, starts `sleep` in a session of its own that inherits stdout (a daemon),
# records its pid in the folder given, then exits 0 or hangs.
APP = """\
import os, subprocess, sys, time
pids, mode = sys.argv[1], sys.argv[2]
print("k,val\\na,1.0", flush=True)
child = subprocess.Popen(["sleep", "{lifetime}"], start_new_session=True)
open(os.path.join(pids, str(child.pid)), "w").close()
if mode == "hangs":
    time.sleep({lifetime})
"""


def _exists(pid: int) -> bool:
    """Whether process ``pid`` exists, running or a zombie (its /proc entry stays until it is reaped)."""
    return os.path.exists(f"/proc/{pid}")


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and is no zombie (one killed whose parent, here init, has not reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _pids(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.iterdir())


def _task(tmp_path: Path, n: int, mode: str, timeout: float, argv: list[str] | None = None) -> Task:
    """Execution ``e<n>`` of the test application in ``mode`` (or of ``argv``), its stdout a table output."""
    return Task(
        execution_id=f"e{n}",
        argv=argv or [sys.executable, str(tmp_path / "app.py"), str(tmp_path / "pids"), mode],
        values={},
        env={},
        outputs=[OutputDecl("res", "{stdout}.csv", "table")],
        timeout=timeout,
        work_root=str(tmp_path / "work"),
    )


@pytest.fixture
def app(tmp_path: Path):
    (tmp_path / "app.py").write_text(APP.format(lifetime=LIFETIME))
    (tmp_path / "pids").mkdir()
    yield tmp_path
    for pid in _pids(tmp_path / "pids"):  # the code before the fix left them running
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("mode", ["exits", "hangs"])
def test_a_detached_child_holding_stdout_is_killed_when_the_application_ends(app: Path, mode: str) -> None:
    """Two workers (the first one forked the second: it must spare it), two executions each.

    Before the fix each execution lasted the child's 30 s and read "timed out after 3 s" though the application
    had exited 0; the children lived on.
    """
    timeout = 3
    with LocalPool(2) as pool:
        futures = [pool.submit(run_task, _task(app, n, mode, timeout)) for n in range(4)]
        results = [f.result(timeout=120) for f in futures]
        # Checked while the workers still run: a leftover they did not reap would be their zombie.
        children = _pids(app / "pids")
        assert len(children) == 4
        assert [pid for pid in children if _exists(pid)] == []
        assert sorted(pid for r in results for pid in r["leftovers"]) == children
    assert len({r["pid"] for r in results}) == 4
    for r in results:
        assert r["duration"] < timeout + 5 < LIFETIME
        (child,) = r["leftovers"]
        assert r["stderr"] == f"[reprovip] a process the application started outlived it and was killed (pid {child})\n"
        if mode == "exits":
            # Done, with a note that its outputs may be incomplete (before: no trace of the kill but the stderr).
            assert (r["ok"], r["exit_code"], r["timed_out"]) == (True, 0, False)
            assert r["error"] == (
                "left running: a process the application started was still running when it exited and killed:"
                " its outputs may be incomplete"
            )
            assert Path(r["outputs"][0]["path"]).read_text() == "k,val\na,1.0\n"
        else:
            assert (r["ok"], r["exit_code"], r["timed_out"]) == (False, -9, True)
            assert r["error"] == "timed out after 3 s (process group killed)"


def test_a_late_write_of_a_detached_helper_never_reaches_another_execution(tmp_path: Path) -> None:
    """A helper in its own session writes `out/late.csv` relative to its current folder 0.8 s after it started.

    Before the fix it outlived the application and wrote into the folder the worker had renamed for the next
    execution: sub-02's outputs held a file with sub-01's data (`late-sub-01-...csv`), and the helpers lived on.
    Now its write, within the grace it gets, stays in its own execution's folder, and the execution is noted.
    """
    app = tmp_path / "app.py"
    app.write_text(
        "import os, subprocess, sys, time\n"
        "out, tag, pids = sys.argv[1], sys.argv[2], sys.argv[3]\n"
        "late = f\"import time; time.sleep(0.8); open('out/late-{tag}.csv', 'w').write('k,val\\\\na,2.0\\\\n');"
        f' time.sleep({LIFETIME})"\n'
        "helper = subprocess.Popen([sys.executable, '-c', late], start_new_session=True,\n"
        "                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "open(os.path.join(pids, str(helper.pid)), 'w').close()\n"
        "open(os.path.join(out, 'res.csv'), 'w').write('k,val\\na,1.0\\n')\n"
        "time.sleep(0.5)\n"
    )
    (tmp_path / "pids").mkdir()
    (tmp_path / "data").mkdir()
    for s in ("sub-01", "sub-02", "sub-03"):
        (tmp_path / "data" / f"{s}.txt").write_text(s)
    path = tmp_path / "study.yaml"
    path.write_text(
        f"application:\n  command: ['{sys.executable}', '{app}', '{{outdir}}', '{{subject}}-{{repetition}}',"
        f" '{tmp_path / 'pids'}']\n"
        "subjects: {glob: 'data/{subject}.txt'}\nrepetitions: 2\n"
        "outputs:\n  res: {path: '*.csv', kind: table, key_columns: [k]}\n"
    )
    try:
        summary = Study.load(path).run(jobs=1, progress=False)
        time.sleep(1.0)  # a helper still alive would have written by now
        assert (summary.done, summary.failed) == (6, 0), summary.failures
        catalog = Study.load(path).catalog
        outputs = catalog.outputs(catalog.studies()[0]["id"])
        # The late write lands within the grace the helper gets once the application exited (LEFTOVER_GRACE):
        # in its own execution's folder, never in another's; then the helper is killed and the execution noted.
        assert sorted((o["subject"], o["repetition"], o["relpath"]) for o in outputs) == sorted(
            [(s, r, "res.csv") for s in ("sub-01", "sub-02", "sub-03") for r in (1, 2)]
            + [(s, r, f"late-{s}-{r}.csv") for s in ("sub-01", "sub-02", "sub-03") for r in (1, 2)]
        )
        rows = catalog.executions(catalog.studies()[0]["id"])
        assert all(r["error"].startswith("left running: ") for r in rows)
        helpers = _pids(tmp_path / "pids")
        assert len(helpers) == 6
        assert [pid for pid in helpers if _exists(pid)] == []
    finally:
        for pid in _pids(tmp_path / "pids"):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


def test_elsewhere_a_detached_child_is_found_by_its_attempt_and_killed(app: Path) -> None:
    """In a process that is no subreaper (a Dask worker's thread: here, the test's own process), the detached
    child is found by the attempt its environment names (``REPROVIP_ATTEMPT``), killed and noted, as in a local
    worker; the working folder it may write into is thrown away, not renamed for the next execution.

    Before the fix it was not found: the execution read done with no note (review DK: a Dask study passed where
    the local executor said "not analysable"), reading its output until the timeout.
    """
    task = _task(app, 0, "exits", 20)
    result = run_task(replace(task, blob_root=str(app / "store")))
    (child,) = _pids(app / "pids")
    assert result["leftovers"] == [child] and not _running(child)
    assert (result["ok"], result["exit_code"], result["timed_out"]) == (True, 0, False)
    assert result["error"].startswith("left running: a process the application started was still running")
    assert (
        result["stderr"] == f"[reprovip] a process the application started outlived it and was killed (pid {child})\n"
    )
    assert result["duration"] < 10 < task.timeout
    work = app / "work"
    assert [p.name for p in work.iterdir()] == [".trash"]
    assert [re.sub(r"-\d+$", "", p.name) for p in (work / ".trash").iterdir()] == ["e0"]


def test_elsewhere_a_detached_child_that_clears_its_environment_stops_reading_at_the_timeout(app: Path) -> None:
    """A detached child that names no attempt escapes a process that is no subreaper (docs/running.md): once the
    application has exited it is not waited for past the timeout (before, the execution lasted the child's 30 s
    and read "timed out after 2 s")."""
    (app / "app.py").write_text(
        APP.format(lifetime=LIFETIME).replace("start_new_session=True", "start_new_session=True, env={}")
    )
    task = _task(app, 0, "exits", 2)
    result = run_task(replace(task, blob_root=str(app / "store")))
    (child,) = _pids(app / "pids")
    assert _running(child)  # not this process's business: the fixture kills it
    assert result["duration"] < task.timeout + 5 < LIFETIME
    assert (result["ok"], result["exit_code"], result["timed_out"], result["leftovers"]) == (True, 0, False, [])
    assert result["stderr"] == (
        "[reprovip] a process the application started outlived it and kept its output open:"
        " reading stopped at the timeout (2 s)\n"
    )


def test_a_detached_child_and_its_own_child_are_both_killed(app: Path) -> None:
    """The grandchild's parent is alive when the application exits: it comes to the worker once its parent is
    killed, and is killed in the next round. Before the fix both lived on (30 s)."""
    (app / "tree.py").write_text(
        "import os, subprocess, sys\n"
        "pids = sys.argv[1]\n"
        'script = (\'import os, subprocess, sys; c = subprocess.Popen(["sleep", "%d"]);\'\n'
        "          ' open(os.path.join(sys.argv[1], str(c.pid)), \"w\").close(); c.wait()')\n"
        f"child = subprocess.Popen([sys.executable, '-c', script % {LIFETIME}, pids], start_new_session=True,\n"
        "                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "open(os.path.join(pids, str(child.pid)), 'w').close()\n"
        "while len(os.listdir(pids)) < 2: pass\n"  # the grandchild runs
    )
    task = _task(app, 0, "exits", 20)
    task = replace(task, argv=[sys.executable, str(app / "tree.py"), str(app / "pids")], outputs=[])
    with LocalPool(1) as pool:
        result = pool.submit(run_task, task).result(timeout=120)
        both = _pids(app / "pids")
        assert [pid for pid in both if _exists(pid)] == []
    assert len(both) == 2 and sorted(result["leftovers"]) == both
    assert (result["ok"], result["exit_code"], result["timed_out"]) == (True, 0, False)
    child, grandchild = result["leftovers"]  # the grandchild comes to the worker once its parent is killed
    assert result["stderr"] == (
        f"[reprovip] processes the application started outlived it and were killed (pids {child}, {grandchild})\n"
    )


@pytest.mark.parametrize("detach", ["", "os.setpgid(0, 0)", "os.setsid()"])
@pytest.mark.parametrize("executor", ["local", "dask-local"])
def test_a_background_writer_killed_at_exit_is_a_note_of_the_done_execution(
    tmp_path: Path, executor: str, detach: str
) -> None:
    """The application starts its writer in the background and exits without waiting for it (a missing
    ``wait``): the worker kills the writer, and the CSV holds its header only (a review's case). A Dask worker,
    no subreaper, killed the writer in the application's group unsaid, and the study passed (review W).

    Before the fix every execution was done with no note but a line of its stored stderr, and the study read
    "sufficiently reproducible, with warnings" (exit 0): the analysis document now counts the executions so
    noted (``executions.notes``), and the runner records the note as the execution's ``error``.

    ``detach``: the writer in a process group of its own (``setpgid``), or a session of its own. Under `dask-local`
    only the application's group was looked at: both were missed, and the study read "bit-for-bit identical",
    each CSV lacking its last row, where the local executor said "not analysable" (review DK).
    """
    app = tmp_path / "app.py"
    app.write_text(
        "import os, sys, time\n"
        "out = sys.argv[1]\n"
        "if os.fork() == 0:\n"
        f"    {detach or 'pass'}\n"
        "    with open(os.path.join(out, 'res.csv'), 'w') as f:\n"
        "        f.write('tissue,volume\\n'); f.flush(); time.sleep(LIFETIME); f.write('gm,1.0\\n')\n"
        "    os._exit(0)\n"
        "while not os.path.exists(os.path.join(out, 'res.csv')): time.sleep(0.01)\n".replace("LIFETIME", str(LIFETIME))
    )
    (tmp_path / "data").mkdir()
    for s in ("sub-01", "sub-02"):
        (tmp_path / "data" / f"{s}.txt").write_text(s)
    path = tmp_path / "study.yaml"
    path.write_text(
        f"application:\n  command: ['{sys.executable}', '{app}', '{{outdir}}']\n"
        "subjects: {glob: 'data/{subject}.txt'}\nrepetitions: 2\n"
        "outputs:\n  res: {path: res.csv, kind: table, key_columns: [tissue]}\n"
    )
    study = Study.load(path)
    summary = study.run(jobs=1, progress=False, executor=executor)
    assert (summary.done, summary.failed) == (4, 0)
    message = (
        "a process the application started was still running when it exited and killed: its outputs may be incomplete"
    )
    rows = study.catalog.executions(study.catalog.studies()[0]["id"])
    assert [(r["status"], r["error"]) for r in rows] == [("done", f"left running: {message}")] * 4
    document = study.analyze().document
    notes = document["executions"]["notes"]
    assert list(notes) == ["left running"]
    # the outputs may be half-written: no verdict on them (was "sufficiently reproducible, with warnings")
    assert document["verdict"]["status"] == "error" and document["verdict"]["exit_code"] == 1
    assert any(a.get("note") == "left running" and a["severity"] == "fail" for a in document["alerts"])
    assert (notes["left running"]["count"], notes["left running"]["message"]) == (4, message)
    where = [(e["subject"], e["repetition"]) for e in notes["left running"]["executions"]]
    assert where == [("sub-01", 1), ("sub-01", 2), ("sub-02", 1), ("sub-02", 2)]


def test_a_process_pools_helpers_ending_with_the_application_are_not_left_running(tmp_path: Path) -> None:
    """multiprocessing's spawn and forkserver helpers (the resource tracker, the fork server) and joblib's loky
    workers end by themselves once the tool has exited: killed at once, every execution of such a tool was noted
    "left running" and a bit-for-bit identical study read "not analysable" (a review). They get a moment
    (``LEFTOVER_GRACE``) to end; nothing is noted."""
    app = tmp_path / "app.py"
    app.write_text(
        "import multiprocessing as mp, os, sys\n"
        "def sq(x): return x * x\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('forkserver').Pool(2) as pool: r = sum(pool.map(sq, [1.0, 2.0, 3.0]))\n"
        "    open(os.path.join(sys.argv[1], 'o.csv'), 'w').write(f'k,v\\na,{r}\\n')\n"
    )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sub-01.txt").write_text("x")
    path = tmp_path / "study.yaml"
    path.write_text(
        f"application:\n  command: ['{sys.executable}', '{app}', '{{outdir}}']\n"
        "subjects: {glob: 'data/{subject}.txt'}\nrepetitions: 2\n"
        "outputs:\n  o: {path: o.csv, kind: table, key_columns: [k]}\n"
    )
    study = Study.load(path)
    assert study.run(jobs=1, progress=False).done == 2
    rows = study.catalog.executions(study.catalog.studies()[0]["id"])
    assert [r["error"] for r in rows] == [None, None]
    document = study.analyze().document
    assert document["executions"]["notes"] == {} and document["verdict"]["status"] == "identical"


@pytest.mark.parametrize("named", ["e9/0a1b2c3d", None])
def test_an_orphan_of_another_attempt_adopted_by_the_worker_is_killed_and_not_blamed(
    tmp_path: Path, named: str | None
) -> None:
    """A worker that dies leaves its application running; it is re-parented to the surviving worker (a subreaper),
    whose next execution's sweep killed it and noted that innocent execution "left running": the study read "not
    analysable" forever, though the execution it belonged to was run again (review DK). Here the orphan is made by
    a command the worker runs, which starts `sleep` naming another attempt (``REPROVIP_ATTEMPT``) and exits.

    Now it is killed and logged in the stderr, not blamed; one naming no attempt (its environment cleared) still
    is: it could be the execution's own, and a pass must not rest on that guess.
    """
    env = {"REPROVIP_ATTEMPT": named} if named else {}
    spawn = f"import subprocess as s; print(s.Popen(['sleep', '{LIFETIME}'], env={env!r}, stdout=s.DEVNULL, stderr=s.DEVNULL).pid)"
    task = _task(tmp_path, 1, "", 20, argv=[sys.executable, "-c", "print('k,val\\na,1.0')"])
    with LocalPool(1) as pool:
        orphan = int(pool.submit(subprocess.run, [sys.executable, "-c", spawn], capture_output=True).result().stdout)
        try:
            assert _running(orphan) and Path(f"/proc/{orphan}/stat").read_text().split()[3] == str(pool_pid(pool))
            result = pool.submit(run_task, task).result(timeout=60)
            assert not _running(orphan)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(orphan, 9)
    assert (result["ok"], result["exit_code"]) == (True, 0)
    if named:
        assert (result["leftovers"], result["error"]) == ([], None)
        assert (
            result["stderr"]
            == f"[reprovip] a process another execution left running was killed, not this execution's (pid {orphan})\n"
        )
    else:
        assert result["leftovers"] == [orphan] and result["error"].startswith("left running: ")
        assert (
            result["stderr"]
            == f"[reprovip] a process the application started outlived it and was killed (pid {orphan})\n"
        )


def pool_pid(pool: LocalPool) -> int:
    """The process id of a one-worker pool's worker."""
    return pool._workers[0].pid


def test_an_attempt_kills_what_an_earlier_attempt_of_its_execution_left_running(tmp_path: Path) -> None:
    """An earlier attempt of `e0` whose worker died left its folder and its application, which would write its
    result in 3 s (review DK); a process of another execution, `e01`, runs too. The attempt run again kills the
    first (found by the attempt its environment names), removes its folder and runs in a folder of its own; the
    other execution's process is left alone.

    Before the fix nothing was killed: the attempt run again removed the folder and ran at the same path, the
    orphan's later write landing in its {outdir}.
    """
    work = tmp_path / "work"
    earlier = work / "e0" / "0badc0de"
    (earlier / "out").mkdir(parents=True)
    late = f"import time; time.sleep(3); open('out/result.json', 'w').write('1000'); time.sleep({LIFETIME})"
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", late],
            cwd=earlier,
            env={**os.environ, "REPROVIP_ATTEMPT": f"{name}/0badc0de"},
            start_new_session=True,  # detached, as an application is: in no group of this process's
        )
        for name in ("e0", "e01")
    }
    try:
        task = Task(
            execution_id="e0",
            argv=[sys.executable, "-c", "import os; print(os.environ['REPROVIP_ATTEMPT'])"],
            values={},
            env={},
            outputs=[OutputDecl("res", "{stdout}", "text")],
            timeout=20,
            work_root=str(work),
        )
        result = run_task(task)
        assert procs["e0"].wait(timeout=5) == -9  # killed, not ended on its own
        assert procs["e01"].poll() is None
        attempt = Path(result["workdir"])
        assert attempt.parent == work / "e0" and attempt.name != earlier.name
        assert [p.name for p in (work / "e0").iterdir()] == [attempt.name]  # the earlier folder went
        assert result["stdout"] == f"e0/{attempt.name}\n" and re.fullmatch(r"[0-9a-f]{8}", attempt.name)
        assert (result["ok"], result["leftovers"], result["error"]) == (True, [], None)
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("env", ["inherited", "cleared"])
def test_elsewhere_a_writer_in_a_process_group_of_its_own_is_killed_and_noted(tmp_path: Path, env: str) -> None:
    """In a process that is no subreaper (a Dask or Slurm worker; here, the test's own process), the application
    starts its writer in a process group of its own (``setpgid``) and exits without waiting for it.

    Before the fix only the application's process group was looked at: the writer was missed, the execution was
    done with no note and its CSV lacked its last row (review DK). Now it is found in the application's session
    (its environment cleared too, naming no attempt) or by the attempt it names, killed and noted.
    """
    app = tmp_path / "app.py"
    app.write_text(
        "import os, subprocess, sys, time\n"
        "out, pids = sys.argv[1], sys.argv[2]\n"
        f"write = \"import time; f = open('res.csv', 'w'); f.write('k,val\\\\n'); f.flush(); time.sleep({LIFETIME});"
        " f.write('a,1.0\\\\n')\"\n"
        "writer = subprocess.Popen([sys.executable, '-c', write], cwd=out, process_group=0,"
        f" env={{}} if {env == 'cleared'} else None)\n"
        "open(os.path.join(pids, str(writer.pid)), 'w').close()\n"
        "while not os.path.exists(os.path.join(out, 'res.csv')): time.sleep(0.01)\n"
    )
    (tmp_path / "pids").mkdir()
    task = Task(
        execution_id="e0",
        argv=[sys.executable, str(app), "{outdir}", str(tmp_path / "pids")],
        values={},
        env={},
        outputs=[OutputDecl("res", "res.csv", "table")],
        timeout=20,
        work_root=str(tmp_path / "work"),
    )
    try:
        result = run_task(task)
        (writer,) = _pids(tmp_path / "pids")
        assert not _running(writer)
        assert (result["ok"], result["exit_code"], result["leftovers"]) == (True, 0, [writer])
        assert result["error"] == (
            "left running: a process the application started was still running when it exited and killed:"
            " its outputs may be incomplete"
        )
        assert result["stderr"] == (
            f"[reprovip] a process the application started outlived it and was killed (pid {writer})\n"
        )
        assert Path(result["outputs"][0]["path"]).read_text() == "k,val\n"
        assert 2 <= result["duration"] < 10  # the grace it gets to end on its own (LEFTOVER_GRACE), then killed
    finally:
        for pid in _pids(tmp_path / "pids"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def test_the_next_run_kills_what_a_killed_runners_attempts_left_running(tmp_path: Path) -> None:
    """A killed runner left an attempt's folder `work/e0/<attempt>/` recording its application's process group;
    the application's child had moved to a session of its own. The next run's cleanup kills the group and the
    child (found by the attempt its environment names), leaves another execution's process alone and removes the
    folders.

    Before the fix the folders were looked for one level up, `work/<id>/.reprovip-pid`: nothing was killed.
    """
    work, attempt = tmp_path / "work", "e0/0badc0de"
    (work / attempt).mkdir(parents=True)
    pids = tmp_path / "pids"
    for name in ("e0", "e1"):
        (pids / name).mkdir(parents=True)
    spawn = (
        "import subprocess, sys; c = subprocess.Popen(['sleep', sys.argv[2]], start_new_session=True);"
        " open(sys.argv[1] + '/' + str(c.pid), 'w').close(); subprocess.run(['sleep', sys.argv[2]])"
    )
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", spawn, str(pids / name), str(LIFETIME)],
            env={**os.environ, "REPROVIP_ATTEMPT": f"{name}/0badc0de"},
            start_new_session=True,
        )
        for name in ("e0", "e1")
    }
    try:
        for _ in range(200):
            if all(list((pids / name).iterdir()) for name in procs):
                break
            time.sleep(0.05)
        (child,), (other,) = _pids(pids / "e0"), _pids(pids / "e1")
        (work / attempt / PID_FILE).write_text(f"{procs['e0'].pid} {socket.gethostname()}")
        _cleanup_stale_work(work)
        assert procs["e0"].wait(timeout=5) == -9
        for _ in range(100):  # the detached child: killed, then reaped by init
            if not _running(child):
                break
            time.sleep(0.05)
        assert not _running(child) and _running(other) and procs["e1"].poll() is None
        assert not work.exists()
    finally:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)  # its group: the leader and its `sleep`
            proc.wait()
        for name in procs:
            for pid in _pids(pids / name):
                if _running(pid):  # the code before the fix left it running
                    os.kill(pid, 9)


def test_the_next_run_kills_what_a_runner_of_the_layout_before_attempt_folders_left_running(tmp_path: Path) -> None:
    """After an upgrade, a runner killed on the version before attempt folders left `work/<id>/.reprovip-pid`, one
    level up (review DK): the next run kills the process group it records and runs the study.

    Before the fix only `work/<id>/<attempt>/.reprovip-pid` was looked for: the application ran on.
    """
    path = write_study(tmp_path / "study", subjects=1, repetitions=1)
    study = Study.load(path)
    old = study.store / "work" / "0123456789abcdef"
    old.mkdir(parents=True)
    leftover = subprocess.Popen(["sleep", str(LIFETIME)], start_new_session=True)
    try:
        (old / PID_FILE).write_text(f"{leftover.pid} {socket.gethostname()}")
        summary = study.run(jobs=1, progress=False)
        assert leftover.wait(timeout=5) == -9
        assert (summary.done, summary.failed) == (1, 0)
        assert not old.exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leftover.pid, 9)  # the code before the fix left it running
        leftover.wait()
