"""Text and links from untrusted sources made fit to show: pure functions, no markup.

Escaping is the templates' job (Jinja autoescaping for HTML); these functions make the
text readable first: entities decoded, LaTeX turned into Unicode, invisible and control
characters dropped, Unicode composed (NFC), whitespace folded, lengths cut at sentence
or word boundaries.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from urllib.parse import quote_plus, urlsplit

from digest.identity import is_arxiv_id, is_new_style_arxiv_id
from digest.mail.latex import latex_to_unicode
from digest.models import Paper
from digest.text import fold_whitespace

ELLIPSIS = "…"
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# Control, format (zero-width, bidi overrides, BOM) and surrogate code points: never shown.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs"})
# Format characters that are spelling: the zero-width non-joiner of Persian and the
# Indic scripts, and the joiner of emoji sequences (👩‍🔬) and of Indic conjuncts.
_JOINERS = frozenset({"\u200c", "\u200d"})
# More than two combining marks on one letter is decoration ("Zalgo" text), not language.
_STACKED_MARKS = re.compile(
    r"([\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]{2})[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+"
)
_SENTENCE_END = re.compile(r"[.!?](?=\s+[^a-z\s])")
# Words of a title worth searching for: punctuation and markup left out.
_SEARCH_WORD = re.compile(r"[^\W_](?:[\w'-]*[^\W_])?")
# A search link indented in the text part stays within 100 columns.
SEARCH_QUERY_LIMIT = 45
# The longest title and author name an email shows (arXiv's longest titles run to about
# 250 characters): one source's 10,000-character title would take every other paper's
# room in the size budget, and the reader's screen.
TITLE_LIMIT = 300
NAME_LIMIT = 80
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|al|vs|cf|Fig|Figs|Eq|Eqs|Sec|No|approx)|\b[A-Z])$"
)


# Pure and called with the same papers for many subscribers: worth remembering.
@functools.lru_cache(maxsize=8192)
def clean(text: str | None) -> str:
    """Readable one-line text from a source's field: entities decoded, LaTeX turned into
    Unicode, control and invisible characters dropped, NFC, whitespace folded."""
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(text)
    if not text.isprintable():
        text = "".join(_visible(char) for char in text)
    text = latex_to_unicode(unicodedata.normalize("NFD", text))
    return fold_whitespace(unicodedata.normalize("NFC", _STACKED_MARKS.sub(r"\1", text)))


def _visible(char: str) -> str:
    if char.isspace():
        return " "
    if char in _JOINERS:
        return char
    return "" if unicodedata.category(char) in _INVISIBLE else char


def cut(text: str, limit: int) -> str:
    """`text` of at most `limit` characters, cut at a word with "…" when too long."""
    if len(text) <= limit:
        return text
    room = text[: _cluster_start(text, limit - 1)]
    space = room.rfind(" ")
    if space > limit // 2:
        room = room[:space]
    return room.rstrip(" ,;:-\u2013\u2014") + ELLIPSIS


def _cluster_start(text: str, at: int) -> int:
    """`at`, moved back to where the character cluster around it starts: a cut there
    never leaves half an emoji sequence (a joiner before "…"), a flag's first half or a
    letter without its accents."""
    while at > 0 and (_continues(text[at]) or text[at - 1] == "\u200d"):
        at -= 1
    # Regional indicators pair into flags from the left: an odd run before `at` is half.
    run = at
    while run > 0 and _is_regional_indicator(text[run - 1]):
        run -= 1
    if (at - run) % 2 and _is_regional_indicator(text[at]):
        at -= 1
    return at


def _continues(char: str) -> bool:
    """Whether `char` belongs with the character before it: a combining mark, a joiner,
    a variation selector, a skin tone or an emoji tag."""
    point = ord(char)
    return (
        unicodedata.combining(char) != 0
        or unicodedata.category(char) in ("Mn", "Me", "Mc")
        or point == 0x200D
        or 0xFE00 <= point <= 0xFE0F
        or 0x1F3FB <= point <= 0x1F3FF
        or 0xE0020 <= point <= 0xE007F
        or 0xE0100 <= point <= 0xE01EF
    )


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def excerpt(text: str, limit: int) -> str:
    """The start of `text`, about `limit` characters: cut after the last sentence that
    fits (when that keeps at least half), else at a word, and marked with "…". A limit
    of 0 or less gives ""."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    ends = [
        match.end()
        for match in _SENTENCE_END.finditer(text, 0, limit)
        if not _ABBREVIATION.search(text, 0, match.start())
    ]
    if ends and ends[-1] >= limit // 2:
        return text[: ends[-1]] + " " + ELLIPSIS
    return cut(text, limit)


def short_authors(authors: Sequence[str], shown: int = 3) -> str:
    """Author names for a byline: all of them up to `shown` + 1, else the first `shown`
    and how many more ("A. One, B. Two, C. Three, +7")."""
    names = [cut(name, NAME_LIMIT) for name in (clean(author) for author in authors) if name]
    if len(names) <= shown + 1:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f", +{len(names) - shown}"


