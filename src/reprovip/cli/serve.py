"""``reprovip serve``: the read-only dashboard over one or more study stores."""

from __future__ import annotations

import errno
import os
import socket

import click

from reprovip.errors import InputError


def serve_command(sources: list[str], *, host: str, port: int, token: str | None, query_timeout: float) -> int:
    """Serve the dashboard until interrupted.

    Refuses (``InputError``, exit code 2) a non-loopback ``host`` unless a token is given here or in
    ``REPROVIP_TOKEN``; with a token every request must carry it.
    """
    from reprovip.dashboard import check_bind, create_app, open_sources

    token = token or os.environ.get("REPROVIP_TOKEN") or None
    check_bind(host, token)
    try:
        import uvicorn
    except ImportError as exc:
        raise InputError("the dashboard needs uvicorn and fastapi: pip install 'reprovip[dashboard]'") from exc
    app = create_app(open_sources(list(sources), query_timeout=query_timeout), token=token)
    sock = _listen(host, port)
    shown = f"[{host}]" if ":" in host else host
    # The port bound, not the one asked: `--port 0` picks a free one.
    click.echo(f"reprovip dashboard on http://{shown}:{sock.getsockname()[1]}/ (read-only; Ctrl-C to stop)", err=True)
    config = uvicorn.Config(app, log_level="warning", server_header=False, proxy_headers=False)
    with sock:
        uvicorn.Server(config).run(sockets=[sock])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: any free port), or a one-line InputError saying what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as exc:
        hint = "pick another --port, or --port 0 for any free one" if exc.errno == errno.EADDRINUSE else "check --host"
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise InputError(f"cannot listen on {host}:{port}: {reason}; {hint}") from exc
    # Accepted connections inherit it: without it a small response waits ~40 ms for the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


@click.command("serve")
@click.argument("sources", nargs=-1, type=click.Path())
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; anything but loopback needs --token.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--token", default=None, help="Require this token (Bearer header or ?token=); or set REPROVIP_TOKEN.")
@click.option(
    "--query-timeout",
    type=click.FloatRange(0.05, 600),
    default=2.0,
    show_default=True,
    help="Abort any catalog query running longer than this many seconds.",
)
def serve(sources: tuple[str, ...], host: str, port: int, token: str | None, query_timeout: float) -> int:
    """Serve a read-only dashboard of SOURCES: study files, folders, stores or catalog URLs (default: .)."""
    return serve_command(list(sources), host=host, port=port, token=token, query_timeout=query_timeout)
