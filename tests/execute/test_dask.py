"""The Dask backends with real processes: a ``dask scheduler``, ``dask worker`` processes, a ``LocalCluster``.

Each study runs real subprocess applications; the catalogs and blob hashes are compared with the local
executor's, and a worker is killed with SIGKILL while executions run on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("distributed", reason="the Dask backends need the extra: pip install 'reprovip[dask]'")

from reprovip.cli.main import main  # noqa: E402
from reprovip.execute import backends  # noqa: E402
from reprovip.study import Study  # noqa: E402
from tests.conftest import APPS, write_study  # noqa: E402
from tests.execute.test_slurm import (  # noqa: E402, F401  slurm_cluster: a fixture
    cancel_named,
    cancel_while_running_then_resume,
    sleepy_study,
    slurm_cluster,
)

THREADS = "  threads: [1, 2]\n"
OUTPUTS = "  result: {path: result.json, kind: scalars}\n  table: {path: table.csv, kind: table}\n"
DASK_BACKENDS = {
    "dask": "reprovip.execute.dask_backend:scheduler",
    "dask-local": "reprovip.execute.dask_backend:local_cluster",
    **{k: "reprovip.execute.dask_backend:jobqueue" for k in ("slurm", "pbs", "sge", "lsf", "htcondor")},
}


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the Dask backends by name, as ``backends.BACKENDS`` does."""
    for name, target in DASK_BACKENDS.items():
        monkeypatch.setitem(backends.BACKENDS, name, target)


class Cluster:
    """A ``dask scheduler`` and ``dask worker`` processes (one thread, no nanny), killed on exit."""

    def __init__(self, root: Path, n_workers: int) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []
        sched_file = root / "scheduler.json"
        self.scheduler = self._spawn(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--dashboard-address",
                "127.0.0.1:0",
                "--scheduler-file",
                str(sched_file),
            ],
            "scheduler",
        )
        deadline = time.monotonic() + 30
        while not sched_file.exists() or not sched_file.read_text().strip():
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dask scheduler did not start: {(root / 'scheduler.log').read_text()}")
            time.sleep(0.05)
        self.address = json.loads(sched_file.read_text())["address"]  # tcp://127.0.0.1:PORT
        self.workers = [
            self._spawn(
                [
                    "worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--no-dashboard",
                    "--no-nanny",
                    "--local-directory",
                    str(root / f"w{i}"),
                ],
                f"worker{i}",
            )
            for i in range(n_workers)
        ]
        from distributed import Client

        with Client(self.address, timeout="20s") as client:
            client.wait_for_workers(n_workers, timeout=30)

    @property
    def executor(self) -> str:
        return "dask://" + self.address.removeprefix("tcp://")

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def cluster(root: Path, n_workers: int) -> Iterator[Cluster]:
    c = Cluster(root, n_workers)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with cluster(tmp_path_factory.mktemp("dask"), 2) as c:
        yield c


def _catalog_view(study: Study) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, str]]]:
    """(execution, status) and (execution, output name, relpath, blob hash), sorted; an execution is named by
    subject, condition and repetition (ids also hash the study's name, which differs between the folders)."""
    sid = study.catalog.study_id(study.name)
    rows = study.catalog.executions(sid)
    key = {e["id"]: f"{e['subject']}|{e['condition_key']}|{e['repetition']}" for e in rows}
    execs = sorted((key[e["id"]], e["status"]) for e in rows)
    outs = sorted((key[o["execution_id"]], o["name"], o["relpath"], o["blob"]) for o in study.catalog.outputs(sid))
    return execs, outs


def _blobs_on_disk(study: Study) -> set[str]:
    return {p.name[:64] for p in (study.store / "blobs").glob("*/*")}


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """The 3 subjects x 2 conditions x 3 repetitions study run by the local executor."""
    d = tmp_path_factory.mktemp("local")
    study = Study.load(write_study(d, factors=THREADS, outputs=OUTPUTS))
    summary = study.run(jobs=2)
    assert (summary.planned, summary.done) == (18, 18)
    return _catalog_view(study)


