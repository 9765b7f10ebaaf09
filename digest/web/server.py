"""`digest serve` as a process: the site under uvicorn, on one socket, until SIGTERM."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from digest.config import Settings
from digest.errors import DigestError
from digest.state.store import Store
from digest.web.app import create_app


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: one the system picks)."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(info[0], socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(info[4])
        listener.listen(128)
    except OSError as error:
        raise DigestError(f"cannot listen on {host}:{port} ({error.strerror or error})") from None
    return listener


def make_server(settings: Settings, store: Store, **options: Any) -> uvicorn.Server:
    """The site under uvicorn, ready to `run(sockets=[...])`; `should_exit` stops it.
    `options` go to the site (`now`, for a clock of its own)."""
    config = uvicorn.Config(
        create_app(settings, store, **options),
        log_level="warning",
        # Every URL holds a token, so a line per request would log what grants access.
        access_log=False,
        # Behind a reverse proxy that terminates TLS on this machine.
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def serve(
    settings: Settings,
    store: Store,
    listener: socket.socket,
    *,
    on_ready: Callable[[str], None] = lambda _address: None,
) -> None:
    """Answer on `listener` until SIGTERM or Ctrl-C (uvicorn finishes the requests in
    flight first). `on_ready` gets the address being served."""
    server = make_server(settings, store)
    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    on_ready(f"http://{shown}:{port}/")
    server.run(sockets=[listener])
