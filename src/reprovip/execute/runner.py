"""Run a study: plan, skip what is done, execute the rest, store every attempt. Resumable and single-runner."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import queue
import random
import shutil
import socket
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from reprovip.errors import BACKEND_ERROR, InputError, StoreError
from reprovip.execute.backends import Backend, open_backend
from reprovip.execute.failures import FAILED_DIR, KEEP_FAILED, FailureGroup, error_signature, group_failures
from reprovip.execute.sandbox import PID_FILE, end_attempts, kill_group, run_task
from reprovip.execute.tasks import argv_template, build_task
from reprovip.plan import expand
from reprovip.plan.expand import (
    application_files,
    command_paths,
    content_digest,
    execution_recipes,
    files_stamp,
    recipe_hash,
)
from reprovip.store import BlobStore, RunLock
from reprovip.store.liveness import runner_alive

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from reprovip.study import Study

# SQLAlchemy and rich are imported once the workers are starting: their import overlaps the workers' start-up.

# A finished execution waits up to BATCH_WINDOW seconds for others to share its catalog transaction: a
# transaction's fixed cost is most of the cost of recording a short execution. Nothing waits on the catalog
# (every execution is already submitted), so this only delays the progress bar.
BATCH_WINDOW = 0.05
BATCH_MAX = 256
BATCH_NAP = 0.005
# How often the runner's wait for results wakes: a Ctrl-C the kernel delivers to another thread (Dask starts
# several) sets Python's flag without waking a blocked wait, and the main thread only sees it when it wakes.
SIGNAL_CHECK = 0.2
# Stop when the first max(FAIL_FAST_MIN, 2 x jobs) executions all failed with one error before any succeeded.
FAIL_FAST_MIN = 4
MAX_JOBS = 4096
# Errors of the store's disk, not of an execution: the run cannot go on, whatever runs next.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


@dataclass
class RunSummary:
    """What a run did."""

    planned: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False  # the first executions all failed with one error: the rest was not run
    not_run: int = 0  # executions left pending by the stop, or whose worker died before they began
    not_started: list[dict[str, Any]] = field(default_factory=list)  # the latter (see _not_started)
    replaced_ingested: int = 0  # ingested executions run now (their results give way)
    changed_during: int = 0  # executions run while the application's files changed: pending again

    @property
    def ok(self) -> bool:
        """True when no execution is left failed and none was left out."""
        return self.failed == 0 and not self.stopped and not self.not_started

    @property
    def groups(self) -> list[FailureGroup]:
        """The failures grouped by error (see :func:`~reprovip.execute.failures.group_failures`)."""
        return group_failures(self.failures)


class _Stop(Exception):
    """Raised inside the backend's block to stop the workers at once (the fail-fast rule)."""


@dataclass
class _EarlyFailures:
    """The failures while no execution has succeeded: the run stops when ``threshold`` attempts failed with one
    error. Attempts, not executions with their retries spent: every execution's first attempt is queued before
    any retry, so with `retries: 1` (what `init` writes) no execution had spent its retries before all had run
    once, and a broken study of a thousand executions ran them all (a review). The threshold counts each
    execution's retries (:func:`_fail_fast_threshold`), so a flaky application is not stopped sooner."""

    threshold: int
    failures: dict[str, dict[str, Any]] = field(default_factory=dict)  # execution id -> its last failure
    attempts: int = 0  # failed attempts
    succeeded: bool = False

    def add(self, failure: dict[str, Any] | None) -> None:
        """Count one finished attempt (``None``: a success)."""
        self.succeeded = self.succeeded or failure is None
        if failure is not None:
            self.failures[failure["id"]] = failure
            self.attempts += 1

    def stop(self) -> bool:
        """True when the run should stop."""
        signatures = {f["signature"] for f in self.failures.values()}
        return not self.succeeded and self.attempts >= self.threshold and len(signatures) == 1


def _fail_fast_threshold(jobs: int, retries: int) -> int:
    """Failed attempts that stop a run before any success: ``max(4, 2 x jobs)`` executions' worth of attempts,
    twice over when retries are declared (they are there for a short outage: a licence server down for 9 s at
    the start stopped a run its retries would have completed, a review). A stopped run resumes."""
    return max(FAIL_FAST_MIN, 2 * jobs) * (retries + 1) * (2 if retries else 1)


