"""The static report in a real browser, opened from file:// with the network disabled."""

from __future__ import annotations

from pathlib import Path

from reprovip.report import render_report
from reprovip.study import Study
from tests.report.conftest import ARTIFACTS


def _open_offline(browser, path: Path):
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    context.route(
        "**/*",
        lambda route: route.continue_() if route.request.url.startswith(("file:", "data:")) else route.abort(),
    )
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    return context, page, requests, errors


def test_scalar_report_renders_offline(browser, scalar_study: Study, tmp_path: Path) -> None:
    path = render_report(scalar_study, tmp_path / "scalar.html")
    context, page, requests, errors = _open_offline(browser, path)
    try:
        banner = page.locator("#verdict")
        assert banner.inner_text().startswith("not reproducible")
        assert "on value fails >= 6" in page.locator("#alerts").inner_text()
        # The plots draw: the ICC chart and the strip plot have a size and marks.
        for label in ("ICC(A,1) with 95% CI", "strip plot of value per subject across executions"):
            svg = page.locator(f'svg[aria-label="{label}"]')
            box = svg.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 20
            assert svg.locator("circle").count() >= 1
        # Markup in the description is text, not elements.
        assert page.locator("main script").count() == 0 and page.locator("main b", has_text="bold").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-scalar.png"), full_page=True)
    finally:
        context.close()
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert not errors, errors


def test_image_report_shows_slices_offline(browser, image_study: Study, tmp_path: Path) -> None:
    path = render_report(image_study, tmp_path / "images.html")
    context, page, requests, errors = _open_offline(browser, path)
    try:
        imgs = page.locator(".slices img")
        assert imgs.count() == 12
        widths = imgs.evaluate_all("els => els.map(e => e.complete ? e.naturalWidth : 0)")
        assert all(w > 0 for w in widths), widths
        assert page.locator('svg[aria-label="segmentation agreement per label"] rect').count() > 4
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-images.png"), full_page=True)
    finally:
        context.close()
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert not errors, errors
