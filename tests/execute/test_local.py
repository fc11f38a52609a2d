"""The local backend: worker processes fed through pipes, stopped by Ctrl-C, by the runner's death or error.

Real processes throughout: a pool of workers (one interpreter, the others forked from it), and the `reprovip`
command interrupted by SIGINT (to its process group, as a terminal does, or to the runner alone) or killed by
SIGKILL while its applications run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor
from pathlib import Path

import pytest

from reprovip.execute import local
from reprovip.execute.local import LocalPool
from reprovip.execute.sandbox import PID_FILE
from reprovip.study import Study
from tests.conftest import write_study


def test_pool_runs_calls_in_its_own_worker_processes() -> None:
    with LocalPool(2) as pool:
        pids = {f.result(timeout=60) for f in [pool.submit(os.getpid) for _ in range(20)]}
        assert len(pids) in (1, 2) and os.getpid() not in pids
        assert pool.submit(sum, [1, 2, 3]).result(timeout=60) == 6
        with pytest.raises(ValueError, match="invalid literal for int"):
            pool.submit(int, "x").result(timeout=60)
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(os.getpid)


def test_a_dead_worker_fails_its_call_and_is_replaced() -> None:
    with LocalPool(1) as pool:
        first = pool.submit(os.getpid).result(timeout=60)
        busy = pool.submit(time.sleep, 0.5)  # meanwhile the next calls queue up, and one is sent ahead
        dying = pool.submit(os._exit, 7)
        queued = [pool.submit(os.getpid) for _ in range(3)]
        busy.result(timeout=60)
        with pytest.raises(BrokenExecutor, match=rf"its local worker died \(process {first}, exit code 7"):
            dying.result(timeout=60)
        # What was sent ahead but never started runs on the replacement, without an error.
        assert {f.result(timeout=60) for f in queued} == {queued[0].result()} != {first}


def test_modules_in_the_current_folder_do_not_shadow_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("numpy", "select", "reprovip"):
        (tmp_path / f"{name}.py").write_text("raise ImportError('shadowed')\n")
    monkeypatch.chdir(tmp_path)
    with LocalPool(2) as pool:
        assert pool.submit(sum, [1, 2]).result(timeout=60) == 3


def test_a_worker_that_cannot_start_breaks_the_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "reprovip"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('a broken installation')\n")
    monkeypatch.setattr(local, "_IMPORT_ROOT", str(tmp_path))
    with LocalPool(2) as pool:
        futures = [pool.submit(os.getpid) for _ in range(3)]
        for f in futures:
            with pytest.raises(BrokenExecutor, match=r"a local worker could not start \(.+\): see its message above"):
                f.result(timeout=60)
        with pytest.raises(BrokenExecutor, match="could not start"):
            pool.submit(os.getpid).result(timeout=60)


def test_every_attempt_links_to_a_stored_provenance_record(tmp_path: Path) -> None:
    # Workers send the machine's record once and then its hash: every attempt must still point to it.
    study = Study.load(write_study(tmp_path, repetitions=4))
    assert study.run(jobs=2, progress=False).done == 12
    with study.catalog.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT a.provenance, p.data FROM attempts a LEFT JOIN provenances p ON p.hash = a.provenance"
        ).all()
    assert len(rows) == 12 and all(digest and data for digest, data in rows)
    assert len({digest for digest, _ in rows}) == 1


def test_a_script_without_a_main_guard_can_run_a_study(tmp_path: Path) -> None:
    # multiprocessing's spawn would re-import this script in every worker and fail.
    path = write_study(tmp_path / "s", repetitions=2)
    script = tmp_path / "script.py"
    script.write_text(
        "from reprovip import Study\n"
        f"summary = Study.load({str(path)!r}).run(jobs=2, progress=False)\n"
        "print(summary.done, summary.failed)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["6", "0"]


# -- stopping ---------------------------------------------------------------------------------------------


def _hanging_study(tmp_path: Path) -> Path:
    return write_study(tmp_path, app="misbehaving_app.py", args='"hang", "{outdir}"', repetitions=2, subjects=2)


def _start(path: Path, *, sigint_ignored: bool = False) -> tuple[subprocess.Popen[str], list[int]]:
    """Start `reprovip run -j 2` in a session of its own (with SIGINT ignored, as a shell's background job without
    job control starts it); return it once two applications are running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprovip", "run", str(path), "-j", "2", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, like a terminal's foreground job
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None,
    )
    work = path.parent / ".reprovip" / "work"
    for _ in range(600):
        groups = [int(p.read_text().split()[0]) for p in work.glob(f"*/*/{PID_FILE}") if p.read_text().strip()]
        if len(groups) == 2:
            return proc, groups
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the applications did not start: {proc.communicate()}")


