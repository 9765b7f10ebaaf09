"""Fetch one URL over HTTP: conditional, bounded, and failing with one readable line.

The only module that imports httpx. A run over many URLs opens one client with
`open_client` and passes it to every `fetch`, so connections are reused; a single
`fetch` without a client opens and closes its own.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx

from digest.deadlines import Deadline
from digest.errors import SourceError
from digest.models import HttpValidators
from digest.text import describe_error, fold_whitespace

MAX_BYTES = 50 * 1024 * 1024
# A GET as a whole may take this many times the timeout (which bounds each wait for data).
DEADLINE_FACTOR = 3
MAX_REDIRECTS = 5
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a server sent for a URL, or that it has not changed since `validators`."""

    url: str
    content: bytes | None
    validators: HttpValidators

    @property
    def not_modified(self) -> bool:
        return self.content is None


# An open HTTP client, for the stages that pass one along without using it themselves.
Client = httpx.Client


def open_client(timeout: float, user_agent: str) -> Client:
    """A client for many fetches: one connection pool, redirects followed, the given limits."""
    _check_user_agent(user_agent)
    try:
        return httpx.Client(
            timeout=timeout,
            headers={"User-Agent": user_agent, "Accept": ACCEPT},
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
        )
    except OSError as exc:  # the TLS context loads CA certificates from disk
        raise SourceError(f"cannot set up the HTTP client: {describe_error(exc)}") from exc


def fetch(
    url: str,
    validators: HttpValidators,
    *,
    timeout: float,
    user_agent: str,
    client: httpx.Client | None = None,
    max_bytes: int = MAX_BYTES,
    should_stop: Callable[[], bool] = lambda: False,
) -> Fetched:
    """GET `url`, asking only for a newer version than `validators` describe.

    Returns the body, or `content=None` on 304 Not Modified. Every failure is a
    SourceError whose message names the cause but not the URL: the caller knows it.
    The whole GET must end within `DEADLINE_FACTOR` x `timeout`, and within a few
    seconds once `should_stop` says a stop was requested.
    """
    _check_url(url)
    _check_user_agent(user_agent)
    headers = _request_headers(validators, user_agent)
    try:
        if client is not None:
            return _get(client, url, headers, validators, timeout, max_bytes, should_stop)
        with open_client(timeout, user_agent) as own:
            return _get(own, url, headers, validators, timeout, max_bytes, should_stop)
    except httpx.HTTPError as exc:
        raise SourceError(_describe(exc, timeout)) from exc
    except httpx.InvalidURL as exc:
        raise SourceError(f"invalid URL: {describe_error(exc)}") from exc
    except OSError as exc:
        raise SourceError(f"network error: {_os_message(exc)}") from exc


