"""Rendering: an edition becomes an email's subject, preheader, HTML and plain text."""

# ruff: noqa: RUF001  (Greek letters and math symbols are the expected output)

from __future__ import annotations

import logging
import quopri
import re
import subprocess
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import digest
from digest.errors import DigestError
from digest.identity import canonical_id
from digest.mail import cards, display, render
from digest.mail.envelope import Envelope, Footer
from digest.mail.latex import latex_to_unicode
from digest.mail.message import build_message
from digest.mail.render import Digest, RenderedEmail, Renderer
from digest.mail.signing import DkimSigner
from digest.models import Candidate, Paper, Profile, ScoredPaper
from digest.rank.pool import build_pool
from digest.rank.ranker import rank
from tests.golden import assert_golden_text
from tests.seeds import seed_candidates

TODAY = date(2026, 11, 21)
FIRST_SEEN = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
FOOTER = Footer(
    sender_name="Paper Digest",
    contact="Paper Digest · 1 Example Street · 12345 Example City",
    manage_url="https://digest.example.org/manage?token=t0k3n",
    unsubscribe_url="https://digest.example.org/unsubscribe?token=t0k3n",
)
URL_LINE = re.compile(r" *(?:https?|mailto):\S+")
SCRIPT = "<script>alert(1)</script> &amp; Co"
IMG = "We show <img src=x onerror=alert(1)> is harmless."


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer.load()


def pick(
    title: str,
    abstract: str = "",
    *,
    arxiv_id: str | None = None,
    url: str | None = None,
    pdf_url: str | None = None,
    authors: tuple[str, ...] = (),
    code: tuple[str, ...] = (),
    upvotes: int | None = None,
    listings: int = 1,
    sources: int = 1,
    reasons: tuple[str, ...] = ("matches: graph neural networks",),
    version: int | None = None,
    categories: tuple[str, ...] = (),
    first_seen: datetime = FIRST_SEEN,
) -> ScoredPaper:
    paper = Paper(
        title=title,
        abstract=abstract,
        authors=authors,
        arxiv_id=arxiv_id,
        arxiv_version=version,
        categories=categories,
        url=url,
        pdf_url=pdf_url,
        code_urls=code,
    )
    candidate = Candidate(
        id=canonical_id(paper),
        paper=paper,
        sources=sources,
        listings=listings,
        best_position=1,
        upvotes=upvotes,
        first_seen=first_seen,
    )
    return ScoredPaper(candidate, 1.0, reasons)


def edition(
    *picks: ScoredPaper,
    name: str | None = "Ada",
    interests: tuple[str, ...] = ("graph neural networks", "link prediction"),
    online_url: str | None = None,
    votes: render.Votes | None = None,
) -> Digest:
    return Digest(
        edition=TODAY,
        recipient_name=name,
        recipient_email="ada@example.org",
        interests=interests,
        picks=picks,
        online_url=online_url,
        votes=votes,
    )


def numbered(count: int, abstract: str = "") -> tuple[ScoredPaper, ...]:
    return tuple(
        pick(f"Paper number {n}", abstract, arxiv_id=f"2611.{n:05d}") for n in range(count)
    )


def seed_edition(seeds: Path) -> Digest:
    """Ada's edition of 21 November 2026, ranked from the seed dumps: one candidate per
    distinct paper, its dumps as sources and its sightings as listings."""
    candidates = seed_candidates(seeds, today=TODAY, first_seen=FIRST_SEEN)
    interests = ("graph neural networks", "link prediction")
    profile = Profile(name="ada@example.org", interests=interests, max_papers=10)
    picks = rank(build_pool(candidates, today=TODAY), profile)
    return edition(*picks, interests=interests)


def votes_of(paper_id: str) -> tuple[str, str]:
    """The lead's vote links, as a sender would sign them per reader and paper."""
    token = paper_id.replace(":", "-")
    return (
        f"https://digest.example.org/vote?paper={token}&more=1&token=t0k3n",
        f"https://digest.example.org/vote?paper={token}&more=0&token=t0k3n",
    )


def full_edition() -> Digest:
    """Papers with every field a feed can give: what a card looks like at its richest,
    and an email with the optional browser and vote links."""
    return edition(
        pick(
            r"Scalable Link Prediction in $\mathcal{O}(n \log n)$ with Graph Neural Networks",
            "Link prediction on large graphs is costly: message passing touches every "
            r"neighbour. We present a sampler with $\alpha$-stable guarantees that cuts the "
            "cost to near-linear time. On twelve benchmarks it matches full-graph training "
            "while using a tenth of the memory. We also study why subgraph methods fail on "
            "heterophilous graphs and propose a fix. Code: https://github.com/example/slp",
            arxiv_id="2611.01234",
            authors=(r"J\"org M\"uller", "Ada Lovelace", "Grace Hopper", "Alan Turing", "Emmy"),
            code=("https://github.com/example/slp",),
            upvotes=42,
            listings=3,
            sources=2,
            reasons=(
                "matches: graph neural networks, link prediction",
                "from 2 sources",
                "in 3 listings",
                "42 upvotes",
                "code available",
                "new today",
            ),
            version=2,
            categories=("cs.LG", "cs.SI"),
        ),
        pick(
            r"Caf\'e Graphs: \textbf{Temporal} Networks at Scale",
            "A short abstract.",
            url="https://openreview.net/forum?id=abc123",
            pdf_url="https://openreview.net/pdf?id=abc123",
            authors=("Zoë Ng", "Ilya Петров"),
            reasons=("related to: link prediction", "like: Temporal Graph Networks"),
            first_seen=datetime(2025, 12, 30, tzinfo=UTC),
        ),
        pick(
            "Knowledge Graph Completion without an arXiv id",
            "Only a title and an abstract are known, as in a listing dump.",
            reasons=("matches: link prediction", "#1 in a listing", "first seen yesterday"),
        ),
        online_url="https://digest.example.org/editions/2026-11-21?token=t0k3n",
        votes=votes_of,
    )


# --- golden files ------------------------------------------------------------------------


def test_the_seed_digest_matches_its_golden_files(renderer: Renderer, shared: Path) -> None:
    email = renderer.render(seed_edition(shared / "seeds"), FOOTER)
    assert len(email.paper_ids) == 10
    assert email.dropped == 0
    assert_golden_text("render_seeds.html", email.html)
    assert_golden_text("render_seeds.txt", email.text)


