"""What a paper card says: the paper's facts, its links, and why it was picked, in the
reader's words.

The ranker's reasons are terse and some are for the ranker alone ("matches: gnn",
"in 3 listings", "new today"). A card says them as a reader would: "matches your
interest: gnn", one "trending: 3 listings, 42 upvotes" holding every count of the card
(shown there once, nowhere else), and nothing about freshness (every paper in a digest
is new to its reader, so saying so explains nothing).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date

from digest.mail import display
from digest.models import Candidate, Paper, ScoredPaper
from digest.text import plural

# Excerpt lengths tried in turn while the email is over budget; then papers go.
EXCERPT_STEPS = (300, 150, 0)
# The one reason a table-of-contents line shows is cut to this many characters.
TOC_REASON_LIMIT = 90
_COUNTED = re.compile(r"(?:from \d+ sources?|in \d+ listings?|\d+ upvotes?)")
_POSITION = re.compile(r"#\d+ in a listing")
# Reasons a card does not repeat: freshness says nothing to a reader of new papers, and
# the Code link already shows that code exists.
_UNTOLD = re.compile(r"(?:new today|first seen (?:yesterday|\d+ days ago)|code available)")
_CATEGORY = re.compile(r"[a-z-]+(?:\.[A-Za-z-]+)?")


@dataclass(frozen=True, slots=True)
class Link:
    """One labelled link of a paper card."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Card:
    """One paper as the templates see it: clean text, safe http(s) links.

    `url` is where the title links: the arXiv abstract page, else the paper's own page,
    else None, and then `search_url` is an arXiv title search short enough for the text
    part (`text_url` is whichever there is). `links` are the abstract, PDF, code and
    Hugging Face pages it has. `facts` are the arXiv id with its version, the primary
    category and the listing date ("arXiv:2508.01234v2", "cs.LG", "listed 21 Nov").
    `reasons` say why it was picked in the reader's words, the counts of its listings
    and upvotes among them. `anchor` is the id the table of contents links to.
    `more_like_url` and `less_like_url` are the reader's votes on it, when the sender
    offers them.
    """

    id: str
    number: int
    anchor: str
    title: str
    url: str | None
    search_url: str | None
    authors: str
    facts: tuple[str, ...]
    abstract: str
    excerpt: str
    links: tuple[Link, ...]
    reasons: tuple[str, ...]
    more_like_url: str | None = None
    less_like_url: str | None = None

    @property
    def text_url(self) -> str | None:
        """The paper's one sure link: its page, else the search for it."""
        return self.url or self.search_url

    @property
    def toc_reason(self) -> str:
        """The first reason, short enough for one line of the table of contents."""
        return display.cut(self.reasons[0], TOC_REASON_LIMIT) if self.reasons else ""


# The reader's votes on a paper: its canonical id to ("more like this" URL, "less like
# this" URL), or a function of the canonical id giving that pair or None.
Votes = Mapping[str, tuple[str, str]] | Callable[[str], tuple[str, str] | None]


def card_of(number: int, pick: ScoredPaper, edition: date, votes: Votes | None = None) -> Card:
    """One pick's card: the paper's parts (built once per paper) and this reader's own:
    number, reasons, listing date as seen from the edition, votes."""
    candidate = pick.candidate
    card = _paper_card(candidate)
    more, less = _votes(votes, candidate.id)
    facts = (*card.facts, "listed " + _listing_date(candidate, edition))
    return replace(
        card,
        number=number,
        anchor=f"paper-{number}",
        facts=facts,
        reasons=reader_reasons(pick.reasons, candidate),
        more_like_url=more,
        less_like_url=less,
    )


def with_excerpt(card: Card, limit: int) -> Card:
    """The card with its excerpt cut to about `limit` characters (0: none)."""
    if limit == EXCERPT_STEPS[0]:
        return card  # as the card was built
    return replace(card, excerpt=display.excerpt(card.abstract, limit))


