"""The delivery ledger: every subscriber gets each edition exactly once.

One row per (subscriber, edition). A sender claims rows atomically before it sends
(pending, failed or abandoned rows only; in batches, see `claims`), and marks each sent
in its own committed transaction as soon as the server accepts the message, recording
the papers it carried so that ranking never picks them for that subscriber again. A claim left by a
process that died (a SIGKILL mid-send) is taken over by the next run: at most that one
message in flight may arrive twice, with the same Message-ID.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import String, and_, bindparam, select, update
from sqlalchemy.engine import Connection

from digest.state.db import Database, execute_many
from digest.state.papers import listed_between
from digest.state.schema import delivered_papers, deliveries, paper_keys, papers, timestamp
from digest.state.workers import is_dead

PENDING, SENDING, SENT, FAILED, EMPTY = "pending", "sending", "sent", "failed", "empty"
# The whole message went out and the server never said whether it took it: final, as
# sent, since sending it again may deliver it twice; the report and `status` say so.
UNCONFIRMED = "unconfirmed"
# The rows a sender may take: nothing went out for them. An empty edition is looked at
# again by a later run: papers may have come in since (a late collect), or the reader
# may be subscribed again; nothing was sent, so nothing can go out twice.
OPEN = (PENDING, FAILED, EMPTY)

# What a claim found: the row is this sender's now, already done, or another sender's.
Claim = Literal["claimed", "done", "held"]
CLAIMED: Claim = "claimed"
DONE: Claim = "done"
HELD: Claim = "held"
DEFAULT_LEASE = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """Where one subscriber's edition stands."""

    subscriber: str
    edition: date
    status: str
    attempts: int
    message_id: str | None
    reply: str | None
    papers: tuple[str, ...]


# Built once: SQLAlchemy then reuses their compiled form and cache key on every call,
# which is most of a ledger write's cost at thousands of messages per run.
_ROW = and_(
    deliveries.c.subscriber == bindparam("row_subscriber"),
    deliveries.c.edition == bindparam("row_edition"),
)
_CLAIM = (
    update(deliveries)
    .where(_ROW, deliveries.c.status.in_(OPEN))
    .values(status=SENDING, worker=bindparam("new_worker"), claimed_at=bindparam("now"))
    .values(updated_at=bindparam("now"))
)
# A claim whose process died mid-send, or whose lease ran out: taken over only from that
# very claim (same worker, same time), so that of two senders taking it over one wins.
_TAKE_OVER = (
    update(deliveries)
    .where(
        _ROW,
        deliveries.c.status == SENDING,
        deliveries.c.worker == bindparam("held_by"),
        deliveries.c.claimed_at == bindparam("held_since"),
    )
    .values(status=SENDING, worker=bindparam("new_worker"), claimed_at=bindparam("now"))
    .values(updated_at=bindparam("now"))
)
_HOLDER = select(deliveries.c.status, deliveries.c.worker, deliveries.c.claimed_at).where(_ROW)
_DELIVERED = (
    update(deliveries)
    .where(_ROW)
    .values(
        status=bindparam("new_status"),
        message_id=bindparam("new_message_id"),
        reply=bindparam("new_reply"),
        attempts=deliveries.c.attempts + bindparam("new_attempts"),
        papers=bindparam("new_papers"),
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
        worker=None,
    )
)
# Failed or empty never overwrites sent: a sender whose claim was taken over while its
# retries ran (paused past its lease) must not undo the other's delivery, which a later
# run would then send again.
_FINISHED = (
    update(deliveries)
    .where(_ROW, deliveries.c.status.not_in((SENT, UNCONFIRMED)))
    .values(
        status=bindparam("new_status"),
        reply=bindparam("new_reply"),
        attempts=deliveries.c.attempts + bindparam("new_attempts"),
        updated_at=bindparam("now"),
        worker=None,
    )
)