def test_a_digest_with_every_field_matches_its_golden_files(renderer: Renderer) -> None:
    email = renderer.render(full_edition(), FOOTER)
    assert_golden_text("render_full.html", email.html)
    assert_golden_text("render_full.txt", email.text)


def test_rendering_is_deterministic(renderer: Renderer, shared: Path) -> None:
    seeds = seed_edition(shared / "seeds")
    assert renderer.render(seeds, FOOTER) == Renderer.load().render(seeds, FOOTER)


# --- the paper card ----------------------------------------------------------------------


def test_a_card_links_the_arxiv_pdf_code_and_hugging_face_pages(renderer: Renderer) -> None:
    email = renderer.render(full_edition(), FOOTER)
    for url in (
        "https://arxiv.org/abs/2611.01234",
        "https://arxiv.org/pdf/2611.01234",
        "https://github.com/example/slp",
        "https://huggingface.co/papers/2611.01234",
    ):
        assert f'href="{url}"' in email.html
        assert url in email.text


def test_a_paper_without_an_arxiv_id_links_its_own_pages(renderer: Renderer) -> None:
    email = renderer.render(full_edition(), FOOTER)
    assert 'href="https://openreview.net/forum?id=abc123"' in email.html
    assert 'href="https://openreview.net/pdf?id=abc123"' in email.html
    assert "huggingface.co/papers/None" not in email.html


def test_a_paper_known_by_its_title_alone_gets_an_arxiv_search_link(renderer: Renderer) -> None:
    email = renderer.render(edition(pick("Graph Completion")), FOOTER)
    search = "https://arxiv.org/search/?searchtype=title&query=Graph+Completion"
    assert f'href="{search.replace("&", "&amp;")}"' in email.html
    assert ">Search arXiv</a>" in email.html
    # The text part has a link for every paper too: a reader of text can search as well.
    assert f"\n    Search arXiv:\n    {search}\n" in email.text
    long = renderer.render(edition(pick("Knowledge Graph Completion " * 9)), FOOTER)
    lone = re.search(r"\n    Search arXiv:\n    (https://arxiv.org/search/\S+)\n", long.text)
    assert lone is not None
    assert len(lone.group(1)) <= 100 - 4
    assert 'href="https://arxiv.org/abs/' not in email.html


def test_a_search_link_keeps_the_first_words_of_a_long_title() -> None:
    title = display.clean(
        r"Knowledge Graph Completion: a \textbf{Survey} of Embedding, Rule-Based and "
        "Neuro-Symbolic Methods for Large, Sparse and Temporal Graphs in 2026"
    )
    url = display.search_url(title)
    query = url.partition("&query=")[2]
    assert query == "Knowledge+Graph+Completion+a+Survey+of"
    assert len(query) <= display.SEARCH_QUERY_LIMIT
    assert display.search_url("Supercalifragilistic" * 6).endswith("Supercalifragilistic" * 6)


def test_every_paper_has_a_link_in_the_text_part(renderer: Renderer, shared: Path) -> None:
    for shown in (full_edition(), seed_edition(shared / "seeds")):
        email = renderer.render(shown, FOOTER)
        body = email.text.split("\n" + "-" * 72 + "\n")[0]
        papers = re.split(r"\n\n(?=\d+\.\s)", body)[1:]
        assert len(papers) == len(email.paper_ids)
        for paper in papers:
            assert re.search(r"\n    (?:Abstract|Paper|Search arXiv):\s+https://", paper), paper


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,x", "https://exa mple.org", "//evil.org/x"]
)
def test_a_link_that_is_not_plain_http_never_becomes_a_link(renderer: Renderer, url: str) -> None:
    email = renderer.render(edition(pick("A paper", url=url, pdf_url=url, code=(url,))), FOOTER)
    assert url not in email.html
    assert url not in email.text


@pytest.mark.parametrize(
    ("authors", "byline"),
    [
        ((), ""),
        (("Ada Lovelace",), "Ada Lovelace"),
        (("A. One", "B. Two", "C. Three", "D. Four"), "A. One, B. Two, C. Three, D. Four"),
        (("A. One", "B. Two", "C. Three", "D. Four", "E. Five"), "A. One, B. Two, C. Three, +2"),
        (tuple(f"Author {n}" for n in range(10)), "Author 0, Author 1, Author 2, +7"),
    ],
)
def test_authors_past_four_show_as_the_first_three_and_a_count(
    authors: tuple[str, ...], byline: str
) -> None:
    assert display.short_authors(authors) == byline


def test_excerpts_end_at_a_sentence_when_one_ends_late_enough() -> None:
    text = "First sentence is here. " * 20
    cut = display.excerpt(text, 300)
    assert cut.endswith("here. …")
    assert len(cut) <= 302


def test_excerpts_end_at_a_word_otherwise() -> None:
    text = "word " * 100
    cut = display.excerpt(text.strip(), 300)
    assert cut.endswith("word…")
    assert len(cut) <= 300
    assert display.excerpt("e.g. Short abstracts stay whole.", 300) == (
        "e.g. Short abstracts stay whole."
    )
    assert display.excerpt("Anything", 0) == ""


def test_excerpts_do_not_end_at_an_abbreviation() -> None:
    text = "We follow Smith et al. " + "and more words " * 30
    assert "et al. …" not in display.excerpt(text, 100)


def test_a_card_shows_why_it_was_picked_and_its_trending_signals(renderer: Renderer) -> None:
    email = renderer.render(full_edition(), FOOTER)
    text = " ".join(email.text.split())
    for part in (email.html, text):
        assert "matches your interests: graph neural networks, link prediction" in part
        assert "trending: 3 listings, 2 sources, 42 upvotes" in part
        assert "resembles a paper you liked: Temporal Graph Networks" in part
        assert "matches your interest: link prediction" in part
        assert "trending: #1 in a listing" in part
        # Counts are said once, and freshness is no reason: every paper is new to its reader.
        assert part.count("42 upvotes") == 1
        assert part.count("3 listings") == 1
        for untold in ("new today", "first seen", "from 2 sources", "in 3 listings"):
            assert untold not in part
    assert "code available" not in email.html  # the Code link says it


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("matches: graph neural networks", "matches your interest: graph neural networks"),
        ("matches: gnn, video", "matches your interests: gnn, video"),
        ("related to: link prediction", "related to your interest: link prediction"),
        ("related to: a, b", "related to your interests: a, b"),
        ("by pinned author: Ada Lovelace", "by an author you follow: Ada Lovelace"),
        ("by pinned authors: A. One, B. Two", "by authors you follow: A. One, B. Two"),
        (
            "like: Attention Is All You Need",
            "resembles a paper you liked: Attention Is All You Need",
        ),
        ("editor's pick", "editor's pick"),
    ],
)
def test_reasons_speak_the_readers_language(reason: str, shown: str) -> None:
    assert cards.reader_reason(reason) == shown


