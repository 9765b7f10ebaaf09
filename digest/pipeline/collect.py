"""Collecting: every source read, parsed and stored, one failing source never stopping
the others.

Sources expand into files and URLs (`collect.locate`); each is read (fetched with a
conditional GET when it is a URL) and parsed in a reader thread while the ones before it
are stored. Several sources are stored in one transaction, which saves each source's
fixed costs (lookups, statements, the commit); when that transaction fails, each of its
sources is stored again alone, so a source the database refuses still fails alone.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime

from digest.collect.fetch import MAX_BYTES, Client, fetch, open_client
from digest.collect.kinds import parse_document
from digest.collect.locate import SourceSpec, expand, is_url
from digest.config import CollectSettings, Settings
from digest.errors import SourceError, StoreError
from digest.files import UnreadableFile, read_regular_file
from digest.models import (
    CollectReport,
    Entry,
    HttpValidators,
    Paper,
    Parsed,
    Sighting,
    SourceReport,
    StoreResult,
)
from digest.state.store import Store

log = logging.getLogger(__name__)

STOPPED = "not read: the run was stopped"
# Papers stored per transaction at most: enough that the costs of each (its lookups, the
# statements, the commit) fade, few enough to bound the memory and what a crash loses.
BATCH_PAPERS = 20_000
# ... or once its first read is this old when another comes in, so that the progress and
# the reports keep moving when sources come slowly (URLs): a slow source delays the ones
# read before it by its own fetch time at most.
BATCH_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class _Target:
    """One concrete file or URL to read, with the source it came from."""

    spec: SourceSpec
    location: str


@dataclass(slots=True)
class _Tally:
    """Distinct papers across a whole run: a paper new in one source is not seen in the next."""

    new: set[int] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)


def configured_sources(settings: Settings) -> list[SourceSpec]:
    """The [[sources]] of the config."""
    return [
        SourceSpec(name=source.name, location=source.location, kind=source.kind)
        for source in settings.sources
    ]


def plan_collection(specs: Sequence[SourceSpec]) -> tuple[list[_Target], list[SourceReport]]:
    """Expand every source into the files and URLs to read; sources naming nothing fail here."""
    targets: list[_Target] = []
    failures: list[SourceReport] = []
    for spec in specs:
        try:
            targets.extend(_Target(spec, location) for location in expand(spec.location))
        except SourceError as error:
            failures.append(_failed(_Target(spec, spec.location), str(error)))
    return targets, failures


def collect(
    specs: Sequence[SourceSpec],
    store: Store,
    *,
    settings: CollectSettings,
    now: datetime,
    on_planned: Callable[[int], None] | None = None,
    on_source: Callable[[SourceReport], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> CollectReport:
    """Read every source, store its papers and sightings, and report on each.

    One source failing never stops the others, and what was read is kept: sources
    are stored a batch per transaction, each of a failed batch again alone, so a
    source that cannot be stored fails alone too. `on_planned` hears how many files
    and URLs there are to read; `on_source` hears each one's report once it is
    stored. Once `should_stop` says so, what was read is stored, the fetch in flight
    is cut short and the sources not read yet are reported so.
    """
    targets, reports = plan_collection(specs)
    if on_planned:
        on_planned(len(targets) + len(reports))
    if on_source:
        for report in reports:
            on_source(report)
    tally = _Tally()
    with ExitStack() as stack:
        client = None
        if any(is_url(target.location) for target in targets):
            client = stack.enter_context(open_client(settings.timeout, settings.user_agent))

        def read(target: _Target) -> _Read:
            return _read_safely(target, store, settings, now, client, should_stop)

        def store_batch(batch: _Batch) -> None:
            for report in _store_batch(batch.reads, store, now, tally):
                reports.append(report)
                if on_source:
                    on_source(report)
            batch.clear()

        batch = _Batch()
        for index, done in enumerate(_read_ahead(read, targets)):
            batch.add(done)
            stopping = should_stop()
            if stopping or batch.full():
                store_batch(batch)
            if stopping:
                reports.extend(_failed(later, STOPPED) for later in targets[index + 1 :])
                break
        store_batch(batch)
    return CollectReport(
        sources=tuple(reports), new=len(tally.new), seen_before=len(tally.seen - tally.new)
    )


@dataclass(frozen=True, slots=True)
class _Read:
    """What reading one target gave: a document, "not modified" (no document), or a failure."""

    target: _Target
    parsed: Parsed | None = None
    validators: HttpValidators | None = None
    failure: str | None = None


@dataclass(slots=True)
class _Batch:
    """Reads waiting to be stored together."""

    reads: list[_Read] = field(default_factory=list)
    papers: int = 0
    started: float = 0.0

    def add(self, done: _Read) -> None:
        if not self.reads:
            self.started = time.monotonic()
        self.reads.append(done)
        self.papers += len(done.parsed.entries) if done.parsed else 0

    def full(self) -> bool:
        return self.papers >= BATCH_PAPERS or time.monotonic() - self.started >= BATCH_SECONDS

    def clear(self) -> None:
        self.reads, self.papers = [], 0


def _read_ahead(read: Callable[[_Target], _Read], targets: Sequence[_Target]) -> Iterator[_Read]:
    """`read` over the targets in order, reading the next one while the caller stores this one.

    Parsing holds the interpreter while the database and the network mostly do not, so
    one reader thread overlaps them; reading only one ahead bounds the memory held.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest-read") as reader:
        pending = deque(reader.submit(read, target) for target in targets[:2])
        for target in targets[2:]:
            yield pending.popleft().result()
            pending.append(reader.submit(read, target))
        while pending:
            yield pending.popleft().result()


