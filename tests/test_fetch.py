"""The HTTP fetcher against a real server on 127.0.0.1 serving the recorded feeds."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from digest.collect.fetch import ACCEPT, MAX_BYTES, Fetched, fetch, open_client
from digest.errors import SourceError
from digest.models import HttpValidators
from tests.httpserver import FeedServer, refused_url

pytestmark = pytest.mark.network

FEED = "arxiv_api_query_cat_cs.LG_OR_cs.AI_2026-04-30.xml"
USER_AGENT = "paper-digest-tests/1.0 (+https://example.org/digest)"
NO_VALIDATORS = HttpValidators()


def get(
    url: str,
    validators: HttpValidators = NO_VALIDATORS,
    *,
    timeout: float = 5.0,
    client: httpx.Client | None = None,
    max_bytes: int = MAX_BYTES,
) -> Fetched:
    """`fetch` as the collector calls it, with the test's User-Agent."""
    return fetch(
        url, validators, timeout=timeout, user_agent=USER_AGENT, client=client, max_bytes=max_bytes
    )


def test_a_recorded_feed_arrives_byte_for_byte_with_its_validators(
    feed_server: FeedServer, shared: Path
) -> None:
    fetched = get(feed_server.url(FEED))

    assert fetched.content == (shared / "feeds" / FEED).read_bytes()
    assert not fetched.not_modified
    assert fetched.url == feed_server.url(FEED)
    sent = feed_server.requests_to(FEED)[0].response_headers
    assert fetched.validators == HttpValidators(sent["etag"], sent["last-modified"])


def test_fetching_again_with_the_validators_gets_not_modified(feed_server: FeedServer) -> None:
    first = get(feed_server.url(FEED))

    second = get(feed_server.url(FEED), first.validators)

    assert second.not_modified
    assert second.content is None
    assert second.validators == first.validators
    conditional = feed_server.requests_to(FEED)[1]
    assert conditional.headers["if-none-match"] == first.validators.etag
    assert conditional.headers["if-modified-since"] == first.validators.last_modified
    assert conditional.status == 304


def test_last_modified_alone_also_gets_not_modified(feed_server: FeedServer) -> None:
    first = get(feed_server.url(FEED))

    second = get(
        feed_server.url(FEED), HttpValidators(last_modified=first.validators.last_modified)
    )

    assert second.not_modified
    assert second.validators.last_modified == first.validators.last_modified


def test_a_stale_etag_gets_the_whole_body(feed_server: FeedServer, shared: Path) -> None:
    fetched = get(feed_server.url(FEED), HttpValidators(etag='"an-older-version"'))

    assert fetched.content == (shared / "feeds" / FEED).read_bytes()


def test_the_user_agent_is_sent_and_feeds_are_preferred(feed_server: FeedServer) -> None:
    get(feed_server.url(FEED))

    headers = feed_server.requests_to(FEED)[0].headers
    assert headers["user-agent"] == USER_AGENT
    assert headers["accept"] == ACCEPT
    assert headers["accept"].startswith("application/atom+xml")


def test_a_redirect_is_followed_and_the_final_url_recorded(
    feed_server: FeedServer, shared: Path
) -> None:
    fetched = get(feed_server.url(f"/redirect/{FEED}"))

    assert fetched.url == feed_server.url(FEED)
    assert fetched.content == (shared / "feeds" / FEED).read_bytes()
    assert [r.status for r in feed_server.requests] == [302, 200]


def test_a_redirect_loop_is_too_many_redirects(feed_server: FeedServer) -> None:
    with pytest.raises(SourceError, match=r"^too many redirects$"):
        get(feed_server.url("/loop"))

    assert feed_server.count("/loop") == 6  # the first request and five redirects


def test_a_gzip_body_is_decoded(feed_server: FeedServer, shared: Path) -> None:
    name = "hf_daily_papers_api_2026-06-12.json"

    fetched = get(feed_server.url(name))

    request = feed_server.requests_to(name)[0]
    assert "gzip" in request.headers["accept-encoding"]
    assert request.response_headers["content-encoding"] == "gzip"
    assert fetched.content == (shared / "feeds" / name).read_bytes()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/no-such-feed.xml", "HTTP 404 Not Found"),
        ("/status/500", "HTTP 500 Internal Server Error"),
        ("/status/403", "HTTP 403 Forbidden"),
        ("/status/503?retry_after=120", "HTTP 503 Service Unavailable, retry after 120s"),
    ],
)
def test_an_error_status_is_a_source_error_naming_it(
    feed_server: FeedServer, path: str, message: str
) -> None:
    with pytest.raises(SourceError) as caught:
        get(feed_server.url(path))

    assert str(caught.value) == message


