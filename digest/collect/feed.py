"""The feed reader: RSS and Atom documents (arXiv's feeds and API, paper RSS) into entries.

The only module that imports feedparser. It is always given bytes in a stream, so
it never fetches a URL or opens a file, whatever the bytes say.
"""

from __future__ import annotations

import io
import re
import xml.sax
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import feedparser

from digest.errors import SourceError
from digest.identity import arxiv_id_from_page_url, normalize_doi, parse_arxiv_id
from digest.models import Entry, Paper, Parsed
from digest.text import (
    UTF8_BOM,
    clean_text,
    code_urls,
    describe_error,
    fold_whitespace,
    parse_integer,
)

_ARXIV_NAMESPACES = frozenset({"http://arxiv.org/schemas/atom", "https://arxiv.org/schemas/atom"})
# rss.arxiv.org: "arXiv:2508.13167v1 Announce Type: new Abstract: ..." (after folding).
_ARXIV_PREFIX = re.compile(
    r"arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w-]+)\s+Abstract:\s*", re.IGNORECASE
)
# Real arXiv categories only: API feeds also list MSC/ACM classes ("53D10, 53D15", "I.2.7").
_ARXIV_CATEGORY = re.compile(
    r"(?:cs|math|stat|physics|q-bio|q-fin|econ|eess|astro-ph|cond-mat|nlin)\.[A-Za-z][A-Za-z-]*"
    r"|astro-ph|cond-mat|gr-qc|hep-(?:ex|lat|ph|th)|math-ph|nucl-(?:ex|th)|quant-ph"
)
_AUTHOR_SEPARATOR = re.compile(r"\s*[,;]\s*(?:and\s+)?|\s+and\s+")
# python-feedgen Hugging Face feeds: "Authors: ... Upvotes: 3 Summary: ..." in the description.
_LABEL_START = ("Authors:", "Upvotes:", "Summary:")
# The last entry-or-root tag of a document tells whether it ends inside an entry.
_ENTRY_OR_ROOT_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(entry|item|feed|rss|RDF|channel)\b")
_HTML_PAGE = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_NOT_WELL_FORMED = re.compile(r"not well-formed \((.*)\)")
_WEEKEND_NOTE = " (arXiv announces nothing on weekends and holidays)"
# The id of the entry the arXiv API answers an error with.
_API_ERROR = re.compile(r"^https?://(?:export\.)?arxiv\.org/api/errors", re.IGNORECASE)
# "&#xD800;", "&#1114112;": feedparser's fallback parser crashes on a character reference to
# no character (half a surrogate pair, or past U+10FFFF), losing the whole document.
_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_LAST_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


class _Flavor(NamedTuple):
    """What kind of feed a document is, and the keys feedparser gave arXiv's elements."""

    name: str
    arxiv_prefixes: tuple[str, ...]

    @property
    def is_arxiv(self) -> bool:
        return self.name.startswith("arxiv-")

    def arxiv_value(self, entry: Mapping[str, Any], element: str) -> Any:
        """An arXiv-namespace element of an entry, whatever prefix the document gave it."""
        for prefix in self.arxiv_prefixes:
            value = entry.get(f"{prefix}_{element}" if prefix else element)
            if value:
                return value
        return None


