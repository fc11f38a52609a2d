"""The dashboard's security model: loopback or token, read-only catalogs with a time limit, no file outside
the stores, escaped user strings, strict headers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import OperationalError

from reprovip.cli.main import main
from reprovip.cli.serve import serve_command
from reprovip.dashboard import check_bind, create_app, is_loopback, open_sources, queries
from reprovip.errors import InputError, NotFoundError
from reprovip.store import schema as s
from tests.dashboard.conftest import HOSTILE, IMAGES, SCALAR, Client
from tests.report.studies import XSS

TOKEN = "correct-horse-battery"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


async def _raw(app: Any, path: str) -> tuple[int, bytes]:
    """Send ``path`` as is (no client-side normalisation of ``..``) straight to the ASGI app."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize(
    "path",
    [
        "/studies/1-1/maps/1/0/../../../../../../etc/passwd",
        "/studies/1-1/maps/1/0/sd/../../../../../../etc/passwd.png",
        "/studies/1-1/maps/1/0/%2e%2e%2f%2e%2e%2fetc%2fpasswd/axial.png",
        "/studies/1-1/maps/1/0/..%2F..%2F..%2Fetc%2Fpasswd/axial.png",
        "/studies/1-1/maps/1/0/passwd/axial.png",
        "/studies/1-1/maps/1/0/sd/..png",
        "/studies/1-1/maps/1/99/sd/axial.png",
        "/studies/1-1/maps/999/0/sd/axial.png",
        "/static/../../../../etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/studies/0-1/executions/../../../../etc/passwd",
        "/studies/..%2f..%2fetc%2fpasswd",
        "/../../../../etc/passwd",
        "//etc/passwd",
    ],
)
def test_path_traversal_is_404(app: Any, path: str) -> None:
    status, body = asyncio.run(_raw(app, path))
    assert status == 404, (path, status)
    assert b"root:" not in body


def test_maps_pointing_outside_the_store_are_404(client: Client) -> None:
    aid = client.get(f"/studies/{HOSTILE}.json").json()["analysis"]["analysis_id"]
    for name in ("sd", "differ"):
        assert client.get(f"/studies/{HOSTILE}/maps/{aid}/0/{name}/axial.png").status_code == 404
    assert "<img" not in client.get(f"/studies/{HOSTILE}").text
    # A real map, but asked through another study's analysis id: 404 too.
    images_aid = client.get(f"/studies/{IMAGES}.json").json()["analysis"]["analysis_id"]
    assert client.get(f"/studies/{IMAGES}/maps/{images_aid}/0/sd/axial.png").status_code == 200
    assert client.get(f"/studies/{SCALAR}/maps/{images_aid}/0/sd/axial.png").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/",
        f"/studies/{HOSTILE}",
        f"/studies/{HOSTILE}/executions",
        f"/studies/{HOSTILE}/executions/e0006",
        f"/studies/{HOSTILE}/progress",
        "/alerts",
    ],
)
def test_hostile_names_are_escaped(client: Client, url: str) -> None:
    html = client.get(url).text
    assert XSS not in html and ESCAPED in html


