"""Who may be mailed: unsubscribes and bounces, kept apart from the config.

The config (TOML) says who is subscribed and to what; this store can only stop mail.
An address unsubscribed (one-click, the web page, the command line, a mailto request)
or bounced is suppressed, whatever the config says, until it is resubscribed. Hard
bounces suppress at once; temporary ones count, and suppress at a limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select

from digest.state.db import Database, chunks
from digest.state.schema import audience, timestamp

Status = Literal["subscribed", "unsubscribed", "bounced"]
SUBSCRIBED: Status = "subscribed"
UNSUBSCRIBED: Status = "unsubscribed"
BOUNCED: Status = "bounced"
SUPPRESSED: tuple[Status, ...] = (UNSUBSCRIBED, BOUNCED)


@dataclass(frozen=True, slots=True)
class Standing:
    """What the list knows of one address: its status, since when, and what set it."""

    email: str
    status: Status
    how: str
    changed_at: datetime
    soft_bounces: int = 0
    last_bounce: str | None = None

    @property
    def suppressed(self) -> bool:
        return self.status in SUPPRESSED


def _standing(row: Any) -> Standing:
    return Standing(
        email=row.email,
        status=row.status,
        how=row.how,
        changed_at=datetime.fromisoformat(row.changed_at),
        soft_bounces=row.soft_bounces,
        last_bounce=row.last_bounce,
    )


def _row(standing: Standing) -> dict[str, Any]:
    return {
        "email": standing.email,
        "status": standing.status,
        "how": standing.how,
        "changed_at": timestamp(standing.changed_at),
        "soft_bounces": standing.soft_bounces,
        "last_bounce": standing.last_bounce,
    }


class Audience:
    """The standing of every address the list has heard from."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def standing(self, email: str) -> Standing | None:
        with self._db.reading("read a subscriber's standing") as conn:
            row = conn.execute(select(audience).where(audience.c.email == email.lower())).first()
        return None if row is None else _standing(row)

    def standings(self) -> list[Standing]:
        """Every address with a standing, by address."""
        with self._db.reading("read the subscribers' standing") as conn:
            rows = conn.execute(select(audience).order_by(audience.c.email)).all()
        return [_standing(row) for row in rows]

    def suppressed(self) -> frozenset[str]:
        """The addresses that must not be mailed (lower case)."""
        with self._db.reading("read the suppressed addresses") as conn:
            found = conn.scalars(select(audience.c.email).where(audience.c.status.in_(SUPPRESSED)))
            return frozenset(found)

    def suppressed_among(self, emails: Sequence[str]) -> frozenset[str]:
        """Which of `emails` must not be mailed (lower case), looked up by name."""
        wanted = sorted({email.lower() for email in emails})
        found: set[str] = set()
        with self._db.reading("read the suppressed addresses") as conn:
            for chunk in chunks(wanted):
                query = select(audience.c.email).where(
                    audience.c.status.in_(SUPPRESSED), audience.c.email.in_(chunk)
                )
                found.update(conn.scalars(query))
        return frozenset(found)

    def unsubscribe(self, email: str, *, how: str, now: datetime) -> bool:
        """Stop mailing `email`. True if it was mailed until now (False: already not)."""
        return self._set(email, UNSUBSCRIBED, how=how, now=now)

    def resubscribe(self, email: str, *, how: str, now: datetime) -> bool:
        """Mail `email` again (if the config lists it), bounces forgotten. True if it was
        suppressed until now."""
        return self._set(email, SUBSCRIBED, how=how, now=now)

    def bounce(self, email: str, *, hard: bool, detail: str, limit: int, now: datetime) -> Standing:
        """Record a bounce: a hard one suppresses at once, the `limit`-th soft one too."""
        with self._db.transaction("record a bounce") as conn:
            found = conn.execute(select(audience).where(audience.c.email == email.lower())).first()
            before = None if found is None else _standing(found)
            soft = (before.soft_bounces if before else 0) + (0 if hard else 1)
            if before is not None and before.status == UNSUBSCRIBED:
                status, how = before.status, before.how  # leaving beats bouncing
            elif before is not None and before.status == BOUNCED and not hard:
                # A late delay warning or temporary failure never lifts a bounce: only a
                # resubscription does.
                status, how = BOUNCED, before.how
            elif hard or soft >= limit:
                status = BOUNCED
                how = f"bounce: {detail}" if hard else f"{soft} temporary bounces, last: {detail}"
            else:
                status, how = SUBSCRIBED, before.how if before else "bounce counted"
            changed = before.changed_at if before and before.status == status else now
            after = Standing(email.lower(), status, how, changed, soft, detail)
            conn.execute(self._upsert(), _row(after))
        return after

    def _set(self, email: str, status: Status, *, how: str, now: datetime) -> bool:
        with self._db.transaction(f"mark {email} {status}") as conn:
            before = conn.scalar(select(audience.c.status).where(audience.c.email == email.lower()))
            was = before or SUBSCRIBED
            if was == status:
                return False
            conn.execute(self._upsert(), _row(Standing(email.lower(), status, how, now)))
        return True

    def _upsert(self) -> Any:
        statement = self._db.insert(audience)
        return statement.on_conflict_do_update(
            index_elements=[audience.c.email],
            set_={c.name: statement.excluded[c.name] for c in audience.c if c.name != "email"},
        )