def parse_feed(data: bytes) -> Parsed:
    """Read an RSS or Atom document. Raises SourceError when nothing in it is usable."""
    readable = _without_references_to_no_character(data)
    try:
        result = feedparser.parse(io.BytesIO(readable), resolve_relative_uris=False)
    except Exception as error:  # feedparser promises not to raise; a bug must not escape
        raise SourceError(f"feed parser failed: {describe_error(error, 200)}") from error
    raw_entries: list[Mapping[str, Any]] = result.get("entries") or []
    _raise_if_api_error(raw_entries)
    feed: Mapping[str, Any] = result.get("feed") or {}
    version: str = result.get("version") or ""
    problem = _problem(result)
    if not raw_entries:
        _raise_if_unusable(data, version, problem)
    flavor = _flavor(version, feed, result.get("namespaces") or {})
    cut_off = bool(problem and problem[0] and raw_entries and _ends_inside_entry(data))
    listed_on = _feed_date(feed)
    entries: list[Entry] = []
    skipped: list[str] = []
    for position, raw in enumerate(raw_entries, start=1):
        if cut_off and position == len(raw_entries):
            skipped.append(f"entry {position}: cut off by the end of the document, skipped")
            continue
        entry = _entry(raw, position, flavor, listed_on)
        if isinstance(entry, Entry):
            entries.append(entry)
        else:
            skipped.append(f"entry {position}: {entry}, skipped")
    warnings = _document_warnings(problem, len(entries), len(raw_entries), flavor) + skipped
    if len(readable) != len(data):
        warnings.insert(0, "removed character references to no character (like &#xD800;)")
    return Parsed(kind="feed", format=flavor.name, entries=tuple(entries), warnings=tuple(warnings))


def _raise_if_api_error(raw_entries: list[Mapping[str, Any]]) -> None:
    """The arXiv API answers a bad query with HTTP 200 and an Atom entry titled "Error"
    whose id is under arxiv.org/api/errors: a failed source, not a paper called Error."""
    for raw in raw_entries:
        if _API_ERROR.match(str(raw.get("id") or "")):
            cause = fold_whitespace(str(raw.get("summary") or raw.get("title") or "an error"))
            raise SourceError(f"the arXiv API answered an error: {cause[:200]}")


def _without_references_to_no_character(data: bytes) -> bytes:
    if b"&#" not in data:
        return data
    return _CHARACTER_REFERENCE.sub(_reference_if_character, data)


def _reference_if_character(reference: re.Match[bytes]) -> bytes:
    hexadecimal, decimal = reference.groups()
    digits = (hexadecimal or decimal).lstrip(b"0")
    if len(digits) > 7:  # past U+10FFFF in either base, and too long for int() to be cheap
        return b""
    code_point = int(digits or b"0", 16 if hexadecimal else 10)
    if code_point > _LAST_CODE_POINT or code_point in _SURROGATES:
        return b""
    return reference.group(0)


def _problem(result: Mapping[str, Any]) -> tuple[bool, str] | None:
    """(is the XML broken, one-line cause) when feedparser flagged the document, else None."""
    if not result.get("bozo"):
        return None
    error = result.get("bozo_exception")
    if isinstance(error, feedparser.ThingsNobodyCaresAboutButMe):
        return False, describe_error(error, 200)
    if isinstance(error, xml.sax.SAXParseException):
        message = fold_whitespace(error.getMessage())
        return True, _NOT_WELL_FORMED.sub(r"\1", message)[:200]
    return True, describe_error(error, 200) if error else "unknown cause"


def _raise_if_unusable(data: bytes, version: str, problem: tuple[bool, str] | None) -> None:
    """Tell why a document without entries is not a feed at all; a valid empty feed passes."""
    head = data[:2048].removeprefix(UTF8_BOM).lstrip(b" \t\r\n")
    if not head:
        raise SourceError("empty document")
    if not version and _HTML_PAGE.search(head):
        raise SourceError("an HTML page, not a feed")
    if head[:1] in (b"{", b"["):
        raise SourceError("a JSON document, not a feed")
    if not version:
        cause = problem[1] if problem else "no RSS, RDF or Atom root element"
        raise SourceError(f"not a feed: {cause}")
    if problem and problem[0]:
        raise SourceError(f"feed is not well-formed ({problem[1]}) and has no entries")


def _ends_inside_entry(data: bytes) -> bool:
    """Whether the document stops inside an entry: truncated, so that entry is incomplete."""
    tags = _ENTRY_OR_ROOT_TAG.findall(data)
    return bool(tags) and tags[-1][0] == b"" and tags[-1][1] in (b"entry", b"item")


def _document_warnings(
    problem: tuple[bool, str] | None, kept: int, total: int, flavor: _Flavor
) -> list[str]:
    warnings = []
    if problem and problem[0]:
        entries = "entry" if kept == 1 else "entries"
        warnings.append(f"feed is not well-formed ({problem[1]}); kept {kept} {entries}")
    elif problem:
        warnings.append(f"feed has a minor problem: {problem[1]}")
    if not total:
        note = _WEEKEND_NOTE if flavor.name in ("arxiv-rss", "arxiv-atom") else ""
        warnings.append(f"feed has no entries{note}")
    return warnings


