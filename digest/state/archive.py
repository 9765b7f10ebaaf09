"""Each sent edition's HTML, kept for "view in browser" for a number of days."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select

from digest.state.db import Database
from digest.state.schema import archive, timestamp


@dataclass(frozen=True, slots=True)
class ArchivedEdition:
    """One subscriber's copy of an edition, as it was sent."""

    subscriber: str
    edition: date
    subject: str
    html: str
    archived_at: datetime


class Archive:
    """The online copies of sent editions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def keep(self, email: str, edition: date, *, subject: str, html: str, now: datetime) -> None:
        """Keep `email`'s copy of `edition` (old copies are forgotten by `forget_before`)."""
        statement = self._db.insert(archive)
        statement = statement.on_conflict_do_update(
            index_elements=[archive.c.subscriber, archive.c.edition],
            set_={
                "subject": statement.excluded.subject,
                "html": statement.excluded.html,
                "archived_at": statement.excluded.archived_at,
            },
        )
        row = {
            "subscriber": email.lower(),
            "edition": edition.isoformat(),
            "subject": subject,
            "html": zlib.compress(html.encode(), 6),
            "archived_at": timestamp(now),
        }
        with self._db.transaction("archive an edition") as conn:
            conn.execute(statement, row)

    def forget_before(self, oldest: date) -> int:
        """Forget every reader's copies of editions before `oldest`; how many. Every
        reader's at once, in one place: a reader who is no longer mailed (unsubscribed,
        bounced, dropped from the config) has no newer copy whose keeping could forget
        theirs, and senders that both kept and forgot would lock the same old rows in
        opposite orders."""
        statement = delete(archive).where(archive.c.edition < oldest.isoformat())
        with self._db.transaction("forget old online copies") as conn:
            return conn.execute(statement).rowcount

    def find(self, email: str, edition: date) -> ArchivedEdition | None:
        """`email`'s copy of `edition`, if it was sent and is still kept."""
        query = select(archive.c.subject, archive.c.html, archive.c.archived_at).where(
            archive.c.subscriber == email.lower(), archive.c.edition == edition.isoformat()
        )
        with self._db.reading("read an archived edition") as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        html = zlib.decompress(row.html).decode()
        archived_at = datetime.fromisoformat(row.archived_at)
        return ArchivedEdition(email.lower(), edition, row.subject, html, archived_at)
