"""DNS rebinding and HEAD (issue 15, item 7): the Host header must name the bound address; HEAD is GET
without a body."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard.conftest import SCALAR, Client


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8000", 200),
        ("localhost:8000", 200),
        ("evil.example:8000", 421),  # a rebound name that resolves to 127.0.0.1 in the victim's browser
        ("evil.example", 421),
        ("127.0.0.1:8001", 421),
        ("", 421),
    ],
)
def test_host_header_must_name_the_bound_host(client: Client, host: str, status: int) -> None:
    r = client.get(f"/studies/{SCALAR}.json", headers={"host": host})
    assert r.status_code == status
    if status == 421:
        assert r.json() == {"detail": "this server does not answer to that Host name"}
        assert "content-security-policy" in r.headers


@pytest.mark.parametrize("url", ["/", f"/studies/{SCALAR}", f"/studies/{SCALAR}.json", "/healthz", "/nope"])
def test_head_is_answered_like_get(app: Any, url: str) -> None:
    import asyncio

    import httpx

    async def both() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
            return await c.get(url), await c.head(url)

    get, head = asyncio.run(both())
    assert head.status_code == get.status_code != 405
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == str(len(get.content))
