"""Who an email is from and to, what its footer says, and how to leave the list: all from
the config, never from feed data."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from email.headerregistry import Address
from email.utils import parseaddr
from urllib.parse import quote

from digest.config import Settings
from digest.errors import DigestError


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who a message is from and to, and how to leave the list."""

    sender: str
    recipient: str
    recipient_name: str | None
    edition: date
    unsubscribe_url: str | None = None
    feedback_id: str | None = None


@dataclass(frozen=True, slots=True)
class Footer:
    """What every email's footer says."""

    sender_name: str
    contact: str
    manage_url: str | None
    unsubscribe_url: str


# One sender for a whole run, asked for three times per message (From, Message-ID,
# List-Unsubscribe): parse it once.
@functools.lru_cache(maxsize=16)
def sender_address(sender: str) -> Address:
    """The From address of a sender like "Paper Digest <digest@example.org>"."""
    name, address = parseaddr(sender)
    if "@" not in address:
        raise DigestError(f"digest.sender {sender!r} is not an email address")
    username, _, domain = address.rpartition("@")
    return Address(display_name=name, username=username, domain=domain)


def unsubscribe_mailto(sender: str) -> str:
    return f"mailto:{sender_address(sender).addr_spec}?subject={quote('unsubscribe')}"


def footer(settings: Settings, unsubscribe: str | None) -> Footer:
    """The footer every email carries: who sends it, how to manage or leave it (the
    one-click link `unsubscribe`, else a mailto to the sender)."""
    name, address = parseaddr(settings.digest.sender)
    return Footer(
        sender_name=name or address,
        contact=settings.digest.contact,
        manage_url=settings.digest.manage_url,
        unsubscribe_url=unsubscribe or unsubscribe_mailto(settings.digest.sender),
    )


# Where a preview without a reader is addressed when the sender's own address will not do:
# a reserved domain (RFC 2606) that no mail can reach.
PREVIEW_RECIPIENT = "preview@example.invalid"


def preview_recipient(sender: str) -> str:
    """The To of a preview that has no reader: the sender's address when its domain is a
    dotted one, else `PREVIEW_RECIPIENT`. The default sender, digest@localhost, is no
    address a mail filter accepts in To (SpamAssassin's TO_MALFORMED)."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2]
    labels = domain.split(".")
    if "@" in address and len(labels) > 1 and all(labels) and domain.isascii():
        return address
    return PREVIEW_RECIPIENT


def envelope(
    settings: Settings,
    recipient: str | None,
    recipient_name: str | None,
    edition: date,
    unsubscribe: str | None,
) -> Envelope:
    """From the config's sender to the recipient, with the one-click link `unsubscribe`;
    a preview without one goes to `preview_recipient`."""
    to = recipient or preview_recipient(settings.digest.sender)
    return Envelope(
        sender=settings.digest.sender,
        recipient=to,
        recipient_name=recipient_name,
        edition=edition,
        unsubscribe_url=unsubscribe,
        feedback_id=settings.digest.feedback_id,
    )
