"""The send run: every subscriber's edition ranked, rendered, sent and recorded, once.

Readers who unsubscribed or bounced are left out first. Then a batch of subscribers at
a time: claim their ledger rows (rows sent, empty, or held by another live sender are
not claimed) and rank the batch with what each already received and their votes; then
for each, confirmed still this sender's claim, `delivery.SendRun` renders, archives,
sends with retries and records the outcome in its own transaction right away. A stop
request (SIGTERM, Ctrl-C) is honoured between messages, never in the middle of one; the
claims not yet sent are given back. With `record=False` (an outbox, a dry run) the
ledger is neither read nor written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from digest.config import Settings
from digest.errors import StoreError
from digest.mail.render import Renderer
from digest.mail.signing import signer_for
from digest.mail.transport import (
    OutboxTransport,
    SmtpTransport,
    Transport,
)
from digest.models import ScoredPaper
from digest.pipeline.delivery import (
    DEFAULT_RETRY,
    UNREACHABLE_AFTER,
    Job,
    RetryPolicy,
    SendReport,
    SendRun,
)
from digest.pipeline.pick import require_papers, voted_papers
from digest.pipeline.pool import encoder_for, stored_pool
from digest.rank.pool import Pool
from digest.rank.ranker import rank_many
from digest.state.claims import Heartbeat, claimed_batches
from digest.state.store import Store
from digest.state.votes import Taste
from digest.state.workers import this_worker
from digest.subscribers import Subscriber
from digest.text import plural

log = logging.getLogger(__name__)


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
    empty_notes: bool = True,
) -> SendReport:
    """A send run as the commands make it: the configured transport, retries and clock; an
    outbox or a dry run records nothing. Without `empty_notes` (the collect failed), an
    empty edition is recorded empty even for a reader who asked for a note on empty days:
    "nothing new matched" would not be true, and a later try may find papers."""
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
            empty_notes=empty_notes,
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
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None],
    should_stop: Callable[[], bool] = lambda: False,
    on_done: Callable[[SendReport], None] | None = None,
    empty_notes: bool = True,
) -> SendReport:
    """Send each subscriber's edition (today where they live, unless `edition`).

    `transport` None is a dry run: every message is built, none sent, nothing recorded.
    """
    run = SendRun(
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
        audience=store.audience if record and transport is not None else None,
        empty_notes=empty_notes,
    )
    require_papers(store)  # before any ledger row: an empty day is not what happened
    if run.ledger:
        _forget_old_copies(store, settings, now())
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
            # A weekly reader's edition is on their day alone, whoever runs the send.
            run.report.not_due.extend(member.email for member in group if not member.due(day))
            for days, members in _windows([m for m in group if m.due(day)], settings):
                if _stopping(run):
                    run.report.left.extend(member.email for member in members)
                else:
                    _plan(settings, store, run, day, days, members, on_done)
    if run.unrecorded is not None:
        run.report.error = run.unrecorded
    elif run.unusable is not None:
        run.report.error = str(run.unusable)
    elif run.server_unreachable and run.report.left:
        failures = run.report.failed[-UNREACHABLE_AFTER:]
        run.report.error = (
            f"the server failed {len(failures)} subscribers in a row, the last: {failures[-1][1]}"
        )
    if run.report.left:
        why = "on request"
        if run.server_unreachable:
            why = "the server keeps failing"
        if run.unusable is not None:
            why = "the server cannot be used"
        if run.unrecorded is not None:
            why = "the database cannot record what was sent"
        left = plural(len(run.report.left), "edition")
        log.warning("stopping %s: %s left for the next run", why, left)
    return run.report


def _forget_old_copies(store: Store, settings: Settings, moment: datetime) -> None:
    """Forget the online copies older than `archive_days`, every reader's, whoever this
    run mails: the site shows none of them, and a reader who left leaves no newer copy
    that would push theirs out. A failure costs nothing but the space."""
    oldest = moment.astimezone(UTC).date() - timedelta(days=settings.digest.archive_days)
    try:
        forgotten = store.archive.forget_before(oldest)
    except StoreError as error:
        log.warning("old online copies are kept for now: %s", error)
        return
    if forgotten:
        copies = "copy" if forgotten == 1 else "copies"
        log.info("forgot %d online %s of editions before %s", forgotten, copies, oldest)


def _editions(
    subscribers: Sequence[Subscriber], moment: datetime, edition: date | None
) -> list[tuple[date, list[Subscriber]]]:
    """The subscribers by edition date (today where each lives, unless `edition`)."""
    return _grouped(subscribers, lambda member: edition or member.edition(moment))


def _windows(
    subscribers: Sequence[Subscriber], settings: Settings
) -> list[tuple[int, list[Subscriber]]]:
    """The subscribers by how many days of candidates their edition ranks (a weekly
    reader's covers the week since the last one)."""
    days = settings.digest.candidate_days
    return _grouped(subscribers, lambda member: member.candidate_days(days))


_Key = TypeVar("_Key", date, int)


def _grouped(
    subscribers: Sequence[Subscriber], key: Callable[[Subscriber], _Key]
) -> list[tuple[_Key, list[Subscriber]]]:
    """The subscribers by `key`, keys ascending, each group in the subscribers' order."""
    groups: dict[_Key, list[Subscriber]] = {}
    for subscriber in subscribers:
        groups.setdefault(key(subscriber), []).append(subscriber)
    return sorted(groups.items(), key=lambda group: group[0])


def _stopping(run: SendRun) -> bool:
    return (
        run.should_stop()
        or run.server_unreachable
        or run.unusable is not None
        or run.unrecorded is not None
    )


def _plan(
    settings: Settings,
    store: Store,
    run: SendRun,
    day: date,
    days: int,
    group: list[Subscriber],
    on_done: Callable[[SendReport], None] | None,
) -> None:
    """Send one edition date to subscribers whose edition ranks the candidates of `days`
    days: claim a batch of them (all of them, a batch at a time, without a ledger), rank
    the batch over that pool, send it, claim the next. A worker ranks and renders only
    what it claimed; a stop gives back the rest."""
    pool = stored_pool(
        store, until=day, days=days, encoder=encoder_for(settings.digest.semantic_model)
    )
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
            ranked = _ranked(store, pool, members, listed=(day, days))
            for member, picks in zip(members, ranked, strict=True):
                if _stopping(run):
                    break
                done += 1
                if not _still_mailed(store, run, day, [member]):
                    continue  # left while the batch was being sent: a click away, a minute ago
                if run.ledger and not store.claims.confirm(
                    day, member.email, worker=run.worker, now=run.now()
                ):
                    # Taken over while this worker was away (paused past its lease).
                    run.report.held.append(member.email)
                    continue
                run.send(Job(member, day, picks, listed=pool.size, days=days))
                if run.unusable is not None:
                    done -= 1  # it did not go out: its claim goes back with the others'
                    break
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
    store: Store, pool: Pool, members: list[Subscriber], *, listed: tuple[date, int | None]
) -> Iterator[tuple[ScoredPaper, ...]]:
    """The picks of each member, with what they already received among the pool's
    candidates (`listed`: the edition's date and candidate days) and their votes."""
    addresses = [member.email for member in members]
    delivered = store.ledger.delivered_ids_of(addresses, listed=listed)
    tastes = store.votes.tastes(addresses)
    profiles = [
        member.profile(delivered[member.email], *_votes(tastes, member.email)) for member in members
    ]
    return rank_many(pool, profiles, voted=voted_papers(store, pool, profiles))


