"""One reader's email of an edition: rendered, and wrapped in the message that carries it."""

from __future__ import annotations

from datetime import date, datetime
from email.message import EmailMessage

from digest.config import Settings
from digest.mail import envelope
from digest.mail.message import build_message
from digest.mail.render import Digest, RenderedEmail, Renderer
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
) -> tuple[RenderedEmail, EmailMessage]:
    """The email and its message, DKIM-signed when a signer is given; without a recipient
    (a preview), to the sender."""
    rendered = renderer.render(
        Digest(
            edition=edition,
            recipient_name=name,
            recipient_email=recipient,
            interests=interests,
            picks=picks,
        ),
        envelope.footer(settings, recipient),
    )
    message = build_message(
        envelope.envelope(settings, recipient, name, edition),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        now=now,
    )
    if signer is not None:
        signer.sign(message)
    return rendered, message
