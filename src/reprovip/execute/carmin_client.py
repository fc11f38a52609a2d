"""CARMIN 0.3 REST client: the requests reprovip makes to a platform such as VIP, with bounded retries.

Transient failures (connection errors, 429, 5xx) are retried with exponential backoff and full jitter, or after
the server's ``Retry-After``; a POST is resent only when the server said it did not process it (429, 503), so
an execution is never launched twice. Used by :mod:`reprovip.execute.carmin`.
"""

from __future__ import annotations

import email.utils
import random
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reprovip.errors import InputError

STATUSES = (
    "Initializing",
    "Ready",
    "Running",
    "Finished",
    "InitializationFailed",
    "ExecutionFailed",
    "Unknown",
    "Killed",
)
TERMINAL = frozenset({"Finished", "InitializationFailed", "ExecutionFailed", "Unknown", "Killed"})
TRANSIENT = frozenset({429, 500, 502, 503, 504})
REFUSED = frozenset({429, 503})  # the server says it did not process the request: safe to resend a POST


class CarminError(InputError):
    """A CARMIN platform refused a request, or could not be reached after the retries."""

    http_status = 502


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``Retry-After`` when the server gives one (capped), else exponential backoff with full
    jitter (``uniform(0, min(max_backoff, backoff * 2**attempt))``, Brooker 2015)."""

    retries: int = 6
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_wait: float = 300.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based).

        >>> RetryPolicy(max_wait=10).delay(0, 120.0, random.Random(0))
        10.0
        >>> 0 <= RetryPolicy(backoff=1, max_backoff=4).delay(5, None, random.Random(0)) <= 4
        True
        """
        if retry_after is not None:
            return float(min(retry_after, self.max_wait))
        return rng.uniform(0.0, min(self.max_backoff, self.backoff * 2**attempt))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP-date (RFC 9110 10.2.3); None if absent or invalid.

    >>> parse_retry_after("3"), parse_retry_after("0.5"), parse_retry_after("soon")
    (3.0, 0.5, None)
    >>> parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0)
    60.0
    """
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


class CarminClient:
    """The CARMIN 0.3 requests reprovip uses, with retries; thread-safe (one ``httpx.Client``).

    Parameters
    ----------
    base_url : str
        ``https://HOST/rest``.
    api_key : str
        Sent in the ``apikey`` header; never logged.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: Any = None,
    ) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx ships with the test extra
            raise InputError("the CARMIN backend needs httpx: pip install httpx") from exc
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random()
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"apikey": api_key},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )
        self._httpx = httpx
        self.retried = 0  # how many requests were sent again (transient errors, rate limits)

    def close(self) -> None:
        """Release the connections."""
        self._http.close()

    def request(self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any) -> Any:
        """Send a request; retry transient failures; raise :class:`CarminError` for any other error status."""
        for attempt in range(self.retry.retries + 1):
            last = attempt == self.retry.retries
            try:
                resp = self._http.request(method, path, **kwargs)
            except self._httpx.TransportError as exc:
                # A POST whose connection broke after sending may have been processed: only resend what
                # never reached the server.
                if last or not (idempotent or isinstance(exc, self._httpx.ConnectError)):
                    why = f"{exc.__class__.__name__}: {exc}"
                    raise CarminError(f"{method} {self.base_url}{path}: {why}") from exc
                self._wait(attempt, None)
                continue
            if resp.status_code in TRANSIENT and not last and (idempotent or resp.status_code in REFUSED):
                self._wait(attempt, parse_retry_after(resp.headers.get("Retry-After")))
                continue
            if resp.is_error:
                raise CarminError(f"{method} {self.base_url}{path}: HTTP {resp.status_code}{_reason(resp)}")
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        self.retried += 1
        self._sleep(self.retry.delay(attempt, retry_after, self._rng))

    def platform(self) -> dict[str, Any]:
        """``GET /platform``."""
        return self.request("GET", "/platform").json()

    def pipelines(self) -> list[dict[str, Any]]:
        """``GET /pipelines``: the pipelines this key can run."""
        return self.request("GET", "/pipelines").json()

    def pipeline(self, identifier: str) -> dict[str, Any]:
        """``GET /pipelines/{identifier}`` (with its parameters)."""
        return self.request("GET", f"/pipelines/{_quote(identifier)}").json()

    def create_execution(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /executions``; resent only when refused (429/503) or never sent."""
        return self.request("POST", "/executions", json=body, idempotent=False).json()

    def execution(self, identifier: str) -> dict[str, Any]:
        """``GET /executions/{identifier}``."""
        return self.request("GET", f"/executions/{_quote(identifier)}").json()

    def play(self, identifier: str) -> None:
        """``PUT /executions/{identifier}/play``."""
        self.request("PUT", f"/executions/{_quote(identifier)}/play")

    def kill(self, identifier: str) -> None:
        """``PUT /executions/{identifier}/kill``."""
        self.request("PUT", f"/executions/{_quote(identifier)}/kill")

    def results(self, identifier: str) -> list[dict[str, Any]]:
        """``GET /executions/{identifier}/results``: the result files as ``Path`` objects."""
        return self.request("GET", f"/executions/{_quote(identifier)}/results").json()

    def log(self, identifier: str, stream: str) -> str:
        """``GET /executions/{identifier}/stdout`` (or ``stderr``)."""
        return self.request("GET", f"/executions/{_quote(identifier)}/{stream}").text

    def exists(self, path: str) -> bool:
        """``GET /path/{path}?action=exists``."""
        return bool(self.request("GET", f"/path{_quote(path)}", params={"action": "exists"}).json()["exists"])

    def mkdir(self, path: str) -> None:
        """Create ``path`` and its missing parents (``PUT /path/{path}`` without content, level by level)."""
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            sub = "/" + "/".join(parts[:i])
            if not self.exists(sub):
                self.request("PUT", f"/path{_quote(sub)}")

    def upload(self, path: str, data: bytes) -> None:
        """``PUT /path/{path}`` with the raw bytes (``application/octet-stream``)."""
        self.request("PUT", f"/path{_quote(path)}", content=data, headers={"Content-Type": "application/octet-stream"})

    def download(self, location: str) -> bytes:
        """A platform path (``GET /path/{path}?action=content``) or a URL the platform returned."""
        if location.startswith(("http://", "https://")):
            if _origin(location) == _origin(self.base_url):
                return self.request("GET", location).content
            # Another host: the API key is not sent there.
            resp = self._httpx.get(location, timeout=self._http.timeout, follow_redirects=True)
            if resp.is_error:
                raise CarminError(f"GET {location}: HTTP {resp.status_code}")
            return resp.content
        return self.request("GET", f"/path{_quote(location)}", params={"action": "content"}).content


def _quote(path: str) -> str:
    # Slashes stay as they are: CARMIN paths "can contain non-encoded slashes", and VIP's pipeline
    # identifiers (name/version) are sent unencoded by its own client.
    return urllib.parse.quote(path, safe="/")


def _origin(url: str) -> tuple[str, str]:
    p = urllib.parse.urlsplit(url)
    return p.scheme, p.netloc


def _reason(resp: Any) -> str:
    try:
        body = resp.json()
        return f" (error {body['errorCode']}: {str(body['errorMessage'])[:300]})"
    except (ValueError, KeyError, TypeError):
        text = resp.text.strip()[:200]
        return f" ({text})" if text else ""
