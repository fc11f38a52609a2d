"""The dashboard's security model: loopback by default, a bearer token otherwise, strict response headers.

- ``check_bind``: a non-loopback address is refused unless a token is set.
- ``Guard`` (ASGI middleware): the ``Host`` header must name the address the server is bound to (a loopback
  server also answers to ``localhost``), which defeats DNS rebinding; when a token is set every request must
  carry it (``Authorization: Bearer``, ``?token=`` which also sets an HttpOnly same-site cookie, or that
  cookie); ``HEAD`` is answered as ``GET`` without the body; every response gets a Content-Security-Policy
  without scripts or inline styles, ``nosniff``, ``DENY`` framing, no referrer.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from reprovip.errors import InputError

COOKIE = "reprovip_token"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
TOKEN_REQUIRED = b'{"detail":"a token is required: send Authorization: Bearer <token> or ?token=<token>"}'
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("localhost")
    (True, True, False, True)
    """
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(h, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def check_bind(host: str, token: str | None) -> None:
    """Refuse (exit code 2) to listen on a non-loopback ``host`` without a token."""
    if not is_loopback(host) and not token:
        raise InputError(
            f"refusing to serve on {host}: it is reachable from other machines; set --token "
            "(or REPROVIP_TOKEN) so that every request must carry it, or bind 127.0.0.1"
        )
    if token is not None and len(token) < 8:
        raise InputError("--token must be at least 8 characters long")


def host_allowed(host_header: str, server: tuple[str, int] | None) -> bool:
    """Whether a ``Host`` header names the bound address ``server`` (``localhost`` too when it is loopback).

    A server bound to every address (``0.0.0.0``, ``::``; only with a token) accepts any name.

    Examples
    --------
    >>> host_allowed("127.0.0.1:8000", ("127.0.0.1", 8000)), host_allowed("localhost:8000", ("127.0.0.1", 8000))
    (True, True)
    >>> host_allowed("evil.example:8000", ("127.0.0.1", 8000)), host_allowed("127.0.0.1:9", ("127.0.0.1", 8000))
    (False, False)
    >>> host_allowed("[::1]:8000", ("::1", 8000)), host_allowed("", ("127.0.0.1", 8000))
    (True, False)
    """
    if server is None:
        return True  # not a socket (an in-process call): nothing was bound, nothing to rebind
    bound, port = str(server[0]).strip("[]"), int(server[1])
    if bound in ("0.0.0.0", "::"):
        return True
    h = host_header.strip().lower()
    if h.startswith("["):
        name, _, rest = h[1:].partition("]")
        got_port = rest[1:] if rest.startswith(":") else ""
    elif h.count(":") == 1:
        name, got_port = h.split(":")
    else:
        name, got_port = h, ""
    if not name or (got_port and got_port != str(port)) or (not got_port and port not in (80, 443)):
        return False
    names = {bound.lower()}
    if is_loopback(bound):
        names |= {"localhost", "127.0.0.1", "::1"}
    return name in names


class Guard:
    """ASGI middleware: Host check, token check (when a token is set), HEAD as GET, security headers."""

    def __init__(self, app: Any, token: str | None = None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    def _presented(self, scope: dict[str, Any]) -> tuple[bytes | None, bool]:
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            return auth[7:].strip(), False
        qs = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if qs.get("token"):
            return qs["token"][0].encode(), True
        if b"cookie" in headers:
            c = SimpleCookie()
            try:
                c.load(headers[b"cookie"].decode("latin-1"))
            except Exception:  # a malformed cookie header is no token
                return None, False
            if COOKIE in c:
                return c[COOKIE].value.encode(), False
        return None, False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if not host_allowed(host, scope.get("server")):
            await self._deny(send, 421, b'{"detail":"this server does not answer to that Host name"}')
            return
        set_cookie = False
        if self.token is not None:
            got, from_query = self._presented(scope)
            if got is None or not hmac.compare_digest(got, self.token):
                await self._deny(send)
                return
            set_cookie = from_query
        head = scope.get("method") == "HEAD"
        if head:
            scope = dict(scope, method="GET")  # the same status and headers as GET, no body

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in dict(HEADERS)]
                headers += HEADERS
                if self.token is not None:
                    headers.append((b"cache-control", b"no-store"))
                if set_cookie:
                    headers.append(
                        (
                            b"set-cookie",
                            f"{COOKIE}={self.token.decode()}; HttpOnly; SameSite=Strict; Path=/".encode(),
                        )
                    )
                message = dict(message, headers=headers)
            elif head and message["type"] == "http.response.body":
                message = dict(message, body=b"", more_body=message.get("more_body", False))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _deny(self, send: Any, status: int = 401, body: bytes = TOKEN_REQUIRED) -> None:
        extra = [(b"www-authenticate", b"Bearer")] if status == 401 else []
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                + extra
                + HEADERS,
            }
        )
        await send({"type": "http.response.body", "body": body})
