"""Signed tokens for the links in an email: each names one purpose, one address and,
for some purposes, one thing (a paper, an edition), and grants nothing else.

A token is `address.signature` or `address.subject.signature`, each part URL-safe
base64; the signature is an HMAC-SHA256 of the purpose, the address and the subject
under the list's secret. Nobody can make a token for another address, another paper or
another purpose without the secret. Secrets rotate: links are signed with the current
secret, and tokens signed with an earlier one are still accepted while it is listed, so
the links in last week's emails keep working after a change of secret.

Unsubscribe tokens have the shape of this project's first ones (no subject part, the
same signed text), so the links in every email already sent stay valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Purpose(StrEnum):
    """What a token may be used for, and nothing else."""

    UNSUBSCRIBE = "unsubscribe"
    RESUBSCRIBE = "resubscribe"
    VOTE = "vote"  # subject: the paper's id
    ONLINE = "online"  # subject: the edition's date


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified token allows: its purpose, for this address and subject."""

    purpose: Purpose
    email: str
    subject: str


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not text or any(not (char.isalnum() or char in "-_") for char in text):
        raise ValueError("not URL-safe base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(purpose: Purpose, email: str, subject: str, secret: str) -> bytes:
    message = f"{purpose.value}:{email}".encode()
    if subject:
        message += b"\0" + subject.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def sign(purpose: Purpose, email: str, secret: str, subject: str = "") -> str:
    """A URL-safe token granting `purpose` for `email` (and `subject`), signed with `secret`.

    Addresses are compared without case, so the token of ADA@x.org is that of ada@x.org.
    """
    email = email.lower()
    parts = [_encode(email.encode())]
    if subject:
        parts.append(_encode(subject.encode()))
    parts.append(_encode(_signature(purpose, email, subject, secret)))
    return ".".join(parts)


def verify(token: str, purpose: Purpose, secrets: Sequence[str]) -> Grant | None:
    """What `token` grants for `purpose` when one of `secrets` signed it; None otherwise
    (malformed, forged, signed for another purpose or with a retired secret)."""
    parts = token.split(".")
    if len(parts) not in (2, 3):
        return None
    try:
        email = _decode(parts[0]).decode()
        subject = _decode(parts[1]).decode() if len(parts) == 3 else ""
        given = _decode(parts[-1])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if email != email.lower():
        return None
    for secret in secrets:
        if hmac.compare_digest(given, _signature(purpose, email, subject, secret)):
            return Grant(purpose, email, subject)
    return None
