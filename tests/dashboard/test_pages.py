"""Dashboard pages and their JSON twins over real stores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markupsafe import escape

from reprovip.dashboard import create_app, open_sources
from reprovip.report import fmt
from reprovip.study import Study
from tests.dashboard.conftest import HOSTILE, IMAGES, SCALAR, Client
from tests.report.conftest import pipeline_study  # noqa: F401 (fixture)
from tests.report.studies import XSS
from tests.report.test_report_browser import PIPELINE_UNDER_THREADS_2


def test_index_lists_every_study_with_counts_and_latest_verdict(client: Client) -> None:
    data = client.get("/index.json").json()
    by_key = {s["key"]: s for s in data["studies"]}
    assert set(by_key) == {SCALAR, IMAGES, HOSTILE}
    scalar = by_key[SCALAR]
    assert scalar["counts"] == {"done": 12, "failed": 4, "running": 0, "pending": 0} and scalar["total"] == 16
    assert scalar["verdict"]["status"] == "fail" and scalar["verdict"]["evaluated"]
    # `analyze` alone stores the verdict (no `check` was run on the image study): the index shows it.
    assert by_key[IMAGES]["verdict"]["evaluated"] and by_key[IMAGES]["verdict"]["status"] != "unknown"
    html = client.get("/").text
    assert f'<tr data-study="{SCALAR}">' in html and "not reproducible" in html


def test_study_page_shows_the_alert_of_the_failing_output(client: Client, scalar_study: Study) -> None:
    doc = json.loads((scalar_study.results / "analysis.json").read_text())
    html = client.get(f"/studies/{SCALAR}").text
    assert str(escape(doc["alerts"][0]["message"])) in html and 'class="sev-fail"' in html
    assert 'data-status="fail"' in html and 'aria-label="ICC(A,1) with 95% CI"' in html
    data = client.get(f"/studies/{SCALAR}.json").json()
    assert data["analysis"]["alerts"] == [dict(a) for a in doc["alerts"]]
    out = data["analysis"]["outputs"][0]
    assert out["verdict"]["status"] == "fail"
    assert out["key"]["wsd"] == doc["outputs"][0]["observations"][0]["wsd"]
    # The strip plot's values are the stored results: 3 complete subjects x 2 conditions x 2 repetitions.
    strip = out["strip"][0]
    assert [s["subject"] for s in strip["subjects"]] == ["sub-01", "sub-02", "sub-03"]
    assert all(len(s["values"]) == 4 for s in strip["subjects"])
    assert out["bland_altman"]["factor"] == "threads" and len(out["bland_altman"]["points"]) == 3


def test_study_page_has_run_history_and_trend(client: Client) -> None:
    data = client.get(f"/studies/{SCALAR}.json").json()
    assert [r["status"] for r in data["runs"]] == ["finished"]
    # analyze() stored one document, the fixture a second one with the verdict: two points.
    assert len(data["trend"]) == 2 and data["trend"][-1]["verdict"] == "fail"
    assert "sigdigits_min" in data["trend"][-1]["outputs"]["result"]
    assert 'id="trend"' in client.get(f"/studies/{SCALAR}").text


def test_study_page_says_when_it_shows_only_the_latest_runs(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run history lists the latest runs; with more runs than it shows, it says how many there are (before,
    the 21st run and beyond vanished without a word)."""
    from reprovip.dashboard import views
    from tests.conftest import write_study

    study = Study.load(write_study(tmp_path, subjects=1, repetitions=1))
    for _ in range(3):
        study.run()
    monkeypatch.setattr(views, "RUNS_SHOWN", 2)
    c = Client(create_app(open_sources([str(tmp_path / "study.yaml")])))
    key = c.get("/index.json").json()["studies"][0]["key"]
    data = c.get(f"/studies/{key}.json").json()
    assert (len(data["runs"]), data["runs_total"]) == (2, 3)
    assert "The latest 2 of 3 runs." in c.get(f"/studies/{key}").text
    monkeypatch.setattr(views, "RUNS_SHOWN", 20)
    assert "The latest" not in c.get(f"/studies/{key}").text


