"""Subscribers as the stages need them: every per-subscriber value resolved once.

A subscriber's own setting wins over the digest's default (time zone, send time,
frequency, max papers); nothing downstream looks at the defaults again. Interests typed
on the command line make a profile of their own, without a subscriber.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import get_args
from zoneinfo import ZoneInfo

from digest.config import Settings, SubscriberSettings, Weekday, wire_address
from digest.errors import NotConfigured
from digest.models import Profile
from digest.rank.votes import vote_key

_PHRASE_SEPARATOR = re.compile(r"[,;\n]+")
WEEKDAYS = get_args(Weekday)  # in date.weekday() order
# A weekly edition ranks at least this many days of candidates: the week since the last.
WEEK_DAYS = 7


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One configured subscriber with the digest's defaults filled in."""

    email: str
    name: str | None
    interests: tuple[str, ...]
    exclude: tuple[str, ...]
    categories: tuple[str, ...]
    exclude_categories: tuple[str, ...]
    authors: tuple[str, ...]
    likes: tuple[str, ...]
    dislikes: tuple[str, ...]
    max_papers: int
    min_score: float
    send_empty: bool
    timezone: str
    send_at: str
    weekday: str | None  # the day of a weekly digest; None for a daily one

    def edition(self, now: datetime) -> date:
        """Today's edition for this subscriber: the date it is where they live."""
        return edition_date(now, self.timezone)

    def due(self, edition: date) -> bool:
        """Whether this subscriber gets the edition of that date: every day for a daily
        digest, only on their weekday for a weekly one."""
        return self.weekday is None or WEEKDAYS.index(self.weekday) == edition.weekday()

    def candidate_days(self, days: int) -> int:
        """How many days of candidates this subscriber's edition ranks: the digest's
        `candidate_days`, or for a weekly digest the week since the last one."""
        return days if self.weekday is None else max(days, WEEK_DAYS)

    def profile(
        self,
        delivered: frozenset[str] = frozenset(),
        likes: Iterable[str] = (),
        dislikes: Iterable[str] = (),
    ) -> Profile:
        """What ranking needs of this subscriber, less the papers they already received.

        `likes` and `dislikes` are votes beyond the config's (those cast by mail or on the
        web): both count, the config's first, each paper once. A paper both liked and
        disliked counts as the later vote says: a vote given here beats the config's.
        """
        given_likes, given_dislikes = tuple(likes), tuple(dislikes)
        # Compared by the paper each names: the config says "2501.00002", a vote cast on
        # the web "arxiv:2501.00002", and both are one paper.
        liked = _merged(self.likes, given_likes, overruled_by=given_dislikes)
        disliked = _merged(self.dislikes, given_dislikes, overruled_by=given_likes)
        return Profile(
            name=self.email,
            interests=self.interests,
            exclude=self.exclude,
            categories=self.categories,
            exclude_categories=self.exclude_categories,
            authors=self.authors,
            max_papers=self.max_papers,
            min_score=self.min_score,
            delivered=delivered,
            likes=liked,
            dislikes=disliked,
        )


def _merged(
    configured: tuple[str, ...], given: tuple[str, ...], *, overruled_by: tuple[str, ...]
) -> tuple[str, ...]:
    """The configured votes then the given ones, each paper once, less the configured ones
    a later opposite vote overrules."""
    overruled = {vote_key(vote) or vote for vote in overruled_by}
    kept: dict[str, str] = {}
    for vote in (*configured, *given):
        key = vote_key(vote) or vote
        if key not in kept and not (vote in configured and key in overruled):
            kept[key] = vote
    return tuple(kept.values())


def resolve(subscriber: SubscriberSettings, settings: Settings) -> Subscriber:
    """A configured subscriber, their own settings falling back to the digest's."""
    defaults = settings.digest
    frequency = subscriber.frequency or defaults.frequency
    return Subscriber(
        email=str(subscriber.email),
        name=subscriber.name,
        interests=subscriber.interests,
        exclude=subscriber.exclude,
        categories=subscriber.categories,
        exclude_categories=subscriber.exclude_categories,
        authors=subscriber.authors,
        likes=subscriber.likes,
        dislikes=subscriber.dislikes,
        max_papers=subscriber.max_papers or defaults.max_papers,
        min_score=subscriber.min_score,
        send_empty=subscriber.send_empty,
        timezone=subscriber.timezone or defaults.timezone,
        send_at=subscriber.send_at or defaults.send_at,
        weekday=(subscriber.weekday or defaults.weekday) if frequency == "weekly" else None,
    )


def all_subscribers(settings: Settings) -> tuple[Subscriber, ...]:
    """Every configured subscriber, in the order of the config."""
    return tuple(resolve(subscriber, settings) for subscriber in settings.subscribers)


def find_subscriber(settings: Settings, email: str) -> Subscriber:
    """The configured subscriber with this address (case does not matter, nor whether
    an internationalized domain is written in Unicode or in its ASCII form)."""
    wanted = wire_address(email.strip()).lower()
    for subscriber in settings.subscribers:
        if str(subscriber.email).lower() == wanted:
            return resolve(subscriber, settings)
    raise NotConfigured(f"no subscriber {email!r} in the config", hint="`digest check` counts them")


def split_interests(text: str) -> tuple[str, ...]:
    """Interest phrases from one text: "graph neural networks, link prediction"."""
    return tuple(phrase.strip() for phrase in _PHRASE_SEPARATOR.split(text) if phrase.strip())


def interests_profile(text: str | None, *, max_papers: int) -> Profile:
    """A profile from interests typed on the command line; none means everything trending."""
    interests = split_interests(text or "")
    name = ", ".join(interests) if interests else "everything trending"
    return Profile(name=name, interests=interests, max_papers=max_papers)


def edition_date(now: datetime, timezone: str) -> date:
    """Today's edition for a reader in `timezone`: the date it is there now."""
    return now.astimezone(ZoneInfo(timezone)).date()
