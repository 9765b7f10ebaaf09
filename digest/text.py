"""Turning whatever a source sends into clean, readable text."""

from __future__ import annotations

import codecs
import html
import re

# The byte order mark some editors put before UTF-8 text.
UTF8_BOM = b"\xef\xbb\xbf"
# The marks that name the other Unicode encodings, UTF-32 first: its little-endian mark begins
# with UTF-16's. The codecs named read the mark and drop it.
_UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# An unclosed comment, script or style (even one whose start tag never ends) runs to the end
# of the text, as in a browser, so it is scanned once. When it failed to match instead, every
# opener after it scanned the rest of the text again: 200 KB of "<!--" took two minutes.
_COMMENT = r"<!--.*?(?:-->|\Z)"
# Only things shaped like real tags: "n_l <= n" or "a < b" in an abstract stay text.
_TAG = re.compile(rf"{_COMMENT}|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>", re.DOTALL)
# Their content is code, never text worth reading (feedparser leaves it in plain-text fields).
_SCRIPT_OR_STYLE = re.compile(
    r"<(script|style)\b[^>]*(?:>.*?(?:</\1\s*>|\Z)|\Z)", re.IGNORECASE | re.DOTALL
)
_GITHUB = re.compile(r"github\.com/([\w.-]+)/([\w.-]+)", re.IGNORECASE)
# Path parts of github.com that are not an owner.
_NOT_OWNERS = frozenset({"features", "about", "pricing", "orgs", "topics", "sponsors", "login"})
# No count or version a source means is longer; int() refuses past 4,300 digits.
_LONGEST_NUMBER = 20
_TOO_LONG_NUMBER = 10**20
# What a header cannot carry: C0 and C1 controls, and the Unicode line and paragraph
# separators. Format characters (a zero-width joiner, a no-break space) are text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def unicode_bom_encoding(data: bytes) -> str | None:
    """ "utf-16" or "utf-32" when `data` starts with that encoding's byte order mark, else None
    (the UTF-8 mark included: UTF-8 is read as such anyway)."""
    return next((encoding for bom, encoding in _UNICODE_BOMS if data.startswith(bom)), None)


def fold_whitespace(text: str) -> str:
    """Collapse every run of whitespace to one space and trim the ends."""
    return " ".join(text.split())


def describe_error(error: BaseException, limit: int | None = None) -> str:
    """An exception's message on one line (at most `limit` characters), or its type's name
    when it has none."""
    return fold_whitespace(str(error))[:limit] or type(error).__name__


def parse_integer(digits: str) -> int:
    """The integer a string of ASCII digits spells, with an optional sign.

    One longer than 20 digits reads as 10**20 (with its sign): too large for any check
    downstream to keep, and no error however long it is.
    """
    sign = -1 if digits.startswith("-") else 1
    significant = digits.lstrip("+-").lstrip("0")
    if len(significant) > _LONGEST_NUMBER:
        return sign * _TOO_LONG_NUMBER
    return sign * int(significant or "0")


def plural(count: int, noun: str) -> str:
    """'1 paper', '3 papers'."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def clean_text(markup: str) -> str:
    """Plain text from HTML or text: scripts and tags dropped, entities decoded, whitespace
    folded. Entities are decoded after the tags are gone, so escaped markup stays as text.

    A comment, script or style never closed hides the rest of the text. Time is linear in the
    length of the text, whatever it holds."""
    if "<" in markup:
        markup = _TAG.sub(" ", _SCRIPT_OR_STYLE.sub(" ", markup))
    if "&" in markup:
        markup = html.unescape(markup)
    return fold_whitespace(markup)


def code_urls(text: str) -> tuple[str, ...]:
    """The GitHub repositories a text links to, as https URLs, in order, without repeats."""
    # A case-insensitive pattern scans slowly; most abstracts name no repository at all.
    if "github.com" not in text.lower():
        return ()
    found: dict[str, None] = {}
    for owner, repo in _GITHUB.findall(text):
        repo = repo.rstrip(".")
        if repo.endswith(".git"):
            repo = repo[:-4]
        if owner.lower() in _NOT_OWNERS or not repo:
            continue
        found.setdefault(f"https://github.com/{owner}/{repo}", None)
    return tuple(found)


def has_control(text: str) -> bool:
    """Whether `text` holds a line break or another control character (`_CONTROL`)."""
    return _CONTROL.search(text) is not None
