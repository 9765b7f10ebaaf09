"""The send run: every subscriber's edition ranked, rendered, sent and recorded, once.

A batch of subscribers at a time: claim their ledger rows (rows sent, empty, or held by
another live sender are not claimed) and rank the batch; then for each: render, build
the message, send it with retries for temporary failures, and record the outcome in its
own transaction right away. A stop request (SIGTERM, Ctrl-C) is honoured between
messages, never in the middle of one; the claims not yet sent are given back.
With `record=False` (an outbox, a dry run) the ledger is neither read nor written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from digest.config import Settings, SmtpSettings
from digest.errors import StoreError
from digest.mail.compose import compose
from digest.mail.message import WireMessage
from digest.mail.render import RenderedEmail, Renderer
from digest.mail.signing import DkimSigner, signer_for
from digest.mail.transport import (
    Delivered,
    DeliveryFailure,
    OutboxTransport,
    SmtpTransport,
    TemporaryFailure,
    Transport,
)
from digest.models import ScoredPaper
from digest.pipeline.pick import require_papers, voted_papers
from digest.rank.pool import Pool, build_pool
from digest.rank.ranker import rank_many
from digest.state.archive import Archive
from digest.state.claims import Heartbeat, claimed_batches
from digest.state.ledger import DEFAULT_LEASE, Ledger
from digest.state.store import Store
from digest.state.votes import Taste
from digest.state.workers import this_worker
from digest.subscribers import Subscriber
from digest.text import describe_error, plural

log = logging.getLogger(__name__)

# Subscribers in a row whose messages failed temporarily, retries spent, before a run stops.
UNREACHABLE_AFTER = 3


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a temporary failure is retried within one run."""

    attempts: int = 3
    first_delay: float = 2.0
    factor: float = 2.0

    @classmethod
    def from_settings(cls, smtp: SmtpSettings) -> RetryPolicy:
        return cls(attempts=smtp.attempts, first_delay=smtp.retry_delay)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the `attempt`-th failure (1-based)."""
        return self.first_delay * self.factor ** (attempt - 1)


@dataclass(slots=True)
class SendReport:
    """What a send run did, per subscriber."""

    sent: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # to the outbox, not sent
    skipped: list[str] = field(default_factory=list)  # sent (or empty) already
    held: list[str] = field(default_factory=list)  # another sender holds their claim
    failed: list[tuple[str, str]] = field(default_factory=list)
    empty: list[tuple[str, str]] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)  # a dry run's messages, built not sent
    suppressed: list[str] = field(default_factory=list)  # unsubscribed or bounced: not mailed

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """The counts of the run, in one line."""
        parts = [
            f"{len(self.sent)} sent",
            f"{len(self.skipped)} skipped as already sent",
            f"{len(self.held)} held by another sender",
            f"{len(self.failed)} failed",
            f"{len(self.empty)} empty",
        ]
        if self.suppressed:
            parts.append(f"{len(self.suppressed)} not mailed (unsubscribed or bounced)")
        if self.written:
            parts.insert(0, f"{len(self.written)} written to the outbox")
        if self.built:
            parts.append(f"{len(self.built)} built (dry run)")
        if self.left:
            parts.append(f"{len(self.left)} left for the next run (stopped)")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class _Job:
    subscriber: Subscriber
    edition: date
    picks: tuple[ScoredPaper, ...]


def open_transport(
    settings: Settings,
    *,
    outbox: Path | None = None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> Transport | None:
    """Where messages go: nowhere (a dry run), an outbox folder, or the SMTP server."""
    if dry_run:
        return None
    if outbox is not None:
        return OutboxTransport(outbox)
    smtp = settings.smtp
    return SmtpTransport(
        smtp,
        allow_insecure_auth=smtp.allow_insecure_auth,
        rate_limit=smtp.rate_limit,
        should_stop=should_stop,
    )


def run_send(
    settings: Settings,
    store: Store,
    renderer: Renderer,
    *,
    subscribers: Sequence[Subscriber],
    edition: date | None,
    outbox: Path | None = None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    on_done: Callable[[SendReport], None] | None = None,
) -> SendReport:
    """A send run as the commands make it: the configured transport, retries and clock; an
    outbox or a dry run records nothing."""
    transport = open_transport(settings, outbox=outbox, dry_run=dry_run, should_stop=should_stop)
    try:
        return send_editions(
            settings,
            store,
            renderer,
            transport,
            subscribers=subscribers,
            now=lambda: datetime.now(UTC),
            edition=edition,
            record=outbox is None,
            retry=RetryPolicy.from_settings(settings.smtp),
            sleep=time.sleep,
            should_stop=should_stop,
            on_done=on_done,
        )
    finally:
        if transport is not None:
            transport.close()


def send_editions(
    settings: Settings,
    store: Store,
    renderer: Renderer,
    transport: Transport | None,
    *,
    subscribers: Sequence[Subscriber],
    now: Callable[[], datetime],
    edition: date | None = None,
    record: bool = True,
    retry: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None],
    should_stop: Callable[[], bool] = lambda: False,
    on_done: Callable[[SendReport], None] | None = None,
) -> SendReport:
    """Send each subscriber's edition (today where they live, unless `edition`).

    `transport` None is a dry run: every message is built, none sent, nothing recorded.
    """
    run = _Run(
        settings=settings,
        renderer=renderer,
        transport=transport,
        ledger=store.ledger if record and transport is not None else None,
        worker=this_worker(),
        now=now,
        retry=retry,
        sleep=sleep,
        lease=timedelta(seconds=settings.delivery.lease_seconds),
        should_stop=should_stop,
        signer=signer_for(settings),
        archive=store.archive if record and transport and settings.digest.public_url else None,
    )
    require_papers(store)  # before any ledger row: an empty day is not what happened
    # Nobody who left is mailed, nor given a ledger row, whatever the config says; a row
    # an earlier run opened for them is closed.
    suppressed = store.audience.suppressed_among([member.email for member in subscribers])
    gone = [member for member in subscribers if member.email.lower() in suppressed]
    run.report.suppressed.extend(member.email for member in gone)
    if run.ledger:
        for day, group in _editions(gone, now(), edition):
            emails = [member.email for member in group]
            store.claims.close(day, emails, reason="unsubscribed or bounced", now=now())
    subscribers = [member for member in subscribers if member.email.lower() not in suppressed]
    heartbeat = Heartbeat(store.claims, run.worker, every=run.lease.total_seconds() / 3, now=now)
    with heartbeat.running() if run.ledger else nullcontext():
        for day, group in _editions(subscribers, now(), edition):
            if _stopping(run):
                run.report.left.extend(member.email for member in group)
            else:
                _plan(settings, store, run, day, group, on_done)
    if run.report.left:
        why = "the server keeps failing" if run.server_unreachable else "on request"
        log.warning("stopping %s: %d editions left for the next run", why, len(run.report.left))
    return run.report


def _editions(
    subscribers: Sequence[Subscriber], moment: datetime, edition: date | None
) -> list[tuple[date, list[Subscriber]]]:
    """The subscribers by edition date (today where each lives, unless `edition`)."""
    by_day: dict[date, list[Subscriber]] = {}
    for subscriber in subscribers:
        by_day.setdefault(edition or subscriber.edition(moment), []).append(subscriber)
    return sorted(by_day.items())


def _stopping(run: _Run) -> bool:
    return run.should_stop() or run.server_unreachable


def _plan(
    settings: Settings,
    store: Store,
    run: _Run,
    day: date,
    group: list[Subscriber],
    on_done: Callable[[SendReport], None] | None,
) -> None:
    """Send one edition date: claim a batch of its subscribers (all of them, a batch at a
    time, without a ledger), rank the batch over the day's pool, send it, claim the next.
    A worker ranks and renders only what it claimed; a stop gives back the rest."""
    candidates = store.papers.candidates(until=day, days=settings.digest.candidate_days)
    pool = build_pool(candidates, today=day)
    by_email = {member.email.lower(): member for member in group}
    size = settings.delivery.batch_size
    if run.ledger:
        run.ledger.open_edition(day, list(by_email), now=run.now())
        batches: Iterable[tuple[str, ...]] = claimed_batches(
            store.claims,
            day,
            worker=run.worker,
            wanted=by_email,
            size=size,
            lease=run.lease,
            now=run.now,
            sleep=run.sleep,
            should_stop=lambda: _stopping(run),
        )
    else:
        emails = list(by_email)
        batches = (tuple(emails[start : start + size]) for start in range(0, len(emails), size))
    handled: set[str] = set()
    for batch in batches:
        members = _still_mailed(store, run, day, [by_email[email] for email in batch])
        handled.update(batch)  # sent now, or suppressed; what is given back leaves below
        done = 0
        try:
            for member, picks in zip(members, _ranked(store, pool, members), strict=True):
                if _stopping(run):
                    break
                done += 1
                if run.ledger and not store.claims.confirm(
                    day, member.email, worker=run.worker, now=run.now()
                ):
                    # Taken over while this worker was away (paused past its lease).
                    run.report.held.append(member.email)
                    continue
                run.send(_Job(member, day, picks))
                if on_done:
                    on_done(run.report)
        finally:  # a stop, or an error: the batch's unsent claims go back at once
            unsent = [member.email.lower() for member in members[done:]]
            handled.difference_update(unsent)
            _release(store, run, day, unsent)
        if _stopping(run):
            break
    _account(store, run, day, [email for email in by_email if email not in handled], by_email)


def _ranked(
    store: Store, pool: Pool, members: list[Subscriber]
) -> Iterator[tuple[ScoredPaper, ...]]:
    """The picks of each member, with what they already received and their votes."""
    addresses = [member.email for member in members]
    delivered = store.ledger.delivered_ids_of(addresses)
    tastes = store.votes.tastes(addresses)
    profiles = [
        member.profile(delivered[member.email], *_votes(tastes, member.email)) for member in members
    ]
    return rank_many(pool, profiles, voted=voted_papers(store, pool, profiles))


def _release(store: Store, run: _Run, day: date, unsent: list[str]) -> None:
    if not (run.ledger and unsent):
        return
    try:
        store.claims.release(day, unsent, worker=run.worker, now=run.now())
    except StoreError as error:  # their lease lapses instead, and another sender takes them
        log.warning("cannot give back %d claims: %s", len(unsent), error)


def _still_mailed(
    store: Store, run: _Run, day: date, members: list[Subscriber]
) -> list[Subscriber]:
    """The members not unsubscribed or bounced since the run began (a run over a long
    list takes hours); the others' rows are closed as empty, saying why."""
    suppressed = store.audience.suppressed_among([member.email for member in members])
    for member in members:
        if member.email.lower() in suppressed:
            reason = "unsubscribed or bounced during the run"
            if run.ledger:
                run.ledger.mark_empty(member.email, day, reason=reason, now=run.now())
            run.report.suppressed.append(member.email)
    return [member for member in members if member.email.lower() not in suppressed]


