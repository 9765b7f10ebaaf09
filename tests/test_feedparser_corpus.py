"""parse_feed over feedparser's own test corpus: it degrades, it never crashes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import feedparser  # only as the oracle for how many entries a document has
import pytest

from digest.collect.feed import parse_feed
from digest.errors import SourceError
from digest.text import clean_text

CORPUS = Path(__file__).parent / "data" / "feedparser_corpus"
FILES = sorted(CORPUS.rglob("*.xml"))
_CUT_OFF = re.compile(r"entry (\d+): cut off by the end of the document, skipped")
_SCRIPT = re.compile(r"<script\b.*?</script\s*>", re.IGNORECASE | re.DOTALL)


def test_the_corpus_is_there() -> None:
    assert len(FILES) > 1000
    assert (CORPUS / "LICENSE").is_file()
    assert len(list((CORPUS / "illformed").rglob("*.xml"))) == 19


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.relative_to(CORPUS).as_posix())
def test_parse_feed_degrades_without_crashing(path: Path) -> None:
    data = path.read_bytes()
    try:
        parsed = parse_feed(data)
    except SourceError as error:
        assert str(error)
        assert "\n" not in str(error)
        return
    assert parsed.kind == "feed"
    positions = [entry.position for entry in parsed.entries]
    assert positions == sorted(set(positions))
    for entry in parsed.entries:
        paper = entry.paper
        assert paper.title
        assert paper.title == " ".join(paper.title.split())
        assert "<script" not in (paper.title + paper.abstract).lower()
        assert paper.published is None or paper.published.tzinfo is not None
    for warning in parsed.warnings:
        assert warning
        assert "\n" not in warning

    oracle = feedparser.parse(io.BytesIO(data), resolve_relative_uris=False)
    titled = {
        position
        for position, raw in enumerate(oracle.entries, start=1)
        if clean_text(_SCRIPT.sub(" ", raw.get("title") or ""))
    }
    cut_off = {int(found) for warning in parsed.warnings for found in _CUT_OFF.findall(warning)}
    assert set(positions) <= titled
    assert titled - set(positions) <= cut_off, "an entry with a title was lost"
