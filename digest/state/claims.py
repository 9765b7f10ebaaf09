"""Claims in batches: which worker sends which subscribers of an edition, and until when.

A worker claims a batch of an edition's ledger rows at a time, walking the edition in
subscriber order from a cursor. On PostgreSQL the rows are read with `SELECT ... FOR
UPDATE SKIP LOCKED`, so workers claiming at the same moment get different rows without
waiting on each other; on SQLite the transaction's write lock (BEGIN IMMEDIATE) lets one
claim at a time, which is all a file on one machine needs.

A claim is a lease. Its worker renews every claim it holds (`renew`, from a `Heartbeat`
thread) while it runs; a claim not renewed within the lease is taken over by any worker
on any host, and one whose process is known dead (on this host) at once. Before each
message goes out its worker confirms the row is still its own (`confirm`), so a worker
that slept past its lease (a paused VM) sends nothing another worker took over: only the
message in flight when a worker died or stalled can go out twice, with the same
Message-ID.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, bindparam, func, or_, select, update

from digest.errors import StoreError
from digest.state.db import Database, chunks
from digest.state.ledger import EMPTY, FAILED, OPEN, PENDING, SENDING
from digest.state.schema import deliveries, timestamp
from digest.state.workers import is_dead, this_host

log = logging.getLogger(__name__)

# The rows of an edition not sent yet, nor found empty: what a sender waits for.
_UNSENT = (PENDING, FAILED, SENDING)


# The rows a batch may take, in subscriber order after the cursor: free ones, ones whose
# lease lapsed, and ones held on this host, whose process may be known dead (decided row
# by row below). Rows live workers elsewhere hold are neither read nor locked.
_CANDIDATES = (
    select(
        deliveries.c.subscriber,
        deliveries.c.status,
        deliveries.c.worker,
        deliveries.c.claimed_at,
        deliveries.c.updated_at,
    )
    .where(
        deliveries.c.edition == bindparam("edition"),
        deliveries.c.subscriber > bindparam("after"),
        or_(
            deliveries.c.status.in_(OPEN),
            and_(
                deliveries.c.status == SENDING,
                or_(
                    deliveries.c.claimed_at.is_(None),
                    deliveries.c.claimed_at < bindparam("stale"),
                    deliveries.c.worker.like(bindparam("this_host"), escape="\\"),
                ),
            ),
        ),
    )
    .order_by(deliveries.c.subscriber)
    .limit(bindparam("scan"))
    .with_for_update(skip_locked=True)  # SQLite has no row locks: its compiler drops this
)
_TAKE = (
    update(deliveries)
    .where(
        deliveries.c.edition == bindparam("row_edition"),
        deliveries.c.subscriber.in_(bindparam("taken", expanding=True)),
    )
    .values(status=SENDING, worker=bindparam("new_worker"), claimed_at=bindparam("now"))
    .values(updated_at=bindparam("now"))
)
_RENEW = (
    update(deliveries)
    .where(deliveries.c.worker == bindparam("holder"), deliveries.c.status == SENDING)
    .values(claimed_at=bindparam("now"))
)
# One row still this worker's, its lease renewed: checked right before its message goes
# out, so a worker that lost its claims (paused past the lease, taken over) sends nothing.
_CONFIRM = (
    update(deliveries)
    .where(
        deliveries.c.edition == bindparam("row_edition"),
        deliveries.c.subscriber == bindparam("row_subscriber"),
        deliveries.c.worker == bindparam("holder"),
        deliveries.c.status == SENDING,
    )
    .values(claimed_at=bindparam("now"))
)
# Rows of subscribers no longer mailed (unsubscribed, bounced) that a run opened before.
_CLOSE = (
    update(deliveries)
    .where(
        deliveries.c.edition == bindparam("row_edition"),
        deliveries.c.subscriber.in_(bindparam("closed", expanding=True)),
        deliveries.c.status.in_((PENDING, FAILED)),
    )
    .values(status=EMPTY, reply=bindparam("reason"), updated_at=bindparam("now"))
)
_RELEASE = (
    update(deliveries)
    .where(
        deliveries.c.edition == bindparam("row_edition"),
        deliveries.c.subscriber.in_(bindparam("released", expanding=True)),
        deliveries.c.worker == bindparam("holder"),
        deliveries.c.status == SENDING,
    )
    .values(status=PENDING, worker=None, claimed_at=None, updated_at=bindparam("now"))
)


@dataclass(frozen=True, slots=True)
class Batch:
    """What one claim took: `claimed` subscribers, now this worker's to send; `last`, the
    last subscriber it looked at (the next batch starts after it), None at the end of the
    edition."""

    claimed: tuple[str, ...]
    last: str | None


@dataclass(frozen=True, slots=True)
class Holding:
    """The claims one worker holds in an edition; the oldest renewal decides its lease."""

    worker: str
    rows: int
    renewed_at: datetime

    def expires(self, lease: timedelta) -> datetime:
        return self.renewed_at + lease


@dataclass(frozen=True, slots=True)
class Progress:
    """Where an edition stands: rows per status, and who holds the ones being sent."""

    edition: date
    counts: dict[str, int]
    holders: tuple[Holding, ...]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class Claims:
    """Batch claims, their leases, and the progress of editions, over the ledger's rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim_batch(
        self,
        edition: date,
        *,
        worker: str,
        wanted: Collection[str],
        after: str,
        limit: int,
        now: datetime,
        lease: timedelta,
        empty_before: datetime | None = None,
    ) -> Batch:
        """Claim up to `limit` rows of the edition after subscriber `after` ("" for the
        first): pending, failed, or held under a lapsed lease, by a dead process, or by
        this worker itself (a claim an earlier run of a long-lived process, such as the
        schedule, failed to finish: a worker asks for a batch only when it holds none),
        and only of the `wanted` subscribers (lower case). Rows another worker is
        claiming at this moment are skipped, not waited for. Empty rows are taken when
        closed before `empty_before` (the run's start: one another sender of the same run
        found empty is empty for this one too), any with None."""
        stale = timestamp(now - lease)
        closed_before = timestamp(empty_before) if empty_before is not None else None
        query = {
            "edition": edition.isoformat(),
            "after": after,
            "scan": limit,
            "stale": stale,
            "this_host": _like_prefix(f"{this_host()}:"),
        }
        with self._db.transaction("claim a batch of ledger rows") as conn:
            rows = conn.execute(_CANDIDATES, query).all()
            taken = [
                row.subscriber
                for row in rows
                if row.subscriber in wanted
                and not (
                    row.status == EMPTY
                    and closed_before is not None
                    and row.updated_at is not None
                    and row.updated_at >= closed_before
                )
                and (
                    row.status != SENDING
                    or row.claimed_at is None
                    or row.claimed_at < stale
                    or row.worker == worker  # left by an earlier run in this process
                    or is_dead(row.worker or "")
                )
            ]
            if taken:
                claim = {"row_edition": edition.isoformat(), "taken": taken}
                conn.execute(_TAKE, claim | {"new_worker": worker, "now": timestamp(now)})
        last = rows[-1].subscriber if len(rows) == limit else None
        return Batch(claimed=tuple(taken), last=last)

    def release(
        self, edition: date, subscribers: Collection[str], *, worker: str, now: datetime
    ) -> None:
        """Give back claims this worker will not send (it was asked to stop): pending again,
        for any worker to take at once."""
        if not subscribers:
            return
        values = {"row_edition": edition.isoformat(), "released": list(subscribers)}
        with self._db.transaction("release ledger claims") as conn:
            conn.execute(_RELEASE, values | {"holder": worker, "now": timestamp(now)})

    def confirm(self, edition: date, subscriber: str, *, worker: str, now: datetime) -> bool:
        """Whether `worker` still holds this row (renewing its lease): asked right before
        the message goes out. False when another worker took it over meanwhile."""
        row = {"row_edition": edition.isoformat(), "row_subscriber": subscriber.lower()}
        with self._db.transaction("confirm a ledger claim") as conn:
            updated = conn.execute(_CONFIRM, row | {"holder": worker, "now": timestamp(now)})
            return bool(updated.rowcount)

    def close(
        self, edition: date, subscribers: Collection[str], *, reason: str, now: datetime
    ) -> None:
        """Close the unfinished rows of subscribers who will not be mailed (empty, with
        the reason), so that no sender waits for them and `digest status` is true."""
        emails = sorted({subscriber.lower() for subscriber in subscribers})
        with self._db.transaction("close ledger rows") as conn:
            for chunk in chunks(emails):
                values = {
                    "row_edition": edition.isoformat(),
                    "closed": list(chunk),
                }
                conn.execute(_CLOSE, values | {"reason": reason, "now": timestamp(now)})

    def renew(self, worker: str, *, now: datetime) -> int:
        """Renew the lease of every claim `worker` holds; how many it holds."""
        with self._db.transaction("renew the lease of ledger claims") as conn:
            return int(conn.execute(_RENEW, {"holder": worker, "now": timestamp(now)}).rowcount)

    def unfinished(self, edition: date) -> frozenset[str]:
        """The subscribers of the edition not yet sent, or found to have nothing to send
        (a sender waits for these; an empty one it takes again, but never waits for)."""
        query = select(deliveries.c.subscriber).where(
            deliveries.c.edition == edition.isoformat(),
            deliveries.c.status.in_(_UNSENT),
        )
        with self._db.reading("read the unfinished ledger rows") as conn:
            return frozenset(conn.scalars(query))

    def latest_edition(self) -> date | None:
        """The newest edition in the ledger."""
        with self._db.reading("read the ledger") as conn:
            found = conn.scalar(select(func.max(deliveries.c.edition)))
        return None if found is None else date.fromisoformat(found)

    def unfinished_before(self, edition: date, *, days: int) -> list[date]:
        """The editions of the `days` before `edition` with rows not sent yet, newest
        first: readers in time zones a day apart have two editions going at once."""
        query = (
            select(deliveries.c.edition)
            .where(
                deliveries.c.edition < edition.isoformat(),
                deliveries.c.edition >= (edition - timedelta(days=days)).isoformat(),
                deliveries.c.status.in_(_UNSENT),
            )
            .distinct()
        )
        with self._db.reading("read the unfinished editions") as conn:
            found = conn.scalars(query)
            return sorted((date.fromisoformat(day) for day in found), reverse=True)

    def progress_of(self, edition: date | None) -> Progress | None:
        """The progress of `edition`, or of the newest one; None when the ledger is empty."""
        day = edition or self.latest_edition()
        return None if day is None else self.progress(day)

    def progress(self, edition: date) -> Progress:
        """Rows per status and the workers holding claims, for one edition."""
        of_edition = deliveries.c.edition == edition.isoformat()
        counting = select(deliveries.c.status, func.count()).where(of_edition)
        holding = (
            select(deliveries.c.worker, func.count(), func.min(deliveries.c.claimed_at))
            .where(of_edition, deliveries.c.status == SENDING)
            .group_by(deliveries.c.worker)
            .order_by(deliveries.c.worker)
        )
        with self._db.reading("read the progress of the edition") as conn:
            grouped = conn.execute(counting.group_by(deliveries.c.status))
            counts = {status: int(rows) for status, rows in grouped}
            holders = tuple(
                Holding(worker or "?", int(rows), datetime.fromisoformat(oldest))
                for worker, rows, oldest in conn.execute(holding)
                if oldest is not None
            )
        return Progress(edition=edition, counts=counts, holders=holders)


