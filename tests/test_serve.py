"""`digest serve`: the links in every email, answered by a real server over real HTTP.

One-click unsubscribe is RFC 8058: a POST of `List-Unsubscribe=One-Click` to the URL of
the List-Unsubscribe header unsubscribes at once. Everything else a link can do waits
for a button: mail scanners visit links, and must change nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from digest.config import Settings, settings_from
from digest.links import online_url, unsubscribe_url, vote_urls
from digest.state.audience import SUBSCRIBED, UNSUBSCRIBED
from digest.state.store import Store
from digest.state.votes import Taste
from digest.tokens import Purpose, sign
from digest.web.pages import Form, Page, PageRenderer
from tests.website import PAPER_ID, Site, running_site, store_with_a_paper

pytestmark = pytest.mark.network

ADA = "ada@example.org"
SECRET = "a-long-random-secret-for-tests"
EDITION = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def config(base_url: str, **digest: object) -> Settings:
    section = {"public_url": f"{base_url}/digest/", "secret": SECRET} | digest
    return settings_from({"digest": section, "subscribers": [{"email": ADA}]})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with store_with_a_paper(tmp_path) as opened:
        yield opened


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with running_site(config, store, now=lambda: NOW) as running:
        yield running


def one_click(url: str, **options: object) -> httpx.Response:
    return httpx.post(url, data={"List-Unsubscribe": "One-Click"}, **options)  # type: ignore[arg-type]


def status_of(store: Store, email: str = ADA) -> str:
    standing = store.audience.standing(email)
    return standing.status if standing else SUBSCRIBED


# --- one-click unsubscribe ---------------------------------------------------------------


def test_a_one_click_post_to_the_header_url_unsubscribes_at_once(site: Site, store: Store) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None and url.startswith(f"{site.base_url}/digest/unsubscribe?token=")
    answer = one_click(url)
    assert answer.status_code == 200
    assert "You are unsubscribed" in answer.text
    standing = store.audience.standing(ADA)
    assert standing is not None and (standing.status, standing.how) == (UNSUBSCRIBED, "one-click")
    assert store.audience.suppressed() == {ADA}


def test_a_multipart_one_click_post_works_too(site: Site, store: Store) -> None:
    # RFC 8058 asks mail clients for multipart/form-data; some send urlencoded.
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None
    answer = httpx.post(url, files={"List-Unsubscribe": (None, "One-Click")})
    assert answer.status_code == 200 and status_of(store) == UNSUBSCRIBED


def test_visiting_the_link_shows_a_button_and_changes_nothing(site: Site, store: Store) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None
    page = httpx.get(url)
    assert page.status_code == 200
    assert re.search(
        r'<form id="confirm" method="post" action="/digest/unsubscribe\?token=', page.text
    )
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in page.text
    assert status_of(store) == SUBSCRIBED
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_post_without_the_one_click_field_changes_nothing(site: Site, store: Store) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None
    assert httpx.post(url, data={"List-Unsubscribe": "maybe"}).status_code == 400
    assert httpx.post(url).status_code == 400
    assert status_of(store) == SUBSCRIBED


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("", 400),
        ("garbage", 403),
        (sign(Purpose.UNSUBSCRIBE, ADA, "another-secret"), 403),
        (sign(Purpose.VOTE, ADA, SECRET, subject=PAPER_ID), 403),  # a vote grants no unsubscribe
        (sign(Purpose.RESUBSCRIBE, ADA, SECRET), 403),
    ],
    ids=["missing", "garbage", "foreign-secret", "vote-token", "resubscribe-token"],
)
def test_bad_or_foreign_tokens_are_refused_and_change_nothing(
    site: Site, store: Store, token: str, status: int
) -> None:
    answer = one_click(f"{site.base_url}/digest/unsubscribe", params={"token": token})
    assert answer.status_code == status
    assert store.audience.standing(ADA) is None


def test_the_confirmation_page_offers_to_subscribe_again(site: Site, store: Store) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None
    done = one_click(url)
    action = re.search(r'action="(/digest/resubscribe\?token=[^"]+)"', done.text)
    assert action is not None
    assert httpx.post(site.base_url + action.group(1).replace("&amp;", "&")).status_code == 200
    standing = store.audience.standing(ADA)
    assert standing is not None and (standing.status, standing.how) == (SUBSCRIBED, "web page")
    # Visiting the unsubscribe link again now asks again, instead of saying it is done.
    assert "Unsubscribe from" in httpx.get(url).text


def test_a_link_checker_visiting_the_resubscribe_link_changes_nothing(
    site: Site, store: Store
) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None
    action = re.search(r'action="(/digest/resubscribe\?token=[^"]+)"', one_click(url).text)
    assert action is not None
    resubscribe = site.base_url + action.group(1).replace("&amp;", "&")
    assert httpx.head(resubscribe).status_code == 200
    assert httpx.get(resubscribe).status_code == 200
    assert status_of(store) == UNSUBSCRIBED


def test_links_signed_before_a_secret_rotation_still_work(store: Store) -> None:
    def rotated(base_url: str) -> Settings:
        return config(base_url, secret="the-new-secret-of-this-week", previous_secrets=[SECRET])

    with running_site(rotated, store) as site:
        old_link = (
            f"{site.base_url}/digest/unsubscribe?token={sign(Purpose.UNSUBSCRIBE, ADA, SECRET)}"
        )
        assert one_click(old_link).status_code == 200
    assert status_of(store) == UNSUBSCRIBED


def test_a_retired_secret_is_refused(store: Store) -> None:
    with running_site(
        lambda base: config(base, secret="the-new-secret-of-this-week"), store
    ) as site:
        old_link = (
            f"{site.base_url}/digest/unsubscribe?token={sign(Purpose.UNSUBSCRIBE, ADA, SECRET)}"
        )
        assert one_click(old_link).status_code == 403
    assert status_of(store) == SUBSCRIBED


def test_only_the_configured_paths_answer(site: Site) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None
    assert httpx.get(url.replace("/digest/", "/")).status_code == 404
    assert httpx.delete(url).status_code == 405


def test_the_servers_own_refusals_are_pages_of_the_site_never_cached(site: Site) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None
    multipart = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": "4"}
    for answer, status in (
        (httpx.get(f"{site.base_url}/nothing-here"), 404),
        (httpx.delete(url), 405),
        (httpx.post(url, content=b"--x-", headers=multipart), 400),
    ):
        assert answer.status_code == status
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert set(httpx.delete(url).headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}


# --- votes -------------------------------------------------------------------------------


def test_a_vote_link_records_nothing_until_its_page_posts(site: Site, store: Store) -> None:
    urls = vote_urls(site.settings.digest, ADA, PAPER_ID)
    assert urls is not None
    page = httpx.get(urls["more"])
    assert page.status_code == 200
    assert "“\u2068Graph Transformers at Scale\u2069”" in page.text, "isolated: RTL-safe"
    assert 'document.getElementById("confirm").submit()' in page.text
    nonce = re.search(r'<script nonce="([^"]+)"', page.text)
    assert nonce and f"'nonce-{nonce.group(1)}'" in page.headers["content-security-policy"]
    assert store.votes.tastes([ADA]) == {}
    thanks = httpx.post(urls["more"], data={"vote": "more"})
    assert thanks.status_code == 200 and "Thank you" in thanks.text
    assert store.votes.tastes([ADA]) == {ADA: Taste(likes=(PAPER_ID,))}
    fewer = httpx.post(urls["less"], data={"vote": "less"})
    assert "Your next editions will have fewer papers like" in fewer.text
    assert store.votes.tastes([ADA]) == {ADA: Taste(dislikes=(PAPER_ID,))}


def test_a_link_checker_visiting_a_vote_link_records_nothing(site: Site, store: Store) -> None:
    urls = vote_urls(site.settings.digest, ADA, PAPER_ID)
    assert urls is not None
    assert httpx.head(urls["more"]).status_code == 200
    assert store.votes.tastes([ADA]) == {}


def test_a_vote_token_is_for_one_paper_and_one_reader(site: Site, store: Store) -> None:
    urls = vote_urls(site.settings.digest, ADA, PAPER_ID)
    assert urls is not None
    other_paper = sign(Purpose.VOTE, ADA, SECRET, subject="arxiv:2512.99999")
    spliced = urls["more"].split("token=")[0] + "token=" + other_paper.rsplit(".", 1)[0] + "."
    spliced += urls["more"].split("token=")[1].split("&")[0].rsplit(".", 1)[1]
    assert httpx.post(spliced, data={"vote": "more"}).status_code == 403
    assert httpx.post(urls["more"], data={"vote": "sideways"}).status_code == 400
    assert store.votes.tastes([ADA]) == {}


# --- the online copy ---------------------------------------------------------------------


def test_an_archived_edition_is_served_to_its_reader_only(site: Site, store: Store) -> None:
    html = "<!doctype html><html><body><h1>Your papers</h1></body></html>"
    store.archive.keep(ADA, EDITION, subject="Papers", html=html, now=NOW)
    url = online_url(site.settings.digest, ADA, EDITION)
    assert url is not None
    page = httpx.get(url)
    assert (page.status_code, page.text) == (200, html)
    assert "script-src" not in page.headers["content-security-policy"]  # none may run
    bob = online_url(site.settings.digest, "bob@example.org", EDITION)
    assert bob is not None and httpx.get(bob).status_code == 404
    earlier = online_url(site.settings.digest, ADA, date(2026, 11, 1))
    assert earlier is not None and httpx.get(earlier).status_code == 404


def test_an_online_copy_is_gone_after_archive_days_whoever_still_has_it(store: Store) -> None:
    """A reader who unsubscribed gets no newer edition to push their old copies out of
    the database: the site still serves none older than `archive_days`."""
    html = "<!doctype html><html><body><h1>Your papers</h1></body></html>"
    store.archive.keep(ADA, EDITION, subject="Papers", html=html, now=NOW)
    for later, status in ((NOW + timedelta(days=29), 200), (NOW + timedelta(days=31), 404)):
        with running_site(config, store, now=lambda at=later: at) as site:
            url = online_url(site.settings.digest, ADA, EDITION)
            assert url is not None and httpx.get(url).status_code == status


def test_an_online_token_for_no_date_is_refused(site: Site) -> None:
    token = sign(Purpose.ONLINE, ADA, SECRET, subject="not-a-date")
    assert httpx.get(f"{site.base_url}/digest/online", params={"token": token}).status_code == 403


def test_a_huge_body_is_refused_before_it_is_read(site: Site, store: Store) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None
    body = "List-Unsubscribe=One-Click&padding=" + "x" * 100_000
    answer = httpx.post(
        url, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 413
    assert store.audience.standing(ADA) is None


def test_a_body_of_unknown_length_is_refused(site: Site, store: Store) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None

    def chunks() -> Iterator[bytes]:
        yield b"List-Unsubscribe=One-Click"

    answer = httpx.post(
        url, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 411
    assert store.audience.standing(ADA) is None


def test_a_page_template_that_fails_for_one_page_falls_back_to_the_built_in_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Checked at start with a form; a page without one still reaches the reader."""
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "page.html").write_text("<h1>{{ title }}</h1>{{ form.button }}")
    pages = PageRenderer("Paper Digest", [tmp_path])
    assert pages.html(Page("Hello", form=Form("/", "Go")), nonce="n") == "<h1>Hello</h1>Go"
    fallback = pages.html(Page("You are unsubscribed"), nonce="n")
    assert "You are unsubscribed" in fallback and "<!doctype html>" in fallback.lower()
    assert "page.html: 'None' has no attribute 'button'" in caplog.text
