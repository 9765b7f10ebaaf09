"""The links an email carries to `digest serve`, and the paths the server answers at:
decided in one place, so they always agree."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from digest.config import DigestSettings, settings_from
from digest.errors import ConfigError
from digest.links import online_url, paths, resubscribe_path, unsubscribe_url, vote_urls
from digest.tokens import Grant, Purpose, verify

KEY = "a-secret-of-16-ch"
NEW, OLD = "the-new-secret-of-this-week", "the-old-secret-of-last-week"


def digest(**section: object) -> DigestSettings:
    return settings_from({"digest": section}).digest


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_every_link_starts_with_the_public_url_and_carries_its_own_token() -> None:
    config = digest(public_url="https://news.example.org/papers/", secret=KEY)
    unsubscribe = unsubscribe_url(config, "Ada@Example.org")
    votes = vote_urls(config, "ada@example.org", "arxiv:2501.00001")
    online = online_url(config, "ada@example.org", date(2026, 12, 1))
    assert unsubscribe and votes and online
    assert unsubscribe.startswith("https://news.example.org/papers/unsubscribe?token=")
    assert votes["more"].startswith("https://news.example.org/papers/vote?token=")
    assert votes["more"].endswith("&vote=more") and votes["less"].endswith("&vote=less")
    assert online.startswith("https://news.example.org/papers/online?token=")
    assert verify(token_of(unsubscribe), Purpose.UNSUBSCRIBE, [KEY]) == Grant(
        Purpose.UNSUBSCRIBE, "ada@example.org", ""
    )
    assert verify(token_of(online), Purpose.ONLINE, [KEY]) == Grant(
        Purpose.ONLINE, "ada@example.org", "2026-12-01"
    )


def test_the_server_answers_at_the_paths_of_those_links() -> None:
    config = digest(public_url="https://news.example.org/papers/", secret=KEY)
    where = paths(config)
    assert (where.unsubscribe, where.vote, where.online, where.resubscribe) == (
        "/papers/unsubscribe",
        "/papers/vote",
        "/papers/online",
        "/papers/resubscribe",
    )


def test_an_unsubscribe_url_of_its_own_moves_that_link_and_its_path() -> None:
    config = digest(
        public_url="https://news.example.org/",
        unsubscribe_url="https://news.example.org/leave?list=papers",
        secret=KEY,
    )
    url = unsubscribe_url(config, "ada@example.org")
    assert url and url.startswith("https://news.example.org/leave?list=papers&token=")
    assert paths(config).unsubscribe == "/leave"


def test_without_a_secret_or_a_public_url_there_are_no_links() -> None:
    assert unsubscribe_url(digest(public_url="https://x.org/"), "ada@example.org") is None
    assert vote_urls(digest(secret=KEY), "ada@example.org", "arxiv:1") is None
    assert online_url(digest(secret=KEY), "ada@example.org", date(2026, 12, 1)) is None
    assert resubscribe_path(digest(), "ada@example.org") is None
    assert unsubscribe_url(digest(public_url="https://x.org/", secret=KEY), None) is None


def test_links_are_signed_with_the_current_secret_and_the_old_ones_still_verify() -> None:
    config = digest(public_url="https://x.org/", secret=NEW, previous_secrets=[OLD])
    assert config.secrets() == (NEW, OLD)
    url = unsubscribe_url(config, "ada@example.org")
    assert url and verify(token_of(url), Purpose.UNSUBSCRIBE, [NEW]) is not None


@pytest.mark.parametrize(
    ("section", "cause"),
    [
        ({"secret": "short"}, "digest.secret: too short to sign links safely"),
        ({"secret": KEY, "previous_secrets": [""]}, "digest.previous_secrets: too short"),
    ],
)
def test_a_secret_anyone_could_guess_is_refused(section: dict[str, object], cause: str) -> None:
    """A reader holds a signed link and what it signs: a short secret can be found by
    trying every one, and with it anyone's links forged."""
    with pytest.raises(ConfigError, match=cause):
        digest(**section)


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_secret_is_no_secret_and_makes_no_links(empty: str) -> None:
    config = digest(public_url="https://x.org/", secret=empty)
    assert config.secret is None and config.secrets() == ()
    assert unsubscribe_url(config, "ada@example.org") is None


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/", "http://localhost/digest/", "https://news.example.org/"]
)
def test_https_or_plain_http_to_this_machine_is_a_public_url(url: str) -> None:
    assert digest(public_url=url).public_url == url


@pytest.mark.parametrize(
    "url", ["http://news.example.org/", "ftp://x.org/", "https://", "news.example.org"]
)
def test_any_other_public_url_is_refused_in_one_line(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        digest(public_url=url)
    assert raised.value.lines == [
        f"digest.public_url: {url!r} is not an https:// URL "
        "(http:// only for 127.0.0.1 or localhost)"
    ]
