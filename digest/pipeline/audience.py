"""The list's audience as the commands show and change it: who is configured, who may be
mailed and why not, and what a Maildir of bounces and unsubscribe requests says."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from digest.config import Settings, wire_address
from digest.errors import DigestError
from digest.mail.notices import Bounce, UnsubscribeRequest, read_notice
from digest.state.audience import SUBSCRIBED, Standing, Status
from digest.state.store import Store
from digest.subscribers import all_subscribers

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Member:
    """One address: in the config or not, whether it is mailed, and why not."""

    email: str
    name: str | None
    configured: bool
    status: Status
    how: str | None
    since: datetime | None
    soft_bounces: int
    votes: int

    @property
    def mailed(self) -> bool:
        return self.configured and self.status == SUBSCRIBED


def members(settings: Settings, store: Store) -> list[Member]:
    """Every configured subscriber, then every other address the database knows of."""
    standings = {standing.email: standing for standing in store.audience.standings()}
    votes = store.votes.counts()
    found = []
    for subscriber in all_subscribers(settings):
        email = subscriber.email.lower()
        found.append(_member(email, subscriber.name, standings.pop(email, None), votes))
    found.extend(
        _member(email, None, standing, votes, configured=False)
        for email, standing in sorted(standings.items())
    )
    return found


def _member(
    email: str,
    name: str | None,
    standing: Standing | None,
    votes: dict[str, int],
    *,
    configured: bool = True,
) -> Member:
    return Member(
        email=email,
        name=name,
        configured=configured,
        status=standing.status if standing else SUBSCRIBED,
        how=standing.how if standing else None,
        since=standing.changed_at if standing else None,
        soft_bounces=standing.soft_bounces if standing else 0,
        votes=votes.get(email, 0),
    )


@dataclass(slots=True)
class NoticeReport:
    """What reading a Maildir did."""

    hard: list[Bounce] = field(default_factory=list)
    soft: list[Bounce] = field(default_factory=list)
    delayed: list[Bounce] = field(default_factory=list)  # warnings: nothing counted
    unsubscribed: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)  # by this run's bounces
    ignored: int = 0  # neither a bounce nor a request: left unread for a person

    def summary(self) -> str:
        return (
            f"{len(self.hard)} hard bounces, {len(self.soft)} soft bounces, "
            f"{len(self.delayed)} delay warnings, "
            f"{len(self.unsubscribed)} unsubscribe requests, "
            f"{len(self.suppressed)} addresses no longer mailed, "
            f"{self.ignored} other messages left unread"
        )


def read_maildir(folder: Path, store: Store, *, limit: int, now: datetime) -> NoticeReport:
    """Act on each unread message of a Maildir: bounces counted (hard ones and the
    `limit`-th soft one suppress the address), unsubscribe requests honoured. Each message
    acted on is marked read (renamed into cur/ with the S flag, its bytes untouched), after
    its effect is stored, so a second run never counts it again; a crash between the two
    can count one bounce twice, never lose one. One run at a time reads a folder (a lock
    on it), and a message that cannot be read or parsed is left unread with a warning."""
    if not all((folder / sub).is_dir() for sub in ("cur", "new", "tmp")):
        raise DigestError(f"{folder}: not a Maildir folder (it needs cur/, new/ and tmp/)")
    report = NoticeReport()
    with _locked(folder):
        for path in _unread(folder):
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                continue  # taken by a mail client since the folder was listed
            except OSError as error:
                log.warning("%s: message %s cannot be read (%s)", folder, path.name, error)
                continue
            try:
                notice = read_notice(raw)
            except (ValueError, LookupError, RecursionError) as error:
                log.warning("%s: message %s cannot be read (%s)", folder, path.name, error)
                continue
            if notice is None:
                report.ignored += 1
                continue
            if isinstance(notice, UnsubscribeRequest):
                # As the config and the emails have it: an internationalized domain in ASCII.
                sender = wire_address(notice.sender)
                if store.audience.unsubscribe(sender, how="mailto", now=now):
                    report.unsubscribed.append(sender)
            else:
                for bounce in notice:
                    _bounce(store, bounce, report, limit=limit, now=now)
            _mark_read(folder, path)
    return report


_INFO = ":2,"


def _unread(folder: Path) -> list[Path]:
    """The messages of new/ and cur/ without the S flag, oldest name first; the flags are
    read off the file name, so a read message is never opened again."""
    found = []
    for sub in ("new", "cur"):
        for entry in os.scandir(folder / sub):
            if entry.name.startswith(".") or not entry.is_file():
                continue
            flags = entry.name.partition(_INFO)[2]
            if "S" not in flags:
                found.append(Path(entry.path))
    return sorted(found, key=lambda path: path.name)


def _mark_read(folder: Path, path: Path) -> None:
    """Move a message to cur/ with the S flag: a rename, as the Maildir format has it."""
    unique, _, flags = path.name.partition(_INFO)
    target = folder / "cur" / f"{unique}{_INFO}{''.join(sorted(set(flags) | {'S'}))}"
    # Moved meanwhile by a mail client: its effect is stored all the same.
    with suppress(FileNotFoundError):
        path.rename(target)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder for one run: two at once would count one soft
    bounce twice."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DigestError(f"{folder}: another digest bounces is reading it") from None
        yield
    finally:
        os.close(descriptor)


def _bounce(
    store: Store, bounce: Bounce, report: NoticeReport, *, limit: int, now: datetime
) -> None:
    if bounce.delayed:
        # The server goes on trying: its failure, if it comes, is a notification of its
        # own. Counted, four warnings about one message suppressed a reader.
        report.delayed.append(bounce)
        return
    before = store.audience.standing(bounce.recipient)
    after = store.audience.bounce(
        bounce.recipient, hard=bounce.hard, detail=bounce.detail, limit=limit, now=now
    )
    (report.hard if bounce.hard else report.soft).append(bounce)
    if after.suppressed and not (before and before.suppressed):
        report.suppressed.append(bounce.recipient)
