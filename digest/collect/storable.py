"""The one check between the readers and the store: every entry fit to store, or skipped.

Readers keep what a source says; the store needs a paper it can name (an identity key),
text it can encode and numbers and times its columns hold. An entry with one bad field
loses that field, an entry that names no paper is skipped, each with a warning naming
the entry, so one odd entry never costs the rest of its source or the other sources.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime
from typing import Any

from digest.identity import MAX_DOI_LENGTH, normalize_title
from digest.models import Entry, Paper, Parsed
from digest.text import fold_whitespace

# The integer columns are 32 bits on PostgreSQL; SQLite's hold 64.
_LARGEST_STORED_INTEGER = 2**31 - 1
# Halves of a surrogate pair alone: UTF-8, and so the database, cannot encode them. JSON
# escapes ("\ud800") and JSON bytes decoded with surrogatepass carry them in.
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 control characters (ESC, BEL, ...), whitespace aside: a terminal acts on them
# when `digest rank` prints a title, and no text of a paper means them.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x9f]")
# arXiv caps abstracts at 1,920 characters and journals at a few hundred words; a longer
# "abstract" is a whole paper or a page pasted into a feed. Kept whole, 200 of 200 KB took
# a ranking 22 s (every word is indexed and compared); the email shows an excerpt anyway.
ABSTRACT_LIMIT = 10_000


def storable(parsed: Parsed) -> Parsed:
    """`parsed` with its entries fit to store, and a warning for each one mended or skipped."""
    noun = "item" if parsed.kind == "hf-api" else "entry"  # as the reader's own warnings say
    entries: list[Entry] = []
    warnings: list[str] = []
    for entry in parsed.entries:
        where = f"{noun} {entry.position}"
        mended = entry
        for mend in _MENDS:
            mended, problem = mend(mended)
            if problem:
                warnings.append(f"{where}: {problem}")
        # After the mends: a dropped DOI or surrogates may leave nothing to name it by.
        if not _names_a_paper(mended.paper):
            warnings.append(f"{where}: title has no letters or digits, skipped")
            continue
        entries.append(mended)
    if not warnings:
        return parsed
    return replace(parsed, entries=tuple(entries), warnings=(*parsed.warnings, *warnings))


def _names_a_paper(paper: Paper) -> bool:
    """Whether `paper` has an identity key (`identity.identity_keys`), without hashing one:
    the store computes the keys, once."""
    return bool(paper.arxiv_id or paper.doi or normalize_title(paper.title))


def in_utc(moment: datetime) -> datetime | None:
    """`moment` in UTC, or None when it has no time zone or no UTC equivalent: year 1 at
    +01:00 is a moment before the first one a datetime holds."""
    if moment.tzinfo is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def _without_surrogates(entry: Entry) -> tuple[Entry, str | None]:
    # Most entries: nothing to look for (an ASCII text holds no surrogate).
    return _without(entry, _SURROGATE, str.isascii, "lone surrogates")


def _without_controls(entry: Entry) -> tuple[Entry, str | None]:
    return _without(entry, _CONTROL, str.isprintable, "control characters")


def _without(
    entry: Entry, pattern: re.Pattern[str], clear: Callable[[str], bool], what: str
) -> tuple[Entry, str | None]:
    """`entry` with what `pattern` finds removed from its texts, and a warning naming the
    fields; `clear` says quickly of a text that it holds none."""
    if _all(entry.paper, clear) and _all(entry, clear):
        return entry, None
    paper_changes = _text_changes(entry.paper, pattern)
    entry_changes = _text_changes(entry, pattern)
    if not (paper_changes or entry_changes):
        return entry, None
    mended = replace(entry, paper=replace(entry.paper, **paper_changes), **entry_changes)
    return mended, f"{what} removed from {', '.join([*paper_changes, *entry_changes])}"


def _text_changes(record: Paper | Entry, pattern: re.Pattern[str]) -> dict[str, Any]:
    """The text fields of `record` that hold what `pattern` finds, each with it removed."""
    changes = {}
    for name in _TEXT_FIELDS[type(record)]:
        value = getattr(record, name)
        cleaned = _clean(value, pattern)
        if cleaned is not value:
            changes[name] = cleaned
    return changes


def _all(record: Paper | Entry, clear: Callable[[str], bool]) -> bool:
    """Whether `clear` holds for every text of `record`."""
    for name in _TEXT_FIELDS[type(record)]:
        value = getattr(record, name)
        if isinstance(value, str):
            if not clear(value):
                return False
        elif value is not None and not all(map(clear, value)):
            return False
    return True


def _text_fields(record_type: type[Paper | Entry]) -> tuple[str, ...]:
    """The fields of `record_type` that hold text or tuples of texts: the only ones a
    surrogate can hide in. Read once, as `dataclasses.fields` per entry costs more than
    the check itself."""
    return tuple(field.name for field in fields(record_type) if "str" in str(field.type))


_TEXT_FIELDS = {Paper: _text_fields(Paper), Entry: _text_fields(Entry)}


def _clean(value: Any, pattern: re.Pattern[str]) -> Any:
    """A text or tuple of texts without what `pattern` finds; `value` itself when it has
    none of it."""
    if isinstance(value, str):
        if not pattern.search(value):
            return value
        return fold_whitespace(pattern.sub("", value))
    if isinstance(value, tuple) and not all(_clean(item, pattern) is item for item in value):
        return tuple(cleaned for item in value if (cleaned := _clean(item, pattern)))
    return value


def _doi_in_range(entry: Entry) -> tuple[Entry, str | None]:
    doi = entry.paper.doi
    if doi is None or len(doi) <= MAX_DOI_LENGTH:
        return entry, None
    mended = replace(entry, paper=replace(entry.paper, doi=None))
    return mended, f"DOI longer than {MAX_DOI_LENGTH} characters, dropped"


def _version_in_range(entry: Entry) -> tuple[Entry, str | None]:
    if _fits(entry.paper.arxiv_version):
        return entry, None
    mended = replace(entry, paper=replace(entry.paper, arxiv_version=None))
    return mended, "arXiv version out of range, dropped"


def _upvotes_in_range(entry: Entry) -> tuple[Entry, str | None]:
    if _fits(entry.upvotes):
        return entry, None
    return replace(entry, upvotes=None), "upvotes out of range, dropped"


def _fits(count: int | None) -> bool:
    """Whether a count or version is absent or one an integer column holds."""
    return count is None or 0 <= count <= _LARGEST_STORED_INTEGER


def _abstract_in_range(entry: Entry) -> tuple[Entry, str | None]:
    abstract = entry.paper.abstract
    if len(abstract) <= ABSTRACT_LIMIT:
        return entry, None
    kept = abstract[: ABSTRACT_LIMIT - 1]
    # At a word's end when there is one in the last tenth: no half word before the ellipsis.
    space = kept.rfind(" ", ABSTRACT_LIMIT * 9 // 10)
    kept = (kept[:space] if space > 0 else kept).rstrip() + "…"
    mended = replace(entry, paper=replace(entry.paper, abstract=kept))
    return mended, f"abstract longer than {ABSTRACT_LIMIT:,} characters, cut"


def _published_in_utc(entry: Entry) -> tuple[Entry, str | None]:
    published = entry.paper.published
    if published is None or in_utc(published) is not None:
        return entry, None
    mended = replace(entry, paper=replace(entry.paper, published=None))
    return mended, "published date cannot be converted to UTC, dropped"


# Each returns the entry with one field mended and what it did, or the entry as it is.
_MENDS: tuple[Callable[[Entry], tuple[Entry, str | None]], ...] = (
    _without_surrogates,
    _without_controls,
    _doi_in_range,
    _version_in_range,
    _upvotes_in_range,
    _published_in_utc,
    _abstract_in_range,
)
