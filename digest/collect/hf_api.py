"""The Hugging Face daily papers API reader (huggingface.co/api/daily_papers) into entries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from digest.collect.storable import in_utc
from digest.errors import SourceError
from digest.identity import parse_arxiv_id
from digest.models import Entry, Paper, Parsed
from digest.text import clean_text, code_urls, describe_error, parse_integer


class _Skip(Exception):
    """An item that cannot become a paper; the message says why."""


def parse_hf_api(data: bytes) -> Parsed:
    """Read a daily papers JSON list. Raises SourceError when it is not one."""
    try:
        # One absurdly long number (int() refuses past 4,300 digits) must not lose the list.
        document = json.loads(data, parse_int=parse_integer)
    except (ValueError, UnicodeDecodeError) as error:
        raise SourceError(f"not valid JSON: {describe_error(error, 200)}") from error
    except RecursionError as error:
        raise SourceError("not valid JSON: nested too deeply") from error
    if not isinstance(document, list):
        raise SourceError("JSON is not a daily papers list")
    if document and not any(_paper_of(item) is not None for item in document):
        raise SourceError("JSON is not a daily papers list: no item has a paper")
    entries: list[Entry] = []
    warnings: list[str] = []
    for position, item in enumerate(document, start=1):
        try:
            entries.append(_entry(item, position, warnings))
        except _Skip as skip:
            warnings.append(f"item {position}: {skip}, skipped")
    if not document:
        warnings.append("the list has no papers")
    return Parsed(
        kind="hf-api", format="hf-daily-papers", entries=tuple(entries), warnings=tuple(warnings)
    )


def _paper_of(item: Any) -> Mapping[str, Any] | None:
    """The paper object of an item: {"paper": {...}, ...}, or a bare paper object."""
    if not isinstance(item, Mapping):
        return None
    paper = item.get("paper")
    if isinstance(paper, Mapping):
        return paper
    return item if "id" in item and "title" in item else None


def _entry(item: Any, position: int, warnings: list[str]) -> Entry:
    paper = _paper_of(item)
    if paper is None:
        raise _Skip("not a paper object")
    title = clean_text(_text(paper, "title") or _text(item, "title"))
    if not title:
        raise _Skip("no title")
    abstract = clean_text(_text(paper, "summary") or _text(item, "summary"))
    page_id = _text(paper, "id").strip()
    arxiv = parse_arxiv_id(page_id) if page_id else None
    if page_id and not arxiv:
        warnings.append(f"item {position}: id {page_id[:40]!r} is not an arXiv id")
    upvotes = paper.get("upvotes")
    return Entry(
        Paper(
            title=title,
            abstract=abstract,
            authors=_authors(paper.get("authors")),
            arxiv_id=arxiv[0] if arxiv else None,
            arxiv_version=arxiv[1] if arxiv else None,
            published=_moment(paper, "publishedAt", position, warnings),
            url=f"https://huggingface.co/papers/{arxiv[0]}" if arxiv else None,
            pdf_url=f"https://arxiv.org/pdf/{arxiv[0]}" if arxiv else None,
            code_urls=_code_urls(_text(paper, "githubRepo"), abstract),
        ),
        position,
        listed_on=_day(_moment(paper, "submittedOnDailyAt", position, warnings)),
        upvotes=upvotes if isinstance(upvotes, int) and not isinstance(upvotes, bool) else None,
    )


def _code_urls(repository: str, abstract: str) -> tuple[str, ...]:
    """The paper's GitHub repository, then those its abstract names."""
    return code_urls(f"{repository} {abstract}")


def _text(mapping: Any, key: str) -> str:
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return value if isinstance(value, str) else ""


def _authors(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names = (clean_text(_text(author, "name")) for author in value)
    return tuple(name for name in names if name)


def _moment(
    paper: Mapping[str, Any], key: str, position: int, warnings: list[str]
) -> datetime | None:
    """An ISO 8601 timestamp ("2026-06-12T00:00:00.000Z") in UTC, taken as UTC if unzoned."""
    value = paper.get(key)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        warnings.append(f"item {position}: {key} {str(value)[:40]!r} is not a timestamp")
        return None
    utc = in_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    if utc is None:
        warnings.append(
            f"item {position}: {key} {value[:40]!r} cannot be converted to UTC, dropped"
        )
    return utc


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment else None
