"""The read-only web dashboard (FastAPI): every HTML page has a ``.json`` twin built from the same context.

Pages: ``/`` (studies), ``/studies/{key}`` (the report's content + run history + trends),
``/studies/{key}/executions`` (paginated), ``/studies/{key}/executions/{id}`` (drill-down),
``/studies/{key}/progress`` (live, refreshes itself), ``/studies/{key}/compare?old=&new=`` (two stored
analyses side by side), ``/alerts``; API: ``/openapi.json``,
``/studies/{key}/analysis.json`` (the stored document), ``/healthz``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.exc import OperationalError
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException

from reprovip import __version__
from reprovip.dashboard import models as m
from reprovip.dashboard import queries as q
from reprovip.dashboard.security import Guard
from reprovip.dashboard.sources import Source
from reprovip.dashboard.views import Dashboard
from reprovip.errors import ReprovipError
from reprovip.report.maps import MAP_NAME
from reprovip.report.render import css, environment, output_map_images

TEMPLATES = str(Path(__file__).parent / "templates")
CSS_URL = "/static/reprovip.css"


class KeyConvertor(Convertor):
    """A study key ``<source>-<study id>``."""

    regex = r"[0-9]{1,6}-[0-9]{1,12}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class IdConvertor(KeyConvertor):
    """An execution id: letters, digits, ``_`` and ``-`` only."""

    regex = r"[A-Za-z0-9_-]{1,64}"


register_url_convertor("skey", KeyConvertor())
register_url_convertor("eid", IdConvertor())

ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": m.Error}, 503: {"model": m.Error}}
Status = Literal["done", "failed", "pending", "running"]
Key = PathParam(pattern=f"^{KeyConvertor.regex}$", description="A study key: `<source>-<study id>`.")
Eid = PathParam(pattern=f"^{IdConvertor.regex}$", description="An execution id.")
Axis = Literal["axial", "coronal", "sagittal"]
AnyAxis = PathParam(description="Which orthogonal slice.")


def json_response(data: Any, status: int = 200) -> Response:
    """JSON without NaN (the document's infinities are already strings)."""
    body = json.dumps(data, allow_nan=False, default=str, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json")


def create_app(sources: list[Source], *, token: str | None = None) -> Any:
    """The dashboard as an ASGI app over read-only ``sources`` (see :func:`~reprovip.dashboard.open_sources`).

    With ``token`` set, every request must carry it. Returns the app wrapped in the security middleware; the
    FastAPI app itself is its ``.fastapi`` attribute.
    """
    dash = Dashboard(sources)
    env = environment(TEMPLATES)
    app = FastAPI(
        title="reprovip dashboard",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        description="Read-only view of reprovip study catalogs. Every HTML page has a `.json` twin.",
    )
    stylesheet = css() + (Path(TEMPLATES) / "dashboard.css").read_text(encoding="utf-8")

    def html(template: str, ctx: dict[str, Any], json_url: str, *, status: int = 200, **extra: Any) -> HTMLResponse:
        page = env.get_template(template).render(
            ctx=ctx,
            json_url=json_url,
            inline_css=None,
            static_css=CSS_URL,
            csp_meta=None,
            refresh=extra.pop("refresh", None),
            **extra,
        )
        return HTMLResponse(page, status_code=status)

    def map_images(key: str, analysis: dict[str, Any] | None) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
        def images(o: dict[str, Any]) -> list[dict[str, Any]]:
            if analysis is None:
                return []
            src, row = dash.resolve(key)
            doc = q.document(src.engine, row["id"], analysis["analysis_id"]) or {}
            raws = doc.get("outputs") or []
            store = src.store_for(row["id"], row.get("study_dir"))
            if store is None or o["index"] >= len(raws):
                return []
            study = str((doc.get("study") or {}).get("name", "")) or None
            base = f"/studies/{key}/maps/{analysis['analysis_id']}/{o['index']}"

            def url(name: str, s: Any) -> str:
                return f"{base}/{name}/{s.axis}.png"

            return output_map_images(store, raws[o["index"]], url, study=study)

        return images

    def links(key: str) -> Any:
        class Links:
            @staticmethod
            def execution(eid: str = Eid) -> str:
                return f"/studies/{key}/executions/{eid}"

        return Links

    # -- error pages ---------------------------------------------------------------------------------
    def _error(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
        if request.url.path.endswith((".json", ".png")) or "json" in request.headers.get("accept", "").split(",")[0]:
            resp = json_response({"detail": detail}, status)
        else:
            resp = html("error.html", {"status": status, "detail": detail}, "", status=status)
        resp.headers.update(headers or {})  # e.g. Allow on 405
        return resp

    @app.exception_handler(ReprovipError)
    async def _reprovip_error(request: Request, exc: ReprovipError) -> Response:
        return _error(request, exc.http_status, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            return _error(request, 404, "not found")  # a malformed id or map name names nothing
        return await request_validation_exception_handler(request, exc)

    @app.exception_handler(OperationalError)
    async def _db_error(request: Request, exc: OperationalError) -> Response:
        slow = any(w in str(exc.orig) for w in ("interrupted", "statement timeout"))
        detail = "the catalog query took too long" if slow else "the catalog is not readable now"
        return _error(request, 503, f"{detail}; try again")

    # -- pages and their twins -------------------------------------------------------------------------
    @app.get("/index.json", response_model=m.StudyList, tags=["studies"])
    def index_json() -> Response:
        """Every study: counts by status and latest verdict."""
        return json_response(dash.index())

    @app.get("/", response_class=HTMLResponse, tags=["pages"])
    def index_page() -> HTMLResponse:
        """Every study (HTML)."""
        return html("index.html", dash.index(), "/index.json")

    @app.get("/alerts.json", response_model=m.AlertsPage, tags=["studies"])
    def alerts_json() -> Response:
        """Alerts of every study's latest analysis, failures first."""
        return json_response(dash.alerts())

    @app.get("/alerts", response_class=HTMLResponse, tags=["pages"])
    def alerts_page() -> HTMLResponse:
        """Alerts (HTML)."""
        return html("alerts.html", dash.alerts(), "/alerts.json")

    @app.get("/studies/{key:skey}.json", response_model=m.StudyPage, responses=ERRORS, tags=["studies"])
    def study_json(key: str = Key) -> Response:
        """A study: the view of its latest analysis, run history and trends of key metrics."""
        ctx = dash.study(key)
        a = ctx.pop("analysis")
        head = json.dumps(ctx, allow_nan=False, default=str, separators=(",", ":"))
        body = head[:-1] + ',"analysis":' + (analysis_json_text(key, a) if a else "null") + "}"
        return Response(body.encode(), media_type="application/json")

    @app.get("/studies/{key:skey}/analysis.json", responses=ERRORS, tags=["studies"])
    def analysis_json(key: str = Key) -> Response:
        """The latest stored analysis document (schema ``reprovip.analysis/2``), as stored."""
        return json_response(dash.document(key))

    fragments: OrderedDict[tuple[str, int], Markup] = OrderedDict()

    def analysis_fragment(key: str, a: dict[str, Any] | None) -> Markup | None:
        """The analysis part of a study page, rendered once per stored analysis (documents never change)."""
        if a is None:
            return None
        ck = (key, a["analysis_id"])
        if ck not in fragments:
            macro = env.get_template("_analysis.html").module.analysis  # type: ignore[attr-defined]
            fragments[ck] = Markup(macro(a, map_images(key, a), links(key)))
            while len(fragments) > 32:
                fragments.popitem(last=False)
        return fragments[ck]

    json_texts: OrderedDict[tuple[str, int], str] = OrderedDict()

    def analysis_json_text(key: str, a: dict[str, Any]) -> str:
        """The analysis view as JSON text, serialised once per stored analysis."""
        ck = (key, a["analysis_id"])
        if ck not in json_texts:
            json_texts[ck] = json.dumps(a, allow_nan=False, default=str, separators=(",", ":"))
            while len(json_texts) > 32:
                json_texts.popitem(last=False)
        return json_texts[ck]

    @app.get("/studies/{key:skey}", response_class=HTMLResponse, responses=ERRORS, tags=["pages"])
    def study_page(key: str = Key) -> HTMLResponse:
        """A study (HTML)."""
        ctx = dash.study(key)
        return html("study.html", ctx, f"/studies/{key}.json", fragment=analysis_fragment(key, ctx["analysis"]))

    @app.get("/studies/{key:skey}/compare.json", response_model=m.Comparison, responses=ERRORS, tags=["studies"])
    def compare_json(
        key: str = Key, old: int | None = Query(None, ge=1, le=2**62), new: int | None = Query(None, ge=1, le=2**62)
    ) -> Response:
        """Two stored analyses side by side (default: the previous and the latest): verdicts and key metrics."""
        return json_response(dash.compare(key, old, new))

    @app.get("/studies/{key:skey}/compare", response_class=HTMLResponse, responses=ERRORS, tags=["pages"])
    def compare_page(
        key: str = Key, old: int | None = Query(None, ge=1, le=2**62), new: int | None = Query(None, ge=1, le=2**62)
    ) -> HTMLResponse:
        """Two stored analyses side by side (HTML)."""
        query = "&".join(f"{k}={v}" for k, v in (("old", old), ("new", new)) if v is not None)
        return html(
            "compare.html", dash.compare(key, old, new), f"/studies/{key}/compare.json" + (f"?{query}" if query else "")
        )

    @app.get(
        "/studies/{key:skey}/executions.json",
        response_model=m.ExecutionsPage,
        responses=ERRORS,
        tags=["executions"],
    )
    def executions_json(key: str = Key, status: Status | None = None, page: int = Query(1, ge=1, le=10**7)) -> Response:
        """One page of executions (50 a page), optionally of one status."""
        return json_response(dash.executions(key, status=status, page=page))

    @app.get("/studies/{key:skey}/executions", response_class=HTMLResponse, responses=ERRORS, tags=["pages"])
    def executions_page(
        key: str = Key, status: Status | None = None, page: int = Query(1, ge=1, le=10**7)
    ) -> HTMLResponse:
        """Executions (HTML)."""
        suffix = f"?page={page}" + (f"&status={status}" if status else "")
        return html(
            "executions.html",
            dash.executions(key, status=status, page=page),
            f"/studies/{key}/executions.json{suffix}",
        )

    @app.get(
        "/studies/{key:skey}/executions/{eid:eid}.json",
        response_model=m.ExecutionPage,
        responses=ERRORS,
        tags=["executions"],
    )
    def execution_json(key: str = Key, eid: str = Eid) -> Response:
        """One execution: attempts (argv, environment, output tails), outputs, provenance."""
        return json_response(dash.execution(key, eid))

    @app.get(
        "/studies/{key:skey}/executions/{eid:eid}",
        response_class=HTMLResponse,
        responses=ERRORS,
        tags=["pages"],
    )
    def execution_page(key: str = Key, eid: str = Eid) -> HTMLResponse:
        """One execution (HTML)."""
        return html("execution.html", dash.execution(key, eid), f"/studies/{key}/executions/{eid}.json")

    @app.get("/studies/{key:skey}/progress.json", response_model=m.Progress, responses=ERRORS, tags=["studies"])
    def progress_json(key: str = Key) -> Response:
        """Live progress of a study: counts by status and condition, throughput, ETA."""
        return json_response(dash.progress(key))

    @app.get("/studies/{key:skey}/progress", response_class=HTMLResponse, responses=ERRORS, tags=["pages"])
    def progress_page(key: str = Key) -> HTMLResponse:
        """Live progress (HTML, refreshes itself while executions are pending)."""
        ctx = dash.progress(key)
        return html("progress.html", ctx, f"/studies/{key}/progress.json", refresh=ctx["refresh_seconds"])

    @app.get(
        "/studies/{key:skey}/maps/{analysis_id}/{output}/{name}/{axis}.png",
        responses=ERRORS,
        tags=["maps"],
        response_class=Response,
    )
    def map_png(
        key: str = Key,
        analysis_id: int = PathParam(ge=1, le=2**62),
        output: int = PathParam(ge=0, le=10**6),
        name: str = PathParam(pattern=MAP_NAME.pattern),
        axis: Axis = AnyAxis,
    ) -> Response:
        """A slice of a voxelwise map, addressed by ids from the analysis document only."""
        png = dash.map_png(key, analysis_id, output, name, axis)
        return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=3600"})

    @app.get("/static/reprovip.css", include_in_schema=False)
    def stylesheet_route() -> Response:
        return Response(stylesheet, media_type="text/css", headers={"cache-control": "max-age=3600"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/healthz", response_model=m.Health, tags=["api"])
    def healthz() -> Response:
        """Liveness (the benchmark's baseline)."""
        return json_response({"status": "ok"})

    guarded = Guard(app, token)
    guarded.fastapi = app  # type: ignore[attr-defined]
    guarded.dashboard = dash  # type: ignore[attr-defined]
    return guarded
