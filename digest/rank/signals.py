"""What a candidate's sightings say regardless of who reads: trending, freshness, code.

Each signal is a number in [0, 1] and, when it is worth telling, a reason:

- trending: 0.3 * distinct sources (1 - 1/n) + 0.2 * listings (1 - 1/n)
  + 0.2 * best position (1 / (1 + log2 p), 1 for the top of a listing)
  + 0.3 * upvotes (log(1 + u) / log(1 + 1000), at most 1);
- freshness: halves every `HALF_LIFE_DAYS` since the paper was first seen;
- code: 1 when the paper links its code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from digest.models import Candidate
from digest.text import plural

HALF_LIFE_DAYS = 3.0
# Upvotes at which the upvote signal saturates.
UPVOTES_FULL = 1000
# Facts worth a reason: a paper this high in a listing, first seen this recently.
TOP_POSITION = 10
RECENT_DAYS = 7


@dataclass(frozen=True, slots=True)
class Signals:
    """The profile-independent signals of one candidate, and the reasons they give."""

    trending: float
    freshness: float
    code: float
    reasons: tuple[str, ...]


def _saturating(count: int) -> float:
    return 1.0 - 1.0 / count if count > 1 else 0.0


def trending(candidate: Candidate) -> float:
    """How much the listings push this paper, in [0, 1]."""
    position = candidate.best_position
    upvotes = max(candidate.upvotes or 0, 0)
    return (
        0.3 * _saturating(candidate.sources)
        + 0.2 * _saturating(candidate.listings)
        + 0.2 * (1.0 / (1.0 + math.log2(position)) if position and position >= 1 else 0.0)
        + 0.3 * min(1.0, math.log1p(upvotes) / math.log1p(UPVOTES_FULL))
    )


def age_days(candidate: Candidate, today: date) -> int:
    """Whole days since the paper was first seen (0 when seen today or later)."""
    return max(0, (today - candidate.first_seen.date()).days)


def freshness(candidate: Candidate, today: date) -> float:
    return float(0.5 ** (age_days(candidate, today) / HALF_LIFE_DAYS))


def signals(candidate: Candidate, today: date) -> Signals:
    return Signals(
        trending=trending(candidate),
        freshness=freshness(candidate, today),
        code=1.0 if candidate.paper.code_urls else 0.0,
        reasons=reasons(candidate, today),
    )


def reasons(candidate: Candidate, today: date) -> tuple[str, ...]:
    """The signals worth telling a reader, strongest kind first."""
    out = []
    if candidate.sources > 1:
        out.append(f"from {candidate.sources} sources")
    if candidate.listings > 1:
        out.append(f"in {candidate.listings} listings")
    if candidate.best_position is not None and 1 <= candidate.best_position <= TOP_POSITION:
        out.append(f"#{candidate.best_position} in a listing")
    if candidate.upvotes and candidate.upvotes > 0:
        out.append(plural(candidate.upvotes, "upvote"))
    if candidate.paper.code_urls:
        out.append("code available")
    age = age_days(candidate, today)
    if age == 0:
        out.append("new today")
    elif age == 1:
        out.append("first seen yesterday")
    elif age <= RECENT_DAYS:
        out.append(f"first seen {age} days ago")
    return tuple(out)
