"""The static report of real studies: verdict, alerts, metrics from the document, plots, escaping, offline."""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from reprovip.cli.main import main
from reprovip.cli.report import report_command
from reprovip.criteria.reasons import reason as make_reason
from reprovip.errors import NotFoundError
from reprovip.report import ReportView, render_report, report_html, report_view
from reprovip.report.fmt import duration, fmt
from reprovip.study import Study
from tests.conftest import write_study
from tests.report.studies import XSS

RESOURCE = re.compile(
    r"""(?:src|href|action|data|poster)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//""",
    re.IGNORECASE,
)


def _doc(study: Study) -> dict[str, Any]:
    return json.loads((study.results / "analysis.json").read_text())


def _assert_offline(html: str) -> None:
    assert not RESOURCE.search(html), RESOURCE.search(html)
    assert "<script" not in html.lower()
    assert "@import" not in html


def test_report_shows_verdict_alerts_and_the_document_numbers(scalar_study: Study, tmp_path: Path) -> None:
    path = render_report(scalar_study, tmp_path / "r.html")
    html = path.read_text(encoding="utf-8")
    doc = _doc(scalar_study)
    out = doc["outputs"][0]
    obs = out["observations"][0]
    # Verdict banner and alerts come first, in the criteria's words.
    assert html.index('id="verdict"') < html.index('id="alerts"') < html.index('class="card output"')
    assert 'data-status="fail"' in html and ">not reproducible<" in html
    assert str(escape(doc["alerts"][0]["message"])) in html
    assert "sigdigits_min &gt;= 6" in html
    # Key metrics are the document's, formatted.
    icc = obs["icc"]["ICC(A,1)"]
    assert f"{fmt(icc['value'])} [{fmt(icc['ci_low'])}, {fmt(icc['ci_high'])}]" in html
    for key in ("wsd", "rc", "sd_ratio"):
        assert fmt(obs[key]) in html
    assert fmt(obs["sigdigits"]["parker_min"], 3) in html
    for form in ("ICC(1,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)"):
        assert f"<td>{form}</td>" in html
    assert out["attribution"]["summary"].split(";")[0] in html
    # Plots: ICC against the bands, strip plot per subject, Bland–Altman between threads=1 and threads=2.
    assert 'aria-label="ICC(A,1) with 95% CI"' in html
    assert 'aria-label="strip plot of value per subject across executions"' in html
    assert "Bland–Altman: value, threads=2 − threads=1" in html
    # Failures with their stderr tail; the run history from the catalog.
    said = re.findall(r"[^<>]{0,80}failed[^<>]{0,80}", html)  # what the report says instead, if it fails
    assert "4 failed" in html and "could not convert string to float: &#39;oops&#39;" in html, said
    assert 'id="runs"' in html
    (run,) = scalar_study.catalog.runs(scalar_study.catalog.study_id(scalar_study.name))
    took = re.findall(r'<td class="num duration">([^<]*)</td>', html)  # how long the run took, with its unit
    assert took == [duration(run["finished_at"] - run["started_at"])] and took[0].endswith(" s"), took
    _assert_offline(html)


def test_user_strings_are_escaped(scalar_study: Study) -> None:
    doc = _doc(scalar_study)
    doc["alerts"].append({"output": "<img src=x onerror=alert(2)>", "severity": "warn", "message": XSS})
    html = report_html(doc)
    assert XSS not in html and "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


def test_report_of_a_document_without_verdict_never_derives_one(scalar_study: Study) -> None:
    """An analysis stored by an older reprovip has no verdict: the report says so and derives none."""
    doc = _doc(scalar_study)
    for key in ("verdict", "alerts"):
        doc.pop(key)
    for o in doc["outputs"]:
        o.pop("verdict")
    html = report_html(doc)
    assert 'data-status="unknown"' in html and "no verdict stored: analyse the study again" in html
    said = re.findall(r"[^<>]{0,80}failed[^<>]{0,80}", html)  # what the report says instead, if it fails
    assert "4 of 16 executions failed" in html and "Derived from the analysis" in html, said


def test_verdicts_of_the_criteria_module_render(scalar_study: Study) -> None:
    evaluate = pytest.importorskip("reprovip.criteria.evaluate", reason="no criteria module").evaluate
    doc = _doc(scalar_study)
    for key in ("verdict", "alerts"):
        doc.pop(key)
    doc = evaluate(doc, None)
    html = report_html(doc)
    assert f'data-status="{doc["verdict"]["status"]}"' in html and doc["verdict"]["label"] in html
    for alert in doc["alerts"]:
        assert str(escape(alert["message"])) in html
    for reason in doc["outputs"][0]["verdict"]["reasons"]:
        assert str(escape(reason["criterion"])) in html


def test_identical_study_is_reproducible_without_criteria(tmp_path: Path) -> None:
    study = Study.load(write_study(tmp_path, factors="  threads: [1, 2]\n", repetitions=2, subjects=2))
    study.run(jobs=2)
    study.analyze()
    html = report_view(study).html
    assert 'data-status="identical"' in html and "reproducible (bit-for-bit identical)" in html
    assert "bit-for-bit identical (bytes)" in html
    assert "strip plot" not in html  # nothing differs: nothing to plot