def _read_safely(
    target: _Target,
    store: Store,
    settings: CollectSettings,
    now: datetime,
    client: Client | None,
    should_stop: Callable[[], bool],
) -> _Read:
    if should_stop():
        return _Read(target, failure=STOPPED)
    try:
        return _read(target, store, settings, now, client, should_stop)
    except SourceError as error:
        return _Read(target, failure=str(error))
    except Exception as error:  # a reader's bug must not take the other sources down
        log.debug("reading %s failed", target.location, exc_info=True)
        return _Read(target, failure=f"internal error while reading: {error!r}")


def _store_batch(
    reads: Sequence[_Read], store: Store, now: datetime, tally: _Tally
) -> list[SourceReport]:
    """Store the papers of several reads in one transaction and report on each; when that
    fails, store each alone, so that only the source the database refuses fails."""
    with_papers = [done for done in reads if _has_papers(done)]
    if len(with_papers) > 1:
        try:
            saved = store.papers.save_sources([_items(done, now) for done in with_papers], now=now)
        except Exception:  # the database refusing one of them, or a bug: each alone below
            log.debug("storing %d sources at once failed", len(with_papers), exc_info=True)
        else:
            results = iter(saved)
            return [
                _store_read(done, store, now, tally, next(results) if _has_papers(done) else None)
                for done in reads
            ]
    return [_store_read(done, store, now, tally) for done in reads]


def _has_papers(done: _Read) -> bool:
    return done.failure is None and done.parsed is not None


def _items(done: _Read, now: datetime) -> list[tuple[Paper, Sighting]]:
    assert done.parsed is not None
    return [(entry.paper, _sighting(done.target, entry, now)) for entry in done.parsed.entries]


def _store_read(
    done: _Read, store: Store, now: datetime, tally: _Tally, saved: StoreResult | None = None
) -> SourceReport:
    """Store what one target gave (unless a batch `saved` it) and report on it; a failure
    to store fails this target."""
    target, parsed = done.target, done.parsed
    if done.failure is not None:
        return _failed(target, done.failure)
    if parsed is None:
        return _report(target, papers=0, warnings=("not modified since the last fetch",))
    try:
        result = saved if saved is not None else store.papers.save(_items(done, now), now=now)
        if done.validators is not None:
            # Only once the papers are stored: a run that dies before this fetches again.
            store.http_cache.remember(target.location, done.validators, now=now)
    except Exception as error:  # the database refusing this batch, or a bug: it fails alone
        log.debug("storing %s failed", target.location, exc_info=True)
        if isinstance(error, StoreError):
            return _failed(target, str(error))
        return _failed(target, f"internal error while storing: {error!r}")
    tally.new.update(result.new)
    tally.seen.update(result.seen_before)
    return _report(
        target,
        kind=parsed.kind,
        format=parsed.format,
        papers=len(parsed.entries),
        warnings=parsed.warnings,
    )


def _read(
    target: _Target,
    store: Store,
    settings: CollectSettings,
    now: datetime,
    client: Client | None,
    should_stop: Callable[[], bool],
) -> _Read:
    """The parsed document (none when the server says it has not changed) and, for a URL,
    the validators to remember for the next conditional GET."""
    location, kind = target.location, target.spec.kind
    if not is_url(location):
        return _Read(target, parse_document(_read_file(location), kind=kind, today=now.date()))
    fetched = fetch(
        location,
        store.http_cache.validators(location),
        timeout=settings.timeout,
        user_agent=settings.user_agent,
        client=client,
        should_stop=should_stop,
    )
    if fetched.content is None:
        return _Read(target)
    parsed = parse_document(fetched.content, kind=kind, today=now.date())
    return _Read(target, parsed, fetched.validators)


def _read_file(location: str) -> bytes:
    """A file's bytes, under the same cap as a download."""
    try:
        return read_regular_file(location, MAX_BYTES)
    except UnreadableFile as error:
        raise SourceError(error.cause) from None
    except OSError as error:
        raise SourceError(f"cannot read ({error.strerror})") from None


def _sighting(target: _Target, entry: Entry, now: datetime) -> Sighting:
    return Sighting(
        source=target.spec.name,
        # One file is one listing however it was named ("../seeds/a.txt" from one folder,
        # "/srv/seeds/a.txt" in the config): as given, it counted twice for trending.
        location=target.location if is_url(target.location) else os.path.realpath(target.location),
        position=entry.position,
        listed_on=entry.listed_on,
        seen_at=now,
        upvotes=entry.upvotes,
        announce_type=entry.announce_type,
    )


def _report(
    target: _Target,
    *,
    papers: int,
    kind: str | None = None,
    format: str = "",
    warnings: tuple[str, ...] = (),
    errors: tuple[str, ...] = (),
) -> SourceReport:
    return SourceReport(
        source=target.spec.name,
        location=target.location,
        kind=kind or target.spec.kind,
        format=format,
        papers=papers,
        warnings=warnings,
        errors=errors,
    )


def _failed(target: _Target, message: str) -> SourceReport:
    return _report(target, papers=0, errors=(message,))
