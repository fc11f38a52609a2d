"""The context of every dashboard page: plain JSON-safe dicts, rendered as HTML or returned as ``.json``."""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
import time
from collections import OrderedDict
from typing import Any

from sqlalchemy.exc import OperationalError

from reprovip.dashboard import queries as q
from reprovip.dashboard.compare import compare_views
from reprovip.dashboard.sources import Source, parse_key
from reprovip.errors import NotFoundError
from reprovip.execute.provenance import flatten
from reprovip.report.context import alerts_of, analysis_context, staleness, verdict_of
from reprovip.report.maps import AXES, MAP_NAME, draw_output_map
from reprovip.store.liveness import runner_alive

STATUSES = ("done", "failed", "running", "pending")
TREND_KEYS = (
    "icc_a1_ci_low_min",
    "sd_ratio_max",
    "wcv_max",
    "sigdigits_min",
    "dice_min",
    "hd95_max",
    "voxel_differ_fraction",
    "voxel_sd_median",
)
SECRET = re.compile(r"token|secret|passw|credential|auth|api_?key|private", re.IGNORECASE)
PER_PAGE = 50
RUNS_SHOWN = 20  # the study page's run history: the latest ones, and how many there are in all


def iso(ts: Any) -> str | None:
    """A UNIX time as ISO 8601 UTC text."""
    if ts is None or not isinstance(ts, int | float) or not math.isfinite(ts):
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


def _shown(v: Any) -> Any:
    """A provenance value as the page shows it: long lists shortened, other objects as text."""
    if isinstance(v, list) and len(v) > 20:
        return f"{len(v)} items: " + " ".join(map(str, v[:20])) + " …"
    return v if isinstance(v, str | int | float | bool) or v is None else str(v)


def _took(start: Any, end: Any) -> float | None:
    """Seconds between two UNIX times, None while either is unknown (a run still going, or interrupted)."""
    if not all(isinstance(t, int | float) and math.isfinite(t) for t in (start, end)):
        return None
    return float(end) - float(start)


def _run(r: dict[str, Any]) -> dict[str, Any]:
    status = r.get("status")
    if status == "running" and runner_alive(r.get("hostname"), r.get("pid"), r.get("started_at")) is False:
        status = "interrupted"  # its runner died (kill -9): the next run records it so
    return dict(
        id=r["id"],
        command=r.get("command"),
        status=status,
        started_at=iso(r.get("started_at")),
        finished_at=iso(r.get("finished_at")),
        duration=_took(r.get("started_at"), r.get("finished_at")),
        hostname=r.get("hostname"),
        n_planned=r.get("n_planned"),
        n_done=r.get("n_done"),
        n_failed=r.get("n_failed"),
        reprovip_version=r.get("reprovip_version"),
    )


def _version_label(doc: dict[str, Any]) -> str:
    app = doc.get("application") if isinstance(doc.get("application"), dict) else {}
    version = app.get("version") or (doc.get("study") or {}).get("application_version")
    return str(version) if version else str(doc.get("created_at") or "")[:16]


