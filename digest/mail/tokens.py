"""Signed per-subscriber tokens for unsubscribe links: whoever holds one may unsubscribe
that address, and nobody can make one for another address without the secret."""

from __future__ import annotations

import base64
import hashlib
import hmac


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(email: str, secret: str) -> bytes:
    message = b"unsubscribe:" + email.lower().encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def unsubscribe_token(email: str, secret: str) -> str:
    """A URL-safe token naming `email`, signed with `secret`."""
    return f"{_encode(email.lower().encode())}.{_encode(_signature(email, secret))}"


def verify_unsubscribe_token(token: str, secret: str) -> str | None:
    """The address a token names, or None when it was not signed with `secret`."""
    encoded, _, signature = token.partition(".")
    try:
        email = _decode(encoded).decode()
        given = _decode(signature)
    except (ValueError, UnicodeDecodeError):
        return None
    return email if hmac.compare_digest(given, _signature(email, secret)) else None
