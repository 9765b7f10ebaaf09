"""A real HTTP server on 127.0.0.1 for tests: files with validators, gzip, and bad routes.

Use the `feed_server` fixture (the recorded feeds in ../shared/feeds), or start a
`FeedServer` over any folder with `with FeedServer(path) as server:`. Either way the
server listens on a port the OS picked and is stopped and joined when the test ends.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

CONTENT_TYPES = {
    ".xml": "application/xml",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}

HTML_PAGE = (
    b"<!doctype html>\n<html><head><title>Sign in</title></head>"
    b"<body><p>Sign in to see the papers.</p></body></html>\n"
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server answered, and how; header names are lower case."""

    method: str
    path: str
    headers: dict[str, str]
    client_port: int
    status: int
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class FeedServer:
    """Serves the files of `root` at /<name>, beside routes that misbehave on purpose.

    /<name>            the file, with ETag and Last-Modified; 304 to a matching
                       conditional GET; gzip-encoded when the client accepts it
                       (and `gzip` is on), with a weak ETag as nginx does
    /redirect/<name>   302 to /<name>
    /loop              302 to itself, for ever
    /status/<code>     an empty answer with that status (?retry_after=N adds Retry-After)
    /slow              answers after `slow_seconds`, or drops the connection when the
                       server stops first, so a timed-out test never delays teardown
    /html              an HTML page, not a feed

    Every answered request is recorded in `requests`.
    """

    def __init__(self, root: Path, *, gzip: bool = True, slow_seconds: float = 2.0) -> None:
        self.root = root
        self.gzip = gzip
        self.slow_seconds = slow_seconds
        self.errors: list[BaseException] = []
        self.stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.feed = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FeedServer:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FeedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of `path` ("/name.xml", "/status/404", ...) on this server."""
        return self.base_url + "/" + path.lstrip("/")

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The recorded requests for `path`, query string ignored."""
        wanted = "/" + path.lstrip("/")
        return [r for r in self.requests if urlsplit(r.path).path == wanted]

    def count(self, path: str) -> int:
        return len(self.requests_to(path))

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _reply_to(self, path: str, headers: dict[str, str]) -> _Reply | None:
        """The answer to a GET of `path`; None means drop the connection unanswered."""
        parts = urlsplit(path)
        route = unquote(parts.path)
        if route.startswith("/redirect/"):
            return _Reply(HTTPStatus.FOUND, {"Location": "/" + route.removeprefix("/redirect/")})
        if route == "/loop":
            return _Reply(HTTPStatus.FOUND, {"Location": "/loop"})
        if route.startswith("/status/"):
            return _status_reply(route.removeprefix("/status/"), parse_qs(parts.query))
        if route == "/slow":
            if self.stopping.wait(self.slow_seconds):
                return None
            return _Reply(HTTPStatus.OK, {"Content-Type": "text/plain"}, b"finally\n")
        if route == "/html":
            return _Reply(HTTPStatus.OK, {"Content-Type": CONTENT_TYPES[".html"]}, HTML_PAGE)
        if route == "/gzip-twice":  # each layer unpacks whole: a few KB can hold gigabytes
            body = gzip.compress(gzip.compress(b"<rss>" + b" " * 100_000 + b"</rss>"))
            twice = {"Content-Type": "application/xml", "Content-Encoding": "gzip, gzip"}
            return _Reply(HTTPStatus.OK, twice, body)
        return self._file_reply(route.lstrip("/"), headers)

    def _file_reply(self, name: str, headers: dict[str, str]) -> _Reply:
        path = self.root / name
        if not name or "/" in name or name.startswith(".") or not path.is_file():
            return _Reply(HTTPStatus.NOT_FOUND, {"Content-Type": "text/plain"}, b"not found\n")
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        use_gzip = self.gzip and _accepts_gzip(headers.get("accept-encoding", ""))
        if use_gzip:
            etag = "W/" + etag
        mtime = int(path.stat().st_mtime)
        validators = {"ETag": etag, "Last-Modified": formatdate(mtime, usegmt=True)}
        if _not_modified(headers, etag, mtime):
            return _Reply(HTTPStatus.NOT_MODIFIED, validators)
        reply_headers = {
            **validators,
            "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            "Vary": "Accept-Encoding",
        }
        if use_gzip:
            reply_headers["Content-Encoding"] = "gzip"
            body = gzip.compress(body, mtime=0)
        return _Reply(HTTPStatus.OK, reply_headers, body)


DRIP_SECONDS = 0.3


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck on a kept-alive connection never blocks close
    feed: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return  # the client hung up first, as timeout and size-cap tests make it do
        if error is not None:
            self.feed.errors.append(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        feed = cast(_Server, self.server).feed
        if self.path in ("/drip", "/drip-status"):
            feed._record(
                RecordedRequest(
                    method=self.command,
                    path=self.path,
                    headers={},
                    client_port=self.client_address[1],
                    status=HTTPStatus.OK,
                    response_headers={},
                )
            )
            self._drip(feed, status_too=self.path == "/drip-status")
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = feed._reply_to(self.path, headers)
        if reply is None:
            self.close_connection = True
            return
        feed._record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers=headers,
                client_port=self.client_address[1],
                status=reply.status,
                response_headers={name.lower(): value for name, value in reply.headers.items()},
            )
        )
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != HTTPStatus.NOT_MODIFIED:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _drip(self, feed: FeedServer, *, status_too: bool) -> None:
        """A hostile server: one byte every DRIP_SECONDS, of the body (`/drip`) or of the
        status line already (`/drip-status`), until the client gives up or the server stops."""
        self.close_connection = True
        if status_too:
            drip = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
        else:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            drip = b"<rss>" + b" " * 99995
        for byte in drip:
            if feed.stopping.wait(DRIP_SECONDS):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read `requests`, not stderr


def _status_reply(code: str, query: dict[str, list[str]]) -> _Reply:
    if not code.isdigit():
        return _Reply(HTTPStatus.BAD_REQUEST, {"Content-Type": "text/plain"}, b"bad status\n")
    headers = {"Content-Type": "text/plain"}
    if "retry_after" in query:
        headers["Retry-After"] = query["retry_after"][0]
    body = b"" if int(code) in (204, 304) else f"status {code}\n".encode()
    return _Reply(int(code), headers, body)


def _accepts_gzip(accept_encoding: str) -> bool:
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            q = params.strip().removeprefix("q=")
            return not q or _quality(q) > 0
    return False


def _quality(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 1.0


def _not_modified(headers: dict[str, str], etag: str, mtime: int) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:  # it takes precedence over If-Modified-Since
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag.removeprefix("W/") in tags
    if_modified_since = headers.get("if-modified-since")
    if not if_modified_since:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    return mtime <= since.timestamp()


def refused_url(path: str = "/") -> str:
    """A URL on 127.0.0.1 at a port that was just bound and closed: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/{path.lstrip('/')}"


@pytest.fixture
def feed_server(shared: Path) -> Iterator[FeedServer]:
    """A running FeedServer over ../shared/feeds; fails the test if a handler crashed."""
    with FeedServer(shared / "feeds") as server:
        yield server
    if server.errors:
        pytest.fail(f"the test HTTP server failed: {server.errors[0]!r}")
