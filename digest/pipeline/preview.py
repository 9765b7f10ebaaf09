"""A preview: one reader's email rendered as it would be sent, and sent nowhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from digest.config import Settings
from digest.mail.compose import compose
from digest.mail.render import RenderedEmail, Renderer
from digest.mail.signing import signer_for
from digest.pipeline.pick import Picks, pick_papers
from digest.subscribers import Subscriber


@dataclass(frozen=True, slots=True)
class Preview:
    """The picks of one reader's edition, the email they make, and the complete message
    as it would go on the wire (CRLF line endings)."""

    picks: Picks
    email: RenderedEmail
    message: bytes


def preview(
    settings: Settings,
    *,
    sources: Sequence[str],
    subscriber: Subscriber | None,
    interests: str | None,
    edition: date | None,
    now: datetime,
) -> Preview:
    """Pick the reader's papers (`pick_papers`), render them and build the message."""
    renderer = Renderer.load(settings.digest.templates)
    picks = pick_papers(
        settings,
        sources=sources,
        subscriber=subscriber,
        interests=interests,
        edition=edition,
        now=now,
    )
    rendered, message = compose(
        renderer,
        settings,
        edition=picks.edition,
        recipient=subscriber.email if subscriber else None,
        name=subscriber.name if subscriber else None,
        interests=picks.profile.interests,
        picks=picks.papers,
        now=now,
        signer=signer_for(settings),
    )
    return Preview(picks, rendered, message.data)