@pytest.mark.parametrize(
    "url", ["/", "/index.json", f"/studies/{IMAGES}", "/nothing", "/openapi.json", "/static/reprovip.css"]
)
def test_security_headers(client: Client, url: str) -> None:
    h = client.get(url).headers
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    csp = h["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp


def test_token_is_required_when_set(source_args: list[str]) -> None:
    c = Client(create_app(open_sources(source_args), token=TOKEN))
    for url in ("/", "/index.json", "/openapi.json", f"/studies/{SCALAR}.json"):
        r = c.get(url)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", url
        assert r.headers["x-frame-options"] == "DENY"
    assert c.get("/index.json", headers={"Authorization": "Bearer wrong-token-here"}).status_code == 401
    assert c.get("/index.json", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    r = c.get("/", params={"token": TOKEN})
    assert (
        r.status_code == 200 and "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
    )
    assert c.get("/alerts", headers={"Cookie": f"reprovip_token={TOKEN}"}).status_code == 200


def test_non_loopback_bind_needs_a_token(
    source_args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REPROVIP_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", *source_args]) == 2
    assert "refusing to serve on 0.0.0.0" in capsys.readouterr().err
    with pytest.raises(InputError, match="refusing to serve on 192.0.2.1") as info:
        serve_command(source_args, host="192.0.2.1", port=0, token=None, query_timeout=1.0)
    assert info.value.exit_code == 2
    with pytest.raises(InputError, match="at least 8 characters"):
        check_bind("0.0.0.0", "short")
    check_bind("0.0.0.0", TOKEN)
    check_bind("127.0.0.1", None)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.1", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_catalogs_are_read_only_with_a_time_limit(hostile_store: Path) -> None:
    (src,) = open_sources([str(hostile_store)], query_timeout=0.3)
    with pytest.raises(OperationalError, match="readonly database|query_only"):
        with src.engine.begin() as conn:
            conn.execute(insert(s.meta).values(key="x", value="y"))
    endless = text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
    start = time.monotonic()
    with pytest.raises(OperationalError, match="interrupted"):
        with src.engine.connect() as conn:
            conn.execute(endless).all()
    assert time.monotonic() - start < 5
    with src.engine.connect() as conn:  # the connection is usable again afterwards
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_slow_query_is_a_503(source_args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    sources = open_sources(source_args, query_timeout=0.2)

    def slow(engine: Any, study_id: int | None = None) -> dict[int, dict[str, int]]:
        with engine.connect() as conn:
            conn.execute(
                text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
            ).all()
        return {}

    monkeypatch.setattr(queries, "status_counts", slow)
    c = Client(create_app(sources))
    r = c.get("/index.json")
    assert r.status_code == 503 and r.json() == {"detail": "the catalog query took too long; try again"}
    assert c.get("/").status_code == 503


def test_sources_name_something(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such study, store or folder"):
        open_sources([str(tmp_path / "nope")])
    with pytest.raises(NotFoundError, match="no reprovip store found"):
        open_sources([str(tmp_path)])


def test_a_busy_port_is_a_one_line_error(source_args: list[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(InputError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve_command(source_args, host="127.0.0.1", port=port, token=None, query_timeout=1.0)


def test_symlinks_out_of_the_store_are_refused(tmp_path: Path) -> None:
    """A map file inside the store that is a symlink to a file outside it is never served."""
    from reprovip.report.maps import map_path

    store = tmp_path / "store"
    maps = store / "results" / "s" / "analysis" / "img"
    maps.mkdir(parents=True)
    secret = tmp_path / "secret.nii.gz"
    secret.write_bytes(b"not yours")
    (maps / "sd.nii.gz").symlink_to(secret)
    output = {"name": "img", "voxelwise": {"maps": {"sd": str(maps / "sd.nii.gz")}}}
    assert map_path(store, output, "sd", study="s") is None
    (maps / "differ.nii.gz").write_bytes(b"mine")
    output["voxelwise"]["maps"]["differ"] = str(maps / "differ.nii.gz")
    assert map_path(store, output, "differ", study="s") == (maps / "differ.nii.gz").resolve()


@pytest.mark.parametrize(
    "url",
    [
        f"/studies/{SCALAR}/executions.json?page=" + "9" * 400,
        f"/studies/{SCALAR}/executions.json?page=-1",
        f"/studies/{SCALAR}/executions.json?status=" + "x" * 10_000,
        "/index.json?" + "&".join(f"k{i}=v" for i in range(2000)),
        f"/studies/{'9' * 5000}-1.json",
    ],
)
def test_oversized_or_absurd_query_parameters_are_client_errors(client: Client, url: str) -> None:
    r = client.get(url)
    assert r.status_code < 500, (url[:80], r.status_code)
    assert r.status_code in (200, 404, 414, 422)


def test_the_listening_socket_sends_small_responses_at_once() -> None:
    """TCP_NODELAY on the socket `serve` listens on (accepted connections inherit it): without it each small
    response waited ~44 ms for the client's delayed ACK (benchmarks/dashboard.py: p95 52-54 ms -> 5-8 ms)."""
    import socket

    from reprovip.cli.serve import _listen

    with _listen("127.0.0.1", 0) as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
