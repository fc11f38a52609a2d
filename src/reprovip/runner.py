"""Run a study: plan, skip what is done, execute the rest, store every attempt. Resumable and single-runner."""

from __future__ import annotations

import dataclasses
import os
import queue
import shutil
import socket
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from reprovip.execute.backends import Backend, open_backend
from reprovip.execute.sandbox import PID_FILE, kill_group, run_task
from reprovip.plan import expand, recipe_hash
from reprovip.store import BlobStore, RunLock
from reprovip.tasks import argv_template, build_task

if TYPE_CHECKING:
    from reprovip.study import Study

# A finished execution waits up to BATCH_WINDOW seconds for others to share its catalog transaction: a
# transaction's fixed cost is most of the cost of recording a short execution. Nothing waits on the catalog
# (every execution is already submitted), so this only delays the progress bar.
BATCH_WINDOW = 0.05
BATCH_MAX = 256
BATCH_NAP = 0.005


@dataclass
class RunSummary:
    """What a run did."""

    planned: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no execution is left failed."""
        return self.failed == 0


def _cleanup_stale_work(work: Path) -> None:
    """Kill what a killed runner left running, then clear its working folders (we hold the lock)."""
    if not work.exists():
        return
    for pid_file in work.glob(f"*/{PID_FILE}"):
        _kill_recorded(pid_file)
    shutil.rmtree(work, ignore_errors=True)


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


def _adopt_outputs(blobs: BlobStore, result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for o in result.get("outputs", []):
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
    batch = [finished.get()]
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


def _factor_resources(study: Study) -> tuple[Any, Any]:
    """Build what the `environments` and `os` factors need before anything runs (cached between runs)."""
    spec, store = study.spec, study.store
    environments = rootfs = None
    if "environments" in spec.factors:
        from reprovip.execute.environments import ensure_all

        cache = Path(os.environ.get("REPROVIP_ENV_CACHE") or store / "envs")
        environments = ensure_all(spec.factors["environments"], cache)
    if "os" in spec.factors:
        from reprovip.execute.rootfs import ensure_rootfs

        levels = spec.factors["os"]
        named = levels if isinstance(levels, dict) else {str(x): x for x in levels}
        rootfs = {label: ensure_rootfs(release) for label, release in named.items()}
    return environments, rootfs


def _progress_bar(console: Console | None, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("done {task.fields[done]} · failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=not enabled,
    )


def run_study(
    study: Study,
    *,
    jobs: int | None = None,
    force: bool = False,
    executor: str = "local",
    progress: bool = True,
    console: Console | None = None,
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

    Returns
    -------
    RunSummary
        Counts and the failures (execution id, subject, condition, reason).
    """
    jobs = jobs or os.cpu_count() or 1
    with RunLock(study.store):
        _cleanup_stale_work(study.store / "work")
        try:
            # Opened first: the workers start while the plan is stored.
            with open_backend(executor, jobs) as backend:
                return _run(study, backend, force=force, bar=_progress_bar(console, progress))
        finally:
            shutil.rmtree(study.store / "work", ignore_errors=True)


def _run(study: Study, backend: Backend, *, force: bool, bar: Progress) -> RunSummary:
    """Plan, then execute what is not done on ``backend``, recording every attempt (see :func:`run_study`)."""
    spec, store, catalog = study.spec, study.store, study.catalog
    blobs = BlobStore(store)
    summary = RunSummary()
    planned = expand(spec, study.subjects)
    study_id = catalog.ensure_study(spec.name or "study", spec.model_dump(mode="json"), str(study.directory))
    catalog.sync_plan(study_id, planned, recipe_hash(spec), force=force)
    blobs.gc(catalog.referenced_blobs())
    by_id = {p.id: p for p in planned}
    todo = [e["id"] for e in catalog.executions(study_id) if e["status"] != "done" and e["id"] in by_id]
    summary.planned, summary.skipped = len(planned), len(planned) - len(todo)
    template = argv_template(spec, study.directory)
    environments, rootfs = _factor_resources(study)
    run_id = catalog.start_run(study_id, "run", len(planned), socket.gethostname(), os.getpid())
    tries: dict[str, int] = {}
    status = "interrupted"
    shared = backend.shared_filesystem
    work_root, blob_root = (str(store / "work"), str(store)) if shared else (None, None)
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
            environments=environments,
            rootfs=rootfs,
        )
        task = dataclasses.replace(task, return_bytes=not shared, blob_root=blob_root)
        fut = backend.executor.submit(run_task, task)
        pending[fut] = eid
        # A queue of finished futures: `wait()` over every pending future costs O(pending) per call.
        fut.add_done_callback(finished.put)

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="reprovip-janitor") as janitor, bar:
            ptask = bar.add_task(spec.name or "run", total=len(todo), done=0, failed=0)
            for eid in todo:
                submit(eid)
            while pending:
                batch = []
                for fut in _next_batch(finished, len(pending)):
                    eid = pending.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as exc:  # the backend lost the task (worker died): retry like a failure
                        result = dict(ok=False, error=f"backend error: {exc.__class__.__name__}: {exc}")
                        if work_root:  # what its worker left running must not write into the next attempt
                            _kill_recorded(Path(work_root, eid, PID_FILE))
                    batch.append((eid, result, _adopt_outputs(blobs, result)))
                # One transaction for everything that finished together: whole executions or none.
                catalog.record_attempts(run_id, batch)
                janitor.submit(_empty_trash, store / "work" / ".trash")
                for eid, result, _ in batch:
                    if result.get("workdir"):
                        shutil.rmtree(result["workdir"], ignore_errors=True)
                    if not result["ok"] and tries[eid] <= spec.retries:
                        submit(eid)
                        continue
                    if result["ok"]:
                        summary.done += 1
                    else:
                        summary.failed += 1
                        p = by_id[eid]
                        summary.failures.append(
                            dict(
                                id=eid,
                                subject=p.subject.id,
                                condition=p.condition.key,
                                repetition=p.repetition,
                                error=result.get("error"),
                            )
                        )
                    bar.update(ptask, advance=1, done=summary.done, failed=summary.failed)
        status = "finished"
    finally:
        catalog.finish_run(run_id, status, summary.done, summary.failed)
    return summary