def _cleanup_stale_work(work: Path) -> None:
    """Kill what a killed runner left running, then clear its working folders (we hold the lock)."""
    if not work.exists():
        return
    _end_attempts(work, work.glob(f"*/*/{PID_FILE}"))  # <execution id>/<attempt>/
    # The layout before attempts had folders, `<execution id>/`: a runner killed on that version left its pid file
    # there after an upgrade, and nothing was killed (review DK). Those attempts named none in their environment.
    for pid_file in work.glob(f"*/{PID_FILE}"):
        if not pid_file.parent.name.startswith("."):
            _kill_recorded(pid_file)
    shutil.rmtree(work, ignore_errors=True)


def _end_attempts(work: Path, pid_files: Iterable[Path]) -> None:
    """Kill what attempts that are over left running on this host: the process group each ``<execution
    id>/<attempt>/`` folder's pid file records, and every process naming one of those attempts in its environment
    (a child of the application's in a group or session of its own too; see ``sandbox.ATTEMPT_VAR``)."""
    attempts = []
    for pid_file in pid_files:
        folder = pid_file.parent
        if not folder.parent.name.startswith("."):  # an attempt's folder, not in the trash or a Slurm array's
            _kill_recorded(pid_file)
            attempts.append(folder.relative_to(work).as_posix())
    end_attempts(attempts)


def _kill_recorded(pid_file: Path) -> None:
    """Kill the process group an execution's working folder records, if it ran on this host."""
    try:
        pid_text, pid_host = pid_file.read_text().split()
        if pid_host == socket.gethostname():
            kill_group(int(pid_text))
    except (OSError, ValueError):
        pass


def _empty_trash(trash: Path) -> None:
    if trash.exists():
        for p in trash.iterdir():
            shutil.rmtree(p, ignore_errors=True)