def claimed_batches(
    claims: Claims,
    edition: date,
    *,
    worker: str,
    wanted: Collection[str],
    size: int,
    lease: timedelta,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
    should_stop: Callable[[], bool],
) -> Iterator[tuple[str, ...]]:
    """The `wanted` subscribers of an edition that this worker claimed, a batch at a time,
    until none is left unfinished: each one is yielded once, and the caller sends (or
    releases) a batch before asking for the next.

    A pass walks the edition once; rows another worker holds are looked at again in the
    next pass, after a pause when the last pass took nothing, until that worker finishes
    them or its lease lapses. Stops early when `should_stop()`.
    """
    left, after, took = set(wanted), "", False
    pause = min(max(lease.total_seconds() / 10, 0.05), 2.0)
    started = now()
    while left and not should_stop():
        batch = claims.claim_batch(
            edition,
            worker=worker,
            wanted=left,
            after=after,
            limit=size,
            now=now(),
            lease=lease,
            empty_before=started,
        )
        if batch.claimed:
            left.difference_update(batch.claimed)
            took = True
            yield batch.claimed
        if batch.last is not None:
            after = batch.last
            continue
        after = ""
        if not took:
            left.intersection_update(claims.unfinished(edition))
            if left:
                sleep(pause)
        took = False


class Heartbeat:
    """Renews a worker's leases every `every` seconds on a thread of its own while the
    worker runs, so that a long send keeps its claims and a dead worker's lapse."""

    def __init__(
        self, claims: Claims, worker: str, *, every: float, now: Callable[[], datetime]
    ) -> None:
        self._claims, self._worker, self._every, self._now = claims, worker, every, now
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            try:
                self._claims.renew(self._worker, now=self._now())
            except StoreError as error:  # the next beat may get through; the lease is long
                log.warning("cannot renew the leases of %s: %s", self._worker, error)

    @contextmanager
    def running(self) -> Iterator[None]:
        self._thread.start()
        try:
            yield
        finally:
            self._stopped.set()
            self._thread.join()