def _flavor(version: str, feed: Mapping[str, Any], namespaces: Mapping[str, str]) -> _Flavor:
    """The format: "arxiv-api", "arxiv-rss", "arxiv-atom", "rss", "atom", "cdf" or "unknown"."""
    family = "atom" if version.startswith("atom") else "rss" if version.startswith("rss") else ""
    family = family or ("cdf" if version == "cdf" else "unknown")
    declared = [
        prefix for prefix, uri in namespaces.items() if uri.rstrip("/") in _ARXIV_NAMESPACES
    ]
    prefixes = tuple(dict.fromkeys([*declared, "arxiv"]))
    where = " ".join(str(feed.get(key) or "") for key in ("id", "link")).lower()
    if "arxiv.org/api" in where:
        return _Flavor("arxiv-api", prefixes)
    if "arxiv.org" in where or declared:
        return _Flavor(f"arxiv-{family}", prefixes)
    return _Flavor(family, prefixes)


def _feed_date(feed: Mapping[str, Any]) -> date | None:
    """The day the feed says it is for: channel pubDate, else its last update."""
    moment = _utc(feed.get("published_parsed")) or _utc(feed.get("updated_parsed"))
    return moment.date() if moment else None


def _utc(parsed: Any) -> datetime | None:
    """A timezone-aware datetime from one of feedparser's *_parsed (UTC) time tuples."""
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = parsed[:6]
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _entry(
    entry: Mapping[str, Any], position: int, flavor: _Flavor, listed_on: date | None
) -> Entry | str:
    """One entry, or why it was skipped."""
    # A plain dict: FeedParserDict's key aliasing makes every lookup several times slower.
    raw = dict(entry)
    title = clean_text(raw.get("title") or "")
    if not title:
        return "no title"
    summary = _summary(raw)
    abstract = clean_text(summary)
    announced = _ARXIV_PREFIX.match(abstract)
    if announced:
        abstract = abstract[announced.end() :]
    authors = _authors(raw.get("authors") or ())
    upvotes = None
    if abstract.startswith(_LABEL_START):
        abstract, labelled_authors, upvotes = _labelled(abstract)
        authors = authors or labelled_authors
    link = _web_url(raw.get("link"))
    arxiv = _arxiv_id(raw, link, announced)
    published = _utc(raw.get("published_parsed")) or _utc(raw.get("updated_parsed"))
    paper = Paper(
        title=title,
        abstract=abstract,
        authors=authors,
        arxiv_id=arxiv[0] if arxiv else None,
        arxiv_version=arxiv[1] if arxiv else None,
        doi=_doi(raw, flavor),
        categories=_categories(raw, flavor),
        published=published,
        url=_url(link, arxiv, flavor),
        pdf_url=_pdf_url(raw.get("links") or ()),
        code_urls=_code_urls(
            summary, flavor.arxiv_value(raw, "comment") if flavor.is_arxiv else None
        ),
    )
    announce_type = _announce_type(raw, flavor, announced)
    day = listed_on or (published.date() if published else None)
    return Entry(paper, position, listed_on=day, upvotes=upvotes, announce_type=announce_type)


def _summary(raw: Mapping[str, Any]) -> str:
    summary = raw.get("summary")
    if summary:
        return str(summary)
    for content in raw.get("content") or ():
        if isinstance(content, Mapping) and content.get("value"):
            return str(content["value"])
    return ""


def _authors(raw_authors: Iterable[Any]) -> tuple[str, ...]:
    """Author names; arXiv's feeds put them all in one string, "A, B and C"."""
    names: list[str] = []
    for author in raw_authors:
        name = author.get("name") if isinstance(author, Mapping) else None
        if isinstance(name, str):
            names.extend(_split_names(clean_text(name)))
    return tuple(names)


