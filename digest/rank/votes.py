"""What a like or a dislike names: one paper, by any id a reader can copy.

A vote is written as an arXiv id with or without version ("2508.13167v2",
"arXiv:2508.13167", an arxiv.org link), a DOI ("10.1145/3292500.3330919", "doi:...", a
doi.org link), or a paper id as `digest rank --json` prints it ("arxiv:...", "doi:...",
"title:<16 hex digits>"). Each becomes the identity key the paper is stored under
(`digest.identity`), so the same paper liked by its DOI and seen by its arXiv id still
meets itself wherever the pool or the store knows both. Pure, and light to import: the
config validates votes with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from digest.identity import normalize_doi, parse_arxiv_id

_TITLE_KEY = re.compile(r"title:[0-9a-f]{16}")
_DOI = re.compile(r"(?:doi:\s*|https?://(?:dx\.)?doi\.org/)?10\.\d{4,9}/\S+", re.IGNORECASE)


def vote_key(text: str) -> str | None:
    """The identity key a vote names, or None when it names no paper."""
    text = text.strip()
    if _TITLE_KEY.fullmatch(text):
        return text
    if _DOI.fullmatch(text):
        return f"doi:{normalize_doi(text)}"
    arxiv = parse_arxiv_id(text)
    return f"arxiv:{arxiv[0]}" if arxiv is not None else None


def check_vote(text: str) -> str:
    """A vote as written, if it names a paper; else ValueError saying what it should be."""
    if vote_key(text) is None:
        raise ValueError(
            f"{text!r} names no paper: give an arXiv id (2508.13167), a DOI "
            "(10.1145/...) or a paper id as `digest rank --json` prints it"
        )
    return text


def vote_keys(votes: Iterable[str]) -> tuple[str, ...]:
    """The distinct keys of votes, in their order; votes naming no paper are left out."""
    keys = (vote_key(vote) for vote in votes)
    return tuple(dict.fromkeys(key for key in keys if key is not None))


def contradiction(likes: Iterable[str], dislikes: Iterable[str]) -> str | None:
    """The first paper (its key) that both `likes` and `dislikes` name, if any: one voice
    cannot say both of one paper."""
    disliked = set(vote_keys(dislikes))
    return next((key for key in vote_keys(likes) if key in disliked), None)
