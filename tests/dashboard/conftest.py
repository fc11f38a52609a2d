"""The dashboard over three real stores: scalars with a failing output, images, and a hostile catalog."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from reprovip.dashboard import create_app, open_sources
from reprovip.study import Study
from tests.report.conftest import browser, image_study, scalar_study  # noqa: F401 (fixtures)
from tests.report.studies import build_hostile_catalog

SCALAR, IMAGES, HOSTILE = "0-1", "1-1", "2-1"


class Client:
    """A synchronous client calling the ASGI app in-process (no socket)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
                return await c.get(url, **kwargs)

        return asyncio.run(go())


@pytest.fixture(scope="session")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study named ``<script>alert(1)</script>`` with pending/running executions and a tampered document."""
    return build_hostile_catalog(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def source_args(scalar_study: Study, image_study: Study, hostile_store: Path) -> list[str]:  # noqa: F811
    """What a user passes to ``reprovip serve``: a study file, a study folder, a store."""
    return [str(scalar_study.path), str(image_study.directory), str(hostile_store)]


@pytest.fixture(scope="session")
def app(source_args: list[str]) -> Any:
    return create_app(open_sources(source_args))


@pytest.fixture(scope="session")
def client(app: Any) -> Client:
    return Client(app)