def _alive(group: int, *, zombies: bool = False) -> list[int]:
    """Processes of a process group that are not zombies (with ``zombies``: those too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and (zombies or fields[0] != "Z"):
                found.append(int(entry.name))
    return found


def _eventually(condition: Callable[[], bool]) -> bool:
    for _ in range(200):
        if condition():
            return True
        time.sleep(0.05)
    return False


def _gone(groups: list[int]) -> bool:
    return _eventually(lambda: not any(_alive(g) for g in groups))


@pytest.mark.parametrize("target", ["process-group", "runner-only", "sigterm", "inherited-ignored"])
def test_ctrl_c_kills_the_running_applications_and_exits_130(tmp_path: Path, target: str) -> None:
    """Ctrl-C, to the terminal's process group or to the runner alone; and SIGTERM (`timeout`, a cancelled CI
    job), which left the run "running" and the results in SQLite's WAL only (review O). A run started with SIGINT
    ignored (`.ci/run` started as `cmd &` by a script: session 28's CI run) ran on, its applications too."""
    path = _hanging_study(tmp_path)
    proc, groups = _start(path, sigint_ignored=target == "inherited-ignored")
    assert _eventually(lambda: all(len(_alive(g)) == 2 for g in groups))  # each app and the child it forked
    if target == "process-group":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGTERM if target == "sigterm" else signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not (path.parent / ".reprovip" / "catalog.sqlite-wal").exists()  # folded in when the runner exited
    assert _gone(groups), "an application outlived the interrupted run"
    catalog = Study.load(path).catalog
    study_id = catalog.studies()[0]["id"]
    assert [r["status"] for r in catalog.runs(study_id)] == ["interrupted"]
    assert {e["status"] for e in catalog.executions(study_id)} == {"pending"}


def test_run_leaves_no_process_of_its_group_behind(tmp_path: Path) -> None:
    """Once `reprovip run -j 2` has returned, its process group is empty, zombies included.

    The second worker, forked from the first, used to be a grandchild reparented to init: it was still in the
    group, a zombie, when `run` returned (every time on this machine). Several rounds: a race is the point.
    """
    path = write_study(tmp_path, repetitions=4, subjects=2)
    for round_ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "reprovip", "run", str(path), "-j", "2", "--no-progress", "--force"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its pid is its process group's id
        )
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert _alive(proc.pid, zombies=True) == [], f"round {round_}: processes left in the group of `run`"


def test_applications_die_with_a_killed_runner(tmp_path: Path) -> None:
    path = _hanging_study(tmp_path)
    proc, groups = _start(path)
    proc.kill()
    proc.communicate(timeout=60)
    # No rerun needed: the workers see their job pipe close and kill what they run.
    assert _gone(groups), "an application outlived its killed runner"