def _release(store: Store, run: SendRun, day: date, unsent: list[str]) -> None:
    if not (run.ledger and unsent):
        return
    try:
        store.claims.release(day, unsent, worker=run.worker, now=run.now())
    except StoreError as error:  # their lease lapses instead, and another sender takes them
        log.warning("cannot give back %d claims: %s", len(unsent), error)


def _still_mailed(
    store: Store, run: SendRun, day: date, members: list[Subscriber]
) -> list[Subscriber]:
    """The members not unsubscribed or bounced since the run began (a run over a long
    list takes hours); the others' rows are closed as empty, saying why."""
    suppressed = store.audience.suppressed_among([member.email for member in members])
    for member in members:
        if member.email.lower() in suppressed:
            run.close_left(member.email, day)
    return [member for member in members if member.email.lower() not in suppressed]


def _votes(tastes: dict[str, Taste], email: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    taste = tastes.get(email.lower())
    return (taste.likes, taste.dislikes) if taste else ((), ())


def _account(
    store: Store,
    run: SendRun,
    day: date,
    unhandled: list[str],
    by_email: dict[str, Subscriber],
) -> None:
    """Report the subscribers this worker did not send to: sent (or empty) by another
    worker or an earlier run, still held by another worker, or left by a stop."""
    unfinished: frozenset[str] = frozenset()
    if run.ledger and unhandled:
        try:
            unfinished = store.claims.unfinished(day)
        except StoreError as error:  # the report still goes out: as left, not as sent
            log.warning("cannot read which editions are done: %s", error)
            unfinished = frozenset(unhandled)
    for email in unhandled:
        address = by_email[email].email
        if run.ledger and email not in unfinished:
            run.report.skipped.append(address)
        elif _stopping(run) or not run.ledger:
            run.report.left.append(address)
        else:
            run.report.held.append(address)
