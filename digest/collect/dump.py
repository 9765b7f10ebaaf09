"""The dump reader: plain-text copies of Hugging Face paper listings into entries.

A dump is what selecting a listing page ("Get trending papers in your email
inbox!") and pasting it gives: some header lines, then each paper as a title
line followed by its abstract. Blank lines may separate everything or be
missing altogether, and then the header is glued to the first title
("SubscribeMST-compression: ...").

Papers are found by their shape, not by the header: a title is a short single
line, not punctuated like a sentence, directly followed by prose (a long line,
or a short one that reads as a sentence). Lines after a title that read as prose
or a note (a sentence, a URL) belong to its abstract. Short lines that neither
start nor continue a paper are the header before the first paper and are
skipped with a warning after it.

The bytes are decoded by this rule, each step only where the ones before do not apply:

1. A UTF-16 or UTF-32 byte order mark names the encoding: no warning, unless some
   characters are broken (a file cut off mid-character) and replaced.
2. UTF-8, a UTF-8 byte order mark dropped: no warning.
3. Mostly UTF-8 (at least half as many non-ASCII characters decode well as not: cp1252
   text almost never forms a valid UTF-8 sequence, so two stray bytes beside two Greek
   letters are a UTF-8 file, not a cp1252 one): UTF-8 with the few broken bytes
   replaced, and a warning that counts them.
4. A non-Latin script: charset_normalizer, shown only the lines with non-ASCII bytes, names
   an 8-bit or East Asian code page (never UTF-16 without a mark), the whole document
   decodes in it without error, and at least 3/4 of its non-ASCII characters (8 at the
   least) are runs of two or more non-Latin letters (Chinese, Japanese, Korean, Cyrillic,
   Greek...). Read in such a code page, cp1252 text shows lone odd letters instead
   ("Na鴳e" for "Naïve"), so Western text fails the test. Warns "not UTF-8; decoded as
   <encoding>". This is charset_normalizer's only role: on mostly-English text it cannot
   tell the Latin code pages apart, and its guesses garble accents.
5. Everything else is cp1252, the encoding of a file saved by a Windows editor (latin-1
   for the 5 bytes cp1252 leaves undefined, so this never fails): warns "not UTF-8;
   decoded as cp1252". Text in another Latin code page (cp1250 for Czech or Polish) is
   read this way too, its few letters that differ from cp1252 garbled.
"""

from __future__ import annotations

import re
from datetime import date

import charset_normalizer

from digest.errors import SourceError
from digest.models import Entry, Paper, Parsed
from digest.text import UTF8_BOM, code_urls, fold_whitespace, plural, unicode_bom_encoding

_FORMAT = "hf-listing-dump"
# The usual encoding of text that is not UTF-8: a file saved by a Windows editor.
_WESTERN = "cp1252"
# cp1252 is latin-1 but for 27 of the 32 C1 control bytes (0x80-0x9F), which it spells as
# curly quotes, dashes, the euro sign...; the 5 it leaves undefined stay latin-1, as browsers
# read them.
_CP1252_C1 = {
    byte: bytes([byte]).decode(_WESTERN, errors="ignore") or chr(byte) for byte in range(0x80, 0xA0)
}
# Runs of letters no Western code page has: Greek to Georgian and the Hangul jamo, then CJK
# (its punctuation too), kana and Hangul, and the halfwidth forms.
_NON_LATIN_RUN = re.compile(r"[\u0370-\u1cff\u2e80-\ud7ff\uf900-\ufaff\uff66-\uffdc]{2,}")
# Fewer letters in such runs are no evidence of a script: "“ÀÉÎÔ”" in cp1252 reads as three
# Chinese characters in gb18030.
_SCRIPT_EVIDENCE = 8

# Line shapes, from the line alone.
_DATE_LINE = -1  # "Mar 12": never a title nor abstract text
_SHORT = 0  # could be a title
_NOTE = 1  # short text that is not a title: a fragment, a URL; may continue an abstract
_SENTENCE = 2  # short prose: may begin an abstract
_LONG = 3  # prose: no title is this long