def test_a_304_to_an_unconditional_request_is_an_error(feed_server: FeedServer) -> None:
    with pytest.raises(SourceError, match="304 Not Modified to a request that was not"):
        get(feed_server.url("/status/304"))


def test_a_slow_server_times_out(feed_server: FeedServer) -> None:
    with pytest.raises(SourceError, match=r"^timed out after 0.5s$"):
        get(feed_server.url("/slow"), timeout=0.5)


def test_a_refused_connection_is_a_source_error() -> None:
    with pytest.raises(SourceError, match=r"^connection refused$"):
        get(refused_url("/feed.xml"))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/feed.xml",
        "file:///etc/passwd",
        "feeds/cs.AI.xml",
        "http://",
        "http://[::1",
    ],
)
def test_a_url_that_is_not_http_is_refused_before_any_request(url: str) -> None:
    with pytest.raises(SourceError, match=r"^not an http\(s\) URL"):
        get(url)


def test_a_user_agent_that_cannot_be_sent_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="is not printable ASCII"):
        fetch(refused_url(), NO_VALIDATORS, timeout=1.0, user_agent="digest\nX-Evil: 1")


def test_a_body_over_the_size_cap_is_refused(shared: Path) -> None:
    with FeedServer(shared / "feeds", gzip=False) as server:
        with pytest.raises(SourceError, match=r"^response larger than 1000 bytes$"):
            get(server.url(FEED), max_bytes=1000)
        assert "content-encoding" not in server.requests_to(FEED)[0].response_headers


def test_the_size_cap_counts_the_decoded_bytes(feed_server: FeedServer, shared: Path) -> None:
    size = (shared / "feeds" / FEED).stat().st_size

    with pytest.raises(SourceError, match="response larger than"):
        get(feed_server.url(FEED), max_bytes=size - 1)

    compressed = feed_server.requests_to(FEED)[0]
    assert compressed.response_headers["content-encoding"] == "gzip"


def test_a_body_encoded_twice_over_is_refused_before_it_is_unpacked(
    feed_server: FeedServer,
) -> None:
    """httpx unpacks each layer of "gzip, gzip" whole before the size cap can count: 7 KB
    on the wire took 8.4 GB of memory. No feed needs two."""
    with pytest.raises(SourceError, match=r"^a body encoded 2 times over \(gzip, gzip\)$"):
        get(feed_server.url("/gzip-twice"))


def test_a_body_at_the_size_cap_is_accepted(feed_server: FeedServer, shared: Path) -> None:
    size = (shared / "feeds" / FEED).stat().st_size

    assert get(feed_server.url(FEED), max_bytes=size).content is not None


def test_an_html_page_is_returned_for_the_reader_to_judge(feed_server: FeedServer) -> None:
    fetched = get(feed_server.url("/html"))

    assert fetched.content is not None
    assert fetched.content.startswith(b"<!doctype html>")
    assert fetched.validators == HttpValidators()


def test_one_client_serves_many_fetches_over_one_connection(
    feed_server: FeedServer, shared: Path
) -> None:
    names = sorted(path.name for path in (shared / "feeds").iterdir() if path.suffix != ".md")

    with open_client(timeout=5.0, user_agent=USER_AGENT) as client:
        fetched = [get(feed_server.url(name), client=client) for name in names]

    assert [f.content for f in fetched] == [(shared / "feeds" / n).read_bytes() for n in names]
    assert len({r.client_port for r in feed_server.requests}) == 1
    assert all(r.headers["user-agent"] == USER_AGENT for r in feed_server.requests)


def test_a_passed_client_still_gets_the_timeout_of_the_call(feed_server: FeedServer) -> None:
    with (
        open_client(timeout=30.0, user_agent=USER_AGENT) as client,
        pytest.raises(SourceError, match=r"^timed out after 0.5s$"),
    ):
        get(feed_server.url("/slow"), timeout=0.5, client=client)