def _votes(tastes: dict[str, Taste], email: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    taste = tastes.get(email.lower())
    return (taste.likes, taste.dislikes) if taste else ((), ())


def _account(
    store: Store,
    run: _Run,
    day: date,
    unhandled: list[str],
    by_email: dict[str, Subscriber],
) -> None:
    """Report the subscribers this worker did not send to: sent (or empty) by another
    worker or an earlier run, still held by another worker, or left by a stop."""
    unfinished = store.claims.unfinished(day) if run.ledger and unhandled else frozenset()
    for email in unhandled:
        address = by_email[email].email
        if run.ledger and email not in unfinished:
            run.report.skipped.append(address)
        elif _stopping(run) or not run.ledger:
            run.report.left.append(address)
        else:
            run.report.held.append(address)


@dataclass(slots=True)
class _Run:
    """One send run's parts and its report so far."""

    settings: Settings
    renderer: Renderer
    transport: Transport | None
    ledger: Ledger | None
    worker: str
    now: Callable[[], datetime]
    retry: RetryPolicy
    sleep: Callable[[float], None]
    lease: timedelta = DEFAULT_LEASE
    should_stop: Callable[[], bool] = lambda: False
    signer: DkimSigner | None = None
    archive: Archive | None = None  # where "view in browser" copies go, when linked
    report: SendReport = field(default_factory=SendReport)
    temporary_failures_in_a_row: int = 0

    @property
    def writes_files(self) -> bool:
        """An outbox run: its messages are written, not sent."""
        return isinstance(self.transport, OutboxTransport)

    @property
    def server_unreachable(self) -> bool:
        """Several subscribers in a row failed temporarily with their retries spent (the
        server is down, refusing or timing out): the rest would too, each after waiting
        through its retries. Better to stop and leave them to the next run."""
        return self.temporary_failures_in_a_row >= UNREACHABLE_AFTER

    def send(self, job: _Job) -> None:
        """Build, send and record one subscriber's edition, its ledger row claimed already."""
        email, ledger = job.subscriber.email, self.ledger
        if not job.picks and not job.subscriber.send_empty:
            reason = "no paper matched the interests and filters"
            if ledger:
                ledger.mark_empty(email, job.edition, reason=reason, now=self.now())
            self.report.empty.append((email, reason))
            return
        try:
            rendered, message = self._build(job)
        except Exception as error:  # one subscriber's data must never stop the others
            log.debug("building the message for %s failed", email, exc_info=True)
            self._fail(job, f"cannot build the message: {describe_error(error)}", attempts=0)
            return
        if self.transport is None:
            self.report.built.append(email)
            return
        self._archive(job, rendered)
        try:
            delivered, attempts = self._deliver(email, message)
        except _GaveUp as gave_up:
            reason = f"{gave_up.failure.reply} (after {plural(gave_up.attempts, 'attempt')})"
            self._fail(job, reason, attempts=gave_up.attempts)
            temporary = isinstance(gave_up.failure, TemporaryFailure)
            self.temporary_failures_in_a_row = (
                self.temporary_failures_in_a_row + 1 if temporary else 0
            )
            return
        self.temporary_failures_in_a_row = 0
        if ledger:
            ledger.mark_sent(
                email,
                job.edition,
                message_id=delivered.message_id,
                reply=delivered.response,
                attempts=attempts,
                papers=rendered.paper_ids,
                now=self.now(),
            )
        (self.report.written if self.writes_files else self.report.sent).append(email)

    def _archive(self, job: _Job, rendered: RenderedEmail) -> None:
        """Keep the HTML for "view in browser" before sending, so the link works the moment
        the email arrives. A failure costs that link alone, never the email."""
        if self.archive is None:
            return
        try:
            self.archive.keep(
                job.subscriber.email,
                job.edition,
                subject=rendered.subject,
                html=rendered.html,
                now=self.now(),
                days=self.settings.digest.archive_days,
            )
        except StoreError as error:
            log.warning("%s: the online copy is not kept: %s", job.subscriber.email, error)

    def _build(self, job: _Job) -> tuple[RenderedEmail, WireMessage]:
        """One subscriber's email, rendered, and the message that carries it."""
        return compose(
            self.renderer,
            self.settings,
            edition=job.edition,
            recipient=job.subscriber.email,
            name=job.subscriber.name,
            interests=job.subscriber.interests,
            picks=job.picks,
            now=self.now(),
            signer=self.signer,
        )

    def _fail(self, job: _Job, reason: str, *, attempts: int) -> None:
        """Record and report one subscriber's edition as failed; a re-run tries it again."""
        email = job.subscriber.email
        if self.ledger:
            self.ledger.mark_failed(
                email, job.edition, reply=reason, attempts=attempts, now=self.now()
            )
        self.report.failed.append((email, reason))

    def _deliver(self, email: str, message: WireMessage) -> tuple[Delivered, int]:
        """Send with retries of temporary failures; (what the server said, attempts)."""
        assert self.transport is not None
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.transport.send(message), attempt
            except TemporaryFailure as failure:
                if attempt >= self.retry.attempts or self.should_stop():
                    raise _GaveUp(failure, attempt) from failure
                delay = self.retry.delay(attempt)
                log.info("%s: %s; retrying in %.1fs", email, failure.reply, delay)
                self.sleep(delay)
            except DeliveryFailure as failure:
                raise _GaveUp(failure, attempt) from failure


class _GaveUp(Exception):
    def __init__(self, failure: DeliveryFailure, attempts: int) -> None:
        super().__init__(failure.reply)
        self.failure = failure
        self.attempts = attempts