@pytest.mark.parametrize("shared", ["", "?shared=1"], ids=["bytes", "shared"])
def test_scheduler_gives_the_catalog_of_the_local_executor(
    two_workers: Cluster, local_reference: tuple, tmp_path: Path, shared: str
) -> None:
    path = write_study(tmp_path, factors=THREADS, outputs=OUTPUTS)
    assert main(["run", str(path), "--executor", two_workers.executor + shared, "--no-progress"]) == 0
    study = Study.load(path)
    execs, outs = _catalog_view(study)
    assert (execs, outs) == local_reference
    assert len(execs) == 18 and {st for _, st in execs} == {"done"}
    assert _blobs_on_disk(study) == {blob for *_, blob in outs}
    # Both workers ran executions; each attempt names the machine and the provenance it ran with.
    attempts = [a for eid in study.executions()["id"] for a in study.catalog.attempts(eid)]
    assert len(attempts) == 18 and all(a["hostname"] and a["provenance"] for a in attempts)
    assert not (study.store / "work").exists() or not any((study.store / "work").iterdir())


@pytest.mark.parametrize("spec", ["dask-local", "dask-local?processes=1"], ids=["threads", "processes"])
def test_dask_local_gives_the_catalog_of_the_local_executor(local_reference: tuple, tmp_path: Path, spec: str) -> None:
    """Workers as threads of the runner (the default) or as processes of their own: the same catalog."""
    study = Study.load(write_study(tmp_path, factors=THREADS, outputs=OUTPUTS))
    summary = study.run(jobs=2, executor=spec)
    assert (summary.planned, summary.done, summary.failed) == (18, 18, 0)
    assert _catalog_view(study) == local_reference


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("dask://127.0.0.1", r"give the scheduler's address as dask://HOST:PORT"),
        ("dask://127.0.0.1:1?shared=maybe", r"`shared` must be one of \{'0', '1'\}, got 'maybe'"),
        ("dask://127.0.0.1:1?workers=3", r"unknown option 'workers'; the `dask` executor accepts `shared`$"),
        ("dask://127.0.0.1:1?processes=1", r"unknown option 'processes'; the `dask` executor accepts `shared`$"),
        ("dask-local?processes=maybe", r"`processes` must be one of \{'0', '1'\}, got 'maybe'"),
        ("dask-local?cores=2", r"unknown option 'cores'; the `dask-local` executor accepts `shared`, `processes`$"),
        ("dask://127.0.0.1:1", r"cannot reach the Dask scheduler at tcp://127.0.0.1:1"),
    ],
)
def test_bad_addresses_are_input_errors(spec: str, match: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from reprovip.errors import InputError
    from reprovip.execute import dask_backend

    monkeypatch.setattr(dask_backend, "CONNECT_TIMEOUT", "1s")

    with pytest.raises(InputError, match=match), backends.open_backend(spec, 1):
        pass


@pytest.fixture
def batch_system(slurm_cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: F811
    """A jobqueue configuration for the real Slurm cluster, here and in the `reprovip` processes a test starts
    (``DASK_*`` variables); yields the name of its worker jobs, which are cancelled at the end."""
    import dask

    pytest.importorskip("dask_jobqueue", reason="the batch backends need dask-jobqueue: pip install 'reprovip[dask]'")
    name = f"reprovip-dask-{tmp_path.name}"
    config = {
        "jobqueue.slurm.name": name,
        "jobqueue.slurm.cores": 1,
        "jobqueue.slurm.processes": 1,
        "jobqueue.slurm.memory": "1GiB",
        "jobqueue.slurm.python": sys.executable,
        "jobqueue.slurm.local-directory": str(tmp_path / "scratch"),
        "jobqueue.slurm.log-directory": str(tmp_path / "jobs"),
        "jobqueue.slurm.scheduler-options": {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"},
    }
    for key, value in config.items():
        monkeypatch.setenv("DASK_" + key.upper().replace(".", "__").replace("-", "_"), repr(value))
    with dask.config.set(config):
        yield name
    cancel_named(name)


def test_slurm_through_dask_jobqueue_gives_the_catalog_of_the_local_executor(
    batch_system: str, local_reference: tuple, tmp_path: Path
) -> None:
    study = Study.load(write_study(tmp_path / "study", factors=THREADS, outputs=OUTPUTS))
    done: list = []
    # A daemon thread: if the workers never came up, the test fails instead of waiting forever.
    runner = threading.Thread(target=lambda: done.append(study.run(jobs=2, executor="slurm")), daemon=True)
    runner.start()
    runner.join(timeout=300)
    logs = "".join(p.read_text() for p in (tmp_path / "jobs").glob("*"))
    assert done, f"the study did not finish in 300 s; worker job logs:\n{logs}"
    summary = done[0]
    assert (summary.planned, summary.done, summary.failed) == (18, 18, 0)
    assert _catalog_view(study) == local_reference


def test_slurm_worker_job_cancelled_while_running_is_run_again(batch_system: str, tmp_path: Path) -> None:
    """`scancel` of a worker job while it runs an execution: Dask runs it again on the other worker in the same
    run, and the next `reprovip run` has nothing left; every execution is done exactly once (one done attempt,
    one output), none lost."""
    path, markers = sleepy_study(tmp_path, subjects=2, repetitions=2)
    code, err, victim, (n, status, done, outputs) = cancel_while_running_then_resume(
        path,
        markers,
        "slurm",
        lambda marker: marker.split()[0],  # the worker's job
    )
    assert code == 0 and "4 completed, 0 failed" in err, err
    assert n == 4 and set(status.values()) == {"done"}
    assert done == dict.fromkeys(status, 1)
    assert outputs == dict.fromkeys(status, 1)
    assert (markers / victim[0]).read_text().split()[0] != victim[1].split()[0]  # in the other worker's job


def test_slurm_refusing_the_jobs_is_an_input_error_not_a_hang(
    batch_system: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dask

    from reprovip.errors import InputError
    from reprovip.execute import dask_backend

    monkeypatch.setattr(dask_backend, "SUBMIT_TIMEOUT", 3.0)
    with (
        dask.config.set({"jobqueue.slurm.queue": "nope"}),
        pytest.raises(InputError, match=r"'slurm': the batch system accepted no worker job within 3 s \(`sbatch`"),
    ):
        with backends.open_backend("slurm", 2):
            pass


def test_slurm_without_sbatch_or_configuration_is_an_input_error(
    batch_system: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import dask

    from reprovip.errors import InputError

    with monkeypatch.context() as patch:  # the fixture's teardown needs scancel
        patch.setenv("PATH", str(tmp_path))  # no sbatch anywhere
        with pytest.raises(InputError, match=r"'slurm': `sbatch` not found; run reprovip on a machine of the batch"):
            with backends.open_backend("slurm", 1):
                pass
    with (
        dask.config.set({"jobqueue.slurm.cores": None}),
        pytest.raises(InputError, match=r"'slurm': dask-jobqueue could not configure the cluster \(You must specify"),
    ):
        with backends.open_backend("slurm", 1):
            pass


SLEEPY_APP = """\
import json, os, sys, time
from pathlib import Path
inp, out, markers, name = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
worker = os.getppid()  # the dask worker process that runs this execution
(markers / f"{name}.{worker}.tmp").write_text(str(os.getpid()))
(markers / f"{name}.{worker}.tmp").rename(markers / f"{name}.{worker}")
time.sleep(2.0)
(out / "result.json").write_text(json.dumps({"value": float(inp.read_text().split()[-1]), "worker": worker}))
"""


def _marker_study(tmp_path: Path, app_text: str, repetitions: int, extra: str = "") -> tuple[Path, Path]:
    """A study of 2 subjects running ``app_text`` (it leaves markers of where each execution ran in the returned
    folder), with ``repetitions`` and ``extra`` study keys; returns (study path, markers folder). An absolute
    ``app`` path makes ``APPS / app`` that path."""
    app, markers = tmp_path / "app.py", tmp_path / "markers"
    app.write_text(app_text)
    markers.mkdir()
    path = write_study(
        tmp_path / "study",
        app=str(app),
        subjects=2,
        repetitions=repetitions,
        extra=extra,
        args=f'"{{input}}", "{{outdir}}", "{markers}", "{{subject}}-{{repetition}}"',
    )
    return path, markers


def test_killed_worker_executions_are_run_again_on_the_other_worker(tmp_path: Path) -> None:
    path, markers = _marker_study(tmp_path, SLEEPY_APP, 2, "retries: 2\n")
    with cluster(tmp_path / "dask", 2) as c, ThreadPoolExecutor(1) as pool:
        run = pool.submit(Study.load(path).run, jobs=2, executor=c.executor)
        victim = c.workers[0]
        deadline = time.monotonic() + 30
        while not list(markers.glob(f"*.{victim.pid}")):  # the victim is running an execution
            assert time.monotonic() < deadline and not run.done(), "no execution started on the worker"
            time.sleep(0.05)
        lost = {p.name.rsplit(".", 1)[0]: int(p.read_text()) for p in markers.glob(f"*.{victim.pid}")}
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        for app_pid in lost.values():  # the machine died: its applications with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(app_pid, signal.SIGKILL)
        summary = run.result(timeout=60)
        survivor = c.workers[1].pid
    assert (summary.done, summary.failed) == (4, 0)
    study = Study.load(path)
    sid = study.catalog.study_id(study.name)
    execs = study.catalog.executions(sid)
    assert len(execs) == 4 and {e["status"] for e in execs} == {"done"}
    outs = study.catalog.outputs(sid)
    assert sorted(o["execution_id"] for o in outs) == sorted(e["id"] for e in execs)  # one output each
    attempts = {e["id"]: study.catalog.attempts(e["id"]) for e in execs}
    assert all(len(a) == e["attempts"] >= 1 for e in execs for a in [attempts[e["id"]]])
    # The executions that were running on the killed worker finished on the survivor.
    by_name = {f"{e['subject']}-{e['repetition']}": e["id"] for e in execs}
    produced_by = {}
    for o in outs:
        blob = next((study.store / "blobs").glob(f"*/{o['blob']}*"))
        produced_by[o["execution_id"]] = json.loads(blob.read_text())["worker"]
    assert lost and all(produced_by[by_name[name]] == survivor for name in lost)


ORPHAN_APP = """\
import os, sys, time
from pathlib import Path
out, markers = Path(sys.argv[1]), Path(sys.argv[2])
try:  # the first attempt: its worker is killed; it writes 4 s later, then lives on
    fd = os.open(markers / "first", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
except FileExistsError:  # the attempt Dask runs again on the other worker: slower, and writes nothing
    time.sleep(6.0)
    sys.exit(0)
os.write(fd, f"{os.getppid()} {os.getpid()}".encode()); os.close(fd)
time.sleep(4.0)
try:
    (out / "result.json").write_text('{"value": 1000.0}')
except OSError:  # its folder removed
    pass
(markers / "orphan-wrote").write_text("")
time.sleep(60)
"""


def test_a_killed_workers_orphan_never_writes_into_the_attempt_run_again(tmp_path: Path) -> None:
    """The application of a killed worker lives on and would write its output 4 s later; Dask runs the execution
    again on the other worker, which writes nothing: that attempt is failed for its missing output, and the orphan
    is killed when it starts (the same machine), before it writes anything.

    Before the fix every attempt of an execution had the same {outdir}, `.reprovip/work/<id>/out`: the orphan's
    file landed in the second attempt's, which was recorded done with a value it never computed (review DK).
    Now each attempt has a folder of its own, and an attempt kills what an earlier one left running here.
    """
    app, markers = tmp_path / "orphan.py", tmp_path / "markers"
    app.write_text(ORPHAN_APP)
    markers.mkdir()
    path = write_study(tmp_path / "study", subjects=1, repetitions=1, args=f'"{{outdir}}", "{markers}"')
    path.write_text(path.read_text().replace(str(APPS / "det_app.py"), str(app)))
    orphan = None
    try:
        with cluster(tmp_path / "dask", 2) as c, ThreadPoolExecutor(1) as pool:
            run = pool.submit(Study.load(path).run, jobs=2, executor=c.executor + "?shared=1")
            deadline = time.monotonic() + 30
            while not (markers / "first").exists() or len((markers / "first").read_text().split()) < 2:
                assert time.monotonic() < deadline and not run.done(), "the first attempt did not start"
                time.sleep(0.05)
            worker, orphan = map(int, (markers / "first").read_text().split())
            next(w for w in c.workers if w.pid == worker).send_signal(signal.SIGKILL)  # its application lives on
            summary = run.result(timeout=60)  # after the 6 s of the attempt run again: the orphan's 4 s are past
        assert (summary.done, summary.failed) == (0, 1)
        assert summary.failures[0]["error"] == "missing output: result (result.json); the execution wrote no file"
        study = Study.load(path)
        assert study.catalog.outputs(study.catalog.study_id(study.name)) == []
        assert not (markers / "orphan-wrote").exists()  # killed by the attempt run again, on the same machine
        assert not _alive(orphan)
    finally:
        if orphan is not None and _alive(orphan):  # the code before the fix left it running
            with contextlib.suppress(ProcessLookupError):
                os.kill(orphan, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (not a zombie: one killed that init has not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_dask_local_run_leaves_no_process_of_its_group_behind(tmp_path: Path) -> None:
    """`reprovip run --executor dask-local` returns with its process group empty, zombies included.

    Before, multiprocessing's resource tracker (started for the cluster's spawned workers) was still there,
    running, when the command had returned (both rounds of 2 on this machine).
    """
    from tests.execute.test_local import _alive

    path = write_study(tmp_path, repetitions=2, subjects=2)
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprovip", "run", str(path), "-j", "2", "--no-progress", "--executor", "dask-local"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its pid is its process group's id
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert _alive(proc.pid, zombies=True) == [], "processes left in the group of `run`"


def _with_marker(marker: str) -> list[int]:
    """Processes whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


@pytest.mark.parametrize("spec", ["dask-local", "dask-local?processes=1"], ids=["threads", "processes"])
def test_dask_local_interrupted_kills_its_applications_and_starts_no_more(tmp_path: Path, spec: str) -> None:
    """Ctrl-C during a `dask-local` run: exit 130 at once, no application left running, none started after.

    Before: the runner's wait for results missed the signal when the kernel delivered it to one of Dask's
    threads (the command ran on for minutes), and then workers freed by the kill started the queued executions,
    which outlived the command.
    """
    marker = f"reprovip-marker-{tmp_path.name}"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "s.txt").write_text("x")
    (tmp_path / "study.yaml").write_text(
        "application:\n"
        f"  command: [sh, -c, 'sleep 30 && echo done > \"$1/o.txt\"', {marker}, '{{outdir}}']\n"
        "subjects: {glob: 'data/{subject}.txt'}\nrepetitions: 6\noutputs:\n  o: {path: o.txt, kind: text}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprovip", "run", str(tmp_path / "study.yaml"), "-j", "2", "--no-progress"]
        + ["--executor", spec],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        # until two: `sh -c 'sleep 30 && ...'` forks for `sleep`, and the fork holds sh's command line (the marker)
        # until it execs: a third process for a moment, which failed a CI run
        while len(_with_marker(marker)) != 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert len(_with_marker(marker)) == 2, "two executions should be running"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, out
    assert out.strip().endswith("reprovip: interrupted"), out
    time.sleep(1)  # an execution started after the interrupt would show up by now
    assert _with_marker(marker) == []


def _listening(pid: int) -> list[str]:
    """The TCP addresses process ``pid`` listens on (``/proc/net/tcp*``; ``ss`` is not on every machine)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if (target := os.readlink(fd)).startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                loopback = address in ("0100007F", "00000000000000000000000001000000")
                found.append(f"{'loopback' if loopback else address}:{int(port, 16)}")
    return found


def test_dask_local_listens_on_loopback_only() -> None:
    """Review PP: `dask-local` opened HTTP servers on every interface (the scheduler's on 8787, and "Port 8787
    is already in use" beside another cluster), though docs/scaling.md says it runs no dashboard."""
    from reprovip.execute.dask_backend import local_cluster

    with local_cluster("dask-local", 2):
        listening = _listening(os.getpid())
    assert listening and all(a.startswith("loopback:") for a in listening), listening
    assert "loopback:8787" not in listening


# The first execution to claim `victim` stops its own Dask worker (SIGSTOP) while it runs: that worker can begin
# nothing more, however late the test looks (under load, a 2 s execution ended and the next began before the test
# killed its worker), and the test kills it.
VICTIM_APP = """\
import json, os, signal, sys, time
from pathlib import Path
inp, out, markers, name = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
worker = os.getppid()  # the dask worker process that runs this execution
(markers / f"{name}.{worker}").write_text(str(os.getpid()))  # it began, there
try:
    os.close(os.open(markers / "claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
except FileExistsError:
    time.sleep(0.5)
else:
    (markers / "victim.tmp").write_text(f"{name} {worker} {os.getpid()}")
    (markers / "victim.tmp").rename(markers / "victim")
    os.kill(worker, signal.SIGSTOP)
    time.sleep(60)
(out / "result.json").write_text(json.dumps({"value": float(inp.read_text().split()[-1]), "worker": worker}))
"""


@pytest.mark.parametrize(
    ("shared", "retries"), [("", 0), ("?shared=1", 1)], ids=["bytes-retries-0", "shared-retries-1"]
)
def test_an_execution_whose_worker_died_before_it_began_is_not_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: str, retries: int
) -> None:
    """A worker is killed (SIGKILL) while it runs one execution and holds another queued; with
    `distributed.scheduler.allowed-failures` 0, Dask fails both with `KilledWorker` at once.

    The one that began is a failed attempt blaming the backend, as before; the one that never began is no attempt:
    submitted again within the study's `retries` (then done, one attempt), else left pending and reported "not run:
    its Dask worker died before it started (KilledWorker)", the run's exit 3; the next run runs it.
    Before the fix both were failed attempts "backend error: KilledWorker ..." (review DK5).
    """
    from reprovip.cli.run import summary_lines

    path, markers = _marker_study(tmp_path, VICTIM_APP, 3, f"retries: {retries}\n")
    monkeypatch.setenv("DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES", "0")  # read by the scheduler process
    with cluster(tmp_path / "dask", 2) as c, ThreadPoolExecutor(1) as pool:
        run = pool.submit(Study.load(path).run, jobs=2, executor=c.executor + shared, progress=False)
        deadline = time.monotonic() + 30
        while not (markers / "victim").exists():  # the victim runs an execution, stopped, and holds the next
            assert time.monotonic() < deadline and not run.done(), "no execution started on a worker"
            time.sleep(0.05)
        began, worker, application = (markers / "victim").read_text().split()
        (victim,) = [w for w in c.workers if w.pid == int(worker)]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        with contextlib.suppress(ProcessLookupError):  # the machine died: its application with it
            os.killpg(int(application), signal.SIGKILL)
        summary = run.result(timeout=120)
        study = Study.load(path)
        sid = study.catalog.study_id(study.name)
        by_name = {f"{e['subject']}-{e['repetition']}": e for e in study.catalog.executions(sid)}
        attempts = {name: [a["status"] for a in study.catalog.attempts(e["id"])] for name, e in by_name.items()}
        errors = {n: [a["error"] for a in study.catalog.attempts(e["id"])] for n, e in by_name.items()}
        # Failed attempts, blaming the backend, only of executions that began on the victim: the one it ran, and
        # one whose result it had not sent yet (under load it ran one before the one that stopped it)
        on_victim = {p.name.rsplit(".", 1)[0] for p in markers.glob(f"*.{worker}")}
        failed = {n for n, a in attempts.items() if "failed" in a}
        assert began in failed and failed <= on_victim, (attempts, errors, sorted(p.name for p in markers.iterdir()))
        assert all(errors[n][0].startswith("backend error: KilledWorker") for n in failed), errors
        if retries:
            assert (summary.done, summary.failed, summary.not_run, summary.not_started) == (6, 0, 0, [])
            assert all(attempts[n] == ["failed", "done"] for n in failed), attempts
            assert all(a == ["done"] for n, a in attempts.items() if n not in failed)  # one attempt each
            return
        lost = [n for n, e in by_name.items() if e["status"] == "pending"]
        # what was queued on the victim (Dask gives a one-thread worker 2 tasks) never began: never an attempt
        assert lost and all(attempts[n] == [] and n not in on_victim for n in lost), (attempts, on_victim)
        done = 6 - len(failed) - len(lost)
        assert (summary.done, summary.failed, summary.not_run) == (done, len(failed), len(lost))
        assert [e["reason"] for e in summary.not_started] == [
            "not run: its Dask worker died before it started (KilledWorker)"
        ] * len(lost)
        assert not summary.ok
        lines = summary_lines(study.name, summary)
        assert lines[0].endswith(f"{done} completed, {len(failed)} failed, {len(lost)} not run")
        assert lines[1].startswith(
            f"{len(lost)} execution(s) not run: its Dask worker died before it started (KilledWorker), e.g. "
        )
        # The next run (the survivor still there) runs what was not run, and the failed ones
        code = main(["run", str(path), "--executor", c.executor + shared, "--no-progress"])
        again = {n: [(a["status"], a["error"]) for a in study.catalog.attempts(e["id"])] for n, e in by_name.items()}
        assert code == 0, again
    study = Study.load(path)
    execs = study.catalog.executions(sid)
    assert {e["status"] for e in execs} == {"done"}
    assert all(len(study.catalog.attempts(by_name[n]["id"])) == 1 for n in lost)


def test_status_shows_the_executions_a_dask_local_run_is_running(tmp_path: Path) -> None:
    """During a `dask-local` run of 2 workers, the catalog (what `reprovip status` and the dashboard read) shows
    executions running, never the 6 submitted at once (one queued on a worker has not begun), then none.

    Before the fix it read "running 0" throughout: only the local executor and Slurm arrays reported starts
    (review DK6).
    """
    path, _ = _marker_study(tmp_path, SLEEPY_APP, 3)
    seen = set()
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(Study.load(path).run, jobs=2, executor="dask-local", progress=False)
        reader = Study.load(path)
        while not run.done():
            rows = reader.status_rows()
            seen.add(sum(r["running"] for r in rows))
            time.sleep(0.1)
        summary = run.result()
    assert (summary.done, summary.failed) == (6, 0)
    # some shown running; never the 6 submitted at once to 2 workers of one thread (one queued has not begun: a
    # finished one whose end the runner has not recorded yet may still show beside the next)
    assert 1 <= max(seen) < 6, seen
    assert sum(r["running"] for r in Study.load(path).status_rows()) == 0