def test_the_trending_reason_stands_where_the_ranker_put_its_counts() -> None:
    paper = pick("A paper", upvotes=120, listings=2, reasons=())
    reasons = ("in 2 listings", "matches: gnn", "120 upvotes", "first seen 3 days ago")
    assert cards.reader_reasons(reasons, paper.candidate) == (
        "trending: 2 listings, 120 upvotes",
        "matches your interest: gnn",
    )
    assert cards.reader_reasons(("new today",), pick("Quiet").candidate) == ()


def test_a_card_shows_the_arxiv_id_with_version_category_and_listing_date(
    renderer: Renderer,
) -> None:
    email = renderer.render(full_edition(), FOOTER)
    for part in (email.html, email.text):
        assert "arXiv:2611.01234v2 · cs.LG · listed 21 Nov" in part
        assert "listed 30 Dec 2025" in part  # another year than the edition's says so
    assert "cs.SI" not in email.html  # the primary category alone
    unversioned = renderer.render(edition(pick("P", arxiv_id="2611.00001")), FOOTER)
    assert "arXiv:2611.00001 · listed 21 Nov" in unversioned.text


def test_a_category_that_is_no_arxiv_category_is_not_shown(renderer: Renderer) -> None:
    email = renderer.render(edition(pick("P", categories=("53D10, 53D15",))), FOOTER)
    assert "53D10" not in email.html and "53D10" not in email.text


def test_the_title_is_styled_as_the_link_it_is(renderer: Renderer) -> None:
    html = renderer.render(full_edition(), FOOTER).html
    titles = re.findall(r'<h2 id="paper-\d"[^>]*>.*?</h2>', html, re.DOTALL)
    assert len(titles) == 3
    for title in titles:
        link = re.search(
            r'<a class="pd-link" dir="auto" href="([^"]+)" style="color:#0a58ca;', title
        )
        assert link is not None, title
    assert 'href="https://arxiv.org/abs/2611.01234"' in titles[0]
    assert 'href="https://arxiv.org/search/?searchtype=title&amp;query=' in titles[2]


def test_a_table_of_contents_links_each_title_to_its_card(renderer: Renderer) -> None:
    email = renderer.render(full_edition(), FOOTER)
    contents = email.html.split("In this issue", 1)[1].split("</ol>", 1)[0]
    entries = re.findall(
        r'<a class="pd-link" dir="auto" href="#(paper-\d)"[^>]*>([^<]+)</a>', contents
    )
    assert [anchor for anchor, _ in entries] == ["paper-1", "paper-2", "paper-3"]
    assert entries[1][1] == "Café Graphs: Temporal Networks at Scale"
    for anchor, _ in entries:
        assert email.html.count(f'id="{anchor}"') == 1
    assert "related to your interest: link prediction</span>" in contents  # one reason
    assert "resembles a paper you liked" not in contents
    assert "In this issue:\n 1. Scalable Link Prediction in O(n log n) with Graph Neural" in (
        email.text
    )
    single = renderer.render(edition(pick("Alone")), FOOTER)
    assert "In this issue" not in single.html and "In this issue" not in single.text


def test_each_cards_links_are_described_by_its_title_for_screen_readers(
    renderer: Renderer,
) -> None:
    """The same words on every card ("PDF", "Code", "More like this"), read out of
    context (a screen reader's list of links), say nothing of which paper they open.
    Each names its card's heading as its description (WCAG 2.4.4, technique ARIA1)."""
    html = renderer.render(full_edition(), FOOTER).html
    headings = dict(re.findall(r'<h2 id="(paper-\d)"[^>]*>(.*?)</h2>', html, re.DOTALL))
    assert "Scalable Link Prediction" in headings["paper-1"] and len(headings) == 3
    cards_by_text: dict[str, list[str]] = {}
    for card, text in re.findall(r'<a [^>]*aria-describedby="([^"]+)"[^>]*>([^<]+)</a>', html):
        cards_by_text.setdefault(text, []).append(card)
    assert cards_by_text == {
        "PDF": ["paper-1", "paper-2"],
        "Code": ["paper-1"],
        "Hugging Face": ["paper-1"],
        "Search arXiv": ["paper-3"],
        "More like this": ["paper-1", "paper-2", "paper-3"],
        "Less like this": ["paper-1", "paper-2", "paper-3"],
    }
    contents = re.search(r"<h2 [^>]*>In this issue</h2>", html)
    assert contents is not None, "the table of contents has a heading, not a styled paragraph"


def test_the_header_has_the_date_and_name_and_the_footer_says_why(renderer: Renderer) -> None:
    email = renderer.render(full_edition(), FOOTER)
    for part in (email.html, email.text):
        assert "Saturday, 21 November 2026" in part
        assert "Hi Ada," in part
        assert "You get this because you follow: graph neural networks, link prediction" in part
        assert "Paper Digest · 1 Example Street · 12345 Example City" in part
    assert 'href="https://digest.example.org/manage?token=t0k3n"' in email.html
    assert 'href="https://digest.example.org/unsubscribe?token=t0k3n"' in email.html
    assert "Unsubscribe: https://digest.example.org/unsubscribe?token=t0k3n" in email.text


def test_a_reader_of_thousands_of_interests_still_gets_every_paper(renderer: Renderer) -> None:
    """The footer names the first twelve interests and how many more: listing 4,000 would
    crowd every paper out of the size limit (the email then kept none, its subject still
    promising ten)."""
    many = tuple(f"an interest phrase about subject number {n} in detail" for n in range(4000))
    email = renderer.render(edition(*numbered(10), interests=many), FOOTER)
    assert email.dropped == 0
    assert "subject number 11 in detail, and 3988 more." in email.text.replace("\n", " ")
    assert "subject number 12 in detail" not in email.html
    assert len(email.html.encode()) < 60_000


