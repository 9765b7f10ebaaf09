"""The rendered email in a real browser: headless Chromium at phone and narrow-desktop widths.

A 10-paper digest ranked from the seed dumps is rendered and loaded from a file:// URL
into Debian's Chromium (driven over the DevTools protocol on a pipe, see
tests/chromium.py) at 375 and 640 CSS pixels. Nothing may overflow horizontally, every
paper title must be visible, and each table-of-contents link must lead to its card.
Screenshots of the whole email (light and dark scheme) and its HTML are kept in
artifacts/render/ for people to look at. A missing /usr/bin/chromium fails these tests
(CI installs it); it never skips them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.mail import display
from digest.mail.envelope import Footer
from digest.mail.render import Digest, RenderedEmail, Renderer
from digest.models import Profile
from digest.rank.pool import build_pool
from digest.rank.ranker import rank
from tests.chromium import Chromium, ChromiumMissing, Page
from tests.seeds import seed_candidates

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "render"
TODAY = date(2026, 11, 21)
FIRST_SEEN = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
# Interests whose picks include the longest seed titles (up to 138 characters).
INTERESTS = ("graph neural networks", "link prediction", "video understanding")
WIDTHS = (375, 640)
HEIGHT = 800
# Sub-pixel layout: a box may end a fraction of a pixel past a whole-pixel edge.
SLACK = 0.5

OVERFLOW = """
(() => {
  const width = window.innerWidth;
  const offenders = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + %(slack)s) {
      offenders.push({
        tag: element.tagName.toLowerCase(),
        class: element.getAttribute("class"),
        right: box.right,
        width: box.width,
        text: (element.textContent || "").trim().slice(0, 80),
      });
    }
  }
  return {
    innerWidth: width,
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    offenders: offenders.slice(0, 10),
    count: offenders.length,
  };
})()
"""

# For each title: the deepest elements of the body whose text holds it, and for each
# whether CSS shows it, its box, and any ancestor that clips it horizontally.
TITLES = """
((titles) => {
  const fold = (text) => text.replace(/[\\u00ad\\u200b]/g, "").replace(/\\s+/g, " ").trim();
  const width = window.innerWidth;
  const elements = [...document.body.querySelectorAll("*")];
  return titles.map((title) => {
    const holders = elements.filter((e) => fold(e.textContent || "").includes(title));
    const deepest = holders.filter((e) => ![...e.children].some((c) => holders.includes(c)));
    return {
      title,
      found: deepest.map((element) => {
        const box = element.getBoundingClientRect();
        const style = getComputedStyle(element);
        let clippedBy = null;
        for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
          const overflow = getComputedStyle(up).overflowX;
          if (overflow === "visible") continue;
          const outer = up.getBoundingClientRect();
          if (box.left < outer.left - %(slack)s || box.right > outer.right + %(slack)s) {
            clippedBy = up.tagName.toLowerCase() + "." + (up.getAttribute("class") || "");
            break;
          }
        }
        return {
          tag: element.tagName.toLowerCase(),
          left: box.left,
          right: box.right,
          width: box.width,
          height: box.height,
          visible: element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}),
          visibility: style.visibility,
          opacity: style.opacity,
          clippedBy,
          viewport: width,
        };
      }),
    };
  });
})(%(titles)s)
"""


# Each table-of-contents link followed as a reader's click would: the card it names
# must exist, hold that title, and be scrolled into view.
ANCHORS = """
(() => {
  const fold = (text) => (text || "").replace(/\\s+/g, " ").trim();
  const out = [...document.querySelectorAll('ol a[href^="#"]')].map((link) => {
    const href = link.getAttribute("href");
    const target = document.getElementById(href.slice(1));
    if (!target) return {href, found: false};
    link.click();
    const box = target.getBoundingClientRect();
    const heading = target.closest("h2") || target.querySelector("h2");
    return {
      href,
      found: true,
      top: box.top,
      inView: box.top >= -1 && box.top < window.innerHeight,
      linkText: fold(link.textContent),
      heading: fold(heading && heading.textContent),
    };
  });
  window.scrollTo(0, 0);
  return out;
})()
"""


# Where a right-to-left title sits in its card and in the table of contents.
RIGHT_TO_LEFT = """
(() => {
  const heading = document.querySelector("h2#paper-1");
  const number = heading.querySelector("span").getBoundingClientRect();
  const link = heading.querySelector("a");
  const entry = document.querySelector("ol li");
  return {
    numberRight: number.right,
    titleLeft: link.getBoundingClientRect().left,
    titleDirection: getComputedStyle(link).direction,
    headingDirection: getComputedStyle(heading).direction,
    entryDirection: getComputedStyle(entry).direction,
    entryTitleDirection: getComputedStyle(entry.querySelector("a")).direction,
  };
})()
"""
# Arabic for "a large language model for video understanding".
ARABIC_TITLE = "نموذج لغوي كبير لفهم الفيديو"


@pytest.fixture(scope="module")
def edition(shared: Path) -> Digest:
    candidates = seed_candidates(shared / "seeds", today=TODAY, first_seen=FIRST_SEEN)
    pool = build_pool(candidates, today=TODAY)
    picks = rank(pool, Profile(name="Ada Lovelace", interests=INTERESTS, max_papers=10))
    assert len(picks) == 10
    return Digest(
        edition=TODAY,
        recipient_name="Ada Lovelace",
        recipient_email="ada.lovelace@example.org",
        interests=INTERESTS,
        picks=picks,
    )


@pytest.fixture(scope="module")
def email(edition: Digest) -> RenderedEmail:
    footer = Footer(
        sender_name="Paper Digest",
        contact="Paper Digest, 1 Example Street, Springfield",
        manage_url="https://digest.example.org/manage?token=abc123",
        unsubscribe_url="https://digest.example.org/unsubscribe?token=abc123",
    )
    rendered = Renderer.load().render(edition, footer)
    assert rendered.dropped == 0
    assert len(rendered.paper_ids) == 10
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "digest.html").write_text(rendered.html, encoding="utf-8")
    return rendered


@pytest.fixture(scope="module")
def email_url(email: RenderedEmail, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("render") / "digest.html"
    path.write_text(email.html, encoding="utf-8")
    return path.as_uri()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    missing = chromium_missing()
    if missing:
        pytest.fail(missing, pytrace=False)
    with Chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module", params=WIDTHS, ids=lambda width: f"{width}px")
def page(request: pytest.FixtureRequest, browser: Chromium, email_url: str) -> Page:
    """The email loaded at one width; a full-page screenshot is saved before any check."""
    width: int = request.param
    tab = browser.page(width, HEIGHT)
    tab.goto(email_url)
    tab.evaluate("document.fonts.ready.then(() => true)")
    tab.screenshot(ARTIFACTS / f"digest-{width}px.png")
    # For people only: the dark scheme the template styles too (nothing asserted).
    dark = [{"name": "prefers-color-scheme", "value": "dark"}]
    tab.call("Emulation.setEmulatedMedia", {"features": dark})
    tab.screenshot(ARTIFACTS / f"digest-{width}px-dark.png")
    tab.call("Emulation.setEmulatedMedia", {"features": []})
    return tab


def chromium_missing() -> str | None:
    try:
        Chromium()
    except ChromiumMissing as error:
        return str(error)
    return None


def titles(edition: Digest) -> list[str]:
    return [display.clean(pick.candidate.paper.title) for pick in edition.picks]


def test_chromium_is_installed() -> None:
    """Fails, never skips, without the browser: CI must install it."""
    missing = chromium_missing()
    if missing:
        pytest.fail(missing, pytrace=False)


def test_nothing_overflows_horizontally(page: Page) -> None:
    layout: dict[str, Any] = page.evaluate(OVERFLOW % {"slack": SLACK})
    assert layout["innerWidth"] == page.width
    assert layout["scrollWidth"] <= layout["innerWidth"], json.dumps(layout, indent=1)
    assert layout["count"] == 0, json.dumps(layout, indent=1)


def test_every_title_is_visible(page: Page, edition: Digest) -> None:
    wanted = titles(edition)
    assert len(wanted) == 10
    report = page.evaluate(TITLES % {"slack": SLACK, "titles": json.dumps(wanted)})
    for item in report:
        shown = [
            found
            for found in item["found"]
            if found["visible"]
            and found["visibility"] == "visible"
            and float(found["opacity"]) > 0
            and found["width"] > 0
            and found["height"] > 0
            and found["left"] >= -SLACK
            and found["right"] <= found["viewport"] + SLACK
            and found["clippedBy"] is None
        ]
        assert shown, f"title not visible at {page.width}px: {json.dumps(item, indent=1)}"


def test_the_table_of_contents_leads_to_each_card(page: Page, edition: Digest) -> None:
    entries = page.evaluate(ANCHORS)
    assert [entry["href"] for entry in entries] == [f"#paper-{n}" for n in range(1, 11)]
    for entry, title in zip(entries, titles(edition), strict=True):
        assert entry["found"], entry
        assert entry["linkText"] == title, entry
        assert entry["heading"].endswith(title), entry
        assert entry["inView"], f"card not scrolled into view at {page.width}px: {entry}"


def test_a_right_to_left_title_reads_right_to_left_and_keeps_its_number_on_the_left(
    browser: Chromium, edition: Digest, tmp_path: Path
) -> None:
    # With the direction on the whole heading or list item, an Arabic title put its
    # number on the right ("... .1") and the contents became a jagged list.
    first = edition.picks[0]
    paper = replace(first.candidate.paper, title=ARABIC_TITLE)
    arabic = replace(first, candidate=replace(first.candidate, paper=paper))
    footer = Footer("Paper Digest", "1 Example Street", None, "https://example.org/u")
    rendered = Renderer.load().render(replace(edition, picks=(arabic, *edition.picks[1:3])), footer)
    path = tmp_path / "rtl.html"
    path.write_text(rendered.html, encoding="utf-8")
    tab = browser.page(375, HEIGHT)
    tab.goto(path.as_uri())
    tab.screenshot(ARTIFACTS / "digest-rtl-375px.png")
    layout = tab.evaluate(RIGHT_TO_LEFT)
    assert layout["titleDirection"] == layout["entryTitleDirection"] == "rtl", layout
    assert layout["headingDirection"] == layout["entryDirection"] == "ltr", layout
    assert layout["numberRight"] <= layout["titleLeft"] + SLACK, layout