def _split_names(text: str) -> list[str]:
    parts = [part for part in _AUTHOR_SEPARATOR.split(text) if part]
    if len(parts) == 2 and " " not in parts[0] and " " not in parts[1] and "," in text:
        return [text]  # "Smith, John" is one person, written last name first
    return parts


def _labelled(text: str) -> tuple[str, tuple[str, ...], int | None]:
    """(summary, authors, upvotes) from an "Authors: ... Upvotes: N Summary: ..." text."""
    head, labelled, summary = text.partition("Summary:")
    if not labelled:
        head, summary = text, ""
    authors, _, upvotes = head.partition("Upvotes:")
    upvotes = upvotes.strip()
    return (
        summary.strip(),
        tuple(_split_names(authors.removeprefix("Authors:").strip())),
        parse_integer(upvotes) if upvotes.isascii() and upvotes.isdigit() else None,
    )


def _arxiv_id(
    raw: Mapping[str, Any], link: str | None, announced: re.Match[str] | None
) -> tuple[str, int | None] | None:
    """The arXiv id and version from the entry's id, its link or the announcement prefix."""
    found = parse_arxiv_id(str(raw.get("id") or ""))
    if not found and link:
        found = arxiv_id_from_page_url(link)
    if announced:
        from_prefix = parse_arxiv_id(announced.group("id"))
        if from_prefix and (not found or (found[0] == from_prefix[0] and found[1] is None)):
            found = from_prefix
    return found


def _doi(raw: Mapping[str, Any], flavor: _Flavor) -> str | None:
    for value in (flavor.arxiv_value(raw, "doi"), raw.get("prism_doi"), raw.get("dc_identifier")):
        if isinstance(value, str) and "10." in value:
            doi = normalize_doi(value)
            if doi:
                return doi
    return None


def _categories(raw: Mapping[str, Any], flavor: _Flavor) -> tuple[str, ...]:
    """Category terms, the primary one first; arXiv feeds keep only real arXiv categories."""
    terms: list[str] = []
    primary = flavor.arxiv_value(raw, "primary_category")
    if isinstance(primary, Mapping) and isinstance(primary.get("term"), str):
        terms.append(primary["term"])
    terms.extend(
        tag["term"]
        for tag in raw.get("tags") or ()
        if isinstance(tag, Mapping) and isinstance(tag.get("term"), str)
    )
    cleaned = (clean_text(term) for term in terms)
    if flavor.is_arxiv:
        return tuple(dict.fromkeys(term for term in cleaned if _ARXIV_CATEGORY.fullmatch(term)))
    return tuple(dict.fromkeys(term for term in cleaned if term))


def _web_url(value: Any) -> str | None:
    """An http(s) URL, or None: feedparser copies an id ("oai:...", "urn:...") into `link`."""
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        return value.strip()
    return None


def _url(link: str | None, arxiv: tuple[str, int | None] | None, flavor: _Flavor) -> str | None:
    """The entry's page; arXiv's API and arXiv entries without a link get the abs page."""
    if arxiv and (flavor.name == "arxiv-api" or (flavor.is_arxiv and not link)):
        return f"https://arxiv.org/abs/{arxiv[0]}"
    return link


def _pdf_url(links: Sequence[Any]) -> str | None:
    for link in links:
        if not isinstance(link, Mapping) or not link.get("href"):
            continue
        href = _web_url(link["href"])
        if href and (link.get("type") == "application/pdf" or link.get("title") == "pdf"):
            return "https://" + href[7:] if href.startswith("http://arxiv.org/") else href
    return None


def _code_urls(summary: str, comment: Any) -> tuple[str, ...]:
    """GitHub repositories named in the abstract (its links too) or the arXiv comment."""
    return code_urls(f"{summary} {comment}" if isinstance(comment, str) else summary)


def _announce_type(
    raw: Mapping[str, Any], flavor: _Flavor, announced: re.Match[str] | None
) -> str | None:
    value = flavor.arxiv_value(raw, "announce_type")
    if isinstance(value, str) and value.strip():
        return value.strip().lower()
    return announced.group("type").lower() if announced else None