def test_a_subscriber_of_everything_trending_without_a_name(renderer: Renderer) -> None:
    mailto = Footer("Paper Digest", "", None, "mailto:unsubscribe@example.org?subject=stop")
    email = renderer.render(edition(pick("A paper"), name=None, interests=()), mailto)
    for part in (email.html, email.text):
        assert "Hi " not in part and "Hi," not in part  # no greeting without a name
        assert "1 paper picked for you today" in part
        assert "You get this because you asked for everything trending." in part
        assert "Manage your interests" not in part
    assert 'href="mailto:unsubscribe@example.org?subject=stop"' in email.html


def test_a_view_in_browser_link_and_vote_links_when_the_sender_gives_them(
    renderer: Renderer,
) -> None:
    full = full_edition()
    email = renderer.render(full, FOOTER)
    online = "https://digest.example.org/editions/2026-11-21?token=t0k3n"
    assert f'href="{online}"' in email.html and ">View in browser</a>" in email.html
    assert f"Saturday, 21 November 2026\nView in your browser:\n{online}\n\n" in email.text
    for scored in full.picks:
        more, less = votes_of(scored.candidate.id)
        assert f'href="{more.replace("&", "&amp;")}"' in email.html
        assert f'href="{less.replace("&", "&amp;")}"' in email.html
        assert f"    More like this:\n    {more}\n    Less like this:\n    {less}" in email.text
    assert email.html.count(">More like this</a>") == 3


def test_votes_may_be_a_mapping_and_unsafe_urls_are_left_out(renderer: Renderer) -> None:
    picks = (pick("First"), pick("Second"), pick("Third"))
    first, second, _ = (p.candidate.id for p in picks)
    votes = {
        first: ("https://x.example/more/1", "https://x.example/less/1"),
        second: ("javascript:alert(1)", "https://x.example/less/2"),
    }
    email = renderer.render(edition(*picks, votes=votes, online_url="javascript:x"), FOOTER)
    assert email.html.count(">More like this</a>") == 1
    assert email.html.count(">Less like this</a>") == 2
    assert "javascript" not in email.html and "javascript" not in email.text
    assert "View in" not in email.html and "View in" not in email.text
    plain = renderer.render(edition(*picks), FOOTER)
    assert "like this" not in plain.html and "like this" not in plain.text


def test_an_unsubscribe_url_that_is_no_url_is_an_error(renderer: Renderer) -> None:
    with pytest.raises(DigestError, match="unsubscribe URL"):
        renderer.render(edition(), Footer("Paper Digest", "", None, "javascript:void(0)"))


# --- untrusted text ----------------------------------------------------------------------


def test_markup_in_titles_and_abstracts_is_shown_as_text_never_run(renderer: Renderer) -> None:
    email = renderer.render(edition(pick(SCRIPT, IMG)), FOOTER)
    assert "<script" not in email.html.lower()
    assert "<img" not in email.html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in email.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in email.html
    assert "<script>alert(1)</script> & Co" in email.text
    assert "<img src=x onerror=alert(1)>" in email.text


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (r"Sorting in $\mathcal{O}(n)$ time", "Sorting in O(n) time"),
        (r"J\"org and Ren\'ee", "Jörg and Renée"),
        (r"$\alpha$-stable laws", "α-stable laws"),
        (r"A \textbf{bold} claim", "A bold claim"),
        (r"$O(n^2)$ pairs of $x_{t-1}$", "O(n²) pairs of xₜ₋₁"),
        (r"\v{S}koda, Stra\ss e, \c{c}a", "Škoda, Straße, ça"),
        (r"$\frac{1}{2}$ of $\mathbb{R}$", "1/2 of ℝ"),
        (r"an \unknownmacro here", "an unknownmacro here"),
        # Named operators keep their space; norms are double bars.
        (r"in $\mathcal{O}(n\log n)$ time", "in O(n log n) time"),
        (r"the $\log$-likelihood and $\arg\max_x f(x)$", "the log-likelihood and arg maxₓ f(x)"),
        (r"$\mathrm{KL}(p\|q)$ and $\lVert x \rVert_2$", "KL(p‖q) and ‖x‖₂"),
        (r"$\langle q, k \rangle$ over $\lfloor n/2 \rfloor$", "⟨q, k⟩ over ⌊n/2⌋"),
        ("costs $5 and $10", "costs $5 and $10"),
        ("100\\% and \\$3", "100% and $3"),
        ("plain text stays", "plain text stays"),
    ],
)
def test_latex_becomes_unicode(source: str, shown: str) -> None:
    assert latex_to_unicode(source) == shown


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("zero\u200bwidth space", "zerowidth space"),
        # Joiners are spelling: an emoji sequence, Persian with its non-joiner.
        ("Robot \U0001f469\u200d\U0001f52c", "Robot \U0001f469\u200d\U0001f52c"),
        (
            "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627",
            "\u0639\u0644\u06cc\u200c\u0631\u0636\u0627",
        ),
        ("right\u202eto left\u202c override", "rightto left override"),
        ("Cafe\u0301 composed", "Café composed"),
        ("Z\u0301\u0302\u0303\u0304\u0305algo", "\u0179\u0302algo"),
        ("null\x00 and bell\x07", "null and bell"),
        ("line\u2028separator\r\nand CRLF", "line separator and CRLF"),
        ("Q&amp;A &lt;b&gt;", "Q&A <b>"),
    ],
)
def test_odd_unicode_is_cleaned(source: str, shown: str) -> None:
    assert display.clean(source) == shown


def test_latex_and_unicode_read_well_in_both_parts(renderer: Renderer) -> None:
    title = (
        r"Fast $\mathcal{O}(n)$ Search by J\"org, Ren\'ee"
        + "\u200b"
        + r" and $\alpha$-\textbf{Nets}"
    )
    abstract = "Cafe\u0301 \u202eevil\u202c graphs."
    email = renderer.render(edition(pick(title, abstract)), FOOTER)
    for part in (email.html, email.text, email.subject):
        assert "Fast O(n) Search by Jörg, Renée and α-Nets" in part
    for part in (email.html, email.text):
        assert "Café evil graphs." in part
        assert "\u202e" not in part
        assert "\u200b" not in part