class Ledger:
    """The ledger rows of a database and the papers each subscriber received; every
    method is one short transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Built once and run through SQLAlchemy's statement cache: once per message sent.
        # One statement, so a message's papers cost the database one round trip.
        self._insert_delivered = (
            db.insert(delivered_papers)
            .from_select(
                ["subscriber", "paper_id", "edition", "delivered_at"],
                select(
                    bindparam("new_subscriber", type_=String),
                    paper_keys.c.paper_id,
                    bindparam("new_edition", type_=String),
                    bindparam("now", type_=String),
                )
                .where(paper_keys.c.key.in_(bindparam("keys", expanding=True)))
                .distinct(),
            )
            .on_conflict_do_nothing()
        )

    def open_edition(self, edition: date, subscribers: Sequence[str], *, now: datetime) -> None:
        """A pending row for each subscriber of the edition who has none yet."""
        rows = [
            {
                "subscriber": subscriber.lower(),
                "edition": edition.isoformat(),
                "status": PENDING,
                "attempts": 0,
                "papers": "[]",
                "updated_at": timestamp(now),
            }
            # In one order on every host: two senders inserting the same new rows in
            # different orders could deadlock on PostgreSQL.
            for subscriber in sorted({subscriber.lower() for subscriber in subscribers})
        ]
        with self._db.transaction("open the edition in the ledger") as conn:
            statement = self._db.insert(deliveries).on_conflict_do_nothing()
            execute_many(conn, statement, rows)

    def claim(
        self,
        subscriber: str,
        edition: date,
        *,
        worker: str,
        now: datetime,
        lease: timedelta = DEFAULT_LEASE,
    ) -> Claim:
        """Take the row for sending: CLAIMED, or DONE when it is sent, or HELD when
        another sender holds it. A claim is taken over when its process is known dead (on
        this host) or its `lease` ran out (any host). Atomic: of two senders claiming at
        once, exactly one wins."""
        row = _row(subscriber, edition)
        claim = row | {"new_worker": worker, "now": timestamp(now)}
        with self._db.transaction("claim a ledger row") as conn:
            if conn.execute(_CLAIM, claim).rowcount == 1:
                return CLAIMED
            holder = conn.execute(_HOLDER, row).first()
            if holder is None or holder.status in (SENT, UNCONFIRMED):
                return DONE
            if holder.status != SENDING:
                return HELD
            expired = holder.claimed_at is None or holder.claimed_at < timestamp(now - lease)
            if not (expired or is_dead(holder.worker or "")):
                return HELD
            held = {"held_by": holder.worker, "held_since": holder.claimed_at}
            taken = conn.execute(_TAKE_OVER, claim | held).rowcount == 1
            return CLAIMED if taken else HELD

    def mark_sent(
        self,
        subscriber: str,
        edition: date,
        *,
        message_id: str,
        reply: str,
        attempts: int,
        papers: Sequence[str],
        now: datetime,
        confirmed: bool = True,
    ) -> None:
        """The server accepted the message: commit it, with the papers it carried. Not
        `confirmed`: the whole message went out and no final reply came, so the reader may
        have it; as final as sent (its papers count as received), since no run may send
        it again."""
        values = {
            "new_status": SENT if confirmed else UNCONFIRMED,
            "new_message_id": message_id,
            "new_reply": reply,
            "new_attempts": attempts,
            "new_papers": json.dumps(list(papers)),
            "now": timestamp(now),
        }
        with self._db.transaction(f"record a message as {values['new_status']}") as conn:
            conn.execute(_DELIVERED, _row(subscriber, edition) | values)
            self._record_delivery(conn, subscriber, edition, papers, now=now)

    def mark_failed(
        self, subscriber: str, edition: date, *, reply: str, attempts: int, now: datetime
    ) -> None:
        """The message could not be delivered: keep the server's reply; a re-run retries."""
        self._finish(subscriber, edition, FAILED, reply=reply, attempts=attempts, now=now)

    def mark_empty(self, subscriber: str, edition: date, *, reason: str, now: datetime) -> None:
        """Nothing to send this edition, and the subscriber asked for no note."""
        self._finish(subscriber, edition, EMPTY, reply=reason, attempts=0, now=now)

    def _finish(
        self,
        subscriber: str,
        edition: date,
        status: str,
        *,
        reply: str,
        attempts: int,
        now: datetime,
    ) -> None:
        values = {
            "new_status": status,
            "new_reply": reply,
            "new_attempts": attempts,
            "now": timestamp(now),
        }
        with self._db.transaction(f"record a message as {status}") as conn:
            conn.execute(_FINISHED, _row(subscriber, edition) | values)

    def rows(self, edition: date) -> list[LedgerRow]:
        """Every row of an edition, by subscriber."""
        query = (
            select(deliveries)
            .where(deliveries.c.edition == edition.isoformat())
            .order_by(deliveries.c.subscriber)
        )
        with self._db.reading("read the ledger") as conn:
            return [
                LedgerRow(
                    subscriber=row.subscriber,
                    edition=date.fromisoformat(row.edition),
                    status=row.status,
                    attempts=row.attempts,
                    message_id=row.message_id,
                    reply=row.reply,
                    papers=tuple(json.loads(row.papers)),
                )
                for row in conn.execute(query)
            ]

    def delivered_ids(self, subscriber: str) -> frozenset[str]:
        """The canonical ids of every paper `subscriber` has received."""
        query = (
            select(papers.c.canonical_id)
            .join(delivered_papers, delivered_papers.c.paper_id == papers.c.id)
            .where(delivered_papers.c.subscriber == subscriber.lower())
        )
        with self._db.reading("read the papers delivered") as conn:
            return frozenset(conn.scalars(query))

    def delivered_ids_of(
        self, subscribers: Sequence[str], *, listed: tuple[date, int | None] | None = None
    ) -> dict[str, frozenset[str]]:
        """`delivered_ids` of several subscribers in one query (a batch being ranked),
        by subscriber as given. With `listed` (an edition's date and candidate days), only
        the papers listed in those days: the only ones ranking can pick, where a year of
        deliveries is thousands of papers per reader."""
        lower = {subscriber: subscriber.lower() for subscriber in subscribers}
        query = (
            select(delivered_papers.c.subscriber, papers.c.canonical_id)
            .join(papers, delivered_papers.c.paper_id == papers.c.id)
            .where(delivered_papers.c.subscriber.in_(bindparam("wanted", expanding=True)))
        )
        if listed is not None and listed[1] is not None:
            window = listed_between(listed[0], listed[1])
            query = query.where(delivered_papers.c.paper_id.in_(window))
        found: dict[str, set[str]] = {address: set() for address in lower.values()}
        with self._db.reading("read the papers delivered") as conn:
            for subscriber, canonical_id in conn.execute(query, {"wanted": list(found)}):
                found[subscriber].add(canonical_id)
        return {given: frozenset(found[address]) for given, address in lower.items()}

    def record_delivery(
        self, subscriber: str, edition: date, canonical_ids: Sequence[str], *, now: datetime
    ) -> None:
        """Remember that `subscriber` received these papers in the edition of `edition`
        (what `mark_sent` does with the papers of a message)."""
        with self._db.transaction("record the papers delivered") as conn:
            self._record_delivery(conn, subscriber, edition, canonical_ids, now=now)

    def _record_delivery(
        self,
        conn: Connection,
        subscriber: str,
        edition: date,
        canonical_ids: Sequence[str],
        *,
        now: datetime,
    ) -> None:
        if not canonical_ids:
            return
        values = {
            "new_subscriber": subscriber.lower(),
            "new_edition": edition.isoformat(),
            "now": timestamp(now),
            "keys": list(canonical_ids),
        }
        conn.execute(self._insert_delivered, values)


def _row(subscriber: str, edition: date) -> dict[str, str]:
    # Not named like the columns: SQLAlchemy keeps those names for the SET clause.
    return {"row_subscriber": subscriber.lower(), "row_edition": edition.isoformat()}