# The longest title line; anything longer is prose.
_TITLE_MAX = 300
# Words a short line needs to read as prose when it ends like a sentence.
_SENTENCE_WORDS = 15
# Lines this short are checked for being a listing date.
_DATE_MAX = 24
_QUOTE_MAX = 80
# Closing marks to look past when checking how a line ends.
_CLOSERS = "\"')]}\u201d\u2019"
_NOTE_ENDINGS = (".", ":", ";", ",")
_ASCII_CONTROL_SPACES = "\t\x0b\x0c\x1c\x1d\x1e\x1f"
_ELLIPSES = ("...", "\u2026")
_SENTENCE_ENDINGS = (".", "!", "?")

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
# "Mar 12", "March 12", "Mar 12, 2024", "12 March 2024", "2024-03-12".
_DATE = re.compile(
    rf"(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{{4}}))?"
    rf"|(?P<day2>\d{{1,2}})\s+(?P<month2>{_MONTH})\.?(?:,?\s+(?P<year2>\d{{4}}))?"
    r"|(?P<iso_year>\d{4})-(?P<iso_month>\d{2})-(?P<iso_day>\d{2})",
    re.IGNORECASE,
)
_DATE_IN_LINE = re.compile(rf"(?<![\w-])(?:{_DATE.pattern})(?![\w-])", re.IGNORECASE)

# Page boilerplate glued onto the first title, with no space between: a known
# header immediately followed by the start of a title ("SubscribeMST-compression:
# ...", "Get trending papers in your email inbox!SubscribeX-Node: ..."). Word-like
# headers only count before a capital or digit ("SubscribenetFound" too: a word
# with a capital inside), so "Subscribers ..." and "Newton ..." stay whole.
_GLUED_HEADER = re.compile(
    r"(?:(?i:get trending papers in your email inbox)[^!\n]{0,40}!\s*"
    r"|Subscribe(?=[A-Z0-9]|[a-z]+[A-Z0-9])"
    r"|(?:new|byAK and the research community|Daily Papers|Trending Papers)(?=[A-Z0-9])"
    r")+"
)


