"""Dask backends: an existing scheduler, a local cluster, or a batch scheduler through dask-jobqueue.

Each factory is a context manager yielding a :class:`~reprovip.execute.backends.Backend` whose executor is
``client.get_executor(pure=False)``; on exit it closes the client and the cluster it started. Workers run
:func:`~reprovip.execute.sandbox.run_task`, so they need reprovip installed (the same version as the runner)
and capture the provenance of the machine they run on.

``dask://HOST:PORT``
    Connect to a running scheduler. Workers are assumed not to share the study's folder: outputs come back as
    bytes and the runner stores them. ``dask://HOST:PORT?shared=1`` says they do: workers move outputs into
    the blob store themselves, and only hashes travel back. ``--jobs`` is ignored: the cluster's worker
    threads set how many executions run at once.
``dask-local``
    A ``LocalCluster`` of ``--jobs`` single-threaded workers without a dashboard. They are threads of the
    runner's process: each execution is a process of its own anyway, and worker processes would cost 1.5-2 s of
    start and stop (spawned interpreters importing distributed). ``dask-local?processes=1`` gives each worker a
    process of its own, on 127.0.0.1.
``slurm``, ``pbs``, ``sge``, ``lsf``, ``htcondor``
    A dask-jobqueue cluster configured by its standard file (``~/.config/dask/jobqueue.yaml``), scaled to
    ``--jobs`` workers. The study folder must be on a filesystem the compute nodes share (``?shared=0``, as in
    ``slurm://?shared=0``, sends outputs back as bytes instead).

Every worker thread runs one execution at a time: give workers one thread each (``--nthreads 1``,
``cores`` equal to ``processes`` in jobqueue.yaml), and reserve the CPUs a multi-threaded application needs
through the batch system (``job-cpu``, ``job-extra-directives``). See docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any
from urllib.parse import urlsplit

from reprovip.errors import InputError
from reprovip.execute.backends import Backend, executor_options

JOBQUEUE = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
CONNECT_TIMEOUT = "10s"
SUBMIT_TIMEOUT = 60.0  # seconds for the batch system to accept the first worker job
RUNNING_EVERY = 1.0  # seconds between two reports of the executions begun (one catalog transaction each)


def _distributed() -> Any:
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise InputError(f"the Dask executors need Dask: pip install 'reprovip[dask]' ({exc})") from exc


def _options(spec: str, defaults: dict[str, bool]) -> dict[str, bool]:
    """The boolean query options of ``spec`` (``dask://host:port?shared=1``), those absent at their default."""
    options = dict(defaults)
    for name, value in executor_options(spec, list(defaults)).items():
        if value.lower() not in _TRUE | _FALSE:
            raise InputError(f"executor {spec!r}: `{name}` must be one of {{'0', '1'}}, got {value!r}")
        options[name] = value.lower() in _TRUE
    return options


def _announced(topic: str, token: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """On a Dask worker: tell the runner that task ``token`` begins (a Dask event under ``topic``), then run it."""
    from distributed import get_worker

    get_worker().log_event(topic, token)
    return fn(*args, **kwargs)


class _Announcing(Executor):
    """``client.get_executor(pure=False)`` whose tasks announce their start to the runner.

    The scheduler cannot tell a task a worker runs from one queued on it: both are "processing" there, and a
    worker's death counts against both; after ``distributed.scheduler.allowed-failures`` deaths it fails both with
    ``KilledWorker``, one that never began included (review DK5). Each task logs a Dask event as it begins, which
    this client hears: :meth:`began` answers for a failed task, and :meth:`report_running` marks the executions
    begun running in the catalog (``status`` read "running 0" during a ``dask-local`` run, review DK6).
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._inner = client.get_executor(pure=False)
        self._topic = f"reprovip-began-{uuid.uuid4().hex}"  # a scheduler may serve other runners
        self._tokens: dict[Future[Any], str] = {}  # a failed task's token, until asked about
        self._ids: dict[str, str] = {}  # token -> execution id, while its task is not over
        self._futures: dict[str, Future[Any]] = {}
        self._began: set[str] = set()
        self._started: list[str] = []  # tokens begun since the last report (list.append is atomic)
        self._closed = False
        client.subscribe_topic(self._topic, self._heard)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue ``fn(*args, **kwargs)`` on the cluster; it logs its start first."""
        token = uuid.uuid4().hex
        fut = self._inner.submit(_announced, self._topic, token, fn, args, kwargs)
        self._tokens[fut] = token
        self._futures[token] = fut
        if (eid := getattr(args[0] if args else None, "execution_id", None)) is not None:
            self._ids[token] = eid
        fut.add_done_callback(self._over)
        return fut

    def _over(self, fut: Future[Any]) -> None:
        token = self._tokens[fut]
        self._ids.pop(token, None)
        self._futures.pop(token, None)
        if fut.cancelled() or fut.exception() is None:  # only a failed task is asked about
            self._tokens.pop(fut, None)
            self._began.discard(token)

    def _heard(self, event: tuple[float, Any]) -> None:
        """A task began (called in the client's event loop)."""
        self._began.add(event[1])
        self._started.append(event[1])

    def began(self, fut: Future[Any]) -> bool | None:
        """Whether the task of ``fut``, which failed, began on a worker (None: not a task of this executor)."""
        token = self._tokens.pop(fut, None)
        if token is None:
            return None
        began = token in self._began
        self._began.discard(token)
        return began

    def report_running(self, mark: Callable[[list[str]], None]) -> None:
        """Call ``mark(execution ids)`` about every :data:`RUNNING_EVERY` seconds with the executions that began
        since and are not over (the runner gives ``Catalog.mark_running``)."""

        def report() -> None:
            while not self._closed:
                time.sleep(RUNNING_EVERY)
                started, self._started = self._started, []
                ids = [eid for token in started if (eid := self._ids.get(token))]
                if ids:
                    with contextlib.suppress(Exception):  # a busy catalog: what it shows waits for the next report
                        mark(ids)

        threading.Thread(target=report, name="reprovip-dask-running", daemon=True).start()

    def stop_reporting(self) -> None:
        """Stop the reports of :meth:`report_running` and the events' subscription."""
        self._closed = True
        with contextlib.suppress(Exception):
            self._client.unsubscribe_topic(self._topic)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut Dask's executor down (``wait=False`` cancels what has not run), then stop reporting: cancelled
        first, before anything (a worker freed by the interrupt's kill) can start what is queued."""
        self._inner.shutdown(wait=wait)
        self.stop_reporting()


@contextlib.contextmanager
def _serve(client: Any, shared: bool, *, owned: bool) -> Iterator[Backend]:
    """Yield the backend; on an interrupt, kill the applications still running on workers we own."""
    executor = _Announcing(client)
    try:
        yield Backend(executor, shared_filesystem=shared, report_running=executor.report_running, began=executor.began)
    except BaseException:
        # Cancel what has not started first: a worker freed by the kill would otherwise start the next one.
        with contextlib.suppress(Exception):
            executor.shutdown(wait=False)
        if owned:  # a scheduler we did not start may run other people's executions: leave it alone
            from reprovip.execute.sandbox import kill_active

            with contextlib.suppress(Exception):
                client.run(kill_active)
        raise
    finally:
        executor.stop_reporting()
        client.close()


@contextlib.contextmanager
def scheduler(spec: str, jobs: int) -> Iterator[Backend]:
    """``dask://HOST:PORT[?shared=1]``: the workers of an existing scheduler (``jobs`` is not used)."""
    distributed = _distributed()
    parts = urlsplit(spec)
    if not parts.hostname or not parts.port:
        raise InputError(f"executor {spec!r}: give the scheduler's address as dask://HOST:PORT")
    address = f"tcp://{parts.netloc}"
    shared = _options(spec, {"shared": False})["shared"]
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise InputError(
            f"cannot reach the Dask scheduler at {address} ({exc.__class__.__name__}); "
            "start one with `dask scheduler` and its workers with `dask worker ADDRESS --nthreads 1`"
        ) from exc
    with _serve(client, shared, owned=False) as backend:
        yield backend


@contextlib.contextmanager
def local_cluster(spec: str, jobs: int) -> Iterator[Backend]:
    """``dask-local[?processes=1]``: ``jobs`` single-threaded workers on this machine (a shared filesystem)."""
    distributed = _distributed()
    options = _options(spec, {"shared": True, "processes": False})
    if not options["processes"]:
        # In-process workers talk to the scheduler without sockets; the executions still run as processes.
        with (
            distributed.LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=False,
                dashboard_address=None,
                # Their HTTP servers (health checks) on free loopback ports: they listened on every interface,
                # the scheduler's on 8787 (a review; "Port 8787 is already in use" beside another cluster)
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                worker_dashboard_address="127.0.0.1:0",
            ) as cluster,
            _serve(distributed.Client(cluster), options["shared"], owned=True) as backend,
        ):
            yield backend
        return
    with (
        _own_resource_tracker(),
        distributed.LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # No dashboard; the scheduler's small HTTP server (health checks) on a free loopback port, not 8787.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        ) as cluster,
    ):
        from reprovip.execute.dask_exit import QuickExit

        client = distributed.Client(cluster)
        with _serve(client, options["shared"], owned=True) as backend:
            client.register_plugin(QuickExit())  # closing the cluster waits for its workers' exit
            yield backend


@contextlib.contextmanager
def _own_resource_tracker() -> Iterator[None]:
    """Stop multiprocessing's resource tracker at the end when the cluster started it (it spawns its workers).

    Otherwise that process outlives the runner by a moment, in its process group; one that was running before
    may track the caller's own resources and is left alone. ``_stop`` is private (CPython's tests use it).
    """
    from multiprocessing import resource_tracker

    tracker = resource_tracker._resource_tracker
    ours = getattr(tracker, "_fd", None) is None
    try:
        yield
    finally:
        if ours:
            with contextlib.suppress(Exception):
                tracker._stop()


@contextlib.contextmanager
def jobqueue(spec: str, jobs: int) -> Iterator[Backend]:
    """``slurm``, ``pbs``, ``sge``, ``lsf``, ``htcondor``: a dask-jobqueue cluster of ``jobs`` workers."""
    distributed = _distributed()
    kind = spec.split("://", 1)[0].split("?", 1)[0]
    shared = _options(spec, {"shared": True})["shared"]
    try:
        module = importlib.import_module("dask_jobqueue")
    except ImportError as exc:
        raise InputError(f"executor {kind!r} needs dask-jobqueue: pip install 'reprovip[dask]' ({exc})") from exc
    try:
        cluster = getattr(module, JOBQUEUE[kind])()
    except (ValueError, KeyError, TypeError) as exc:  # a missing or incomplete jobqueue.yaml
        raise InputError(
            f"executor {kind!r}: dask-jobqueue could not configure the cluster ({exc}); "
            f"set `jobqueue: {kind}:` in ~/.config/dask/jobqueue.yaml (see docs/scaling.md)"
        ) from exc
    try:
        submit = cluster._dummy_job.submit_command if hasattr(cluster, "_dummy_job") else None
        if submit and not shutil.which(submit.split()[0]):
            raise InputError(
                f"executor {kind!r}: `{submit.split()[0]}` not found; run reprovip on a machine of the "
                "batch cluster (a login node, or a job of its own)"
            )
        cluster.scale(jobs)
        _check_submitted(cluster, kind, submit)
        with _serve(distributed.Client(cluster), shared, owned=True) as backend:
            yield backend
    finally:
        with contextlib.suppress(Exception):  # jobs that were never accepted make close() complain
            cluster.close()


def _check_submitted(cluster: Any, kind: str, submit: str | None) -> None:
    """Wait until the batch system accepted a worker job: a refused submission would otherwise wait forever.

    dask-jobqueue submits in the background and only logs a refusal (a wrong account, queue or resource).
    Accepted jobs may then wait in the queue as long as they need to.
    """
    deadline = time.monotonic() + SUBMIT_TIMEOUT
    while not any(getattr(job, "job_id", None) for job in cluster.workers.values()):
        if time.monotonic() > deadline:
            raise InputError(
                f"executor {kind!r}: the batch system accepted no worker job within {SUBMIT_TIMEOUT:g} s "
                f"(`{submit}` failed: its error is in the log above); check the queue, account and resources "
                "in ~/.config/dask/jobqueue.yaml"
            )
        time.sleep(0.1)