def test_image_study_page_serves_its_map_slices(client: Client) -> None:
    html = client.get(f"/studies/{IMAGES}").text
    urls = re.findall(r'<img src="([^"]+\.png)"', html)
    assert len(urls) == 12
    for url in urls[:3] + urls[-3:]:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"


def test_executions_are_paginated_and_filtered(client: Client) -> None:
    failed = client.get(f"/studies/{SCALAR}/executions.json", params={"status": "failed"}).json()
    assert failed["total"] == 4 and {e["subject"] for e in failed["executions"]} == {"sub-04"}
    page = client.get(f"/studies/{HOSTILE}/executions.json", params={"page": 2}).json()
    assert page["pages"] == 1 and page["executions"] == []
    first = client.get(f"/studies/{HOSTILE}/executions.json").json()
    assert first["total"] == 20 and len(first["executions"]) == 20
    assert client.get(f"/studies/{SCALAR}/executions", params={"status": "failed"}).status_code == 200


def test_execution_drill_down_shows_argv_stderr_and_provenance(client: Client) -> None:
    failed = client.get(f"/studies/{SCALAR}/executions.json", params={"status": "failed"}).json()["executions"][0]
    data = client.get(failed["url"] + ".json").json()
    attempt = data["attempts"][0]
    assert attempt["exit_code"] == 1 and "could not convert string to float: 'oops'" in attempt["stderr_tail"]
    assert attempt["argv"][1].endswith("nondet_app.py")
    assert {"hostname", "python.version"} <= {p["field"] for p in data["provenance"]}
    html = client.get(failed["url"]).text
    assert "could not convert string to float: &#39;oops&#39;" in html


def test_secrets_in_the_environment_are_hidden(client: Client) -> None:
    data = client.get(f"/studies/{HOSTILE}/executions/e0006.json").json()
    assert data["attempts"][0]["env"] == {"API_TOKEN": "(hidden)", "OMP_NUM_THREADS": "2"}
    assert "s3cret" not in client.get(f"/studies/{HOSTILE}/executions/e0006").text


def test_progress_refreshes_while_executions_are_pending(client: Client) -> None:
    live = client.get(f"/studies/{HOSTILE}/progress.json").json()
    assert live["refresh_seconds"] == 5 and live["total"] == 20 and live["finished_fraction"] == 0.4
    assert live["running_runs"][0]["status"] == "running"
    assert {c["condition"]: c["total"] for c in live["by_condition"]} == {"threads=1": 10, "threads=2": 10}
    assert '<meta http-equiv="refresh" content="5">' in client.get(f"/studies/{HOSTILE}/progress").text
    done = client.get(f"/studies/{SCALAR}/progress.json").json()
    assert done["refresh_seconds"] is None and done["eta_seconds"] is None
    assert 'http-equiv="refresh"' not in client.get(f"/studies/{SCALAR}/progress").text


def test_alerts_page_lists_stale_verdicts_then_failures_first(client: Client) -> None:
    every = client.get("/alerts.json").json()["alerts"]
    stale = [a for a in every if a.get("stale")]
    assert every[: len(stale)] == stale and all(a["message"].startswith("stale: ") for a in stale)
    alerts = every[len(stale) :]
    assert alerts[0]["severity"] == "fail" and alerts[0]["key"] == SCALAR and alerts[0]["from_criteria"]
    assert any(a["key"] == HOSTILE and a["message"] == XSS for a in alerts)
    assert "on value fails &gt;= 6" in client.get("/alerts").text


def test_unknown_things_are_404(client: Client) -> None:
    for url in (
        "/studies/9-1",
        "/studies/0-99.json",
        f"/studies/{SCALAR}/executions/nope",
        f"/studies/{SCALAR}/executions/nope.json",
        "/studies/abc",
        "/nothing",
    ):
        r = client.get(url)
        assert r.status_code == 404, url
    assert client.get("/studies/9-1.json").json() == {"detail": "no study '9-1'"}