# --- header lines ------------------------------------------------------------------------


def test_the_subject_names_the_date_the_count_and_the_top_paper(renderer: Renderer) -> None:
    email = renderer.render(full_edition(), FOOTER)
    assert email.subject == (
        "Paper Digest, 21 Nov: 3 papers — Scalable Link Prediction in O(n log n) with Graph "
        "Neural Networks"
    )
    assert email.preheader == (
        "Also: Café Graphs: Temporal Networks at Scale; Knowledge Graph Completion without "
        "an arXiv id"
    )
    one = renderer.render(edition(pick("Alone", reasons=("matches: link prediction",))), FOOTER)
    assert one.subject == "Paper Digest, 21 Nov: 1 paper — Alone"
    assert one.preheader == "Picked for you: matches your interest: link prediction"


@pytest.mark.parametrize(
    "title",
    [
        "Injected\r\nBcc: victim@example.org",
        "Null\x00byte and \x1b[31mescape",
        "Line\u2028separator\u2029and\x85next",
        "Tabs\tand\vvertical\ftabs",
        "A very long title " * 20,
        "Unbroken" * 40,
    ],
)
def test_subject_and_preheader_are_one_safe_line(renderer: Renderer, title: str) -> None:
    email = renderer.render(edition(pick(title), pick(title)), FOOTER)
    for line in (email.subject, email.preheader):
        assert line == " ".join(line.split())
        assert all(char.isprintable() for char in line)
    assert len(email.subject) <= render.SUBJECT_LIMIT
    assert len(email.preheader) <= render.PREHEADER_LIMIT


def test_a_long_subject_is_cut_at_a_word() -> None:
    top = display.clean("Word " * 40)
    subject = render.subject(edition(), FOOTER, [cards.card_of(1, pick(top), TODAY)])
    assert len(subject) <= 120
    assert subject.endswith("Word…")


@pytest.mark.parametrize(
    "text",
    [
        "ab" + "\U0001f469\u200d\U0001f52c" * 5,  # woman scientist: three code points
        "x" + "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea\U0001f1ef\U0001f1f5",  # FR DE JP flags
        "\U0001f44d\U0001f3fd" * 4,  # thumbs up, medium skin tone
        "Cafe\u0301\u0301\u0301 and more",
        "\u2764\ufe0f" * 6,  # a red heart in emoji presentation
    ],
    ids=["joined emoji", "flags", "skin tones", "accents", "variation selectors"],
)
def test_a_cut_never_splits_what_reads_as_one_character(text: str) -> None:
    # A title of emoji cut between a letter and its joiner showed a broken glyph and a
    # stray joiner before the ellipsis; a flag cut in two shows two letters.
    for limit in range(2, len(text)):
        shown = display.cut(text, limit)
        kept = shown.removesuffix(display.ELLIPSIS)
        assert len(shown) <= limit and text.startswith(kept)
        following = text[len(kept)]
        assert unicodedata.combining(following) == 0
        assert following not in "\u200d\ufe0f" and not 0x1F3FB <= ord(following) <= 0x1F3FF
        assert not kept.endswith("\u200d")
        flags = len(kept) - len(kept.rstrip("".join(map(chr, range(0x1F1E6, 0x1F200)))))
        assert flags % 2 == 0, (limit, shown)


def test_a_full_preheader_says_a_hundred_to_a_hundred_and_fifty_characters(
    renderer: Renderer, shared: Path
) -> None:
    email = renderer.render(seed_edition(shared / "seeds"), FOOTER)
    assert 100 <= len(email.preheader) <= 150


# --- size --------------------------------------------------------------------------------


def test_a_normal_edition_keeps_full_excerpts_and_drops_nothing(
    renderer: Renderer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="digest.mail.render")
    picks = numbered(10, "A sentence of a normal abstract. " * 40)
    email = renderer.render(edition(*picks), FOOTER)
    assert email.dropped == 0
    assert email.paper_ids == tuple(p.candidate.id for p in picks)
    assert display.excerpt(display.clean(picks[0].candidate.paper.abstract), 300) in email.html
    assert "more paper" not in email.html
    assert caplog.records == []


def test_excerpts_shrink_before_any_paper_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="digest.mail.render")
    picks = numbered(10, "A sentence of a normal abstract. " * 40)
    full = Renderer.load().render(edition(*picks), FOOTER)
    size = render.encoded_size(full.html) + render.encoded_size(full.text)
    tight = Renderer.load(budget=size - 500)
    email = tight.render(edition(*picks), FOOTER)
    assert render.encoded_size(email.html) + render.encoded_size(email.text) <= tight.budget
    assert email.dropped == 0
    assert len(email.paper_ids) == 10
    abstract = display.clean(picks[0].candidate.paper.abstract)
    assert display.excerpt(abstract, 150) in email.html
    assert display.excerpt(abstract, 300) not in email.html
    assert 'href="#paper-10"' in email.html  # the contents stay while excerpts do
    assert "excerpts cut to 150 characters and 0 of 10 papers left out" in caplog.text


def test_a_huge_edition_drops_its_lowest_papers_to_fit_the_budget(
    renderer: Renderer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="digest.mail.render")
    picks = numbered(100, "Five kilobytes of abstract text. " * 155)
    email = renderer.render(edition(*picks), FOOTER)
    assert (
        render.encoded_size(email.html) + render.encoded_size(email.text) <= render.MESSAGE_BUDGET
    )
    assert 0 < email.dropped < 100
    shown = 100 - email.dropped
    assert email.paper_ids == tuple(p.candidate.id for p in picks[:shown])
    assert "Five kilobytes" not in email.html  # excerpts went first
    # and the table of contents with them: cards without excerpts are a list of titles
    assert "In this issue" not in email.html and "In this issue" not in email.text
    assert f"Paper number {shown - 1}<" in email.html
    assert f"Paper number {shown}<" not in email.html
    line = f"…and {email.dropped} more papers picked for you today"
    assert line in email.html
    assert line in email.text
    assert f"Paper number {shown}\n" not in email.text
    assert f"excerpts cut to 0 characters and {email.dropped} of 100 papers" in caplog.text
    assert [record.levelname for record in caplog.records] == ["INFO"]


