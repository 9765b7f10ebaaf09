"""Email messages as they are sent: headers from the config, parts from the renderer.

Built with the standard `email` package under `email.policy.SMTP`: CRLF line endings,
quoted-printable parts (MJML's HTML has very long lines, and a strict server answers
"500 Line too long" past 998 bytes), multipart/alternative with the text part first.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime

from digest.errors import DigestError
from digest.mail.envelope import Envelope, sender_address, unsubscribe_mailto

# The longest unsubscribe link a header line holds (998 octets, less the header's name).
MAX_LINK_LENGTH = 970
# How messages go on the wire: SMTP's policy, but a header set raw (List-Unsubscribe,
# folded by us) is sent as it is, never refolded and RFC 2047-encoded.
WIRE = SMTP.clone(refold_source="none")


def message_id(envelope: Envelope) -> str:
    """The same Message-ID for the same (subscriber, edition): a resend is the same message."""
    key = f"{envelope.recipient.lower()}\n{envelope.edition.isoformat()}".encode()
    digest = hashlib.sha256(key).hexdigest()[:24]
    domain = sender_address(envelope.sender).domain
    return f"<digest.{envelope.edition:%Y%m%d}.{digest}@{domain}>"


def build_message(
    envelope: Envelope, *, subject: str, text: str, html: str, now: datetime
) -> EmailMessage:
    """The complete message for one subscriber's edition."""
    sender = sender_address(envelope.sender)
    message = EmailMessage(policy=WIRE)
    message["From"] = sender
    message["To"] = Address(
        display_name=envelope.recipient_name or "",
        addr_spec=envelope.recipient,
    )
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(envelope)
    if envelope.feedback_id:
        message["Feedback-ID"] = envelope.feedback_id
    message["List-Id"] = f"{sender.display_name or 'Paper Digest'} <digest.{sender.domain}>"
    links = [f"<{unsubscribe_mailto(envelope.sender)}>"]
    if envelope.unsubscribe_url:
        links.insert(0, f"<{envelope.unsubscribe_url}>")  # RFC 8058: the https link first
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Raw, folded only between the links: the policy would fold at 78 columns and RFC 2047-
    # encode a longer word, and a token URL is longer; mail clients then find no link.
    message.set_raw("List-Unsubscribe", ",\r\n ".join(_fits_a_line(link) for link in links))
    # Parts built apart and attached: set_content() then add_alternative() would leave a
    # second MIME-Version header inside the text part.
    message["MIME-Version"] = "1.0"
    message.make_alternative()
    # typeshed wants EmailMessage parts; any MIMEPart is what the email package takes.
    message.attach(_part(text, "plain"))  # type: ignore[arg-type]
    message.attach(_part(html, "html"))  # type: ignore[arg-type]
    return message


def _fits_a_line(link: str) -> str:
    # SMTP's limit for a line, less "List-Unsubscribe: " and the separator.
    if len(link) > MAX_LINK_LENGTH or not (link.isascii() and link.isprintable()):
        raise DigestError(
            f"unsubscribe link {link[:60]!r}... is not one line of at most "
            f"{MAX_LINK_LENGTH} printable ASCII characters",
            "use a shorter digest.unsubscribe_url",
        )
    return link


def _part(content: str, subtype: str) -> MIMEPart:
    part = MIMEPart(policy=SMTP)
    part.set_content(content, subtype=subtype, charset="utf-8", cte="quoted-printable")
    return part
