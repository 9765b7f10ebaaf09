"""Every entry a reader gives is fit to store: a bad field is dropped, an entry naming no
paper is skipped, each with a warning, and the rest of the document is kept."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from digest.collect.kinds import parse_document
from digest.collect.storable import ABSTRACT_LIMIT, storable
from digest.models import Entry, Paper, Parsed
from digest.text import parse_integer

TODAY = date(2026, 6, 12)


def feed(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://example.org/</link>{''.join(items)}</channel></rss>"
    ).encode()


def item(title: str, extra: str = "") -> str:
    return f"<item><title>{title}</title>{extra}</item>"


def hf(*papers: dict[str, Any]) -> bytes:
    return json.dumps(
        [{"paper": {"id": "2606.00001", "title": "T"} | paper} for paper in papers]
    ).encode()


def read(data: bytes | str) -> Parsed:
    return parse_document(data.encode() if isinstance(data, str) else data, today=TODAY)


@pytest.mark.parametrize(
    "title", ["&amp;", "?", "---", "&#8230;", "&#8734;", "&#128512;", "&#8203;", "&#8207;"]
)
def test_a_title_without_letters_or_digits_skips_the_entry_and_keeps_the_next(title: str) -> None:
    parsed = read(feed(item(title), item("Kept")))
    assert [(entry.position, entry.paper.title) for entry in parsed.entries] == [(2, "Kept")]
    assert parsed.warnings == ("entry 1: title has no letters or digits, skipped",)


def test_a_title_without_letters_is_kept_when_an_arxiv_id_names_the_paper() -> None:
    parsed = read(feed(item("&#8734;", "<guid>http://arxiv.org/abs/2601.00001v2</guid>")))
    assert [(entry.paper.title, entry.paper.arxiv_id) for entry in parsed.entries] == [
        ("\u221e", "2601.00001")
    ]
    assert parsed.warnings == ()


@pytest.mark.parametrize(
    "digits", ["2147483648", "9" * 20, "9" * 5000], ids=["2^31", "20 digits", "long"]
)
def test_a_version_too_large_to_store_is_dropped_however_long_it_is(digits: str) -> None:
    guid = f"<guid>http://arxiv.org/abs/2601.00001v{digits}</guid>"
    parsed = read(feed(item("A paper", guid)))
    assert [(entry.paper.arxiv_id, entry.paper.arxiv_version) for entry in parsed.entries] == [
        ("2601.00001", None)
    ]
    assert parsed.warnings == ("entry 1: arXiv version out of range, dropped",)


@pytest.mark.parametrize(
    "upvotes", ["-1", str(2**31), str(2**63), "9" * 5000], ids=["negative", "2^31", "2^63", "long"]
)
def test_upvotes_out_of_range_are_dropped_and_the_entry_kept(upvotes: str) -> None:
    parsed = read(f'[{{"paper": {{"id": "2606.00001", "title": "T", "upvotes": {upvotes}}}}}]')
    assert [entry.upvotes for entry in parsed.entries] == [None]
    assert parsed.warnings == ("item 1: upvotes out of range, dropped",)


def test_upvotes_that_fit_are_kept() -> None:
    assert [entry.upvotes for entry in read(hf({"upvotes": 2**31 - 1})).entries] == [2**31 - 1]


@pytest.mark.parametrize(
    "reference", ["&#xD800;", "&#xdfff;", "&#56320;", "&#x110000;", "&#9999999999;"]
)
def test_feed_references_to_no_character_are_removed_instead_of_losing_the_feed(
    reference: str,
) -> None:
    parsed = read(feed(item(f"Half{reference} a pair"), item("Kept")))
    assert [entry.paper.title for entry in parsed.entries] == ["Half a pair", "Kept"]
    assert parsed.warnings == ("removed character references to no character (like &#xD800;)",)


def test_lone_surrogates_in_json_are_removed_from_every_text_field() -> None:
    data = hf({"title": "Half \ud800 a pair", "authors": [{"name": "\udc00"}, {"name": "Ann"}]})
    (entry,) = read(data).entries
    assert (entry.paper.title, entry.paper.authors) == ("Half a pair", ("Ann",))
    assert read(data).warnings == ("item 1: lone surrogates removed from title, authors",)


def test_control_characters_from_a_source_never_reach_a_terminal_or_an_email() -> None:
    """An ESC or a BEL in a title would act on the terminal `digest rank` prints it to: it
    is removed where the text is collected, and the entry is kept."""
    data = hf({"title": "Two-stream \x07\x1b[31m Features", "authors": [{"name": "Ann\x9b"}]})
    (entry,) = read(data).entries
    assert (entry.paper.title, entry.paper.authors) == ("Two-stream [31m Features", ("Ann",))
    assert read(data).warnings == ("item 1: control characters removed from title, authors",)
    clean = hf({"title": "Tabs\tand\u00a0no-break spaces are text"})
    assert read(clean).warnings == ()


def test_a_title_of_surrogates_alone_skips_the_entry() -> None:
    parsed = read(hf({"id": "none", "title": "\ud800"}, {"id": "2606.00002", "title": "Kept"}))
    assert [entry.paper.title for entry in parsed.entries] == ["Kept"]
    assert "item 1: title has no letters or digits, skipped" in parsed.warnings


@pytest.mark.parametrize("key", ["publishedAt", "submittedOnDailyAt"])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_with_no_utc_equivalent_is_dropped_not_the_list(key: str, moment: str) -> None:
    parsed = read(hf({key: moment}, {"id": "2606.00002", key: "2026-06-12T00:00:00Z"}))
    first, second = parsed.entries
    assert (first.paper.published, first.listed_on) == (None, None)
    assert second.paper.published or second.listed_on
    assert parsed.warnings == (f"item 1: {key} {moment!r} cannot be converted to UTC, dropped",)


@pytest.mark.parametrize(
    "published",
    [datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), datetime(2026, 6, 12)],
    ids=["before year 1 in UTC", "no time zone"],
)
def test_a_published_time_the_store_cannot_write_is_dropped_whatever_reader_gave_it(
    published: datetime,
) -> None:
    # The readers of today convert their times themselves; the check holds for any reader.
    entry = Entry(Paper(title="A paper", published=published), position=1)
    parsed = storable(Parsed(kind="feed", format="rss", entries=(entry,)))
    assert [entry.paper.published for entry in parsed.entries] == [None]
    assert parsed.warnings == ("entry 1: published date cannot be converted to UTC, dropped",)


def test_a_dump_title_line_of_stars_skips_that_paper_only() -> None:
    prose = "An abstract long enough to read as prose, with a good many words in it. " * 2
    parsed = read(f"***\n{prose}\nA Real Title\n{prose}\n")
    assert [entry.paper.title for entry in parsed.entries] == ["A Real Title"]
    assert parsed.warnings == ("entry 1: title has no letters or digits, skipped",)


@pytest.mark.parametrize(
    ("digits", "number"),
    [
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("0" * 5000 + "12", 12),
        ("9" * 21, 10**20),
        ("-" + "9" * 5000, -(10**20)),
    ],
    ids=["zero", "42", "negative", "leading zeros", "21 digits", "negative and long"],
)
def test_parse_integer_reads_any_length_and_saturates_past_20_digits(
    digits: str, number: int
) -> None:
    assert parse_integer(digits) == number


def with_doi(doi: str) -> Parsed:
    return read(
        '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<channel><title>t</title><link>https://example.org/</link><item>"
        f"<title>A real title</title><dc:identifier>doi:{doi}</dc:identifier>"
        "</item></channel></rss>"
    )


def test_a_doi_too_long_for_the_store_is_dropped_and_the_paper_kept_by_its_title() -> None:
    # PostgreSQL's key columns hold 200 characters; such a DOI failed its whole source.
    parsed = with_doi("10.1234/" + "x" * 300)
    (entry,) = parsed.entries
    assert (entry.paper.title, entry.paper.doi) == ("A real title", None)
    assert parsed.warnings == ("entry 1: DOI longer than 196 characters, dropped",)


def test_a_doi_that_fits_is_kept() -> None:
    doi = "10.1234/" + "x" * 188  # 196 characters: "doi:" + it is a 200-character key
    parsed = with_doi(doi)
    assert [entry.paper.doi for entry in parsed.entries] == [doi]
    assert parsed.warnings == ()


def test_an_abstract_longer_than_any_real_one_is_cut_at_a_word_and_the_paper_kept() -> None:
    # A whole paper pasted into a feed's description: every word of it would be indexed
    # and compared at each ranking.
    words = "pasted full text of a paper " * 20_000
    parsed = read(feed(item("A real title", f"<description>{words}</description>")))
    (entry,) = parsed.entries
    abstract = entry.paper.abstract
    assert len(abstract) <= ABSTRACT_LIMIT and abstract.endswith("…")
    assert words.startswith(abstract[:-1])
    assert words[len(abstract) - 1] == " "  # cut where a word ends
    assert parsed.warnings == ("entry 1: abstract longer than 10,000 characters, cut",)


def test_an_abstract_at_the_limit_is_kept_whole() -> None:
    words = "x" * ABSTRACT_LIMIT
    parsed = read(feed(item("A real title", f"<description>{words}</description>")))
    assert [entry.paper.abstract for entry in parsed.entries] == [words]
    assert parsed.warnings == ()