def test_a_source_s_endless_titles_and_names_are_cut_and_cost_the_others_nothing(
    renderer: Renderer,
) -> None:
    """One source's 10,000-character titles (and author names) took every other paper's
    excerpt, then the papers themselves, out of the size budget: shown, they are cut."""
    endless = "Graph neural networks " + "supercalifragilistic " * 480
    picks = (
        *(
            pick(endless, "An abstract.", arxiv_id=f"2611.9{n:04d}", authors=("x" * 5000,))
            for n in range(3)
        ),
        *numbered(7, "A sentence of a normal abstract. " * 8),
    )
    email = renderer.render(edition(*picks), FOOTER)
    assert (email.dropped, len(email.paper_ids)) == (0, 10)
    assert display.excerpt(display.clean(picks[3].candidate.paper.abstract), 300) in email.html
    assert endless[:200] in email.html and endless[:400] not in email.html
    assert "x" * 79 + "…" in email.html and "x" * 81 not in email.html


def test_the_budget_drops_as_few_papers_as_it_can(renderer: Renderer) -> None:
    huge = edition(*numbered(100, "Five kilobytes of abstract text. " * 155))
    email = renderer.render(huge, FOOTER)
    shown = 100 - email.dropped
    shrunk = tuple(cards.with_excerpt(card, 0) for card in render.cards_of(huge))
    context = render.template_context(huge, FOOTER, shrunk)
    one_more = shrunk[: shown + 1]
    html = renderer.fill_html(context, one_more, email.dropped - 1)
    text = renderer.fill_text(context, one_more, email.dropped - 1)
    assert render.encoded_size(html) + render.encoded_size(text) > renderer.budget


def heavy_pick(number: int) -> ScoredPaper:
    """A paper with every field long: many authors, accents, code, counts, long reasons."""
    return pick(
        f"Paper number {number}: “Ünïcode” title on graph neural networks and link prediction",
        "Löng abstract — with ümlauts, = signs and α-stable maths. " * 90,
        arxiv_id=f"2611.{number:05d}",
        version=3,
        categories=("cs.LG",),
        authors=tuple(f"Áuthor Ñame {k}" for k in range(8)),
        code=(f"https://github.com/example/repository-{number}",),
        upvotes=120,
        listings=2,
        sources=2,
        reasons=("matches: graph neural networks, link prediction", "in 2 listings"),
    )


def test_a_hundred_paper_edition_stays_under_gmails_clip_as_sent(
    renderer: Renderer, tmp_path: Path
) -> None:
    """Gmail clips past about 102 KB of message; counted as sent: both parts encoded
    quoted-printable, every header, the DKIM signature, the MIME framing."""
    long_token = "t" * 160
    email = renderer.render(
        edition(
            *(heavy_pick(n) for n in range(100)),
            online_url=f"https://digest.example.org/online?token={long_token}",
            votes=lambda paper: (
                f"https://digest.example.org/vote?more=1&paper={paper}&token={long_token}",
                f"https://digest.example.org/vote?more=0&paper={paper}&token={long_token}",
            ),
        ),
        FOOTER,
    )
    assert 0 < email.dropped < 90
    key = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    envelope = Envelope(
        sender="Paper Digest <digest@digest.example.org>",
        recipient="ada.lovelace@example.org",
        recipient_name="Ada Lovelace",
        edition=TODAY,
        unsubscribe_url=f"https://digest.example.org/unsubscribe?token={long_token}",
        feedback_id="digest-2026-11-21:ada:daily:paper-digest",
    )
    message = build_message(
        envelope, subject=email.subject, text=email.text, html=email.html, now=FIRST_SEEN
    )
    sent = DkimSigner.load("digest.example.org", "s2026", key).sign(message).data
    assert len(sent) < render.GMAIL_CLIP
    parts = render.encoded_size(email.html) + render.encoded_size(email.text)
    assert parts <= render.MESSAGE_BUDGET
    assert len(sent) - parts < render.HEADER_ROOM  # what the budget leaves is enough


def test_the_encoded_size_is_what_quoted_printable_makes(renderer: Renderer) -> None:
    email = renderer.render(full_edition(), FOOTER)
    for part in (email.html, email.text):
        crlf = part.replace("\n", "\r\n").encode()
        assert render.encoded_size(part) == len(quopri.encodestring(crlf))
        assert render.encoded_size(part) > len(part.encode())
        assert render.encoded_size(part) <= render._encoded_size_bound(part)


@pytest.mark.parametrize(
    "part",
    [
        "",
        "=" * 500,
        "é" * 300 + "\n",
        "中文标题" * 200,
        " \n.\n\t\n" * 100,
        ("x" * 75 + "\n") * 40,
        "a = b " * 400,
    ],
)
def test_the_cheap_size_bound_is_never_below_the_encoded_size(part: str) -> None:
    assert render.encoded_size(part) <= render._encoded_size_bound(part)


# --- the compiler runs once --------------------------------------------------------------