def _prune_failed(root: Path, keep: int, succeeded: list[str]) -> None:
    """Keep the ``keep`` newest working folders of failed executions; drop those of executions now done."""
    if not root.exists():
        return
    for eid in succeeded:
        shutil.rmtree(root / eid, ignore_errors=True)
    kept = sorted(root.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    for p in kept[keep:]:
        shutil.rmtree(p, ignore_errors=True)


def _storage_error(exc: BaseException, store: Path) -> StoreError | None:
    """A one-line :class:`StoreError` for a full or read-only disk under the store, else None."""
    from sqlalchemy.exc import OperationalError

    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        where, full = exc.filename or store, exc.errno in (errno.ENOSPC, errno.EDQUOT)
    elif isinstance(exc, OperationalError) and ("disk is full" in str(exc) or "readonly database" in str(exc)):
        where, full = store / "catalog.sqlite", "disk is full" in str(exc)
    else:
        return None
    if full:
        return StoreError(
            f"{where}: no space left on the disk of the study's store; free some space (or move the study folder "
            "to a larger disk) and run again: what finished is kept"
        )
    return StoreError(
        f"{where}: cannot write there ({os.strerror(exc.errno) if isinstance(exc, OSError) else 'read-only'}); "
        "reprovip stores results in the study folder's .reprovip/: run it where you can write (or copy the folder)"
    )


def _close_dead_runs(study: Study, study_id: int) -> None:
    """Record as interrupted the runs of this study still marked running whose runner is gone (``kill -9``)."""
    catalog = study.catalog
    for r in catalog.runs(study_id):
        if r["status"] == "running" and runner_alive(r["hostname"], r["pid"], r["started_at"]) is False:
            catalog.close_run(r["id"])


def _adopt_outputs(blobs: BlobStore, result: dict[str, Any]) -> list[dict[str, Any]]:
    """The output rows of ``result``, their files stored; a result whose worker stored an output where this store
    has none fails (review K: a worker that saw another folder at the study's path stored every output there, and
    the run recorded 12 executions done with no blob, "not analysable" ever after)."""
    rows = []
    for o in result.get("outputs", []):
        if not o["missing"] and o.get("adopted") and not blobs.path(o["blob"], o["suffix"]).exists():
            o["missing"] = True  # no row names a blob this store lacks
            result.update(
                ok=False,
                error=f"output {o['name']} was stored by its worker ({result.get('hostname')}) in no store this runner "
                f"sees (no {blobs.path(o['blob'], o['suffix'])}): that worker sees another folder at the study's "
                "path; give the workers the study's folder, or run without a shared filesystem",
            )
        if not o["missing"] and not o.get("adopted"):
            if "data" in o:
                blobs.put_bytes(o.pop("data"), o["suffix"])
            else:
                blobs.adopt(Path(o["path"]), o["blob"], o["suffix"])
        rows.append(
            {
                k: o.get(k)
                for k in ("name", "relpath", "kind", "blob", "suffix", "size", "semantic_hash", "missing", "error")
            }
        )
    return rows


def _next_batch(finished: queue.SimpleQueue[Future[Any]], pending: int) -> list[Future[Any]]:
    """Block for the next finished future, then gather others for up to :data:`BATCH_WINDOW` seconds.

    The gathering naps instead of waking for every arrival: short executions finish every millisecond or so.
    """
    while True:
        try:
            batch = [finished.get(timeout=SIGNAL_CHECK)]
            break
        except queue.Empty:
            continue
    deadline = time.monotonic() + BATCH_WINDOW
    wanted = min(pending, BATCH_MAX) - 1
    while finished.qsize() < wanted and time.monotonic() < deadline:
        time.sleep(BATCH_NAP)
    while len(batch) <= wanted:
        try:
            batch.append(finished.get_nowait())
        except queue.Empty:
            break
    return batch


def _factor_resources(study: Study) -> tuple[Any, Any, Any]:
    """Build or check what the `environments`, `os` and `container` factors need before anything runs."""
    spec, store = study.spec, study.store
    environments = rootfs = containers = None
    if "environments" in spec.factors:
        from reprovip.execute.environments import ensure_all

        cache = Path(os.environ.get("REPROVIP_ENV_CACHE") or store / "envs")
        environments = ensure_all(spec.factors["environments"], cache)
    if "os" in spec.factors:
        from reprovip.execute.rootfs import ensure_rootfs

        levels = spec.factors["os"]
        named = levels if isinstance(levels, dict) else {str(x): x for x in levels}
        rootfs = {label: ensure_rootfs(release) for label, release in named.items()}
    images = list(spec.factors.get("container", {}).values())
    if not images and spec.application.container is not None:
        images = [spec.application.container.model_dump()]
    if images:
        from reprovip.execute.container import prepare

        # Each image once: the engine can run it here (else a one-line error), and its digest.
        containers = {(d["engine"], d["image"]): prepare(d["engine"], d["image"]) for d in images}
    return environments, rootfs, containers


def _progress_bar(console: Console | None, enabled: bool) -> Progress | None:
    """The run's progress bar on stderr, or None when it is not shown (rich is then not even imported)."""
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("done {task.fields[done]} · failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
    )


def run_study(
    study: Study,
    *,
    jobs: int | None = None,
    force: bool = False,
    executor: str = "local",
    progress: bool = True,
    console: Console | None = None,
    keep_going: bool = False,
    keep_failed: int = KEEP_FAILED,
) -> RunSummary:
    """Run every execution of ``study`` that is not done yet.

    Parameters
    ----------
    study : Study
        The loaded study.
    jobs : int, optional
        Executions run at once (default: the number of CPUs).
    force : bool
        Run every execution again; its earlier attempts become history (see
        :meth:`~reprovip.store.catalog.Catalog.sync_plan`).
    executor : str
        Backend name (``local`` by default).
    progress : bool
        Show a progress bar on stderr.
    keep_going : bool
        Run everything even when the first executions all fail with one error (by default the run stops after
        ``max(4, 2 x jobs)`` such failures, none succeeded; see ``docs/running.md``).
    keep_failed : int
        Working folders of failed executions kept in ``.reprovip/failed/`` (the newest; 0: none).

    Returns
    -------
    RunSummary
        Counts and the failures (execution id, subject, condition, input, reason, argv, kept folder).

    Raises
    ------
    InputError
        ``jobs`` or ``keep_failed`` out of range.
    StoreError
        Another runner holds the store, or its disk is full or read-only.
    """
    if jobs is not None and not 1 <= jobs <= MAX_JOBS:
        raise InputError(
            f"jobs (--jobs) must be between 1 and {MAX_JOBS}, got {jobs}; leave it out to run one execution per CPU"
        )
    if keep_failed < 0:
        raise InputError(f"keep_failed (--keep-failed) must be 0 or more, got {keep_failed}")
    jobs = jobs or os.cpu_count() or 1
    options = dict(force=force, keep_going=keep_going, keep_failed=keep_failed, jobs=jobs)
    try:
        with RunLock(study.store):
            _cleanup_stale_work(study.store / "work")
            try:
                # Opened first: the workers start while the plan is stored.
                with open_backend(executor, jobs) as backend:
                    if backend.report_running is not None:
                        backend.report_running(study.catalog.mark_running)
                    return _run(study, backend, bar=_progress_bar(console, progress), **options)
            except _Stop as stop:
                return stop.args[0]
            finally:
                shutil.rmtree(study.store / "work", ignore_errors=True)
    except Exception as exc:  # noqa: BLE001 - only a full or read-only disk is turned into a StoreError
        error = _storage_error(exc, study.store)
        if error is None:
            raise
        raise error from exc


_SETTLE = 0.1  # seconds: a file seen other than at the start is hashed again after it, once its writer is done


class _FilesWatch:
    """The application's files (script, descriptor, the files its command names) as a run found them: polled as
    executions finish, it tells whether their bytes were ever other than at the start. A script swapped for
    another and back byte for byte had the same recipe when the run ended, two codes' executions recorded as one
    (review H); its stamp (:func:`files_stamp`) alone made a tool that saves its configuration again, same bytes,
    never complete (review J). The bytes are hashed again only when the stamp moved."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.recipe = recipe_hash(study.spec, study.directory)
        self.paths = application_files(study.spec, study.directory)  # the spec is fixed during a run
        self.stamp = files_stamp(self.paths)
        self.changed = False

    def poll(self) -> bool:
        """Whether the files' bytes differed from the start at this poll or an earlier one."""
        if not self.changed and (stamp := files_stamp(self.paths)) != self.stamp:
            self.changed = recipe_hash(self.study.spec, self.study.directory) != self.recipe
            if self.changed:  # maybe hashed half rewritten (same bytes again): read once more, when it has settled
                time.sleep(_SETTLE)
                self.changed = recipe_hash(self.study.spec, self.study.directory) != self.recipe
            self.stamp = files_stamp(self.paths) if not self.changed else stamp
        return self.changed


def _changed_during(study: Study, study_id: int, watch: _FilesWatch, ran: list[Any]) -> int:
    """When the application's files (its script, descriptor, the files its command names) changed while ``ran``
    ran, those executions are pending again under the files' recipe now, and their count is returned: a script
    edited during a run, then restored, left executions of two codes recorded as one and blamed on threads (review
    CA); ``watch`` saw them while the run ran (a swap and a swap back: review H). Their attempts stay as history."""
    if not ran or not watch.poll():
        return 0
    # forced: the same bytes again give the same recipe, which alone resets nothing
    study.catalog.sync_plan(study_id, ran, execution_recipes(study.spec, study.directory, ran), force=True)
    return len(ran)


def _run(
    study: Study, backend: Backend, *, force: bool, bar: Progress | None, keep_going: bool, keep_failed: int, jobs: int
) -> RunSummary:
    """Plan, then execute what is not done on ``backend``, recording every attempt (see :func:`run_study`)."""
    spec, store, catalog = study.spec, study.store, study.catalog
    from sqlalchemy.exc import OperationalError

    blobs = BlobStore(store)
    summary = RunSummary()
    planned = expand(spec, study.subjects)
    study_id = catalog.ensure_study(spec.name or "study", spec.model_dump(mode="json"), str(study.directory))
    # the stored recipes, when an earlier reprovip's (`key_columns` hashed) may be among them: kept, not run again
    stored = catalog.recipes(study_id) if any(o.key_columns for o in spec.outputs.values()) else None
    summary.replaced_ingested = catalog.sync_plan(
        study_id, planned, execution_recipes(spec, study.directory, planned, stored), force=force
    )
    _close_dead_runs(study, study_id)
    blobs.gc(catalog.referenced_blobs())
    by_id = {p.id: p for p in planned}
    todo = [e["id"] for e in catalog.executions(study_id) if e["status"] != "done" and e["id"] in by_id]
    # In a shuffled order (seeded by the study: the same every time): run subject by subject, a drift over time (a
    # timestamp, a filling disk, a warming machine) read as a difference between subjects, inflating the ICC, and
    # levels run one after the other took the blame for it (a review's `finished_at` passed, and named threads)
    random.Random(f"{spec.name or 'study'}:{study_id}").shuffle(todo)
    summary.planned, summary.skipped = len(planned), len(planned) - len(todo)
    watch = _FilesWatch(study)
    template = argv_template(spec, study.directory)
    environments, rootfs, containers = _factor_resources(study)
    run_id = catalog.start_run(study_id, "run", len(planned), socket.gethostname(), os.getpid())
    tries: dict[str, int] = {}
    status = "interrupted"
    shared = backend.shared_filesystem
    named = {} if shared else command_paths(spec, study.directory)
    files = {str(path.absolute()): content_digest(path) for path in named.values()}
    work_root, blob_root = (str(store / "work"), str(store)) if shared else (None, None)
    # no shared folder: this runner's own folder under each worker's temporary one (sandbox.Task.scratch)
    scratch = "" if shared else blake3.blake3(f"{socket.gethostname()}:{store.resolve()}".encode()).hexdigest()[:16]
    failed_root = str(store / FAILED_DIR) if shared and keep_failed else None
    early = None if keep_going else _EarlyFailures(_fail_fast_threshold(jobs, spec.retries))
    pending: dict[Future[dict[str, Any]], str] = {}
    finished: queue.SimpleQueue[Future[dict[str, Any]]] = queue.SimpleQueue()

    def submit(eid: str) -> None:
        tries[eid] = tries.get(eid, 0) + 1
        task = build_task(
            spec,
            study.directory,
            by_id[eid],
            template=template,
            work_root=work_root,
            scratch=scratch,
            environments=environments,
            rootfs=rootfs,
            containers=containers,
        )
        task = dataclasses.replace(task, return_bytes=not shared, blob_root=blob_root, failed_root=failed_root)
        if not shared:  # a worker anywhere runs the files it finds at the runner's paths: checked first (review K)
            task = dataclasses.replace(task, extra={**task.extra, "files": files})
        fut = backend.executor.submit(run_task, task)
        pending[fut] = eid
        # A queue of finished futures: `wait()` over every pending future costs O(pending) per call.
        fut.add_done_callback(finished.put)

    try:
        shown = contextlib.nullcontext() if bar is None else bar
        with ThreadPoolExecutor(1, thread_name_prefix="reprovip-janitor") as janitor, shown:
            ptask = None if bar is None else bar.add_task(spec.name or "run", total=len(todo), done=0, failed=0)
            for eid in todo:
                submit(eid)
            while pending:
                batch = []
                for fut in _next_batch(finished, len(pending)):
                    eid = pending.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as exc:  # the backend lost the task (worker died): retry like a failure
                        if (error := _storage_error(exc, store)) is not None:
                            raise error from exc  # the store's disk, not the execution: nothing can go on
                        began = _began(backend, fut, work_root, eid, exc)
                        if work_root:  # what its worker left running on this host is killed
                            _end_attempts(Path(work_root), Path(work_root, eid).glob(f"*/{PID_FILE}"))
                            # Its folders too: the next submission's are then the evidence that it began
                            shutil.rmtree(Path(work_root, eid), ignore_errors=True)
                        if not began:  # no attempt of the application: submitted again, or left pending
                            lost = _not_started(by_id[eid], exc)
                            if tries[eid] <= spec.retries:
                                submit(eid)
                            else:
                                summary.not_started.append(lost)
                                summary.not_run += 1
                                if bar is not None and ptask is not None:
                                    bar.update(ptask, advance=1)
                            continue
                        result = dict(ok=False, error=f"{BACKEND_ERROR}: {_lost(exc)}")
                    batch.append((eid, result, _adopt_outputs(blobs, result)))
                # One transaction for everything that finished together: whole executions or none.
                catalog.record_attempts(run_id, batch)
                watch.poll()
                janitor.submit(_empty_trash, store / "work" / ".trash")
                if failed_root:
                    janitor.submit(_prune_failed, Path(failed_root), keep_failed, [e for e, r, _ in batch if r["ok"]])
                for eid, result, _ in batch:
                    if result.get("workdir"):
                        shutil.rmtree(result["workdir"], ignore_errors=True)
                    failure = None if result["ok"] else _failure(by_id[eid], result)
                    if early is not None:
                        early.add(failure)
                    if failure and tries[eid] <= spec.retries:
                        submit(eid)
                        continue
                    if failure:
                        summary.failed += 1
                        summary.failures.append(failure)
                    else:
                        summary.done += 1
                    if bar is not None and ptask is not None:
                        bar.update(ptask, advance=1, done=summary.done, failed=summary.failed)
                if early is not None and pending and early.stop():
                    # No success yet, so every execution with a failed attempt is failed in the catalog (those
                    # awaiting a retry too); the others, running or queued, are stopped and stay pending.
                    status = "stopped"
                    summary.stopped, summary.failures = True, list(early.failures.values())
                    summary.failed = len(summary.failures)
                    summary.not_run = len(todo) - summary.failed
                    raise _Stop(summary)
        status = "finished"
        summary.changed_during = _changed_during(study, study_id, watch, [by_id[e] for e in tries])
    finally:
        try:
            catalog.finish_run(run_id, status, summary.done, summary.failed)
        except OperationalError:
            if status == "finished":  # else the error that stopped the run is the one to report
                raise
    return summary


def _began(backend: Backend, fut: Future[Any], work_root: str | None, eid: str, exc: BaseException) -> bool:
    """Whether the task of ``fut``, lost by the backend with ``exc``, began: its attempt's folder exists (a shared
    filesystem), or the backend says so. Unknown counts as begun, an attempt (as before review DK5), but for a
    cancellation (the Dask scheduler killed: review K's unstarted executions were failed attempts, and a clean
    resume still warned "reprovip's workers failed")."""
    said = backend.began(fut) if backend.began is not None else None
    if work_root and Path(work_root, eid).exists():
        return True
    if said is None and "Cancel" in type(exc).__name__:
        return False
    return said is not False


def _lost(exc: BaseException) -> str:
    """How a task the backend lost reads: its error, and for a cancellation with no word (Dask's scheduler killed
    or gone: review K read `backend error: CancelledError: `) what likely cancelled it.

    Examples
    --------
    >>> import concurrent.futures
    >>> _lost(RuntimeError("worker died")), _lost(concurrent.futures.CancelledError())
    ('RuntimeError: worker died', 'CancelledError: cancelled by the backend (its scheduler lost or shut down?)')
    """
    said = str(exc) or (
        "cancelled by the backend (its scheduler lost or shut down?)" if "Cancel" in type(exc).__name__ else ""
    )
    return f"{exc.__class__.__name__}: {said}"


def _not_started(p: Any, exc: BaseException) -> dict[str, Any]:
    """What the summary says of planned execution ``p`` whose worker died before it began (``exc``, the backend's
    error): not run, never a failure of the application (review DK5)."""
    dask = type(exc).__module__.split(".")[0] == "distributed"
    return dict(
        id=p.id,
        subject=p.subject.id,
        condition=p.condition.key,
        repetition=p.repetition,
        reason=f"not run: its {'Dask ' if dask else ''}worker died before it started ({exc.__class__.__name__})",
    )


def _failure(p: Any, result: dict[str, Any]) -> dict[str, Any]:
    """What the summary says of a failed attempt of planned execution ``p``."""
    error = str(result.get("error") or "unknown error")
    return dict(
        id=p.id,
        subject=p.subject.id,
        condition=p.condition.key,
        repetition=p.repetition,
        input=p.subject.input,
        error=error,
        signature=error_signature(error, subject=p.subject.id, input=p.subject.input, execution_id=p.id),
        argv=result.get("argv"),
        kept=result.get("kept"),
    )
