"""Identity of a paper: the keys under which the same paper from any source meets itself."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

from digest.models import Paper
from digest.text import parse_integer

# New-style ids (since 2007): 0704.0001, 2508.13167; old style: math/0502287, hep-th/9901001.
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7}"
_ID_WITH_VERSION = rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?"
_BARE = re.compile(rf"{_ID_WITH_VERSION}")
# An id is only trusted where something says it is an arXiv id.
_MARKED = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf|html)/|oai:arxiv\.org:|arxiv:\s*){_ID_WITH_VERSION}",
    re.IGNORECASE,
)
# Paper pages keyed by arXiv id (huggingface.co/papers/ID, tldr.takara.ai/p/ID, ...).
_PAGE_SEGMENT = re.compile(rf"/(?P<id>{_NEW_ID})(?:v(?P<version>\d+))?/?(?:[?#].*)?$")

_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?|\\.")
_NOT_WORD = re.compile(r"[^\w]+")
# ASCII letters lower-cased and digits kept; every other byte becomes a space.
_ASCII_FOLD = bytes(
    byte + 32 if 65 <= byte <= 90 else byte if 97 <= byte <= 122 or 48 <= byte <= 57 else 32
    for byte in range(256)
)
_DOI = re.compile(r"10\.\d{4,9}/\S+")
_ANY_ID = re.compile(rf"{_NEW_ID}|{_OLD_ID}")
_NEW_STYLE_ID = re.compile(_NEW_ID)


def _split(match: re.Match[str]) -> tuple[str, int | None]:
    version = match.group("version")
    return match.group("id"), parse_integer(version) if version else None


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """The arXiv id and version that `text` names, or None.

    Accepts a bare id ("2508.13167v2", "math/0502287") or any text where the id
    is marked as arXiv's: "arXiv:2508.13167v1", "oai:arXiv.org:...", an
    arxiv.org/abs or /pdf URL.
    """
    text = text.strip()
    bare = _BARE.fullmatch(text)
    if bare:
        return _split(bare)
    marked = _MARKED.search(text)
    return _split(marked) if marked else None


def is_arxiv_id(text: str) -> bool:
    """Whether `text` is an arXiv id without version, new style or old."""
    return _ANY_ID.fullmatch(text) is not None


def is_new_style_arxiv_id(text: str) -> bool:
    """Whether `text` is a new-style arXiv id ("2508.13167"), as used since 2007."""
    return _NEW_STYLE_ID.fullmatch(text) is not None


def arxiv_id_from_page_url(url: str) -> tuple[str, int | None] | None:
    """The arXiv id of a paper page whose last path segment is a new-style arXiv id."""
    found = parse_arxiv_id(url)
    if found:
        return found
    segment = _PAGE_SEGMENT.search(url)
    return _split(segment) if segment else None


def normalize_doi(text: str) -> str | None:
    """A DOI in its canonical lower-case form, from a bare DOI, `doi:` or a doi.org URL."""
    found = _DOI.search(text)
    return found.group(0).rstrip(".,;").lower() if found else None


def normalize_title(title: str) -> str:
    """The comparable form of a title: Unicode, case, LaTeX, punctuation and spacing folded."""
    text = title
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in text if not unicodedata.combining(char))
    if "\\" in text or "$" in text:
        text = _LATEX_COMMAND.sub(" ", text.replace("$", " "))
    if text.isascii():  # most titles: a byte table folds them far faster than a regex
        return " ".join(text.encode().translate(_ASCII_FOLD).decode().split())
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).replace("_", " ").split())


def title_key(title: str) -> str:
    """The identity key of a title: a short hash of its normalized form without spaces.

    Without spaces, so that the same title hyphenated or spaced another way is one key:
    "Pre-training" and "Pretraining", "Graph-LSTMs" and "Graph LSTMs". Every word and
    its order still count, so two papers sharing a long prefix keep two keys.
    """
    return _title_key(normalize_title(title))


def _title_key(normalized: str) -> str:
    compact = normalized.replace(" ", "")
    return f"title:{hashlib.blake2b(compact.encode(), digest_size=8).hexdigest()}"


# The longest identity key the store holds (its key columns are 200 characters on
# PostgreSQL). Only a DOI can pass it: arXiv ids are short and title keys are hashes.
MAX_KEY_LENGTH = 200
MAX_DOI_LENGTH = MAX_KEY_LENGTH - len("doi:")


def identity_keys(paper: Paper) -> tuple[str, ...]:
    """Every key this paper can be found under, strongest first."""
    keys = []
    if paper.arxiv_id:
        keys.append(f"arxiv:{paper.arxiv_id}")
    if paper.doi:
        keys.append(f"doi:{paper.doi}")
    normalized = normalize_title(paper.title)
    if normalized:
        keys.append(_title_key(normalized))
    return tuple(keys)


_KEY_RANK = {"arxiv": 0, "doi": 1, "title": 2}


def strongest_key(keys: Iterable[str]) -> str:
    """The key that names a paper best: an arXiv id, else a DOI, else the first title key."""
    return min(keys, key=lambda key: _KEY_RANK[key.partition(":")[0]])


def canonical_id(paper: Paper) -> str:
    """The stable id of a paper: arXiv id, else DOI, else a hash of its normalized title."""
    keys = identity_keys(paper)
    if not keys:
        raise ValueError(f"paper has no identity: {paper.title!r}")
    return keys[0]
