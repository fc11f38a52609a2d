"""Scaling: throughput of trivial executions through the local executor and the Dask backends; catalog writes/s.

One study of N executions of a 50 ms command (``sleep 0.05`` then write one output) runs through:

- ``local`` with 2 worker processes (the reference);
- ``dask-local`` with 1 and 2 workers (threads of the runner), and ``dask-local?processes=1`` with 2 worker
  processes, end to end (the cluster's start and stop included);
- ``dask://`` to an already running 1- and 2-worker cluster, outputs coming back as bytes, and with
  ``?shared=1`` (workers move outputs into the store themselves): the steady state a long study sees;
- with a Slurm cluster (``sinfo`` answers, e.g. after ``source scripts/services/slurm.sh``; or ``--slurm``):
  ``slurm`` through dask-jobqueue (2 worker jobs of 1 CPU) and ``slurm-array`` with ``--jobs 2`` (one array
  task per execution), end to end (job submission and queueing included).

Then the catalog alone: one transaction per finished execution (the runner's worst case: executions finishing
one at a time), on SQLite and, with ``--pg URL`` (or ``REPROVIP_TEST_PG_URL``), on PostgreSQL.

Local, ``dask-local`` and ``dask-local?processes=1`` with 2 workers are first timed in ``--rounds`` interleaved
rounds: the median ratio of their throughputs is the end-to-end figure (target >= 0.95x).

Usage: python benchmarks/scaling.py [--n 200] [--sleep 0.05] [--rounds 3] [--writes 2000] [--pg postgresql+...]
                                   [--slurm | --no-slurm]
Figures measured on the development machine are in docs/scaling.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from reprovip.execute import backends
from reprovip.study import Study

DASK = {"dask": "reprovip.execute.dask_backend:scheduler", "dask-local": "reprovip.execute.dask_backend:local_cluster"}


def write_study(root: Path, n: int, sleep: float) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "s.txt").write_text("x")
    (root / "study.yaml").write_text(
        "application:\n"
        f"  command: [sh, -c, 'sleep {sleep} && echo done > \"$1/o.txt\"', sh, '{{outdir}}']\n"
        "subjects: {glob: 'data/{subject}.txt'}\n"
        f"repetitions: {n}\n"
        "outputs:\n  o: {path: o.txt, kind: text}\n"
    )
    return root / "study.yaml"


def timed_run(root: Path, n: int, sleep: float, executor: str, jobs: int) -> float:
    study = Study.load(write_study(root / uuid.uuid4().hex[:8], n, sleep))
    t0 = time.perf_counter()
    summary = study.run(jobs=jobs, executor=executor)
    elapsed = time.perf_counter() - t0
    assert (summary.done, summary.failed) == (n, 0), summary
    return elapsed


def slurm_answers() -> bool:
    """True when a Slurm cluster answers ``sinfo`` from this machine."""
    if not shutil.which("sinfo"):
        return False
    return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30, check=False).returncode == 0


def slurm_rows(root: Path, n: int, sleep: float) -> list[tuple[str, float]]:
    """The two Slurm modes, 2 executions at once, end to end; jobqueue.yaml's `slurm` settings, if any, apply."""
    import dask
    import dask_jobqueue  # noqa: F401  loads the jobqueue defaults into dask.config

    defaults = {"cores": 1, "processes": 1, "memory": "1GiB", "python": sys.executable}
    config = {
        f"jobqueue.slurm.{k}": v for k, v in defaults.items() if dask.config.get(f"jobqueue.slurm.{k}", None) is None
    }
    with dask.config.set(config):
        dask_slurm = timed_run(root, n, sleep, "slurm", 2)
    return [
        ("slurm (dask-jobqueue), 2 worker jobs", dask_slurm),
        ("slurm-array, --jobs 2 (%2)", timed_run(root, n, sleep, "slurm-array", 2)),
    ]


def catalog_writes(url: str, n: int) -> float:
    """Transactions per second of ``record_attempts`` with one execution each (two outputs, 1 KiB of stdout)."""
    from reprovip.store import Catalog

    catalog = Catalog(url)
    sid = catalog.ensure_study(f"bench-{uuid.uuid4().hex[:8]}", {}, "/bench")
    planned = [
        SimpleNamespace(
            id=uuid.uuid4().hex[:16],
            subject=SimpleNamespace(id=f"s{i}", input="/x"),
            condition=SimpleNamespace(key="-", labels={}),
            repetition=0,
        )
        for i in range(n)
    ]
    catalog.sync_plan(sid, planned, "r")
    run_id = catalog.start_run(sid, "run", n, "host", os.getpid())
    result = dict(
        ok=True,
        exit_code=0,
        duration=0.05,
        peak_rss=2**20,
        argv=["app"],
        env={},
        stdout="x" * 1024,
        stderr="",
        hostname="h",
        pid=1,
        provenance={"hostname": "h"},
        provenance_hash="p" * 32,
        started_at=0.0,
        finished_at=0.1,
        seed=None,
    )
    outputs = [
        dict(
            name=k,
            relpath=f"{k}.txt",
            kind="text",
            blob=uuid.uuid4().hex * 2,
            suffix=".txt",
            size=5,
            semantic_hash=None,
            missing=False,
            error=None,
        )
        for k in ("a", "b")
    ]
    t0 = time.perf_counter()
    for p in planned:
        catalog.record_attempts(run_id, [(p.id, result, outputs)])
    rate = n / (time.perf_counter() - t0)
    catalog.close()
    return rate


