"""`digest serve`'s pages in a real browser (Debian's Chromium): a reader opens the link,
presses the button, and sees what happened; a vote page submits itself; the online copy
of an edition loads. The server is the real one, on a port the system picks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from digest.config import Settings, settings_from
from digest.links import online_url, unsubscribe_url, vote_urls
from digest.state.audience import SUBSCRIBED, UNSUBSCRIBED
from digest.state.store import Store
from digest.state.votes import Taste
from tests.chromium import Chromium, ChromiumMissing, Page
from tests.website import Site, running_site, store_with_a_paper

pytestmark = pytest.mark.network

ADA = "ada@example.org"
NOW = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def config(base_url: str) -> Settings:
    digest = {
        "public_url": f"{base_url}/",
        "secret": "s3cret-for-the-browser-test",
        "sender": "Paper Digest <d@example.org>",
    }
    return settings_from({"digest": digest, "subscribers": [{"email": ADA}]})


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    try:
        chromium = Chromium()
    except ChromiumMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    with chromium:
        yield chromium


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with store_with_a_paper(tmp_path) as opened:
        yield opened


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    with running_site(config, store) as running:
        yield running


def text_once(page: Page, wanted: str, timeout: float = 10.0) -> str:
    """The page's text once it shows `wanted` (after a form posts, the next page loads)."""
    deadline = time.monotonic() + timeout
    while True:
        text: str = page.evaluate("document.body ? document.body.innerText : ''")
        if wanted in text or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def press(page: Page, button: str) -> None:
    found = page.evaluate(
        "(() => { const b = [...document.querySelectorAll('button')]"
        f".find(b => b.textContent.trim() === {button!r}); if (b) b.click(); return !!b; }})()"
    )
    assert found, f"no button {button!r} on the page"


def test_a_reader_unsubscribes_with_the_button_and_subscribes_again(
    browser: Chromium, site: Site, store: Store
) -> None:
    url = unsubscribe_url(site.settings.digest, ADA)
    assert url is not None
    page = browser.page(375, 700)
    page.goto(url)
    assert "Unsubscribe from Paper Digest?" in text_once(page, "Unsubscribe from")
    assert store.audience.standing(ADA) is None  # opening the page changed nothing
    press(page, "Unsubscribe")
    assert "You are unsubscribed" in text_once(page, "You are unsubscribed")
    standing = store.audience.standing(ADA)
    assert standing is not None and (standing.status, standing.how) == (UNSUBSCRIBED, "web page")
    press(page, "Subscribe again")
    assert "You are subscribed again" in text_once(page, "subscribed again")
    standing = store.audience.standing(ADA)
    assert standing is not None and standing.status == SUBSCRIBED


def test_a_vote_page_records_the_vote_by_itself_and_thanks_the_reader(
    browser: Chromium, site: Site, store: Store
) -> None:
    urls = vote_urls(site.settings.digest, ADA, "arxiv:2512.00001")
    assert urls is not None
    page = browser.page(375, 700)
    page.goto(urls["less"])
    text = text_once(page, "Thank you")
    assert "Thank you" in text and "Graph Transformers at Scale" in text
    assert store.votes.tastes([ADA]) == {ADA: Taste(dislikes=("arxiv:2512.00001",))}


def test_the_online_copy_of_an_edition_loads(browser: Chromium, site: Site, store: Store) -> None:
    html = "<!doctype html><title>Papers</title><h1>Your papers</h1>"
    store.archive.keep(ADA, date(2026, 12, 1), subject="Papers", html=html, now=NOW)
    url = online_url(site.settings.digest, ADA, date(2026, 12, 1))
    assert url is not None
    page = browser.page(800, 700)
    page.goto(url)
    assert page.evaluate("document.title") == "Papers"
    assert page.evaluate("document.querySelector('h1').textContent") == "Your papers"
