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
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from reprovip.errors import InputError
from reprovip.execute.backends import Backend

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


def _distributed() -> Any:
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise InputError(f"the Dask executors need Dask: pip install 'reprovip[dask]' ({exc})") from exc


def _options(spec: str, defaults: dict[str, bool]) -> dict[str, bool]:
    """The boolean query options of ``spec`` (``dask://host:port?shared=1``), those absent at their default."""
    query = parse_qs(urlsplit(spec).query) if "?" in spec else {}
    unknown = set(query) - set(defaults)
    if unknown:
        first = sorted(unknown)[0]
        valid = ", ".join(f"`{name}`" for name in defaults)
        raise InputError(f"executor {spec!r}: unknown option {first!r}; valid options: {valid}")
    options = dict(defaults)
    for name in defaults:
        value = query.get(name, [""])[-1].lower()
        if not value:
            continue
        if value not in _TRUE | _FALSE:
            raise InputError(f"executor {spec!r}: `{name}` must be one of {{'0', '1'}}, got {value!r}")
        options[name] = value in _TRUE
    return options


@contextlib.contextmanager
def _serve(client: Any, shared: bool, *, owned: bool) -> Iterator[Backend]:
    """Yield the backend; on an interrupt, kill the applications still running on workers we own."""
    executor = client.get_executor(pure=False)
    try:
        yield Backend(executor, shared_filesystem=shared)
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
