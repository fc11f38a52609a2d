"""The static report in a real browser, opened from file:// with the network disabled."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from reprovip.report import flowgraph, render_report
from reprovip.study import Study
from tests.report.conftest import ARTIFACTS
from tests.report.test_glance_browser import OVERFLOW_JS


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


def png_indices(data_uri: str) -> np.ndarray:
    """The palette indices of one of the report's 8-bit palette PNGs (a ``data:`` URI), rows top to bottom."""
    data = base64.b64decode(data_uri.split(",", 1)[1])
    width, height = struct.unpack(">II", data[16:24])
    chunks, pos = b"", 8
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            chunks += data[pos + 8 : pos + 8 + size]
        pos += 12 + size
    rows = np.frombuffer(zlib.decompress(chunks), dtype=np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()  # filter type 0: the bytes are the indices
    return rows[:, 1:]


def test_maps_are_drawn_over_the_anatomy_with_a_colour_bar(browser, image_study: Study, tmp_path: Path) -> None:
    """The seg output's differ map, checked pixel by pixel against the map file: the differ colour (palette
    index 64) exactly where the map is 1, and elsewhere the greys of the first subject's label image (the
    anatomy; not one flat grey)."""
    path = render_report(image_study, tmp_path / "images.html")
    context, page, requests, errors = _open_offline(browser, path)
    try:
        for card in ("image", "seg"):
            maps = page.locator(f'section[data-output="{card}"] .map[data-map]')
            assert maps.count() == (3 if card == "image" else 1)
            for i in range(maps.count()):
                m = maps.nth(i)
                assert ", over sub-01's image (threads=1, repetition " in m.locator("b").inner_text()
                bar = m.locator('svg[aria-label^="colour scale"]')
                box = bar.bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 10
                unit = m.locator("span.muted").inner_text()
                assert unit in ("(the image's intensity unit)", "(decimal digits)", "(same / differ)")
        seg = page.locator('section[data-output="seg"] .map[data-map="differ"]')
        assert "same (anatomy shows)" in seg.locator("svg").text_content()
        axial = png_indices(seg.locator("img").first.get_attribute("src"))
        doc = json.loads((image_study.results / "analysis.json").read_text())
        out = next(o for o in doc["outputs"] if o["name"] == "seg")
        differ = nib.as_closest_canonical(nib.load(out["voxelwise"]["maps"]["differ"])).get_fdata()
        expected = differ[:, :, differ.shape[2] // 2].T[::-1, :] > 0.5
        assert expected.any() and not expected.all()
        assert ((axial == 64) == expected).all()
        assert len(np.unique(axial[~expected])) >= 2 and (axial[~expected] < 64).all()
        assert page.evaluate(OVERFLOW_JS) == []
        ARTIFACTS.mkdir(exist_ok=True)
        seg.screenshot(path=str(ARTIFACTS / "report-differ-over-anatomy.png"))
    finally:
        context.close()
    assert not errors, errors


def flow_nodes(page, contrast: str) -> list[tuple[str, str, str]]:
    """``(kind, status, name)`` of the graph's nodes under ``contrast``, top to bottom."""
    nodes = page.locator(f'#dataflow [data-contrast="{contrast}"] svg g.flow-node')
    return [
        (
            nodes.nth(i).get_attribute("data-kind"),
            nodes.nth(i).get_attribute("data-status"),
            nodes.nth(i).get_attribute("data-name"),
        )
        for i in range(nodes.count())
    ]


STEP = "python pipeline_app.py --step {n} (writes {w})"
PIPELINE_UNDER_THREADS_2 = [
    ("step", "identical", STEP.format(n=1, w="step1/loaded.json")),
    ("file", "identical", "step1/loaded.json"),
    ("step", "origin", STEP.format(n=2, w="step2/denoised.json")),
    ("file", "diverges", "step2/denoised.json"),
    ("step", "propagated", STEP.format(n=3, w="step3/count.json, step3/scaled.json")),
    ("file", "identical", "step3/count.json"),
    ("file", "diverges", "step3/scaled.json"),
    ("step", "propagated", STEP.format(n=4, w="out/result.json")),
    ("file", "diverges", "out/result.json"),
]
"""Known by construction (tests/apps/pipeline_app.py): step 2 adds unseeded noise under OMP_NUM_THREADS=2; step
3's count.json is a deterministic control."""


def test_pipeline_graph_colours_the_origin_step(browser, pipeline_study: Study, tmp_path: Path) -> None:
    path = render_report(pipeline_study, tmp_path / "pipeline.html")
    context, page, requests, errors = _open_offline(browser, path)
    try:
        assert flow_nodes(page, "threads=2") == PIPELINE_UNDER_THREADS_2
        reference = flow_nodes(page, "the reference condition (threads=1, seed=42)")
        assert [n[::2] for n in reference] == [n[::2] for n in PIPELINE_UNDER_THREADS_2]
        assert {n[1] for n in reference} == {"identical"}
        graph = page.locator('#dataflow [data-contrast="threads=2"] svg.plot')
        box = graph.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 9 * 20  # open, drawn
        # The origin box is filled with the origin colour, and the verdict's attribution names the origin step.
        origin = page.locator('[data-contrast="threads=2"] g.flow-node[data-status="origin"] rect')
        assert origin.get_attribute("fill") == flowgraph.STATUS_COLOURS["origin"][0]
        attribution = page.locator("section.output .attribution").first.inner_text()
        assert f"divergence starts at step `{STEP.format(n=2, w='step2/denoised.json')}`" in attribution
        assert page.evaluate(OVERFLOW_JS) == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#dataflow").screenshot(path=str(ARTIFACTS / "report-pipeline-graph.png"))
    finally:
        context.close()
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert not errors, errors