def test_mjml_compiles_once_at_load_never_per_email(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    compile_mjml = render.mjml2html

    def counting(source: str, **options: Any) -> str:
        calls.append(source)
        return compile_mjml(source, **options)

    monkeypatch.setattr(render, "mjml2html", counting)
    renderer = Renderer.load()
    assert len(calls) == 1  # digest.mjml, with paper.mjml spliced in
    assert "<mj-include" not in calls[0]
    for count in range(5):
        renderer.render(edition(*numbered(count)), FOOTER)
    assert len(calls) == 1


# --- the plain-text part -----------------------------------------------------------------


def test_text_lines_fit_72_columns_except_lone_urls(renderer: Renderer, shared: Path) -> None:
    hostile = edition(
        pick(
            "Supercalifragilistic" * 6 + " and a title long enough to need two lines or three",
            "Our code is at https://example.org/" + "very-long-path/" * 8 + " for all. " * 30,
            url="https://example.org/papers/" + "x" * 80,
            authors=tuple(f"Author With A Long Name {n}" for n in range(9)),
            code=("https://github.com/example/" + "repository-name-" * 5,),
        ),
        *numbered(11),
    )
    for email in (
        renderer.render(hostile, FOOTER),
        renderer.render(seed_edition(shared / "seeds"), FOOTER),
        renderer.render(full_edition(), FOOTER),
        # A hundred papers with a table of contents: numbers of three digits.
        Renderer.load(budget=10**7).render(
            edition(*(pick("Long title words " * 9 + str(n)) for n in range(100))), FOOTER
        ),
    ):
        for line in email.text.splitlines():
            assert len(line) <= 72 or URL_LINE.fullmatch(line), line
            assert len(line) <= 998  # SMTP's limit, whatever the URL
            assert line == line.rstrip(), line


def test_the_wrap_filter_keeps_urls_whole_and_breaks_other_long_words() -> None:
    url = "https://example.org/" + "a" * 80
    assert display.wrap(f"PDF: {url}", indent="    ") == f"    PDF:\n    {url}"
    assert display.wrap("x" * 100, width=40) == "\n".join(["x" * 40, "x" * 40, "x" * 20])
    assert display.wrap("Title words", first="10. ", indent="    ") == "10. Title words"


def test_wide_characters_take_two_columns_when_the_text_part_wraps() -> None:
    """Japanese, Chinese, Korean and emoji take two columns on a terminal: 72 of them
    were 144 columns wide."""
    title = "グラフニューラルネットワークによる大規模リンク予測 " * 6 + "graph neural networks"
    wrapped = display.wrap(title, indent="    ")
    assert all(display.columns(line) <= 72 for line in wrapped.splitlines())
    assert wrapped.replace("\n", "").replace("    ", "").replace(" ", "") == title.replace(" ", "")
    assert display.columns("日本 ok") == 7 and display.columns("e\u0301") == 1
    assert display.wrap("日" * 50, width=40) == "\n".join(["日" * 20, "日" * 20, "日" * 10])


# --- an empty edition --------------------------------------------------------------------


def test_an_empty_edition_says_nothing_new_matched(renderer: Renderer) -> None:
    email = renderer.render(edition(), FOOTER)
    assert email.subject == "Paper Digest, 21 Nov: nothing new matched your interests today"
    assert email.paper_ids == ()
    assert email.dropped == 0
    for part in (email.html, " ".join(email.text.split())):
        assert "Nothing new matched your interests today." in part
        assert "new papers on graph neural networks, link prediction" in part
        assert "No.\xa01" not in part and "No.&nbsp;1" not in part
    assert email.preheader.startswith("We'll write again when new papers match")


def test_an_empty_edition_tells_an_everything_trending_reader_the_truth(
    renderer: Renderer,
) -> None:
    email = renderer.render(edition(interests=(), name=None), FOOTER)
    assert email.subject == "Paper Digest, 21 Nov: no new trending papers today"
    assert email.preheader == "We'll write again when new papers come out."
    for part in (email.html, " ".join(email.text.split())):
        assert "No new trending papers today." in part
        assert "Every paper of the latest listings was in one of your earlier digests" in part
        assert "arXiv announces nothing on weekends and holidays" in part
        assert "interests today" not in part  # they follow none
    assert ">follow a few interests</a>" in email.html


# --- the HTML for every screen and scheme -------------------------------------------------


# SpamAssassin's __FONT_INVIS (72_active.cf): a tag whose style sets a font of 0 or 1
# pixel (or a transparent colour) right before text. With a suspicious Message-ID it is
# FONT_INVIS_MSGID.
FONT_INVIS = re.compile(
    r"<(?!style)[a-z]+\s[^>]{1,80}(?:font(?:-size)?\s*:\s*(?:0*[01](?:\.\d+)?"
    r"(?:px|pt|Q|vw|vh|vmin)|0+(?:\.\d+)?(?:cm|mm|pc|ch|rem|lh|vmax|%)|0+(?:\.0\d*)"
    r"(?:em|ex|in))(?:\s[a-z]|\s*[;'])|['\"\s;]color\s*:\s*transparent\s*[;'])[^>]{0,80}>\w",
    re.IGNORECASE,
)


def test_the_preheader_is_hidden_without_tricks_spam_filters_flag(renderer: Renderer) -> None:
    email = renderer.render(full_edition(), FOOTER)
    hidden = re.search(r'<div class="pd-preheader" style="([^"]*)">([^<]*)</div>', email.html)
    assert hidden is not None
    style, text = hidden.groups()
    assert "display:none" in style and "mso-hide:all" in style
    assert "color" not in style and "font-size" not in style  # HTML_FONT_LOW_CONTRAST
    assert text.startswith(email.preheader.replace("&", "&amp;").replace("'", "&#x27;")[:40])
    assert email.html.index("pd-preheader") < email.html.index("Saturday, 21 November")
    assert FONT_INVIS.search(email.html) is None
    assert FONT_INVIS.search('<div style="font-size:1px;color:#fff">Hidden</div>')


def test_the_html_is_ready_for_phones_and_dark_mode(renderer: Renderer) -> None:
    html = renderer.render(full_edition(), FOOTER).html
    assert html.startswith('<!doctype html><html lang="en"')
    assert '<meta name="color-scheme" content="light dark"' in html
    assert '<meta name="supported-color-schemes" content="light dark"' in html
    assert "@media (prefers-color-scheme: dark)" in html
    # One column everywhere; MJML's columns take their desktop width only from 480px up.
    assert "@media only screen and (min-width:480px)" in html
    assert "mj-column-per-100" in html
    assert re.findall(r"<img\b(?![^>]*\balt=)", html) == []


def test_text_is_at_least_14px_and_titles_at_least_17px(renderer: Renderer) -> None:
    html = renderer.render(full_edition(), FOOTER).html
    sizes = [int(size) for size in re.findall(r"font-size:\s*(\d+)px", html)]
    # 0px and 1px are MJML's own layout tricks (whitespace between columns, the preview).
    assert [size for size in sizes if 1 < size < 14] == []
    titles = re.findall(r'<h2 id="paper-\d+" class="pd-wrap" style="[^"]*font-size:(\d+)px', html)
    assert len(titles) == 3
    assert all(int(size) >= 17 for size in titles)


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, other: str) -> float:
    high, low = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# (text, background) as the templates pair them: page and card backgrounds, light and dark.