@contextlib.contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    """A PostgreSQL URL whose tables go to a new schema, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="executions per run")
    ap.add_argument("--sleep", type=float, default=0.05, help="seconds each execution sleeps")
    ap.add_argument("--writes", type=int, default=2000, help="transactions of the catalog benchmark")
    ap.add_argument("--pg", default=os.environ.get("REPROVIP_TEST_PG_URL"), help="a PostgreSQL catalog URL")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of local and dask-local, 2 workers")
    ap.add_argument(
        "--slurm", action=argparse.BooleanOptionalAction, help="time the Slurm modes (default: when `sinfo` answers)"
    )
    args = ap.parse_args()
    # Dask's workers are fresh interpreters: let them use cached bytecode, as an installed package does.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for name, target in DASK.items():
        backends.BACKENDS.setdefault(name, target)
    from distributed import LocalCluster

    root = Path(tempfile.mkdtemp(prefix="reprovip-scaling-"))
    rows: list[tuple[str, float]] = []
    try:
        modes = ("local", "dask-local", "dask-local?processes=1")
        rounds = []
        for i in range(args.rounds):  # interleaved: the load of a shared machine falls on all alike
            times = [timed_run(root, args.n, args.sleep, ex, 2) for ex in modes]
            rounds.append(times)
            shown = (f"{m} {t:.2f} s ({times[0] / t:.2f}x)" for m, t in zip(modes, times, strict=True))
            print(f"round {i + 1}: " + ", ".join(shown))
        for k, mode in enumerate(modes[1:], 1):
            ratio = statistics.median(r[0] / r[k] for r in rounds)
            print(
                f"{mode}, 2 workers, end to end, throughput vs local (median of {args.rounds}): {ratio:.2f}x "
                f"(target >= 0.95x)"
            )
        print(f"load average {os.getloadavg()[0]:.2f}\n")
        rows.append(("local, 2 workers (median)", statistics.median(r[0] for r in rounds)))
        rows.append(("dask-local, 1 worker, end to end", timed_run(root, args.n, args.sleep, "dask-local", 1)))
        rows.append(("dask-local, 2 workers (threads), end to end (median)", statistics.median(r[1] for r in rounds)))
        rows.append(("dask-local?processes=1, 2 workers, end to end (median)", statistics.median(r[2] for r in rounds)))
        for w in (1, 2):
            with LocalCluster(
                n_workers=w,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            ) as cluster:
                address = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
                timed_run(root, 4, 0.0, address, w)  # warm the workers up (imports)
                rows.append((f"dask://, {w} worker(s), bytes", timed_run(root, args.n, args.sleep, address, w)))
                rows.append(
                    (f"dask://?shared=1, {w} worker(s)", timed_run(root, args.n, args.sleep, address + "?shared=1", w))
                )
        if args.slurm or (args.slurm is None and slurm_answers()):
            rows += slurm_rows(root, args.n, args.sleep)
        from reprovip.store.catalog import sqlite_url

        writes = [("SQLite (WAL)", catalog_writes(sqlite_url(root / "bench.sqlite"), args.writes))]
        if args.pg:
            with scratch_schema(args.pg) as url:
                writes.append(("PostgreSQL", catalog_writes(url, args.writes)))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    ideal = 2 / (args.sleep or 1e-9)
    print(
        f"{args.n} executions of a {1000 * args.sleep:.0f} ms command on {os.cpu_count()} CPUs "
        f"(2 slots can do at most {ideal:.0f}/s)"
    )
    reference = args.n / rows[0][1]
    print(f"{'backend':54} {'seconds':>8} {'exec/s':>8} {'vs local':>9}")
    for label, seconds in rows:
        rate = args.n / seconds
        print(f"{label:54} {seconds:8.2f} {rate:8.1f} {rate / reference:8.2f}x")
    print(f"\ncatalog: one transaction per finished execution ({args.writes} transactions, 2 outputs each)")
    for label, rate in writes:
        print(f"{label:54} {rate:8.0f} executions recorded/s")


if __name__ == "__main__":
    main()