# The same reasons for the same paper recur across readers of the same interests.
@functools.lru_cache(maxsize=8192)
def reader_reasons(reasons: tuple[str, ...], candidate: Candidate) -> tuple[str, ...]:
    """The ranker's reasons in the reader's words. The counts ("trending: …") come from
    the candidate and stand where the ranker's first count stood, else last."""
    out: list[str] = []
    trending_at: int | None = None
    position: str | None = None
    for reason in filter(None, map(display.clean, reasons)):
        if _COUNTED.fullmatch(reason) or _POSITION.fullmatch(reason):
            trending_at = len(out) if trending_at is None else trending_at
            position = reason if _POSITION.fullmatch(reason) else position
        elif not _UNTOLD.fullmatch(reason):
            out.append(reader_reason(reason))
    counts = trending_counts(candidate) + ((position,) if position else ())
    if counts:
        out.insert(
            len(out) if trending_at is None else trending_at, "trending: " + ", ".join(counts)
        )
    return tuple(out)


def reader_reason(reason: str) -> str:
    """One reason of the ranker's in the reader's words; one it does not know, as it is."""
    head, colon, rest = reason.partition(": ")
    if not colon or not rest:
        return reason
    many = ", " in rest
    if head == "matches":
        return f"matches your interest{'s' if many else ''}: {rest}"
    if head == "related to":
        return f"related to your interest{'s' if many else ''}: {rest}"
    if head in ("by pinned author", "by pinned authors"):
        return f"by {'authors' if many else 'an author'} you follow: {rest}"
    if head == "like":
        return f"resembles a paper you liked: {rest}"
    return reason


def trending_counts(candidate: Candidate) -> tuple[str, ...]:
    """Listings and sources past one (every paper is in one listing of one source: that
    tells nothing), and upvotes."""
    out = []
    if candidate.listings > 1:
        out.append(plural(candidate.listings, "listing"))
    if candidate.sources > 1:
        out.append(plural(candidate.sources, "source"))
    if candidate.upvotes and candidate.upvotes > 0:
        out.append(plural(candidate.upvotes, "upvote"))
    return tuple(out)


def _votes(votes: Votes | None, paper_id: str) -> tuple[str | None, str | None]:
    if votes is None:
        return None, None
    pair = votes(paper_id) if callable(votes) else votes.get(paper_id)
    if pair is None:
        return None, None
    return display.safe_url(pair[0]), display.safe_url(pair[1])


def _listing_date(candidate: Candidate, edition: date) -> str:
    listed = candidate.first_seen.date()
    return display.short_date(listed, year=listed.year != edition.year)


@functools.lru_cache(maxsize=4096)
def _paper_card(candidate: Candidate) -> Card:
    """The parts of a card that depend on the paper alone, built once per edition's paper
    however many subscribers get it (number, reasons and votes are each reader's own)."""
    paper = candidate.paper
    title = display.cut(display.clean(paper.title), display.TITLE_LIMIT) or "(untitled)"
    url = display.paper_url(paper)
    abstract = display.clean(paper.abstract)
    page = "Abstract" if display.arxiv_id(paper) else "Paper"
    links = [
        Link(label, link)
        for label, link in (
            (page, url),
            ("PDF", display.pdf_url(paper)),
            ("Code", display.code_url(paper)),
            ("Hugging Face", display.hf_url(paper)),
        )
        if link
    ]
    return Card(
        id=candidate.id,
        number=0,
        anchor="",
        title=title,
        url=url,
        search_url=display.search_url(title) if url is None else None,
        authors=display.short_authors(paper.authors),
        facts=tuple(filter(None, (display.arxiv_label(paper), _primary_category(paper)))),
        abstract=abstract,
        excerpt=display.excerpt(abstract, EXCERPT_STEPS[0]),
        links=tuple(links),
        reasons=(),
    )


def _primary_category(paper: Paper) -> str | None:
    first = display.clean(paper.categories[0]) if paper.categories else ""
    return first if _CATEGORY.fullmatch(first) else None
