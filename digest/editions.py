"""Everything about one edition that comes from the config: footer, links, envelope."""

from __future__ import annotations

from datetime import date
from email.utils import parseaddr
from urllib.parse import urlencode

from digest.config import Settings
from digest.mail import Envelope, unsubscribe_mailto
from digest.render import Footer
from digest.tokens import unsubscribe_token


def unsubscribe_url(settings: Settings, recipient: str | None) -> str | None:
    """The https one-click unsubscribe link of a recipient, when an endpoint and a secret
    are configured; None otherwise."""
    endpoint, secret = settings.digest.unsubscribe_url, settings.digest.secret
    if not (endpoint and secret and recipient):
        return None
    token = unsubscribe_token(recipient, secret.get_secret_value())
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode({'token': token})}"


def footer(settings: Settings, recipient: str | None) -> Footer:
    """The footer every email carries: who sends it, how to manage or leave it."""
    name, address = parseaddr(settings.digest.sender)
    return Footer(
        sender_name=name or address,
        contact=settings.digest.contact,
        manage_url=settings.digest.manage_url,
        unsubscribe_url=unsubscribe_url(settings, recipient)
        or unsubscribe_mailto(settings.digest.sender),
    )


def envelope(
    settings: Settings, recipient: str | None, recipient_name: str | None, edition: date
) -> Envelope:
    """From the config's sender to the recipient; a preview without one goes to the sender."""
    to = recipient or parseaddr(settings.digest.sender)[1]
    return Envelope(
        sender=settings.digest.sender,
        recipient=to,
        recipient_name=recipient_name,
        edition=edition,
        unsubscribe_url=unsubscribe_url(settings, recipient),
    )
