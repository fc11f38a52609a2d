"""The JSON API matches its OpenAPI document: every response of every JSON endpoint, with real ids, is
validated against its published schema (jsonschema), then schemathesis fuzzes the whole API in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from starlette.routing import Route

from reprovip.study import Study
from tests.conftest import write_study
from tests.dashboard.conftest import HOSTILE, IMAGES, SCALAR, Client

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")


@pytest.fixture(scope="module")
def openapi(client: Client) -> dict[str, Any]:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    return doc


def _validate(openapi: dict[str, Any], template: str, url: str, client: Client) -> None:
    r = client.get(url)
    assert r.status_code == 200, (url, r.text[:200])
    assert r.headers["content-type"] == "application/json"
    schema = openapi["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(dict(schema, components=openapi["components"]))
    errors = sorted(validator.iter_errors(r.json()), key=str)
    assert not errors, (url, [f"{list(e.path)}: {e.message}" for e in errors[:3]])


def test_every_json_endpoint_matches_its_schema(client: Client, openapi: dict[str, Any]) -> None:
    failed = client.get(f"/studies/{SCALAR}/executions.json", params={"status": "failed"}).json()
    eid = failed["executions"][0]["id"]
    aid = client.get(f"/studies/{SCALAR}.json").json()["analysis"]["analysis_id"]
    urls = {
        "/index.json": ["/index.json"],
        "/alerts.json": ["/alerts.json"],
        "/healthz": ["/healthz"],
        "/studies/{key}.json": [f"/studies/{k}.json" for k in (SCALAR, IMAGES, HOSTILE)],
        "/studies/{key}/executions.json": [
            f"/studies/{SCALAR}/executions.json?status=failed",
            f"/studies/{HOSTILE}/executions.json?page=1",
        ],
        "/studies/{key}/executions/{eid}.json": [
            f"/studies/{SCALAR}/executions/{eid}.json",
            f"/studies/{HOSTILE}/executions/e0006.json",
        ],
        "/studies/{key}/progress.json": [f"/studies/{k}/progress.json" for k in (SCALAR, HOSTILE)],
        "/studies/{key}/compare.json": [f"/studies/{SCALAR}/compare.json?old={aid}&new={aid}"],
    }
    documented = {
        p
        for p, v in openapi["paths"].items()
        if "application/json" in v["get"]["responses"]["200"].get("content", {})
        and "$ref" in str(v["get"]["responses"]["200"]["content"]["application/json"]["schema"])
    }
    assert documented == set(urls)
    for template, examples in urls.items():
        for url in examples:
            _validate(openapi, template, url, client)


def test_execution_page_counts_the_current_attempts_and_shows_history(tmp_path: Path) -> None:
    """A flaky run then `run --force`: the page's count (1) is the execution's ``attempts``; 2 attempts are history."""
    from reprovip.dashboard import create_app, open_sources

    # The marker outside the study folder: a file the command names inside it is part of the recipe.
    path = write_study(
        tmp_path / "study",
        app="misbehaving_app.py",
        args=f'"flaky", "{{outdir}}", "{tmp_path}/marker"',
        repetitions=1,
        subjects=1,
        extra="retries: 1\n",
    )
    Study.load(path).run()
    Study.load(path).run(force=True)
    client = Client(create_app(open_sources([str(path)])))
    (row,) = client.get("/studies/0-1/executions.json").json()["executions"]
    data = client.get(row["url"] + ".json").json()
    attempts = [(a["run_id"], a["number"], a["status"], a["superseded"]) for a in data["attempts"]]
    runs = sorted({a[0] for a in attempts})
    assert attempts == [(runs[0], 1, "failed", True), (runs[0], 2, "done", True), (runs[1], 1, "done", False)]
    assert row["attempts"] == data["execution"]["attempts"] == 1
    html = client.get(row["url"]).text
    assert "1 current attempt(s) of this recipe; 2 earlier attempt(s) kept as history" in html
    assert html.count("history: before --force") == 2 and f"run {runs[1]}, attempt 1 — done" in html


def test_every_page_has_a_json_twin(app: Any) -> None:
    paths = {r.path for r in app.fastapi.routes if isinstance(r, Route)}
    pages = {r.path for r in app.fastapi.routes if isinstance(r, Route) and getattr(r, "tags", None) == ["pages"]}
    assert len(pages) == 7
    for page in pages:
        assert (page + ".json" if page != "/" else "/index.json") in paths, page


@pytest.fixture(scope="module")
def api_schema(app: Any) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


fuzzed = schemathesis.pytest.from_fixture("api_schema")


@fuzzed.parametrize()
@settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_schemathesis_fuzz(case: Any) -> None:
    """Random ids, statuses, pages and map names: no 5xx, documented status codes and schemas only."""
    case.call_and_validate()


def test_progress_of_a_dead_run_is_interrupted_and_not_refreshed(tmp_path: Path) -> None:
    """A run left `running` by a killed runner (a finished process's pid) is shown interrupted, and the page
    stops refreshing; a run whose process lives (this one, started before it) is running and refreshed."""
    import os
    import socket
    import subprocess

    from reprovip.dashboard import create_app, open_sources

    path = write_study(tmp_path, repetitions=1, subjects=1)
    study = Study.load(path)
    study.run()
    sid = study.catalog.study_id(study.name)
    dead = subprocess.Popen(["true"])
    dead.wait()
    run_id = study.catalog.start_run(sid, "run", 1, socket.gethostname(), dead.pid)
    client = Client(create_app(open_sources([str(path)])))
    progress = client.get("/studies/0-1/progress.json").json()
    assert progress["running_runs"] == [] and progress["refresh_seconds"] is None
    runs = {r["id"]: r["status"] for r in client.get("/studies/0-1.json").json()["runs"]}
    assert runs[run_id] == "interrupted"
    live = study.catalog.start_run(sid, "run", 1, socket.gethostname(), os.getpid())
    progress = client.get("/studies/0-1/progress.json").json()
    assert [r["id"] for r in progress["running_runs"]] == [live] and progress["refresh_seconds"] == 5
    assert "This page refreshes every 5 s." in client.get("/studies/0-1/progress").text


def test_every_page_summarises_the_study_with_the_same_verdict(client: Client) -> None:
    """The executions, progress and compare pages' `study` carried `verdict: null` and no alerts while the index
    said "incomplete, 2 alerts" (a review): one verdict on every page."""
    (index,) = [s for s in client.get("/index.json").json()["studies"] if s["key"] == SCALAR]
    assert index["verdict"] is not None
    for page in ("executions", "progress"):
        study = client.get(f"/studies/{SCALAR}/{page}.json").json()["study"]
        assert (study["verdict"], study["alerts"], study["analysis_id"]) == (
            index["verdict"],
            index["alerts"],
            index["analysis_id"],
        ), page