DURATION = re.compile(r"^(\d+(\.\d+)?(e-\d+)? s|\d+ min \d\d s|\d+ h \d\d min|–)$")
SIZE = re.compile(r"^(\d+ B|\d+(\.\d+)? (kB|MB|GB|TB))$")


def test_durations_and_sizes_carry_their_units(client: Client) -> None:
    """Seconds, min, h and B, kB, MB, GB on the pages (fmt.duration, fmt.size); the JSON twins keep the raw
    numbers (seconds, bytes)."""
    page = client.get(f"/studies/{SCALAR}/executions").text
    assert "duration (s)" not in page
    cells = re.findall(r'<td class="num duration">([^<]*)</td>', page)
    assert len(cells) == 16 and all(DURATION.match(c) for c in cells), cells
    data = client.get(f"/studies/{SCALAR}/executions.json").json()
    done = next(e for e in data["executions"] if e["status"] == "done")
    assert isinstance(done["duration"], float) and 0 < done["duration"] < 60
    html = client.get(done["url"]).text
    assert f'<td class="duration">{done["duration"]:.3g} s</td>' in html
    ex = client.get(done["url"] + ".json").json()
    rss = ex["execution"]["peak_rss"]
    assert rss > 10**6 and f'<td class="peak_rss">{rss / 1e6:.3g} MB</td>' in html
    sizes = re.findall(r'<td class="num size">([^<]*)</td>', html)
    assert len(sizes) == len(ex["outputs"]) and all(SIZE.match(s) for s in sizes), sizes
    # The run history says how long each run took (the study page had only its start and end).
    run = client.get(f"/studies/{SCALAR}.json").json()["runs"][0]
    assert isinstance(run["duration"], float) and 0 < run["duration"] < 600
    took = re.findall(r'<td class="num duration">([^<]*)</td>', client.get(f"/studies/{SCALAR}").text)
    assert took == [fmt.duration(run["duration"])] and DURATION.match(took[0]), took


@pytest.fixture(scope="module")
def pipeline_client(pipeline_study: Study) -> Client:  # noqa: F811
    return Client(create_app(open_sources([str(pipeline_study.directory)])))


def test_study_page_draws_the_pipeline_graph_and_its_json_twin_carries_it(pipeline_client: Client) -> None:
    data = pipeline_client.get("/studies/0-1.json").json()
    contrasts = {c["label"]: c for c in data["analysis"]["dataflow"]["contrasts"]}
    graph = contrasts["threads=2"]["graph"]
    assert [(n["kind"], n["status"], n["name"]) for n in graph["nodes"]] == PIPELINE_UNDER_THREADS_2
    # Each step reads the file the step before wrote (tests/apps/pipeline_app.py): three reads, five writes.
    name = {n["id"]: n["name"].split(" (writes")[0].removeprefix("python pipeline_app.py --") for n in graph["nodes"]}
    assert sorted((name[e["source"]], name[e["target"]]) for e in graph["edges"] if e["kind"] == "reads") == [
        ("step1/loaded.json", "step 2"),
        ("step2/denoised.json", "step 3"),
        ("step3/scaled.json", "step 4"),
    ]
    assert sum(e["kind"] == "writes" for e in graph["edges"]) == 5
    html = pipeline_client.get("/studies/0-1").text
    section = html.split('<section id="dataflow">', 1)[1].split("</section>", 1)[0]
    assert len(contrasts) == 2  # the reference condition and threads=2 (seed has one level)
    assert section.count('class="flow-node"') == 2 * len(PIPELINE_UNDER_THREADS_2)  # one graph per contrast
    assert 'data-status="origin"' in section