def _png_pixels(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    idat = data.index(b"IDAT")
    size = int.from_bytes(data[idat - 4 : idat], "big")
    raw = zlib.decompress(data[idat + 4 : idat + 4 + size])
    assert len(raw) == h * (w + 1)
    return w, h


def test_image_report_has_voxel_slices_and_segmentation(image_study: Study, tmp_path: Path) -> None:
    import base64

    path = render_report(image_study, tmp_path / "img.html")
    html = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 3 * 2**20
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    # image: sd, significant digits and differ maps; seg: differ; three orthogonal slices each.
    assert len(uris) == 3 * 4
    shapes = {_png_pixels(base64.b64decode(u)) for u in uris}
    assert {(12, 14), (12, 10), (14, 10)} <= shapes  # axial, coronal, sagittal of the 12x14x10 volume
    for name in ("sd", "sigdigits", "differ"):
        assert f'data-map="{name}"' in html
    assert "Segmentation agreement" in html and 'aria-label="segmentation agreement per label"' in html
    seg = next(o for o in _doc(image_study)["outputs"] if o["name"] == "seg")
    assert fmt(seg["segmentation"]["dice_min"]) in html
    _assert_offline(html)


def test_maps_outside_the_store_are_not_read(image_study: Study, tmp_path: Path) -> None:
    doc = _doc(image_study)
    moved = tmp_path / "elsewhere.nii.gz"
    moved.write_bytes(Path(doc["outputs"][0]["voxelwise"]["maps"]["sd"]).read_bytes())
    for o in doc["outputs"]:
        if "voxelwise" in o:
            o["name"] = "../../x"
            o["voxelwise"]["maps"] = {"sd": str(moved), "differ": "/etc/passwd"}
    html = report_html(doc, store=image_study.store)
    assert "data:image/png" not in html


def test_report_view_displays_inline_in_notebooks(scalar_study: Study, tmp_path: Path) -> None:
    view = report_view(scalar_study)
    assert isinstance(view, ReportView) and view.path is None
    inline = view._repr_html_()
    assert inline.startswith("<iframe srcdoc=") and 'sandbox=""' in inline and "&lt;html" in inline
    with pytest.raises(TypeError, match="not written to a file"):
        Path(view)
    saved = view.save(tmp_path / "nb.html")
    assert saved.read_text(encoding="utf-8") == view.html


def test_cli_report_writes_next_to_the_study(scalar_study: Study, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_command(str(scalar_study.path), output=None, analysis=None) == 0
    written = scalar_study.directory / "report.html"
    assert capsys.readouterr().out.strip() == f"report: {written}"
    assert "not reproducible" in written.read_text(encoding="utf-8")


def test_unanalysed_study_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(tmp_path, subjects=1, repetitions=1)
    with pytest.raises(NotFoundError, match="no analysis yet; run `reprovip analyze"):
        render_report(path)
    assert main(["report", str(path)]) == 2
    assert "no analysis yet" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nope.yaml")]) == 2


SUBNORMAL_APP = """import json, sys
from pathlib import Path
inp, out, rep = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
base = float(inp.read_text().split()[-1])
(out / "result.json").write_text(json.dumps({"value": base * 1e-310 * (1 + rep), "tiny": 5e-324 * rep}))
"""


def test_report_of_subnormal_values_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Values of the order of 1e-310, varying by one ulp of the smallest float (5e-324) between repetitions.
    Before: ``reprovip report`` exited 4 (math domain error in the strip plot's ticks) while check worked."""
    app = tmp_path / "subnormal_app.py"
    app.write_text(SUBNORMAL_APP)
    path = write_study(tmp_path, app=str(app), args='"{input}", "{outdir}", "{repetition}"', subjects=3)
    assert main(["run", str(path), "--no-progress"]) == 0
    assert main(["analyze", str(path)]) == 0  # analyze reports; check is the gate
    capsys.readouterr()
    assert main(["report", str(path), "-o", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    label = json.loads((Study.load(path).results / "analysis.json").read_text())["verdict"]["label"]
    assert label in html and "strip plot of tiny" in html and "strip plot of value" in html
    assert re.search(r">-?5e-324</text>", html)  # the smallest float's tick, not 4.94066e-324
    assert not re.search(r'="(?:-?inf|nan)"', html)


def test_each_reason_reads_as_check_prints_it(scalar_study: Study) -> None:
    """The report showed a reason's severity ("warn") where `check` printed "Error" (a warn-severity criterion
    that could not be computed, in an output that is not analysable): both read `reason_word` now."""
    doc = _doc(scalar_study)
    out = doc["outputs"][0]
    rows = [
        ("sd_ratio <= 0.1", False, False, "warn"),
        ("wsd <= 5", False, True, "warn"),
        ("ICC(A,1).ci_low >= 0.9", True, True, "fail"),
    ]
    reasons = [make_reason(c, passed=p, estimable=e, severity=sev, message="m") for c, p, e, sev in rows]
    out["verdict"] = dict(out["verdict"], status="error", reasons=reasons)
    html = report_html(doc)
    cells = re.findall(r"<code>([^<]+)</code></td>\s*<td><span class=\"badge st-(\w+)\">([^<]+)</span>", html)
    assert cells == [
        ("sd_ratio &lt;= 0.1", "error", "not estimable"),
        ("wsd &lt;= 5", "warn", "warning"),
        ("ICC(A,1).ci_low &gt;= 0.9", "pass", "passed"),
    ]


def test_what_to_do_next_follows_the_study_alerts_when_every_output_is_identical(tmp_path: Path) -> None:
    """Identical outputs, but executions the study file no longer declares (a warning alert): the report said
    "Nothing to fix: every output is bit-for-bit identical and every execution succeeded" (a review)."""
    path = write_study(tmp_path, subjects=3, repetitions=2)
    study = Study.load(path)
    assert study.run(jobs=2).done == 6
    (tmp_path / "data" / "sub-03.txt").unlink()
    study = Study.load(path)
    doc = study.analyze().document
    assert doc["verdict"]["status"] == "warn"
    html = report_html(doc)
    assert "Nothing to fix" not in html
    assert "the study is not done with: 2 stored execution(s) are no longer declared by the study file" in html