def test_workers_of_a_killed_runner_exit_without_a_traceback(tmp_path: Path) -> None:
    """Each worker replies for the application it killed into a pipe nobody reads: BrokenPipeError, once silent.

    Repetition 1 succeeds first, so that a worker's next reply is small: buffered, it failed only when the
    worker closed its pipe on the way out, after the runner's death, and printed a traceback.
    """
    hanging = tmp_path / "hanging"
    hanging.mkdir()
    path = write_study(
        tmp_path,
        app="first_hour_app.py",
        args=f'"hang-late", "{{input}}", "{{outdir}}", "{{repetition}}", "{hanging}"',
        repetitions=3,
        subjects=2,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprovip", "run", str(path), "-j", "2", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert _eventually(lambda: len(list(hanging.iterdir())) == 2), "the applications did not start"
    proc.kill()
    _, err = proc.communicate(timeout=60)  # the workers share the runner's stderr: its end waits for theirs
    assert _gone([int(p.name) for p in hanging.iterdir()])  # each application leads its own group
    assert err == "", err


def test_an_execution_whose_worker_died_is_stopped_and_retried(tmp_path: Path) -> None:
    marker = tmp_path / "first-attempt"
    path = write_study(
        tmp_path,
        app="misbehaving_app.py",
        args=f'"kill-worker", "{{outdir}}", "{marker}"',
        repetitions=1,
        subjects=1,
        extra="retries: 1\n",
    )
    study = Study.load(path)
    summary = study.run(jobs=1, progress=False)
    assert (summary.done, summary.failed) == (1, 0)
    first_app = int(marker.read_text())  # "survived" (not a number) if the run waited for the orphan
    assert _eventually(lambda: not _alive(first_app)), "the orphaned first attempt was left running"
    execution = study.executions().iloc[0]
    attempts = study.catalog.attempts(execution["id"])
    assert [a["number"] for a in attempts] == [1, 2]
    assert "BrokenExecutor: its local worker died" in attempts[0]["error"]
    assert attempts[1]["error"] is None


def test_the_program_is_looked_up_in_the_path_the_application_gets(tmp_path: Path) -> None:
    # As with subprocess: a `PATH` set by the study decides which program runs; a missing one is a failure.
    tools = tmp_path / "tools"
    tools.mkdir()
    tool = tools / "mytool"
    tool.write_text(
        f"#!{sys.executable}\nimport pathlib, sys\npathlib.Path(sys.argv[1], 'result.json').write_text('{{}}')\n"
    )
    tool.chmod(0o755)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "s.txt").write_text("x")
    path = tmp_path / "study.yaml"
    path.write_text(
        "application:\n  command: [mytool, '{outdir}']\n"
        "subjects: {glob: 'data/{subject}.txt'}\n"
        f"env: {{PATH: '{tools}{os.pathsep}{os.environ['PATH']}'}}\n"
        "repetitions: 1\n"
        "outputs:\n  result: {path: result.json, kind: scalars}\n"
    )
    assert Study.load(path).run(jobs=2, progress=False).done == 1
    path.write_text(path.read_text().replace("command: [mytool", "command: [no-such-tool"))
    summary = Study.load(path).run(jobs=2, progress=False)
    assert summary.failed == 1
    assert summary.failures[0]["error"] == "could not start 'no-such-tool': No such file or directory"


def test_every_execution_starts_in_an_empty_working_folder(tmp_path: Path) -> None:
    # A worker keeps an emptied folder for its next execution; one with leftovers is never reused.
    app = tmp_path / "app.py"
    app.write_text(
        "import os, pathlib, sys\n"
        "out, rep = pathlib.Path(sys.argv[1]), int(sys.argv[2])\n"
        # The worker writes .reprovip-pid just after the start, so the app may or may not see it yet.
        "assert os.listdir(out) == [] and set(os.listdir(out.parent)) - {'.reprovip-pid'} == {'out'}, os.listdir(out.parent)\n"
        "(out / 'result.json').write_text('{\"value\": 1}')\n"
        "if rep % 2: (out / 'scratch.tmp').write_text('left behind')\n"
    )
    (tmp_path / "data").mkdir()
    for s in ("a", "b"):
        (tmp_path / "data" / f"{s}.txt").write_text(s)
    path = tmp_path / "study.yaml"
    path.write_text(
        f"application:\n  command: ['{sys.executable}', '{app}', '{{outdir}}', '{{repetition}}']\n"
        "subjects: {glob: 'data/{subject}.txt'}\nrepetitions: 4\n"
        "outputs:\n  result: {path: result.json, kind: scalars}\n"
    )
    summary = Study.load(path).run(jobs=1, progress=False)
    assert (summary.done, summary.failed) == (8, 0), summary.failures
    assert not (tmp_path / ".reprovip" / "work").exists()


def test_the_executions_a_worker_runs_are_marked_running(tmp_path: Path) -> None:
    """Review P2: the dashboard and `status` read "running 0" beside two busy workers (the local backend never
    reported what it started). Each worker's current execution is marked running within about a second."""
    import threading

    app = tmp_path / "slow.py"
    app.write_text(
        "import sys, time, json\ntime.sleep(3)\nopen(sys.argv[2] + '/result.json', 'w').write('{\"v\": 1}')\n"
    )
    study = Study.load(write_study(tmp_path, app=str(app), subjects=2, repetitions=2))
    done = threading.Event()
    ran = threading.Thread(target=lambda: (study.run(jobs=2, progress=False), done.set()))
    ran.start()
    seen = 0
    while not done.wait(0.2):
        with contextlib.suppress(Exception):  # the catalog is being created
            seen = max(seen, int(study.status()["running"].sum()))
    ran.join()
    assert seen == 2
    assert int(study.status()["done"].sum()) == 4
