"""What an application leaves running when it exits: killed at once, detached or not, in a local worker.

Real processes throughout. A local worker is a child subreaper: a detached child (``setsid``, its own session)
of the application is re-parented to the worker, which kills and reaps it when the application exits. The
cases come from a review: a detached daemon holding stdout made a ``timeout: 3`` execution take 61 s and read
"timed out" though the application exited 0 at once; a detached helper's late write landed in the next
execution's ``{outdir}`` (its working folder, recycled by renaming, was the helper's current directory).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from reprovip.execute.local import LocalPool
from reprovip.execute.sandbox import OutputDecl, Task, run_task
from reprovip.study import Study

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


def _pids(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.iterdir())


def _task(tmp_path: Path, n: int, mode: str, timeout: float) -> Task:
    return Task(
        execution_id=f"e{n}",
        argv=[sys.executable, str(tmp_path / "app.py"), str(tmp_path / "pids"), mode],
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


def test_elsewhere_reading_stops_at_the_timeout_and_the_folder_is_not_reused(app: Path) -> None:
    """In a process that is no subreaper (a Dask worker's thread: here, the test's own process), the detached
    child is not found; once the application has exited it is not waited for past the timeout, and the working
    folder it may write into is thrown away, not renamed for the next execution.

    Before the fix the execution lasted the child's 30 s and read "timed out after 2 s".
    """
    task = _task(app, 0, "exits", 2)
    store = app / "store"
    result = run_task(Task(**{**task.__dict__, "blob_root": str(store)}))
    (child,) = _pids(app / "pids")
    assert _exists(child)  # not this process's business: the fixture kills it
    assert result["duration"] < task.timeout + 5 < LIFETIME
    assert (result["ok"], result["exit_code"], result["timed_out"], result["leftovers"]) == (True, 0, False, [])
    assert result["stderr"] == (
        "[reprovip] a process the application started outlived it and kept its output open:"
        " reading stopped at the timeout (2 s)\n"
    )
    work = app / "work"
    assert [p.name for p in work.iterdir()] == [".trash"]
    assert [re.sub(r"-\d+$", "", p.name) for p in (work / ".trash").iterdir()] == ["e0"]


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
    task = Task(**{**task.__dict__, "argv": [sys.executable, str(app / "tree.py"), str(app / "pids")], "outputs": []})
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


@pytest.mark.parametrize("executor", ["local", "dask-local"])
def test_a_background_writer_killed_at_exit_is_a_note_of_the_done_execution(tmp_path: Path, executor: str) -> None:
    """The application starts its writer in the background and exits without waiting for it (a missing
    ``wait``): the worker kills the writer, and the CSV holds its header only (a review's case). A Dask worker,
    no subreaper, killed the writer in the application's group unsaid, and the study passed (review W).

    Before the fix every execution was done with no note but a line of its stored stderr, and the study read
    "sufficiently reproducible, with warnings" (exit 0): the analysis document now counts the executions so
    noted (``executions.notes``), and the runner records the note as the execution's ``error``.
    """
    app = tmp_path / "app.py"
    app.write_text(
        "import os, sys, time\n"
        "out = sys.argv[1]\n"
        "if os.fork() == 0:\n"
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
