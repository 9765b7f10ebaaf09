"""Readers, one per kind of source, each turning raw bytes into `Parsed` entries.

The kind is told by the content, never the file name: JSON is the Hugging Face
daily papers API, markup is a feed, and prose is a dump of a paper listing. Text saved
as UTF-16 or UTF-32 with a byte order mark (a Windows editor's "Unicode") is told by its
characters, not its bytes.
"""

from __future__ import annotations

import re
from datetime import date

from digest.collect.dump import parse_dump
from digest.collect.feed import parse_feed
from digest.collect.hf_api import parse_hf_api
from digest.collect.storable import storable
from digest.errors import SourceError
from digest.models import SOURCE_KINDS, Parsed
from digest.text import UTF8_BOM, unicode_bom_encoding

# How much of a document tells its kind.
_HEAD_BYTES = 4096
# What bytes.lstrip() strips: str.lstrip() would strip more (U+00A0, U+001C-U+001F).
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"
# The encoding an XML declaration names, wrong once the document is re-encoded as UTF-8.
_XML_DECLARED_ENCODING = re.compile(r"""\A(\s*<\?xml\b[^>]*?\bencoding\s*=\s*["'])[^"']*""")


def detect_kind(data: bytes) -> str:
    """ "dump", "feed" or "hf-api", from the first characters of a document."""
    head = _head_text(data[:_HEAD_BYTES]).lstrip(_ASCII_WHITESPACE)
    if not head:
        raise SourceError("empty document")
    if head[0] in "[{":
        return "hf-api"
    if head[0] == "<":
        return "feed"
    if _looks_binary(head):
        raise SourceError("binary data, not a dump, feed or JSON document")
    return "dump"


def _head_text(head: bytes) -> str:
    """The start of a document as text: decoded when a byte order mark says it is UTF-16 or
    UTF-32, else a character a byte (latin-1 never fails, and the kind is told by ASCII)."""
    encoding = unicode_bom_encoding(head)
    if encoding is None:
        return head.removeprefix(UTF8_BOM).decode("latin-1")
    # The head may end mid-character.
    return head.decode(encoding, errors="replace")


def _looks_binary(head: str) -> bool:
    if "\x00" in head:
        return True
    control = sum(1 for character in head if character < " " and character not in "\t\n\r\f")
    return control > len(head) // 100


def parse_document(data: bytes, *, kind: str = "auto", today: date) -> Parsed:
    """Read one document as `kind` ("auto" detects it), every entry fit to store.

    Raises SourceError when unreadable.
    """
    return storable(_read_as(data, kind, today))


def _read_as(data: bytes, kind: str, today: date) -> Parsed:
    if kind == "auto":
        kind = detect_kind(data)
    if kind == "dump":
        return parse_dump(data, today=today)
    if kind == "feed":
        return parse_feed(_xml_as_utf8(data))
    if kind == "hf-api":
        return parse_hf_api(data)
    raise SourceError(f"unknown source kind {kind!r} (one of: auto, {', '.join(SOURCE_KINDS)})")


def _xml_as_utf8(data: bytes) -> bytes:
    """A UTF-16 or UTF-32 XML document (told by its byte order mark) as UTF-8, its declaration
    saying so; any other document as it is.

    feedparser tries the declared encoding, or UTF-8 when none is declared, before the byte
    order mark: an all-ASCII UTF-16 feed reads as UTF-8 full of NUL characters and fails. The
    feed reader's own checks of the bytes (is the last entry cut off?) also expect ASCII.
    """
    encoding = unicode_bom_encoding(data)
    if encoding is None:
        return data
    # Broken characters are dropped: half a character at the end of a cut-off feed would
    # otherwise be text after the root element, and a feed reports no repairs.
    text = data.decode(encoding, errors="ignore")
    return _XML_DECLARED_ENCODING.sub(r"\1utf-8", text, count=1).encode()