def parse_dump(data: bytes, *, today: date) -> Parsed:
    """Read a text dump of a Hugging Face paper listing.

    Each paper becomes an Entry at its 1-based position, listed on the date a
    header line names ("Mar 12" means the latest Mar 12 on or before `today`).
    Raises SourceError when the document holds no paper at all.
    """
    text, warnings = _decode(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")

    stripped = [line.strip() for line in text.split("\n")]
    lines = list(filter(None, stripped))
    shapes = [_LONG if len(line) > _TITLE_MAX else _shape(line) for line in lines]
    # Whitespace other than single spaces, for _fold: ASCII controls are looked for once.
    controls = any(control in text for control in _ASCII_CONTROL_SPACES)

    papers: list[Paper] = []
    header: list[str] = []
    # Skipped lines as (index in `lines`, papers read before it).
    skipped: list[tuple[int, int]] = []
    title: str | None = None
    parts: list[str] = []

    # Each line with its shape and the next line's (none after the last: it is no title).
    following = [*shapes[1:], _DATE_LINE] if shapes else []
    for index, (line, shape, after) in enumerate(zip(lines, shapes, following, strict=True)):
        if shape == _SHORT and after >= _SENTENCE:
            if title is not None:
                papers.append(_paper(title, parts, controls))
            title = line if papers else _strip_glued_header(line)
            parts = []
        elif title is not None and (
            shape >= _NOTE or (shape == _SHORT and _continues(parts[-1], line))
        ):
            parts.append(line)
        else:
            if title is not None:
                papers.append(_paper(title, parts, controls))
                title = None
            if papers or shape == _LONG:
                skipped.append((index, len(papers)))
            else:
                header.append(line)
    if title is not None:
        papers.append(_paper(title, parts, controls))

    if not papers:
        raise SourceError("no papers found: expected title lines each followed by an abstract")

    if skipped:
        numbers = [number for number, line in enumerate(stripped, 1) if line]
        warnings.extend(
            _skip_warning(numbers[index], lines[index], shapes[index], before, len(papers))
            for index, before in skipped
        )
    listed_on = _listing_date(header, today)
    entries = tuple(
        Entry(paper=paper, position=position, listed_on=listed_on)
        for position, paper in enumerate(papers, 1)
    )
    return Parsed(kind="dump", format=_FORMAT, entries=entries, warnings=tuple(warnings))


def _decode(data: bytes) -> tuple[str, list[str]]:
    """The text of a dump, with a warning when it was not UTF-8 or had to be repaired
    (the rule is the module docstring's)."""
    marked = unicode_bom_encoding(data)
    if marked is not None:
        return _decode_marked(data, marked)
    data = data.removeprefix(UTF8_BOM)
    text, broken = _decode_replacing(data, "utf-8")
    if not broken:
        return text, []
    # Non-ASCII characters that decoded well: a single-byte encoding rarely forms them.
    if 2 * (_non_ascii_count(text) - broken) >= broken:
        return text, [f"not UTF-8; decoded as utf-8 with {plural(broken, 'invalid byte')} replaced"]
    encoding, text = _other_script(data) or (_WESTERN, _decode_western(data))
    return text, [f"not UTF-8; decoded as {encoding}"]


def _decode_marked(data: bytes, encoding: str) -> tuple[str, list[str]]:
    """Text whose byte order mark names its encoding: nothing guessed, so nothing to warn of
    but repairs (a file cut off mid-character)."""
    text, broken = _decode_replacing(data, encoding)
    if not broken:
        return text, []
    return text, [f"decoded as {encoding} with {plural(broken, 'invalid character')} replaced"]


def _decode_replacing(data: bytes, encoding: str) -> tuple[str, int]:
    """`data` decoded, and how many broken sequences in it became U+FFFD (0 when none did)."""
    try:
        return data.decode(encoding), 0
    except UnicodeDecodeError:
        text = data.decode(encoding, errors="replace")
    return text, text.count("\ufffd")


def _non_ascii_count(text: str) -> int:
    return len(text) - len(text.encode("ascii", errors="ignore"))


def _decode_western(data: bytes) -> str:
    """The text of cp1252 bytes, the 5 bytes cp1252 leaves undefined read as latin-1; never
    fails."""
    return data.decode("latin-1").translate(_CP1252_C1)


def _other_script(data: bytes) -> tuple[str, str] | None:
    """The encoding and text of a document in a non-Latin script (Chinese, Japanese, Russian,
    ...), when charset_normalizer names an encoding that reads it as one; else None."""
    # Only lines with non-ASCII bytes tell encodings apart; pages of English around a few
    # lines of Chinese otherwise drown them, and charset_normalizer names cp1250.
    evidence = b"\n".join(line for line in data.splitlines() if not line.isascii())
    best = charset_normalizer.from_bytes(evidence).best()
    # UTF-16 without a byte order mark would read pairs of ASCII letters as CJK characters.
    if best is None or best.encoding.startswith("utf"):
        return None
    try:
        text = data.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return (best.encoding, text) if _in_non_latin_script(text) else None


def _in_non_latin_script(text: str) -> bool:
    """Whether at least 3/4 of the non-ASCII characters of a text, and 8 or more, are in runs
    of non-Latin letters, as in real Chinese, Japanese or Russian: words of two letters or more.

    cp1252 text read in such an encoding is not: its accents stand far apart, each an odd
    letter alone between ASCII ones ("Na鴳e", "Jцrg").
    """
    non_ascii = _non_ascii_count(text)
    in_runs = sum(len(run) for run in _NON_LATIN_RUN.findall(text))
    return in_runs >= _SCRIPT_EVIDENCE and in_runs * 4 >= non_ascii * 3


def _shape(line: str) -> int:
    """What a stripped, non-empty line can be, judged by its length and how it reads."""
    if len(line) > _TITLE_MAX:
        return _LONG
    if "://" in line or "github.com" in line or "www." in line:
        return _SENTENCE if line.count(" ") >= _SENTENCE_WORDS - 1 else _NOTE
    end = line.rstrip(_CLOSERS)
    if end.endswith(_NOTE_ENDINGS) and not end.endswith(_ELLIPSES) and not _title_case(line):
        return _SENTENCE if line.count(" ") >= _SENTENCE_WORDS - 1 else _NOTE
    if len(line) <= _DATE_MAX and _DATE.fullmatch(line):
        return _DATE_LINE
    return _SHORT


def _title_case(line: str) -> bool:
    """Whether most longer words are capitalized, as in a title and rarely in a sentence:
    "Rewrite the Stars." is a title with a stray period, "We propose X." is not."""
    words = [word for word in line.split() if len(word) > 3]
    capitalized = sum(1 for word in words if word[0].isupper() or word[0].isdigit())
    return len(words) >= 2 and capitalized * 4 >= len(words) * 3


def _continues(previous: str, line: str) -> bool:
    """Whether a short line is the wrapped rest of an unfinished abstract line."""
    return line[0].islower() and not previous.rstrip(_CLOSERS).endswith(_SENTENCE_ENDINGS)


def _strip_glued_header(title: str) -> str:
    """The first title without page boilerplate glued onto its front."""
    glued = _GLUED_HEADER.match(title)
    if glued is None or glued.end() == len(title):
        return title
    return title[glued.end() :].lstrip()


def _paper(title: str, parts: list[str], controls: bool) -> Paper:
    abstract = _fold(parts[0] if len(parts) == 1 else " ".join(parts), controls)
    return Paper(title=_fold(title, controls), abstract=abstract, code_urls=code_urls(abstract))


def _fold(text: str, controls: bool) -> str:
    """fold_whitespace(text) for a stripped line, skipped when there is nothing to fold.

    Every whitespace character but the space is unprintable, so a printable text
    without double spaces is already folded; an ASCII text is printable when the
    document holds no ASCII control spaces (`controls`), checked once.
    """
    printable = (not controls and text.isascii()) or text.isprintable()
    return text if printable and "  " not in text else fold_whitespace(text)


def _skip_warning(number: int, line: str, shape: int, before: int, total: int) -> str:
    quoted = repr(line if len(line) <= _QUOTE_MAX else line[: _QUOTE_MAX - 3].rstrip() + "...")
    if shape == _LONG:
        return f"line {number}: skipped text with no title before it: {quoted}"
    if before == total:
        return f"line {number}: skipped {quoted} (no abstract follows)"
    return f"line {number}: skipped stray line {quoted} between papers"


def _listing_date(header: list[str], today: date) -> date | None:
    """The last date a header line names, the year inferred from `today` when missing."""
    for line in reversed(header):
        for found in reversed(list(_DATE_IN_LINE.finditer(line))):
            listed_on = _date(found, today)
            if listed_on is not None:
                return listed_on
    return None


def _date(found: re.Match[str], today: date) -> date | None:
    if found.group("iso_year"):
        year, month, day = (int(found.group(name)) for name in ("iso_year", "iso_month", "iso_day"))
        return _valid_date(year, month, day)
    month_name = found.group("month") or found.group("month2")
    month = _MONTHS[month_name[:3].lower()]
    day = int(found.group("day") or found.group("day2"))
    year_text = found.group("year") or found.group("year2")
    if year_text:
        return _valid_date(int(year_text), month, day)
    # No year: the latest such date on or before today (Feb 29 looks back to a leap year).
    for year in range(today.year, today.year - 8, -1):
        candidate = _valid_date(year, month, day)
        if candidate is not None and candidate <= today:
            return candidate
    return None


def _valid_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
