"""One subscriber's edition at a time: rendered, archived, sent with retries, recorded.

`SendRun` holds what a send run shares (settings, renderer, transport, ledger, clock,
retry policy) and its `SendReport`; `send.py` orders the batches and hands it each
subscriber's `Job`. A temporary failure is retried with backoff; a permanent one, or a
message that cannot be built, fails that subscriber alone, recorded at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from digest.config import Settings, SmtpSettings
from digest.errors import StoreError
from digest.mail.compose import compose
from digest.mail.message import WireMessage
from digest.mail.render import RenderedEmail, Renderer
from digest.mail.signing import DkimSigner
from digest.mail.transport import (
    Delivered,
    DeliveryFailure,
    OutboxTransport,
    ServerUnusable,
    TemporaryFailure,
    Transport,
)
from digest.models import ScoredPaper
from digest.state.archive import Archive
from digest.state.audience import Audience
from digest.state.ledger import DEFAULT_LEASE, Ledger
from digest.subscribers import Subscriber
from digest.text import describe_error, plural

log = logging.getLogger(__name__)

# Subscribers in a row whose messages failed temporarily, retries spent, before a run stops.
UNREACHABLE_AFTER = 3
# Tries at recording a message the server accepted, while the database is busy or away:
# with the retry delays doubling from 2 s, a minute, through a PostgreSQL failover or a
# restart (two tries, 6 s, left a 10-second outage one duplicate per sender).
RECORD_ATTEMPTS = 6


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


# Three attempts, 2 s then 4 s apart: what a run without a config would do.
DEFAULT_RETRY = RetryPolicy()


@dataclass(slots=True)
class SendReport:
    """What a send run did, per subscriber."""

    sent: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # to the outbox, not sent
    skipped: list[str] = field(default_factory=list)  # sent (or empty) already
    held: list[str] = field(default_factory=list)  # another sender holds their claim
    failed: list[tuple[str, str]] = field(default_factory=list)
    # The whole message went out, no final reply came: not sent again (it may arrive).
    unconfirmed: list[tuple[str, str]] = field(default_factory=list)
    empty: list[tuple[str, str]] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    built: list[str] = field(default_factory=list)  # a dry run's messages, built not sent
    suppressed: list[str] = field(default_factory=list)  # unsubscribed or bounced: not mailed
    not_due: list[str] = field(default_factory=list)  # weekly, on another day: not mailed
    error: str = ""  # why the run stopped early, when the server could not be used at all

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unconfirmed and not self.error

    def summary(self) -> str:
        """The counts of the run, in one line."""
        parts = [
            f"{len(self.sent)} sent",
            f"{len(self.skipped)} skipped as already sent",
            f"{len(self.held)} held by another sender",
            f"{len(self.failed)} failed",
            f"{len(self.empty)} empty",
        ]
        if self.unconfirmed:
            parts.insert(4, f"{len(self.unconfirmed)} unconfirmed (may have arrived)")
        if self.suppressed:
            parts.append(f"{len(self.suppressed)} not mailed (unsubscribed or bounced)")
        if self.not_due:
            parts.append(f"{len(self.not_due)} not due (weekly, on another day)")
        if self.written:
            parts.insert(0, f"{len(self.written)} written to the outbox")
        if self.built:
            parts.append(f"{len(self.built)} built (dry run)")
        if self.left:
            parts.append(f"{len(self.left)} left for the next run (stopped)")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class Job:
    """One subscriber's edition to send: who, for which date, with which papers."""

    subscriber: Subscriber
    edition: date
    picks: tuple[ScoredPaper, ...]
    listed: int  # the candidates the picks came from: papers listed in the edition's days
    days: int  # how many days up to the edition those are


