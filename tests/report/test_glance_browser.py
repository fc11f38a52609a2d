"""Read at a glance, in Debian's Chromium: the report and the dashboard's study page of three real stores
(bit-for-bit identical, sufficiently reproducible, failed executions), each run once with a ``threads``
factor by ``tests/apps/edge_app.py``.

On every page: the banner shows the label ``check`` prints, no text overflows its box (measured in the
page: elements against their container, SVG texts against their viewBox), every strip-plot legend lists
every condition, and the key metrics name an observation the stored verdict judged. Screenshots go to
``test-artifacts/`` (kept by CI).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reprovip.cli.main import main
from reprovip.dashboard import create_app, open_sources
from reprovip.report import render_report
from reprovip.study import Study
from tests.criteria.test_one_verdict import edge_study
from tests.report.conftest import ARTIFACTS, serving

STORES = {"identical": "ok", "sufficient": "small-noise", "failed-runs": "fail-some"}
CONDITIONS = ["threads=1", "threads=2"]

OVERFLOW_JS = """() => {
  const bad = [];
  const main = document.querySelector('main').getBoundingClientRect();
  for (const el of document.querySelectorAll('main *')) {
    if (el.closest('svg') || el.closest('pre') || el.closest('details:not([open])')) continue;
    const r = el.getBoundingClientRect();
    if (!r.width) continue;
    const style = getComputedStyle(el);
    if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) bad.push(el.tagName + ': ' + el.textContent.slice(0, 60));
    if (r.right > main.right + 1) bad.push('beyond main: ' + el.tagName + ': ' + el.textContent.slice(0, 60));
    if (el.children.length === 0 && el.textContent.trim() && el.scrollWidth > el.clientWidth + 1 && style.display !== 'inline')
      bad.push('text wider than its box: ' + el.textContent.slice(0, 60));
  }
  for (const svg of document.querySelectorAll('main svg.plot')) {
    const box = svg.getBoundingClientRect();  // on screen, so rotated labels count as drawn
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBoundingClientRect();
      if (b.left < box.left - 0.5 || b.right > box.right + 0.5 || b.top < box.top - 0.5 || b.bottom > box.bottom + 0.5)
        bad.push('cut: ' + t.textContent);
    }
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Study]:
    root = tmp_path_factory.mktemp("glance")
    out = {}
    for name, mode in STORES.items():
        (root / name).mkdir()
        out[name] = edge_study(root / name, mode, extra="factors:\n  threads: [1, 2]\n")
        out[name].analyze()
    out["sufficient"].analyze()  # a second stored analysis: history and comparison on the dashboard
    return out


def _check_label(study: Study, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    main(["check", str(study.path), "--no-reanalyze"])
    return capsys.readouterr().out.rstrip().splitlines()[-1].split(": ", 1)[1]


def _assert_reads_at_a_glance(page: Any, study: Study, label: str) -> None:
    doc = json.loads((study.results / "analysis.json").read_text())
    assert page.locator("#verdict .label").inner_text() == label == doc["verdict"]["label"]
    assert page.evaluate(OVERFLOW_JS) == []
    # The key metrics are about an observation the verdict judged: the one its deciding reason names.
    out = doc["outputs"][0]
    named = [r["observation"] for r in out["verdict"]["reasons"] if r.get("observation")]
    shown = page.locator(".judged[data-observation]").first.get_attribute("data-observation")
    assert shown == (named[0] if named else shown) and shown in {o["name"] for o in out["observations"]}
    strips = page.locator('svg[aria-label^="strip plot"]')
    if out["bitwise"]["identical"]:
        assert strips.count() == 0  # nothing differs: nothing to plot
    else:
        assert strips.count() >= 1
    for i in range(strips.count()):
        labels = strips.nth(i).locator("text.legend-label").evaluate_all("els => els.map(e => e.textContent)")
        assert labels == CONDITIONS
    # The first screen says what to do next.
    assert page.locator("#next").bounding_box()["y"] < 900


@pytest.mark.parametrize("name", list(STORES))
def test_report_reads_at_a_glance(
    name: str, stores: dict[str, Study], browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = stores[name]
    label = _check_label(study, capsys)
    path = render_report(study, tmp_path / f"{name}.html")
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        _assert_reads_at_a_glance(page, study, label)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"glance-report-{name}.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture(scope="module")
def server(stores: dict[str, Study]) -> Iterator[str]:
    with serving(create_app(open_sources([str(stores[n].path) for n in STORES]))) as url:
        yield url


@pytest.mark.parametrize(("index", "name"), list(enumerate(STORES)))
def test_dashboard_study_page_reads_at_a_glance(
    index: int,
    name: str,
    stores: dict[str, Study],
    server: str,
    browser: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    label = _check_label(stores[name], capsys)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{server}/studies/{index}-1")
        _assert_reads_at_a_glance(page, stores[name], label)
        page.screenshot(path=str(ARTIFACTS / f"glance-dashboard-{name}.png"), full_page=True)
        if name == "sufficient":  # two stored analyses: the history links to their comparison
            page.locator("#history a", has_text="compare with the previous").click()
            assert page.locator("h1").inner_text().endswith("analysis 1 → 2")
            assert page.locator("section.card[data-output=result] td", has_text="ICC(A,1) CI low").count() == 1
            assert page.evaluate(OVERFLOW_JS) == []
            page.screenshot(path=str(ARTIFACTS / "glance-dashboard-compare.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()