def _check_url(url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise SourceError(f"not an http(s) URL: {describe_error(exc)}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise SourceError("not an http(s) URL")


def _check_user_agent(user_agent: str) -> None:
    if not _sendable(user_agent):
        raise SourceError(f"the User-Agent {user_agent!r} is not printable ASCII")


def _request_headers(validators: HttpValidators, user_agent: str) -> dict[str, str]:
    headers = {"User-Agent": user_agent, "Accept": ACCEPT}
    # A validator that cannot go back on the wire only costs a full download.
    if validators.etag and _sendable(validators.etag):
        headers["If-None-Match"] = validators.etag
    if validators.last_modified and _sendable(validators.last_modified):
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _sendable(value: str) -> bool:
    return value.isascii() and value.isprintable()


def _get(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    validators: HttpValidators,
    timeout: float,
    max_bytes: int,
    should_stop: Callable[[], bool],
) -> Fetched:
    """The GET as a whole, headers and body, within `DEADLINE_FACTOR` x `timeout`: the
    timeout alone bounds only the wait for each next byte."""
    deadline = Deadline(DEADLINE_FACTOR * timeout, should_stop, name="http-deadline")
    connection: list[socket.socket] = []

    def trace(event: str, info: dict[str, Any]) -> None:
        # The socket of each new connection (a redirect may open another), to shut down
        # if the deadline passes while a read waits on it.
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            if stream is not None:
                connection[:] = [stream.get_extra_info("socket")]

    deadline.watch(lambda: connection[-1] if connection else None)
    try:
        with deadline.running():
            fetched = _exchange(client, url, headers, validators, timeout, max_bytes, trace)
        # The guard shuts the socket down: a body that ends when the connection closes
        # (no Content-Length, no chunks) then reads as whole. Cut off is cut off.
        if deadline.expired:
            raise SourceError(deadline.describe())
        return fetched
    except (httpx.HTTPError, OSError):
        if deadline.expired:
            raise SourceError(deadline.describe()) from None
        raise
    finally:
        deadline.close()


def _exchange(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    validators: HttpValidators,
    timeout: float,
    max_bytes: int,
    trace: Callable[[str, dict[str, Any]], None],
) -> Fetched:
    with client.stream(
        "GET",
        url,
        headers=headers,
        timeout=timeout,
        follow_redirects=True,
        extensions={"trace": trace},
    ) as response:
        final_url = str(response.url)
        if response.status_code == HTTPStatus.NOT_MODIFIED:
            return Fetched(final_url, None, _kept_validators(response, headers, validators))
        if not response.is_success:
            raise SourceError(_status_message(response))
        content = _read_body(response, max_bytes)
        new = HttpValidators(
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        return Fetched(final_url, content, new)


def _kept_validators(
    response: httpx.Response, headers: dict[str, str], old: HttpValidators
) -> HttpValidators:
    if "If-None-Match" not in headers and "If-Modified-Since" not in headers:
        raise SourceError("HTTP 304 Not Modified to a request that was not conditional")
    # A 304 may refresh the validators; what it leaves out stays as it was.
    return HttpValidators(
        etag=response.headers.get("ETag") or old.etag,
        last_modified=response.headers.get("Last-Modified") or old.last_modified,
    )


def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise SourceError(_too_big(max_bytes))
    # httpx decodes each layer of a stacked encoding whole ("gzip, gzip": 7 KB on the
    # wire unpacked 4 GB before the limit below could count it); no feed needs two.
    codings = [
        coding.strip().lower()
        for coding in response.headers.get("Content-Encoding", "").split(",")
        if coding.strip().lower() not in ("", "identity")
    ]
    if len(codings) > 1:
        raise SourceError(f"a body encoded {len(codings)} times over ({', '.join(codings)})")
    # Counted after decoding, so a small gzip body cannot unpack past the limit.
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise SourceError(_too_big(max_bytes))
    return bytes(body)


def _too_big(max_bytes: int) -> str:
    mib = 1024 * 1024
    size = f"{max_bytes / mib:g} MB" if max_bytes >= mib else f"{max_bytes} bytes"
    return f"response larger than {size}"


def _status_message(response: httpx.Response) -> str:
    code = response.status_code
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = fold_whitespace(response.reason_phrase)
    message = f"HTTP {code} {phrase}".rstrip()
    retry_after = response.headers.get("Retry-After", "")
    waits = code in (HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE)
    if waits and retry_after.isdigit():
        message += f", retry after {retry_after}s"
    return message


def _describe(exc: httpx.HTTPError, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "redirected to a non-http(s) URL"
    if isinstance(exc, httpx.ConnectError):
        return _connect_failure(exc)
    if isinstance(exc, httpx.DecodingError):
        return f"cannot decode the response body: {describe_error(exc)}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error: {describe_error(exc)}"
    return f"network error: {describe_error(exc)}"


def _connect_failure(exc: BaseException) -> str:
    cause = _os_cause(exc)
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, socket.gaierror):
        return f"cannot resolve the host name: {_os_message(cause)}"
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {cause.verify_message}"
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake failed: {cause.reason or describe_error(cause)}"
    return f"cannot connect: {_os_message(cause) if cause else describe_error(exc)}"


def _os_cause(exc: BaseException) -> OSError | None:
    """The operating system error under httpx's and httpcore's wrappers, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _os_message(exc: OSError) -> str:
    return exc.strerror or describe_error(exc)
