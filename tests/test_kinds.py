"""Telling the kind of a document by its text, and reading it, whatever Unicode encoding it is
saved in: a Windows editor saves "Unicode" as UTF-16 with a byte order mark."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from digest.collect.kinds import detect_kind, parse_document
from digest.errors import SourceError

TODAY = date(2026, 11, 21)

# The real documents in ../shared, each with its kind.
DOCUMENTS = [
    ("seeds/000_ce849831d427977b.txt", "dump"),
    ("seeds/001_0d75d798bf0b3470.txt", "dump"),
    ("seeds/003_664192655427e7a2.txt", "dump"),
    ("feeds/arxiv_api_query_all_Einstein_2018-02-05.xml", "feed"),
    ("feeds/arxiv_api_query_cat_cs.LG_OR_cs.AI_2026-04-30.xml", "feed"),
    ("feeds/arxiv_atom_cs.AI_2025-08-20.xml", "feed"),
    ("feeds/arxiv_rss2_cs.CL_2026-08-01_weekend_empty.xml", "feed"),
    ("feeds/hf_papers_feedgen_rss_huangboming_2026-04-30.xml", "feed"),
    ("feeds/hf_papers_takara_tldr_rss_2026-04-30.xml", "feed"),
    ("feeds/hf_daily_papers_api_2026-06-12.json", "hf-api"),
]
FEEDS = [name for name, kind in DOCUMENTS if kind == "feed"]

# Ways to save a text as Unicode with a byte order mark.
ENCODERS: dict[str, Callable[[str], bytes]] = {
    "utf-16-le": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16-be": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "utf-32-le": lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"),
    "utf-32-be": lambda text: codecs.BOM_UTF32_BE + text.encode("utf-32-be"),
}

IN_EACH_ENCODING = [(name, kind, encoding) for name, kind in DOCUMENTS for encoding in ENCODERS]


def text_of(shared: Path, name: str) -> str:
    return (shared / name).read_bytes().decode("utf-8")


@pytest.mark.parametrize(("name", "kind", "encoding"), IN_EACH_ENCODING)
def test_a_unicode_document_is_told_by_its_decoded_text(
    shared: Path, name: str, kind: str, encoding: str
) -> None:
    utf8 = (shared / name).read_bytes()
    assert detect_kind(utf8) == kind
    assert detect_kind(ENCODERS[encoding](utf8.decode())) == kind


@pytest.mark.parametrize(("name", "kind", "encoding"), IN_EACH_ENCODING)
def test_a_unicode_document_reads_like_its_utf8_twin(
    shared: Path, name: str, kind: str, encoding: str
) -> None:
    text = text_of(shared, name)
    parsed = parse_document(ENCODERS[encoding](text), today=TODAY)
    assert parsed == parse_document(text.encode(), today=TODAY)
    assert parsed.kind == kind


@pytest.mark.parametrize("name", FEEDS)
def test_a_utf16_feed_declaring_utf16_reads_like_its_utf8_twin(shared: Path, name: str) -> None:
    text = text_of(shared, name)
    declared = text.replace("encoding='UTF-8'", "encoding='UTF-16'", 1)
    declared = declared.replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    assert "UTF-16" in declared
    parsed = parse_document(ENCODERS["utf-16-le"](declared), today=TODAY)
    assert parsed == parse_document(text.encode(), today=TODAY)


def test_an_all_ascii_utf16_feed_declaring_utf8_still_has_its_entries(shared: Path) -> None:
    # feedparser alone reads it as UTF-8, NUL characters and all, and finds no feed in it.
    text = text_of(shared, "feeds/arxiv_atom_cs.AI_2025-08-20.xml")
    assert text.isascii()
    parsed = parse_document(ENCODERS["utf-16-le"](text), today=TODAY)
    assert (parsed.format, len(parsed.entries)) == ("arxiv-atom", 86)


def test_a_utf16_feed_cut_off_mid_character_keeps_its_whole_entries(shared: Path) -> None:
    text = text_of(shared, "feeds/arxiv_atom_cs.AI_2025-08-20.xml")
    parsed = parse_document(ENCODERS["utf-16-le"](text)[:-1], today=TODAY)
    assert parsed.entries == parse_document(text.encode(), today=TODAY).entries
    assert "entry 87: cut off by the end of the document, skipped" in parsed.warnings


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (codecs.BOM_UTF16_LE, "empty document"),
        (ENCODERS["utf-16-be"](" \n\t "), "empty document"),
        (ENCODERS["utf-16-le"]("\x00\x01\x02" * 100), "binary data"),
    ],
    ids=["mark-only", "blank", "binary"],
)
def test_an_empty_or_binary_document_behind_a_utf16_mark_is_refused(
    data: bytes, message: str
) -> None:
    with pytest.raises(SourceError, match=message):
        detect_kind(data)


def test_8bit_documents_are_told_by_their_bytes_as_before() -> None:
    assert detect_kind(b"\xef\xbb\xbf  <rss/>") == "feed"
    assert detect_kind(b"\n[{}]") == "hf-api"
    assert detect_kind("Caf\u00e9 Models\nWe study caf\u00e9s.".encode("cp1252")) == "dump"
    # A no-break space (0xA0 in cp1252) is text, not whitespace before markup.
    assert detect_kind(b"\xa0<b>Alpha</b>") == "dump"
    with pytest.raises(SourceError, match="binary data"):
        detect_kind(b"PK\x03\x04\x00\x00")
