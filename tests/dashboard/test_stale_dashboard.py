"""The dashboard shows a verdict older than the data as stale, and follows a catalog replaced while it serves
(a review): beside "pending: 6" left by a stopped ``run --force`` it said "identical" (not stale); after the
catalog was deleted, the study run again and analysed, it kept reading the deleted file (``catalog.sqlite
(deleted)`` held open) and showed the old green verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprovip.dashboard import create_app, open_sources
from tests.cli.stale_study import analysed_study, rp
from tests.cli.test_stale_views import reset_like_run_force
from tests.dashboard.conftest import Client


@pytest.fixture
def analysed(tmp_path: Path) -> Path:
    """A reproducible study, run and analysed: its folder."""
    return analysed_study(tmp_path)


def _summary(client: Client) -> dict:
    r = client.get("/index.json")
    assert r.status_code == 200, r.text[:300]
    (study,) = r.json()["studies"]
    return study


def test_a_run_force_stopped_after_its_reset_is_stale_on_every_page(analysed: Path) -> None:
    client = Client(create_app(open_sources([str(analysed)])))
    assert _summary(client)["stale"] is None
    reset_like_run_force(analysed)
    study = _summary(client)
    assert study["counts"]["pending"] == 6
    assert study["verdict"]["status"] == "identical"
    assert study["stale"].startswith("the executions changed since this analysis (6 done then, 6 pending now)")
    page = client.get(f"{study['url']}.json")  # the study page's summary says it too
    assert page.status_code == 200 and page.json()["study"]["stale"] == study["stale"]


def test_a_catalog_replaced_while_serving_is_read_anew(analysed: Path) -> None:
    client = Client(create_app(open_sources([str(analysed)])))
    before = _summary(client)
    assert before["verdict"]["status"] == "identical"
    for p in (analysed / ".reprovip").glob("catalog.sqlite*"):
        p.unlink()
    assert rp(analysed, "run", "study.yaml", "--no-progress", noise=50.0).returncode == 0
    assert rp(analysed, "analyze", "study.yaml").returncode == 0
    after = _summary(client)
    assert after["verdict"]["status"] == "fail", after
    assert after["stale"] is None
    page = client.get(f"{after['url']}.json")
    assert page.status_code == 200 and page.json()["study"]["verdict"]["status"] == "fail"


def test_a_catalog_deleted_while_serving_is_one_error(analysed: Path) -> None:
    client = Client(create_app(open_sources([str(analysed)])))
    assert _summary(client)["verdict"]["status"] == "identical"
    for p in (analysed / ".reprovip").glob("catalog.sqlite*"):
        p.unlink()
    r = client.get("/index.json")
    assert r.status_code >= 400 and "was deleted while the dashboard served it" in r.text
