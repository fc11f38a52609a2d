"""The dashboard's study page of label maps in a study with no factor, and of 4-D label maps (found by review:
the HTML page answered 500, its ``.json`` 200). Expected values: see tests/report/test_segmentation_report.py."""

from __future__ import annotations

from reprovip.dashboard import create_app, open_sources
from reprovip.report.fmt import fmt
from reprovip.study import Study
from tests.dashboard.conftest import Client
from tests.report.conftest import labels4d_study, labels_study  # noqa: F401 (fixtures)


def _page(study: Study) -> str:
    client = Client(create_app(open_sources([str(study.path)])))
    key = client.get("/index.json").json()["studies"][0]["key"]
    page = client.get(f"/studies/{key}")
    assert page.status_code == 200, page.text[:500]
    return page.text


def test_study_page_of_labels_without_a_factor_shows_the_label_table(labels_study: Study) -> None:  # noqa: F811
    html = _page(labels_study)
    section = html[html.index("<h3>Segmentation agreement") :]
    assert f"Dice min {fmt(112 / 113)}" in section and "Dice within min" in section


def test_study_page_of_a_4d_label_map_says_why_it_is_not_analysable(labels4d_study: Study) -> None:  # noqa: F811
    html = _page(labels4d_study)
    assert "label maps must be 2-D or 3-D" in html and "4-D (shape (8, 8, 8, 4))" in html