PAIRS = [
    ("#1f2328", "#ffffff"),  # text on a card
    ("#59636e", "#ffffff"),  # muted text on a card
    ("#0a58ca", "#ffffff"),  # links on a card
    ("#1f2328", "#f3f4f6"),  # the date heading on the page
    ("#59636e", "#f3f4f6"),  # the footer on the page
    ("#0a58ca", "#f3f4f6"),  # footer links and the name on the page
    ("#e6edf3", "#161b22"),  # dark: text on a card
    ("#9198a1", "#161b22"),  # dark: muted text on a card
    ("#58a6ff", "#161b22"),  # dark: links on a card
    ("#e6edf3", "#0d1117"),  # dark: the date heading on the page
    ("#9198a1", "#0d1117"),  # dark: the footer on the page
    ("#58a6ff", "#0d1117"),  # dark: footer links on the page
]


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_colors_have_enough_contrast_in_both_schemes(
    renderer: Renderer, text: str, background: str
) -> None:
    html = renderer.render(full_edition(), FOOTER).html.lower()
    assert text in html
    assert background in html
    assert _contrast(text, background) >= 4.5


def test_every_text_color_in_the_html_is_one_of_the_checked_ones(renderer: Renderer) -> None:
    html = renderer.render(full_edition(), FOOTER).html.lower()
    checked = {text for text, _ in PAIRS}
    assert set(re.findall(r"(?<![-\w])color:\s*(#[0-9a-f]{6})", html)) <= checked


def test_long_unbroken_words_and_urls_wrap_instead_of_overflowing(renderer: Renderer) -> None:
    email = renderer.render(edition(pick("W" * 200, "https://example.org/" + "p" * 300)), FOOTER)
    title = re.search(r'<h2 id="paper-1" class="pd-wrap" style="([^"]*)"', email.html)
    assert title is not None
    assert "overflow-wrap:anywhere" in title.group(1)
    assert "word-break:break-word" in title.group(1)
    assert ".pd-wrap, .pd-wrap a { overflow-wrap: anywhere; word-break: break-word; }" in (
        email.html
    )


# --- template folders and their errors -----------------------------------------------------


def test_a_user_template_folder_overrides_the_built_in_one_file_by_file(tmp_path: Path) -> None:
    (tmp_path / "digest.txt").write_text("{{ total }} for {{ name }}\n", encoding="utf-8")
    (tmp_path / "paper.mjml").write_text(
        '<mj-text><p class="mine">{{ card.title }}</p></mj-text>', encoding="utf-8"
    )
    email = Renderer.load(tmp_path).render(edition(pick("A paper")), FOOTER)
    assert email.text == "1 for Ada\n"
    assert '<p class="mine">A paper</p>' in email.html
    assert "Saturday, 21 November 2026" in email.html  # digest.mjml is still the built-in


def test_a_user_layout_replaces_the_built_in_layout(tmp_path: Path) -> None:
    (tmp_path / "digest.mjml").write_text(
        "<mjml><mj-body><mj-section><mj-column><mj-text>{{ subject }}</mj-text>"
        "</mj-column></mj-section></mj-body></mjml>",
        encoding="utf-8",
    )
    email = Renderer.load(tmp_path).render(edition(pick("A & B")), FOOTER)
    assert "Paper Digest, 21 Nov: 1 paper — A &amp; B</div>" in email.html


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("digest.txt", "Hi {{ name }\n", r"digest\.txt:1: Jinja syntax error: unexpected '}'"),
        ("digest.txt", "{% for x in cards %}\n", r"digest\.txt:1: Jinja syntax error: .*'endfor'"),
        ("digest.mjml", "<mjml><mj-body>{% if %}</mj-body></mjml>", r"digest\.mjml:1: Jinja"),
        ("paper.mjml", "<mj-text>\n{{ card.title</mj-text>", r"paper\.mjml:2: Jinja syntax"),
        ("digest.mjml", "<mjml><mj-body><mj-section>", r"digest\.mjml: MJML does not compile"),
        (
            "digest.mjml",
            '<mjml><mj-body><mj-include path="card.mjml" /></mj-body></mjml>',
            r"digest\.mjml: includes card\.mjml not found in",
        ),
        (
            "digest.mjml",
            '<mjml><mj-body><mj-include path="../digest.mjml" /></mj-body></mjml>',
            r"digest\.mjml: template '\.\./digest\.mjml' must be a name inside the folder",
        ),
        (
            "digest.mjml",
            '<mjml><mj-body><mj-include path="digest.mjml" /></mj-body></mjml>',
            r"digest\.mjml: includes nest deeper than 8 levels",
        ),
        (
            "digest.txt",
            "{{ nowhere }}",
            r"digest\.txt: 'nowhere' is undefined",
        ),
    ],
)
def test_a_broken_template_is_a_one_line_error_naming_the_file(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(DigestError) as caught:
        Renderer.load(tmp_path).render(edition(pick("A paper")), FOOTER)
    assert "\n" not in str(caught.value)
    assert str(tmp_path / name) in str(caught.value)
    assert re.search(message, str(caught.value)), str(caught.value)


def test_a_missing_folder_or_built_in_template_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DigestError, match=r"template folder .*nowhere does not exist"):
        Renderer.load(tmp_path / "nowhere")
    monkeypatch.setattr(render, "BUILTIN_TEMPLATES", tmp_path / "gone")
    with pytest.raises(DigestError, match=r"template digest\.mjml not found in .*gone"):
        Renderer.load()


def test_the_built_in_templates_sit_beside_the_package() -> None:
    package = Path(digest.__file__).resolve().parent
    assert package.parent / "templates" == render.BUILTIN_TEMPLATES
    for name in ("digest.mjml", "digest.txt", "paper.mjml"):
        assert (render.BUILTIN_TEMPLATES / name).is_file()


def test_a_rendered_email_is_a_frozen_record(renderer: Renderer) -> None:
    email = renderer.render(edition(), FOOTER)
    assert isinstance(email, RenderedEmail)
    with pytest.raises(AttributeError):
        email.subject = "changed"  # type: ignore[misc]


def test_the_email_loads_nothing_from_elsewhere(renderer: Renderer) -> None:
    """No web font, no remote stylesheet or image: opening the email calls no server."""
    html = renderer.render(edition(*numbered(3)), FOOTER).html
    assert "googleapis" not in html and "@import" not in html
    assert not re.findall(r"<(?:link|img|script)\b", html)
