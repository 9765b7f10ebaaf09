"""One reader's email of an edition: rendered, and wrapped in the message that carries it."""

from __future__ import annotations

from datetime import date, datetime

from digest import links
from digest.config import Settings
from digest.mail import envelope
from digest.mail.message import WireMessage, build_message
from digest.mail.render import Digest, RenderedEmail, Renderer, Votes
from digest.mail.signing import DkimSigner
from digest.models import ScoredPaper


def compose(
    renderer: Renderer,
    settings: Settings,
    *,
    edition: date,
    recipient: str | None,
    name: str | None,
    interests: tuple[str, ...],
    picks: tuple[ScoredPaper, ...],
    now: datetime,
    signer: DkimSigner | None = None,
) -> tuple[RenderedEmail, WireMessage]:
    """The email and its message as it goes on the wire, DKIM-signed when a signer is
    given; without a recipient (a preview), to a placeholder address and without the
    reader's links (view in browser, votes)."""
    # Signed once, for both the footer and the List-Unsubscribe header.
    unsubscribe = links.unsubscribe_url(settings.digest, recipient)
    rendered = renderer.render(
        Digest(
            edition=edition,
            recipient_name=name,
            recipient_email=recipient,
            interests=interests,
            picks=picks,
            online_url=links.online_url(settings.digest, recipient, edition) if recipient else None,
            votes=_votes(settings, recipient),
        ),
        envelope.footer(settings, unsubscribe),
    )
    message = build_message(
        envelope.envelope(settings, recipient, name, edition, unsubscribe),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        now=now,
    )
    if signer is not None:
        message = signer.sign(message)
    return rendered, message


def _votes(settings: Settings, recipient: str | None) -> Votes | None:
    """The reader's "more / less like this" links of a paper, signed as its card is made."""
    if recipient is None or not settings.digest.public_url:
        return None

    def pair(paper_id: str) -> tuple[str, str] | None:
        urls = links.vote_urls(settings.digest, recipient, paper_id)
        return (urls["more"], urls["less"]) if urls else None

    return pair
