"""What each server said about a URL last time (ETag, Last-Modified), for conditional GET."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from digest.models import HttpValidators
from digest.state.db import Database
from digest.state.schema import http_cache, timestamp


class HttpCache:
    """The validators of every URL fetched."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def validators(self, url: str) -> HttpValidators:
        with self._db.reading("read the HTTP cache") as conn:
            row = conn.execute(select(http_cache).where(http_cache.c.url == url)).first()
        if row is None:
            return HttpValidators()
        return HttpValidators(etag=row.etag, last_modified=row.last_modified)

    def remember(self, url: str, validators: HttpValidators, *, now: datetime) -> None:
        values = {
            "etag": validators.etag,
            "last_modified": validators.last_modified,
            "checked_at": timestamp(now),
        }
        statement = self._db.insert(http_cache).values(url=url, **values)
        statement = statement.on_conflict_do_update(index_elements=["url"], set_=values)
        with self._db.transaction("remember the HTTP validators") as conn:
            conn.execute(statement)