class Dashboard:
    """Read-only views over the sources; analysis views are cached by analysis id (documents never change)."""

    def __init__(self, sources: list[Source], *, cache_size: int = 32, progress_ttl: float = 2.0) -> None:
        self.sources = sources
        self._cache: OrderedDict[tuple[int, int, int], dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._progress: dict[tuple[int, int], tuple[float, dict[str, Any]]] = {}
        self.progress_ttl = progress_ttl

    # -- lookups ------------------------------------------------------------------------------------
    def resolve(self, key: str) -> tuple[Source, dict[str, Any]]:
        si, sid = parse_key(key)
        if si >= len(self.sources):
            raise NotFoundError(f"no study {key!r}")
        src = self.sources[si]
        row = q.study(src.engine, sid)
        if row is None:
            raise NotFoundError(f"no study {key!r}")
        return src, row

    def analysis_view(self, src: Source, study: dict[str, Any], analysis_id: int) -> dict[str, Any] | None:
        """The report's view of a stored analysis (with the plot values ``analyze`` stored), cached."""
        ck = (src.index, src.generation, analysis_id)  # a catalog replaced under the dashboard numbers anew
        with self._lock:
            if ck in self._cache:
                self._cache.move_to_end(ck)
                return self._cache[ck]
        doc = q.document(src.engine, study["id"], analysis_id)
        if doc is None:
            return None
        store = src.store_for(study["id"], study.get("study_dir"))
        view = analysis_context(doc, store=store)
        view["analysis_id"] = analysis_id
        with self._lock:
            self._cache[ck] = view
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return view

    def _summary(
        self,
        src: Source,
        row: dict[str, Any],
        counts: dict[str, int],
        latest: tuple[int, float | None] | None,
        newest_run: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        key = f"{src.index}-{row['id']}"
        verdict, n_alerts, stale = None, 0, None
        if latest is None and (ids := q.analysis_ids(src.engine, row["id"], limit=1)):
            latest = (ids[-1], None)  # a page that did not look it up: every page's summary is the same verdict
            if newest_run is None and (runs := q.runs(src.engine, row["id"], limit=1)):
                newest_run = runs[0]  # and the same staleness
        if latest is not None:
            doc = q.document(src.engine, row["id"], latest[0])
            if doc is not None:
                verdict = verdict_of(doc)
                n_alerts = len(alerts_of(doc)[0])
                # the statuses read now: a `run --force` stopped after it reset every execution to pending but
                # before it recorded its run left the green verdict beside "pending: 48" (a review)
                stale = staleness(doc, newest_run, counts=counts, catalog_id=q.catalog_identity(src.engine))
        return dict(
            key=key,
            name=str(row["name"]),
            source=src.label,
            study_dir=row.get("study_dir"),
            counts={k: counts.get(k, 0) for k in STATUSES} | counts,
            total=sum(counts.values()),
            verdict=verdict,
            stale=stale,  # why the verdict may no longer be the study's (a run came after it), or None
            alerts=n_alerts,
            analysis_id=latest[0] if latest else None,
            analysed_at=iso(latest[1]) if latest else None,
            url=f"/studies/{key}",
        )

    # -- pages --------------------------------------------------------------------------------------
    def index(self) -> dict[str, Any]:
        """Every study: counts by status and latest verdict."""
        out = []
        for src in self.sources:
            counts = q.status_counts(src.engine)
            latest = q.latest_analyses(src.engine)
            newest = q.newest_runs(src.engine)
            for row in q.studies(src.engine):
                sid = row["id"]
                out.append(self._summary(src, row, counts.get(sid, {}), latest.get(sid), newest.get(sid)))
        return dict(studies=out, generated_at=iso(time.time()))

    def study(self, key: str) -> dict[str, Any]:
        """A study: its analysis (as in the report), run history and the trend of key metrics."""
        src, row = self.resolve(key)
        counts = q.status_counts(src.engine, row["id"]).get(row["id"], {})
        ids = q.analysis_ids(src.engine, row["id"])
        runs = q.runs(src.engine, row["id"], limit=RUNS_SHOWN)
        summary = self._summary(src, row, counts, (ids[-1], None) if ids else None, runs[0] if runs else None)
        analysis = self.analysis_view(src, row, ids[-1]) if ids else None
        if analysis is not None:
            summary["analysed_at"] = analysis.get("created_at")
        return dict(
            study=summary,
            runs=[_run(r) for r in runs],
            runs_total=q.run_count(src.engine, row["id"]),
            trend=self._trend(src, row["id"], ids),
            analysis=analysis,
            links=dict(
                executions=f"/studies/{key}/executions",
                progress=f"/studies/{key}/progress",
                analysis_document=f"/studies/{key}/analysis.json",
                compare=f"/studies/{key}/compare",
            ),
        )

    def _trend(self, src: Source, study_id: int, ids: list[int]) -> list[dict[str, Any]]:
        points = []
        for aid in ids:
            doc = q.document(src.engine, study_id, aid)
            if doc is None:
                continue
            outs = {
                str(o.get("name")): {
                    k: (o.get("summary") or {}).get(k) for k in TREND_KEYS if k in (o.get("summary") or {})
                }
                for o in doc.get("outputs") or []
            }
            points.append(
                dict(
                    analysis_id=aid,
                    created_at=doc.get("created_at"),
                    label=_version_label(doc),
                    verdict=verdict_of(doc)["status"],
                    verdict_label=verdict_of(doc)["label"],
                    reprovip_version=doc.get("reprovip_version"),
                    outputs=outs,
                )
            )
        return points

    def compare(self, key: str, old: int | None = None, new: int | None = None) -> dict[str, Any]:
        """Two stored analyses side by side (default: the previous and the latest)."""
        src, row = self.resolve(key)
        ids = q.analysis_ids(src.engine, row["id"])
        if old is None or new is None:
            if len(ids) < 2 and (old is None and new is None) or not ids:
                raise NotFoundError(f"study {key!r} has fewer than two stored analyses to compare")
            new = new if new is not None else ids[-1]
            old = old if old is not None else next((i for i in reversed(ids) if i < new), ids[0])
        views = [self.analysis_view(src, row, aid) for aid in (old, new)]
        if views[0] is None or views[1] is None:
            raise NotFoundError(f"no stored analysis {old if views[0] is None else new} in study {key!r}")
        counts = q.status_counts(src.engine, row["id"]).get(row["id"], {})
        return dict(study=self._summary(src, row, counts, None), history=ids, **compare_views(*views))

    def document(self, key: str) -> dict[str, Any]:
        """The latest stored analysis document, as stored."""
        src, row = self.resolve(key)
        ids = q.analysis_ids(src.engine, row["id"], limit=1)
        doc = q.document(src.engine, row["id"], ids[-1]) if ids else None
        if doc is None:
            raise NotFoundError(f"study {key!r} has no stored analysis; run `reprovip analyze`")
        return doc

    def executions(self, key: str, *, status: str | None, page: int, per_page: int = PER_PAGE) -> dict[str, Any]:
        """One page of a study's executions, optionally of one status."""
        src, row = self.resolve(key)
        counts = q.status_counts(src.engine, row["id"]).get(row["id"], {})
        total = counts.get(status, 0) if status else sum(counts.values())
        pages = max(1, math.ceil(total / per_page))
        rows = q.executions_page(src.engine, row["id"], status=status, offset=(page - 1) * per_page, limit=per_page)
        for r in rows:
            r["url"] = f"/studies/{src.index}-{row['id']}/executions/{r['id']}"
        return dict(
            study=self._summary(src, row, counts, None),
            status=status,
            page=page,
            per_page=per_page,
            total=total,
            pages=pages,
            executions=rows,
        )

    def execution(self, key: str, execution_id: str) -> dict[str, Any]:
        """One execution: its attempts (argv, environment, output tails), outputs and provenance."""
        src, row = self.resolve(key)
        ex = q.execution(src.engine, row["id"], execution_id)
        if ex is None:
            raise NotFoundError(f"no execution {execution_id!r} in study {key!r}")
        attempts = q.attempts(src.engine, execution_id)
        for a in attempts:
            a["env"] = {k: ("(hidden)" if SECRET.search(str(k)) else str(v)) for k, v in (a.get("env") or {}).items()}
            a["argv"] = [str(x) for x in a.get("argv") or []]
            a["started_at"], a["finished_at"] = iso(a.get("started_at")), iso(a.get("finished_at"))
        ids = q.analysis_ids(src.engine, row["id"], limit=1)
        doc = q.document(src.engine, row["id"], ids[-1]) if ids else None
        differing = set(((doc or {}).get("provenance") or {}).get("differing") or {})
        prov = q.provenance(src.engine, ex.get("provenance"))
        ex["started_at"], ex["finished_at"] = iso(ex.get("started_at")), iso(ex.get("finished_at"))
        return dict(
            study=self._summary(src, row, {}, None),
            execution=ex,
            attempts=attempts,
            outputs=q.outputs(src.engine, execution_id),
            provenance=[
                dict(field=k, value=v, differs=k in differing)
                for k, v in sorted((k, _shown(v)) for k, v in flatten(prov or {}).items())
            ],
        )

    def alerts(self) -> dict[str, Any]:
        """The alerts of every study's latest analysis, failures first."""
        out = []
        for src in self.sources:
            latest = q.latest_analyses(src.engine)
            counts, newest = q.status_counts(src.engine), q.newest_runs(src.engine)
            ident = q.catalog_identity(src.engine)
            for row in q.studies(src.engine):
                if row["id"] not in latest:
                    continue
                doc = q.document(src.engine, row["id"], latest[row["id"]][0])
                alerts, from_criteria = alerts_of(doc or {})
                key = f"{src.index}-{row['id']}"
                at = dict(study=str(row["name"]), key=key, url=f"/studies/{key}")
                # A stale verdict's alerts are not the study's: said first, as the index does (review A: "No
                # alert in the latest analyses" beside a run that made `check` fail)
                if doc and (
                    stale := staleness(doc, newest.get(row["id"]), counts=counts.get(row["id"], {}), catalog_id=ident)
                ):
                    stale_alert = dict(severity="warn", output=None, message=f"stale: {stale}", stale=True)
                    out.append(dict(at, **stale_alert, from_criteria=True))
                out += [dict(a, **at, from_criteria=from_criteria) for a in alerts]
        rank = {"fail": 0, "error": 0, "warn": 1}
        out.sort(key=lambda a: (not a.get("stale"), rank.get(a["severity"], 2)))
        return dict(alerts=out, generated_at=iso(time.time()))

    def progress(self, key: str, *, window: float = 300.0) -> dict[str, Any]:
        """Live progress: counts by status and condition, the running runs, throughput and ETA.

        The counts come from one pass over the study's executions, cached ``progress_ttl`` seconds.
        """
        src, row = self.resolve(key)
        now = time.monotonic()
        live = [r for r in q.runs(src.engine, row["id"], limit=10, status="running") if _run(r)["status"] == "running"]
        # The rate over the live run's time when it is younger than the window: 6 done in its first 8 s read
        # "0.4 per minute, about 35 min left" where 30 s were (a review); and no estimate without a live run.
        since = max([time.time() - window] + [float(r["started_at"]) for r in live if r.get("started_at")])
        span = max(time.time() - since, 1.0)
        cached = self._progress.get((src.index, row["id"]))
        if cached is not None and now - cached[0] < self.progress_ttl:
            act = cached[1]  # one full pass per study every few seconds, however many pages watch it
        else:
            try:
                act = q.progress(src.engine, row["id"], since)
            except OperationalError:
                if cached is None:
                    raise
                act = cached[1]  # the pass hit the time limit: show the last figures rather than nothing
            else:
                self._progress[(src.index, row["id"])] = (now, act)
        by_cond = act["by_condition"]
        counts: dict[str, int] = {}
        for per in by_cond.values():
            for st, n in per.items():
                counts[st] = counts.get(st, 0) + n
        running = [_run(r) for r in live]
        total = sum(counts.values())
        left = counts.get("pending", 0) + counts.get("running", 0)
        rate = act["recent"] / (span / 60.0)
        return dict(
            study=self._summary(src, row, counts, None),
            total=total,
            finished_fraction=(counts.get("done", 0) + counts.get("failed", 0)) / total if total else 0.0,
            by_condition=[dict(condition=c, counts=v, total=sum(v.values())) for c, v in by_cond.items()],
            running_runs=running,
            finished_last_5_min=act["recent"],
            rate_per_min=rate,
            mean_duration=act["mean_duration"],
            eta_seconds=(left / rate * 60.0) if rate > 0 and left and running else None,
            # Only a live run changes the figures: a study stopped, interrupted or done is not refreshed.
            refresh_seconds=5 if running else None,
            generated_at=iso(time.time()),
        )

    def map_png(self, key: str, analysis_id: int, output: int, name: str, axis: str) -> bytes:
        """A slice of a voxelwise map, by ids from the analysis document only (never a path)."""
        src, row = self.resolve(key)
        doc = q.document(src.engine, row["id"], analysis_id)
        outputs = (doc or {}).get("outputs") or []
        if not (0 <= output < len(outputs)) or not MAP_NAME.match(name) or axis not in AXES:
            raise NotFoundError("no such map")
        store = src.store_for(row["id"], row.get("study_dir"))
        study = str(((doc or {}).get("study") or {}).get("name", "")) or None
        image = draw_output_map(store, outputs[output], name, study=study) if store is not None else None
        sl = image.slice(axis) if image is not None else None
        if sl is None:
            raise NotFoundError("no such map")
        return sl.png
