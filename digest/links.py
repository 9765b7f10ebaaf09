"""The links an email carries to `digest serve`, and the paths the server answers at.

One place decides both, so the server always answers the links the emails carry:
digest.public_url names where `digest serve` is reached, and every link starts with it;
digest.unsubscribe_url, when set, moves the one-click unsubscribe link elsewhere (the
server then answers at that path too). Each link carries a token for one purpose (see
`digest.tokens`), signed with the current secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal
from urllib.parse import urlencode, urlsplit

from digest.config import DigestSettings
from digest.tokens import Purpose, sign

Vote = Literal["more", "less"]
VOTES: tuple[Vote, ...] = ("more", "less")


@dataclass(frozen=True, slots=True)
class Paths:
    """The path of each page `digest serve` answers."""

    unsubscribe: str
    resubscribe: str
    vote: str
    online: str


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def _with_query(url: str, **params: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode(params)}"


def _secret(digest: DigestSettings) -> str | None:
    return None if digest.secret is None else digest.secret.get_secret_value()


def _unsubscribe_endpoint(digest: DigestSettings) -> str | None:
    if digest.unsubscribe_url:
        return digest.unsubscribe_url
    return _join(digest.public_url, "unsubscribe") if digest.public_url else None


def paths(digest: DigestSettings) -> Paths:
    """Where the server answers: the paths of the configured links ("/" when none is)."""
    base = urlsplit(digest.public_url or "http://127.0.0.1/").path
    unsubscribe = _unsubscribe_endpoint(digest)
    return Paths(
        unsubscribe=urlsplit(unsubscribe).path if unsubscribe else _join(base, "unsubscribe"),
        resubscribe=_join(base, "resubscribe"),
        vote=_join(base, "vote"),
        online=_join(base, "online"),
    )


def unsubscribe_url(digest: DigestSettings, email: str | None) -> str | None:
    """The one-click unsubscribe link (RFC 8058) of `email`; None without an endpoint and
    a secret, or without a recipient (a preview)."""
    endpoint, secret = _unsubscribe_endpoint(digest), _secret(digest)
    if not (endpoint and secret and email):
        return None
    return _with_query(endpoint, token=sign(Purpose.UNSUBSCRIBE, email, secret))


def resubscribe_path(digest: DigestSettings, email: str) -> str | None:
    """The resubscribe form's action for `email`, relative to the server (it is only ever
    shown on the server's own confirmation page)."""
    secret = _secret(digest)
    if secret is None:
        return None
    return _with_query(paths(digest).resubscribe, token=sign(Purpose.RESUBSCRIBE, email, secret))


def vote_urls(digest: DigestSettings, email: str, paper_id: str) -> dict[Vote, str] | None:
    """The "more like this" and "less like this" links of one paper for `email`."""
    secret = _secret(digest)
    if not (digest.public_url and secret):
        return None
    token = sign(Purpose.VOTE, email, secret, subject=paper_id)
    endpoint = _join(digest.public_url, "vote")
    return {vote: _with_query(endpoint, token=token, vote=vote) for vote in VOTES}


def online_url(digest: DigestSettings, email: str, edition: date) -> str | None:
    """The "view in browser" link of `email`'s copy of an edition."""
    secret = _secret(digest)
    if not (digest.public_url and secret):
        return None
    token = sign(Purpose.ONLINE, email, secret, subject=edition.isoformat())
    return _with_query(_join(digest.public_url, "online"), token=token)
