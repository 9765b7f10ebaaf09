"""The database schema and how records become rows and back.

Every value is stored as a type each DB-API driver takes as is (text, integers):
lists as JSON text, times as ISO-8601 UTC text (fixed width, so they sort as they
compare). Bulk writes can then hand rows straight to the driver, skipping
SQLAlchemy's per-row type processing, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from digest.models import Paper

# Raised whenever an older program would misread or undo what this one writes: a program
# refuses a database whose version is above its own (`db.Database`), and `migrations`
# brings an older one up. 1: the first. The audience, votes, archive and paper_vectors
# tables were added without raising it, so a program older than them opens a version 1
# database and ignores its unsubscribes. 2: a file listing's sightings are stored under
# its real path.
SCHEMA_VERSION = 2


def timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment} cannot be stored")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _optionaltimestamp(moment: datetime | None) -> str | None:
    return None if moment is None else timestamp(moment)


def json_list(items: tuple[str, ...]) -> str:
    # Dumps carry no authors or categories: skip the encoder for the common empty list.
    return json.dumps(items, ensure_ascii=False) if items else "[]"


def _readtimestamp(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def read_date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

papers = Table(
    "papers",
    metadata,
    Column("id", Integer, primary_key=True),
    # Always one of the paper's identity keys, so paper_keys finds a paper by it: no
    # index here, as one on a random key costs dearly to write at scale.
    Column("canonical_id", String(200), nullable=False),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("authors", Text, nullable=False),
    Column("arxiv_id", String(64)),
    Column("arxiv_version", Integer),
    Column("doi", String(200)),
    Column("categories", Text, nullable=False),
    Column("published", Text),
    Column("url", Text),
    Column("pdf_url", Text),
    Column("code_urls", Text, nullable=False),
    Column("first_seen", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)

# Every identity key (arxiv:..., doi:..., title:...) a paper was ever seen under.
paper_keys = Table(
    "paper_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("paper_id", ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    # Keyed by its primary key alone: one B-tree to write instead of a table and an index.
    sqlite_with_rowid=False,
)

# One row per paper per listing: a listing is one location on one day (its own date if
# it has one), so collecting the same listing again refreshes the row instead of adding one.
sightings = Table(
    "sightings",
    metadata,
    Column("paper_id", ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("location", Text, primary_key=True),
    Column("listing", String(10), primary_key=True),
    Column("source", Text, nullable=False),
    Column("listed_on", String(10)),
    Column("position", Integer, nullable=False),
    Column("upvotes", Integer),
    Column("announce_type", String(32)),
    Column("seen_at", Text, nullable=False),
    # The primary key leads with paper_id: a paper's sightings are together.
    sqlite_with_rowid=False,
)
# The papers listed in a window of days: an edition's candidates (and the papers a
# subscriber received among them) without reading every sighting ever collected.
Index("sightings_by_listing", sightings.c.listing, sightings.c.paper_id)

# The papers each subscriber has received, so that ranking never picks them again.
delivered_papers = Table(
    "delivered_papers",
    metadata,
    Column("subscriber", String(320), primary_key=True),
    Column("paper_id", ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("edition", String(10), nullable=False),
    Column("delivered_at", Text, nullable=False),
    sqlite_with_rowid=False,
)

# The delivery ledger: one row per (subscriber, edition), moving pending -> sending ->
# sent | failed | empty. A row becomes sent in its own transaction as soon as the server
# accepts the message; `worker` names the process holding a "sending" claim.
deliveries = Table(
    "deliveries",
    metadata,
    Column("subscriber", String(320), primary_key=True),
    Column("edition", String(10), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("worker", Text),
    Column("claimed_at", Text),
    Column("attempts", Integer, nullable=False),
    Column("message_id", Text),
    Column("reply", Text),
    Column("papers", Text, nullable=False),
    Column("sent_at", Text),
    Column("updated_at", Text, nullable=False),
    sqlite_with_rowid=False,
)
# An edition's rows by status: what senders poll for while others finish (claims.py), and
# what `digest status` counts, without reading every edition ever sent.
Index("deliveries_by_edition", deliveries.c.edition, deliveries.c.status)
# An edition's rows in subscriber order: a batch claim walks it from its cursor and stops
# after a batch (by the index above, each claim read and sorted the whole edition).
Index("deliveries_in_order", deliveries.c.edition, deliveries.c.subscriber)
# The claims being sent, by worker: what a heartbeat renews, without reading the ledger
# of every edition ever sent (partial: sent rows are most of it).
Index(
    "deliveries_sending",
    deliveries.c.worker,
    sqlite_where=deliveries.c.status == "sending",
    postgresql_where=deliveries.c.status == "sending",
)

# HTTP validators for conditional GET, per URL.
http_cache = Table(
    "http_cache",
    metadata,
    Column("url", Text, primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("checked_at", Text, nullable=False),
)


def paper_row(paper: Paper, canonical: str) -> dict[str, Any]:
    return {
        "canonical_id": canonical,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": json_list(paper.authors),
        "arxiv_id": paper.arxiv_id,
        "arxiv_version": paper.arxiv_version,
        "doi": paper.doi,
        "categories": json_list(paper.categories),
        "published": _optionaltimestamp(paper.published),
        "url": paper.url,
        "pdf_url": paper.pdf_url,
        "code_urls": json_list(paper.code_urls),
    }


def paper_from_row(row: Any) -> Paper:
    return Paper(
        title=row.title,
        abstract=row.abstract,
        authors=tuple(json.loads(row.authors)),
        arxiv_id=row.arxiv_id,
        arxiv_version=row.arxiv_version,
        doi=row.doi,
        categories=tuple(json.loads(row.categories)),
        published=_readtimestamp(row.published),
        url=row.url,
        pdf_url=row.pdf_url,
        code_urls=tuple(json.loads(row.code_urls)),
    )


# What the list knows of each address beyond the config: whether it may be mailed. The
# config says who is subscribed; a row here can only stop mail (unsubscribed, bounced)
# until the address is resubscribed. `how` says what did it ("one-click", "bounce: 5.1.1").
audience = Table(
    "audience",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("how", Text, nullable=False),
    Column("changed_at", Text, nullable=False),
    # Temporary bounces counted since the address was last (re)subscribed; too many suppress.
    Column("soft_bounces", Integer, nullable=False),
    Column("last_bounce", Text),
    sqlite_with_rowid=False,
)

# "More like this" (+1) and "less like this" (-1), one per subscriber and paper: the
# paper's canonical id when the vote was cast (paper_keys keeps every id it ever had).
votes = Table(
    "votes",
    metadata,
    Column("subscriber", String(320), primary_key=True),
    Column("paper", String(200), primary_key=True),
    Column("vote", Integer, nullable=False),
    Column("voted_at", Text, nullable=False),
    sqlite_with_rowid=False,
)

# Each sent edition's HTML for "view in browser", zlib-compressed (about a fifth).
archive = Table(
    "archive",
    metadata,
    Column("subscriber", String(320), primary_key=True),
    Column("edition", String(10), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("html", LargeBinary, nullable=False),
    Column("archived_at", Text, nullable=False),
    sqlite_with_rowid=False,
)
# Every reader's copies older than the days kept, forgotten without reading the HTML.
Index("archive_by_edition", archive.c.edition)

# Each paper's sentence embedding (`digest.rank.semantic`), made once: float32 bytes.
# `model` names the encoder and `text` is a digest of what it read, so that another
# model, or a paper whose title or abstract changed, is encoded again.
paper_vectors = Table(
    "paper_vectors",
    metadata,
    Column("paper", String(200), primary_key=True),
    Column("model", String(64), nullable=False),
    Column("text", String(32), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
