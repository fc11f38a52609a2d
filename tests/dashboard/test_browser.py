"""The dashboard served by uvicorn on 127.0.0.1 and driven by a real Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reprovip.dashboard import create_app, open_sources
from reprovip.study import Study
from tests.dashboard.conftest import IMAGES, SCALAR
from tests.dashboard.test_pages import DURATION, SIZE
from tests.report.conftest import ARTIFACTS, pipeline_study, serving  # noqa: F401 (fixture)
from tests.report.test_glance_browser import OVERFLOW_JS
from tests.report.test_report_browser import PIPELINE_UNDER_THREADS_2, flow_nodes

uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed")


@pytest.fixture(scope="module")
def server(app: Any) -> Iterator[str]:
    """Serve the app on a free loopback port in a background thread; yield its base URL."""
    with serving(app) as url:
        yield url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.console_errors = []  # CSP violations and failed loads show up here
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()


def test_study_list(server: str, page: Any) -> None:
    page.goto(server + "/")
    rows = page.locator("table.studies tr[data-study]")
    assert rows.count() == 3
    assert "not reproducible" in page.locator(f'tr[data-study="{SCALAR}"]').inner_text()
    # The hostile name is text on the page, and no script ran.
    assert page.get_by_text("<script>alert(1)</script>").count() >= 1
    assert page.locator("main script").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-index.png"), full_page=True)
    assert not page.console_errors, page.console_errors


def test_study_page_alert_and_plots(server: str, page: Any) -> None:
    page.goto(server + "/")
    page.locator(f'tr[data-study="{SCALAR}"] a').first.click()
    page.wait_for_url(f"**/studies/{SCALAR}")
    assert page.locator("#verdict").inner_text().startswith("not reproducible")
    alert = page.locator("#alerts li.sev-fail")  # the failing criterion, then the failed executions
    assert alert.count() == 2 and "on value fails >= 6" in alert.first.inner_text()
    assert "4 of 16 executions failed" in alert.nth(1).inner_text()
    for label in ("ICC(A,1) with 95% CI", "strip plot of value per subject across executions"):
        box = page.locator(f'svg[aria-label="{label}"]').bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 20
    page.screenshot(path=str(ARTIFACTS / "dashboard-study.png"), full_page=True)
    # Drill down into a failed execution.
    page.goto(server + f"/studies/{SCALAR}/executions?status=failed")
    page.locator("td.mono a").first.click()
    assert "could not convert string to float" in page.locator("pre").last.inner_text()
    assert not page.console_errors, page.console_errors


def test_voxel_maps_load_under_the_csp(server: str, page: Any) -> None:
    page.goto(server + f"/studies/{IMAGES}")
    imgs = page.locator(".slices img")
    assert imgs.count() == 12
    page.wait_for_load_state("load")
    widths = imgs.evaluate_all("els => els.map(e => e.complete ? e.naturalWidth : 0)")
    assert all(w > 0 for w in widths), widths
    # The stylesheet applied (served from 'self' under the CSP): cards have a border.
    assert page.locator("section.card").first.evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"
    page.screenshot(path=str(ARTIFACTS / "dashboard-images.png"), full_page=True)
    assert not page.console_errors, page.console_errors


def test_maps_over_the_anatomy_and_units_in_the_browser(server: str, page: Any) -> None:
    page.goto(server + f"/studies/{IMAGES}")
    page.wait_for_load_state("load")
    maps = page.locator(".map[data-map]")
    assert maps.count() == 4
    for i in range(maps.count()):
        m = maps.nth(i)
        assert ", over sub-01's image (threads=1, repetition " in m.locator("b").inner_text()
        box = m.locator('svg[aria-label^="colour scale"]').bounding_box()
        assert box is not None and box["width"] > 100
        assert m.locator("span.muted").inner_text().startswith("(")  # the unit
    differ = page.locator('section[data-output="seg"] .map[data-map="differ"]')
    differ.screenshot(path=str(ARTIFACTS / "dashboard-differ-over-anatomy.png"))
    assert page.evaluate(OVERFLOW_JS) == []
    page.goto(server + f"/studies/{IMAGES}/executions")
    cells = page.locator("td.duration").all_inner_texts()
    assert len(cells) == 12 and all(DURATION.match(c) for c in cells), cells
    assert page.evaluate(OVERFLOW_JS) == []
    page.locator("td.mono a").first.click()
    assert DURATION.match(page.locator("td.duration").inner_text())
    assert SIZE.match(page.locator("td.peak_rss").inner_text()) and page.locator("td.size").count() == 2  # image, seg
    assert page.evaluate(OVERFLOW_JS) == []
    page.screenshot(path=str(ARTIFACTS / "dashboard-execution.png"))  # the top: the provenance is long
    assert not page.console_errors, page.console_errors


@pytest.fixture(scope="module")
def pipeline_server(pipeline_study: Study) -> Iterator[str]:  # noqa: F811
    with serving(create_app(open_sources([str(pipeline_study.directory)]))) as url:
        yield url


def test_pipeline_graph_on_the_study_page(pipeline_server: str, page: Any) -> None:
    page.goto(pipeline_server + "/studies/0-1")
    assert flow_nodes(page, "threads=2") == PIPELINE_UNDER_THREADS_2
    assert {n[1] for n in flow_nodes(page, "the reference condition (threads=1, seed=42)")} == {"identical"}
    assert (
        "divergence starts at step `python pipeline_app.py --step 2" in page.locator(".attribution").first.inner_text()
    )
    assert page.evaluate(OVERFLOW_JS) == []
    page.locator("#dataflow").screenshot(path=str(ARTIFACTS / "dashboard-pipeline-graph.png"))
    assert not page.console_errors, page.console_errors
