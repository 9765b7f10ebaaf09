"""From what people write in the config or on the command line to what ranking needs."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from digest.config import Settings, SubscriberSettings
from digest.errors import DigestError
from digest.models import Profile

_PHRASE_SEPARATOR = re.compile(r"[,;\n]+")


def split_interests(text: str) -> tuple[str, ...]:
    """Interest phrases from one text: "graph neural networks, link prediction"."""
    return tuple(phrase.strip() for phrase in _PHRASE_SEPARATOR.split(text) if phrase.strip())


def find_subscriber(settings: Settings, email: str) -> SubscriberSettings:
    """The configured subscriber with this address (case does not matter)."""
    for subscriber in settings.subscribers:
        if str(subscriber.email).lower() == email.lower():
            return subscriber
    known = ", ".join(str(subscriber.email) for subscriber in settings.subscribers) or "none"
    raise DigestError(f"no subscriber {email!r} in the config", hint=f"known: {known}")


def subscriber_profile(
    subscriber: SubscriberSettings, settings: Settings, delivered: frozenset[str]
) -> Profile:
    """A subscriber's profile, their own max_papers falling back to the digest's."""
    return Profile(
        name=str(subscriber.email),
        interests=subscriber.interests,
        exclude=subscriber.exclude,
        categories=subscriber.categories,
        exclude_categories=subscriber.exclude_categories,
        authors=subscriber.authors,
        max_papers=subscriber.max_papers or settings.digest.max_papers,
        min_score=subscriber.min_score,
        delivered=delivered,
    )


def interests_profile(text: str | None, settings: Settings) -> Profile:
    """A profile from interests typed on the command line; none means everything trending."""
    interests = split_interests(text or "")
    name = ", ".join(interests) if interests else "everything trending"
    return Profile(name=name, interests=interests, max_papers=settings.digest.max_papers)


def make_profile(
    settings: Settings,
    subscriber: SubscriberSettings | None,
    interests: str | None,
    delivered: frozenset[str],
    *,
    limit: int | None = None,
) -> Profile:
    """The profile to rank for: a configured subscriber's, else one from interests text."""
    if subscriber is not None:
        profile = subscriber_profile(subscriber, settings, delivered)
    else:
        profile = interests_profile(interests, settings)
    return replace(profile, max_papers=limit) if limit else profile


def edition_date(now: datetime, timezone: str) -> date:
    """Today's edition for a reader in `timezone`: the date it is there now."""
    return now.astimezone(ZoneInfo(timezone)).date()