@dataclass(slots=True)
class SendRun:
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
    audience: Audience | None = None  # where a refused address is recorded as a bounce
    empty_notes: bool = True  # False: no "nothing new" note (the collect failed)
    report: SendReport = field(default_factory=SendReport)
    temporary_failures_in_a_row: int = 0
    # The server could not be used at all (TLS, STARTTLS, login): the run stops, and the
    # edition in hand, which did not go out, is given back with the rest.
    unusable: ServerUnusable | None = None
    # A message went out and the database would not record it: the run stops (why).
    unrecorded: str | None = None

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

    def send(self, job: Job) -> None:
        """Build, send and record one subscriber's edition, its ledger row claimed already."""
        email, ledger = job.subscriber.email, self.ledger
        if not job.picks and not (job.subscriber.send_empty and self.empty_notes):
            reason = _empty_reason(job)
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
        except ServerUnusable as error:
            self.unusable = error
            return
        except _Left:
            self.close_left(email, job.edition)
            return
        except _GaveUp as gave_up:
            failure = gave_up.failure
            reason = f"{failure.reply} (after {plural(gave_up.attempts, 'attempt')})"
            if failure.maybe_delivered:
                self.report.unconfirmed.append((email, reason))
                if ledger:
                    unconfirmed = Delivered(message.message_id, reason)
                    self._record(job, unconfirmed, gave_up.attempts, rendered.paper_ids, sure=False)
            else:
                if failure.mailbox_gone and self._bounced(email, failure.reply):
                    reason += "; not mailed again (a hard bounce)"
                self._fail(job, reason, attempts=gave_up.attempts)
            # A refused recipient (greylisted, a full mailbox) is theirs alone: the server
            # answered. Only failures of the server itself stop the run.
            server_failed = isinstance(failure, TemporaryFailure) and not failure.recipient_refused
            self.temporary_failures_in_a_row = (
                self.temporary_failures_in_a_row + 1 if server_failed else 0
            )
            return
        self.temporary_failures_in_a_row = 0
        (self.report.written if self.writes_files else self.report.sent).append(email)
        if ledger:
            self._record(job, delivered, attempts, rendered.paper_ids)

    def close_left(self, email: str, edition: date) -> None:
        """A reader who unsubscribed or bounced while the run went on: their row closed as
        empty, saying why, and nothing sent."""
        reason = "unsubscribed or bounced during the run"
        if self.ledger:
            self.ledger.mark_empty(email, edition, reason=reason, now=self.now())
        self.report.suppressed.append(email)

    def _record(
        self,
        job: Job,
        delivered: Delivered,
        attempts: int,
        papers: tuple[str, ...],
        *,
        sure: bool = True,
    ) -> None:
        """Commit a message the server accepted (or, not `sure`, may have taken), trying
        again while the database is busy (a lock held past its timeout); if it still
        cannot, the run stops: the next message would go unrecorded too, and each is one
        a later run may send again."""
        assert self.ledger is not None
        email = job.subscriber.email
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                self.ledger.mark_sent(
                    email,
                    job.edition,
                    message_id=delivered.message_id,
                    reply=delivered.response,
                    attempts=attempts,
                    papers=papers,
                    now=self.now(),
                    confirmed=sure,
                )
                return
            except StoreError as error:
                if attempt == RECORD_ATTEMPTS:
                    self.unrecorded = (
                        f"{email}: sent ({delivered.message_id}) but not recorded, so a "
                        f"later run may send it again: {error}"
                    )
                    return
                log.warning("%s: %s; trying again", email, error)
                self.sleep(self.retry.delay(attempt))

    def _archive(self, job: Job, rendered: RenderedEmail) -> None:
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
            )
        except StoreError as error:
            log.warning("%s: the online copy is not kept: %s", job.subscriber.email, error)

    def _build(self, job: Job) -> tuple[RenderedEmail, WireMessage]:
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

    def _bounced(self, email: str, reply: str) -> bool:
        """Record a refusal of the address itself as a hard bounce, as `digest bounces`
        would from the notification: the address is not mailed again. Whether it was."""
        if self.audience is None:
            return False
        limit = self.settings.delivery.soft_bounce_limit
        try:
            self.audience.bounce(email, hard=True, detail=reply, limit=limit, now=self.now())
        except StoreError as error:
            log.warning("%s: the bounce is not recorded: %s", email, error)
            return False
        return True

    def _left(self, email: str) -> bool:
        """Whether the reader left since the run looked (a retry waits seconds, and the
        unsubscribe link is a click away)."""
        if self.audience is None:
            return False
        try:
            return email.lower() in self.audience.suppressed_among([email])
        except StoreError as error:
            log.warning("%s: cannot look up whether they left: %s", email, error)
            return False

    def _fail(self, job: Job, reason: str, *, attempts: int) -> None:
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
                # Not again when the server may have taken it: each try may arrive (a
                # server slow to answer the end of a message queued every one).
                done = attempt >= self.retry.attempts or failure.maybe_delivered
                if done or self.should_stop():
                    raise _GaveUp(failure, attempt) from failure
                delay = self.retry.delay(attempt)
                log.info("%s: %s; retrying in %.1fs", email, failure.reply, delay)
                self.sleep(delay)
                if self._left(email):
                    raise _Left from failure
            except DeliveryFailure as failure:
                raise _GaveUp(failure, attempt) from failure


class _Left(Exception):
    """The reader unsubscribed or bounced while their message waited for a retry."""


def _empty_reason(job: Job) -> str:
    """Why an edition has no paper, as the report and the ledger say it."""
    if job.listed == 0:
        return f"no paper was listed in the {plural(job.days, 'day')} up to {job.edition}"
    if job.subscriber.interests:
        return "no paper matched the interests and filters"
    return "every paper was filtered out or sent before"


class _GaveUp(Exception):
    def __init__(self, failure: DeliveryFailure, attempts: int) -> None:
        super().__init__(failure.reply)
        self.failure = failure
        self.attempts = attempts
