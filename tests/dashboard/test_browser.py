"""The dashboard served by uvicorn on 127.0.0.1 and driven by a real Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.conftest import IMAGES, SCALAR
from tests.report.conftest import ARTIFACTS, serving

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