def long_date(day: date) -> str:
    """'Saturday, 21 November 2026', the same in every locale."""
    return f"{_WEEKDAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


def short_date(day: date, *, year: bool = False) -> str:
    """'21 Nov', or with `year` '21 Nov 2026'."""
    short = f"{day.day} {_MONTHS[day.month - 1][:3]}"
    return f"{short} {day.year}" if year else short


@functools.lru_cache(maxsize=8192)
def wrap(text: str, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """`text` wrapped to `width` columns, `first` (default `indent`) before the first
    line and `indent` before the others. Columns as a terminal shows them: a Chinese,
    Japanese or Korean character, or an emoji, takes two. A URL longer than a line stands
    unbroken on a line of its own; any other over-long word is broken."""
    lines: list[str] = []
    line, words = indent if first is None else first, 0
    for word in text.split():  # greedy, as textwrap: a word joins the line if it fits
        joined = f"{line} {word}" if words else line + word
        if words and columns(joined) > width:
            lines.append(line)
            line, words = indent + word, 1
        else:
            line, words = joined, words + 1
    if words:
        lines.append(line)
    out: list[str] = []
    for line in lines:
        word = line.lstrip()
        if columns(line) <= width or _is_url(word):
            out.append(line)
            continue
        lead = line[: len(line) - len(word)]
        out.extend(lead + piece for piece in _pieces(word, max(width - columns(lead), 1)))
    return "\n".join(out)


def columns(text: str) -> int:
    """How many columns `text` takes on a terminal: two for a wide (East Asian) or
    full-width character, none for a combining mark, one for the rest."""
    return sum(_column_width(char) for char in text)


def _column_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _pieces(word: str, room: int) -> list[str]:
    """`word` cut into pieces of at most `room` columns (a wide character whole)."""
    pieces, piece, used = [], "", 0
    for char in word:
        width = _column_width(char)
        if piece and used + width > room:
            pieces.append(piece)
            piece, used = "", 0
        piece, used = piece + char, used + width
    return [*pieces, piece] if piece else pieces


def _is_url(word: str) -> bool:
    return " " not in word and word.startswith(("https://", "http://", "mailto:"))


def safe_url(url: str | None, schemes: tuple[str, ...] = ("https", "http")) -> str | None:
    """`url` when it is an absolute URL of one of `schemes` with no whitespace or
    control characters, else None (a feed's "javascript:" link never becomes a link)."""
    if not url:
        return None
    url = url.strip()
    if any(char.isspace() or not char.isprintable() for char in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in schemes:
        return None
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        return None
    return url


def arxiv_id(paper: Paper) -> str | None:
    """The paper's arXiv id when it has the shape of one."""
    if paper.arxiv_id and is_arxiv_id(paper.arxiv_id):
        return paper.arxiv_id
    return None


def paper_url(paper: Paper) -> str | None:
    """Where the title links: the arXiv abstract page, else the paper's own URL."""
    known = arxiv_id(paper)
    if known:
        return f"https://arxiv.org/abs/{known}"
    return safe_url(paper.url)


def pdf_url(paper: Paper) -> str | None:
    """The paper's PDF: the source's link, else arXiv's."""
    given = safe_url(paper.pdf_url)
    if given:
        return given
    known = arxiv_id(paper)
    return f"https://arxiv.org/pdf/{known}" if known else None


def code_url(paper: Paper) -> str | None:
    """The first code link."""
    return safe_url(paper.code_urls[0]) if paper.code_urls else None


def hf_url(paper: Paper) -> str | None:
    """The paper's Hugging Face page: only new-style arXiv ids have one."""
    known = arxiv_id(paper)
    if known and is_new_style_arxiv_id(known):
        return f"https://huggingface.co/papers/{known}"
    return None


def arxiv_label(paper: Paper) -> str | None:
    """'arXiv:2508.01234v2' (no version when none is known), for a paper with an arXiv id."""
    known = arxiv_id(paper)
    if known is None:
        return None
    version = paper.arxiv_version
    return f"arXiv:{known}v{version}" if version and version > 0 else f"arXiv:{known}"


def search_url(title: str, limit: int = SEARCH_QUERY_LIMIT) -> str:
    """An arXiv title search, for a paper known by its title alone: the title's first
    words, their encoded query at most `limit` characters (always one word), so that the
    link stays short enough to read in a plain-text email. A title search finds the
    papers whose title has every word, and the first five or six words of a research
    paper's title nearly always single it out."""
    words = _SEARCH_WORD.findall(title)
    query = quote_plus(" ".join(words[:1]))
    for count in range(2, len(words) + 1):
        longer = quote_plus(" ".join(words[:count]))
        if len(longer) > limit:
            break
        query = longer
    return "https://arxiv.org/search/?searchtype=title&query=" + query
