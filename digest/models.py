"""The records passed between stages: frozen, typed, free of I/O."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, get_args

# What a source holds: a Hugging Face listing dump, an RSS/Atom feed, or the Hugging Face
# daily papers JSON; "auto" tells it from the content.
SourceKind = Literal["auto", "dump", "feed", "hf-api"]
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)[1:]


@dataclass(frozen=True, slots=True)
class Paper:
    """One research paper, as much as a source tells about it.

    Text fields are clean text: no HTML, entities decoded, whitespace folded.
    `arxiv_id` carries no version ("2508.13167", "math/0502287"); the version
    read alongside it, if any, is in `arxiv_version`.
    """

    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    arxiv_id: str | None = None
    arxiv_version: int | None = None
    doi: str | None = None
    categories: tuple[str, ...] = ()
    published: datetime | None = None
    url: str | None = None
    pdf_url: str | None = None
    code_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """One paper as one listing shows it: where it sits and what signals it carries."""

    paper: Paper
    position: int
    listed_on: date | None = None
    upvotes: int | None = None
    announce_type: str | None = None


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a reader made of one document: its entries and what it had to skip."""

    kind: str
    format: str
    entries: tuple[Entry, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sighting:
    """A paper seen in a listing: the unit of every trending signal."""

    source: str
    location: str
    position: int
    listed_on: date | None
    seen_at: datetime
    upvotes: int | None = None
    announce_type: str | None = None


@dataclass(frozen=True, slots=True)
class HttpValidators:
    """What a server said about a URL last time, to ask "has it changed?" next time."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class SourceReport:
    """The outcome of reading one concrete source (one file or one URL)."""

    source: str
    location: str
    kind: str
    format: str
    papers: int
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    @property
    def label(self) -> str:
        """What a problem line names: the configured source's name with the file or URL
        ("arxiv-cs-lg (https://rss.arxiv.org/rss/cs.LG)"), or the location alone when the
        name is where it came from (a source given on the command line is named by itself)."""
        given = self.source
        if self.location == given or self.location.startswith(given.rstrip("/") + "/"):
            return self.location  # the source itself, or a file of the folder it names
        if fnmatch.fnmatchcase(self.location, given):
            return self.location  # a file of the glob it is
        return f"{given} ({self.location})"


@dataclass(frozen=True, slots=True)
class StoreResult:
    """Which stored papers a save created and which it found already there (row ids)."""

    new: frozenset[int]
    seen_before: frozenset[int]


@dataclass(frozen=True, slots=True)
class CollectReport:
    """The outcome of one `collect` run over many sources."""

    sources: tuple[SourceReport, ...]
    new: int
    seen_before: int

    @property
    def total(self) -> int:
        return self.new + self.seen_before

    @property
    def failed(self) -> bool:
        return any(source.failed for source in self.sources)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored paper up for an edition, with the signals its sightings add up to."""

    id: str
    paper: Paper
    sources: int
    listings: int
    best_position: int | None
    upvotes: int | None
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class Profile:
    """What one subscriber wants, as ranking needs it.

    No interests means "everything trending": rank on trending and freshness alone.
    `delivered` holds the canonical ids this subscriber already received. `likes` and
    `dislikes` name papers the reader voted on, by any id (`digest.rank.votes`).
    """

    name: str
    interests: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    max_papers: int = 10
    min_score: float = 0.0
    delivered: frozenset[str] = frozenset()
    likes: tuple[str, ...] = ()
    dislikes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScoredPaper:
    """One pick for one subscriber: the paper, its score, and why it was picked."""

    candidate: Candidate
    score: float
    reasons: tuple[str, ...]
