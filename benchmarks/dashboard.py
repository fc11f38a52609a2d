"""Dashboard latency on a large catalog: 10^6 executions, one analysis document.

Builds a temporary SQLite catalog (schema by :class:`Catalog`, executions bulk-inserted with ``sqlite3``),
serves the dashboard with uvicorn on a loopback port, and measures p50/p95 latency of the study list and the
study page (HTML and JSON) and of paginated executions and live progress, against a trivial baseline endpoint
(``/healthz``), requests interleaved round robin. Target: p95 < 50 ms for the study list and the study page.

    python benchmarks/dashboard.py [--executions 1000000] [--requests 200]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from reprovip.cli.serve import _listen
from reprovip.dashboard import create_app, open_sources
from reprovip.store import Catalog
from reprovip.store import schema as s

FORMS = ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)")
TARGET_MS = 50.0


def _observation(rng: random.Random, name: str, conditions: list[str]) -> dict[str, Any]:
    icc = {
        f: dict(
            value=0.9 + rng.random() / 10,
            ci_low=0.8 + rng.random() / 10,
            ci_high=0.99,
            f=50.0,
            df1=999.0,
            df2=9000.0,
            p=1e-30,
            band="good",
        )
        for f in FORMS
    }
    return dict(
        name=name,
        mean=100 * rng.random(),
        identical=False,
        sigdigits=dict(parker_min=2 + rng.random(), parker_mean=4.0, base=10),
        icc=icc,
        wsd=rng.random(),
        wcv_rms=0.01,
        wcv_log=0.01,
        rc=2.7,
        bsd=10.0,
        bcv=0.1,
        sd_ratio=0.05,
        variance={
            src: dict(variance=rng.random(), share=0.25, truncated=False)
            for src in ("subject", "threads", "subject:threads", "residual")
        },
        execution_sd=0.3,
        ci95_halfwidth=0.6,
        per_condition={
            c: dict(icc_a1=0.95, icc_a1_ci_low=0.9, wsd=0.1, sd_ratio=0.02, identical=False) for c in conditions
        },
    )


def document(subjects: int, conditions: list[str], failures: list[dict[str, Any]]) -> dict[str, Any]:
    """An analysis document of the size the engine writes for this design (every bitwise cell included)."""
    rng = random.Random(0)
    outputs = []
    for name in ("volumes", "thickness", "stats"):
        cells = [
            dict(
                subject=f"sub-{i:04d}",
                condition=c,
                n=10,
                distinct_bytes=2,
                distinct_semantic=2,
                identical=False,
            )
            for i in range(subjects)
            for c in conditions
        ]
        obs = [_observation(rng, f"region-{j}/value", conditions) for j in range(40)]
        outputs.append(
            dict(
                name=name,
                kind="table",
                n_subjects=subjects,
                factors={"threads": ["1", "2"]},
                repetitions=10,
                bitwise=dict(
                    identical=False,
                    bytes_identical=False,
                    repetitions_identical=False,
                    cells=cells,
                    conditions={c: dict(cells=subjects, identical_cells=0) for c in conditions},
                    factors={
                        "threads": dict(
                            levels={},
                            nondeterministic_levels=["2"],
                            between_pairs=0,
                            between_differ=0,
                            changes_result=True,
                            explanation="identical for threads=1, differs for threads=2",
                        )
                    },
                ),
                errors=[],
                observations=obs,
                summary=dict(
                    n_observations=40,
                    icc_a1_min=0.9,
                    icc_a1_ci_low_min=0.8,
                    sd_ratio_max=0.05,
                    wcv_max=0.01,
                    sigdigits_min=2.0,
                    worst_observation="region-0/value",
                ),
                attribution=dict(factors=[], summary="identical for threads=1, differs for threads=2"),
                variance_shares={"threads": 0.2, "repetition": 0.05},
                verdict=dict(
                    status="warn",
                    reasons=[
                        dict(
                            criterion="ICC(A,1).ci_low >= 0.9",
                            metric="icc_a1_ci_low_min",
                            severity="warn",
                            passed=False,
                            value=0.8,
                            threshold=0.9,
                            message="ICC(A,1) CI lower bound 0.8 < 0.9",
                        )
                    ],
                ),
            )
        )
    return dict(
        schema="reprovip.analysis/2",
        reprovip_version="bench",
        created_at="2026-01-01T00:00:00+00:00",
        study=dict(name="bench", path="/nonexistent/study.yaml", description="", factors={}, repetitions=10),
        executions=dict(
            total=0,
            counts={},
            failed=len(failures),
            failure_rate=0.02,
            attempt_failure_rate=0.02,
            failure_by_condition={c: 0.02 for c in conditions},
            failures=failures[:200],
        ),
        provenance=dict(distinct=2, differing={"kernel": ["a", "b"]}, common={"hostname": "bench"}),
        outputs=outputs,
        verdict=dict(status="warn", label="sufficiently reproducible, with warnings", counts={"warn": 3}),
        alerts=[dict(output="volumes", severity="warn", message="ICC(A,1) CI lower bound 0.8 < 0.9")],
    )


_COLUMNS = (
    "id",
    "study_id",
    "subject",
    "input",
    "condition_key",
    "condition",
    "repetition",
    "status",
    "recipe",
    "source",
    "attempts",
    "exit_code",
    "duration",
    "error",
    "run_id",
    "provenance",
    "started_at",
    "finished_at",
)


def build(root: Path, n: int) -> Path:
    """A store with ``n`` executions (subjects x 10 conditions x 10 repetitions), inserted in bulk.

    The catalog is created by :class:`Catalog` (schema at HEAD); the executions go in through ``sqlite3``'s
    ``executemany`` in one transaction, which fills 10^6 rows in seconds rather than minutes.
    """
    store = root / ".reprovip"
    cat = Catalog.for_store(store)
    sid = cat.ensure_study("bench", {"name": "bench", "outputs": {}}, str(root))
    run = cat.start_run(sid, "run", n, "bench", 1)
    cat.close()
    conditions = [f"threads={t},seed={k}" for t in (1, 2) for k in range(5)]
    subjects = max(1, -(-n // (len(conditions) * 10)))
    rng = random.Random(1)
    now = time.time()
    failures: list[dict[str, Any]] = []

    def rows() -> Iterator[tuple[Any, ...]]:
        cells = itertools.product(range(subjects), conditions, range(10))
        for i, (subj, cond, rep) in enumerate(itertools.islice(cells, n)):
            u = rng.random()
            status = "done" if u < 0.97 else "failed" if u < 0.99 else "pending"
            eid = f"{i:016x}"
            if status == "failed":
                failures.append(
                    dict(
                        id=eid,
                        subject=f"sub-{subj:05d}",
                        condition=cond,
                        repetition=rep,
                        attempts=1,
                        error="exit code 1",
                        stderr_tail="Traceback ...\nValueError: bad input\n",
                    )
                )
            yield (
                eid,
                sid,
                f"sub-{subj:05d}",
                None,
                cond,
                json.dumps({"threads": cond[8]}),
                rep,
                status,
                "r",
                "run",
                1,
                0 if status == "done" else 1,
                rng.uniform(1, 60),
                "exit code 1" if status == "failed" else None,
                run,
                "p" * 32,
                now - 3600,
                now - rng.uniform(0, 3600) if status != "pending" else None,
            )

    db = sqlite3.connect(store / "catalog.sqlite")
    db.execute("PRAGMA synchronous=OFF")
    # The executions' secondary indexes are built once after the insert (a sort) rather than row by row, and
    # the triggers that keep execution_counts are off meanwhile: the counts are filled in one pass after, as
    # migration 0006 fills them.
    schema_sql = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = 'executions'"
    ).fetchall()
    schema_sql = [(kind, name, sql) for kind, name, sql in schema_sql if sql]
    with db:
        for kind, name, _ in schema_sql:
            db.execute(f"DROP {kind.upper()} {name}")
        db.executemany(
            f"INSERT INTO executions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", rows()
        )
        db.execute(s.COUNTS_BACKFILL)
        for _, _, sql in schema_sql:
            db.execute(sql)
        db.execute("INSERT INTO provenances (hash, data) VALUES (?, ?)", ("p" * 32, '{"hostname": "bench"}'))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    cat = Catalog.for_store(store)
    cat.finish_run(run, "finished", n - len(failures), len(failures))
    cat.save_analysis(sid, document(subjects, conditions, failures))
    cat.close()
    return store


def serve(app: Any) -> tuple[Any, threading.Thread, str]:
    """Serve ``app`` in a thread as ``reprovip serve`` does (its listening socket, its uvicorn settings), on a
    free loopback port; return the server, the thread and the URL."""
    sock = _listen("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="warning", server_header=False, proxy_headers=False, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def measure(base_url: str, urls: dict[str, str], n: int, errors: dict[str, int]) -> dict[str, list[float]]:
    """Latency in ms of ``n`` sequential GETs of each URL (round robin over the URLs, so that a burst of load on
    the machine falls on all of them alike), after 10 warm-up requests each; non-200 answers are counted in
    ``errors``."""
    out: dict[str, list[float]] = {name: [] for name in urls}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for _ in range(10):
            for url in urls.values():
                client.get(url)
        for _ in range(n):
            for name, url in urls.items():
                t0 = time.perf_counter()
                r = client.get(url)
                r.read()
                out[name].append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:  # e.g. 503 when a query hits the time limit on a loaded machine
                    errors[name] = errors.get(name, 0) + 1
    return out


def p(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--executions", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--keep", type=Path, help="build the catalog in this folder and keep it; reuse one there")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        store = root / ".reprovip"
        if (store / "catalog.sqlite").exists():
            print(f"catalog: reused {store}")
        else:
            t0 = time.perf_counter()
            store = build(root, args.executions)
            print(
                f"catalog: {args.executions} executions, 1 analysis document, "
                f"built in {time.perf_counter() - t0:.1f} s "
                f"({(store / 'catalog.sqlite').stat().st_size / 2**20:.1f} MiB)"
            )
        app = create_app(open_sources([str(store)]))
        urls = {
            "baseline /healthz": "/healthz",
            "study list /": "/",
            "study list /index.json": "/index.json",
            "study page /studies/0-1": "/studies/0-1",
            "study page /studies/0-1.json": "/studies/0-1.json",
            "executions page 500": "/studies/0-1/executions?page=500",
            "progress": "/studies/0-1/progress",
        }
        server, thread, base_url = serve(app)
        t0 = time.perf_counter()
        errors: dict[str, int] = {}
        try:
            results = measure(base_url, urls, args.requests, errors)
        finally:
            server.should_exit = True
            thread.join()
        load = os.getloadavg()
        print(
            f"{len(urls) * (args.requests + 10)} requests to uvicorn on {base_url} in "
            f"{time.perf_counter() - t0:.1f} s; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
        )
    base = statistics.median(results["baseline /healthz"])
    print(f"{'endpoint':32s} {'p50 ms':>8s} {'p95 ms':>8s} {'p50/baseline':>13s} {'errors':>7s}")
    ok = True
    for name, times in results.items():
        p50, p95 = statistics.median(times), p(times, 0.95)
        print(f"{name:32s} {p50:8.2f} {p95:8.2f} {p50 / base:13.1f} {errors.get(name, 0):7d}")
        if name.startswith(("study list", "study page")) and (p95 >= TARGET_MS or errors.get(name)):
            ok = False
    print(f"\ntarget p95 < {TARGET_MS:.0f} ms for the study list and the study page: " + ("met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
