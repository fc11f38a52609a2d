"""Dashboard latency on a large catalog: 100,000 executions, one analysis document.

Builds a temporary SQLite catalog with SQLAlchemy Core bulk inserts, serves the dashboard in-process
(httpx's ASGI transport: the app's own time, no socket), and measures p50/p95 latency of the study list and
the study page (HTML and JSON) and of paginated executions and live progress, against a trivial
baseline endpoint (``/healthz``). Target: p95 < 100 ms for the study list and the study page.

    python benchmarks/dashboard.py [--executions 100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from reprovip.dashboard import create_app, open_sources
from reprovip.store import Catalog
from reprovip.store import schema as s

FORMS = ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)")
TARGET_MS = 100.0


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


def build(root: Path, n: int) -> Path:
    """A store with ``n`` executions (subjects x 10 conditions x 10 repetitions), inserted in bulk."""
    store = root / ".reprovip"
    cat = Catalog.for_store(store)
    sid = cat.ensure_study("bench", {"name": "bench", "outputs": {}}, str(root))
    conditions = [f"threads={t},seed={k}" for t in (1, 2) for k in range(5)]
    subjects = max(1, n // (len(conditions) * 10))
    rng = random.Random(1)
    now = time.time()
    rows, failures = [], []
    for i, (subj, cond, rep) in enumerate(itertools.product(range(subjects), conditions, range(10))):
        if i >= n:
            break
        u = rng.random()
        status = "done" if u < 0.97 else "failed" if u < 0.99 else "pending"
        eid = f"{i:016x}"
        rows.append(
            dict(
                id=eid,
                study_id=sid,
                subject=f"sub-{subj:04d}",
                input=None,
                condition_key=cond,
                condition={"threads": cond[8]},
                repetition=rep,
                status=status,
                recipe="r",
                source="run",
                attempts=1,
                exit_code=0 if status == "done" else 1,
                duration=rng.uniform(1, 60),
                error="exit code 1" if status == "failed" else None,
                run_id=1,
                provenance="p" * 32,
                started_at=now - 3600,
                finished_at=now - rng.uniform(0, 3600),
            )
        )
        if status == "failed":
            failures.append(
                dict(
                    id=eid,
                    subject=f"sub-{subj:04d}",
                    condition=cond,
                    repetition=rep,
                    attempts=1,
                    error="exit code 1",
                    stderr_tail="Traceback ...\nValueError: bad input\n",
                )
            )
    with cat.engine.begin() as conn:
        for k in range(0, len(rows), 10_000):
            conn.execute(insert(s.executions), rows[k : k + 10_000])
        conn.execute(insert(s.provenances).values(hash="p" * 32, data={"hostname": "bench", "kernel": "a"}))
    run = cat.start_run(sid, "run", len(rows), "bench", 1)
    cat.finish_run(run, "finished", len(rows) - len(failures), len(failures))
    cat.save_analysis(sid, document(subjects, conditions, failures))
    cat.close()
    return store


async def measure(app: Any, urls: dict[str, str], n: int, errors: dict[str, int]) -> dict[str, list[float]]:
    """Latency in ms of ``n`` sequential GETs of each URL, after 10 warm-up requests each; non-200 answers
    are counted in ``errors``."""
    out: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for name, url in urls.items():
            for _ in range(10):
                r = await client.get(url)
                assert r.status_code == 200, (url, r.status_code, r.text[:200])
            times = []
            for _ in range(n):
                t0 = time.perf_counter()
                r = await client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:  # e.g. 503 when a query hits the time limit on a loaded machine
                    errors[name] = errors.get(name, 0) + 1
            out[name] = times
    return out


def p(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--executions", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store = build(Path(tmp), args.executions)
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
        t0 = time.perf_counter()
        errors: dict[str, int] = {}
        results = asyncio.run(measure(app, urls, args.requests, errors))
        print(f"{len(urls) * (args.requests + 10)} requests in {time.perf_counter() - t0:.1f} s\n")
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