def test_a_run_after_the_analysis_marks_its_verdict_stale_in_every_view(tmp_path) -> None:
    """The dashboard (list, study page, JSON), the report and ``check --no-reanalyze`` agree: a verdict made
    before the newest run is not shown as the study's current one (before, the dashboard and the report
    showed it as it was while ``check --no-reanalyze`` refused it). Analysing again clears the mark."""
    from reprovip.errors import InputError
    from tests.conftest import write_study

    study = Study.load(write_study(tmp_path, subjects=2, repetitions=2))
    assert study.run().done == 4
    study.analyze()
    c = Client(create_app(open_sources([str(study.path)])))
    key = c.get("/index.json").json()["studies"][0]["key"]

    def views() -> tuple[str | None, str | None, str, str, str]:
        listed = c.get("/index.json").json()["studies"][0]["stale"]
        shown = c.get(f"/studies/{key}.json").json()["study"]["stale"]
        return listed, shown, c.get("/").text, c.get(f"/studies/{key}").text, study.report().html

    listed, shown, index, html, report = views()
    assert listed is None and shown is None
    assert 'id="stale"' not in html and 'id="stale"' not in report and "stale</span>" not in index
    assert study.check(reanalyze=False).exit_code == 0

    (tmp_path / "data" / "sub-03.txt").write_text("subject 40.0\n")  # a new subject, run: 2 more executions
    study = Study.load(study.path)
    assert study.run().done == 2
    listed, shown, index, html, report = views()
    assert listed == shown and shown.startswith("run #2 (started ") and "came after this analysis" in shown
    assert str(escape(shown)) in html and 'id="stale"' in html and 'id="stale"' in report
    assert 'class="badge st-warn stale"' in index
    # the alerts page too (review A: "No alert in the latest analyses" beside it)
    (said,) = [a for a in c.get("/alerts.json").json()["alerts"] if a.get("stale")]
    assert said["message"] == f"stale: {shown}" and said["key"] == key
    with pytest.raises(InputError, match="executions changed since the stored analysis"):
        study.check(reanalyze=False)

    study.analyze()
    listed, shown, index, html, report = views()
    assert listed is None and shown is None and 'id="stale"' not in html and 'id="stale"' not in report
    assert not [a for a in c.get("/alerts.json").json()["alerts"] if a.get("stale")]


def test_the_rate_of_a_young_run_is_taken_over_its_own_time(tmp_path: Path) -> None:
    """Review P2: 6 executions done in a run's first 8 s read "0.4 per minute, about 35 min left" (counted over
    5 minutes) where 30 s were; and the estimate stayed once the runner was gone. Over the live run's time now,
    and no estimate without a live run."""
    import socket
    import time

    from sqlalchemy import insert, update

    from reprovip.store import Catalog
    from reprovip.store import schema as s

    store = tmp_path / ".reprovip"
    cat = Catalog.for_store(store)
    sid = cat.ensure_study("young", {"name": "young"}, str(tmp_path))
    now = time.time()
    rows = [
        dict(
            id=f"e{i}",
            study_id=sid,
            subject=f"s{i}",
            condition_key="-",
            condition={},
            repetition=1,
            status="done" if i < 6 else "pending",
            attempts=int(i < 6),
            finished_at=now - 1 if i < 6 else None,
            duration=1.0 if i < 6 else None,
        )
        for i in range(20)
    ]
    with cat.engine.begin() as conn:
        conn.execute(insert(s.executions), rows)
    run = cat.start_run(sid, "run", 20, socket.gethostname(), 1)  # a live runner: init, started before the run
    with cat.engine.begin() as conn:
        conn.execute(update(s.runs).where(s.runs.c.id == run).values(started_at=now - 10))
    client = Client(create_app(open_sources([str(store)])))
    live = client.get("/studies/0-1/progress.json").json()
    assert live["finished_last_5_min"] == 6
    assert 30 <= live["rate_per_min"] <= 37  # 6 in about 10 s, not 6 in 5 minutes (1.2 per minute)
    assert 15 <= live["eta_seconds"] <= 30  # 14 left at about 0.6 s each
    cat.finish_run(run, "interrupted", 6, 0)
    client = Client(create_app(open_sources([str(store)])))
    assert client.get("/studies/0-1/progress.json").json()["eta_seconds"] is None
    cat.close()
